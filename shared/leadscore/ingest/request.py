"""The HTTP request as ingest sees it, built from an API Gateway HTTP API (payload 2.0) event.

The body size is checked against ``MAX_BODY_BYTES`` *before* anything is decoded or parsed: a base64 body
is measured by its decoded length, computed from its encoded length.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadscore.ingest.body import ContentType, parse_content_type
from leadscore.ingest.errors import MalformedBodyError, PayloadTooLargeError


def wall_clock() -> float:
    """The current time (epoch seconds). Signature freshness is judged by it; tests replace it."""
    return time.time()


@dataclass(frozen=True)
class IngestRequest:
    """One HTTP request: method, path, lower-cased headers, the raw body bytes and when it arrived."""

    method: str
    path: str
    body: bytes
    received_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    query: tuple[tuple[str, str], ...] = ()
    now: float = field(default_factory=wall_clock)
    source_ip: str | None = None
    raw_query: str = ""
    domain_name: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> ContentType | None:
        return parse_content_type(self.header("content-type"))

    @property
    def user_agent(self) -> str | None:
        return self.header("user-agent")

    def query_value(self, name: str) -> str | None:
        """The first value of a query-string parameter, or None."""
        return next((value for key, value in self.query if key == name), None)

    def public_url(self, base_url: str = "") -> str:
        """The URL the sender called: ``base_url`` (``https://hooks.example.com``) or ``https://<Host>``,
        then the raw path and query string exactly as received. Signatures over the URL need it."""
        base = base_url.strip().rstrip("/")
        if not base:
            host = self.header("host") or self.domain_name or "localhost"
            proto = (self.header("x-forwarded-proto") or "https").split(",")[0].strip() or "https"
            base = f"{proto}://{host}"
        return base + self.path + ("?" + self.raw_query if self.raw_query else "")


def _decoded_length(encoded: str) -> int:
    stripped = encoded.rstrip()
    padding = len(stripped) - len(stripped.rstrip("="))
    return (len(stripped) * 3) // 4 - padding


def body_bytes(event: Mapping[str, Any], max_body_bytes: int) -> bytes:
    """The raw body of a payload-2.0 event (base64 decoded): 413 before decoding one too large, 400 if
    ``isBase64Encoded`` is set on something that is not base64. Every HTTP route reads its body here."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedBodyError("the event body must be a string")
    too_large = PayloadTooLargeError(
        f"the body is larger than {max_body_bytes} bytes", details=[f"max_body_bytes: {max_body_bytes}"]
    )
    if event.get("isBase64Encoded"):
        if _decoded_length(body) > max_body_bytes:
            raise too_large
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedBodyError("the body is marked isBase64Encoded but is not valid base64") from exc
    else:
        if len(body) > max_body_bytes:  # every character is at least one byte
            raise too_large
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates cannot come from a real HTTP body
            raise MalformedBodyError("the body is not valid text") from exc
    if len(raw) > max_body_bytes:
        raise too_large
    return raw


def _received_at(context: Mapping[str, Any]) -> datetime:
    epoch_ms = context.get("timeEpoch")
    if isinstance(epoch_ms, int | float) and not isinstance(epoch_ms, bool) and 0 < epoch_ms < 1e14:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return datetime.fromtimestamp(wall_clock(), tz=UTC)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def from_http_api_event(event: Mapping[str, Any], *, max_body_bytes: int) -> IngestRequest:
    """An :class:`IngestRequest` from a payload-2.0 event; 413 before decoding a body that is too big."""
    context = _mapping(event.get("requestContext"))
    http = _mapping(context.get("http"))
    headers = {str(k).lower(): str(v) for k, v in _mapping(event.get("headers")).items()}
    query = tuple((str(k), str(v)) for k, v in _mapping(event.get("queryStringParameters")).items())
    return IngestRequest(
        method=str(http.get("method", "POST")).upper(),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        body=body_bytes(event, max_body_bytes),
        received_at=_received_at(context),
        headers=headers,
        query=query,
        now=wall_clock(),
        source_ip=str(http["sourceIp"]) if http.get("sourceIp") else None,
        raw_query=str(event.get("rawQueryString") or ""),
        domain_name=str(context["domainName"]) if context.get("domainName") else None,
    )
