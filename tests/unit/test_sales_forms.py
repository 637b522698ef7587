"""Which forms show high intent is a rules-file matter: rules/example.yaml decides by form name and page
path, each sales form counted by exactly one rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.forms import form_events
from leadscore.ingest.request import IngestRequest
from leadscore.scoring.engine import event_facts

from tests.support import ROOT
from tools.rules_source import compile_file

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SALES_RULES = {"sales-form", "demo-request", "rfq"}


def _submitted(form: str | None, page_url: str | None = None) -> set[str]:
    body: dict[str, str] = {"email": "ana@acme-fintech.com"}
    if form is not None:
        body["form"] = form
    if page_url is not None:
        body["page_url"] = page_url
    request = IngestRequest(
        method="POST",
        path="/forms",
        body=json.dumps(body).encode(),
        received_at=NOW,
        headers={"content-type": "application/json"},
        now=NOW.timestamp(),
    )
    (event,) = form_events(request, IngestConfig()).events
    _, rules = compile_file(ROOT / "rules" / "example.yaml")
    return {rule.id for rule in rules.match_activity(event_facts(event))} & SALES_RULES


@pytest.mark.parametrize(
    ("form", "page_url", "rules"),
    [
        ("Talk to sales", None, {"sales-form"}),
        ("Speak with an expert", "https://www.acme.example/product", {"sales-form"}),
        ("Contact us", "https://www.acme.example/contact-sales?utm_source=ads", {"sales-form"}),
        ("Get in touch", "https://www.acme.example/de-de/request-a-quote", {"sales-form"}),
        ("Contact sales", None, {"demo-request"}),  # the demo rule counts it: once
        ("Request a demo", "https://www.acme.example/talk-to-sales", {"demo-request"}),
        ("Request a quote", None, {"rfq"}),
        ("RFQ", "https://www.acme.example/rfq", {"rfq"}),
        ("Newsletter", "https://www.acme.example/blog/sales-tips", set()),
        ("Contact us", "https://www.acme.example/support", set()),
    ],
)
def test_sales_forms_by_name_and_page_path(form: str, page_url: str | None, rules: set[str]) -> None:
    assert _submitted(form, page_url) == rules
