"""Who did it, for people: the name inside an IAM principal ARN.

Adjustments and outcomes keep the caller's ARN (``by``) for the audit; what a rep reads is the name in
it. The formats are the IAM User Guide's ("IAM identifiers", IAM ARNs), in any partition (``aws``,
``aws-cn``, ``aws-us-gov``):

- ``arn:aws:iam::123456789012:user/JaneDoe`` and, with a path, ``.../user/division_abc/JaneDoe``: the
  user name (the last segment);
- ``arn:aws:sts::123456789012:assumed-role/Accounting-Role/JaneDoe``: the role session name
  (``JaneDoe``; IAM Identity Center sessions are often the person's sign-in name), else the role;
- ``arn:aws:sts::123456789012:federated-user/JaneDoe``: the federated user's name;
- ``arn:aws:iam::123456789012:role/path/Name``: the role's name;
- ``arn:aws:iam::123456789012:root``: "root (123456789012)".

Anything else (a name already, ``unknown``, a malformed ARN) is returned as it is.
"""

from __future__ import annotations

import re

_ARN = re.compile(r"arn:aws[a-z-]*:(?P<service>iam|sts)::(?P<account>[0-9]{12}):(?P<resource>.+)")


def principal_name(arn: str) -> str:
    """The user, session or role name in ``arn`` (see the module docstring), else ``arn``."""
    match = _ARN.fullmatch(arn.strip())
    if match is None:
        return arn
    resource = match["resource"]
    if resource == "root":
        return f"root ({match['account']})"
    kind, _, rest = resource.partition("/")
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return arn
    if match["service"] == "sts" and kind == "assumed-role":
        return parts[-1] if len(parts) >= 2 else parts[0]
    if (match["service"], kind) in (("iam", "user"), ("iam", "role"), ("sts", "federated-user")):
        return parts[-1]
    return arn
