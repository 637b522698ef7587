"""`leadscore accounts ...`: accounts, from a terminal.

    leadscore accounts hot [--tier T[,T]] [--limit N] [--json]  --stack NAME | --table NAME
    leadscore accounts show DOMAIN [--json]                       --stack NAME | --table NAME

The leads table is read directly with your own AWS credentials (dynamodb:GetItem, BatchGetItem and
Query on the ``hot`` index), with the same code and JSON as the Lead API's ``GET /accounts`` and
``GET /accounts/{domain}``. Exit codes: 0 ok; 1 no such account; 2 bad arguments or unreachable.
"""

from __future__ import annotations

import argparse
from typing import Any

from tools.leads_cli import (
    LeadsCliError,
    _num,
    _positive,
    add_targets,
    command_group,
    emit,
    guarded,
    table_from_stack,
)


def _store(args: argparse.Namespace) -> Any:
    from leadscore.dal.accounts import AccountStore

    return AccountStore(table_from_stack(args.stack) if args.stack else args.table, batch_reads=False)


def hot_accounts(args: argparse.Namespace) -> list[dict[str, Any]]:
    from leadscore.api.accounts import AccountListQuery, hot_accounts
    from pydantic import ValidationError

    rows: list[dict[str, Any]] = []
    cursor = None
    while len(rows) < args.limit:
        try:
            query = AccountListQuery.model_validate(
                {"limit": min(100, args.limit - len(rows)), "cursor": cursor}
                | ({"tier": args.tier} if args.tier else {})
            )
        except ValidationError as exc:
            raise LeadsCliError(str(exc.errors(include_url=False)[0]["msg"])) from None
        page = hot_accounts(_store(args), query)
        rows += page["accounts"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    return rows[: args.limit]


def format_hot(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["No accounts."]
    width = max(6, *(len(r["domain"]) for r in rows))
    lines = [f"{'score':>7}  {'tier':<11}  {'account':<{width}}  members  engaged  committee  top people"]
    for r in rows:
        top = ", ".join(f"{p.get('name') or p['lead_id']} {_num(p['score'])}" for p in r.get("top", []))
        lines.append(
            f"{_num(r['score']):>7}  {r['tier']:<11}  {r['domain']:<{width}}  {r.get('members', 0):>7}  "
            f"{r.get('engaged', 0):>7}  {r.get('committee', '-'):<9}  {top}"
            + ("  SURGE" if r.get("surge") else "")
        )
    return lines


def format_card(card: dict[str, Any]) -> list[str]:
    roles = ", ".join(f"{k} {v}" for k, v in card["roles"].items())
    lines = [
        f"Account {card['domain']}: {_num(card['score'])}"
        f" ({card['tier']}; threshold {_num(card['threshold'])})",
        f"  members {_num(card['rollup'])} + fit {_num(card['fit'])}"
        + (f" ({'; '.join(card['fit_reasons'])})" if card["fit_reasons"] else ""),
        f"  {card['members']} members, {card['engaged']} engaged, {card['active_people']} active this week",
        f"  committee: {card['committee']} ({roles})"
        + (f"; missing {', '.join(card['missing_roles'])}" if card["missing_roles"] else ""),
        "",
        "Top members:",
    ]
    for p in card["top"]:
        lines.append(
            f"  {_num(p['score']):>7}  {p['tier']:<11}  {p.get('name') or p['lead_id']}"
            f"{', ' + p['title'] if p.get('title') else ''} ({p.get('role') or 'no role'})"
        )
    lines += ["", "Recent activity:"]
    for p in card["recent_activity"] or []:
        lines.append(f"  {p.get('name') or p['lead_id']}: {p.get('did') or '-'}")
    return lines


def cmd_hot(args: argparse.Namespace) -> int:
    emit(hot_accounts(args), args.json, format_hot)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from leadscore.api.accounts import AccountNotFoundError, account_card
    from leadscore.api.errors import InvalidFieldError

    try:
        card = account_card(_store(args), args.domain)
    except AccountNotFoundError:
        raise LeadsCliError(f"no account {args.domain}", 1) from None
    except InvalidFieldError as exc:
        raise LeadsCliError(str(exc)) from None
    emit(card, args.json, format_card)
    return 0


def add_parser(groups: Any) -> argparse.ArgumentParser:
    """Register ``accounts`` (hot, show) on the ``leadscore`` command's sub-parsers."""
    parser, commands = command_group(
        groups, "accounts", "the account hot list, or one account's card", __doc__
    )
    hot = commands.add_parser("hot", help="the account hot list, highest score first")
    hot.add_argument("--tier", help="sales_ready and/or warm, comma-separated (default both)")
    hot.add_argument("--limit", type=_positive, default=20, help="how many accounts (default 20)")
    hot.add_argument("--json", action="store_true", help="the rows as JSON (the API's GET /accounts rows)")
    add_targets(hot, local=False)
    hot.set_defaults(func=guarded("accounts", cmd_hot))
    show = commands.add_parser("show", help="one account's card: score, members, committee, activity")
    show.add_argument("domain", help="the company domain, e.g. contoso.com")
    show.add_argument(
        "--json", action="store_true", help="the card as JSON (the API's GET /accounts/{domain})"
    )
    add_targets(show, local=False)
    show.set_defaults(func=guarded("accounts", cmd_show))
    return parser
