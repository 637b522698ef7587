"""JSON over HTTPS for the CRM clients, with the stdlib only (no ``requests`` in the layer: cold start).

:class:`CrmHttp` sends one request at a time through a :class:`~leadscore.crm.limits.RollingWindow`,
retries 429 (honouring ``Retry-After``), 5xx and network errors with backoff, and never waits past the
time the invocation has left: then it raises :class:`CrmUnavailable` and the caller parks the work on
the retry queue. Anything else (2xx, 207, 4xx) is returned for the client to interpret. Tokens travel
in the ``Authorization`` header only and never appear in exceptions or logs.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadscore.crm.limits import RollingWindow, parse_retry_after, retry_delay
from leadscore.errors import LeadscoreError

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 6
SAFETY_SECONDS = 2.0  # left for parking the rest on the retry queue


class CrmError(LeadscoreError):
    """A CRM request that failed; ``reason`` is short and PII-free (a status and an error code)."""

    retryable = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CrmUnavailable(CrmError):
    """Rate limited, down, or out of time: retry later (the retry queue)."""


class CrmAuthError(CrmError):
    """401/403: the token is invalid, expired or lacks a scope. Retrying does not help until fixed."""

    retryable = False


class CrmConfigError(CrmError):
    """The CRM refuses the request's shape (a missing property or field): fix the CRM's setup."""

    retryable = False


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass
class CrmHttp:
    """One CRM's HTTP channel: its rate limiter, its clock, how much time is left."""

    bucket: RollingWindow
    time_left: Callable[[], float] = lambda: 60.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random.random
    max_attempts: int = MAX_ATTEMPTS
    requests: int = 0
    throttled: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def _pause(self, seconds: float, why: str) -> None:
        if seconds <= 0:
            return
        if seconds > self.time_left() - SAFETY_SECONDS:
            raise CrmUnavailable(f"{why}; no time left to wait {seconds:.1f} s")
        self.sleep(seconds)

    def send(self, method: str, url: str, token: str, body: Any | None = None) -> Response:
        """Send with retries; a 2xx/207/4xx other than 429 is returned as is."""
        why = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            self._pause(self.bucket.wait_for(self.monotonic()), "client-side rate limit")
            response = self._once(method, url, token, body)
            if response is not None and response.status != 429 and response.status < 500:
                return response
            retry_after = None
            if response is None:
                why = "network error"
            else:
                why = f"HTTP {response.status}"
                if response.status == 429:
                    self.throttled += 1
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
            if attempt < self.max_attempts:
                self._pause(retry_delay(attempt, retry_after, self.random), why)
        raise CrmUnavailable(f"{why} after {self.max_attempts} attempts")

    def _once(self, method: str, url: str, token: str, body: Any | None) -> Response | None:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(_checked(url), data=data, method=method, headers=headers)  # noqa: S310
        timeout = max(1.0, min(REQUEST_TIMEOUT_SECONDS, self.time_left() - SAFETY_SECONDS))
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=timeout) as raw:  # noqa: S310 (https/localhost only)
                response = Response(raw.status, _headers(raw.headers), _json(raw.read()))
        except urllib.error.HTTPError as exc:
            response = Response(exc.code, _headers(exc.headers), _json(exc.read()))
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return None
        self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        return response

    def form(self, url: str, fields: Mapping[str, str]) -> Response | None:
        """POST an x-www-form-urlencoded body without a token (an OAuth token request)."""
        from urllib.parse import urlencode

        request = urllib.request.Request(  # noqa: S310 (scheme checked)
            _checked(url),
            data=urlencode(fields).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as raw:  # noqa: S310
                return Response(raw.status, _headers(raw.headers), _json(raw.read()))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, _headers(exc.headers), _json(exc.read()))
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return None


def _checked(url: str) -> str:
    """HTTPS only (plain HTTP to the loopback for the local fakes): never ``file:`` or other schemes."""
    if url.startswith("https://") or url.startswith(("http://127.0.0.1:", "http://localhost:")):
        return url
    raise CrmConfigError("a CRM URL must be https://")


def _headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers.items() if headers is not None else [])}


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def error_code(body: Any) -> str:
    """A short, PII-free code from an error body: HubSpot's ``category``/``subCategory`` or the first
    Salesforce ``errorCode``."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or body[0].get("statusCode") or "")[:60]
    if isinstance(body, dict):
        return str(body.get("subCategory") or body.get("category") or body.get("errorType") or "")[:60]
    return ""
