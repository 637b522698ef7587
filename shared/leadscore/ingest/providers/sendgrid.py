"""SendGrid Event Webhook (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event).

The body is a JSON array of events. With "Signed Event Webhook" enabled, SendGrid signs
``timestamp + raw body`` with ECDSA P-256/SHA-256 and sends the base64 DER signature and the timestamp in
``X-Twilio-Email-Event-Webhook-Signature`` and ``X-Twilio-Email-Event-Webhook-Timestamp``. We verify against
every key in ``SENDGRID_WEBHOOK_PUBLIC_KEYS`` (rotation) and refuse timestamps more than 300 s from now.
No key configured: 401 unless ``LEADSCORE_INSECURE_ALLOW_UNSIGNED=1`` (see :mod:`leadscore.ingest.config`).

Mapping (``sendgrid event`` → ``CanonicalEvent.type``): delivered → email_delivered, open → email_open,
click → email_click, bounce → email_bounce, dropped → email_dropped, deferred → email_deferred,
unsubscribe and group_unsubscribe → email_unsubscribe, group_resubscribe → email_resubscribe (with the
group's ``asm_group_id``: :mod:`leadscore.scoring.consent` keeps per-group state), spamreport →
email_spam_report. ``processed`` (accepted by SendGrid, not yet an outcome) is ignored with a reason, as is
any event type we do not know. ``event_id`` is ``sg_event_id``; ``name`` is SendGrid's event name;
``sg_machine_open: true`` sets ``bot = "machine open"`` (Apple Mail Privacy Protection and the like), and a
scanner-like ``useragent`` on an open or click sets ``bot`` too. Clicks carry ``url`` and its ``path``.
IP addresses, user agents and SMTP responses are not copied into properties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadscore.ingest.body import JSON, parse_json, require_content_type
from leadscore.ingest.config import SENDGRID_PUBLIC_KEYS_ENV, IngestConfig
from leadscore.ingest.errors import MalformedBodyError, SignatureError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    EmailItem,
    Skip,
    email_events,
    timestamped_signature,
    typed_event,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import verify_ecdsa_sha256
from leadscore.models.event import EventType

SOURCE = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

EVENT_TYPES: Mapping[str, EventType] = {
    "delivered": "email_delivered",
    "open": "email_open",
    "click": "email_click",
    "bounce": "email_bounce",
    "dropped": "email_dropped",
    "deferred": "email_deferred",
    "unsubscribe": "email_unsubscribe",
    "group_unsubscribe": "email_unsubscribe",
    "group_resubscribe": "email_resubscribe",
    "spamreport": "email_spam_report",
}
IGNORED_EVENTS: Mapping[str, str] = {
    "processed": "processed: accepted by SendGrid, not a delivery outcome or engagement",
}
# Copied into properties when present (scalars only). Everything else SendGrid defines is left out:
# ip, useragent, response, smtp-id, tls, cert_err, sg_content_type, pool...
_KEPT = ("sg_message_id", "category", "asm_group_id", "marketing_campaign_id", "marketing_campaign_name")
_PER_TYPE = {
    "bounce": {"type": "bounce_type", "bounce_classification": "bounce_classification", "status": "status"},
    "dropped": {"reason": "reason"},
    "deferred": {"attempt": "attempt"},
}
_KNOWN = frozenset(
    {
        "email",
        "timestamp",
        "event",
        "sg_event_id",
        "sg_message_id",
        "smtp-id",
        "category",
        "ip",
        "useragent",
        "url",
        "url_offset",
        "response",
        "reason",
        "status",
        "type",
        "attempt",
        "tls",
        "cert_err",
        "sg_machine_open",
        "asm_group_id",
        "marketing_campaign_id",
        "marketing_campaign_name",
        "marketing_campaign_version",
        "marketing_campaign_split_id",
        "sg_content_type",
        "sg_template_id",
        "sg_template_name",
        "bounce_classification",
        "pool",
        "send_at",
        "singlesend_id",
        "singlesend_name",
        "template_id",
        "template_version_id",
        "mc_stats",
        "phase_id",
        "post_type",
        "ab_variation_id",
        "ab_phase_id",
        "sg_user_id",
        "newsletter",
    }
)


class SendGridProvider:
    """SendGrid Event Webhook: ECDSA-signed JSON arrays of email events."""

    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        keys = config.sendgrid_public_keys
        if not keys:
            if config.allow_unsigned:
                return
            raise SignatureError(
                "the SendGrid webhook verification key is not configured; unsigned requests are refused",
                details=[f"set {SENDGRID_PUBLIC_KEYS_ENV} to the Signed Event Webhook verification key"],
            )
        signature, timestamp = timestamped_signature(
            request, config, SIGNATURE_HEADER, TIMESTAMP_HEADER, millis=False
        )
        if not verify_ecdsa_sha256(timestamp.encode("utf-8") + request.body, signature, keys):
            raise SignatureError("the SendGrid signature does not match the body and timestamp")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        require_content_type(request.content_type, (JSON,), default=JSON)
        document = parse_json(request.body)
        if not isinstance(document, list):
            raise MalformedBodyError("a SendGrid Event Webhook body is a JSON array of events")
        return email_events(SOURCE, document, _read, request)


def _unknown(kind: str) -> Skip:
    if kind in IGNORED_EVENTS:
        return Skip(IGNORED_EVENTS[kind])
    return Skip(f"unknown SendGrid event type {kind[:40]!r}")


def _read(item: Mapping[str, Any], request: IngestRequest) -> EmailItem | Skip:
    read = typed_event(item, EVENT_TYPES, "SendGrid", unknown=_unknown)
    if isinstance(read, Skip):
        return read
    kind, event_type = read
    properties: dict[str, Any] = {key: item.get(key) for key in _KEPT}
    properties.update({ours: item.get(theirs) for theirs, ours in _PER_TYPE.get(kind, {}).items()})
    sg_event_id = item.get("sg_event_id")
    return EmailItem(
        name=kind,
        event_type=event_type,
        email=item.get("email"),
        event_id=sg_event_id.strip() if isinstance(sg_event_id, str) and sg_event_id.strip() else None,
        fingerprint=item,
        when=occurred_at(item.get("timestamp"), request.received_at),
        properties=properties,
        extra={k: v for k, v in item.items() if k not in _KNOWN and isinstance(k, str)},
        user_agent=item.get("useragent"),
        link=item.get("url"),
        bot="machine open" if kind == "open" and item.get("sg_machine_open") is True else None,
    )


PROVIDER = SendGridProvider()
