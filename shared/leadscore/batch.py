"""Powertools batch processing, extended to coalesce an SQS batch per lead.

Powertools' ``BatchProcessor`` calls a handler per record. Scoring wants one write per lead per
batch, so this processor parses each record alone (a poison message fails alone), hands the parsed
events to a group handler, and maps each lead's result back onto its records. The partial-failure
response (``batchItemFailures``) is built by Powertools as usual.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from leadscore.models.event import CanonicalEvent

# The group handler gets the invocation's context (None outside Lambda), as Powertools hands it to
# record handlers that ask for ``lambda_context``.
GroupHandler = Callable[[Sequence[CanonicalEvent], LambdaContext | None], dict[str, Exception]]


Results = list[tuple[Any, ...]]


class ParseEachSqsProcessor(BatchProcessor):
    """A processor that first runs the record handler on each SQS record alone, so a record that
    cannot be used fails alone, then acts on the parsed records together (subclasses)."""

    def parse_each(self) -> tuple[Results, list[tuple[SQSRecord, Any]]]:
        """The failed records' results, and each parsed record with what the handler made of it."""
        results: Results = []
        parsed: list[tuple[SQSRecord, Any]] = []
        for raw in self.records:
            record = SQSRecord(raw)
            try:
                parsed.append((record, self.handler(record=record)))
            except Exception:
                results.append(self.failure_handler(record=record, exception=sys.exc_info()))
        return results, parsed


class CoalescingSqsProcessor(ParseEachSqsProcessor):
    def __init__(self, group_handler: GroupHandler) -> None:
        super().__init__(event_type=EventType.SQS)
        self.group_handler = group_handler

    def process(self) -> Results:
        results, parsed = self.parse_each()
        if not parsed:
            return results
        try:
            context: LambdaContext | None = getattr(self, "lambda_context", None)
            failures = self.group_handler([event for _, event in parsed], context)
        except Exception as exc:  # e.g. no valid rules: every parsed record is retried
            failures = {event.lead_id: exc for _, event in parsed}
        for record, event in parsed:
            error = failures.get(event.lead_id)
            if error is None:
                results.append(self.success_handler(record=record, result=event.event_id))
            else:
                results.append(
                    self.failure_handler(record=record, exception=(type(error), error, error.__traceback__))
                )
        return results
