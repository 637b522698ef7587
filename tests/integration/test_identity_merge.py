"""An anonymous visitor's history is merged into the known lead once identified: nothing lost or doubled."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_anonymous

from tests.support import Stack, example_rules_json, explained_card, pinned_clock_at

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
EMAIL = "jamie@northwind.io"


pinned_clock = pinned_clock_at(NOW)


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
    stack.upload_rules(example_rules_json())
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


def test_identify_before_any_anonymous_visit_links_the_later_visits(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    identify(stack)
    stack.drain()
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 1 and known.merged_from == []
    # The identify marked the visitor (it had never visited): its later visits land on the known lead.
    marker = repo.get(lead_id_for_anonymous("anon-42"))
    assert marker is not None and marker.merged_into == known.lead_id
    page(stack, "p1", "/pricing")
    page(stack, "p2", "/pricing/teams")
    stack.drain()
    page(stack, "p1", "/pricing")  # a redelivery after the redirect counts nothing
    stack.drain()
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 3
    assert {c.rule: c.count for c in explained_card(known).contributions}["pricing-view"] == 2
    assert repo.get(lead_id_for_anonymous("anon-42")).events_total == 0


def test_identify_and_visits_in_the_same_batch_end_on_one_lead(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    page(stack, "p1", "/pricing")
    identify(stack)
    page(stack, "p2", "/pricing/teams")
    batches = [r for r in stack.drain() if r.function == "ScorerFunction"]
    assert batches[0].records == 3  # one batch holds the visit, the identify and the visit
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 3
    assert {c.rule: c.count for c in explained_card(known).contributions}["pricing-view"] == 2
    anonymous = repo.get(lead_id_for_anonymous("anon-42"))
    assert anonymous is None or (anonymous.merged_into == known.lead_id and anonymous.card is None)
    page(stack, "p3", "/product/analytics")
    stack.drain()
    assert repo.get_by_email(EMAIL).events_total == 4


@pytest.mark.parametrize("moment", ["before_the_mark", "after_the_history_read"])
def test_a_visit_written_while_the_merge_runs_is_counted_once_on_the_known_lead(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """Another container writes an anonymous visit in the middle of the merge: between the merge's
    read of the visitor and its mark (the mark's conditional write then loses and retries), or
    after the merge has read the history it folds in (the visit, seeing the mark, is redirected)."""
    from leadscore.services import scoring

    stack.upload_rules(example_rules_json())
    page(stack, "p0", "/pricing")
    stack.drain()
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    real_last_state, real_history = scoring._last_state, LeadRepository.history
    fired: list[str] = []

    def concurrent_visit() -> None:
        if not fired:
            fired.append(moment)
            page(stack, "p1", "/pricing/teams")
            stack.drain()  # a second scorer invocation, nested inside the first

    def last_state(repo_: Any, lead_id: str, change: Any) -> Any:
        if moment == "before_the_mark" and lead_id == lead_id_for_anonymous("anon-42"):

            def racing(state: Any) -> Any:
                concurrent_visit()  # lands after this read, before this write
                return change(state)

            return real_last_state(repo_, lead_id, racing)
        return real_last_state(repo_, lead_id, change)

    consistent: list[bool] = []

    def history(self: Any, lead_id: str, **kwargs: Any) -> Any:
        if lead_id == lead_id_for_anonymous("anon-42"):
            consistent.append(kwargs.get("consistent", False))
            read = real_history(self, lead_id, **kwargs)
            if moment == "after_the_history_read":
                concurrent_visit()  # the merge has read the history it will fold in
            return read
        return real_history(self, lead_id, **kwargs)

    monkeypatch.setattr(scoring, "_last_state", last_state)
    monkeypatch.setattr(LeadRepository, "history", history)
    identify(stack)
    stack.drain()
    assert fired == [moment]
    assert consistent == [True]  # the merge's history read is strongly consistent (moto cannot lag)
    known = repo.get_by_email(EMAIL)
    assert known.events_total == 3  # p0 (merged), p1 (the concurrent visit), the identify
    assert {c.rule: c.count for c in explained_card(known).contributions}["pricing-view"] == 2
    history_ids = {e.event_id.split(":")[-1] for e, _ in real_history(repo, known.lead_id)}
    assert {"p0", "p1"} <= history_ids
