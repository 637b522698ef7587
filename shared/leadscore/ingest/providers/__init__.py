"""The webhook provider registry: ``/webhooks/<name>`` → the module implementing
:class:`~leadscore.ingest.providers.base.WebhookProvider`.

Provider modules are imported on first use, so an invocation pays only for the provider it serves.
Each module exposes its implementation as ``PROVIDER``. A provider whose platform checks the URL with a
``GET``/``HEAD`` when the webhook is created (Mailchimp, Mandrill) also has ``check_url(request, config)``,
which raises :class:`~leadscore.ingest.errors.SignatureError` when the check is not authentic and
returns to answer 200. ``common`` holds shared helpers.
"""

from __future__ import annotations

import re
from importlib import import_module

from leadscore.ingest.errors import UnknownProviderError
from leadscore.ingest.providers.base import WebhookProvider

# name → module. One line per provider.
PROVIDER_MODULES: dict[str, str] = {
    name: f"leadscore.ingest.providers.{name}"
    for name in (
        "brevo",
        "hubspot",
        "mailchimp",
        "mailgun",
        "mandrill",
        "postmark",
        "salesforce",
        "sendgrid",
        "ses",
        "tally",
        "typeform",
        "webflow",
    )
}

# Names that are not module names (a hyphen reads better in a URL path).
PROVIDER_MODULES["hubspot-forms"] = "leadscore.ingest.providers.hubspot_forms"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def provider_names() -> tuple[str, ...]:
    return tuple(sorted(PROVIDER_MODULES))


def get_provider(name: str) -> WebhookProvider:
    """The provider for a ``/webhooks/<name>`` path segment (case-insensitive), or 404."""
    key = name.strip().lower()
    module_name = PROVIDER_MODULES.get(key) if _NAME.match(key) else None
    if module_name is None:
        raise UnknownProviderError(
            "unknown webhook provider", details=[f"known providers: {', '.join(provider_names())}"]
        )
    provider: WebhookProvider = import_module(module_name).PROVIDER
    return provider
