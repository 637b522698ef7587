"""Web forms: any form builder's field names → one ``form_submit`` CanonicalEvent with a ``Profile``.

Field names are matched through :data:`FIELD_ALIASES`, insensitive to case, spaces and punctuation
(``"Company size"``, ``"company_size"`` and ``"COMPANY-SIZE"`` are all ``companysize``). Extend the table
per deployment with ``LEADSCORE_FORM_FIELD_ALIASES`` (see :mod:`leadscore.ingest.config`) or by passing
``extra_aliases`` to :func:`build_alias_index`.

Targets:

- ``Profile`` fields: ``first_name``, ``last_name``, ``job_title``, ``company``, ``company_size``,
  ``revenue``, ``industry``, ``country``, ``phone``, ``website``, ``lifecycle_stage``, ``owner`` (the rep);
- identity: ``email``, ``anonymous_id``; ``full_name`` is split into first and last name when those are
  not given;
- the submission: ``form`` (the form's name or id: event name and ``form`` property), ``submission_id``
  (the event id; without one, a hash of the content), ``submitted_at`` (occurred_at; without one, the time
  API Gateway received the request), ``page_url``, ``path``, ``referrer`` and the ``utm_*`` fields.

Fields matching no alias are kept as properties under a snake_case key (capped, see
:mod:`leadscore.ingest.normalize`). Honeypot fields (``LEADSCORE_FORM_HONEYPOT_FIELDS``, default ``_hp``,
``_gotcha``, ``_honey``) are matched by their exact raw name and never mapped. A field whose name looks like
a trap (``bot-field``, ``honeypot``, ``leave_blank``...) but is not configured as one is kept and named in
the 202's ``warnings``, as is a submission without a form name. ``_redirect`` (a thank-you URL from
``LEADSCORE_FORM_REDIRECT_URLS``, matched exactly) turns the answer into a 303; it is never form data.
A profile value that fails validation (``"Employees": "lots"``) is
dropped and the rest of the submission is kept: losing a lead over one bad field helps nobody.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from leadscore.errors import ConfigurationError
from leadscore.ingest.body import (
    FORM_URLENCODED,
    JSON,
    MULTIPART_FORM,
    check_fields,
    parse_json,
    parse_multipart,
    parse_urlencoded,
    require_content_type,
)
from leadscore.ingest.bots import bot_reason
from leadscore.ingest.config import REDIRECT_URLS_ENV, IngestConfig
from leadscore.ingest.errors import MalformedBodyError, RedirectNotAllowedError, UnprocessableError
from leadscore.ingest.normalize import (
    UTM_FIELDS,
    clean_properties,
    occurred_at,
    page_properties,
    scalar,
    snake_key,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult, describe_validation_error
from leadscore.ingest.shapes import form_problems
from leadscore.models.event import (
    CanonicalEvent,
    EmailEncodingError,
    Identity,
    Profile,
    content_event_id,
    normalize_email,
)

SOURCE = "forms"
ACCEPTED_CONTENT_TYPES = (JSON, FORM_URLENCODED, MULTIPART_FORM)

PROFILE_FIELDS = tuple(Profile.model_fields)
_NUMERIC_PROFILE_FIELDS = frozenset({"company_size", "revenue"})

# target → the names form builders, CRMs and people use for it. Matching ignores case and punctuation.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e-mail",
        "email address",
        "e-mail address",
        "work email",
        "business email",
        "company email",
        "your email",
        "mail",
        "emailaddress",
    ),
    "first_name": ("first name", "firstname", "fname", "given name", "forename", "first"),
    "last_name": ("last name", "lastname", "lname", "surname", "family name", "last"),
    "full_name": ("name", "full name", "fullname", "your name", "contact name"),
    "job_title": ("job title", "title", "jobtitle", "position", "role", "job role", "job position"),
    "company": (
        "company",
        "company name",
        "companyname",
        "organization",
        "organisation",
        "organization name",
        "org",
        "employer",
        "business name",
        "account name",
    ),
    "company_size": (
        "company size",
        "employees",
        "number of employees",
        "no of employees",
        "num employees",
        "employee count",
        "employee_count",
        "employees count",
        "headcount",
        "team size",
        "company employees",
        "numberofemployees",
    ),
    "revenue": ("revenue", "annual revenue", "company revenue", "annualrevenue"),
    "industry": ("industry", "sector", "vertical", "company industry"),
    "country": ("country", "country code", "country/region", "country region", "nation"),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "tel",
        "mobile",
        "mobile phone",
        "work phone",
        "mobilephone",
    ),
    "website": (
        "website",
        "company website",
        "web site",
        "website url",
        "company url",
        "company domain",
        "domain",
    ),
    "lifecycle_stage": ("lifecycle stage", "lifecyclestage", "lifecycle"),
    "owner": ("owner", "lead owner", "contact owner", "account owner", "sales owner"),
    "anonymous_id": ("anonymous id", "anonymousid", "ajs anonymous id", "ajs_anonymous_id", "visitor id"),
    "form": ("form", "form name", "formname", "form id", "formid", "form title"),
    "submission_id": ("submission id", "submissionid", "entry id", "response id", "event id"),
    "submitted_at": (
        "submitted at",
        "submittedat",
        "submission time",
        "submitted",
        "timestamp",
        "date submitted",
    ),
    "page_url": (
        "page url",
        "pageurl",
        "page",
        "url",
        "page uri",
        "source url",
        "landing page",
        "conversion page",
    ),
    "path": ("path", "page path", "pagepath"),
    "referrer": ("referrer", "referer", "http referrer", "referrer url"),
    **{utm: (utm, utm.replace("_", " ")) for utm in UTM_FIELDS},
}

TARGETS = frozenset(FIELD_ALIASES)
_KEY = re.compile(r"[^0-9a-z]+")

REDIRECT_FIELD = "_redirect"
# Pieces of the (normalized) names people give bot-trap fields: Netlify's ``bot-field``, ``honeypot``,
# ``leave_this_blank``, ``do_not_fill``... A field named like this that is not a configured honeypot is
# almost certainly one the site meant as a trap: it is kept (it may be real) and named in the warnings.
_HONEYPOT_HINTS = (
    "honeypot",
    "honey",
    "gotcha",
    "botfield",
    "bottrap",
    "spamtrap",
    "leaveblank",
    "leaveempty",
    "leavethisblank",
    "leavethisempty",
    "donotfill",
    "dontfill",
    "nofill",
)
_HONEYPOT_EXACT = frozenset({"hp", "hpfield", "trap"})


def normalize_field_name(name: str) -> str:
    """The matching key of a field name: case-folded, with every non-alphanumeric character removed."""
    return _KEY.sub("", name.casefold())


def build_alias_index(extra_aliases: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """normalized name → target, from :data:`FIELD_ALIASES` plus ``extra_aliases`` (alias → target)."""
    return _alias_index(tuple(sorted((extra_aliases or {}).items())))


@lru_cache(maxsize=16)
def _alias_index(extra: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    index: dict[str, str] = {}
    for target, aliases in FIELD_ALIASES.items():
        for alias in (target, *aliases):
            index.setdefault(normalize_field_name(alias), target)
    for alias, target in extra:
        if target not in TARGETS:
            raise ConfigurationError(
                f"form field alias {alias!r} maps to unknown target {target!r}; "
                f"known: {', '.join(sorted(TARGETS))}"
            )
        index[normalize_field_name(alias)] = target
    return index


@dataclass
class MappedFields:
    """A submission's fields, sorted by target. The first non-empty value of each target wins."""

    values: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def map_fields(pairs: Iterable[tuple[str, Any]], aliases: Mapping[str, str]) -> MappedFields:
    """Sort ``(name, value)`` pairs into targets (through the alias index) and extra fields."""
    mapped = MappedFields()
    for name, raw in pairs:
        value = scalar(raw)
        if value is None or value == "":
            continue
        target = aliases.get(normalize_field_name(name))
        if target is not None:
            if target not in mapped.values:
                mapped.values[target] = str(value) if target not in _NUMERIC_PROFILE_FIELDS else value
        else:
            key = snake_key(name)
            if key and key not in mapped.extra:
                mapped.extra[key] = value
    return mapped


def build_profile(values: Mapping[str, Any]) -> tuple[Profile | None, list[str]]:
    """A Profile from mapped values (targets → values); fields failing validation are dropped and named."""
    data: dict[str, Any] = {k: values[k] for k in PROFILE_FIELDS if k in values}
    full_name = values.get("full_name")
    if isinstance(full_name, str) and "first_name" not in data and "last_name" not in data:
        first, _, last = full_name.strip().partition(" ")
        data["first_name"] = first
        if last.strip():
            data["last_name"] = last.strip()
    dropped: list[str] = []
    for _ in range(len(PROFILE_FIELDS) + 1):
        try:
            profile = Profile.model_validate(data)
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            if not bad & data.keys():
                return None, [*dropped, *describe_validation_error(exc)]
            dropped.extend(describe_validation_error(exc))
            data = {k: v for k, v in data.items() if k not in bad}
            continue
        fields = profile.fields()
        if any(isinstance(v, float) and v in (float("inf"), float("-inf")) for v in fields.values()):
            data = {k: v for k, v in data.items() if k not in _NUMERIC_PROFILE_FIELDS}
            dropped.append("company_size/revenue: not a finite number")
            continue
        return (profile if fields else None), dropped
    return None, dropped


def _form_pairs(request: IngestRequest) -> list[tuple[str, Any]]:
    content_type = require_content_type(request.content_type, ACCEPTED_CONTENT_TYPES)
    if content_type.mime == FORM_URLENCODED:
        return list(parse_urlencoded(request.body, content_type.charset))
    if content_type.mime == MULTIPART_FORM:
        return parse_multipart(request.body, content_type)
    document = parse_json(request.body)
    if not isinstance(document, dict):
        raise MalformedBodyError("a JSON form body must be an object of field names to values")
    return list(_json_pairs(document))


def _json_pairs(document: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """Top-level fields, plus a ``fields`` container: an object, or a list of ``{"name", "value"}``."""
    for key, value in document.items():
        if key == "fields" and isinstance(value, dict):
            yield from value.items()
        elif key == "fields" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    yield item["name"], item.get("value")
        else:  # an object here is mapped to nothing, but named if it sits in a known field (shapes)
            yield key, value


def _honeypot_hit(pairs: Iterable[tuple[str, Any]], honeypot_fields: frozenset[str]) -> bool:
    return any(name in honeypot_fields and scalar(value) not in (None, "") for name, value in pairs)


_HONEYPOT_HINT = re.compile("|".join(_HONEYPOT_HINTS))


@lru_cache(maxsize=1024)  # a site's forms repeat the same few dozen names on every request
def looks_like_honeypot(name: str) -> bool:
    """True for a field name people use for bot traps (``bot-field``, ``honeypot``, ``_hp_email``...)."""
    key = normalize_field_name(name)
    return key in _HONEYPOT_EXACT or _HONEYPOT_HINT.search(key) is not None


def redirect_target(pairs: Iterable[tuple[str, Any]], allowed: frozenset[str]) -> str | None:
    """The ``_redirect`` URL a plain HTML form asks for, if any; 400 naming the field unless it is exactly
    one of ``allowed`` (so the endpoint never sends a browser anywhere a stranger chose)."""
    values = {str(scalar(v)).strip() for n, v in pairs if n == REDIRECT_FIELD and scalar(v) not in (None, "")}
    if not values:
        return None
    if len(values) > 1:
        raise RedirectNotAllowedError(
            "the _redirect field is given more than once", details=["_redirect: more than one value"]
        )
    (url,) = values
    if url not in allowed:
        reason = "not one of the allowed thank-you URLs" if allowed else "no thank-you URLs are configured"
        raise RedirectNotAllowedError(
            f"the _redirect field is {reason} (FormRedirectUrls / {REDIRECT_URLS_ENV})",
            details=[f"_redirect: {reason}"],
        )
    return url


def _field_warnings(pairs: Iterable[tuple[str, Any]], config: IngestConfig) -> list[str]:
    """Warnings about the form itself (its field names), never about values (they may be PII)."""
    warnings = []
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen or name in config.honeypot_fields or not looks_like_honeypot(name):
            continue
        seen.add(name)
        configured = ", ".join(sorted(config.honeypot_fields)) or "none"
        warnings.append(
            f"{name[:64]}: looks like a honeypot field but is not configured as one (configured: "
            f"{configured}); it was kept as form data. Rename it to _hp, or add it to "
            "LEADSCORE_FORM_HONEYPOT_FIELDS"
        )
    return warnings


def form_events(request: IngestRequest, config: IngestConfig) -> IngestResult:
    """Parse a form submission into one ``form_submit`` event. 422 if it names nobody.

    ``warnings`` in the answer name profile values dropped as invalid, a submission without a form name
    and fields that look like honeypots but are not configured as one. ``redirect`` is set from an allowed
    ``_redirect`` field (400 for any other): the handler then answers 303, honeypot hits included, so a
    bot learns nothing from the answer.
    """
    result = IngestResult(source=SOURCE)
    # Query parameters of the form's action URL (?form=demo&utm_source=...) fill in what the body lacks.
    check_fields(request.query)
    pairs = [*_form_pairs(request), *request.query]
    result.redirect = redirect_target(pairs, config.redirect_urls)
    pairs = [(name, value) for name, value in pairs if name != REDIRECT_FIELD]
    if _honeypot_hit(pairs, config.honeypot_fields):
        result.honeypot = True
        return result
    pairs = [(name, value) for name, value in pairs if name not in config.honeypot_fields]
    aliases = build_alias_index(config.field_aliases)
    problems = form_problems(pairs, lambda name: normalize_field_name(name) in aliases)
    if problems:
        field_name = problems[0].partition(":")[0]
        raise UnprocessableError(f"the field {field_name} must be a string or a number", details=problems)
    event, dropped = submission_event(pairs, request, config, source=SOURCE)
    result.warnings.extend(dropped)
    if event.name is None:
        result.warnings.append(
            "form: the submission names no form; add a hidden field form=NAME (or ?form=NAME to the "
            "action URL) so rules and reports can tell your forms apart"
        )
    result.warnings.extend(_field_warnings(pairs, config))
    result.add(event)
    return result


def submission_event(
    pairs: Iterable[tuple[str, Any]],
    request: IngestRequest,
    config: IngestConfig,
    *,
    source: str,
    event_id: str | None = None,
    form_name: str | None = None,
    submitted_at: Any = None,
    extra_properties: Mapping[str, Any] | None = None,
    relayed: bool = False,
) -> tuple[CanonicalEvent, list[str]]:
    """One ``form_submit`` event from a submission's ``(field name, value)`` pairs, through the alias table.

    Shared by ``POST /forms`` and the form providers (Typeform, HubSpot, Tally, Webflow). ``event_id`` is the
    provider's submission id; without one, a hash of the mapped content. 422 if it names nobody. Also returns
    the profile fields dropped because they failed validation (the response's ``warnings``). ``relayed``: the
    request comes from the platform's servers, so its user agent says nothing about the person (no ``bot``).
    """
    mapped = map_fields(pairs, build_alias_index(config.field_aliases))
    values = mapped.values

    email: str | None = None
    if "email" in values:
        try:
            email = normalize_email(str(values["email"]))
        except EmailEncodingError as exc:
            raise MalformedBodyError(f"the email field {exc}", details=["email: " + str(exc)]) from exc
        except ValueError as exc:
            raise UnprocessableError(
                "the email field is not a valid email address", details=["email: " + str(exc)]
            ) from exc
    anonymous_id = values.get("anonymous_id")
    if email is None and not anonymous_id:
        raise UnprocessableError(
            "the submission has no email address (or anonymous id)",
            details=["email: missing (accepted names include email, e-mail, work email)"],
        )
    profile, dropped = build_profile(values)

    name = form_name or values.get("form")
    props = page_properties(values.get("page_url") or request.header("referer"), values.get("path"))
    if "url" in props:
        props["page_url"] = props.pop("url")
    submitted = {
        "form": name,
        **props,
        "referrer": values.get("referrer"),
        **{utm: values.get(utm) or props.get(utm) for utm in UTM_FIELDS},
    }
    properties = clean_properties(submitted, extra_properties, mapped.extra)
    fingerprint = {"values": values, "extra": mapped.extra}
    chosen_id = event_id or values.get("submission_id") or content_event_id(source, fingerprint)
    try:
        event = CanonicalEvent(
            event_id=str(chosen_id)[:256],
            source=source,
            type="form_submit",
            name=str(name)[:200] if name else None,
            occurred_at=occurred_at(
                submitted_at if submitted_at is not None else values.get("submitted_at"),
                request.received_at,
            ),
            received_at=request.received_at,
            identity=Identity(email=email, anonymous_id=str(anonymous_id)[:200] if anonymous_id else None),
            profile=profile,
            properties=properties,
            bot=None if relayed else bot_reason(request.user_agent, http_libraries=False),
        )
    except ValidationError as exc:
        raise UnprocessableError(
            "the submission cannot be used", details=describe_validation_error(exc)
        ) from exc
    return event, dropped
