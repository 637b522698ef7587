"""Soak: thousands of events through the real handlers against moto server, with the faults mixed in.

Six rounds of simulated time, ten minutes apart, each with the traffic of a long-tailed population
of leads (forms one by one, page views in Segment batches) and one fault or more:

- every round: redeliveries (a share of the requests sent twice, and old requests sent again later);
- round 1: DynamoDB throttling (PutItem and BatchGetItem), beyond botocore's retries at times;
- rounds 2-3: an SNS outage (every publish fails);
- round 3: a rules flip to a bad file (cold containers), and back in round 4;
- round 4: crashes: a notifier dying between claiming an alert and publishing it, and one dying
  between publishing and marking it sent;
- round 5: concurrent writers: four "containers" score the round's events at once.

Then the schedule keeps sweeping (as it does every 5 minutes in AWS) until the outbox is empty.

It asserts every event counted exactly once (a lead's count and history hold each distinct event
once), exactly one alert id per crossing (a duplicate delivery of the same alert id is allowed
only for the crash after publishing, which the id lets subscribers drop), every alert delivered,
and nothing in the events DLQ. The figures are printed (``pytest -s``) and written to
``.soak.json`` for the closing note.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.dal.outbox import Outbox
from leadscore.dal.rules_store import reset_rules_cache
from leadscore.dal.topic import Topic
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.rules.compiler import load_rules
from leadscore.services.scoring import score_batch

from tests.support import ROOT, TEMPLATE, Stack, example_rules_json, run_sweep
from tests.support.faults import Faults

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROUNDS = 6
LEADS = 120
SEED = 20261202
JSON = {"content-type": "application/json"}
PATHS = ["/pricing", "/pricing/teams", "/product/analytics", "/product/routing", "/blog/a", "/blog/b"]
BAD_RULES = b'{"models": {"lead": {"thresholds": {"alert_cooldown_hours": 1e305}}}}'


class Crash(BaseException):
    """The invocation dies (timeout, out of memory): nothing after this line runs."""


def _population(rng: random.Random) -> tuple[list[tuple[int, str, dict[str, Any]]], dict[str, set[str]]]:
    """(round, route, body) requests, and each lead's distinct event ids. Long-tailed: lead i has
    about 5 + 300 / (i + 1) page views; a third of the leads fit and ask for a demo."""
    requests: list[tuple[int, str, dict[str, Any]]] = []
    expected: dict[str, set[str]] = defaultdict(set)
    views: list[tuple[int, dict[str, Any]]] = []
    for i in range(LEADS):
        email = f"lead{i}@soak{i % 7}.example"
        fits = i % 3 == 0
        profile = (
            {"job_title": "CTO", "industry": "Software", "company_size": 800, "country": "US"}
            if fits
            else {"job_title": "Analyst", "industry": "Retail", "company_size": 20, "country": "US"}
        )
        sid = f"s{i}-profile"
        requests.append(
            (rng.randrange(ROUNDS - 1), "/forms", {"email": email, "submission_id": sid, **profile})
        )
        expected[email].add(sid)
        if fits or i % 5 == 0:
            sid = f"s{i}-demo"
            body = {"email": email, "submission_id": sid, "form": "Request a demo"}
            requests.append((rng.randrange(ROUNDS), "/forms", body))
            expected[email].add(sid)
        for n in range(5 + 300 // (i + 1)):
            mid = f"v{i}-{n}"
            message = {
                "type": "page",
                "messageId": mid,
                "userId": email,
                "properties": {"path": rng.choice(PATHS)},
            }
            views.append((rng.randrange(ROUNDS), message))
            expected[email].add(mid)
    by_round: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r, message in views:
        by_round[r].append(message)
    for r, messages in by_round.items():
        rng.shuffle(messages)
        for start in range(0, len(messages), 50):
            requests.append((r, "/track", {"batch": messages[start : start + 50]}))
    rng.shuffle(requests)
    return requests, expected


def _stamp(body: dict[str, Any], at: datetime) -> dict[str, Any]:
    if "batch" in body:
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"batch": [{**m, "timestamp": stamp} for m in body["batch"]]}
    return body


class _WatchedTopic:
    """What reaches the topic, when (simulated time), and crashes on demand: before publishing
    (after the claim) and after publishing (before the mark)."""

    def __init__(self, figures: Counter[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.published: list[tuple[str, int]] = []  # (alert id, published at)
        self.created: dict[str, int] = {}  # alert id -> raised at (to the minute)
        self.crashes = {"before_publish": 0, "after_publish": 0}
        self.figures = figures
        real_publish, real_mark = Topic.publish, Outbox.mark_sent
        watched = self

        def publish(self: Topic, request: dict[str, Any]) -> str:
            watched._maybe_crash("before_publish", "crash_after_claim")
            message_id = real_publish(self, request)
            watched._record(request)
            return message_id

        def mark_sent(self: Outbox, *args: Any, **kwargs: Any) -> Any:
            watched._maybe_crash("after_publish", "crash_after_publish")
            return real_mark(self, *args, **kwargs)

        monkeypatch.setattr(Topic, "publish", publish)
        monkeypatch.setattr(Outbox, "mark_sent", mark_sent)

    def _maybe_crash(self, when: str, figure: str) -> None:
        if self.crashes[when] > 0:
            self.crashes[when] -= 1
            self.figures[figure] += 1
            raise Crash

    def _record(self, request: dict[str, Any]) -> None:
        alert = json.loads(json.loads(request["Message"])["sqs"])
        self.published.append((alert["alert_id"], clock.seconds()))
        raised = datetime.strptime(alert["created_at"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
        self.created.setdefault(alert["alert_id"], int(raised.timestamp()))


def test_soak_every_event_once_every_crossing_alerted_once_nothing_dead_lettered(
    moto_server: str,
    atomic_moto: None,
    faults: Faults,
    monkeypatch: pytest.MonkeyPatch,
    pin_clock: Callable[[datetime | None], None],
) -> None:
    rng = random.Random(SEED)
    stack = Stack.create(TEMPLATE, endpoint_url=moto_server)
    stack.upload_rules(example_rules_json())
    requests, expected = _population(rng)
    table = stack.env("ScorerFunction")["LEADS_TABLE"]
    figures: Counter[str] = Counter()

    topic = _WatchedTopic(figures, monkeypatch)
    published, created, crashes = topic.published, topic.created, topic.crashes

    def survive(step: Callable[[], Any]) -> None:
        for _ in range(50):  # a crash kills one invocation; Lambda goes on with the next
            try:
                step()
                return
            except Crash:
                continue
        raise AssertionError("the pipeline never settled")

    def drain() -> None:
        survive(stack.drain)

    def sweep() -> None:
        survive(lambda: run_sweep(stack))

    def send(route: str, body: dict[str, Any], at: datetime) -> None:
        response = stack.call_http("POST", route, json.dumps(_stamp(body, at)), JSON)
        assert response["statusCode"] in (200, 202), (route, response)
        figures["requests"] += 1

    sent: list[tuple[str, dict[str, Any], datetime]] = []
    for r in range(ROUNDS):
        now = START + timedelta(minutes=10 * r)
        pin_clock(now)
        _faults_of_round(r, stack, faults, figures, crashes)
        for route, body, at in [(q, b, now) for rr, q, b in requests if rr == r]:
            send(route, body, at)
            sent.append((route, body, at))
            if rng.random() < 0.1:
                send(route, body, at)  # the sender retried
                figures["redelivered"] += 1
        for route, body, at in rng.sample(sent, k=min(len(sent), 15)):
            send(route, body, at)  # an old request again, later
            figures["redelivered"] += 1
        if r == 5:
            figures["concurrent_batches"] += _score_concurrently(stack, table, now)
        drain()
        sweep()

    # The schedule goes on: every 5 minutes until nothing is left to deliver (bounded).
    for step in range(1, 40):
        pin_clock(START + timedelta(minutes=10 * (ROUNDS - 1) + 5 * step))
        sweep()
        drain()
        leads = LeadRepository(table).all_leads()
        if not any(s.pending_alerts for s in leads):
            break
    final = clock.seconds()

    repo = LeadRepository(table)
    events = _assert_each_event_counted_once(repo, expected)
    crossings = _assert_one_alert_per_crossing(repo, published)
    deliveries = Counter(a for a, _ in published)
    duplicates = sum(n - 1 for n in deliveries.values())
    assert duplicates <= figures["crash_after_publish"]  # only a crash after publishing repeats one

    sqs = stack.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=stack.queue_url("EventsDLQ"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert (
        attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    )

    worst = max((at - created[a]) for a, at in published) if published else 0
    report = {
        "command": "pytest -s tests/integration/test_soak.py",
        "leads": LEADS,
        "events": events,
        "faults": dict(figures),
        "alerts_expected": crossings,
        "alert_ids_delivered": len(deliveries),
        "deliveries": len(published),
        "duplicate_deliveries_same_id": duplicates,
        "worst_delivery_delay_seconds": worst,
        "simulated_span_seconds": final - int(START.timestamp()),
        "events_dlq": 0,
    }
    assert crossings > 10 and figures["crash_after_claim"] == 2 and figures["crash_after_publish"] == 1
    Path(ROOT / ".soak.json").write_text(json.dumps(report, indent=2))
    print("\nsoak:", json.dumps(report))


def _faults_of_round(
    r: int, stack: Stack, faults: Faults, figures: Counter[str], crashes: dict[str, int]
) -> None:
    """What goes wrong in round ``r``: throttling, SNS down, a bad rules file, then crashes."""
    if r == 1:
        faults.fail("PutItem", 9, 400, "ProvisionedThroughputExceededException")
        faults.fail("BatchGetItem", 4, 400, "ProvisionedThroughputExceededException")
        figures["throttles"] += 13
    if r == 2:
        faults.fail("Publish", 10**6, 500, "InternalError")
    if r == 3:
        stack.upload_rules(BAD_RULES)
        reset_rules_cache()  # cold containers: they read the bad file and fall back
        figures["rules_flips"] += 1
    if r == 4:
        figures["publish_calls_until_sns_back"] = faults.calls.get("Publish", 0)
        faults.plans["Publish"] = []  # SNS is back
        stack.upload_rules(example_rules_json())
        reset_rules_cache()
        crashes.update(before_publish=2, after_publish=1)


def _assert_each_event_counted_once(repo: LeadRepository, expected: dict[str, set[str]]) -> int:
    """Every lead counted and recorded each of its distinct events once. Returns the event count."""
    events = 0
    for email, ids in expected.items():
        state = repo.get(lead_id_for_email(email))
        assert state is not None, email
        history = [e.event_id.split(":")[-1] for e, _ in repo.history(state.lead_id)]
        assert state.events_total == len(ids), email  # each distinct event counted once
        assert Counter(history) == Counter(ids), email  # and recorded once
        events += len(ids)
    return events


def _assert_one_alert_per_crossing(repo: LeadRepository, published: list[tuple[str, int]]) -> int:
    """One sales-ready alert id per sales-ready lead, none for the others, all delivered. Returns
    the number of crossings."""
    alerts_by_lead: dict[str, set[str]] = defaultdict(set)
    for alert_id, _ in published:
        alerts_by_lead[alert_id.split("/")[0]].add(alert_id)
    crossings = 0
    for state in repo.all_leads():
        sales_ready = {a for a in alerts_by_lead[state.lead_id] if "/sales_ready" in a}
        if state.card is not None and state.card.tier == "sales_ready":
            crossings += 1
            assert len(sales_ready) == 1, (state.lead_id, sales_ready)  # one alert id per crossing
        else:
            assert sales_ready == set(), state.lead_id
        assert state.pending_alerts == [], state.lead_id  # every alert delivered
        assert all(a.status != "failed" for a in state.outbox.values())
    return crossings


def _score_concurrently(stack: Stack, table: str, now: datetime) -> int:
    """Four containers take the queued events at once and score them, overlapping on the busy leads."""
    sqs = stack.client("sqs")
    url = stack.queue_url("EventsQueue")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get(
        "Messages", []
    ):
        messages += batch
    events = [CanonicalEvent.model_validate_json(m["Body"]) for m in messages]
    rules = load_rules(example_rules_json())
    slices = [events[i::4] for i in range(4)]
    errors: list[BaseException] = []

    def run(part: list[CanonicalEvent]) -> None:
        repo = LeadRepository(table)  # its own container: its own cache
        report = score_batch(repo, part, rules, now, 100, 400)
        errors.extend(report.failures.values())

    threads = [threading.Thread(target=run, args=(part,)) for part in slices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for start in range(0, len(messages), 10):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages[start : start + 10])
            ],
        )
    return len(slices)
