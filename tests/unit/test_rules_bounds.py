"""Every number in a rules document is bounded, finite and a number: what validates cannot break scoring.

Documents are given as JSON text, as the scorer reads them: Python's JSON parser accepts ``NaN``,
``Infinity`` and ``1e309`` (which becomes infinity), so those tokens must be refused by the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from leadscore.errors import RulesValidationError
from leadscore.rules.compiler import load_rules

from tests.unit.rules_fixtures import doc
from tools.cli import main

MARK = "__value__"


def _with(path: str, token: str) -> str:
    """The fixture document as JSON text with the number at ``path`` (dots; digits index lists)
    replaced by the raw JSON ``token``."""
    document: Any = doc(surge={"window_days": 7, "baseline_days": 60, "min_points": 30, "ratio": 3})
    document["models"]["lead"]["grade"] = {"fit": {"A": 50, "B": 30, "C": 10}, "activity": {"4": 60}}
    document["models"]["lead"]["grade"]["activity"].update({"3": 30, "2": 10})
    document["bots"] = {"min_seconds_after_delivery": 5}
    node = document
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = MARK
    return json.dumps(document).replace(json.dumps(MARK), token)


def _errors(text: str) -> list[str]:
    with pytest.raises(RulesValidationError) as info:
        load_rules(text)
    return info.value.errors


LEAD = "models.lead."
CASES = [
    # the two documents of issue 13
    ("thresholds.alert_cooldown_hours", "1e305", "thresholds alert_cooldown_hours", "less than or equal"),
    ("thresholds.sales_ready", "1e309", "thresholds sales_ready", "finite number"),
    ("thresholds.sales_ready", "NaN", "thresholds sales_ready", "finite number"),
    ("thresholds.sales_ready", "-1", "thresholds sales_ready", "greater than or equal"),
    ("thresholds.sales_ready", "true", "thresholds sales_ready", "valid number"),
    ("thresholds.alert_cooldown_hours", "Infinity", "thresholds alert_cooldown_hours", "finite number"),
    ("thresholds.alert_cooldown_hours", "NaN", "thresholds alert_cooldown_hours", "finite number"),
    ("thresholds.hysteresis", "Infinity", "thresholds hysteresis", "finite number"),
    ("thresholds.hysteresis", "1e6", "thresholds hysteresis", "less than or equal"),
    ("thresholds.tiers.0.min", "-Infinity", "thresholds tiers 0 min", "finite number"),
    ("thresholds.tiers.0.min", "1e9", "thresholds tiers 0 min", "less than or equal"),
    ("grade.fit.A", "NaN", "grade fit A", "finite number"),
    ("grade.activity.4", "1e300", "grade activity 4", "less than or equal"),
    ("grade.activity.2", "false", "grade activity 2", "valid number"),
    ("decay.half_life_days", "0.001", "decay half_life_days", "greater than or equal"),
    ("decay.half_life_days", "1e309", "decay half_life_days", "finite number"),
    ("decay.half_life_days", "true", "decay half_life_days", "valid number"),
    ("decay.expire_after_days", "1e9", "decay expire_after_days", "valid integer"),
    ("decay.expire_after_days", "100000", "decay expire_after_days", "less than or equal"),
    ("surge.min_points", "Infinity", "surge min_points", "finite number"),
    ("surge.ratio", "1e12", "surge ratio", "less than or equal"),
    ("surge.window_days", "true", "surge window_days", "valid integer"),
    ("surge.baseline_days", "0", "surge baseline_days", "greater than or equal"),
    ("fit.0.points", "NaN", "fit rule 'vp' field points", "finite number"),
    ("fit.0.points", "1e309", "fit rule 'vp' field points", "finite number"),
    ("fit.0.points", "true", "fit rule 'vp' field points", "valid number"),
    ("fit.0.points", '"30"', "fit rule 'vp' field points", "valid number"),
    ("activity.0.cap.max_points", "Infinity", "activity rule 'pricing' field cap.max_points", "finite"),
    ("activity.0.cap.max_points", "1e6", "activity rule 'pricing' field cap.max_points", "less than"),
    ("activity.0.cap.per_window", "true", "activity rule 'pricing' field cap.per_window", "valid integer"),
    ("activity.0.cap.per_window", "1e12", "activity rule 'pricing' field cap.per_window", "valid integer"),
    ("activity.0.cap.window_days", "366", "activity rule 'pricing' field cap.window_days", "less than"),
]
CONDITIONS = [
    ({"field": "company_size", "gte": MARK}, "NaN", "when.gte", "finite number"),
    ({"field": "company_size", "lt": MARK}, "1e16", "when.lt", "less than or equal"),
    ({"field": "company_size", "gt": MARK}, "true", "when.gt", "valid number"),
    ({"field": "company_size", "lte": MARK}, "-Infinity", "when.lte", "finite number"),
    ({"field": "company_size", "equals": MARK}, "NaN", "'equals' on 'company_size'", "finite"),
    ({"field": "company_size", "equals": MARK}, "1e20", "'equals' on 'company_size'", "within"),
    ({"field": "country", "in": ["US", MARK]}, "Infinity", "'in' on 'country'", "finite"),
]


@pytest.mark.parametrize(("path", "token", "where", "message"), CASES)
def test_every_number_is_bounded_finite_and_not_a_bool(
    path: str, token: str, where: str, message: str
) -> None:
    errors = _errors(_with(LEAD + path, token))
    assert len(errors) == 1, errors
    assert f"model 'lead' {where}" in errors[0] and message in errors[0], errors


@pytest.mark.parametrize(("when", "token", "where", "message"), CONDITIONS)
def test_comparison_operands_are_bounded_and_finite(
    when: dict[str, Any], token: str, where: str, message: str
) -> None:
    document = doc(
        fit=[{"id": "size", "description": "Company size", "when": when, "points": 10}], activity=[]
    )
    errors = _errors(json.dumps(document).replace(json.dumps(MARK), token))
    assert len(errors) == 1, errors
    assert "fit rule 'size' field when" in errors[0] and where in errors[0] and message in errors[0], errors


def test_the_bounds_themselves_are_valid() -> None:
    extreme = doc(
        thresholds={
            "sales_ready": 100_000,
            "hysteresis": 100_000,
            "alert_cooldown_hours": 8_760,
            "tiers": [{"name": "low", "min": -100_000}, {"name": "warm", "min": 100_000}],
        },
        decay={"half_life_days": 0.1, "expire_after_days": 3_650},
        surge={"window_days": 90, "baseline_days": 730, "min_points": 100_000, "ratio": 1_000},
        grade={"fit": {"A": 100_000, "B": 0, "C": -100_000}, "activity": {"4": 1, "3": 1, "2": 1}},
    )
    extreme["models"]["lead"]["fit"][0]["points"] = -1_000
    extreme["models"]["lead"]["activity"][0]["cap"] = {"max_points": 100_000, "per_window": 100_000}
    extreme["models"]["lead"]["fit"].append(
        {
            "id": "size",
            "description": "d",
            "when": {"field": "company_size", "gte": -(10**15), "lte": 10**15},
            "points": 1_000,
        }
    )
    assert load_rules(json.dumps(extreme)).models[0].thresholds.alert_cooldown_hours == 8_760


def test_cli_validate_reports_the_bounds_of_a_yaml_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """
models:
  lead:
    thresholds: {sales_ready: 1e309, alert_cooldown_hours: 1e305, hysteresis: .nan}
    fit:
      - {id: size, description: big, when: {field: company_size, gte: .inf}, points: true}
"""
    )
    assert main(["rules", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "5 error(s)" in err, err
    for line in (
        "model 'lead' thresholds sales_ready: Input should be a finite number",
        "model 'lead' thresholds alert_cooldown_hours: Input should be less than or equal to 8760",
        "model 'lead' thresholds hysteresis: Input should be a finite number",
        "model 'lead' fit rule 'size' field when.gte: Input should be a finite number",
        "model 'lead' fit rule 'size' field points: Input should be a valid number",
    ):
        assert line in err, err
