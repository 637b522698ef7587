"""CustomEventsFunction: EventBridge rule (the customer's sources) → CanonicalEvent → EventsQueue.

Unknown detail types are logged and counted, never failed. A known type with a detail that breaks the
schema raises (retried, then AsyncFailuresDLQ). Logs carry the detail type and field names, never PII.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.dal.queue import enqueue
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings, require
from leadscore.sources.custom_events import InvalidCustomEventError, classify, custom_event

SOURCE = "eventbridge"


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail_type = classify(event)
    if detail_type is None:
        raw = event.get("detail-type") if isinstance(event, dict) else None
        count("CustomEventsUnknownType", source=SOURCE)
        logger.warning(
            "unknown custom event detail type: not scored",
            extra={"detail_type": str(raw)[:100], "event_source": str(event.get("source"))[:100]},
        )
        return {"accepted": 0, "unknown_detail_type": str(raw)[:100]}
    try:
        canonical = custom_event(event, clock.now())
    except InvalidCustomEventError as exc:
        count("CustomEventsRejected", source=SOURCE)
        logger.error(
            "custom event does not follow the schema", extra={"detail_type": detail_type, "error": str(exc)}
        )
        raise
    enqueue([canonical], require(get_settings().events_queue_url, "EVENTS_QUEUE_URL"))
    count("EventsAccepted", 1, source=SOURCE)
    logger.info("relayed", extra={"source": SOURCE, "detail_type": detail_type, "accepted": 1})
    return {"accepted": 1, "detail_type": detail_type}
