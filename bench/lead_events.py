"""Lead events: how many the scorer records per event, and what they add to the scorer's writes.

Runs the real scorer (``score_batch``) on ``bench.sim`` traffic (the spread window ``make bench``
uses: a population, Zipf activity, strangers, redeliveries) in SQS batches of the template's
design, against the metered DynamoDB stand-in (``bench.meter``, billed as DynamoDB bills), twice:
as deployed, and with change detection off (no events). The notifier's delivery (claim and mark
per event; ``bench.storage.deliver_alerts`` marks them sent, unbilled) is priced from the counts:
two UpdateItem per event, each billed by the item's size.

    PYTHONPATH=.:shared .venv/bin/python -m bench.lead_events [--events 20000] [--leads 5000]
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from bench import common, sim, storage


def run(events: int, leads: int, detect: bool) -> dict[str, Any]:
    ctx = storage.setup()
    from leadscore.scoring import changes

    kinds: Counter[str] = Counter()
    writes_with_events = [0]
    original = changes.record

    def counting(before: Any, after: Any) -> Any:
        if not detect:
            after.events = {}
            return changes.Recorded(added=[])
        recorded = original(before, after)
        kinds.update(k.split("-")[0].removeprefix("ev.") for k in recorded.added)
        writes_with_events[0] += bool(recorded.added)
        return recorded

    changes.record = counting  # type: ignore[assignment]
    from bench.template import design

    d = design()
    population = sim.population(leads, 20261203)
    traffic = sim.window(population, events, storage.RATE, 20261203, ctx.epoch0)
    repo = storage.repository()
    storage.replay(ctx, repo, traffic.events, d.batch_size, d.batching_window_s)
    bill = ctx.meter.snapshot()
    sizes = sorted(ctx.meter.lead_sizes)
    return {
        "events": len(traffic.events),
        "lead_writes": ctx.meter.bill.lead_writes,
        "table_wcu": bill.wcu.get("table", 0),
        "due_index_wcu": bill.wcu.get("index:due", 0),
        "lead_events": dict(kinds),
        "writes_with_events": writes_with_events[0],
        "item_bytes_p50": statistics.median(sizes) if sizes else 0,
        "item_bytes_p99": sizes[int(len(sizes) * 0.99)] if sizes else 0,
    }


def main(argv: list[str] | None = None) -> int:
    args = common.design_args(__doc__, ("on", "off"), argv)
    if args.one:  # one design per process: the meter patches botocore once
        common.print_design(run(args.events, args.leads, detect=args.one == "on"))
        return 0

    on, off = (common.run_design("lead_events", args, mode) for mode in ("on", "off"))
    n = on["events"]
    recorded = sum(on["lead_events"].values())
    unit = max(1.0, on["item_bytes_p50"] / 1024)
    report = {
        "events": n,
        "lead_events_per_event": round(recorded / n, 4),
        "lead_events_by_kind": on["lead_events"],
        "writes_with_events_per_event": round(on["writes_with_events"] / n, 4),
        "scorer_table_wcu_per_event": {
            "events_on": round(on["table_wcu"] / n, 4),
            "events_off": round(off["table_wcu"] / n, 4),
        },
        "scorer_due_index_wcu_per_event": {
            "events_on": round(on["due_index_wcu"] / n, 4),
            "events_off": round(off["due_index_wcu"] / n, 4),
        },
        "item_bytes": {
            "p50": [on["item_bytes_p50"], off["item_bytes_p50"]],
            "p99": [on["item_bytes_p99"], off["item_bytes_p99"]],
        },
        "notifier_update_wcu_per_event (claim+mark per lead event)": round(2 * unit * recorded / n, 4),
        "putevents_entries_per_event": round(recorded / n, 4),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
