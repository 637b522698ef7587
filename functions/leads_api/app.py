"""LeadsApiFunction: what sales reads and records, behind API Gateway's IAM authorizer.

    GET  /leads?tier=&grade=&category=&do_not_email=&limit=&cursor=   the hot list, highest first, paginated
    GET  /leads/{lead}                                  the score card ({lead}: lead id or email)
    POST /leads/{lead}/outcome                          {"status": "converted"|"lost", "amount"?, ...}
    POST /leads/{lead}/adjustments                      {"points": n, "reason": "...", "disqualify"?}

Each route parses its input with a pydantic model, calls :mod:`leadscore.api.service` once and maps
the result. Errors map to JSON bodies naming the field (400 / 404 / 422); caller input never causes a
5xx. The caller (``by`` on outcomes and adjustments) is the IAM principal API Gateway verified. Logs
carry lead ids and codes, never emails.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.api import service
from leadscore.api.errors import LeadFullError, LeadNotFoundError
from leadscore.api.models import AdjustmentRequest, HotListQuery, OutcomeRequest
from leadscore.api.views import hot_row
from leadscore.dal.leads import ConflictError, LeadRepository, repository
from leadscore.dal.rules_store import rules_store
from leadscore.errors import BadRequestError, ConfigurationError, RulesUnavailableError
from leadscore.http import (
    error_response,
    json_response,
    misconfigured,
    register_error_handlers,
    unexpected_error,
)
from leadscore.ingest.body import JSON, NOT_JSON, parse_content_type, parse_json, require_content_type
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.request import body_bytes
from leadscore.observability import count, logger, metrics
from leadscore.rules.compiler import CompiledRules
from leadscore.settings import get_settings, require
from pydantic import BaseModel, ValidationError

app = APIGatewayHttpResolver()

MAX_BODY_BYTES = 16 * 1024


def _repo() -> LeadRepository:
    return repository(require(get_settings().leads_table, "LEADS_TABLE"))


def _caller() -> service.Caller:
    """The IAM principal ARN from the authorizer context (HTTP API payload 2.0)."""
    context = app.current_event.raw_event.get("requestContext") or {}
    iam = ((context.get("authorizer") or {}).get("iam")) or {}
    arn = iam.get("userArn")
    return service.Caller(arn=str(arn)[:2048]) if arn else service.Caller()


def _body(model: type[BaseModel]) -> Any:
    """The JSON object body, through the same hardened parser as ingest (size, depth, duplicate keys,
    NaN, lone surrogates, NUL: 4xx naming the problem), then ``model`` (422 naming the field)."""
    event = app.current_event.raw_event
    raw = body_bytes(event, MAX_BODY_BYTES)
    if not raw.strip():
        raise BadRequestError("body: a JSON object is required", details=["body: required"])
    content_type = parse_content_type(app.current_event.headers.get("content-type"))
    require_content_type(content_type, (JSON,), default=JSON)
    try:
        data = parse_json(raw, max_bytes=MAX_BODY_BYTES)
    except MalformedBodyError as exc:
        if exc.message != NOT_JSON:
            raise
        # This API's details always start with the field: "body: not valid JSON (Expecting value ...)".
        details = [f"body: not valid JSON ({detail})" for detail in exc.details]
        raise MalformedBodyError("body: not valid JSON", details=details) from exc
    if not isinstance(data, dict):
        raise BadRequestError("body: must be a JSON object", details=["body: must be a JSON object"])
    return model.model_validate(data)


def _query() -> HotListQuery:
    params = dict(app.current_event.query_string_parameters or {})
    return HotListQuery.model_validate(params)


def _rules() -> CompiledRules:
    settings = get_settings()
    return rules_store(
        require(settings.rules_bucket, "RULES_BUCKET"), settings.rules_key, settings.rules_refresh_seconds
    ).current()


def _explaining_rules() -> CompiledRules | None:
    """The rules that explain cards; none yet published only leaves out per-rule contributions."""
    try:
        return _rules()
    except RulesUnavailableError:
        return None


@app.get("/leads")
def get_hot_list() -> Response[str]:
    query = _query()
    page = service.hot_list(_repo(), query, _explaining_rules(), clock.now())
    logger.info("hot list", extra={"tiers": page["tiers"], "leads": len(page["leads"])})
    return json_response(HTTPStatus.OK, page)


@app.get("/leads/<lead>")
def get_lead(lead: str) -> Response[str]:
    card = service.get_card(_repo(), lead, rules=_explaining_rules(), now=clock.now())
    logger.info("score card", extra={"lead_id": card["lead_id"]})
    return json_response(HTTPStatus.OK, card)


@app.post("/leads/<lead>/outcome")
def post_outcome(lead: str) -> Response[str]:
    body: OutcomeRequest = _body(OutcomeRequest)
    state, outcome = service.record_outcome(_repo(), lead, body, _caller(), clock.now())
    count("OutcomesRecorded", status=outcome.status)
    logger.info("outcome recorded", extra={"lead_id": state.lead_id, "status": outcome.status})
    return json_response(
        HTTPStatus.CREATED, {"lead_id": state.lead_id, "outcome": outcome.model_dump(mode="json")}
    )


@app.post("/leads/<lead>/adjustments")
def post_adjustment(lead: str) -> Response[str]:
    body: AdjustmentRequest = _body(AdjustmentRequest)
    rules = _rules()
    state, adjustment = service.adjust(
        _repo(), lead, body, _caller(), clock.now(), rules, get_settings().sales_ready_threshold
    )
    count("AdjustmentsRecorded")
    logger.info(
        "adjustment recorded",
        extra={"lead_id": state.lead_id, "adjustment_id": adjustment.id, "points": adjustment.points},
    )
    return json_response(
        HTTPStatus.CREATED,
        {"adjustment": adjustment.model_dump(mode="json"), "lead": hot_row(state)},
    )


# ---------------------------------------------------------------------------------------------- errors
def _invalid(exc: ValidationError) -> Response[str]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        details.append(f"{field}: {message}" if error["loc"] else message)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid", "; ".join(details), details)


def _bad_request(exc: BadRequestError) -> Response[str]:
    # The ingest body errors carry their own code (malformed_body, payload_too_large, ...).
    fallback = {400: "bad_request", 413: "payload_too_large", 415: "unsupported_media_type"}
    code = getattr(exc, "code", None) or fallback.get(exc.status, "bad_request")
    return error_response(exc.status, str(code), exc.message, exc.details)


def _lead_not_found(exc: LeadNotFoundError) -> Response[str]:
    return error_response(HTTPStatus.NOT_FOUND, "lead_not_found", "no such lead", [f"lead: {exc.lead_id}"])


def _lead_full(exc: LeadFullError) -> Response[str]:
    return error_response(HTTPStatus.CONFLICT, "lead_full", str(exc), [f"{exc.what}: at most {exc.limit}"])


def _conflict(_: ConflictError) -> Response[str]:
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "busy",
        "the lead is being updated by many writers; retry",
        headers={"Retry-After": "1"},
    )


def _rules_unavailable(_: RulesUnavailableError) -> Response[str]:
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE, "rules_unavailable", "no valid rules are published; retry later"
    )


def _not_found(_: NotFoundError) -> Response[str]:
    return error_response(
        HTTPStatus.NOT_FOUND,
        "not_found",
        "no such route; GET /leads, GET /leads/{lead}, POST /leads/{lead}/outcome or /adjustments",
    )


_ERROR_HANDLERS: tuple[tuple[type[Exception], Callable[[Any], Response[str]]], ...] = (
    (ValidationError, _invalid),
    (BadRequestError, _bad_request),
    (LeadNotFoundError, _lead_not_found),
    (LeadFullError, _lead_full),
    (ConflictError, _conflict),
    (RulesUnavailableError, _rules_unavailable),
    (ConfigurationError, misconfigured),
    (NotFoundError, _not_found),
    (Exception, unexpected_error),
)
register_error_handlers(app, _ERROR_HANDLERS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
