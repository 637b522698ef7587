"""Alert delivery wired to this deployment: the leads table's outbox, the alerts topic, the checks
SNS would apply, metrics and PII-free log lines; then the lead's events to the lead events bus.
Used by the notifier and the sweep worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadscore.dal.accounts import AccountOutbox, account_from_item, is_account_pk
from leadscore.dal.eventbus import EventBus
from leadscore.dal.outbox import Outbox
from leadscore.dal.topic import Topic
from leadscore.observability import count, logger
from leadscore.scoring.accounts import Account
from leadscore.scoring.state import LeadState
from leadscore.services.accounts import deliver_account
from leadscore.services.delivery import Delivered, Tracked, deliver
from leadscore.services.lead_events import deliver_events
from leadscore.settings import get_settings, require


def _check(request: dict[str, Any]) -> list[str]:
    """The SNS Publish constraints ``request`` breaks (constraint names, never PII)."""
    from leadscore.alerts import publish_problems

    return publish_problems(request)


def _count(
    delivered: Delivered, sent: str, backing_off: str = "AlertPublishFailed", failed: str = "AlertFailed"
) -> None:
    """The metrics of a delivery's outcomes (the names of a lead's alerts, its events, an account's)."""
    for name, value in (
        (sent, len(delivered.sent)),
        (backing_off, len(delivered.backing_off)),
        (failed, len(delivered.failed)),
    ):
        if value:
            count(name, value)


def deliver_alerts(state: LeadState, now: Callable[[], int]) -> Delivered:
    """Deliver the lead's due alerts; count and log what happened (lead and alert ids only)."""
    settings = get_settings()
    outbox = Outbox(require(settings.leads_table, "LEADS_TABLE"))
    topic = Topic(require(settings.alerts_topic_arn, "ALERTS_TOPIC_ARN"))
    tracked = Tracked(state)
    link = settings.lead_url_template
    delivered = deliver(state, outbox, topic, now, check=_check, link_template=link, tracked=tracked)
    if state.pending_events:
        bus = EventBus(require(settings.lead_events_bus, "LEAD_EVENTS_BUS"))
        delivered.events = deliver_events(state, outbox, bus, now, link, tracked)
        _report_events(state, delivered.events)
    _count(delivered, "AlertsSent")

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


def _report_events(state: LeadState, delivered: Delivered) -> None:
    """Count and log what happened to the lead's events (lead and event ids only)."""
    _count(delivered, "LeadEventsSent", "LeadEventPublishFailed", "LeadEventFailed")
    for event_id in delivered.backing_off:
        logger.warning(
            "lead event put failed, backing off", extra={"lead_id": state.lead_id, "event_id": event_id}
        )
    for event_id, why in delivered.failed.items():
        logger.error(
            "lead event failed for good",
            extra={"lead_id": state.lead_id, "event_id": event_id, "reason": why},
        )


def deliver_account_alerts(account: Account, now: Callable[[], int]) -> Delivered:
    """Deliver an account summary's due alerts, through the same topic, checks and metrics."""
    from leadscore.alerts import account_sns_message

    settings = get_settings()
    outbox = AccountOutbox(require(settings.leads_table, "LEADS_TABLE"))
    topic = Topic(require(settings.alerts_topic_arn, "ALERTS_TOPIC_ARN"))
    delivered = deliver_account(account, outbox, topic, now, lambda _, a: account_sns_message(a), _check)
    _count(delivered, "AccountAlertsSent")
    for alert_id in delivered.sent:
        logger.info("account alert sent", extra={"account": account.domain, "alert_id": alert_id})
    for alert_id, why in delivered.failed.items():
        logger.error(
            "account alert failed for good",
            extra={"account": account.domain, "alert_id": alert_id, "reason": why},
        )
    return delivered


def deliver_image(image: dict[str, Any], now: Callable[[], int]) -> Delivered:
    """The pending alerts of a stream record's new image: a lead's or an account summary's."""
    from leadscore.dal.items import from_item

    if is_account_pk(image.get("pk", {}).get("S", "")):
        return deliver_account_alerts(account_from_item(image), now)
    return deliver_alerts(from_item(image), now)
