"""`leadscore privacy forget EMAIL`: the right to erasure, from a terminal.

    leadscore privacy forget EMAIL (--stack NAME | --table NAME) [--yes]

Deletes the lead, its whole history and the anonymous leads merged into it, directly in the table
with your AWS credentials (set AWS_ENDPOINT_URL for the local stack). The deployed stack also has
an ErasureFunction for workflows: `aws lambda invoke --function-name <ErasureFunction> --payload
'{"email": "..."}'`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _table(args: argparse.Namespace) -> str:
    from tools.leads_cli import table_from_stack

    return str(args.table) if args.table else table_from_stack(args.stack)


def cmd_forget(args: argparse.Namespace) -> int:
    from leadscore.dal.leads import LeadRepository, erase_lead
    from leadscore.models.event import lead_id_for_email, normalize_email

    try:
        email = normalize_email(args.email)
    except ValueError:
        print(f"not an email address: {args.email!r}", file=sys.stderr)
        return 2
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Erase {email} and all its history? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1
    from tools.leads_cli import LeadsCliError

    try:
        table = _table(args)
    except LeadsCliError as exc:
        print(f"leadscore privacy: {exc}", file=sys.stderr)
        return exc.code
    deleted = erase_lead(LeadRepository(table), lead_id_for_email(email))
    print(f"erased lead {lead_id_for_email(email)}: {deleted} item(s) deleted")
    return 0


def add_parser(sub: Any) -> None:
    privacy = sub.add_parser("privacy", help="erase a lead on request").add_subparsers(
        dest="command", required=True
    )
    p = privacy.add_parser("forget", help="delete a lead and its history")
    p.add_argument("email")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack")
    target.add_argument("--table")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_forget)
