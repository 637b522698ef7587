"""Score a batch of canonical events: group by lead, one atomic write per lead (history included).

This is the orchestration the scorer function calls. Pure decisions live in
:mod:`leadscore.scoring.engine`; storage lives in :mod:`leadscore.dal.leads`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadscore.dal.leads import LeadRepository, journal_entry
from leadscore.models.event import CanonicalEvent, lead_id_for_anonymous
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.engine import Outcome, apply_events, bot_reason, coalesce, epoch, merge_in, rebuild
from leadscore.scoring.state import LeadState

DAY = 86_400


class OutOfTimeError(Exception):
    """The invocation is about to time out: the lead was not attempted and will be retried."""


@dataclass
class BatchReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)  # lead id -> why its events must be retried
    attempts: int = 0

    @property
    def accepted(self) -> int:
        return sum(len(o.accepted) for o in self.outcomes.values())

    @property
    def duplicates(self) -> int:
        return sum(len(o.duplicates) for o in self.outcomes.values())

    @property
    def unscored(self) -> int:
        return sum(len(o.unscored) for o in self.outcomes.values())

    @property
    def alerts(self) -> int:
        return sum(len(o.alerts) for o in self.outcomes.values())


class Redirected(Exception):
    """The anonymous lead was merged into a known lead: score its events there."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def _journal(
    events: Sequence[CanonicalEvent],
    outcome: Outcome,
    rules: CompiledRules,
    now: datetime,
    history_ttl_days: int,
    *,
    duplicates: bool = False,
) -> list[str]:
    """History entries of the events this write records: the accepted ones and the ones kept unscored
    (each with why). A redelivered duplicate was recorded with the write that counted it, in the same
    atomic write, so it is not recorded again (unless ``duplicates``: a merge copies a whole history)."""
    ttl = int(now.timestamp()) + history_ttl_days * DAY
    notes: dict[str, str] = {e.event_id: why for e, why in outcome.unscored}
    recorded = {e.event_id for e in outcome.accepted} | set(notes)
    if duplicates:
        for dup in outcome.duplicates:
            recorded.add(dup.event_id)
            why = bot_reason(dup, rules, outcome.state)
            if why:
                notes[dup.event_id] = why
    unique = {e.event_id: e for e in events if e.event_id in recorded}
    return [journal_entry(e, notes.get(e.event_id), ttl) for e in unique.values()]


def score_lead(
    repo: LeadRepository,
    lead_id: str,
    events: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
) -> tuple[Outcome, int]:
    """Apply one lead's events and record their history, in one atomic write; return the outcome and
    the write attempts.

    Events of an anonymous visitor who has since been identified go to the known lead.
    """
    last: list[Outcome] = []
    redirect: list[str] = []

    def change(state: LeadState) -> LeadState | None:
        if state.merged_into:
            redirect.append(state.merged_into)
            return None
        outcome = apply_events(state, events, rules, now, default_threshold)
        last.append(outcome)
        entries = _journal(events, outcome, rules, now, history_ttl_days)
        if not entries:
            return None  # only redeliveries: nothing to write
        new = outcome.state
        if not outcome.changed:  # only events too old to score: their history still counts
            new.ver = state.ver + 1
            new.updated_at = epoch(now)
        new.journal = [*new.journal, *entries]
        return new

    saved = repo.mutate(lead_id, change)
    if redirect:
        return score_lead(repo, redirect[-1], events, rules, now, default_threshold, history_ttl_days)
    return last[-1], saved.attempts if saved else 1


def merge_anonymous(
    repo: LeadRepository,
    known_lead_id: str,
    anonymous_id: str,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
) -> Outcome | None:
    """Fold an identified visitor's anonymous history into the known lead: nothing lost, nothing twice.

    1. the anonymous events are applied to the known lead in one write that also records the merge
       (so a retry does not apply them again); 2. their history is copied to the known lead;
    3. the anonymous lead is marked as merged, so its later events are redirected.
    """
    anonymous_lead_id = lead_id_for_anonymous(anonymous_id)
    if anonymous_lead_id == known_lead_id:
        return None
    history = [event for event, _ in repo.history(anonymous_lead_id)]
    if not history:
        return None  # never seen anonymously: nothing to merge
    last: list[Outcome] = []

    def absorb(state: LeadState) -> LeadState | None:
        outcome = merge_in(state, anonymous_lead_id, history, rules, now, default_threshold)
        last.append(outcome)
        if not outcome.changed:
            return None
        copied = _journal(history, outcome, rules, now, history_ttl_days, duplicates=True)
        outcome.state.journal = [*outcome.state.journal, *copied]
        return outcome.state

    # The history is copied in the same write that records the merge; the anonymous lead is marked
    # merged after it, so a crash in between merges again (a no-op on the known lead).
    repo.mutate(known_lead_id, absorb)

    def mark(state: LeadState) -> LeadState | None:
        if state.merged_into == known_lead_id:
            return None
        new = state.clone()
        new.merged_into = known_lead_id
        new.card = None  # off the hot list: the known lead carries the score now
        new.ver = state.ver + 1
        new.updated_at = epoch(now)
        return new

    repo.mutate(anonymous_lead_id, mark)
    return last[-1]


def rescore_from_history(
    repo: LeadRepository,
    lead_id: str,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
) -> LeadState | None:
    """Rebuild one lead from its stored history with ``rules`` (one conditional write). None if absent."""
    history = [event for event, _ in repo.history(lead_id)]
    current = repo.get(lead_id)
    if current is None:
        return None
    saved = repo.mutate(
        lead_id, lambda state: rebuild(state, history, rules, now, default_threshold), start=current
    )
    return saved.after if saved else None


def score_batch(
    repo: LeadRepository,
    events: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
    time_left: Callable[[], float] | None = None,
    min_seconds: float = 3.0,
) -> BatchReport:
    """Score every lead in the batch. A lead that fails does not stop the others."""
    report = BatchReport()
    for lead_id, group in coalesce(events).items():
        if time_left is not None and time_left() < min_seconds:
            report.failures[lead_id] = OutOfTimeError("not attempted: the invocation is about to time out")
            continue
        try:
            outcome, attempts = score_lead(
                repo, lead_id, group, rules, now, default_threshold, history_ttl_days
            )
            identified = {e.identity.anonymous_id for e in group if e.identity.email}
            for anonymous_id in sorted(a for a in identified if a is not None):
                if lead_id_for_anonymous(anonymous_id) in outcome.state.merged_from:
                    continue
                merged = merge_anonymous(
                    repo, lead_id, anonymous_id, rules, now, default_threshold, history_ttl_days
                )
                if merged is not None:
                    outcome.alerts.extend(merged.alerts)
                    outcome.state = merged.state
        except Exception as exc:  # reported per record; the messages are retried, then dead-lettered
            repo.forget(lead_id)
            report.failures[lead_id] = exc
            continue
        report.outcomes[lead_id] = outcome
        report.attempts += attempts
    return report
