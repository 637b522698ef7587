"""Lifecycle stages (leadscore.scoring.lifecycle): forward only, audited, rejections recycle with a
cooldown, and the engine moves leads where the events and the threshold say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadscore.rules.model import Lifecycle
from leadscore.scoring import lifecycle
from leadscore.scoring.engine import apply_events, rebuild
from leadscore.scoring.lifecycle import RANK, StageError
from leadscore.scoring.state import MAX_STAGE_MOVES, LeadState

from tests.unit.rules_fixtures import NOW, event, rules

CONFIG = Lifecycle(rejection_reasons=["not_a_fit", "no_budget"], recycle_cooldown_days=30)
T0 = 1_800_000_000
DAY = 86_400
DANA = "arn:aws:iam::123456789012:user/dana"


def lead(stage: str | None = "mql") -> LeadState:
    return LeadState(lead_id="e" + "0" * 31, stage=stage)


def test_forward_moves_are_audited_with_who_when_why() -> None:
    state = lead("mql")
    entry = lifecycle.move(state, "sal", at=T0, by=DANA, why="called, interested")
    assert entry is not None
    assert (state.stage, state.stage_at) == ("sal", T0)
    assert state.stage_moves == [entry]
    assert (entry.from_stage, entry.to, entry.by, entry.at, entry.why) == (
        "mql",
        "sal",
        DANA,
        T0,
        "called, interested",
    )


@pytest.mark.parametrize(
    ("here", "to"), [("sal", "mql"), ("sql", "sal"), ("customer", "opportunity"), ("sal", "lead")]
)
def test_a_move_backward_is_refused_and_changes_nothing(here: str, to: str) -> None:
    state = lead(here)
    with pytest.raises(StageError) as caught:
        lifecycle.move(state, to, at=T0, by=DANA)
    assert caught.value.code == "backward"
    assert state.stage == here and state.stage_moves == []


def test_moving_to_the_stage_it_is_in_is_no_move() -> None:
    state = lead("sal")
    assert lifecycle.move(state, "sal", at=T0, by=DANA) is None
    assert state.stage_moves == []


def test_a_rejection_needs_a_configured_reason() -> None:
    state = lead("mql")
    with pytest.raises(StageError) as caught:
        lifecycle.reject(state, "too_loud", CONFIG, at=T0, by=DANA)
    assert (caught.value.code, caught.value.field) == ("unknown_reason", "reason")
    assert state.stage == "mql"


def test_a_rejection_recycles_to_nurture_and_the_cooldown_holds_off_mql() -> None:
    state = lead("sal")
    entry = lifecycle.reject(state, "no_budget", CONFIG, at=T0, by=DANA, note="next year")
    assert entry is not None and entry.why == "rejected: no_budget (next year)"
    assert (state.stage, state.recycle_until) == ("nurture", T0 + 30 * DAY)
    # Inside the cooldown: neither the threshold nor a person makes it an MQL.
    assert lifecycle.on_sales_ready(state, T0 + 29 * DAY, 120, 100) is None
    with pytest.raises(StageError) as caught:
        lifecycle.move(state, "mql", at=T0 + DAY, by=DANA)
    assert caught.value.code == "cooling_down"
    assert state.stage == "nurture"
    # After it: the next crossing does.
    assert lifecycle.on_sales_ready(state, T0 + 30 * DAY, 120, 100) is not None
    assert state.stage == "mql"


def test_only_an_mql_sal_or_sql_can_be_rejected() -> None:
    for here in ("lead", "opportunity", "customer"):
        with pytest.raises(StageError) as caught:
            lifecycle.reject(lead(here), "no_budget", CONFIG, at=T0, by=DANA)
        assert caught.value.code == "not_rejectable"


def test_a_move_with_a_ref_already_applied_is_not_made_again() -> None:
    state = lead("mql")
    assert lifecycle.move(state, "sql", at=T0, by="crm:hubspot", ref="hubspot:1") is not None
    assert lifecycle.move(state, "sql", at=T0, by="crm:hubspot", ref="hubspot:1") is None
    assert lifecycle.reject(state, "no_budget", CONFIG, at=T0, by="crm:x", ref="hubspot:1") is None
    assert len(state.stage_moves) == 1


def test_the_audit_keeps_the_newest_moves() -> None:
    state = lead("mql")
    for i in range(MAX_STAGE_MOVES + 5):
        lifecycle.reject(
            state,
            "no_budget",
            Lifecycle(recycle_cooldown_days=0, rejection_reasons=["no_budget"]),
            at=T0 + i,
            by=DANA,
        )
        lifecycle.on_sales_ready(state, T0 + i, 120, 100)
    assert len(state.stage_moves) == MAX_STAGE_MOVES
    assert state.stage_moves[-1].at == T0 + MAX_STAGE_MOVES + 4


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.sampled_from(sorted(RANK))),
        st.tuples(st.just("reject"), st.sampled_from(["not_a_fit", "no_budget", "unknown"])),
        st.tuples(st.just("ready"), st.just("")),
        st.tuples(st.just("outcome"), st.sampled_from(["converted", "lost"])),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(ACTIONS, st.lists(st.integers(0, 40 * DAY), min_size=30, max_size=30))
def test_random_move_sequences_only_go_forward_except_recycling(
    actions: list[tuple[str, str]], gaps: list[int]
) -> None:
    """Whatever sequence of moves is asked: every recorded move goes to a later stage, except a
    recycle to nurture (a rejection from mql/sal/sql with a configured reason, or a lost outcome),
    every move is audited from the stage the lead was in, and no mql is entered while cooling down."""
    state = lead(None)
    at = T0
    for (kind, arg), gap in zip(actions, gaps, strict=False):
        at += gap
        before, moves = state.stage, len(state.stage_moves)
        try:
            if kind == "move":
                lifecycle.move(state, arg, at=at, by=DANA)
            elif kind == "reject":
                lifecycle.reject(state, arg, CONFIG, at=at, by=DANA)
            elif kind == "ready":
                lifecycle.on_sales_ready(state, at, 120, 100)
            else:
                lifecycle.on_outcome(state, arg, CONFIG, at=at, by=DANA, ref=None)
        except StageError:
            assert (state.stage, len(state.stage_moves)) == (before, moves)
            continue
        if len(state.stage_moves) == moves:
            assert state.stage == before
            continue
        entry = state.stage_moves[-1]
        assert len(state.stage_moves) == moves + 1
        assert (entry.from_stage, entry.to, entry.at) == (before, state.stage, at)
        if entry.to == "nurture":
            assert entry.why is not None and entry.why.startswith(
                ("rejected: not_a_fit", "rejected: no_budget", "outcome: lost")
            )
            assert state.recycle_until == at + 30 * DAY
        else:
            assert RANK[entry.to] > RANK[before or "lead"] or before is None
        if entry.to == "mql" and state.recycle_until is not None:
            assert at >= state.recycle_until


def test_engine_first_stage_from_the_first_event() -> None:
    r = rules()
    subscriber = apply_events(LeadState(lead_id="e1"), [event("email_open")], r, NOW).state
    assert subscriber.stage == "subscriber"
    moved = apply_events(subscriber, [event("form_submit", name="contact us")], r, NOW).state
    assert moved.stage == "lead"
    assert [m.to for m in moved.stage_moves] == ["subscriber", "lead"]


def test_engine_crossing_the_threshold_makes_an_mql_and_the_alert_says_so() -> None:
    r = rules()
    events = [event("form_submit", name="demo request", profile={"job_title": "VP Sales"})]
    events += [event("page_view", path="/pricing", ago=timedelta(hours=i + 2)) for i in range(3)]
    out = apply_events(LeadState(lead_id="e1"), events, r, NOW, default_threshold=100)
    assert out.after.tier == "sales_ready", out.after
    assert out.state.stage == "mql"
    assert out.state.stage_moves[-1].by == "scoring"
    assert [a.stage for a in out.alerts if a.kind == "sales_ready"] == ["mql"]


def test_engine_crm_outcome_is_recorded_once_with_the_snapshot_and_survives_a_rebuild() -> None:
    r = rules()
    scored = apply_events(LeadState(lead_id="e1"), [event("form_submit", name="demo request")], r, NOW).state
    assert scored.card is not None
    won = event(
        "crm_outcome", event_id="hubspot:deal:7:closedwon", status="converted", amount=1200, currency="usd"
    )
    out = apply_events(scored, [won], r, NOW)
    state = out.state
    assert [(o.status, o.amount, o.currency, o.by, o.ref) for o in state.outcomes] == [
        ("converted", 1200.0, "USD", "crm:test", "hubspot:deal:7:closedwon")
    ]
    assert state.outcomes[0].score_at_outcome == scored.card.score
    assert state.outcomes[0].rules_version == r.version
    assert state.stage == "customer"
    assert state.card is not None and state.card.score == scored.card.score
    again = apply_events(state, [won], r, NOW)
    assert again.duplicates == [won] and len(again.state.outcomes) == 1
    rebuilt = rebuild(state, [event("form_submit", name="demo request"), won], r, NOW)
    assert len(rebuilt.outcomes) == 1 and rebuilt.stage == "customer"
