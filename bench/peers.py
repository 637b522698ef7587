"""``.venv-bench``: the peer rule engines' own virtualenv, created on demand with pinned versions.

The peers never enter the runtime or dev virtualenv: they are installed here only, and measured in a
subprocess running :mod:`bench.peer_worker` with this venv's interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, run_json

VENV = ROOT / ".venv-bench"
PINS = ("rule-engine==5.1.0", "cel-python==0.5.0", "common-expression-language==0.10.0")
_MARKER = VENV / ".bench-pins"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure() -> Path:
    """Create ``.venv-bench`` (same Python as this one) and install the pinned peers, once."""
    wanted = "\n".join(PINS)
    if python().exists() and _MARKER.exists() and _MARKER.read_text() == wanted:
        return python()
    if not python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
    subprocess.run(
        [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS],
        check=True,
        timeout=240,
    )
    _MARKER.write_text(wanted)
    return python()


def measure(n_leads: int, repeat: int, unique: bool = False, seed: int = 3) -> dict[str, Any]:
    interpreter = ensure()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(ROOT)  # for bench.rulespec only; leadscore lives in shared/, not here
    result: dict[str, Any] = run_json(
        [
            str(interpreter),
            "-m",
            "bench.peer_worker",
            str(n_leads),
            str(repeat),
            "unique" if unique else "recurring",
            str(seed),
        ],
        env=env,
        timeout=200,
    )
    return result
