"""The Lead API (LeadsApiFunction) through the template's routes: auth, score card, hot list, outcomes
and adjustments, against the stack built from template.yaml."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.api.service import encode_cursor
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_email

from tests.support import Stack, example_rules_json, ingest_samples, load_event, pinned_clock_at, serving

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DANA = "dana.reyes@northwindlabs.io"
ALICE = "arn:aws:iam::123456789012:user/alice"
SIGNED = {
    "authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"
}
JSON = {"content-type": "application/json", **SIGNED}
ROUTES = (
    ("GET", "/leads"),
    ("GET", f"/leads/{DANA}"),
    ("POST", f"/leads/{DANA}/outcome"),
    ("POST", f"/leads/{DANA}/adjustments"),
    ("POST", f"/leads/{DANA}/stage"),
)


pinned_clock = pinned_clock_at(SAMPLE_TIME)


@pytest.fixture
def scored(stack: Stack) -> Stack:
    """Dana (sales-ready, from the sample requests) and Priya (warm: a contact-sales form), scored."""
    stack.upload_rules(example_rules_json())
    ingest_samples(
        stack, "http-01-form-json", "http-02-form-urlencoded", "http-03-track-page", "http-04-track-batch"
    )
    stack.drain()
    stack.inbox()
    return stack


def call(stack: Stack, method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
    raw = None if body is None else body if isinstance(body, str) else json.dumps(body)
    response = stack.call_http(method, path, raw, JSON if raw is not None else SIGNED, query or None)
    assert response["headers"]["Content-Type" if "Content-Type" in response["headers"] else "content-type"]
    return response["statusCode"], json.loads(response["body"])


def form(stack: Stack, email: str, submission: str, **fields: Any) -> None:
    body = json.dumps({"email": email, "submission_id": submission, **fields})
    response = stack.call_http("POST", "/forms", body, {"content-type": "application/json"})
    assert response["statusCode"] == 202, response


def repo(stack: Stack) -> LeadRepository:
    return LeadRepository(stack.env("LeadsApiFunction")["LEADS_TABLE"])


# ---------------------------------------------------------------------------------------------- auth
def test_requests_without_credentials_are_refused_before_the_function(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(function: str) -> Any:
        raise AssertionError(f"{function} must not run for an unauthenticated request")

    monkeypatch.setattr(stack, "handler", never)
    for method, path in ROUTES:
        response = stack.call_http(method, path, "{}", {"content-type": "application/json"})
        assert response["statusCode"] == 403, (method, path)
        assert json.loads(response["body"]) == {"message": "Forbidden"}


def test_every_leads_route_is_iam_protected_and_ingest_routes_are_not(stack: Stack) -> None:
    auth = {(r.method, r.path): r.auth for r in stack.routes}
    api = ("/leads", "/accounts")
    assert {k: v for k, v in auth.items() if k[1].startswith(api)} == {
        ("GET", "/leads"): "AWS_IAM",
        ("GET", "/leads/{lead}"): "AWS_IAM",
        ("POST", "/leads/{lead}/outcome"): "AWS_IAM",
        ("POST", "/leads/{lead}/adjustments"): "AWS_IAM",
        ("GET", "/accounts"): "AWS_IAM",
        ("GET", "/accounts/{domain}"): "AWS_IAM",
        ("POST", "/leads/{lead}/stage"): "AWS_IAM",
    }
    assert {v for k, v in auth.items() if not k[1].startswith(api)} == {""}


# ---------------------------------------------------------------------------------------------- score card
def test_score_card_by_email_url_encoded_and_by_id(scored: Stack) -> None:
    status, card = call(scored, "GET", "/leads/dana.reyes%40northwindlabs.io")
    assert status == 200, card
    assert card["lead_id"] == lead_id_for_email(DANA)
    assert card["email"] == DANA and card["name"] == "Dana Reyes"
    assert card["profile"]["company"] == "Northwind Labs"
    assert (card["tier"], card["grade"], card["top_category"]) == ("sales_ready", "A4", "buying-signal")
    assert card["score"] == card["fit"] + card["activity"] == 161
    assert card["categories"] == {"buying-signal": 100, "research": 1}
    rules = {c["rule"]: c for c in card["contributions"]}
    assert rules["demo-request"]["points"] == 80 and rules["demo-request"]["count"] == 2
    assert rules["title-executive"]["kind"] == "fit"
    assert card["reasons"][0] == "Requested a demo 2×, last today (+80)"
    assert card["rules_version"].startswith("s3:")
    assert card["adjustments"] == [] and card["outcomes"] == []
    times = [h["occurred_at"] for h in card["history"]]
    assert times == sorted(times, reverse=True) and len(times) == card["events_total"] == 7
    assert all(h["scored"] and h["note"] is None for h in card["history"])

    status, by_id = call(scored, "GET", f"/leads/{card['lead_id']}")
    assert status == 200 and by_id == card
    status, plain = call(scored, "GET", f"/leads/{DANA.upper()}")  # emails are normalized
    assert status == 200 and plain["lead_id"] == card["lead_id"]


def test_score_card_has_a_score_history_rebuilt_from_the_events(scored: Stack) -> None:
    status, card = call(scored, "GET", f"/leads/{DANA}")
    assert status == 200, card
    points = card["score_history"]
    assert points and len(points) <= 60
    assert sum(p["events"] for p in points) == card["events_total"] == 7  # every event, replayed
    assert (points[-1]["score"], points[-1]["tier"]) == (card["score"], card["tier"])  # ends where it is
    days = [p["day"] for p in points]
    assert days == sorted(days) and points[-1]["day"] == SAMPLE_TIME.strftime("%Y-%m-%d")


def test_history_carries_the_note_of_an_unscored_event(scored: Stack) -> None:
    event = load_event("http-03-track-page")
    body = json.loads(event["body"])
    body["messageId"] = "ajs-bot-1"
    body["context"]["userAgent"] = "python-requests/2.32"
    event["body"] = json.dumps(body)
    assert scored.invoke("IngestFunction", event)["statusCode"] == 202
    scored.drain()
    status, card = call(scored, "GET", f"/leads/{DANA}")
    assert status == 200
    (bot,) = [h for h in card["history"] if h["event_id"] == "ajs-bot-1"]
    assert bot["scored"] is False
    assert "python-requests" in bot["note"]  # why it was not scored
    assert [h["scored"] for h in card["history"]].count(False) == 1
    assert card["score"] == 161  # a bot's page view counts for nothing


def test_unknown_lead_is_a_404_and_a_malformed_reference_a_400(scored: Stack) -> None:
    status, body = call(scored, "GET", "/leads/nobody@example.com")
    assert status == 404 and body["error"] == "lead_not_found"
    assert body["details"] == [f"lead: {lead_id_for_email('nobody@example.com')}"]
    status, body = call(scored, "GET", "/leads/not-a-lead-id")
    assert status == 400 and body["details"] == ["lead: neither a lead id nor an email address"]
    status, body = call(scored, "GET", "/leads/a@b@c")
    assert status == 400 and body["details"] == ["lead: not a valid email address"]


# ---------------------------------------------------------------------------------------------- hot list
PROFILE = {"job_title": "CTO", "company": "Acme", "company_size": 800, "industry": "Fintech", "country": "US"}


def _five_leads(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    form(stack, "a@acme.com", "a1", **PROFILE)  # fit 60: warm, A1
    form(stack, "a@acme.com", "a2", form="Request a demo")  # 100: sales_ready, A3
    form(stack, "b@acme.com", "b1", **PROFILE)
    form(stack, "b@acme.com", "b2", form="Download the whitepaper")  # 70: warm, A2, research
    form(stack, "c@acme.com", "c1", **PROFILE)  # 60: warm, A1
    form(stack, "d@acme.com", "d1", job_title="Engineering Manager", country="US")  # 10: cold, C1
    form(stack, "e@acme.com", "e1", job_title="CTO", form="Request a demo")  # 65: warm, C3, buying-signal
    stack.drain()
    stack.inbox()


def test_hot_list_pages_highest_first_across_tiers(stack: Stack) -> None:
    _five_leads(stack)
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, page = call(stack, "GET", "/leads", **query)
        assert status == 200, page
        assert len(page["leads"]) <= 2
        seen.extend(page["leads"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert [(r["email"], r["tier"], r["score"]) for r in seen] == [
        ("a@acme.com", "sales_ready", 100),
        ("b@acme.com", "warm", 70),
        ("e@acme.com", "warm", 65),
        ("c@acme.com", "warm", 60),
    ]  # d@acme.com is cold: not on the hot list
    assert seen[0]["grade"] == "A3" and seen[0]["top_category"] == "buying-signal"
    assert seen[0]["reasons"][0].startswith("Requested a demo")


def test_hot_list_filters_by_tier_grade_and_category(stack: Stack) -> None:
    _five_leads(stack)
    status, page = call(stack, "GET", "/leads", tier="warm")
    assert status == 200 and page["tiers"] == ["warm"]
    assert [r["email"] for r in page["leads"]] == ["b@acme.com", "e@acme.com", "c@acme.com"]
    status, page = call(stack, "GET", "/leads", grade="a")
    assert [r["email"] for r in page["leads"]] == ["a@acme.com", "b@acme.com", "c@acme.com"]
    status, page = call(stack, "GET", "/leads", grade="A2")
    assert [r["email"] for r in page["leads"]] == ["b@acme.com"]
    status, page = call(stack, "GET", "/leads", category="buying-signal")
    assert [r["email"] for r in page["leads"]] == ["a@acme.com", "e@acme.com"]
    status, page = call(stack, "GET", "/leads", tier="disqualified")
    assert status == 200 and page["leads"] == [] and page["next_cursor"] is None


def test_filters_apply_to_the_page_read_so_pages_may_be_short(stack: Stack) -> None:
    _five_leads(stack)
    status, page = call(stack, "GET", "/leads", tier="warm", grade="C", limit="1")
    assert status == 200 and page["leads"] == [] and page["next_cursor"]  # b@ was read, filtered out
    status, page = call(stack, "GET", "/leads", tier="warm", grade="C", limit="1", cursor=page["next_cursor"])
    assert [r["email"] for r in page["leads"]] == ["e@acme.com"]


BAD_QUERIES = [
    ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"grade": "Z9"}, "grade"),
    ({"tier": "warm;drop"}, "tier"),
    ({"color": "red"}, "color"),
]


def test_bad_query_parameters_are_a_422_naming_the_field(stack: Stack) -> None:
    for query, field in BAD_QUERIES:
        status, body = call(stack, "GET", "/leads", **query)
        assert status == 422, (query, body)
        assert body["details"] and all(d.startswith(f"{field}:") for d in body["details"]), body


def _raw_cursor(data: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


LEAD = "e" + "0" * 31
BAD_CURSORS = [
    "!!!",
    "bm90IGpzb24",  # "not json"
    encode_cursor("cold", {}),  # made for other tiers
    _raw_cursor({"v": 1, "t": "warm", "k": None}),  # an older cursor format
    _raw_cursor({"v": 2, "t": "warm", "a": [[99, "1", LEAD]], "d": []}),  # no such shard
    _raw_cursor({"v": 2, "t": "warm", "a": [[0, "1", "LEAD#x"]], "d": []}),  # not a lead id
    _raw_cursor({"v": 2, "t": "warm", "a": [[0, "1; drop", LEAD]], "d": []}),  # not a score
    _raw_cursor({"v": 2, "t": "warm", "a": [[True, "1", LEAD]], "d": []}),
    _raw_cursor({"v": 2, "t": "warm", "a": [], "d": ["0"]}),
    _raw_cursor({"v": 2, "t": "warm", "a": [[0, "1", LEAD]], "d": [0]}),  # a shard twice
]


def test_a_cursor_the_api_did_not_make_is_a_400(stack: Stack) -> None:
    for cursor in BAD_CURSORS:
        status, body = call(stack, "GET", "/leads", tier="warm", cursor=cursor)
        assert status == 400, (cursor, body)
        assert body["details"][0].startswith("cursor:")


def test_hot_list_and_card_never_scan(scored: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    assert call(scored, "GET", "/leads", limit="50")[0] == 200
    assert calls and set(calls) == {"Query", "BatchGetItem"}  # the index holds keys: items by key
    calls.clear()
    assert call(scored, "GET", f"/leads/{DANA}")[0] == 200
    assert set(calls) == {"GetItem", "Query"}


# ---------------------------------------------------------------------------------------------- outcomes
def test_outcome_is_stored_with_the_caller_and_the_score_at_that_time(scored: Stack) -> None:
    before = repo(scored).get_by_email(DANA)
    assert before is not None
    status, body = call(
        scored,
        "POST",
        f"/leads/{DANA}/outcome",
        {"status": "converted", "amount": 48000, "currency": "usd", "note": "3-year deal"},
    )
    assert status == 201, body
    after = repo(scored).get_by_email(DANA)
    assert after is not None and after.ver == before.ver + 1
    (outcome,) = after.outcomes
    assert outcome.model_dump() == {
        "status": "converted",
        "amount": 48000,
        "currency": "USD",
        "note": "3-year deal",
        "by": ALICE,
        "at": int(SAMPLE_TIME.timestamp()),
        "score_at_outcome": 161,
        "grade_at_outcome": "A4",
        "rules_version": before.card.rules_version if before.card else None,
        "ref": None,  # only a CRM's outcome carries its event id
    }
    assert after.stage == "customer"  # converted: the lifecycle follows the outcome
    assert after.stage_moves[-1].by == ALICE
    assert body == {"lead_id": after.lead_id, "outcome": outcome.model_dump(mode="json")}
    assert after.card == before.card  # an outcome does not change the score
    _, card = call(scored, "GET", f"/leads/{DANA}")
    assert card["outcomes"] == [outcome.model_dump(mode="json") | {"by_name": "alice"}]


BAD_OUTCOMES: list[tuple[Any, int, str]] = [
    ({"status": "won"}, 422, "status: Input should be 'converted' or 'lost'"),
    ({"status": "lost", "amount": -1}, 422, "amount: Input should be greater than or equal to 0"),
    ({"status": "lost", "amount": "lots"}, 422, "amount: Input should be a valid number"),
    ({"status": "lost", "currency": "dollars"}, 422, "currency: String should match pattern"),
    ({"status": "lost", "amout": 1}, 422, "amout: Extra inputs are not permitted"),
    ({}, 422, "status: Field required"),
    ("[1, 2]", 400, "body: must be a JSON object"),
    ("{nope", 400, "body: not valid JSON"),
]


def test_bad_outcome_bodies_are_rejected_naming_the_field(scored: Stack) -> None:
    for body, status, detail in BAD_OUTCOMES:
        got, answer = call(scored, "POST", f"/leads/{DANA}/outcome", body)
        assert got == status, (body, answer)
        assert answer["details"][0].startswith(detail), answer
    state = repo(scored).get_by_email(DANA)
    assert state is not None and state.outcomes == []


def test_outcome_for_an_unknown_lead_is_a_404_and_creates_nothing(scored: Stack) -> None:
    status, body = call(scored, "POST", "/leads/ghost@example.com/outcome", {"status": "lost"})
    assert status == 404, body
    assert repo(scored).get_by_email("ghost@example.com") is None


def test_caller_is_unknown_without_an_iam_context(scored: Stack) -> None:
    event = scored.http_event(
        "POST", f"/leads/{DANA}/outcome", '{"status": "lost"}', {"content-type": "application/json"}
    )
    assert "authorizer" not in event["requestContext"]
    response = scored.invoke("LeadsApiFunction", event)
    assert response["statusCode"] == 201
    assert json.loads(response["body"])["outcome"]["by"] == "unknown"


# ---------------------------------------------------------------------------------------------- adjustments
def test_adjustment_rescores_at_once_and_is_explained(scored: Stack) -> None:
    status, body = call(
        scored, "POST", f"/leads/{DANA}/adjustments", {"points": -70, "reason": "budget frozen"}
    )
    assert status == 201, body
    adjustment = body["adjustment"]
    assert adjustment["by"] == ALICE and adjustment["points"] == -70 and adjustment["id"]
    assert adjustment["at"] == int(SAMPLE_TIME.timestamp())
    assert (body["lead"]["score"], body["lead"]["tier"]) == (91, "warm")

    _, card = call(scored, "GET", f"/leads/{DANA}")
    assert (card["score"], card["tier"]) == (91, "warm")
    assert "Adjusted by alice: budget frozen (-70)" in card["reasons"]  # the person, not the ARN
    assert not any(ALICE in reason for reason in card["reasons"])
    assert card["adjustments"] == [adjustment | {"by_name": "alice"}]  # the ARN stays for the audit
    assert any(c["kind"] == "adjustment" and c["points"] == -70 for c in card["contributions"])
    _, hot = call(scored, "GET", "/leads", tier="sales_ready")
    assert hot["leads"] == []
    _, warm = call(scored, "GET", "/leads", tier="warm")
    assert DANA in [r["email"] for r in warm["leads"]]  # beside Priya, warm from her sales form


def test_disqualifying_adjustment_moves_the_lead_out_of_the_hot_list(scored: Stack) -> None:
    status, body = call(
        scored,
        "POST",
        f"/leads/{DANA}/adjustments",
        {"points": 0, "reason": "works at a competitor", "disqualify": True},
    )
    assert status == 201, body
    assert body["lead"]["tier"] == "disqualified"
    _, page = call(scored, "GET", "/leads")
    assert DANA not in {r["email"] for r in page["leads"]}
    _, page = call(scored, "GET", "/leads", tier="disqualified")
    assert [r["email"] for r in page["leads"]] == [DANA]
    state = repo(scored).get_by_email(DANA)
    assert state is not None and state.card is not None and state.card.disqualified


BAD_ADJUSTMENTS: list[tuple[dict[str, Any], str]] = [
    ({"points": 10}, "reason: Field required"),
    ({"points": 10, "reason": "  "}, "reason: String should have at least 1 character"),
    ({"points": 0, "reason": "nothing"}, "points: must not be 0 unless disqualify is true"),
    ({"points": 5000, "reason": "x"}, "points: Input should be less than or equal to 1000"),
    ({"points": "ten", "reason": "x"}, "points: Input should be a valid number"),
    ({"points": 1, "reason": "x", "disqualify": "maybe"}, "disqualify: Input should be a valid boolean"),
]


def test_bad_adjustments_are_a_422_naming_the_field(scored: Stack) -> None:
    for body, detail in BAD_ADJUSTMENTS:
        status, answer = call(scored, "POST", f"/leads/{DANA}/adjustments", body)
        assert status == 422, (body, answer)
        assert answer["details"][0].startswith(detail), answer
    state = repo(scored).get_by_email(DANA)
    assert state is not None and state.adjustments == []


def test_unknown_routes_and_methods_are_json_4xx(scored: Stack) -> None:
    event = scored.http_event("GET", "/leads", headers=SIGNED)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/leads/x/y/z"
    response = scored.invoke("LeadsApiFunction", event)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"] == "not_found"


def test_the_local_server_refuses_unsigned_requests_and_serves_signed_ones(scored: Stack) -> None:
    """`make serve`'s HTTP server applies the template's AWS_IAM authorizer the local way."""
    from tools.local.replay import http_get
    from tools.local.settings import LOCAL_AUTHORIZATION

    with serving(scored) as base:
        port = int(base.rsplit(":", 1)[1])
        status, body = http_get(port, "/leads")
        assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
        status, body = http_get(port, f"/leads/{DANA}", {"authorization": LOCAL_AUTHORIZATION})
        assert status == 200 and json.loads(body)["email"] == DANA
        status, body = http_get(port, "/_local/hot?tier=sales_ready")  # local-only view, no IAM
        assert status == 200 and [r["email"] for r in json.loads(body)["leads"]] == [DANA]
