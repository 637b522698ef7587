"""Every operator, the named lists, and validation that lists every error by rule and field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from leadscore.errors import RulesValidationError
from leadscore.rules.compiler import compile_condition, load_rules, parse_document
from leadscore.rules.model import FieldCondition

from tests.support import ROOT
from tests.unit.rules_fixtures import doc


def check(cond: dict[str, Any], facts: dict[str, Any], lists: dict[str, list[str]] | None = None) -> bool:
    from leadscore.rules.model import Condition
    from pydantic import TypeAdapter

    parsed: Condition = TypeAdapter(Condition).validate_python(cond)
    compiled = compile_condition(parsed, {k: frozenset(v) for k, v in (lists or {}).items()})
    return compiled(facts)


@pytest.mark.parametrize(
    ("cond", "facts", "expected"),
    [
        ({"field": "industry", "equals": "software"}, {"industry": "Software"}, True),
        (
            {"field": "industry", "equals": "software", "case_sensitive": True},
            {"industry": "Software"},
            False,
        ),
        ({"field": "industry", "equals": "software"}, {}, False),
        ({"field": "company_size", "equals": 500}, {"company_size": 500.0}, True),
        ({"field": "country", "in": ["US", "Canada"]}, {"country": "canada"}, True),
        ({"field": "country", "in": ["US", "Canada"]}, {"country": "Mexico"}, False),
        ({"field": "job_title", "contains": ["director", "head of"]}, {"job_title": "Head of IT"}, True),
        ({"field": "job_title", "contains": "director"}, {"job_title": "Manager"}, False),
        (
            {"field": "properties.path", "starts_with": "/pricing"},
            {"properties.path": "/Pricing/teams"},
            True,
        ),
        (
            {"field": "properties.path", "starts_with": ["/blog", "/docs"]},
            {"properties.path": "/pricing"},
            False,
        ),
        ({"field": "email", "ends_with": ".io"}, {"email": "a@b.IO"}, True),
        ({"field": "job_title", "regex": r"\b(vp|chief)\b"}, {"job_title": "VP Sales"}, True),
        ({"field": "job_title", "regex": r"\b(vp|chief)\b"}, {"job_title": "MVP engineer"}, False),
        ({"field": "job_title", "regex": "^VP", "case_sensitive": True}, {"job_title": "vp sales"}, False),
        ({"field": "company_size", "gte": 200, "lte": 5000}, {"company_size": 200}, True),
        ({"field": "company_size", "gte": 200, "lte": 5000}, {"company_size": 5000}, True),
        ({"field": "company_size", "gt": 200, "lt": 5000}, {"company_size": 200}, False),
        ({"field": "company_size", "gt": 200, "lt": 5000}, {"company_size": 5000}, False),
        ({"field": "company_size", "gte": 200}, {"company_size": None}, False),
        ({"field": "company_size", "gte": 200}, {"company_size": "lots"}, False),
        ({"field": "phone", "exists": True}, {"phone": "+1 555"}, True),
        ({"field": "phone", "exists": True}, {"phone": ""}, False),
        ({"field": "phone", "exists": False}, {}, True),
        ({"all": [{"field": "a", "equals": "x"}, {"field": "b", "equals": "y"}]}, {"a": "x", "b": "y"}, True),
        (
            {"all": [{"field": "a", "equals": "x"}, {"field": "b", "equals": "y"}]},
            {"a": "x", "b": "z"},
            False,
        ),
        ({"any": [{"field": "a", "equals": "x"}, {"field": "b", "equals": "y"}]}, {"a": "q", "b": "y"}, True),
        ({"not": {"field": "a", "equals": "x"}}, {"a": "x"}, False),
        ({"not": {"field": "a", "equals": "x"}}, {"a": "y"}, True),
    ],
)
def test_operators(cond: dict[str, Any], facts: dict[str, Any], expected: bool) -> None:
    assert check(cond, facts) is expected


@pytest.mark.parametrize(
    ("value", "list_name", "expected"),
    [
        ("dana@gmail.com", "free_email_domains", True),
        ("dana@northwind.io", "free_email_domains", False),
        ("x@mailinator.com", "disposable_email_domains", True),
        ("x@mailinator.com", "personal_email_domains", True),
        ("jo@mit.edu", "education_domains", True),
        ("jo@ox.ac.uk", "education_domains", True),
        ("jo@unsw.edu.au", "education_domains", True),
        ("jo@acme.co.uk", "education_domains", False),
        ("spy@rival.com", "competitors", True),
        ("spy@eu.rival.com", "competitors", True),  # subdomains of a listed domain match
        ("spy@notrival.com", "competitors", False),
    ],
)
def test_named_lists_on_email(value: str, list_name: str, expected: bool) -> None:
    assert (
        check({"field": "email", "in_list": list_name}, {"email": value}, {"competitors": ["rival.com"]})
        is expected
    )


def test_named_list_on_plain_field_is_exact_and_case_insensitive() -> None:
    lists = {"targets": ["software", "fintech"]}
    assert check({"field": "industry", "in_list": "targets"}, {"industry": "FinTech"}, lists)
    assert not check({"field": "industry", "in_list": "targets"}, {"industry": "fintech services"}, lists)


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    # With Python's re this takes minutes on this input; RE2 answers at once.
    assert not check({"field": "name", "regex": "^(a+)+$"}, {"name": "a" * 5000 + "!"})


def test_field_condition_needs_exactly_one_operator() -> None:
    with pytest.raises(ValueError, match="needs one operator"):
        FieldCondition(field="x")
    with pytest.raises(ValueError, match="several operators"):
        FieldCondition.model_validate({"field": "x", "equals": "a", "contains": "b"})


def test_validation_lists_every_error_with_rule_and_field() -> None:
    bad = doc(
        fit=[
            {
                "id": "title",
                "description": "t",
                "when": {"field": "job_titel", "contains": "vp"},
                "points": 5,
            },
            {"id": "list", "description": "l", "when": {"field": "email", "in_list": "nope"}, "points": 5},
            {"id": "rx", "description": "r", "when": {"field": "job_title", "regex": "(a)\\1"}, "points": 5},
            {"id": "num", "description": "n", "when": {"field": "industry", "gte": 5}, "points": 5},
            {"id": "title", "description": "dup", "when": {"field": "country", "exists": True}, "points": 1},
        ]
    )
    with pytest.raises(RulesValidationError) as info:
        parse_document(bad)
    errors = info.value.errors
    assert len(errors) == 5, errors
    joined = "\n".join(errors)
    assert "fit rule 'title' field 'job_titel': unknown field" in joined
    assert "fit rule 'list' field 'email': unknown list 'nope'" in joined
    assert "fit rule 'rx' field 'job_title': regex rejected" in joined
    assert "fit rule 'num' field 'industry': numeric comparison" in joined
    assert "id already used" in joined


def test_structural_errors_name_the_rule() -> None:
    bad = doc(
        activity=[{"id": "x", "description": "d", "when": {"field": "type", "equals": "a"}, "points": "many"}]
    )
    with pytest.raises(RulesValidationError) as info:
        parse_document(bad)
    assert any("activity rule 'x' field points" in e for e in info.value.errors), info.value.errors


def test_bad_json_and_missing_lead_model() -> None:
    with pytest.raises(RulesValidationError, match="not valid JSON"):
        load_rules(b"{nope")
    with pytest.raises(RulesValidationError, match="'lead' model is required"):
        parse_document({"models": {"upsell": {}}})


def test_tiers_and_grades_must_be_ordered() -> None:
    with pytest.raises(RulesValidationError, match="ascending"):
        parse_document(doc(thresholds={"tiers": [{"name": "warm", "min": 60}, {"name": "hot", "min": 50}]}))
    with pytest.raises(RulesValidationError, match="descend"):
        parse_document(doc(grade={"fit": {"A": 10, "B": 20, "C": 5}}))


def test_example_rules_compile() -> None:
    from tools.rules_source import compile_file

    body, compiled = compile_file(ROOT / "rules" / "example.yaml")
    assert json.loads(body)["models"]["lead"]
    assert len(compiled.models[0].fit) >= 10 and len(compiled.models[0].activity) >= 10


def test_committed_json_schema_matches_the_model() -> None:
    from leadscore.rules.model import RulesDocument

    committed = json.loads((ROOT / "rules" / "rules.schema.json").read_text())
    schema = RulesDocument.model_json_schema(by_alias=True)
    schema["title"] = "leadscore rules document"
    assert committed == json.loads(json.dumps(schema)), (
        "run `leadscore rules schema -o rules/rules.schema.json`"
    )
