"""Lead events (leadscore.scoring.changes): one event per change kind per write, stable ids, bounded
and coalesced while undelivered, compact in the item, and a documented, versioned detail."""

from __future__ import annotations

import json

import pytest
from leadscore.dal import items
from leadscore.scoring import changes
from leadscore.scoring.state import (
    MAX_PENDING_EVENTS,
    AlertEntry,
    EventEntry,
    LeadState,
    ScoreCard,
)

LEAD = "a" * 32


def card(tier: str = "cold", grade: str = "C1", score: float = 10.0) -> ScoreCard:
    return ScoreCard(score=score, fit=0, activity=score, tier=tier, grade=grade, rules_version="s3:v1")


def lead(ver: int = 1, tier: str = "cold", grade: str = "C1", **kw: object) -> LeadState:
    fields: dict[str, object] = {
        "email": "p@example.com",
        "card": card(tier, grade),
        "updated_at": 1000 + ver,
    }
    fields.update(kw)
    return LeadState(lead_id=LEAD, ver=ver, **fields)


def write(before: LeadState, **update: object) -> tuple[LeadState, changes.Recorded]:
    after = before.clone()
    after.ver = before.ver + 1
    after.updated_at = before.updated_at + 60
    for name, value in update.items():
        setattr(after, name, value)
    return after, changes.record(before, after)


def kinds(state: LeadState) -> dict[str, dict[str, object]]:
    return {e.kind: e.change for e in state.pending_events}


def test_each_kind_is_one_event_per_write_with_a_stable_id() -> None:
    before = lead(tier="warm", grade="B1")
    alert = AlertEntry(id="sales_ready-2", kind="sales_ready", created_at=5, card=card("sales_ready"))
    after, recorded = write(
        before,
        card=card("sales_ready", "B3", 100),
        outbox={alert.id: alert},
        consent={"unsubscribed": (900, True)},
    )
    assert sorted(recorded.added) == ["ev.consent-2", "ev.grade-2", "ev.ready-2", "ev.tier-2"]
    assert kinds(after) == {
        "ready": {"alert_id": f"{LEAD}/sales_ready-2", "threshold": 100.0},
        "tier": {"from": "warm", "to": "sales_ready"},
        "grade": {"from": "B1", "to": "B3"},
        "consent": {
            "do_not_email": {"from": False, "to": True},
            "flags": {"unsubscribed": {"from": False, "to": True}},
        },
    }
    # Recorded again from the same stored state (a retried write): the same ids.
    again = before.clone()
    again.ver, again.updated_at = after.ver, after.updated_at
    again.card, again.outbox, again.consent = after.card, after.outbox, after.consent
    changes.record(before, again)
    assert sorted(again.events) == sorted(after.events)
    assert changes.event_id(LEAD, after.events["ev.tier-2"]) == f"{LEAD}/ev.tier-2"


def test_a_write_that_changes_nothing_emits_nothing_and_carries_pending_events_over() -> None:
    after, _ = write(lead(tier="warm"), card=card("hot"))
    later, recorded = write(after, events_total=3)  # an event that moved no score
    assert recorded.added == [] and sorted(later.events) == ["ev.tier-2"]
    # The writer's own copy never matters: events come from the stored state it replaces.
    stale = after.clone()
    stale.ver, stale.events = 3, {}
    changes.record(after, stale)
    assert sorted(stale.events) == ["ev.tier-2"]


def test_sent_and_failed_events_leave_the_outbox_at_the_next_write() -> None:
    after, _ = write(lead(tier="warm"), card=card("hot"), consent={"complained": (1, True)})
    after.events = {
        k: e.model_copy(update={"status": "sent" if e.kind == "tier" else "failed"})
        for k, e in after.events.items()
    }
    later, _ = write(after, events_total=1)
    assert later.events == {}


def test_a_new_lead_in_the_long_tail_is_not_news_until_it_leaves_it() -> None:
    new = LeadState(lead_id=LEAD)
    cold, _ = write(new, email="p@example.com", card=card("cold", "B1"))
    assert kinds(cold) == {}  # most new leads: neither their first tier nor their first grade
    warm, _ = write(new, email="p@example.com", card=card("warm", "B1"))
    assert kinds(warm) == {"tier": {"from": None, "to": "warm"}, "grade": {"from": None, "to": "B1"}}
    later, _ = write(cold, card=card("cold", "B2"))
    assert kinds(later) == {"grade": {"from": "B1", "to": "B2"}}


def test_anonymous_and_erased_leads_emit_nothing() -> None:
    anonymous = lead(tier="warm", email=None)
    after, recorded = write(anonymous, card=card("hot"))
    assert recorded.added == [] and after.events == {}
    pending, _ = write(lead(tier="warm"), card=card("hot"))
    tombstone, _ = write(pending, email=None, card=None, erased_at=5000, events_total=0)
    assert tombstone.events == {}  # nothing more is told about an erased person


def test_undelivered_changes_of_a_kind_coalesce_from_the_oldest_to_the_newest() -> None:
    one, _ = write(lead(tier="cold"), card=card("warm"))
    two, recorded = write(one, card=card("hot"))
    assert recorded.coalesced == 1
    assert [(e.id, e.change) for e in two.pending_events] == [("ev.tier-3", {"from": "cold", "to": "hot"})]
    back, recorded = write(two, card=card("cold"))  # back where it was: nothing to tell
    assert back.events == {} and recorded.coalesced == 1 and recorded.added == []


def test_an_event_being_sent_is_never_coalesced_or_dropped() -> None:
    one, _ = write(lead(tier="cold"), card=card("warm"))
    one.events = {
        k: e.model_copy(update={"status": "sending", "lease_token": "t"}) for k, e in one.events.items()
    }
    two, _ = write(one, card=card("hot"))
    assert {(e.id, e.status, e.change["to"]) for e in two.pending_events} == {
        ("ev.tier-2", "sending", "warm"),
        ("ev.tier-3", "pending", "hot"),
    }


def test_consent_changes_coalesce_per_flag() -> None:
    one, _ = write(lead(), consent={"unsubscribed:news": (1, True)})
    two, _ = write(one, consent={"unsubscribed:news": (1, True), "complained": (2, True)})
    assert kinds(two) == {
        "consent": {
            "do_not_email": {"from": False, "to": True},
            "flags": {
                "complained": {"from": False, "to": True},
                "unsubscribed:news": {"from": False, "to": True},
            },
        }
    }
    three, _ = write(two, consent={"complained": (2, True)})  # the list unsubscription reverted
    assert kinds(three)["consent"]["flags"] == {"complained": {"from": False, "to": True}}


def test_sales_ready_is_never_coalesced_and_the_cap_keeps_the_newest() -> None:
    state = lead(tier="warm")
    dropped = 0
    for n in range(MAX_PENDING_EVENTS + 3):
        alert = AlertEntry(id=f"sales_ready-{state.ver + 1}", kind="sales_ready", created_at=n, card=card())
        state, recorded = write(state, outbox={alert.id: alert})
        dropped += recorded.dropped
    assert len(state.events) == MAX_PENDING_EVENTS and dropped == 3
    newest = max(int(k.rsplit("-", 1)[1]) for k in state.events)
    assert newest == state.ver and min(int(k.rsplit("-", 1)[1]) for k in state.events) == state.ver - 9


def test_a_stage_move_and_an_owner_assignment_are_events_that_name_them() -> None:
    before = lead(stage="lead")
    after, _ = write(before, stage="mql", owner="lea.moreau@example.com", owner_queue="enterprise-desk")
    assert kinds(after) == {
        "stage": {"from": "lead", "to": "mql"},
        "owner": {"from": None, "to": "lea.moreau@example.com", "queue": "enterprise-desk"},
    }
    assert changes.BY_NAME["stage"].detail_type == "Lead Stage Changed"
    assert changes.BY_NAME["owner"].detail_type == "Lead Owner Changed"
    # Every event carries who works the lead and its stage, whatever its kind.
    later, _ = write(after, card=card("hot"))
    tier = later.events["ev.tier-3"]
    assert (tier.stage, tier.owner, tier.queue) == ("mql", "lea.moreau@example.com", "enterprise-desk")
    # Kept as they are, they emit nothing more.
    quiet, _ = write(later)
    assert {e.kind for e in quiet.pending_events} == {"stage", "owner", "tier"}  # the same, still pending


def test_events_round_trip_through_the_item_beside_alerts_and_wake_the_notifier() -> None:
    alert = AlertEntry(id="sales_ready-2", kind="sales_ready", created_at=5, card=card("sales_ready"))
    after, _ = write(lead(tier="warm"), card=card("sales_ready", "A3", 100), outbox={alert.id: alert})
    item = items.to_item(after)
    assert set(item["outbox"]["M"]) == {"sales_ready-2", "ev.ready-2", "ev.tier-2", "ev.grade-2"}
    assert item["alert_pending"]["SS"] == ["ev.grade-2", "ev.ready-2", "ev.tier-2", "sales_ready-2"]
    assert b"ev." not in item["st"]["B"]  # not in the state blob as well
    back = items.from_item(item)
    assert back.events == after.events and set(back.outbox) == {"sales_ready-2"}
    # Only events pending: the stream filter (alert_pending exists) still wakes the notifier.
    quiet, _ = write(lead(tier="warm"), card=card("hot"))
    assert items.to_item(quiet)["alert_pending"]["SS"] == ["ev.tier-2"]
    # The due index re-drives an event the notifier did not deliver, like an alert.
    assert items.due_time(quiet) == quiet.events["ev.tier-2"].created_at + 300


def test_an_event_adds_about_200_bytes_to_the_item() -> None:
    base = lead(tier="warm")
    after, _ = write(base, card=card("hot"))
    without = after.model_copy(update={"events": {}})
    added = items.approx_size(items.to_item(after)) - items.approx_size(items.to_item(without))
    print(f"one tier event adds {added} bytes")  # the figure docs/events.md quotes
    assert added <= 260


def test_the_detail_is_versioned_and_carries_no_email_or_name() -> None:
    after, _ = write(lead(tier="warm", profile={"first_name": "Dana"}), card=card("hot"))
    entry = after.events["ev.tier-2"]
    request = changes.put_events_entry(LEAD, entry, "bus", "https://crm.example/leads/x")
    assert request["Source"] == "leadscore" and request["DetailType"] == "Lead Tier Changed"
    detail = json.loads(request["Detail"])
    assert detail == {
        "schema": "leadscore.lead-event/1",
        "id": f"{LEAD}/ev.tier-2",
        "kind": "tier",
        "lead_id": LEAD,
        "occurred_at": "1970-01-01T00:17:41Z",
        "model": "lead",
        "score": 10.0,
        "tier": "hot",
        "grade": "C1",
        "rules_version": "s3:v1",
        "stage": None,  # where the lead is in the funnel and who works it: none yet here
        "owner": None,
        "queue": None,
        "change": {"from": "warm", "to": "hot"},
        "link": "https://crm.example/leads/x",
    }
    assert "p@example.com" not in request["Detail"] and "Dana" not in request["Detail"]
    assert changes.entry_problems(request) == []


@pytest.mark.parametrize("size", [256 * 1024 + 1])
def test_an_oversized_entry_is_named_before_sending(size: int) -> None:
    entry = {"Source": "leadscore", "DetailType": "Lead Tier Changed", "Detail": "x" * size}
    assert changes.entry_problems(entry) == ["entry larger than 256 KB"]


def test_every_kind_has_a_detail_type_and_a_documented_section() -> None:
    from tests.support import ROOT

    doc = (ROOT / "docs" / "events.md").read_text()
    for kind in changes.KINDS:
        assert f"### {kind.detail_type}" in doc, kind.detail_type
    assert EventEntry.model_fields.keys() >= {"change", "score", "tier", "grade"}


def test_pending_events_are_not_facts_so_a_rebuild_that_changes_nothing_writes_nothing() -> None:
    from leadscore.scoring.engine import same_facts

    pending, _ = write(lead(tier="warm"), card=card("hot"))
    rebuilt = pending.model_copy(update={"events": {}})  # rebuild() starts from a fresh state
    assert same_facts(pending, rebuilt)


def test_another_models_crossing_and_a_category_alert_are_one_signal_event_naming_them() -> None:
    before = lead(tier="warm")
    upsell = ScoreCard(
        score=85, fit=0, activity=85, tier="sales_ready", grade="C4", model="customer_expansion"
    )
    alerts = {
        "sales_ready-2": AlertEntry(id="sales_ready-2", kind="sales_ready", created_at=1, card=card("hot")),
        "customer_expansion:sales_ready-2": AlertEntry(
            id="customer_expansion:sales_ready-2",
            kind="sales_ready",
            created_at=1,
            card=upsell,
            title="Upsell signal",
        ),
        "cat:fleet-2": AlertEntry(
            id="cat:fleet-2",
            kind="category",
            created_at=1,
            card=card("hot"),
            category="fleet-telemetry",
            title="Fleet telemetry interest crossed 40",
        ),
    }
    after, _ = write(before, card=card("hot"), outbox=alerts)
    found = kinds(after)
    assert found["ready"]["alert_id"] == f"{LEAD}/sales_ready-2"  # the primary's crossing only
    listed = found["signal"]["alerts"]
    assert isinstance(listed, list)
    signals = {a["alert_id"]: (a["kind"], a["model"], a["title"]) for a in listed}
    assert signals == {
        f"{LEAD}/customer_expansion:sales_ready-2": ("sales_ready", "customer_expansion", "Upsell signal"),
        f"{LEAD}/cat:fleet-2": ("category", "lead", "Fleet telemetry interest crossed 40"),
    }
    assert changes.BY_NAME["signal"].detail_type == "Lead Signal Raised"
    again, _ = write(after)  # the alerts are in the outbox already: nothing new to tell
    assert [e.kind for e in again.pending_events if e.id.endswith("-3")] == []
