"""Web forms: field aliases, honeypot, JSON/urlencoded/multipart/base64 bodies, the form_submit event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from leadscore.errors import ConfigurationError
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, UnprocessableError, UnsupportedMediaTypeError
from leadscore.ingest.forms import (
    FIELD_ALIASES,
    build_alias_index,
    form_events,
    map_fields,
    normalize_field_name,
)
from leadscore.ingest.request import IngestRequest, from_http_api_event
from leadscore.models.event import Profile, content_event_id

from tests.support import http_api_event
from tests.support.samples import dana_profile

RECEIVED_MS = 1_795_449_600_000  # 2026-11-23T16:00:00Z
RECEIVED = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
BOUNDARY = "----formboundary7MA4YWxkTrZu0gW"
CONFIG = IngestConfig()


def request_for(body: str | bytes, content_type: str | None, **kwargs) -> IngestRequest:
    headers = {"content-type": content_type} if content_type else {}
    headers.update(kwargs.pop("headers", {}))
    event = http_api_event("POST", "/forms", body, headers=headers, time_epoch_ms=RECEIVED_MS, **kwargs)
    return from_http_api_event(event, max_body_bytes=256 * 1024)


def json_form(fields: dict[str, Any], config: IngestConfig = CONFIG, **kwargs):
    return form_events(request_for(json.dumps(fields), "application/json", **kwargs), config)


# --- the alias table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("Company size", "company_size"),
        ("company_size", "company_size"),
        ("COMPANY-SIZE", "company_size"),
        ("employees", "company_size"),
        ("Number of employees", "company_size"),
        ("Job Title", "job_title"),
        ("jobTitle", "job_title"),
        ("title", "job_title"),
        ("E-mail", "email"),
        ("Work Email", "email"),
        ("email_address", "email"),
        ("First Name", "first_name"),
        ("firstName", "first_name"),
        ("Name", "full_name"),
        ("Organisation", "company"),
        ("Annual Revenue", "revenue"),
        ("Country/Region", "country"),
        ("Phone Number", "phone"),
        ("Company Website", "website"),
        ("form_id", "form"),
        ("formName", "form"),
        ("submission_id", "submission_id"),
        ("ajs_anonymous_id", "anonymous_id"),
        ("UTM Campaign", "utm_campaign"),
        ("utm_source", "utm_source"),
        ("Page URL", "page_url"),
    ],
)
def test_alias_table_matches_case_space_and_punctuation_variants(name, target):
    assert build_alias_index()[normalize_field_name(name)] == target


def test_every_profile_field_is_a_target_of_the_table():
    assert set(Profile.model_fields) <= set(FIELD_ALIASES)


def test_aliases_are_configurable_from_the_environment():
    config = IngestConfig.from_env(
        {"LEADSCORE_FORM_FIELD_ALIASES": '{"How many people work there?": "company_size"}'}
    )
    index = build_alias_index(config.field_aliases)
    assert index["howmanypeopleworkthere"] == "company_size"
    result = json_form({"email": "a@b.io", "How many people work there?": "51-200"}, config)
    assert result.events[0].profile == Profile(company_size=51)


@pytest.mark.parametrize(
    "raw",
    ['{"x": "no_such_field"}', "not json", '["company_size"]', '{"x": 5}'],
)
def test_bad_alias_configuration_is_a_configuration_error(raw):
    with pytest.raises(ConfigurationError):
        build_alias_index(IngestConfig.from_env({"LEADSCORE_FORM_FIELD_ALIASES": raw}).field_aliases)


def test_map_fields_keeps_the_first_non_empty_value_and_extra_fields():
    mapped = map_fields(
        [
            ("email", ""),
            ("E-mail", "a@b.io"),
            ("email", "c@d.io"),
            ("Use case", "routing"),
            ("use_case", "dup"),
        ],
        build_alias_index(),
    )
    assert mapped.values == {"email": "a@b.io"}
    assert mapped.extra == {"use_case": "routing"}


# --- JSON form --------------------------------------------------------------------------------------


def test_json_form_becomes_one_form_submit_event():
    result = json_form(
        {
            "form_id": "demo-request",
            "submission_id": "sub_1",
            "First Name": "Dana",
            "Last Name": "Reyes",
            "E-mail": " Dana.Reyes@NorthwindLabs.io ",
            "Job Title": "VP of Engineering",
            "Company": "Northwind Labs",
            "Company size": "500",
            "Industry": "Software",
            "Country": "United States",
            "page_url": "https://www.leadscore.example/demo?utm_source=google&utm_campaign=q4",
            "utm_medium": "cpc",
            "How did you hear about us?": "Podcast",
            "website_url": "",
        }
    )
    assert result.rejected == [] and result.warnings == [] and not result.honeypot
    (event,) = result.events
    assert event.event_id == "sub_1"
    assert event.source == "forms"
    assert event.type == "form_submit"
    assert event.name == "demo-request"
    assert event.identity.email == "dana.reyes@northwindlabs.io"
    assert event.occurred_at == RECEIVED
    assert event.received_at == RECEIVED
    assert event.profile == dana_profile()
    assert event.properties == {
        "form": "demo-request",
        "page_url": "https://www.leadscore.example/demo?utm_source=google&utm_campaign=q4",
        "path": "/demo",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "q4",
        "how_did_you_hear_about_us": "Podcast",
    }
    assert event.bot is None


def test_json_form_with_a_fields_list_and_numbers():
    result = json_form(
        {
            "form": "pricing-question",
            "fields": [
                {"name": "email", "value": "sam@acme.example"},
                {"name": "employees", "value": 1200},
                {"name": "phone", "value": 4155550100},
            ],
        }
    )
    profile = result.events[0].profile
    assert profile == Profile(company_size=1200, phone="4155550100")


def test_full_name_is_split_unless_first_or_last_given():
    assert json_form({"email": "a@b.io", "name": "Mary Ann Smith"}).events[0].profile == Profile(
        first_name="Mary", last_name="Ann Smith"
    )
    assert json_form({"email": "a@b.io", "name": "Mary Smith", "first_name": "M"}).events[
        0
    ].profile == Profile(first_name="M")


def test_without_a_submission_id_the_event_id_is_a_stable_content_hash():
    fields = {"email": "a@b.io", "company": "Acme", "form": "contact"}
    first = json_form(fields).events[0]
    retried = form_events(
        from_http_api_event(
            http_api_event(
                "POST",
                "/forms",
                json.dumps(fields),
                headers={"content-type": "application/json"},
                time_epoch_ms=RECEIVED_MS + 60_000,
            ),
            max_body_bytes=4096,
        ),
        CONFIG,
    ).events[0]
    assert first.event_id == retried.event_id
    assert first.event_id.startswith("forms:h:")
    assert json_form({**fields, "company": "Other"}).events[0].event_id != first.event_id
    assert first.event_id == content_event_id(
        "forms", {"values": {"email": "a@b.io", "company": "Acme", "form": "contact"}, "extra": {}}
    )


def test_provided_submission_time_is_used_unless_in_the_future():
    past = json_form({"email": "a@b.io", "submitted_at": "2026-11-23T15:30:00Z"}).events[0]
    assert past.occurred_at == datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    future = json_form({"email": "a@b.io", "submitted_at": "2027-01-01T00:00:00Z"}).events[0]
    assert future.occurred_at == RECEIVED


def test_invalid_profile_values_are_dropped_with_a_warning_not_the_lead():
    result = json_form(
        {"form": "demo", "email": "a@b.io", "Employees": "lots", "company": "Acme", "country": "x" * 150}
    )
    (event,) = result.events
    assert event.profile == Profile(company="Acme")
    assert len(result.warnings) == 2
    assert any(w.startswith("company_size:") for w in result.warnings)
    assert any(w.startswith("country:") for w in result.warnings)


def test_anonymous_id_alone_identifies_a_submission():
    (event,) = json_form({"anonymous_id": "anon-1", "form": "newsletter"}).events
    assert event.identity.email is None
    assert event.identity.anonymous_id == "anon-1"


def test_no_email_is_422_naming_the_field():
    with pytest.raises(UnprocessableError) as info:
        json_form({"first_name": "Sam", "company": "Acme"})
    assert info.value.status == 422
    assert info.value.details[0].startswith("email:")


def test_invalid_email_is_422():
    with pytest.raises(UnprocessableError) as info:
        json_form({"email": "not-an-email"})
    assert info.value.details == ["email: not a valid email address"]


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null"])
def test_json_form_must_be_an_object(body):
    with pytest.raises(MalformedBodyError):
        form_events(request_for(body, "application/json"), CONFIG)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml"])
def test_unsupported_form_content_types_are_415(content_type):
    with pytest.raises(UnsupportedMediaTypeError):
        form_events(request_for("email=a@b.io", content_type), CONFIG)


# --- honeypot --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["_hp", "_gotcha", "_honey"])
def test_filled_honeypot_accepts_nothing(field):
    result = json_form({"email": "bot@spam.example", field: "http://spam.example"})
    assert result.honeypot is True
    assert result.events == []
    assert result.to_response() == {
        "accepted": 0,
        "duplicates_in_request": 0,
        "rejected": [],
        "ignored": [],
        "warnings": [],
    }


def test_empty_honeypot_is_fine_and_never_becomes_the_website():
    result = json_form({"email": "a@b.io", "website_url": "  ", "website": "https://acme.example"})
    assert not result.honeypot
    assert result.events[0].profile == Profile(website="https://acme.example")


def test_honeypot_in_the_query_string_counts_too():
    event = http_api_event(
        "POST",
        "/forms",
        '{"email": "a@b.io"}',
        headers={"content-type": "application/json"},
        time_epoch_ms=RECEIVED_MS,
    )
    event["queryStringParameters"] = {"_hp": "http://spam.example"}
    assert form_events(from_http_api_event(event, max_body_bytes=4096), CONFIG).honeypot


def test_honeypot_fields_are_configurable_and_exact():
    config = IngestConfig.from_env({"LEADSCORE_FORM_HONEYPOT_FIELDS": "fax_number, confirm_email_2"})
    assert json_form({"email": "a@b.io", "fax_number": "1"}, config).honeypot
    assert not json_form({"email": "a@b.io", "website_url": "x"}, config).honeypot
    assert not json_form({"email": "a@b.io", "Fax Number": "1"}, config).honeypot


# --- urlencoded, multipart, base64 ----------------------------------------------------------------


def test_urlencoded_form_with_referer_as_the_page():
    body = urlencode(
        [
            ("form", "contact-sales"),
            ("name", "Priya Natarajan"),
            ("email", "priya@helios.example"),
            ("employees", "51-200"),
            ("utm_source", "linkedin"),
            ("website_url", ""),
        ]
    )
    result = form_events(
        request_for(
            body,
            "application/x-www-form-urlencoded; charset=UTF-8",
            headers={"referer": "https://www.leadscore.example/contact-sales?utm_campaign=ops"},
        ),
        CONFIG,
    )
    (event,) = result.events
    assert event.name == "contact-sales"
    assert event.profile == Profile(first_name="Priya", last_name="Natarajan", company_size=51)
    assert event.properties == {
        "form": "contact-sales",
        "page_url": "https://www.leadscore.example/contact-sales?utm_campaign=ops",
        "path": "/contact-sales",
        "utm_source": "linkedin",
        "utm_campaign": "ops",
    }


def test_query_parameters_fill_in_what_the_body_lacks():
    event = http_api_event(
        "POST",
        "/forms",
        "email=a%40b.io&form=body-form",
        headers={"content-type": "application/x-www-form-urlencoded"},
        time_epoch_ms=RECEIVED_MS,
    )
    event["queryStringParameters"] = {"form": "query-form", "utm_source": "newsletter"}
    (result,) = form_events(from_http_api_event(event, max_body_bytes=4096), CONFIG).events
    assert result.name == "body-form"
    assert result.properties["utm_source"] == "newsletter"


def multipart(fields: list[tuple[str, str]]) -> bytes:
    parts = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    )
    return (parts + f"--{BOUNDARY}--\r\n").encode()


@pytest.mark.parametrize("base64_encode", [False, True])
def test_multipart_form_plain_or_base64(base64_encode):
    body = multipart(
        [("Full Name", "Alex Kim"), ("Work Email", "alex.kim@gmail.com"), ("Job Title", "Student")]
    )
    request = request_for(body, f"multipart/form-data; boundary={BOUNDARY}", base64_encode=base64_encode)
    (event,) = form_events(request, CONFIG).events
    assert event.identity.email == "alex.kim@gmail.com"
    assert event.profile == Profile(first_name="Alex", last_name="Kim", job_title="Student")


def test_base64_json_form():
    body = json.dumps({"email": "b64@example.com", "form": "x"})
    (event,) = form_events(request_for(body, "application/json", base64_encode=True), CONFIG).events
    assert event.identity.email == "b64@example.com"


# --- bots ---------------------------------------------------------------------------------------------


def test_headless_browser_submissions_are_kept_and_marked():
    (event,) = json_form(
        {"email": "a@b.io"}, headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0"}
    ).events
    assert event.bot == "headless browser user agent (headlesschrome/131.0)"


def test_server_side_relays_are_not_bots():
    (event,) = json_form({"email": "a@b.io"}, headers={"user-agent": "axios/1.7.2"}).events
    assert event.bot is None
