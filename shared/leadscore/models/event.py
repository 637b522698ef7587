"""The one canonical event model. Every source (forms, email platforms, tracking) lands here.

An event carries who (identity, optional profile), what (type, name, properties), when
(occurred_at), where from (source) and the provider's own event id, used for deduplication.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

# Event types the scoring model understands. Sources map their own vocabulary onto these.
EventType = Literal[
    "form_submit",
    "page_view",
    "track",
    "identify",
    "email_delivered",
    "email_open",
    "email_click",
    "email_bounce",
    "email_dropped",
    "email_deferred",
    "email_unsubscribe",
    "email_resubscribe",  # opted in again (globally, or to the list in properties): clears an unsubscribe
    "email_spam_report",
    "list_import",  # a row of a CSV list dropped in the imports bucket (leadscore.ingest.list_import)
    "crm_outcome",  # the CRM reports a deal won or lost (leadscore.scoring.crm): never scored
    "crm_stage",  # the CRM moves the lead's lifecycle stage (leadscore.scoring.crm): never scored
]


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Characters nobody can see or type on purpose in an address: controls, format characters (zero-width
# space and joiners, bidi controls, soft hyphen, BOM), surrogates, private use, unassigned, separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


class EmailEncodingError(ValueError):
    """An address carrying a character that cannot be part of one (invisible, control, lone surrogate).

    Distinct from a merely invalid address: it is how spoofed look-alikes are made, so it is refused as a
    malformed request (400) rather than dropped."""


def _refuse_invisible(text: str) -> None:
    for char in text:
        if not char.isascii() or not char.isprintable():
            category = unicodedata.category(char)
            if category in _INVISIBLE_CATEGORIES:
                name = unicodedata.name(char, "") if category != "Cs" else "a lone surrogate"
                described = f"U+{ord(char):04X}" + (f", {name}" if name else "")
                raise EmailEncodingError(f"contains an invisible or control character ({described})")


@lru_cache(maxsize=1024)  # idna is pure Python (~60 µs a domain); a deployment sees few distinct ones
def _unicode_domain(domain: str) -> str:
    """The domain in its lower-case Unicode form (U-labels), through UTS 46 (IDNA 2008 with the mapping
    browsers and mail clients use): ``BÜCHER.de`` and ``xn--bcher-kva.de`` are both ``bücher.de``.

    Plain ASCII domains with no ``xn--`` label are only lower-cased (the common case: no ``idna`` import,
    and exactly the normalization addresses always had, so existing lead ids stay put)."""
    if domain.isascii() and "xn--" not in domain:
        return domain
    import idna  # lazily: ~5 ms of import paid only by the first internationalized domain

    try:
        ascii_form = idna.encode(domain, uts46=True, transitional=False)
        return str(idna.decode(ascii_form, uts46=False))
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise ValueError("the domain is not a valid internationalized domain name") from exc


@lru_cache(maxsize=8192)  # a lead's address is normalized several times per event (ids, keys)
def normalize_email(value: str) -> str:
    """The one normalizer of email addresses: every route, lookup, erasure and CLI keys leads by it.

    Trimmed; refused if it carries an invisible or control character (:class:`EmailEncodingError`); NFC
    on the whole address; the domain through UTS 46 to its Unicode form; lower-cased. Stored (and hashed
    into the lead id) in that Unicode form: ASCII addresses are unchanged by it and the readable form is
    what people typed. Plus-addresses stay distinct (``dana+news@x.com`` is not ``dana@x.com``): whether
    a ``+tag`` is ignored depends on the mailbox provider, so merging them would be a guess.
    """
    email = value.strip()
    _refuse_invisible(email)
    email = email.lower()
    local, at, domain = email.partition("@")
    if len(email) > 1024 or not (at and local and domain) or "@" in domain:
        raise ValueError("not a valid email address")
    domain = _unicode_domain(domain)  # UTS 46 includes NFC for the domain
    email = unicodedata.normalize("NFC", f"{local}@{domain}")  # NFC on the whole address, once
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise ValueError("not a valid email address")
    return email


def lead_id_for_email(email: str) -> str:
    """The lead's key: a SHA-256 of the normalized email (pseudonymous; see README 'Data model')."""
    return "e" + hashlib.sha256(normalize_email(email).encode()).hexdigest()[:31]


def lead_id_for_anonymous(anonymous_id: str) -> str:
    """The key of an anonymous visitor, until an identify links it to an email."""
    return "a" + hashlib.sha256(anonymous_id.strip().encode()).hexdigest()[:31]


Email = Annotated[str, AfterValidator(normalize_email)]
Scalar = str | int | float | bool | None


class Identity(BaseModel):
    """Who the event is about. At least one of email or anonymous_id is required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: Email | None = None
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("anonymous_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        if value is not None:
            if "\x00" in value:
                raise ValueError("contains a NUL character")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("contains a lone surrogate, which is not valid Unicode") from None
        return value

    @model_validator(mode="after")
    def _needs_one(self) -> Identity:
        if self.email is None and self.anonymous_id is None:
            raise ValueError("an event needs an email or an anonymous_id")
        return self

    @property
    def lead_id(self) -> str:
        if self.email is not None:
            return lead_id_for_email(self.email)
        assert self.anonymous_id is not None
        return lead_id_for_anonymous(self.anonymous_id)


_NUM_RE = re.compile(r"\d[\d,.]*")


def parse_quantity(value: Any) -> float | None:
    """Read "51-200", "1,000+", "5M", 250 or "$2.5 million" as a number (the lower bound of a range)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower().replace("$", "").replace("€", "").replace("£", "")
    match = _NUM_RE.search(text)
    if match is None:
        raise ValueError(f"expected a number or a range such as 51-200, got {value!r}")
    number = float(match.group(0).replace(",", ""))
    rest = text[match.end() :].strip()
    for suffix, factor in (
        ("billion", 1e9),
        ("million", 1e6),
        ("bn", 1e9),
        ("b", 1e9),
        ("m", 1e6),
        ("k", 1e3),
    ):
        if rest.startswith(suffix):
            number *= factor
            break
    return number


class Profile(BaseModel):
    """Explicit (fit) fields a lead tells us about themselves. Every field is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    company_size: float | None = Field(default=None, ge=0)
    revenue: float | None = Field(default=None, ge=0)
    industry: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)
    website: str | None = Field(default=None, max_length=500)
    lifecycle_stage: str | None = Field(default=None, max_length=50)
    owner: str | None = Field(default=None, max_length=200, description="the rep who owns the lead, if known")

    @field_validator("company_size", "revenue", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> float | None:
        return parse_quantity(value)

    def fields(self) -> dict[str, Scalar]:
        """The fields that were given (not None)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CanonicalEvent(BaseModel):
    """One accepted event, as queued for the scorer and kept in the lead's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    event_id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=64)
    type: EventType
    name: str | None = Field(default=None, max_length=200)
    occurred_at: datetime
    received_at: datetime | None = None
    identity: Identity
    profile: Profile | None = None
    properties: dict[str, Scalar] = Field(default_factory=dict)
    bot: str | None = Field(
        default=None, max_length=200, description="why this looks automated; kept, not scored"
    )
    # The request that brought the event in (the HTTP API's request id): the correlation id of the
    # logs from ingest to the alert it raises. On the queue only: never kept in the lead's history.
    trace_id: str | None = Field(default=None, max_length=128)

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def lead_id(self) -> str:
        return self.identity.lead_id


def content_event_id(source: str, payload: Any) -> str:
    """A stable id for sources that send none: a hash of the canonical JSON of what they sent.

    A retried delivery of the same content gets the same id, so it is recognised as a duplicate.
    """
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return f"{source}:h:" + hashlib.sha256(blob.encode()).hexdigest()[:40]
