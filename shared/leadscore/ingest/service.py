"""The three things the HTTP handler asks of ingest. Each returns an :class:`IngestResult` or raises one
of :mod:`leadscore.ingest.errors`; none touches AWS (the handler enqueues what was accepted).
"""

from __future__ import annotations

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.forms import form_events
from leadscore.ingest.providers import get_provider
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.tracking import track_events


def ingest_form(request: IngestRequest, config: IngestConfig) -> IngestResult:
    """``POST /forms``: one submission (JSON, urlencoded or multipart) → one ``form_submit`` event."""
    return form_events(request, config)


def ingest_track(request: IngestRequest, config: IngestConfig) -> IngestResult:
    """``POST /track``: a Segment message or batch."""
    return track_events(request, config)


def ingest_webhook(provider_name: str, request: IngestRequest, config: IngestConfig) -> IngestResult:
    """``POST /webhooks/<provider>``: 404 if unknown, then authenticate (raw bytes), then parse."""
    provider = get_provider(provider_name)
    provider.authenticate(request, config)
    return provider.parse(request, config)


def check_webhook_url(provider_name: str, request: IngestRequest, config: IngestConfig) -> bool:
    """``GET``/``HEAD /webhooks/<provider>``: True (200) if the provider answers URL checks and this one is
    authentic; False (405) if the provider has no URL check; 404 unknown; 401 a failed check."""
    provider = get_provider(provider_name)
    check = getattr(provider, "check_url", None)
    if check is None:
        return False
    check(request, config)
    return True


def allowed_methods(provider_name: str) -> tuple[str, ...]:
    """The methods ``/webhooks/<provider>`` answers (a 405's ``Allow``): POST, plus GET and HEAD when the
    provider checks its URL. An unknown provider answers POST (with a 404)."""
    from leadscore.ingest.errors import UnknownProviderError

    try:
        provider = get_provider(provider_name)
    except UnknownProviderError:
        return ("POST",)
    return ("GET", "HEAD", "POST") if getattr(provider, "check_url", None) is not None else ("POST",)
