"""Domain errors. Handlers map them to HTTP status codes or batch failures in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class LeadscoreError(Exception):
    """Base class for every error leadscore raises on purpose."""


class ConfigurationError(LeadscoreError):
    """The deployment is misconfigured (missing environment variable, bad parameter)."""


class RulesUnavailableError(LeadscoreError):
    """No valid rules are loaded: events must be retried, never scored with nothing."""


class RulesValidationError(LeadscoreError):
    """A rules document failed validation. ``errors`` lists every problem, each naming rule and field."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid rules document:\n" + "\n".join(f"  - {e}" for e in errors))


class BadRequestError(LeadscoreError):
    """The caller sent something we cannot use. ``status`` is the 4xx to answer with."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.details = details or []


class UnauthorizedError(BadRequestError):
    """A bad or missing signature, or a stale or replayed request."""

    status = 401


def field_errors(
    exc: ValidationError,
    *,
    root: str | None = "value",
    where: Callable[[tuple[Any, ...]], str] | None = None,
) -> list[str]:
    """The one way a pydantic error reaches a caller: a ``"field.path: message"`` line per error,
    never echoing the input value. An error about the whole value names ``root`` (``root=None``:
    the message alone). ``where`` renders a location instead of the dotted path (the rules compiler
    names rules by their id)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        field = where(loc) if where is not None else ".".join(str(part) for part in loc)
        if not field and root is None:
            lines.append(message)
        else:
            lines.append(f"{field or root}: {message}")
    return lines
