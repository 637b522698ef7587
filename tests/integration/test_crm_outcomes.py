"""Outcomes and stages coming back from the CRM (issues 17.3, 17.4), through the whole slice:
a signed webhook -> ingest -> EventsQueue -> scorer -> the lead item, built from template.yaml.

A CRM outcome is the same record as ``POST /leads/{lead}/outcome`` (the stored card's score, grade
and rules version), counted once per CRM event id however often the CRM delivers it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.ingest.providers import hubspot

from tests.support import TEMPLATE, Stack, example_rules_json, pinned_clock_at

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DANA = "dana.reyes@northwindlabs.io"
SECRET = "test-hubspot-client-secret"
BASE = "https://hooks.leadscore.example"
URI = f"{BASE}/webhooks/hubspot"
# A deal workflow's "Send a webhook" body: the deal's properties, with the associated contact's
# email put in by the workflow (HubSpot's webhooks carry no associations; docs/connect.md).
DEAL_WON: dict[str, Any] = {
    "objectId": 9001,
    "properties": {
        "hs_object_id": {"value": "9001"},
        "dealname": {"value": "Northwind - 3 year"},
        "dealstage": {"value": "closedwon"},
        "amount": {"value": "48000"},
        "deal_currency_code": {"value": "usd"},
        "closedate": {"value": "1795445000000"},
        "leadscore_email": {"value": DANA},
    },
}


pinned_clock = pinned_clock_at(SAMPLE_TIME)


@pytest.fixture
def crm(aws: None) -> Stack:
    stack = Stack.create(
        TEMPLATE,
        env_overrides={"IngestFunction": {"HUBSPOT_CLIENT_SECRET": SECRET, "HUBSPOT_WEBHOOK_BASE_URL": BASE}},
    )
    stack.upload_rules(example_rules_json())
    body = json.dumps(
        {"email": DANA, "submission_id": "s-1", "name": "Request a demo", "job_title": "VP Sales"}
    )
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202
    stack.drain()
    return stack


def signed(body: Any, *, secret: str = SECRET, delay: float = 0.0) -> tuple[bytes, dict[str, str]]:
    """The request HubSpot sends: X-HubSpot-Signature-v3 = base64 HMAC-SHA256 of method + URI + body +
    timestamp (ms) under the app's client secret (developers.hubspot.com, "Validating requests").
    The front door checks the timestamp against the wall clock (5 minutes), not the scorer's."""
    raw = json.dumps(body).encode()
    timestamp = str(int((time.time() + delay) * 1000))
    return raw, {
        "content-type": "application/json",
        "x-hubspot-request-timestamp": timestamp,
        "x-hubspot-signature-v3": hubspot.sign("POST", URI, raw, timestamp, secret),
    }


def post(stack: Stack, body: Any, **kw: Any) -> dict[str, Any]:
    raw, headers = signed(body, **kw)
    response: dict[str, Any] = stack.call_http("POST", "/webhooks/hubspot", raw, headers)
    return response


def lead(stack: Stack) -> Any:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(DANA)


def test_a_signed_deal_won_webhook_becomes_one_outcome_with_the_score_snapshot(crm: Stack) -> None:
    before = lead(crm)
    assert before is not None and before.card is not None and before.outcomes == []
    first = post(crm, DEAL_WON)
    assert first["statusCode"] == 202, first
    assert json.loads(first["body"])["accepted"] == 1
    crm.drain()
    # HubSpot retries (a timeout on its side): a new timestamp and signature, the same body.
    again = post(crm, DEAL_WON, delay=30)
    assert again["statusCode"] == 202, again
    crm.drain()
    after = lead(crm)
    (outcome,) = after.outcomes
    assert outcome.model_dump() == {
        "status": "converted",
        "amount": 48000.0,
        "currency": "USD",
        "note": "deal:9001",
        "by": "crm:hubspot",
        "at": 1795445000,
        "score_at_outcome": before.card.score,
        "grade_at_outcome": before.card.grade,
        "rules_version": before.card.rules_version,
        "ref": "hubspot:deal:9001:converted",
    }
    assert after.card.score == before.card.score  # an outcome never scores
    assert after.stage == "customer"
    assert [(m.to, m.by, m.ref) for m in after.stage_moves][-1] == (
        "customer",
        "crm:hubspot",
        "hubspot:deal:9001:converted",
    )
    history = LeadRepository(crm.env("ScorerFunction")["LEADS_TABLE"]).history(after.lead_id)
    assert [e.event_id for e, _ in history].count("hubspot:deal:9001:converted") == 1


def test_a_bad_signature_is_a_401_and_nothing_is_recorded(crm: Stack) -> None:
    response = post(crm, DEAL_WON, secret="not-the-app-secret")
    assert response["statusCode"] == 401, response
    crm.drain()
    state = lead(crm)
    assert state.outcomes == [] and state.stage != "customer"


def test_a_closed_lost_deal_recycles_the_lead_and_an_open_one_makes_it_an_opportunity(crm: Stack) -> None:
    opened = {"properties": {**DEAL_WON["properties"], "dealstage": {"value": "presentationscheduled"}}}
    assert post(crm, opened)["statusCode"] == 202
    crm.drain()
    assert lead(crm).stage == "opportunity"
    lost = {"properties": {**DEAL_WON["properties"], "hs_is_closed": "true", "hs_is_closed_won": "false"}}
    assert post(crm, lost)["statusCode"] == 202
    crm.drain()
    state = lead(crm)
    assert [o.status for o in state.outcomes] == ["lost"]
    assert state.stage == "nurture" and state.recycle_until is not None


def test_a_deal_webhook_without_the_contact_email_is_refused_by_name(crm: Stack) -> None:
    properties = {k: v for k, v in DEAL_WON["properties"].items() if k != "leadscore_email"}
    response = post(crm, {"properties": properties})
    assert response["statusCode"] == 422, response
    assert "leadscore_email" in response["body"]


def test_sales_rejects_in_hubspot_with_a_configured_reason(crm: Stack) -> None:
    contact: dict[str, Any] = {
        "properties": {
            "email": {"value": DANA},
            "hs_object_id": {"value": "151"},
            "lifecyclestage": {"value": "salesqualifiedlead"},
        }
    }
    assert post(crm, contact)["statusCode"] == 202
    crm.drain()
    assert lead(crm).stage == "sql"
    rejected = {
        "properties": {
            **contact["properties"],
            "leadscore_stage": {"value": "rejected"},
            "leadscore_rejection_reason": {"value": "no_budget"},
        }
    }
    assert post(crm, rejected)["statusCode"] == 202
    crm.drain()
    state = lead(crm)
    assert state.stage == "nurture"
    assert state.stage_moves[-1].why == "rejected: no_budget (contact:151)"
    assert state.stage_moves[-1].by == "crm:hubspot"


def test_a_deal_subscription_event_names_no_person_and_is_ignored_with_the_way_to_send_it(crm: Stack) -> None:
    """HubSpot's webhook subscriptions carry the deal's id and new stage only (no associations)."""
    batch = [
        {
            "eventId": 4711,
            "subscriptionType": "deal.propertyChange",
            "objectId": 9001,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
            "occurredAt": 1795445000000,
            "portalId": 62515,
        }
    ]
    response = post(crm, batch)
    assert response["statusCode"] == 202, response
    body = json.loads(response["body"])
    assert body["accepted"] == 0
    assert body["ignored"] == [
        {"index": 0, "reason": "deal.propertyChange names no person: send it through a workflow webhook"}
    ]
