"""`leadscore leads export`: a stack's leads as JSON lines that `rules test` and `rules diff` read.

    leadscore leads export --stack NAME | --table NAME | --local [--url URL] [-o FILE]

One lead a line, in the format of ``tools.rules_eval`` (and ``rules/sample-leads.jsonl``)::

    {"email": "dana@x.io", "lead_id": "3f…", "events": [<canonical event>, …]}

``email`` is null for an anonymous lead. A lead with no stored event (an anonymous visitor merged
into a known lead: its events are the known lead's) is left out. ``events`` is the lead's whole
stored history (every event kept, scored or not, oldest first), each a ``CanonicalEvent`` as JSON.
The file holds personal data (emails, names, phone numbers in profiles): keep it where you keep the
CRM's exports.

Where the leads are read:
- ``--stack``/``--table``: ONE paginated Scan of the leads table (lead items and history items;
  dedupe pages are filtered out), the review's reader: a lead is complete when the next partition
  starts, so one lead is in memory at a time. You need dynamodb:Scan on the table.
- ``--local``: the `make serve` stack's local-only ``/_local/export``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


def export_line(state: Any, history: list[Any]) -> str:
    events = sorted(history, key=lambda e: (e.occurred_at, e.event_id))
    return json.dumps(
        {
            "email": state.email,
            "lead_id": state.lead_id,
            "events": [e.model_dump(mode="json", exclude_none=True) for e in events],
        },
        ensure_ascii=False,
    )


def records(args: argparse.Namespace) -> Iterator[tuple[Any, list[Any]]]:
    """(state, history) of every lead of the target."""
    from tools.leads_cli import DEFAULT_LOCAL_URL, LOCAL_URL_ENV, LeadsCliError, table_from_stack
    from tools.review.cli import ReviewError, from_local, from_table

    try:
        if args.local:
            rows = from_local(args.url or os.environ.get(LOCAL_URL_ENV) or DEFAULT_LOCAL_URL)
        else:
            rows = from_table(args.table or table_from_stack(args.stack))
        for state, history, _ in rows:
            # an identified visitor merged into a known lead: its events are the known lead's now
            # (the local export does not carry merged_into; such a lead has no history left)
            if state.merged_into or not history:
                continue
            yield state, history
    except ReviewError as exc:
        raise LeadsCliError(str(exc)) from None


def write_export(args: argparse.Namespace, out: TextIO) -> int:
    count = 0
    for state, history in records(args):
        out.write(export_line(state, history) + "\n")
        count += 1
    return count


def cmd_export(args: argparse.Namespace) -> int:
    if args.output:
        path = Path(args.output)
        with path.open("w", encoding="utf-8") as out:
            count = write_export(args, out)
        print(f"wrote {count} lead(s) to {path}", file=sys.stderr)
    else:
        count = write_export(args, sys.stdout)
        print(f"{count} lead(s)", file=sys.stderr)
    return 0
