"""ImportFunction: the import queue (S3 event notifications for ``imports/*.csv``, and continuations)
→ one list import per file → ``list_import`` events on the events queue, a report next to the file.

Each SQS record is one message: an S3 notification (each created object under the prefix is imported),
S3's test event (ignored), or a continuation this function queued when its time ran low. A message that
is none of those fails alone (partial batch response) and reaches ImportDLQ after three receives. A file
that cannot be imported (not UTF-8, no email column) is not retried: its report says why.
Logs carry counts and keys' list names, never addresses or cell values.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.observability import logger, metrics
from leadscore.services import wiring
from leadscore.services.list_import import handle_message

processor = BatchProcessor(event_type=EventType.SQS)


def handle(record: SQSRecord, lambda_context: LambdaContext | None = None) -> list[str]:
    return handle_message(json.loads(record.body), wiring.time_left(lambda_context))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)  # type: ignore[return-value]
