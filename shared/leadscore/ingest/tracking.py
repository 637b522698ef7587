"""The Segment spec (https://segment.com/docs/connections/spec/): ``track``, ``page``, ``identify`` and
``batch`` → CanonicalEvents. ``screen``, ``group`` and ``alias`` are valid but not scored: ignored, with a
reason.

- ``page`` → ``page_view``: properties ``path``, ``url``, ``title``, ``referrer``, ``search``, ``name``,
  ``category`` (from ``properties``, falling back to ``context.page``), ``campaign`` and ``utm_*`` (from
  ``context.campaign``, falling back to the URL's query).
- ``track`` → ``track`` named by ``event``, with its properties, plus ``page_path``/``page_url`` from
  ``context.page``.
- ``identify`` → ``identify`` with a ``Profile`` from ``traits`` (the reserved traits ``firstName``,
  ``title``, ``company.{name,industry,employee_count}``, ``address.country``... and the form alias table
  for the rest).

Identity: ``anonymousId`` is ``identity.anonymous_id``; the email comes from ``traits.email``,
``context.traits.email``, ``properties.email``, or a ``userId`` that is an email address. A message with only
a (non-email) ``userId`` gets ``anonymous_id = "user:<userId>"``, so an identify that carries both links it.
``event_id`` is ``messageId`` (a content hash if absent); ``occurred_at`` is ``timestamp`` (or
``originalTimestamp``) unless missing or in the future. A bot-like ``context.userAgent`` sets ``bot``.

A ``batch`` answers per item (``rejected``/``ignored`` by index); a single message that cannot be used is
a 422. The batch-level ``context`` applies to every message (the message's own keys win).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from leadscore.ingest.body import JSON, TEXT_PLAIN, parse_json, require_content_type
from leadscore.ingest.bots import bot_reason
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, UnprocessableError
from leadscore.ingest.forms import build_alias_index, build_profile, map_fields
from leadscore.ingest.normalize import CAMPAIGN_KEYS, clean_properties, occurred_at, page_properties
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult, describe_validation_error
from leadscore.ingest.shapes import segment_problems
from leadscore.models.event import (
    CanonicalEvent,
    EmailEncodingError,
    EventType,
    Identity,
    Profile,
    content_event_id,
    normalize_email,
)

SOURCE = "segment"
# analytics.js sends text/plain to avoid a CORS preflight; a missing Content-Type is read as JSON.
ACCEPTED_CONTENT_TYPES = (JSON, TEXT_PLAIN)
MAX_BATCH = 2000

IGNORED_TYPES = {
    "screen": "screen calls (mobile apps) are not scored",
    "group": "group calls are not scored",
    "alias": "alias calls are not scored",
}
_PAGE_KEYS = ("path", "url", "title", "referrer", "search", "name", "category")


class ItemError(ValueError):
    """One message cannot be used; the text names the field."""


class MalformedItemError(ItemError):
    """A message carrying what no field may hold (an invisible character in an email): alone, a 400."""


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _message_type(message: Mapping[str, Any]) -> str:
    kind = message.get("type")
    if isinstance(kind, str) and kind.strip():
        return kind.strip().lower()
    if kind is not None:
        raise ItemError("type: must be a string")
    if "event" in message:
        return "track"
    if "traits" in message:
        return "identify"
    raise ItemError("type: missing (expected track, page, identify, screen, group or alias)")


def _email(candidates: list[tuple[str, Any]]) -> tuple[str | None, str | None]:
    """The first candidate that is an email address, and the first field that held a non-email value."""
    invalid: str | None = None
    for where, value in candidates:
        text = _text(value)
        if text is None:
            continue
        try:
            return normalize_email(text), None
        except EmailEncodingError as exc:
            if where == "userId":  # any string may be a userId: only an email field must be clean
                continue
            raise MalformedItemError(f"{where}: {exc}") from exc
        except ValueError:
            if invalid is None and where != "userId":
                invalid = where
    return None, invalid


def _identity(message: Mapping[str, Any], traits: Mapping[str, Any], context: Mapping[str, Any]) -> Identity:
    user_id = _text(message.get("userId"))
    email, invalid_field = _email(
        [
            ("traits.email", traits.get("email")),
            ("context.traits.email", _obj(context.get("traits")).get("email")),
            ("properties.email", _obj(message.get("properties")).get("email")),
            ("userId", user_id),
        ]
    )
    anonymous_id = _text(message.get("anonymousId"))
    if anonymous_id is None and user_id is not None and email is None:
        anonymous_id = f"user:{user_id}"
    if email is None and anonymous_id is None:
        if invalid_field:
            raise ItemError(f"{invalid_field}: not a valid email address, and no anonymousId")
        raise ItemError("anonymousId: missing, and no userId or email (traits.email) to identify the visitor")
    if anonymous_id is not None and len(anonymous_id) > 200:
        raise ItemError("anonymousId: longer than 200 characters")
    return Identity(email=email, anonymous_id=anonymous_id)


def _campaign(context: Mapping[str, Any]) -> dict[str, Any]:
    campaign = _obj(context.get("campaign"))
    props = {ours: campaign.get(theirs) for theirs, ours in CAMPAIGN_KEYS.items()}
    props["campaign"] = campaign.get("name")
    return props


def _page_props(message: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    given = _obj(message.get("properties"))
    page = _obj(context.get("page"))
    merged = {
        key: given.get(key) if given.get(key) not in (None, "") else page.get(key) for key in _PAGE_KEYS
    }
    if merged["name"] in (None, ""):
        merged["name"] = message.get("name")
    if merged["category"] in (None, ""):
        merged["category"] = message.get("category")
    derived = page_properties(merged["url"], merged["path"])
    campaign = _campaign(context)
    for key, value in derived.items():
        if key.startswith("utm_") and campaign.get(key) in (None, ""):
            campaign[key] = value
    if campaign.get("campaign") in (None, ""):
        campaign["campaign"] = campaign.get("utm_campaign")
    return clean_properties({**merged, **derived}, campaign, given)


def _track_props(message: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    page = _obj(context.get("page"))
    extra = {"page_path": page.get("path"), "page_url": page.get("url")}
    given = {k: v for k, v in _obj(message.get("properties")).items() if k != "email"}
    return clean_properties(given, extra, _campaign(context))


def _flat_traits(traits: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Reserved nested traits (company, address) as flat fields, then the top-level scalar traits."""
    company = traits.get("company")
    pairs: list[tuple[str, Any]] = []
    if isinstance(company, Mapping):
        pairs += [
            ("company", company.get("name")),
            ("industry", company.get("industry")),
            ("company_size", company.get("employee_count")),
            ("revenue", company.get("revenue")),
        ]
    address = _obj(traits.get("address"))
    pairs.append(("country", address.get("country")))
    pairs += [(k, v) for k, v in traits.items() if not isinstance(v, Mapping)]
    return pairs


def _identify_profile(
    traits: Mapping[str, Any], config: IngestConfig
) -> tuple[Profile | None, dict[str, Any], list[str]]:
    mapped = map_fields(_flat_traits(traits), build_alias_index(config.field_aliases))
    profile, dropped = build_profile(mapped.values)
    return profile, mapped.extra, [f"traits.{line}" for line in dropped]


def message_event(
    message: Mapping[str, Any],
    request: IngestRequest,
    config: IngestConfig,
    warnings: list[str] | None = None,
) -> CanonicalEvent | str:
    """One Segment message → a CanonicalEvent, or the reason it is ignored. Raises ItemError if unusable.

    Trait values that fail validation are dropped from the profile and described in ``warnings``.
    """
    kind = _message_type(message)
    if kind in IGNORED_TYPES:
        return IGNORED_TYPES[kind]
    shape_problems = segment_problems(message)  # a boolean or object where a string belongs names it
    if shape_problems:
        raise ItemError("; ".join(shape_problems))
    context = _obj(message.get("context"))
    traits = _obj(message.get("traits"))
    identity = _identity(message, traits, context)
    profile: Profile | None = None
    name: str | None = None
    event_type: EventType
    if kind == "page":
        event_type = "page_view"
        properties = _page_props(message, context)
        name = _text(message.get("name"))
    elif kind == "track":
        event_type = "track"
        name = _text(message.get("event"))
        if name is None:
            raise ItemError("event: a track call needs the event name")
        properties = _track_props(message, context)
    elif kind == "identify":
        event_type = "identify"
        profile, extra, dropped = _identify_profile(traits, config)
        if warnings is not None:
            warnings.extend(dropped)
        properties = clean_properties({k: v for k, v in extra.items() if k not in ("email", "id")})
    else:
        raise ItemError(f"type: unknown Segment call type {kind[:40]!r}")
    user_id = _text(message.get("userId"))
    if user_id is not None and "user_id" not in properties and len(properties) < 64:
        properties["user_id"] = user_id[:200]
    message_id = _text(message.get("messageId"))
    event_id = message_id[:256] if message_id else content_event_id(SOURCE, message)
    timestamp = message.get("timestamp") or message.get("originalTimestamp")
    try:
        return CanonicalEvent(
            event_id=event_id,
            source=SOURCE,
            type=event_type,
            name=name[:200] if name else None,
            occurred_at=occurred_at(timestamp, request.received_at),
            received_at=request.received_at,
            identity=identity,
            profile=profile,
            properties=properties,
            bot=bot_reason(_text(context.get("userAgent"))),
        )
    except ValidationError as exc:
        raise ItemError("; ".join(describe_validation_error(exc))) from exc


def _merge_context(batch_context: Mapping[str, Any], message: Mapping[str, Any]) -> Mapping[str, Any]:
    if not batch_context:
        return message
    return {**message, "context": {**batch_context, **_obj(message.get("context"))}}


def track_events(request: IngestRequest, config: IngestConfig) -> IngestResult:
    """Parse a Segment message or batch. A single unusable message is a 422; batches answer per item."""
    require_content_type(request.content_type, ACCEPTED_CONTENT_TYPES, default=JSON)
    document = parse_json(request.body)
    result = IngestResult(source=SOURCE)
    if isinstance(document, dict) and "batch" in document:
        items = document["batch"]
        if not isinstance(items, list):
            raise MalformedBodyError("batch: must be an array of Segment messages")
        batch_context = _obj(document.get("context"))
    elif isinstance(document, list):
        items, batch_context = document, {}
    elif isinstance(document, dict):
        try:
            outcome = message_event(document, request, config, result.warnings)
        except MalformedItemError as exc:
            raise MalformedBodyError(f"the Segment message is malformed: {exc}", details=[str(exc)]) from exc
        except ItemError as exc:
            raise UnprocessableError("the Segment message cannot be used", details=[str(exc)]) from exc
        if isinstance(outcome, str):
            result.ignore(0, outcome)
        else:
            result.add(outcome)
        return result
    else:
        raise MalformedBodyError('expected a Segment message object or {"batch": [...]}')
    if len(items) > MAX_BATCH:
        raise UnprocessableError(f"batch: at most {MAX_BATCH} messages per request")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.reject(index, "must be a Segment message object")
            continue
        try:
            warnings: list[str] = []
            outcome = message_event(_merge_context(batch_context, item), request, config, warnings)
            result.warnings.extend(f"[{index}] {line}" for line in warnings)
        except ItemError as exc:
            result.reject(index, str(exc))
            continue
        if isinstance(outcome, str):
            result.ignore(index, outcome)
        else:
            result.add(outcome)
    return result
