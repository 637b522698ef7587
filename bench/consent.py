"""``python -m bench.consent``: what consent state costs a lead item and the scorer.

Prints the packed state blob of a lead without consent, with the three flags, and with the flags plus
the per-list cap (leadscore.scoring.consent.MAX_LISTS), the item's write units for each, and the CPU of
applying one consent event (median of repeats; this machine's 2 shared cores make it noisy).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from leadscore.dal import items
from leadscore.models.event import CanonicalEvent, Identity, lead_id_for_email
from leadscore.scoring import consent
from leadscore.scoring.engine import apply_events
from leadscore.scoring.state import LeadState

from bench.common import ROOT
from tools.cli import compile_file

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
EMAIL = "ana@acme-fintech.com"


def _event(n: int, kind: str, name: str | None = None, **props: object) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=f"bench-{kind}-{n}",
        source="sendgrid",
        type=kind,  # type: ignore[arg-type]
        name=name,
        occurred_at=NOW - timedelta(minutes=1000 - n),
        identity=Identity(email=EMAIL),
        properties=dict(props),  # type: ignore[arg-type]
    )


def main() -> None:
    _, rules = compile_file(ROOT / "rules" / "example.yaml")
    base = [_event(i, "page_view", path=f"/pricing/{i}") for i in range(12)]
    flags = [_event(100, "email_unsubscribe"), _event(101, "email_spam_report"), _event(102, "email_bounce")]
    lists = [  # SendGrid's group_unsubscribe: per group (a plain unsubscribe is global)
        _event(200 + i, "email_unsubscribe", "group_unsubscribe", asm_group_id=100_000 + i)
        for i in range(consent.MAX_LISTS)
    ]
    everything = LeadState(lead_id=lead_id_for_email(EMAIL), email=EMAIL)
    everything = apply_events(everything, base + flags + lists, rules, NOW, 100).state
    # The same lead (profile, activity, recent events) with less consent: only consent differs.
    only_flags = {k: v for k, v in everything.consent.items() if not k.startswith(consent.LIST_PREFIX)}
    for label, held in (("no consent", {}), ("3 flags", only_flags), ("3 flags + lists", everything.consent)):
        state = everything.clone()
        state.consent = dict(held)
        item = items.to_item(state)
        size = items.approx_size(item)
        print(
            f"{label:<16} state blob {len(item['st']['B']):>4} B   item {size:>5} B   {items.units(size)} WCU"
        )
    event, store = _event(1, "email_unsubscribe"), {}
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for at in range(20_000):
            consent.apply(store, event, at)
        runs.append((time.perf_counter() - start) / 20_000 * 1e6)
    print(f"consent.apply: {statistics.median(runs):.2f} us per event (median of 7 x 20,000)")


if __name__ == "__main__":
    main()
