"""Powertools batch processing for a queue whose records become canonical events on ``EventsQueue``.

Powertools' ``BatchProcessor`` calls a handler per record. Relaying wants one ``SendMessageBatch`` per
ten events, not one ``SendMessage`` per record, so this processor parses each record alone (a record
that cannot be used fails alone and reaches the queue's DLQ through its redrive policy), then queues
the events of every parsed record together. If SQS does not take them all, every parsed record is
reported failed and redelivered: events queued by the first attempt are queued again, which the scorer's
dedupe by ``event_id`` makes harmless.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from aws_lambda_powertools.utilities.batch import EventType

from leadscore.batch import ParseEachSqsProcessor, Results
from leadscore.models.event import CanonicalEvent

Enqueue = Callable[[Sequence[CanonicalEvent]], None]


class RelaySqsProcessor(ParseEachSqsProcessor):
    """``handler(record)`` returns the record's events (``[]``: valid, nothing to score) or raises."""

    def __init__(self, enqueue: Enqueue) -> None:
        # Every record failing is reported like any partial failure (the same redeliveries), not raised.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.enqueue = enqueue
        self.accepted = 0
        self.ignored = 0

    def process(self) -> Results:
        self.accepted = self.ignored = 0
        results, parsed = self.parse_each()
        events: list[CanonicalEvent] = [event for _, record_events in parsed for event in record_events]
        try:
            self.enqueue(events)
        except Exception:
            info = sys.exc_info()
            return results + [self.failure_handler(record=record, exception=info) for record, _ in parsed]
        for record, record_events in parsed:
            self.accepted += len(record_events)
            self.ignored += not record_events
            results.append(self.success_handler(record=record, result=len(record_events)))
        return results
