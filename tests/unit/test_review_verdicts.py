"""The review's verdict on one rule (tools/review/analysis._verdict): each branch of the table."""

from __future__ import annotations

import pytest

from tools.review.analysis import LIFT_FLAG, MIN_FIRED, _verdict

ENOUGH = MIN_FIRED
RARE = MIN_FIRED - 1


@pytest.mark.parametrize(
    ("n_fired", "lift", "rate_fired", "hand", "learned", "kept", "expected"),
    [
        (ENOUGH, 0.1, 0.01, -50.0, -50.0, True, "kept (disqualifies)"),
        (RARE, 0.1, 0.01, -50.0, -50.0, True, "too rare to judge"),
        (RARE, 3.0, 0.3, 10.0, 10.0, False, "too rare to judge"),
        (ENOUGH, None, 0.2, 10.0, 10.0, False, "predicts"),  # every lead that converted had it
        (ENOUGH, None, 0.0, 10.0, 10.0, False, "does not predict"),
        (ENOUGH, LIFT_FLAG * 0.9, 0.1, 10.0, 10.0, False, "does not predict"),  # positive, no lift
        (ENOUGH, 1 / LIFT_FLAG * 1.1, 0.1, -10.0, -10.0, False, "does not predict"),  # negative, no drop
        (ENOUGH, 1.0, 0.1, 0.0, 0.0, False, "does not predict"),  # zero points, no effect
        (ENOUGH, 3.0, 0.3, 10.0, 10.0, False, "predicts"),
        (ENOUGH, 3.0, 0.3, 10.0, 1.0, False, "adds nothing once the other rules are counted"),
        (ENOUGH, None, 0.2, 10.0, 0.5, False, "adds nothing once the other rules are counted"),
    ],
)
def test_each_verdict(
    n_fired: int,
    lift: float | None,
    rate_fired: float,
    hand: float,
    learned: float,
    kept: bool,
    expected: str,
) -> None:
    assert _verdict(n_fired, lift, rate_fired, hand, learned, kept) == expected
