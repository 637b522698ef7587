"""Helpers every provider module shares: secrets (with the insecure local escape hatch), freshness of
millisecond timestamps, JSON documents, and building email events from one recipient and one event type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from leadscore.ingest.body import JSON, parse_json, require_content_type
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, SignatureError
from leadscore.ingest.normalize import clean_properties
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult, describe_validation_error
from leadscore.ingest.secrets import PARAM_SUFFIX
from leadscore.ingest.signatures import check_timestamp, required_header
from leadscore.models.event import (
    CanonicalEvent,
    EmailEncodingError,
    EventType,
    Identity,
    content_event_id,
    normalize_email,
)


def required_secrets(
    config: IngestConfig, name: str, label: str, *, error: type[SignatureError] = SignatureError
) -> tuple[str, ...] | None:
    """The configured values of secret ``name``; None (skip the check) only in insecure local mode.

    Without a configured secret the request is refused (401 "not configured"), so a forgotten secret never
    silently opens the route.
    """
    values = config.secrets(name)
    if values:
        return values
    if config.allow_unsigned:
        return None
    raise error(
        f"the {label} webhook secret is not configured; unauthenticated requests are refused",
        details=[f"set {name}{PARAM_SUFFIX} (SSM or Secrets Manager) or, locally, {name}"],
    )


def as_bytes(values: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(value.encode("utf-8") for value in values)


def timestamped_signature(
    request: IngestRequest,
    config: IngestConfig,
    signature_header: str,
    timestamp_header: str,
    *,
    millis: bool = True,
) -> tuple[str, str]:
    """The signature and its timestamp, both present and the timestamp fresh (or 401)."""
    signature = required_header(request, signature_header)
    timestamp = required_header(request, timestamp_header)
    check_timestamp(
        timestamp,
        now=request.now,
        tolerance_seconds=config.signature_tolerance_seconds,
        header=timestamp_header,
        millis=millis,
    )
    return signature, timestamp.strip()


def json_document(request: IngestRequest) -> Any:
    """The JSON body (``application/json``, ``text/plain`` or no content type); 415/400 otherwise."""
    require_content_type(request.content_type, (JSON, "text/plain"), default=JSON)
    return parse_json(request.body)


def json_object(request: IngestRequest, what: str) -> Mapping[str, Any]:
    document = json_document(request)
    if not isinstance(document, dict):
        raise MalformedBodyError(f"a {what} body is a JSON object")
    return document


def section(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``document[key]`` if it is an object, else an empty mapping."""
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def add_email_event(
    result: IngestResult,
    index: int,
    *,
    source: str,
    event_type: EventType,
    name: str,
    email: Any,
    event_id: str | None,
    fingerprint: Any,
    when: datetime,
    request: IngestRequest,
    properties: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    bot: str | None = None,
) -> None:
    """Add one email event for one recipient, or reject the item naming the field at fault."""
    if not isinstance(email, str):
        result.reject(index, "email: missing or not a string")
        return
    try:
        identity = Identity(email=normalize_email(email))
    except EmailEncodingError as exc:
        result.reject(index, f"email: {exc}")
        return
    except ValueError:
        result.reject(index, "email: not a valid email address")
        return
    try:
        event = CanonicalEvent(
            event_id=(event_id or content_event_id(source, fingerprint))[:256],
            source=source,
            type=event_type,
            name=name[:200],
            occurred_at=when,
            received_at=request.received_at,
            identity=identity,
            properties=clean_properties(properties, extra),
            bot=bot[:200] if bot else None,
        )
    except ValidationError as exc:
        result.reject(index, "; ".join(describe_validation_error(exc)))
        return
    result.add(event)
