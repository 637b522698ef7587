"""SesEventsFunction: SNS (the customer's SES event topic) → SES events → EventsQueue.

Invoked asynchronously by SNS. Records that carry no usable SES event are counted and logged by reason;
only a failure to queue raises (Lambda retries, then AsyncFailuresDLQ). No PII in logs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.dal.queue import enqueue
from leadscore.ingest.result import IngestResult
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings, require
from leadscore.sources.ses_sns import record_result, records

SOURCE = "ses-sns"


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results: list[IngestResult] = [record_result(record) for record in records(event)]
    events = [e for result in results for e in result.events]
    if events:
        enqueue(events, require(get_settings().events_queue_url, "EVENTS_QUEUE_URL"))
    rejected = [r.error for result in results for r in result.rejected]
    ignored = [i.reason for result in results for i in result.ignored]
    count("EventsAccepted", len(events), source=SOURCE)
    if rejected:
        count("EventsRejected", len(rejected), source=SOURCE)
    if ignored:
        count("EventsIgnored", len(ignored), source=SOURCE)
    summary = {
        "records": len(results),
        "accepted": len(events),
        "rejected": len(rejected),
        "ignored": len(ignored),
    }
    # Reasons name fields and SES event types, never an address.
    logger.info(
        "relayed", extra={"source": SOURCE, **summary, "reasons": sorted(set(rejected + ignored))[:10]}
    )
    return summary
