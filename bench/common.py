"""Helpers shared by the benchmarks: rows, medians, fake AWS credentials, fresh-interpreter runs."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
RULES_YAML = ROOT / "rules" / "example.yaml"  # the only source; compiled by example_rules_json()
RESULTS = ROOT / "bench" / "results"

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def example_rules_json() -> bytes:
    """rules/example.yaml compiled to the JSON the scorer loads, exactly as ``rules publish`` does."""
    layer_path()
    from tools.rules_source import compiled_json

    return compiled_json(RULES_YAML)


def row(
    metric: str,
    measured: float | str | None,
    unit: str = "",
    *,
    baseline: float | str | None = None,
    ratio: float | None = None,
    goal: str = "report",
    ok: bool | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One line of the results table. ``ok`` None means "report only"."""
    return {
        "metric": metric,
        "measured": measured,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "goal": goal,
        "pass": ok,
        "note": " ".join(note.split()),
    }


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fake_aws_env() -> None:
    """Fake credentials, one region, and no custom endpoints (they defeat moto's in-process mock)."""
    for name in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL") or k == "AWS_PROFILE"]:
        del os.environ[name]
    os.environ.update(FAKE_AWS)


def layer_path() -> None:
    """Import the repository like Lambda does: handlers as ``functions.*``, the layer as ``leadscore``."""
    for path in (str(ROOT / "shared"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)


def python_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(FAKE_AWS)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'shared'}"
    env.update(extra)
    return env


def run_json(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    """Run a command whose last stdout line is JSON; return it parsed."""
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited {done.returncode}: {done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def main_for(run: Callable[[], dict[str, Any]]) -> None:
    """``python -m bench.<module> [OUT.json]``: run one benchmark, print or write its result."""
    result = run()
    text = json.dumps(result, indent=1, default=str)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    else:
        print(text)


# ----------------------------------------------------------------- two designs, each in its own process
def design_args(doc: str, modes: tuple[str, str], argv: list[str] | None) -> argparse.Namespace:
    """``--events``, ``--leads`` and the hidden ``--one MODE`` of a benchmark that compares two designs
    of the same traffic, each run by :func:`run_design` in a fresh process (the meter patches botocore
    once per process)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--leads", type=int, default=5_000)
    parser.add_argument("--one", choices=list(modes), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def print_design(result: dict[str, Any]) -> None:
    """What a ``--one MODE`` process prints: its result as the last line (logs may come before)."""
    sys.stdout.write("\n" + json.dumps(result) + "\n")


def run_design(module: str, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """``python -m bench.<module> --one MODE`` with the same traffic; the result it printed."""
    command = [sys.executable, "-m", f"bench.{module}", "--events", str(args.events)]
    command += ["--leads", str(args.leads), "--one", mode]
    out = subprocess.run(command, check=True, capture_output=True).stdout.decode().strip()
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result
