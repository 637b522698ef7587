"""What one request produced: accepted events (deduplicated by event id), rejected and ignored items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from leadscore.errors import field_errors
from leadscore.models.event import CanonicalEvent


@dataclass(frozen=True)
class Rejection:
    """An item that could not be used; ``error`` names the field and the problem."""

    index: int
    error: str


@dataclass(frozen=True)
class Ignored:
    """A valid item we deliberately do not score (a Segment ``screen``, a SendGrid ``processed``...)."""

    index: int
    reason: str


@dataclass
class IngestResult:
    """The outcome of one request. Build it with :meth:`add`, :meth:`reject` and :meth:`ignore`."""

    source: str
    events: list[CanonicalEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    duplicates_in_request: int = 0
    warnings: list[str] = field(default_factory=list)
    honeypot: bool = False
    redirect: str | None = None  # an allowed thank-you URL: the handler answers 303 to it
    # A provider that must be answered in its own format (Salesforce's SOAP Ack): (content type, body),
    # sent with 200 instead of the JSON counts.
    reply: tuple[str, str] | None = None
    _seen: set[str] = field(default_factory=set, repr=False)

    def add(self, event: CanonicalEvent) -> None:
        """Accept an event, unless an event with the same id was already accepted in this request."""
        if event.event_id in self._seen:
            self.duplicates_in_request += 1
            return
        self._seen.add(event.event_id)
        self.events.append(event)

    def reject(self, index: int, error: str) -> None:
        self.rejected.append(Rejection(index=index, error=error))

    def ignore(self, index: int, reason: str) -> None:
        self.ignored.append(Ignored(index=index, reason=reason))

    def to_response(self) -> dict[str, Any]:
        """The 202 body: ``accepted``, ``duplicates_in_request``, ``rejected``, ``ignored``, ``warnings``.

        ``ignored`` lists valid items deliberately not scored; ``warnings`` lists values dropped from an
        accepted item (a field that failed validation). A honeypot hit looks like any other empty result.
        """
        return {
            "accepted": len(self.events),
            "duplicates_in_request": self.duplicates_in_request,
            "rejected": [{"index": r.index, "error": r.error} for r in self.rejected],
            "ignored": [{"index": i.index, "reason": i.reason} for i in self.ignored],
            "warnings": list(self.warnings),
        }


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One ``"field.path: message"`` line per pydantic error, without echoing the input value."""
    return field_errors(exc)
