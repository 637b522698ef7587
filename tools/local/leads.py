"""The leads the local stack holds, read in-process as the local-only routes and the demo show them:
the leaderboard, one lead, the review export, the Lead API's hot list and score card without its
authorizer, and ``leads rescore --local``.

Each function runs inside the function's environment (tools.localstack.Stack.environment) whose table
and rules it reads.
"""

from __future__ import annotations

from typing import Any

from tools.local.settings import LEADS_PREFIX
from tools.localstack import Stack


def leaderboard(stack: Stack, limit: int = 20) -> list[Any]:
    from leadscore.dal.leads import LeadRepository

    with stack.environment("ScorerFunction") as env:  # every lead, cold ones too (a Scan)
        leads = [s for s in LeadRepository(env["LEADS_TABLE"]).all_leads() if s.card and s.email]
    leads.sort(key=lambda s: (-(s.card.score if s.card else 0), s.email or ""))
    return leads[:limit]


def lead(stack: Stack, email: str) -> Any:
    from leadscore.dal.leads import LeadRepository

    with stack.environment("ScorerFunction") as env:
        return LeadRepository(env["LEADS_TABLE"]).get_by_email(email)


def export(stack: Stack) -> bytes:
    """Every lead and its history as a review export (JSON lines; one Scan of the table)."""
    from tools.review.cli import export_line, from_table

    with stack.environment("ScorerFunction") as env:
        lines = [export_line(state, history) + "\n" for state, history, _ in from_table(env["LEADS_TABLE"])]
    return "".join(lines).encode()


def hot(stack: Stack, params: dict[str, str]) -> dict[str, Any]:
    """The Lead API's hot list (GET /leads), without its authorizer: for the CLI's --local."""
    from leadscore.api.models import HotListQuery
    from leadscore.api.service import hot_list
    from leadscore.dal.leads import LeadRepository

    query = HotListQuery.model_validate(params)
    with stack.environment("LeadsApiFunction") as env:
        return hot_list(LeadRepository(env["LEADS_TABLE"]), query, _rules(env))


def card(stack: Stack, ref: str, history: int = 25) -> dict[str, Any]:
    """The Lead API's score card (GET /leads/{lead}), without its authorizer."""
    from leadscore.api.service import get_card
    from leadscore.dal.leads import LeadRepository

    with stack.environment("LeadsApiFunction") as env:
        return get_card(LeadRepository(env["LEADS_TABLE"]), ref, history, rules=_rules(env))


def rescore(
    stack: Stack, ref: str | None, rules_json: bytes | None, threshold: float | None, alerts: bool = False
) -> dict[str, Any]:
    """``leads rescore --local``: rebuild one lead (``ref``: an email or lead id) or, with ``ref``
    None, every lead from its stored history, as ``leads rescore --table`` does, in-process against
    the local table. ``rules_json``: compiled rules (``rules publish``'s JSON), else the rules in
    force. Raises LookupError for an unknown lead."""
    from leadscore import clock
    from leadscore.dal.leads import LeadRepository
    from leadscore.errors import RulesUnavailableError
    from leadscore.models.event import lead_id_for_email
    from leadscore.rules.compiler import load_rules
    from leadscore.services.scoring import rescore_from_history

    with stack.environment("ScorerFunction") as env:
        rules = load_rules(rules_json) if rules_json else _rules(env)
        if rules is None:
            raise RulesUnavailableError("no rules are published")
        repo = LeadRepository(env["LEADS_TABLE"])
        if ref is not None:
            ids = [lead_id_for_email(ref) if "@" in ref else ref]
        else:
            ids = [s.lead_id for s in repo.all_leads() if not s.merged_into]
        rows = []
        for lead_id in ids:
            state = rescore_from_history(repo, lead_id, rules, clock.now(), threshold, alerts=alerts)
            if state is None or state.card is None:
                if ref is not None:
                    raise LookupError(ref)
                continue
            card = state.card
            rows.append({"lead_id": lead_id, "score": card.score, "tier": card.tier, "grade": card.grade})
    return {"rules_version": rules.version, "rescored": rows}


def _rules(env: dict[str, str]) -> Any:
    """The rules in force (they explain per-rule contributions), or None before any is published."""
    from leadscore.dal.rules_store import rules_store
    from leadscore.errors import RulesUnavailableError

    try:
        return rules_store(env["RULES_BUCKET"], env["RULES_KEY"], int(env["RULES_REFRESH_SECONDS"])).current()
    except RulesUnavailableError:
        return None


def leaderboard_row(rank: int, lead: Any) -> dict[str, Any]:
    """One leaderboard row: who, the score and why, and where the full card is. Only what a person reads:
    no lease tokens, dedupe digests, versions or outbox internals of the stored item."""
    card = lead.card
    profile = lead.profile or {}
    name = " ".join(str(profile[k]) for k in ("first_name", "last_name") if profile.get(k))
    return {
        "rank": rank,
        "lead_id": lead.lead_id,
        "email": lead.email,
        "name": name or None,
        "company": profile.get("company"),
        "score": card.score if card else None,
        "fit": card.fit if card else None,
        "activity": card.activity if card else None,
        "tier": card.tier if card else None,
        "grade": card.grade if card else None,
        "reasons": list(card.reasons[:3]) if card else [],
        "card": f"{LEADS_PREFIX}/{lead.lead_id}",
    }
