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
from leadscore.observability import count, logger, metrics
from leadscore.services import wiring
from leadscore.services.notify import deliver_alerts
from leadscore.services.sweep import rescore_segment, sweep_shard
from leadscore.settings import get_settings, require

processor = BatchProcessor(event_type=EventType.SQS)


def work(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any]:
    message = JobMessage.model_validate_json(record.body)
    settings = get_settings()
    jobs = Jobs(
        require(settings.leads_table, "LEADS_TABLE"), require(settings.sweep_queue_url, "SWEEP_QUEUE_URL")
    )
    rules, repo, time_left = wiring.current_rules(), wiring.leads(), wiring.time_left(lambda_context)
    threshold = settings.sales_ready_threshold
    if message.kind == "sweep":
        deliver = lambda state: deliver_alerts(state, clock.seconds)  # noqa: E731
        report = sweep_shard(
            repo, message, rules, clock.now(), threshold, deliver=deliver, time_left=time_left
        )
    else:
        report = rescore_segment(repo, jobs, message, rules, clock.now(), threshold, time_left=time_left)
    if report.continuation is not None:
        jobs.enqueue([report.continuation])
    count("LeadsDue", report.due)
    count("LeadsRescored", report.rescored + report.rebuilt)
    count("SweepFailures", len(report.failures))
    summary = report.summary(message)
    failed = {k: type(v).__name__ for k, v in report.failures.items()}
    logger.info("sweep job done", extra={**summary, "failed_leads": failed, "rules_version": rules.version})
    return summary


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=work, processor=processor, context=context)  # type: ignore[return-value]
