"""Lifecycle stages: pure, audited, forward-only moves of a lead through the funnel.

    subscriber → lead → mql → sal → sql → opportunity → customer
                         └──── rejected (a configured reason) → nurture (cooldown) → mql again

- Stages only move forward (to a later rank). The one way back is a **rejection** by sales (from
  ``mql``, ``sal`` or ``sql``, with a reason from the rules file's ``lifecycle.rejection_reasons``):
  the lead is recycled to ``nurture``, which ranks with ``lead``, and cannot become an MQL again for
  ``lifecycle.recycle_cooldown_days``. A ``lost`` outcome recycles the same way (a customer stays one).
- ``subscriber``: the first thing we know is an email event (a list member); ``lead``: anything a
  person did (a form, a visit, an import); ``mql``: the score crossed the sales-ready threshold (where
  the engine raises the ``sales_ready`` alert); ``customer``: a ``converted`` outcome.
- Every move appends a :class:`~leadscore.scoring.state.StageMove` (who, when, why, from, to, and the
  ``ref`` of what caused it: a move with a ref already recorded is not made twice, so a replay of the
  history or a CRM retry never moves a lead twice). The newest ``MAX_STAGE_MOVES`` are kept.

No AWS here. Moves change ``state`` in place (callers pass the copy they are writing).
"""

from __future__ import annotations

from typing import Literal

from leadscore.errors import LeadscoreError
from leadscore.rules.model import Lifecycle
from leadscore.scoring.state import MAX_STAGE_MOVES, LeadState, StageMove, clip

STAGES = ("subscriber", "lead", "nurture", "mql", "sal", "sql", "opportunity", "customer")
RANK = {
    "subscriber": 0,
    "lead": 1,
    "nurture": 1,  # a recycled lead: where a lead is, but it was rejected (or lost) once
    "mql": 2,
    "sal": 3,
    "sql": 4,
    "opportunity": 5,
    "customer": 6,
}
REJECTABLE = frozenset({"mql", "sal", "sql"})
NURTURE = "nurture"
SCORING = "scoring"  # ``by`` of the moves the score makes (entering mql)
DAY = 86_400
# Event types that only say an email reached (or bounced from) a list member: a subscriber, not a lead.
_SUBSCRIBER_EVENTS = frozenset(
    {
        "email_delivered",
        "email_open",
        "email_click",
        "email_bounce",
        "email_dropped",
        "email_deferred",
        "email_unsubscribe",
        "email_resubscribe",
        "email_spam_report",
        "identify",
    }
)
StageName = Literal["subscriber", "lead", "nurture", "mql", "sal", "sql", "opportunity", "customer"]
ErrorCode = Literal["unknown_stage", "backward", "unknown_reason", "cooling_down", "not_rejectable"]


class StageError(LeadscoreError):
    """A move the lifecycle refuses. ``field`` names the request field it is about, ``code`` why."""

    def __init__(self, code: ErrorCode, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.field = field
        self.message = message


def current(state: LeadState) -> str:
    """The lead's stage; a lead stored before stages were kept is a ``lead``."""
    return state.stage or "lead"


def _already(state: LeadState, ref: str | None) -> bool:
    return ref is not None and any(m.ref == ref for m in state.stage_moves)


def _record(state: LeadState, to: str, *, at: int, by: str, why: str | None, ref: str | None) -> StageMove:
    entry = StageMove(at=at, by=by, to=to, from_stage=state.stage, why=clip(why), ref=ref)
    state.stage = to
    state.stage_at = at
    state.stage_moves = [*state.stage_moves, entry][-MAX_STAGE_MOVES:]
    return entry


def move(
    state: LeadState,
    to: str,
    *,
    at: int,
    by: str,
    why: str | None = None,
    ref: str | None = None,
) -> StageMove | None:
    """Move the lead forward to ``to``. None when it is there already (or ``ref`` was applied).

    Raises :class:`StageError`: an unknown stage, a move backward (``backward``), or ``mql`` while a
    recycled lead cools down (``cooling_down``)."""
    if to not in RANK:
        raise StageError("unknown_stage", "stage", f"not a stage; one of {', '.join(STAGES)}")
    if to == NURTURE:
        raise StageError("backward", "stage", "a lead goes to nurture only by a rejection (POST with reason)")
    if _already(state, ref) or state.stage == to:
        return None
    here = current(state)
    if RANK[to] <= RANK[here]:
        raise StageError("backward", "stage", f"stages only move forward: the lead is {here}")
    if to == "mql" and cooling(state, at):
        raise StageError(
            "cooling_down", "stage", "the lead was recycled: it cannot be an MQL before the cooldown"
        )
    return _record(state, to, at=at, by=by, why=why, ref=ref)


def cooling(state: LeadState, at: int) -> bool:
    return state.recycle_until is not None and at < state.recycle_until


def reject(
    state: LeadState,
    reason: str,
    config: Lifecycle,
    *,
    at: int,
    by: str,
    note: str | None = None,
    ref: str | None = None,
) -> StageMove | None:
    """Sales rejects the lead with a configured ``reason``: recycled to nurture for the cooldown."""
    if reason not in config.rejection_reasons:
        allowed = ", ".join(config.rejection_reasons) or "none are configured"
        raise StageError("unknown_reason", "reason", f"not a configured rejection reason ({allowed})")
    if _already(state, ref):
        return None
    here = current(state)
    if here not in REJECTABLE:
        raise StageError(
            "not_rejectable", "stage", f"only an mql, sal or sql can be rejected: the lead is {here}"
        )
    return _recycle(
        state, config, at=at, by=by, why=f"rejected: {reason}" + (f" ({note})" if note else ""), ref=ref
    )


def _recycle(
    state: LeadState, config: Lifecycle, *, at: int, by: str, why: str, ref: str | None
) -> StageMove:
    state.recycle_until = at + config.recycle_cooldown_days * DAY
    return _record(state, NURTURE, at=at, by=by, why=why, ref=ref)


def on_event(state: LeadState, event_type: str, at: int) -> StageMove | None:
    """A new lead's first stage (or a subscriber doing something a person does: a lead)."""
    by = SCORING
    if state.stage is None and not state.stage_moves:
        first = "subscriber" if event_type in _SUBSCRIBER_EVENTS else "lead"
        return _record(state, first, at=at, by=by, why=f"first event: {event_type}", ref=None)
    if state.stage == "subscriber" and event_type not in _SUBSCRIBER_EVENTS:
        return _record(state, "lead", at=at, by=by, why=f"{event_type}", ref=None)
    return None


def on_sales_ready(state: LeadState, at: int, score: float, threshold: float) -> StageMove | None:
    """The score crossed the sales-ready threshold: a lead (or subscriber, or nurture after the
    cooldown) becomes an MQL. Later stages stay where they are."""
    if RANK[current(state)] >= RANK["mql"] or cooling(state, at):
        return None
    why = f"score {score:g} crossed the sales-ready threshold {threshold:g}"
    return _record(state, "mql", at=at, by=SCORING, why=why, ref=None)


def on_outcome(
    state: LeadState, status: str, config: Lifecycle, *, at: int, by: str, ref: str | None
) -> StageMove | None:
    """``converted`` → customer; ``lost`` → nurture with the cooldown (a customer stays a customer)."""
    if _already(state, ref):
        return None
    if status == "converted":
        if current(state) == "customer":
            return None
        return _record(state, "customer", at=at, by=by, why="outcome: converted", ref=ref)
    if current(state) == "customer":
        return None
    return _recycle(state, config, at=at, by=by, why="outcome: lost", ref=ref)
