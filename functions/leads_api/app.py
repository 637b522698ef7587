"""LeadsApiFunction: what sales reads and records, behind API Gateway's IAM authorizer.

    GET  /leads?tier=&grade=&category=&do_not_email=&limit=&cursor=   the hot list, highest first, paginated
    GET  /leads/{lead}                                  the score card ({lead}: lead id or email)
    POST /leads/{lead}/outcome                          {"status": "converted"|"lost", "amount"?, ...}
    POST /leads/{lead}/adjustments                      {"points": n, "reason": "...", "disqualify"?}
    POST /leads/{lead}/stage                            {"stage": "sal"|"rejected"|..., "reason"?, "note"?}
    GET  /accounts?tier=&limit=&cursor=                 the account hot list, highest first, paginated
    GET  /accounts/{domain}                             the account card (members, committee, activity)

Each route parses its input with a pydantic model (:mod:`leadscore.api.edge`), calls
:mod:`leadscore.api.service` once and maps the result. Errors map to JSON bodies naming the field
(400 / 404 / 422, in ``edge.ERROR_HANDLERS``); caller input never causes a 5xx. The caller (``by`` on
outcomes and adjustments) is the IAM principal API Gateway verified. Logs carry lead ids and codes,
never emails.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.api import edge, service
from leadscore.api.account_routes import router as account_routes
from leadscore.api.models import AdjustmentRequest, OutcomeRequest
from leadscore.api.views import hot_row
from leadscore.http import json_response, register_error_handlers
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings

app = APIGatewayHttpResolver()
register_error_handlers(app, edge.ERROR_HANDLERS)
app.include_router(account_routes)  # GET /accounts, GET /accounts/{domain}


@app.get("/leads")
def get_hot_list() -> Response[str]:
    query = edge.hot_list_query(app.current_event)
    page = service.hot_list(edge.leads(), query, edge.explaining_rules(), clock.now())
    logger.info("hot list", extra={"tiers": page["tiers"], "leads": len(page["leads"])})
    return json_response(HTTPStatus.OK, page)


@app.get("/leads/<lead>")
def get_lead(lead: str) -> Response[str]:
    card = service.get_card(edge.leads(), lead, rules=edge.explaining_rules(), now=clock.now())
    logger.info("score card", extra={"lead_id": card["lead_id"]})
    return json_response(HTTPStatus.OK, card)


@app.post("/leads/<lead>/outcome")
def post_outcome(lead: str) -> Response[str]:
    body = edge.body(app.current_event, OutcomeRequest)
    state, outcome = service.record_outcome(
        edge.leads(), lead, body, edge.caller(app.current_event), clock.now(), edge.lifecycle()
    )
    count("OutcomesRecorded", status=outcome.status)
    logger.info("outcome recorded", extra={"lead_id": state.lead_id, "status": outcome.status})
    return json_response(
        HTTPStatus.CREATED, {"lead_id": state.lead_id, "outcome": outcome.model_dump(mode="json")}
    )


@app.post("/leads/<lead>/adjustments")
def post_adjustment(lead: str) -> Response[str]:
    body = edge.body(app.current_event, AdjustmentRequest)
    threshold = get_settings().sales_ready_threshold
    state, adjustment = service.adjust(
        edge.leads(), lead, body, edge.caller(app.current_event), clock.now(), edge.rules(), threshold
    )
    count("AdjustmentsRecorded")
    logger.info(
        "adjustment recorded",
        extra={"lead_id": state.lead_id, "adjustment_id": adjustment.id, "points": adjustment.points},
    )
    return json_response(
        HTTPStatus.CREATED, {"adjustment": adjustment.model_dump(mode="json"), "lead": hot_row(state)}
    )


@app.post("/leads/<lead>/stage")
def post_stage(lead: str) -> Response[str]:
    return edge.stage_answer(app.current_event, lead, clock.now())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
