"""A lead as JSON: the score card sales reads (GET /leads/{lead}) and a row of the hot list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from leadscore.alerts import display_name
from leadscore.models.event import CanonicalEvent
from leadscore.principals import principal_name
from leadscore.scoring import consent as consent_state
from leadscore.scoring.lifecycle import current as current_stage
from leadscore.scoring.routing import PROFILE_ROUTE
from leadscore.scoring.state import LeadState, ScoreCard, likelihood

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


def owner_json(state: LeadState) -> dict[str, Any]:
    """Who owns the lead: the profile's owner (a form's) wins, else routing's assignment, with its
    queue, route and when it was made (leadscore.scoring.routing)."""
    given = state.profile.get("owner")
    if given is not None and given != "":
        return {
            "owner": given,
            "owner_queue": None,
            "route": PROFILE_ROUTE,
            "routed_at": iso(state.routed_at),
        }
    return {
        "owner": state.owner,
        "owner_queue": state.owner_queue,
        "route": state.route,
        "routed_at": iso(state.routed_at),
    }


def _by_name(record: dict[str, Any]) -> dict[str, Any]:
    """An adjustment or outcome with ``by_name``: the person in its ``by`` ARN (kept for the audit)."""
    return record | {"by_name": principal_name(str(record.get("by", "")))}


class CardScore(BaseModel):
    """The score part of a card and of a hot-list row, as the API answers it: all empty for a lead
    that has no card yet (an output model: built from a stored card, never validated again)."""

    score: float | None = None
    fit: float | None = None
    activity: float | None = None
    tier: str | None = None
    grade: str | None = None
    threshold: float | None = None
    probability: float | None = None
    horizon_days: int | None = None
    disqualified: bool = False
    surge: bool = False
    categories: dict[str, float] = Field(default_factory=dict)
    top_category: str | None = None
    contributions: list[dict[str, Any]] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    model: str | None = None
    rules_version: str | None = None
    computed_at: str | None = None
    due_at: str | None = None

    @classmethod
    def of(cls, card: ScoreCard | None) -> CardScore:
        if card is None:
            return cls()
        return cls.model_construct(
            score=card.score,
            fit=card.fit,
            activity=card.activity,
            tier=card.tier,
            grade=card.grade,
            threshold=card.threshold,
            probability=card.probability,
            horizon_days=card.horizon_days,
            disqualified=card.disqualified,
            surge=card.surge,
            categories=dict(card.categories),
            top_category=top_category(card.categories),
            contributions=[c.model_dump(mode="json") for c in card.contributions],
            reasons=list(card.reasons),
            model=card.model,
            rules_version=card.rules_version,
            computed_at=iso(card.computed_at),
            due_at=iso(card.due_at),
        )


MODEL_FIELDS = ("model", "score", "fit", "activity", "tier", "grade", "threshold", "categories")


def model_cards(state: LeadState) -> list[dict[str, Any]]:
    """Every model that scored the lead: the primary first (its card is the lead's score), then the
    others whose ``applies_when`` matched (e.g. customer_expansion), each with its own score, tier and
    grade."""
    cards = [state.card] if state.card is not None else []
    cards += state.cards.values()
    return [
        CardScore.of(card).model_dump(mode="json", include=set(MODEL_FIELDS)) | {"primary": i == 0}
        for i, card in enumerate(cards)
    ]


ROW_FIELDS = ("score", "tier", "grade", "surge", "top_category", "categories", "reasons")
ROW_REASONS = 3


def score_card(
    state: LeadState,
    history: Sequence[tuple[CanonicalEvent, str | None]],
    score_history: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """GET /leads/{lead}: profile, score, tier, grade, categories, per-rule contributions, reasons,
    recent history (newest first), adjustments, outcomes, the rules version that scored it, and
    ``score_history``: the score and tier per bucket of days, oldest first
    (:func:`leadscore.scoring.timeline.score_history`)."""
    return {
        "lead_id": state.lead_id,
        "email": state.email,
        "name": display_name(state),
        "profile": dict(state.profile),
        "consent": consent_json(state),
        **owner_json(state),
        **CardScore.of(state.card).model_dump(mode="json"),
        "likelihood": likelihood(state.card),
        "models": model_cards(state),
        "events_total": state.events_total,
        "created_at": iso(state.created_at or None),
        "updated_at": iso(state.updated_at or None),
        "history": [history_entry(event, note) for event, note in history],
        "score_history": list(score_history),
        "adjustments": [_by_name(a.model_dump(mode="json")) for a in state.adjustments],
        "outcomes": [_by_name(o.model_dump(mode="json")) for o in state.outcomes],
        **stage_json(state),
    }


def stage_json(state: LeadState) -> dict[str, Any]:
    """The lifecycle stage, when it was entered, and its audited moves (newest last)."""
    return {
        "stage": current_stage(state),
        "stage_at": iso(state.stage_at),
        "recycle_until": iso(state.recycle_until),
        "stage_moves": [_by_name(m.model_dump(mode="json")) | {"at": iso(m.at)} for m in state.stage_moves],
    }


def hot_row(state: LeadState) -> dict[str, Any]:
    """A lead in the hot list: who, how hot, and the first reasons."""
    scored = CardScore.of(state.card).model_dump(mode="json", include=set(ROW_FIELDS))
    scored["reasons"] = scored["reasons"][:ROW_REASONS]
    return {
        "lead_id": state.lead_id,
        "email": state.email,
        "name": display_name(state),
        "company": state.profile.get("company"),
        "owner": owner_json(state)["owner"],
        "do_not_email": consent_state.view(state.consent).do_not_email,
        "stage": current_stage(state),
        **scored,
        "updated_at": iso(state.updated_at or None),
    }
