"""The pure side of the CRM write-back: which leads are synced, their fingerprint, each CRM's shape,
and the rate-limit maths."""

from __future__ import annotations

from leadscore.crm.limits import RollingWindow, parse_retry_after, retry_delay
from leadscore.crm.mapping import (
    HUBSPOT_PROPERTIES,
    MAX_REASONS_CHARS,
    fingerprint,
    hubspot_input,
    newest,
    record_of,
    salesforce_record,
)
from leadscore.scoring.state import LeadState, ScoreCard


def lead(**changes: object) -> LeadState:
    card = ScoreCard(score=42.04, fit=20, activity=22, tier="warm", grade="B2", reasons=["Demo (+40)"])
    values: dict[str, object] = {"lead_id": "L1", "email": "Ann@Acme.io", "ver": 3, "card": card, **changes}
    return LeadState.model_validate(values)


def test_only_known_scored_live_leads_are_synced() -> None:
    assert record_of(lead()) is not None
    assert record_of(lead(email=None)) is None  # anonymous
    assert record_of(lead(card=None)) is None
    assert record_of(lead(erased_at=1)) is None
    assert record_of(lead(merged_into="L2")) is None


def test_the_fingerprint_ignores_time_and_version_but_not_what_a_rep_sees() -> None:
    base = lead()
    assert base.card is not None
    later = lead(ver=9, card=base.card.model_copy(update={"computed_at": 99}))
    assert fingerprint(base) == fingerprint(later)
    assert fingerprint(base) != fingerprint(lead(card=base.card.model_copy(update={"tier": "hot"})))
    assert len(fingerprint(base) or "") == 8


def test_hubspot_input_uses_every_created_property_and_epoch_milliseconds() -> None:
    record = record_of(lead(card=ScoreCard(score=1, fit=0, activity=1, tier="t", grade="g", computed_at=5)))
    assert record is not None
    body = hubspot_input(record)
    assert body["idProperty"] == "email" and body["id"] == "ann@acme.io"
    assert set(body["properties"]) == set(HUBSPOT_PROPERTIES)
    assert body["properties"]["leadscore_updated_at"] == "5000"


def test_reasons_are_kept_short() -> None:
    card = ScoreCard(score=1, fit=0, activity=1, tier="t", grade="g", reasons=["x" * 300] * 10)
    record = record_of(lead(card=card))
    assert record is not None and len(record.reasons) == MAX_REASONS_CHARS


def test_salesforce_sends_creation_fields_only_when_creating() -> None:
    record = record_of(lead(profile={"company": "Acme"}))
    assert record is not None
    update = salesforce_record(record, "Lead")
    assert "LastName" not in update and "Company" not in update and update["Leadscore_Id__c"] == "L1"
    create = salesforce_record(record, "Lead", creating=True)
    assert create["Company"] == "Acme" and create["LastName"] == "Ann"
    assert "Company" not in salesforce_record(record, "Contact", creating=True)


def test_newest_keeps_the_highest_version_per_lead() -> None:
    records = [r for r in (record_of(lead(ver=v)) for v in (4, 9, 2)) if r is not None]
    assert [r.ver for r in newest(records)] == [9]


def test_the_rolling_window_keeps_within_the_limit() -> None:
    window = RollingWindow(capacity=10, window=10)
    waits = [window.wait_for(0.0) for _ in range(12)]
    assert waits == [0.0] * 10 + [10.0, 10.0]  # never more than 10 in any 10 seconds
    assert window.wait_for(15.0) == 0.0  # the first ten left the window at 10 s
    assert window.wait_for(100.0) == 0.0


def test_retry_after_is_honoured_else_jittered_backoff() -> None:
    assert parse_retry_after("3") == 3.0 and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert 3.0 <= retry_delay(1, 3.0, lambda: 0.5) < 3.25
    assert retry_delay(4, None, lambda: 1.0) == 4.0  # 0.5 * 2^3, full jitter's upper end
    assert retry_delay(30, None, lambda: 1.0) == 20.0  # capped


def test_the_owner_queue_and_stage_reach_both_crms_and_their_changes_are_synced() -> None:
    routed = lead(owner="lea.moreau@example.com", owner_queue="enterprise-desk", stage="mql")
    record = record_of(routed)
    assert record is not None
    properties = hubspot_input(record)["properties"]
    assert (
        properties["leadscore_owner"],
        properties["leadscore_queue"],
        properties["leadscore_lifecycle_stage"],
    ) == ("lea.moreau@example.com", "enterprise-desk", "mql")
    assert "leadscore_stage" not in properties  # sales' own field, sent back to us: never written
    body = salesforce_record(record, "Lead")
    assert (body["Leadscore_Owner__c"], body["Leadscore_Queue__c"], body["Leadscore_Lifecycle_Stage__c"]) == (
        "lea.moreau@example.com",
        "enterprise-desk",
        "mql",
    )
    assert "Leadscore_Stage__c" not in body
    # A new owner or stage is something a rep sees: the fingerprint moves, so the sync writes it.
    assert fingerprint(routed) != fingerprint(
        lead(owner="sam.ortiz@example.com", owner_queue="na", stage="mql")
    )
    assert fingerprint(routed) != fingerprint(
        lead(owner="lea.moreau@example.com", owner_queue="enterprise-desk", stage="sal")
    )
    unrouted = record_of(lead())
    assert unrouted is not None and hubspot_input(unrouted)["properties"]["leadscore_owner"] == ""
