"""The one JSON parser every route uses, against what stdlib json.loads lets through.

json.loads accepts lone surrogates, duplicate keys (last wins), NaN and 1e400 (as inf), and raises
RecursionError on deep nesting; parse_json refuses each with a 400 naming the field or the problem, and
1e400 (valid JSON, no usable number) with a 422 naming the field.
"""

from __future__ import annotations

import json
import sys

import pytest
from leadscore.ingest.body import (
    ContentType,
    json_depth_exceeds,
    parse_json,
    parse_multipart,
    parse_urlencoded,
)
from leadscore.ingest.errors import MalformedBodyError, PayloadTooLargeError, UnprocessableError


def refused(body: bytes, **kwargs: int) -> MalformedBodyError:
    with pytest.raises(MalformedBodyError) as info:
        parse_json(body, **kwargs)
    assert info.value.status == 400
    return info.value


def test_stdlib_json_lets_these_through() -> None:
    # The reasons for the parser: if one of these ever changes, the matching check may go.
    assert json.loads('{"a": "\\ud800"}') == {"a": "\ud800"}
    assert json.loads('{"a": 1, "a": 2}') == {"a": 2}
    assert json.loads("[1e400]") == [float("inf")]
    with pytest.raises(RecursionError):
        json.loads("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"email": "\\ud800"}', "email"),
        (b'{"email": "x\\uDFFFy@x.com"}', "email"),
        (b'{"batch": [{"anonymousId": "ok"}, {"anonymousId": "\\udbff"}]}', "batch[1].anonymousId"),
        (b'{"traits": {"k\\ud800": 1}}', "traits.k\\ud800"),
        (b'["\\ud83d"]', "[0]"),  # a high surrogate with no low one
        (b'["\\ude00\\ud83d"]', "[0]"),  # a pair in the wrong order
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(body: bytes, field: str) -> None:
    error = refused(body)
    assert error.details[0].startswith(f"{field}: ") and "surrogate" in error.details[0]
    assert field in error.message


def test_surrogate_pairs_are_characters_and_accepted() -> None:
    assert parse_json(b'{"name": "\\ud83d\\ude00 J\\u00f6rg"}') == {"name": "\U0001f600 Jörg"}
    assert parse_json(b'{"path": "C:\\\\ud800"}') == {"path": "C:\\ud800"}  # an escaped backslash, not \u


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"email": "a\\u0000@x.com"}', "email"),
        (b'{"a": {"b": ["\\u0000"]}}', "a.b[0]"),
        (b'{"\\u0000": 1}', "\\x00"),
    ],
)
def test_nul_is_refused_never_stripped(body: bytes, field: str) -> None:
    error = refused(body)
    assert error.details[0].startswith(f"{field}: ") and "NUL" in error.details[0]


def test_duplicate_keys_are_refused_naming_the_key() -> None:
    error = refused(b'{"email": "a@x.com", "company": "A", "email": "b@x.com"}')
    assert error.details == ["email: duplicate key (each key may appear once per object)"]
    refused(b'{"a": [{"x": 1, "x": 1}]}')  # at any depth, even with equal values
    assert parse_json(b'[{"x": 1}, {"x": 2}]') == [{"x": 1}, {"x": 2}]  # same key, different objects


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b'{"a": ' + b"9" * 5000 + b"}", "digits"),
    ],
)
def test_numbers_json_cannot_hold_are_refused(body: bytes, fragment: str) -> None:
    error = refused(body)
    assert fragment in error.details[0]


@pytest.mark.parametrize(
    ("body", "path", "literal"),
    [
        (b'{"a": 1e400}', "a", "1e400"),
        (b'{"a": -1.5E+999}', "a", "-1.5E+999"),
        (b'{"batch": [{"score": 1}, {"traits": {"score": 1e400}}]}', "batch[1].traits.score", "1e400"),
        (b"[1, 2e308]", "[1]", "2e308"),
        (b"1e400", "body", "1e400"),
    ],
)
def test_a_number_beyond_a_float_is_a_422_naming_the_field(body: bytes, path: str, literal: str) -> None:
    """``1e400`` is valid JSON that Python reads as infinity: unusable, not malformed (422, the field)."""
    with pytest.raises(UnprocessableError) as info:
        parse_json(body)
    assert info.value.status == 422
    assert path in info.value.message
    assert info.value.details == [f"{path}: number {literal} is out of range (not a finite number)"]


def test_ordinary_numbers_are_kept() -> None:
    assert parse_json(b"[1, -2.5, 1e308, 12345678901234567890, true]") == [
        1,
        -2.5,
        1e308,
        12345678901234567890,
        True,
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b"[" * 10_000,  # unclosed: stdlib recursion happens before the syntax error
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"[" * 33 + b"]" * 33,
        b'{"a": [{"b": ' * 17 + b"1" + b"}]" * 17 + b"}",
    ],
)
def test_deep_nesting_is_refused_before_parsing(body: bytes) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # the depth check must not depend on the parser's recursion
    try:
        error = refused(body)
    finally:
        sys.setrecursionlimit(limit)
    assert error.details == ["body: nested deeper than 32 levels"]


def test_depth_counts_structure_not_brackets_in_strings() -> None:
    assert parse_json(b"[" * 32 + b"]" * 32) is not None
    inside = b'{"note": "' + b"[{" * 500 + b'\\"[[[["}'
    assert parse_json(inside) == {"note": "[{" * 500 + '"[[[['}
    assert not json_depth_exceeds('["' + "[" * 100 + '"]', 32)
    assert json_depth_exceeds("[" * 33, 32)
    assert not json_depth_exceeds('["\\\\", ' + '"["' * 100 + "]", 32)  # an escaped backslash ends no string


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"a": "\xff"}', "UTF-8"),
        (b'{"a": "\xc0\xaf"}', "UTF-8"),  # overlong "/"
        (b'{"a": "\xed\xa0\x80"}', "UTF-8"),  # a UTF-8-encoded surrogate (CESU-8)
        ('{"a": "x"}'.encode("utf-16-le")[:-4] + b"\x00\xd8" + '"}'.encode("utf-16-le"), "UTF-16"),
    ],
)
def test_invalid_unicode_bytes_are_refused(body: bytes, fragment: str) -> None:
    error = refused(body)
    assert fragment in error.message and error.details[0].startswith("body: invalid")


def test_size_limit_is_a_413() -> None:
    with pytest.raises(PayloadTooLargeError) as info:
        parse_json(b"[" + b"1," * 600 + b"1]", max_bytes=1024)
    assert info.value.status == 413 and "1024" in info.value.message


def test_form_fields_get_the_same_checks() -> None:
    with pytest.raises(MalformedBodyError, match="note") as info:
        parse_urlencoded(b"email=a%40x.com&note=a%00b")
    assert "NUL" in info.value.details[0]
    with pytest.raises(MalformedBodyError, match="email") as info:
        parse_urlencoded(b"email=a%FF%40x.com")
    assert info.value.details == ["email: percent-encoded bytes not valid utf-8"]
    boundary = "b0"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'.encode()
        + b"a\xff@x.com\r\n--b0--\r\n"
    )
    content_type = ContentType("multipart/form-data", {"boundary": boundary})
    with pytest.raises(MalformedBodyError, match="email"):
        parse_multipart(body, content_type)
