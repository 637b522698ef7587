"""Rate limits, pure: a token bucket over the CRM's documented window, and retry delays.

HubSpot allows a private app 100-190 requests per 10 seconds (by tier) and answers 429 with
``Retry-After`` past it; Salesforce counts requests per 24 hours (403 ``REQUEST_LIMIT_EXCEEDED``).
The bucket keeps a container under the per-window limit; :func:`retry_delay` honours ``Retry-After``
and otherwise backs off exponentially with full jitter. Time and randomness are passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BACKOFF_SECONDS = 20.0
BASE_BACKOFF_SECONDS = 0.5


@dataclass
class TokenBucket:
    """``capacity`` requests per ``window`` seconds, refilled continuously."""

    capacity: float
    window: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def wait_for(self, now: float) -> float:
        """Seconds to wait before the next request may go (0 when a token is there); takes the token."""
        rate = self.capacity / self.window
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / rate
        self.tokens -= 1  # borrowed: the caller sleeps ``wait`` and then sends
        return wait

    def drain(self, now: float) -> None:
        """The server said 429: assume the window is spent."""
        self.tokens = 0.0
        self.updated = now


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds form; an HTTP date is treated as absent)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


def retry_delay(attempt: int, retry_after: float | None, random: Callable[[], float]) -> float:
    """Delay before retry number ``attempt`` (1-based): the server's ``Retry-After`` when given (plus a
    little jitter so containers do not stampede), else full-jitter exponential backoff."""
    if retry_after is not None:
        return retry_after + random() * 0.25
    cap = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2.0 ** (attempt - 1))
    return float(random() * cap)
