"""CRM credentials from Secrets Manager, cached per container (Powertools parameters, ``max_age``).

- HubSpot (``HUBSPOT_TOKEN_SECRET_ARN``): the private app's access token as the secret string, or JSON
  ``{"token": "...", "base_url": "https://api.hubapi.com"}`` (``base_url`` optional).
- Salesforce (``SALESFORCE_SECRET_ARN``): JSON ``{"instance_url": "https://x.my.salesforce.com"}`` plus
  either ``"access_token"`` or ``"client_id"`` and ``"client_secret"`` (the OAuth 2.0 client
  credentials flow; the access token it returns is cached until a 401).

A secret that cannot be read or parsed is a :class:`CrmAuthError` naming the variable, never the value.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from leadscore.dal.crm_http import CrmAuthError

MAX_AGE_SECONDS = 300
HUBSPOT_API = "https://api.hubapi.com"


class HubSpotSecret(BaseModel):
    token: str
    base_url: str = HUBSPOT_API


class SalesforceSecret(BaseModel):
    instance_url: str
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


def _raw(arn: str, name: str, *, fresh: bool) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        value: Any = parameters.get_secret(arn, max_age=0 if fresh else MAX_AGE_SECONDS, force_fetch=fresh)
    except Exception as exc:  # AccessDenied, not found, throttled: a deployment problem
        raise CrmAuthError(f"{name}: the secret could not be read ({type(exc).__name__})") from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def hubspot_secret(arn: str, *, fresh: bool = False) -> HubSpotSecret:
    raw = _raw(arn, "HUBSPOT_TOKEN_SECRET_ARN", fresh=fresh)
    try:
        return HubSpotSecret.model_validate_json(raw) if raw.startswith("{") else HubSpotSecret(token=raw)
    except ValidationError:
        raise CrmAuthError(
            "HUBSPOT_TOKEN_SECRET_ARN: the secret is not a token nor {token, base_url}"
        ) from None


def salesforce_secret(arn: str, *, fresh: bool = False) -> SalesforceSecret:
    raw = _raw(arn, "SALESFORCE_SECRET_ARN", fresh=fresh)
    try:
        secret = SalesforceSecret.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        raise CrmAuthError("SALESFORCE_SECRET_ARN: the secret is not JSON with instance_url") from None
    if not secret.access_token and not (secret.client_id and secret.client_secret):
        raise CrmAuthError("SALESFORCE_SECRET_ARN: neither access_token nor client_id/client_secret")
    return secret
