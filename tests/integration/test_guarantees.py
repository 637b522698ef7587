"""Exactly once under retries, concurrency and outages. Each test fails if its guarantee breaks."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent, Identity, Profile
from leadscore.rules.compiler import load_rules
from leadscore.scoring.engine import apply_events
from leadscore.scoring.state import LeadState

from tests.support import EVENTS, ROOT, TEMPLATE, Stack, example_rules_json
from tests.support.faults import Faults
from tools.local.replay import resign_sendgrid

SAMPLE_TIME = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
PUBLIC_KEY = (EVENTS / "keys" / "sendgrid-test-public.b64").read_text().strip()
SAMPLES = sorted(p for p in EVENTS.glob("http-*.json") if not p.name.startswith("http-bad-"))


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(SAMPLE_TIME)


def new_stack(name: str = "leadscore", **env: dict[str, str]) -> Stack:
    return Stack.create(
        TEMPLATE, name=name, parameters={"SendgridWebhookPublicKeys": PUBLIC_KEY}, env_overrides=env
    )


def sample(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    resign_sendgrid(event, ROOT)
    return event


def table(stack: Stack) -> str:
    return stack.env("ScorerFunction")["LEADS_TABLE"]


def snapshot(stack: Stack) -> dict[str, Any]:
    """Every lead's facts and score, its history ids, and the alerts sent: what must not change."""
    repo = LeadRepository(table(stack))
    out: dict[str, Any] = {}
    for state in repo.all_leads():
        if state.card is None:
            continue
        history = sorted(e.event_id for e, _ in repo.history(state.lead_id))
        out[state.email or state.lead_id] = {
            "score": state.card.score,
            "tier": state.card.tier,
            "activity": {rule: facts.model_dump() for rule, facts in state.activity.items()},
            "events_total": state.events_total,
            "history": history,
            "alerts": sorted(state.last_alert_at),  # kinds alerted (sent ones leave the outbox)
        }
    return out


def subjects(stack: Stack) -> list[tuple[str, str]]:
    """Which alerts were sent, to whom. (Their text shows the score at the moment of crossing,
    which depends on the order events arrive in, so it is not compared.)"""
    out = []
    for note in stack.inbox():
        alert = json.loads(note["Message"])
        out.append((alert["kind"], alert["lead"]["email"] if "lead" in alert else alert["account"]["domain"]))
    return sorted(out)


def make_visible(stack: Stack, queue: str = "EventsQueue") -> None:
    sqs = stack.client("sqs")
    url = stack.queue_url(queue)
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    ):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)


# --------------------------------------------------------------------------- 1. idempotent scoring
def test_every_sample_delivered_twice_in_any_order_and_batching_changes_nothing(aws: None) -> None:
    once = new_stack()
    once.upload_rules(example_rules_json())
    for path in SAMPLES:
        assert once.invoke("IngestFunction", sample(path))["statusCode"] == 202, path.name
    once.drain()
    expected, expected_alerts = snapshot(once), subjects(once)
    assert expected_alerts, "the samples must produce at least one alert for this test to mean anything"

    twice = new_stack("twice")
    twice.upload_rules(example_rules_json())
    deliveries = [*SAMPLES, *SAMPLES]
    random.Random(7).shuffle(deliveries)
    for i, path in enumerate(deliveries):
        assert twice.invoke("IngestFunction", sample(path))["statusCode"] == 202
        if i % 3 == 2:
            twice.drain()  # across batches, not only within one
    twice.drain()
    assert snapshot(twice) == expected
    assert subjects(twice) == expected_alerts

    # A redelivery days later (SendGrid retries for 72 h) is still recognised.
    clock.pin(SAMPLE_TIME + timedelta(days=3))
    for path in SAMPLES:
        twice.invoke("IngestFunction", sample(path))
    twice.drain()
    later = snapshot(twice)
    for email, lead in expected.items():
        assert later[email]["events_total"] == lead["events_total"], email
        assert later[email]["history"] == lead["history"], email
        assert later[email]["activity"] == lead["activity"], email
    assert twice.inbox() == []


# --------------------------------------------------------------------------- 2 + 3. concurrency
def _events(email: str, n: int, kind: str = "page_view") -> list[CanonicalEvent]:
    return [
        CanonicalEvent(
            event_id=f"{email}-{kind}-{i}",
            source="test",
            type=kind,
            name="Request a demo" if kind == "form_submit" else None,
            occurred_at=SAMPLE_TIME - timedelta(minutes=i),
            identity=Identity(email=email),
            profile=Profile(job_title="CTO", industry="Software", company_size=800, country="US")
            if i == 0
            else None,
            properties={"path": f"/blog/post-{i}"} if kind == "page_view" else {},
        )
        for i in range(n)
    ]


def _hammer(stack: Stack, batches: list[list[CanonicalEvent]], writers: int = 8) -> list[BaseException]:
    """Score ``batches`` with ``writers`` threads, each its own 'container' (repository and cache)."""
    from leadscore.services.scoring import score_batch

    rules = load_rules(example_rules_json())
    errors: list[BaseException] = []
    work = list(batches)
    lock = threading.Lock()

    def run() -> None:
        repo = LeadRepository(table(stack))
        while True:
            with lock:
                if not work:
                    return
                batch = work.pop()
            report = score_batch(repo, batch, rules, SAMPLE_TIME, 100, 30)
            errors.extend(report.failures.values())

    threads = [threading.Thread(target=run) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.slow
def test_no_lost_updates_with_8_concurrent_writers_against_moto_server(
    moto_server: str, atomic_moto: None
) -> None:
    stack = Stack.create(TEMPLATE, endpoint_url=moto_server)
    email = "busy@northwind.io"
    rules = load_rules(example_rules_json())
    events = _events(email, 60) + _events(email, 3, "form_submit")
    rounds = 4
    for r in range(rounds):
        chunk = events[r::rounds]
        batches = [chunk[i::8] for i in range(8)]  # 8 writers on one lead at once
        assert _hammer(stack, batches) == []
    state = LeadRepository(table(stack)).get_by_email(email)
    expected = apply_events(LeadState(lead_id=state.lead_id), events, rules, SAMPLE_TIME, 100).after
    assert state.events_total == len(events)
    assert state.card.score == expected.score
    expected_state = apply_events(LeadState(lead_id=state.lead_id), events, rules, SAMPLE_TIME, 100).state
    assert state.activity == expected_state.activity
    # Together the writers crossed the threshold exactly once.
    assert [a.kind for a in state.outbox.values()] == ["sales_ready"]


def test_concurrent_writers_that_cross_together_alert_once_in_process(
    stack: Stack, atomic_moto: None
) -> None:
    email = "race@northwind.io"
    events = _events(email, 30) + _events(email, 2, "form_submit")
    assert _hammer(stack, [events[i::8] for i in range(8)]) == []
    stack.drain()
    state = LeadRepository(table(stack)).get_by_email(email)
    assert state.card.tier == "sales_ready"
    assert len(stack.inbox()) == 1
    assert state.events_total == len(events)


def _form(stack: Stack, email: str, sid: str, **fields: Any) -> None:
    body = json.dumps({"email": email, "submission_id": sid, **fields})
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202


def test_dynamodb_throttling_is_retried_with_backoff_and_counts_once(stack: Stack, faults: Faults) -> None:
    stack.upload_rules(example_rules_json())
    _form(stack, "t@northwind.io", "t1", job_title="CTO")
    faults.fail("PutItem", 2, 400, "ProvisionedThroughputExceededException")
    stack.drain()
    state = LeadRepository(table(stack)).get_by_email("t@northwind.io")
    assert state.events_total == 1
    assert faults.calls["PutItem"] >= 3  # two throttled attempts, then success: botocore retried
    assert len(faults.delays) == 2 and len(set(faults.delays)) == 2  # backed off twice, with jitter

    # Throttled beyond the retry budget: the batch item fails, SQS redelivers, it counts once.
    _form(stack, "t@northwind.io", "t2", form="Request a demo")
    faults.fail("PutItem", 6, 400, "ProvisionedThroughputExceededException")  # > 1 try + 5 retries
    results = stack.drain(max_rounds=1)
    assert any(r.failed for r in results)
    make_visible(stack)
    stack.drain()
    state = LeadRepository(table(stack)).get_by_email("t@northwind.io")
    assert state.events_total == 2


def sweep(stack: Stack) -> None:
    """One run of the sweep schedule: the planner queues a job per shard, the workers run them."""
    stack.invoke("SweeperFunction", {"source": "aws.events", "detail-type": "Scheduled Event"})
    stack.drain()


def test_sns_outage_delivers_the_alert_once_when_sns_is_back(stack: Stack, faults: Faults) -> None:
    stack.upload_rules(example_rules_json())
    faults.fail("Publish", 1000, 500, "InternalError")  # SNS is down until told otherwise
    _form(stack, "s@northwind.io", "s1", job_title="CTO", industry="Software", company_size=800, country="US")
    _form(stack, "s@northwind.io", "s2", form="Request a demo")
    stack.drain(max_rounds=6)
    assert stack.inbox() == []
    published = faults.calls.get("Publish", 0)
    assert published >= 1
    state = LeadRepository(table(stack)).get_by_email("s@northwind.io")
    assert [a.status for a in state.outbox.values()] == ["pending"]  # not lost: still in the outbox
    assert state.outbox["sales_ready-1"].attempts == 1  # backing off: the stream does not loop
    stack.drain()
    assert faults.calls.get("Publish", 0) == published  # no retry through item rewrites
    for hours in (1, 2, 3):  # a long outage: the sweep retries, backing off further each time
        clock.pin(SAMPLE_TIME + timedelta(hours=hours))
        sweep(stack)
    assert stack.inbox() == []
    faults.plans["Publish"] = []  # SNS is back
    clock.pin(SAMPLE_TIME + timedelta(hours=5))
    sweep(stack)
    assert len(stack.inbox()) == 1
    stack.drain()
    clock.pin(SAMPLE_TIME + timedelta(hours=6))
    sweep(stack)
    assert stack.inbox() == []  # and not twice
    state = LeadRepository(table(stack)).get_by_email("s@northwind.io")
    assert state.pending_alerts == [] and "sales_ready" in state.last_alert_at  # sent, then pruned


def test_s3_unavailable_during_refresh_keeps_scoring_on_the_last_good_rules(
    aws: None, faults: Faults
) -> None:
    stack = new_stack(ScorerFunction={"RULES_REFRESH_SECONDS": "1"})
    stack.upload_rules(example_rules_json())
    _form(stack, "a@northwind.io", "a1", job_title="CTO")
    stack.drain()
    import time

    time.sleep(1.1)
    faults.fail("GetObject", 20, 503, "SlowDown")
    _form(stack, "b@northwind.io", "b1", job_title="CTO")
    stack.drain()
    state = LeadRepository(table(stack)).get_by_email("b@northwind.io")
    assert state is not None and state.card.fit == 25


def test_timeout_mid_batch_leaves_the_rest_for_a_retry_and_counts_each_once(stack: Stack) -> None:
    from tools.localstack.context import LambdaContext

    stack.upload_rules(example_rules_json())
    emails = [f"lead{i}@northwind.io" for i in range(6)]
    for i, email in enumerate(emails):
        _form(stack, email, f"x{i}", job_title="CTO")
    sqs = stack.client("sqs")
    url = stack.queue_url("EventsQueue")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    from tools.localstack.events import sqs_event

    event = sqs_event(messages, stack.arn("EventsQueue"))
    calls = iter([30_000, 30_000, 30_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000])
    context = stack.context("ScorerFunction")
    context.get_remaining_time_in_millis = lambda: next(calls, 1_000)  # type: ignore[method-assign]
    response = stack.invoke("ScorerFunction", event, context)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert 0 < len(failed) < len(messages)
    for m in messages:  # what Lambda does with a partial batch response
        if m["MessageId"] in failed:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    stack.drain()
    repo = LeadRepository(table(stack))
    assert [repo.get_by_email(e).events_total for e in emails] == [1] * 6
    assert isinstance(LambdaContext, type)


def test_history_is_in_the_lead_write_and_a_crash_after_moving_it_loses_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History rides in the lead item's journal (same atomic write). When the journal moves to a
    history item, that item is written first: dying before the lead write counts nothing twice and
    loses no history."""
    from leadscore.dal import items as lead_items

    stack.upload_rules(example_rules_json())
    email = "c@northwind.io"
    _form(stack, email, "c1", job_title="CTO")
    stack.drain()
    repo = LeadRepository(table(stack))
    lead_id = repo.get_by_email(email).lead_id
    items = stack.client("dynamodb").query(
        TableName=table(stack),
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"LEAD#{lead_id}"}},
    )["Items"]
    assert [i["sk"]["S"] for i in items] == ["LEAD"] and "jr" in items[0]  # no history item yet

    monkeypatch.setattr(lead_items, "HISTORY_CHUNK", 1)  # every journal of 2+ entries moves out
    original = LeadRepository.put_items
    died: list[int] = []

    def write_then_die(self: LeadRepository, items: Any) -> None:
        original(self, items)
        if not died:
            died.append(len(items))
            raise RuntimeError("died after the history write, before the lead write")

    monkeypatch.setattr(LeadRepository, "put_items", write_then_die)
    _form(stack, email, "c2", form="Request a demo")
    results = stack.drain(max_rounds=1)
    assert died == [2] and any(r.failed for r in results)
    make_visible(stack)
    stack.drain()
    repo = LeadRepository(table(stack))
    state = repo.get_by_email(email)
    assert state.events_total == 2  # not counted twice
    assert sorted(e.event_id for e, _ in repo.history(lead_id)) == ["c1", "c2"]  # each once


def test_a_stale_cache_loses_the_race_and_recomputes_from_the_winner(stack: Stack) -> None:
    rules = load_rules(example_rules_json())
    email = "stale@northwind.io"
    # Put-first containers keep their cache across batches (read-first ones read every batch afresh).
    a, b = LeadRepository(table(stack), read_first=False), LeadRepository(table(stack), read_first=False)
    from leadscore.services.scoring import score_batch

    events = _events(email, 4)
    score_batch(a, events[:1], rules, SAMPLE_TIME, 100, 30)
    score_batch(b, events[1:2], rules, SAMPLE_TIME, 100, 30)  # b starts cold: conditional put fails once
    score_batch(a, events[2:3], rules, SAMPLE_TIME, 100, 30)  # a's cache is stale now: fails once, recomputes
    report = score_batch(b, events[3:], rules, SAMPLE_TIME, 100, 30)
    assert report.attempts == 2
    assert LeadRepository(table(stack)).get_by_email(email).events_total == 4


def test_a_read_first_container_starts_each_batch_from_a_fresh_read(stack: Stack) -> None:
    """What an earlier batch cached has usually been written since by another container: a read
    (1 RCU) is cheaper than the failed put a stale start costs (>= 1 WCU), so each batch reads."""
    from leadscore.services.scoring import score_batch

    rules = load_rules(example_rules_json())
    events = _events("fresh@northwind.io", 3)
    a, b = LeadRepository(table(stack)), LeadRepository(table(stack))
    score_batch(a, events[:1], rules, SAMPLE_TIME, 100, 30)
    score_batch(b, events[1:2], rules, SAMPLE_TIME, 100, 30)  # another container writes the lead
    reads = a.reads
    report = score_batch(a, events[2:], rules, SAMPLE_TIME, 100, 30)
    assert (report.attempts, a.reads - reads) == (1, 1)  # read once, written at the first attempt
    assert LeadRepository(table(stack)).get_by_email("fresh@northwind.io").events_total == 3
