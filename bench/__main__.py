"""``python -m bench``: run every benchmark (each in a fresh interpreter), print the goals, write JSON.

``python -m bench storage cold_start`` runs only the named ones (goals of the others: not run).
Results: ``bench/results/latest.json`` (a partial run: ``partial.json``) with ``goals`` (name,
measured, goal, pass), ``details`` and ``meta`` (seed, date, machine, command).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cost
from bench.common import RESULTS, ROOT

# (module, timeout seconds)
BENCHMARKS = (("storage", 600), ("cold_start", 240), ("rules_bench", 300), ("accounts", 900))
GOAL_NAMES = (
    "item_growth_10_to_5000",
    "item_bytes_p99",
    "wcu_per_event_spread",
    "wcu_per_event_bursty",
    "cpu_growth_10_to_5000",
    "cpu_x_json_loads",
    "cost_full_path_vs_floor",
    "max_key_wcu_per_s_at_1e4",
    "cold_start_first_invoke_x_b",
    "rules_vs_fastest_peer_unique",
    "account_rollup_wcu_per_event",
)
ACCOUNT_ROLLUP_BUDGET = 0.5  # write units per event: under the scorer's own table writes (~0.6)


def _run(module: str, timeout: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'shared'}"
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip()[-1500:] or "failed")
        result: dict[str, Any] = json.loads(path.read_text())
    except Exception as exc:
        result = {"error": str(exc)[-1500:]}
    finally:
        path.unlink(missing_ok=True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def _goal(name: str, measured: float | None, goal: str, ok: bool, note: str = "") -> dict[str, Any]:
    return {"name": name, "measured": measured, "goal": goal, "pass": bool(ok), "note": note}


def storage_goals(s: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The storage run's goals, and the cost and latency details computed from its counts."""
    h = s["histories"]
    w = s["windows"]
    spread, bursty = w["spread read_first"], w["bursty read_first"]
    goals = []
    growth = h["5000"]["item_bytes"] / h["10"]["item_bytes"]
    goals.append(
        _goal(
            "item_growth_10_to_5000",
            round(growth, 3),
            "<= 1.5",
            growth <= 1.5,
            f"{h['5000']['item_bytes']} B / {h['10']['item_bytes']} B",
        )
    )
    p99 = spread["lead_item_bytes"]["p99"]
    goals.append(
        _goal(
            "item_bytes_p99",
            p99,
            "<= 4096",
            p99 <= 4096,
            f"every lead item written in the spread window; p50 {spread['lead_item_bytes']['p50']}",
        )
    )
    for name, win, limit in (("wcu_per_event_spread", spread, 1.1), ("wcu_per_event_bursty", bursty, 0.3)):
        notifier = win["alerts_per_event"] * cost.notifier_wcu_per_alert(win["lead_item_bytes"]["p50"])
        value = win["wcu_per_event"] + notifier
        goals.append(
            _goal(
                name,
                round(value, 3),
                f"<= {limit}",
                value <= limit,
                f"scorer metered {win['wcu_per_event']:.3f} "
                f"(table {win['wcu_per_event_by_where'].get('table', 0):.3f})"
                f" + notifier modeled {notifier:.3f}",
            )
        )
    c10, c5000 = h["10"]["cpu_us_per_event"]["median"], h["5000"]["cpu_us_per_event"]["median"]
    goals.append(
        _goal(
            "cpu_growth_10_to_5000",
            round(c5000 / c10, 3),
            "<= 1.3",
            c5000 / c10 <= 1.3,
            f"{c5000:.0f} us / {c10:.0f} us per event (median of rounds, cold container)",
        )
    )
    hd = s["handler"]
    ratio = hd["cpu_outside_aws_us_per_event"]["median"] / hd["json_loads_us_per_event"]["median"]
    goals.append(
        _goal(
            "cpu_x_json_loads",
            round(ratio, 1),
            "<= 30",
            ratio <= 30,
            f"{hd['cpu_outside_aws_us_per_event']['median']:.1f} us / "
            f"{hd['json_loads_us_per_event']['median']:.2f} us; "
            f"real handler, batches of {hd['batch_size']}, cold cache",
        )
    )
    meta = s["meta"]

    def per_million(window: dict[str, Any]) -> dict[str, Any]:
        """The cost model for one traffic shape; the rest (ingest, logs, memory, stretch) is shared."""
        return cost.per_million(
            window,
            s["ingest"],
            hd["log_bytes_per_batch"],
            meta["design"]["memory_mb"]["ScorerFunction"],
            s["lambda_cpu_stretch"],
            s["latency_ms"]["sqs.SendMessageBatch"],
        )

    costs, burst_costs = per_million(spread), per_million(bursty)
    r = costs["ratio_http_api_vs_floor"]
    goals.append(
        _goal(
            "cost_full_path_vs_floor",
            r,
            "<= 1.15",
            r <= 1.15,
            f"${costs['total_http_api']:.3f} / ${costs['floor_http_api']:.3f} per 1M events (spread)",
        )
    )
    busiest = max(
        (
            (v["wcu_per_s"], f"{name}: {where} {v['key']}")
            for name in ("spread read_first", "bursty read_first")
            for where, v in w[name]["busiest_key_wcu_per_s"].items()
        ),
    )
    goals.append(_goal("max_key_wcu_per_s_at_1e4", busiest[0], "<= 1000", busiest[0] <= 1000, busiest[1]))
    details = {
        "cost_per_1M_events_spread": costs,
        "cost_per_1M_events_bursty": burst_costs,
        "latency_request_to_alert": cost.latency(
            spread, meta["design"], meta["rate_events_per_s"], costs["per_event"]["ingest_ms_modeled"]
        ),
    }
    return goals, details


def account_goal(accounts: dict[str, Any]) -> dict[str, Any] | None:
    """The account roll-up's goal from ``bench.accounts``' result (None: it did not run or failed):
    its write units per event, with accounts minus without, on the same traffic."""
    if "rollup_wcu_per_event" not in accounts:
        return None
    rollup = round(accounts["rollup_wcu_per_event"], 3)
    hot = accounts["hot_account"]
    return _goal(
        "account_rollup_wcu_per_event",
        rollup,
        f"<= {ACCOUNT_ROLLUP_BUDGET}",
        rollup <= ACCOUNT_ROLLUP_BUDGET,
        f"with the example rules' accounts minus without, same traffic; {accounts['companies']} "
        f"companies, {hot['domain']} with {hot['contacts']} contacts",
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def table(goals: list[dict[str, Any]]) -> str:
    header = ("name", "measured", "goal", "pass")
    lines = [(g["name"], _fmt(g["measured"]), g["goal"], "PASS" if g["pass"] else "FAIL") for g in goals]
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(4)]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    for line, g in zip(lines, goals, strict=True):
        out.append(
            " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
            + (f"  {g['note']}" if g.get("note") else "")
        )
    return "\n".join(out)


def main(argv: list[str]) -> int:
    wanted = set(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for module, timeout in BENCHMARKS:
        if wanted and module not in wanted:
            continue
        print(f"running {module} ...", flush=True)
        results[module] = _run(module, timeout)
        print(
            f"  {module}: {results[module]['seconds']} s"
            + (" (ERROR)" if "error" in results[module] else ""),
            flush=True,
        )
    found: dict[str, dict[str, Any]] = {}
    details: dict[str, Any] = {}
    if "storage" in results and "error" not in results["storage"]:
        goals, extra = storage_goals(results["storage"])
        found.update({g["name"]: g for g in goals})
        details.update(extra)
    for module in ("cold_start", "rules_bench"):
        for g in results.get(module, {}).get("goals", []):
            found[g["name"]] = g
    rollup = account_goal(results.get("accounts", {}))
    if rollup is not None:
        found[rollup["name"]] = rollup
    goals = [
        found.get(name) or _goal(name, None, "-", False, "not run" if name not in found else "")
        for name in GOAL_NAMES
    ]
    for module, result in results.items():
        if "error" in result:
            for g in goals:
                if g["measured"] is None:
                    g["note"] = f"{module} failed: {result['error'][-200:]}"
    details.update({module: {k: v for k, v in r.items() if k != "goals"} for module, r in results.items()})
    total = round(time.perf_counter() - started, 1)
    date = datetime.now(UTC).isoformat(timespec="seconds")
    report: dict[str, Any] = {
        "goals": goals,
        "details": details,
        "meta": {
            "seed": results.get("storage", {}).get("meta", {}).get("seed"),
            "date": date,
            "command": "make bench  (python -m bench" + (" " + " ".join(argv) if argv else "") + ")",
            "seconds": total,
            "machine": {
                "nproc": os.cpu_count(),
                "loadavg_1m": os.getloadavg()[0],
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A partial run (named benchmarks) never replaces the full run's results.
    out = RESULTS / ("partial.json" if argv else "latest.json")
    out.write_text(json.dumps(report, indent=1, default=str))
    print()
    print(table(goals))
    print()
    if "cost_per_1M_events_spread" in details:
        c = details["cost_per_1M_events_spread"]
        print("cost per 1M events, spread traffic (USD):")
        for k, v in c["per_service"].items():
            print(f"  {k:<45} {v:8.4f}")
        print(f"  {'total, HTTP API front door':<45} {c['total_http_api']:8.4f}")
        print(f"  {'total, Function URL front door':<45} {c['total_function_url']:8.4f}")
        print(f"  {'floor, HTTP API':<45} {c['floor_http_api']:8.4f}")
        print(f"  {'floor, any front door':<45} {c['floor_any_front_door']:8.4f}")
        print(f"  {'X-Ray tracing (not in totals)':<45} {c['xray_tracing_not_in_total']:8.4f}")
        print(f"  floor: {c['floor_formula']}")
        lat = details["latency_request_to_alert"]
        print(
            f"request-to-alert latency (ESTIMATES; scorer containers needed at 10^4 ev/s: "
            f"{lat['scorer_concurrency_needed']}):"
        )
        for k, v in lat.items():
            if isinstance(v, dict) and "typical_s" in v:
                print(f"  {k:<45} typical {v['typical_s']} s, worst {v['worst_s']} s")
    passed = sum(1 for g in goals if g["pass"])
    print(
        f"\n{passed}/{len(goals)} goals pass; {total} s; {date}; nproc {os.cpu_count()}, "
        f"Python {platform.python_version()} -> {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
