"""Body parsers, the HTTP request builder (size check before decoding, base64) and the shared normalizers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from leadscore.ingest.body import (
    ContentType,
    parse_content_type,
    parse_json,
    parse_multipart,
    parse_urlencoded,
    require_content_type,
)
from leadscore.ingest.errors import MalformedBodyError, PayloadTooLargeError, UnsupportedMediaTypeError
from leadscore.ingest.normalize import (
    MAX_PROPERTIES,
    MAX_VALUE_CHARS,
    clean_properties,
    occurred_at,
    page_properties,
    parse_time,
    url_path,
)
from leadscore.ingest.request import from_http_api_event

from tests.support import http_api_event

BOUNDARY = "----WebKitFormBoundaryX1y2Z3"


def multipart(fields: list[tuple[str, str]], *, file: tuple[str, bytes] | None = None) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    body = "".join(parts).encode()
    if file is not None:
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="cv"; filename="{file[0]}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + file[1]
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


# --- content types ---------------------------------------------------------------------------------------


def test_parse_content_type_lowercases_and_reads_params():
    ct = parse_content_type('Multipart/Form-Data; boundary="abc"; charset=UTF-8')
    assert ct == ContentType(
        mime="multipart/form-data",
        params={"boundary": "abc", "charset": "utf-8"},
        raw='Multipart/Form-Data; boundary="abc"; charset=UTF-8',
    )
    assert parse_content_type("") is None
    assert parse_content_type(None) is None


def test_require_content_type_accepts_json_suffix_and_default_and_refuses_others():
    assert require_content_type(parse_content_type("application/vnd.api+json"), ["application/json"]).is_json
    assert (
        require_content_type(None, ["application/json"], default="application/json").mime
        == "application/json"
    )
    with pytest.raises(UnsupportedMediaTypeError) as missing:
        require_content_type(None, ["application/json"])
    assert missing.value.status == 415
    with pytest.raises(UnsupportedMediaTypeError) as wrong:
        require_content_type(parse_content_type("text/xml"), ["application/json", "text/plain"])
    assert "text/xml" in wrong.value.message
    assert wrong.value.details == ["accepted: application/json, text/plain"]


# --- JSON -----------------------------------------------------------------------------------------------


def test_parse_json_reads_utf8_and_utf16():
    assert parse_json(b'{"a": [1, "\xc3\xa9"]}') == {"a": [1, "é"]}
    assert parse_json('{"a": 1}'.encode("utf-16")) == {"a": 1}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{"a": ', "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[Infinity]", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff\xfe\x00\x00garbage", "not valid"),
        (b"1" * 5000, "not valid JSON"),
    ],
)
def test_parse_json_failures_are_400_with_a_reason(body, fragment):
    with pytest.raises(MalformedBodyError) as info:
        parse_json(body)
    assert info.value.status == 400
    assert fragment in info.value.message


def test_parse_json_names_the_position():
    with pytest.raises(MalformedBodyError) as info:
        parse_json(b'{"email": "x@y.io",\n "company": }')
    assert info.value.details == ["Expecting value at line 2 column 13"]


# --- urlencoded and multipart ------------------------------------------------------------------------


def test_parse_urlencoded_keeps_order_blanks_and_repeats():
    body = b"email=dana%40northwindlabs.io&Job+Title=VP+of+Engineering&interest=a&interest=b&website_url="
    assert parse_urlencoded(body) == [
        ("email", "dana@northwindlabs.io"),
        ("Job Title", "VP of Engineering"),
        ("interest", "a"),
        ("interest", "b"),
        ("website_url", ""),
    ]


def test_parse_urlencoded_honours_charset_and_refuses_bad_bytes():
    assert parse_urlencoded("company=Société".encode("latin-1"), "latin-1") == [("company", "Société")]
    with pytest.raises(MalformedBodyError):
        parse_urlencoded(b"company=\xff\xfe", "utf-8")
    with pytest.raises(UnsupportedMediaTypeError):
        parse_urlencoded(b"a=1", "no-such-charset")


def test_parse_urlencoded_caps_the_field_count():
    with pytest.raises(MalformedBodyError):
        parse_urlencoded(b"&".join(b"f%d=1" % i for i in range(600)))


def test_parse_multipart_returns_text_fields_and_skips_files():
    body = multipart(
        [("E-mail", "alex@example.com"), ("Full Name", "Alex Kim")], file=("cv.pdf", b"%PDF\x00\xff")
    )
    ct = parse_content_type(f"multipart/form-data; boundary={BOUNDARY}")
    assert ct is not None
    assert parse_multipart(body, ct) == [("E-mail", "alex@example.com"), ("Full Name", "Alex Kim")]


def test_parse_multipart_decodes_utf8_values():
    body = multipart([("company", "Überwald GmbH")])
    ct = parse_content_type(f"multipart/form-data; boundary={BOUNDARY}")
    assert ct is not None
    assert parse_multipart(body, ct) == [("company", "Überwald GmbH")]


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("multipart/form-data", b"--x\r\n\r\n"),
        ("multipart/form-data; boundary=other", multipart([("a", "1")])),
        (f"multipart/form-data; boundary={BOUNDARY}", b"no parts here"),
    ],
)
def test_parse_multipart_refuses_bodies_without_matching_parts(header, body):
    ct = parse_content_type(header)
    assert ct is not None
    with pytest.raises(MalformedBodyError):
        parse_multipart(body, ct)


# --- request building -------------------------------------------------------------------------------


def test_request_from_event_decodes_base64_and_lowercases_headers():
    raw = multipart([("email", "alex@example.com")])
    event = http_api_event(
        "post",
        "/forms",
        raw,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "User-Agent": "Safari"},
        base64_encode=True,
        time_epoch_ms=1_795_449_600_123,
    )
    request = from_http_api_event(event, max_body_bytes=1024)
    assert request.body == raw
    assert request.method == "POST"
    assert request.path == "/forms"
    assert request.header("USER-AGENT") == "Safari"
    assert request.content_type is not None
    assert request.content_type.mime == "multipart/form-data"
    assert request.received_at == datetime(2026, 11, 23, 16, 0, 0, 123000, tzinfo=UTC)


def test_request_without_body_is_empty():
    assert from_http_api_event(http_api_event("POST", "/track"), max_body_bytes=1024).body == b""


@pytest.mark.parametrize("base64_encode", [False, True])
def test_body_over_the_limit_is_413_before_any_decoding(base64_encode):
    event = http_api_event("POST", "/forms", "x" * 1025, base64_encode=base64_encode)
    with pytest.raises(PayloadTooLargeError) as info:
        from_http_api_event(event, max_body_bytes=1024)
    assert info.value.status == 413
    # exactly at the limit is fine
    event = http_api_event("POST", "/forms", "x" * 1024, base64_encode=base64_encode)
    assert len(from_http_api_event(event, max_body_bytes=1024).body) == 1024


def test_oversized_base64_body_is_413_even_when_it_is_not_valid_base64():
    event = http_api_event("POST", "/forms", None)
    event.update(body="!" * 5000, isBase64Encoded=True)
    with pytest.raises(PayloadTooLargeError):
        from_http_api_event(event, max_body_bytes=1024)


def test_multibyte_text_is_measured_in_bytes():
    event = http_api_event("POST", "/forms", "é" * 600)  # 600 characters, 1200 bytes
    with pytest.raises(PayloadTooLargeError):
        from_http_api_event(event, max_body_bytes=1024)


def test_invalid_base64_is_400():
    event = http_api_event("POST", "/forms", None)
    event.update(body="not base64 at all!", isBase64Encoded=True)
    with pytest.raises(MalformedBodyError) as info:
        from_http_api_event(event, max_body_bytes=1024)
    assert "base64" in info.value.message


def test_http_api_event_is_payload_v2():
    event = http_api_event("POST", "/webhooks/sendgrid", "[]", path_parameters={"provider": "sendgrid"})
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /webhooks/{provider}"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["pathParameters"] == {"provider": "sendgrid"}
    assert base64.b64encode(b"[]").decode() != event["body"] == "[]"


# --- normalizers -----------------------------------------------------------------------------------------


def test_clean_properties_flattens_caps_and_lets_earlier_sources_win():
    props = clean_properties(
        {
            "plan": "pro",
            "nested": {"a": {"b": 1, "c": {"d": "too deep"}}},
            "tags": ["x", 2, None],
            "nan": float("nan"),
        },
        {"plan": "ignored", "empty": "  ", "none": None, "long": "y" * 5000},
    )
    assert props == {"plan": "pro", "nested.a.b": 1, "tags": "x,2", "long": "y" * MAX_VALUE_CHARS}
    many = clean_properties({f"k{i}": i for i in range(500)})
    assert len(many) == MAX_PROPERTIES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T14:05:00Z", datetime(2026, 11, 23, 14, 5, tzinfo=UTC)),
        ("2026-11-23T15:05:00+01:00", datetime(2026, 11, 23, 14, 5, tzinfo=UTC)),
        ("2026-11-23T14:05:00", datetime(2026, 11, 23, 14, 5, tzinfo=UTC)),
        (1795449600, datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
        (1795449600000, datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
        ("1795449600", datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
        (-5, None),
        (1e300, None),
        ("9999-12-31T23:59:59-23:59", None),
        (None, None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def test_occurred_at_refuses_the_future_and_falls_back_to_receipt():
    received = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert occurred_at("2026-11-23T13:00:00Z", received) == received - timedelta(hours=1)
    assert occurred_at("2026-11-23T14:04:00Z", received) == received + timedelta(minutes=4)  # clock skew
    assert occurred_at("2026-11-24T14:00:00Z", received) == received
    assert occurred_at("garbage", received) == received


def test_page_properties_and_url_path():
    assert page_properties("https://x.io/pricing?utm_source=g&utm_medium=cpc&q=1") == {
        "url": "https://x.io/pricing?utm_source=g&utm_medium=cpc&q=1",
        "path": "/pricing",
        "utm_source": "g",
        "utm_medium": "cpc",
    }
    assert page_properties(None, "/blog") == {"path": "/blog"}
    assert url_path("https://x.io") == "/"
    assert url_path("not a url") is None
    assert json.dumps(page_properties("http://[::1")) is not None  # a broken URL is not an error
