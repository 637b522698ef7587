"""Content types and body parsers. Every failure is a :class:`MalformedBodyError` naming the problem.

Nothing here trusts the body: JSON rejects NaN/Infinity and absurd nesting, urlencoded bodies are capped in
field count, and multipart file parts are skipped (forms send fields; files are not lead data).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from leadscore.ingest.errors import MalformedBodyError, UnsupportedMediaTypeError

JSON = "application/json"
FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART_FORM = "multipart/form-data"
TEXT_PLAIN = "text/plain"

MAX_FORM_FIELDS = 500


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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def parse_json(body: bytes) -> Any:
    """Parse a JSON body (UTF-8/16/32, detected by ``json``). 400 with the position of the first error."""
    if not body.strip():
        raise MalformedBodyError("the body is empty; expected JSON")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MalformedBodyError(
            "the body is not valid JSON", details=[f"{exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc
    except UnicodeDecodeError as exc:
        raise MalformedBodyError("the body is not valid UTF-8 JSON") from exc
    except RecursionError as exc:
        raise MalformedBodyError("the JSON body is nested too deeply") from exc
    except ValueError as exc:  # NaN/Infinity, integers beyond the digit limit
        raise MalformedBodyError("the body is not valid JSON", details=[str(exc)]) from exc


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
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, encoding=charset)
    except ValueError as exc:
        raise MalformedBodyError("the form body has too many fields", details=[str(exc)]) from exc


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
            value = raw.decode(charset, errors="replace")
        except LookupError:
            value = raw.decode("utf-8", errors="replace")
        fields.append((name, value))
        if len(fields) > MAX_FORM_FIELDS:
            raise MalformedBodyError(f"the form body has more than {MAX_FORM_FIELDS} fields")
    return fields
