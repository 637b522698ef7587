"""Mailgun webhooks (https://documentation.mailgun.com/docs/mailgun/user-manual/events/webhooks/).

The JSON body holds ``signature: {timestamp, token, signature}`` and ``event-data``. ``signature`` is hex
HMAC-SHA256(webhook signing key, ``timestamp + token``). We refuse:

- timestamps more than 5 minutes from now (stale);
- a token already seen within that window (replay). The seen tokens are a bounded in-memory set per
  container (:data:`MAX_TOKENS`): a replay sent to *another* container is not caught here, but it carries
  the same ``event-data.id`` and is dropped by the scorer's event-id dedupe downstream.

Mapping (``event`` → type): delivered → email_delivered, opened → email_open, clicked → email_click,
failed (severity permanent) → email_bounce, failed (temporary) → email_deferred, rejected → email_dropped,
unsubscribed → email_unsubscribe, complained → email_spam_report; accepted/stored/list events are ignored.
Opens Mailgun marks as machine/bot (``client-info.bot``) set ``bot``; scanner user agents too.
Secret: ``MAILGUN_SIGNING_KEY`` / ``MAILGUN_SIGNING_KEY_PARAM``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, SignatureError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    EmailItem,
    Skip,
    email_events,
    json_object,
    require_hmac,
    required_secrets,
    section,
    text,
    typed_event,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import check_timestamp, hmac_digest
from leadscore.models.event import EventType

SOURCE = "mailgun"
CREDENTIAL_VARIABLE = "MAILGUN_SIGNING_KEY"
MAX_TOKENS = 10_000

EVENT_TYPES: Mapping[str, EventType] = {
    "delivered": "email_delivered",
    "opened": "email_open",
    "clicked": "email_click",
    "rejected": "email_dropped",
    "unsubscribed": "email_unsubscribe",
    "complained": "email_spam_report",
}


class _SeenTokens:
    """Tokens seen in the last window, oldest first, at most ``limit`` (the oldest are forgotten first)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tokens: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, token: str, now: float, window: float) -> bool:
        """True if ``token`` is new (and remember it); False if seen within ``window`` seconds."""
        with self._lock:
            while self._tokens:
                seen_at = next(iter(self._tokens.values()))
                if now - seen_at <= window and len(self._tokens) < self._limit:
                    break
                self._tokens.popitem(last=False)
            if token in self._tokens:
                return False
            self._tokens[token] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


SEEN_TOKENS = _SeenTokens(MAX_TOKENS)


def sign(timestamp: str, token: str, key: str) -> str:
    return hmac_digest(key.encode(), (timestamp + token).encode())


class MailgunProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        secrets = required_secrets(config, CREDENTIAL_VARIABLE, "Mailgun")
        if secrets is None:
            return
        document = json_object(request, "Mailgun webhook")
        block = document.get("signature")
        if not isinstance(block, dict):
            raise SignatureError("the body has no signature object")
        timestamp, token, signature = (block.get(k) for k in ("timestamp", "token", "signature"))
        if isinstance(timestamp, int) and not isinstance(timestamp, bool):
            timestamp = str(timestamp)
        if not all(isinstance(v, str) and v for v in (timestamp, token, signature)):
            raise SignatureError("signature.timestamp, token and signature are required strings")
        assert isinstance(timestamp, str)
        assert isinstance(token, str)
        assert isinstance(signature, str)
        window = config.signature_tolerance_seconds
        check_timestamp(timestamp, now=request.now, tolerance_seconds=window, header="signature.timestamp")
        mismatch = "the Mailgun signature does not match the timestamp and token"
        require_hmac((timestamp + token).encode(), signature, secrets, mismatch)
        if not SEEN_TOKENS.check_and_add(token, request.now, 2 * window):
            raise SignatureError("the Mailgun token was already used (replayed request)")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        document = json_object(request, "Mailgun webhook")
        data = document.get("event-data")
        if not isinstance(data, dict):
            raise MalformedBodyError("a Mailgun webhook body has an event-data object")
        return email_events(SOURCE, [data], _read, request)


def _read(data: Mapping[str, Any], request: IngestRequest) -> EmailItem | Skip:
    # "failed" is a bounce when permanent, else a deferral.
    failed: EventType = "email_bounce" if data.get("severity") == "permanent" else "email_deferred"
    read = typed_event(data, {**EVENT_TYPES, "failed": failed}, "Mailgun", label="event-data.event")
    if isinstance(read, Skip):
        return read
    kind, event_type = read
    client = section(data, "client-info")
    marked = client.get("bot") if kind in ("opened", "clicked") else None
    headers = section(section(data, "message"), "headers")
    properties: dict[str, Any] = {
        "message_id": headers.get("message-id"),
        "tags": data.get("tags"),
        "campaigns": data.get("campaigns"),
        "reason": data.get("reason") if kind == "failed" else None,
        "severity": data.get("severity"),
    }
    event_id = text(data.get("id"))
    return EmailItem(
        name=kind,
        event_type=event_type,
        email=data.get("recipient"),
        event_id=f"mailgun:{event_id}" if event_id else None,
        fingerprint=data,
        when=occurred_at(data.get("timestamp"), request.received_at),
        properties=properties,
        extra=data.get("user-variables"),
        user_agent=client.get("user-agent"),
        link=data.get("url"),
        bot=("machine open" if kind == "opened" else f"bot click ({str(marked)[:40]})") if marked else None,
    )


PROVIDER = MailgunProvider()
