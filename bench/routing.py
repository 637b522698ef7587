"""``python -m bench.routing``: what owner routing costs a lead item and the scorer.

Prints, for each sample lead (rules/sample-leads.jsonl scored with rules/example.yaml), the packed
state blob and the item's write units without and with its assignment (owner, queue, route, time),
then the CPU of applying one event to a warm, assigned lead with and without a routing section in the
rules, and of routing one lead from scratch (median of repeats; this machine's 2 shared cores make it
noisy). Routing reads and writes nothing itself: no request is counted.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from leadscore.dal import items
from leadscore.models.event import CanonicalEvent, Identity
from leadscore.rules.compiler import CompiledRules, load_rules
from leadscore.scoring import routing
from leadscore.scoring.engine import apply_events
from leadscore.scoring.state import LeadState

from bench.common import ROOT
from tools.rules_eval import read_leads
from tools.rules_source import read_document

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _median_us(fn: Callable[[int], object], repeats: int = 7, n: int = 2_000) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    raw = read_document(ROOT / "rules" / "example.yaml")
    with_routing = load_rules(json.dumps(raw))
    without = load_rules(json.dumps({k: v for k, v in raw.items() if k != "routing"}))
    print(f"{'lead':<30} {'tier':<13} {'blob':>5} {'routed':>6}  item B  WCU  owner")
    for lead in read_leads(ROOT / "rules" / "sample-leads.jsonl"):
        state = apply_events(
            LeadState(lead_id=lead.lead_id), lead.events, with_routing, NOW, None, None
        ).state
        assignment = routing.route(state, state.card, with_routing) if state.card else None
        if assignment is not None:  # what the item holds once the lead is assigned, whatever its tier
            state.owner, state.owner_queue = assignment.owner, assignment.queue
            state.route, state.routed_at = assignment.route_id, int(NOW.timestamp())
        bare = state.clone()
        bare.owner = bare.owner_queue = bare.route = None
        bare.routed_at = None
        a, b = items.to_item(bare), items.to_item(state)
        sa, sb = items.approx_size(a), items.approx_size(b)
        print(
            f"{lead.label[:30]:<30} {state.card.tier if state.card else '-':<13} {len(a['st']['B']):>5} "
            f"{len(b['st']['B']):>6}  {sa:>4}->{sb:<4} {items.units(sa)}->{items.units(sb)}  {state.owner}"
        )
    warm = list(read_leads(ROOT / "rules" / "sample-leads.jsonl"))[1]  # warm, defaulted

    def one_event(rules: CompiledRules) -> Callable[[int], object]:
        state = apply_events(LeadState(lead_id=warm.lead_id), warm.events, rules, NOW, None, None).state

        def run(i: int) -> object:
            ev = CanonicalEvent(
                event_id=f"bench-{i}",
                source="bench",
                type="page_view",
                occurred_at=NOW - timedelta(minutes=5),
                identity=Identity(email=warm.email),
                properties={"path": "/blog/x"},
            )
            return apply_events(state, [ev], rules, NOW, None)

        return run

    base = _median_us(one_event(without))
    routed = _median_us(one_event(with_routing))
    print(f"apply_events, one event to a warm lead: {base:.1f} us without routing, {routed:.1f} us with")
    state = apply_events(LeadState(lead_id=warm.lead_id), warm.events, with_routing, NOW, None, None).state
    card = state.card
    assert card is not None
    states = [state.model_copy(update={"lead_id": f"lead-{i}"}) for i in range(2_000)]
    cost = _median_us(lambda i: routing.route(states[i], card, with_routing))
    print(f"routing.route, one lead from scratch (7 routes, rendezvous over the queue): {cost:.1f} us")


if __name__ == "__main__":
    main()
