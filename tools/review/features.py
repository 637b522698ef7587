"""One lead as the review sees it: its features as of its decision point, and what became of it.

Features come from the lead's *history* replayed through the scorer's own engine up to the decision
point, never from the stored card (which moves on after the decision, and would leak the outcome):

- the decision point is ``as_of`` after the lead was first seen, or one day before its first
  recorded outcome if that came sooner;
- the label: a ``converted`` outcome within ``horizon`` after the decision point. A lead with no
  outcome once the horizon has passed counts as **not converted**; a lead whose horizon has not
  passed yet is *open* and left out (counting it either way would bias the recent weeks);
- the features: for each rule of the model, its contribution divided by its points: 1 for a fit rule
  that matched, the decayed, capped occurrence count for an activity rule. A score is then exactly
  ``sum(points * feature)``, so learned weights are points a rules file can hold.

Manual adjustments are left out: they are sales' knowledge, often recorded after the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from leadscore.models.event import CanonicalEvent
from leadscore.rules.compiler import CompiledModel, CompiledRules
from leadscore.scoring.engine import apply_events, evaluate
from leadscore.scoring.state import LeadState

DAY = 86_400
GRADE_CELLS = tuple(f"{f}{a}" for f in "ABCD" for a in "4321")


@dataclass(slots=True)
class Row:
    lead_id: str
    decided_at: int  # epoch seconds
    converted: bool
    score: float
    grade: str
    x: list[float]  # per rule of the model, in ``rule_ids`` order


@dataclass(frozen=True, slots=True)
class Featurizer:
    rules: CompiledRules
    model: CompiledModel
    as_of_days: float
    horizon_days: float
    now: int  # epoch seconds: the review's time
    since: int | None = None  # leads first seen before this are left out
    threshold: float | None = None  # the SalesReadyThreshold parameter, for the card

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.model.fit] + [r.id for r in self.model.activity]

    @classmethod
    def for_rules(
        cls,
        rules: CompiledRules,
        *,
        as_of_days: float,
        horizon_days: float,
        now: datetime,
        since: datetime | None = None,
        model: str | None = None,
    ) -> Featurizer:
        chosen = next((m for m in rules.models if m.name == model), rules.models[0]) if model else None
        return cls(
            rules=rules,
            model=chosen or rules.models[0],
            as_of_days=as_of_days,
            horizon_days=horizon_days,
            now=int(now.timestamp()),
            since=int(since.timestamp()) if since else None,
        )

    def row(self, state: LeadState, history: Sequence[CanonicalEvent]) -> Row | str:
        """The lead's row, or why it is left out: ``open``, ``no-history``, ``before-since``,
        ``other-model``, ``erased``."""
        if state.erased_at is not None or state.merged_into is not None:
            return "erased"
        if not history:
            return "no-history"
        first = min(int(e.occurred_at.timestamp()) for e in history)
        if state.created_at:
            first = min(first, state.created_at)
        if self.since is not None and first < self.since:
            return "before-since"
        decided = first + int(self.as_of_days * DAY)
        outcomes = sorted(state.outcomes, key=lambda o: o.at)
        if outcomes and outcomes[0].at - DAY < decided:
            decided = max(first, outcomes[0].at - DAY)
        horizon_end = decided + int(self.horizon_days * DAY)
        if horizon_end > self.now:
            return "open"
        converted = any(o.status == "converted" and decided < o.at <= horizon_end for o in outcomes)
        at = datetime.fromtimestamp(decided, UTC)
        seen = [e for e in history if int(e.occurred_at.timestamp()) <= decided]
        fresh = LeadState(lead_id=state.lead_id, email=state.email, created_at=first)
        replayed = apply_events(fresh, seen, self.rules, at, self.threshold, max_age_days=None).state
        card = evaluate(replayed, self.rules, at, self.threshold, due=False, explain=True)
        if card.model != self.model.name:
            return "other-model"
        by_rule = {c.rule: c for c in card.contributions if c.kind != "adjustment"}
        x: list[float] = []
        for rule in (*self.model.fit, *self.model.activity):
            c = by_rule.get(rule.id)
            if c is None:
                x.append(0.0)
            elif rule.kind == "fit" or not rule.points:
                x.append(1.0 if rule.kind == "fit" else float(c.count))
            else:
                x.append(c.points / rule.points)
        score = card.fit + card.activity  # without manual adjustments
        return Row(state.lead_id, decided, converted, round(score, 2), card.grade, x)
