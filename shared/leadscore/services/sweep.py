"""The sweep and ``rescore --all``: bounded pieces of work, many at once.

Every scored lead carries a due time (:func:`leadscore.dal.items.due_time`): the first day decay alone
moves its tier or re-arms its alert, a pending rebuild (late events), or when an alert the notifier
did not deliver must be re-driven. The ``due`` index, sharded, lists leads by that time. The schedule
sends one job message per shard; a worker visits its shard's due leads until its time runs low, then
sends the rest on with the key it stopped after. A visit:

1. delivers the lead's alerts that are due (:mod:`leadscore.services.delivery`);
2. rebuilds the lead from its history if events arrived too late to score live, else rescores it with
   the rules in force (one conditional write, none when nothing changed but the index key is right).

``rescore --all`` is the same mechanism over a parallel Scan's segments, each recording its progress
so the job can be watched and resumed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadscore.dal.accounts import domain_of_pk, is_account_pk
from leadscore.dal.items import due_time
from leadscore.dal.jobs import JobMessage, Jobs
from leadscore.dal.leads import LeadRepository
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.engine import epoch, rescore
from leadscore.scoring.state import AlertEntry, EventEntry, LeadState
from leadscore.services.accounts import redrive_account
from leadscore.services.delivery import Delivered, due
from leadscore.services.scoring import rescore_from_history

__all__ = [
    "SweepReport",
    "plan_sweep",
    "rescore_from_history",
    "rescore_segment",
    "sweep_shard",
    "visit_lead",
]

Deliver = Callable[[LeadState], Delivered]
ROLL_UP_EVERY = 200  # leads a sweep job rescores before their accounts follow (coalesced per account)


@dataclass
class SweepReport:
    due: int = 0  # leads visited
    rescored: int = 0  # written with a new card (or index key)
    rebuilt: int = 0  # rebuilt from history (late events, rescore --all)
    unchanged: int = 0  # nothing to write
    missing: int = 0  # listed by the index but gone
    failures: dict[str, Exception] = field(default_factory=dict)
    moves: Counter[str] = field(default_factory=Counter)  # "warm->cold": how many
    delivered: Delivered = field(default_factory=Delivered)
    stopped_early: bool = False  # out of time: the rest was sent on as a new job message
    continuation: JobMessage | None = None
    changed: dict[str, LeadState] = field(default_factory=dict)  # leads written: their accounts follow

    def summary(self, message: JobMessage) -> dict[str, Any]:
        """What the job did, as its log line and the worker's answer (counts only, never PII)."""
        return {
            "kind": message.kind,
            "shard": message.shard,
            "segment": message.segment,
            "due": self.due,
            "rescored": self.rescored,
            "rebuilt": self.rebuilt,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "failed": len(self.failures),
            "alerts_sent": len(self.delivered.sent),
            "events_sent": len(self.delivered.events.sent) if self.delivered.events else 0,
            "moves": dict(self.moves),
            "continued": self.stopped_early,
        }

    def add(self, before: LeadState | None, after: LeadState | None) -> None:
        old = before.card.tier if before is not None and before.card else "none"
        new = after.card.tier if after is not None and after.card else "none"
        if old != new:
            self.moves[f"{old}->{new}"] += 1
        if after is not None and (before is None or after.ver != before.ver):
            self.changed[after.lead_id] = after

    def roll_up_accounts(self, repo: LeadRepository, rules: CompiledRules, now: datetime) -> None:
        """The accounts of the leads this job wrote follow them (decay, rebuilds): one write each."""
        from leadscore.services.accounts import roll_up

        rolled = roll_up(repo.table, self.changed.values(), rules.accounts, epoch(now), batch_reads=False)
        self.failures.update({f"account:{d}": exc for d, exc in rolled.failures.items()})
        self.changed.clear()


def plan_sweep(now: datetime, shards: list[int]) -> list[JobMessage]:
    """One job message per ``due`` shard: every lead due by ``now``."""
    until = epoch(now)
    return [JobMessage(kind="sweep", shard=shard, until=until) for shard in shards]


def visit_lead(
    repo: LeadRepository,
    lead_id: str,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    deliver: Deliver | None,
    report: SweepReport,
) -> None:
    """Visit one due lead (see the module docstring)."""
    now_s = epoch(now)
    state = repo.get(lead_id)
    if state is None:
        report.missing += 1
        return
    waiting: list[AlertEntry | EventEntry] = [*state.pending_alerts, *state.pending_events]
    if deliver is not None and any(due(a, now_s) for a in waiting):
        delivered = deliver(state)
        report.delivered.merge(delivered)
        if delivered.acted:
            state = repo.get(lead_id) or state
    if state.rebuild_at is not None and state.rebuild_at <= now_s:
        after = rescore_from_history(repo, lead_id, rules, now, default_threshold)
        report.rebuilt += 1
        report.add(state, after)
        return

    def change(current: LeadState) -> LeadState | None:
        if current.ver == 0:
            return None  # removed since it was read
        new = rescore(current, rules, now, default_threshold)
        if new is None and current.stored_due != due_time(current):
            new = current.clone()  # the card stands, but the index key is stale: rewrite it
            new.ver = current.ver + 1
            new.updated_at = now_s
        return new

    saved = repo.mutate(lead_id, change, start=state)
    if saved is None:
        report.unchanged += 1
        return
    report.rescored += 1
    report.add(saved.before, saved.after)


def sweep_shard(
    repo: LeadRepository,
    message: JobMessage,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    *,
    deliver: Deliver | None = None,
    time_left: Callable[[], float] | None = None,
    min_seconds: float = 10.0,
) -> SweepReport:
    """Visit every lead of one ``due`` shard due by ``message.until``, or until time runs low."""
    report = SweepReport()
    last = message.start
    for lead_id, key in repo.due(message.shard, message.until, message.start):
        if time_left is not None and time_left() < min_seconds:
            report.stopped_early = True
            report.continuation = message.model_copy(update={"start": last})
            report.roll_up_accounts(repo, rules, now)
            return report
        report.due += 1
        try:
            if is_account_pk(key["pk"]["S"]):  # an account alert to re-drive
                if deliver is not None:
                    report.delivered.merge(redrive_account(repo.table, domain_of_pk(key["pk"]["S"]), now))
            else:
                visit_lead(repo, lead_id, rules, now, default_threshold, deliver, report)
        except Exception as exc:  # reported; the lead stays due and the next run retries it
            repo.forget(lead_id)
            report.failures[lead_id] = exc
        last = {k: key[k] for k in ("pk", "sk", "due_pk", "due_at")}
        if len(report.changed) >= ROLL_UP_EVERY:
            report.roll_up_accounts(repo, rules, now)
    report.roll_up_accounts(repo, rules, now)
    return report


def rescore_segment(
    repo: LeadRepository,
    jobs: Jobs,
    message: JobMessage,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    *,
    time_left: Callable[[], float] | None = None,
    min_seconds: float = 20.0,
) -> SweepReport:
    """Rebuild every lead of one scan segment from its history, page by page, recording progress."""
    report = SweepReport()
    _, segments = jobs.progress(message.job)
    recorded = next((s for s in segments if s.segment == message.segment), None)
    if recorded is not None and recorded.done:
        return report  # a redelivered message of a finished segment
    start = recorded.start if recorded is not None and recorded.start else message.start
    for lead_ids, next_key in repo.scan_segment(message.segment, message.total, start):
        rescored = failed = 0
        for lead_id in lead_ids:
            try:
                before = repo.get(lead_id)
                after = rescore_from_history(
                    repo, lead_id, rules, now, default_threshold, alerts=message.alerts
                )
            except Exception as exc:
                repo.forget(lead_id)
                report.failures[lead_id] = exc
                failed += 1
                continue
            if after is not None and before is not None and after.ver != before.ver:
                rescored += 1
                report.add(before, after)
        report.due += len(lead_ids)
        report.rebuilt += rescored
        report.roll_up_accounts(repo, rules, now)
        jobs.record(message.job, message.segment, len(lead_ids), rescored, failed, next_key)
        if next_key is None:
            return report
        if time_left is not None and time_left() < min_seconds:
            report.stopped_early = True
            report.continuation = message.model_copy(update={"start": next_key})
            return report
    return report
