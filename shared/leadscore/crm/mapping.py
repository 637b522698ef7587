"""A lead as the CRM shows it: the few fields a rep sees, their fingerprint, and each CRM's shape.

Pure: no I/O. :func:`record_of` decides whether a lead is synced at all (known by email, scored, not
erased, not merged into another lead); :func:`fingerprint` names the synced values (not the time),
so a write that changes nothing a rep sees (an outbox claim, a recount to the same score) is skipped.

HubSpot: contact properties ``leadscore_*`` (:data:`HUBSPOT_PROPERTIES`, created once by
``leadscore crm hubspot create-properties``), upserted by ``email``. Salesforce: ``Leadscore_*__c``
fields of a Lead or Contact, upserted by the external id ``Leadscore_Id__c`` = the lead id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from leadscore.scoring.state import LeadState, ScoreCard

MAX_REASONS_CHARS = 1000  # HubSpot textarea holds 65,536; Salesforce long text areas are sized to fit
REASONS_SEPARATOR = "; "
PROPERTY_GROUP = "leadscore"
SALESFORCE_EXTERNAL_ID = "Leadscore_Id__c"


class CrmRecord(BaseModel):
    """What the CRMs receive for one lead (version ``ver`` of its item)."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    ver: int
    email: str
    score: float
    tier: str
    grade: str
    reasons: str
    probability: float | None
    updated_at: int  # epoch seconds: when the card was computed
    # Routing (leadscore.scoring.routing) and the lifecycle (leadscore.scoring.lifecycle): who owns the
    # lead, the queue it was routed through and its stage. The stage is written to its own read-only
    # field (``leadscore_lifecycle_stage``), never to ``leadscore_stage``, the field sales sets and
    # the CRM sends back to us: a write-back that moved it would echo as an inbound move.
    owner: str | None = None
    queue: str | None = None
    stage: str | None = None
    last_name: str | None = None  # only used when Salesforce must create the record
    company: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(
            self.score,
            self.tier,
            self.grade,
            self.reasons,
            self.probability,
            self.owner,
            self.queue,
            self.stage,
        )


def fingerprint_of(
    score: float, tier: str, grade: str, reasons: str, probability: float | None, *assignment: str | None
) -> str:
    """8 hex digits (32 bits) naming the values a rep sees (the time and the version excluded; the
    ``assignment``: owner, queue, stage). Short: it rides in every lead item; a collision would skip
    one change, and the next change heals it."""
    raw = json.dumps([score, tier, grade, reasons, probability, *assignment], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:8]


def reasons_text(card: ScoreCard) -> str:
    text = REASONS_SEPARATOR.join(r.strip() for r in card.reasons if r.strip())
    return text if len(text) <= MAX_REASONS_CHARS else text[: MAX_REASONS_CHARS - 1] + "…"


def synced(state: LeadState) -> bool:
    """Whether the lead belongs in the CRM: a known, scored, live lead of its own."""
    return (
        state.card is not None and bool(state.email) and state.erased_at is None and state.merged_into is None
    )


def fingerprint(state: LeadState) -> str | None:
    """The lead item's ``crm`` attribute (the stream filter's key): None when the lead is not synced."""
    record = record_of(state)
    return record.fingerprint if record is not None else None


def _text(value: Any) -> str | None:
    return value.strip()[:80] if isinstance(value, str) and value.strip() else None


def record_of(state: LeadState) -> CrmRecord | None:
    card = state.card
    if card is None or not synced(state) or state.email is None:
        return None
    probability = None if card.probability is None else round(card.probability, 4)
    return CrmRecord(
        lead_id=state.lead_id,
        ver=state.ver,
        email=state.email,
        score=round(card.score, 1),
        tier=card.tier,
        grade=card.grade,
        reasons=reasons_text(card),
        probability=probability,
        updated_at=card.computed_at,
        owner=_text(state.owner),
        queue=_text(state.owner_queue),
        stage=state.stage,
        last_name=_text(state.profile.get("last_name")),
        company=_text(state.profile.get("company")),
    )


def newest(records: list[CrmRecord]) -> list[CrmRecord]:
    """One record per lead, its highest version (a batch may carry several versions of a lead)."""
    best: dict[str, CrmRecord] = {}
    for record in records:
        kept = best.get(record.lead_id)
        if kept is None or record.ver > kept.ver:
            best[record.lead_id] = record
    return list(best.values())


# ----------------------------------------------------------------------------------------- HubSpot
# name -> (label, type, fieldType): https://developers.hubspot.com/docs/api/crm/properties
HUBSPOT_PROPERTIES: dict[str, tuple[str, str, str]] = {
    "leadscore_score": ("Lead score", "number", "number"),
    "leadscore_tier": ("Lead score tier", "string", "text"),
    "leadscore_grade": ("Lead score grade", "string", "text"),
    "leadscore_reasons": ("Lead score reasons", "string", "textarea"),
    "leadscore_probability": ("Lead score conversion probability (0-1)", "number", "number"),
    "leadscore_updated_at": ("Lead score updated at", "datetime", "date"),
    "leadscore_version": ("Lead score version", "number", "number"),
    "leadscore_owner": ("Lead score owner (routing)", "string", "text"),
    "leadscore_queue": ("Lead score routing queue", "string", "text"),
    "leadscore_lifecycle_stage": ("Lead score lifecycle stage", "string", "text"),
}


def hubspot_input(record: CrmRecord) -> dict[str, Any]:
    """One input of ``POST /crm/v3/objects/contacts/batch/upsert`` (``idProperty`` = email)."""
    properties = {
        "leadscore_score": str(record.score),
        "leadscore_tier": record.tier,
        "leadscore_grade": record.grade,
        "leadscore_reasons": record.reasons,
        "leadscore_probability": "" if record.probability is None else str(record.probability),
        "leadscore_updated_at": str(record.updated_at * 1000),  # datetime: epoch milliseconds, UTC
        "leadscore_version": str(record.ver),
        "leadscore_owner": record.owner or "",
        "leadscore_queue": record.queue or "",
        "leadscore_lifecycle_stage": record.stage or "",
    }
    return {"idProperty": "email", "id": record.email.lower(), "properties": properties}


def hubspot_property_definitions() -> list[dict[str, Any]]:
    """Bodies of ``POST /crm/v3/properties/contacts``, one per property."""
    return [
        {
            "name": name,
            "label": label,
            "type": kind,
            "fieldType": field_type,
            "groupName": PROPERTY_GROUP,
            "description": "Written by leadscore; do not edit by hand.",
        }
        for name, (label, kind, field_type) in HUBSPOT_PROPERTIES.items()
    ]


# ----------------------------------------------------------------------------------------- Salesforce
SALESFORCE_FIELDS = (
    "Leadscore_Score__c",
    "Leadscore_Tier__c",
    "Leadscore_Grade__c",
    "Leadscore_Reasons__c",
    "Leadscore_Probability__c",
    "Leadscore_Updated_At__c",
    "Leadscore_Version__c",
    "Leadscore_Owner__c",
    "Leadscore_Queue__c",
    "Leadscore_Lifecycle_Stage__c",
)


def salesforce_record(record: CrmRecord, sobject: str, *, creating: bool = False) -> dict[str, Any]:
    """One record of ``PATCH /composite/sobjects/<sobject>/Leadscore_Id__c``. ``creating`` adds what a
    new Lead or Contact requires (LastName; Company on a Lead), only when the update found none: an
    update never overwrites a rep's name or company."""
    from datetime import UTC, datetime

    body: dict[str, Any] = {
        "attributes": {"type": sobject},
        SALESFORCE_EXTERNAL_ID: record.lead_id,
        "Leadscore_Score__c": record.score,
        "Leadscore_Tier__c": record.tier,
        "Leadscore_Grade__c": record.grade,
        "Leadscore_Reasons__c": record.reasons,
        "Leadscore_Probability__c": record.probability,
        "Leadscore_Updated_At__c": datetime.fromtimestamp(record.updated_at, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.000+0000"
        ),
        "Leadscore_Version__c": record.ver,
        "Leadscore_Owner__c": record.owner,
        "Leadscore_Queue__c": record.queue,
        "Leadscore_Lifecycle_Stage__c": record.stage,
    }
    if creating:
        body["Email"] = record.email
        body["LastName"] = record.last_name or record.email.split("@", 1)[0][:80]
        if sobject == "Lead":
            body["Company"] = record.company or record.email.split("@", 1)[-1][:255]
    return body
