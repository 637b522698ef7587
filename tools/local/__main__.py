"""`python -m tools.local serve|demo`: the whole stack on this machine, without Docker or AWS.

    serve [--port 3000] [--host 127.0.0.1]   serve the HTTP API; queue, stream and alerts run behind it
    demo                                      replay events/http-*.json, then print leads and alerts,
                                              the hot list and Dana's score card (the Lead API)

Exit codes: 0 ok; 1 demo produced no alert; 2 the stack cannot start (e.g. a missing or invalid rules
file: its errors are printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from tools.local import demo as demo_script
from tools.local.console import Console
from tools.local.settings import RULES_FILE
from tools.local.stack import LocalStack, SetupError, signals_to

ROOT = Path(__file__).resolve().parents[2]
RULES_HELP = "rules file (YAML or JSON), compiled as `leadscore rules publish` does"


def main(argv: list[str] | None = None) -> int:
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tools.local", description=summary)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API locally until Ctrl-C")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--rules", type=Path, default=RULES_FILE, help=RULES_HELP)
    demo = commands.add_parser("demo", help="replay the sample HTTP events and show the outcome")
    demo.add_argument("--rules", type=Path, default=RULES_FILE, help=RULES_HELP)
    demo.add_argument("--events", type=Path, default=ROOT / "events", help="folder of http-*.json events")
    args = parser.parse_args(argv)

    console = Console(sys.stdout)
    local = LocalStack(ROOT, console, rules=args.rules)
    try:
        local.start()
    except SetupError as exc:
        console(f"cannot start: {exc}")
        local.stop()
        return 2
    try:
        if args.command == "serve":
            return _serve(local, args.host, args.port)
        return demo_script.run(local, args.events)
    finally:
        local.stop()


def _serve(local: LocalStack, host: str, port: int) -> int:
    stop = threading.Event()
    with signals_to(stop):
        try:
            base = local.serve_http(host, port)
        except OSError as exc:
            local.console(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            return 2
        local.console(f"HTTP API      {base}")
        local.describe_routes(base)
        local.pump_forever(0.5)
        local.console("Queue, stream and alerts are pumped every 0.5 s. Ctrl-C to stop.")
        stop.wait()
    local.console("stopping")
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is stopped and flushed by now; skip the interpreter's teardown of moto's and boto's
    # module state, which takes seconds and does nothing useful for a process that is exiting.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
