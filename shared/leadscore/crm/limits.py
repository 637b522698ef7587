"""Rate limits, pure: a rolling-window limiter over the CRM's documented window, and retry delays.

HubSpot allows a private app 100-190 requests per 10 seconds (by tier) and answers 429 with
``Retry-After`` past it; Salesforce counts requests per 24 hours (403 ``REQUEST_LIMIT_EXCEEDED``).
The window keeps a container under the per-window limit; :func:`retry_delay` honours ``Retry-After``
and otherwise backs off exponentially with full jitter. Time and randomness are passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BACKOFF_SECONDS = 20.0
BASE_BACKOFF_SECONDS = 0.5


@dataclass
class RollingWindow:
    """At most ``capacity`` requests in any ``window`` seconds, as HubSpot counts them (a rolling
    window: a token bucket of the same size would let twice as many through one window)."""

    capacity: float
    window: float
    sent: deque[float] = field(default_factory=deque)

    def wait_for(self, now: float) -> float:
        """Seconds to wait before the next request may go (0 when it may go now); reserves its slot."""
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        at = now
        if len(self.sent) >= self.capacity:
            at = self.sent[-int(self.capacity)] + self.window  # when the oldest of the last N leaves
        self.sent.append(at)
        return at - now


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
