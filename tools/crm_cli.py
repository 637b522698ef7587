"""``leadscore crm``: CRM write-back helpers.

- ``leadscore crm hubspot create-properties [--secret-arn ARN] [--requests-per-10s N]``: creates the
  ``leadscore`` property group and the ``leadscore_*`` contact properties the sync writes
  (idempotent: a property that exists already is reported as such). The token is read from Secrets Manager
  (``--secret-arn`` or ``HUBSPOT_TOKEN_SECRET_ARN``), the same secret the sync uses, and never printed.
  It sends at most 10 requests per 10 s by default (about 2 s of 22 requests a run), leaving the rest
  of the app's limit (100 to 190 per 10 s by HubSpot tier) to the running sync; raise it with
  ``--requests-per-10s`` when the sync is idle.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

DEFAULT_REQUESTS_PER_10S = 10


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    crm = sub.add_parser("crm", help="CRM write-back helpers (HubSpot, Salesforce)").add_subparsers(
        dest="crm_command", required=True
    )
    hubspot = crm.add_parser("hubspot", help="HubSpot").add_subparsers(dest="hubspot_command", required=True)
    p = hubspot.add_parser("create-properties", help="create the leadscore_* contact properties (idempotent)")
    p.add_argument("--secret-arn", default=None, help="Secrets Manager ARN of the token (default: env)")
    p.add_argument(
        "--requests-per-10s",
        type=int,
        default=DEFAULT_REQUESTS_PER_10S,
        help=f"client-side rate limit (default {DEFAULT_REQUESTS_PER_10S}: the rest is the sync's)",
    )
    p.set_defaults(func=lambda args: main(["hubspot", "create-properties", *_options(args)]))


def _options(args: argparse.Namespace) -> list[str]:
    arn = ["--secret-arn", args.secret_arn] if args.secret_arn else []
    return [*arn, "--requests-per-10s", str(args.requests_per_10s)]


def _option(argv: list[str], name: str) -> str | None:
    """The value after ``name``; "" when the flag ends the line (a usage error), None when absent."""
    if name not in argv:
        return None
    at = argv.index(name) + 1
    return argv[at] if at < len(argv) else ""


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """``hubspot create-properties [--secret-arn ARN] [--requests-per-10s N]``; 0 when every property
    exists afterwards, 2 on a usage error."""
    from leadscore.crm.limits import RollingWindow
    from leadscore.dal.crm_http import CrmError, CrmHttp
    from leadscore.dal.crm_secrets import hubspot_secret
    from leadscore.dal.hubspot import HubSpot

    env = os.environ if environ is None else environ
    given_arn, rate = _option(argv, "--secret-arn"), _option(argv, "--requests-per-10s")
    arn = env.get("HUBSPOT_TOKEN_SECRET_ARN", "") if given_arn is None else given_arn
    rate = str(DEFAULT_REQUESTS_PER_10S) if rate is None else rate
    if argv[:2] != ["hubspot", "create-properties"] or not arn or not rate.isdigit() or int(rate) < 1:
        print(
            "usage: leadscore crm hubspot create-properties --secret-arn ARN [--requests-per-10s N>=1]",
            file=sys.stderr,
        )
        return 2
    client = HubSpot(
        http=CrmHttp(bucket=RollingWindow(capacity=int(rate), window=10)),
        secret=lambda fresh: hubspot_secret(arn, fresh=fresh),
    )
    try:
        done = client.create_properties()
    except CrmError as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 1
    for name, what in done.items():
        print(f"{name}: {what}")
    return 0
