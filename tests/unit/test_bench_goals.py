"""``make bench`` turns each benchmark's result into its goals: the account roll-up's included."""

from __future__ import annotations

from bench.__main__ import ACCOUNT_ROLLUP_BUDGET, GOAL_NAMES, account_goal


def test_the_account_rollup_is_a_goal_of_make_bench_with_its_write_units_per_event() -> None:
    result = {
        "rollup_wcu_per_event": 0.27612,
        "companies": 1330,
        "hot_account": {"domain": "hotco.com", "contacts": 2000, "events_in_window": 900},
    }
    goal = account_goal(result)
    assert goal is not None and goal["name"] in GOAL_NAMES
    assert (goal["measured"], goal["pass"]) == (0.276, True)
    assert "hotco.com with 2000 contacts" in goal["note"]
    over = account_goal({**result, "rollup_wcu_per_event": ACCOUNT_ROLLUP_BUDGET + 0.01})
    assert over is not None and over["pass"] is False
    assert account_goal({"error": "timed out"}) is None  # not run: the goal says so, not a number
