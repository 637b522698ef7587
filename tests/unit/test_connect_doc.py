"""docs/connect.md tells the truth: its URLs are routes of the template, and the web form, Segment and
SendGrid sections name the headers, limits, content types and events the code actually uses."""

from __future__ import annotations

import json
import re

import pytest
from leadscore.ingest.body import JSON, TEXT_PLAIN
from leadscore.ingest.config import DEFAULT_HONEYPOT_FIELDS, SIGNATURE_TOLERANCE_SECONDS
from leadscore.ingest.forms import REDIRECT_FIELD
from leadscore.ingest.providers import sendgrid
from leadscore.ingest.tracking import ACCEPTED_CONTENT_TYPES, MAX_BATCH

from tests.support import ROOT
from tools.localstack import translate
from tools.localstack.template import Translation

DOC = (ROOT / "docs" / "connect.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def translation() -> Translation:
    return translate(ROOT / "template.yaml")


def max_body_bytes(translation: Translation) -> int:
    """IngestFunction's MAX_BODY_BYTES, as the template sets it."""
    ingest = translation.sam["Resources"]["IngestFunction"]["Properties"]
    return int(ingest["Environment"]["Variables"]["MAX_BODY_BYTES"])


def section(title: str) -> str:
    """The text of the ``## title...`` section, joined into one line per paragraph."""
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", DOC, flags=re.S | re.M)
    assert match is not None, f"connect.md has no section {title!r}"
    return " ".join(match.group(1).split())


def documented_paths() -> set[str]:
    """Every request path the doc gives: ``API/...`` and ``https://USER:PASSWORD@<api host>/...``."""
    paths = set(re.findall(r"`API(/[^`?\s]*)", DOC))
    paths |= set(re.findall(r"@<api host>(/[^`?\s]*)", DOC))
    return paths


def test_every_documented_url_is_a_route_of_the_template(translation: Translation) -> None:
    paths = documented_paths()
    assert {"/forms", "/track", "/webhooks/sendgrid"} <= paths
    posts = [r for r in translation.routes if r.method in ("POST", "ANY")]
    for path in paths:
        concrete = path.replace("<provider>", "sendgrid")
        assert any(r.match_path(concrete) is not None for r in posts), f"{path} is not a POST route"


def test_every_documented_provider_exists() -> None:
    from leadscore.ingest.providers import get_provider

    for path in documented_paths():
        if path.startswith("/webhooks/") and "<" not in path:
            get_provider(path.removeprefix("/webhooks/"))  # raises for an unknown provider


def test_the_web_forms_section_names_the_real_fields_and_parameters(translation: Translation) -> None:
    text = section("Your own web forms")
    honeypots = set(re.findall(r"`(_[a-z]+)`", text)) - {REDIRECT_FIELD}
    assert honeypots == DEFAULT_HONEYPOT_FIELDS
    assert f'name="{REDIRECT_FIELD}"' in text
    for name in ("AllowedOrigins", "FormRedirectUrls"):
        assert f"`{name}`" in text
        assert name in translation.sam["Parameters"]


def test_the_segment_section_states_the_real_limits_and_content_types(translation: Translation) -> None:
    text = section("Segment")
    assert set(re.findall(r"as `([a-z/]+)` \(or `([a-z/]+)`", text)[0]) == set(ACCEPTED_CONTENT_TYPES)
    assert {JSON, TEXT_PLAIN} == set(ACCEPTED_CONTENT_TYPES)
    assert f"{MAX_BATCH:,} messages" in text
    max_body = max_body_bytes(translation)
    assert f"{max_body // 1024} KB" in text
    assert "`API/track`" in text


def test_the_documented_segment_batch_size_fits_and_the_default_does_not(translation: Translation) -> None:
    """Segment's batch size: the doc's 100 fit under MAX_BODY_BYTES, Segment's default 1,000 do not."""
    text = section("Segment")
    (advised,) = re.findall(r"set the batch size to \*\*(\d+) or fewer\*\*", text)
    (default,) = re.findall(r"Segment's default of ([\d,]+) messages", text)
    max_body = max_body_bytes(translation)
    sample = json.loads(json.loads((ROOT / "events" / "http-03-track-page.json").read_text())["body"])
    one = len(json.dumps(sample).encode())
    assert int(advised) * one < max_body
    assert int(default.replace(",", "")) * one > max_body


SENDGRID_UI_EVENTS = {
    "Delivered": "delivered",
    "Opened": "open",
    "Clicked": "click",
    "Bounced": "bounce",
    "Dropped": "dropped",
    "Deferred": "deferred",
    "Unsubscribed": "unsubscribe",
    "Group Unsubscribes": "group_unsubscribe",
    "Spam Reports": "spamreport",
    "Processed": "processed",
    "Group Resubscribes": "group_resubscribe",
}


def test_the_sendgrid_section_names_the_headers_and_window_the_code_checks() -> None:
    text = section("SendGrid")
    assert f"`{sendgrid.SIGNATURE_HEADER}`" in text
    assert f"`{sendgrid.TIMESTAMP_HEADER}`" in text
    assert f"no more than {SIGNATURE_TOLERANCE_SECONDS} seconds from now" in text
    assert "`SendgridWebhookPublicKeys`" in text and "`API/webhooks/sendgrid`" in text


def test_the_sendgrid_section_selects_exactly_the_scored_events() -> None:
    text = section("SendGrid")
    scored = re.search(r"Select the events: (.*?)\. \((.*?) (?:is|are) accepted and ignored", text)
    assert scored is not None
    names = [n.strip() for n in re.split(r",| and ", scored.group(1)) if n.strip()]
    assert {SENDGRID_UI_EVENTS[n] for n in names} == set(sendgrid.EVENT_TYPES)
    ignored = [n.strip() for n in re.split(r",| and ", scored.group(2)) if n.strip()]
    assert {SENDGRID_UI_EVENTS[n] for n in ignored} == set(sendgrid.IGNORED_EVENTS)
