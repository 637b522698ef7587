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


ACTIVITY: list[dict[str, Any]] = [
    {"id": "open", "when": {"field": "type", "equals": "email_open"}, "points": 1},
    {
        "id": "pricing",
        "when": {
            "all": [
                {"field": "type", "equals": "page_view"},
                {"field": "properties.path", "starts_with": "/pricing"},
            ]
        },
        "points": 10,
    },
    {
        "id": "demo",
        "when": {
            "all": [
                {"field": "type", "in": ["form_submit", "track"]},
                {"any": [{"field": "name", "contains": "demo"}, {"field": "name", "contains": "rfq"}]},
                {"not": {"field": "properties.plan", "exists": True}},
            ]
        },
        "points": 30,
    },
    {
        "id": "mixed-any",
        "when": {
            "all": [
                {"field": "type", "equals": "page_view"},
                {"any": [{"field": "properties.path", "contains": "docs"}, {"field": "name", "equals": "x"}]},
            ]
        },
        "points": 2,
    },
]
EVENT = st.fixed_dictionaries(
    {"type": st.sampled_from(["email_open", "page_view", "form_submit", "track"])},
    optional={
        "name": st.sampled_from(["Book a demo", "RFQ", "x", "Newsletter", None]),
        "properties.path": st.sampled_from(["/pricing", "/Pricing/teams", "/docs/api", "/blog", 3]),
        "properties.plan": st.sampled_from(["pro", "", None]),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, min_size=1, max_size=6))
def test_split_conjunctions_match_like_the_whole_rule(events: list[dict[str, Any]]) -> None:
    activity = [{"description": r["id"], **r} for r in ACTIVITY]
    doc = {**DOC, "models": {"lead": {"fit": [], "activity": activity}}}
    rules = load_rules(json.dumps(doc))
    for facts in events + events:
        assert [r.id for r in rules.match_activity(facts)] == direct(rules.activity, facts)
    assert rules.match_activity.plan().split == [
        "pricing",
        "demo",
    ]  # "demo": its ``any`` reads one field; "mixed-any" is whole


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
    assert max(matcher.plan().remembered_values.values()) <= 2


def test_how_rules_are_split() -> None:
    model = load_rules(json.dumps(DOC)).models[0]
    by_id = {r.id: r for r in model.fit}
    assert by_id["big-vp"].fields == {"job_title", "company_size"}
    assert [name for name, _ in by_id["big-vp"].parts] == ["job_title", "company_size"]
    assert [name for name, _ in by_id["either"].parts] == ["country", "company"]
    assert by_id["either"].any_part and not by_id["big-vp"].any_part
    plan = model.match_fit.plan()
    grouped = {rule for rules in plan.memoized.values() for rule in rules}
    assert "not-us" in grouped and "big-vp" not in grouped and "either" not in grouped
    assert plan.split == ["big-vp", "either"]
    assert plan.direct == []


def test_equal_conditions_share_one_predicate() -> None:
    document = json.loads(json.dumps(DOC))
    fit = document["models"]["lead"]["fit"]
    fit.append(
        {
            "id": "target-2",
            "description": "again",
            "when": {"field": "email", "in_list": "targets"},
            "points": 1,
        }
    )
    fit.append(
        {"id": "size-1", "description": "int", "when": {"field": "company_size", "equals": True}, "points": 1}
    )
    model = load_rules(json.dumps(document)).models[0]
    by_id = {r.id: r for r in model.fit}
    assert by_id["target"].test is by_id["target-2"].test
    assert by_id["exact"].test is not by_id["size-1"].test  # equals 1 and equals true differ
