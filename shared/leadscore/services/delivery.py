"""Deliver a lead's pending alerts: one SNS message per alert, never lost, never looping.

Two roads lead here: the notifier (the DynamoDB stream, within seconds of the crossing) and the
sweep (every run, for alerts still pending ``REDRIVE_AFTER_SECONDS`` after they were raised, or whose
lease expired: a crash between claim and publish, a stream that gave up). Delivery does not depend on
a future write of the lead. Each alert is claimed with a lease, published, then marked:

- sent: it leaves ``alert_pending`` (the stream filter) and, at the lead's next write, the outbox;
- a passing failure (SNS throttled or down): pending again, not before a backoff time. The update
  makes a stream record, which finds the alert backing off and does nothing: no loop. The sweep
  retries it when the backoff ends, up to ``MAX_ATTEMPTS``;
- a request SNS can never accept (checked before publishing, or refused by SNS): failed, with the
  constraint that failed (never PII), the ``AlertFailed`` metric and a log line.

Exactly once: an alert is published again only if the process died between SNS accepting it and the
mark. Its ``alert_id`` (lead id / alert id) is stable, so a subscriber drops that duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from leadscore.alerts import sns_message
from leadscore.dal.items import due_time
from leadscore.dal.keys import DUE_SHARDS, due_pk, shard_of
from leadscore.dal.outbox import DueKey, Finished
from leadscore.dal.topic import PublishFailed, PublishRefused
from leadscore.scoring.state import AlertEntry, EventEntry, LeadState, OutboxEntry

MAX_ATTEMPTS = 48
BACKOFF_SECONDS = 60
MAX_BACKOFF_SECONDS = 3_600


class Outbox(Protocol):
    def claim(self, lead_id: str, alert_id: str, now: int) -> str | None: ...
    def mark_sent(
        self, lead_id: str, alert_id: str, token: str, now: int, due: DueKey | None = None
    ) -> Finished: ...
    def back_off(
        self,
        lead_id: str,
        alert_id: str,
        token: str,
        attempts: int,
        next_attempt_at: int,
        due: DueKey | None = None,
    ) -> Finished: ...
    def fail(
        self, lead_id: str, alert_id: str, token: str, reason: str, due: DueKey | None = None
    ) -> Finished: ...


class Publisher(Protocol):
    def publish(self, request: dict[str, Any]) -> str: ...


Check = Callable[[dict[str, Any]], list[str]]


@dataclass
class Delivered:
    sent: list[str] = field(default_factory=list)
    backing_off: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # alert id -> why (no PII)
    skipped: int = 0  # leased by another delivery, or waiting for its backoff
    events: Delivered | None = None  # the lead events delivered with them (services.lead_events)

    def merge(self, other: Delivered) -> None:
        self.sent += other.sent
        self.backing_off += other.backing_off
        self.failed.update(other.failed)
        self.skipped += other.skipped
        if other.events is not None:
            if self.events is None:
                self.events = Delivered()
            self.events.merge(other.events)

    @property
    def acted(self) -> bool:
        """Whether any alert or event was sent, failed or backed off (the item changed)."""
        events = self.events is not None and self.events.acted
        return bool(self.sent or self.failed or self.backing_off) or events


def backoff(attempts: int) -> int:
    return int(min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)))


def due(alert: OutboxEntry, now: int) -> bool:
    """Whether this entry may be attempted now (not leased by a live delivery, not backing off)."""
    if alert.status == "sending":
        return alert.lease_until < now
    return alert.status == "pending" and alert.next_attempt_at <= now


def _no_check(_: dict[str, Any]) -> list[str]:
    return []


class Tracked:
    """The lead as this delivery leaves it, and its item version while nobody else writes it."""

    def __init__(self, state: LeadState) -> None:
        self.state = state.model_copy(update={"outbox": dict(state.outbox), "events": dict(state.events)})
        self.ver: int | None = state.ver

    def claimed(self) -> None:
        self.ver = None if self.ver is None else self.ver + 1

    def lost(self) -> None:
        """Another delivery or writer changed the item: its version is no longer known."""
        self.ver = None

    def due(self, alert: AlertEntry | EventEntry) -> DueKey | None:
        """The due key once ``alert`` (or a lead event) is in its new state (set before this call)."""
        if isinstance(alert, EventEntry):
            self.state.events[alert.id] = alert
        else:
            self.state.outbox[alert.id] = alert
        if self.ver is None:
            return None
        lead_id = self.state.lead_id
        return DueKey(ver=self.ver, pk=due_pk(shard_of(lead_id, DUE_SHARDS)), at=due_time(self.state))

    def finished(self, how: Finished) -> None:
        self.ver = self.ver + 1 if (how == "moved" and self.ver is not None) else None


class Tracker(Protocol):
    """What a delivery knows of the item it updates: its version while nobody else writes it, and
    the due key once an entry is in its new state (a lead's :class:`Tracked`, an account's)."""

    def claimed(self) -> None: ...
    def lost(self) -> None: ...
    def due(self, entry: Any) -> DueKey | None: ...
    def finished(self, how: Finished) -> None: ...


def publish_pending[E: OutboxEntry](
    key: str,
    entries: Iterable[E],
    outbox: Outbox,
    topic: Publisher,
    now: Callable[[], int],
    render: Callable[[E], dict[str, Any]],
    check: Check,
    tracker: Tracker,
) -> Delivered:
    """The one delivery loop of SNS alerts (a lead's, an account's): claim each entry that may be
    attempted now, publish what ``render`` makes of it, then mark it sent, back it off or fail it."""
    report = Delivered()
    for alert in entries:
        at = now()
        if not due(alert, at):
            report.skipped += 1
            continue
        token = outbox.claim(key, alert.id, at)
        if token is None:
            report.skipped += 1  # sent, leased or backing off since this state was read
            tracker.lost()
            continue
        tracker.claimed()
        request = render(alert)
        problems = check(request)
        reason: str | None = "; ".join(problems) if problems else None
        if reason is None:
            try:
                topic.publish(request)
            except PublishRefused as exc:
                reason = f"refused by SNS: {exc.code}"
            except PublishFailed as exc:
                attempts = alert.attempts + 1
                if attempts < MAX_ATTEMPTS:
                    retry = now() + backoff(attempts)
                    due_key = tracker.due(
                        alert.model_copy(update={"status": "pending", "next_attempt_at": retry})
                    )
                    tracker.finished(outbox.back_off(key, alert.id, token, attempts, retry, due_key))
                    report.backing_off.append(alert.id)
                    continue
                reason = f"gave up after {attempts} attempts (last: {exc.code})"
        if reason is not None:
            due_key = tracker.due(alert.model_copy(update={"status": "failed"}))
            tracker.finished(outbox.fail(key, alert.id, token, reason, due_key))
            report.failed[alert.id] = reason
            continue
        due_key = tracker.due(alert.model_copy(update={"status": "sent"}))
        tracker.finished(outbox.mark_sent(key, alert.id, token, now(), due_key))
        report.sent.append(alert.id)
    return report


def deliver(
    state: LeadState,
    outbox: Outbox,
    topic: Publisher,
    now: Callable[[], int],
    check: Check = _no_check,
    link_template: str = "",
    tracked: Tracked | None = None,
) -> Delivered:
    """Publish every pending alert of ``state`` that may be attempted now (``link_template``: the
    ``LeadUrlTemplate`` the alerts link to the lead with; ``tracked``: shared with the delivery of
    the lead's events that follows, so the due key stays movable)."""
    return publish_pending(
        state.lead_id,
        state.pending_alerts,
        outbox,
        topic,
        now,
        lambda alert: sns_message(state, alert, link_template),
        check,
        tracked or Tracked(state),
    )
