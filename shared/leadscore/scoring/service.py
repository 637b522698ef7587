"""Score a batch of canonical events: group by lead, one atomic write per lead, then the history.

This is the orchestration the scorer function calls. Pure decisions live in
:mod:`leadscore.scoring.engine`; storage lives in :mod:`leadscore.dal.leads`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadscore.dal.leads import LeadRepository, history_item
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


def _history_items(
    lead_id: str,
    events: Sequence[CanonicalEvent],
    outcome: Outcome,
    rules: CompiledRules,
    now: datetime,
    history_ttl_days: int,
) -> list[dict[str, Any]]:
    """History items for every event, duplicates included, written after the lead write: if an
    earlier attempt died between the two writes, the retry restores the missing history. Puts are
    idempotent."""
    ttl = int(now.timestamp()) + history_ttl_days * DAY
    notes: dict[str, str] = {e.event_id: why for e, why in outcome.unscored}
    for dup in outcome.duplicates:
        why = bot_reason(dup, rules, outcome.state)
        if why:
            notes[dup.event_id] = why
    items = {e.event_id: history_item(e, ttl, notes.get(e.event_id), lead_id=lead_id) for e in events}
    return list(items.values())


def score_lead(
    repo: LeadRepository,
    lead_id: str,
    events: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
) -> tuple[Outcome, int, list[dict[str, Any]]]:
    """Apply one lead's events atomically; return the outcome, the write attempts and the history
    items the caller must write next (once per batch, not once per lead).

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
        return outcome.state if outcome.changed else None

    saved = repo.mutate(lead_id, change)
    if redirect:
        return score_lead(repo, redirect[-1], events, rules, now, default_threshold, history_ttl_days)
    outcome = last[-1]
    items = _history_items(lead_id, events, outcome, rules, now, history_ttl_days)
    return outcome, saved.attempts if saved else 1, items


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
        return outcome.state if outcome.changed else None

    repo.mutate(known_lead_id, absorb)
    # Copied before the anonymous lead is marked merged: a retry after a crash here merges again.
    repo.put_history(_history_items(known_lead_id, history, last[-1], rules, now, history_ttl_days))

    def mark(state: LeadState) -> LeadState | None:
        if state.merged_into == known_lead_id:
            return None
        new = state.model_copy(deep=True)
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
    """Score every lead in the batch. A lead that fails does not stop the others.

    History items of the whole batch go out together after the lead writes (25 per request).
    """
    report = BatchReport()
    history: dict[str, list[dict[str, Any]]] = {}
    for lead_id, group in coalesce(events).items():
        if time_left is not None and time_left() < min_seconds:
            report.failures[lead_id] = OutOfTimeError("not attempted: the invocation is about to time out")
            continue
        try:
            outcome, attempts, history[lead_id] = score_lead(
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
    written = [lead for lead in history if lead in report.outcomes]
    try:
        repo.put_history([item for lead in written for item in history[lead]])
    except Exception as exc:  # their events are retried: lead writes dedupe, history puts repeat
        for lead in written:
            del report.outcomes[lead]
            report.failures[lead] = exc
    return report
