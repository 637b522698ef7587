"""The Segment spec: page, track, identify, batch, ignored call types, identities, bots."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from leadscore.ingest.bots import bot_reason
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, UnprocessableError, UnsupportedMediaTypeError
from leadscore.ingest.request import from_http_api_event
from leadscore.ingest.result import IngestResult
from leadscore.ingest.tracking import track_events
from leadscore.models.event import Profile

from tests.support import http_api_event
from tests.support.samples import dana_profile

RECEIVED_MS = 1_795_449_600_000  # 2026-11-23T16:00:00Z
RECEIVED = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"


def track(payload, content_type: str | None = "application/json") -> IngestResult:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    headers = {"content-type": content_type} if content_type else {}
    event = http_api_event("POST", "/track", body, headers=headers, time_epoch_ms=RECEIVED_MS)
    return track_events(from_http_api_event(event, max_body_bytes=256 * 1024), IngestConfig())


PAGE = {
    "type": "page",
    "name": "Pricing",
    "messageId": "ajs-1",
    "anonymousId": "anon-1",
    "userId": "usr_1",
    "timestamp": "2026-11-23T15:00:00.000Z",
    "properties": {"title": "Pricing | Leadscore", "url": "https://www.leadscore.example/pricing"},
    "context": {
        "userAgent": CHROME,
        "traits": {"email": "Dana.Reyes@northwindlabs.io"},
        "page": {
            "path": "/pricing",
            "url": "https://www.leadscore.example/pricing",
            "referrer": "https://www.google.com/",
            "title": "ignored: properties win",
        },
        "campaign": {"name": "q4", "source": "google", "medium": "cpc"},
    },
}


def test_page_becomes_page_view_with_page_and_campaign_properties():
    result = track(PAGE)
    (event,) = result.events
    assert event.type == "page_view"
    assert event.source == "segment"
    assert event.name == "Pricing"
    assert event.event_id == "ajs-1"
    assert event.identity.email == "dana.reyes@northwindlabs.io"
    assert event.identity.anonymous_id == "anon-1"
    assert event.occurred_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert event.received_at == RECEIVED
    assert event.properties == {
        "path": "/pricing",
        "url": "https://www.leadscore.example/pricing",
        "title": "Pricing | Leadscore",
        "referrer": "https://www.google.com/",
        "name": "Pricing",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "q4",
        "campaign": "q4",
        "user_id": "usr_1",
    }
    assert event.bot is None
    assert event.profile is None


def test_page_campaign_falls_back_to_the_url_query():
    page = {
        "type": "page",
        "anonymousId": "a",
        "messageId": "m",
        "properties": {"url": "https://x.io/product/api?utm_campaign=launch&utm_source=hn"},
    }
    (event,) = track(page).events
    assert event.properties == {
        "url": "https://x.io/product/api?utm_campaign=launch&utm_source=hn",
        "path": "/product/api",
        "utm_campaign": "launch",
        "utm_source": "hn",
        "campaign": "launch",
    }


def test_track_keeps_event_name_and_properties_without_the_email():
    message = {
        "type": "track",
        "event": "Demo Requested",
        "messageId": "ajs-2",
        "userId": "dana.reyes@northwindlabs.io",
        "properties": {
            "plan": "Enterprise",
            "seats": 40,
            "email": "dana.reyes@northwindlabs.io",
            "meta": {"a": 1},
        },
        "context": {"page": {"path": "/demo", "url": "https://x.io/demo"}},
    }
    (event,) = track(message).events
    assert event.type == "track"
    assert event.name == "Demo Requested"
    assert event.identity.email == "dana.reyes@northwindlabs.io"  # a userId that is an email
    assert event.identity.anonymous_id is None
    assert event.properties == {
        "plan": "Enterprise",
        "seats": 40,
        "meta.a": 1,
        "page_path": "/demo",
        "page_url": "https://x.io/demo",
        "user_id": "dana.reyes@northwindlabs.io",
    }


def test_track_without_event_name_is_422():
    with pytest.raises(UnprocessableError) as info:
        track({"type": "track", "anonymousId": "a"})
    assert info.value.details == ["event: a track call needs the event name"]


def test_identify_builds_a_profile_from_reserved_and_aliased_traits():
    message = {
        "type": "identify",
        "messageId": "ajs-3",
        "anonymousId": "anon-1",
        "traits": {
            "email": "dana.reyes@northwindlabs.io",
            "firstName": "Dana",
            "last_name": "Reyes",
            "title": "VP of Engineering",
            "company": {
                "name": "Northwind Labs",
                "industry": "Software",
                "employee_count": 500,
                "plan": "trial",
            },
            "address": {"country": "United States", "city": "Portland"},
            "phone": "+1 415 555 0142",
            "logins": 5,
            "plan": "trial",
        },
    }
    result = track(message)
    (event,) = result.events
    assert event.type == "identify"
    assert event.identity.email == "dana.reyes@northwindlabs.io"
    assert event.profile == dana_profile(phone="+1 415 555 0142")
    assert event.properties == {"logins": 5, "plan": "trial"}


def test_identify_with_invalid_trait_drops_it_and_warns():
    result = track(
        {"type": "identify", "anonymousId": "a", "traits": {"name": "Sam Li", "employees": "many"}}
    )
    assert result.events[0].profile == Profile(first_name="Sam", last_name="Li")
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("traits.company_size:")


def test_message_without_type_is_inferred():
    result = track({"batch": [{"event": "Signed Up", "anonymousId": "a"}, {"traits": {"email": "x@y.io"}}]})
    assert [e.type for e in result.events] == ["track", "identify"]


def test_batch_merges_context_accepts_valid_items_and_lists_the_rest():
    body = {
        "batch": [
            {"type": "page", "messageId": "m1", "anonymousId": "a1", "properties": {"path": "/pricing"}},
            {"type": "track", "messageId": "m2", "event": "Demo Requested"},  # nobody
            "not an object",
            {"type": "screen", "messageId": "m3", "anonymousId": "a1", "name": "Home"},
            {"type": "group", "messageId": "m4", "anonymousId": "a1", "groupId": "g"},
            {"type": "page", "messageId": "m1", "anonymousId": "a1"},  # same messageId: a duplicate
            {"type": "launch", "messageId": "m5", "anonymousId": "a1"},
            {"type": "identify", "messageId": "m6", "userId": "usr_9", "traits": {"email": "bad-email"}},
            {
                "type": "page",
                "messageId": "m7",
                "anonymousId": "a2",
                "context": {"userAgent": "Safari/604.1"},
            },
        ],
        "context": {"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    }
    result = track(body)
    assert [e.event_id for e in result.events] == ["m1", "m6", "m7"]
    assert result.duplicates_in_request == 1
    assert result.events[0].bot == "crawler user agent (googlebot/2.1)"  # the batch context applies
    assert result.events[2].bot is None  # the message's own context wins
    # an invalid email with a userId: kept, identified by the userId
    assert result.events[1].identity.email is None
    assert result.events[1].identity.anonymous_id == "user:usr_9"
    assert result.to_response()["rejected"] == [
        {
            "index": 1,
            "error": "anonymousId: missing, and no userId or email (traits.email) to identify the visitor",
        },
        {"index": 2, "error": "must be a Segment message object"},
        {"index": 6, "error": "type: unknown Segment call type 'launch'"},
    ]
    assert result.to_response()["ignored"] == [
        {"index": 3, "reason": "screen calls (mobile apps) are not scored"},
        {"index": 4, "reason": "group calls are not scored"},
    ]


def test_invalid_email_without_other_identity_is_rejected_naming_the_field():
    result = track({"batch": [{"type": "identify", "traits": {"email": "nope"}}]})
    assert result.to_response()["rejected"] == [
        {"index": 0, "error": "traits.email: not a valid email address, and no anonymousId"}
    ]


def test_a_top_level_array_is_a_batch():
    result = track([{"type": "page", "anonymousId": "a", "messageId": "1"}, 5])
    assert len(result.events) == 1
    assert result.rejected[0].index == 1


def test_single_screen_is_accepted_and_ignored():
    result = track({"type": "screen", "anonymousId": "a", "name": "Home"})
    assert result.events == []
    assert result.to_response()["ignored"] == [
        {"index": 0, "reason": "screen calls (mobile apps) are not scored"}
    ]


def test_message_id_missing_gives_a_content_hash():
    message = {"type": "page", "anonymousId": "a", "properties": {"path": "/x"}}
    first, second = track(message).events[0], track(message).events[0]
    assert first.event_id == second.event_id
    assert first.event_id.startswith("segment:h:")


def test_future_timestamp_falls_back_to_receipt():
    (event,) = track({"type": "page", "anonymousId": "a", "timestamp": "2030-01-01T00:00:00Z"}).events
    assert event.occurred_at == RECEIVED


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/json; charset=utf-8"])
def test_text_plain_and_missing_content_type_are_read_as_json(content_type):
    assert len(track({"type": "page", "anonymousId": "a"}, content_type).events) == 1


def test_other_content_types_are_415():
    with pytest.raises(UnsupportedMediaTypeError):
        track({"type": "page", "anonymousId": "a"}, "application/x-www-form-urlencoded")


@pytest.mark.parametrize("body", ['"page"', "42", '{"batch": {"type": "page"}}'])
def test_malformed_segment_bodies_are_400(body):
    with pytest.raises(MalformedBodyError):
        track(body)


def test_overlong_anonymous_id_is_rejected():
    result = track({"batch": [{"type": "page", "anonymousId": "a" * 201}]})
    assert result.rejected[0].error == "anonymousId: longer than 200 characters"


# --- bots -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "crawler user agent (bingbot/2.0)",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0",
            "headless browser user agent (headlesschrome/120.0)",
        ),
        ("python-requests/2.32.3", "http library user agent (python-requests/2.32.3)"),
        ("curl/8.5.0", "http library user agent (curl/8.5.0)"),
        (
            "Mozilla/5.0 (Windows NT 10.0) Barracuda Link Protection",
            "email security scanner user agent (barracuda)",
        ),
        (CHROME, None),
        (
            "Mozilla/5.0 (Linux; Android 12; CUBOT P60) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36",
            None,
        ),
        ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", None),
        ("", None),
        (None, None),
    ],
)
def test_bot_reason(user_agent, expected):
    assert bot_reason(user_agent) == expected


def test_bot_reason_can_ignore_http_libraries():
    assert bot_reason("curl/8.5.0", http_libraries=False) is None
    assert bot_reason("Googlebot/2.1", http_libraries=False) is not None
