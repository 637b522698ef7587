"""What sales receives, and who receives it.

- Routing: the template's example filtered subscription (EnterpriseAlertsSubscription: A-grade leads
  whose top category is EnterpriseAlertsCategory) is applied as a REAL SNS filter policy in moto, to
  an SQS queue subscribed to AlertsTopic; alerts for four leads go through the whole stack and only
  the matching ones arrive.
- Rendering: the exact text, JSON and attributes of an alert for a fixed lead (pure).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from leadscore.alerts import attributes, render_json, render_text, sns_message, subject
from leadscore.scoring.state import AlertEntry, Contribution, LeadState, RecentActivity, ScoreCard, Touch

from tests.support import (
    DANA_SALES_READY,
    TEMPLATE,
    Stack,
    example_rules_json,
    ingest_samples,
    pinned_clock_at,
    translate,
)
from tests.support.routing import filtered_queue, received, submit_forms

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DANA = "dana.reyes@northwindlabs.io"
PROFILE = {"job_title": "CTO", "company": "Acme", "company_size": 800, "industry": "Fintech", "country": "US"}


pinned_clock = pinned_clock_at(SAMPLE_TIME)


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        return {k: _resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    return value


def template_filter_policy() -> tuple[dict[str, Any], str]:
    """The example subscription's filter policy and scope, parameters resolved (defaults)."""
    tr = translate(TEMPLATE, {"EnterpriseAlertsEmail": "enterprise-team@example.com"})
    props = tr.resource("EnterpriseAlertsSubscription")["Properties"]
    return _resolve(props["FilterPolicy"], tr.parameters), props["FilterPolicyScope"]


def test_the_template_example_filters_a_grade_leads_by_top_category() -> None:
    policy, scope = template_filter_policy()
    assert policy == {"grade": [{"prefix": "A"}], "top_category": ["buying-signal"]}
    assert scope == "MessageAttributes"


def test_a_real_filter_policy_delivers_only_matching_alerts(stack: Stack) -> None:
    policy, scope = template_filter_policy()
    url = filtered_queue(stack, "enterprise-alerts", policy, scope)
    stack.upload_rules(example_rules_json())
    # A4, buying-signal: matches.
    ingest_samples(stack, *DANA_SALES_READY)
    # A3, buying-signal: matches.
    submit_forms(stack, "kim@acme.com", "Request a demo", **PROFILE)
    # D4 (no fit), buying-signal: the grade does not match.
    submit_forms(
        stack, "dee@tinyco.io", "Request a demo", "Request a quote", "Webinar signup", "Whitepaper download"
    )
    # A3, research: the category does not match.
    submit_forms(
        stack, "ari@acme.com", "Webinar signup", "Webinar: scoring", "Whitepaper download", "Ebook", **PROFILE
    )
    stack.drain()

    # the unfiltered mirror of the topic: four lead alerts (and acme.com's account alert, aside here)
    everything = [n for n in stack.inbox() if "lead" in json.loads(n["Message"])]
    sent = {
        json.loads(n["Message"])["lead"]["email"]: {k: v["Value"] for k, v in n["MessageAttributes"].items()}
        for n in everything
    }
    assert {k: (v["grade"], v["top_category"], v["tier"]) for k, v in sent.items()} == {
        DANA: ("A4", "buying-signal", "sales_ready"),
        "kim@acme.com": ("A3", "buying-signal", "sales_ready"),
        "dee@tinyco.io": ("D4", "buying-signal", "sales_ready"),
        "ari@acme.com": ("A3", "research", "sales_ready"),
    }

    routed = received(stack, url)
    assert sorted(json.loads(n["Message"])["lead"]["email"] for n in routed) == [DANA, "kim@acme.com"]
    for note in routed:
        assert note["MessageAttributes"]["grade"]["Value"].startswith("A")
        assert note["MessageAttributes"]["top_category"]["Value"] == "buying-signal"
        assert json.loads(note["Message"])["schema"] == "leadscore.alert/1"


def test_attributes_never_carry_pii(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    submit_forms(stack, "kim@acme.com", "Request a demo", **PROFILE)
    stack.drain()
    (note,) = stack.inbox()
    values = " ".join(v["Value"] for v in note["MessageAttributes"].values())
    assert "kim" not in values and "@" not in values
    assert set(note["MessageAttributes"]) == {
        "kind",
        "tier",
        "grade",
        "queue",
        "top_category",
        "surge",
        "country",
        "score",
        "do_not_email",
        "source",
    }
    assert note["MessageAttributes"]["source"]["Value"] == "forms"  # the latest touch: a web form


# ---------------------------------------------------------------------------------------------- rendering
def sample() -> tuple[LeadState, AlertEntry]:
    card = ScoreCard(
        score=131.5,
        fit=60,
        activity=71.5,
        tier="sales_ready",
        grade="A4",
        categories={"buying-signal": 60, "research": 11.5},
        contributions=[
            Contribution(
                rule="demo-request",
                kind="activity",
                description="Requested a demo",
                points=40,
                last_seen=1795440000,
                category="buying-signal",
            ),
            Contribution(rule="title-executive", kind="fit", description="C-level or VP title", points=25),
            Contribution(
                rule="pricing-view",
                kind="activity",
                description="Viewed the pricing page",
                points=20,
                count=2,
                last_seen=1795437000,
                category="buying-signal",
            ),
        ],
        reasons=[
            "Requested a demo, last today (+40)",
            "C-level or VP title (+25)",
            "Viewed the pricing page 2×, last today (+20)",
        ],
        rules_version="s3:v42",
        threshold=100,
        computed_at=1795446000,
    )
    state = LeadState(
        lead_id="e0123456789abcdef0123456789abcde",
        email="ada@example.com",
        profile={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "job_title": "CTO",
            "company": "Analytical Engines",
            "company_size": 1200,
            "industry": "Software",
            "country": "GB",
            "phone": "+44 20 7946 0000",
            "owner": "Maria Garcia",
        },
        created_at=1793610000,
        first_touch=Touch(
            at=1793610000, source="segment", campaign="spring-launch", channel="google", medium="cpc"
        ),
        last_touch=Touch(at=1795440000, source="form", campaign="pricing-webinar"),
        recent=[
            RecentActivity(
                at=1795437000, type="page_view", source="segment", path="/pricing", rules=["pricing-view"]
            ),
            RecentActivity(
                at=1795440000,
                type="form_submit",
                source="form",
                name="Request a demo",
                rules=["demo-request"],
            ),
        ],
    )
    return state, AlertEntry(id="sales_ready-3", kind="sales_ready", created_at=1795446000, card=card)


EXPECTED_TEXT = """\
Sales-ready lead: Ada Lovelace

Email:    ada@example.com
Phone:    +44 20 7946 0000
Title:    CTO
Company:  Analytical Engines
Size:     1,200
Industry: Software
Country:  GB
Owner:    Maria Garcia

Score:    131.5 (fit 60, activity 71.5); threshold 100
Tier:     sales_ready    Grade: A4    Stage: lead
Interest: buying-signal 60, research 11.5

First touch:   2026-11-02 09:00 UTC  segment, campaign spring-launch (google / cpc)
Latest source: 2026-11-23 13:20 UTC  form, campaign pricing-webinar

Why:
  - Requested a demo, last today (+40)
  - C-level or VP title (+25)
  - Viewed the pricing page 2×, last today (+20)

Latest activity:
  - 2026-11-23 13:20 UTC  form_submit Request a demo
  - 2026-11-23 12:30 UTC  page_view /pricing

Open the lead: https://crm.example.com/leads/e0123456789abcdef0123456789abcde"""
LINK = "https://crm.example.com/leads/{lead_id}"


def test_render_text_exactly() -> None:
    state, alert = sample()
    assert render_text(state, alert, LINK) == EXPECTED_TEXT
    assert subject(state, alert) == "Sales-ready lead: Ada Lovelace (Analytical Engines) - 131.5 A4"


def test_render_text_of_a_surge() -> None:
    state, alert = sample()
    surge = alert.model_copy(update={"kind": "surge", "card": alert.card.model_copy(update={"surge": True})})
    text = render_text(state, surge)
    assert text.splitlines()[0] == "Buying surge: Ada Lovelace"
    assert (
        "Tier:     sales_ready    Grade: A4    Stage: lead    SURGE: sudden buying signal"
        in text.splitlines()
    )
    assert subject(state, surge) == "Buying surge: Ada Lovelace (Analytical Engines) - 131.5 A4"


def test_render_json_exactly() -> None:
    state, alert = sample()
    assert render_json(state, alert, LINK) == {
        "schema": "leadscore.alert/1",
        "alert_id": "e0123456789abcdef0123456789abcde/sales_ready-3",
        "kind": "sales_ready",
        "model": "lead",  # several models may run on one lead: which one alerts
        "title": "Sales-ready lead",
        "stage": "lead",  # the lifecycle stage it was raised in (a lead stored before stages: lead)
        "created_at": "2026-11-23 15:00 UTC",
        "lead": {
            "id": "e0123456789abcdef0123456789abcde",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "phone": "+44 20 7946 0000",
            "owner": "Maria Garcia",
            "owner_queue": None,  # a form's owner: no routing queue
            "link": "https://crm.example.com/leads/e0123456789abcdef0123456789abcde",
            "first_touch": {
                "at": "2026-11-02 09:00 UTC",
                "source": "segment",
                "campaign": "spring-launch",
                "utm_source": "google",
                "utm_medium": "cpc",
            },
            "latest_touch": {
                "at": "2026-11-23 13:20 UTC",
                "source": "form",
                "campaign": "pricing-webinar",
                "utm_source": None,
                "utm_medium": None,
            },
            "profile": {
                "company": "Analytical Engines",
                "company_size": 1200,
                "country": "GB",
                "first_name": "Ada",
                "industry": "Software",
                "job_title": "CTO",
                "last_name": "Lovelace",
                "owner": "Maria Garcia",
                "phone": "+44 20 7946 0000",
            },
        },
        "score": 131.5,
        "fit": 60.0,
        "activity": 71.5,
        "tier": "sales_ready",
        "grade": "A4",
        "threshold": 100.0,
        "surge": False,
        "consent": {"do_not_email": False, "reasons": []},
        "categories": {"buying-signal": 60.0, "research": 11.5},
        "reasons": [
            "Requested a demo, last today (+40)",
            "C-level or VP title (+25)",
            "Viewed the pricing page 2×, last today (+20)",
        ],
        "contributions": [
            {
                "rule": "demo-request",
                "kind": "activity",
                "description": "Requested a demo",
                "points": 40.0,
                "count": 1,
                "last_seen": 1795440000,
                "category": "buying-signal",
                "disqualify": False,
            },
            {
                "rule": "title-executive",
                "kind": "fit",
                "description": "C-level or VP title",
                "points": 25.0,
                "count": 1,
                "disqualify": False,
            },
            {
                "rule": "pricing-view",
                "kind": "activity",
                "description": "Viewed the pricing page",
                "points": 20.0,
                "count": 2,
                "last_seen": 1795437000,
                "category": "buying-signal",
                "disqualify": False,
            },
        ],
        "recent": [
            {
                "at": 1795440000,
                "type": "form_submit",
                "source": "form",
                "name": "Request a demo",
                "rules": ["demo-request"],
            },
            {
                "at": 1795437000,
                "type": "page_view",
                "source": "segment",
                "path": "/pricing",
                "rules": ["pricing-view"],
            },
        ],
        "rules_version": "s3:v42",
        "text": EXPECTED_TEXT,
    }


def test_attributes_and_sns_message_exactly() -> None:
    state, alert = sample()
    assert attributes(state, alert) == {
        "kind": {"DataType": "String", "StringValue": "sales_ready"},
        "tier": {"DataType": "String", "StringValue": "sales_ready"},
        "grade": {"DataType": "String", "StringValue": "A4"},
        "queue": {"DataType": "String", "StringValue": "none"},  # a form's owner: no routing queue
        "top_category": {"DataType": "String", "StringValue": "buying-signal"},
        "surge": {"DataType": "String", "StringValue": "false"},
        "country": {"DataType": "String", "StringValue": "gb"},
        "do_not_email": {"DataType": "String", "StringValue": "false"},
        "source": {"DataType": "String", "StringValue": "form"},
        "score": {"DataType": "Number", "StringValue": "131.5"},
    }
    message = sns_message(state, alert, LINK)
    assert message["MessageStructure"] == "json"
    bodies = json.loads(message["Message"])
    assert bodies["email"] == bodies["default"] == EXPECTED_TEXT
    assert json.loads(bodies["sqs"]) == render_json(state, alert, LINK)


def test_a_deployed_alert_links_to_the_lead_and_shows_phone_and_campaign(aws: None) -> None:
    stack = Stack.create(TEMPLATE, parameters={"LeadUrlTemplate": LINK})
    for function in ("NotifierFunction", "SweepWorkerFunction"):  # both publish alerts
        with stack.environment(function) as env:
            assert env["LEAD_URL_TEMPLATE"] == LINK
    stack.upload_rules(example_rules_json())
    submit_forms(
        stack,
        "kim@acme.com",
        "Request a demo",
        phone="+1 415 555 0100",
        utm_campaign="q4-launch",
        owner="Sam Ortiz",
        **PROFILE,
    )
    stack.drain()
    (note,) = stack.inbox()
    doc = json.loads(note["Message"])
    lead_id = doc["lead"]["id"]
    assert doc["lead"]["link"] == f"https://crm.example.com/leads/{lead_id}"
    lines = doc["text"].splitlines()
    assert lines[-1] == f"Open the lead: https://crm.example.com/leads/{lead_id}"
    assert "Phone:    +1 415 555 0100" in lines and "Owner:    Sam Ortiz" in lines
    assert any(
        line.startswith("Latest source: ") and line.endswith("forms, campaign q4-launch") for line in lines
    )
    assert lead_id not in doc["text"].replace(lines[-1], "")  # only in the link
