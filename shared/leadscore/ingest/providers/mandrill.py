"""Mandrill (Mailchimp Transactional) webhooks (https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/).

Mandrill POSTs ``application/x-www-form-urlencoded`` with one field, ``mandrill_events``: a JSON array.
``X-Mandrill-Signature`` = base64 HMAC-SHA1(webhook key, webhook URL + each POST parameter's name and value,
sorted by name). The URL is the one configured in Mandrill, exactly: set ``MANDRILL_WEBHOOK_URL`` to it
(otherwise it is rebuilt from the Host header, the path and the query string). Nothing is timestamped: a
replayed batch maps to the same event ids (Mandrill's ``_id``) and is dropped by the scorer's dedupe.
Mandrill checks a new URL with ``HEAD`` (answered 200) and a POST of an empty array (202, nothing queued).

Mapping (``event``): send (accepted by Mandrill, not an outcome) is ignored;
deferral → email_deferred, hard_bounce → email_bounce, soft_bounce → email_deferred, open → email_open,
click → email_click, spam → email_spam_report, unsub → email_unsubscribe, reject → email_dropped. Sync
events (``type`` whitelist/blacklist) are ignored. Scanner user agents on opens and clicks set ``bot``.
Secret: ``MANDRILL_WEBHOOK_KEY`` / ``MANDRILL_WEBHOOK_KEY_PARAM``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    EmailItem,
    Skip,
    check_hmac,
    email_events,
    embedded_json,
    section,
    text,
    typed_event,
    urlencoded_params,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import hmac_digest, required_header
from leadscore.models.event import EventType

SOURCE = "mandrill"
CREDENTIAL_VARIABLE = "MANDRILL_WEBHOOK_KEY"
URL_SETTING = "MANDRILL_WEBHOOK_URL"
SIGNATURE_HEADER = "X-Mandrill-Signature"
EVENT_TYPES: Mapping[str, EventType] = {
    "deferral": "email_deferred",
    "hard_bounce": "email_bounce",
    "soft_bounce": "email_deferred",
    "open": "email_open",
    "click": "email_click",
    "spam": "email_spam_report",
    "unsub": "email_unsubscribe",
    "reject": "email_dropped",
}


def signed_data(url: str, params: list[tuple[str, str]]) -> bytes:
    return (url + "".join(k + v for k, v in sorted(params, key=lambda kv: kv[0]))).encode("utf-8")


def sign(url: str, params: list[tuple[str, str]], key: str) -> str:
    return hmac_digest(key.encode(), signed_data(url, params), algorithm="sha1", encoding="base64")


def _signed(request: IngestRequest, config: IngestConfig) -> tuple[bytes, str]:
    signature = required_header(request, SIGNATURE_HEADER)
    url = config.setting(URL_SETTING) or request.public_url()
    return signed_data(url, urlencoded_params(request)), signature


class MandrillProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        check_hmac(
            request,
            config,
            CREDENTIAL_VARIABLE,
            "Mandrill",
            _signed,
            "the Mandrill signature does not match the URL and parameters",
            algorithm="sha1",
            encoding="base64",
        )

    def check_url(self, request: IngestRequest, config: IngestConfig) -> None:
        """Mandrill's HEAD when the webhook is added: nothing to verify, nothing is ingested."""

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        fields = dict(urlencoded_params(request))
        raw = fields.get("mandrill_events")
        if raw is None:
            raise MalformedBodyError("a Mandrill webhook body has a mandrill_events field")
        events = embedded_json(raw, "mandrill_events is not valid JSON")
        if not isinstance(events, list):
            raise MalformedBodyError("mandrill_events is a JSON array")
        return email_events(SOURCE, events, _read, request)


def _read(item: Mapping[str, Any], request: IngestRequest) -> EmailItem | Skip:
    if text(item.get("event")) is None and "type" in item:
        return Skip("sync events are not scored")
    read = typed_event(item, EVENT_TYPES, "Mandrill", lower=False)
    if isinstance(read, Skip):
        return read
    kind, event_type = read
    msg = section(item, "msg")
    properties: dict[str, Any] = {
        "message_id": msg.get("_id"),
        "tags": msg.get("tags"),
        "subject": msg.get("subject"),
        "bounce_description": msg.get("bounce_description"),
    }
    event_id = text(item.get("_id"))
    return EmailItem(
        name=kind,
        event_type=event_type,
        email=msg.get("email"),
        # Mandrill's event _id is the message id: with the event and time it names one event.
        event_id=f"mandrill:{event_id}:{kind}:{item.get('ts')}" if event_id else None,
        fingerprint=json.dumps(item, sort_keys=True, default=str),
        when=occurred_at(item.get("ts"), request.received_at),
        properties=properties,
        extra=msg.get("metadata"),
        user_agent=item.get("user_agent"),
        link=item.get("url"),
    )


PROVIDER = MandrillProvider()
