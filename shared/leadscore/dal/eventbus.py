"""The lead events bus (EventBridge): PutEvents, and each entry's fate told apart (mirrors ``topic``).

PutEvents answers per entry: an accepted entry has an ``EventId``; a failed one an ``ErrorCode``.
Codes that say the entry itself is malformed can never succeed (refused); every other failure
(throttling, ``InternalFailure``, a bus or key misconfigured for a while) is passing: the entry backs
off and the sweep retries it, so an outage or a fixable misconfiguration never loses an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadscore.dal import clients
from leadscore.dal.topic import PublishFailed, PublishRefused, Result, call

__all__ = ["MAX_BATCH", "MAX_REQUEST_BYTES", "EventBus", "PublishFailed", "PublishRefused", "Result"]

MAX_BATCH = 10  # entries per PutEvents request
MAX_REQUEST_BYTES = 256 * 1024
# Per-entry error codes a retry of the same entry cannot fix.
REFUSED_ENTRY = frozenset({"MalformedDetail", "InvalidArgument", "ValidationException"})
# Whole-request error codes a retry cannot fix (the request itself is malformed).
REFUSED_REQUEST = frozenset({"ValidationException", "InvalidArgument"})


class EventBus:
    def __init__(self, name: str) -> None:
        self.name = name

    def put(self, entries: Sequence[dict[str, Any]]) -> list[Result]:
        """Send up to ``MAX_BATCH`` entries in one request; one result per entry, in order. A request
        that fails as a whole raises :class:`PublishFailed` or :class:`PublishRefused`."""
        response = call(lambda: clients.events().put_events(Entries=list(entries)), REFUSED_REQUEST)
        results: list[Result] = []
        answered = list(response.get("Entries", []))
        for index in range(len(entries)):
            answer = answered[index] if index < len(answered) else {}
            error = answer.get("ErrorCode")
            if answer.get("EventId") and not error:
                results.append(None)
            elif error in REFUSED_ENTRY:
                results.append(PublishRefused(str(error)))
            else:
                results.append(PublishFailed(str(error or "NoResult")))
        return results
