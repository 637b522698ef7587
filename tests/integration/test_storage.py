"""Lead storage that stays small, cheap and writable whatever a lead's history or a stranger sends
(issue 12's done-when): counts-once across the dedupe memory's overflow and a midnight, a flood that
cannot freeze a lead, sharded hot-list pages that read like one index, rescore --all visiting every
lead once, and items written before bounded storage read with their score."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal import codec
from leadscore.dal.items import approx_size, to_item
from leadscore.dal.keys import LEAD_SK, lead_pk
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent, Identity, lead_id_for_email
from leadscore.rules.compiler import load_rules
from leadscore.scoring.engine import MAX_REMEMBERED, evaluate
from leadscore.scoring.state import LeadState, ScoreCard
from leadscore.services.scoring import score_batch

from tests.support import Stack, example_rules_json, run_sweep
from tools.localstack.events import sqs_event

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMAIL = "dana@northwind.io"
FLOOD = int(__import__("os").environ.get("LEADSCORE_FLOOD", "40000"))


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(T0)


def table(stack: Stack) -> str:
    return stack.env("ScorerFunction")["LEADS_TABLE"]


def views(n: int, start: datetime, prefix: str, email: str = EMAIL) -> list[CanonicalEvent]:
    return [
        CanonicalEvent(
            event_id=f"{prefix}-{i}",
            source="segment",
            type="page_view",
            occurred_at=start + timedelta(seconds=i * 4),
            identity=Identity(email=email),
            properties={"path": f"/blog/post-{i % 50}"},
        )
        for i in range(n)
    ]


def item_of(stack: Stack, lead_id: str) -> dict[str, Any]:
    response = stack.client("dynamodb").get_item(
        TableName=table(stack), Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": LEAD_SK}}
    )
    item: dict[str, Any] = response["Item"]
    return item


# --------------------------------------------------------------------------- counts once
def test_9000_events_over_two_days_then_the_first_day_again_count_9000(stack: Stack) -> None:
    rules = load_rules(example_rules_json())
    repo = LeadRepository(table(stack))
    day1, day2 = views(4_500, T0 - timedelta(days=1), "d1"), views(4_500, T0, "d2")
    for day, events in ((T0 - timedelta(days=1) + timedelta(hours=6), day1), (T0 + timedelta(hours=6), day2)):
        for start in range(0, len(events), 1_500):
            report = score_batch(repo, events[start : start + 1_500], rules, day, 100, 30)
            assert report.failures == {}
    later = T0 + timedelta(hours=7)
    for start in range(0, len(day1), 1_500):  # the first day redelivered, the next day
        report = score_batch(LeadRepository(table(stack)), day1[start : start + 1_500], rules, later, 100, 30)
        assert report.accepted == 0 and report.duplicates == len(day1[start : start + 1_500])
    state = LeadRepository(table(stack)).get_by_email(EMAIL)
    assert state is not None and state.events_total == 9_000
    assert state.remembered <= MAX_REMEMBERED and len(state.dd_pages) >= 1  # the overflow is in pages
    assert approx_size(item_of(stack, state.lead_id)) < 4_096


def test_an_event_retried_across_midnight_counts_once(stack: Stack) -> None:
    rules = load_rules(example_rules_json())
    repo = LeadRepository(table(stack))
    midnight = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    stamped = CanonicalEvent(  # 00:02 by the sender's clock, inside ingest's 5-minute future tolerance
        event_id="straddle-1",
        source="segment",
        type="page_view",
        occurred_at=midnight + timedelta(minutes=2),
        identity=Identity(email=EMAIL),
        properties={"path": "/pricing"},
    )
    first = score_batch(repo, [stamped], rules, midnight - timedelta(minutes=2), 100, 30)  # 23:58
    assert first.accepted == 1
    retried = score_batch(
        LeadRepository(table(stack)), [stamped], rules, midnight + timedelta(minutes=10), 100, 30
    )
    assert retried.accepted == 0 and retried.duplicates == 1
    state = repo.get_by_email(EMAIL)
    assert state is not None and state.events_total == 1
    assert state.activity["pricing-view"].n == 1


# --------------------------------------------------------------------------- a flood cannot freeze a lead
def _track_batch(messages: list[dict[str, Any]]) -> str:
    return json.dumps({"batch": messages})


def test_40000_same_day_track_events_leave_the_lead_writable_and_alerting(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stranger floods one email through the public /track route. Every event is kept and
    remembered (a redelivery of any of them counts nothing), the item stays small, and the real
    buyer's demo request is scored and alerts."""
    from leadscore.services import intake as ingest  # where the ingest handler queues what it accepted

    stack.upload_rules(example_rules_json())
    victim = "ceo@northwind.io"
    form = {
        "email": victim,
        "submission_id": "s1",
        "job_title": "CTO",
        "industry": "Software",
        "company_size": 800,
        "country": "US",
    }
    assert (
        stack.call_http("POST", "/forms", json.dumps(form), {"content-type": "application/json"})[
            "statusCode"
        ]
        == 202
    )
    stack.drain()
    messages = [
        {
            "type": "page",
            "messageId": f"flood-{i}",
            "userId": "x",
            "timestamp": (T0 - timedelta(seconds=i)).isoformat(),
            "context": {"traits": {"email": victim}},
            "properties": {"path": f"/p/{i}"},
        }
        for i in range(FLOOD)
    ]
    # Every message goes through the /track route (ingest's parsing and checks) and the scorer
    # handler, in batches of the template's BatchSize. Only the SQS transport between them is
    # short-cut: moto's queue costs O(queue length) per call, so 40,000 queued messages take an hour.
    queued: list[str] = []
    real_enqueue = ingest.enqueue  # type: ignore[attr-defined]
    monkeypatch.setattr(
        ingest, "enqueue", lambda events, url, **_: queued.extend(e.model_dump_json() for e in events)
    )
    batch_size = next(m.batch_size for m in stack.translation.mappings if m.function == "ScorerFunction")
    for start in range(0, len(messages), 1_000):  # 1,000 messages a request: ~170 KB, under the body limit
        response = stack.call_http(
            "POST",
            "/track",
            _track_batch(messages[start : start + 1_000]),
            {"content-type": "application/json"},
        )
        assert response["statusCode"] == 202, response
        while len(queued) >= batch_size or (queued and start + 1_000 >= len(messages)):
            chunk, queued[:] = queued[:batch_size], queued[batch_size:]
            records = [{"MessageId": f"m{start}-{i}", "Body": body} for i, body in enumerate(chunk)]
            result = stack.invoke("ScorerFunction", sqs_event(records, stack.arn("EventsQueue")))
            assert result["batchItemFailures"] == []
    monkeypatch.setattr(ingest, "enqueue", real_enqueue)  # the queue again, for what follows
    repo = LeadRepository(table(stack))
    flooded = repo.get_by_email(victim)
    assert flooded is not None and flooded.events_total == FLOOD + 1
    assert approx_size(item_of(stack, flooded.lead_id)) < 8_192  # bounded: far below 400 KB
    # A redelivery of an early flood event counts nothing (it is in a dedupe page).
    again = stack.call_http(
        "POST", "/track", _track_batch(messages[:10]), {"content-type": "application/json"}
    )
    assert again["statusCode"] == 202
    stack.drain()
    assert repo.get_by_email(victim).events_total == FLOOD + 1
    # The real demo request still counts, and sales hears of it.
    stack.inbox()
    demo = {"email": victim, "submission_id": "s2", "form": "Request a demo"}
    assert (
        stack.call_http("POST", "/forms", json.dumps(demo), {"content-type": "application/json"})[
            "statusCode"
        ]
        == 202
    )
    stack.drain()
    notes = stack.inbox()
    assert [json.loads(n["Message"])["kind"] for n in notes] == ["sales_ready"]


# --------------------------------------------------------------------------- sharded hot list
def _listed(email: str, score: float, tier: str) -> LeadState:
    card = ScoreCard(
        score=score, fit=score, activity=0, tier=tier, grade="A1", computed_at=int(T0.timestamp())
    )
    return LeadState(lead_id=lead_id_for_email(email), email=email, card=card, ver=1, updated_at=1)


def test_sharded_hot_list_pages_read_like_one_unsharded_index(stack: Stack) -> None:
    from leadscore.api.models import HotListQuery
    from leadscore.api.service import hot_list

    repo = LeadRepository(table(stack))
    states = [_listed(f"lead{i}@acme{i % 7}.com", 60 + (i * 37) % 97 + i / 1000, "warm") for i in range(60)]
    states += [_listed(f"hot{i}@acme.com", 100 + i, "sales_ready") for i in range(5)]
    for state in states:

        def replace(_: LeadState, new: LeadState = state) -> LeadState:
            return new

        repo.mutate(state.lead_id, replace)
    # Two items from before sharding (HOT#warm): still listed, in order.
    client = stack.client("dynamodb")
    for email, score in (("old1@legacy.com", 88.5), ("old2@legacy.com", 61.25)):
        old = _listed(email, score, "warm")
        item = to_item(old) | {"hot_pk": {"S": "HOT#warm"}, "score": {"N": str(score)}}
        client.put_item(TableName=table(stack), Item=item)
        states.append(old)
    assert len({i["hot_pk"]["S"] for i in client.scan(TableName=table(stack))["Items"] if "hot_pk" in i}) > 10
    expected = sorted(
        ((s.card.tier, s.card.score, s.email) for s in states if s.card),
        key=lambda t: (t[0] != "sales_ready", -t[1]),
    )
    seen: list[tuple[str, float, str]] = []
    cursor = None
    for _ in range(40):
        query = HotListQuery.model_validate({"limit": 7} | ({"cursor": cursor} if cursor else {}))
        page = hot_list(repo, query)
        assert len(page["leads"]) <= 7
        seen += [(r["tier"], r["score"], r["email"]) for r in page["leads"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected  # every lead once, highest first, across pages, tiers and shards


# --------------------------------------------------------------------------- rescore --all
def test_rescore_all_visits_every_lead_once_and_can_be_followed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadscore.services import sweep as sweep_service

    from tools.cli import main

    stack.upload_rules(example_rules_json())
    for i in range(25):
        body = {"email": f"r{i}@northwind.io", "submission_id": f"r{i}", "job_title": "CTO"}
        stack.call_http("POST", "/forms", json.dumps(body), {"content-type": "application/json"})
    stack.drain()
    visits: list[str] = []
    original = sweep_service.rescore_from_history

    def counted(repo: Any, lead_id: str, *args: Any, **kwargs: Any) -> Any:
        visits.append(lead_id)
        return original(repo, lead_id, *args, **kwargs)

    monkeypatch.setattr(sweep_service, "rescore_from_history", counted)
    monkeypatch.setattr(
        "leadscore.dal.leads.LeadRepository.scan_segment.__defaults__", (None, 3)
    )  # small pages
    checks = iter(range(10**6))  # every third check of the time left says it is low: continuations
    monkeypatch.setattr(
        "tools.localstack.context.LambdaContext.get_remaining_time_in_millis",
        lambda self: 1_000 if next(checks) % 3 == 2 else 60_000,
    )
    assert main(["leads", "rescore", "--all", "--stack", "leadscore", "--segments", "4"]) == 0
    out = capsys.readouterr().out
    import re

    job = re.search(r"^job (r\S+): 4 segments queued", out, re.M).group(1)
    assert "0/4 segments done" in out
    stack.drain()
    assert sorted(visits) == sorted({lead_id_for_email(f"r{i}@northwind.io") for i in range(25)})  # once each
    assert main(["leads", "rescore", "--status", job, "--stack", "leadscore"]) == 0
    assert "4/4 segments done, 25 leads visited, 0 rescored, 0 failed" in capsys.readouterr().out
    assert stack.inbox() == []  # a rescore raises no alert
    assert run_sweep(stack)["failed"] == 0


# --------------------------------------------------------------------------- migration
def _old_format_item(state_json: dict[str, Any], ver: int) -> dict[str, Any]:
    """A lead item as the storage before bounded items wrote it: format-2 blob of the old layout."""
    import zstandard

    compressor = zstandard.ZstdCompressor(
        dict_data=codec._zstd_dictionary(), write_checksum=False, write_dict_id=False
    )
    blob = b"\x02" + compressor.compress(json.dumps(state_json).encode())
    lead_id = state_json["lead_id"]
    card = state_json["card"]
    return {
        "pk": {"S": lead_pk(lead_id)},
        "sk": {"S": LEAD_SK},
        "ver": {"N": str(ver)},
        "st": {"B": blob},
        "hot_pk": {"S": f"HOT#{card['tier']}"},
        "score": {"N": str(card["score"])},
        "due_pk": {"S": "DUE"},
        "due_at": {"N": str(card["due_at"])},
    }


def test_an_item_in_the_old_format_is_read_keeps_its_score_and_its_history(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    rules = load_rules(example_rules_json())
    lead_id = lead_id_for_email(EMAIL)
    day = int(T0.timestamp()) // 86_400
    old = {  # what leadscore.scoring.state.LeadState dumped before bounded items (format 2)
        "lead_id": lead_id,
        "email": EMAIL,
        "anonymous_ids": [],
        "profile": {"job_title": "CTO", "industry": "Software", "company_size": 800.0, "country": "US"},
        "counters": {"pricing-view": {str(day - 20): 3, str(day - 2): 2}, "demo-request": {str(day - 1): 1}},
        "totals": {"pricing-view": 5, "demo-request": 1},
        "last_seen": {"pricing-view": (day - 2) * 86_400 + 3600, "demo-request": (day - 1) * 86_400},
        "seen": {str(day - 1): ["0011223344556677"], str(day - 2): ["8899aabbccddeeff"]},
        "delivered": {"msg-1": (day - 1) * 86_400},
        "recent": [],
        "events_total": 6,
        "created_at": (day - 20) * 86_400,
        "updated_at": (day - 1) * 86_400,
        "card": None,
        "armed": {"sales_ready": False},
        "last_alert_at": {"sales_ready": (day - 1) * 86_400},
        "merged_into": None,
        "merged_from": [],
        "adjustments": [],
        "outcomes": [],
    }
    reference = evaluate(LeadState.model_validate({**old, "counters": {}}), rules, T0, 100)  # fit only
    # The old engine's card: evaluate the old counters as the old engine did (per-day decay, caps).
    from leadscore.scoring.engine import _prune

    converted = LeadState.model_validate({**old, "card": None})
    converted.legacy_counters = old["counters"]  # type: ignore[assignment]
    _prune(converted, rules, int(T0.timestamp()))
    old_card = evaluate(converted, rules, T0, 100)
    assert old_card.score > reference.score
    old["card"] = old_card.model_dump() | {"contributions": [], "reasons": []}
    client = stack.client("dynamodb")
    client.put_item(TableName=table(stack), Item=_old_format_item(old, ver=6))
    history = {
        "note": None,
        "ttl": int(T0.timestamp()) + 86_400,
        "event": {
            "schema_version": 1,
            "event_id": "h1",
            "source": "forms",
            "type": "form_submit",
            "name": "Request a demo",
            "occurred_at": "2026-11-22T09:00:00Z",
            "identity": {"email": EMAIL},
        },
    }
    client.put_item(
        TableName=table(stack),
        Item={
            "pk": {"S": lead_pk(lead_id)},
            "sk": {"S": "EV#000000000005#0000#abc"},
            "ev": {
                "B": b"\x02"
                + __import__("zstandard")
                .ZstdCompressor(dict_data=codec._zstd_dictionary(), write_checksum=False, write_dict_id=False)
                .compress(json.dumps([history]).encode())
            },
            "ttl": {"N": str(history["ttl"])},
        },
    )
    repo = LeadRepository(table(stack))
    read = repo.get(lead_id)
    assert read is not None and read.card is not None and read.card.score == old_card.score
    assert evaluate(read, rules, T0, 100).score == old_card.score  # legacy counters evaluate as before
    assert read.activity["pricing-view"].n == 5 and read.events_total == 6
    assert "0011223344556677" in {d for ids in read.seen.values() for d in ids}  # still remembered
    # It is on the hot list (unsharded key) and takes new events; the rewrite is the new format.
    status = stack.call_http(
        "GET",
        "/leads",
        headers={"authorization": "AWS4-HMAC-SHA256 Credential=t/x"},
        query={"tier": "sales_ready,warm"},
    )
    assert EMAIL in status["body"]
    clock.pin(T0 + timedelta(minutes=5))
    form = {"email": EMAIL, "submission_id": "new-1", "form": "Download the ROI guide"}
    stack.call_http("POST", "/forms", json.dumps(form), {"content-type": "application/json"})
    stack.drain()
    after = repo.get(lead_id)
    assert after is not None and after.card is not None and after.events_total == 7
    assert after.card.score > old_card.score and after.legacy_counters == {}
    assert (
        item_of(stack, lead_id)["st"]["B"][0] == 3 and item_of(stack, lead_id)["hot_pk"]["S"].count("#") == 2
    )
    assert {e.event_id for e, _ in repo.history(lead_id)} >= {"h1"}
