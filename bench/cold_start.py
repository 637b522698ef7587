"""Cold start: each handler module imported in a fresh interpreter, against ``import boto3`` + one client.

Also: what the import pulls in (a YAML parser, a rule engine, aws_xray_sdk must not be there), how many
boto3 clients are created at import (at most one), and whether ``sam build`` ships compiled ``.pyc``
files for python3.13 in the layer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, main_for, median, python_env, row, run_json

RUNS = 5
GOAL, HARD = 1.3, 2.0
FORBIDDEN = ("yaml", "ruamel", "rule_engine", "celpy", "cel", "aws_xray_sdk", "jsonlogic", "json_logic")

_BASELINE = """
import time, json
t0 = time.perf_counter()
import boto3
boto3.session.Session().client("dynamodb")
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

# Counts clients created during the import, then reports what got imported.
_HANDLER = """
import time, json, sys
t0 = time.perf_counter()
import botocore.session
_made = []
_orig = botocore.session.Session.create_client
def _counting(self, *a, **k):
    _made.append(a[0] if a else k.get("service_name"))
    return _orig(self, *a, **k)
botocore.session.Session.create_client = _counting
t1 = time.perf_counter()
import importlib
importlib.import_module(MODULE)
t2 = time.perf_counter()
forbidden = sorted({m.split(".")[0] for m in sys.modules} & set(FORBIDDEN))
print(json.dumps({"seconds": (t2 - t1) + (t1 - t0), "clients": _made, "forbidden": forbidden,
                  "modules": len(sys.modules)}))
"""


def handler_modules() -> list[str]:
    return sorted(f"functions.{p.parent.name}.app" for p in (ROOT / "functions").glob("*/app.py"))


def _measure(code: str, runs: int = RUNS, **extra: str) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-c", code]
    env = python_env(POWERTOOLS_SERVICE_NAME="leadscore", POWERTOOLS_METRICS_NAMESPACE="Leadscore", **extra)
    run_json(cmd, env=env)  # warm-up: writes __pycache__ for the repository's own modules
    return [run_json(cmd, env=env) for _ in range(runs)]


def _heaviest_imports(module: str, top: int = 6) -> list[tuple[str, float]]:
    """The handler's direct imports by cumulative import time (``-X importtime``), in ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith("   ") and not name.startswith("    "):  # depth 1 below the handler
            found.append((name.strip(), round(int(cumulative) / 1000, 1)))
    return sorted(found, key=lambda p: -p[1])[:top]


def _sam_build() -> dict[str, Any]:
    sam = ROOT / ".venv" / "bin" / "sam"
    if not sam.exists():
        return {"error": "sam not installed in .venv"}
    with tempfile.TemporaryDirectory(prefix="leadscore-sam-") as tmp:
        env = dict(os.environ)
        env.update(AWS_DEFAULT_REGION="us-east-1", SAM_CLI_TELEMETRY="0")
        env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        done = subprocess.run(
            [str(sam), "build", "--template", "template.yaml", "--build-dir", tmp],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if done.returncode != 0:
            return {"error": f"sam build exited {done.returncode}: {done.stderr[-800:]}"}
        layer = Path(tmp) / "SharedLayer" / "python"
        if not layer.is_dir():
            return {"error": f"no SharedLayer/python in the build ({sorted(os.listdir(tmp))})"}
        packages: dict[str, dict[str, int]] = {}
        for top in sorted(p for p in layer.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")):
            sources = list(top.rglob("*.py"))
            pycs = list(top.rglob("__pycache__/*.cpython-313.pyc"))
            other = [p for p in top.rglob("__pycache__/*.pyc") if ".cpython-313." not in p.name]
            packages[top.name] = {"py": len(sources), "pyc313": len(pycs), "other_pyc": len(other)}
        size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
        # Import each built function against the built layer as shipped (Lambda's /opt is read-only:
        # nothing gets compiled to disk there, so every cold start compiles what has no .pyc).
        shipped: dict[str, float] = {}
        for function in sorted(p.name for p in Path(tmp).iterdir() if (p / "app.py").is_file()):
            code = _HANDLER.replace("MODULE", repr("app")).replace("FORBIDDEN", repr(FORBIDDEN))
            runs = _measure(
                code,
                runs=3,
                PYTHONPATH=f"{Path(tmp) / function}{os.pathsep}{layer}",
                PYTHONDONTWRITEBYTECODE="1",
            )
            shipped[function] = median([r["seconds"] for r in runs])
        shutil.rmtree(tmp, ignore_errors=True)
        return {"packages": packages, "layer_bytes": size, "shipped_seconds": shipped}


def run() -> dict[str, Any]:
    rows = []
    base_runs = _measure(_BASELINE)
    base = median([r["seconds"] for r in base_runs])
    rows.append(row("cold start baseline B: import boto3 + 1 client", round(base * 1000, 1), "ms"))
    details: dict[str, Any] = {"baseline_ms": [round(r["seconds"] * 1000, 1) for r in base_runs]}
    for module in handler_modules():
        code = _HANDLER.replace("MODULE", repr(module)).replace("FORBIDDEN", repr(FORBIDDEN))
        runs = _measure(code)
        ms = median([r["seconds"] for r in runs]) * 1000
        ratio = ms / (base * 1000)
        short = module.split(".")[1]
        rows.append(
            row(
                f"cold start {short} (import + module state)",
                round(ms, 1),
                "ms",
                baseline=round(base * 1000, 1),
                ratio=round(ratio, 2),
                goal=f"<= {GOAL} x B (hard {HARD})",
                ok=ratio <= GOAL,
                note=""
                if ratio <= GOAL
                else ("over goal, under hard limit" if ratio <= HARD else "OVER HARD"),
            )
        )
        last = runs[-1]
        rows.append(
            row(
                f"  {short}: YAML/rule engine/xray imported",
                ",".join(last["forbidden"]) or "none",
                goal="none",
                ok=not last["forbidden"],
            )
        )
        rows.append(
            row(
                f"  {short}: boto3 clients at import",
                len(last["clients"]),
                goal="<= 1",
                ok=len(last["clients"]) <= 1,
            )
        )
        details[module] = {"ms": [round(r["seconds"] * 1000, 1) for r in runs], **last}
        if ratio > GOAL:
            details[module]["heaviest_imports_ms"] = _heaviest_imports(module)
    build = _sam_build()
    details["sam_build"] = build
    if "error" in build:
        rows.append(
            row(
                "layer .pyc (sam build)",
                "error",
                goal="pyc for every package",
                ok=False,
                note=build["error"][:200],
            )
        )
    else:
        pk = build["packages"]
        missing = sorted(name for name, c in pk.items() if c["py"] and not c["pyc313"])
        with_pyc = sum(1 for c in pk.values() if c["pyc313"])
        rows.append(
            row(
                "layer packages with cpython-313 .pyc",
                f"{with_pyc}/{len(pk)}",
                goal="all",
                ok=not missing,
                note=("missing: " + ", ".join(missing)) if missing else "",
            )
        )
        for function, seconds in build.get("shipped_seconds", {}).items():
            ratio = seconds / base
            rows.append(
                row(
                    f"cold start {function} from the sam-built layer",
                    round(seconds * 1000, 1),
                    "ms",
                    baseline=round(base * 1000, 1),
                    ratio=round(ratio, 2),
                    goal=f"<= {GOAL} x B (hard {HARD})",
                    ok=ratio <= GOAL,
                    note="layer as shipped, /opt read-only: no .pyc written",
                )
            )
    return {"rows": rows, "details": details}


if __name__ == "__main__":
    main_for(run)
