"""`leadscore leads ...`: what sales reads, from a terminal.

    leadscore leads show EMAIL|ID [--json] [--history N]  TARGET
    leadscore leads hot [--tier T[,T...]] [--limit N] [--json]  TARGET
    leadscore leads export [-o FILE]  TARGET     JSON lines for `rules test` / `rules diff`

    TARGET: --local [--url URL] | --stack NAME | --table NAME

Where the leads are read:
- ``--stack NAME``: a deployed stack. Its ``LeadsTableName`` output is read from CloudFormation and the
  table is read directly (``LeadRepository``) with your own AWS credentials (profile, environment...):
  you need cloudformation:DescribeStacks, dynamodb:GetItem and dynamodb:Query on the table and its
  ``hot`` index. Nothing goes through the HTTP API.
- ``--table NAME``: the same, for a table you name yourself.
- ``--local``: the stack of ``make serve``, through its local-only endpoints ``/_local/cards/{lead}`` and
  ``/_local/hot`` (default ``http://127.0.0.1:3000``; ``--url`` or ``$LEADSCORE_LOCAL_URL`` for
  another). They answer with the same JSON as the Lead API's ``GET /leads/{lead}`` and ``GET /leads``.

Exit codes: 0 ok; 1 no such lead; 2 bad arguments or the target cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import quote, urlencode

DEFAULT_LOCAL_URL = "http://127.0.0.1:3000"
LOCAL_URL_ENV = "LEADSCORE_LOCAL_URL"
MAX_PAGE = 100


class LeadsCliError(Exception):
    """A message for the user, and the exit code to go with it."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Source(Protocol):
    """Where cards and hot-list pages come from (a table, or the local server)."""

    def card(self, ref: str, history: int) -> dict[str, Any]: ...

    def hot_page(self, tiers: str | None, limit: int, cursor: str | None) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------- sources
class TableSource:
    """Reads the leads table directly with the caller's AWS credentials."""

    def __init__(self, table: str, rules: Any = None) -> None:
        from leadscore.dal.leads import LeadRepository

        self.repo = LeadRepository(table)
        self.rules = rules  # CompiledRules: the cards then carry per-rule contributions

    def card(self, ref: str, history: int) -> dict[str, Any]:
        from leadscore.api.errors import InvalidFieldError, LeadNotFoundError
        from leadscore.api.service import get_card

        try:
            return get_card(self.repo, ref, history, rules=self.rules)
        except LeadNotFoundError:
            raise LeadsCliError(f"no lead {ref}", 1) from None
        except InvalidFieldError as exc:
            raise LeadsCliError(exc.message) from None

    def hot_page(self, tiers: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        from leadscore.api.errors import InvalidFieldError
        from leadscore.api.models import HotListQuery
        from leadscore.api.service import hot_list
        from pydantic import ValidationError

        params: dict[str, Any] = {"limit": limit}
        if tiers:
            params["tier"] = tiers
        if cursor:
            params["cursor"] = cursor
        try:
            return hot_list(self.repo, HotListQuery.model_validate(params), self.rules)
        except ValidationError as exc:
            raise LeadsCliError(_first_error(exc)) from None
        except InvalidFieldError as exc:
            raise LeadsCliError(exc.message) from None


def stack_output(stack: str, name: str) -> str:
    """One output of the stack (CloudFormation, the caller's credentials)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise LeadsCliError(f"cannot read stack {stack}: {exc}") from None
    for output in described.get("Outputs", []):
        if output["OutputKey"] == name:
            return str(output["OutputValue"])
    raise LeadsCliError(f"stack {stack} has no {name} output")


def table_from_stack(stack: str) -> str:
    return stack_output(stack, "LeadsTableName")


def rules_for(args: argparse.Namespace) -> Any:
    """The rules that explain cards: ``--rules FILE``, else the stack's rules in force, else None."""
    from pathlib import Path

    from leadscore.errors import LeadscoreError

    from tools.rules_source import compile_file

    if getattr(args, "rules", None):
        try:
            return compile_file(Path(args.rules))[1]
        except (OSError, LeadscoreError) as exc:
            raise LeadsCliError(f"cannot use {args.rules}: {exc}") from None
    if not args.stack:
        return None
    from leadscore.dal.rules_store import RulesStore

    try:
        return RulesStore(stack_output(args.stack, "RulesBucketName"), "rules/current.json", 60).current()
    except (LeadsCliError, LeadscoreError):
        return None  # no rules published: the cards carry their reasons, not per-rule contributions


class LocalSource:
    """The `make serve` server's local-only endpoints (no credentials: they exist only locally)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str) -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + path, timeout=self.timeout) as response:
                return int(response.status), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"null")
            except ValueError:
                return exc.code, None
        except (urllib.error.URLError, OSError) as exc:
            raise LeadsCliError(
                f"cannot reach the local server at {self.url} ({exc}); is `make serve` running?"
            ) from None

    def card(self, ref: str, history: int) -> dict[str, Any]:
        status, body = self._get(f"/_local/cards/{quote(ref, safe='@')}?{urlencode({'history': history})}")
        return self._answer(status, body, ref)

    def hot_page(self, tiers: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        params = (
            {"limit": str(limit)}
            | ({"tier": tiers} if tiers else {})
            | ({"cursor": cursor} if cursor else {})
        )
        status, body = self._get(f"/_local/hot?{urlencode(params)}")
        return self._answer(status, body, "hot list")

    def _answer(self, status: int, body: Any, what: str) -> dict[str, Any]:
        if status == 404:
            raise LeadsCliError(f"no lead {what}", 1)
        if status != 200 or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            raise LeadsCliError(f"local server answered {status}: {message or body}")
        return body


def _first_error(exc: Any) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(p) for p in error["loc"])
    return f"{field}: {error['msg']}" if field else str(error["msg"])


def source_for(args: argparse.Namespace) -> Source:
    if args.local:
        return LocalSource(args.url or os.environ.get(LOCAL_URL_ENV) or DEFAULT_LOCAL_URL)
    table = table_from_stack(args.stack) if args.stack else args.table
    return TableSource(table, rules_for(args))


def hot_rows(source: Source, tiers: str | None, limit: int) -> Iterator[dict[str, Any]]:
    """Up to ``limit`` hot-list rows, following the cursor page by page."""
    cursor: str | None = None
    left = limit
    while left > 0:
        page = source.hot_page(tiers, min(left, MAX_PAGE), cursor)
        for row in page["leads"][:left]:
            yield row
            left -= 1
        cursor = page.get("next_cursor")
        if not cursor:
            return


# ---------------------------------------------------------------------------------------------- formatting
def _num(value: Any) -> str:
    if value is None:
        return "-"
    number = float(value)
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}"


def _points(value: float) -> str:
    return f"{value:+.0f}" if float(value).is_integer() else f"{value:+.1f}"


def _when(iso: str | None) -> str:
    return iso.replace("T", " ")[:16] if iso else "-"


def _epoch(value: int | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _who(record: dict[str, Any]) -> str:
    """Who made an adjustment or outcome: the person's name (``by_name``), else the ARN."""
    from leadscore.principals import principal_name

    return str(record.get("by_name") or principal_name(str(record.get("by", ""))))


def _timeline(points: list[dict[str, Any]]) -> list[str]:
    """The score over the lead's history: a sparkline and the tiers it went through."""
    from leadscore.scoring.timeline import ScorePoint, sparkline, tier_runs

    if not points:
        return []
    timeline = [ScorePoint.from_json(p) for p in points]
    per_mark = f"{timeline[0].days} day{'s' if timeline[0].days != 1 else ''} per mark"
    return [
        f"Timeline: {sparkline(timeline)}  ({timeline[0].day} to today, {per_mark})",
        f"          {tier_runs(timeline)}",
    ]


def _models(models: list[dict[str, Any]]) -> list[str]:
    """Each model's score, tier and grade, when more than one model scored the lead."""
    if len(models) < 2:
        return []
    width = max(len(str(m.get("model"))) for m in models)
    lines = ["", "Models:"]
    for m in models:
        note = "primary" if m.get("primary") else f"threshold {_num(m.get('threshold'))}"
        score, tier = _num(m.get("score")), str(m.get("tier"))
        row = f"  {m.get('model')!s:<{width}}  {score:>6}  {tier:<12} {m.get('grade')}"
        lines.append(f"{row}  ({note})")
    return lines


def format_card(card: dict[str, Any]) -> list[str]:
    """A score card (the API's GET /leads/{lead} JSON) as a rep reads it."""
    profile = card.get("profile") or {}
    named = card.get("email") and card["name"] != card["email"]  # an unnamed lead is named by its email
    lines = [f"{card['name']} <{card['email']}>" if named else str(card["name"])]
    role = ", ".join(str(profile[k]) for k in ("job_title", "company") if profile.get(k))
    details = [
        f"{_num(profile['company_size'])} employees" if profile.get("company_size") is not None else "",
        str(profile.get("industry") or ""),
        str(profile.get("country") or ""),
    ]
    details = [d for d in details if d]
    if role or details:
        lines.append(role + (f" ({', '.join(details)})" if details else ""))
    lines.append(f"lead id {card['lead_id']}")
    if card.get("owner"):
        queue = f" (queue {card['owner_queue']}, route {card['route']})" if card.get("owner_queue") else ""
        lines.append(f"Owner:    {card['owner']}{queue}")
    summary = (card.get("consent") or {}).get("summary")
    if summary:
        lines.append(str(summary))  # "Do not email: unsubscribed 2026-11-18"
    lines.append("")
    if card.get("score") is None:
        lines.append("Not scored yet.")
        return lines
    flags = "".join(
        f"    {flag}"
        for flag, on in (("SURGE", card.get("surge")), ("DISQUALIFIED", card.get("disqualified")))
        if on
    )
    lines += [
        f"Score:    {_num(card['score'])} (fit {_num(card['fit'])}, activity {_num(card['activity'])});"
        f" threshold {_num(card['threshold'])}",
        f"Tier:     {card['tier']}    Grade: {card['grade']}{_stage(card)}{flags}",
    ]
    if card.get("likelihood"):
        lines.append(f"Likely:   {card['likelihood']}")
    categories = card.get("categories") or {}
    if categories:
        ranked = sorted(categories.items(), key=lambda kv: -kv[1])
        lines.append("Interest: " + ", ".join(f"{k} {_num(v)}" for k, v in ranked))
    lines += _models(card.get("models") or [])
    lines += _timeline(card.get("score_history") or [])
    lines += ["", "Why:"] + [f"  - {r}" for r in card.get("reasons") or []]
    contributions = card.get("contributions") or []
    if contributions:
        width = max(len(str(c["rule"])) for c in contributions)
        lines += ["", "Contributions:"]
        for c in contributions:
            count = f"{c['count']}x" if c["kind"] == "activity" else ""
            last = f"last {_epoch(c.get('last_seen'))}" if c.get("last_seen") else ""
            category = c.get("category") or ""
            row = f"  {_points(c['points']):>6}  {c['rule']:<{width}}  {c['kind']:<10} {count:>4}"
            lines.append(f"{row}  {category:<14} {last}".rstrip())
    if card.get("adjustments"):
        lines += ["", "Adjustments:"]
        for a in card["adjustments"]:
            dq = " [disqualifies]" if a.get("disqualify") else ""
            lines.append(f"  {_epoch(a['at'])}  {_points(a['points']):>5}  {a['reason']}{dq}  (by {_who(a)})")
    if card.get("outcomes"):
        lines += ["", "Outcomes:"]
        for o in card["outcomes"]:
            amount = (
                f" {_num(o['amount'])}{' ' + o['currency'] if o.get('currency') else ''}"
                if o.get("amount") is not None
                else ""
            )
            at_time = f"score {_num(o.get('score_at_outcome'))} {o.get('grade_at_outcome') or ''}".rstrip()
            note = f'  "{o["note"]}"' if o.get("note") else ""
            lines.append(f"  {_epoch(o['at'])}  {o['status']}{amount}  ({at_time}; by {_who(o)}){note}")
    lines += _stage_moves(card.get("stage_moves") or [])
    history = card.get("history") or []
    if history:
        lines += ["", "Recent history (newest first):"]
        for h in history:
            what = " ".join(str(x) for x in (h.get("name"), h.get("path")) if x)
            note = "" if h.get("scored") else f"  [not scored: {h.get('note')}]"
            lines.append(f"  {_when(h['occurred_at'])}  {h['type']:<14} {what}{note}".rstrip())
    lines += [
        "",
        f"Rules version {card.get('rules_version') or '-'}; scored {_when(card.get('computed_at'))} UTC;"
        f" decay next changes it {_when(card.get('due_at')) if card.get('due_at') else 'never'}"
        + (" UTC" if card.get("due_at") else ""),
    ]
    return lines


STAGE_MOVES_SHOWN = 5


def _stage(card: dict[str, Any]) -> str:
    return f"    Stage: {card['stage']}" if card.get("stage") else ""


def _stage_moves(moves: list[dict[str, Any]]) -> list[str]:
    """The newest lifecycle moves: when, from -> to, by whom, why."""
    if not moves:
        return []
    lines = ["", "Stage moves (newest last):"]
    for m in moves[-STAGE_MOVES_SHOWN:]:
        why = f"  {m['why']}" if m.get("why") else ""
        lines.append(f"  {_when(m['at'])}  {m.get('from_stage') or '-'} -> {m['to']}  (by {_who(m)}){why}")
    return lines


def format_hot(rows: list[dict[str, Any]]) -> list[str]:
    """Hot-list rows (the API's GET /leads JSON) as a table, highest first."""
    if not rows:
        return ["No leads."]
    who = [str(r.get("email") or r["lead_id"]) for r in rows]
    width = max(5, *(len(w) for w in who))
    tier = max(4, *(len(str(r.get("tier"))) for r in rows))
    # an owner column once routing (or a form) gave any lead on the page an owner
    owners = [str(r.get("owner") or "-") for r in rows] if any(r.get("owner") for r in rows) else None
    owner_width = max(5, *(len(o) for o in owners)) if owners else 0
    owner_head = f"{'owner':<{owner_width}}  " if owners else ""
    lines = [
        f"{'score':>6}  {'tier':<{tier}}  {'grade':<5}  {'lead':<{width}}  {owner_head}"
        f"{'top interest':<14}  top reasons"
    ]
    for n, (row, name) in enumerate(zip(rows, who, strict=True)):
        reasons = "; ".join(row.get("reasons") or []) or "-"
        surge = " SURGE" if row.get("surge") else ""
        score, grade = _num(row.get("score")), str(row.get("grade"))
        owner = f"{owners[n]:<{owner_width}}  " if owners else ""
        lines.append(
            f"{score:>6}  {row.get('tier')!s:<{tier}}  {grade:<5}  {name:<{width}}  {owner}"
            f"{row.get('top_category') or '-':<14}  {reasons}{surge}"
        )
    return lines


# ---------------------------------------------------------------------------------------------- commands
def emit(value: Any, as_json: bool, lines: Callable[[Any], list[str]]) -> None:
    """A command's result on stdout: the API's JSON with --json, else ``lines(value)`` for a person."""
    print(json.dumps(value, indent=1, ensure_ascii=False) if as_json else "\n".join(lines(value)))


def cmd_show(args: argparse.Namespace) -> int:
    emit(source_for(args).card(args.lead, args.history), args.json, format_card)
    return 0


def cmd_hot(args: argparse.Namespace) -> int:
    emit(list(hot_rows(source_for(args), args.tier, args.limit)), args.json, format_hot)
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    """Rebuild a lead from its stored history with the given rules (after a rules change), or every
    lead of a stack with the rules in force (``--all``: fanned out, resumable)."""
    if args.local:
        return _rescore_local(args)
    if args.all or args.status or args.resume:
        return _rescore_all(args)
    if not args.lead or not args.rules:
        raise LeadsCliError("give a lead and --rules FILE, or --all")
    from pathlib import Path

    from leadscore import clock
    from leadscore.dal.leads import LeadRepository
    from leadscore.errors import RulesValidationError
    from leadscore.models.event import lead_id_for_email
    from leadscore.services.scoring import rescore_from_history

    from tools.rules_source import compile_file

    try:
        _, rules = compile_file(Path(args.rules))
    except (OSError, RulesValidationError) as exc:
        raise LeadsCliError(f"cannot use {args.rules}: {exc}") from None
    table = args.table or table_from_stack(args.stack)
    lead_id = lead_id_for_email(args.lead) if "@" in args.lead else args.lead
    state = rescore_from_history(LeadRepository(table), lead_id, rules, clock.now(), args.threshold)
    if state is None or state.card is None:
        raise LeadsCliError(f"no lead {args.lead}", code=1)
    card = state.card
    print(f"rescored {lead_id}: {card.score:g} {card.tier} {card.grade} with rules {rules.version}")
    return 0


def _rescore_local(args: argparse.Namespace) -> int:
    """``--local``: the `make serve` stack rebuilds the lead (or, with ``--all``, every lead) in-process
    through its local-only ``POST /_local/rescore[/{lead}]``: the same rebuild as ``--table``."""
    import urllib.error
    import urllib.request
    from pathlib import Path

    from leadscore.errors import RulesValidationError

    from tools.rules_source import compile_file

    if args.status or args.resume:
        raise LeadsCliError("--status and --resume follow a deployed stack's job: use --stack NAME")
    if args.all == bool(args.lead):
        raise LeadsCliError("give a lead and --rules FILE, or --all")
    if args.lead and not args.rules:
        raise LeadsCliError("give a lead and --rules FILE, or --all")
    body = None
    if args.rules:
        try:
            body = compile_file(Path(args.rules))[0]
        except (OSError, RulesValidationError) as exc:
            raise LeadsCliError(f"cannot use {args.rules}: {exc}") from None
    url = (args.url or os.environ.get(LOCAL_URL_ENV) or DEFAULT_LOCAL_URL).rstrip("/") + "/_local/rescore"
    if args.lead:
        url += "/" + quote(args.lead, safe="@")
    params = ({"threshold": f"{args.threshold:g}"} if args.threshold is not None else {}) | (
        {"alerts": "1"} if args.alerts else {}
    )
    if params:
        url += "?" + urlencode(params)
    request = urllib.request.Request(url, data=body or b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message")
        except ValueError:
            message = None
        if exc.code == 404:
            raise LeadsCliError(f"no lead {args.lead}", code=1) from None
        raise LeadsCliError(f"local server answered {exc.code}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LeadsCliError(f"cannot reach the local server ({exc}); is `make serve` running?") from None
    for row in answer["rescored"]:
        print(
            f"rescored {row['lead_id']}: {row['score']:g} {row['tier']} {row['grade']} "
            f"with rules {answer['rules_version']}"
        )
    if args.all:
        print(f"{len(answer['rescored'])} lead(s) rescored on the local stack")
    return 0


def _rescore_all(args: argparse.Namespace) -> int:
    """``--all``: one job message per scan segment on the stack's sweep queue; the stack's workers
    rebuild every lead from its history with the rules in force. ``--resume JOB`` sends again the
    segments not finished (each from where it stopped); ``--status JOB`` only shows the progress."""
    import secrets
    import time
    from datetime import UTC, datetime

    from leadscore.dal.jobs import JobMessage, Jobs

    if not args.stack:
        raise LeadsCliError("--all runs on a deployed stack's workers: use --stack NAME")
    if args.rules or args.lead:
        raise LeadsCliError("--all rescores every lead with the rules in force: publish the rules first")
    jobs = Jobs(table_from_stack(args.stack), stack_output(args.stack, "SweepQueueUrl"))
    job = args.status or args.resume
    if job is None:
        job = datetime.now(UTC).strftime("r%Y%m%dT%H%M%S-") + secrets.token_hex(2)
        jobs.create(job, args.segments, args.alerts, int(time.time()))
        jobs.enqueue(
            [
                JobMessage(kind="rescore", job=job, segment=n, total=args.segments, alerts=args.alerts)
                for n in range(args.segments)
            ]
        )
        print(f"job {job}: {args.segments} segments queued (--status {job} shows progress, --resume resends)")
    meta, segments = jobs.progress(job)
    if meta is None:
        raise LeadsCliError(f"no rescore job {job}", code=1)
    if args.resume:
        done = {s.segment for s in segments if s.done}
        starts = {s.segment: s.start for s in segments}
        again = [
            JobMessage(
                kind="rescore",
                job=job,
                segment=n,
                total=meta["total"],
                alerts=meta["alerts"],
                start=starts.get(n),
            )
            for n in range(meta["total"])
            if n not in done
        ]
        jobs.enqueue(again)
        print(f"job {job}: {len(again)} unfinished segments queued again")
    deadline = time.monotonic() + args.wait
    while True:
        meta, segments = jobs.progress(job)
        assert meta is not None
        print(_progress(job, meta["total"], segments), flush=True)
        finished = sum(s.done for s in segments) == meta["total"]
        if finished or time.monotonic() >= deadline:
            return 0 if finished or args.wait == 0 else 3
        time.sleep(args.poll)


def _progress(job: str, total: int, segments: list[Any]) -> str:
    done = sum(s.done for s in segments)
    visited = sum(s.visited for s in segments)
    rescored = sum(s.rescored for s in segments)
    failed = sum(s.failed for s in segments)
    return (
        f"job {job}: {done}/{total} segments done, {visited:,} leads visited, {rescored:,} rescored, "
        f"{failed:,} failed"
    )


def guarded(group: str, command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command`` of ``leadscore <group>``, a LeadsCliError printed as ``leadscore <group>: ...`` and
    returned as the exit code (``leads`` and ``accounts`` alike)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except LeadsCliError as exc:
            print(f"leadscore {group}: {exc}", file=sys.stderr)
            return exc.code

    return run


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000")
    return value


def add_targets(parser: argparse.ArgumentParser, *, local: bool = True) -> None:
    """Where a command reads: one of --stack NAME or --table NAME, and (``local``) --local [--url]."""
    group = parser.add_mutually_exclusive_group(required=True)
    if local:
        group.add_argument(
            "--local", action="store_true", help="the `make serve` stack (its /_local endpoints)"
        )
    group.add_argument("--stack", metavar="NAME", help="a deployed stack: its LeadsTableName output")
    group.add_argument("--table", metavar="NAME", help="a leads table, by name")
    if local:
        parser.add_argument(
            "--url", help=f"with --local: the server's URL (default ${LOCAL_URL_ENV} or {DEFAULT_LOCAL_URL})"
        )


def command_group(groups: Any, name: str, help: str, doc: str | None) -> tuple[argparse.ArgumentParser, Any]:
    """``leadscore <name>`` on the ``leadscore`` command's sub-parsers, its module's docstring as the
    description (kept as written), and its required sub-commands: (the parser, its sub-parsers)."""
    parser: argparse.ArgumentParser = groups.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return parser, parser.add_subparsers(dest="command", required=True)


def add_parser(groups: Any) -> argparse.ArgumentParser:
    """Register ``leads`` (show, hot) on the ``leadscore`` command's sub-parsers."""
    parser, commands = command_group(groups, "leads", "show a lead's score card, or the hot list", __doc__)
    show = commands.add_parser("show", help="one lead's score card, reasons and recent history")
    show.add_argument("lead", help="an email address or a lead id")
    show.add_argument("--json", action="store_true", help="the card as JSON (the API's GET /leads/{lead})")
    show.add_argument("--history", type=_positive, default=25, help="recent events to show (default 25)")
    show.add_argument("--rules", help="rules file explaining per-rule contributions (default: the stack's)")
    add_targets(show)
    show.set_defaults(func=guarded("leads", cmd_show))
    hot = commands.add_parser("hot", help="the hot list, highest score first")
    hot.add_argument(
        "--tier",
        help="a tier or comma-separated tiers (default: sales_ready,warm); cold leads are read by a Scan,"
        " in no score order across pages",
    )
    hot.add_argument("--limit", type=_positive, default=20, help="how many leads (default 20)")
    hot.add_argument("--json", action="store_true", help="the rows as JSON (the API's GET /leads rows)")
    hot.add_argument("--rules", help="rules file explaining the rows (default: the stack's)")
    add_targets(hot)
    hot.set_defaults(func=guarded("leads", cmd_hot))
    rescore = commands.add_parser(
        "rescore", help="rebuild a lead (or, with --all, every lead) from its history"
    )
    rescore.add_argument("lead", nargs="?", help="an email address or a lead id")
    rescore.add_argument("--rules", help="the rules file to score one lead with (YAML or JSON)")
    rescore.add_argument("--threshold", type=float, default=None, help="the SalesReadyThreshold parameter")
    rescore.add_argument("--all", action="store_true", help="every lead of --stack, with the rules in force")
    rescore.add_argument("--segments", type=_positive, default=16, help="with --all: parallel pieces (16)")
    rescore.add_argument("--alerts", action="store_true", help="with --all: a rebuild that crosses alerts")
    rescore.add_argument("--resume", metavar="JOB", help="send a job's unfinished segments again")
    rescore.add_argument("--status", metavar="JOB", help="show a job's progress")
    rescore.add_argument("--wait", type=int, default=0, help="seconds to follow the progress (default 0)")
    rescore.add_argument("--poll", type=float, default=5.0, help="seconds between progress lines")
    add_targets(rescore)
    rescore.set_defaults(func=guarded("leads", cmd_rescore))
    from tools.leads_export import cmd_export

    export = commands.add_parser(
        "export", help="every lead and its history as JSON lines (what rules test and rules diff read)"
    )
    export.add_argument("-o", "--output", help="the file to write (default: stdout)")
    add_targets(export)
    export.set_defaults(func=guarded("leads", cmd_export))
    return parser
