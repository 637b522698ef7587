"""Cold leads can be listed: GET /leads?tier=cold (and `leads hot --tier cold`) reads them with a
bounded, filtered Scan, since they are not on the ``hot`` index; a malformed tier is a 422 naming it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal import cold

from tests.support import RULES_EXAMPLE_YAML, Stack, pinned_clock_at

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SIGNED = {"authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request"}
PROFILE = {"job_title": "CTO", "company": "Acme", "company_size": 800, "industry": "Fintech", "country": "US"}
COLD = [f"cold{n}@acme.com" for n in range(7)]


pinned_clock = pinned_clock_at(SAMPLE_TIME)


def call(stack: Stack, **query: str) -> tuple[int, Any]:
    response = stack.call_http("GET", "/leads", None, SIGNED, query or None)
    return response["statusCode"], json.loads(response["body"])


def form(stack: Stack, email: str, submission: str, **fields: Any) -> None:
    body = json.dumps({"email": email, "submission_id": submission, **fields})
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202


@pytest.fixture
def leads(stack: Stack) -> Stack:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    form(stack, "warm@acme.com", "w1", **PROFILE)  # fit 60: warm
    for n, email in enumerate(COLD):  # 10 each (an engineering manager in the US): cold
        form(stack, email, f"c{n}", job_title="Engineering Manager", country="US")
    form(stack, "cold-anon@acme.com", "x1", form="Newsletter")  # no fit: cold too
    stack.drain()
    stack.inbox()
    return stack


def _all_pages(stack: Stack, **query: str) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        status, page = call(stack, **query, **({"cursor": cursor} if cursor else {}))
        assert status == 200, page
        rows += page["leads"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, pages
        assert pages < 100


def test_cold_leads_are_listed_and_paged_without_repeats(leads: Stack) -> None:
    status, page = call(leads, tier="cold")
    assert status == 200 and page["tiers"] == ["cold"]
    assert {r["email"] for r in page["leads"]} == {*COLD, "cold-anon@acme.com"}
    assert all(r["tier"] == "cold" for r in page["leads"])
    scores = [r["score"] for r in page["leads"]]
    assert scores == sorted(scores, reverse=True)  # a page is sorted by score
    rows, pages = _all_pages(leads, tier="cold", limit="3")
    assert sorted(r["email"] for r in rows) == sorted([*COLD, "cold-anon@acme.com"])  # each once
    assert pages >= 3


def test_indexed_tiers_come_first_then_the_cold_scan(leads: Stack) -> None:
    rows, _ = _all_pages(leads, tier="warm,cold", limit="2")
    assert rows[0]["email"] == "warm@acme.com"
    assert [r["tier"] for r in rows] == ["warm"] + ["cold"] * (len(COLD) + 1)


def test_the_scan_is_bounded_per_request(leads: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cold, "SCAN_PAGE", 2)  # 2 items per Scan call, 1 call per request
    monkeypatch.setattr(cold, "MAX_CALLS", 1)
    original = cold.cold_page
    reads: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> cold.ColdPage:
        kwargs.setdefault("scan_page", cold.SCAN_PAGE)
        kwargs.setdefault("max_calls", cold.MAX_CALLS)
        page = original(*args, **kwargs)
        reads.append(page.scanned)
        return page

    monkeypatch.setattr("leadscore.api.service.cold_page", counted)
    rows, pages = _all_pages(leads, tier="cold", limit="50")
    assert sorted(r["email"] for r in rows) == sorted([*COLD, "cold-anon@acme.com"])
    assert max(reads) <= 2 and pages == len(reads) > 4  # short pages while next_cursor is set


def _raw(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _raw({"v": 2, "t": "cold", "s": ["LEAD#x", "LEAD"]}),
        _raw({"v": 2, "t": "cold", "s": ["e" + "0" * 31, "LEAD; drop"]}),
        _raw({"v": 2, "t": "cold", "s": "e" + "0" * 31}),
    ],
)
def test_a_forged_cold_cursor_is_a_400(stack: Stack, cursor: str) -> None:
    status, body = call(stack, tier="cold", cursor=cursor)
    assert status == 400 and body["details"][0].startswith("cursor:")


@pytest.mark.parametrize("tier", ["cold;drop", "c o l d", "x" * 65])
def test_a_malformed_tier_is_a_422_naming_tier(stack: Stack, tier: str) -> None:
    status, body = call(stack, tier=tier)
    assert status == 422 and body["details"] and body["details"][0].startswith("tier:"), body
