"""Runs in ``.venv-bench`` only (never imports leadscore): times peer engines on the shared rule set.

``python -m bench.peer_worker N_LEADS REPEAT`` prints one JSON line: per engine, µs per lead (facts
preparation included), compile ms, import ms, and each lead's fit score (for the equivalence check).
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.rulespec import document, leads, membership_tests, peer_facts, render


def _rule_engine(exprs: list[str]) -> tuple[Callable[[dict[str, Any]], list[bool]], float]:
    t0 = time.perf_counter()
    import rule_engine  # type: ignore[import-not-found]  # in .venv-bench only

    t1 = time.perf_counter()
    compiled = [rule_engine.Rule(e) for e in exprs]
    t2 = time.perf_counter()

    def evaluate(facts: dict[str, Any]) -> list[bool]:
        return [r.matches(facts) for r in compiled]

    return evaluate, (t1 - t0, t2 - t1)  # type: ignore[return-value]


def _cel_python(exprs: list[str]) -> tuple[Callable[[dict[str, Any]], list[bool]], Any]:
    t0 = time.perf_counter()
    import celpy  # type: ignore[import-not-found]  # in .venv-bench only

    t1 = time.perf_counter()
    env = celpy.Environment()
    programs = [env.program(env.compile(e)) for e in exprs]
    t2 = time.perf_counter()

    def evaluate(facts: dict[str, Any]) -> list[bool]:
        activation = {k: celpy.json_to_cel(v) for k, v in facts.items()}
        return [bool(p.evaluate(activation)) for p in programs]

    return evaluate, (t1 - t0, t2 - t1)


def _rust_cel(exprs: list[str]) -> tuple[Callable[[dict[str, Any]], list[bool]], Any]:
    t0 = time.perf_counter()
    import cel  # type: ignore[import-not-found]  # in .venv-bench only

    t1 = time.perf_counter()
    programs = [cel.compile(e) for e in exprs]
    t2 = time.perf_counter()

    @functools.cache
    def pattern(text: str) -> Callable[[str], Any]:
        return re.compile(text).search

    def rx(text: str, regex: str) -> bool:
        return pattern(regex)(text) is not None

    def evaluate(facts: dict[str, Any]) -> list[bool]:
        context = cel.Context(variables=facts, functions={"rx": rx})  # once per lead, shared by the rules
        return [bool(p.execute(context)) for p in programs]

    return evaluate, (t1 - t0, t2 - t1)


# Leads per engine at most (cel-python interprets a parse tree: ~30 ms per lead here).
MAX_LEADS = {"cel-python": 60}

ENGINES = {
    "rule-engine": ("re", _rule_engine),
    "cel-python": ("cel", _cel_python),
    "common-expression-language (Rust CEL)": ("cel-rx", _rust_cel),
}


def main() -> None:
    n_leads, repeat = int(sys.argv[1]), int(sys.argv[2])
    unique = len(sys.argv) > 3 and sys.argv[3] == "unique"
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    doc = document()
    rules = doc["models"]["lead"]["fit"]
    points = [r["points"] for r in rules]
    lists = {k: frozenset(v) for k, v in doc["lists"].items()}
    tests = membership_tests(doc)
    people = leads(n_leads, seed=seed, unique=unique)
    out: dict[str, Any] = {}
    for name, (dialect, make) in ENGINES.items():
        try:
            evaluate, (import_s, compile_s) = make([render(r["when"], dialect) for r in rules])
        except Exception as exc:  # an engine that cannot take the rule set is reported, not fatal
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        scores: list[float] = []
        runs = []
        subset = people[: MAX_LEADS.get(name, len(people))]
        for lead in subset[:5]:  # warm-up: lazy imports, caches
            evaluate(peer_facts(lead, tests, lists))
        for r in range(repeat):
            start = time.perf_counter()
            for lead in subset:
                matched = evaluate(peer_facts(lead, tests, lists))
                if r == 0:
                    scores.append(sum(p for p, m in zip(points, matched, strict=True) if m))
            runs.append((time.perf_counter() - start) / len(subset) * 1e6)
        runs.sort()
        out[name] = {
            "us_per_lead": runs[len(runs) // 2],
            "runs_us": [round(x, 1) for x in runs],
            "compile_ms": round(compile_s * 1000, 2),
            "import_ms": round(import_s * 1000, 1),
            "leads": len(subset),
            "scores": scores,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
