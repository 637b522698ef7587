"""The server-side event queue: one Segment-spec message (``track``, ``page`` or ``identify``) per SQS
message, written by the customer's backend (https://segment.com/docs/connections/spec/).

Parsed by :func:`leadscore.ingest.tracking.message_event`, the parser of ``POST /track``, so a message
means the same thing whichever road it took:

- ``event_id`` is the message's ``messageId``, exactly as on ``/track`` (a message sent both ways, or
  re-sent by the backend, is counted once); a message without one gets ``segment:sqs:<SQS MessageId>``,
  the id SQS keeps across redeliveries of that message;
- an anonymous ``page`` (``anonymousId`` only) is stored against ``lead_id_for_anonymous(anonymousId)``;
  it creates no known lead, and an ``identify`` carrying the same ``anonymousId`` and an email merges it;
- ``screen``, ``group`` and ``alias`` are valid but not scored: the record succeeds with no event.

A record that cannot be used (not JSON, not an object, a ``batch`` envelope, no identity, an unknown
``type``) raises :class:`UnusableRecordError`: the processor reports it as a batch item failure, and the
queue's redrive policy moves it to ``ServerEventsDLQ`` after ``maxReceiveCount`` receives.
``received_at`` is the SQS ``SentTimestamp``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.request import IngestRequest, wall_clock
from leadscore.ingest.tracking import ItemError, message_event
from leadscore.models.event import CanonicalEvent

MAX_RECORD_BYTES = 256 * 1024


class UnusableRecordError(ValueError):
    """A queue record that no retry can make usable; the text names the field (never the value)."""


def _received_at(sent_timestamp: Any) -> datetime:
    try:
        millis = int(sent_timestamp)
    except (TypeError, ValueError):
        millis = 0
    if 0 < millis < 10**14:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    return datetime.fromtimestamp(wall_clock(), tz=UTC)


def record_events(
    body: str, sqs_message_id: str, sent_timestamp: Any, config: IngestConfig
) -> list[CanonicalEvent]:
    """The events of one queue record (``[]`` for a valid message that is not scored), or raise."""
    if len(body) > MAX_RECORD_BYTES:
        raise UnusableRecordError(f"body: larger than {MAX_RECORD_BYTES} bytes")
    try:
        message = json.loads(body)
    except ValueError:
        raise UnusableRecordError("body: not JSON (one Segment message per SQS message)") from None
    if not isinstance(message, dict):
        raise UnusableRecordError("body: not a JSON object (one Segment message per SQS message)")
    if "batch" in message:
        raise UnusableRecordError("batch: send one Segment message per SQS message")
    request = IngestRequest(
        method="SQS", path="/queue", body=b"", received_at=_received_at(sent_timestamp), now=wall_clock()
    )
    try:
        outcome = message_event(message, request, config)
    except ItemError as exc:
        raise UnusableRecordError(str(exc)) from None
    if isinstance(outcome, str):
        return []
    if not isinstance(message.get("messageId"), str | int) or not str(message.get("messageId")).strip():
        outcome = outcome.model_copy(update={"event_id": f"segment:sqs:{sqs_message_id}"[:256]})
    return [outcome]
