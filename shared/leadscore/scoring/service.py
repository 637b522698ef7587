"""Score a batch of canonical events: group by lead, one atomic write per lead, then the history.

This is the orchestration the scorer function calls. Pure decisions live in
:mod:`leadscore.scoring.engine`; storage lives in :mod:`leadscore.dal.leads`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadscore.dal.leads import LeadRepository, history_item
from leadscore.models.event import CanonicalEvent
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.engine import Outcome, apply_events, bot_reason, coalesce
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


def score_lead(
    repo: LeadRepository,
    lead_id: str,
    events: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
) -> tuple[Outcome, int]:
    """Apply one lead's events atomically, then record every event in its history."""
    last: list[Outcome] = []

    def change(state: LeadState) -> LeadState | None:
        outcome = apply_events(state, events, rules, now, default_threshold)
        last.append(outcome)
        return outcome.state if outcome.changed else None

    saved = repo.mutate(lead_id, change)
    outcome = last[-1]
    # History after the lead write, for every event, duplicates included: if an earlier attempt
    # died between the two writes, this retry restores the missing history. Puts are idempotent.
    ttl = int(now.timestamp()) + history_ttl_days * DAY
    notes: dict[str, str] = {e.event_id: why for e, why in outcome.unscored}
    for dup in outcome.duplicates:
        why = bot_reason(dup, rules, outcome.state)
        if why:
            notes[dup.event_id] = why
    items = {e.event_id: history_item(e, ttl, notes.get(e.event_id)) for e in events}
    repo.put_history(list(items.values()))
    return outcome, saved.attempts if saved else 1


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
        except Exception as exc:  # reported per record; the messages are retried, then dead-lettered
            repo.forget(lead_id)
            report.failures[lead_id] = exc
            continue
        report.outcomes[lead_id] = outcome
        report.attempts += attempts
    return report
