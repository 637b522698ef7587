"""Consent end to end on the template's stack: an unsubscribe on the events queue, then forms that make
the lead sales-ready. The alert says "Do not email", carries ``do_not_email`` for filter policies (a real
SNS subscription with ``{"do_not_email": ["false"]}`` receives only the other lead), and the Lead API's
card shows the state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from leadscore.models.event import CanonicalEvent, Identity

from tests.support import RULES_EXAMPLE_YAML, Stack, pinned_clock_at
from tests.support.routing import filtered_queue, received, submit_forms

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
UNSUBSCRIBED_AT = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
PROFILE = {"job_title": "CTO", "company": "Acme", "company_size": 800, "industry": "Fintech", "country": "US"}
KIM, ARI = "kim@acme.com", "ari@acme.com"
SIGNED = {"authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request"}


pinned_clock = pinned_clock_at(NOW)


def _queue_unsubscribe(stack: Stack, email: str) -> None:
    event = CanonicalEvent(
        event_id="sendgrid:unsub-kim-1",
        source="sendgrid",
        type="email_unsubscribe",
        name="unsubscribe",
        occurred_at=UNSUBSCRIBED_AT,
        received_at=NOW - timedelta(minutes=1),
        identity=Identity(email=email),
    )
    stack.client("sqs").send_message(
        QueueUrl=stack.queue_url("EventsQueue"), MessageBody=event.model_dump_json()
    )


def _forms(stack: Stack, email: str) -> None:
    submit_forms(stack, email, "Request a demo", "Request a quote", **PROFILE)


def test_unsubscribed_lead_alert_says_do_not_email_and_filter_policies_can_drop_it(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    url = filtered_queue(stack, "may-email", {"do_not_email": ["false"]})
    _queue_unsubscribe(stack, KIM)
    stack.drain()
    _forms(stack, KIM)
    _forms(stack, ARI)
    stack.drain()

    leads = [n for n in stack.inbox() if "lead" in json.loads(n["Message"])]  # acme.com's account alert aside
    alerts = {json.loads(n["Message"])["lead"]["email"]: n for n in leads}
    assert set(alerts) == {KIM, ARI}  # both sales-ready
    kim = json.loads(alerts[KIM]["Message"])
    assert "Do not email: unsubscribed 2026-11-18" in kim["text"]
    assert kim["consent"] == {
        "do_not_email": True,
        "reasons": [{"state": "unsubscribed", "since": "2026-11-18 09:30 UTC"}],
    }
    assert alerts[KIM]["MessageAttributes"]["do_not_email"]["Value"] == "true"
    assert alerts[ARI]["MessageAttributes"]["do_not_email"]["Value"] == "false"
    received_leads = [json.loads(n["Message"]) for n in received(stack, url)]
    assert [m["lead"]["email"] for m in received_leads if "lead" in m] == [ARI]

    response = stack.call_http("GET", f"/leads/{quote(KIM)}", None, SIGNED)
    card = json.loads(response["body"])
    assert response["statusCode"] == 200, card
    assert card["consent"]["unsubscribed"] is True
    assert card["consent"]["unsubscribed_at"] == "2026-11-18T09:30:00Z"

    status_code, page = _get(stack, "/leads", tier="sales_ready", do_not_email="false")
    assert status_code == 200 and [r["email"] for r in page["leads"]] == [ARI]
    assert page["filters"]["do_not_email"] is False
    _, page = _get(stack, "/leads", tier="sales_ready", do_not_email="true")
    assert [(r["email"], r["do_not_email"]) for r in page["leads"]] == [(KIM, True)]
    status_code, error = _get(stack, "/leads", do_not_email="maybe")
    assert status_code == 422 and "do_not_email" in json.dumps(error)  # names the field


def _get(stack: Stack, path: str, **query: str) -> tuple[int, Any]:
    response = stack.call_http("GET", path, None, SIGNED, query or None)
    return response["statusCode"], json.loads(response["body"])
