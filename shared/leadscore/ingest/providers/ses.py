"""Amazon SES event publishing through an SNS topic with an HTTPS subscription.

SNS POSTs a JSON envelope (``Content-Type: text/plain``) with ``Type`` = ``SubscriptionConfirmation``,
``Notification`` or ``UnsubscribeConfirmation``. Every message is verified as AWS documents
(https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):

1. ``TopicArn`` must be one of ``SES_SNS_TOPIC_ARNS`` (comma-separated): anyone can create a topic and
   subscribe our URL, and SNS signs their messages too;
2. ``SigningCertURL`` must be ``https://sns.<region>.amazonaws.com/...pem`` (``.amazonaws.com.cn`` in China);
3. the certificate is fetched (an injectable, cached fetcher: :func:`set_certificate_fetcher`) and the
   ``Signature`` checked over the canonical string, RSA PKCS#1 v1.5 with SHA1 (``SignatureVersion`` 1) or
   SHA256 (2);
4. ``Timestamp`` must be at most :data:`MAX_AGE_SECONDS` old (SNS retries for up to an hour); a replay
   within that window carries the same ``MessageId`` and is dropped by the scorer's event-id dedupe.

A verified ``SubscriptionConfirmation`` is confirmed by a GET of its ``SubscribeURL`` (same host rule),
through an injectable fetcher (:func:`set_subscribe_fetcher`). A ``Notification``'s ``Message`` is an SES
event (``eventType``, or ``notificationType`` for SES notifications):

Delivery → email_delivered, Open → email_open, Click → email_click, Bounce → email_bounce (Permanent) or
email_deferred (Transient/Undetermined), Complaint → email_spam_report, Reject → email_dropped,
DeliveryDelay → email_deferred, Subscription with ``unsubscribeAll`` → email_unsubscribe; Send and
Rendering Failure are ignored. One event per recipient; event id
``ses:<mail.messageId>:<event type>:<event time>:<recipient #>`` (see :func:`_event_id`).
Settings: ``SES_SNS_TOPIC_ARNS`` (not a secret).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, SignatureError, UpstreamUnavailableError
from leadscore.ingest.normalize import occurred_at, parse_time
from leadscore.ingest.providers.common import (
    EmailItem,
    add_email_item,
    embedded_json,
    json_object,
    section,
    text,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.models.event import EventType

SOURCE = "ses"
TOPICS_SETTING = "SES_SNS_TOPIC_ARNS"
MAX_AGE_SECONDS = 3600
FETCH_TIMEOUT_SECONDS = 3.0
MAX_CACHED_CERTIFICATES = 16
_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")

_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


Fetcher = Callable[[str], bytes]


def _urllib_fetch(url: str) -> bytes:
    """GET ``url`` (already checked: https on an SNS host). A 4xx answer raises LookupError (the URL is
    wrong: 401 for the caller); anything else that fails means AWS is unreachable (503, SNS retries)."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            body: bytes = response.read(256 * 1024)
            return body
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            raise LookupError(f"HTTP {exc.code}") from None
        raise


_fetchers: dict[str, Fetcher] = {"certificate": _urllib_fetch, "subscribe": _urllib_fetch}
_certificates: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


def set_certificate_fetcher(fetcher: Fetcher | None) -> None:
    """Replace how signing certificates are fetched (None: the network); clears the certificate cache."""
    _fetchers["certificate"] = fetcher or _urllib_fetch
    with _lock:
        _certificates.clear()


def set_subscribe_fetcher(fetcher: Fetcher | None) -> None:
    """Replace how a SubscribeURL is called (None: the network)."""
    _fetchers["subscribe"] = fetcher or _urllib_fetch


def _fetch(fetcher: str, url: str, *, refused: str, unavailable: str) -> bytes:
    """GET ``url`` (already checked) through the ``fetcher`` in use: 401 ``refused`` when AWS answers 4xx,
    503 ``unavailable`` (SNS retries) when it cannot be reached."""
    try:
        return _fetchers[fetcher](url)
    except LookupError:
        raise SignatureError(refused) from None
    except Exception as exc:
        raise UpstreamUnavailableError(unavailable) from exc


def check_aws_url(url: Any, field: str) -> str:
    """``url`` if it is https on an SNS host (``sns.<region>.amazonaws.com``); else 401."""
    if not isinstance(url, str):
        raise SignatureError(f"{field}: missing or not a string")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SignatureError(f"{field}: not a URL") from None
    if parts.scheme != "https" or not _HOST.match(parts.hostname or "") or parts.port not in (None, 443):
        raise SignatureError(f"{field}: not an https://sns.<region>.amazonaws.com URL")
    if parts.username or parts.password:
        raise SignatureError(f"{field}: credentials are not allowed in the URL")
    return url


def _certificate_key(url: str) -> Any:
    from cryptography.x509 import load_pem_x509_certificate

    with _lock:
        if url in _certificates:
            _certificates.move_to_end(url)
            return _certificates[url]
    pem = _fetch(
        "certificate",
        url,
        refused="the SNS signing certificate does not exist",
        unavailable="the SNS signing certificate could not be fetched; retry later",
    )
    try:
        key = load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise SignatureError("the SNS signing certificate is not a PEM certificate") from None
    with _lock:
        _certificates[url] = key
        while len(_certificates) > MAX_CACHED_CERTIFICATES:
            _certificates.popitem(last=False)
    return key


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical string SNS signs: ``key\\nvalue\\n`` for the type's keys, in order, when present."""
    keys = _NOTIFICATION_KEYS if message.get("Type") == "Notification" else _SUBSCRIPTION_KEYS
    parts = []
    for key in keys:
        value = message.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SignatureError(f"{key}: not a string")
        parts.append(f"{key}\n{value}\n")
    return "".join(parts).encode("utf-8")


def verify_sns_signature(message: Mapping[str, Any]) -> None:
    """Check the SNS signature of ``message`` (a parsed envelope); 401 on any problem."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.hashes import SHA1, SHA256

    version = message.get("SignatureVersion")
    if version not in ("1", "2"):
        raise SignatureError("SignatureVersion must be 1 or 2")
    url = check_aws_url(message.get("SigningCertURL") or message.get("SigningCertUrl"), "SigningCertURL")
    signature = message.get("Signature")
    if not isinstance(signature, str) or not signature:
        raise SignatureError("Signature: missing")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Signature: not base64") from None
    canonical = string_to_sign(message)
    key = _certificate_key(url)
    if not isinstance(key, RSAPublicKey):
        raise SignatureError("the SNS signing certificate does not hold an RSA key")
    try:
        key.verify(raw, canonical, PKCS1v15(), SHA1() if version == "1" else SHA256())  # noqa: S303
    except InvalidSignature:
        raise SignatureError("the SNS signature does not match the message") from None


class SesProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        topics = {t.strip() for t in config.setting(TOPICS_SETTING).split(",") if t.strip()}
        if not topics and config.allow_unsigned:
            return
        if not topics:
            raise SignatureError(
                "the SNS topic of SES events is not configured; requests are refused",
                details=[f"set {TOPICS_SETTING} to the topic ARN(s) SES publishes to"],
            )
        message = json_object(request, "SNS message")
        if message.get("TopicArn") not in topics:
            raise SignatureError("the message is from an SNS topic that is not configured")
        verify_sns_signature(message)
        sent = parse_time(message.get("Timestamp"))
        if sent is None:
            raise SignatureError("Timestamp: missing or not a time")
        age = request.now - sent.timestamp()
        if age > MAX_AGE_SECONDS or age < -config.signature_tolerance_seconds:
            raise SignatureError(f"the SNS message is stale ({int(age)} s old; at most {MAX_AGE_SECONDS} s)")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        envelope = json_object(request, "SNS message")
        result = IngestResult(source=SOURCE)
        kind = envelope.get("Type")
        if kind == "SubscriptionConfirmation":
            url = check_aws_url(envelope.get("SubscribeURL"), "SubscribeURL")
            _fetch(
                "subscribe",
                url,
                refused="the SubscribeURL was refused by SNS",
                unavailable="the subscription could not be confirmed; retry later",
            )
            result.ignore(0, "subscription confirmed")
            return result
        if kind == "UnsubscribeConfirmation":
            result.ignore(0, "unsubscribe confirmation: nothing to score")
            return result
        if kind != "Notification":
            raise MalformedBodyError(
                "Type must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation"
            )
        return ses_message_events(envelope.get("Message"), text(envelope.get("MessageId")), request)


def ses_message_events(raw: Any, sns_message_id: str | None, request: IngestRequest) -> IngestResult:
    """The events of one SNS notification's ``Message`` (an SES event as JSON): the one parser of both
    transports, ``POST /webhooks/ses`` (HTTPS subscription) and ``SesEventsFunction`` (a Lambda
    subscription). 400 (:class:`MalformedBodyError`) if it is not an SES event object."""
    result = IngestResult(source=SOURCE)
    if not isinstance(raw, str):
        raise MalformedBodyError("Message: missing or not a string")
    event = embedded_json(raw, "Message is not an SES event (JSON)")
    if not isinstance(event, dict):
        raise MalformedBodyError("Message is not an SES event (JSON object)")
    _add_ses_event(result, event, sns_message_id, request)
    return result


_TYPES: Mapping[str, EventType] = {
    "Delivery": "email_delivered",
    "Open": "email_open",
    "Click": "email_click",
    "Complaint": "email_spam_report",
    "Reject": "email_dropped",
    "DeliveryDelay": "email_deferred",
}


# The events that name their own recipients: the event's section and its list of {"emailAddress": ...}.
_LISTED_RECIPIENTS = {
    "Bounce": ("bounce", "bouncedRecipients"),
    "Complaint": ("complaint", "complainedRecipients"),
}


def _recipients(kind: str, event: Mapping[str, Any], mail: Mapping[str, Any]) -> list[Any]:
    if kind in _LISTED_RECIPIENTS:
        name, key = _LISTED_RECIPIENTS[kind]
        listed = section(event, name).get(key)
        return (
            [r.get("emailAddress") if isinstance(r, dict) else r for r in listed]
            if isinstance(listed, list)
            else []
        )
    if kind == "Delivery":
        listed = section(event, "delivery").get("recipients")
        if isinstance(listed, list):
            return listed
    destination = mail.get("destination")
    return destination if isinstance(destination, list) else []


def _event_id(
    mail: Mapping[str, Any], kind: str, detail: Mapping[str, Any], sns_message_id: str | None, index: int
) -> str | None:
    """``ses:<mail.messageId>:<event type>:<event time>:<recipient #>``: the same SES event has the same id
    whichever transport (and whichever SNS delivery) brought it; a second open of one email is another
    event. Without an SES message id, the SNS ``MessageId``; without that, a content hash (None)."""
    ses_id = text(mail.get("messageId"))
    stamp = text(detail.get("timestamp")) or text(mail.get("timestamp"))
    if ses_id and stamp:
        return f"ses:{ses_id[:120]}:{kind[:40]}:{stamp[:40]}:{index}"
    return f"ses:{sns_message_id}:{index}" if sns_message_id else None


def _add_ses_event(
    result: IngestResult, event: Mapping[str, Any], message_id: str | None, request: IngestRequest
) -> None:
    kind = text(event.get("eventType")) or text(event.get("notificationType"))
    if kind is None:
        result.reject(0, "eventType: missing or not a string")
        return
    mail = section(event, "mail")
    event_type: EventType | None = _TYPES.get(kind)
    detail: Mapping[str, Any] = section(event, kind[:1].lower() + kind[1:])
    properties: dict[str, Any] = {"ses_message_id": mail.get("messageId")}
    if kind == "Bounce":
        bounce_type = detail.get("bounceType")
        event_type = "email_bounce" if bounce_type == "Permanent" else "email_deferred"
        properties.update(bounce_type=bounce_type, bounce_subtype=detail.get("bounceSubType"))
    elif kind == "Subscription":
        if (
            detail.get("newTopicPreferences", {}).get("unsubscribeAll") is True
            if isinstance(detail.get("newTopicPreferences"), dict)
            else False
        ):
            event_type = "email_unsubscribe"
    elif kind == "Complaint":
        properties["feedback_type"] = detail.get("complaintFeedbackType")
    if event_type is None:
        result.ignore(0, f"SES {kind[:40]!r} events are not scored")
        return
    tags = mail.get("tags")
    when: datetime = occurred_at(detail.get("timestamp") or mail.get("timestamp"), request.received_at)
    recipients = _recipients(kind, event, mail)
    if not recipients:
        result.reject(0, "no recipient in the SES event")
        return
    for index, email in enumerate(recipients[:50]):
        item = EmailItem(
            name=kind,
            event_type=event_type,
            email=email,
            event_id=_event_id(mail, kind, detail, message_id, index),
            fingerprint={"event": event, "recipient": index},
            when=when,
            properties=properties,
            extra={k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in tags.items()}
            if isinstance(tags, dict)
            else None,
            user_agent=detail.get("userAgent"),
            link=detail.get("link"),
        )
        add_email_item(result, index, item, request)


PROVIDER = SesProvider()
