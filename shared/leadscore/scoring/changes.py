"""Lead events: what one write of a lead changed, as the events EventBridge receives (docs/events.md).

Pure. :func:`record` compares the state a write replaces with the state it writes and puts one
:class:`~leadscore.scoring.state.EventEntry` per change kind in the new state's outbox, in that same
atomic write (the storage layer calls it for every write of a lead, so no writer can forget it and
a write that loses its race records nothing). Delivery is the alerts' outbox: claim with a lease, mark
sent, back off, fail with a reason, the sweep re-drives (:mod:`leadscore.services.lead_events`).

Each kind is one :class:`Kind`: its detail type, a detector ``(before, after) -> change | None`` and
how two undelivered changes of it combine. Adding a kind is one entry in ``KINDS`` (and its name
in ``EventKind``).

Bounded: at most one *pending* (not yet claimed) event per kind. A new change of a kind whose last
event still waits (EventBridge down, a backlog) is coalesced into it: ``from`` of the older, ``to`` of
the newer (a tier that went warm -> hot -> warm while EventBridge was down emits nothing: it is where
it was; counted as coalesced). "Became sales ready" is never coalesced: each crossing is an alert
too, and the cooldown limits them. So a lead holds at most ``len(KINDS)`` pending events plus the
ones being sent; ``MAX_PENDING_EVENTS`` is the backstop (the newest kept, the rest counted as dropped).

Only known leads (with an email) emit events: an anonymous visitor has nothing a consumer can act
on, and when it is identified the known lead's own changes are emitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadscore.scoring import consent
from leadscore.scoring.state import (
    MAX_PENDING_EVENTS,
    UNLISTED_TIERS,
    AlertEntry,
    EventEntry,
    EventKind,
    LeadState,
)

SCHEMA = "leadscore.lead-event/1"
SOURCE = "leadscore"
PREFIX = "ev."  # outbox keys of events (alerts' are "<kind>-<ver>")

Change = dict[str, Any]
Detector = Callable[[LeadState, LeadState], Change | None]
Combine = Callable[[Change, Change], Change | None]


@dataclass(frozen=True)
class Kind:
    name: EventKind
    detail_type: str
    detect: Detector
    combine: Combine | None  # None: never coalesced


@dataclass
class Recorded:
    """What :func:`record` did to one write's outbox."""

    added: list[str]
    coalesced: int = 0  # changes folded into an event still waiting (or cancelled out)
    dropped: int = 0  # pending events beyond MAX_PENDING_EVENTS (oldest first)


def _from_to(old: Change, new: Change) -> Change | None:
    merged = {**new, "from": old.get("from")}
    return None if merged["from"] == merged["to"] else merged


def _tier(before: LeadState, after: LeadState) -> Change | None:
    old = before.card.tier if before.card is not None else None
    new = after.card.tier if after.card is not None else None
    if new is None or old == new or (old is None and new in UNLISTED_TIERS):
        return None  # a new lead in the long tail is not news
    return {"from": old, "to": new}


def _grade(before: LeadState, after: LeadState) -> Change | None:
    old = before.card.grade if before.card is not None else None
    new = after.card.grade if after.card is not None else None
    if new is None or old == new:
        return None
    if old is None and after.card is not None and after.card.tier in UNLISTED_TIERS:
        return None  # nor is its first grade (most leads: the events would be mostly these)
    return {"from": old, "to": new}


def _raised(before: LeadState, after: LeadState) -> list[AlertEntry]:
    return sorted((a for a in after.outbox.values() if a.id not in before.outbox), key=lambda a: a.id)


def _primary(after: LeadState, alert: AlertEntry) -> bool:
    return after.card is not None and alert.card.model == after.card.model


def _ready(before: LeadState, after: LeadState) -> Change | None:
    """The crossing: exactly when the write raised the primary model's ``sales_ready`` alert (the
    same decision)."""
    raised = [a.id for a in _raised(before, after) if a.kind == "sales_ready" and _primary(after, a)]
    if not raised or after.card is None:
        return None
    return {"alert_id": f"{after.lead_id}/{raised[-1]}", "threshold": after.card.threshold}


def _signal(before: LeadState, after: LeadState) -> Change | None:
    """The write raised other alerts that name a model or a category: another model's crossing (an
    upsell signal) or a category's own threshold. One event lists them all (surges are the lead's
    own: the alert and the tier say them)."""
    signals = [
        {
            "alert_id": f"{after.lead_id}/{a.id}",
            "kind": a.kind,
            "model": a.card.model,
            "title": a.title,
            "category": a.category,
            "score": a.card.score,
            "tier": a.card.tier,
        }
        for a in _raised(before, after)
        if a.kind == "category" or (a.kind == "sales_ready" and not _primary(after, a))
    ]
    return {"alerts": signals} if signals else None


def _flags(state: LeadState) -> dict[str, bool]:
    view = consent.view(state.consent)
    flags = {
        consent.UNSUBSCRIBED: view.unsubscribed,
        consent.COMPLAINED: view.complained,
        consent.UNDELIVERABLE: view.undeliverable,
    }
    flags.update({consent.LIST_PREFIX + name: True for name in view.lists})
    return flags


def _dne(flags: Mapping[str, bool]) -> bool:
    return any(flags.get(k, False) for k in (consent.UNSUBSCRIBED, consent.COMPLAINED, consent.UNDELIVERABLE))


def _consent(before: LeadState, after: LeadState) -> Change | None:
    old, new = _flags(before), _flags(after)
    changed = {k: {"from": old.get(k, False), "to": new.get(k, False)} for k in sorted({*old, *new})}
    changed = {k: v for k, v in changed.items() if v["from"] != v["to"]}
    if not changed:
        return None
    return {"do_not_email": {"from": _dne(old), "to": _dne(new)}, "flags": changed}


def _combine_consent(old: Change, new: Change) -> Change | None:
    flags = {k: dict(v) for k, v in old["flags"].items()}
    for k, v in new["flags"].items():
        flags[k] = {"from": flags[k]["from"] if k in flags else v["from"], "to": v["to"]}
    flags = {k: v for k, v in sorted(flags.items()) if v["from"] != v["to"]}
    dne = {"from": old["do_not_email"]["from"], "to": new["do_not_email"]["to"]}
    return {"do_not_email": dne, "flags": flags} if flags else None


def _stage(before: LeadState, after: LeadState) -> Change | None:
    """The lifecycle stage moved (leadscore.scoring.lifecycle)."""
    old, new = before.stage, after.stage
    return None if new is None or old == new else {"from": old, "to": new}


def _owner(before: LeadState, after: LeadState) -> Change | None:
    """Routing assigned the lead to an owner, or moved it (leadscore.scoring.routing)."""
    old, new = before.owner, after.owner
    return None if new is None or old == new else {"from": old, "to": new, "queue": after.owner_queue}


KINDS: tuple[Kind, ...] = (
    Kind("ready", "Lead Became Sales Ready", _ready, None),
    Kind("signal", "Lead Signal Raised", _signal, None),
    Kind("tier", "Lead Tier Changed", _tier, _from_to),
    Kind("grade", "Lead Grade Changed", _grade, _from_to),
    Kind("consent", "Lead Consent Changed", _consent, _combine_consent),
    Kind("stage", "Lead Stage Changed", _stage, _from_to),
    Kind("owner", "Lead Owner Changed", _owner, _from_to),
)
BY_NAME = {k.name: k for k in KINDS}


def detect(before: LeadState, after: LeadState) -> list[tuple[Kind, Change]]:
    """The changes of one write, one per kind at most (none for anonymous or erased leads)."""
    if after.email is None:
        return []
    found = ((kind, kind.detect(before, after)) for kind in KINDS)
    return [(kind, change) for kind, change in found if change is not None]


def _fold(combine: Combine, changes: list[Change]) -> Change | None:
    """Changes of one kind, oldest first, as one (None: they cancel out)."""
    acc: Change | None = None
    for change in changes:
        acc = change if acc is None else combine(acc, change)
    return acc


def record(before: LeadState, after: LeadState) -> Recorded:
    """Put this write's events in ``after.events`` (carried over from ``before``, as stored: the
    writer's own copy may be stale or rebuilt). Sent and failed events leave the outbox."""
    events = {k: e for k, e in before.events.items() if e.status in ("pending", "sending")}
    report = Recorded(added=[])
    if after.email is None:
        events = {}  # erased (a tombstone) or never known: nothing to tell about this person
    card = after.card
    for kind, detected in detect(before, after):
        change = detected
        if kind.combine is not None:
            waiting = sorted(
                (e for e in events.values() if e.kind == kind.name and e.status == "pending"),
                key=lambda e: (e.created_at, e.id),
            )
            for old in waiting:
                del events[old.id]
            report.coalesced += len(waiting)
            combined = _fold(kind.combine, [e.change for e in waiting] + [change])
            if combined is None:
                continue
            change = combined
        entry = EventEntry(
            id=f"{PREFIX}{kind.name}-{after.ver}",
            kind=kind.name,
            created_at=after.updated_at,
            change=change,
            score=card.score if card is not None else 0.0,
            tier=card.tier if card is not None else "",
            grade=card.grade if card is not None else "",
            model=card.model if card is not None else "lead",
            rules_version=card.rules_version if card is not None else "",
            stage=after.stage,
            owner=after.owner,
            queue=after.owner_queue,
        )
        events[entry.id] = entry
        report.added.append(entry.id)
    waiting = sorted(
        (e for e in events.values() if e.status == "pending"), key=lambda e: (e.created_at, e.id)
    )
    over = len(events) - MAX_PENDING_EVENTS
    for old in waiting[: max(over, 0)]:
        del events[old.id]
        report.dropped += 1
    after.events = events
    return report


# --------------------------------------------------------------------------- what EventBridge receives
def event_id(lead_id: str, entry: EventEntry) -> str:
    """Stable across redeliveries: consumers drop a repeat by it."""
    return f"{lead_id}/{entry.id}"


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def detail(lead_id: str, entry: EventEntry, link: str | None) -> dict[str, Any]:
    """The event's ``detail``, version 1 (docs/events.md). No email or name: the lead id and the link
    find the person where access is controlled."""
    return {
        "schema": SCHEMA,
        "id": event_id(lead_id, entry),
        "kind": entry.kind,
        "lead_id": lead_id,
        "occurred_at": _iso(entry.created_at),
        "model": entry.model,
        "score": entry.score,
        "tier": entry.tier,
        "grade": entry.grade,
        "rules_version": entry.rules_version,
        "stage": entry.stage,
        "owner": entry.owner,
        "queue": entry.queue,
        "change": entry.change,
        "link": link,
    }


def put_events_entry(lead_id: str, entry: EventEntry, bus: str, link: str | None) -> dict[str, Any]:
    """One ``PutEvents`` request entry."""
    import json

    return {
        "Source": SOURCE,
        "DetailType": BY_NAME[entry.kind].detail_type,
        "Detail": json.dumps(detail(lead_id, entry, link), separators=(",", ":"), allow_nan=False),
        "EventBusName": bus,
        "Time": datetime.fromtimestamp(entry.created_at, UTC),
        "Resources": [],
    }


MAX_ENTRY_BYTES = 256 * 1024  # PutEvents: the whole request, and so each entry


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as PutEvents counts it (Source, DetailType, Detail, resources, 14 for Time)."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name, "")).encode())
    return size + sum(len(str(r).encode()) for r in entry.get("Resources", []))


def entry_problems(entry: Mapping[str, Any]) -> list[str]:
    """The PutEvents constraints ``entry`` breaks (names, never content)."""
    problems = []
    if entry_size(entry) > MAX_ENTRY_BYTES:
        problems.append("entry larger than 256 KB")
    if len(str(entry.get("DetailType", ""))) > 128:
        problems.append("DetailType longer than 128 characters")
    return problems
