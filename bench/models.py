"""``python -m bench.models``: what running every matching model costs a lead item and the scorer.

The same 12-event customer lead (its domain is in the example's customer_domains) scored twice: with
rules/example.yaml without its ``customer_expansion`` model (only ``lead`` runs), and with the file as
it is (``customer_expansion`` runs beside it, its card in ``LeadState.cards``). Prints each lead
item's packed state blob, its size and write units, then the CPU of scoring one more event
(``apply_events`` on a lead that already has its cards: the per-event path; median of repeats, this
machine's 2 shared cores make it noisy).
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from leadscore.dal import items
from leadscore.models.event import CanonicalEvent, Identity, Profile, lead_id_for_email
from leadscore.rules.compiler import load_rules
from leadscore.scoring.engine import apply_events
from leadscore.scoring.state import LeadState

from bench.common import ROOT
from tools.rules_source import read_document

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
CUSTOMER = "ana@contoso.com"  # in the example's customer_domains
PROFILE = Profile(
    first_name="Ana", last_name="Silva", job_title="Director of IT", company="Acme", company_size=900
)


def _events(email: str, start: int, n: int) -> list[CanonicalEvent]:
    kinds = [
        ("page_view", None, {"path": "/pricing"}),
        ("track", "Feature Used", {"feature": "reports"}),
        ("page_view", None, {"path": "/product/fleet-telemetry"}),
        ("page_view", None, {"path": "/product/predictive-maintenance"}),
        ("email_click", None, {"url": "https://leadscore.example/blog"}),
        ("track", "Seat Limit Reached", {}),
    ]
    out = []
    for i in range(start, start + n):
        kind, name, props = kinds[i % len(kinds)]
        out.append(
            CanonicalEvent(
                event_id=f"bench-{email}-{i}",
                source="segment",
                type=kind,  # type: ignore[arg-type]
                name=name,
                occurred_at=NOW - timedelta(minutes=1000 - i),
                identity=Identity(email=email),
                profile=PROFILE if i == start else None,
                properties=dict(props),  # type: ignore[arg-type]
            )
        )
    return out


def main() -> None:
    document = read_document(ROOT / "rules" / "example.yaml")
    both = load_rules(json.dumps(document))
    del document["models"]["customer_expansion"]
    lead_only = load_rules(json.dumps(document))
    variants = (("lead model only", lead_only), ("lead + expansion", both))
    states = {}
    for label, rules in variants:
        state = LeadState(lead_id=lead_id_for_email(CUSTOMER), email=CUSTOMER)
        state = apply_events(state, _events(CUSTOMER, 0, 12), rules, NOW, 100).state
        state.outbox = {}  # sent alerts leave the outbox: the steady item
        states[label] = state
        item = items.to_item(state)
        size = items.approx_size(item)
        print(
            f"{label:<18} models {1 + len(state.cards)}  state blob {len(item['st']['B']):>4} B"
            f"   item {size:>5} B   {items.units(size)} WCU"
        )
        if state.cards:  # the same item without the other model's card: what the card itself costs
            bare = state.clone()
            bare.cards = {}
            print(f"{'':<18} without its card  state blob {len(items.to_item(bare)['st']['B']):>4} B")
    one = _events(CUSTOMER, 100, 1)
    runs: dict[str, list[float]] = {label: [] for label, _ in variants}
    for _ in range(9):  # interleaved, so both see the same noise
        for label, rules in variants:
            started = time.perf_counter()
            for _ in range(200):
                apply_events(states[label], one, rules, NOW + timedelta(minutes=5), 100)
            runs[label].append((time.perf_counter() - started) / 200 * 1e6)
    for label, _ in variants:
        median = statistics.median(runs[label])
        print(f"{label:<18} apply_events, one event: {median:.0f} us (median of 9 x 200)")


if __name__ == "__main__":
    main()
