"""The sweep (SweeperFunction on its schedule, fanned out to SweepWorkerFunction): tiers cool with no
new events, the hot list follows, the sales-ready alert re-arms so a later crossing alerts again,
late events are counted, every due lead is visited exactly once, and nothing is scanned."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.scoring.state import LeadState, ScoreCard

from tests.support import Stack, example_rules_json, load_event, run_sweep

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DANA = "dana.reyes@northwindlabs.io"
PROFILE = {"job_title": "CTO", "company_size": 800, "industry": "Fintech", "country": "US"}
SIGNED = {"authorization": "AWS4-HMAC-SHA256 Credential=sweeper-test/20261123/us-east-1/execute-api/x"}


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(SAMPLE_TIME)


@pytest.fixture
def dana(stack: Stack) -> Stack:
    """Dana crossed into sales_ready from the sample requests; her alert was sent."""
    stack.upload_rules(example_rules_json())
    for name in ("http-01-form-json", "http-03-track-page", "http-04-track-batch"):
        assert stack.invoke("IngestFunction", load_event(name))["statusCode"] == 202
    stack.drain()
    assert len(stack.inbox()) == 1
    return stack


def lead(stack: Stack) -> LeadState:
    state = LeadRepository(stack.env("SweepWorkerFunction")["LEADS_TABLE"]).get_by_email(DANA)
    assert state is not None and state.card is not None
    return state


def _card(state: LeadState) -> ScoreCard:
    assert state.card is not None
    return state.card


def _due(state: LeadState) -> int:
    due = _card(state).due_at
    assert due is not None
    return due


def sweep(stack: Stack, at: datetime) -> dict[str, Any]:
    clock.pin(at)
    return run_sweep(stack)


def hot(stack: Stack, tier: str) -> list[str]:
    response = stack.call_http("GET", "/leads", headers=SIGNED, query={"tier": tier})
    assert response["statusCode"] == 200, response
    return [row["email"] for row in json.loads(response["body"])["leads"]]


def test_a_quiet_lead_cools_down_moves_in_the_hot_list_and_re_arms(dana: Stack) -> None:
    start = lead(dana)
    assert (_card(start).tier, start.armed.get("sales_ready")) == ("sales_ready", False)
    assert _card(start).due_at is not None
    assert hot(dana, "sales_ready") == [DANA]

    # Before the due time nothing is due: the sweep reads the index and writes nothing.
    early = sweep(dana, SAMPLE_TIME + timedelta(days=7))
    assert early["due"] == 0 and early["rescored"] == 0
    assert lead(dana).ver == start.ver

    # At the due time decay alone has pulled her below the threshold: warm, not yet re-armed.
    first = sweep(dana, datetime.fromtimestamp(_due(start), UTC) + timedelta(hours=1))
    assert (first["due"], first["rescored"], first["moves"]) == (1, 1, {"sales_ready->warm": 1})
    cooled = lead(dana)
    assert _card(cooled).tier == "warm" and _card(cooled).score < _card(start).score
    assert cooled.events_total == start.events_total  # no new events: decay only
    assert cooled.armed.get("sales_ready") is False  # still above the re-arm level (threshold - 25)
    assert _card(cooled).due_at is not None and _due(cooled) > _due(start)
    assert hot(dana, "sales_ready") == []
    assert hot(dana, "warm") == [DANA]
    assert dana.inbox() == []  # cooling down is not an alert

    # Sweeping again at the same time finds nothing due.
    again = sweep(dana, datetime.fromtimestamp(_due(start), UTC) + timedelta(hours=2))
    assert again["due"] == 0

    # Next due time: below the re-arm level, the alert re-arms.
    second_at = datetime.fromtimestamp(_due(cooled), UTC) + timedelta(hours=1)
    second = sweep(dana, second_at)
    assert second["rescored"] == 1
    rearmed = lead(dana)
    assert _card(rearmed).score < _card(rearmed).threshold - 25
    assert rearmed.armed.get("sales_ready") is True

    # A new burst of buying signals crosses the threshold again: a second alert.
    for n, name in enumerate(("Request a demo", "Request a quote", "Talk to sales: demo")):
        event = dana.http_event(
            "POST",
            "/forms",
            json.dumps({"email": DANA, "form": name, "submission_id": f"again-{n}"}),
            {"content-type": "application/json"},
        )
        event["requestContext"]["timeEpoch"] = int(second_at.timestamp() * 1000)
        assert dana.invoke("IngestFunction", event)["statusCode"] == 202
    dana.drain()
    hot_again = lead(dana)
    assert _card(hot_again).tier == "sales_ready", _card(hot_again).reasons
    notes = dana.inbox()
    assert len(notes) == 1
    assert notes[0]["MessageAttributes"]["tier"]["Value"] == "sales_ready"
    assert hot(dana, "sales_ready") == [DANA]


def test_without_the_sweep_the_stored_tier_stays_stale(dana: Stack) -> None:
    """The control for the test above: the tier changes because of the sweep, not by itself."""
    start = lead(dana)
    assert _card(start).due_at is not None
    clock.pin(datetime.fromtimestamp(_due(start), UTC) + timedelta(days=1))
    assert _card(lead(dana)).tier == "sales_ready"
    assert hot(dana, "sales_ready") == [DANA]


def test_the_sweep_queries_the_due_index_and_never_scans(
    dana: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    for n in range(3):  # a few more leads, due at various times
        body = json.dumps(
            {"email": f"x{n}@northwindlabs.io", "form": "Request a demo", "submission_id": f"x{n}", **PROFILE}
        )
        assert (
            dana.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202
        )
    dana.drain()
    calls: list[tuple[str, dict[str, Any]]] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    result = sweep(dana, SAMPLE_TIME + timedelta(days=400))
    assert result["due"] == 4 and result["rescored"] == 4 and result["failed"] == 0
    operations = [op for op, _ in calls]
    assert "Scan" not in operations
    queries = [p for op, p in calls if op == "Query" and p.get("IndexName")]
    assert queries and all(p.get("IndexName") == "due" for p in queries)
    assert all("due_at <= :" in p["KeyConditionExpression"] for p in queries)
    shards = {p["ExpressionAttributeValues"][":d"]["S"] for p in queries}
    assert len(shards) == 17  # each of the 16 shards, and the partition of items from before sharding
    allowed = {"GetObject", "Query", "GetItem", "PutItem", "BatchWriteItem", "SendMessageBatch"}
    # the local stack's pump of the queue and the stream (Lambda's pollers in AWS)
    allowed |= {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility"}
    allowed |= {"GetQueueUrl", "GetQueueAttributes", "GetRecords", "GetShardIterator", "DescribeStream"}
    # the notifier, woken by the rescores, puts the tier changes on the lead events bus (docs/events.md)
    allowed |= {"UpdateItem", "PutEvents"}
    assert {"Query", "GetItem", "PutItem"} <= set(operations) <= allowed
    # A rescore may move a lead's journal out to a history item, when that saves a write unit.
    moved = [
        put["PutRequest"]["Item"]["sk"]["S"]
        for op, p in calls
        if op == "BatchWriteItem"
        for puts in p["RequestItems"].values()
        for put in puts
    ]
    assert all(sk.startswith("EV#") for sk in moved)


def _more_leads(stack: Stack, n: int, prefix: str) -> None:
    for i in range(n):
        body = json.dumps(
            {
                "email": f"{prefix}{i}@northwindlabs.io",
                "form": "Request a demo",
                "submission_id": f"{prefix}{i}",
            }
            | PROFILE
        )
        assert (
            stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202
        )
    stack.drain()


def test_the_due_index_is_paged_per_shard(dana: Stack) -> None:
    from leadscore.dal.keys import due_shards

    _more_leads(dana, 5, "p")
    repo = LeadRepository(dana.env("SweepWorkerFunction")["LEADS_TABLE"])
    later = int((SAMPLE_TIME + timedelta(days=400)).timestamp())
    ids = [lead for shard in due_shards() for lead, _ in repo.due(shard, later, page_size=2)]
    assert len(ids) == len(set(ids)) == 6
    assert all(len(i) == 32 and i.startswith("e") for i in ids)
    assert [lead for shard in due_shards() for lead, _ in repo.due(shard, int(SAMPLE_TIME.timestamp()))] == []


def test_every_due_lead_is_visited_exactly_once_when_workers_run_out_of_time(
    dana: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker low on time sends the rest of its shard on as a new job, continuing after the last
    lead it visited: every due lead is visited once, none twice, none skipped."""
    from leadscore.services import sweep as sweep_service

    _more_leads(dana, 30, "q")
    visits: list[str] = []
    original = sweep_service.visit_lead

    def counted(repo: Any, lead_id: str, *args: Any) -> None:
        visits.append(lead_id)
        original(repo, lead_id, *args)

    monkeypatch.setattr(sweep_service, "visit_lead", counted)
    budget = iter(range(10**6))
    monkeypatch.setattr(  # every other check of the time left says it is low: constant continuations
        "tools.localstack.context.LambdaContext.get_remaining_time_in_millis",
        lambda self: 60_000 if next(budget) % 2 else 1_000,
    )
    result = sweep(dana, SAMPLE_TIME + timedelta(days=400))
    assert result["due"] == 31 and len(visits) == 31 == len(set(visits))
    assert result["jobs"] > 17  # the shards' jobs were continued, several times
    assert result["rescored"] == 31 and result["failed"] == 0
    assert sweep(dana, SAMPLE_TIME + timedelta(days=400, hours=1))["due"] == 0  # and nothing is left due


def test_late_events_are_counted_by_the_sweep_rebuilding_the_lead(dana: Stack) -> None:
    start = lead(dana)
    old = (SAMPLE_TIME - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "type": "track",
        "event": "Webinar Registered",
        "userId": "u",
        "messageId": "late-1",
        "timestamp": old,
        "context": {"traits": {"email": DANA}},
    }
    response = dana.call_http("POST", "/track", json.dumps(body), {"content-type": "application/json"})
    assert response["statusCode"] == 202, response
    dana.drain()
    waiting = lead(dana)
    assert waiting.rebuild_at is not None and waiting.events_total == start.events_total + 1
    assert _card(waiting).score == _card(start).score  # kept, not yet counted
    result = sweep(dana, SAMPLE_TIME + timedelta(minutes=10))
    assert result["rebuilt"] == 1
    rebuilt = lead(dana)
    assert rebuilt.rebuild_at is None and _card(rebuilt).score > _card(start).score
    assert dana.inbox() == []  # a rebuild raises no alert
