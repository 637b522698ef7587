"""The Lead API's HTTP edge: what its handler reads from a request (the caller, the body, the query)
and how each error becomes an answer. The handler (``functions/leads_api/app.py``) keeps the routes.

Errors map to JSON bodies naming the field (400 / 404 / 409 / 422); caller input never causes a
5xx. Bodies go through the same hardened JSON parser as ingest.
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, ValidationError

from leadscore.api.accounts import AccountListQuery, AccountNotFoundError
from leadscore.api.errors import LeadFullError, LeadNotFoundError
from leadscore.api.models import HotListQuery
from leadscore.api.service import Caller
from leadscore.dal.accounts import AccountStore
from leadscore.dal.leads import ConflictError, LeadRepository
from leadscore.errors import BadRequestError, ConfigurationError, RulesUnavailableError, field_errors
from leadscore.http import ErrorHandler, error_response, misconfigured, unexpected_error
from leadscore.ingest.body import JSON, NOT_JSON, parse_content_type, parse_json, require_content_type
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.request import body_bytes
from leadscore.rules.compiler import CompiledRules
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
        "no such route; GET /leads, GET /leads/{lead}, POST /leads/{lead}/outcome or /adjustments,"
        " GET /accounts, GET /accounts/{domain}",
    )


ERROR_HANDLERS: tuple[tuple[type[Exception], ErrorHandler], ...] = (
    (ValidationError, _invalid),
    (BadRequestError, _bad_request),
    (LeadNotFoundError, _lead_not_found),
    (AccountNotFoundError, _account_not_found),
    (LeadFullError, _lead_full),
    (ConflictError, _conflict),
    (RulesUnavailableError, _rules_unavailable),
    (ConfigurationError, misconfigured),
    (NotFoundError, _not_found),
    (Exception, unexpected_error),
)
