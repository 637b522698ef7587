"""Nothing a caller sends gets a 5xx, and nothing it sends half-lands.

A corpus of hostile requests goes to every public route through the real handlers of the template's
stack (IngestFunction: /forms, /track, /webhooks/{provider}; LeadsApiFunction: /leads...). Each must be
answered below 500; each 4xx must be the project's error shape and name the problem (the ``expect``
fragment is looked for in its message and details); and after the pipeline has drained, no lead exists
for any address a rejected request carried, and the Lead API's lead gained no adjustment or outcome.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository

from tests.support import TEMPLATE, Stack, example_rules_json

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SIGNED = {"authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request"}
JSON_CT = {"content-type": "application/json"}
DEEP = 10_000
OWNER = "owner.hostile@example.com"


@dataclass
class Case:
    """One hostile request. ``expect``: a fragment its 4xx must contain (lower-cased); None for a 2xx.
    ``emails``: addresses it carries, none of which may become a lead when it is rejected."""

    name: str
    method: str
    path: str
    body: bytes | str | None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_CT))
    expect: str | None = ""
    status: int | None = None
    emails: tuple[str, ...] = ()
    query: dict[str, str] | None = None
    base64: bool = False


def _email(i: int) -> str:
    return f"hostile{i}@example.com"


def _surrogate(value: str) -> str:
    """A JSON string literal holding a lone-surrogate escape (the text, not a Python surrogate)."""
    return '"' + value + '\\ud800"'


def json_corpus(route: str, wrap: Callable[[str, int], str]) -> list[Case]:
    """The JSON attacks, each placed in a document ``wrap(fragment, i)`` builds for ``route``.

    ``fragment`` is raw JSON text put in the route's identity slot (the email, or anonymousId)."""
    cases: list[Case] = []

    def add(
        name: str, body: bytes | str, expect: str | None, *, status: int | None = None, **kw: Any
    ) -> None:
        cases.append(Case(f"{route} {name}", "POST", route, body, expect=expect, status=status, **kw))

    n = 0

    def doc(fragment: str) -> tuple[str, tuple[str, ...]]:
        nonlocal n
        n += 1
        address = re.sub(r"[^a-z0-9]+", "-", route).strip("-") + f"-{n}@example.com"
        return wrap(fragment.replace("ADDR", address), n), (address,)

    body, emails = doc(_surrogate("ADDR"))
    add("lone surrogate in the email", body, "surrogate", status=400, emails=emails)
    body, emails = doc('"ADDR", "extra_note": "hi \\udfff there"')
    add("lone surrogate in an extra field", body, "extra_note", status=400, emails=emails)
    body, emails = doc('"ADDR", "k\\udbff": 1')
    add("lone surrogate in a key", body, "surrogate", status=400, emails=emails)
    body, emails = doc('"ADDR", "note": "a\\u0000b"')
    add("NUL in a field", body, "note", status=400, emails=emails)
    body, emails = doc('"ADDR", "dup": 1, "dup": 2')
    add("duplicate keys", body, "duplicate key", status=400, emails=emails)
    body, emails = doc('"ADDR", "score": NaN')
    add("NaN", body, "nan", status=400, emails=emails)
    body, emails = doc('"ADDR", "score": -Infinity')
    add("-Infinity", body, "infinity", status=400, emails=emails)
    body, emails = doc('"ADDR", "score": 1e400')
    add("1e400", body, "score: number 1e400 is out of range", status=422, emails=emails)  # JSON, but inf
    body, emails = doc('"ADDR", "score": ' + "9" * 5000)
    add("a 5000-digit integer", body, "not valid json", status=400, emails=emails)
    body, emails = doc('"ADDR", "deep": ' + "[" * 200 + "]" * 200)
    add("200-deep arrays", body, "nested", status=400, emails=emails)
    small = route.startswith("/leads")  # the Lead API takes at most 16 KB: 413 before any parsing
    add(
        "10,000-deep arrays",
        "[" * DEEP + "]" * DEEP,
        "larger than" if small else "nested",
        status=413 if small else 400,
    )
    add("10,000-deep, unclosed", "[" * DEEP, "nested", status=400)
    add("2,000-deep objects", '{"a":' * 2000 + "1" + "}" * 2000, "nested", status=400)
    body, emails = doc('"ADDR"')
    add("invalid UTF-8 bytes", body.encode().replace(b"@", b"\xff@", 1), "utf-8", status=400, emails=emails)
    body, emails = doc('"ADDR"')
    add("CESU-8 surrogate bytes", body.encode().replace(b"@", b"\xed\xa0\x80@", 1), "utf-8", status=400)
    body, emails = doc('"ADDR"')
    add("overlong UTF-8", body.encode().replace(b"@", b"\xc0\xaf@", 1), "utf-8", status=400, emails=emails)
    body, emails = doc('"ADDR"')
    add("truncated JSON", body[: len(body) // 2], "not valid json", status=400, emails=emails)
    add("1 MB body", '{"pad": "' + "x" * (1024 * 1024) + '"}', "larger than", status=413)
    add("empty body", "", "required" if route.startswith("/leads") else "empty", status=400)
    add("a JSON string", '"just a string"', "", status=None)
    add("null", "null", "", status=None)
    body, emails = doc('"ADDR"')
    add(
        "XML content type",
        body,
        "content-type",
        status=415,
        emails=emails,
        headers={"content-type": "application/xml"},
    )
    body, emails = doc('"ADDR"')
    add("base64 flag, not base64", "%%%not base64%%%", "base64", status=400, base64=True)
    body, emails = doc('"ADDR"')
    utf16 = body.encode("utf-16-le").replace("@".encode("utf-16-le"), b"\x00\xd8@\x00", 1)
    add("UTF-16 with a lone surrogate", utf16, "utf-16", status=400, emails=emails)
    return cases


def _form(fragment: str, i: int) -> str:
    return f'{{"email": {fragment}, "company": "Acme", "submission_id": "hostile-form-{i}"}}'


def _track(fragment: str, i: int) -> str:
    body = f'{{"type": "identify", "messageId": "hostile-track-{i}", "anonymousId": "anon-{i}", '
    return body + f'"traits": {{"email": {fragment}}}}}'


def _sendgrid(fragment: str, i: int) -> str:
    return (
        f'[{{"email": {fragment}, "event": "open", "timestamp": 1795451400, "sg_event_id": "hostile-{i}"}}]'
    )


def _adjustment(fragment: str, i: int) -> str:
    return f'{{"points": 5, "reason": {fragment}}}'


def ingest_specials() -> list[Case]:
    """What only forms and tracking see: urlencoded and multipart fields, invisible characters in the
    email, bools as numbers, anonymousId surrogates, a Segment batch with one poisoned message."""
    boundary = "hostileBoundary"

    def multipart(value: bytes) -> bytes:
        return (
            f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'.encode()
            + value
            + f"\r\n--{boundary}--\r\n".encode()
        )

    urlencoded = {"content-type": "application/x-www-form-urlencoded"}
    return [
        Case(
            "forms zero-width space in the email",
            "POST",
            "/forms",
            json.dumps({"email": "dana\u200b@zw.example.com"}, ensure_ascii=False),
            expect="email",
            status=400,
            emails=("dana@zw.example.com",),
        ),
        Case(
            "forms bidi override in the email",
            "POST",
            "/forms",
            json.dumps({"email": "dana@bidi\u202e.example.com"}),
            expect="email",
            status=400,
        ),
        Case(
            "forms soft hyphen in the email",
            "POST",
            "/forms",
            json.dumps({"email": "da\u00adna@shy.example.com"}),
            expect="email",
            status=400,
            emails=("dana@shy.example.com",),
        ),
        Case(
            "forms urlencoded NUL",
            "POST",
            "/forms",
            "email=nul%40example.com&note=a%00b",
            headers=urlencoded,
            expect="note",
            status=400,
            emails=("nul@example.com",),
        ),
        Case(
            "forms urlencoded invalid UTF-8",
            "POST",
            "/forms",
            "email=bad%FF%40example.com",
            headers=urlencoded,
            expect="email",
            status=400,
        ),
        Case(
            "forms multipart invalid UTF-8",
            "POST",
            "/forms",
            multipart(b"mp\xff@example.com"),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            expect="email",
            status=400,
        ),
        Case(
            "forms multipart NUL",
            "POST",
            "/forms",
            multipart(b"mp\x00x@example.com"),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            expect="email",
            status=400,
        ),
        Case(
            "forms multipart without a boundary",
            "POST",
            "/forms",
            multipart(b"x@example.com"),
            headers={"content-type": "multipart/form-data"},
            expect="boundary",
            status=400,
        ),
        Case(
            "forms true as company size",
            "POST",
            "/forms",
            json.dumps({"email": "bool-size@example.com", "company_size": True, "submission_id": "b1"}),
            expect="company_size: expected a string or a number, got a boolean",
            status=422,
            emails=("bool-size@example.com",),
        ),
        Case(
            "forms true in a field nobody maps",
            "POST",
            "/forms",
            json.dumps({"email": "bool-extra@example.com", "newsletter": True, "submission_id": "b2"}),
            expect=None,
            status=202,
        ),
        Case(
            "forms NUL in the query string",
            "POST",
            "/forms",
            json.dumps({"email": "nulquery@example.com"}),
            query={"utm_source": "a\x00b"},
            expect="utm_source",
            status=400,
            emails=("nulquery@example.com",),
        ),
        Case(
            "track lone surrogate anonymousId",
            "POST",
            "/track",
            '{"type": "page", "anonymousId": "\\ud800", "messageId": "s1"}',
            expect="anonymousid",
            status=400,
        ),
        Case(
            "track zero-width space in traits.email",
            "POST",
            "/track",
            json.dumps(
                {"type": "identify", "anonymousId": "zw-anon", "traits": {"email": "zw\u200b@example.com"}}
            ),
            expect="traits.email",
            status=400,
            emails=("zw@example.com",),
        ),
        Case(
            "track batch with one poisoned message",
            "POST",
            "/track",
            '{"batch": [{"type": "identify", "anonymousId": "b1",'
            ' "traits": {"email": "batch-ok@example.com"}}, {"type": "page", "anonymousId": "\\udc00"}]}',
            expect="batch[1].anonymousid",
            status=400,
            emails=("batch-ok@example.com",),
        ),
        Case(
            "track text/html",
            "POST",
            "/track",
            "<html></html>",
            headers={"content-type": "text/html"},
            expect="content-type",
            status=415,
        ),
        Case(
            "track base64 body (a valid message)",
            "POST",
            "/track",
            json.dumps({"type": "page", "anonymousId": "b64-anon", "messageId": "b64"}),
            base64=True,
            expect=None,
            status=202,
        ),
    ]


def leads_specials() -> list[Case]:
    """What only the Lead API sees: strict numbers, path and query values, forged cursors."""
    adjust = f"/leads/{OWNER}/adjustments"
    outcome = f"/leads/{OWNER}/outcome"
    return [
        Case(
            "adjustment points true",
            "POST",
            adjust,
            '{"points": true, "reason": "x"}',
            expect="points",
            status=422,
        ),
        Case(
            'adjustment points "5"',
            "POST",
            adjust,
            '{"points": "5", "reason": "x"}',
            expect="points",
            status=422,
        ),
        Case(
            "adjustment disqualify 1",
            "POST",
            adjust,
            '{"points": 1, "reason": "x", "disqualify": 1}',
            expect="disqualify",
            status=422,
        ),
        Case(
            "adjustment points 1e400",
            "POST",
            adjust,
            '{"points": 1e400, "reason": "x"}',
            expect="points: number 1e400 is out of range",
            status=422,
        ),
        Case(
            "adjustment huge integer points",
            "POST",
            adjust,
            '{"points": 1' + "0" * 400 + ', "reason": "x"}',
            expect="points",
            status=422,
        ),
        Case(
            "outcome amount true",
            "POST",
            outcome,
            '{"status": "lost", "amount": true}',
            expect="amount",
            status=422,
        ),
        Case(
            "outcome amount NaN",
            "POST",
            outcome,
            '{"status": "lost", "amount": NaN}',
            expect="nan",
            status=400,
        ),
        Case(
            "outcome duplicate status",
            "POST",
            outcome,
            '{"status": "converted", "status": "lost"}',
            expect="duplicate key",
            status=400,
        ),
        Case(
            "outcome NUL in the note",
            "POST",
            outcome,
            '{"status": "lost", "note": "\\u0000"}',
            expect="note",
            status=400,
        ),
        Case(
            "outcome 7,000-deep note",
            "POST",
            outcome,
            '{"status": "lost", "note": ' + "[" * 7000 + "]" * 7000 + "}",
            expect="nested",
            status=400,
        ),
        Case(
            "outcome text/plain",
            "POST",
            outcome,
            '{"status": "lost"}',
            headers={"content-type": "text/plain"},
            expect="content-type",
            status=415,
        ),
        Case(
            "card for a zero-width email",
            "GET",
            "/leads/owner.hostile%E2%80%8B%40example.com",
            None,
            headers={},
            expect="lead",
            status=400,
        ),
        Case(
            "card for a bidi email",
            "GET",
            "/leads/owner.hostile%40exa%E2%80%AEmple.com",
            None,
            headers={},
            expect="lead",
            status=400,
        ),
        Case(
            "hot list with an IDN address as tier",
            "GET",
            "/leads",
            None,
            headers={},
            query={"tier": "dana@bücher.de"},
            expect="tier",
            status=422,
        ),
        Case(
            "hot list with a forged deep cursor",
            "GET",
            "/leads",
            None,
            headers={},
            query={"cursor": base64.urlsafe_b64encode(b"[" * 1500).decode()},
            expect="cursor",
            status=400,
        ),
        Case(
            "hot list limit true",
            "GET",
            "/leads",
            None,
            headers={},
            query={"limit": "true"},
            expect="limit",
            status=422,
        ),
    ]


def corpus() -> list[Case]:
    cases = [
        *json_corpus("/forms", _form),
        *json_corpus("/track", _track),
        *json_corpus("/webhooks/sendgrid", _sendgrid),
        *json_corpus(f"/leads/{OWNER}/adjustments", _adjustment),
        *ingest_specials(),
        *leads_specials(),
    ]
    for case in cases:
        if case.path.startswith("/leads"):
            case.headers = {**case.headers, **SIGNED}
            if case.name.endswith(("a JSON string", "null")):
                case.expect, case.status = "must be a json object", 400
        elif case.name.endswith(("a JSON string", "null")):
            case.expect, case.status = "", None  # ingest answers these per route (400 or 422)
    return cases


@pytest.fixture
def hostile_stack(aws: None, pin_clock: Callable[[datetime | None], None]) -> Stack:
    """The template's stack, webhooks accepted unsigned (so bodies reach the parser), rules
    published and one lead (OWNER) for the Lead API's routes."""
    pin_clock(SAMPLE_TIME)
    stack = Stack.create(
        TEMPLATE, env_overrides={"IngestFunction": {"LEADSCORE_INSECURE_ALLOW_UNSIGNED": "1"}}
    )
    stack.upload_rules(example_rules_json())
    body = json.dumps({"email": OWNER, "company": "Acme", "submission_id": "owner-1"})
    assert stack.call_http("POST", "/forms", body, JSON_CT)["statusCode"] == 202
    stack.drain()
    return stack


def _repo(stack: Stack) -> LeadRepository:
    return LeadRepository(stack.env("LeadsApiFunction")["LEADS_TABLE"])


def _send(stack: Stack, case: Case) -> dict[str, Any]:
    found = stack.route(case.method, case.path)
    assert found is not None, case.name
    if stack.authorize(found[0], case.headers) is not None:
        raise AssertionError(f"{case.name}: refused before the function")
    event = stack.http_event(case.method, case.path, case.body, case.headers, case.query)
    if case.base64:
        raw = case.body.encode() if isinstance(case.body, str) else (case.body or b"")
        event["body"] = raw.decode() if case.name.endswith("not base64") else base64.b64encode(raw).decode()
        event["isBase64Encoded"] = True
    response: dict[str, Any] = stack.invoke(found[0].function, event)
    return response


def test_hostile_corpus_never_5xx_names_every_problem_and_lands_nothing(hostile_stack: Stack) -> None:
    stack = hostile_stack
    cases = corpus()
    assert len(cases) >= 40
    before = _repo(stack).get_by_email(OWNER)
    assert before is not None
    failures: list[str] = []
    rejected_emails: set[str] = set()
    for case in cases:
        response = _send(stack, case)
        status = int(response["statusCode"])
        try:
            answer = json.loads(response["body"])
        except ValueError:
            failures.append(f"{case.name}: {status} with a body that is not JSON")
            continue
        if status >= 500:
            failures.append(f"{case.name}: {status} {answer}")
            continue
        if case.status is not None and status != case.status:
            failures.append(f"{case.name}: expected {case.status}, got {status} {answer}")
            continue
        if status >= 400:
            rejected_emails.update(case.emails)
            if set(answer) != {"error", "message", "details"} or not answer["message"]:
                failures.append(f"{case.name}: not the error shape: {answer}")
            said = (answer.get("message", "") + " " + " ".join(answer.get("details", []))).lower()
            if case.expect and case.expect not in said:
                failures.append(f"{case.name}: {status} does not name {case.expect!r}: {answer}")
            if "bücher" in said:  # an address echoed back (?tier=dana@bücher.de) is redacted
                failures.append(f"{case.name}: echoes an email address: {answer}")
    assert not failures, "\n".join(failures)

    stack.drain()
    repo = _repo(stack)
    landed = sorted(email for email in rejected_emails if repo.get_by_email(email) is not None)
    assert landed == [], f"rejected requests created leads: {landed}"
    after = repo.get_by_email(OWNER)
    assert after is not None
    assert (after.adjustments, after.outcomes) == (before.adjustments, before.outcomes)
    assert repo.get_by_email("batch-ok@example.com") is None  # the poisoned batch landed nothing
    assert repo.get_by_email("bool-extra@example.com") is not None  # the control did land
