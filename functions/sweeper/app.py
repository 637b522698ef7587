"""SweeperFunction: on the SweepSchedule, fan the sweep out: one job message per ``due`` shard.

Thin: the workers (SweepWorkerFunction) do the visiting, many at once, each for a bounded time.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore import clock
from leadscore.dal.jobs import Jobs
from leadscore.dal.keys import due_shards
from leadscore.observability import count, logger, metrics
from leadscore.services.sweep import plan_sweep
from leadscore.settings import get_settings, require


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    jobs = Jobs(
        require(settings.leads_table, "LEADS_TABLE"), require(settings.sweep_queue_url, "SWEEP_QUEUE_URL")
    )
    messages = plan_sweep(clock.now(), due_shards())
    jobs.enqueue(messages)
    count("SweepJobsQueued", len(messages))
    logger.info("sweep planned", extra={"shards": len(messages), "until": messages[0].until})
    return {"shards": len(messages), "until": messages[0].until}
