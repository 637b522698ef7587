"""Owner routing end to end on the template's stack, with rules/example.yaml: forms make an EMEA
enterprise lead and an NA mid-market lead sales-ready; each alert names its routed owner and queue
(text and JSON; no SNS attribute: all ten are used and an owner is a person), the lead item holds
``owner`` for the events and CRM readers, and the Lead API's card and hot list show it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

from leadscore.dal.leads import LeadRepository

from tests.support import RULES_EXAMPLE_YAML, Stack, pinned_clock_at
from tests.support.routing import submit_forms

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
EMEA_DESK = {"anna.keller@example.com", "tom.berg@example.com", "lea.moreau@example.com"}
LEADS = {  # email: (country, employees, the queue routing gives)
    "ines@bigbank.de": ("Germany", 8000, "enterprise-desk"),
    "ray@midco.com": ("US", 400, "na-mid-market"),
}
SIGNED = {"authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request"}


pinned_clock = pinned_clock_at(NOW)


def _forms(stack: Stack, email: str, country: str, size: int) -> None:
    profile = {
        "job_title": "CTO",
        "company": "Acme",
        "industry": "Fintech",
        "country": country,
        "company_size": size,
    }
    submit_forms(stack, email, "Request a demo", "Request a quote", **profile)


def test_routed_owner_reaches_the_alert_the_item_and_the_api(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    for email, (country, size, _) in LEADS.items():
        _forms(stack, email, country, size)
    stack.drain()

    alerts = {json.loads(n["Message"])["lead"]["email"]: n for n in stack.inbox()}
    assert set(alerts) == set(LEADS)
    leads = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    for email, (_, _, expected) in LEADS.items():
        doc = json.loads(alerts[email]["Message"])
        owner, queue = doc["lead"]["owner"], doc["lead"]["owner_queue"]
        assert queue == expected and owner
        assert f"Owner:    {owner} (queue {queue})" in doc["text"].splitlines()
        attrs = alerts[email]["MessageAttributes"]
        assert len(attrs) == 10 and "owner" not in attrs  # a person: in the Message only
        assert attrs["queue"]["Value"] == expected  # a desk's subscription filters on its queue
        state = leads.get_by_email(email)
        assert state is not None and (state.owner, state.owner_queue) == (
            owner,
            queue,
        )  # what events and the CRM read
        response = stack.call_http("GET", f"/leads/{quote(email)}", None, SIGNED)
        card = json.loads(response["body"])
        assert (card["owner"], card["owner_queue"]) == (owner, queue)
    assert json.loads(alerts["ines@bigbank.de"]["Message"])["lead"]["owner"] in EMEA_DESK
    response = stack.call_http("GET", "/leads", None, SIGNED, {"tier": "sales_ready"})
    rows = {r["email"]: r["owner"] for r in json.loads(response["body"])["leads"]}
    assert rows == {email: json.loads(alerts[email]["Message"])["lead"]["owner"] for email in LEADS}
