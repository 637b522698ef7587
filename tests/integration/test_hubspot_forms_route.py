"""HubSpot Forms API v3 bodies on POST /webhooks/hubspot-forms (issue 14, item 5), through the real
IngestFunction and scorer on the local stack. ``events/provider-hubspot-forms-01-submit.json`` follows the
request body of HubSpot's "Submit data to a form" reference (fields with objectTypeId 0-1 / 0-2, context
with hutk, pageUri and pageName, submittedAt in epoch milliseconds, legalConsentOptions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository

from tests.support import RULES_EXAMPLE_YAML, Stack, load_event, pinned_clock_at

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
LENA = "lena.fischer@nordwerk-industrie.de"


pinned_clock = pinned_clock_at(NOW)


def sample_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(load_event("provider-hubspot-forms-01-submit")["body"])
    return body


def post(stack: Stack, body: Any) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = stack.call_http("POST", "/webhooks/hubspot-forms", raw, {"content-type": "application/json"})
    return response["statusCode"], json.loads(response["body"])


def test_a_v3_submission_becomes_a_scored_form_submit_with_contact_and_company_fields(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    response = stack.invoke("IngestFunction", load_event("provider-hubspot-forms-01-submit"))
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"])["accepted"] == 1
    stack.drain()
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    state = repo.get_by_email(LENA)
    assert state is not None and "demo-request" in state.activity
    assert state.profile["first_name"] == "Lena" and state.profile["job_title"] == "Head of Procurement"
    assert state.profile["company"] == "Nordwerk Industrie GmbH"  # the 0-2 company's name
    assert state.profile["company_size"] == 850 and state.profile["industry"] == "Manufacturing"
    ((event, _),) = repo.history(state.lead_id)
    assert (event.source, event.type, event.name) == ("hubspot-forms", "form_submit", "Request a demo")
    assert event.occurred_at == datetime.fromtimestamp(1795441800, tz=UTC)  # submittedAt, epoch ms
    props = event.properties
    assert props["path"] == "/request-a-demo" and props["utm_campaign"] == "dach-q4"
    assert props["hutk"] == "7a1d3f5c9e2b4a6d8f0c1e3a5b7d9f21"
    assert props["consent_to_process"] is True
    assert props["how_did_you_hear"] == "Trade show"
    assert "ip_address" not in props and "198.51.100.90" not in json.dumps(props)


def test_a_repost_is_counted_once(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    assert post(stack, sample_body())[0] == 202
    assert post(stack, sample_body())[0] == 202
    stack.drain()
    state = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(LENA)
    assert state is not None and state.events_total == 1


def test_company_fields_never_identify_the_contact(stack: Stack) -> None:
    body = sample_body()
    body["fields"] = [
        {"objectTypeId": "0-2", "name": "email", "value": "info@nordwerk-industrie.de"},
        {"objectTypeId": "0-2", "name": "name", "value": "Nordwerk"},
    ]
    status, answer = post(stack, body)
    assert status == 422 and "email" in answer["details"][0]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"submittedAt": "yesterday"}, 422, "submittedAt"),
        ({"submittedAt": True}, 422, "submittedAt"),
        ({"fields": []}, 400, "fields"),
        ({"fields": [{"objectTypeId": "0-1", "value": "x"}]}, 400, "fields[0]"),
        ({"fields": [{"objectTypeId": "0-1", "name": "email", "value": {"a": 1}}]}, 422, "fields[0].value"),
    ],
)
def test_a_bad_body_is_a_4xx_naming_the_field(
    stack: Stack, change: dict[str, Any], status: int, field: str
) -> None:
    got, answer = post(stack, {**sample_body(), **change})
    assert got == status, answer
    assert field in json.dumps(answer)
