"""Property: any rules document that validates scores any lead without raising (issue 13).

Documents are drawn from the rules model's own bounds (``leadscore.rules.model``), extremes included:
points of +-1000, cut-offs of +-100,000, a half-life of 0.1 day, a year of cooldown, operands of
+-10^15. Leads get random profiles and events over a year, in several batches. For every document:
``apply_events`` and ``evaluate`` never raise, every number of the state and its score card is finite,
and the lead item round-trips through ``to_item``/``from_item`` with its card and threshold set.

Only the public functions are used: the engine's internals are being rewritten.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from leadscore.dal.items import from_item, to_item
from leadscore.models.event import CanonicalEvent, Identity, Profile, lead_id_for_email
from leadscore.rules import model as bounds
from leadscore.rules.compiler import load_rules
from leadscore.scoring.engine import apply_events, evaluate
from leadscore.scoring.state import Adjustment, LeadState

from tests.unit.rules_fixtures import NOW

EMAILS = ("dana@northwind.io", "jo@gmail.com", "spy@rival.com", "ann@mit.edu")
RULE_IDS = [f"r{i}" for i in range(12)]


def number(lo: float, hi: float, *, integer: bool = False) -> st.SearchStrategy[Any]:
    """A number within bounds, the bounds themselves often; sometimes an int (JSON has both)."""
    if integer:
        return st.one_of(st.sampled_from([int(lo), int(hi)]), st.integers(int(lo), int(hi)))
    return st.one_of(
        st.sampled_from([lo, hi]),
        st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        st.integers(math.ceil(lo), math.floor(hi)),
    )


SCORE = bounds.MAX_SCORE
# Scores real leads reach (a few rules' worth), and the extremes the bounds allow.
score_like = st.one_of(number(-200, 200), number(-SCORE, SCORE))
operand = st.one_of(number(0, 10_000), number(-bounds.MAX_OPERAND, bounds.MAX_OPERAND))
points = st.one_of(number(-50, 50), number(-bounds.MAX_RULE_POINTS, bounds.MAX_RULE_POINTS))


@st.composite
def range_condition(draw: st.DrawFn, field: str) -> dict[str, Any]:
    lo, hi = sorted((draw(operand), draw(operand)))
    cond: dict[str, Any] = {"field": field}
    if draw(st.booleans()):
        cond[draw(st.sampled_from(["gte", "gt"]))] = lo
    if draw(st.booleans()) or len(cond) == 1:
        cond[draw(st.sampled_from(["lte", "lt"]))] = hi
    return cond


fit_conditions = st.one_of(
    st.builds(lambda v: {"field": "job_title", "contains": v}, st.sampled_from(["vp", "chief", "head"])),
    st.builds(
        lambda v: {"field": "country", "in": v}, st.lists(st.sampled_from(["US", "DE", 1, 2.5]), min_size=1)
    ),
    st.builds(lambda v: {"field": "company_size", "equals": v}, operand),
    st.just({"field": "email", "in_list": "personal_email_domains"}),
    st.just({"field": "email", "in_list": "education_domains"}),
    st.just({"field": "email_domain", "in_list": "competitors"}),
    st.just({"field": "industry", "regex": "^(soft|fin)"}),
    st.just({"field": "phone", "exists": True}),
    range_condition("company_size"),
    range_condition("revenue"),
)
activity_conditions = st.one_of(
    st.builds(
        lambda v: {"field": "type", "equals": v}, st.sampled_from(["page_view", "email_click", "email_open"])
    ),
    st.just(
        {
            "all": [
                {"field": "type", "equals": "page_view"},
                {"field": "properties.path", "starts_with": "/pricing"},
            ]
        }
    ),
    st.just({"field": "name", "contains": ["demo", "trial"]}),
    st.just(
        {
            "any": [
                {"field": "type", "equals": "email_unsubscribe"},
                {"field": "type", "equals": "email_spam_report"},
            ]
        }
    ),
    st.just({"not": {"field": "source", "equals": "segment"}}),
    range_condition("properties.seconds"),
)


@st.composite
def cap(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    out: dict[str, Any] = {"window_days": draw(number(1, 365, integer=True))}
    if draw(st.booleans()):
        out["max_points"] = draw(st.one_of(number(1, 100), number(1e-9, SCORE)))
    if draw(st.booleans()) or "max_points" not in out:
        out["per_window"] = draw(number(1, bounds.MAX_PER_WINDOW, integer=True))
    return out


@st.composite
def scoring_model(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    rules: dict[str, list[dict[str, Any]]] = {"fit": [], "activity": []}
    for rule_id in ids:
        kind = draw(st.sampled_from(["fit", "activity"]))
        rule: dict[str, Any] = {
            "id": rule_id,
            "description": f"Rule {rule_id}",
            "when": draw(fit_conditions if kind == "fit" else activity_conditions),
            "points": draw(points),
            "disqualify": draw(st.booleans()) and draw(st.booleans()),
        }
        if draw(st.booleans()):
            rule["category"] = draw(st.sampled_from(["buying", "research"]))
        if kind == "activity":
            rule["decays"] = draw(st.booleans())
            if (c := draw(cap())) is not None:
                rule["cap"] = c
        rules[kind].append(rule)
    tier_mins = sorted(set(draw(st.lists(score_like, max_size=3))))
    fit_bands = sorted((draw(score_like) for _ in range(3)), reverse=True)
    activity_bands = sorted((draw(score_like) for _ in range(3)), reverse=True)
    surge = st.fixed_dictionaries(
        {
            "window_days": number(1, 90, integer=True),
            "baseline_days": number(1, 730, integer=True),
            "min_points": st.one_of(number(0, 100), number(0, SCORE)),
            "ratio": st.one_of(number(1, 5), number(1, bounds.MAX_SURGE_RATIO)),
        }
    )
    return {
        **rules,
        "thresholds": {
            "sales_ready": draw(st.one_of(st.none(), number(0, 200), number(0, SCORE))),
            "hysteresis": draw(st.one_of(number(0, 50), number(0, SCORE))),
            "tiers": [{"name": f"t{i}", "min": m} for i, m in enumerate(tier_mins)],
            "alert_cooldown_hours": draw(number(0, bounds.MAX_COOLDOWN_HOURS)),
        },
        "grade": {
            "fit": dict(zip("ABC", fit_bands, strict=True)),
            "activity": dict(zip("432", activity_bands, strict=True)),
        },
        "decay": {
            "half_life_days": draw(st.one_of(st.none(), number(bounds.MIN_HALF_LIFE_DAYS, bounds.MAX_DAYS))),
            "expire_after_days": draw(st.one_of(st.none(), number(1, bounds.MAX_DAYS, integer=True))),
        },
        "surge": draw(st.one_of(st.none(), surge)),
    }


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(RULE_IDS), unique=True, max_size=8))
    split = draw(st.integers(0, len(ids)))
    models: dict[str, Any] = {"lead": draw(scoring_model(ids[:split]))}
    if draw(st.booleans()):  # a second model, chosen by the profile; "lead" is then the fallback
        upsell = draw(scoring_model(ids[split:]))
        upsell["applies_when"] = {"field": "lifecycle_stage", "equals": "customer"}
        models = {"upsell": upsell, **models}
    return {
        "lists": {"competitors": ["rival.com"]},
        "bots": {
            "user_agent_contains": ["scanner"],
            "ignore_machine_opens": draw(st.booleans()),
            "min_seconds_after_delivery": draw(number(0, bounds.MAX_BOT_SECONDS, integer=True)),
        },
        "models": models,
    }


profiles = st.fixed_dictionaries(
    {},
    optional={
        "job_title": st.sampled_from(["VP Sales", "Chief of Staff", "Engineer"]),
        "company_size": st.one_of(st.integers(0, 100_000), st.floats(0, 1e300)),
        "revenue": st.floats(0, 1e300),
        "industry": st.sampled_from(["Software", "Fintech", "Retail"]),
        "country": st.sampled_from(["US", "DE", "1"]),
        "phone": st.just("+1 555 0100"),
        "lifecycle_stage": st.sampled_from(["lead", "customer"]),
    },
)


@st.composite
def events(draw: st.DrawFn, email: str) -> CanonicalEvent:
    kind = draw(
        st.sampled_from(
            [
                "page_view",
                "form_submit",
                "email_click",
                "email_open",
                "email_delivered",
                "email_unsubscribe",
                "email_spam_report",
                "identify",
                "track",
            ]
        )
    )
    props: dict[str, Any] = {}
    if kind == "page_view":
        props["path"] = draw(st.sampled_from(["/pricing", "/pricing/teams", "/blog"]))
    if kind.startswith("email_"):
        props["message_id"] = draw(st.sampled_from(["m1", "m2"]))
        props["machine_open"] = draw(st.booleans())
    if draw(st.booleans()):
        props["seconds"] = draw(
            st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False))
        )
    if draw(st.booleans()):
        props["user_agent"] = draw(st.sampled_from(["Mozilla/5.0", "Link scanner"]))
    return CanonicalEvent(
        event_id=draw(st.sampled_from([f"ev-{i}" for i in range(40)])),  # repeats: duplicates
        source=draw(st.sampled_from(["segment", "sendgrid", "forms"])),
        type=kind,
        name=draw(st.sampled_from([None, "Book a demo", "Start trial", "Newsletter"])),
        occurred_at=NOW - timedelta(seconds=draw(st.integers(-3_600, 400 * 86_400))),
        identity=Identity(email=email),
        profile=Profile(**draw(profiles)) if draw(st.booleans()) else None,
        properties=props,
    )


@st.composite
def leads(draw: st.DrawFn) -> tuple[str, list[list[CanonicalEvent]]]:
    email = draw(st.sampled_from(EMAILS))
    batches = draw(st.lists(st.lists(events(email), min_size=1, max_size=8), min_size=1, max_size=4))
    return email, batches


def _non_finite(value: Any, path: str = "") -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{path}={value}"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{path}[{i}]")]
    return []


def _check(state: LeadState) -> LeadState:
    """Every number is finite and the item reads back as the same state (the card without its per-rule
    contributions), card and threshold set."""
    assert state.card is not None and state.card.threshold is not None
    assert _non_finite(state.model_dump()) == []
    for alert in state.outbox.values():
        assert _non_finite(alert.card.model_dump()) == []
    back = from_item(to_item(state))
    assert back.card is not None and back.card.threshold is not None
    stored = {"card": {"contributions"}}  # the item stores the card without them (readers derive them)
    assert back.model_dump(exclude=stored) == state.model_dump(exclude=stored)
    return back


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=documents(),
    lead=leads(),
    default_threshold=st.one_of(st.none(), number(0, 200), number(0, SCORE)),
    adjustment=st.one_of(st.none(), number(-1000, 1000)),
    later_days=st.integers(0, 800),
    gaps=st.lists(st.integers(0, 40 * 86_400), min_size=4, max_size=4),
)
def test_any_valid_document_scores_any_lead_to_finite_numbers_and_a_readable_item(
    document: dict[str, Any],
    lead: tuple[str, list[list[CanonicalEvent]]],
    default_threshold: float | None,
    adjustment: float | None,
    later_days: int,
    gaps: list[int],
) -> None:
    rules = load_rules(json.dumps(document, allow_nan=False))  # what the bounds allow validates
    email, batches = lead
    state = LeadState(lead_id=lead_id_for_email(email))
    if adjustment is not None:
        state.adjustments = [Adjustment(id="a1", points=adjustment, reason="test", by="me", at=1)]
    now = NOW
    for batch, gap in zip(batches, gaps, strict=False):
        now += timedelta(seconds=gap)  # later batches: cooldowns, re-arming, decay between writes
        outcome = apply_events(state, batch, rules, now, default_threshold)
        for alert in outcome.alerts:
            event(f"alert: {alert.kind}")  # --hypothesis-show-statistics: what the examples reach
        for card in (outcome.before, outcome.after):
            assert _non_finite(card.model_dump()) == []
        if outcome.state.card is None:  # nothing accepted yet (all duplicates or too old)
            outcome.state.card = evaluate(outcome.state, rules, now, default_threshold)
        state = _check(outcome.state)
    card = evaluate(state, rules, now + timedelta(days=later_days), default_threshold)
    event(f"tier now: {state.card.tier if state.card else None}")
    assert _non_finite(card.model_dump()) == []
    state.card = card
    _check(state)
