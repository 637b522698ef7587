"""`python -m tools.local serve|demo`: the whole stack on this machine, without Docker or AWS.

    serve [--port 3000] [--host 127.0.0.1]   serve the HTTP API; queue, stream and alerts run behind it
    demo                                      replay events/http-*.json, then print leads and alerts,
                                              the hot list and Dana's score card (the Lead API)

Exit codes: 0 ok; 1 demo produced no alert; 2 the stack cannot start (e.g. a missing or invalid rules
file: its errors are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from tools.local.runner import (
    LOCAL_AUTHORIZATION,
    RULES_FILE,
    Console,
    LocalStack,
    SetupError,
    format_score,
    free_port,
    http_get,
    lead_events_summary,
    lead_summary,
    replay_request,
    resign_sendgrid,
    shorten,
    signals_to,
)

ROOT = Path(__file__).resolve().parents[2]
RULES_HELP = "rules file (YAML or JSON), compiled as `leadscore rules publish` does"
DEMO_LEAD = "dana.reyes@northwindlabs.io"  # the sample requests' sales-ready lead: her card ends the demo
DEMO_CUSTOMER = "sam.okafor@contoso.com"  # a customer: the lead and customer_expansion models both score him


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
        return _demo(local, args.events)
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


def _print_review(local: LocalStack) -> None:
    """The review loop (issue 15) on the seeded funnel simulator: a handful of sample leads has no
    outcomes to learn from, the simulator has 4,000 with a known truth."""
    from tools.review.cli import demo_report

    html_path = local.root / ".local" / "review.html"
    proposed = local.root / ".local" / "review-proposed.json"
    started = time.monotonic()
    local.console("Review (leadscore review --simulate 2026 --leads 4000 --capacity 20/week):")
    for line in demo_report(html_path, proposed):
        local.console(line)
    local.console(f"  report   {html_path.relative_to(local.root)}  (open it in a browser)")
    local.console(
        f"  proposed {proposed.relative_to(local.root)} and its .diff  ({time.monotonic() - started:.1f}s)"
    )


def _demo(local: LocalStack, events_dir: Path) -> int:
    say = local.console
    started = time.monotonic()
    # http-bad-* are the refused samples (events/README.md): tests use them, the demo does not.
    files = sorted(p for p in events_dir.glob("http-*.json") if not p.name.startswith("http-bad-"))
    if not files:
        say(f"no sample events: {events_dir}/http-*.json matched nothing")
        return 1
    local.log_requests = False
    port = free_port()
    base = local.serve_http("127.0.0.1", port)
    say(f"HTTP API      {base}")
    say("")
    samples = [(path, json.loads(path.read_text())) for path in files]
    # The samples were recorded at a fixed time: score them as of then (an hour after the last),
    # so decay and the dedupe window treat them the same whatever day the demo runs.
    recorded = max(int((e.get("requestContext") or {}).get("timeEpoch") or 0) for _, e in samples) // 1000
    if recorded:
        from leadscore import clock

        clock.pin(datetime.fromtimestamp(recorded + 3600, UTC))
        say(
            f"clock         pinned at {clock.now():%Y-%m-%d %H:%M} UTC (an hour after the samples; "
            "requests are received and scored at that time)"
        )
    say(f"Replaying {len(files)} sample request(s) from {events_dir.name}/:")
    for path, event in samples:
        resign_sendgrid(event, local.root)
        method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "POST").upper()
        status, body = replay_request(port, event)
        text = body.decode("utf-8", "replace")
        say(f"  {path.name:<40} {method} {event.get('rawPath', '?')} -> {status} {shorten(text, 90)}")

    say("")
    say("Pumping EventsQueue -> ScorerFunction -> LeadsTable stream -> NotifierFunction:")
    results = local.stack.drain(timeout=30)
    for result in results:
        local.report(result)
    if not results:
        say("  nothing was queued")

    say("")
    _print_leaderboard(local)

    notifications = local.stack.inbox()
    say("")
    say(f"SNS notifications ({len(notifications)}):")
    for note in notifications:
        local.print_notification(note)
    say("")
    events = local.stack.lead_events()
    say(f"Lead events on LeadEventsBus ({len(events)}): {lead_events_summary(events)}")
    say("")
    _print_lead_api(local, port)
    say("")
    _print_review(local)
    say("")
    say(f"done in {time.monotonic() - started:.1f}s (handler logs: {local.log_path.relative_to(local.root)})")
    return 0 if notifications else 1


def _print_lead_api(local: LocalStack, port: int) -> None:
    """What sales reads, through the Lead API's real routes: the hot list and Dana's score card."""
    from urllib.parse import quote

    from tools.leads_cli import format_card, format_hot

    say = local.console
    signed = {"authorization": LOCAL_AUTHORIZATION}
    status, _ = http_get(port, "/leads")
    say(f"Lead API (AWS_IAM): GET /leads without credentials -> {status}; locally any Authorization header")
    say("is accepted in place of a SigV4 signature (API Gateway verifies it in AWS).")
    status, body = http_get(port, "/leads?limit=20", signed)
    if status != 200:
        say(f"GET /leads -> {status} {shorten(body.decode('utf-8', 'replace'), 200)}")
        return
    rows = json.loads(body)["leads"]
    say("")
    say(f"Hot list (GET /leads, {len(rows)} lead(s), highest first):")
    for line in format_hot(rows):
        say("  " + line)
    emails = [str(r.get("email")) for r in rows]
    email = DEMO_LEAD if DEMO_LEAD in emails else (emails[0] if emails else None)
    if email is None:
        return
    status, body = http_get(port, f"/leads/{quote(email, safe='')}", signed)
    say("")
    say(f"Score card (GET /leads/{email}) -> {status}:")
    if status != 200:
        say("  " + shorten(body.decode("utf-8", "replace"), 200))
        return
    for line in format_card(json.loads(body)):
        say("  " + line)
    status, body = http_get(port, f"/leads/{quote(DEMO_CUSTOMER, safe='')}", signed)
    if status == 200:
        lines = format_card(json.loads(body))
        if "Models:" in lines:  # every model that scored the customer, each with its own tier
            say("")
            say(f"Models of {DEMO_CUSTOMER} (GET /leads/{DEMO_CUSTOMER}, models):")
            for line in lines[lines.index("Models:") + 1 :]:
                if not line.startswith("  "):
                    break
                say(line)


def _print_leaderboard(local: LocalStack) -> None:
    say = local.console
    try:
        leads = local.leaderboard(20)
    except ImportError as exc:
        say(f"Leaderboard unavailable (leadscore.dal.leads.LeadRepository: {exc})")
        return
    say(f"Leaderboard ({len(leads)} lead(s)):")
    if not leads:
        return
    rows = [lead_summary(lead) for lead in leads]
    width = max(len(str(r["email"])) for r in rows)
    tier = max(4, *(len(str(r["tier"])) for r in rows))
    say(f"  {'lead':<{width}}  {'score':>6}  {'tier':<{tier}}  {'grade':<5}  top reasons")
    for row in rows:
        reasons = "; ".join(row["reasons"]) or "-"
        say(
            f"  {row['email']:<{width}}  {format_score(row['score']):>6}  {row['tier']:<{tier}}  "
            f"{row['grade']:<5}  {shorten(reasons, 100)}"
        )


if __name__ == "__main__":
    code = main()
    # Everything is stopped and flushed by now; skip the interpreter's teardown of moto's and boto's
    # module state, which takes seconds and does nothing useful for a process that is exiting.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
