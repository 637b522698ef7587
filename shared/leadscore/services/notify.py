"""Alert delivery wired to this deployment: the leads table's outbox, the alerts topic, the checks
SNS would apply, metrics and PII-free log lines. Used by the notifier and the sweep worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadscore.dal.outbox import Outbox
from leadscore.dal.topic import Topic
from leadscore.observability import count, logger
from leadscore.scoring.state import LeadState
from leadscore.services.delivery import Delivered, deliver
from leadscore.settings import get_settings, require


def _check(request: dict[str, Any]) -> list[str]:
    """The SNS Publish constraints ``request`` breaks (constraint names, never PII)."""
    from leadscore.alerts import publish_problems

    return publish_problems(request)


def deliver_alerts(state: LeadState, now: Callable[[], int]) -> Delivered:
    """Deliver the lead's due alerts; count and log what happened (lead and alert ids only)."""
    settings = get_settings()
    outbox = Outbox(require(settings.leads_table, "LEADS_TABLE"))
    topic = Topic(require(settings.alerts_topic_arn, "ALERTS_TOPIC_ARN"))
    delivered = deliver(state, outbox, topic, now, check=_check, link_template=settings.lead_url_template)
    for name, value in (
        ("AlertsSent", len(delivered.sent)),
        ("AlertPublishFailed", len(delivered.backing_off)),
        ("AlertFailed", len(delivered.failed)),
    ):
        if value:
            count(name, value)

    def keys(alert_id: str) -> dict[str, str | None]:
        """Lead and alert ids, and the correlation id of the request whose event raised the alert."""
        alert = state.outbox.get(alert_id)
        trace = alert.trace_id if alert is not None else None
        return {"lead_id": state.lead_id, "alert_id": alert_id, "correlation_id": trace}

    for alert_id in delivered.sent:
        logger.info("alert sent", extra=keys(alert_id))
    for alert_id in delivered.backing_off:
        logger.warning("alert publish failed, backing off", extra=keys(alert_id))
    for alert_id, why in delivered.failed.items():
        logger.error("alert failed for good", extra={**keys(alert_id), "reason": why})
    return delivered
