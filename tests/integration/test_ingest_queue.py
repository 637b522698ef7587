"""leadscore.dal.queue.enqueue: chunks of at most 10 entries and 256 KiB, retries of failed entries, and an
error when anything is still not queued."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import leadscore.dal.queue as queue_module
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from leadscore.dal import clients
from leadscore.dal.queue import MAX_BATCH_BYTES, EnqueueError, _chunks, enqueue
from leadscore.models.event import CanonicalEvent, Identity

from tests.support import take_queued_events
from tests.support.moto_queue import moto_sqs


def make_event(i: int, **properties: Any) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=f"ev-{i}",
        source="segment",
        type="page_view",
        occurred_at=datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
        identity=Identity(email=f"lead{i}@example.com"),
        properties={"path": "/pricing", **properties},
    )


@pytest.fixture
def aws(monkeypatch):
    with moto_sqs(monkeypatch) as sqs:
        yield sqs


def test_enqueue_sends_every_event_in_batches_of_ten(aws, monkeypatch):
    url = aws.create_queue(QueueName="events")["QueueUrl"]
    events = [make_event(i) for i in range(23)]
    calls: list[int] = []
    real_sqs = clients.sqs

    class Spy:
        def send_message_batch(self, **kwargs):
            calls.append(len(kwargs["Entries"]))
            return real_sqs().send_message_batch(**kwargs)

    monkeypatch.setattr(queue_module, "sqs", Spy)
    enqueue(events, url)
    assert calls == [10, 10, 3]
    queued = take_queued_events(aws, url)
    assert sorted(queued, key=lambda e: int(e.event_id[3:])) == events


def test_enqueue_nothing_makes_no_call(monkeypatch):
    def boom():
        raise AssertionError("no client should be created")

    monkeypatch.setattr(queue_module, "sqs", boom)
    enqueue([], "https://sqs.invalid/q")


def test_a_missing_queue_raises(aws):
    with pytest.raises(EnqueueError) as info:
        enqueue([make_event(1)], "https://sqs.us-east-1.amazonaws.com/123456789012/nope")
    assert info.value.failed == 1
    assert info.value.total == 1


def test_chunks_respect_the_byte_limit():
    big = "x" * 100_000
    chunks = list(_chunks([(str(i), big) for i in range(7)]))
    assert [len(c) for c in chunks] == [2, 2, 2, 1]
    assert all(sum(len(body) for _, body in c) <= MAX_BATCH_BYTES for c in chunks)
    with pytest.raises(EnqueueError):
        list(_chunks([("0", "x" * (MAX_BATCH_BYTES + 1))]))


class ScriptedSqs:
    """Fails the listed entry ids for the first N calls, then succeeds."""

    def __init__(
        self, fail: dict[int, set[str]], *, sender_fault: bool = False, error: Exception | None = None
    ):
        self.fail = fail
        self.sender_fault = sender_fault
        self.error = error
        self.calls: list[list[str]] = []

    def __call__(self) -> ScriptedSqs:
        return self

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append([e["Id"] for e in Entries])
        if self.error is not None:
            raise self.error
        failing = self.fail.get(len(self.calls), set())
        failed = [
            {"Id": e["Id"], "SenderFault": self.sender_fault, "Code": "InternalError"}
            for e in Entries
            if e["Id"] in failing
        ]
        ok = [
            {"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": "x"}
            for e in Entries
            if e["Id"] not in failing
        ]
        return {"Successful": ok, "Failed": failed}


def test_failed_entries_are_retried_until_they_succeed(monkeypatch):
    fake = ScriptedSqs({1: {"1", "3"}, 2: {"3"}})
    monkeypatch.setattr(queue_module, "sqs", fake)
    sleeps: list[float] = []
    enqueue([make_event(i) for i in range(5)], "q", sleep=sleeps.append)
    assert fake.calls == [["0", "1", "2", "3", "4"], ["1", "3"], ["3"]]
    assert sleeps == [0.05, 0.1]


def test_entries_still_failing_after_the_attempts_raise(monkeypatch):
    fake = ScriptedSqs({n: {"2"} for n in range(1, 10)})
    monkeypatch.setattr(queue_module, "sqs", fake)
    with pytest.raises(EnqueueError) as info:
        enqueue([make_event(i) for i in range(12)], "q", max_attempts=3, sleep=lambda _: None)
    assert fake.calls == [[str(i) for i in range(10)], ["2"], ["2"]]  # the second chunk is never reached
    assert info.value.failed == 1
    assert info.value.total == 12
    assert info.value.codes == ["InternalError"]


def test_sender_faults_are_not_retried(monkeypatch):
    fake = ScriptedSqs({1: {"0"}}, sender_fault=True)
    monkeypatch.setattr(queue_module, "sqs", fake)
    with pytest.raises(EnqueueError):
        enqueue([make_event(0), make_event(1)], "q", sleep=lambda _: None)
    assert len(fake.calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch"),
        EndpointConnectionError(endpoint_url="https://sqs.invalid"),
    ],
)
def test_call_errors_raise_enqueue_error(monkeypatch, error):
    monkeypatch.setattr(queue_module, "sqs", ScriptedSqs({}, error=error))
    with pytest.raises(EnqueueError) as info:
        enqueue([make_event(0)], "q", sleep=lambda _: None)
    assert info.value.failed == 1
