"""The account routes of the Lead API (``functions/leads_api`` includes this router):
``GET /accounts`` (the account hot list) and ``GET /accounts/{domain}`` (the account card)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadscore.api import accounts, edge
from leadscore.http import json_response
from leadscore.observability import logger

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.get("/accounts")
def get_hot_accounts() -> Response[str]:
    page = accounts.hot_accounts(edge.accounts(), edge.account_list_query(router.current_event))
    logger.info("account hot list", extra={"tiers": page["tiers"], "accounts": len(page["accounts"])})
    return json_response(HTTPStatus.OK, page)


@router.get("/accounts/<domain>")
def get_account(domain: str) -> Response[str]:
    card = accounts.account_card(edge.accounts(), domain)
    logger.info("account card", extra={"account": card["domain"]})
    return json_response(HTTPStatus.OK, card)
