"""A website wired to the stack, through `make serve`'s HTTP server: redirects, CORS, the local leaderboard
and score card, one clock for requests and scoring."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.support import ROOT, RULES_EXAMPLE_YAML, TEMPLATE, Stack, serving

SITE = "https://www.example.com"
THANKS = f"{SITE}/thanks"
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


class Site:
    """The local HTTP server (tools.local.stack) in front of a stack made with a site's parameters."""

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
    stack = Stack.create(TEMPLATE, parameters={"FormRedirectUrls": THANKS, "AllowedOrigins": SITE})
    stack.upload_rules(RULES_EXAMPLE_YAML)
    with serving(stack) as base:
        yield Site(stack, int(base.rsplit(":", 1)[1]))


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


# --- docs/website.md: the form and the script, as published -------------------------------------------

WEBSITE_DOC = (ROOT / "docs" / "website.md").read_text(encoding="utf-8")
DOC_API = "https://API_ID.execute-api.REGION.amazonaws.com"


def _html_blocks() -> tuple[str, str]:
    form_html, script_html = re.findall(r"```html\n(.*?)```", WEBSITE_DOC, flags=re.S)
    return form_html, script_html


class FormFields(HTMLParser):
    """The form's action and its fields (name, type, value) in order, as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: list[dict[str, str]] = []
        self._select: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = attributes["action"]
        elif tag == "input":
            self.fields.append(
                {"name": attributes["name"], "type": attributes.get("type", "text"), **attributes}
            )
        elif tag == "select":
            self._select = {"name": attributes["name"], "type": "select", "value": ""}
            self.fields.append(self._select)
        elif tag == "option" and self._select is not None and "selected" in attributes:
            self._select["selected"] = "yes"

    def handle_data(self, data: str) -> None:
        if self._select is not None and self._select.get("selected") == "yes" and not self._select["value"]:
            self._select["value"] = data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def _doc_form() -> FormFields:
    parser = FormFields()
    parser.feed(_html_blocks()[0])
    return parser


PERSON = {
    "email": "ana@acme-fintech.com",
    "first_name": "Ana",
    "last_name": "Silva",
    "company": "Acme Fintech",
    "job_title": "VP Finance",
    "website_url": "https://acme-fintech.example",
}


def test_the_documented_form_posts_and_lands_on_the_thank_you_page(site: Site) -> None:
    from leadscore.ingest.config import DEFAULT_HONEYPOT_FIELDS

    parsed = _doc_form()
    assert parsed.action == DOC_API + "/forms"
    honeypots = [f for f in parsed.fields if f["name"] in DEFAULT_HONEYPOT_FIELDS]
    assert [(f["name"], f.get("value", "")) for f in honeypots] == [("_hp", "")]
    # What a browser posts without JavaScript: visible fields typed in, hidden ones as the page has them.
    pairs = [(f["name"], PERSON.get(f["name"], f.get("value", ""))) for f in parsed.fields]
    body = urlencode(pairs)
    headers = {**URLENCODED, "origin": SITE, "referer": f"{SITE}/demo"}
    status, answer_headers, raw = site.request("POST", "/forms", body, headers)
    assert (status, answer_headers.get("location")) == (303, THANKS), raw
    answer = json.loads(raw)
    assert (answer["accepted"], answer["warnings"]) == (1, [])
    site.stack.drain(timeout=30)
    status, card = site.get_json("/_local/leads/ana@acme-fintech.com")
    assert status == 200
    assert card["profile"]["company"] == "Acme Fintech" and card["profile"]["company_size"] == 51
    assert card["profile"]["website"] == "https://acme-fintech.example"
    assert card["history"][0]["name"] == "Request a demo"


NODE_HARNESS = r"""
// Two page loads in one browser: the landing page (with utm_* in its URL), then the page with the form.
const fields = JSON.parse(process.env.FIELDS);
const store = () => {
  const items = new Map();
  return { getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)) };
};
globalThis.window = globalThis;
globalThis.localStorage = store();
globalThis.sessionStorage = store();
let inputs = [];
const form = {
  dataset: { leadscore: "fetch" },
  elements: { namedItem: (name) => inputs.find((i) => i.name === name) || null },
  addEventListener(type, listener) { this.listener = listener; },
};
globalThis.FormData = class {
  constructor(f) { this.pairs = inputs.map((i) => [i.name, i.value]); }
  [Symbol.iterator]() { return this.pairs[Symbol.iterator](); }
};
function load(page) {
  inputs = fields.map((f) => ({ name: f.name, value: f.value || "" }));
  globalThis.location = new URL(page);
  globalThis.document = { cookie: process.env.COOKIE || "", querySelectorAll: () => [form] };
  eval(process.env.SCRIPT);
}
load(process.env.LANDING);
const landing = Object.fromEntries(inputs.map((i) => [i.name, i.value]));
load(process.env.FORM_PAGE);
for (const [name, value] of Object.entries(JSON.parse(process.env.TYPED))) {
  inputs.find((i) => i.name === name).value = value;
}
const filled = Object.fromEntries(inputs.map((i) => [i.name, i.value]));
window.leadscore.send(form).then(
  (answer) => console.log(JSON.stringify({ landing, filled, answer, listener: typeof form.listener })),
  (error) => { console.error(String(error)); process.exit(1); },
);
"""


def _run_script(site: Site, *, cookie: str = "") -> dict[str, Any]:
    script = _html_blocks()[1]
    script = script.removeprefix("<script>\n").strip().removesuffix("</script>").replace(DOC_API, site.url)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SCRIPT": script,
        "FIELDS": json.dumps(_doc_form().fields),
        "TYPED": json.dumps(PERSON),
        "COOKIE": cookie,
        "LANDING": f"{SITE}/pricing?utm_source=linkedin&utm_medium=social&utm_campaign=abm-q4",
        "FORM_PAGE": f"{SITE}/demo",
    }
    done = subprocess.run(
        ["node", "-e", NODE_HARNESS], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _queued_event(site: Site) -> dict[str, Any]:
    import boto3

    url = site.stack.env("IngestFunction")["EVENTS_QUEUE_URL"]
    (message,) = boto3.client("sqs").receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    event: dict[str, Any] = json.loads(message["Body"])
    return event


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_documented_script_fills_the_form_and_posts_it_with_fetch(site: Site) -> None:
    result = _run_script(site)
    filled = result["filled"]
    assert re.fullmatch(r"[0-9a-f-]{36}", filled["anonymous_id"]), filled
    assert result["landing"]["anonymous_id"] == filled["anonymous_id"]  # one visitor across pages
    # the form's page has no utm_* in its URL: the landing page's campaign is kept for the visit
    assert (filled["utm_source"], filled["utm_campaign"]) == ("linkedin", "abm-q4")
    assert filled["page_url"] == f"{SITE}/demo"
    assert result["listener"] == "function"  # data-leadscore="fetch" forms submit through fetch()
    assert (result["answer"]["accepted"], result["answer"]["warnings"]) == (1, [])
    event = _queued_event(site)
    assert event["identity"] == {"email": "ana@acme-fintech.com", "anonymous_id": filled["anonymous_id"]}
    assert event["name"] == "Request a demo"
    props = event["properties"]
    assert (props["utm_source"], props["utm_medium"], props["utm_campaign"]) == (
        "linkedin",
        "social",
        "abm-q4",
    )
    assert props["page_url"] == f"{SITE}/demo"
    assert "_redirect" not in props and "redirect" not in props


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_documented_script_uses_segments_anonymous_id_when_analytics_js_runs(site: Site) -> None:
    segment_id = "6f1c2b7e-3d4a-4c1e-9b8f-2a7d5e0c9f13"
    result = _run_script(site, cookie=f"_ga=GA1.1.1; ajs_anonymous_id=%22{segment_id}%22; other=1")
    assert result["filled"]["anonymous_id"] == segment_id
    assert _queued_event(site)["identity"]["anonymous_id"] == segment_id


def test_cors_lets_the_allowed_origin_post_json_and_no_other(site: Site) -> None:
    """What the browser checks before the script's fetch(): the preflight, then the answer's origin."""
    preflight = {
        "origin": SITE,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    status, headers, _ = site.request("OPTIONS", "/forms", headers=preflight)
    assert status == 204
    assert headers["access-control-allow-origin"] == SITE
    assert "POST" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"]
    body = json.dumps({"form": "demo", "email": "ana@acme-fintech.com"})
    status, headers, _ = site.request(
        "POST", "/forms", body, {"content-type": "application/json", "origin": SITE}
    )
    assert (status, headers["access-control-allow-origin"]) == (202, SITE)
    status, headers, _ = site.request(
        "OPTIONS", "/forms", headers={**preflight, "origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in headers


def test_the_website_doc_answers_are_the_real_ones(site: Site) -> None:
    (documented,) = re.findall(r"```json\n(.*?)```", WEBSITE_DOC, flags=re.S)
    body = json.dumps({"email": "ana@acme-fintech.com"})  # a form without a name
    status, _, raw = site.request("POST", "/forms", body, {"content-type": "application/json"})
    assert (status, json.loads(raw)) == (202, json.loads(documented))


def test_the_website_doc_local_example_works(site: Site) -> None:
    section = WEBSITE_DOC.split("## Try it locally", 1)[1]
    block = _bash_blocks(section)[0]
    (payload,) = re.findall(r"--data '(.*?)'", block)
    status, _, raw = site.request("POST", "/forms", payload, URLENCODED)
    assert (status, json.loads(raw)["accepted"], json.loads(raw)["warnings"]) == (202, 1, [])
    site.stack.drain(timeout=30)
    (path,) = re.findall(r"curl -s http://127\.0\.0\.1:3000(/_local/\S+)", block)
    status, card = site.get_json(path)
    assert status == 200 and card["profile"]["company"] == "Acme"


def test_the_website_doc_make_serve_parameters_work(site: Site) -> None:
    """`LEADSCORE_FORM_REDIRECT_URLS=... make serve` becomes the FormRedirectUrls parameter (site's stack
    has the same one), and the documented curl gets the documented 303."""
    from tools.localstack.local_env import parameters_from

    block = _bash_blocks(WEBSITE_DOC.split("## Try it locally", 1)[1])[1]
    serve = next(line for line in block.splitlines() if line.endswith("make serve"))
    environ = dict(word.split("=", 1) for word in serve.split()[:-2])
    assert parameters_from(environ) == {"FormRedirectUrls": THANKS, "AllowedOrigins": "http://localhost:8000"}
    (payload,) = re.findall(r"--data '(.*?)'", block)
    status, headers, _ = site.request("POST", "/forms", payload, URLENCODED)
    assert (status, headers["location"]) == (303, THANKS)
    assert "# HTTP/1.1 303 See Other" in block
