"""Scorer: SQS batch of canonical events -> one atomic write per lead -> alerts in the lead's outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.batch import CoalescingSqsProcessor
from leadscore.models.event import CanonicalEvent
from leadscore.observability import logger, metrics
from leadscore.services import wiring
from leadscore.services.scoring import report_batch, score_batch
from leadscore.settings import get_settings


def parse(record: SQSRecord) -> CanonicalEvent:
    return CanonicalEvent.model_validate_json(record.body)


def score(events: Sequence[CanonicalEvent], context: LambdaContext | None) -> dict[str, Exception]:
    settings = get_settings()
    rules = wiring.current_rules()
    repo = wiring.leads()
    repo.reads = 0
    report = score_batch(
        repo,
        events,
        rules,
        clock.now(),
        settings.sales_ready_threshold,
        settings.history_ttl_days,
        time_left=wiring.time_left(context),
    )
    traces = [e.trace_id for e in events if e.trace_id]
    report_batch(report, len(events), repo.reads, rules.version, traces)
    return report.failures


processor = CoalescingSqsProcessor(group_handler=score)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=parse, processor=processor, context=context)  # type: ignore[return-value]
