"""The server-side event queue (issue 14, item 3): Segment-spec messages on ServerEventsQueue, relayed by
ServerEventsFunction to EventsQueue and scored, all on the local stack built from template.yaml.

The messages are the records of ``events/sqs-01-server-events.json`` (shaped after the Segment spec's
page/track/identify examples), sent to the real queue and pumped through the real handlers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_anonymous, lead_id_for_email

from tests.support import RULES_EXAMPLE_YAML, Stack, load_event, pinned_clock_at

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MARCUS = "marcus.lee@brightpath-health.com"
ANON = "6c1f4b3e-2d5a-4e8b-9f7c-0a1b2c3d4e5f"


pinned_clock = pinned_clock_at(NOW)


def bodies(sample: str) -> list[str]:
    return [record["body"] for record in load_event(sample)["Records"]]


def send(stack: Stack, *messages: str) -> None:
    sqs = stack.client("sqs")
    for body in messages:
        sqs.send_message(QueueUrl=stack.queue_url("ServerEventsQueue"), MessageBody=body)


def repo(stack: Stack) -> LeadRepository:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])


def queued(stack: Stack, queue: str) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    out: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=stack.queue_url(queue), MaxNumberOfMessages=10).get("Messages"):
        out.extend(got)
    return out


def test_segment_messages_are_scored_like_track_calls(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    send(stack, *bodies("sqs-01-server-events"))
    results = stack.drain()
    relayed = [r for r in results if r.function == "ServerEventsFunction"]
    assert sum(r.records for r in relayed) == 4 and all(r.failed == 0 for r in relayed)
    marcus = repo(stack).get_by_email(MARCUS)
    assert marcus is not None and marcus.card is not None
    assert marcus.profile["company"] == "BrightPath Health"
    assert marcus.profile["job_title"] == "Director of IT"
    names = {(e.type, e.name) for e, _ in repo(stack).history(marcus.lead_id)}
    # the track, the identify and the anonymous page the identify merged in; the screen is not scored
    assert ("track", "Demo Requested") in names and ("page_view", "Pricing") in names
    assert "demo-request" in marcus.activity and marcus.card.score > 0
    assert not queued(stack, "ServerEventsDLQ")


def test_an_anonymous_page_view_is_stored_against_its_anonymous_id_without_a_known_lead(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    page = bodies("sqs-01-server-events")[0]
    send(stack, page)
    stack.drain()
    leads = list(repo(stack).all_leads())
    assert [state.lead_id for state in leads] == [lead_id_for_anonymous(ANON)]
    (visitor,) = leads
    assert visitor.email is None
    ((event, _),) = repo(stack).history(visitor.lead_id)
    assert (event.type, event.identity.anonymous_id, event.properties["path"]) == (
        "page_view",
        ANON,
        "/pricing",
    )
    assert repo(stack).get(lead_id_for_email(MARCUS)) is None


def test_a_bad_record_never_fails_the_good_ones_and_ends_in_the_dlq(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    good, *bad = bodies("sqs-bad-01-server-events")
    send(stack, good, *bad)
    first = stack.pump_queue("ServerEventsQueue")
    assert (first.records, first.failed) == (4, 3)
    failures = first.result["batchItemFailures"]
    assert len(failures) == 3
    assert stack.pump_queue("EventsQueue").records == 1  # the good record was relayed at once
    later = stack.drain()  # the bad ones are received again until the redrive policy moves them
    receives = 1 + sum(1 for r in later if r.function == "ServerEventsFunction")
    assert receives == 3  # maxReceiveCount: then ServerEventsDLQ, not a retry loop
    dead = sorted(m["Body"] for m in queued(stack, "ServerEventsDLQ"))
    assert dead == sorted(bad)
    assert [s.lead_id for s in repo(stack).all_leads()] == [lead_id_for_anonymous(ANON)]


def test_a_message_is_counted_once_by_message_id_and_once_per_sqs_message_without_one(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    track = json.loads(bodies("sqs-01-server-events")[1])
    anonymous = {k: v for k, v in track.items() if k != "messageId"}
    # the backend re-sends the same message (same messageId): two SQS messages, one event
    send(stack, json.dumps(track), json.dumps(track), json.dumps(anonymous))
    stack.drain()
    history = [e for e, _ in repo(stack).history(lead_id_for_email(MARCUS))]
    ids = sorted(e.event_id for e in history)
    assert ids[-1] == "srv-track-001" and ids.count("srv-track-001") == 1
    assert len(ids) == 2 and ids[0].startswith("segment:sqs:")
    marcus = repo(stack).get_by_email(MARCUS)
    assert marcus is not None and marcus.events_total == 2


def test_a_record_whose_events_cannot_be_queued_is_retried_not_lost(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.dal.queue import EnqueueError
    from leadscore.dal.queue import enqueue as original

    stack.upload_rules(RULES_EXAMPLE_YAML)
    send(stack, *bodies("sqs-01-server-events")[:2])
    outage = iter([True])

    def enqueue(events: Any, url: str) -> None:
        if next(outage, False):
            raise EnqueueError("SendMessageBatch failed: Throttling", failed=len(events), total=len(events))
        original(events, url)

    monkeypatch.setattr("functions.server_events.app.enqueue", enqueue)
    first = stack.pump_queue("ServerEventsQueue")
    assert (first.records, first.failed) == (2, 2)
    stack.drain()
    marcus = repo(stack).get_by_email(MARCUS)
    assert marcus is not None and marcus.events_total == 1
    assert len(repo(stack).history(lead_id_for_anonymous(ANON))) == 1


def test_the_sample_events_answer_as_sam_local_invoke_would_show(stack: Stack) -> None:
    """The sample files are Lambda's SQS event: invoked directly, the bad ones are reported by id."""
    good = stack.invoke("ServerEventsFunction", load_event("sqs-01-server-events"))
    assert good == {"batchItemFailures": []}
    sample = load_event("sqs-bad-01-server-events")
    bad = stack.invoke("ServerEventsFunction", sample)
    expected = [{"itemIdentifier": r["messageId"]} for r in sample["Records"][1:]]
    assert sorted(bad["batchItemFailures"], key=str) == sorted(expected, key=str)
    assert stack.pump_queue("EventsQueue").records == 4  # 3 events of the good sample (screen ignored) + 1
