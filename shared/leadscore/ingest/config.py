"""Ingest configuration read from the environment (not in ``leadscore.settings``: these belong to ingest).

Environment variables (all optional):

``SENDGRID_WEBHOOK_PUBLIC_KEYS``
    One or more SendGrid "Signed Event Webhook" verification keys, comma-separated: each the base64 DER
    public key SendGrid shows (``MFkwEwYHKoZIzj0CAQYI...``), or a PEM block. A request is accepted when its
    signature verifies with any of them, so a new key can be added before the old one is removed (rotation).
    When set, every SendGrid request must be signed and fresh (timestamp within 5 minutes).

``LEADSCORE_INSECURE_ALLOW_UNSIGNED``
    ``1`` accepts unsigned webhook requests for providers that have no verification key configured. For
    local development only. Without it, a provider with no key answers 401 "key not configured".

``LEADSCORE_FORM_HONEYPOT_FIELDS``
    Comma-separated form field names that humans never fill in (hidden inputs). A submission where any of
    them is non-empty is answered 202 and dropped. Matched exactly, by the raw field name.
    Default: ``_hp,_gotcha,_honey`` (names no real form uses for data; ``_gotcha`` is Formspree's and
    ``_honey`` FormSubmit's, so forms moved from those services keep their trap). Never a name a real
    field may carry, such as ``website_url``: a filled one would silently drop a real lead.

``LEADSCORE_FORM_REDIRECT_URLS``
    Comma-separated thank-you page URLs a plain HTML form may ask to be sent to after posting, with a
    hidden ``_redirect`` field: the answer is then ``303 See Other`` to that URL instead of ``202``. Matched
    exactly (scheme, host, path and query); any other ``_redirect`` is a 400 naming the field, so the
    endpoint is never an open redirect. Each entry must be an absolute ``https://`` (or ``http://``) URL.
    Default: empty (no redirects). Set by the template's ``FormRedirectUrls`` parameter.

``LEADSCORE_FORM_FIELD_ALIASES``
    A JSON object of extra field-name aliases, ``{"How many people work there?": "company_size"}``, merged
    over the built-in table in :mod:`leadscore.ingest.forms` (see ``FIELD_ALIASES`` there for the targets).

Provider secrets (HMAC keys, passwords, tokens) are not read here eagerly: :meth:`IngestConfig.secrets`
resolves ``<NAME>`` (plain value, local mode) or ``<NAME>_PARAM`` (an SSM SecureString name or a Secrets
Manager name/ARN, fetched and cached by :mod:`leadscore.ingest.secrets`) when a provider needs it. The
names each provider reads are listed in ``docs/connect.md``.

The environment is read on every request (a handful of dictionary lookups); anything costly derived from it
(parsed aliases, loaded keys) is cached by the raw string, so a changed variable takes effect at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from leadscore.errors import ConfigurationError

SENDGRID_PUBLIC_KEYS_ENV = "SENDGRID_WEBHOOK_PUBLIC_KEYS"
ALLOW_UNSIGNED_ENV = "LEADSCORE_INSECURE_ALLOW_UNSIGNED"
HONEYPOT_FIELDS_ENV = "LEADSCORE_FORM_HONEYPOT_FIELDS"
REDIRECT_URLS_ENV = "LEADSCORE_FORM_REDIRECT_URLS"
FIELD_ALIASES_ENV = "LEADSCORE_FORM_FIELD_ALIASES"

DEFAULT_HONEYPOT_FIELDS = frozenset({"_hp", "_gotcha", "_honey"})
SIGNATURE_TOLERANCE_SECONDS = 300

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class IngestConfig:
    """What ingest needs beyond ``leadscore.settings``. Build with :meth:`from_env`, or directly in tests."""

    sendgrid_public_keys: tuple[str, ...] = ()
    allow_unsigned: bool = False
    honeypot_fields: frozenset[str] = DEFAULT_HONEYPOT_FIELDS
    field_aliases: Mapping[str, str] = field(default_factory=dict)
    redirect_urls: frozenset[str] = frozenset()
    signature_tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS
    environ: Mapping[str, str] = field(default_factory=dict)
    secret_overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def secrets(self, name: str) -> tuple[str, ...]:
        """The valid values of a provider secret (two during rotation); () when none is configured."""
        if name in self.secret_overrides:
            return self.secret_overrides[name]
        from leadscore.ingest.secrets import resolve_secret

        return resolve_secret(name, self.environ)

    def setting(self, name: str) -> str:
        """A plain (non-secret) setting from the environment this config was built from; "" if unset."""
        return self.environ.get(name, "").strip()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestConfig:
        env = os.environ if environ is None else environ
        honeypot = env.get(HONEYPOT_FIELDS_ENV, "").strip()
        return cls(
            sendgrid_public_keys=_split_keys(env.get(SENDGRID_PUBLIC_KEYS_ENV, "")),
            allow_unsigned=env.get(ALLOW_UNSIGNED_ENV, "").strip().lower() in _TRUE,
            honeypot_fields=_split_names(honeypot) if honeypot else DEFAULT_HONEYPOT_FIELDS,
            field_aliases=_parse_aliases(env.get(FIELD_ALIASES_ENV, "")),
            redirect_urls=_parse_redirect_urls(env.get(REDIRECT_URLS_ENV, "")),
            environ=env,
        )


def _split_keys(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _split_names(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@lru_cache(maxsize=8)
def _parse_aliases(raw: str) -> Mapping[str, str]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{FIELD_ALIASES_ENV} is not valid JSON") from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f"{FIELD_ALIASES_ENV} must be a JSON object of strings")
    return dict(value)


@lru_cache(maxsize=8)
def _parse_redirect_urls(raw: str) -> frozenset[str]:
    from urllib.parse import urlsplit

    urls = _split_names(raw)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
            raise ConfigurationError(
                f"{REDIRECT_URLS_ENV}: {url!r} is not an absolute http(s) URL without a #fragment"
            )
    return urls
