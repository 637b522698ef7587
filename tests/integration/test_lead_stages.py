"""Sales accepts or rejects a lead through the Lead API (POST /leads/{lead}/stage, issue 17.4): forward
only, audited with the caller's IAM principal, a rejection needs a reason from the rules file."""

from __future__ import annotations

import pytest

from tests.integration.test_leads_api import ALICE, DANA, SAMPLE_TIME, call, repo
from tests.support import DANA_SALES_READY, Stack, example_rules_json, ingest_samples, pinned_clock_at

pinned_clock = pinned_clock_at(SAMPLE_TIME)


@pytest.fixture
def mql(stack: Stack) -> Stack:
    """Dana, sales-ready from the sample requests: the crossing made her an MQL."""
    stack.upload_rules(example_rules_json())
    ingest_samples(stack, *DANA_SALES_READY)
    stack.drain()
    state = repo(stack).get_by_email(DANA)
    assert state is not None and state.stage == "mql", state and state.stage_moves
    return stack


def test_accept_is_audited_and_shows_on_the_card(mql: Stack) -> None:
    status, body = call(mql, "POST", f"/leads/{DANA}/stage", {"stage": "sal", "note": "called"})
    assert status == 201, body
    assert body["move"] == {
        "at": int(SAMPLE_TIME.timestamp()),
        "by": ALICE,
        "to": "sal",
        "from_stage": "mql",
        "why": "called",
        "ref": None,
    }
    assert body["lead"]["stage"] == "sal"
    _, card = call(mql, "GET", f"/leads/{DANA}")
    assert card["stage"] == "sal"
    assert [(m["from_stage"], m["to"], m["by_name"]) for m in card["stage_moves"]][-1] == (
        "mql",
        "sal",
        "alice",
    )
    # The same move again changes nothing (no write): 200 with no move.
    ver = repo(mql).get_by_email(DANA).ver
    status, body = call(mql, "POST", f"/leads/{DANA}/stage", {"stage": "sal"})
    assert (status, body["move"]) == (200, None)
    assert repo(mql).get_by_email(DANA).ver == ver


def test_a_move_backward_is_a_409_and_changes_nothing(mql: Stack) -> None:
    assert call(mql, "POST", f"/leads/{DANA}/stage", {"stage": "sql"})[0] == 201
    status, body = call(mql, "POST", f"/leads/{DANA}/stage", {"stage": "sal"})
    assert status == 409, body
    assert body["error"] == "backward"
    assert body["details"] == ["stage: stages only move forward: the lead is sql"]
    assert repo(mql).get_by_email(DANA).stage == "sql"


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"stage": "rejected"}, "reason: required when stage is rejected"),
        ({"stage": "rejected", "reason": "too_loud"}, "reason: not a configured rejection reason"),
        ({"stage": "won"}, "stage: Input should be"),
        ({"stage": "sal", "reason": "no_budget"}, "reason: only a rejection has a reason"),
    ],
)
def test_a_rejection_needs_a_configured_reason_else_422_naming_it(
    mql: Stack, payload: dict[str, str], detail: str
) -> None:
    status, body = call(mql, "POST", f"/leads/{DANA}/stage", payload)
    assert status == 422, body
    assert any(d.startswith(detail) for d in body["details"]), body
    assert repo(mql).get_by_email(DANA).stage == "mql"


def test_a_rejection_recycles_to_nurture_with_the_cooldown(mql: Stack) -> None:
    status, body = call(mql, "POST", f"/leads/{DANA}/stage", {"stage": "rejected", "reason": "no_budget"})
    assert status == 201, body
    assert (body["move"]["to"], body["move"]["why"]) == ("nurture", "rejected: no_budget")
    state = repo(mql).get_by_email(DANA)
    assert state is not None and state.stage == "nurture"
    assert state.recycle_until == int(SAMPLE_TIME.timestamp()) + 30 * 86_400  # rules/example.yaml's default
    status, body = call(mql, "POST", f"/leads/{DANA}/stage", {"stage": "mql"})
    assert (status, body["error"]) == (409, "cooling_down")
