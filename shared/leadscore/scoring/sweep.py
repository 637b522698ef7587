"""The decay sweep: rescore the leads whose decayed score is due to change tier or re-arm an alert.

Every scored lead carries ``card.due_at``: the first day on which decay alone moves its tier or its
re-arm state (:func:`leadscore.scoring.engine.evaluate`). The ``due`` index (keys only) lists those
leads by that time; the sweep Queries it up to now (never a Scan), reads each lead and rescores it
with the rules in force in one conditional write (``LeadRepository.mutate``). The new card moves the
lead in the hot list, sets its next ``due_at`` (or none), and re-arms its sales-ready alert once its
score fell below the re-arm level, so a later crossing alerts again.

Pure orchestration, like :mod:`leadscore.scoring.service`: decisions live in the engine, storage in
the repository. A lead that fails does not stop the others; it stays due and the next run retries it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from leadscore.dal.leads import LeadRepository
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.engine import epoch, rescore
from leadscore.scoring.state import LeadState


@dataclass
class SweepReport:
    due: int = 0  # leads the index listed as due
    rescored: int = 0  # written with a new card
    unchanged: int = 0  # nothing to write (already rescored, e.g. by a new event)
    missing: int = 0  # listed by the index but gone
    failures: dict[str, Exception] = field(default_factory=dict)
    moves: Counter[str] = field(default_factory=Counter)  # "warm->cold": how many
    stopped_early: bool = False  # out of time: the rest stays due for the next run


def sweep_lead(
    repo: LeadRepository,
    lead_id: str,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
) -> tuple[LeadState, LeadState] | None:
    """Rescore one lead. Returns (before, after) when a new card was written, else None."""
    start = repo.get(lead_id)
    if start is None:
        raise LookupError(lead_id)

    def change(state: LeadState) -> LeadState | None:
        if state.ver == 0:
            return None  # removed since it was read
        return rescore(state, rules, now, default_threshold)

    saved = repo.mutate(lead_id, change, start=start)
    return (saved.before, saved.after) if saved is not None else None


def sweep(
    repo: LeadRepository,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    *,
    time_left: Callable[[], float] | None = None,
    min_seconds: float = 5.0,
    max_leads: int | None = None,
) -> SweepReport:
    """Rescore every lead due at ``now`` (or until time or ``max_leads`` runs out)."""
    report = SweepReport()
    for lead_id in repo.due(epoch(now)):
        if (time_left is not None and time_left() < min_seconds) or (
            max_leads is not None and report.due >= max_leads
        ):
            report.stopped_early = True
            break
        report.due += 1
        try:
            result = sweep_lead(repo, lead_id, rules, now, default_threshold)
        except LookupError:
            report.missing += 1
            continue
        except Exception as exc:  # reported; the lead stays due and the next run retries it
            repo.forget(lead_id)
            report.failures[lead_id] = exc
            continue
        if result is None:
            report.unchanged += 1
            continue
        before, after = result
        report.rescored += 1
        old = before.card.tier if before.card else "none"
        new = after.card.tier if after.card else "none"
        if old != new:
            report.moves[f"{old}->{new}"] += 1
    return report
