"""What the score timeline costs per card view, by history length (CPU, no AWS).

A card view already reads the lead's whole history (``LeadRepository.history`` reads every page, then
the card shows the newest 25), so the timeline adds no DynamoDB read: only the replay's CPU. This
times :func:`leadscore.scoring.timeline.score_history` on histories of 10 to 5,000 events spread over
400 days (``bench.sim.history``: the benchmark's event mix, with the example rules), against the rest
of the card view (``explained``: one evaluation with reasons), median of ``--rounds``.

    .venv/bin/python -m bench.timeline [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import sim
from bench.common import example_rules_json, layer_path

LENGTHS = (10, 100, 1000, 5000)
PROFILE = {"job_title": "VP of Engineering", "company": "Northwind", "country": "US", "company_size": 800.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    layer_path()
    from leadscore.models.event import CanonicalEvent
    from leadscore.rules.compiler import load_rules
    from leadscore.scoring.engine import apply_events, explained
    from leadscore.scoring.state import LeadState
    from leadscore.scoring.timeline import score_history

    rules = load_rules(example_rules_json())
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    out: dict[str, Any] = {}
    for n in LENGTHS:
        email = f"history{n}@northwind.com"
        events = [
            CanonicalEvent.model_validate_json(body)
            for _, body in sim.history(email, n, now.timestamp() - 60, 400, 20261203 + n, PROFILE)
        ]
        state = apply_events(LeadState(lead_id=events[0].lead_id), events, rules, now, 100, max_age_days=None)
        lead = state.state
        assert lead.card is not None
        timeline_ms, card_ms = [], []
        points = []
        for _ in range(args.rounds):
            start = time.process_time()
            points = score_history(lead, events, rules, now, 100)
            timeline_ms.append((time.process_time() - start) * 1e3)
            start = time.process_time()
            explained(lead.card, lead, rules, now)
            card_ms.append((time.process_time() - start) * 1e3)
        out[str(n)] = {
            "timeline_ms": round(statistics.median(timeline_ms), 2),
            "explain_ms": round(statistics.median(card_ms), 3),
            "points": len(points),
            "days_per_point": points[0].days if points else 0,
            "timeline_ms_per_event": round(statistics.median(timeline_ms) / n, 4),
        }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
