"""The calibrated probability: stored in the rules file, put on the card, shown in the API and alerts.

- A model with ``calibration`` puts ``probability = sigmoid(slope * score + intercept)`` on the card,
  with one ``math.exp`` per evaluation; a model without (every rules file written before) puts None.
- The calibration is bounded like every number of the document: NaN, infinity, a negative slope or a
  horizon of 0 are refused with the field named; the largest score cannot overflow the exponential.
- The lead API card and the alert text and JSON say "about 34% likely to convert within 90 days".
- The layer never imports numpy (cold start): the review's statistics live in the CLI.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from leadscore.alerts import render_json, render_text
from leadscore.api.views import score_card
from leadscore.errors import RulesValidationError
from leadscore.rules.compiler import load_rules
from leadscore.scoring import engine
from leadscore.scoring.engine import apply_events, evaluate
from leadscore.scoring.state import AlertEntry, LeadState, likelihood

from tests.unit.rules_fixtures import NOW, doc, event, pricing

CALIBRATION = {"slope": 0.05, "intercept": -3.0, "horizon_days": 90}


def _rules(calibration: dict[str, Any] | None) -> Any:
    raw = doc()
    if calibration is not None:
        raw["models"]["lead"]["calibration"] = calibration
    return load_rules(json.dumps(raw))


def _lead(rules: Any) -> LeadState:
    events = [event("identify", profile={"job_title": "VP Sales"}), pricing(), pricing(timedelta(hours=2))]
    return apply_events(LeadState(lead_id="l1", email="dana@northwind.io"), events, rules, NOW).state


def test_the_card_carries_the_calibrated_probability() -> None:
    rules = _rules(CALIBRATION)
    card = evaluate(_lead(rules), rules, NOW, None)
    assert card.score == 50
    assert card.probability == pytest.approx(1 / (1 + math.exp(-(0.05 * 50 - 3.0))), abs=1e-4)
    assert card.horizon_days == 90
    assert likelihood(card) == "about 38% likely to convert within 90 days"


def test_rules_without_calibration_still_validate_and_give_no_probability() -> None:
    rules = _rules(None)
    state = _lead(rules)
    card = evaluate(state, rules, NOW, None)
    assert card.probability is None
    assert likelihood(card) is None
    alert = AlertEntry(id="sales_ready-1", kind="sales_ready", created_at=0, card=card)
    assert "probability" not in render_json(state, alert)  # the alert JSON of such rules is unchanged
    assert "Likely:" not in render_text(state, alert)


def test_one_exp_per_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = math.exp

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(math, name)

        @staticmethod
        def exp(x: float) -> float:
            calls["n"] += 1
            return real(x)

    monkeypatch.setattr(engine, "math", Counting())
    plain, calibrated = _rules(None), _rules(CALIBRATION)
    state = _lead(plain)
    evaluate(state, plain, NOW, None, due=False)
    without = calls["n"]
    calls["n"] = 0
    evaluate(state, calibrated, NOW, None, due=False)
    assert calls["n"] - without == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slope", float("nan")),
        ("slope", 1e309),
        ("slope", -0.1),
        ("slope", 11),
        ("intercept", 51),
        ("intercept", "1"),
        ("horizon_days", 0),
        ("horizon_days", 731),
    ],
)
def test_calibration_numbers_are_bounded(field: str, value: Any) -> None:
    raw = doc()
    raw["models"]["lead"]["calibration"] = {**CALIBRATION, field: value}
    with pytest.raises(RulesValidationError) as caught:
        load_rules(json.dumps(raw))  # NaN and 1e309 (infinity) are written as JSON parsers accept them
    assert any("calibration" in e and field in e for e in caught.value.errors), caught.value.errors


def test_extreme_scores_do_not_overflow() -> None:
    rules = _rules({"slope": 10, "intercept": 50, "horizon_days": 30})
    card = evaluate(_lead(rules), rules, NOW, None)
    assert card.probability == 1.0
    assert likelihood(card) == "over 99% likely to convert within 30 days"
    low = _rules({"slope": 10, "intercept": -50, "horizon_days": 30})
    events = [event("email_unsubscribe", email="x@rival.com")]
    state = apply_events(LeadState(lead_id="l2", email="x@rival.com"), events, low, NOW).state
    card = evaluate(state, low, NOW, None)  # score -80: exp(850) would overflow
    assert card.score == -80
    assert card.probability == 0.0
    assert likelihood(card) == "under 1% likely to convert within 30 days"


def test_api_card_and_alert_show_the_likelihood() -> None:
    rules = _rules(CALIBRATION)
    state = _lead(rules)
    state.card = evaluate(state, rules, NOW, None)
    view = score_card(state, [])
    assert view["probability"] == state.card.probability
    assert view["likelihood"] == "about 38% likely to convert within 90 days"
    alert = AlertEntry(id="sales_ready-1", kind="sales_ready", created_at=0, card=state.card)
    assert "Likely:   about 38% likely to convert within 90 days" in render_text(state, alert)
    body = render_json(state, alert)
    assert body["probability"] == state.card.probability
    assert body["likelihood"] == "about 38% likely to convert within 90 days"


def test_the_layer_never_imports_numpy() -> None:
    code = (
        "import sys; import leadscore.scoring.engine, leadscore.alerts, leadscore.api.views, "
        "leadscore.rules.compiler; print('numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="shared"
    )
    assert out.stdout.strip() == "False"
