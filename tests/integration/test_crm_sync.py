"""CRM write-back (issue 17.2) against local fakes of HubSpot and Salesforce that enforce their
documented contracts (tests/support/fake_hubspot.py, fake_salesforce.py): the real CrmSyncFunction
reads the table's stream in the template's stack and writes correct batches, survives 429s, parks
what the CRMs refuse, re-drives from the current item, and never writes an older score over a newer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_email
from leadscore.services import crm_sync

from tests.support import TEMPLATE, Stack, example_rules_json
from tests.support.crm import CrmSetup, crm_stack
from tests.support.fake_hubspot import UPSERT

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None], monkeypatch: pytest.MonkeyPatch) -> None:
    pin_clock(NOW)
    monkeypatch.setattr(crm_sync, "RETRY_DELAY_SECONDS", 0)  # re-drives come back at once in tests


@pytest.fixture
def crm(aws: None) -> Iterator[CrmSetup]:
    with crm_stack(TEMPLATE) as setup:
        setup.stack.upload_rules(example_rules_json())
        yield setup


def forms(stack: Stack, emails: list[str], form: str = "Newsletter", **fields: Any) -> None:
    for n, email in enumerate(emails):
        body = json.dumps({"email": email, "submission_id": f"{form}-{n}-{email}", "form": form, **fields})
        response = stack.call_http("POST", "/forms", body, {"content-type": "application/json"})
        assert response["statusCode"] in (200, 202), response


def repo(stack: Stack) -> LeadRepository:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    got = sqs.receive_message(
        QueueUrl=stack.queue_url("CrmSyncDLQ"), MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_both_crms_receive_correct_batches_of_every_scored_lead(crm: CrmSetup) -> None:
    emails = [f"person{n}@northwind{n % 7}.io" for n in range(30)]
    forms(crm.stack, emails, job_title="CFO", company="Northwind")
    crm.stack.drain()

    upserts = [e for e in crm.hubspot.log if e.path == UPSERT]
    assert upserts and all(e.status == 200 and 0 < e.size <= 100 for e in upserts)
    assert set(crm.hubspot.contacts) == set(emails)
    contact = crm.hubspot.contacts[emails[0]]
    state = repo(crm.stack).get_by_email(emails[0])
    assert state is not None and state.card is not None
    assert float(contact["leadscore_score"]) == round(state.card.score, 1)
    assert contact["leadscore_tier"] == state.card.tier and contact["leadscore_grade"] == state.card.grade
    assert contact["leadscore_version"] == str(state.ver)
    assert contact["leadscore_updated_at"] == str(state.card.computed_at * 1000)  # datetime: epoch ms

    leads = crm.salesforce.records["Lead"]
    assert set(leads) == {lead_id_for_email(e) for e in emails}  # addressed by the external id
    lead = leads[lead_id_for_email(emails[0])]
    assert lead["Leadscore_Score__c"] == round(state.card.score, 1) and lead["Email"] == emails[0]
    assert lead["Company"] == "Northwind"  # only because the record was created by the sync
    batches = [e for e in crm.salesforce.log if "composite/sobjects" in e.path]
    assert all(e.status == 200 and 0 < e.size <= 200 for e in batches)
    assert crm.hubspot.regressions == [] and crm.salesforce.regressions == []


def test_a_rep_visible_change_is_synced_and_an_invisible_one_is_not(crm: CrmSetup) -> None:
    buyer = {"job_title": "CFO", "industry": "Fintech", "company_size": 900, "country": "US"}
    forms(crm.stack, ["dana@northwind.io"], form="Request a demo", **buyer)
    crm.stack.pump_queue("EventsQueue")
    assert crm.stack.pump_stream("LeadsTable", "CrmSyncFunction").records == 1  # synced at once
    # A sales-ready lead: the notifier claims and marks its alert and its lead events (tier, grade,
    # stage, owner, the crossing), 2 more writes of the item each, that the sync receives later.
    crm.stack.pump_stream("LeadsTable", "NotifierFunction")
    assert len(crm.stack.inbox()) == 1
    outbox_writes = 2 * (1 + len(repo(crm.stack).get_by_email("dana@northwind.io").events))
    assert crm.stack.pump_stream("LeadsTable", "CrmSyncFunction").records == outbox_writes
    crm.stack.drain()
    sent = sum(e.size for e in crm.hubspot.log if e.path == UPSERT)
    assert sent == 1  # the outbox writes changed nothing a rep sees: not sent again
    forms(crm.stack, ["dana@northwind.io"], form="Request a quote", job_title="CFO")
    crm.stack.drain()
    state = repo(crm.stack).get_by_email("dana@northwind.io")
    assert state is not None
    assert crm.hubspot.contacts["dana@northwind.io"]["leadscore_version"] == str(state.ver)
    assert sum(e.size for e in crm.hubspot.log if e.path == UPSERT) == 2


def test_429s_with_retry_after_are_survived(crm: CrmSetup) -> None:
    crm.hubspot.throttle_next(3, retry_after="0.2")
    crm.salesforce.throttle_next(2, retry_after="0.1")
    forms(crm.stack, [f"t{n}@acme.io" for n in range(5)])
    pumped = crm.stack.drain()
    assert crm.hubspot.count(UPSERT, 429) == 3 and len(crm.hubspot.contacts) == 5
    # ...within the invocation: nothing had to wait on the retry queue
    assert [p for p in pumped if p.source == "CrmSyncRetryQueue"] == []
    assert len(crm.salesforce.records["Lead"]) == 5
    assert dead_letters(crm.stack) == []


def test_a_bad_token_parks_leads_in_the_dlq_with_a_reason_then_redrives_the_current_score(
    crm: CrmSetup, capsys: pytest.CaptureFixture[str]
) -> None:
    crm.set_hubspot_token("pat-revoked")
    forms(crm.stack, ["ann@acme.io", "bob@acme.io"])
    crm.stack.drain()
    assert crm.hubspot.contacts == {}
    parked = dead_letters(crm.stack)
    assert {p["crm"] for p in parked} == {"hubspot"} and len(parked) == 2
    assert all(p["reason"] == "hubspot HTTP 401 INVALID_AUTHENTICATION" for p in parked)
    assert crm.hubspot.count(UPSERT, 401) == 2  # once, then once more with the secret read again
    assert "pat-revoked" not in capsys.readouterr().out
    # A newer score meanwhile; then the token is fixed and the DLQ re-driven (moved to the retry queue).
    forms(crm.stack, ["ann@acme.io"], form="Request a demo", job_title="CFO")
    crm.set_hubspot_token("pat-na1-test-token")
    crm.stack.pump_queue("EventsQueue")
    sqs = crm.stack.client("sqs")
    for body in parked:
        sqs.send_message(QueueUrl=crm.stack.queue_url("CrmSyncRetryQueue"), MessageBody=json.dumps(body))
    crm.stack.pump_queue("CrmSyncRetryQueue")
    ann = repo(crm.stack).get_by_email("ann@acme.io")
    assert ann is not None and ann.card is not None
    assert crm.hubspot.contacts["ann@acme.io"]["leadscore_version"] == str(ann.ver)  # the current one
    crm.stack.drain()
    assert set(crm.hubspot.contacts) == {"ann@acme.io", "bob@acme.io"} and crm.hubspot.regressions == []


def test_a_crm_that_stays_throttled_parks_for_retry_and_the_retry_rereads(crm: CrmSetup) -> None:
    crm.hubspot.throttle_next(100, retry_after="90")  # longer than the invocation (60 s) has left
    forms(crm.stack, ["cal@acme.io"])
    crm.stack.pump_queue("EventsQueue")
    crm.stack.pump_stream("LeadsTable", "CrmSyncFunction")
    assert crm.hubspot.contacts == {}
    crm.hubspot.throttle_next(0)
    crm.hubspot._forced.clear()
    crm.stack.drain()  # the retry queue's message: the current item is read and written
    cal = repo(crm.stack).get_by_email("cal@acme.io")
    assert cal is not None
    assert crm.hubspot.contacts["cal@acme.io"]["leadscore_version"] == str(cal.ver)
    assert dead_letters(crm.stack) == []


def test_missing_hubspot_properties_park_with_the_fix_and_create_properties_is_idempotent(
    crm: CrmSetup,
) -> None:
    from leadscore.crm.mapping import HUBSPOT_PROPERTIES

    crm.hubspot.properties -= set(HUBSPOT_PROPERTIES)
    forms(crm.stack, ["dee@acme.io"])
    crm.stack.drain()
    (parked,) = dead_letters(crm.stack)
    assert "create-properties" in parked["reason"]
    from tools.crm_cli import main

    env = {"HUBSPOT_TOKEN_SECRET_ARN": crm.hubspot_secret}
    command = ["hubspot", "create-properties", "--requests-per-10s", "100"]  # the fake's limit; no sync runs
    assert main(command, environ=env) == 0
    assert set(HUBSPOT_PROPERTIES) <= crm.hubspot.properties
    assert main(command, environ=env) == 0  # 409s: already there


def test_salesforce_update_never_overwrites_a_reps_name_or_company(crm: CrmSetup) -> None:
    lead_id = lead_id_for_email("eve@acme.io")
    crm.salesforce.records["Lead"][lead_id] = {"Id": "00Q1", "LastName": "Rep-Edited", "Company": "Acme Ltd"}
    forms(crm.stack, ["eve@acme.io"], company="Other")
    crm.stack.drain()
    stored = crm.salesforce.records["Lead"][lead_id]
    assert stored["LastName"] == "Rep-Edited" and stored["Company"] == "Acme Ltd"
    assert "Leadscore_Score__c" in stored


def test_salesforce_expired_token_is_renewed_and_the_daily_limit_parks_for_retry(crm: CrmSetup) -> None:
    forms(crm.stack, ["fay@acme.io"])
    crm.stack.drain()
    crm.salesforce.expire_tokens()  # the cached access token is now invalid: one 401, a new token
    forms(crm.stack, ["gus@acme.io"])
    crm.stack.drain()
    assert lead_id_for_email("gus@acme.io") in crm.salesforce.records["Lead"]
    assert crm.salesforce.count("composite", 401) == 1 and crm.salesforce.count("oauth2/token") == 2
    crm.salesforce.daily_limit = crm.salesforce.used  # the org's 24-hour limit is spent
    forms(crm.stack, ["hal@acme.io"])
    crm.stack.pump_queue("EventsQueue")
    crm.stack.pump_stream("LeadsTable", "CrmSyncFunction")
    assert crm.salesforce.count("composite", 403) == 1
    assert lead_id_for_email("hal@acme.io") not in crm.salesforce.records["Lead"]
    crm.salesforce.daily_limit = 10**6  # a new day
    crm.stack.drain()
    assert lead_id_for_email("hal@acme.io") in crm.salesforce.records["Lead"]


def test_no_stream_reader_runs_when_both_crms_are_off(stack: Stack) -> None:
    mappings = [m for m in stack.translation.mappings if m.function == "CrmSyncFunction"]
    assert mappings == []  # Enabled: false when neither secret is set
    assert clock.seconds() > 0


def test_the_template_wires_the_sync_as_the_streams_second_and_last_reader() -> None:
    from tools.localstack import passes_filters, translate

    tr = translate(
        TEMPLATE, {"HubSpotTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:h"}
    )
    readers = [m for m in tr.mappings if m.kind == "dynamodb" and m.source == "LeadsTable"]
    assert sorted(m.function for m in readers) == ["CrmSyncFunction", "NotifierFunction"]  # at most two
    (sync,) = [m for m in readers if m.function == "CrmSyncFunction"]
    assert sync.on_failure == "CrmSyncDLQ" and sync.batch_size == 100 and sync.reports_item_failures

    def change(keys_sk: str, image: dict[str, Any]) -> dict[str, Any]:
        return {"dynamodb": {"Keys": {"pk": {"S": "LEAD#x"}, "sk": {"S": keys_sk}}, "NewImage": image}}

    assert passes_filters(change("LEAD", {"crm": {"S": "0123456789abcdef"}}), sync.filters)
    assert not passes_filters(change("LEAD", {"erased_at": {"N": "1"}}), sync.filters)  # tombstone
    assert not passes_filters(change("LEAD", {"ver": {"N": "2"}}), sync.filters)  # anonymous / unscored
    assert not passes_filters(change("EV#000000000001#0000#ab", {"ev": {"B": ""}}), sync.filters)
    res = tr.resources
    hub = res["CrmSyncHubSpotSecretPolicy"]
    assert hub["Condition"] == "HubSpotSyncOn" and hub["Properties"]["Roles"] == [{"Ref": "CrmSyncRole"}]
    (statement,) = hub["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"] == {"Ref": "HubSpotTokenSecretArn"}  # that one secret only
    assert res["CrmSyncSalesforceSecretPolicy"]["Condition"] == "SalesforceSyncOn"
    retry = res["CrmSyncRetryQueue"]["Properties"]
    assert retry["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["CrmSyncDLQ", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert retry["VisibilityTimeout"] == 6 * res["CrmSyncFunction"]["Properties"]["Timeout"]


def test_lead_items_carry_the_crm_fingerprint_only_when_synced() -> None:
    from leadscore.dal.items import to_item
    from leadscore.scoring.state import LeadState, ScoreCard

    card = ScoreCard(score=5, fit=0, activity=5, tier="cold", grade="C1")
    assert len(to_item(LeadState(lead_id="a", email="a@b.io", card=card))["crm"]["S"]) == 8
    assert "crm" not in to_item(LeadState(lead_id="a", card=card))  # anonymous
    assert "crm" not in to_item(LeadState(lead_id="a", email="a@b.io"))  # not scored yet
