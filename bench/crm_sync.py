"""``python -m bench.crm_sync``: what the CRM write-back costs, counted against the local fakes.

1. **Requests per 1,000 scored events** on realistic traffic (``bench.sim``: heavy-tailed leads,
   strangers, email bursts): the events go through the real scoring engine in the scorer's batches
   (2,000 events or 10 s), each lead written once per batch; a write that raises an alert is followed
   by the notifier's claim and mark (same version, same fingerprint). Every write of a known, scored
   lead is a stream record the sync's filter passes. They reach the real sync service (batches of 100
   records, as the event source mapping forms them) and the real HubSpot and Salesforce clients, over
   HTTP, against ``tests/support/fake_hubspot.py`` and ``fake_salesforce.py``. Baseline: one request
   per stream record (no batching, no skipping).
2. **Seconds per 1,000 changed leads** against the HubSpot fake's per-10-seconds limit (100 per 10 s,
   the lowest tier) plus forced 429 bursts (``Retry-After``), time scaled 1:10 (a 1 s window with 10
   requests, ``Retry-After`` 0.1 s) so the run takes seconds; reported in real seconds (x 10). The
   baseline sends one contact per request through the same client, limiter and retries.

Writes ``bench/results/crm_sync.json``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadscore.crm.limits import RollingWindow
from leadscore.crm.mapping import HUBSPOT_PROPERTIES, CrmRecord, record_of
from leadscore.dal import items
from leadscore.dal.crm_http import CrmHttp
from leadscore.dal.crm_secrets import HubSpotSecret, SalesforceSecret
from leadscore.dal.hubspot import HubSpot
from leadscore.dal.salesforce import Salesforce
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.engine import apply_events
from leadscore.scoring.state import LeadState
from leadscore.services import crm_sync

from bench import sim
from bench.common import ROOT
from tests.support.fake_hubspot import UPSERT, FakeHubSpot
from tests.support.fake_salesforce import FakeSalesforce
from tools.cli import compile_file

EPOCH0 = datetime(2026, 11, 23, 9, tzinfo=UTC).timestamp()
RESULTS = ROOT / "bench" / "results" / "crm_sync.json"
SCALE = 10.0  # time compression of the rate-limit run


def stream_of(events: int, leads: int, seed: int, rate: float) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The lead stream records ``events`` scored events produce (new images, in order)."""
    _, rules = compile_file(ROOT / "rules" / "example.yaml")
    population = sim.population(leads, seed)
    traffic = sim.window(population, events, rate=rate, seed=seed, epoch0=EPOCH0)
    states: dict[str, LeadState] = {}
    records: list[dict[str, Any]] = []
    alerts = writes = 0
    for batch in sim.sqs_batches(traffic.events, 2000, 10.0, 4):
        by_lead: dict[str, list[CanonicalEvent]] = {}
        for e in batch.events:
            event = CanonicalEvent.model_validate_json(e.body)
            email = event.identity.email or ""
            by_lead.setdefault(lead_id_for_email(email), []).append(event)
        now = datetime.fromtimestamp(EPOCH0 + batch.closes_at, UTC)
        for lead_id, evs in by_lead.items():
            before = states.get(lead_id) or LeadState(lead_id=lead_id, email=evs[0].identity.email)
            outcome = apply_events(before, evs, rules, now, 100)
            state = outcome.state
            state.ver = before.ver + 1
            states[lead_id] = state
            writes += 1
            image = items.to_item(state)
            copies = 1 + (2 if state.pending_alerts else 0)  # the notifier's claim and mark
            alerts += bool(state.pending_alerts)
            for _ in range(copies):
                keys = {"pk": image["pk"], "sk": image["sk"]}
                records.append(
                    {"dynamodb": {"Keys": keys, "NewImage": image, "SequenceNumber": str(len(records))}}
                )
            state.outbox = {}  # delivered
    passing = [r for r in records if "crm" in r["dynamodb"]["NewImage"]]
    return passing, {
        "events": events,
        "lead_writes": writes,
        "stream_records": len(records),
        "alerts": alerts,
    }


def _clients(
    hubspot: FakeHubSpot, salesforce: FakeSalesforce, per_10s: float, window: float
) -> dict[Any, Any]:
    def http() -> CrmHttp:
        return CrmHttp(bucket=RollingWindow(capacity=per_10s, window=window))

    return {
        "hubspot": HubSpot(http=http(), secret=lambda _: HubSpotSecret(token="t", base_url=hubspot.url)),
        "salesforce": Salesforce(
            http=http(), secret=lambda _: SalesforceSecret(instance_url=salesforce.url, access_token="sf")
        ),
    }


def _ports(crms: dict[Any, Any]) -> crm_sync.Ports:
    return crm_sync.Ports(crms=crms, park_retry=lambda m: [], park_dead=lambda m: [], current=lambda _: None)


def requests_per_1000_events(events: int, leads: int, seed: int, rate: float) -> dict[str, Any]:
    passing, counts = stream_of(events, leads, seed, rate)
    crm_sync.reset_cache()
    with FakeHubSpot(token="t", limit=10**6) as hubspot, FakeSalesforce(access_token="sf", limit=10**6) as sf:
        hubspot.properties |= set(HUBSPOT_PROPERTIES)
        sf.define_leadscore_fields()
        ports = _ports(_clients(hubspot, sf, 10**6, 10))
        for start in range(0, len(passing), 100):
            crm_sync.sync_stream(passing[start : start + 100], ports)
        hub = hubspot.count(UPSERT)
        sales = sf.count("composite")
        contacts = sum(e.size for e in hubspot.log if e.path == UPSERT)
    per = 1000 / events
    return {
        **counts,
        "records_passing_filter": len(passing),
        "hubspot_requests": hub,
        "hubspot_contacts_written": contacts,
        "salesforce_requests": sales,
        "hubspot_requests_per_1000_events": round(hub * per, 2),
        "salesforce_requests_per_1000_events": round(sales * per, 2),
        "baseline_requests_per_1000_events_per_crm": round(len(passing) * per, 1),
        "ratio_hubspot_vs_baseline": round(hub / max(1, len(passing)), 4),
    }


def _records(n: int) -> list[CrmRecord]:
    out = []
    for i in range(n):
        state = LeadState.model_validate(
            {
                "lead_id": f"L{i:05d}",
                "email": f"p{i}@acme.io",
                "ver": 1,
                "card": {"score": i % 90, "fit": 1, "activity": 1, "tier": "warm", "grade": "B2"},
            }
        )
        record = record_of(state)
        assert record is not None
        out.append(record)
    return out


def seconds_per_1000_leads(n: int = 1000) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, per_request in (("batched", 100), ("baseline_one_per_lead", 1)):
        crm_sync.reset_cache()
        with FakeHubSpot(token="t", limit=10, window=10 / SCALE, retry_after="0.1") as hubspot:
            hubspot.properties |= set(HUBSPOT_PROPERTIES)
            client = HubSpot(
                http=CrmHttp(bucket=RollingWindow(capacity=9, window=10 / SCALE), time_left=lambda: 10**6),
                secret=lambda _: HubSpotSecret(token="t", base_url=hubspot.url),
            )
            records = _records(n)
            started = time.monotonic()
            for start in range(0, n, per_request):
                if start % 200 == 0:
                    hubspot.throttle_next(2, retry_after="0.1")  # another app of the account, a burst
                client._batch(records[start : start + per_request])
            seconds = (time.monotonic() - started) * SCALE
            out[label] = {
                "requests": hubspot.count(UPSERT),
                "429s": hubspot.count(UPSERT, 429),
                "contacts": len(hubspot.contacts),
                "seconds_per_1000_leads": round(seconds * 1000 / n, 1),
            }
    out["ratio_seconds"] = round(
        out["batched"]["seconds_per_1000_leads"] / out["baseline_one_per_lead"]["seconds_per_1000_leads"], 4
    )
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1_000.0, help="events per second")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = {
        "command": (
            f"python -m bench.crm_sync --events {args.events} --leads {args.leads} --rate {args.rate:g}"
            f" --seed {args.seed}"
        ),
        "traffic": requests_per_1000_events(args.events, args.leads, args.seed, args.rate),
        "rate_limited": seconds_per_1000_leads(),
    }
    Path(RESULTS).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
