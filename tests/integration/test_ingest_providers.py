"""Every webhook provider through the real handler (``functions.ingest.app.lambda_handler``) under moto:
the committed ``events/provider-*.json`` samples accepted, and for each provider a bad signature or
credential, a missing one, a stale or replayed request and a malformed body refused with the right 4xx.

The samples are signed with the test secrets in events/README.md at ``SIGNED_AT``; the clock is frozen
just after. SES samples are signed with a self-made RSA key whose certificate the (injected) certificate
fetcher returns: no network anywhere.
"""

from __future__ import annotations

import base64
import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import boto3
import leadscore.ingest.request as request_module
import pytest
from leadscore.ingest.providers import hubspot, mailgun, mandrill, ses, tally, typeform, webflow
from leadscore.ingest.secrets import clear_secret_cache
from leadscore.models.event import CanonicalEvent

from functions.ingest.app import lambda_handler
from tests.support import EVENTS, lambda_context, load_event, take_queued_events
from tests.support.http_events import body_of
from tests.support.moto_queue import events_queue
from tools.signing import sign_sns_message

SIGNED_AT = 1795451400
HOST = "api.leadscore.example"
TOPIC = "arn:aws:sns:us-east-1:123456789012:leadscore-ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-leadscore-test.pem"
SNS_KEY = (EVENTS / "keys" / "sns-test-private.pem").read_bytes()
SNS_CERT = (EVENTS / "keys" / "sns-test-cert.pem").read_bytes()
SECRETS = {
    "TYPEFORM_SECRET": "test-typeform-secret",
    "HUBSPOT_CLIENT_SECRET": "test-hubspot-client-secret",
    "TALLY_SIGNING_SECRET": "test-tally-signing-secret",
    "WEBFLOW_SECRET": "test-webflow-secret",
    "MAILGUN_SIGNING_KEY": "test-mailgun-signing-key",
    "POSTMARK_BASIC_AUTH": "postmark:test-postmark-password",
    "MAILCHIMP_WEBHOOK_KEY": "test-mailchimp-key",
    "MANDRILL_WEBHOOK_KEY": "test-mandrill-key",
    "BREVO_WEBHOOK_TOKEN": "test-brevo-token",
    "SALESFORCE_WEBHOOK_KEY": "test-salesforce-key",
}
PROVIDER_ENV = (*SECRETS, "SES_SNS_TOPIC_ARNS", "HUBSPOT_WEBHOOK_BASE_URL", "MANDRILL_WEBHOOK_URL")
SAMPLES = {
    "typeform": "provider-typeform-01-form-response.json",
    "hubspot": "provider-hubspot-01-contact.json",
    "tally": "provider-tally-01-form-response.json",
    "webflow": "provider-webflow-01-form-submission.json",
    "mailgun": "provider-mailgun-01-clicked.json",
    "postmark": "provider-postmark-01-open.json",
    "mailchimp": "provider-mailchimp-01-subscribe.json",
    "mandrill": "provider-mandrill-01-open-click.json",
    "brevo": "provider-brevo-01-batch.json",
    "ses": "provider-ses-01-bounce.json",
    "salesforce": "provider-salesforce-01-outbound-message.json",
}
PROVIDERS = sorted(SAMPLES)


def with_body(event: dict[str, Any], body: bytes) -> dict[str, Any]:
    out = copy.deepcopy(event)
    out["body"] = body.decode("utf-8")
    out["isBase64Encoded"] = False
    return out


def resign(provider: str, event: dict[str, Any], body: bytes) -> dict[str, Any]:
    """``event`` with ``body``, re-signed the way the provider would sign it (auth that covers the body)."""
    out = with_body(event, body)
    headers = out["headers"]
    if provider == "typeform":
        headers["typeform-signature"] = typeform.sign(body, SECRETS["TYPEFORM_SECRET"])
    elif provider == "tally":
        headers["tally-signature"] = tally.sign(body, SECRETS["TALLY_SIGNING_SECRET"])
    elif provider == "webflow":
        headers["x-webflow-signature"] = webflow.sign(
            body, headers["x-webflow-timestamp"], SECRETS["WEBFLOW_SECRET"]
        )
    elif provider == "hubspot":
        uri = f"https://{HOST}/webhooks/hubspot"
        headers["x-hubspot-signature-v3"] = hubspot.sign(
            "POST", uri, body, headers["x-hubspot-request-timestamp"], SECRETS["HUBSPOT_CLIENT_SECRET"]
        )
    elif provider == "mandrill":
        params = parse_qsl(body.decode(), keep_blank_values=True)
        headers["x-mandrill-signature"] = mandrill.sign(
            f"https://{HOST}/webhooks/mandrill", params, SECRETS["MANDRILL_WEBHOOK_KEY"]
        )
    return out


@dataclass
class Hooks:
    sqs: Any
    url: str
    clock: list[float]
    subscribed: list[str]
    cert_fetches: list[str]

    def invoke(
        self, event: dict[str, Any], *, misconfigured: bool = False
    ) -> tuple[int, dict[str, Any], list[CanonicalEvent]]:
        response = lambda_handler(event, lambda_context())
        status = response["statusCode"]
        assert status < 500 or status == 503 or misconfigured, response
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        if "xml" in headers.get("content-type", ""):  # Salesforce is answered with its SOAP Ack
            return status, {"xml": response["body"]}, self.drain()
        body = json.loads(response["body"]) if response.get("body") else {}
        return status, body, self.drain()

    def drain(self) -> list[CanonicalEvent]:
        return sorted(take_queued_events(self.sqs, self.url), key=lambda e: e.event_id)


def fake_certificate_fetcher(log: list[str]) -> Callable[[str], bytes]:
    def fetch(url: str) -> bytes:
        log.append(url)
        if url == CERT_URL:
            return SNS_CERT
        raise LookupError("HTTP 404")

    return fetch


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    for key in list(os.environ):
        if (
            key.startswith(("AWS_ENDPOINT_URL", "LEADSCORE_", "SENDGRID_"))
            or key in PROVIDER_ENV
            or key.endswith("_PARAM")
            or key in ("AWS_PROFILE", "MAX_BODY_BYTES")
        ):
            monkeypatch.delenv(key)
    for name, value in {**SECRETS, "SES_SNS_TOPIC_ARNS": TOPIC}.items():
        monkeypatch.setenv(name, value)
    clock = [SIGNED_AT + 30.0]
    monkeypatch.setattr(request_module, "wall_clock", lambda: clock[0])
    subscribed: list[str] = []
    cert_fetches: list[str] = []
    ses.set_certificate_fetcher(fake_certificate_fetcher(cert_fetches))

    def confirm(url: str) -> bytes:
        subscribed.append(url)
        return b"<ConfirmSubscriptionResponse/>"

    ses.set_subscribe_fetcher(confirm)
    mailgun.SEEN_TOKENS.clear()
    clear_secret_cache()
    with events_queue(monkeypatch) as (sqs, url):
        yield Hooks(sqs, url, clock, subscribed, cert_fetches)
    ses.set_certificate_fetcher(None)
    ses.set_subscribe_fetcher(None)
    mailgun.SEEN_TOKENS.clear()
    clear_secret_cache()


# --- every provider: the valid sample ------------------------------------------------------------


def test_every_registered_provider_has_a_sample_here():
    from leadscore.ingest.providers import provider_names

    # SendGrid: tests/unit/test_ingest_sendgrid.py; hubspot-forms (public, nothing to verify):
    # tests/integration/test_hubspot_forms_route.py
    assert set(provider_names()) == {*SAMPLES, "sendgrid", "hubspot-forms"}


def test_typeform_form_response(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["typeform"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id == "typeform:01JDTF0000MAYA0CHEN000001"
    assert (event.source, event.type, event.name) == ("typeform", "form_submit", "Book a demo")
    assert event.identity.email == "maya.chen@brightwave-analytics.com"
    assert event.profile is not None
    assert event.profile.fields() == {
        "first_name": "Maya",
        "last_name": "Chen",
        "job_title": "Head of Revenue Operations",
        "company": "Brightwave Analytics",
        "company_size": 201.0,
        "country": "Germany",
    }
    assert event.properties["utm_source"] == "linkedin"
    assert event.occurred_at.isoformat() == "2026-11-23T16:29:55+00:00"


def test_hubspot_contact(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["hubspot"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id == "hubspot:9f0b3c7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f"
    assert (event.type, event.name) == ("form_submit", "Request a quote")
    assert event.identity.email == "jordan.blake@summitfreight.com"
    assert event.profile is not None
    assert event.profile.job_title == "VP Operations"
    assert event.profile.company == "Summit Freight"
    assert event.profile.first_name == "Jordan"
    assert event.bot is None, "HubSpot's own user agent says nothing about the contact"


def test_tally_form_response(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["tally"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id == "tally:7f3c2a10-5b1e-4d7a-9c2f-0a1b2c3d4e5f"
    assert (event.type, event.name) == ("form_submit", "Contact sales")
    assert event.identity.email == "lucas.moreau@atelier-logiciel.fr"
    assert event.profile is not None
    assert (event.profile.first_name, event.profile.company) == ("Lucas", "Atelier Logiciel")
    assert event.profile.company_size == 51.0  # "Team size" is an alias; the option id became its text


def test_webflow_form_submission(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["webflow"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id == "webflow:6321ca84df3949bfc6752327"
    assert (event.type, event.name) == ("form_submit", "Pricing enquiry")
    assert event.identity.email == "aisha.okafor@kestrel-health.io"
    assert event.profile is not None
    assert (event.profile.job_title, event.profile.company_size) == ("CTO", 120.0)


def test_mailgun_click(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["mailgun"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id == "mailgun:CPgfbmQMTCKtHW6uIWtuVe"
    assert (event.type, event.name) == ("email_click", "clicked")
    assert event.identity.email == "maya.chen@brightwave-analytics.com"
    assert event.properties["path"] == "/pricing"
    assert event.properties["utm_source"] == "mailgun"
    assert event.properties["lead_source"] == "webinar"
    assert event.bot is None


def test_postmark_open(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["postmark"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id.startswith("postmark:h:")
    assert (event.type, event.name) == ("email_open", "Open")
    assert event.identity.email == "lucas.moreau@atelier-logiciel.fr"
    assert event.properties["campaign"] == "nurture-3"


def test_mailchimp_subscribe(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["mailchimp"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id.startswith("mailchimp:h:")
    assert event.type == "form_submit"
    assert event.identity.email == "aisha.okafor@kestrel-health.io"
    assert event.profile is not None
    assert (event.profile.first_name, event.profile.company) == ("Aisha", "Kestrel Health")
    assert event.properties["list_id"] == "a6b5da1054"


def test_mandrill_open_and_scanner_click(hooks):
    status, body, events = hooks.invoke(load_event(SAMPLES["mandrill"]))
    assert (status, body["accepted"]) == (202, 2)
    by_type = {e.type: e for e in events}
    assert by_type["email_open"].bot is None
    assert by_type["email_click"].bot == "email security scanner user agent (mimecast/1.0)"
    assert by_type["email_click"].properties["path"] == "/pricing"
    assert {e.identity.email for e in events} == {"jordan.blake@summitfreight.com"}
    assert len({e.event_id for e in events}) == 2


def test_brevo_proxy_open_is_a_machine_open(hooks):
    status, body, events = hooks.invoke(load_event(SAMPLES["brevo"]))
    assert (status, body["accepted"]) == (202, 2)
    by_type = {e.type: e for e in events}
    assert by_type["email_open"].bot == "machine open"
    assert by_type["email_open"].name == "unique_proxy_open"
    assert by_type["email_click"].bot is None
    assert by_type["email_click"].properties["path"] == "/customers/kestrel"


def test_salesforce_outbound_message_is_acked_and_maps_outcomes_and_stages(hooks):
    status, body, events = hooks.invoke(load_event(SAMPLES["salesforce"]))
    assert status == 200
    assert "<Ack>true</Ack>" in body["xml"] and "notificationsResponse" in body["xml"]
    won, rejected = sorted(events, key=lambda e: e.type)
    assert (won.type, won.event_id, won.identity.email) == (
        "crm_outcome",
        "salesforce:0065g00000XyZ12AAB:converted",
        "maya.chen@brightwave-analytics.com",
    )
    assert won.properties == {
        "status": "converted",
        "amount": 48000.0,
        "currency": "EUR",
        "crm_object": "opportunity:0065g00000XyZ12AAB",
    }
    assert (rejected.type, rejected.event_id, rejected.identity.email) == (
        "crm_stage",
        "salesforce:n:04l5g00000HbRzBAAV",
        "lucas.moreau@atelier-logiciel.fr",
    )
    assert (rejected.properties["stage"], rejected.properties["reason"]) == ("rejected", "no_budget")


def test_salesforce_refuses_a_doctype_before_expanding_anything(hooks):
    sample = load_event(SAMPLES["salesforce"])
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>'
    status, body, queued = hooks.invoke(with_body(sample, bomb))
    assert (status, queued) == (400, [])
    assert "DOCTYPE" in body["message"]


def test_salesforce_acks_a_record_naming_nobody_so_it_is_not_redelivered_for_24_hours(hooks):
    sample = load_event(SAMPLES["salesforce"])
    raw = body_of(sample).replace(b"maya.chen@brightwave-analytics.com", b"")
    status, body, queued = hooks.invoke(with_body(sample, raw))
    assert status == 200 and "<Ack>true</Ack>" in body["xml"]
    assert [e.identity.email for e in queued] == ["lucas.moreau@atelier-logiciel.fr"]


def test_ses_bounce(hooks):
    status, body, (event,) = hooks.invoke(load_event(SAMPLES["ses"]))
    assert (status, body["accepted"]) == (202, 1)
    assert event.event_id == "ses:0100018f-ses-msg-1:Bounce:2026-11-23T16:29:20.000Z:0"
    assert (event.type, event.name) == ("email_bounce", "Bounce")
    assert event.identity.email == "tom.becker@oldmail-example.de"
    assert event.properties["bounce_type"] == "Permanent"
    assert event.properties["campaign"] == "nurture-3"
    assert hooks.cert_fetches == [CERT_URL]
    hooks.invoke(resign("ses", load_event(SAMPLES["ses"]), body_of(load_event(SAMPLES["ses"]))))
    assert hooks.cert_fetches == [CERT_URL], "the certificate is cached"


# --- every provider: refusals --------------------------------------------------------------------


def tamper_body(provider: str, event: dict[str, Any]) -> dict[str, Any]:
    """The sample with one byte of the body changed (the signature no longer matches), or, where the
    credential does not cover the body, the sample with a wrong credential."""
    if provider == "postmark":
        out = copy.deepcopy(event)
        out["headers"]["authorization"] = "Basic " + base64.b64encode(b"postmark:wrong").decode()
        return out
    if provider == "brevo":
        out = copy.deepcopy(event)
        out["headers"]["authorization"] = "Bearer test-brevo-tokeN"
        return out
    if provider == "mailgun":  # Mailgun signs timestamp + token, not event-data
        document = json.loads(body_of(event))
        document["signature"]["token"] = document["signature"]["token"][::-1]
        return with_body(event, json.dumps(document).encode())
    if provider in ("mailchimp", "salesforce"):
        out = copy.deepcopy(event)
        out["rawQueryString"] = f"key=test-{provider}-kez"
        out["queryStringParameters"] = {"key": f"test-{provider}-kez"}
        return out
    body = body_of(event)
    target = b"maya" if b"maya" in body else b"a"
    return with_body(event, body.replace(target, target.upper(), 1))


def strip_credentials(provider: str, event: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(event)
    for header in (
        "typeform-signature",
        "tally-signature",
        "x-webflow-signature",
        "x-hubspot-signature-v3",
        "x-mandrill-signature",
        "authorization",
    ):
        out["headers"].pop(header, None)
    if provider in ("mailchimp", "salesforce"):
        out["rawQueryString"] = ""
        out.pop("queryStringParameters", None)
    if provider == "mailgun":
        document = json.loads(body_of(out))
        del document["signature"]
        return with_body(out, json.dumps(document).encode())
    if provider == "ses":
        document = json.loads(body_of(out))
        del document["Signature"]
        return with_body(out, json.dumps(document).encode())
    return out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_signature_or_credential_is_401(hooks, provider):
    status, body, queued = hooks.invoke(tamper_body(provider, load_event(SAMPLES[provider])))
    assert (status, body["error"], queued) == (401, "unauthorized", [])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_signature_or_credential_is_401(hooks, provider):
    status, body, queued = hooks.invoke(strip_credentials(provider, load_event(SAMPLES[provider])))
    assert (status, body["error"], queued) == (401, "unauthorized", [])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_secret_configured_is_401_naming_the_variables(hooks, monkeypatch, provider):
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    status, body, queued = hooks.invoke(load_event(SAMPLES[provider]))
    assert (status, body["error"], queued) == (401, "unauthorized", [])
    assert "not configured" in body["message"]


@pytest.mark.parametrize(
    ("provider", "later"),
    [("hubspot", 301), ("webflow", 301), ("mailgun", 301), ("ses", 3600 + 60)],
)
def test_stale_timestamps_are_401(hooks, provider, later):
    hooks.clock[0] = SIGNED_AT + later
    status, body, queued = hooks.invoke(load_event(SAMPLES[provider]))
    assert (status, body["error"], queued) == (401, "unauthorized", [])
    assert "stale" in body["message"]


@pytest.mark.parametrize("provider", ["hubspot", "webflow", "mailgun"])
def test_timestamps_from_the_future_are_401(hooks, provider):
    hooks.clock[0] = SIGNED_AT - 400
    status, _, _ = hooks.invoke(load_event(SAMPLES[provider]))
    assert status == 401


def test_mailgun_refuses_a_replayed_token(hooks):
    first, _, queued = hooks.invoke(load_event(SAMPLES["mailgun"]))
    assert (first, len(queued)) == (202, 1)
    status, body, queued = hooks.invoke(load_event(SAMPLES["mailgun"]))
    assert (status, queued) == (401, [])
    assert "already used" in body["message"]


def test_mailgun_token_memory_is_bounded(monkeypatch):
    seen = mailgun._SeenTokens(limit=3)
    for i in range(10):
        assert seen.check_and_add(f"t{i}", now=1000.0, window=600)
    assert len(seen._tokens) <= 3
    assert not seen.check_and_add("t9", now=1000.0, window=600)
    assert seen.check_and_add("t0", now=1000.0, window=600), "forgotten: caught downstream by event-id dedupe"
    assert seen.check_and_add("t9", now=2000.0, window=600), "outside the window"


@pytest.mark.parametrize("provider", ["typeform", "tally", "postmark", "mailchimp", "mandrill", "brevo"])
def test_unstamped_providers_replay_to_the_same_event_ids(hooks, provider):
    """No timestamp is signed: a replay is accepted and carries the same ids, so the scorer's event-id
    dedupe (one history item per id) drops it."""
    _, _, first = hooks.invoke(load_event(SAMPLES[provider]))
    status, _, second = hooks.invoke(load_event(SAMPLES[provider]))
    assert status == 202
    assert [e.event_id for e in second] == [e.event_id for e in first] != []


MALFORMED = {
    "typeform": b'{"event_id": "x", "form_response": ',
    "hubspot": b"[1, 2",
    "tally": b'"just a string"',
    "webflow": b'{"triggerType": "form_submission", "payload": []}',
    "mailgun": b"{not json",
    "postmark": b"[]",
    "mailchimp": urlencode({"data[email]": "x@y.io"}).encode(),
    "mandrill": urlencode({"mandrill_events": "[{not json"}).encode(),
    "brevo": b"42",
    "ses": b"<xml/>",
    "salesforce": b"<soapenv:Envelope",
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_body_is_400(hooks, provider):
    event = resign(provider, load_event(SAMPLES[provider]), MALFORMED[provider])
    status, body, queued = hooks.invoke(event)
    assert (status, body["error"], queued) == (400, "malformed_body", [])


@pytest.mark.parametrize("provider", ["typeform", "tally", "webflow", "hubspot"])
def test_form_providers_without_an_email_are_422(hooks, provider):
    sample = load_event(SAMPLES[provider])
    body = body_of(sample)
    for email in (
        b"maya.chen@brightwave-analytics.com",
        b"lucas.moreau@atelier-logiciel.fr",
        b"aisha.okafor@kestrel-health.io",
        b"jordan.blake@summitfreight.com",
    ):
        body = body.replace(email, b"not-an-email")
    status, body_json, queued = hooks.invoke(resign(provider, sample, body))
    assert (status, body_json["error"], queued) == (422, "unprocessable", [])


# --- secrets from SSM and Secrets Manager, with rotation ------------------------------------------


def test_secret_from_ssm_securestring_with_two_values_during_rotation(hooks, monkeypatch):
    monkeypatch.delenv("TYPEFORM_SECRET")
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/leadscore/typeform/secret",
        Value="the-new-secret,\ntest-typeform-secret",
        Type="SecureString",
    )
    monkeypatch.setenv("TYPEFORM_SECRET_PARAM", "/leadscore/typeform/secret")
    status, body, _ = hooks.invoke(load_event(SAMPLES["typeform"]))
    assert (status, body["accepted"]) == (202, 1)
    sample = load_event(SAMPLES["typeform"])
    signed_with_new = copy.deepcopy(sample)
    signed_with_new["headers"]["typeform-signature"] = typeform.sign(body_of(sample), "the-new-secret")
    assert hooks.invoke(signed_with_new)[0] == 202
    signed_with_other = copy.deepcopy(sample)
    signed_with_other["headers"]["typeform-signature"] = typeform.sign(body_of(sample), "another")
    assert hooks.invoke(signed_with_other)[0] == 401


def test_secret_from_secrets_manager(hooks, monkeypatch):
    monkeypatch.delenv("BREVO_WEBHOOK_TOKEN")
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="leadscore/brevo", SecretString="test-brevo-token"
    )["ARN"]
    monkeypatch.setenv("BREVO_WEBHOOK_TOKEN_PARAM", arn)
    assert hooks.invoke(load_event(SAMPLES["brevo"]))[0] == 202


def test_a_missing_parameter_is_a_configuration_error_without_the_value(hooks, monkeypatch):
    monkeypatch.delenv("TALLY_SIGNING_SECRET")
    monkeypatch.setenv("TALLY_SIGNING_SECRET_PARAM", "/leadscore/tally/missing")
    status, body, _ = hooks.invoke(load_event(SAMPLES["tally"]), misconfigured=True)
    assert (status, body["error"]) == (500, "configuration_error")
    assert "/leadscore/tally/missing" not in json.dumps(body), "the response names nothing internal"


def test_secrets_are_never_logged(hooks, capsys):
    for provider in PROVIDERS:
        hooks.invoke(load_event(SAMPLES[provider]))
        hooks.invoke(tamper_body(provider, load_event(SAMPLES[provider])))
    logs = capsys.readouterr().out
    for secret in SECRETS.values():
        assert secret not in logs
        assert secret.split(":")[-1] not in logs


# --- SES / SNS specifics -------------------------------------------------------------------------


def sns_event(message: dict[str, Any]) -> dict[str, Any]:
    message = {k: v for k, v in message.items() if k != "Signature"}
    message["Signature"] = sign_sns_message(message, SNS_KEY)
    return with_body(load_event(SAMPLES["ses"]), json.dumps(message).encode())


def sample_message() -> dict[str, Any]:
    message: dict[str, Any] = json.loads(body_of(load_event(SAMPLES["ses"])))
    return message


def test_sns_subscription_confirmation_is_confirmed_through_the_fetcher(hooks):
    status, body, queued = hooks.invoke(load_event("provider-ses-02-subscription-confirmation.json"))
    assert (status, queued) == (202, [])
    assert body["ignored"] == [{"index": 0, "reason": "subscription confirmed"}]
    (url,) = hooks.subscribed
    assert url.startswith("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&")


def test_sns_signature_version_1_and_2_both_verify(hooks):
    for version in ("1", "2"):
        message = {**sample_message(), "SignatureVersion": version, "MessageId": f"m-{version}"}
        assert hooks.invoke(sns_event(message))[0] == 202
    assert hooks.invoke(sns_event({**sample_message(), "SignatureVersion": "3"}))[0] == 401


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://sns.us-east-1.amazonaws.com/other.pem",  # the right host, but not a certificate (404)
    ],
)
def test_sns_certificate_url_must_be_an_sns_host(hooks, cert_url):
    status, body, _ = hooks.invoke(sns_event({**sample_message(), "SigningCertURL": cert_url}))
    assert (status, body["error"]) == (401, "unauthorized")


def test_sns_message_from_an_unconfigured_topic_is_401(hooks):
    other = "arn:aws:sns:us-east-1:999999999999:someone-elses-topic"
    status, body, _ = hooks.invoke(sns_event({**sample_message(), "TopicArn": other}))
    assert (status, body["error"]) == (401, "unauthorized")
    assert hooks.cert_fetches == [], "nothing is fetched for a foreign topic"


def test_sns_signature_by_another_key_is_401(hooks):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    message = sample_message()
    message["Signature"] = sign_sns_message(message, other_key)
    assert hooks.invoke(with_body(load_event(SAMPLES["ses"]), json.dumps(message).encode()))[0] == 401


def test_an_unreachable_certificate_host_is_503_so_sns_retries(hooks):
    def down(url: str) -> bytes:
        raise TimeoutError("timed out")

    ses.set_certificate_fetcher(down)
    status, body, queued = hooks.invoke(load_event(SAMPLES["ses"]))
    assert (status, body["error"], queued) == (503, "upstream_unavailable", [])


@pytest.mark.parametrize(
    ("ses_event", "expected"),
    [
        (
            {"eventType": "Open", "open": {"userAgent": "Mozilla/5.0", "timestamp": "2026-11-23T16:00:00Z"}},
            ("email_open", None),
        ),
        (
            {
                "eventType": "Click",
                "click": {"link": "https://x.io/pricing", "userAgent": "Barracuda Sentinel"},
            },
            ("email_click", "email security scanner user agent (barracuda)"),
        ),
        ({"eventType": "Delivery", "delivery": {"recipients": ["a@b.io"]}}, ("email_delivered", None)),
        (
            {"eventType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "a@b.io"}]}},
            ("email_spam_report", None),
        ),
        (
            {
                "eventType": "Bounce",
                "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "a@b.io"}]},
            },
            ("email_deferred", None),
        ),
        ({"notificationType": "Delivery", "delivery": {"recipients": ["a@b.io"]}}, ("email_delivered", None)),
    ],
)
def test_ses_event_types(hooks, ses_event, expected):
    ses_event = {
        **ses_event,
        "mail": {"messageId": "m1", "destination": ["a@b.io"], "timestamp": "2026-11-23T16:00:00Z"},
    }
    status, _, (event,) = hooks.invoke(sns_event({**sample_message(), "Message": json.dumps(ses_event)}))
    assert status == 202
    assert (event.type, event.bot) == expected


# --- URL checks: GET/HEAD /webhooks/<provider> ---------------------------------------------------


def url_check(method: str, provider: str, query: str = "") -> tuple[int, dict[str, Any]]:
    from tests.support import http_api_event

    event = http_api_event(
        method, f"/webhooks/{provider}", None, path_parameters={"provider": provider}, raw_query=query
    )
    response = lambda_handler(event, lambda_context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else {}


def test_mailchimp_url_check_answers_200_with_the_key_only(hooks):
    assert url_check("GET", "mailchimp", "key=test-mailchimp-key") == (200, {"ok": True})
    assert url_check("GET", "mailchimp", "key=wrong")[0] == 401
    assert url_check("GET", "mailchimp")[0] == 401


def test_mandrill_head_check_answers_200_and_others_405(hooks):
    assert url_check("HEAD", "mandrill")[0] == 200
    assert url_check("GET", "typeform")[0] == 405
    assert url_check("GET", "nope")[0] == 404
