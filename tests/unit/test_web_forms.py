"""Websites posting to /forms: honeypot defaults, warnings in the 202 body, the allow-listed 303 redirect."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from leadscore.errors import ConfigurationError
from leadscore.ingest.config import DEFAULT_HONEYPOT_FIELDS, IngestConfig
from leadscore.ingest.errors import RedirectNotAllowedError
from leadscore.ingest.forms import form_events, looks_like_honeypot
from leadscore.ingest.request import IngestRequest, from_http_api_event
from leadscore.ingest.result import IngestResult

from tests.support import http_api_event

THANKS = "https://www.example.com/thanks"
CONFIG = IngestConfig.from_env({"LEADSCORE_FORM_REDIRECT_URLS": f"{THANKS}, https://www.example.com/merci"})
URLENCODED = "application/x-www-form-urlencoded"


def request(body: str, content_type: str = URLENCODED) -> IngestRequest:
    event = http_api_event("POST", "/forms", body, headers={"content-type": content_type})
    return from_http_api_event(event, max_body_bytes=64 * 1024)


def post(fields: list[tuple[str, str]] | dict[str, Any], config: IngestConfig = CONFIG) -> IngestResult:
    if isinstance(fields, dict):
        return form_events(request(json.dumps(fields), "application/json"), config)
    return form_events(request(urlencode(fields)), config)


# --- honeypot defaults ---------------------------------------------------------------------------------


def test_website_url_is_a_real_field_not_a_honeypot():
    """Real forms call the company site website_url: a filled one must be a lead, not a dropped bot."""
    result = post([("form", "demo"), ("email", "ana@acme.example"), ("website_url", "https://acme.example")])
    assert not result.honeypot
    (event,) = result.events
    assert event.profile is not None and event.profile.website == "https://acme.example"
    assert "website_url" not in DEFAULT_HONEYPOT_FIELDS


@pytest.mark.parametrize("name", sorted(DEFAULT_HONEYPOT_FIELDS))
def test_every_default_honeypot_drops_the_submission_and_says_nothing(name):
    result = post([("form", "demo"), ("email", "bot@spam.example"), (name, "x"), ("_redirect", THANKS)])
    assert result.honeypot and result.events == []
    assert result.to_response()["warnings"] == []  # a bot learns nothing from the answer
    assert result.redirect == THANKS  # the browser-like answer is the same as a real submission's


def test_default_honeypot_names_are_the_documented_ones():
    assert {"_hp", "_gotcha", "_honey"} == DEFAULT_HONEYPOT_FIELDS


# --- warnings -----------------------------------------------------------------------------------------


def test_a_form_without_a_name_is_accepted_with_a_warning():
    result = post({"email": "ana@acme.example"})
    assert len(result.events) == 1
    (warning,) = result.to_response()["warnings"]
    assert warning.startswith("form: the submission names no form")


def test_a_named_form_has_no_warning():
    assert post({"form": "demo", "email": "ana@acme.example"}).to_response()["warnings"] == []


@pytest.mark.parametrize(
    "name", ["bot-field", "honeypot", "leave_this_blank", "hp", "do_not_fill", "_gotcha_2"]
)
def test_a_field_that_looks_like_a_honeypot_is_kept_and_named(name):
    result = post([("form", "demo"), ("email", "ana@acme.example"), (name, "filled")])
    assert len(result.events) == 1 and not result.honeypot
    (warning,) = result.to_response()["warnings"]
    assert warning.startswith(f"{name}: looks like a honeypot field but is not configured as one")
    assert "filled" not in warning  # names only, never values


@pytest.mark.parametrize("name", ["website_url", "company", "phone", "hope", "shipping", "message"])
def test_ordinary_fields_do_not_look_like_honeypots(name):
    assert not looks_like_honeypot(name)


def test_a_configured_honeypot_is_not_warned_about():
    config = IngestConfig.from_env({"LEADSCORE_FORM_HONEYPOT_FIELDS": "bot-field"})
    result = post([("form", "demo"), ("email", "ana@acme.example"), ("bot-field", "")], config)
    assert result.to_response()["warnings"] == []


# --- redirects ----------------------------------------------------------------------------------------


def test_an_allowed_redirect_is_returned_and_never_stored():
    result = post([("form", "demo"), ("email", "ana@acme.example"), ("_redirect", THANKS)])
    assert result.redirect == THANKS
    (event,) = result.events
    assert "_redirect" not in event.properties and "redirect" not in event.properties


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/thanks",
        "https://www.example.com/thanks?next=https://evil.example",
        "https://www.example.com/thanks/",
        "http://www.example.com/thanks",
        "//evil.example",
        "https://www.example.com.evil.example/thanks",
        "https://www.example.com/thanks\r\nSet-Cookie: session=stolen",  # header injection
        "javascript:alert(document.domain)",
    ],
)
def test_a_redirect_not_on_the_list_is_a_400_naming_the_field(url):
    with pytest.raises(RedirectNotAllowedError) as raised:
        post([("form", "demo"), ("email", "ana@acme.example"), ("_redirect", url)])
    assert raised.value.status == 400
    assert raised.value.details == ["_redirect: not one of the allowed thank-you URLs"]


def test_without_an_allow_list_every_redirect_is_refused():
    with pytest.raises(RedirectNotAllowedError) as raised:
        post([("email", "ana@acme.example"), ("_redirect", THANKS)], IngestConfig())
    assert raised.value.details == ["_redirect: no thank-you URLs are configured"]


def test_two_different_redirects_are_refused():
    with pytest.raises(RedirectNotAllowedError):
        post([("email", "a@b.io"), ("_redirect", THANKS), ("_redirect", "https://www.example.com/merci")])


def test_no_redirect_field_means_no_redirect():
    assert post([("email", "ana@acme.example")]).redirect is None


@pytest.mark.parametrize(
    "entry", ["/thanks", "javascript:alert(1)", "https://x.example/#top", "ftp://x.example/"]
)
def test_allow_list_entries_must_be_absolute_http_urls(entry):
    with pytest.raises(ConfigurationError, match="LEADSCORE_FORM_REDIRECT_URLS"):
        IngestConfig.from_env({"LEADSCORE_FORM_REDIRECT_URLS": entry})
