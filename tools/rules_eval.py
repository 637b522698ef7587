"""Score a set of leads with a rules file, as of a stated date: `rules test` and `rules diff`.

The leads come as JSON lines, one lead a line (the format `leadscore leads export` writes, and that
`rules/sample-leads.jsonl` is written in)::

    {"email": "dana@x.io", "lead_id": "…", "events": [{"type": "form_submit", "occurred_at": "…", …}]}

``email`` or ``lead_id`` is required (an anonymous lead has no email). Each event is a canonical
event (``leadscore.models.event.CanonicalEvent``); ``event_id``, ``source`` and ``identity`` may be
left out (they are then made up from the line). Every lead is rebuilt from its events with the
rules given, exactly as ``leads rescore`` does, and evaluated at ``now``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadscore.alerts import kind_of
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring import routing
from leadscore.scoring.engine import apply_events, evaluate
from leadscore.scoring.state import LeadState, ScoreCard


class LeadsFileError(Exception):
    """A leads file line that cannot be read: the message names the file, line and event."""


@dataclass(frozen=True, slots=True)
class Lead:
    lead_id: str
    email: str | None
    events: list[CanonicalEvent]

    @property
    def label(self) -> str:
        return self.email or self.lead_id


def read_leads(path: Path) -> list[Lead]:
    return list(parse_leads(path.read_text(encoding="utf-8").splitlines(), str(path)))


def parse_leads(lines: Iterable[str], where: str) -> Iterator[Lead]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise LeadsFileError(f"{where}:{number}: not JSON ({exc})") from None
        if not isinstance(row, dict) or not (row.get("email") or row.get("lead_id")):
            raise LeadsFileError(f"{where}:{number}: a lead needs 'email' or 'lead_id'")
        email = row.get("email") or None
        lead_id = lead_id_for_email(email) if email else str(row["lead_id"])
        events = []
        for i, given in enumerate(row.get("events") or []):
            identity = {"email": email} if email else {"anonymous_id": lead_id}
            ev = {"event_id": f"{lead_id}:{i}", "source": "sample", "identity": identity, **given}
            try:
                events.append(CanonicalEvent.model_validate(ev))
            except Exception as exc:
                raise LeadsFileError(f"{where}:{number}: event {i}: {exc}") from None
        yield Lead(lead_id, email, events)


def score_leads(
    leads: Iterable[Lead], rules: CompiledRules, now: datetime, threshold: float | None
) -> list[dict[str, Any]]:
    """One row per lead (score, tier, grade, reasons, alerts that would fire), highest score first."""
    rows: list[dict[str, Any]] = []
    for lead in leads:
        state = LeadState(lead_id=lead.lead_id)
        outcome = apply_events(state, lead.events, rules, now, threshold, max_age_days=None)
        card = evaluate(outcome.state, rules, now, threshold)
        rows.append(
            {
                "email": lead.email,
                "lead_id": lead.lead_id,
                "score": card.score,
                "fit": card.fit,
                "activity": card.activity,
                "tier": card.tier,
                "grade": card.grade,
                "categories": card.categories,
                "reasons": card.reasons,
                "alerts": [kind_of(a) for a in outcome.alerts],  # "customer_expansion:sales_ready"
                **_owner(outcome.state, card, rules),
            }
        )
    rows.sort(key=lambda r: (-r["score"], r["email"] or r["lead_id"]))
    return rows


def _owner(state: LeadState, card: ScoreCard, rules: CompiledRules) -> dict[str, Any]:
    """Who routing gives the lead to (``owner``, ``queue``, ``route`` and why), whatever its tier, and whether
    the scorer has stored it yet (``assigned``: only once the lead is above cold)."""
    assignment = routing.route(state, card, rules)
    if assignment is None:
        return {"owner": None, "queue": None, "route": None, "route_reason": None, "assigned": False}
    return {
        "owner": assignment.owner,
        "queue": assignment.queue,
        "route": assignment.route_id,
        "route_reason": assignment.reason,
        "assigned": state.owner == assignment.owner,
    }


def routing_summary(rows: list[dict[str, Any]], rules: CompiledRules) -> str | None:
    """``routing: 5 of 5 lead(s) have an owner, 2 assigned now (* 3 once above cold, ...)``; None
    without routing in the rules."""
    if rules.routing is None:
        return None
    owned = [r for r in rows if r["owner"]]
    assigned = sum(1 for r in owned if r["assigned"])
    line = f"routing: {len(owned)} of {len(rows)} lead(s) have an owner, {assigned} assigned now"
    if len(owned) > assigned:
        line += f" (* {len(owned) - assigned} once above cold, never while disqualified)"
    missing = [r["email"] or r["lead_id"] for r in rows if not r["owner"]]
    return line + (f"; no route for {', '.join(missing)}" if missing else "")


def tier_order(rules: CompiledRules) -> list[str]:
    """Tiers from lowest to highest: disqualified, cold, the file's tiers, sales_ready."""
    names = [t.name for m in rules.models for t in m.thresholds.tiers]
    return ["disqualified", "cold", *dict.fromkeys(names), "sales_ready"]


def summary(rows: list[dict[str, Any]], rules: CompiledRules, now: datetime) -> str:
    """``12 lead(s) at 2026-11-23 12:00 UTC: sales_ready 3, warm 2, cold 5, disqualified 2; 3 alert(s)
    would fire (sales_ready 3)``."""
    tiers = Counter(r["tier"] for r in rows)
    order = [t for t in reversed(tier_order(rules)) if tiers[t]] + sorted(
        t for t in tiers if t not in tier_order(rules)
    )
    alerts = Counter(kind for r in rows for kind in r["alerts"])
    fired = sum(alerts.values())
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(alerts.items()))
    return (
        f"{len(rows)} lead(s) at {stamp(now)}: "
        + (", ".join(f"{t} {tiers[t]}" for t in order) or "none")
        + f"; {fired} alert(s) would fire"
        + (f" ({kinds})" if kinds else "")
    )


def stamp(now: datetime) -> str:
    """The evaluation date as people read it (in UTC)."""
    return now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
