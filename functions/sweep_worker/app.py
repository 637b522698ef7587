"""SweepWorkerFunction: one job message of the sweep queue -> one bounded piece of work.

A message is one ``due`` shard to sweep, or one scan segment of ``leadscore leads rescore --all``
(:class:`leadscore.dal.jobs.JobMessage`). Work that does not fit the time left is sent on as a new
message; a malformed message fails alone and lands in SweepDLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.dal.jobs import JobMessage, Jobs
from leadscore.dal.leads import repository
from leadscore.dal.rules_store import rules_store
from leadscore.observability import count, logger, metrics
from leadscore.services.notify import deliver_alerts
from leadscore.services.sweep import rescore_segment, sweep_shard
from leadscore.settings import get_settings, require

processor = BatchProcessor(event_type=EventType.SQS)


def work(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any]:
    message = JobMessage.model_validate_json(record.body)
    settings = get_settings()
    table = require(settings.leads_table, "LEADS_TABLE")
    jobs = Jobs(table, require(settings.sweep_queue_url, "SWEEP_QUEUE_URL"))
    rules = rules_store(
        require(settings.rules_bucket, "RULES_BUCKET"), settings.rules_key, settings.rules_refresh_seconds
    ).current()
    context = lambda_context
    time_left = (lambda: context.get_remaining_time_in_millis() / 1000) if context is not None else None
    repo = repository(table)
    if message.kind == "sweep":
        report = sweep_shard(
            repo,
            message,
            rules,
            clock.now(),
            settings.sales_ready_threshold,
            deliver=lambda state: deliver_alerts(state, clock.seconds),
            time_left=time_left,
        )
    else:
        report = rescore_segment(
            repo, jobs, message, rules, clock.now(), settings.sales_ready_threshold, time_left=time_left
        )
    if report.continuation is not None:
        jobs.enqueue([report.continuation])
    count("LeadsDue", report.due)
    count("LeadsRescored", report.rescored + report.rebuilt)
    count("SweepFailures", len(report.failures))
    summary = {
        "kind": message.kind,
        "shard": message.shard,
        "segment": message.segment,
        "due": report.due,
        "rescored": report.rescored,
        "rebuilt": report.rebuilt,
        "unchanged": report.unchanged,
        "missing": report.missing,
        "failed": len(report.failures),
        "alerts_sent": len(report.delivered.sent),
        "moves": dict(report.moves),
        "continued": report.stopped_early,
    }
    logger.info(
        "sweep job done",
        extra={
            **summary,
            "failed_leads": {k: type(v).__name__ for k, v in report.failures.items()},
            "rules_version": rules.version,
        },
    )
    return summary


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=work, processor=processor, context=context)  # type: ignore[return-value]
