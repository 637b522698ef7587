"""Lambda event payloads, built the way the AWS services build them.

Pure functions: no AWS calls. ``Stack`` (stack.py) feeds them what moto returns.
- HTTP API payload format 2.0 (API Gateway HTTP API, ``aws_proxy`` integration);
- SQS batches from ``ReceiveMessage`` output;
- DynamoDB stream batches from ``GetRecords`` output, and Lambda's event filtering on them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACCOUNT_ID = "123456789012"

# Content types API Gateway would hand over base64-encoded even when the bytes happen to be UTF-8.
_BINARY_TYPES = (
    "application/octet-stream",
    "application/zip",
    "application/pdf",
    "image/",
    "audio/",
    "video/",
)


# -------------------------------------------------------------------------------------------- HTTP API
@dataclass(frozen=True)
class Route:
    """One route of an HTTP API: ``POST /webhooks/{provider}`` served by ``function``."""

    method: str  # upper case, or ANY
    path: str  # as in the template, e.g. /webhooks/{provider}; "$default" for the catch-all
    function: str  # logical id of the function
    api: str = ""  # logical id of the HttpApi ("" for SAM's implicit ServerlessHttpApi)
    auth: str = ""  # the route's authorizer: "AWS_IAM", or "" for none
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", _path_regex(self.path))

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    @property
    def literal_segments(self) -> int:
        return sum(1 for seg in self.path.strip("/").split("/") if seg and not seg.startswith("{"))

    def match_path(self, path: str) -> dict[str, str] | None:
        """The path parameters if ``path`` fits this route's template, else None."""
        if self.path == "$default":
            return {}
        found = self._regex.fullmatch(path)
        return None if found is None else dict(found.groupdict())

    def accepts(self, method: str) -> bool:
        return self.method in ("ANY", method.upper())


def _path_regex(template: str) -> re.Pattern[str]:
    if template == "$default":
        return re.compile(r".*")
    parts = []
    for seg in template.strip("/").split("/"):
        greedy = re.fullmatch(r"\{([A-Za-z0-9_.\-]+)\+\}", seg)
        single = re.fullmatch(r"\{([A-Za-z0-9_.\-]+)\}", seg)
        if greedy:
            parts.append(f"(?P<{_group(greedy.group(1))}>.+)")
        elif single:
            parts.append(f"(?P<{_group(single.group(1))}>[^/]+)")
        else:
            parts.append(re.escape(seg))
    return re.compile("/" + "/".join(parts) + "/?")


def _group(name: str) -> str:
    # Regex group names must be identifiers; path parameters are simple names in practice.
    return re.sub(r"\W", "_", name)


def match_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route that serves ``method path`` (as API Gateway picks: literals win)."""
    candidates = [
        (route, params)
        for route in routes
        if route.accepts(method) and (params := route.match_path(path)) is not None
    ]
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0].path != "$default", c[0].literal_segments, c[0].method != "ANY"))
    return candidates[-1]


LOCAL_PRINCIPAL = f"arn:aws:iam::{ACCOUNT_ID}:user/local"
_SIGV4_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9_.+=@\-]{1,128})/")


def iam_authorizer(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, Any] | None:
    """Locally, what API Gateway's AWS_IAM authorizer would put in ``requestContext.authorizer``.

    moto cannot verify SigV4, so locally ANY ``Authorization`` header is accepted (the real check is
    API Gateway's): ``Authorization: AWS4-HMAC-SHA256 Credential=alice/...`` is the principal
    ``arn:aws:iam::123456789012:user/alice``; any other value is ``.../user/local``. None (refused:
    403) without the header.
    """
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    value = next((str(v) for k, v in items if str(k).lower() == "authorization"), "").strip()
    if not value:
        return None
    found = _SIGV4_CREDENTIAL.search(value)
    user = found.group(1) if found else "local"
    arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    return {
        "iam": {
            "accessKey": user,
            "accountId": ACCOUNT_ID,
            "callerId": user,
            "principalOrgId": None,
            "userArn": arn,
            "userId": user,
            "cognitoIdentity": None,
        }
    }


def path_is_known(routes: Iterable[Route], path: str) -> bool:
    """True when some route has this path, whatever its method (405 rather than 404)."""
    return any(r.path != "$default" and r.match_path(path) is not None for r in routes)


def http_event(
    route: Route | str,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    query: Mapping[str, str | list[str]] | str | None = None,
    *,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    stage: str = "$default",
    domain_name: str | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event.

    ``route`` is a ``Route`` or a route key such as ``"POST /webhooks/{provider}"``. Headers are
    lower-cased, repeated ones joined by commas; cookies move to ``cookies``. A body that is not
    UTF-8 (or has a binary content type) is sent base64-encoded with ``isBase64Encoded`` true.
    """
    route_key = route.route_key if isinstance(route, Route) else route
    if path_parameters is None and isinstance(route, Route):
        path_parameters = route.match_path(path) or {}
    method = method.upper()
    now = time.time()
    request_id = uuid.uuid4().hex[:16]

    merged: dict[str, str] = {}
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    for name, value in items:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else str(value)
    domain = domain_name or merged.get("host") or f"{api_id}.execute-api.us-east-1.amazonaws.com"
    cookies = [c.strip() for c in merged.pop("cookie", "").split(";") if c.strip()]

    raw_body: bytes | None = body.encode() if isinstance(body, str) else body
    merged.setdefault("host", domain)
    merged.setdefault("user-agent", "leadscore-local")
    merged.setdefault("x-forwarded-for", source_ip)
    merged.setdefault("x-forwarded-proto", "https")
    merged.setdefault("x-forwarded-port", "443")
    if raw_body is not None:
        merged["content-length"] = str(len(raw_body))

    raw_query, query_params = _query(query)

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged["user-agent"],
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if cookies:
        event["cookies"] = cookies
    if query_params:
        event["queryStringParameters"] = query_params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw_body is not None:
        if _is_binary(raw_body, merged.get("content-type", "")):
            event["body"] = base64.b64encode(raw_body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw_body.decode()
    return event


def _query(query: Mapping[str, str | list[str]] | str | None) -> tuple[str, dict[str, str]]:
    from urllib.parse import parse_qsl, urlencode

    if not query:
        return "", {}
    if isinstance(query, str):
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
        raw = query.lstrip("?")
    else:
        pairs = [(k, x) for k, v in query.items() for x in ([v] if isinstance(v, str) else v)]
        raw = urlencode(pairs)
    params: dict[str, str] = {}
    for key, value in pairs:
        params[key] = f"{params[key]},{value}" if key in params else value
    return raw, params


def _is_binary(body: bytes, content_type: str) -> bool:
    if content_type.lower().startswith(_BINARY_TYPES):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def decode_body(event: Mapping[str, Any]) -> bytes:
    """The raw bytes of an HTTP API event's body: base64-decoded when flagged and valid, else the
    text as given (a hand-written sample may flag a body that is not base64)."""
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        with contextlib.suppress(binascii.Error, ValueError):
            return base64.b64decode(str(body), validate=True)
    return str(body).encode()


# ------------------------------------------------------------------------------------------ EventBridge
def scheduled_event(rule_arn: str, region: str = "us-east-1", at: datetime | None = None) -> dict[str, Any]:
    """The event an EventBridge schedule rule (a SAM ``Schedule`` event) hands its target function."""
    when = at or datetime.now().astimezone()
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


# ------------------------------------------------------------------------------------------------- SQS
def sqs_event(
    messages: Iterable[Mapping[str, Any]], queue_arn: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """An SQS event for Lambda from ``ReceiveMessage`` output (``Messages``)."""
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    attributes = {str(k): str(v) for k, v in (message.get("Attributes") or {}).items()}
    attributes.setdefault("ApproximateReceiveCount", "1")
    attributes.setdefault("SentTimestamp", str(int(time.time() * 1000)))
    attributes.setdefault("SenderId", ACCOUNT_ID)
    attributes.setdefault("ApproximateFirstReceiveTimestamp", attributes["SentTimestamp"])
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": _b64(value["BinaryValue"]) if "BinaryValue" in value else None,
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [_b64(b) for b in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message.get("ReceiptHandle", ""),
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


# ------------------------------------------------------------------------------------ DynamoDB streams
def stream_record(record: Mapping[str, Any], stream_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """A Lambda DynamoDB stream record from one ``GetRecords`` record (binary values → base64)."""
    ddb = dict(record.get("dynamodb") or {})
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        ddb["ApproximateCreationDateTime"] = int(created.timestamp())
    ddb = _jsonable(ddb)
    return {
        "eventID": record.get("eventID", uuid.uuid4().hex),
        "eventName": record.get("eventName", "MODIFY"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }


def stream_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A DynamoDB stream event for Lambda from records already shaped by :func:`stream_record`."""
    return {"Records": [dict(r) for r in records]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


# ------------------------------------------------------------------------------------- event filtering
def parse_filters(filter_criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of an event source mapping's ``FilterCriteria`` (JSON strings → dicts)."""
    patterns = []
    for item in (filter_criteria or {}).get("Filters", []) or []:
        pattern = item.get("Pattern")
        if isinstance(pattern, str):
            patterns.append(json.loads(pattern))
        elif isinstance(pattern, Mapping):
            patterns.append(dict(pattern))
    return patterns


def passes_filters(record: Mapping[str, Any], patterns: list[dict[str, Any]]) -> bool:
    """Lambda keeps a record when it matches any pattern (or when there are none)."""
    return not patterns or any(matches_pattern(record, p) for p in patterns)


def matches_pattern(data: Any, pattern: Mapping[str, Any]) -> bool:
    """EventBridge-style matching, the subset used here: nested keys, lists of exact values,
    and ``{"exists": bool}``. Every key of the pattern must match."""
    if not isinstance(data, Mapping):
        return False
    for key, expected in pattern.items():
        present = key in data
        actual = data.get(key)
        if isinstance(expected, Mapping):
            if not present or not matches_pattern(actual, expected):
                return False
        elif isinstance(expected, list):
            if not _matches_values(actual, present, expected):
                return False
        elif not present or actual != expected:
            return False
    return True


def _matches_values(actual: Any, present: bool, allowed: list[Any]) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    for rule in allowed:
        if isinstance(rule, Mapping):
            if "exists" in rule and bool(rule["exists"]) == present:
                return True
            continue
        if present and any(_same(v, rule) for v in values):
            return True
    return False


def _same(value: Any, rule: Any) -> bool:
    # JSON true must not equal 1, nor 1.0 equal True.
    if isinstance(value, bool) or isinstance(rule, bool):
        return isinstance(value, bool) and isinstance(rule, bool) and value is rule
    return bool(value == rule)
