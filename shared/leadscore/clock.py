"""The one clock scoring reads. Tests and replays of dated sample events pin it; nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime

_pinned: datetime | None = None


def now() -> datetime:
    return _pinned if _pinned is not None else datetime.now(UTC)


def pin(at: datetime | None) -> None:
    """Pin the clock at ``at`` (None: back to real time)."""
    global _pinned  # noqa: PLW0603
    _pinned = at


def seconds() -> int:
    """:func:`now` as epoch seconds."""
    return int(now().timestamp())
