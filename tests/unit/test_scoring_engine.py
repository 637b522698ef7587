"""The pure scoring core: caps, windows, decay, disqualifiers, tiers, grades, categories, alerts."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadscore.models.event import lead_id_for_email
from leadscore.rules.compiler import load_rules
from leadscore.scoring.engine import apply_events, evaluate, rescore
from leadscore.scoring.state import LeadState

from tests.unit.rules_fixtures import EMAIL, NOW, doc, event, pricing, rules

VP = {"job_title": "VP Engineering"}


def fresh(email: str = EMAIL) -> LeadState:
    return LeadState(lead_id=lead_id_for_email(email))


def sales_ready_at_100(compiled: Any) -> Any:
    """A fresh lead after a VP's demo request and three pricing views (70 + 30 = 100), threshold 100."""
    events = [
        event("form_submit", name="demo", profile=VP),
        pricing(),
        pricing(ago=timedelta(hours=2)),
        pricing(ago=timedelta(hours=3)),
    ]
    return apply_events(fresh(), events, compiled, NOW, 100)


def score_of(events, compiled=None, threshold=100.0):
    """The explained card of a fresh lead after ``events`` (the write path's card has no reasons)."""
    compiled = compiled or rules()
    outcome = apply_events(fresh(), events, compiled, NOW, threshold, max_age_days=None)
    card = evaluate(outcome.state, compiled, NOW, threshold)
    assert card.score == outcome.after.score and card.tier == outcome.after.tier
    return card


def test_caps_per_window_and_max_points() -> None:
    # 80 pricing views in one week: at most 3 count (3 x 10), not 800 points.
    views = [pricing(ago=timedelta(minutes=i)) for i in range(80)]
    card = score_of(views)
    assert card.activity == pytest.approx(30.0)
    assert card.contributions[0].count == 3
    # Spread over 8 weeks, the per-rule max_points (50) still caps the total.
    spread = [pricing(ago=timedelta(days=7 * w, hours=i)) for w in range(8) for i in range(3)]
    card = score_of(spread, rules(decay={"half_life_days": None}))
    assert card.activity == pytest.approx(50.0)


def test_half_life_decay_and_expiry() -> None:
    fresh_card = score_of([event("email_click", ago=timedelta(hours=1))])
    compiled = rules()
    old = apply_events(
        fresh(), [event("email_click", ago=timedelta(days=30))], compiled, NOW, 100, max_age_days=None
    )
    assert fresh_card.activity == pytest.approx(5.0)
    assert old.after.activity == pytest.approx(2.5)  # one half-life later: half the points
    expiring = rules(decay={"half_life_days": None, "expire_after_days": 14})
    assert score_of([event("email_click", ago=timedelta(days=13))], expiring).activity == pytest.approx(5.0)
    late = apply_events(
        fresh(), [event("email_click", ago=timedelta(days=15))], expiring, NOW, 100, max_age_days=None
    )
    assert late.after.activity == 0


def test_fit_and_non_decaying_rules_keep_their_value_as_time_passes() -> None:
    compiled = rules()
    outcome = apply_events(fresh(), [event("email_unsubscribe", profile=VP)], compiled, NOW, 100)
    later = evaluate(outcome.state, compiled, NOW + timedelta(days=300), 100)
    assert later.fit == outcome.after.fit == 30
    assert later.activity == outcome.after.activity == -30


def test_quiet_lead_cools_down_and_due_at_predicts_when() -> None:
    compiled = rules()
    events = [event("form_submit", name="Book a demo", profile=VP)] + [
        pricing(ago=timedelta(hours=h)) for h in (1, 2, 3)
    ]
    outcome = apply_events(fresh(), events, compiled, NOW, 100)
    assert (outcome.after.score, outcome.after.tier) == (100, "sales_ready")  # 30 fit + 40 demo + 30 pricing
    due = outcome.after.due_at
    assert due is not None and due > NOW.timestamp()
    at = lambda seconds: evaluate(
        outcome.state, compiled, NOW + timedelta(seconds=seconds - NOW.timestamp()), 100
    )
    assert at(due - 86_400).tier == "sales_ready"
    assert at(due).tier == "warm"  # decay alone moves the tier on the due day, and not before
    cold_at = at(due).due_at
    assert cold_at is not None and at(cold_at - 86_400).score >= 80 > at(cold_at).score  # next: re-arm level


def test_more_activity_keeps_the_earlier_due_day_and_the_sweep_moves_it() -> None:
    compiled = rules()
    events = [event("form_submit", name="Book a demo", profile=VP)] + [
        pricing(ago=timedelta(hours=h)) for h in (1, 2, 3)
    ]
    first = apply_events(fresh(), events, compiled, NOW, 100)
    due = first.after.due_at
    assert due is not None
    more = [event("form_submit", name="Book a demo", event_id="again")]
    second = apply_events(first.state, more, compiled, NOW + timedelta(hours=1), 100)
    assert second.after.score > first.after.score
    later = evaluate(second.state, compiled, NOW + timedelta(hours=1), 100).due_at
    assert later is not None and later > due  # due later
    assert second.after.due_at == due  # but the stored key stays: no index write per event
    on_due = NOW + timedelta(seconds=due - NOW.timestamp())
    swept = rescore(second.state, compiled, on_due, 100)
    assert swept is not None and swept.card is not None
    assert swept.card.due_at is not None and swept.card.due_at > due


def test_a_stale_card_is_evaluated_again_but_keeps_the_stored_due_day() -> None:
    compiled = rules()
    events = [event("form_submit", name="Book a demo", profile=VP), pricing(ago=timedelta(hours=1))]
    first = apply_events(fresh(), events, compiled, NOW, 100)
    due = first.after.due_at
    assert due is not None
    next_day = NOW + timedelta(days=1)  # the stored card was computed yesterday: evaluated again
    more = [event("page_view", event_id="later", ago=timedelta(hours=-23), path="/blog/x")]
    second = apply_events(first.state, more, compiled, next_day, 100)
    assert second.before is not first.state.card and second.before.computed_at == int(next_day.timestamp())
    assert second.before.due_at == due  # the day the due index holds, not a new search
    assert second.after.due_at is not None and second.after.computed_at == second.before.computed_at


def test_disqualified_lead_is_never_sales_ready_and_never_alerts() -> None:
    events = [event("form_submit", name="demo", email="spy@rival.com", profile=VP)]
    events += [pricing(email="spy@rival.com", ago=timedelta(days=d)) for d in range(3)]
    events += [event("form_submit", name="demo again", email="spy@rival.com") for _ in range(3)]
    outcome = apply_events(fresh("spy@rival.com"), events, rules(fit=[]), NOW, 0)
    assert outcome.after.score > 0
    outcome = apply_events(fresh("spy@rival.com"), events, rules(), NOW, 0)
    assert outcome.after.disqualified
    assert outcome.after.tier == "disqualified"
    assert outcome.alerts == []
    assert any("[disqualifies]" in r for r in evaluate(outcome.state, rules(), NOW, 0).reasons)


@pytest.mark.parametrize(
    ("points", "tier"),
    [(59, "cold"), (60, "warm"), (99.5, "warm"), (100, "sales_ready"), (150, "sales_ready")],
)
def test_tier_boundaries(points: float, tier: str) -> None:
    compiled = rules(
        fit=[
            {"id": "x", "description": "x", "when": {"field": "job_title", "exists": True}, "points": points}
        ]
    )
    assert score_of([event("identify", profile=VP)], compiled).tier == tier


def test_threshold_precedence_rules_file_wins_over_template_parameter() -> None:
    compiled = rules(
        fit=[{"id": "x", "description": "x", "when": {"field": "job_title", "exists": True}, "points": 80}]
    )
    assert score_of([event("identify", profile=VP)], compiled, threshold=75).tier == "sales_ready"
    assert score_of([event("identify", profile=VP)], compiled, threshold=90).tier == "warm"
    pinned = rules(
        fit=[{"id": "x", "description": "x", "when": {"field": "job_title", "exists": True}, "points": 80}],
        thresholds={"sales_ready": 70, "tiers": [{"name": "warm", "min": 40}]},
    )
    card = score_of([event("identify", profile=VP)], pinned, threshold=90)
    assert (card.tier, card.threshold) == ("sales_ready", 70)


@pytest.mark.parametrize(
    ("fit", "clicks", "grade"),
    [
        (60, 0, "A1"),
        (50, 0, "A1"),
        (49, 2, "B2"),
        (30, 6, "B3"),
        (29, 12, "C4"),
        (10, 0, "C1"),
        (9, 0, "D1"),
        (-20, 12, "D4"),
    ],
)
def test_grade_bands(fit: float, clicks: int, grade: str) -> None:
    # default grade bands: fit A>=50 B>=30 C>=10; activity 4>=60 3>=30 2>=10 (clicks are 5 points, uncapped)
    compiled = rules(
        fit=[{"id": "x", "description": "x", "when": {"field": "job_title", "exists": True}, "points": fit}]
    )
    events = [event("identify", profile=VP)] + [
        event("email_click", ago=timedelta(minutes=i)) for i in range(clicks)
    ]
    assert score_of(events, compiled).grade == grade


def test_categories_and_explanations() -> None:
    events = [event("form_submit", name="demo", profile=VP)] + [
        pricing(ago=timedelta(minutes=i)) for i in range(3)
    ]
    card = score_of(events)
    assert card.categories == {"buying": 70.0}
    assert card.reasons[0] == "Requested a demo, last today (+40)"
    assert "Viewed pricing 3×, last today (+30)" in card.reasons
    assert "VP title (+30)" in card.reasons
    by_rule = {c.rule: c for c in card.contributions}
    assert by_rule["pricing"].count == 3 and by_rule["pricing"].last_seen is not None


def test_duplicates_change_nothing_in_any_delivery() -> None:
    compiled = rules()
    events = [event("form_submit", name="demo", profile=VP), pricing(), event("email_click")]
    once = apply_events(fresh(), events, compiled, NOW, 100)
    again = apply_events(once.state, list(reversed(events)), compiled, NOW, 100)
    assert len(again.duplicates) == 3 and not again.changed
    same_batch = apply_events(fresh(), events + events, compiled, NOW, 100)
    assert same_batch.after.score == once.after.score
    assert len(same_batch.duplicates) == 3


def test_one_alert_when_two_batches_together_cross() -> None:
    compiled = rules()
    first = apply_events(fresh(), [event("form_submit", name="demo", profile=VP)], compiled, NOW, 100)  # 70
    assert first.alerts == [] and first.after.score == 70
    second = apply_events(
        first.state,
        [pricing(), pricing(ago=timedelta(hours=2)), pricing(ago=timedelta(hours=3))],
        compiled,
        NOW,
        100,
    )
    assert [a.kind for a in second.alerts] == ["sales_ready"]
    third = apply_events(second.state, [event("email_click")], compiled, NOW, 100)
    assert third.alerts == []  # still above: no second alert


def test_hysteresis_rearms_only_after_falling_far_enough() -> None:
    compiled = rules()  # hysteresis 20: re-arm below 80
    s = sales_ready_at_100(compiled)
    assert len(s.alerts) == 1 and s.after.score == 100
    dip = apply_events(
        s.state, [event("email_unsubscribe")], compiled, NOW, 100
    )  # 100 - 30 = 70 < 80: re-armed
    assert dip.state.armed["sales_ready"] is True
    back = apply_events(dip.state, [event("form_submit", name="demo 2")], compiled, NOW, 100)  # 70 + 40 = 110
    assert [a.kind for a in back.alerts] == ["sales_ready"]

    small = rules(
        activity=[
            *rules_activity(),
            {
                "id": "neg",
                "description": "n",
                "when": {"field": "type", "equals": "email_bounce"},
                "points": -5,
                "decays": False,
            },
        ]
    )
    s = sales_ready_at_100(small)
    wobble = apply_events(s.state, [event("email_bounce")], small, NOW, 100)  # 95: below 100, not below 80
    up = apply_events(wobble.state, [event("email_click")], small, NOW, 100)  # 100 again
    assert up.alerts == [] and up.after.tier == "sales_ready"


def rules_activity():
    return doc()["models"]["lead"]["activity"]


def test_cooldown_limits_alerts() -> None:
    compiled = rules(thresholds={"hysteresis": 0, "alert_cooldown_hours": 24})
    s = sales_ready_at_100(compiled)
    assert len(s.alerts) == 1
    down = apply_events(s.state, [event("email_unsubscribe")], compiled, NOW, 100)
    up = apply_events(down.state, [event("form_submit", name="demo 2")], compiled, NOW, 100)
    assert up.alerts == []  # crossed again within 24 h: no second alert
    later = NOW + timedelta(hours=25)
    down2 = apply_events(up.state, [event("email_unsubscribe", event_id="u2")], compiled, later, 100)
    assert down2.after.score < 100
    up2 = apply_events(
        down2.state, [event("form_submit", name="demo 3", ago=timedelta(hours=-25))], compiled, later, 100
    )
    assert [a.kind for a in up2.alerts] == ["sales_ready"]


def test_surge_needs_a_baseline_and_a_jump() -> None:
    compiled = rules(surge={"window_days": 7, "baseline_days": 60, "min_points": 30, "ratio": 3})
    slow = [event("email_click", ago=timedelta(days=d)) for d in (20, 35, 50)]
    jump = [event("form_submit", name="demo"), pricing()]
    quiet = apply_events(fresh(), slow, compiled, NOW, 1000, max_age_days=None)  # an old history
    assert not quiet.after.surge
    surged = apply_events(quiet.state, jump, compiled, NOW, 1000)
    assert surged.after.surge
    assert [a.kind for a in surged.alerts] == ["surge"]
    new_lead = apply_events(fresh(), jump, compiled, NOW, 1000)
    assert not new_lead.after.surge  # no baseline: not a change in behaviour


def test_bot_events_are_kept_but_not_scored() -> None:
    d = doc()
    d["bots"] = {"user_agent_contains": ["barracuda"], "min_seconds_after_delivery": 5}
    filtering = load_rules(json.dumps(d))
    machine = event("email_open", machine_open=True)
    scanner = event("email_click", user_agent="Mozilla/5.0 (compatible; Barracuda scanner)")
    delivered = event("email_delivered", ago=timedelta(seconds=10), message_id="m1")
    quick_click = event("email_click", ago=timedelta(seconds=8), message_id="m1")
    human_click = event(
        "email_click", ago=timedelta(seconds=1), message_id="m1", user_agent="Mozilla/5.0 Safari"
    )
    outcome = apply_events(
        fresh(), [machine, scanner, delivered, quick_click, human_click], filtering, NOW, 100
    )
    assert outcome.after.activity == 5  # only the human click
    assert len(outcome.accepted) == 5  # all kept (history), three unscored with their reason
    assert sorted(why for _, why in outcome.unscored) == [
        "machine open",
        "scanner user agent (barracuda)",
        "within 5s of delivery",
    ]
    assert [r.bot for r in outcome.state.recent if r.bot] != []


def test_late_events_wait_for_a_rebuild_in_live_mode() -> None:
    outcome = apply_events(fresh(), [event("email_click", ago=timedelta(days=8))], rules(), NOW, 100)
    assert outcome.after.activity == 0 and "days late" in outcome.unscored[0][1]
    assert outcome.late == 1 and outcome.state.rebuild_at == int(NOW.timestamp())
    assert outcome.state.events_total == 1  # kept (and remembered): the rebuild counts it
    within = apply_events(fresh(), [event("email_click", ago=timedelta(days=6))], rules(), NOW, 100)
    assert within.after.activity > 0 and within.late == 0 and within.state.rebuild_at is None


def test_rescore_reports_no_change_when_nothing_moved() -> None:
    compiled = rules()
    s = apply_events(fresh(), [event("form_submit", name="demo", profile=VP)], compiled, NOW, 100)
    assert rescore(s.state, compiled, NOW, 100) is None
    later = rescore(s.state, compiled, NOW + timedelta(days=60), 100)
    assert later is not None and later.ver == s.state.ver + 1 and later.card is not None
    assert later.card.score < s.after.score


# --------------------------------------------------------------------------- properties
_KINDS = ["pricing", "click", "demo", "unsub", "blog"]


def _make(kind: str, i: int, hours: int):
    if kind == "pricing":
        return pricing(ago=timedelta(hours=hours), event_id=f"p{i}")
    if kind == "demo":
        return event("form_submit", name="demo", ago=timedelta(hours=hours), event_id=f"d{i}")
    if kind == "blog":
        return event("page_view", path="/blog/x", ago=timedelta(hours=hours), event_id=f"b{i}")
    return event(
        {"click": "email_click", "unsub": "email_unsubscribe"}[kind],
        ago=timedelta(hours=hours),
        event_id=f"{kind}{i}",
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 24 * 7 - 1)), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
    st.integers(1, 5),
)
def test_reproducible_whatever_the_order_batching_and_redelivery(
    spec, rnd: random.Random, parts: int
) -> None:
    compiled = rules()
    events = [_make(kind, i, hours) for i, (kind, hours) in enumerate(spec)]
    reference = evaluate(apply_events(fresh(), events, compiled, NOW, 100).state, compiled, NOW, 100)
    shuffled = events + rnd.sample(events, k=len(events) // 2)  # some delivered twice
    rnd.shuffle(shuffled)
    state = fresh()
    paged: set[str] = set()  # what the storage layer's dedupe pages hold, read back with the lead
    for k in range(parts):
        chunk = shuffled[k::parts]
        if chunk:
            state = apply_events(state, chunk, compiled, NOW, 100, remembered=paged).state
            paged |= {digest for page in state.spill for digest in page.digests}
            state.spill = []  # written out as dedupe pages by the same write
    card = evaluate(state, compiled, NOW, 100)
    assert card.model_dump(exclude={"computed_at"}) == reference.model_dump(exclude={"computed_at"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 24 * 60), min_size=1, max_size=120))
def test_caps_hold_for_any_history(hours: list[int]) -> None:
    events = [pricing(ago=timedelta(hours=h), event_id=f"p{i}") for i, h in enumerate(hours)]
    outcome = apply_events(fresh(), events, rules(), NOW, 100, max_age_days=None)
    card = evaluate(outcome.state, rules(), NOW, 100)
    pricing_points = next(c.points for c in card.contributions if c.rule == "pricing")
    assert 0 < pricing_points <= 50
    # never more than 3 counted occurrences in any 7-day window, folded or not
    windows: dict[int, int] = {}
    for e in events:
        day = int(e.occurred_at.timestamp()) // 86_400
        windows[day // 7] = windows.get(day // 7, 0) + 1
    assert card.contributions[0].count == sum(min(3, c) for c in windows.values())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 24 * 120)), min_size=1, max_size=40),
    st.integers(1, 4),
)
def test_live_scoring_day_by_day_equals_a_replay_of_the_history(spec, per_day: int) -> None:
    """Live writes fold closed cap windows as days pass; a replay folds them all at once: the same
    card (score, tier, grade, counts) either way, whatever the history spans."""
    compiled = rules()
    events = [_make(kind, i, hours) for i, (kind, hours) in enumerate(spec)]
    replay = apply_events(fresh(), events, compiled, NOW, 100, max_age_days=None).state
    state = fresh()
    by_day: dict[int, list[Any]] = {}
    for e in events:
        by_day.setdefault(int(e.occurred_at.timestamp()) // 86_400, []).append(e)
    for day in sorted(by_day):
        chunk = by_day[day]
        for k in range(per_day):
            part = chunk[k::per_day]
            if part:
                clock = max(e.occurred_at for e in part) + timedelta(seconds=1)
                state = apply_events(state, part, compiled, min(clock, NOW), 100).state
    live, replayed = evaluate(state, compiled, NOW, 100), evaluate(replay, compiled, NOW, 100)
    assert live.model_dump(exclude={"computed_at"}) == replayed.model_dump(exclude={"computed_at"})
    assert all(not f.days or max(int(d) for d in f.days) >= 0 for f in state.activity.values())


def test_manual_adjustment_is_scored_and_explained() -> None:
    from leadscore.scoring.state import Adjustment

    compiled = rules()
    s = apply_events(fresh(), [event("form_submit", name="demo", profile=VP)], compiled, NOW, 100).state
    s.adjustments.append(Adjustment(id="a1", points=-20, reason="budget frozen", by="rep@us.example", at=1))
    card = evaluate(s, compiled, NOW, 100)
    assert card.score == 50
    assert "Adjusted by rep@us.example: budget frozen (-20)" in card.reasons
    s.adjustments.append(
        Adjustment(id="a2", disqualify=True, reason="is a competitor", by="rep@us.example", at=2)
    )
    card = evaluate(s, compiled, NOW, 100)
    assert card.disqualified and card.tier == "disqualified"
