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

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from leadscore.alerts import sns_message
from leadscore.dal.items import due_time
from leadscore.dal.keys import DUE_SHARDS, due_pk, shard_of
from leadscore.dal.outbox import DueKey, Finished
from leadscore.dal.topic import PublishFailed, PublishRefused, Result
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


class Tracker(ABC):
    """What a delivery knows of the item it updates: its version while nobody else writes it, and
    the due key once an entry is in its new state (a lead's :class:`Tracked`, an account's)."""

    def __init__(self, ver: int | None) -> None:
        self.ver = ver

    def claimed(self) -> None:
        self.ver = None if self.ver is None else self.ver + 1

    def lost(self) -> None:
        """Another delivery or writer changed the item: its version is no longer known."""
        self.ver = None

    @abstractmethod
    def due(self, entry: Any) -> DueKey | None:
        """The due key once ``entry`` is in its new state (set before this call)."""

    def finished(self, how: Finished) -> None:
        self.ver = self.ver + 1 if (how == "moved" and self.ver is not None) else None


class Tracked(Tracker):
    """The lead as this delivery leaves it, and its item version while nobody else writes it."""

    def __init__(self, state: LeadState) -> None:
        super().__init__(state.ver)
        self.state = state.model_copy(update={"outbox": dict(state.outbox), "events": dict(state.events)})

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


@dataclass
class Claimed[E: OutboxEntry]:
    """An entry this delivery holds the lease of, and the request made of it."""

    entry: E
    token: str
    request: dict[str, Any]


class Channel(Protocol):
    """Where a delivery sends what it claimed: a request per SNS message, or PutEvents batches."""

    name: str  # in the reasons of the entries it refused ("refused by SNS: ...")
    max_batch: int  # requests sent together

    def fits(self, batch: Sequence[dict[str, Any]], request: dict[str, Any]) -> bool:
        """Whether ``request`` may join ``batch`` (not yet full) in one send."""
        ...

    def send(self, batch: Sequence[dict[str, Any]]) -> list[Result]:
        """One result per request, in order; a send failing as a whole raises
        :class:`PublishFailed` or :class:`PublishRefused`."""
        ...


class _Loop[E: OutboxEntry]:
    """One delivery's updates of the outbox: claim, then mark sent, back off or fail."""

    def __init__(
        self, key: str, outbox: Outbox, now: Callable[[], int], tracker: Tracker, channel: Channel
    ) -> None:
        self.key, self.outbox, self.now, self.tracker, self.channel = key, outbox, now, tracker, channel
        self.report = Delivered()

    def claim(self, entry: E, render: Callable[[E], dict[str, Any]]) -> Claimed[E] | None:
        at = self.now()
        if not due(entry, at):
            self.report.skipped += 1
            return None
        token = self.outbox.claim(self.key, entry.id, at)
        if token is None:
            self.report.skipped += 1  # sent, leased or backing off since this state was read
            self.tracker.lost()
            return None
        self.tracker.claimed()
        return Claimed(entry, token, render(entry))

    def send(self, batch: list[Claimed[E]]) -> None:
        if not batch:
            return
        try:
            results = self.channel.send([item.request for item in batch])
        except (PublishFailed, PublishRefused) as exc:
            results = [exc] * len(batch)
        for item, result in zip(batch, results, strict=True):
            self.finish(item, result)

    def finish(self, item: Claimed[E], result: Result | str) -> None:
        """Record ``result`` (a reason string: refused before sending)."""
        entry, token, key, outbox, report = item.entry, item.token, self.key, self.outbox, self.report
        reason = result if isinstance(result, str) else None
        if isinstance(result, PublishRefused):
            reason = f"refused by {self.channel.name}: {result.code}"
        elif isinstance(result, PublishFailed):
            attempts = entry.attempts + 1
            if attempts < MAX_ATTEMPTS:
                retry = self.now() + backoff(attempts)
                due_key = self.tracker.due(
                    entry.model_copy(update={"status": "pending", "next_attempt_at": retry})
                )
                self.tracker.finished(outbox.back_off(key, entry.id, token, attempts, retry, due_key))
                report.backing_off.append(entry.id)
                return
            reason = f"gave up after {attempts} attempts (last: {result.code})"
        if reason is not None:
            due_key = self.tracker.due(entry.model_copy(update={"status": "failed"}))
            self.tracker.finished(outbox.fail(key, entry.id, token, reason, due_key))
            report.failed[entry.id] = reason
            return
        due_key = self.tracker.due(entry.model_copy(update={"status": "sent"}))
        self.tracker.finished(outbox.mark_sent(key, entry.id, token, self.now(), due_key))
        report.sent.append(entry.id)


def deliver_entries[E: OutboxEntry](
    key: str,
    entries: Iterable[E],
    outbox: Outbox,
    channel: Channel,
    now: Callable[[], int],
    render: Callable[[E], dict[str, Any]],
    check: Check,
    tracker: Tracker,
) -> Delivered:
    """The one delivery loop (a lead's alerts and events, an account's alerts): claim each entry that
    may be attempted now, fail those ``check`` finds a problem with, send the others through
    ``channel`` (a batch once it is full, or the next would not fit), then mark each from its result."""
    loop: _Loop[E] = _Loop(key, outbox, now, tracker, channel)
    batch: list[Claimed[E]] = []
    for entry in entries:
        item = loop.claim(entry, render)
        if item is None:
            continue
        problems = check(item.request)
        if problems:
            loop.finish(item, "; ".join(problems))
            continue
        if batch and not channel.fits([b.request for b in batch], item.request):
            loop.send(batch)
            batch = []
        batch.append(item)
        if len(batch) >= channel.max_batch:
            loop.send(batch)
            batch = []
    loop.send(batch)
    return loop.report


class Sns:
    """SNS as a delivery channel: one message a request, so each alert is published and marked
    before the next is claimed."""

    name = "SNS"
    max_batch = 1

    def __init__(self, topic: Publisher) -> None:
        self.topic = topic

    def fits(self, batch: Sequence[dict[str, Any]], request: dict[str, Any]) -> bool:
        return not batch

    def send(self, batch: Sequence[dict[str, Any]]) -> list[Result]:
        results: list[Result] = []
        for request in batch:
            self.topic.publish(request)
            results.append(None)
        return results


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
    return deliver_entries(
        state.lead_id,
        state.pending_alerts,
        outbox,
        Sns(topic),
        now,
        lambda alert: sns_message(state, alert, link_template),
        check,
        tracked or Tracked(state),
    )
