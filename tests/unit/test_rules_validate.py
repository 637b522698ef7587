"""`leadscore rules validate | lint`: every mistake in one run, "did you mean", and the semantic lint."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from leadscore.models.event import EventType
from leadscore.rules.lint import lint_document
from leadscore.rules.model import FIT_FIELDS

from tests.support import ROOT
from tools.cli import main

EXAMPLE = ROOT / "rules" / "example.yaml"
TYPES = ", ".join(sorted(get_args(EventType)))  # the event types the model knows, as the lint lists them

FOUR_MISTAKES = """
lists:
  competitors: [rival.com]
models:
  lead:
    fit:
      - {id: a, description: x, when: {field: job_titel, contains: vp}, points: 5}
      - {id: b, description: y, when: {field: email, in_list: competitor}, points: -100}
    activity:
      - {id: c, description: z, when: {field: type, equals: pageview}, points: 5}
      - {id: d, description: w, when: {field: type, equals: form_submit}, pionts: 5}
"""


def _validate(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    code = main(["rules", "validate", str(path)])
    err = capsys.readouterr().err
    return code, [line[4:] for line in err.splitlines() if line.startswith("  - ")], err


def _lint(model: dict[str, Any], **document: Any) -> list[tuple[str, str]]:
    """(level, text) of each finding for a document with one ``lead`` model."""
    return [(f.level, str(f)) for f in lint_document({**document, "models": {"lead": model}})]


def _rule(rule_id: str, when: Any, points: Any = 10, **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "description": rule_id, "when": when, "points": points, **extra}


def test_four_mistakes_are_four_errors_in_one_run_each_with_did_you_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, errors, _ = _validate(tmp_path, FOUR_MISTAKES, capsys)
    assert code == 1
    assert len(errors) == 4, errors
    assert sorted(errors) == sorted(
        [
            "model 'lead' fit rule 'a' field 'job_titel': unknown field; did you mean 'job_title'? "
            f"(one of {', '.join(sorted(FIT_FIELDS))})",
            "model 'lead' fit rule 'b' field 'email': unknown list 'competitor'; did you mean 'competitors'? "
            "(define it under lists)",
            "model 'lead' activity rule 'c' field 'type': 'pageview' is not an event type; did you mean "
            f"'page_view'? (one of {TYPES})",
            "model 'lead' activity rule 'd' field pionts: unknown key 'pionts'; did you mean 'points'? "
            "('points' is required)",
        ]
    )


def test_the_example_has_no_finding_and_lint_says_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_document(yaml.safe_load(EXAMPLE.read_text())) == []
    assert main(["rules", "lint", str(EXAMPLE)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"ok: {EXAMPLE}: 2 model(s)") and captured.err == ""


def test_points_given_as_a_string_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = FOUR_MISTAKES.replace("pionts: 5", 'points: "-5"')
    code, errors, _ = _validate(tmp_path, text, capsys)
    assert code == 1
    assert (
        "model 'lead' activity rule 'd' field points: Input should be a valid number "
        "(given as the string '-5': write -5 without quotes)"
    ) in errors


def test_duplicate_ids_are_reported_with_the_other_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = FOUR_MISTAKES.replace("{id: b,", "{id: a,")
    code, errors, _ = _validate(tmp_path, text, capsys)
    assert code == 1 and len(errors) == 5
    assert "model 'lead' fit rule 'a': id already used by model 'lead' fit rule 'a'" in errors


def test_unknown_event_type_value_in_a_list_is_an_error() -> None:
    findings = _lint({"activity": [_rule("x", {"field": "type", "in": ["page_view", "email_clik"]})]})
    assert findings == [
        (
            "error",
            "model 'lead' activity rule 'x' field 'type': 'email_clik' is not an event type; did you mean "
            f"'email_click'? (one of {TYPES})",
        )
    ]


def test_a_property_no_source_produces_is_an_error_when_it_is_a_near_miss_else_a_warning() -> None:
    near = _lint({"activity": [_rule("x", {"field": "properties.pth", "starts_with": "/pricing"})]})
    assert near == [
        (
            "error",
            "model 'lead' activity rule 'x' field 'properties.pth': no source produces property 'pth'; "
            "did you mean 'path'?",
        )
    ]
    custom = _lint({"activity": [_rule("y", {"field": "properties.plan_tier", "equals": "pro"})]})
    assert [level for level, _ in custom] == ["warning"]
    assert "no built-in source produces property 'plan_tier'" in custom[0][1]
    assert _lint({"activity": [_rule("z", {"field": "properties.path", "equals": "/pricing"})]}) == []
    # a form's free-text "message" is known; a custom relative of a known name is not called a typo
    assert _lint({"activity": [_rule("m", {"field": "properties.message", "exists": True})]}) == []
    relative = _lint({"activity": [_rule("n", {"field": "properties.messages_sent", "gte": 3})]})
    assert [level for level, _ in relative] == ["warning"]


def test_a_tier_at_or_above_the_sales_ready_threshold_is_an_error() -> None:
    thresholds = {"sales_ready": 80, "tiers": [{"name": "warm", "min": 40}, {"name": "hot", "min": 80}]}
    assert _lint({"thresholds": thresholds}) == [
        (
            "error",
            "model 'lead' thresholds tier 'hot': min 80 is at or above sales_ready 80: a lead that reaches "
            "it is sales-ready, so this tier never shows",
        )
    ]
    below = {"sales_ready": 81, "tiers": [{"name": "warm", "min": 40}, {"name": "hot", "min": 80}]}
    assert _lint({"thresholds": below}) == []
    default = _lint({"thresholds": {"tiers": [{"name": "warm", "min": 120}]}})
    assert [level for level, _ in default] == ["warning"] and "default SalesReadyThreshold" in default[0][1]


def test_rules_that_can_never_fire() -> None:
    both = {"all": [{"field": "type", "equals": "page_view"}, {"field": "type", "equals": "form_submit"}]}
    empty_range = {"field": "company_size", "gte": 500, "lte": 100}
    findings = _lint(
        {
            "activity": [_rule("both", both)],
            "fit": [
                _rule("size", empty_range),
                _rule("listed", {"field": "email", "in_list": "nobody"}),
                _rule("zero", {"field": "country", "equals": "us"}, points=0),
            ],
        },
        lists={"nobody": []},
    )
    assert findings == [
        (
            "error",
            "model 'lead' fit rule 'size' field 'company_size': the range is empty "
            "(lower bound above upper): never fires",
        ),
        ("error", "model 'lead' fit rule 'listed' field 'email': list 'nobody' is empty: this never matches"),
        (
            "error",
            "model 'lead' activity rule 'both': can never fire: 'all' needs type to equal "
            "'page_view' and 'form_submit' at once",
        ),
        (
            "warning",
            "model 'lead' fit rule 'zero': points are 0 and it does not disqualify: it never changes a score",
        ),
    ]
    fine = {"all": [{"field": "type", "in": ["page_view", "track"]}, {"field": "type", "equals": "track"}]}
    assert _lint({"activity": [_rule("fine", fine)]}) == []


def test_a_list_defined_but_never_used_is_a_warning_and_validate_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {
        "lists": {"partners": ["p.com"], "rivals": ["r.com"]},
        "models": {"lead": {"fit": [_rule("rival", {"field": "email", "in_list": "rivals"}, points=-100)]}},
    }
    assert [(f.level, str(f)) for f in lint_document(doc)] == [
        ("warning", "lists.partners: defined but never used by any rule")
    ]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["rules", "validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"ok: {path}") and "1 warning(s)" in captured.out
    assert f"warning: {path}: lists.partners: defined but never used" in captured.err


def test_one_mistake_is_one_error_not_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, errors, _ = _validate(tmp_path, "models: {}\n", capsys)
    assert (code, errors) == (1, ["models: Dictionary should have at least 1 item after validation, not 0"])
    code, errors, _ = _validate(tmp_path, FOUR_MISTAKES.replace("  lead:", "  upsell:"), capsys)
    assert code == 1 and errors.count("models: a 'lead' model is required") == 1
