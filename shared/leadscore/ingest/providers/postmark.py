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

from typing import Any

from leadscore.ingest.bots import bot_reason
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import BasicAuthError
from leadscore.ingest.normalize import occurred_at, page_properties
from leadscore.ingest.providers.common import add_email_event, json_object, required_secrets, text
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import basic_credentials, matches_any
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
        secrets = required_secrets(config, CREDENTIAL_VARIABLE, "Postmark", error=BasicAuthError)
        if secrets is None:
            return
        credentials = basic_credentials(request.header("authorization"))
        if credentials is None:
            raise BasicAuthError("HTTP basic auth credentials are missing")
        if not matches_any(credentials, secrets):
            raise BasicAuthError("the basic auth credentials are wrong")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        record = json_object(request, "Postmark webhook")
        result = IngestResult(source=SOURCE)
        kind = text(record.get("RecordType"))
        if kind is None:
            result.reject(0, "RecordType: missing or not a string")
            return result
        event_type: EventType | None
        email: Any = record.get("Recipient")
        when: Any = None
        properties: dict[str, Any] = {
            "message_id": record.get("MessageID"),
            "tag": record.get("Tag"),
            "message_stream": record.get("MessageStream"),
        }
        bot: str | None = None
        if kind == "Delivery":
            event_type, when = "email_delivered", record.get("DeliveredAt")
        elif kind == "Open":
            event_type, when = "email_open", record.get("ReceivedAt")
            ua = record.get("UserAgent")
            bot = bot_reason(ua if isinstance(ua, str) else None)
            properties["first_open"] = record.get("FirstOpen")
        elif kind == "Click":
            event_type, when = "email_click", record.get("ReceivedAt")
            ua = record.get("UserAgent")
            bot = bot_reason(ua if isinstance(ua, str) else None)
            properties.update(page_properties(record.get("OriginalLink")))
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
            result.ignore(0, f"Postmark record type {kind[:40]!r} is not scored")
            return result
        bounce_id = record.get("ID")
        metadata = record.get("Metadata")
        add_email_event(
            result,
            0,
            source=SOURCE,
            event_type=event_type,
            name=kind,
            email=email,
            event_id=f"postmark:{kind}:{bounce_id}"
            if isinstance(bounce_id, int | str) and bounce_id
            else None,
            fingerprint=record,
            when=occurred_at(when, request.received_at),
            request=request,
            properties=properties,
            extra=metadata if isinstance(metadata, dict) else None,
            bot=bot,
        )
        return result


PROVIDER = PostmarkProvider()
