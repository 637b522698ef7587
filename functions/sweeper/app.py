"""SweeperFunction: on a schedule (SweepSchedule, hourly by default), rescore the leads due to decay.

Thin: load the rules in force, call :func:`leadscore.scoring.sweep.sweep` with the clock and the time
left, log one summary. Leads it could not finish stay due and are retried by the next run.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.dal.leads import repository
from leadscore.dal.rules_store import rules_store
from leadscore.observability import count, logger, metrics
from leadscore.scoring.sweep import sweep
from leadscore.settings import get_settings, require


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    rules = rules_store(
        require(settings.rules_bucket, "RULES_BUCKET"), settings.rules_key, settings.rules_refresh_seconds
    ).current()
    report = sweep(
        repository(require(settings.leads_table, "LEADS_TABLE")),
        rules,
        clock.now(),
        settings.sales_ready_threshold,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    count("LeadsDue", report.due)
    count("LeadsRescored", report.rescored)
    count("SweepFailures", len(report.failures))
    summary = {
        "due": report.due,
        "rescored": report.rescored,
        "unchanged": report.unchanged,
        "missing": report.missing,
        "failed": len(report.failures),
        "moves": dict(report.moves),
        "stopped_early": report.stopped_early,
    }
    logger.info(
        "sweep done",
        extra={
            **summary,
            "failed_leads": {k: type(v).__name__ for k, v in report.failures.items()},
            "rules_version": rules.version,
        },
    )
    return summary
