"""IngestFunction: POST /forms, POST /track, POST /webhooks/<provider> → CanonicalEvents → SQS.

Each route: build the request (413 before parsing), ask :mod:`leadscore.ingest.service` for events,
enqueue them, answer 202 with counts. Every error type maps to one JSON error body below; nothing a
caller can send produces a 5xx (503 only when SQS did not take the events, or AWS could not be reached to
verify an SNS message, so the sender retries). ``GET``/``HEAD /webhooks/<provider>`` answer the URL checks
some platforms make when a webhook is created (Mailchimp, Mandrill); 405 for every other provider. A plain
HTML form with an allowed ``_redirect`` field gets a 303 to its thank-you page instead of the 202.
Logs carry counts and error codes, never bodies or email addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.dal.queue import EnqueueError, enqueue
from leadscore.errors import BadRequestError, ConfigurationError, UnauthorizedError
from leadscore.http import (
    error_response,
    json_response,
    misconfigured,
    register_error_handlers,
    unexpected_error,
)
from leadscore.ingest import service
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import (
    MalformedBodyError,
    PayloadTooLargeError,
    RedirectNotAllowedError,
    UnknownProviderError,
    UnprocessableError,
    UnsupportedMediaTypeError,
    UpstreamUnavailableError,
)
from leadscore.ingest.request import IngestRequest, from_http_api_event
from leadscore.ingest.result import IngestResult
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings, require

app = APIGatewayHttpResolver()

ROUTES = ("/forms", "/track", "/webhooks/<provider>")
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _request() -> IngestRequest:
    return from_http_api_event(app.current_event.raw_event, max_body_bytes=get_settings().max_body_bytes)


def _accepted(result: IngestResult, route: str) -> Response[str]:
    if result.events:
        enqueue(result.events, require(get_settings().events_queue_url, "EVENTS_QUEUE_URL"))
    count("EventsAccepted", len(result.events), source=result.source)
    if result.rejected:
        count("EventsRejected", len(result.rejected), source=result.source)
    if result.ignored:
        count("EventsIgnored", len(result.ignored), source=result.source)
    if result.duplicates_in_request:
        count("EventsDuplicateInRequest", result.duplicates_in_request, source=result.source)
    if result.honeypot:
        count("FormHoneypotTriggered", source=result.source)
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
    return json_response(HTTPStatus.ACCEPTED, result.to_response())


@app.post("/forms")
def post_forms() -> Response[str]:
    return _accepted(service.ingest_form(_request(), IngestConfig.from_env()), "/forms")


@app.post("/track")
def post_track() -> Response[str]:
    return _accepted(service.ingest_track(_request(), IngestConfig.from_env()), "/track")


@app.post("/webhooks/<provider>")
def post_webhook(provider: str) -> Response[str]:
    result = service.ingest_webhook(provider, _request(), IngestConfig.from_env())
    return _accepted(result, "/webhooks/" + result.source)


@app.route("/webhooks/<provider>", method=["GET", "HEAD"])
def check_webhook_url(provider: str) -> Response[str]:
    if service.check_webhook_url(provider, _request(), IngestConfig.from_env()):
        count("WebhookUrlChecks", source=provider.strip().lower())
        return json_response(HTTPStatus.OK, {"ok": True})
    return _method_not_allowed()


def _method_not_allowed(provider: str | None = None, **_: str) -> Response[str]:
    # A 405 must list what the resource does allow (RFC 9110 section 15.5.6): POST, and GET/HEAD on the
    # webhooks of providers that check their URL.
    allowed = service.allowed_methods(provider) if provider is not None else ("POST",)
    return error_response(
        HTTPStatus.METHOD_NOT_ALLOWED,
        "method_not_allowed",
        f"only {', '.join(allowed)} allowed here",
        headers={"Allow": ", ".join(allowed)},
    )


for _rule in ROUTES:
    _others = [m for m in OTHER_METHODS if not (_rule == "/webhooks/<provider>" and m in ("GET", "HEAD"))]
    app.route(_rule, method=_others)(_method_not_allowed)


def _from_bad_request(exc: BadRequestError, code: str) -> Response[str]:
    return error_response(exc.status, code, exc.message, exc.details)


def _malformed(exc: MalformedBodyError) -> Response[str]:
    return _from_bad_request(exc, exc.code)


def _unauthorized(exc: UnauthorizedError) -> Response[str]:
    # A route with a standard scheme (Basic, Bearer) names it: a 401 must carry WWW-Authenticate.
    challenge = getattr(exc, "challenge", None)
    headers = {"WWW-Authenticate": challenge} if challenge else None
    return error_response(exc.status, "unauthorized", exc.message, exc.details, headers=headers)


def _unknown_provider(exc: UnknownProviderError) -> Response[str]:
    return _from_bad_request(exc, exc.code)


def _too_large(exc: PayloadTooLargeError) -> Response[str]:
    return _from_bad_request(exc, exc.code)


def _unsupported_media_type(exc: UnsupportedMediaTypeError) -> Response[str]:
    return _from_bad_request(exc, exc.code)


def _unprocessable(exc: UnprocessableError) -> Response[str]:
    return _from_bad_request(exc, exc.code)


def _redirect_not_allowed(exc: RedirectNotAllowedError) -> Response[str]:
    return _from_bad_request(exc, exc.code)


def _bad_request(exc: BadRequestError) -> Response[str]:
    return _from_bad_request(exc, "bad_request")


def _queue_unavailable(exc: EnqueueError) -> Response[str]:
    count("EnqueueFailed", exc.failed)
    logger.error("enqueue failed", extra={"failed": exc.failed, "total": exc.total, "codes": exc.codes})
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "queue_unavailable",
        "the events could not be queued; retry later",
        headers={"Retry-After": "5"},
    )


def _upstream_unavailable(exc: UpstreamUnavailableError) -> Response[str]:
    return error_response(exc.status, exc.code, exc.message, exc.details, headers={"Retry-After": "30"})


def _not_found(_: NotFoundError) -> Response[str]:
    return error_response(
        HTTPStatus.NOT_FOUND, "not_found", "no such route; POST /forms, /track or /webhooks/<provider>"
    )


# One handler per error type (Powertools picks the most specific by MRO). Registered as a table because
# Powertools' exception_handler decorator is untyped.
_ERROR_HANDLERS: tuple[tuple[type[Exception], Callable[[Any], Response[str]]], ...] = (
    (MalformedBodyError, _malformed),
    (UnauthorizedError, _unauthorized),
    (UnknownProviderError, _unknown_provider),
    (PayloadTooLargeError, _too_large),
    (UnsupportedMediaTypeError, _unsupported_media_type),
    (UnprocessableError, _unprocessable),
    (RedirectNotAllowedError, _redirect_not_allowed),
    (UpstreamUnavailableError, _upstream_unavailable),
    (BadRequestError, _bad_request),
    (EnqueueError, _queue_unavailable),
    (ConfigurationError, misconfigured),
    (NotFoundError, _not_found),
    (Exception, unexpected_error),
)
register_error_handlers(app, _ERROR_HANDLERS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
