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
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.dal.imports import ImportFiles, ImportObject, continue_later
from leadscore.dal.queue import enqueue
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.s3_notification import S3Notification, S3TestEvent
from leadscore.models.event import CanonicalEvent
from leadscore.observability import count, logger, metrics
from leadscore.services.list_import import Continuation, ImportOutcome, import_file
from leadscore.settings import get_settings, require

processor = BatchProcessor(event_type=EventType.SQS)


def _run(
    obj: ImportObject, context: LambdaContext | None, continuation: Continuation | None = None
) -> ImportOutcome:
    settings = get_settings()
    queue_url = require(settings.events_queue_url, "EVENTS_QUEUE_URL")

    def send(events: Sequence[CanonicalEvent]) -> None:
        enqueue(events, queue_url)

    outcome = import_file(
        ImportFiles(obj.bucket),
        obj,
        send,
        prefix=settings.imports_prefix,
        time_left=(lambda: context.get_remaining_time_in_millis() / 1000) if context else None,
        progress=lambda p: logger.info("import progress", extra=p),
        continuation=continuation,
        extra_aliases=IngestConfig.from_env().field_aliases,
    )
    if outcome.continuation is not None:
        continue_later(
            require(settings.imports_queue_url, "IMPORTS_QUEUE_URL"), outcome.continuation.model_dump_json()
        )
    count("ListImportRows", outcome.tally.rows)
    count("ListImportEvents", outcome.events_sent)
    count("ListImports", status=outcome.status)
    logger.info(
        "list import", extra={"report": outcome.report_key, **outcome.summary(), "error": outcome.error}
    )
    return outcome


def handle(record: SQSRecord, lambda_context: LambdaContext | None = None) -> list[str]:
    body: Any = json.loads(record.body)
    if isinstance(body, dict) and body.get("kind") == "list_import_continuation":
        continuation = Continuation.model_validate(body)
        return [_run(continuation.object(), lambda_context, continuation).status]
    if isinstance(body, dict) and "Records" not in body:
        S3TestEvent.model_validate(body)  # sent once when the notification is configured: nothing to do
        return []
    notification = S3Notification.model_validate(body)
    prefix = get_settings().imports_prefix
    statuses: list[str] = []
    for s3_record in notification.records:
        key = s3_record.key
        if not (s3_record.created and key.startswith(prefix) and key.lower().endswith(".csv")):
            count("ListImportsIgnored")
            continue
        obj = ImportObject(
            bucket=s3_record.s3.bucket.name,
            key=key,
            etag=s3_record.s3.object.etag.strip('"'),
            size=s3_record.s3.object.size,
            last_modified=s3_record.event_time,
        )
        statuses.append(_run(obj, lambda_context).status)
    return statuses


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)  # type: ignore[return-value]
