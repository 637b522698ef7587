"""Several models at once (issue 18.2) and per-category thresholds (18.3): pure scoring and alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from leadscore import alerts
from leadscore.dal import items
from leadscore.models.event import lead_id_for_email
from leadscore.rules.compiler import CompiledRules, load_rules
from leadscore.scoring import engine
from leadscore.scoring.engine import apply_events, rebuild, rescore
from leadscore.scoring.state import LeadState, SalesOutcome

from tests.unit.rules_fixtures import NOW, doc, event, pricing

CUSTOMER = "sam@contoso.com"
PROSPECT = "dana@northwind.io"
VP = {"job_title": "VP Engineering", "company": "Contoso"}


def expansion(**over: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "applies_when": {
            "any": [
                {"field": "customer", "equals": True},
                {"field": "email", "in_list": "customer_domains"},
            ]
        },
        "alert": {"title": "Upsell signal"},
        "thresholds": {"sales_ready": 30, "hysteresis": 10, "alert_cooldown_hours": 0},
        "surge": None,
        "activity": [
            {
                "id": "usage",
                "description": "Used the product",
                "when": {
                    "all": [{"field": "type", "equals": "track"}, {"field": "name", "equals": "Feature Used"}]
                },
                "points": 10,
                "category": "usage",
                "cap": {"per_window": 10, "window_days": 7},
            }
        ],
    }
    model.update(over)
    return model


def two_models(lead: dict[str, Any] | None = None, **over: Any) -> CompiledRules:
    document = doc(**(lead or {}))
    document["lists"]["customer_domains"] = ["contoso.com"]
    document["models"]["customer_expansion"] = expansion(**over)
    return load_rules(json.dumps(document))


def lead(email: str) -> LeadState:
    return LeadState(lead_id=lead_id_for_email(email))


def usage(n: int, email: str = CUSTOMER, ago: timedelta = timedelta(hours=1)) -> list[Any]:
    return [
        event("track", name="Feature Used", email=email, ago=ago + timedelta(minutes=i)) for i in range(n)
    ]


def sales_ready_events(email: str = CUSTOMER) -> list[Any]:
    # 30 fit (VP) + 40 demo + 3 x 10 pricing = 100: the lead model's threshold
    return [
        event("form_submit", name="Book a demo", email=email, profile=VP),
        *(pricing(ago=timedelta(hours=h), email=email) for h in (2, 3, 4)),
    ]


# --------------------------------------------------------------------------------- several models
def test_two_models_run_on_one_lead_and_alert_separately() -> None:
    compiled = two_models()
    outcome = apply_events(lead(CUSTOMER), [*sales_ready_events(), *usage(3)], compiled, NOW, 100)
    state = outcome.state
    # the primary card is the lead model's (the hot index, the API's score); the other rides beside
    assert state.card is not None and state.card.model == "lead" and state.card.score == 100
    assert list(state.cards) == ["customer_expansion"]
    upsell_card = state.cards["customer_expansion"]
    assert (upsell_card.score, upsell_card.tier, upsell_card.threshold) == (30, "sales_ready", 30)
    assert upsell_card.categories == {"usage": 30}
    by_model = {a.card.model: a for a in outcome.alerts}
    assert sorted(by_model) == ["customer_expansion", "lead"] and len(outcome.alerts) == 2
    upsell, sales = by_model["customer_expansion"], by_model["lead"]
    assert upsell.id != sales.id and upsell.kind == sales.kind == "sales_ready"
    assert upsell.title == "Upsell signal" and sales.title is None
    assert [c.rule for c in upsell.card.contributions] == ["usage"]  # explained with its own model
    assert state.armed == {"sales_ready": False, "customer_expansion:sales_ready": False}
    # what sales and account managers receive names the model
    assert alerts.subject(state, upsell).startswith("Upsell signal: sam@contoso.com (Contoso) - 30")
    assert alerts.subject(state, sales).startswith("Sales-ready lead: ")
    assert "Model:    customer_expansion" in alerts.render_text(state, upsell)
    assert "Model:" not in alerts.render_text(state, sales)
    assert alerts.render_json(state, upsell)["model"] == "customer_expansion"
    attrs = alerts.attributes(state, upsell)
    assert attrs["kind"]["StringValue"] == "customer_expansion:sales_ready" and len(attrs) == 10
    assert alerts.attributes(state, sales)["kind"]["StringValue"] == "sales_ready"
    assert not alerts.publish_problems(alerts.sns_message(state, upsell))
    # each model alerts once per crossing: more activity above both thresholds raises nothing
    again = apply_events(
        state, [*usage(2, ago=timedelta(minutes=5)), pricing(ago=timedelta(minutes=1))], compiled, NOW, 100
    )
    assert again.alerts == []


def test_each_model_crosses_on_its_own() -> None:
    compiled = two_models()
    # only the expansion model crosses: one alert, the upsell
    first = apply_events(lead(CUSTOMER), usage(3), compiled, NOW, 100)
    assert [(a.card.model, a.kind) for a in first.alerts] == [("customer_expansion", "sales_ready")]
    # later the lead model crosses too: one alert, the lead's
    second = apply_events(first.state, sales_ready_events(), compiled, NOW, 100)
    assert [(a.card.model, a.kind) for a in second.alerts] == [("lead", "sales_ready")]
    assert len(second.state.outbox) == 2


def test_a_prospect_runs_the_lead_model_only() -> None:
    compiled = two_models()
    outcome = apply_events(
        lead(PROSPECT), [*sales_ready_events(PROSPECT), *usage(3, PROSPECT)], compiled, NOW, 100
    )
    assert outcome.state.cards == {}
    assert [a.card.model for a in outcome.alerts] == ["lead"]


def test_a_converted_lead_is_a_customer() -> None:
    compiled = two_models()
    converted = lead(PROSPECT)
    converted.outcomes = [SalesOutcome(status="converted", by="arn:aws:iam::1:user/ann", at=0)]
    assert engine.profile_facts(converted)["customer"] is True
    assert engine.profile_facts(lead(PROSPECT))["customer"] is False
    outcome = apply_events(converted, usage(3, PROSPECT), compiled, NOW, 100)
    assert [a.title for a in outcome.alerts] == ["Upsell signal"]


def test_the_hot_index_and_the_stored_item_keep_the_primary_card() -> None:
    compiled = two_models()
    state = apply_events(lead(CUSTOMER), usage(3), compiled, NOW, 100).state
    assert state.card is not None and state.card.tier == "cold"  # the lead model: 0 points
    item = items.to_item(state)
    assert "hot_pk" not in item  # a cold primary stays off the hot list, whatever the upsell score
    back = items.from_item(item)
    assert back.cards == state.cards and back.cards["customer_expansion"].tier == "sales_ready"
    assert back.cards["customer_expansion"].contributions == []


def test_an_item_stored_before_cards_reads_and_rescores() -> None:
    compiled = two_models()
    state = apply_events(lead(CUSTOMER), usage(3), compiled, NOW, 100).state
    old = json.loads(state.model_dump_json())
    del old["cards"]
    old["armed"] = {"sales_ready": True}
    stored = LeadState.model_validate(old)  # an item written before models ran side by side
    assert stored.cards == {}
    new = rescore(stored, compiled, NOW + timedelta(hours=1), 100)
    assert new is not None and new.cards["customer_expansion"].score == 30
    assert rescore(new, compiled, NOW + timedelta(hours=1), 100) is None  # nothing changed: no write
    # rebuilding from history recomputes every model's card, and raises what it reveals when asked
    history = usage(3)
    rebuilt = rebuild(stored, history, compiled, NOW, 100, alerts=True)
    assert rebuilt.cards["customer_expansion"].score == 30


def test_stored_cards_save_the_evaluation_of_every_model(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = two_models()
    state = apply_events(lead(CUSTOMER), usage(1), compiled, NOW, 100).state
    calls: list[str] = []
    real = engine._evaluate

    def counting(*args: Any) -> Any:
        calls.append(args[2].name)
        return real(*args)

    monkeypatch.setattr(engine, "_evaluate", counting)
    apply_events(state, usage(1, ago=timedelta(minutes=1)), compiled, NOW, 100)
    # the cards before the write are the stored ones (same day, same rules): only the new state's
    assert sorted(calls) == ["customer_expansion", "lead"]


# ---------------------------------------------------------------------------- category thresholds
def category_rules(half_life: float = 10, **thresholds: Any) -> CompiledRules:
    return load_rules(
        json.dumps(
            doc(
                categories={"buying": {"threshold": 50, "label": "Buying interest", "hysteresis": 20}},
                thresholds={"hysteresis": 20, "alert_cooldown_hours": 0, **thresholds},
                decay={"half_life_days": half_life},
            )
        )
    )


def category_alerts(outcome: engine.Outcome) -> list[str]:
    return [a.title or "" for a in outcome.alerts if a.kind == "category"]


def test_a_category_threshold_alerts_once_per_crossing_and_rearms_by_hysteresis() -> None:
    compiled = category_rules()
    demo = event("form_submit", name="Book a demo")
    first = apply_events(lead(PROSPECT), [demo], compiled, NOW, 100)  # buying 40
    assert category_alerts(first) == []
    crossed = apply_events(first.state, [pricing()], compiled, NOW, 100)  # buying 50: crossed
    assert category_alerts(crossed) == ["Buying interest crossed 50"]
    alert = crossed.alerts[0]
    assert alert.category == "buying" and alert.card.categories["buying"] == 50
    assert alerts.attributes(crossed.state, alert)["top_category"]["StringValue"] == "buying"
    assert alerts.subject(crossed.state, alert).startswith("Buying interest crossed 50: ")
    assert alerts.render_json(crossed.state, alert)["category"] == "buying"
    assert crossed.state.armed["cat:buying"] is False
    above = apply_events(crossed.state, [pricing(ago=timedelta(minutes=30))], compiled, NOW, 100)
    assert category_alerts(above) == []  # still above: no second alert
    # five days later buying decayed to 42 (above the re-arm level, 30 = 50 - 20): crossing 50 again
    # is the same episode
    later = NOW + timedelta(days=5)
    dip = apply_events(above.state, [pricing(ago=-timedelta(days=5))], compiled, later, 100)
    assert 30 <= dip.before.categories["buying"] < 50 <= dip.after.categories["buying"]
    assert category_alerts(dip) == []
    # a month later it decayed below 30: re-armed, and the next crossing alerts again
    month = NOW + timedelta(days=40)
    assert engine.evaluate(dip.state, compiled, month, 100).categories["buying"] < 30
    events = [
        event("form_submit", name="Book a demo", ago=-timedelta(days=40)),
        pricing(ago=-timedelta(days=40)),
    ]
    again = apply_events(dip.state, events, compiled, month, 100)
    assert again.after.categories["buying"] >= 50
    assert category_alerts(again) == ["Buying interest crossed 50"]
    assert again.alerts[0].id != alert.id


def test_a_category_threshold_respects_the_cooldown() -> None:
    # half-life half a day: a day later 50 points are 12.5, below the re-arm level (30)
    compiled = category_rules(half_life=0.5, alert_cooldown_hours=72)

    def interest(state: LeadState, days: int) -> engine.Outcome:
        at = NOW + timedelta(days=days)
        events = [
            event("form_submit", name="Book a demo", ago=-timedelta(days=days)),
            pricing(ago=-timedelta(days=days)),
        ]
        return apply_events(state, events, compiled, at, 100)

    crossed = interest(lead(PROSPECT), 0)
    assert category_alerts(crossed) == ["Buying interest crossed 50"]
    inside = interest(crossed.state, 1)  # re-armed by decay, crossed again 24 h later
    assert inside.before.categories["buying"] < 30 <= 50 <= inside.after.categories["buying"]
    assert category_alerts(inside) == []  # inside the 72 h cooldown: counted as alerted, not sent
    assert inside.state.armed["cat:buying"] is False
    after = interest(inside.state, 4)  # re-armed again, and the cooldown is over
    assert category_alerts(after) == ["Buying interest crossed 50"]


def test_a_disqualified_lead_raises_no_category_alert() -> None:
    compiled = category_rules()
    outcome = apply_events(
        lead("ann@rival.com"),
        [event("form_submit", name="Book a demo", email="ann@rival.com"), pricing(email="ann@rival.com")],
        compiled,
        NOW,
        100,
    )
    assert outcome.after.disqualified and category_alerts(outcome) == []


def test_a_category_of_the_expansion_model_alerts_with_its_prefix() -> None:
    compiled = two_models(categories={"usage": {"threshold": 20}})
    outcome = apply_events(lead(CUSTOMER), usage(2), compiled, NOW, 100)
    [alert] = outcome.alerts
    assert (alert.kind, alert.category, alert.card.model) == ("category", "usage", "customer_expansion")
    assert alert.title == "Usage interest crossed 20"
    assert outcome.state.armed == {"sales_ready": True, "customer_expansion:cat:usage": False}
    assert alerts.attributes(outcome.state, alert)["kind"]["StringValue"] == "customer_expansion:category"


def test_the_lint_warns_of_a_category_threshold_no_rule_scores() -> None:
    from leadscore.rules.lint import lint_document

    document = doc(categories={"buyng": {"threshold": 10}})
    findings = [str(f) for f in lint_document(document)]
    assert any("categories.buyng" in f and "never alerts" in f and "buying" in f for f in findings)
    document["models"]["other"] = {"fit": []}
    assert any("model 'other'" in str(f) and "every lead" in str(f) for f in lint_document(document))


def test_the_card_view_and_leads_show_list_every_model() -> None:
    from leadscore.api.views import score_card

    from tools.leads_cli import format_card

    compiled = two_models()
    state = apply_events(lead(CUSTOMER), [*sales_ready_events(), *usage(3)], compiled, NOW, 100).state
    card = score_card(state, [])
    assert [(m["model"], m["score"], m["tier"], m["primary"]) for m in card["models"]] == [
        ("lead", 100, "sales_ready", True),
        ("customer_expansion", 30, "sales_ready", False),
    ]
    lines = format_card(json.loads(json.dumps(card)))
    at = lines.index("Models:")
    assert lines[at + 1].split() == ["lead", "100", "sales_ready", "B4", "(primary)"]
    assert lines[at + 2].split() == ["customer_expansion", "30", "sales_ready", "D3", "(threshold", "30)"]
    # a lead one model scored shows no Models block
    prospect = apply_events(lead(PROSPECT), usage(1, PROSPECT), compiled, NOW, 100).state
    assert "Models:" not in format_card(json.loads(json.dumps(score_card(prospect, []))))
