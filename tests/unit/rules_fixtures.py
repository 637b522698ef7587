"""Small rules documents and event builders shared by the unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from leadscore.models.event import CanonicalEvent, Identity, Profile
from leadscore.rules.compiler import CompiledRules, load_rules

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EMAIL = "dana@northwind.io"


def doc(**model: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "thresholds": {"hysteresis": 20, "tiers": [{"name": "warm", "min": 60}], "alert_cooldown_hours": 0},
        "decay": {"half_life_days": 30},
        "surge": None,
        "fit": [
            {
                "id": "vp",
                "description": "VP title",
                "when": {"field": "job_title", "contains": "vp"},
                "points": 30,
            },
            {
                "id": "competitor",
                "description": "Works at a competitor",
                "when": {"field": "email", "in_list": "competitors"},
                "points": -50,
                "disqualify": True,
            },
        ],
        "activity": [
            {
                "id": "pricing",
                "description": "Viewed pricing",
                "when": {
                    "all": [
                        {"field": "type", "equals": "page_view"},
                        {"field": "properties.path", "starts_with": "/pricing"},
                    ]
                },
                "points": 10,
                "category": "buying",
                "cap": {"per_window": 3, "window_days": 7, "max_points": 50},
            },
            {
                "id": "demo",
                "description": "Requested a demo",
                "when": {"field": "name", "contains": "demo"},
                "points": 40,
                "category": "buying",
            },
            {
                "id": "click",
                "description": "Clicked an email",
                "when": {"field": "type", "equals": "email_click"},
                "points": 5,
            },
            {
                "id": "unsub",
                "description": "Unsubscribed",
                "when": {"field": "type", "equals": "email_unsubscribe"},
                "points": -30,
                "decays": False,
            },
        ],
    }
    base.update(model)
    return {"lists": {"competitors": ["rival.com"]}, "models": {"lead": base}}


def rules(**model: Any) -> CompiledRules:
    return load_rules(json.dumps(doc(**model)))


_counter = iter(range(10**9))


def event(
    type: str = "page_view",
    *,
    ago: timedelta = timedelta(hours=1),
    email: str = EMAIL,
    event_id: str | None = None,
    name: str | None = None,
    profile: dict[str, Any] | None = None,
    **properties: Any,
) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=event_id or f"ev-{next(_counter)}",
        source="test",
        type=type,
        name=name,
        occurred_at=NOW - ago,
        identity=Identity(email=email),
        profile=Profile(**profile) if profile else None,
        properties=properties,
    )


def pricing(ago: timedelta = timedelta(hours=1), **kw: Any) -> CanonicalEvent:
    return event("page_view", ago=ago, path="/pricing", **kw)
