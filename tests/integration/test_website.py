"""A website wired to the stack, through `make serve`'s HTTP server: redirects, CORS, the local leaderboard
and score card, one clock for requests and scoring."""

from __future__ import annotations

import http.client
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.support import ROOT, RULES_EXAMPLE_YAML, TEMPLATE, Stack

SITE = "https://www.example.com"
THANKS = f"{SITE}/thanks"
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


class Site:
    """The local HTTP server (tools.local.runner) in front of a stack made with a site's parameters."""

    def __init__(self, stack: Stack, port: int) -> None:
        self.stack = stack
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = body.encode() if isinstance(body, str) else body
            connection.request(method, path, body=payload, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def queued(self) -> int:
        import boto3

        url = self.stack.env("IngestFunction")["EVENTS_QUEUE_URL"]
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def get_json(self, path: str) -> tuple[int, Any]:
        status, _, body = self.request("GET", path)
        return status, json.loads(body)


@pytest.fixture
def site(aws: None) -> Iterator[Site]:
    from tools.local.runner import Console, LocalStack

    stack = Stack.create(TEMPLATE, parameters={"FormRedirectUrls": THANKS, "AllowedOrigins": SITE})
    stack.upload_rules(RULES_EXAMPLE_YAML)
    with open(os.devnull, "w") as sink:
        local = LocalStack(ROOT, Console(sink))
        local._stack = stack
        base = local.serve_http("127.0.0.1", 0)
        try:
            yield Site(stack, int(base.rsplit(":", 1)[1]))
        finally:
            local.stop()


def form(**fields: str) -> str:
    return urlencode(fields)


# --- redirects ---------------------------------------------------------------------------------------


def test_a_plain_html_post_with_an_allowed_redirect_gets_303_to_it(site: Site) -> None:
    body = form(form="demo", email="ana@acme.example", _redirect=THANKS)
    status, headers, raw = site.request("POST", "/forms", body, URLENCODED)
    assert (status, headers["location"]) == (303, THANKS)
    assert json.loads(raw)["accepted"] == 1
    assert site.queued() == 1


def test_a_redirect_elsewhere_is_a_400_naming_the_field_and_queues_nothing(site: Site) -> None:
    body = form(form="demo", email="ana@acme.example", _redirect="https://evil.example/thanks")
    status, headers, raw = site.request("POST", "/forms", body, URLENCODED)
    answer = json.loads(raw)
    assert status == 400 and "location" not in headers
    assert answer["error"] == "redirect_not_allowed"
    assert answer["details"] == ["_redirect: not one of the allowed thank-you URLs"]
    assert site.queued() == 0


def test_a_honeypot_hit_gets_the_same_303_and_is_dropped(site: Site) -> None:
    body = form(form="demo", email="bot@spam.example", _hp="http://spam.example", _redirect=THANKS)
    status, headers, _ = site.request("POST", "/forms", body, URLENCODED)
    assert (status, headers["location"]) == (303, THANKS)
    assert site.queued() == 0


def test_the_202_body_carries_the_warnings(site: Site) -> None:
    body = json.dumps({"email": "ana@acme.example", "bot-field": ""})
    status, _, raw = site.request("POST", "/forms", body, {"content-type": "application/json"})
    warnings = json.loads(raw)["warnings"]
    assert status == 202
    assert [w.split(":")[0] for w in warnings] == ["form", "bot-field"]


# --- the local leaderboard and card ------------------------------------------------------------------

INTERNAL_KEYS = {
    "lease_token",
    "lease_until",
    "token",
    "digests",
    "ver",
    "outbox",
    "delivered",
    "armed",
    "seen",
}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _post_and_score(site: Site, email: str, **fields: str) -> None:
    status, _, _ = site.request("POST", "/forms", form(email=email, **fields), URLENCODED)
    assert status == 202
    site.stack.drain(timeout=30)


def test_local_leads_is_a_leaderboard_without_internals(site: Site) -> None:
    _post_and_score(site, "ana@acme-fintech.com", form="Request a demo", job_title="VP Finance")
    _post_and_score(site, "bo@example.org", form="newsletter")
    status, board = site.get_json("/_local/leads")
    assert status == 200
    rows = board["leads"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["email"] == "ana@acme-fintech.com" and rows[0]["score"] >= rows[1]["score"]
    assert set(rows[0]) == {
        "rank", "lead_id", "email", "name", "company", "score", "fit", "activity", "tier", "grade",
        "reasons", "card",
    }  # fmt: skip
    assert not _keys(board) & INTERNAL_KEYS
    status, card = site.get_json(rows[0]["card"])
    assert status == 200 and card["email"] == "ana@acme-fintech.com"
    status, by_email = site.get_json("/_local/leads/" + quote("ana@acme-fintech.com"))
    assert by_email == card  # the Lead API's score card, the same JSON as /_local/cards/{lead}
    assert by_email == site.get_json("/_local/cards/ana@acme-fintech.com")[1]
    assert not _keys(card) & INTERNAL_KEYS
    assert site.get_json("/_local/leads/ghost@example.com")[0] == 404


# --- one clock ---------------------------------------------------------------------------------------


def test_a_pinned_clock_also_receives_the_requests(site: Site, pin_clock: Any) -> None:
    """The demo pins the scoring clock to its samples' time: a form without a timestamp must then be
    received (and occur) at that time, not on the real day, after the time that scored it."""
    pinned = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    pin_clock(pinned)
    _post_and_score(site, "ana@acme-fintech.com", form="Request a demo")
    status, card = site.get_json("/_local/leads/ana@acme-fintech.com")
    assert status == 200
    (entry,) = card["history"]
    assert entry["occurred_at"] == "2026-11-23T17:00:00Z"
    assert card["computed_at"] == "2026-11-23T17:00:00Z"


# --- the README's `make serve` examples, against a served stack ---------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_the_readme_try_it_by_hand_examples_work(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    from tools import cli

    section = README.split("### Try it by hand", 1)[1].split("\n### ", 1)[0]
    (block,) = _bash_blocks(section)
    (payload,) = re.findall(r"-d '(.*?)'", block, flags=re.S)
    status, _, raw = site.request("POST", "/forms", payload, {"content-type": "application/json"})
    assert status == 202 and json.loads(raw)["accepted"] == 1, raw
    site.stack.drain(timeout=30)
    email = json.loads(payload)["email"]

    gets = re.findall(r"curl -s http://127\.0\.0\.1:3000(/\S+)", block)
    assert gets, block
    for path in gets:
        status, answer = site.get_json(path)
        assert status == 200, (path, answer)
    board = site.get_json("/_local/leads")[1]["leads"]
    assert [row["email"] for row in board] == [email]

    # Every `leadscore ... --local` command the README shows, with its optional [..] parts left out.
    commands = [
        line.split("#")[0].strip()
        for block in _bash_blocks(README)
        for line in block.splitlines()
        if line.startswith(".venv/bin/leadscore") and "--local" in line.split("#")[0]
    ]
    assert len(commands) >= 3, commands
    for command in commands:
        argv = [*re.sub(r"\[[^\]]*\]", "", command).split()[1:], "--url", site.url]
        code = cli.main(argv)
        out, err = capsys.readouterr()
        assert (code, err) == (0, ""), (command, out, err)
        if argv[:2] == ["leads", "show"]:
            assert argv[2] == email, f"{command}: names a lead the README's own curl does not create"
            assert email in out
