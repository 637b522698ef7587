"""The Lead API's HTTP edge: what its handler reads from a request (the caller, the body, the query)
and how each error becomes an answer. The handler (``functions/leads_api/app.py``) keeps the routes.

Errors map to JSON bodies naming the field (400 / 404 / 409 / 422); caller input never causes a
5xx. Bodies go through the same hardened JSON parser as ingest.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, ValidationError

from leadscore.api import service
from leadscore.api.accounts import AccountListQuery, AccountNotFoundError
from leadscore.api.errors import LeadFullError, LeadNotFoundError
from leadscore.api.models import HotListQuery, StageRequest
from leadscore.api.service import Caller
from leadscore.api.views import hot_row
from leadscore.dal.accounts import AccountStore
from leadscore.dal.leads import ConflictError, LeadRepository
from leadscore.errors import BadRequestError, ConfigurationError, RulesUnavailableError, field_errors
from leadscore.http import ErrorHandler, error_response, json_response, misconfigured, unexpected_error
from leadscore.ingest.body import JSON, NOT_JSON, parse_content_type, parse_json, require_content_type
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.request import body_bytes
from leadscore.observability import count, logger
from leadscore.rules.compiler import CompiledRules
from leadscore.rules.model import Lifecycle
from leadscore.scoring.lifecycle import StageError
from leadscore.services import wiring

MAX_BODY_BYTES = 16 * 1024


# ---------------------------------------------------------------------------------------- reading
def leads() -> LeadRepository:
    return wiring.leads()


def rules() -> CompiledRules:
    return wiring.current_rules()


def explaining_rules() -> CompiledRules | None:
    """The rules that explain cards; none yet published only leaves out per-rule contributions."""
    try:
        return rules()
    except RulesUnavailableError:
        return None


def lifecycle() -> Lifecycle:
    """The lifecycle section of the rules in force (its defaults while no rules are published: an
    outcome is still recorded, and a rejection checks its reason against the default list)."""
    current = explaining_rules()
    return current.lifecycle if current is not None else Lifecycle()


def caller(event: APIGatewayProxyEventV2) -> Caller:
    """The IAM principal ARN from the authorizer context (HTTP API payload 2.0)."""
    context = event.raw_event.get("requestContext") or {}
    iam = ((context.get("authorizer") or {}).get("iam")) or {}
    arn = iam.get("userArn")
    return Caller(arn=str(arn)[:2048]) if arn else Caller()


def hot_list_query(event: APIGatewayProxyEventV2) -> HotListQuery:
    return HotListQuery.model_validate(dict(event.query_string_parameters or {}))


def accounts() -> AccountStore:
    """The account items of the leads table (GetItem, BatchGetItem and the ``hot`` index)."""
    return AccountStore(wiring.leads().table, batch_reads=False)


def account_list_query(event: APIGatewayProxyEventV2) -> AccountListQuery:
    return AccountListQuery.model_validate(dict(event.query_string_parameters or {}))


def body[M: BaseModel](event: APIGatewayProxyEventV2, model: type[M]) -> M:
    """The JSON object body, through the same hardened parser as ingest (size, depth, duplicate keys,
    NaN, lone surrogates, NUL: 4xx naming the problem), then ``model`` (422 naming the field)."""
    raw = body_bytes(event.raw_event, MAX_BODY_BYTES)
    if not raw.strip():
        raise BadRequestError("body: a JSON object is required", details=["body: required"])
    require_content_type(parse_content_type(event.headers.get("content-type")), (JSON,), default=JSON)
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


def stage_answer(event: APIGatewayProxyEventV2, lead: str, now: datetime) -> Response[str]:
    """POST /leads/{lead}/stage, whole (the handler's route calls it): 201 with the move, or 200 with
    ``move: null`` when the lead is in that stage already; a refused move is a StageError (409/422)."""
    body_in = body(event, StageRequest)
    state, move = service.move_stage(leads(), lead, body_in, caller(event), now, lifecycle())
    if move is not None:
        count("StageMoves", stage=move.to)
    logger.info("stage", extra={"lead_id": state.lead_id, "stage": state.stage, "moved": move is not None})
    answer = {"move": move.model_dump(mode="json") if move else None, "lead": hot_row(state)}
    return json_response(HTTPStatus.CREATED if move is not None else HTTPStatus.OK, answer)


# ----------------------------------------------------------------------------------------- errors
def _invalid(exc: ValidationError) -> Response[str]:
    details = field_errors(exc, root=None)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid", "; ".join(details), details)


def _bad_request(exc: BadRequestError) -> Response[str]:
    # The ingest body errors carry their own code (malformed_body, payload_too_large, ...).
    fallback = {400: "bad_request", 413: "payload_too_large", 415: "unsupported_media_type"}
    code = getattr(exc, "code", None) or fallback.get(exc.status, "bad_request")
    return error_response(exc.status, str(code), exc.message, exc.details)


def _lead_not_found(exc: LeadNotFoundError) -> Response[str]:
    return error_response(HTTPStatus.NOT_FOUND, "lead_not_found", "no such lead", [f"lead: {exc.lead_id}"])


def _account_not_found(exc: AccountNotFoundError) -> Response[str]:
    return error_response(
        HTTPStatus.NOT_FOUND, "account_not_found", "no such account", [f"domain: {exc.domain}"]
    )


def _lead_full(exc: LeadFullError) -> Response[str]:
    return error_response(HTTPStatus.CONFLICT, "lead_full", str(exc), [f"{exc.what}: at most {exc.limit}"])


def _stage(exc: StageError) -> Response[str]:
    """A move the lifecycle refuses: 422 for a value no lead could take (an unconfigured reason),
    409 for one this lead cannot take now (backward, cooling down, not rejectable from its stage)."""
    status = (
        HTTPStatus.UNPROCESSABLE_ENTITY
        if exc.code in ("unknown_reason", "unknown_stage")
        else HTTPStatus.CONFLICT
    )
    return error_response(status, exc.code, str(exc), [str(exc)])


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
        "no such route; GET /leads, GET /leads/{lead}, POST /leads/{lead}/outcome, /adjustments or /stage,"
        " GET /accounts, GET /accounts/{domain}",
    )


ERROR_HANDLERS: tuple[tuple[type[Exception], ErrorHandler], ...] = (
    (ValidationError, _invalid),
    (BadRequestError, _bad_request),
    (LeadNotFoundError, _lead_not_found),
    (AccountNotFoundError, _account_not_found),
    (LeadFullError, _lead_full),
    (StageError, _stage),
    (ConflictError, _conflict),
    (RulesUnavailableError, _rules_unavailable),
    (ConfigurationError, misconfigured),
    (NotFoundError, _not_found),
    (Exception, unexpected_error),
)
