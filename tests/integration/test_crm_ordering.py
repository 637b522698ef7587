"""Never stale, and the clients' contracts, against the fakes: an older version arriving after a newer
one never overwrites it (in one batch, across batches, or a re-drive racing the stream); batches are
split within each API's limit; a 207 fails only the inputs it names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from leadscore.crm.limits import RollingWindow
from leadscore.crm.mapping import CrmRecord
from leadscore.dal.crm_http import CrmHttp
from leadscore.dal.crm_secrets import HubSpotSecret, SalesforceSecret
from leadscore.dal.hubspot import HubSpot
from leadscore.dal.salesforce import Salesforce
from leadscore.services import crm_sync
from leadscore.services.crm_sync import Parked, Ports

from tests.support.fake_hubspot import UPSERT, FakeHubSpot
from tests.support.fake_salesforce import FakeSalesforce


def record(n: int, ver: int, score: float = 10.0, email: str | None = None) -> CrmRecord:
    return CrmRecord(
        lead_id=f"lead{n:04d}",
        ver=ver,
        email=email or f"p{n}@acme.io",
        score=score,
        tier="warm",
        grade="B2",
        reasons="Requested a demo (+40)",
        probability=0.25,
        updated_at=1_796_000_000 + ver,
    )


@pytest.fixture
def fakes() -> Iterator[tuple[FakeHubSpot, FakeSalesforce]]:
    crm_sync.reset_cache()
    with FakeHubSpot(token="t") as hubspot, FakeSalesforce(access_token="sf") as salesforce:
        from leadscore.crm.mapping import HUBSPOT_PROPERTIES

        hubspot.properties |= set(HUBSPOT_PROPERTIES)
        salesforce.define_leadscore_fields()
        yield hubspot, salesforce
    crm_sync.reset_cache()


def clients(hubspot: FakeHubSpot, salesforce: FakeSalesforce) -> dict[Any, Any]:
    def http() -> CrmHttp:
        return CrmHttp(bucket=RollingWindow(capacity=1000, window=10))

    return {
        "hubspot": HubSpot(http=http(), secret=lambda fresh: HubSpotSecret(token="t", base_url=hubspot.url)),
        "salesforce": Salesforce(
            http=http(),
            secret=lambda fresh: SalesforceSecret(instance_url=salesforce.url, access_token="sf"),
        ),
    }


def ports(crms: dict[Any, Any], current: Any = None) -> tuple[Ports, list[Parked]]:
    parked: list[Parked] = []

    def keep(messages: list[Parked]) -> list[Parked]:
        parked.extend(messages)
        return []

    return Ports(crms=crms, park_retry=keep, park_dead=keep, current=current or (lambda _: None)), parked


def stored_version(hubspot: FakeHubSpot, salesforce: FakeSalesforce, n: int) -> tuple[int, int]:
    return (
        int(hubspot.contacts[f"p{n}@acme.io"]["leadscore_version"]),
        int(salesforce.records["Lead"][f"lead{n:04d}"]["Leadscore_Version__c"]),
    )


def test_an_older_version_after_a_newer_one_never_overwrites_it(fakes: Any) -> None:
    hubspot, salesforce = fakes
    p, _ = ports(clients(hubspot, salesforce))
    report = crm_sync.Report()
    # In one batch, versions out of order (the newest neither first nor last); then, in a later batch,
    # an older version again.
    crm_sync.sync_records([record(1, 5, score=50), record(1, 7, score=70), record(1, 6, score=60)], p, report)
    assert stored_version(hubspot, salesforce, 1) == (7, 7)
    crm_sync.sync_records([record(1, 6, score=60)], p, report)
    assert stored_version(hubspot, salesforce, 1) == (7, 7)
    assert hubspot.contacts["p1@acme.io"]["leadscore_score"] == "70.0"
    assert hubspot.regressions == [] and salesforce.regressions == []


def test_a_redrive_racing_a_newer_version_ends_with_the_newer_one(fakes: Any) -> None:
    """The re-drive reads version 5; before its write lands the stream path writes version 6; the
    re-drive's write of 5 then lands. Its read-after-write sees 6 and writes it again."""
    hubspot, salesforce = fakes
    crms = clients(hubspot, salesforce)
    from leadscore.scoring.state import LeadState, ScoreCard

    def state(ver: int) -> LeadState:
        card = ScoreCard(score=ver * 10, fit=0, activity=0, tier="warm", grade="B2", computed_at=ver)
        return LeadState(lead_id="lead0001", email="p1@acme.io", ver=ver, card=card)

    versions = iter([5, 6, 6])
    stream_ports, _ = ports({"hubspot": crms["hubspot"]})
    original = crms["hubspot"].upsert

    def racing(records: Any) -> Any:
        result = original(records)
        if records[0].ver == 5:  # the stream path wrote 6 just before this write of 5 completed
            crm_sync.reset_cache()
            hubspot.contacts["p1@acme.io"]["leadscore_version"] = "6"
        return result

    crms["hubspot"].upsert = racing
    p, parked = ports({"hubspot": crms["hubspot"]}, current=lambda _: state(next(versions)))
    message = Parked(lead_id="lead0001", crm="hubspot").model_dump_json()
    _, failed = crm_sync.redrive([("m1", message)], p)
    assert failed == [] and parked == []
    assert hubspot.contacts["p1@acme.io"]["leadscore_version"] == "6"
    assert hubspot.count(UPSERT) == 2  # wrote 5, read 6, wrote 6, read 6: done
    assert stream_ports is not None


def test_the_client_keeps_under_the_per_window_limit(fakes: Any) -> None:
    """The fake allows 3 requests per 0.2 s; the client's bucket 2 per 0.2 s: no 429 at all."""
    hubspot, _ = fakes
    hubspot.limit, hubspot.window = 3, 0.2
    client = HubSpot(
        http=CrmHttp(bucket=RollingWindow(capacity=2, window=0.2)),
        secret=lambda fresh: HubSpotSecret(token="t", base_url=hubspot.url),
    )
    for n in range(12):
        client.upsert([record(n, 1)])
    assert hubspot.count(UPSERT, 429) == 0 and len(hubspot.contacts) == 12


def test_a_new_version_that_changes_nothing_a_rep_sees_is_not_sent(fakes: Any) -> None:
    hubspot, salesforce = fakes
    p, _ = ports(clients(hubspot, salesforce))
    report = crm_sync.Report()
    crm_sync.sync_records([record(1, 2)], p, report)
    crm_sync.sync_records([record(1, 3)], p, report)  # a recount to the same score, tier, grade...
    assert hubspot.count(UPSERT) == 1 and report.skipped == 2  # once per CRM
    crm_sync.sync_records([record(1, 4, score=11)], p, report)
    assert hubspot.count(UPSERT) == 2


def test_batches_are_split_within_each_apis_limit(fakes: Any) -> None:
    hubspot, salesforce = fakes
    p, parked = ports(clients(hubspot, salesforce))
    crm_sync.sync_records([record(n, 1) for n in range(250)], p, crm_sync.Report())
    assert [e.size for e in hubspot.log if e.path == UPSERT] == [100, 100, 50]
    composite = [e.size for e in salesforce.log if "composite" in e.path]
    assert composite == [200, 200, 50, 50]  # each batch, then its records created with LastName/Company
    assert len(hubspot.contacts) == 250 and len(salesforce.records["Lead"]) == 250 and parked == []


def test_a_207_fails_only_the_inputs_it_names(fakes: Any) -> None:
    hubspot, salesforce = fakes
    p, parked = ports({"hubspot": clients(hubspot, salesforce)["hubspot"]})
    report = crm_sync.Report()
    crm_sync.sync_records([record(1, 1), record(2, 1, email="not-an-email"), record(3, 1)], p, report)
    assert [e.status for e in hubspot.log if e.path == UPSERT] == [207]
    assert set(hubspot.contacts) == {"p1@acme.io", "p3@acme.io"}
    assert [(m.lead_id, m.reason) for m in parked] == [("lead0002", "hubspot error VALIDATION_ERROR")]


def test_fakes_refuse_what_the_apis_refuse(fakes: Any) -> None:
    """The fakes' own contract: over-sized batches, duplicates, missing auth."""
    import json
    import urllib.error
    import urllib.request

    hubspot, salesforce = fakes

    def call(url: str, method: str, body: Any, token: str | None) -> tuple[int, Any]:
        headers = {
            "content-type": "application/json",
            **({"authorization": f"Bearer {token}"} if token else {}),
        }
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method=method)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    inputs = [{"idProperty": "email", "id": f"x{n}@a.io", "properties": {}} for n in range(101)]
    assert call(hubspot.url + UPSERT, "POST", {"inputs": inputs}, "t")[0] == 400
    assert call(hubspot.url + UPSERT, "POST", {"inputs": inputs[:1] * 2}, "t")[0] == 400
    assert call(hubspot.url + UPSERT, "POST", {"inputs": inputs[:1]}, None)[0] == 401
    path = "/services/data/v62.0/composite/sobjects/Lead/Leadscore_Id__c"
    records = [{"attributes": {"type": "Lead"}, "Leadscore_Id__c": str(n)} for n in range(201)]
    status, body = call(salesforce.url + path, "PATCH", {"records": records}, "sf")
    assert status == 400 and body[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    status, body = call(salesforce.url + path, "PATCH", {"records": records[:1]}, "nope")
    assert status == 401 and body[0]["errorCode"] == "INVALID_SESSION_ID"
