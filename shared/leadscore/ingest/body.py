"""Content types and body parsers. Every failure is a :class:`MalformedBodyError` naming the problem.

Nothing here trusts the body. :func:`parse_json` is the one JSON parser of every route (forms, tracking,
webhooks, the Lead API): it refuses invalid UTF-8, nesting deeper than ``MAX_JSON_DEPTH`` (checked before
parsing), duplicate keys, NaN/Infinity, numbers beyond a float, lone surrogates and NUL characters, each
with a 400 naming the field or the problem. NUL is refused, never stripped: a stored value is always what
was sent. Urlencoded and multipart fields get the same NUL/encoding checks; urlencoded bodies are capped
in field count, and multipart file parts are skipped (forms send fields; files are not lead data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl

from leadscore.ingest.errors import (
    MalformedBodyError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)

JSON = "application/json"
FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART_FORM = "multipart/form-data"
TEXT_PLAIN = "text/plain"

MAX_FORM_FIELDS = 500
MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 6 * 1024 * 1024  # a backstop: Lambda's synchronous payload limit; routes set lower ones


@dataclass(frozen=True)
class ContentType:
    """A parsed ``Content-Type`` header: the lower-cased media type and its parameters."""

    mime: str
    params: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    @property
    def charset(self) -> str:
        return self.params.get("charset", "utf-8")

    @property
    def is_json(self) -> bool:
        return self.mime == JSON or (self.mime.startswith("application/") and self.mime.endswith("+json"))


def parse_content_type(value: str | None) -> ContentType | None:
    """``"application/json; charset=UTF-8"`` → ContentType("application/json", {"charset": "utf-8"})."""
    if value is None or not value.strip():
        return None
    mime, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, sep, val = item.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    if "charset" in params:
        params["charset"] = params["charset"].lower()
    return ContentType(mime=mime.strip().lower(), params=params, raw=value.strip())


def require_content_type(
    content_type: ContentType | None, accepted: Collection[str], *, default: str | None = None
) -> ContentType:
    """The request's content type if the route accepts it (``default`` when there is none), else 415."""
    if content_type is None:
        if default is None:
            raise UnsupportedMediaTypeError(
                "a Content-Type header is required", details=[f"accepted: {', '.join(accepted)}"]
            )
        return ContentType(mime=default)
    if content_type.mime in accepted or (JSON in accepted and content_type.is_json):
        return content_type
    raise UnsupportedMediaTypeError(
        f"Content-Type {content_type.mime!r} is not accepted here",
        details=[f"accepted: {', '.join(accepted)}"],
    )


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: an object, unless a key repeats (stdlib ``json`` would keep the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


class _OutOfRange:
    """What ``parse_float`` returns for a number no float can hold (``1e400``): found by its path after
    parsing, so the 422 names the field. Never leaves :func:`parse_json`."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


_out_of_range_seen = [0]  # how many _OutOfRange were made: parse_json walks only when it grew


def _finite_float(literal: str) -> float | _OutOfRange:
    """``parse_float``: ``1e400`` would be ``inf``; a number we cannot hold is refused, not rounded."""
    value = float(literal)
    if value in (_INF, -_INF):
        _out_of_range_seen[0] += 1
        return _OutOfRange(literal)
    return value


def _out_of_range(document: Any) -> tuple[str, str] | None:
    """The path and literal of the first out-of-range number (document order)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _OutOfRange):
            return path or "body", value.literal
        if isinstance(value, dict):
            stack.extend(
                reversed(
                    [(f"{path}.{field_label(k)}" if path else field_label(k), v) for k, v in value.items()]
                )
            )
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
    return None


_INF = float("inf")
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# Lone surrogates and NUL can only enter a valid UTF-8 JSON text through \u escapes.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


# Built once: json.loads(text, **hooks) would build a new decoder on every call (~1 µs of 7).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_constant=_reject_constant, parse_float=_finite_float
)


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests arrays/objects deeper than ``max_depth``, without recursion or parsing.

    Cheap on the hot path: if there are no more brackets than ``max_depth`` in all it cannot. Otherwise
    escapes, then strings, then everything but brackets are removed (linear regexes, no backtracking)
    and the running depth is summed in C (``accumulate``). Exact for valid JSON.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    return bool(brackets) and max(accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > max_depth


def text_problem(value: str) -> str | None:
    """Why a string must not be stored: a NUL character, or a lone surrogate (not Unicode). None if fine."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate (U+{ord(value[exc.start]):04X}), which is not valid Unicode"
    return None


def field_label(name: str, limit: int = 60) -> str:
    """A field name safe to echo in an error (escaped if unprintable, capped)."""
    label = name if name.isprintable() and text_problem(name) is None else ascii(name)[1:-1]
    return label[:limit] + ("..." if len(label) > limit else "")


def _bad_string(document: Any) -> tuple[str, str] | None:
    """The path (``batch[0].anonymousId``) and problem of the first string or key :func:`text_problem`
    refuses, walking iteratively (document order)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return path or "body", problem
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                child = f"{path}.{field_label(key)}" if path else field_label(key)
                problem = text_problem(key)
                if problem is not None:
                    return child, "(the key) " + problem
                children.append((child, item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
    return None


NOT_JSON = "the body is not valid JSON"


def _not_json(detail: str) -> MalformedBodyError:
    return MalformedBodyError(NOT_JSON, details=[detail])


def parse_json(body: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body: the one JSON parser of every route (forms, tracking, webhooks, the Lead API).

    UTF-8 (or UTF-16/32, detected as ``json`` does); every failure is a 400 naming the problem, and the
    field where there is one: invalid UTF-8, nesting deeper than ``max_depth`` (checked before parsing,
    so never a RecursionError), duplicate keys (stdlib ``json`` keeps the last silently), NaN/Infinity
    (not JSON), lone surrogates (``"\\ud800"``: not Unicode, unencodable downstream) and NUL characters
    (refused, never stored nor stripped). Larger than ``max_bytes``: 413. A number beyond a float
    (``1e400``, which Python reads as infinity) is valid JSON holding nothing usable: 422 naming the field.
    """
    if len(body) > max_bytes:
        raise PayloadTooLargeError(
            f"the body is larger than {max_bytes} bytes", details=[f"body: at most {max_bytes} bytes"]
        )
    if not body.strip():
        raise MalformedBodyError("the body is empty; expected JSON", details=["body: empty"])
    encoding = json.detect_encoding(body)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        raise MalformedBodyError(
            f"the body is not valid {name} JSON",
            details=[f"body: invalid {name} bytes at offset {exc.start}"],
        ) from exc
    if json_depth_exceeds(text, max_depth):
        raise MalformedBodyError(
            "the JSON body is nested too deeply", details=[f"body: nested deeper than {max_depth} levels"]
        )
    seen = _out_of_range_seen[0]
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _not_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except _DuplicateKeyError as exc:
        label = field_label(exc.key)
        raise MalformedBodyError(
            f"the JSON body repeats the key {label!r}",
            details=[f"{label}: duplicate key (each key may appear once per object)"],
        ) from exc
    except RecursionError as exc:  # not reachable after the depth check; kept as a backstop
        raise MalformedBodyError("the JSON body is nested too deeply") from exc
    except ValueError as exc:  # NaN/Infinity, integers beyond the digit limit
        raise _not_json(str(exc)) from exc
    if _out_of_range_seen[0] != seen:
        found = _out_of_range(document)
        if found is not None:  # valid JSON, but no number we can hold: 422 naming the field
            path, literal = found
            raise UnprocessableError(
                f"the field {path} is a number out of range",
                details=[f"{path}: number {literal[:40]} is out of range (not a finite number)"],
            )
    if _SUSPECT_ESCAPE.search(text):
        bad = _bad_string(document)
        if bad is not None:
            path, problem = bad
            raise MalformedBodyError(f"the field {path} {problem}", details=[f"{path}: {problem}"])
    return document


def check_fields(pairs: Iterable[tuple[str, str]]) -> None:
    """Form fields (urlencoded or multipart) pass the same text checks as JSON strings: 400 naming one."""
    for name, value in pairs:
        label = field_label(name)
        for what, text in (("(the name) ", name), ("", value)):
            problem = text_problem(text)
            if problem is not None:
                raise MalformedBodyError(
                    f"the field {label} {what}{problem}", details=[f"{label}: {what}{problem}"]
                )


def _decode_text(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset)
    except LookupError as exc:
        raise UnsupportedMediaTypeError(f"unknown charset {charset!r}") from exc
    except UnicodeDecodeError as exc:
        raise MalformedBodyError(f"the body is not valid {charset}") from exc


def parse_urlencoded(body: bytes, charset: str = "utf-8") -> list[tuple[str, str]]:
    """``a=1&b=x+y`` → [("a", "1"), ("b", "x y")]. Repeated names are kept in order."""
    text = _decode_text(body, charset)
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, encoding=charset, errors="strict"
        )
    except UnicodeDecodeError as exc:  # a percent-escape that is not valid in the charset (%FF in UTF-8)
        raise _undecodable_field(text, charset) from exc
    except ValueError as exc:
        raise MalformedBodyError("the form body has too many fields", details=[str(exc)]) from exc
    check_fields(pairs)
    return pairs


def _undecodable_field(text: str, charset: str) -> MalformedBodyError:
    pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="surrogateescape")
    name = next((n for n, v in pairs if text_problem(n) or text_problem(v)), "body")
    label = field_label(name.encode(charset, "surrogateescape").decode(charset, "replace"))
    return MalformedBodyError(
        f"the field {label} is not valid {charset}",
        details=[f"{label}: percent-encoded bytes not valid {charset}"],
    )


def parse_multipart(body: bytes, content_type: ContentType) -> list[tuple[str, str]]:
    """The text fields of a ``multipart/form-data`` body, in order. File parts (with a filename) are skipped.

    Parsed with the standard library's email parser (``cgi`` is gone in 3.13); part charsets are honoured.
    """
    boundary = content_type.params.get("boundary")
    if not boundary:
        raise MalformedBodyError("multipart/form-data needs a boundary parameter in Content-Type")
    if len(boundary) > 200 or any(c in boundary for c in "\r\n"):
        raise MalformedBodyError("the multipart boundary is not valid")
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\n\r\n'.encode()
    try:
        return _multipart_fields(
            BytesParser(EmailMessage, policy=HTTP).parsebytes(head + body), boundary, body, content_type
        )
    except MalformedBodyError:
        raise
    except Exception as exc:  # the stdlib email parser on hostile input: whatever it raises is a bad body
        raise MalformedBodyError("the multipart body cannot be parsed") from exc


def _multipart_fields(
    message: EmailMessage, boundary: str, body: bytes, content_type: ContentType
) -> list[tuple[str, str]]:
    if not message.is_multipart() or f"--{boundary}".encode() not in body:
        raise MalformedBodyError("the multipart body has no parts for its boundary")
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        charset = part.get_content_charset() or content_type.charset
        try:
            value = raw.decode(charset)
        except LookupError:
            charset = "utf-8"
            value = raw.decode(charset, errors="replace")
        except UnicodeDecodeError as exc:
            label = field_label(name)
            raise MalformedBodyError(
                f"the field {label} is not valid {charset}", details=[f"{label}: not valid {charset}"]
            ) from exc
        fields.append((name, value))
        if len(fields) > MAX_FORM_FIELDS:
            raise MalformedBodyError(f"the form body has more than {MAX_FORM_FIELDS} fields")
    check_fields(fields)
    return fields
