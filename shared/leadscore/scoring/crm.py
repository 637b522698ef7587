"""Outcomes and stage moves the CRM reports (HubSpot, Salesforce), applied by the scorer.

The front door maps a CRM webhook to a canonical event (``crm_outcome`` or ``crm_stage``) on the events
queue, like any other event: the scorer's dedupe counts it once per event id, and here it becomes the
same outcome the Lead API records (:mod:`leadscore.scoring.outcomes`, the stored card's snapshot) or a
lifecycle move (:mod:`leadscore.scoring.lifecycle`), audited as ``by = crm:<source>``, ``ref`` = the
event id. These events never score: no rule counts them.

Properties: ``crm_outcome``: ``status`` (converted / lost), ``amount``, ``currency``, ``crm_object``;
``crm_stage``: ``stage`` (a stage name, or ``rejected`` with ``reason``), ``crm_object``.
"""

from __future__ import annotations

from leadscore.models.event import CanonicalEvent
from leadscore.rules.model import Lifecycle
from leadscore.scoring import lifecycle, outcomes
from leadscore.scoring.state import LeadState

CRM_EVENTS = frozenset({"crm_outcome", "crm_stage"})


def _text(event: CanonicalEvent, key: str) -> str | None:
    value = event.properties.get(key)
    return str(value) if value is not None and not isinstance(value, bool) and str(value) else None


def apply(state: LeadState, event: CanonicalEvent, config: Lifecycle, at: int) -> str | None:
    """Apply one CRM event to ``state`` (the copy being written). None when applied (or already
    applied); else why it was kept without effect (the history's note)."""
    by = f"crm:{event.source}"
    if event.type == "crm_outcome":
        status = _text(event, "status")
        if status not in ("converted", "lost"):
            return "a CRM outcome without a converted/lost status"
        amount = event.properties.get("amount")
        entry = outcomes.snapshot(
            state,
            "converted" if status == "converted" else "lost",
            by=by,
            at=at,
            amount=float(amount)
            if isinstance(amount, int | float) and not isinstance(amount, bool)
            else None,
            currency=(_text(event, "currency") or "")[:3].upper() or None,
            note=_text(event, "crm_object"),
            ref=event.event_id,
        )
        try:
            outcomes.record(state, entry, config)
        except outcomes.OutcomesFull:
            return "the lead holds the most outcomes a lead item keeps"
        return None
    stage = _text(event, "stage")
    try:
        if stage == "rejected":
            lifecycle.reject(
                state,
                _text(event, "reason") or "",
                config,
                at=at,
                by=by,
                note=_text(event, "crm_object"),
                ref=event.event_id,
            )
        elif stage is not None:
            lifecycle.move(state, stage, at=at, by=by, why=_text(event, "crm_object"), ref=event.event_id)
        else:
            return "a CRM stage change without a stage"
    except lifecycle.StageError as exc:
        return f"stage not moved: {exc.message}"
    return None
