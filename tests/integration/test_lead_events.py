"""Lead events end to end on the template's stack: ingest -> scorer -> notifier (and the sweep) ->
PutEvents on LeadEventsBus -> a rule on the bus -> an SQS queue (the local stack's drain,
``Stack.lead_events``). Every change kind emits exactly one event, through an EventBridge outage too;
a refused entry fails alone."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent, Identity
from leadscore.scoring.state import LeadState

from tests.support import Stack, example_rules_json, run_sweep
from tests.support.faults import Faults

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
EMAIL = "dana@northwind.io"
PROFILE = {"job_title": "CTO", "industry": "Software", "company_size": 800, "country": "US"}


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(NOW)


def _form(stack: Stack, sid: str, **fields: Any) -> None:
    body = json.dumps({"email": EMAIL, "submission_id": sid, **fields})
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202


def _unsubscribe(stack: Stack) -> None:
    event = CanonicalEvent(
        event_id="sendgrid:unsub-1",
        source="sendgrid",
        type="email_unsubscribe",
        name="unsubscribe",
        occurred_at=NOW - timedelta(minutes=5),
        received_at=NOW,
        identity=Identity(email=EMAIL),
    )
    stack.client("sqs").send_message(
        QueueUrl=stack.queue_url("EventsQueue"), MessageBody=event.model_dump_json()
    )


def _lead(stack: Stack) -> LeadState:
    state = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(EMAIL)
    assert state is not None
    return state


def _by_type(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["detail-type"] for e in events)


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["id"] for e in events]


def test_every_change_kind_emits_exactly_one_event(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    _form(stack, "d1", **PROFILE)  # a new lead: its first tier (warm) and grade
    stack.drain()
    first = stack.lead_events()
    assert _by_type(first) == {  # warm: routed to an owner; a form makes it a lead in the funnel
        "Lead Tier Changed": 1,
        "Lead Grade Changed": 1,
        "Lead Stage Changed": 1,
        "Lead Owner Changed": 1,
    }
    tier = next(e for e in first if e["detail-type"] == "Lead Tier Changed")
    assert tier["source"] == "leadscore" and tier["detail"]["change"] == {"from": None, "to": "warm"}
    assert tier["detail"]["schema"] == "leadscore.lead-event/1" and EMAIL not in json.dumps(tier)
    stage = next(e for e in first if e["detail-type"] == "Lead Stage Changed")["detail"]
    assert stage["change"] == {"from": None, "to": "lead"} and stage["stage"] == "lead"
    owner = next(e for e in first if e["detail-type"] == "Lead Owner Changed")["detail"]
    assert owner["change"]["from"] is None and owner["change"]["to"] == _lead(stack).owner is not None
    assert owner["change"]["queue"] == owner["queue"] == _lead(stack).owner_queue is not None
    assert tier["detail"]["owner"] == owner["owner"]  # every event names who works the lead

    _form(stack, "d2", form="Request a demo")  # the crossing: ready, tier, grade in one write
    stack.drain()
    crossing = stack.lead_events()
    assert _by_type(crossing) == {
        "Lead Became Sales Ready": 1,
        "Lead Tier Changed": 1,
        "Lead Grade Changed": 1,
        "Lead Stage Changed": 1,  # the crossing makes it an MQL
    }
    mql = next(e for e in crossing if e["detail-type"] == "Lead Stage Changed")["detail"]["change"]
    assert mql == {"from": "lead", "to": "mql"}
    ready = next(e for e in crossing if e["detail-type"] == "Lead Became Sales Ready")
    (alert,) = stack.inbox()
    assert ready["detail"]["change"]["alert_id"] == json.loads(alert["Message"])["alert_id"]  # same decision

    _form(stack, "d2", form="Request a demo")  # a redelivery: counted once, nothing changes, no event
    _unsubscribe(stack)
    stack.drain()
    consent = stack.lead_events()
    kinds = _by_type(consent)  # the rules also mark unsubscribers down: tier and grade move with it
    assert kinds["Lead Consent Changed"] == 1 and set(kinds.values()) == {1}
    opted_out = next(e for e in consent if e["detail-type"] == "Lead Consent Changed")
    assert opted_out["detail"]["change"]["do_not_email"] == {"from": False, "to": True}

    tier_before = _lead(stack).card.tier
    clock.pin(NOW + timedelta(days=120))  # decay: the sweep's rescore moves the tier, and says so
    run_sweep(stack)
    stack.drain()
    decayed = stack.lead_events()
    assert _by_type(decayed)["Lead Tier Changed"] == 1
    moved = next(e for e in decayed if e["detail-type"] == "Lead Tier Changed")
    assert moved["detail"]["change"]["from"] == tier_before != moved["detail"]["change"]["to"]
    run_sweep(stack)
    stack.drain()
    assert stack.lead_events() == []  # nothing more to tell
    every = first + crossing + consent + decayed
    assert len(set(_ids(every))) == len(every)
    assert _lead(stack).pending_events == []


def test_an_eventbridge_outage_delivers_each_event_once_when_it_ends(stack: Stack, faults: Faults) -> None:
    stack.upload_rules(example_rules_json())
    faults.fail("PutEvents", 1000, 500, "InternalException")  # EventBridge is down until told otherwise
    _form(stack, "o1", **PROFILE)
    stack.drain()
    _form(stack, "o2", form="Request a demo")
    stack.drain()
    assert len(stack.inbox()) == 1  # the SNS alert is not held up by the events
    assert stack.lead_events() == []
    state = _lead(stack)
    # Not lost: pending in the outbox, backing off. The two tier changes coalesced (null -> sales_ready),
    # and so did the stage's (null -> lead -> mql).
    assert sorted(e.kind for e in state.pending_events) == ["grade", "owner", "ready", "stage", "tier"]
    assert {e.kind: e.change.get("from", "-") for e in state.pending_events} == {
        "grade": None,
        "owner": None,
        "ready": "-",
        "stage": None,
        "tier": None,
    }
    assert all(e.status == "pending" and e.attempts >= 1 for e in state.pending_events)
    puts = faults.calls.get("PutEvents", 0)
    stack.drain()
    assert faults.calls.get("PutEvents", 0) == puts  # no retry loop through item rewrites
    for hours in (1, 2, 3):  # a long outage: the sweep retries, backing off further each time
        clock.pin(NOW + timedelta(hours=hours))
        run_sweep(stack)
    assert stack.lead_events() == []
    faults.plans["PutEvents"] = []  # EventBridge is back
    clock.pin(NOW + timedelta(hours=4))  # (the same day: decay moves no tier in between)
    assert run_sweep(stack)["events_sent"] == 5
    delivered = stack.lead_events()
    assert _by_type(delivered) == {
        "Lead Became Sales Ready": 1,
        "Lead Tier Changed": 1,
        "Lead Grade Changed": 1,
        "Lead Stage Changed": 1,
        "Lead Owner Changed": 1,
    }
    tier = next(e for e in delivered if e["detail-type"] == "Lead Tier Changed")
    assert tier["detail"]["change"] == {"from": None, "to": "sales_ready"}
    stage = next(e for e in delivered if e["detail-type"] == "Lead Stage Changed")
    assert stage["detail"]["change"] == {"from": None, "to": "mql"}
    stack.drain()
    clock.pin(NOW + timedelta(hours=5))
    run_sweep(stack)
    assert stack.lead_events() == []  # and not twice
    assert _lead(stack).pending_events == []


def test_a_refused_entry_fails_alone_and_blocks_neither_the_others_nor_the_alert(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadscore.services.lead_events as delivery
    from leadscore.scoring.changes import put_events_entry as original

    def malformed_grade(lead_id: str, entry: Any, bus: str, link: str | None) -> dict[str, Any]:
        request = original(lead_id, entry, bus, link)
        if entry.kind == "grade":
            request["Detail"] = "{not json"  # EventBridge answers this entry MalformedDetail
        return request

    monkeypatch.setattr(delivery, "put_events_entry", malformed_grade)
    stack.upload_rules(example_rules_json())
    _form(stack, "r1", **PROFILE, form="Request a demo")
    stack.drain()
    assert len(stack.inbox()) == 1
    assert _by_type(stack.lead_events()) == {
        "Lead Became Sales Ready": 1,
        "Lead Tier Changed": 1,
        "Lead Stage Changed": 1,
        "Lead Owner Changed": 1,
    }
    failed = {e.kind: e for e in _lead(stack).events.values()}
    assert failed["grade"].status == "failed"
    assert failed["grade"].error == "refused by EventBridge: MalformedDetail"
    assert failed["tier"].status == "sent" and failed["ready"].status == "sent"
    clock.pin(NOW + timedelta(hours=1))
    run_sweep(stack)  # failed for good: never re-driven
    assert stack.lead_events() == []
