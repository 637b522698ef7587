"""The one interface every webhook provider implements. Adding a provider is one module plus one registry
line in :mod:`leadscore.ingest.providers`: no change to the handler.
"""

from __future__ import annotations

from typing import Protocol

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult


class WebhookProvider(Protocol):
    """A source that POSTs events to ``/webhooks/<name>``.

    :meth:`authenticate` runs first, on the raw body bytes, before anything is parsed; it raises
    :class:`~leadscore.ingest.errors.SignatureError` (401) when the request is not provably from the
    provider. :meth:`parse` then maps the body to events, answering per item where the body is a batch.
    """

    @property
    def name(self) -> str:
        """The ``<provider>`` path segment, and the events' ``source``."""
        ...

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None: ...

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult: ...
