"""``leadscore crm``: CRM write-back helpers.

- ``leadscore crm hubspot create-properties [--secret-arn ARN]``: creates the ``leadscore`` property
  group and the ``leadscore_*`` contact properties the sync writes (idempotent: a property that
  exists already is reported as such). The token is read from Secrets Manager
  (``--secret-arn`` or ``HUBSPOT_TOKEN_SECRET_ARN``), the same secret the sync uses, and never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    crm = sub.add_parser("crm", help="CRM write-back helpers (HubSpot, Salesforce)").add_subparsers(
        dest="crm_command", required=True
    )
    hubspot = crm.add_parser("hubspot", help="HubSpot").add_subparsers(dest="hubspot_command", required=True)
    p = hubspot.add_parser("create-properties", help="create the leadscore_* contact properties (idempotent)")
    p.add_argument("--secret-arn", default=None, help="Secrets Manager ARN of the token (default: env)")
    p.set_defaults(func=lambda args: main(["hubspot", "create-properties", *_arn(args)]))


def _arn(args: argparse.Namespace) -> list[str]:
    return ["--secret-arn", args.secret_arn] if args.secret_arn else []


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """``hubspot create-properties [--secret-arn ARN]``; 0 when every property exists afterwards."""
    from leadscore.crm.limits import RollingWindow
    from leadscore.dal.crm_http import CrmError, CrmHttp
    from leadscore.dal.crm_secrets import hubspot_secret
    from leadscore.dal.hubspot import HubSpot

    env = os.environ if environ is None else environ
    arn = (
        argv[argv.index("--secret-arn") + 1]
        if "--secret-arn" in argv
        else env.get("HUBSPOT_TOKEN_SECRET_ARN", "")
    )
    if argv[:2] != ["hubspot", "create-properties"] or not arn:
        print("usage: leadscore crm hubspot create-properties --secret-arn ARN", file=sys.stderr)
        return 2
    client = HubSpot(
        http=CrmHttp(bucket=RollingWindow(capacity=10, window=10)),
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
