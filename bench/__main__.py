"""``python -m bench``: run every benchmark (each in a fresh interpreter), print one table, write JSON.

``python -m bench cold_start cpu`` runs only the named ones. Results: ``bench/results/latest.json``.
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

from bench.common import RESULTS, ROOT

# (module, timeout seconds). The order keeps the noisy, long ones last.
BENCHMARKS = (
    ("cold_start", 150),
    ("cpu", 90),
    ("rules_bench", 300),
    ("aws_calls", 300),
    ("throughput", 120),
)


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
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
        result: dict[str, Any] = json.loads(path.read_text())
    except Exception as exc:
        tail = str(exc)
        result = {
            "rows": [
                {
                    "metric": f"{module}: did not finish",
                    "measured": "error",
                    "unit": "",
                    "baseline": None,
                    "ratio": None,
                    "goal": "runs",
                    "pass": False,
                    "note": tail[-200:],
                }
            ],
            "details": {},
        }
    finally:
        path.unlink(missing_ok=True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    header = ("metric", "measured", "baseline", "ratio", "goal", "pass/fail")
    lines = [
        (
            r["metric"],
            f"{_fmt(r['measured'])} {r.get('unit', '')}".strip(),
            _fmt(r.get("baseline")),
            _fmt(r.get("ratio")),
            r.get("goal", ""),
            {True: "PASS", False: "FAIL", None: "-"}[r.get("pass")],
        )
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    out = [" | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    for line, r in zip(lines, rows, strict=True):
        text = " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
        out.append(text + (f"  ({r['note']})" if r.get("note") else ""))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    wanted = set(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for module, timeout in BENCHMARKS:
        if wanted and module not in wanted:
            continue
        print(f"running {module} ...", flush=True)
        results[module] = _run(module, timeout)
        rows.extend(results[module]["rows"])
        print(f"  {module}: {results[module]['seconds']} s", flush=True)
    total = round(time.perf_counter() - started, 1)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
        },
        "seconds": total,
        "rows": rows,
        "benchmarks": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=1, default=str))
    print()
    print(table(rows))
    failed = sum(1 for r in rows if r.get("pass") is False)
    passed = sum(1 for r in rows if r.get("pass") is True)
    print(
        f"\n{passed} passed, {failed} failed goals; {total} s; {report['date']}, "
        f"nproc {os.cpu_count()}, Python {platform.python_version()} -> {RESULTS / 'latest.json'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
