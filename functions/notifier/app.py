"""Notifier: DynamoDB stream of lead items with a pending alert -> one SNS notification per alert."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.alerts import sns_message
from leadscore.dal import clients, outbox
from leadscore.dal.leads import from_item
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings, require

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def deliver(record: DynamoDBRecord) -> int:
    """Publish every pending alert of the lead in this record. Returns how many were published."""
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage")
    if not image or "alert_pending" not in image:
        return 0
    settings = get_settings()
    table = require(settings.leads_table, "LEADS_TABLE")
    topic = require(settings.alerts_topic_arn, "ALERTS_TOPIC_ARN")
    state = from_item(image)
    published = 0
    for alert in state.pending_alerts:
        now = int(time.time())
        token = outbox.claim(table, state.lead_id, alert.id, now)
        if token is None:
            continue  # already sent, or being sent by another invocation
        try:
            clients.sns().publish(TopicArn=topic, **sns_message(state, alert))
        except Exception:
            outbox.release(table, state.lead_id, alert.id, token)
            count("AlertPublishFailed")
            raise  # the stream retries this record; the alert stays pending until it is sent
        outbox.mark_sent(table, state.lead_id, alert.id, token, int(time.time()))
        count("AlertsSent")
        logger.info("alert sent", extra={"lead_id": state.lead_id, "alert_id": alert.id, "kind": alert.kind})
        published += 1
    return published


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)  # type: ignore[return-value]
