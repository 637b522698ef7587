"""The `leadscore` command line (dev environment): rules validate / test / publish / schema.

leadscore rules validate FILE                 exit 1 with every error (and lint), each naming rule and field
leadscore rules lint FILE                     the same: errors exit 1, warnings are printed
leadscore rules compile FILE [-o OUT.json]    YAML or JSON in, the JSON the scorer loads out
leadscore rules test FILE --leads LEADS.jsonl [--json] [--now ISO]
leadscore rules diff OLD NEW --leads LEADS.jsonl | --stack NAME [--now ISO] [--html FILE]
leadscore rules publish FILE [--bucket B | --stack NAME] [--key rules/current.json]
leadscore rules schema [-o rules/rules.schema.json]
leadscore accounts hot|show DOMAIN --stack NAME | --table NAME   (see --help)
leadscore review --stack NAME | --table NAME | --local | --simulate SEED | --input FILE  (see --help)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from leadscore.errors import RulesValidationError
from leadscore.models.event import CanonicalEvent
from leadscore.rules.model import RulesDocument

from tools.rules_source import compile_file

DEFAULT_KEY = "rules/current.json"


def cmd_validate(args: argparse.Namespace) -> int:
    """Every validation error and lint finding in one run (``tools.rules_check``)."""
    from tools.rules_check import check_file, report

    return report(check_file(Path(args.file)))


def cmd_compile(args: argparse.Namespace) -> int:
    body, rules = compile_file(Path(args.file))
    if args.output:
        Path(args.output).write_bytes(body + b"\n")
        print(f"wrote {args.output} ({len(body)} bytes, version {rules.version})")
    else:
        sys.stdout.write(body.decode() + "\n")
    return 0


def load_leads(path: Path) -> list[tuple[str, list[CanonicalEvent]]]:
    """The leads of a JSONL file as (email or lead id, events); see ``tools.rules_eval``."""
    from tools.rules_eval import LeadsFileError, read_leads

    try:
        return [(lead.label, lead.events) for lead in read_leads(path)]
    except LeadsFileError as exc:
        raise SystemExit(str(exc)) from None


def evaluation_time(text: str | None) -> datetime:
    """``--now``: an ISO time (a date alone is midnight UTC; no offset means UTC); default now."""
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--now: not an ISO date or time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_test(args: argparse.Namespace) -> int:
    from tools.rules_eval import LeadsFileError, read_leads, routing_summary, score_leads, stamp, summary

    _, rules = compile_file(Path(args.file))
    now = evaluation_time(args.now)
    try:
        leads = read_leads(Path(args.leads))
    except LeadsFileError as exc:
        raise SystemExit(str(exc)) from None
    rows = score_leads(leads, rules, now, args.threshold)
    line = summary(rows, rules, now)
    routed = routing_summary(rows, rules)  # a lead routing leaves without an owner fails the test
    code = 1 if routed is not None and any(not r["owner"] for r in rows) else 0
    if args.json:
        print(json.dumps(rows, indent=1))
        print("\n".join(x for x in (line, routed) if x), file=sys.stderr)  # stdout stays JSON
        return code
    print(f"evaluated at {stamp(now)} with {args.file} (version {rules.version})")
    owner_head = f" {'owner (queue)':<44}" if routed is not None else ""
    print(f"{'lead':<34} {'score':>7} {'tier':<13} {'grade':<5}{owner_head} top reasons")
    for r in rows:
        label = r["email"] or r["lead_id"]
        owner = ""
        if routed is not None:
            owner = f"{r['owner']} ({r['queue'] or r['route']})" if r["owner"] else "NO ROUTE"
            owner = f" {owner + ('' if r['assigned'] or not r['owner'] else ' *'):<44}"
        reasons = "; ".join(r["reasons"][:3])
        print(f"{label:<34} {r['score']:>7g} {r['tier']:<13} {r['grade']:<5}{owner} {reasons}")
    if routed is not None:
        print(routed)
    print(line)
    return code


def _bucket_from_stack(stack: str) -> str:
    import boto3

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for out in outputs:
        if out["OutputKey"] == "RulesBucketName":
            return str(out["OutputValue"])
    raise SystemExit(f"stack {stack} has no RulesBucketName output")


def cmd_publish(args: argparse.Namespace) -> int:
    from tools.rules_check import check_file, report

    check = check_file(Path(args.file))
    if not check.ok:  # lint errors too: a rule that can never fire is not published
        return report(check)
    for warning in check.warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    body, rules = compile_file(Path(args.file))
    bucket = args.bucket or (_bucket_from_stack(args.stack) if args.stack else None)
    if not bucket:
        raise SystemExit("give --bucket or --stack (set AWS_ENDPOINT_URL for the local stack)")
    import boto3

    response = boto3.client("s3").put_object(
        Bucket=bucket, Key=args.key, Body=body, ContentType="application/json"
    )
    print(f"published s3://{bucket}/{args.key} version {response.get('VersionId') or rules.version}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    schema = RulesDocument.model_json_schema(by_alias=True)
    schema["title"] = "leadscore rules document"
    text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadscore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="group", required=True)
    rules = sub.add_parser("rules", help="validate, test and publish rules").add_subparsers(
        dest="command", required=True
    )
    p = rules.add_parser("validate")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = rules.add_parser("lint", help="the semantic checks alone (validate runs them too)")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = rules.add_parser("compile")
    p.add_argument("file")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_compile)
    p = rules.add_parser("test")
    p.add_argument("file")
    p.add_argument("--leads", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--now", help="ISO time to score at (default: now)")
    p.add_argument("--threshold", type=float, default=None, help="the SalesReadyThreshold parameter")
    p.set_defaults(func=cmd_test)
    from tools.rules_diff import add_parser as add_diff_parser

    add_diff_parser(rules)  # leadscore rules diff OLD NEW
    p = rules.add_parser("publish")
    p.add_argument("file")
    p.add_argument("--bucket")
    p.add_argument("--stack")
    p.add_argument("--key", default=DEFAULT_KEY)
    p.set_defaults(func=cmd_publish)
    p = rules.add_parser("schema")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_schema)
    from tools.leads_cli import add_parser as add_leads_parser

    add_leads_parser(sub)  # leadscore leads show|hot
    from tools.accounts_cli import add_parser as add_accounts_parser

    add_accounts_parser(sub)  # leadscore accounts hot|show
    from tools.privacy_cli import add_parser as add_privacy_parser

    add_privacy_parser(sub)  # leadscore privacy forget
    from tools.review.cli import add_parser as add_review_parser

    add_review_parser(sub)  # leadscore review
    from tools.crm_cli import add_parser as add_crm_parser

    add_crm_parser(sub)  # leadscore crm hubspot create-properties
    return parser


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left (`| head`)
EXIT_INTERRUPTED = 130  # 128 + SIGINT (Ctrl-C)


def aws_problem(exc: BaseException) -> str | None:
    """One line for an AWS set-up problem (no credentials, no region, AWS refused), or None for anything
    else: a traceback helps nobody who has not configured credentials yet."""
    try:
        from botocore import exceptions as aws
    except ImportError:  # pragma: no cover - botocore is a dependency
        return None
    if isinstance(exc, aws.NoRegionError):
        return "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or a region in your AWS profile"
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return (
            "no AWS credentials: run `aws configure` (or `aws sso login`), set AWS_PROFILE, or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        text = f"AWS refused the request: {error.get('Code', '?')}: {error.get('Message', '')}"
    elif isinstance(exc, aws.BotoCoreError):
        text = f"AWS: {exc}"
    else:
        return None
    return " ".join(text.split())


def _stdout_to_devnull() -> None:
    """After a broken pipe, point stdout at /dev/null so that Python's flush at exit cannot raise again
    (the Python documentation's note on SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced by something without a descriptor
        pass


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes: its own (0 ok, 1 failed, 2 usage); 1 with one line on stderr for an
    AWS set-up problem; 141 when the reader of stdout went away (`| head`); 130 on Ctrl-C."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a broken pipe surfaces here, not at interpreter exit
        return code
    except RulesValidationError as exc:
        print(f"{getattr(args, 'file', '')}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        _stdout_to_devnull()
        with contextlib.suppress(OSError):  # stderr may be the same closed pipe (`2>&1 | head`)
            print("leadscore: output closed early (broken pipe)", file=sys.stderr)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("leadscore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        message = aws_problem(exc)
        if message is None:
            raise
        print(f"leadscore: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
