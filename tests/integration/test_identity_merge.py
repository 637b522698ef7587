"""An anonymous visitor's history is merged into the known lead once identified: nothing lost or doubled."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_anonymous

from tests.support import RULES_EXAMPLE, Stack, explained_card

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
EMAIL = "jamie@northwind.io"


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(NOW)


def track(stack: Stack, message: dict[str, Any]) -> None:
    body = json.dumps({"timestamp": "2026-11-23T17:00:00Z", **message})
    response = stack.call_http("POST", "/track", body, {"content-type": "application/json"})
    assert response["statusCode"] == 202, response


def page(stack: Stack, message_id: str, path: str, anonymous_id: str = "anon-42") -> None:
    track(
        stack,
        {"type": "page", "messageId": message_id, "anonymousId": anonymous_id, "properties": {"path": path}},
    )


def identify(stack: Stack, message_id: str = "id-1") -> None:
    track(
        stack,
        {
            "type": "identify",
            "messageId": message_id,
            "anonymousId": "anon-42",
            "traits": {"email": EMAIL, "title": "VP Engineering", "industry": "Software"},
        },
    )


def test_identify_merges_the_anonymous_history_once_and_redirects_later_visits(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE)
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    for i, path in enumerate(["/pricing", "/pricing/teams", "/product/analytics", "/blog/a"]):
        page(stack, f"p{i}", path)
    stack.drain()
    anonymous = repo.get(lead_id_for_anonymous("anon-42"))
    assert anonymous is not None and anonymous.events_total == 4 and anonymous.email is None

    identify(stack)
    stack.drain()
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 5  # four anonymous page views + the identify, each once
    by_rule = {c.rule: c for c in explained_card(known).contributions}
    assert by_rule["pricing-view"].count == 2
    assert by_rule["title-executive"].points == 25  # the identify's traits are the profile
    assert lead_id_for_anonymous("anon-42") in known.merged_from
    history_ids = {e.event_id for e, _ in repo.history(known.lead_id)}
    assert {"p0", "p1", "p2", "p3"} <= {i.split(":")[-1] for i in history_ids}
    merged = repo.get(lead_id_for_anonymous("anon-42"))
    assert merged.merged_into == known.lead_id and merged.card is None

    # Redeliveries change nothing; a later anonymous visit lands on the known lead.
    identify(stack)
    page(stack, "p0", "/pricing")
    stack.drain()
    assert repo.get_by_email(EMAIL).events_total == 5
    page(stack, "p9", "/customers/acme")
    stack.drain()
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 6
    assert "case-study-view" in {c.rule for c in explained_card(known).contributions}
    assert repo.get(lead_id_for_anonymous("anon-42")).events_total == 4


def test_identify_before_any_anonymous_visit_is_just_an_identify(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE)
    identify(stack)
    stack.drain()
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 1 and known.merged_from == []
