"""A lead as JSON: the score card sales reads (GET /leads/{lead}) and a row of the hot list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from leadscore.alerts import display_name
from leadscore.models.event import CanonicalEvent
from leadscore.scoring import consent as consent_state
from leadscore.scoring.state import LeadState, likelihood

HISTORY_LIMIT = 25


def iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def top_category(categories: dict[str, float]) -> str | None:
    """The category with the most points (as the alert's ``top_category`` attribute), if any."""
    return max(categories.items(), key=lambda kv: kv[1])[0] if categories else None


def history_entry(event: CanonicalEvent, note: str | None) -> dict[str, Any]:
    """One event of the lead's history: what happened and, when it did not count, why."""
    path = event.properties.get("path")
    return {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": event.type,
        "name": event.name,
        "source": event.source,
        "path": str(path) if path is not None else None,
        "scored": note is None,
        "note": note,
    }


def consent_json(state: LeadState) -> dict[str, Any]:
    """The lead's consent and deliverability, as of the newest event applied (event time)."""
    view = consent_state.view(state.consent)
    return {
        "do_not_email": view.do_not_email,
        "summary": consent_state.do_not_email(view),
        "unsubscribed": view.unsubscribed,
        "unsubscribed_at": iso(view.unsubscribed_at),
        "unsubscribed_lists": {name: iso(at) for name, at in view.lists.items()},
        "complained": view.complained,
        "complained_at": iso(view.complained_at),
        "undeliverable": view.undeliverable,
        "undeliverable_at": iso(view.undeliverable_at),
    }


def score_card(state: LeadState, history: Sequence[tuple[CanonicalEvent, str | None]]) -> dict[str, Any]:
    """GET /leads/{lead}: profile, score, tier, grade, categories, per-rule contributions, reasons,
    recent history (newest first), adjustments, outcomes and the rules version that scored it."""
    card = state.card
    return {
        "lead_id": state.lead_id,
        "email": state.email,
        "name": display_name(state),
        "profile": dict(state.profile),
        "consent": consent_json(state),
        "score": card.score if card else None,
        "fit": card.fit if card else None,
        "activity": card.activity if card else None,
        "tier": card.tier if card else None,
        "grade": card.grade if card else None,
        "threshold": card.threshold if card else None,
        "probability": card.probability if card else None,
        "horizon_days": card.horizon_days if card else None,
        "likelihood": likelihood(card),
        "disqualified": card.disqualified if card else False,
        "surge": card.surge if card else False,
        "categories": dict(card.categories) if card else {},
        "top_category": top_category(card.categories) if card else None,
        "contributions": [c.model_dump(mode="json") for c in card.contributions] if card else [],
        "reasons": list(card.reasons) if card else [],
        "model": card.model if card else None,
        "rules_version": card.rules_version if card else None,
        "computed_at": iso(card.computed_at) if card else None,
        "due_at": iso(card.due_at) if card else None,
        "events_total": state.events_total,
        "created_at": iso(state.created_at or None),
        "updated_at": iso(state.updated_at or None),
        "history": [history_entry(event, note) for event, note in history],
        "adjustments": [a.model_dump(mode="json") for a in state.adjustments],
        "outcomes": [o.model_dump(mode="json") for o in state.outcomes],
    }


def hot_row(state: LeadState) -> dict[str, Any]:
    """A lead in the hot list: who, how hot, and the first reasons."""
    card = state.card
    return {
        "lead_id": state.lead_id,
        "email": state.email,
        "name": display_name(state),
        "company": state.profile.get("company"),
        "do_not_email": consent_state.view(state.consent).do_not_email,
        "score": card.score if card else None,
        "tier": card.tier if card else None,
        "grade": card.grade if card else None,
        "surge": card.surge if card else False,
        "top_category": top_category(card.categories) if card else None,
        "categories": dict(card.categories) if card else {},
        "reasons": list(card.reasons[:3]) if card else [],
        "updated_at": iso(state.updated_at or None),
    }
