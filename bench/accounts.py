"""The account roll-up's cost: write units per event with accounts, against the same traffic without.

``python -m bench.accounts [OUT.json]`` (``BENCH_ACCOUNT_EVENTS``, ``BENCH_ACCOUNT_LEADS``): the real
``score_batch`` against the metered stand-in (bench.meter, billed as DynamoDB bills), on
``bench.sim.window`` traffic at 10^4 events/s, batched as the template's event source batches it and
dealt to 16 cold containers. The population: companies of heavy-tailed size (most have a few
contacts, some dozens), a quarter of the people on free-mail domains, and one hot account with
thousands of contacts; each person's traffic weight is heavy-tailed too (bench.sim.lifetime_events).
A warm-up window (unbilled) creates the leads and accounts first, so the measured window writes to
existing items, as in production.

Reported: table and index write units per event with and without the ``accounts`` section, the
difference (the roll-up's cost) split by item kind (summary ``ACCT``, member shards ``MEM``, the
``ACCTHOT`` index entries), account writes per event, and the busiest key's WCU in its busiest second
(the hot account's summary and shards included).
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from bench import sim
from bench.common import example_rules_json, main_for
from bench.storage import CONTAINERS, RATE, Ctx, repository, score, setup
from bench.template import design

SEED = int(os.environ.get("BENCH_SEED", "20261202"))
EVENTS = int(os.environ.get("BENCH_ACCOUNT_EVENTS", "12000"))
LEADS = int(os.environ.get("BENCH_ACCOUNT_LEADS", "8000"))
HOT_CONTACTS = int(os.environ.get("BENCH_HOT_CONTACTS", "2000"))
HOT_DOMAIN = "hotco.com"


def population(n: int, seed: int) -> list[sim.Lead]:
    """``n`` people: a hot account of ``HOT_CONTACTS``, companies of heavy-tailed size, free-mail."""
    rng = random.Random(seed)
    base = sim.population(n, seed)
    out: list[sim.Lead] = []
    company = 0
    left = 0
    for i, lead in enumerate(base):
        local = lead.email.split("@", 1)[0]
        if i < HOT_CONTACTS:
            domain = HOT_DOMAIN
        elif lead.email.rsplit("@", 1)[1] in sim.PERSONAL:
            domain = lead.email.rsplit("@", 1)[1]
        else:
            if left <= 0:
                company += 1
                left = min(200, int(1.0 / (1.0 - rng.random()) ** 0.8))  # 1, 2, 3 ... a few hundred
            left -= 1
            domain = f"company{company}.com"
        out.append(sim.Lead(lead.n, f"{local}@{domain}", lead.profile))
    return out


def _rules(accounts: bool) -> Any:
    from leadscore.rules.compiler import load_rules

    doc = json.loads(example_rules_json())
    if not accounts:
        doc.pop("accounts", None)
    return load_rules(json.dumps(doc).encode())


def _run(ctx: Ctx, traffic: sim.Traffic, warmup: sim.Traffic) -> dict[str, Any]:
    d = design()
    m = ctx.meter
    m.items.clear()
    m.sizes.clear()
    for phase, t in (("warmup", warmup), ("window", traffic)):
        m.metering = phase == "window"
        m.reset_bill()
        repos = [repository() for _ in range(CONTAINERS)]
        for batch in sim.sqs_batches(t.events, d.batch_size, d.batching_window_s, CONTAINERS):
            m.now = batch.closes_at
            score(ctx, repos[batch.container], [e.body for e in batch.events], ctx.epoch0 + batch.closes_at)
    b = m.snapshot()
    n = len(traffic.events)
    busiest: dict[str, tuple[int, str]] = {}
    account_index = 0
    for (_, where, pk), units in m.per_key.items():
        if pk.startswith("ACCTHOT#"):
            account_index += units
        kind = "account" if pk.startswith("ACCT") else "lead"
        key = f"{where} ({kind})"
        if key not in busiest or units > busiest[key][0]:
            busiest[key] = (units, pk)
    sizes = {k: v for k, v in m.sizes.items() if k[0].startswith(f"ACCT#{HOT_DOMAIN}")}
    return {
        "events": n,
        "wcu_per_event": sum(b.wcu.values()) / n,
        "wcu_per_event_by_where": {k: v / n for k, v in sorted(b.wcu.items())},
        "table_wcu_per_event_by_item": {k: v / n for k, v in sorted(b.table_by_kind.items())},
        "account_index_wcu_per_event": account_index / n,
        "put_items_per_event": b.calls.get("dynamodb.PutItem", 0) / n,
        "rcu_per_event": b.rcu / n,
        "failed_conditions_per_event": b.failed_conditions / n,
        "busiest_key_wcu_in_a_second": {k: {"wcu": u, "key": pk} for k, (u, pk) in sorted(busiest.items())},
        "hot_account_item_bytes": {
            "summary": sizes.get((f"ACCT#{HOT_DOMAIN}", "ACCT"), 0),
            "largest_member_shard": max((v for k, v in sizes.items() if k[1] == "MEM"), default=0),
        },
        "accounts": sum(1 for k in m.items if k[1] == "ACCT"),
    }


def run() -> dict[str, Any]:
    ctx = setup()
    leads = population(LEADS, SEED)
    warmup = sim.window(leads, EVENTS // 2, RATE, SEED + 1, ctx.epoch0 - 3600)
    traffic = sim.window(leads, EVENTS, RATE, SEED + 2, ctx.epoch0)
    hot_events = sum(1 for e in traffic.events if 0 <= e.lead < HOT_CONTACTS)
    results = {}
    for name, accounts in (("without_accounts", False), ("with_accounts", True)):
        ctx.rules = _rules(accounts)
        results[name] = _run(ctx, traffic, warmup)
    with_, without = results["with_accounts"], results["without_accounts"]
    return {
        "rollup_wcu_per_event": with_["wcu_per_event"] - without["wcu_per_event"],
        "rollup_put_items_per_event": with_["put_items_per_event"] - without["put_items_per_event"],
        "rollup_rcu_per_event": with_["rcu_per_event"] - without["rcu_per_event"],
        "hot_account": {"domain": HOT_DOMAIN, "contacts": HOT_CONTACTS, "events_in_window": hot_events},
        "window_seconds": round(traffic.seconds, 2),
        "companies": len({lead.email.rsplit("@", 1)[1] for lead in leads}),
        **results,
    }


if __name__ == "__main__":
    main_for(run)
