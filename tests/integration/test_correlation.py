"""A correlation id follows an event from the request that brought it to the alert it raises.

The ingest handler's logs carry API Gateway's request id (Powertools' correlation id). The event
carries it on the queue (``trace_id``, never into the lead's history); the scorer logs the ids of
its batch; the alert it raises keeps the id of the request whose event crossed; the notifier logs
that id with the alert it sends, and the alert's JSON names it.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_email

from tests.support import TEMPLATE, Stack, example_rules_json, load_event, pinned_clock_at

DANA = "dana.reyes@northwindlabs.io"
SAMPLES = ("http-01-form-json", "http-02-form-urlencoded", "http-03-track-page", "http-04-track-batch")
SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


pinned_clock = pinned_clock_at(SAMPLE_TIME)


def _log_lines(out: str, message: str) -> list[dict[str, object]]:
    lines = []
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == message:
            lines.append(record)
    return lines


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the handlers' one Logger writes (Powertools' JSON lines), while the test runs."""
    from leadscore.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def test_the_request_id_follows_the_event_to_its_alert_and_the_logs(aws: None, logs: io.StringIO) -> None:
    stack = Stack.create(TEMPLATE)
    stack.upload_rules(example_rules_json())
    requests = {}
    for name in SAMPLES:
        event = load_event(name)
        requests[name] = event["requestContext"]["requestId"]
        assert stack.invoke("IngestFunction", event)["statusCode"] == 202
    stack.drain()
    output = logs.getvalue()

    ingested = {line["correlation_id"] for line in _log_lines(output, "ingested")}
    assert set(requests.values()) <= ingested  # ingest logs each request's id
    scored = {str(t) for line in _log_lines(output, "batch scored") for t in line["trace_ids"]}  # type: ignore[attr-defined]
    assert scored == set(requests.values())  # the scorer logs the requests its batch came from

    (note,) = [n for n in stack.inbox() if "sales" in str(n["Subject"]).lower()]
    alert = json.loads(note["Message"])  # the inbox is an SQS subscription: it gets the JSON form
    assert alert["trace_id"] in requests.values()
    (sent,) = _log_lines(logs.getvalue(), "alert sent")
    assert sent["correlation_id"] == alert["trace_id"]  # the notifier's log names the same request

    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    history = repo.history(lead_id_for_email(DANA))
    assert history and all(event.trace_id is None for event, _ in history)  # not kept with the history
