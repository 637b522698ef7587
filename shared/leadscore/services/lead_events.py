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

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from leadscore.alerts import lead_link
from leadscore.dal.eventbus import MAX_BATCH, MAX_REQUEST_BYTES, Result
from leadscore.scoring.changes import entry_problems, entry_size, put_events_entry
from leadscore.scoring.state import LeadState
from leadscore.services.delivery import Delivered, Outbox, Tracked, deliver_entries


class Bus(Protocol):
    name: str

    def put(self, entries: Sequence[dict[str, Any]]) -> list[Result]: ...


class _PutEvents:
    """EventBridge as a delivery channel: ``PutEvents`` requests of up to ``MAX_BATCH`` entries and
    ``MAX_REQUEST_BYTES``, one result per entry."""

    name = "EventBridge"
    max_batch = MAX_BATCH

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def fits(self, batch: Sequence[dict[str, Any]], request: dict[str, Any]) -> bool:
        size = sum(entry_size(entry) for entry in batch)
        return size + entry_size(request) <= MAX_REQUEST_BYTES

    def send(self, batch: Sequence[dict[str, Any]]) -> list[Result]:
        return self.bus.put(batch)


def _refused(request: dict[str, Any]) -> list[str]:
    """An entry EventBridge would refuse, failed before sending, with the reason it would give."""
    problems = entry_problems(request)
    return [f"refused by EventBridge: {'; '.join(problems)}"] if problems else []


def deliver_events(
    state: LeadState,
    outbox: Outbox,
    bus: Bus,
    now: Callable[[], int],
    link_template: str = "",
    tracked: Tracked | None = None,
) -> Delivered:
    """Send every pending event of ``state`` that may be attempted now, oldest first."""
    link = lead_link(link_template, state.lead_id)
    return deliver_entries(
        state.lead_id,
        sorted(state.pending_events, key=lambda e: (e.created_at, e.id)),
        outbox,
        _PutEvents(bus),
        now,
        lambda entry: put_events_entry(state.lead_id, entry, bus.name, link),
        _refused,
        tracked or Tracked(state),
    )
