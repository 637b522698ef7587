"""The per-field memo of :class:`Matcher` gives exactly what testing every rule directly gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadscore.rules import compiler
from leadscore.rules.compiler import CompiledRule, Matcher, load_rules

FIT: list[dict[str, Any]] = [
    {"id": "vp", "when": {"field": "job_title", "contains": ["vp", "chief"]}, "points": 20},
    {"id": "head", "when": {"field": "job_title", "regex": r"\bhead\b"}, "points": 10},
    {"id": "one", "when": {"field": "company", "contains": "1.0"}, "points": 3},
    {"id": "named", "when": {"field": "company", "exists": True}, "points": 1},
    {"id": "size", "when": {"field": "company_size", "gte": 50, "lt": 1000}, "points": 15},
    {"id": "exact", "when": {"field": "company_size", "equals": 1}, "points": 2},
    {"id": "us", "when": {"field": "country", "in": ["US", "Canada"]}, "points": 5},
    {"id": "not-us", "when": {"not": {"field": "country", "in": ["US"]}}, "points": -5},
    {"id": "target", "when": {"field": "email", "in_list": "targets"}, "points": 25},
    {
        "id": "big-vp",
        "when": {
            "all": [
                {"field": "job_title", "contains": "vp"},
                {"field": "company_size", "gte": 200},
            ]
        },
        "points": 30,
    },
    {
        "id": "either",
        "when": {"any": [{"field": "country", "equals": "uk"}, {"field": "company", "starts_with": "acme"}]},
        "points": 4,
    },
]

DOC = {
    "schema_version": 1,
    "lists": {"targets": ["acme.com", "globex.io"]},
    "models": {"lead": {"fit": [{"description": r["id"], **r} for r in FIT], "activity": []}},
}

TEXT = st.sampled_from(
    ["", "VP Sales", "Chief of Staff", "Head of IT", "US", "us", "Canada", "uk", "acme Ltd", "1.0", "1"]
)
VALUE = st.one_of(
    TEXT,
    st.none(),
    st.booleans(),
    st.sampled_from([1, 1.0, 50, 999.5, 1000, 200]),
)
EMAIL = st.sampled_from(["a@acme.com", "b@mail.globex.io", "c@gmail.com", "", "not-an-email"])
FACTS = st.fixed_dictionaries(
    {},
    optional={
        "job_title": VALUE,
        "company": VALUE,
        "company_size": VALUE,
        "country": VALUE,
        "email": EMAIL,
    },
)


def direct(rules: tuple[CompiledRule, ...], facts: dict[str, Any]) -> list[str]:
    return [r.id for r in rules if r.test(facts)]


@settings(max_examples=300, deadline=None)
@given(st.lists(FACTS, min_size=1, max_size=6))
def test_memoized_matching_equals_testing_every_rule(leads: list[dict[str, Any]]) -> None:
    model = load_rules(json.dumps(DOC)).models[0]
    for facts in leads + leads:  # the second pass answers from the memo
        assert [r.id for r in model.match_fit(facts)] == direct(model.fit, facts)


def test_values_that_compare_equal_are_remembered_apart() -> None:
    model = load_rules(json.dumps(DOC)).models[0]
    ids = lambda facts: [r.id for r in model.match_fit(facts)]
    # 1 == 1.0 == True in Python, but "1.0" is only in the text of the float.
    assert "one" in ids({"company": 1.0})
    assert "one" not in ids({"company": 1})
    assert "one" not in ids({"company": True})
    assert "exact" in ids({"company_size": 1}) and "exact" in ids({"company_size": 1.0})


def test_rules_come_back_in_document_order() -> None:
    model = load_rules(json.dumps(DOC)).models[0]
    facts = {"job_title": "VP Sales", "company": "Acme", "company_size": 500, "country": "US"}
    assert [r.id for r in model.match_fit(facts)] == ["vp", "named", "size", "us", "big-vp", "either"]


def test_a_full_memo_starts_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "_MEMO_LIMIT", 2)
    model = load_rules(json.dumps(DOC)).models[0]
    matcher: Matcher = model.match_fit
    titles = ["VP A", "Head B", "Clerk", "Chief C", "VP A"]
    for title in titles:
        assert [r.id for r in matcher({"job_title": title})] == direct(model.fit, {"job_title": title})
    sizes = [len(memo) for _, _, memo in matcher._groups]
    assert max(sizes) <= 2


def test_rules_over_several_fields_are_not_memoized() -> None:
    model = load_rules(json.dumps(DOC)).models[0]
    fields = {r.id: r.fields for r in model.fit}
    assert fields["big-vp"] == {"job_title", "company_size"}
    assert fields["not-us"] == {"country"}
    grouped = {model.fit[i].id for _, found, _ in model.match_fit._groups for i in found}
    assert "big-vp" not in grouped and "either" not in grouped and "not-us" in grouped
