"""What became of a lead (converted / lost), recorded with its score at that moment.

One builder for both ways an outcome arrives: the Lead API (``POST /leads/{lead}/outcome``) and the
CRM (a ``crm_outcome`` event the scorer applies). Either way the outcome keeps the stored card's score,
grade and rules version, the lead's lifecycle moves with it (``leadscore.scoring.lifecycle``), and an
outcome whose ``ref`` (the CRM's event id) is already recorded is not recorded again.
"""

from __future__ import annotations

from typing import Literal

from leadscore.rules.model import Lifecycle
from leadscore.scoring import lifecycle
from leadscore.scoring.state import MAX_OUTCOMES, LeadState, SalesOutcome


class OutcomesFull(Exception):
    """The lead holds MAX_OUTCOMES outcomes already."""


def snapshot(
    state: LeadState,
    status: Literal["converted", "lost"],
    *,
    by: str,
    at: int,
    amount: float | None = None,
    currency: str | None = None,
    note: str | None = None,
    ref: str | None = None,
) -> SalesOutcome:
    """The outcome with the score, grade and rules version of the lead's stored card."""
    card = state.card
    return SalesOutcome(
        status=status,
        amount=amount,
        currency=currency,
        note=note,
        by=by,
        at=at,
        score_at_outcome=card.score if card else None,
        grade_at_outcome=card.grade if card else None,
        rules_version=card.rules_version if card else None,
        ref=ref,
    )


def record(state: LeadState, outcome: SalesOutcome, config: Lifecycle) -> bool:
    """Append ``outcome`` to ``state`` (a copy being written) and move the stage. False when an
    outcome with the same ``ref`` is there already; :class:`OutcomesFull` beyond MAX_OUTCOMES."""
    if outcome.ref is not None and any(o.ref == outcome.ref for o in state.outcomes):
        return False
    if len(state.outcomes) >= MAX_OUTCOMES:
        raise OutcomesFull
    state.outcomes = [*state.outcomes, outcome]
    lifecycle.on_outcome(state, outcome.status, config, at=outcome.at, by=outcome.by, ref=outcome.ref)
    return True
