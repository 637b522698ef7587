"""ServerEventsFunction: SQS ServerEventsQueue (Segment-spec messages from the customer's backend) →
CanonicalEvents → EventsQueue, with partial batch failures (a bad record never fails the good ones)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.dal.queue import enqueue
from leadscore.ingest.config import IngestConfig
from leadscore.models.event import CanonicalEvent
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings, require
from leadscore.sources.relay import RelaySqsProcessor
from leadscore.sources.segment_queue import record_events

SOURCE = "segment-queue"


def parse(record: SQSRecord) -> list[CanonicalEvent]:
    return record_events(
        record.body, record.message_id, record.attributes.sent_timestamp, IngestConfig.from_env()
    )


def relay(events: Sequence[CanonicalEvent]) -> None:
    if events:
        enqueue(events, require(get_settings().events_queue_url, "EVENTS_QUEUE_URL"))


processor = RelaySqsProcessor(enqueue=relay)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
        event=event, record_handler=parse, processor=processor, context=context
    )
    failed = len(response.get("batchItemFailures", []))
    count("EventsAccepted", processor.accepted, source=SOURCE)
    if processor.ignored:
        count("EventsIgnored", processor.ignored, source=SOURCE)
    if failed:
        count("EventsRejected", failed, source=SOURCE)
    logger.info(
        "relayed",
        extra={
            "source": SOURCE,
            "records": len(event.get("Records", [])),
            "accepted": processor.accepted,
            "ignored": processor.ignored,
            "failed": failed,
            # Exception types and messages name the field at fault, never a value.
            "errors": sorted(
                {f"{info[0].__name__}: {info[1]}"[:200] for info in processor.exceptions if info[0]}
            )[:10],
        },
    )
    return response
