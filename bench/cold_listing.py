"""Listing cold leads: what indexing them would cost per event, against what a Scan costs per listing.

Runs the real scorer (``score_batch``) on ``bench.sim.window`` traffic (a long-tailed population,
strangers, redeliveries; batched as the template's event source batches it) against the metered DynamoDB
stand-in (``bench.meter``, billed as DynamoDB bills), twice: as deployed (cold leads off the ``hot``
index) and with cold leads indexed like the other tiers. Then it prices one full Scan of the table it
left (every item: leads, history, dedupe pages; eventually consistent, 4 KB per read unit) and one page
of ``GET /leads?tier=cold`` at its bound (``leadscore.dal.cold``: 4 Scan calls of 500 items).

    .venv/bin/python -m bench.cold_listing [--events 20000] [--leads 5000]
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from typing import Any

from bench import common, sim, storage


def run(events: int, leads: int, index_cold: bool) -> dict[str, Any]:
    ctx = storage.setup()
    from leadscore.dal import items

    saved = items.UNLISTED_TIERS
    items.UNLISTED_TIERS = frozenset() if index_cold else saved  # type: ignore[misc]
    try:
        from bench.template import design

        d = design()
        traffic = sim.window(sim.population(leads, 20261203), events, storage.RATE, 20261203, ctx.epoch0)
        repo = storage.repository()
        storage.replay(ctx, repo, traffic.events, d.batch_size, d.batching_window_s)
        bill = ctx.meter.snapshot()
    finally:
        items.UNLISTED_TIERS = saved  # type: ignore[misc]
    m = ctx.meter
    lead_items = [(k, v) for k, v in m.items.items() if k[1] == "LEAD"]
    tiers: Counter[str] = Counter()
    for _, item in lead_items:
        state = items.from_item(item)
        tiers[state.card.tier if state.card else "unscored"] += 1
    sizes = list(m.sizes.values())
    return {
        "events": len(traffic.events),
        "table_wcu": bill.wcu.get("table", 0),
        "hot_index_wcu": bill.wcu.get("index:hot", 0),
        "due_index_wcu": bill.wcu.get("index:due", 0),
        "leads_by_tier": dict(tiers),
        "items": len(sizes),
        "table_bytes": sum(sizes),
    }


def main(argv: list[str] | None = None) -> int:
    args = common.design_args(__doc__, ("deployed", "cold_indexed"), argv)
    if args.one:  # one design per process: the meter patches botocore once
        common.print_design(run(args.events, args.leads, index_cold=args.one == "cold_indexed"))
        return 0

    deployed, indexed = (
        common.run_design("cold_listing", args, mode) for mode in ("deployed", "cold_indexed")
    )
    n = deployed["events"]
    extra = indexed["hot_index_wcu"] - deployed["hot_index_wcu"]
    full_scan_rcu = math.ceil(deployed["table_bytes"] / 4096) / 2  # eventually consistent
    lead_count = max(1, sum(deployed["leads_by_tier"].values()))  # the leads the traffic made
    per_lead_bytes = deployed["table_bytes"] / lead_count
    page_items = 4 * 500
    page_rcu = math.ceil(page_items * deployed["table_bytes"] / deployed["items"] / 4096) / 2
    out = {
        "deployed": deployed,
        "cold_indexed": indexed,
        "hot_index_wcu_per_event": {
            "deployed": round(deployed["hot_index_wcu"] / n, 4),
            "cold_indexed": round(indexed["hot_index_wcu"] / n, 4),
        },
        "extra_index_wcu_per_1m_events": round(extra / n * 1e6),
        "extra_usd_per_1m_events": round(extra / n * 0.625, 4),
        "table_bytes_per_lead": round(per_lead_bytes),
        "full_scan_rcu": full_scan_rcu,
        "full_scan_rcu_per_100k_leads": round(full_scan_rcu * 100_000 / lead_count),
        "usd_per_full_scan_at_100k_leads": round(full_scan_rcu * 100_000 / lead_count * 0.125e-6, 6),
        "cold_page_rcu_at_bound": page_rcu,
        "full_scans_per_1m_events_for_the_same_cost": round(
            (extra / n * 1e6 * 0.625) / max(1e-9, full_scan_rcu * 100_000 / lead_count * 0.125), 1
        ),
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
