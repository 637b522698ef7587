"""Signature schemes of the webhook providers on official test vectors where published (HubSpot's
Python SDK for v3, RFC 2202/4231 for the HMAC primitives), plus secrets resolution, credential parsing and
the SNS canonical string."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import SignatureError
from leadscore.ingest.providers import hubspot, mandrill, ses
from leadscore.ingest.providers.common import required_secrets
from leadscore.ingest.request import from_http_api_event
from leadscore.ingest.secrets import resolve_secret, split_secret
from leadscore.ingest.signatures import (
    basic_credentials,
    check_timestamp,
    hmac_digest,
    matches_any,
    verify_hmac,
)

from tests.support import http_api_event

# HubSpot/hubspot-api-python tests/spec/utils/test_signature.py (v3), verbatim values.
HS_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HS_BODY = b"{'example_field':'example_value'}"
HS_URL = "https://www.example.com/webhook_uri"
HS_TIMESTAMP = "15000000"
HS_SIGNATURE = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


def test_hubspot_v3_official_sdk_vector():
    assert hubspot.sign("POST", HS_URL, HS_BODY, HS_TIMESTAMP, HS_SECRET) == HS_SIGNATURE
    message = hubspot.signed_message("POST", HS_URL, HS_BODY, HS_TIMESTAMP)
    assert verify_hmac(message, HS_SIGNATURE, [b"old-secret", HS_SECRET.encode()], encoding="base64")
    assert not verify_hmac(message + b" ", HS_SIGNATURE, [HS_SECRET.encode()], encoding="base64")


def hubspot_request(now: float, signature: str = HS_SIGNATURE):
    event = http_api_event(
        "POST",
        "/webhook_uri",
        HS_BODY,
        headers={
            "host": "www.example.com",
            "content-type": "application/json",
            "x-hubspot-signature-v3": signature,
            "x-hubspot-request-timestamp": HS_TIMESTAMP,
        },
    )
    request = from_http_api_event(event, max_body_bytes=1024)
    return replace(request, now=now)


def test_hubspot_provider_verifies_the_official_vector_at_its_time():
    config = IngestConfig(secret_overrides={"HUBSPOT_CLIENT_SECRET": (HS_SECRET,)})
    hubspot.PROVIDER.authenticate(hubspot_request(now=15000.0 + 60), config)
    with pytest.raises(SignatureError, match="stale"):
        hubspot.PROVIDER.authenticate(hubspot_request(now=15000.0 + 301), config)
    with pytest.raises(SignatureError, match="does not match"):
        hubspot.PROVIDER.authenticate(hubspot_request(now=15000.0, signature=HS_SIGNATURE[::-1]), config)


@pytest.mark.parametrize(
    ("url", "signed_as"),
    [
        ("https://h.io/webhooks/hubspot?a=b%3Ac%2Fd", "https://h.io/webhooks/hubspot?a=b:c/d"),
        ("https://h.io/x?e=%40%21%24%27%28%29%2a%2C%3b%3F", "https://h.io/x?e=@!$'()*,;?"),
        ("https://h.io/x?space=%20&amp=%26", "https://h.io/x?space=%20&amp=%26"),  # not in HubSpot's list
    ],
)
def test_hubspot_uri_decodes_only_the_documented_escapes(url, signed_as):
    assert hubspot.hubspot_uri(url) == signed_as


def test_hmac_sha1_base64_on_rfc2202_vector():
    # RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?")
    digest = bytes.fromhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    b64 = base64.b64encode(digest).decode()
    data = b"what do ya want for nothing?"
    assert hmac_digest(b"Jefe", data, algorithm="sha1", encoding="base64") == b64
    assert verify_hmac(data, b64, [b"Jefe"], algorithm="sha1", encoding="base64")
    assert not verify_hmac(data, b64, [b"Jefe"], algorithm="sha256", encoding="base64")


def test_hex_signatures_compare_case_insensitively():
    digest = hmac_digest(b"k", b"m")
    assert verify_hmac(b"m", digest.upper(), [b"k"])


def test_mandrill_signs_the_url_then_parameters_sorted_by_name():
    params = [("zeta", "1"), ("alpha", "2"), ("mandrill_events", "[]")]
    assert mandrill.signed_data("https://h.io/w", params) == b"https://h.io/walpha2mandrill_events[]zeta1"


def test_constant_time_credentials():
    assert matches_any("user:pass", ["other", "user:pass"])
    assert not matches_any("user:pas", ["user:pass"])
    assert not matches_any("", ["user:pass"])
    assert not matches_any("é", ["e"])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"postmark:pw").decode(), "postmark:pw"),
        ("basic " + base64.b64encode(b"a:b:c").decode(), "a:b:c"),
        ("Bearer abc", None),
        ("Basic", None),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"\xff\xfe").decode(), None),
        (None, None),
    ],
)
def test_basic_credentials(header, expected):
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    ("value", "now", "ok"),
    [
        ("1795451400000", 1795451400.0, True),
        ("1795451400000", 1795451700.0, True),
        ("1795451400000", 1795451700.5, False),
        ("1795451400000", 1795451099.0, False),
        ("1795451400", 1795451400.0, False),  # seconds, not milliseconds
        ("", 0.0, False),
        (None, 0.0, False),
        ("17954514e5", 0.0, False),
        ("9" * 30, 0.0, False),
    ],
)
def test_millisecond_timestamps(value, now, ok):
    if ok:
        check_timestamp(value, now=now, tolerance_seconds=300, header="ts", millis=True)
    else:
        with pytest.raises(SignatureError):
            check_timestamp(value, now=now, tolerance_seconds=300, header="ts", millis=True)


def test_split_secret_accepts_commas_and_newlines():
    assert split_secret(" new , old\n\nolder\r\n") == ("new", "old", "older")
    assert split_secret(" , \n") == ()


def test_plain_variable_wins_over_param_and_nothing_means_not_configured():
    assert resolve_secret("X_SECRET", {"X_SECRET": "a,b", "X_SECRET_PARAM": "/never/read"}) == ("a", "b")
    assert resolve_secret("X_SECRET", {"X_SECRET": "  ", "X_SECRET_PARAM": " "}) == ()
    assert resolve_secret("X_SECRET", {}) == ()


def test_required_secrets_refuses_when_unconfigured_unless_insecure():
    with pytest.raises(SignatureError) as info:
        required_secrets(IngestConfig(), "TYPEFORM_SECRET", "Typeform")
    assert info.value.details == [
        "set TYPEFORM_SECRET_PARAM (SSM or Secrets Manager) or, locally, TYPEFORM_SECRET"
    ]
    assert required_secrets(IngestConfig(allow_unsigned=True), "TYPEFORM_SECRET", "Typeform") is None
    configured = IngestConfig(allow_unsigned=True, environ={"TYPEFORM_SECRET": "s"})
    assert required_secrets(configured, "TYPEFORM_SECRET", "Typeform") == ("s",)


def test_sns_canonical_strings_follow_the_documented_key_order():
    notification = {
        "Type": "Notification",
        "MessageId": "id",
        "TopicArn": "arn",
        "Message": "m",
        "Timestamp": "t",
        "Subject": "s",
        "SignatureVersion": "1",
        "UnsubscribeURL": "u",
    }
    assert ses.string_to_sign(notification) == (
        b"Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
    )
    del notification["Subject"]  # absent Subject: left out entirely
    assert b"Subject" not in ses.string_to_sign(notification)
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "id",
        "Token": "tok",
        "TopicArn": "arn",
        "Message": "m",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?x",
        "Timestamp": "t",
    }
    assert ses.string_to_sign(confirmation) == (
        b"Message\nm\nMessageId\nid\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?x\n"
        b"Timestamp\nt\nToken\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-3.amazonaws.com/x.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
    ],
)
def test_sns_hosts_accepted(url):
    assert ses.check_aws_url(url, "SigningCertURL") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.io/x.pem",
        "https://sns-us-east-1.amazonaws.com/x.pem",
        "https://sqs.us-east-1.amazonaws.com/x.pem",
        "https://SNS.US-EAST-1.amazonaws.com@evil.io/x.pem",
        "https://[::1/x.pem",
        None,
        42,
    ],
)
def test_sns_hosts_refused(url):
    with pytest.raises(SignatureError):
        ses.check_aws_url(url, "SigningCertURL")
