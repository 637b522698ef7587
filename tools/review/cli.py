"""`leadscore review`: learn from which leads converted; propose the threshold and the weights.

    leadscore review SOURCE [--rules FILE] [--since DATE] [--horizon 90d] [--as-of 14d]
                     [--capacity 40/week] [--target-precision 0.3] [--holdout 0.3]
                     [--json] [--html FILE] [--propose FILE]

    SOURCE: --stack NAME | --table NAME | --local [--url URL] | --simulate SEED [--leads N] | --input FILE

Where the leads come from:
- ``--stack NAME`` / ``--table NAME``: the leads table, read with your AWS credentials (a Scan of the
  lead items, then each lead's history items; nothing is written). The rules are ``--rules FILE``,
  else the stack's rules in force, else ``rules/example.yaml``.
- ``--local``: the stack of ``make serve``, through its local-only ``/_local/export`` endpoint.
- ``--simulate SEED``: the seeded funnel of :mod:`tools.review.simulate` (``--leads``, ``--weeks``),
  whose hidden truth the report then shows beside the hand and learned scores.
- ``--input FILE``: JSON lines, one lead a line: ``{"state": ..., "history": [...]}`` (what
  ``/_local/export`` answers), or ``{"pk": ..., "items": [...]}``: a partition of DynamoDB's export
  to S3, grouped by the DuckDB query ``tools.review.sql.GROUP_EXPORT`` (docs/review.md).

Leads stream through: memory is bounded by ``--sample`` rows whatever the number of leads.

Exit codes: 0 ok; 2 bad arguments or the source cannot be read; 3 too little data to review.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadscore.models.event import CanonicalEvent
from leadscore.rules.compiler import CompiledRules
from leadscore.scoring.state import LeadState

from tools.review.analysis import Analysis, Collector, TooLittleData, analyse, parse_capacity
from tools.review.features import Featurizer, Row

DEFAULT_RULES = Path("rules/example.yaml")
Record = tuple[LeadState, list[CanonicalEvent], float | None]


class ReviewError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def parse_days(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhw]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: give a duration such as 90d, 2w or 36h")
    value = float(match.group(1))
    return value * {"": 1.0, "d": 1.0, "w": 7.0, "h": 1 / 24}[match.group(2)]


def parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give an ISO date, e.g. 2026-01-01") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- sources
def simulated(seed: int, leads: int, weeks: int) -> Iterator[Record]:
    from tools.review.simulate import simulate

    for lead in simulate(seed, leads, weeks):
        yield lead.state, lead.history, lead.truth


def from_table(table: str) -> Iterator[Record]:
    """Every lead with its history, from ONE Scan of the table (lead items and history items; dedupe
    pages are filtered out). A Scan returns the items of a partition together, in sort-key order, so
    a lead is complete when the next partition starts: one lead in memory at a time, and no Query
    per lead (a 10^6-lead table would otherwise cost 10^6 requests)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from leadscore.dal.keys import EVENT_PREFIX, LEAD_SK
    from leadscore.dal.leads import paginate

    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "sk = :lead OR begins_with(sk, :ev)",
        "ExpressionAttributeValues": {":lead": {"S": LEAD_SK}, ":ev": {"S": EVENT_PREFIX}},
    }
    pk: str | None = None
    items: list[dict[str, Any]] = []
    try:
        for page in paginate("scan", kwargs):
            for item in page.get("Items", []):
                if item["pk"]["S"] != pk:
                    yield from _assemble(items)
                    pk, items = item["pk"]["S"], []
                items.append(item)
    except (ClientError, BotoCoreError) as exc:
        raise ReviewError(f"cannot read table {table}: {exc}") from None
    yield from _assemble(items)


def _assemble(items: list[dict[str, Any]]) -> Iterator[Record]:
    """One lead from the items of its partition (the lead item, its journal and history items; in
    DynamoDB's JSON, binary values as bytes or base64 as an export writes them), if it has a lead item."""
    from leadscore.dal.items import from_item, history_entries
    from leadscore.dal.keys import LEAD_SK

    state: LeadState | None = None
    events: dict[str, CanonicalEvent] = {}
    for item in items:
        if item["sk"]["S"] == LEAD_SK:
            state = from_item(item)
        for event, _ in history_entries(item):  # history items, and the lead item's journal
            events.setdefault(event.event_id, event)
    if state is not None:
        yield state, list(events.values()), None


def export_line(state: LeadState, history: list[CanonicalEvent]) -> str:
    """One lead of a review export (JSON lines)."""
    return json.dumps(
        {
            "state": state.model_dump(mode="json", include={"lead_id", "email", "created_at", "outcomes"}),
            "history": [e.model_dump(mode="json", exclude_none=True) for e in history],
        },
        ensure_ascii=False,
    )


def from_lines(lines: Iterator[str], where: str) -> Iterator[Record]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "items" in row:  # a partition of a DynamoDB export, grouped by sql.GROUP_EXPORT
                yield from _assemble(row["items"])
                continue
            state = LeadState.model_validate(row["state"])
            history = [CanonicalEvent.model_validate(e) for e in row.get("history", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise ReviewError(f"{where}:{number}: not a review export line ({exc})") from None
        yield state, history, None


def from_file(path: Path) -> Iterator[Record]:
    try:
        with path.open(encoding="utf-8") as handle:
            yield from from_lines(iter(handle), str(path))
    except OSError as exc:
        raise ReviewError(f"cannot read {path}: {exc}") from None


def from_local(url: str) -> Iterator[Record]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_local/export", timeout=60) as response:
            yield from from_lines((raw.decode("utf-8") for raw in response), "local export")
    except (urllib.error.URLError, OSError) as exc:
        raise ReviewError(
            f"cannot reach the local server at {url} ({exc}); is `make serve` running?"
        ) from None


def records(args: argparse.Namespace) -> Iterator[Record]:
    if args.simulate is not None:
        return simulated(args.simulate, args.leads, args.weeks)
    if args.input:
        return from_file(Path(args.input))
    if args.local:
        import os

        from tools.leads_cli import DEFAULT_LOCAL_URL, LOCAL_URL_ENV

        return from_local(args.url or os.environ.get(LOCAL_URL_ENV) or DEFAULT_LOCAL_URL)
    if args.stack:
        from tools.leads_cli import LeadsCliError, table_from_stack

        try:
            return from_table(table_from_stack(args.stack))
        except LeadsCliError as exc:
            raise ReviewError(str(exc)) from None
    return from_table(args.table)


def load_rules(args: argparse.Namespace) -> tuple[Path | None, Any, CompiledRules]:
    """(file, the validated document, compiled rules): ``--rules``, the stack's, or the example."""
    from leadscore.errors import LeadscoreError
    from leadscore.rules.compiler import parse_document

    from tools.rules_source import compile_file, read_document

    path = Path(args.rules) if args.rules else None
    if path is None and args.stack:
        published = _published_rules(args.stack)
        if published is not None:
            return published
    path = path or DEFAULT_RULES
    try:
        return path, parse_document(read_document(path)), compile_file(path)[1]
    except (OSError, LeadscoreError) as exc:
        raise ReviewError(f"cannot use rules {path}: {exc}") from None


def _published_rules(stack: str) -> tuple[None, Any, CompiledRules] | None:
    """The stack's rules in force (``rules/current.json`` in its rules bucket), or None."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
    from leadscore.errors import LeadscoreError
    from leadscore.rules.compiler import load_rules as compile_rules
    from leadscore.rules.compiler import parse_document

    from tools.leads_cli import LeadsCliError, stack_output

    try:
        bucket = stack_output(stack, "RulesBucketName")
        got = boto3.client("s3").get_object(Bucket=bucket, Key="rules/current.json")
        body = got["Body"].read()
        return None, parse_document(json.loads(body)), compile_rules(body, got.get("VersionId"))
    except (LeadsCliError, LeadscoreError, ClientError, BotoCoreError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- the run
def collect(args: argparse.Namespace, rules: CompiledRules, now: datetime) -> tuple[Featurizer, Collector]:
    featurizer = Featurizer.for_rules(
        rules, as_of_days=args.as_of, horizon_days=args.horizon, now=now, since=args.since, model=args.model
    )
    collector = Collector(featurizer.rule_ids, sample_cap=args.sample, seed=0)
    rows_out = getattr(args, "rows_out", None)
    with contextlib.ExitStack() as stack:
        writer = None
        if rows_out:
            import csv

            writer = csv.writer(stack.enter_context(Path(rows_out).open("w", newline="", encoding="utf-8")))
            writer.writerow(["lead_id", "decided_at", "converted", "score", "grade", *featurizer.rule_ids])
        for state, history, truth in records(args):
            row = featurizer.row(state, history)
            if isinstance(row, Row):
                collector.add(row, truth)
                if writer is not None:
                    writer.writerow(
                        [row.lead_id, row.decided_at, int(row.converted), row.score, row.grade, *row.x]
                    )
            else:
                collector.skip(row)
    return featurizer, collector


def review(args: argparse.Namespace) -> tuple[Analysis, Featurizer, Any]:
    if args.simulate is not None and args.now is None:
        from tools.review.simulate import now_for

        now = now_for(args.weeks)
    else:
        now = args.now or datetime.now(UTC)
    path, document, rules = load_rules(args)
    featurizer, collector = collect(args, rules, now)
    hand = [r.points for r in (*featurizer.model.fit, *featurizer.model.activity)]
    capacity = parse_capacity(args.capacity) if args.capacity else None
    analysis = analyse(
        collector,
        hand,
        capacity=capacity,
        target_precision=args.target_precision,
        holdout=args.holdout,
        horizon_days=args.horizon,
        as_of_days=args.as_of,
        keep=[r.disqualify for r in (*featurizer.model.fit, *featurizer.model.activity)],
    )
    analysis.report["source"] = source_label(args)
    analysis.report["rules_version"] = rules.label or rules.version
    analysis.report["rules_file"] = str(path) if path else None
    analysis.report["model"] = featurizer.model.name
    analysis.report["reviewed_at"] = now.strftime("%Y-%m-%d %H:%M UTC")
    return analysis, featurizer, document


def source_label(args: argparse.Namespace) -> str:
    if args.simulate is not None:
        return f"simulated funnel, seed {args.simulate}, {args.leads} leads over {args.weeks} weeks"
    if args.input:
        return f"export {args.input}"
    if args.local:
        return "local stack"
    return f"stack {args.stack}" if args.stack else f"table {args.table}"


def cmd_review(args: argparse.Namespace) -> int:
    from tools.review import report as render

    try:
        analysis, featurizer, document = review(args)
    except TooLittleData as exc:
        print(f"leadscore review: {exc}", file=sys.stderr)
        return 3
    except (ReviewError, ValueError) as exc:
        print(f"leadscore review: {exc}", file=sys.stderr)
        return getattr(exc, "code", 2)
    if args.propose:
        if document is None:
            print("leadscore review: --propose needs --rules FILE (the file to propose new points for)")
            return 2
        from tools.review.propose import write_proposal

        diff = write_proposal(document, featurizer, analysis, Path(args.propose), args.horizon)
        analysis.report["proposal"] = {"file": args.propose, "diff": diff}
    if args.html:
        Path(args.html).write_text(render.html(analysis.report), encoding="utf-8")
        analysis.report["html"] = args.html
    if args.json:
        print(json.dumps(analysis.report, indent=1, default=float))
    else:
        print("\n".join(render.text(analysis.report)))
    return 0


def demo_report(html_path: Path, propose_path: Path, seed: int = 2026, leads: int = 4_000) -> list[str]:
    """What ``make demo`` ends with: a review of the simulated funnel, written as HTML and as a
    proposed rules file; returns the headline lines to print."""
    from tools.review import report as render
    from tools.review.propose import write_proposal

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    argv = ["review", "--simulate", str(seed), "--leads", str(leads), "--capacity", "20/week"]
    args = parser.parse_args([*argv, "--rules", str(DEFAULT_RULES)])
    analysis, featurizer, document = review(args)
    write_proposal(document, featurizer, analysis, propose_path, args.horizon)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render.html(analysis.report), encoding="utf-8")
    lines = [f"  {k + ':':<40} {v}" for k, v in render.headline(analysis.report)]
    flagged = [r["rule"] for r in analysis.report["rules"] if r["verdict"] in ("does not predict",)]
    flagged += [r["rule"] for r in analysis.report["rules"] if r["verdict"].startswith("adds nothing")]
    lines.append(f"  {'Rules that do not predict:':<40} {', '.join(flagged) or 'none'}")
    return lines


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "review",
        help="learn from outcomes: benchmarks, threshold, rule lift, proposed weights",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack")
    where.add_argument("--table")
    where.add_argument("--local", action="store_true")
    where.add_argument("--simulate", type=int, metavar="SEED")
    where.add_argument("--input", metavar="FILE", help="a JSON-lines review export")
    p.add_argument("--url", help="the local server (--local)")
    p.add_argument("--leads", type=int, default=20_000, help="simulated leads (--simulate)")
    p.add_argument("--weeks", type=int, default=52, help="simulated weeks (--simulate)")
    p.add_argument("--rules", help="the rules to review (default: the stack's, else rules/example.yaml)")
    p.add_argument("--model", help="the scoring model to review (default: the first)")
    p.add_argument("--since", type=parse_time, help="only leads first seen from this date")
    p.add_argument("--now", type=parse_time, help="review as of this time (default: now)")
    p.add_argument("--horizon", type=parse_days, default=90.0, help="conversion window (default 90d)")
    p.add_argument("--as-of", type=parse_days, default=14.0, help="decision point after first seen (14d)")
    p.add_argument("--capacity", help="leads sales can take, e.g. 40/week")
    p.add_argument("--target-precision", type=float, help="e.g. 0.3: at least 30%% of handed leads convert")
    p.add_argument("--holdout", type=float, default=0.3, help="newest share held out (default 0.3)")
    p.add_argument("--sample", type=int, default=250_000, help="rows kept for fitting (bounded memory)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--html", metavar="FILE")
    p.add_argument("--propose", metavar="FILE", help="write the rules file with learned points (+ FILE.diff)")
    p.add_argument(
        "--rows-out",
        metavar="FILE.csv",
        help="also stream every lead's row (for DuckDB/Athena; docs/review.md)",
    )
    p.set_defaults(func=cmd_review)
