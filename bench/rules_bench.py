"""Rules evaluation: leadscore's compiled closures vs established engines on one 50-rule set.

The set has a 5,000-domain list (the document is ~120 KB of JSON). leadscore compiles it with
``load_rules`` and is timed two ways per lead: the matching loop alone (facts + every fit rule's
predicate) and the full ``engine.evaluate`` (score card, reasons, grade, tier). Peers run in
``.venv-bench`` (see :mod:`bench.peers`); their scores must equal leadscore's on the same leads.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import peers
from bench.common import layer_path, main_for, median, row
from bench.rulespec import document, leads

GOAL_US = 10.0
GOAL_FASTER = 5.0
GOAL_COMPILE_MS = 2.0
N_LEADS = 2_000
PEER_LEADS = 300


def run() -> dict[str, Any]:
    layer_path()
    from leadscore.rules.compiler import _regex, load_rules
    from leadscore.scoring.engine import evaluate, profile_facts
    from leadscore.scoring.state import LeadState

    doc = document()
    raw = json.dumps(doc).encode()
    load_rules(raw)  # first compile: imports re2, builds pydantic validators
    compile_runs = []
    for _ in range(15):
        _regex.cache_clear()  # as for a new document: every pattern compiled anew
        start = time.perf_counter()
        rules = load_rules(raw)
        compile_runs.append(time.perf_counter() - start)
    compile_ms = median(compile_runs) * 1000

    def lead_states(seed: int, unique: bool = True) -> list[LeadState]:
        people = leads(N_LEADS, seed=seed, unique=unique)
        return [
            LeadState(lead_id=f"l{i}", email=p["email"], profile=p["profile"]) for i, p in enumerate(people)
        ]

    states = lead_states(3)  # the peers score these same leads
    now = datetime.now(UTC)

    def matching(state: LeadState) -> float:
        facts = profile_facts(state)
        model = rules.model_for(facts)
        return sum(r.points for r in model.match_fit(facts))

    scores = [matching(s) for s in states]
    loop_runs, eval_runs = [], []
    for run_seed in range(100, 105):
        # Leads whose every text value is new (distinct within and across runs): no memo hit.
        fresh = lead_states(run_seed)
        start = time.perf_counter()
        for s in fresh:
            matching(s)
        loop_runs.append((time.perf_counter() - start) / len(fresh) * 1e6)
        fresh = lead_states(run_seed + 50)
        start = time.perf_counter()
        for s in fresh:
            evaluate(s, rules, now, None)
        eval_runs.append((time.perf_counter() - start) / len(fresh) * 1e6)
    seen_runs = []
    for _ in range(3):  # a lead scored again (its next event): its email is in the memo now
        start = time.perf_counter()
        for s in states:
            matching(s)
        seen_runs.append((time.perf_counter() - start) / len(states) * 1e6)
    loop_us, eval_us = median(loop_runs), median(eval_runs)
    yaml_loaded = any(m.split(".")[0] in ("yaml", "ruamel") for m in sys.modules)

    rows = [
        row(
            "rules: compile 50 rules + 5,000 domains",
            round(compile_ms, 2),
            "ms",
            goal=f"<= {GOAL_COMPILE_MS} ms",
            ok=compile_ms <= GOAL_COMPILE_MS,
            note=f"{len(raw) / 1024:.0f} KB JSON via load_rules",
        ),
        row(
            "rules: leadscore matching loop per lead (unseen leads)",
            round(loop_us, 2),
            "us",
            goal=f"<= {GOAL_US:.0f} us",
            ok=loop_us <= GOAL_US,
        ),
        row(
            "rules: leadscore matching, a lead scored before",
            round(median(seen_runs), 2),
            "us",
            note="its values are in the per-field memo",
        ),
        row("rules: leadscore evaluate() per lead (full card)", round(eval_us, 1), "us", note="report"),
        row(
            "rules: YAML parser imported by load_rules",
            "yes" if yaml_loaded else "no",
            goal="no",
            ok=not yaml_loaded,
        ),
    ]
    details: dict[str, Any] = {
        "doc_bytes": len(raw),
        "compile_ms_runs": [round(x * 1000, 2) for x in compile_runs],
        "loop_us_runs": [round(x, 2) for x in loop_runs],
        "evaluate_us_runs": [round(x, 1) for x in eval_runs],
    }
    try:
        peer = peers.measure(PEER_LEADS, 3, unique=True, seed=3)
    except Exception as exc:
        rows.append(
            row("rules: peers", "error", goal=f">= {GOAL_FASTER:.0f}x faster", ok=False, note=str(exc)[:200])
        )
        failed = {
            "name": "rules_vs_fastest_peer_unique",
            "measured": None,
            "goal": ">= 3",
            "pass": False,
            "note": f"peers did not run: {str(exc)[:150]}",
        }
        return {"rows": rows, "details": details, "goals": [failed]}
    details["ours_matching_us"] = {"min": min(loop_runs), "median": loop_us, "max": max(loop_runs)}
    fastest: tuple[str, float] | None = None
    for name, result in peer.items():
        if "error" in result:
            rows.append(row(f"rules: peer {name}", "error", note=result["error"][:150]))
            continue
        mismatches = sum(1 for a, b in zip(result["scores"], scores, strict=False) if abs(a - b) > 1e-9)
        us = result["us_per_lead"]
        rows.append(
            row(
                f"rules: peer {name} per lead",
                round(us, 1),
                "us",
                baseline=round(loop_us, 2),
                ratio=round(us / loop_us, 1),
                note=(
                    f"{result['leads']} leads, {mismatches} score mismatches, "
                    f"compile {result['compile_ms']} ms"
                ),
            )
        )
        if mismatches == 0 and (fastest is None or us < fastest[1]):
            fastest = (name, us)
        result.pop("scores", None)
    details["peers"] = peer
    goal: dict[str, Any] = {
        "name": "rules_vs_fastest_peer_unique",
        "measured": None,
        "goal": ">= 3",
        "pass": False,
        "note": "no peer matched leadscore's scores",
    }
    if fastest is not None:
        ratio = fastest[1] / loop_us
        goal = {
            "name": "rules_vs_fastest_peer_unique",
            "measured": round(ratio, 2),
            "goal": ">= 3",
            "pass": ratio >= 3,
            "note": f"{fastest[0]} {fastest[1]:.1f} us/lead vs ours {loop_us:.1f} us/lead (median)",
        }
        rows.append(
            row(
                "rules: leadscore vs fastest peer",
                round(ratio, 1),
                "x faster",
                baseline=fastest[0],
                ratio=round(ratio, 1),
                goal=f">= {GOAL_FASTER:.0f}x",
                ok=ratio >= GOAL_FASTER,
            )
        )
    return {"rows": rows, "details": details, "goals": [goal]}


if __name__ == "__main__":
    main_for(run)
