"""The client side of the local stack: the sample events (events/http-*.json) sent as real HTTP
requests to the local server, SendGrid's signed samples re-signed first, and plain GETs of its routes.

Used by the demo and the tests; the samples are API Gateway payload 2.0 events.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

from tools.local.settings import SENDGRID_SIGNATURE_HEADER, SENDGRID_TEST_PRIVATE_KEY
from tools.localstack import decode_body

# What the HTTP connection sets itself (or a proxy added when the sample was recorded).
_DEMO_SKIP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "x-forwarded-port"}


def resign_sendgrid(event: dict[str, Any], root: Path) -> bool:
    """Re-sign a signed SendGrid sample with a fresh timestamp (the saved one is stale after 5 minutes).

    Uses the sample key pair and leadscore's own signer; returns False (event unchanged) when either is
    missing.
    """
    headers = event.get("headers") or {}
    if not any(str(k).lower() == SENDGRID_SIGNATURE_HEADER for k in headers):
        return False
    private_key = root / SENDGRID_TEST_PRIVATE_KEY
    from tools.signing import signed_headers  # imports the layer: only when a sample is signed

    if not private_key.is_file():
        return False
    fresh = signed_headers(decode_body(event), private_key.read_bytes())
    kept = {k: v for k, v in headers.items() if str(k).lower() not in {n.lower() for n in fresh}}
    event["headers"] = {**kept, **fresh}
    return True


def replay_request(base_port: int, event: dict[str, Any], timeout: float = 30.0) -> tuple[int, bytes]:
    """Send a payload 2.0 sample event as a real HTTP request to the local server."""
    http_ctx = (event.get("requestContext") or {}).get("http") or {}
    method = str(http_ctx.get("method") or "POST").upper()
    path = str(event.get("rawPath") or http_ctx.get("path") or "/")
    raw_query = str(event.get("rawQueryString") or "")
    body = event.get("body")
    payload = decode_body(event)
    headers = {
        str(k): str(v)
        for k, v in (event.get("headers") or {}).items()
        if str(k).lower() not in _DEMO_SKIP_HEADERS
    }
    if event.get("cookies"):
        headers["cookie"] = "; ".join(str(c) for c in event["cookies"])
    connection = http.client.HTTPConnection("127.0.0.1", base_port, timeout=timeout)
    try:
        target = path + (f"?{raw_query}" if raw_query else "")
        connection.request(method, target, body=payload if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, bytes]:
    """GET ``path`` from the local server."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
