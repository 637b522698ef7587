"""How a lead's score and tier moved: its history replayed through the scoring engine (pure).

:func:`score_history` rebuilds the lead from its events as :func:`~leadscore.scoring.engine.rebuild`
does (same rules, same caps, decay and bot checks), evaluating it at the end of each bucket of UTC days
from its first event to ``now``: one point per bucket, at most ``max_points`` (buckets widen to fit a
long history), so the cost is bounded by the number of events plus ``max_points`` evaluations,
whatever the history's length. Adjustments count from when they were made.

:func:`sparkline` and :func:`tier_runs` say it in text: ``▁▁▁▂▂▅█`` and "cold for 3 weeks, then warm
for 2 days, now sales_ready at 140 (for 2 days)".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadscore.models.event import CanonicalEvent
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.engine import DAY, apply_events, epoch, evaluate
from leadscore.scoring.state import LeadState

MAX_POINTS = 60
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class ScorePoint:
    """The score and tier at the end of ``days`` UTC days starting ``day`` (or at ``now`` for the last
    bucket), and how many events happened in them."""

    day: str  # YYYY-MM-DD
    days: int
    score: float
    tier: str
    events: int

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "days": self.days,
            "score": self.score,
            "tier": self.tier,
            "events": self.events,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ScorePoint:
        return cls(
            day=str(value["day"]),
            days=int(value["days"]),
            score=float(value["score"]),
            tier=str(value["tier"]),
            events=int(value["events"]),
        )


def _day(n: int) -> str:
    return datetime.fromtimestamp(n * DAY, UTC).strftime("%Y-%m-%d")


def score_history(
    state: LeadState,
    events: Iterable[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None = None,
    max_points: int = MAX_POINTS,
) -> list[ScorePoint]:
    """The lead's score and tier over its history, oldest first (see the module docstring)."""
    now_s = epoch(now)
    ordered = sorted(
        (e for e in events if epoch(e.occurred_at) <= now_s), key=lambda e: (e.occurred_at, e.event_id)
    )
    if not ordered:
        return []
    first_day = epoch(ordered[0].occurred_at) // DAY
    span = now_s // DAY - first_day + 1
    width = max(1, math.ceil(span / max(1, max_points)))
    replay = LeadState(lead_id=state.lead_id, email=state.email)
    points: list[ScorePoint] = []
    n = 0
    for bucket in range(math.ceil(span / width)):
        start = first_day + bucket * width
        end_s = min((start + width) * DAY - 1, now_s)
        batch: list[CanonicalEvent] = []
        while n < len(ordered) and epoch(ordered[n].occurred_at) <= end_s:
            batch.append(ordered[n])
            n += 1
        at = datetime.fromtimestamp(end_s, UTC)
        replay.adjustments = [a for a in state.adjustments if a.at <= end_s]
        if batch:
            replay = apply_events(replay, batch, rules, at, default_threshold, max_age_days=None).state
        card = evaluate(replay, rules, at, default_threshold, due=False, explain=False)
        points.append(ScorePoint(_day(start), width, card.score, card.tier, len(batch)))
    return points


# ------------------------------------------------------------------------------------------------ text
def sparkline(points: Sequence[ScorePoint]) -> str:
    """One bar per point, from the lowest score (or 0) to the highest."""
    if not points:
        return ""
    scores = [p.score for p in points]
    low, high = min(0.0, *scores), max(scores)
    if high == low:
        return _BARS[0] * len(points)
    top = len(_BARS) - 1
    return "".join(_BARS[round((s - low) / (high - low) * top)] for s in scores)


def duration(days: int) -> str:
    """3 days, 2 weeks, 4 months."""
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    if days < 61:
        return f"{round(days / 7)} weeks"
    return f"{round(days / 30.44)} months"


def _score(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def tier_runs(points: Sequence[ScorePoint]) -> str:
    """The tiers the lead went through and for how long: "cold for 3 weeks, then warm for 2 days, now
    sales_ready at 140 (for 2 days)"."""
    if not points:
        return ""
    runs: list[tuple[str, int]] = []
    for point in points:
        if runs and runs[-1][0] == point.tier:
            runs[-1] = (point.tier, runs[-1][1] + point.days)
        else:
            runs.append((point.tier, point.days))
    parts = [f"{tier} for {duration(days)}" for tier, days in runs[:-1]]
    tier, days = runs[-1]
    last = f"{tier} at {_score(points[-1].score)} (for {duration(days)})"
    return ", then ".join(parts) + (", now " if parts else "") + last
