"""``http_api_event``: the payload-2.0 event API Gateway would send for one request, exactly as given
(headers only those named, a fixed account and API id). The unit tests of ingest build requests with
it; the local stack's own builder (``tools.localstack.events.http_event``) adds what a real gateway
and browser add (host, forwarded headers, user agent, cookies) for end-to-end runs."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def http_api_event(
    method: str,
    path: str,
    body: str | bytes | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    base64_encode: bool = False,
    time_epoch_ms: int | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    raw_query: str = "",
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway would send for a request (for tests and the local HTTP server)."""
    epoch_ms = int(time.time() * 1000) if time_epoch_ms is None else time_epoch_ms
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    raw = body.encode() if isinstance(body, str) else body
    encoded: str | None
    if raw is None:
        encoded = None
    elif base64_encode:
        encoded = base64.b64encode(raw).decode("ascii")
    else:
        encoded = raw.decode("utf-8")
    route_path = "/webhooks/{provider}" if path.startswith("/webhooks/") else path
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method.upper()} {route_path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "leadscore",
            "domainName": "leadscore.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "leadscore",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": f"{method.upper()} {route_path}",
            "stage": "$default",
            "time": datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": base64_encode and raw is not None,
    }
    if encoded is not None:
        event["body"] = encoded
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw_query:
        from urllib.parse import parse_qsl

        event["queryStringParameters"] = dict(parse_qsl(raw_query, keep_blank_values=True))
    return event


def body_of(event: Mapping[str, Any]) -> bytes:
    """The request body an API Gateway event carries, base64-decoded where it says so."""
    raw = event.get("body") or ""
    return base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
