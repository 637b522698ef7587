"""Postmark webhooks (https://postmarkapp.com/developer/webhooks/webhooks-overview).

Postmark POSTs one JSON record per event, told apart by ``RecordType``. Postmark does not sign webhooks; it
supports HTTP basic auth credentials in the webhook URL (``https://user:pass@host/webhooks/postmark``), which
we require and compare in constant time against ``POSTMARK_BASIC_AUTH`` (``user:password``; two values
during rotation). Basic auth carries no timestamp: a replayed record maps to the same content-hash event id
and is dropped by the scorer's dedupe.

Mapping: Delivery → email_delivered, Open → email_open, Click → email_click, Bounce → email_bounce (hard;
soft/transient types → email_deferred), SpamComplaint → email_spam_report, SubscriptionChange with
``SuppressSending: true`` → email_unsubscribe (its ``SuppressionReason`` kept: HardBounce, SpamComplaint or
ManualSuppression), with ``false`` (a reactivation) → email_resubscribe. Event id: Postmark's bounce ``ID``
where given, else a hash.
Secret: ``POSTMARK_BASIC_AUTH`` / ``POSTMARK_BASIC_AUTH_PARAM``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import BasicAuthError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    EmailItem,
    Skip,
    email_events,
    event_name,
    json_object,
    require_credential,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import basic_credentials
from leadscore.models.event import EventType

SOURCE = "postmark"
CREDENTIAL_VARIABLE = "POSTMARK_BASIC_AUTH"
# Bounce "Type" values that are not a hard failure of the address.
_SOFT_BOUNCES = frozenset(
    {"SoftBounce", "Transient", "DnsError", "AutoResponder", "OpenRelayTest", "MailFrontEndIssue", "Blocked"}
)


class PostmarkProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        require_credential(
            config,
            CREDENTIAL_VARIABLE,
            "Postmark",
            basic_credentials(request.header("authorization")),
            missing="HTTP basic auth credentials are missing",
            wrong="the basic auth credentials are wrong",
            error=BasicAuthError,
        )

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        record = json_object(request, "Postmark webhook")
        return email_events(SOURCE, [record], _read, request)


def _read(record: Mapping[str, Any], request: IngestRequest) -> EmailItem | Skip:
    kind = event_name(record, "RecordType")
    if isinstance(kind, Skip):
        return kind
    event_type: EventType
    email: Any = record.get("Recipient")
    when: Any = None
    properties: dict[str, Any] = {
        "message_id": record.get("MessageID"),
        "tag": record.get("Tag"),
        "message_stream": record.get("MessageStream"),
    }
    if kind == "Delivery":
        event_type, when = "email_delivered", record.get("DeliveredAt")
    elif kind == "Open":
        event_type, when = "email_open", record.get("ReceivedAt")
        properties["first_open"] = record.get("FirstOpen")
    elif kind == "Click":
        event_type, when = "email_click", record.get("ReceivedAt")
    elif kind in ("Bounce", "SpamComplaint"):
        email, when = record.get("Email"), record.get("BouncedAt")
        bounce = record.get("Type")
        if kind == "SpamComplaint":
            event_type = "email_spam_report"
        else:
            event_type = "email_deferred" if bounce in _SOFT_BOUNCES else "email_bounce"
        properties["bounce_type"] = bounce
    elif kind == "SubscriptionChange":
        # SuppressSending true: the address was suppressed (why: SuppressionReason); false: it
        # was reactivated, which clears an unsubscribe (leadscore.scoring.consent).
        suppressed = record.get("SuppressSending") is True
        event_type = "email_unsubscribe" if suppressed else "email_resubscribe"
        when = record.get("ChangedAt")
        properties["suppression_reason"] = record.get("SuppressionReason")
    else:
        return Skip(f"Postmark record type {kind[:40]!r} is not scored")
    bounce_id = record.get("ID")
    return EmailItem(
        name=kind,
        event_type=event_type,
        email=email,
        event_id=f"postmark:{kind}:{bounce_id}" if isinstance(bounce_id, int | str) and bounce_id else None,
        fingerprint=record,
        when=occurred_at(when, request.received_at),
        properties=properties,
        extra=record.get("Metadata"),
        user_agent=record.get("UserAgent"),
        link=record.get("OriginalLink"),
    )


PROVIDER = PostmarkProvider()
