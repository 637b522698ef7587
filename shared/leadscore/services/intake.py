"""The ingest HTTP API's edge: the request from an API Gateway event, what a request produced queued
and answered, and the one answer each error type gets. ``functions/ingest/app.py`` keeps the routes.

Every error type maps to one JSON error body; nothing a caller can send produces a 5xx (503 only when
SQS did not take the events, or AWS could not be reached to verify an SNS message, so the sender
retries). Logs carry counts and error codes, never bodies or email addresses.
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from leadscore.dal.queue import EnqueueError, enqueue
from leadscore.errors import BadRequestError, ConfigurationError
from leadscore.http import ErrorHandler, error_response, json_response, misconfigured, unexpected_error
from leadscore.ingest import service
from leadscore.ingest.errors import UpstreamUnavailableError
from leadscore.ingest.request import IngestRequest, from_http_api_event
from leadscore.ingest.result import IngestResult
from leadscore.observability import count, logger
from leadscore.settings import get_settings, require

# Metrics per outcome of a request, from its result (only the non-zero ones are emitted).
_COUNTS = (
    ("EventsRejected", lambda r: len(r.rejected)),
    ("EventsIgnored", lambda r: len(r.ignored)),
    ("EventsDuplicateInRequest", lambda r: r.duplicates_in_request),
    ("FormHoneypotTriggered", lambda r: int(r.honeypot)),
)


def request(event: APIGatewayProxyEventV2) -> IngestRequest:
    return from_http_api_event(event.raw_event, max_body_bytes=get_settings().max_body_bytes)


def accepted(result: IngestResult, route: str) -> Response[str]:
    """Queue the request's events (or raise :class:`EnqueueError`: 503), count and log the outcome,
    and answer 202 with the counts, or 303 to an allowed thank-you page."""
    if result.events:
        queue_url = require(get_settings().events_queue_url, "EVENTS_QUEUE_URL")
        enqueue(result.events, queue_url, trace_id=logger.get_correlation_id())
    count("EventsAccepted", len(result.events), source=result.source)
    for metric, value in _COUNTS:
        if n := value(result):
            count(metric, n, source=result.source)
    logger.info(
        "ingested",
        extra={
            "route": route,
            "source": result.source,
            "accepted": len(result.events),
            "rejected": len(result.rejected),
            "ignored": len(result.ignored),
            "duplicates_in_request": result.duplicates_in_request,
            "warnings": len(result.warnings),
            "honeypot": result.honeypot,
        },
    )
    if result.redirect is not None:  # a plain HTML form with an allowed _redirect: the thank-you page
        count("FormRedirects", source=result.source)
        return json_response(
            HTTPStatus.SEE_OTHER, result.to_response(), headers={"Location": result.redirect}
        )
    if result.reply is not None:  # Salesforce redelivers anything but its SOAP Ack
        content_type, body = result.reply
        return Response(HTTPStatus.OK, content_type, body)
    return json_response(HTTPStatus.ACCEPTED, result.to_response())


def webhook_url_checked(provider: str) -> Response[str]:
    count("WebhookUrlChecks", source=provider.strip().lower())
    return json_response(HTTPStatus.OK, {"ok": True})


def method_not_allowed(provider: str | None = None, **_: str) -> Response[str]:
    # A 405 must list what the resource does allow (RFC 9110 section 15.5.6): POST, and GET/HEAD on the
    # webhooks of providers that check their URL.
    allowed = service.allowed_methods(provider) if provider is not None else ("POST",)
    return error_response(
        HTTPStatus.METHOD_NOT_ALLOWED,
        "method_not_allowed",
        f"only {', '.join(allowed)} allowed here",
        headers={"Allow": ", ".join(allowed)},
    )


# ----------------------------------------------------------------------------------------- errors
def _client_error(exc: BadRequestError) -> Response[str]:
    """Every 4xx (and the upstream 503): the error's own status and ``code``. A 401 on a route with a
    standard scheme names it (``WWW-Authenticate``, RFC 9110 section 11.6.1); an upstream outage says
    when to retry."""
    headers: dict[str, str] = {}
    if challenge := getattr(exc, "challenge", None):
        headers["WWW-Authenticate"] = challenge
    if isinstance(exc, UpstreamUnavailableError):
        headers["Retry-After"] = "30"
    code = getattr(exc, "code", None) or ("unauthorized" if exc.status == 401 else "bad_request")
    return error_response(exc.status, code, exc.message, exc.details, headers=headers or None)


def _queue_unavailable(exc: EnqueueError) -> Response[str]:
    count("EnqueueFailed", exc.failed)
    logger.error("enqueue failed", extra={"failed": exc.failed, "total": exc.total, "codes": exc.codes})
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "queue_unavailable",
        "the events could not be queued; retry later",
        headers={"Retry-After": "5"},
    )


def _not_found(_: NotFoundError) -> Response[str]:
    return error_response(
        HTTPStatus.NOT_FOUND, "not_found", "no such route; POST /forms, /track or /webhooks/<provider>"
    )


# One handler per error type (Powertools picks the most specific by MRO).
ERROR_HANDLERS: tuple[tuple[type[Exception], ErrorHandler], ...] = (
    (BadRequestError, _client_error),
    (EnqueueError, _queue_unavailable),
    (ConfigurationError, misconfigured),
    (NotFoundError, _not_found),
    (Exception, unexpected_error),
)
