"""Score a batch of canonical events: group by lead, one atomic write per lead (history included).

This is the orchestration the scorer function calls. Pure decisions live in
:mod:`leadscore.scoring.engine`; storage lives in :mod:`leadscore.dal.leads`.

Identity: an event with both an email and an ``anonymousId`` links the visitor to the known lead.
The anonymous lead is first *marked* (``merged_into``: its later events are redirected), then its
history, read strongly consistently after the mark, is applied to the known lead in one write that
records the merge, then the anonymous lead is marked *absorbed*. Every order of identify and
anonymous visits ends with one known lead that holds every event once (docs/architecture.md,
"Identity merge").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadscore.dal.items import journal_entry
from leadscore.dal.leads import ConflictError, LeadRepository, Saved
from leadscore.models.event import CanonicalEvent, lead_id_for_anonymous
from leadscore.observability import count, logger
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.engine import (
    Outcome,
    apply_events,
    bot_reason,
    coalesce,
    epoch,
    merge_in,
    rebuild,
    same_facts,
)
from leadscore.scoring.state import LeadState

DAY = 86_400


class OutOfTimeError(Exception):
    """The invocation is about to time out: the lead was not attempted and will be retried."""


@dataclass
class BatchReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)  # lead id -> why its events must be retried
    attempts: int = 0
    trimmed: int = 0  # lead items the size guard trimmed
    memory_full: int = 0  # leads that forgot dedupe pages (a flood beyond MAX_DEDUPE_PAGES)
    account_alerts: int = 0  # account alerts queued by the roll-up (leadscore.services.accounts)

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
    def late(self) -> int:
        return sum(o.late for o in self.outcomes.values())

    @property
    def erased(self) -> int:
        """Events dropped because their lead was erased after they were sent."""
        return sum(o.erased for o in self.outcomes.values())

    @property
    def alerts(self) -> int:
        return sum(len(o.alerts) for o in self.outcomes.values())

    def saved(self, saved: Saved | None) -> None:
        if saved is not None:
            self.trimmed += saved.trimmed
            self.memory_full += saved.after.memory_full


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


class _Memory:
    """The digests of a lead's dedupe pages, read once per set of pages (a lost race may bring a
    state that lists other pages)."""

    def __init__(self, repo: LeadRepository) -> None:
        self.repo = repo
        self._pages: tuple[tuple[int, str], ...] | None = None
        self._digests: set[str] = set()

    def of(self, state: LeadState) -> set[str]:
        pages = tuple(state.dd_pages)
        if pages != self._pages:
            self._digests = self.repo.remembered(state)
            self._pages = pages
        return self._digests


def score_lead(
    repo: LeadRepository,
    lead_id: str,
    events: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
    start: LeadState | None = None,
) -> tuple[Outcome, Saved | None]:
    """Apply one lead's events and record their history, in one atomic write.

    Events of an anonymous visitor who has since been identified go to the known lead.
    """
    last: list[Outcome] = []
    redirect: list[str] = []
    memory = _Memory(repo)

    def change(state: LeadState) -> LeadState | None:
        if state.merged_into:
            redirect.append(state.merged_into)
            return None
        kept = not_erased(state, events)
        outcome = apply_events(state, kept, rules, now, default_threshold, remembered=memory.of(state))
        outcome.erased = len(events) - len(kept)
        last.append(outcome)
        entries = _journal(kept, outcome, rules, now, history_ttl_days)
        if not entries:
            return None  # only redeliveries: nothing to write
        new = outcome.state
        new.journal = [*new.journal, *entries]
        return new

    saved = repo.mutate(lead_id, change, start=start)
    if redirect:
        return score_lead(repo, redirect[-1], events, rules, now, default_threshold, history_ttl_days)
    return last[-1], saved


def not_erased(state: LeadState, events: Sequence[CanonicalEvent]) -> list[CanonicalEvent]:
    """The events of an erased lead that arrived after its erasure (new consent); what was queued
    before it is dropped."""
    if state.erased_at is None:
        return list(events)
    return [e for e in events if epoch(e.received_at or e.occurred_at) > state.erased_at]


def _last_state(
    repo: LeadRepository, lead_id: str, change: Callable[[LeadState], LeadState | None]
) -> LeadState:
    """Run ``change`` through a conditional write; the state it ended with (written or not)."""
    seen: list[LeadState] = []

    def tracked(state: LeadState) -> LeadState | None:
        seen.append(state)
        return change(state)

    saved = repo.mutate(lead_id, tracked)
    return saved.after if saved is not None else seen[-1]


def merge_anonymous(
    repo: LeadRepository,
    known_lead_id: str,
    anonymous_id: str,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    history_ttl_days: int,
) -> tuple[Outcome | None, Saved | None]:
    """Fold an identified visitor's anonymous history into the known lead: nothing lost, nothing twice.

    1. mark the anonymous lead ``merged_into`` the known lead (creating it if it never visited), so
       every later event of it is redirected; 2. read its history, strongly consistently, after the
       mark: every event written before the mark is in it; 3. apply it to the known lead in one write
       that records the merge (a retry finds it recorded); 4. mark the anonymous lead absorbed.
    A visitor already merged into another known lead stays there (the first identification wins).
    """
    anonymous_lead_id = lead_id_for_anonymous(anonymous_id)
    if anonymous_lead_id == known_lead_id:
        return None, None
    now_s = epoch(now)

    def mark(state: LeadState) -> LeadState | None:
        if state.merged_into is not None:
            return None
        new = state.clone()
        new.merged_into = known_lead_id
        new.card, new.cards = None, {}  # off the hot list: the known lead carries the score now
        new.ver = state.ver + 1
        new.created_at = state.created_at or now_s
        new.updated_at = now_s
        return new

    anonymous = _last_state(repo, anonymous_lead_id, mark)
    if anonymous.merged_into != known_lead_id or anonymous.absorbed:
        return None, None
    history = [event for event, _ in repo.history(anonymous_lead_id, consistent=True)]
    last: list[Outcome] = []

    def absorb(state: LeadState) -> LeadState | None:
        outcome = merge_in(state, anonymous_lead_id, history, rules, now, default_threshold)
        last.append(outcome)
        if not outcome.changed:
            return None
        copied = _journal(history, outcome, rules, now, history_ttl_days, duplicates=True)
        outcome.state.journal = [*outcome.state.journal, *copied]
        return outcome.state

    saved = repo.mutate(known_lead_id, absorb) if history else None

    def done(state: LeadState) -> LeadState | None:
        if state.absorbed or state.merged_into != known_lead_id:
            return None
        new = state.clone()
        new.absorbed = True
        new.ver = state.ver + 1
        new.updated_at = now_s
        return new

    repo.mutate(anonymous_lead_id, done, start=anonymous)
    return (last[-1] if last else None), saved


def _route(events: Sequence[CanonicalEvent]) -> tuple[dict[str, list[CanonicalEvent]], dict[str, set[str]]]:
    """Group a batch by the lead each event is scored on, and which leads' records each group
    answers for. An anonymous visit in the same batch as the identify that links its visitor is
    scored on the known lead directly."""
    groups = coalesce(events)
    linked: dict[str, str] = {}
    for event in events:
        anon = event.identity.anonymous_id
        if anon is not None and event.identity.email is not None:
            linked.setdefault(lead_id_for_anonymous(anon), event.lead_id)
    answers: dict[str, set[str]] = {lead: {lead} for lead in groups}
    for anonymous_lead, known in linked.items():
        if anonymous_lead in groups and known in groups and anonymous_lead != known:
            groups[known].extend(groups.pop(anonymous_lead))
            answers[known] |= answers.pop(anonymous_lead)
    return groups, answers


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
    groups, answers = _route(events)
    repo.begin_batch()
    states = repo.load(groups)
    for lead_id, group in groups.items():
        if time_left is not None and time_left() < min_seconds:
            for lead in answers[lead_id]:
                report.failures[lead] = OutOfTimeError("not attempted: the invocation is about to time out")
            continue
        try:
            outcome, saved = score_lead(
                repo, lead_id, group, rules, now, default_threshold, history_ttl_days, states.get(lead_id)
            )
            report.attempts += saved.attempts if saved else 1
            report.saved(saved)
            known = outcome.state.lead_id
            identified = {
                e.identity.anonymous_id for e in not_erased(outcome.state, group) if e.identity.email
            }
            for anonymous_id in sorted(a for a in identified if a is not None):
                merged, absorbed = merge_anonymous(
                    repo, known, anonymous_id, rules, now, default_threshold, history_ttl_days
                )
                report.saved(absorbed)
                if merged is not None:
                    outcome.alerts.extend(merged.alerts)
                    outcome.state = merged.state
        except Exception as exc:  # reported per record; the messages are retried, then dead-lettered
            for lead in answers[lead_id]:
                repo.forget(lead)
                report.failures[lead] = exc
            continue
        report.outcomes[lead_id] = outcome
    _roll_up_accounts(repo, report, answers, rules, now)
    return report


def _roll_up_accounts(
    repo: LeadRepository,
    report: BatchReport,
    answers: dict[str, set[str]],
    rules: CompiledRules,
    now: datetime,
) -> None:
    """After the leads' writes: one write per account (and member shard) the batch touched. An
    account that could not be written fails its leads' events: their retry rolls them up again."""
    from leadscore.services.accounts import roll_up

    stored = {key: repo.cached(o.state.lead_id) for key, o in report.outcomes.items()}
    rolled = roll_up(repo.table, [s for s in stored.values() if s is not None], rules.accounts, epoch(now))
    report.account_alerts += len(rolled.alerts)
    failed = {lead: exc for domain, exc in rolled.failures.items() for lead in rolled.leads.get(domain, ())}
    for key, state in stored.items():
        if state is not None and state.lead_id in failed:
            for lead in answers[key]:
                report.failures[lead] = failed[state.lead_id]


class _Stale(Exception):
    """The lead was written after its history was read: read both again."""


def rescore_from_history(
    repo: LeadRepository,
    lead_id: str,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    *,
    alerts: bool = False,
) -> LeadState | None:
    """Rebuild one lead from its stored history with ``rules``: one conditional write, none when the
    rebuild changes nothing. None if the lead is absent. Raises no alert unless ``alerts``."""
    for _ in range(8):
        current = repo.get(lead_id)
        if current is None:
            return None
        history = [event for event, _ in repo.history(lead_id, consistent=True)]

        def change(
            state: LeadState, read: LeadState = current, replay: list[CanonicalEvent] = history
        ) -> LeadState | None:
            if state.ver != read.ver:
                raise _Stale  # an event arrived since the history was read
            new = rebuild(state, replay, rules, now, default_threshold, alerts=alerts)
            if state.rebuild_at is None and same_facts(new, state):
                return None
            return new

        try:
            saved = repo.mutate(lead_id, change, start=current)
        except _Stale:
            continue
        return saved.after if saved else current
    raise ConflictError(f"lead {lead_id}: kept changing while it was rebuilt")


MAX_LOGGED_TRACES = 20  # correlation ids in a batch's log line (a batch holds up to 2,000 events)


def report_batch(
    report: BatchReport, events: int, reads: int, rules_version: str, trace_ids: Sequence[str] = ()
) -> None:
    """A scored batch's metrics (one per outcome) and its log line: counts and lead ids, never PII."""
    count("EventsScored", report.accepted)
    count("DuplicateEvents", report.duplicates)
    count("UnscoredEvents", report.unscored)
    count("AlertsQueued", report.alerts)
    count("AccountAlertsQueued", report.account_alerts)
    count("LeadsFailed", len(report.failures))
    count("LateEvents", report.late)
    count("ErasedLeadEvents", report.erased)  # sent before their lead was erased: dropped
    count("LeadItemTrimmed", report.trimmed)
    count("DedupeMemoryFull", report.memory_full)
    logger.info(
        "batch scored",
        extra={
            "events": events,
            "leads": len(report.outcomes) + len(report.failures),
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "unscored": report.unscored,
            "alerts": report.alerts,
            "account_alerts": report.account_alerts,
            "late": report.late,
            "erased": report.erased,
            "write_attempts": report.attempts,
            "reads": reads,
            "failed_leads": {k: type(v).__name__ for k, v in report.failures.items()},
            "rules_version": rules_version,
            "trace_ids": sorted(set(trace_ids))[:MAX_LOGGED_TRACES],  # the requests the events came in
        },
    )
