"""Deliver a lead's pending events to EventBridge with the alerts' guarantees (docs/events.md).

The same two roads as alerts (the notifier on the stream, the sweep's re-drive) and the same outbox
updates: each event is claimed with a lease, then the claimed ones go out in ``PutEvents`` requests
of up to 10 entries and 256 KB, and each entry is marked on its own from its result:

- accepted: sent (it leaves ``alert_pending``, and the outbox at the lead's next write);
- a passing failure (the request failed, or the entry's ``ErrorCode`` is throttling or internal):
  pending again after a backoff; the sweep retries it, up to ``MAX_ATTEMPTS``;
- refused (the entry is malformed, checked before sending too): failed with the code, never
  blocking the other entries of the request or the lead's alerts.

At least once: an event is sent again only if the process died between EventBridge accepting it and
the mark; its ``detail.id`` is stable, so consumers drop the repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from leadscore.alerts import lead_link
from leadscore.dal.eventbus import MAX_BATCH, MAX_REQUEST_BYTES, PublishFailed, PublishRefused, Result
from leadscore.scoring.changes import entry_problems, entry_size, put_events_entry
from leadscore.scoring.state import EventEntry, LeadState
from leadscore.services.delivery import MAX_ATTEMPTS, Delivered, Outbox, Tracked, backoff, due


class Bus(Protocol):
    name: str

    def put(self, entries: Sequence[dict[str, Any]]) -> list[Result]: ...


@dataclass
class _Claimed:
    entry: EventEntry
    token: str
    request: dict[str, Any]


def batches(claimed: Sequence[_Claimed]) -> Iterator[list[_Claimed]]:
    """Requests of at most ``MAX_BATCH`` entries and ``MAX_REQUEST_BYTES``, in order."""
    batch: list[_Claimed] = []
    size = 0
    for item in claimed:
        cost = entry_size(item.request)
        if batch and (len(batch) >= MAX_BATCH or size + cost > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += cost
    if batch:
        yield batch


def _claim(
    state: LeadState,
    outbox: Outbox,
    bus: Bus,
    now: Callable[[], int],
    link: str | None,
    tracked: Tracked,
    report: Delivered,
) -> list[_Claimed]:
    claimed: list[_Claimed] = []
    for entry in sorted(state.pending_events, key=lambda e: (e.created_at, e.id)):
        at = now()
        if not due(entry, at):
            report.skipped += 1
            continue
        token = outbox.claim(state.lead_id, entry.id, at)
        if token is None:
            report.skipped += 1  # sent, leased or backing off since this state was read
            tracked.ver = None
            continue
        tracked.claimed()
        claimed.append(_Claimed(entry, token, put_events_entry(state.lead_id, entry, bus.name, link)))
    return claimed


def _finish(
    lead_id: str,
    item: _Claimed,
    result: Result,
    outbox: Outbox,
    now: Callable[[], int],
    tracked: Tracked,
    report: Delivered,
) -> None:
    entry, token = item.entry, item.token
    reason: str | None = None
    if isinstance(result, PublishRefused):
        reason = f"refused by EventBridge: {result.code}"
    elif isinstance(result, PublishFailed):
        attempts = entry.attempts + 1
        if attempts < MAX_ATTEMPTS:
            retry = now() + backoff(attempts)
            key = tracked.due(entry.model_copy(update={"status": "pending", "next_attempt_at": retry}))
            tracked.finished(outbox.back_off(lead_id, entry.id, token, attempts, retry, key))
            report.backing_off.append(entry.id)
            return
        reason = f"gave up after {attempts} attempts (last: {result.code})"
    if reason is not None:
        key = tracked.due(entry.model_copy(update={"status": "failed"}))
        tracked.finished(outbox.fail(lead_id, entry.id, token, reason, key))
        report.failed[entry.id] = reason
        return
    key = tracked.due(entry.model_copy(update={"status": "sent"}))
    tracked.finished(outbox.mark_sent(lead_id, entry.id, token, now(), key))
    report.sent.append(entry.id)


def deliver_events(
    state: LeadState,
    outbox: Outbox,
    bus: Bus,
    now: Callable[[], int],
    link_template: str = "",
    tracked: Tracked | None = None,
) -> Delivered:
    """Send every pending event of ``state`` that may be attempted now."""
    report = Delivered()
    tracked = tracked or Tracked(state)
    link = lead_link(link_template, state.lead_id)
    claimed = _claim(state, outbox, bus, now, link, tracked, report)
    ready: list[_Claimed] = []
    for item in claimed:
        problems = entry_problems(item.request)
        if problems:
            _finish(state.lead_id, item, PublishRefused("; ".join(problems)), outbox, now, tracked, report)
        else:
            ready.append(item)
    for batch in batches(ready):
        try:
            results = bus.put([item.request for item in batch])
        except (PublishFailed, PublishRefused) as exc:
            results = [exc] * len(batch)
        for item, result in zip(batch, results, strict=True):
            _finish(state.lead_id, item, result, outbox, now, tracked, report)
    return report
