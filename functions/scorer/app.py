"""Scorer: SQS batch of canonical events -> one atomic write per lead -> alerts in the lead's outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.batch import CoalescingSqsProcessor
from leadscore.dal.leads import repository
from leadscore.dal.rules_store import rules_store
from leadscore.models.event import CanonicalEvent
from leadscore.observability import count, logger, metrics
from leadscore.services.scoring import score_batch
from leadscore.settings import get_settings, require


def parse(record: SQSRecord) -> CanonicalEvent:
    return CanonicalEvent.model_validate_json(record.body)


def score(events: Sequence[CanonicalEvent], context: LambdaContext | None) -> dict[str, Exception]:
    settings = get_settings()
    rules = rules_store(
        require(settings.rules_bucket, "RULES_BUCKET"), settings.rules_key, settings.rules_refresh_seconds
    ).current()
    repo = repository(require(settings.leads_table, "LEADS_TABLE"))
    repo.reads = 0
    report = score_batch(
        repo,
        events,
        rules,
        clock.now(),
        settings.sales_ready_threshold,
        settings.history_ttl_days,
        time_left=(lambda: context.get_remaining_time_in_millis() / 1000) if context else None,
    )
    count("EventsScored", report.accepted)
    count("DuplicateEvents", report.duplicates)
    count("UnscoredEvents", report.unscored)
    count("AlertsQueued", report.alerts)
    count("LeadsFailed", len(report.failures))
    count("LateEvents", report.late)
    count("ErasedLeadEvents", report.erased)  # sent before their lead was erased: dropped
    count("LeadItemTrimmed", report.trimmed)
    count("DedupeMemoryFull", report.memory_full)
    logger.info(
        "batch scored",
        extra={
            "events": len(events),
            "leads": len(report.outcomes) + len(report.failures),
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "unscored": report.unscored,
            "alerts": report.alerts,
            "late": report.late,
            "erased": report.erased,
            "write_attempts": report.attempts,
            "reads": repo.reads,
            "failed_leads": {k: type(v).__name__ for k, v in report.failures.items()},
            "rules_version": rules.version,
        },
    )
    return report.failures


processor = CoalescingSqsProcessor(group_handler=score)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=parse, processor=processor, context=context)  # type: ignore[return-value]
