"""HTTP details every client library relies on, through IngestFunction and the Lead API on the local stack:

- a 401 on a route that takes HTTP Basic credentials carries ``WWW-Authenticate: Basic`` (RFC 9110
  section 11.6.1, RFC 7617); Brevo's route also offers ``Bearer``; signature routes carry none;
- a 405 carries ``Allow`` with what the resource does allow (RFC 9110 section 15.5.6);
- a boolean or an object where a string or a number belongs is a 422 naming the field;
- ``1e400`` (valid JSON that Python reads as infinity) is a 422 naming the field.

Methods API Gateway does not route reach the function only through the Function URL front door
(``IngestFunctionUrl``), so those requests are Function URL events (route key ``$default``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import TEMPLATE, Stack
from tools.localstack import http_event

JSON_CT = {"content-type": "application/json"}
POSTMARK = json.dumps(
    {
        "RecordType": "Open",
        "MessageID": "m-1",
        "Recipient": "ana@acme-fintech.com",
        "ReceivedAt": "2026-11-23T10:00:00Z",
    }
)


def basic(credentials: str) -> dict[str, str]:
    return {**JSON_CT, "authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def secured(aws: None) -> Stack:
    return Stack.create(
        TEMPLATE,
        env_overrides={
            "IngestFunction": {"POSTMARK_BASIC_AUTH": "hooks:s3cret", "BREVO_WEBHOOK_TOKEN": "tok"}
        },
    )


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (response.get("headers") or {}).items()}


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [(None, "missing"), ("hooks:wrong", "wrong"), ("hooks", "wrong")],
)
def test_a_basic_auth_401_carries_www_authenticate_basic(
    secured: Stack, credentials: str | None, reason: str
) -> None:
    headers = basic(credentials) if credentials else JSON_CT
    response = secured.call_http("POST", "/webhooks/postmark", POSTMARK, headers)
    assert response["statusCode"] == 401, response
    assert headers_of(response)["www-authenticate"] == 'Basic realm="leadscore webhooks", charset="UTF-8"'
    assert reason in json.loads(response["body"])["message"]


def test_the_right_basic_credentials_pass_without_a_challenge(secured: Stack) -> None:
    response = secured.call_http("POST", "/webhooks/postmark", POSTMARK, basic("hooks:s3cret"))
    assert response["statusCode"] == 202, response
    assert "www-authenticate" not in headers_of(response)


def test_a_basic_route_without_a_configured_secret_still_names_the_scheme(stack: Stack) -> None:
    response = stack.call_http("POST", "/webhooks/postmark", POSTMARK, JSON_CT)
    assert response["statusCode"] == 401
    assert headers_of(response)["www-authenticate"].startswith("Basic ")


def test_brevo_offers_bearer_and_basic(secured: Stack) -> None:
    response = secured.call_http("POST", "/webhooks/brevo", "{}", JSON_CT)
    assert response["statusCode"] == 401
    challenge = headers_of(response)["www-authenticate"]
    assert challenge.startswith('Bearer realm="leadscore webhooks"') and ", Basic realm=" in challenge


def test_a_signature_401_names_no_http_scheme(stack: Stack) -> None:
    response = stack.call_http("POST", "/webhooks/sendgrid", "[]", JSON_CT)
    assert response["statusCode"] == 401
    assert "www-authenticate" not in headers_of(response)


@pytest.mark.parametrize(
    ("method", "path", "provider", "allow"),
    [
        ("GET", "/forms", None, "POST"),
        ("PUT", "/forms", None, "POST"),
        ("DELETE", "/track", None, "POST"),
        ("PATCH", "/track", None, "POST"),
        ("GET", "/webhooks/sendgrid", "sendgrid", "POST"),
        ("PUT", "/webhooks/sendgrid", "sendgrid", "POST"),
        ("PUT", "/webhooks/mailchimp", "mailchimp", "GET, HEAD, POST"),
        ("DELETE", "/webhooks/mandrill", "mandrill", "GET, HEAD, POST"),
    ],
)
def test_a_405_carries_allow(stack: Stack, method: str, path: str, provider: str | None, allow: str) -> None:
    event = http_event(
        "$default", method, path, None, {}, path_parameters={"provider": provider} if provider else None
    )
    response = stack.invoke("IngestFunction", event)
    assert response["statusCode"] == 405, response
    assert headers_of(response)["allow"] == allow
    assert json.loads(response["body"])["error"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "body", "field", "got"),
    [
        ("/forms", {"email": True}, "email", "a boolean"),
        ("/forms", {"email": {"address": "ana@acme-fintech.com"}}, "email", "an object"),
        ("/forms", {"email": "ana@acme-fintech.com", "company_size": True}, "company_size", "a boolean"),
        ("/forms", {"email": "ana@acme-fintech.com", "Company size": {"n": 5}}, "Company size", "an object"),
        ("/forms", {"email": "ana@acme-fintech.com", "job_title": False}, "job_title", "a boolean"),
        ("/forms", {"email": "ana@acme-fintech.com", "fields": {"company": True}}, "company", "a boolean"),
        ("/track", {"type": "page", "anonymousId": True}, "anonymousId", "a boolean"),
        ("/track", {"type": "page", "anonymousId": "v1", "timestamp": {"t": 1}}, "timestamp", "an object"),
        ("/track", {"type": "track", "event": True, "anonymousId": "v1"}, "event", "a boolean"),
        (
            "/track",
            {"type": "identify", "anonymousId": "v1", "traits": {"email": True}},
            "traits.email",
            "a boolean",
        ),
    ],
)
def test_a_boolean_or_object_where_text_belongs_is_a_422_naming_the_field(
    stack: Stack, path: str, body: dict[str, Any], field: str, got: str
) -> None:
    response = stack.call_http("POST", path, json.dumps(body), JSON_CT)
    assert response["statusCode"] == 422, response
    answer = json.loads(response["body"])
    assert f"{field}: expected a string or a number, got {got}" in answer["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "identify", "anonymousId": "v1", "traits": True}, "traits"),
        ({"type": "page", "anonymousId": "v1", "context": "web"}, "context"),
    ],
)
def test_a_scalar_where_an_object_belongs_is_a_422_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    response = stack.call_http("POST", "/track", json.dumps(body), JSON_CT)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["details"][0].startswith(f"{field}: expected an object")


def test_in_a_batch_the_wrong_type_rejects_only_its_message(stack: Stack) -> None:
    batch = {"batch": [{"type": "page", "anonymousId": "ok"}, {"type": "page", "anonymousId": ["x"]}]}
    response = stack.call_http("POST", "/track", json.dumps(batch), JSON_CT)
    assert response["statusCode"] == 202
    answer = json.loads(response["body"])
    assert answer["accepted"] == 1
    assert answer["rejected"] == [
        {"index": 1, "error": "anonymousId: expected a string or a number, got an array"}
    ]


def test_booleans_in_fields_nobody_maps_and_lists_in_multi_selects_are_kept(stack: Stack) -> None:
    body = {"email": "ana@acme-fintech.com", "newsletter": True, "industry": ["Fintech", "Software"]}
    response = stack.call_http("POST", "/forms", json.dumps(body), JSON_CT)
    assert response["statusCode"] == 202, response


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/forms", '{"email": "ana@acme-fintech.com", "revenue": 1e400}', "revenue"),
        (
            "POST",
            "/track",
            '{"type": "track", "event": "x", "anonymousId": "v", "properties": {"n": -1E999}}',
            "properties.n",
        ),
        (
            "POST",
            "/webhooks/sendgrid",
            '[{"email": "a@b.io", "event": "open", "timestamp": 1e400}]',
            "[0].timestamp",
        ),
    ],
)
def test_1e400_is_a_422_naming_the_field(stack: Stack, method: str, path: str, body: str, field: str) -> None:
    response = stack.call_http(method, path, body, JSON_CT)
    if path.startswith("/webhooks/"):
        assert response["statusCode"] == 401  # the signature is checked first, on the raw bytes
        unsigned = {"IngestFunction": {"LEADSCORE_INSECURE_ALLOW_UNSIGNED": "1"}}
        stack = Stack.create(TEMPLATE, name="unsigned", env_overrides=unsigned)
        response = stack.call_http(method, path, body, JSON_CT)
    assert response["statusCode"] == 422, response
    answer = json.loads(response["body"])
    assert field in answer["message"]
    assert answer["details"][0].startswith(f"{field}: number ") and "out of range" in answer["details"][0]


def test_1e400_in_the_lead_api_is_a_422_naming_the_field(stack: Stack) -> None:
    signed = {
        **JSON_CT,
        "authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request",
    }
    response = stack.call_http(
        "POST", "/leads/ana@acme-fintech.com/outcome", '{"status": "won", "amount": 1e400}', signed
    )
    assert response["statusCode"] == 422, response
    assert json.loads(response["body"])["details"] == [
        "amount: number 1e400 is out of range (not a finite number)"
    ]
