"""Brevo (ex-Sendinblue) transactional and marketing webhooks (https://developers.brevo.com/docs/how-to-use-webhooks).

Brevo POSTs JSON: one event object (or an array when batching is on). Brevo does not sign bodies; a webhook
is given authentication: a bearer token (``Authorization: Bearer <token>``) or basic auth
(``https://user:pass@host/...``). We accept either and compare in constant time against
``BREVO_WEBHOOK_TOKEN`` (the token, or ``user:password``). Nothing is timestamped: a replay maps to the same
event id and is dropped by the scorer's dedupe.

Mapping (``event``): delivered → email_delivered; opened, unique_opened → email_open; proxy_open,
unique_proxy_open → email_open with ``bot = "machine open"`` (Brevo's mark for Apple MPP and other proxy
opens); click → email_click; hard_bounce, invalid_email → email_bounce; soft_bounce, deferred →
email_deferred; blocked, error → email_dropped; spam, complaint → email_spam_report; unsubscribed,
unsubscribe → email_unsubscribe. ``request``/``sent`` and list events are ignored.
Secret: ``BREVO_WEBHOOK_TOKEN`` / ``BREVO_WEBHOOK_TOKEN_PARAM``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import BearerOrBasicAuthError, MalformedBodyError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    EmailItem,
    Skip,
    email_events,
    json_document,
    require_credential,
    typed_event,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import basic_credentials
from leadscore.models.event import EventType

SOURCE = "brevo"
CREDENTIAL_VARIABLE = "BREVO_WEBHOOK_TOKEN"
EVENT_TYPES: Mapping[str, EventType] = {
    "delivered": "email_delivered",
    "opened": "email_open",
    "unique_opened": "email_open",
    "proxy_open": "email_open",
    "unique_proxy_open": "email_open",
    "click": "email_click",
    "hard_bounce": "email_bounce",
    "invalid_email": "email_bounce",
    "soft_bounce": "email_deferred",
    "deferred": "email_deferred",
    "blocked": "email_dropped",
    "error": "email_dropped",
    "spam": "email_spam_report",
    "complaint": "email_spam_report",
    "unsubscribed": "email_unsubscribe",
    "unsubscribe": "email_unsubscribe",
}


class BrevoProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        authorization = (request.header("authorization") or "").strip()
        scheme, _, value = authorization.partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else basic_credentials(authorization)
        require_credential(
            config,
            CREDENTIAL_VARIABLE,
            "Brevo",
            given or None,
            missing="a bearer token or basic auth credentials are required",
            wrong="the Brevo webhook credentials are wrong",
            error=BearerOrBasicAuthError,
        )

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        document = json_document(request)
        if isinstance(document, dict):
            items: list[Any] = [document]
        elif isinstance(document, list):
            items = document
        else:
            raise MalformedBodyError("a Brevo webhook body is a JSON event object or array of them")
        return email_events(SOURCE, items, _read, request)


def _read(item: Mapping[str, Any], request: IngestRequest) -> EmailItem | Skip:
    read = typed_event(item, EVENT_TYPES, "Brevo")
    if isinstance(read, Skip):
        return read
    kind, event_type = read
    properties: dict[str, Any] = {
        "message_id": item.get("message-id"),
        "campaign_id": item.get("camp_id"),
        "campaign_name": item.get("campaign name"),
        "tag": item.get("tag"),
        "reason": item.get("reason"),
    }
    when = item.get("ts_epoch") or item.get("ts_event") or item.get("date_event") or item.get("date")
    return EmailItem(
        name=kind,
        event_type=event_type,
        email=item.get("email"),
        # Brevo's "id" is the webhook's id, not the event's: hash the event.
        event_id=None,
        fingerprint=item,
        when=occurred_at(when, request.received_at),
        properties=properties,
        user_agent=item.get("user_agent"),
        link=item.get("link") or item.get("URL"),
        bot="machine open" if "proxy_open" in kind else None,
    )


PROVIDER = BrevoProvider()
