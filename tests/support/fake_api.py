"""A real local HTTP server in a thread, for the CRM fakes (tests/support/fake_hubspot.py and
fake_salesforce.py): JSON in and out, a request log, a sliding-window rate limit and an optional
schedule of forced 429s (``throttle_next``)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Logged:
    method: str
    path: str
    status: int
    size: int  # records in a batch request (0 otherwise)


Answer = tuple[int, Any, dict[str, str]]


class FakeApi:
    """Subclasses implement :meth:`handle` (method, path, headers, body) -> (status, json, headers)."""

    def __init__(self, *, limit: int = 100, window: float = 10.0, retry_after: str | None = None) -> None:
        self.limit = limit
        self.window = window
        self.retry_after = retry_after  # None: seconds until the window frees, rounded up
        self.log: list[Logged] = []
        self._times: deque[float] = deque()
        self._forced: list[str] = []  # Retry-After values of the next requests to refuse with 429
        self.lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake._dispatch(self.command, self.path, dict(self.headers), raw)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json;charset=UTF-8")
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def throttle_next(self, count: int, retry_after: str = "1") -> None:
        """Refuse the next ``count`` requests with 429 and this ``Retry-After`` (a throttling burst)."""
        with self.lock:
            self._forced.extend([retry_after] * count)

    def _rate_limited(self, now: float) -> Answer | None:
        with self.lock:
            if self._forced:
                return 429, self.rate_limit_body(), {"Retry-After": self._forced.pop(0)}
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if len(self._times) >= self.limit:
                wait = self._times[0] + self.window - now
                after = self.retry_after or str(max(1, int(wait + 0.999)))
                return 429, self.rate_limit_body(), {"Retry-After": after}
            self._times.append(now)
        return None

    def rate_limit_body(self) -> Any:
        return {"status": "error", "message": "rate limited"}

    def _dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            body = json.loads(raw) if raw and "json" in headers.get("content-type", "") else raw
        except ValueError:
            body = None
        answer = self.handle(method, path, headers, body)
        size = self.batch_size(path, body)
        with self.lock:
            self.log.append(Logged(method, path.split("?", maxsplit=1)[0], answer[0], size))
        return answer

    def batch_size(self, path: str, body: Any) -> int:
        return 0

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        raise NotImplementedError

    def gate(self, headers: dict[str, str], valid: Callable[[str], bool], unauthorized: Any) -> Answer | None:
        """Auth first (401), then the rate limit (429)."""
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not valid(auth.removeprefix("Bearer ")):
            return 401, unauthorized, {}
        return self._rate_limited(time.monotonic())

    def count(self, path_part: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for e in self.log if path_part in e.path and (status is None or e.status == status))
