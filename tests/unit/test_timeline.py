"""The score timeline: the lead's history replayed through the engine, bounded, and said in text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.engine import apply_events, evaluate
from leadscore.scoring.state import Adjustment, LeadState
from leadscore.scoring.timeline import ScorePoint, duration, score_history, sparkline, tier_runs

from tests.unit.rules_fixtures import EMAIL, NOW, event, pricing, rules

VP = {"job_title": "VP Engineering"}


def fresh() -> LeadState:
    return LeadState(lead_id=lead_id_for_email(EMAIL))


def cold_then_hot() -> list[CanonicalEvent]:
    quiet = [event("email_click", ago=timedelta(days=d)) for d in range(23, 3, -3)]
    burst = [event("form_submit", name="Book a demo", profile=VP, ago=timedelta(days=1, hours=12))]
    burst += [pricing(ago=timedelta(hours=h)) for h in (20, 10, 2)]
    return quiet + burst


def test_cold_for_weeks_then_sales_ready_in_days() -> None:
    compiled = rules()
    events = cold_then_hot()
    live = apply_events(fresh(), events, compiled, NOW, 100, max_age_days=None).state
    points = score_history(live, events, compiled, NOW, 100)
    assert len(points) == 24 and all(p.days == 1 for p in points)  # one per day, first event to today
    assert sum(p.events for p in points) == len(events)
    assert points[-1].score == evaluate(live, compiled, NOW, 100).score  # the replay ends where the lead is
    assert [p.tier for p in points[:-2]] == ["cold"] * 22
    assert points[-1].tier == "sales_ready" and points[-1].score >= 100
    assert points[-2].tier == "sales_ready"  # the demo request, the day before
    assert tier_runs(points) == f"cold for 3 weeks, now sales_ready at {points[-1].score:,.1f} (for 2 days)"
    line = sparkline(points)
    assert len(line) == 24 and line[0] != "█" and line[-1] == "█"


def test_a_long_history_is_bounded_in_points_and_counts_every_event() -> None:
    compiled = rules()
    events = [pricing(ago=timedelta(hours=2 * n)) for n in range(5000)]  # ~417 days
    points = score_history(fresh(), events, compiled, NOW, 100, max_points=60)
    assert 50 <= len(points) <= 60
    assert {p.days for p in points} == {7}  # 418 days in buckets of a week
    assert sum(p.events for p in points) == 5000


def test_adjustments_count_from_when_they_were_made() -> None:
    compiled = rules(decay={"half_life_days": None})
    events = [event("form_submit", name="Book a demo", profile=VP, ago=timedelta(days=5))]
    state = apply_events(fresh(), events, compiled, NOW, 100).state
    made = int((NOW - timedelta(days=2)).timestamp())
    state.adjustments = [Adjustment(id="a1", points=-50, reason="no budget", by="unknown", at=made)]
    points = score_history(state, events, compiled, NOW, 100)
    assert [p.score for p in points] == [70, 70, 70, 20, 20, 20]
    assert tier_runs(points) == "warm for 3 days, now cold at 20 (for 3 days)"


def test_no_events_no_points_and_future_events_are_ignored() -> None:
    assert score_history(fresh(), [], rules(), NOW, 100) == []
    assert score_history(fresh(), [event(ago=timedelta(days=-1))], rules(), NOW, 100) == []
    assert sparkline([]) == tier_runs([]) == ""


def test_json_round_trip_and_flat_sparkline() -> None:
    point = ScorePoint(day="2026-11-23", days=1, score=12.5, tier="cold", events=3)
    assert ScorePoint.from_json(point.to_json()) == point
    assert sparkline([point, point]) == "██"  # bars start at 0
    zero = ScorePoint(day="2026-11-23", days=1, score=0, tier="cold", events=0)
    assert sparkline([zero, zero]) == "▁▁" and sparkline([zero, point]) == "▁█"
    assert [duration(d) for d in (1, 13, 14, 60, 61, 400)] == [
        "1 day",
        "13 days",
        "2 weeks",
        "9 weeks",
        "2 months",
        "13 months",
    ]


def test_the_cli_card_shows_the_sparkline_and_the_tier_runs() -> None:
    from tools.leads_cli import format_card

    compiled = rules()
    events = cold_then_hot()
    live = apply_events(fresh(), events, compiled, NOW, 100, max_age_days=None).state
    points = [p.to_json() for p in score_history(live, events, compiled, NOW, 100)]
    card: dict[str, Any] = {
        "name": "Dana",
        "email": EMAIL,
        "lead_id": live.lead_id,
        "profile": {},
        "score": None,
    }
    assert not any(line.startswith("Timeline:") for line in format_card(card))  # not scored: no card
    card |= {"score": 124.4, "fit": 30, "activity": 94.4, "threshold": 100, "tier": "sales_ready"}
    card |= {"grade": "A4", "score_history": points}
    lines = format_card(card)
    at = lines.index(next(line for line in lines if line.startswith("Timeline:")))
    line = sparkline([ScorePoint.from_json(p) for p in points])
    assert lines[at] == f"Timeline: {line}  (2026-10-31 to today, 1 day per mark)"
    assert line == "▁▁▁▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▃▃▃▃▇█"  # as the README shows it
    assert lines[at + 1] == "          cold for 3 weeks, now sales_ready at 124.4 (for 2 days)"
