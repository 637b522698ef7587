"""`python -m tools.local demo` (`make demo`): the sample HTTP events (events/http-*.json) replayed
against the local stack as real requests, the queue, stream and notifier pumped, then what sales and
the review loop see: the leaderboard, the alerts, the lead bus's events, the Lead API's hot list and
score cards, and the review report on the seeded funnel simulator.

Needs a started tools.local.stack.LocalStack; prints through its console.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.local.console import lead_events_summary, shorten
from tools.local.leads import leaderboard
from tools.local.replay import http_get, replay_request, resign_sendgrid
from tools.local.settings import LOCAL_AUTHORIZATION
from tools.local.stack import LocalStack, free_port

DEMO_LEAD = "dana.reyes@northwindlabs.io"  # the sample requests' sales-ready lead: her card ends the demo
DEMO_CUSTOMER = "sam.okafor@contoso.com"  # a customer: the lead and customer_expansion models both score him


def print_review(local: LocalStack) -> None:
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


def run(local: LocalStack, events_dir: Path) -> int:
    """Replay the samples, pump, and print what came of them; 0 when an alert was sent, else 1."""
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
        say.batch(result)
    if not results:
        say("  nothing was queued")

    say("")
    print_leaderboard(local)

    notifications = local.stack.inbox()
    say("")
    say(f"SNS notifications ({len(notifications)}):")
    for note in notifications:
        say.notification(note)
    say("")
    events = local.stack.lead_events()
    say(f"Lead events on LeadEventsBus ({len(events)}): {lead_events_summary(events)}")
    say("")
    print_lead_api(local, port)
    say("")
    print_review(local)
    say("")
    say(f"done in {time.monotonic() - started:.1f}s (handler logs: {local.log_path.relative_to(local.root)})")
    return 0 if notifications else 1


def print_lead_api(local: LocalStack, port: int) -> None:
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


def print_leaderboard(local: LocalStack) -> None:
    say = local.console
    try:
        board = leaderboard(local.stack, 20)
    except ImportError as exc:
        say(f"Leaderboard unavailable (leadscore.dal.leads.LeadRepository: {exc})")
        return
    say(f"Leaderboard ({len(board)} lead(s)):")
    if not board:
        return
    rows = [lead_summary(lead) for lead in board]
    width = max(len(str(r["email"])) for r in rows)
    tier = max(4, *(len(str(r["tier"])) for r in rows))
    say(f"  {'lead':<{width}}  {'score':>6}  {'tier':<{tier}}  {'grade':<5}  top reasons")
    for row in rows:
        reasons = "; ".join(row["reasons"]) or "-"
        say(
            f"  {row['email']:<{width}}  {format_score(row['score']):>6}  {row['tier']:<{tier}}  "
            f"{row['grade']:<5}  {shorten(reasons, 100)}"
        )


def lead_summary(lead: Any) -> dict[str, Any]:
    """Email, score, tier, grade and top reasons of a lead as the repository returns it."""
    card = _get(lead, "card")
    reasons = _get(card, "reasons") or []
    return {
        "email": _get(lead, "email") or _get(lead, "lead_id") or "?",
        "score": _get(card, "score"),
        "tier": _get(card, "tier") or "-",
        "grade": _get(card, "grade") or "-",
        "reasons": [str(r) for r in reasons][:3],
    }


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def format_score(value: Any) -> str:
    if value is None:
        return "-"
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}"
