"""Helpers every provider module shares: secrets (with the insecure local escape hatch), freshness of
millisecond timestamps, JSON documents, the form submissions relayed by form platforms and CRMs, and the
one pipeline of the email platforms' webhooks.

The pipeline (:func:`email_events`): every item must be an object; the provider's reader says what the
item is (:class:`EmailItem`) or why it is skipped (:class:`Skip`: rejected naming the field, or
ignored with a reason); the pipeline then checks for scanners (the provider's own mark wins, else the
user agent of an open or a click), adds a click's page properties (its link's url, path and utm_*),
validates the recipient and builds the event. A provider module
says only what is its own: how its body holds the items, its event names, ids and properties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from leadscore.ingest.body import FORM_URLENCODED, JSON, parse_json, parse_urlencoded, require_content_type
from leadscore.ingest.bots import bot_reason
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, SignatureError
from leadscore.ingest.forms import submission_event
from leadscore.ingest.normalize import clean_properties, page_properties
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult, describe_validation_error
from leadscore.ingest.secrets import PARAM_SUFFIX
from leadscore.ingest.signatures import check_timestamp, matches_any, required_header, verify_hmac
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


def require_credential(
    config: IngestConfig,
    name: str,
    label: str,
    given: str | None,
    *,
    missing: str,
    wrong: str,
    error: type[SignatureError] = SignatureError,
) -> None:
    """A secret the platform sends as it is, for platforms that sign nothing (a bearer token or basic auth:
    Brevo, Postmark; a ``?key=``: :func:`require_url_key`), compared in constant time with every configured
    value of ``name``; ``error`` with ``missing`` when none was sent (None), ``wrong`` when none matches."""
    secrets = required_secrets(config, name, label, error=error)
    if secrets is None:
        return
    if given is None:
        raise error(missing)
    if not matches_any(given, secrets):
        raise error(wrong)


def require_url_key(
    request: IngestRequest, config: IngestConfig, name: str, label: str, *, parameter: str, url: str
) -> None:
    """A secret carried in the URL's query (``?<parameter>=``: Mailchimp, Salesforce Outbound Messages),
    compared in constant time; 401 naming what is wrong."""
    require_credential(
        config,
        name,
        label,
        request.query_value(parameter) or None,
        missing=f"the ?{parameter}= secret is missing from the {url}",
        wrong=f"the ?{parameter}= secret is wrong",
    )


def as_bytes(values: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(value.encode("utf-8") for value in values)


# How a provider reads what its platform signed: (the signed message, the signature), 401 when missing.
Signed = Callable[[IngestRequest, IngestConfig], tuple[bytes, str]]


def require_hmac(
    message: bytes,
    signature: str,
    secrets: tuple[str, ...],
    mismatch: str,
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
) -> None:
    """401 ``mismatch`` unless ``signature`` is the HMAC of ``message`` under one of ``secrets``."""
    if not verify_hmac(message, signature, as_bytes(secrets), algorithm=algorithm, encoding=encoding):
        raise SignatureError(mismatch)


def check_hmac(
    request: IngestRequest,
    config: IngestConfig,
    name: str,
    label: str,
    signed: Signed,
    mismatch: str,
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
) -> None:
    """The check of the platforms that sign with a shared secret (HubSpot, Mandrill, Tally, Typeform,
    Webflow): secret ``name`` is configured (:func:`required_secrets`; in insecure local mode nothing is
    read), ``signed`` reads the message and signature, and the signature must match (else 401
    ``mismatch``)."""
    secrets = required_secrets(config, name, label)
    if secrets is None:
        return
    message, signature = signed(request, config)
    require_hmac(message, signature, secrets, mismatch, algorithm=algorithm, encoding=encoding)


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


def urlencoded_params(request: IngestRequest) -> list[tuple[str, str]]:
    """The parameters of an ``application/x-www-form-urlencoded`` body (the default content type; 415
    otherwise), in order: Mailchimp's and Mandrill's webhooks."""
    content_type = require_content_type(request.content_type, (FORM_URLENCODED,), default=FORM_URLENCODED)
    return parse_urlencoded(request.body, content_type.charset)


def embedded_json(raw: str, invalid: str) -> Any:
    """A JSON document carried as a string in the body (Mandrill's ``mandrill_events`` field, an SNS
    notification's ``Message``); 400 ``invalid``, with the parser's details, when it is not JSON."""
    try:
        return parse_json(raw.encode("utf-8", "surrogatepass"))
    except MalformedBodyError as exc:
        raise MalformedBodyError(invalid, details=exc.details) from None


def json_object(request: IngestRequest, what: str) -> Mapping[str, Any]:
    document = json_document(request)
    if not isinstance(document, dict):
        raise MalformedBodyError(f"a {what} body is a JSON object")
    return document


def form_response(
    request: IngestRequest, source: str, label: str, key: str, *, event_key: str, event: str
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | IngestResult:
    """The body of a form platform's webhook of one submission (Tally, Typeform) and its response object at
    ``key`` (400 without one). A body of another event than ``event`` (at ``event_key``; absent: ``event``)
    is answered by the result that ignores it."""
    document = json_object(request, f"{label} webhook")
    response = document.get(key)
    if not isinstance(response, dict):
        raise MalformedBodyError(f"a {label} webhook body has a {key} object")
    if document.get(event_key, event) != event:
        result = IngestResult(source=source)
        result.ignore(0, f"not a {event} event")
        return result
    return document, response


def section(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``document[key]`` if it is an object, else an empty mapping."""
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def add_submission(
    result: IngestResult,
    pairs: Iterable[tuple[str, Any]],
    request: IngestRequest,
    config: IngestConfig,
    *,
    form_name: str | None,
    extra_properties: Mapping[str, Any],
    event_id: str | None = None,
    submitted_at: Any = None,
    relayed: bool = True,
) -> CanonicalEvent:
    """Add the ``form_submit`` of one submission (:func:`~leadscore.ingest.forms.submission_event`; sent by
    the platform's servers unless ``relayed`` is False), the profile fields it dropped as the result's
    warnings."""
    event, dropped = submission_event(
        pairs,
        request,
        config,
        source=result.source,
        relayed=relayed,
        event_id=event_id,
        form_name=form_name,
        submitted_at=submitted_at,
        extra_properties=extra_properties,
    )
    result.warnings.extend(dropped)
    result.add(event)
    return event


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


@dataclass(frozen=True)
class Skip:
    """An item the pipeline does not turn into an event: ``reject`` it (the item is at fault, the
    reason names the field) or ignore it (nothing to score, e.g. an event type we do not score)."""

    reason: str
    reject: bool = False


@dataclass
class EmailItem:
    """One email event as a provider reads it from one item (see the module docstring)."""

    name: str  # the provider's own event name
    event_type: EventType
    email: Any  # the recipient, checked by the pipeline
    when: datetime
    event_id: str | None  # the provider's id; None: a hash of ``fingerprint``
    fingerprint: Any
    properties: dict[str, Any] = field(default_factory=dict)
    extra: Any = None  # the sender's own fields (custom args, metadata), kept when an object
    user_agent: Any = None  # checked for scanners on opens and clicks
    link: Any = None  # a click's URL: its page properties (url, path, utm_*) join the properties
    bot: str | None = None  # the provider's own mark (a machine open): wins over the user agent


Reader = Callable[[Mapping[str, Any], IngestRequest], EmailItem | Skip]
_ENGAGEMENT: frozenset[EventType] = frozenset({"email_open", "email_click"})


def event_name(item: Mapping[str, Any], key: str, label: str | None = None) -> str | Skip:
    """The item's event name at ``key`` (stripped), or a rejection naming ``label`` (default ``key``)."""
    name = text(item.get(key))
    return Skip(f"{label or key}: missing or not a string", reject=True) if name is None else name


def not_scored(provider: str, name: str) -> Skip:
    return Skip(f"{provider} event {name[:40]!r} is not scored")


def typed_event(
    item: Mapping[str, Any],
    types: Mapping[str, EventType],
    provider: str,
    *,
    key: str = "event",
    label: str | None = None,
    lower: bool = True,
    unknown: Callable[[str], Skip] | None = None,
) -> tuple[str, EventType] | Skip:
    """The item's event name at ``key`` (lowercased unless ``lower`` is False) and the type ``types`` maps it
    to. Else a rejection naming ``label`` (default ``key``) when the name is missing, or ``unknown(name)``
    (default: :func:`not_scored`) when ``types`` has no type for it."""
    name = event_name(item, key, label)
    if isinstance(name, Skip):
        return name
    name = name.lower() if lower else name
    event_type = types.get(name)
    if event_type is None:
        return unknown(name) if unknown else not_scored(provider, name)
    return name, event_type


def add_email_item(result: IngestResult, index: int, read: EmailItem | Skip, request: IngestRequest) -> None:
    """The pipeline's steps after the reader: skip, bot check, a click's page, then the event (or a
    rejection)."""
    if isinstance(read, Skip):
        (result.reject if read.reject else result.ignore)(index, read.reason)
        return
    bot = read.bot
    if bot is None and read.event_type in _ENGAGEMENT and isinstance(read.user_agent, str):
        bot = bot_reason(read.user_agent)
    properties = read.properties
    if read.event_type == "email_click":
        properties = {**properties, **page_properties(read.link)}
    add_email_event(
        result,
        index,
        source=result.source,
        event_type=read.event_type,
        name=read.name,
        email=read.email,
        event_id=read.event_id,
        fingerprint=read.fingerprint,
        when=read.when,
        request=request,
        properties=properties,
        extra=read.extra if isinstance(read.extra, dict) else None,
        bot=bot,
    )


def email_events(source: str, items: Iterable[Any], read: Reader, request: IngestRequest) -> IngestResult:
    """The result of one webhook body's ``items``, each read by the provider's ``read``."""
    result = IngestResult(source=source)
    for index, item in enumerate(items):
        if isinstance(item, dict):
            add_email_item(result, index, read(item, request), request)
        else:
            result.reject(index, "must be an event object")
    return result
