"""The lead's first touch and latest source are facts of its events: kept live, rebuilt from history,
in the order the events happened (not the order they arrived), and a delivery report is no touch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.engine import apply_events, rebuild
from leadscore.scoring.state import Adjustment, LeadState

from tests.unit.rules_fixtures import EMAIL, NOW, event, rules


def sourced(source: str, ago: timedelta, **properties: Any) -> CanonicalEvent:
    return event("page_view", ago=ago, **properties).model_copy(update={"source": source})


def fresh() -> LeadState:
    return LeadState(lead_id=lead_id_for_email(EMAIL))


def test_first_and_latest_touch_follow_when_events_happened() -> None:
    compiled = rules()
    first = sourced("segment", timedelta(days=20), utm_campaign="q4-launch", utm_source="linkedin")
    latest = sourced("forms", timedelta(hours=2), utm_campaign="pricing", utm_medium="email")
    middle = sourced("hubspot", timedelta(days=5))
    state = apply_events(fresh(), [latest], compiled, NOW, 100).state
    state = apply_events(state, [first, middle], compiled, NOW, 100, max_age_days=None).state  # late ones
    assert state.first_touch is not None and state.last_touch is not None
    assert (state.first_touch.source, state.first_touch.campaign, state.first_touch.channel) == (
        "segment",
        "q4-launch",
        "linkedin",
    )
    assert (state.last_touch.source, state.last_touch.campaign, state.last_touch.medium) == (
        "forms",
        "pricing",
        "email",
    )
    assert state.last_touch.at == int((NOW - timedelta(hours=2)).timestamp())


def test_a_delivery_report_is_not_a_touch_and_campaign_falls_back() -> None:
    compiled = rules()
    touch = sourced("segment", timedelta(days=1), campaign="newsletter")
    delivered = event("email_delivered", ago=timedelta(hours=1)).model_copy(update={"source": "sendgrid"})
    state = apply_events(fresh(), [touch, delivered], compiled, NOW, 100).state
    assert state.last_touch is not None
    assert (state.last_touch.source, state.last_touch.campaign) == ("segment", "newsletter")


def test_a_rebuild_gives_the_same_touches() -> None:
    compiled = rules()
    history = [
        sourced("segment", timedelta(days=9), utm_campaign="a"),
        sourced("forms", timedelta(days=1), utm_campaign="b"),
    ]
    live = apply_events(fresh(), history, compiled, NOW, 100).state
    live.adjustments.append(Adjustment(id="a1", points=5, reason="x", by="unknown", at=1))
    rebuilt = rebuild(live, list(reversed(history)), compiled, NOW, 100)
    assert (rebuilt.first_touch, rebuilt.last_touch) == (live.first_touch, live.last_touch)
