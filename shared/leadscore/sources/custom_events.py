"""Custom events on EventBridge from the customer's own systems, e.g. a backend emitting
``Demo Requested`` with firmographics and attribution (schema: ``docs/custom-events.md``).

The EventBridge envelope (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html)
is ``version``, ``id``, ``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources`` and
``detail``. The ``detail-type`` says what happened; :data:`DETAIL_TYPES` lists the ones scored. The
``detail`` of every known type has one schema, :class:`LeadEventDetail`, versioned by
``schema_version`` (now 1).

- A known detail type becomes a ``track`` event named by the detail type (``identify`` for
  ``Lead Identified``), with a ``Profile`` from ``person`` and ``company`` and the ``attribution`` and
  ``properties`` as event properties; ``event_id`` is ``detail.event_id`` or else
  ``eventbridge:<envelope id>`` (EventBridge keeps the id across its retries).
- An unknown detail type is not an error: :func:`classify` answers ``unknown`` and the handler logs
  and counts it (metric ``CustomEventsUnknownType``); nothing is queued or retried.
- A known detail type whose ``detail`` fails the schema raises :class:`InvalidCustomEventError`, whose
  text names the fields (never their values): the invocation fails, Lambda retries it twice and keeps it
  in ``AsyncFailuresDLQ``, so the event is not lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadscore.ingest.normalize import clean_properties, occurred_at
from leadscore.ingest.result import describe_validation_error
from leadscore.models.event import CanonicalEvent, Email, EventType, Identity, Profile, Scalar

SOURCE = "eventbridge"
SCHEMA_VERSION = 1

# detail-type → the event type it becomes. Names match the track events rules/example.yaml scores.
DETAIL_TYPES: Mapping[str, EventType] = {
    "Demo Requested": "track",
    "Contact Sales": "track",
    "Quote Requested": "track",
    "RFQ Submitted": "track",
    "Trial Started": "track",
    "Signed Up": "track",
    "Content Downloaded": "track",
    "Webinar Registered": "track",
    "Lead Identified": "identify",
}


class InvalidCustomEventError(ValueError):
    """A known detail type whose envelope or detail does not follow the schema; names the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Person(_Strict):
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)


class Company(_Strict):
    name: str | None = Field(default=None, max_length=200)
    size: float | str | None = Field(default=None, description="employees: 250, or a range such as 201-500")
    industry: str | None = Field(default=None, max_length=200)
    revenue: float | str | None = Field(default=None, description="annual revenue: 5000000, or 5M")
    country: str | None = Field(default=None, max_length=100)
    website: str | None = Field(default=None, max_length=500)


class Attribution(_Strict):
    utm_source: str | None = Field(default=None, max_length=200)
    utm_medium: str | None = Field(default=None, max_length=200)
    utm_campaign: str | None = Field(default=None, max_length=200)
    utm_term: str | None = Field(default=None, max_length=200)
    utm_content: str | None = Field(default=None, max_length=200)
    referrer: str | None = Field(default=None, max_length=500)
    landing_page: str | None = Field(default=None, max_length=500)


class LeadEventDetail(_Strict):
    """``detail`` of every known detail type, schema version 1 (``docs/custom-events.md``)."""

    schema_version: Literal[1]
    email: Email | None = None
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=200)
    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    occurred_at: datetime | None = None
    person: Person | None = None
    company: Company | None = None
    attribution: Attribution | None = None
    properties: dict[str, Scalar] = Field(default_factory=dict, max_length=64)

    @model_validator(mode="after")
    def _identified(self) -> LeadEventDetail:
        if self.email is None and self.anonymous_id is None:
            raise ValueError("email or anonymous_id is required")
        return self

    def profile(self) -> Profile | None:
        person = self.person or Person()
        company = self.company or Company()
        fields = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "job_title": person.job_title,
            "phone": person.phone,
            "company": company.name,
            "company_size": company.size,
            "industry": company.industry,
            "revenue": company.revenue,
            "country": company.country,
            "website": company.website,
        }
        given = {k: v for k, v in fields.items() if v not in (None, "")}
        return Profile.model_validate(given) if given else None


class Envelope(BaseModel):
    """The EventBridge event (the fields used; the rest are allowed)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1, max_length=200)
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    time: str | None = None
    detail: dict[str, Any]


def classify(event: Mapping[str, Any]) -> str | None:
    """The detail type if it is one :data:`DETAIL_TYPES` scores, else None (unknown: log and count)."""
    detail_type = event.get("detail-type") if isinstance(event, Mapping) else None
    return detail_type if isinstance(detail_type, str) and detail_type in DETAIL_TYPES else None


def custom_event(event: Mapping[str, Any], received_at: datetime) -> CanonicalEvent:
    """The canonical event of a known detail type, or :class:`InvalidCustomEventError` naming the fields."""
    try:
        envelope = Envelope.model_validate(event)
        detail = LeadEventDetail.model_validate(envelope.detail)
        profile = detail.profile()
    except ValidationError as exc:
        raise InvalidCustomEventError("; ".join(describe_validation_error(exc))) from None
    attribution = detail.attribution.model_dump(exclude_none=True) if detail.attribution else {}
    sent = detail.occurred_at.isoformat() if detail.occurred_at else envelope.time
    try:
        return CanonicalEvent(
            event_id=detail.event_id or f"{SOURCE}:{envelope.id}",
            source=SOURCE,
            type=DETAIL_TYPES[envelope.detail_type],
            name=envelope.detail_type,
            occurred_at=occurred_at(sent, received_at),
            received_at=received_at,
            identity=Identity(email=detail.email, anonymous_id=detail.anonymous_id),
            profile=profile,
            properties=clean_properties(
                {"event_source": envelope.source, "schema_version": detail.schema_version},
                attribution,
                detail.properties,
            ),
        )
    except ValidationError as exc:
        raise InvalidCustomEventError("; ".join(describe_validation_error(exc))) from None
