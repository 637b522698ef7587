"""A lead item stays readable whatever rules were in force when it was written (issue 13).

Before the rules were bounded, ``sales_ready: 1e309`` was read by the JSON parser as infinity, the
score card's threshold became ``inf`` and pydantic stored it as JSON ``null``: the lead could not be
read any more (API 422, its next event to the DLQ), even after the rules were fixed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import timedelta

import pytest
from leadscore.dal import codec
from leadscore.dal.items import STATE, from_item, to_item
from leadscore.errors import ConfigurationError
from leadscore.models.event import lead_id_for_email
from leadscore.rules.model import Thresholds
from leadscore.scoring.engine import apply_events, evaluate, rescore
from leadscore.scoring.state import AlertEntry, LeadState, ScoreCard
from pydantic import ValidationError

from tests.unit.rules_fixtures import EMAIL, NOW, event, pricing, rules


def _buggy_item() -> tuple[LeadState, dict[str, object]]:
    """A lead item as the unbounded rules wrote it: a card (and a pending alert's card) whose
    threshold was infinite, which the state blob holds as ``"threshold": null``."""
    events = [event("form_submit", name="Book a demo", profile={"job_title": "VP Sales"}), pricing()]
    state = apply_events(LeadState(lead_id=lead_id_for_email(EMAIL)), events, rules(), NOW, 100).state
    assert state.card is not None
    # model_copy skips validation, as the old ScoreCard accepted inf: this is the card the bug made.
    card = state.card.model_copy(update={"threshold": math.inf, "rules_version": "s3:unbounded"})
    state.card = card
    state.outbox = {"surge-1": AlertEntry(id="surge-1", kind="surge", created_at=1, card=card)}
    item = to_item(state)
    stored = json.loads(codec.unpack(item[STATE]["B"]))
    assert stored["card"]["threshold"] is None  # what the bug stored
    return state, item


def test_an_item_with_a_null_threshold_is_read() -> None:
    state, item = _buggy_item()
    back = from_item(item)
    assert back.card is not None and back.card.threshold == 100.0  # the default: finite, stale
    assert back.outbox["surge-1"].card.threshold == 100.0  # the notifier reads the alert too
    expected = state.card.model_dump() | {"threshold": 100.0}
    assert back.card.model_dump() == expected  # nothing else of the card is lost
    assert back.activity == state.activity and back.events_total == state.events_total


def test_the_lead_is_scored_again_with_fixed_rules() -> None:
    _, item = _buggy_item()
    fixed = rules(thresholds={"sales_ready": 90, "hysteresis": 20, "alert_cooldown_hours": 24})
    read = from_item(item)
    outcome = apply_events(read, [event("email_click")], fixed, NOW, 100)
    assert outcome.accepted and outcome.before.rules_version == fixed.version  # re-evaluated, not reused
    assert outcome.after.threshold == 90 and outcome.after.rules_version == fixed.version
    again = from_item(to_item(outcome.state))
    assert again.card == outcome.after
    swept = rescore(read, fixed, NOW + timedelta(days=3), 100)  # the decay sweep's path
    assert swept is not None and swept.card is not None and swept.card.threshold == 90
    assert from_item(to_item(swept)).card == swept.card


def test_a_threshold_that_is_not_finite_is_never_stored() -> None:
    with pytest.raises(ValidationError, match="finite number"):
        ScoreCard(score=1, fit=0, activity=1, tier="cold", grade="D1", threshold=math.inf)
    # Rules that bypassed validation (built by hand) make evaluation fail loudly instead of storing null.
    compiled = rules()
    model = compiled.models[0]
    unbounded = Thresholds.model_construct(**{**model.thresholds.__dict__, "sales_ready": math.inf})
    broken = dataclasses.replace(compiled, models=(dataclasses.replace(model, thresholds=unbounded),))
    with pytest.raises(ValidationError, match="threshold"):
        evaluate(LeadState(lead_id="x"), broken, NOW, 100)


@pytest.mark.parametrize("value", ["inf", "nan", "1e309", "-Infinity"])
def test_sales_ready_threshold_setting_must_be_finite(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from leadscore.settings import get_settings

    monkeypatch.setenv("SALES_READY_THRESHOLD", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="SALES_READY_THRESHOLD"):
            get_settings()
    finally:
        monkeypatch.delenv("SALES_READY_THRESHOLD")
        get_settings.cache_clear()
