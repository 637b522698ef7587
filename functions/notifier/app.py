"""Notifier: DynamoDB stream of lead items with a pending alert -> one SNS notification per alert.

Thin: each record's new image is a lead; :func:`leadscore.services.delivery.deliver` publishes its
pending alerts. A failure to publish never fails the record (the shard is never blocked): the alert
backs off and the sweep re-drives it. A record fails only when DynamoDB itself cannot be reached.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.observability import logger, metrics
from leadscore.services.delivery import Delivered
from leadscore.services.notify import deliver_image

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def deliver(record: DynamoDBRecord) -> Delivered:
    """Publish every pending alert of the lead (or account) in this record (a failure backs off)."""
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage")
    if not image or "alert_pending" not in image:
        return Delivered()
    return deliver_image(image, clock.seconds)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)  # type: ignore[return-value]
