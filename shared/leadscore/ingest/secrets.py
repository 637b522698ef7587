"""Provider secrets: signing keys, passwords and tokens, from SSM Parameter Store or Secrets Manager.

For a secret named ``TYPEFORM_SECRET`` (see ``docs/connect.md`` for every name):

- ``TYPEFORM_SECRET`` set (local mode, tests): its value is used as is;
- else ``TYPEFORM_SECRET_PARAM`` set: the value is fetched with the Powertools parameters utility and
  cached for :data:`MAX_AGE_SECONDS` (one fetch per container per interval, not per request):
  - ``arn:aws:secretsmanager:...`` or ``secretsmanager:<name>`` → Secrets Manager ``GetSecretValue``;
  - anything else (``/leadscore/typeform/secret``) → SSM ``GetParameter`` with decryption (SecureString);
- else: not configured (the provider answers 401 "not configured").

A value may hold several secrets separated by commas or newlines: every one is accepted, which is how a
secret is rotated (add the new one, update the platform, remove the old one). Secrets are never logged;
a failed fetch is a :class:`~leadscore.errors.ConfigurationError` naming the parameter, not its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from leadscore.errors import ConfigurationError

PARAM_SUFFIX = "_PARAM"
MAX_AGE_SECONDS = 300
_SEPARATORS = re.compile(r"[,\n\r]+")
_SECRETS_MANAGER_PREFIX = "secretsmanager:"


def split_secret(raw: str) -> tuple[str, ...]:
    """``"new, old"`` or ``"new\\nold"`` → ``("new", "old")``; blanks dropped."""
    return tuple(part.strip() for part in _SEPARATORS.split(raw) if part.strip())


def resolve_secret(name: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The configured values of secret ``name`` (plain variable first, then ``<name>_PARAM``)."""
    plain = environ.get(name, "")
    if plain.strip():
        return split_secret(plain)
    reference = environ.get(name + PARAM_SUFFIX, "").strip()
    if not reference:
        return ()
    return split_secret(_fetch(name, reference))


def _fetch(name: str, reference: str) -> str:
    # Imported here: boto3 and the parameters utility cost cold-start time, and most requests never
    # need a secret.
    from aws_lambda_powertools.utilities import parameters

    try:
        value: Any
        if reference.startswith("arn:aws:secretsmanager:") or reference.startswith(_SECRETS_MANAGER_PREFIX):
            secret_id = reference.removeprefix(_SECRETS_MANAGER_PREFIX)
            value = parameters.get_secret(secret_id, max_age=MAX_AGE_SECONDS)
        else:
            value = parameters.get_parameter(reference, decrypt=True, max_age=MAX_AGE_SECONDS)
    except Exception as exc:  # GetParameterError, AccessDenied, throttling: a deployment problem
        raise ConfigurationError(
            f"the secret {name}{PARAM_SUFFIX} ({reference}) could not be read: {type(exc).__name__}"
        ) from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ConfigurationError(f"the secret {name}{PARAM_SUFFIX} ({reference}) is not a string")
    return value


def clear_secret_cache() -> None:
    """Forget cached secrets and the Powertools providers' clients (tests; after a mock starts)."""
    from aws_lambda_powertools.utilities.parameters import base

    providers: dict[str, Any] = getattr(base, "DEFAULT_PROVIDERS", {})
    providers.clear()
