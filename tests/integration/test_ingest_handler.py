"""IngestFunction in-process under moto: the events/ samples in, exactly these CanonicalEvents on SQS out.

The queue is created here (the ``ingest`` fixture: the events queue alone, not the whole stack). The
signed SendGrid sample is checked at its signing time (the clock is replaced), then re-signed with a
fresh timestamp as the demo does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import leadscore.ingest.request as request_module
import pytest
from leadscore.ingest.providers.sendgrid import TIMESTAMP_HEADER
from leadscore.models.event import CanonicalEvent, Profile
from leadscore.observability import logger
from leadscore.settings import get_settings

from functions.ingest.app import lambda_handler
from tests.support import EVENTS, ROOT, http_api_event, lambda_context, load_event, take_queued_events
from tests.support.moto_queue import events_queue
from tests.support.samples import DANA_EMAIL as DANA
from tests.support.samples import dana_profile
from tools.signing import signed_headers

PUBLIC_KEY = (EVENTS / "keys" / "sendgrid-test-public.b64").read_text().strip()
PRIVATE_PEM = (EVENTS / "keys" / "sendgrid-test-private.pem").read_bytes()
DANA_ANON = "6f1c2b7e-3d4a-4c1e-9b8f-2a7d5e0c9f13"
INGEST_ENV = (
    "EVENTS_QUEUE_URL",
    "MAX_BODY_BYTES",
    "SENDGRID_WEBHOOK_PUBLIC_KEYS",
    "LEADSCORE_INSECURE_ALLOW_UNSIGNED",
    "LEADSCORE_FORM_HONEYPOT_FIELDS",
    "LEADSCORE_FORM_FIELD_ALIASES",
)


def signed_at(event: dict[str, Any]) -> float:
    return float(event["headers"][TIMESTAMP_HEADER.lower()])


@pytest.fixture
def ingest(monkeypatch):
    """An SQS queue under moto, the ingest environment, a clock at the SendGrid sample's signing time."""
    for key in INGEST_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEYS", PUBLIC_KEY)
    sample_time = signed_at(load_event("http-05-sendgrid-batch.json")) + 30
    monkeypatch.setattr(request_module, "wall_clock", lambda: sample_time)
    with events_queue(monkeypatch, "leadscore-events") as (sqs, url):
        yield IngestQueue(sqs, url, monkeypatch)


@dataclass
class IngestQueue:
    sqs: Any
    url: str
    monkeypatch: pytest.MonkeyPatch

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    def delenv(self, name: str) -> None:
        self.monkeypatch.delenv(name, raising=False)
        get_settings.cache_clear()

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        response = lambda_handler(event, lambda_context())
        return response["statusCode"], json.loads(response["body"]), response.get("headers", {})

    def queued(self) -> list[CanonicalEvent]:
        return take_queued_events(self.sqs, self.url)


def accepted(n: int, **extra: Any) -> dict[str, Any]:
    return {"accepted": n, "duplicates_in_request": 0, "rejected": [], "ignored": [], "warnings": [], **extra}


# --- the replayed samples, one by one --------------------------------------------------------------


def test_01_form_json(ingest):
    status, body, _ = ingest.invoke(load_event("http-01-form-json.json"))
    assert (status, body) == (202, accepted(1))
    (event,) = ingest.queued()
    assert event == CanonicalEvent(
        event_id="sub_7f3c9a2e41",
        source="forms",
        type="form_submit",
        name="demo-request",
        occurred_at=datetime(2026, 11, 23, 14, 5, 12, tzinfo=UTC),
        received_at=datetime(2026, 11, 23, 14, 5, 12, tzinfo=UTC),
        identity={"email": DANA, "anonymous_id": DANA_ANON},
        profile=dana_profile(phone="+1 415 555 0142"),
        properties={
            "form": "demo-request",
            "page_url": "https://www.leadscore.example/demo?utm_source=google&utm_medium=cpc&utm_campaign=q4-lead-scoring",
            "path": "/demo",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "q4-lead-scoring",
            "how_did_you_hear_about_us": "Podcast",
        },
        trace_id="6741f0a81c2d3e4f",  # the request's id (requestContext.requestId): the logs' correlation id
    )


def test_02_form_urlencoded(ingest):
    status, body, _ = ingest.invoke(load_event("http-02-form-urlencoded.json"))
    assert (status, body) == (202, accepted(1))
    (event,) = ingest.queued()
    assert event.identity.email == "priya.natarajan@helioslogistics.co"
    assert event.name == "contact-sales"
    assert event.event_id.startswith("forms:h:")
    assert event.profile == Profile(
        first_name="Priya",
        last_name="Natarajan",
        job_title="Director of Operations",
        company="Helios Logistics",
        company_size=51,
        industry="Logistics",
        country="Canada",
    )
    assert event.properties == {
        "form": "contact-sales",
        "page_url": "https://www.leadscore.example/contact-sales",
        "path": "/contact-sales",
        "utm_source": "linkedin",
        "utm_medium": "social",
        "utm_campaign": "ops-webinar",
        "message": "Looking to prioritise inbound leads for our sales team",
    }


def test_03_track_page(ingest):
    status, body, _ = ingest.invoke(load_event("http-03-track-page.json"))
    assert (status, body) == (202, accepted(1))
    (event,) = ingest.queued()
    assert (event.event_id, event.type, event.name) == (
        "ajs-next-1732371300123-8c1f7e55",
        "page_view",
        "Pricing",
    )
    assert (event.identity.email, event.identity.anonymous_id) == (DANA, DANA_ANON)
    assert event.properties["path"] == "/pricing"
    assert event.properties["title"] == "Pricing | Leadscore"
    assert event.occurred_at == datetime(2026, 11, 23, 14, 15, 0, 123000, tzinfo=UTC)
    assert event.bot is None


def test_04_track_batch(ingest):
    status, body, _ = ingest.invoke(load_event("http-04-track-batch.json"))
    assert (status, body) == (202, accepted(6))
    events = {e.event_id: e for e in ingest.queued()}
    summary = sorted(
        (e.occurred_at, e.type, e.name, e.properties.get("path"), e.identity.email) for e in events.values()
    )
    assert [row[1:] for row in summary] == [
        ("page_view", None, "/product/lead-scoring", DANA),
        ("page_view", None, "/blog/how-to-score-b2b-leads", DANA),
        ("page_view", None, "/pricing", DANA),
        ("track", "Demo Requested", None, DANA),
        ("identify", None, None, DANA),
        ("page_view", None, "/pricing", None),
    ]
    demo = events["ajs-next-1732371912004-4d5e6f7a"]
    assert demo.properties == {
        "form": "demo-request",
        "plan_interest": "Enterprise",
        "seats": 40,
        "page_path": "/demo",
        "page_url": "https://www.leadscore.example/demo",
        "user_id": "usr_4821",
    }
    identify = events["ajs-next-1732371913005-5e6f7a8b"]
    assert identify.profile == dana_profile()
    product = events["ajs-next-1732370700001-1a2b3c4d"]
    assert product.properties["utm_campaign"] == "q4-lead-scoring"
    headless = events["ajs-next-1732372000006-6f7a8b9c"]
    assert headless.bot == "headless browser user agent (headlesschrome/131.0.0.0)"
    assert headless.identity.anonymous_id == "0b9e6c1d-7a2f-4e58-b3c6-91d4f0a2e7b5"
    assert all(e.bot is None for e in events.values() if e is not headless)


def test_05_sendgrid_batch_signed(ingest):
    status, body, _ = ingest.invoke(load_event("http-05-sendgrid-batch.json"))
    assert status == 202
    assert body == accepted(
        6,
        ignored=[
            {"index": 0, "reason": "processed: accepted by SendGrid, not a delivery outcome or engagement"}
        ],
    )
    events = sorted(ingest.queued(), key=lambda e: e.occurred_at)
    assert [(e.type, e.identity.email, e.bot, e.properties.get("path")) for e in events] == [
        ("email_delivered", DANA, None, None),
        ("email_bounce", "tom.becker@oldfield-manufacturing.example", None, None),
        ("email_open", "priya.natarajan@helioslogistics.co", "machine open", None),
        ("email_open", DANA, None, None),
        ("email_click", DANA, None, "/pricing"),
        ("email_click", DANA, None, "/customers/contoso-doubled-pipeline"),
    ]
    bounce = events[1]
    assert bounce.event_id == "Ym91bmNlLTM0NTY3ODkwLVBtM240bzVwNnE3cjhzOXQwdTF2MnctMA"
    assert bounce.properties["bounce_classification"] == "Invalid Address"
    assert "reason" not in bounce.properties  # SMTP responses stay out
    assert all("ip" not in e.properties and "useragent" not in e.properties for e in events)


def test_06_form_personal_email_multipart_base64(ingest):
    event = load_event("http-06-form-personal-email.json")
    assert event["isBase64Encoded"] is True
    status, body, _ = ingest.invoke(event)
    assert (status, body) == (202, accepted(1))
    (queued,) = ingest.queued()
    assert queued.identity.email == "alex.kim.2027@gmail.com"
    assert queued.name == "ebook-download"
    assert queued.profile == Profile(
        first_name="Alex",
        last_name="Kim",
        job_title="Student",
        company="State University",
        company_size=1,
        country="United States",
    )


def test_the_demo_sequence_gives_the_first_lead_every_rewarded_signal(ingest):
    """The demo replays http-[0-9]* in order; Dana must collect demo requests, pricing views, email clicks,
    a senior title and a target industry (the rules reward these; together they cross 100 points)."""
    names = sorted(p.name for p in EVENTS.glob("http-*.json") if not p.name.startswith("http-bad-"))
    assert names[:6] == [
        "http-01-form-json.json",
        "http-02-form-urlencoded.json",
        "http-03-track-page.json",
        "http-04-track-batch.json",
        "http-05-sendgrid-batch.json",
        "http-06-form-personal-email.json",
    ]
    for name in names:
        status, _, _ = ingest.invoke(load_event(name))
        assert status == 202, name
    dana = [e for e in ingest.queued() if e.identity.email == DANA and e.bot is None]
    kinds = [(e.type, e.name) for e in dana]
    assert ("form_submit", "demo-request") in kinds
    assert ("track", "Demo Requested") in kinds
    assert sum(1 for e in dana if e.type == "page_view" and e.properties.get("path") == "/pricing") == 2
    assert sum(1 for e in dana if e.type == "email_click") == 2
    profiles = [e.profile for e in dana if e.profile is not None]
    assert profiles and all(p.job_title == "VP of Engineering" and p.industry == "Software" for p in profiles)
    assert all(p.company_size == 500 and p.country == "United States" for p in profiles)


# --- refused samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("http-bad-01-form-invalid-json.json", 400, "malformed_body"),
        ("http-bad-02-form-no-email.json", 422, "unprocessable"),
        ("http-bad-03-form-unsupported-content-type.json", 415, "unsupported_media_type"),
        ("http-bad-04-form-bad-base64.json", 400, "malformed_body"),
        ("http-bad-05-track-not-an-object.json", 400, "malformed_body"),
        ("http-bad-06-track-no-identity.json", 422, "unprocessable"),
        ("http-bad-07-webhook-unknown-provider.json", 404, "unknown_provider"),
        ("http-bad-08-sendgrid-unsigned.json", 401, "unauthorized"),
        ("http-bad-09-sendgrid-tampered.json", 401, "unauthorized"),
        ("http-bad-10-get-forms.json", 405, "method_not_allowed"),
    ],
)
def test_bad_samples(ingest, name, status, code):
    got_status, body, headers = ingest.invoke(load_event(name))
    assert got_status == status
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    assert headers["Content-Type"] == "application/json"
    assert ingest.queued() == []


def test_every_bad_sample_is_listed():
    listed = {p.name for p in EVENTS.glob("http-bad-*.json")}
    assert len(listed) == 10


# --- signatures, as the demo and SendGrid exercise them ---------------------------------------------


def test_the_signed_sample_goes_stale_and_the_demo_re_signs_it(ingest):
    event = load_event("http-05-sendgrid-batch.json")
    later = signed_at(event) + 3600
    ingest.monkeypatch.setattr(request_module, "wall_clock", lambda: later)
    status, body, _ = ingest.invoke(event)
    assert (status, body["error"]) == (401, "unauthorized")
    assert "stale" in body["message"]
    event["headers"].update(signed_headers(event["body"].encode(), PRIVATE_PEM, timestamp=str(int(later))))
    status, body, _ = ingest.invoke(event)
    assert (status, body["accepted"]) == (202, 6)
    assert len(ingest.queued()) == 6


def test_rotated_keys_accept_the_new_signer(ingest):
    ingest.setenv("SENDGRID_WEBHOOK_PUBLIC_KEYS", f"{PUBLIC_KEY_OLD},{PUBLIC_KEY}")
    assert ingest.invoke(load_event("http-05-sendgrid-batch.json"))[0] == 202
    ingest.setenv("SENDGRID_WEBHOOK_PUBLIC_KEYS", PUBLIC_KEY_OLD)
    assert ingest.invoke(load_event("http-05-sendgrid-batch.json"))[0] == 401


# An unrelated P-256 key (from SendGrid's SDK tests): "the key we rotated away from".
PUBLIC_KEY_OLD = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd"
    "4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
)


def test_no_key_configured_is_401_saying_so_unless_insecure(ingest):
    ingest.delenv("SENDGRID_WEBHOOK_PUBLIC_KEYS")
    status, body, _ = ingest.invoke(load_event("http-bad-08-sendgrid-unsigned.json"))
    assert status == 401
    assert "not configured" in body["message"]
    ingest.setenv("LEADSCORE_INSECURE_ALLOW_UNSIGNED", "1")
    status, body, _ = ingest.invoke(load_event("http-bad-08-sendgrid-unsigned.json"))
    assert (status, body["accepted"]) == (202, 1)
    (event,) = ingest.queued()
    assert (event.type, event.event_id, event.properties["path"]) == ("email_click", "forged-1", "/pricing")


def test_a_misconfigured_key_is_a_500_not_a_401(ingest):
    ingest.setenv("SENDGRID_WEBHOOK_PUBLIC_KEYS", "definitely-not-a-key")
    status, body, _ = ingest.invoke(load_event("http-05-sendgrid-batch.json"))
    assert (status, body["error"]) == (500, "configuration_error")


# --- the rest of the contract -------------------------------------------------------------------------


def test_oversized_body_is_413_before_parsing(ingest):
    ingest.setenv("MAX_BODY_BYTES", "1024")
    event = http_api_event("POST", "/track", "{" * 2000, headers={"content-type": "application/json"})
    status, body, _ = ingest.invoke(event)
    assert (status, body["error"]) == (413, "payload_too_large")
    event = http_api_event(
        "POST", "/forms", b"\x00" * 1500, headers={"content-type": "multipart/form-data"}, base64_encode=True
    )
    assert ingest.invoke(event)[0] == 413


def test_honeypot_answers_202_queues_nothing_and_counts(ingest, capsys):
    event = http_api_event(
        "POST",
        "/forms",
        "email=bot%40spam.example&company=Spam&_hp=http%3A%2F%2Fcheap.example",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    status, body, _ = ingest.invoke(event)
    assert (status, body) == (202, accepted(0))
    assert ingest.queued() == []
    assert '"FormHoneypotTriggered"' in capsys.readouterr().out


def test_sqs_failure_is_503_so_the_sender_retries(ingest):
    ingest.setenv("EVENTS_QUEUE_URL", ingest.url.replace("leadscore-events", "missing-queue"))
    status, body, headers = ingest.invoke(load_event("http-01-form-json.json"))
    assert (status, body["error"]) == (503, "queue_unavailable")
    assert headers["Retry-After"] == "5"


def test_missing_queue_setting_is_a_configuration_error(ingest):
    ingest.delenv("EVENTS_QUEUE_URL")
    status, body, _ = ingest.invoke(load_event("http-01-form-json.json"))
    assert (status, body["error"]) == (500, "configuration_error")
    # nothing to queue needs no queue
    status, _, _ = ingest.invoke(load_event("http-bad-02-form-no-email.json"))
    assert status == 422


def test_duplicates_in_one_request_are_counted_once_queued(ingest):
    message = {"type": "page", "anonymousId": "a", "messageId": "same", "properties": {"path": "/pricing"}}
    event = http_api_event("POST", "/track", json.dumps({"batch": [message, message, message]}))
    status, body, _ = ingest.invoke(event)
    assert (status, body["accepted"], body["duplicates_in_request"]) == (202, 1, 2)
    assert [e.event_id for e in ingest.queued()] == ["same"]


def test_unknown_route_and_wrong_method(ingest):
    status, body, _ = ingest.invoke(http_api_event("POST", "/nope", "{}"))
    assert (status, body["error"]) == (404, "not_found")
    status, body, headers = ingest.invoke(
        http_api_event("DELETE", "/webhooks/sendgrid", None, path_parameters={"provider": "sendgrid"})
    )
    assert (status, body["error"], headers["Allow"]) == (405, "method_not_allowed", "POST")


def test_large_batch_is_queued_completely(ingest):
    batch = [
        {
            "type": "page",
            "anonymousId": f"visitor-{i}",
            "messageId": f"m-{i}",
            "properties": {"path": f"/blog/{i}"},
        }
        for i in range(137)
    ]
    status, body, _ = ingest.invoke(http_api_event("POST", "/track", json.dumps({"batch": batch})))
    assert (status, body["accepted"]) == (202, 137)
    assert sorted(e.event_id for e in ingest.queued()) == sorted(f"m-{i}" for i in range(137))


def test_logs_carry_no_email_addresses_or_bodies(ingest, caplog):
    caplog.set_level("INFO", logger="leadscore")
    for name in sorted(p.name for p in EVENTS.glob("http-*.json")):
        ingest.invoke(load_event(name))
    formatter = logger.registered_formatter  # the JSON lines exactly as CloudWatch would get them
    out = "\n".join(formatter.format(record) for record in caplog.records)
    accepted = [p for p in EVENTS.glob("http-*.json") if not p.name.startswith("http-bad-")]
    assert out.count('"message":"ingested"') == len(accepted) >= 6
    assert out.count('"message":"request rejected"') == 10
    assert '"route":"/webhooks/sendgrid"' in out and '"error":"unauthorized"' in out
    assert '"route":"/webhooks/sendgrid"' in out and '"error":"unauthorized"' in out
    for needle in ("@", "Northwind", "dana", "Podcast", "VP of Engineering"):
        assert needle not in out, needle


def test_importing_the_handler_is_cheap():
    code = (
        "import sys, functions.ingest.app; "
        "lazy = ('cryptography', 'boto3', 'leadscore.ingest.providers.sendgrid'); "
        "print(sorted(m for m in lazy if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "shared")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
