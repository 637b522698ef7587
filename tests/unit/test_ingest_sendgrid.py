"""SendGrid Event Webhook: signature verification (the official SDKs' test vectors), freshness, key rotation,
configuration, and the mapping of every event type onto CanonicalEvent."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.errors import ConfigurationError
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, SignatureError, UnknownProviderError
from leadscore.ingest.providers import get_provider, provider_names
from leadscore.ingest.providers.sendgrid import PROVIDER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadscore.ingest.request import IngestRequest, from_http_api_event
from leadscore.ingest.signatures import (
    check_timestamp,
    load_ec_public_key,
    verify_ecdsa_sha256,
    verify_hmac_sha256,
)

from tests.support import EVENTS, http_api_event
from tools.signing import public_key_b64_from_private_pem, sign_sendgrid, signed_headers

# Test vectors published by SendGrid's own SDKs, verbatim.
# sendgrid/sendgrid-python test/unit/test_eventwebhook.py
PY_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfS"
    "mpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
PY_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
)
PY_TIMESTAMP = "1600112502"
PY_PAYLOAD = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"  # SendGrid's bodies end with CRLF, and the signature covers it
).encode()
# sendgrid/sendgrid-nodejs packages/eventwebhook/src/eventwebhook.spec.js (= sendgrid-go eventwebhook_test.go)
NODE_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqD"
    "qBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
)
NODE_SIGNATURE = (
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
)
NODE_TIMESTAMP = "1588788367"
NODE_PAYLOAD = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'
# Both SDKs' "invalid key" and "bad signature" vectors.
OTHER_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd"
    "4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
)
BAD_SIGNATURE = (
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
)


# --- the generic verifier, on the official vectors -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "payload", "signature", "timestamp"),
    [
        (PY_PUBLIC_KEY, PY_PAYLOAD, PY_SIGNATURE, PY_TIMESTAMP),
        (NODE_PUBLIC_KEY, NODE_PAYLOAD, NODE_SIGNATURE, NODE_TIMESTAMP),
    ],
    ids=["python-sdk", "node-go-sdk"],
)
def test_official_vectors_verify(key, payload, signature, timestamp):
    assert verify_ecdsa_sha256(timestamp.encode() + payload, signature, [key])


@pytest.mark.parametrize(
    ("key", "payload", "signature", "timestamp"),
    [
        (OTHER_PUBLIC_KEY, PY_PAYLOAD, PY_SIGNATURE, PY_TIMESTAMP),  # bad key
        (PY_PUBLIC_KEY, b"payload", PY_SIGNATURE, PY_TIMESTAMP),  # bad payload
        (
            PY_PUBLIC_KEY,
            PY_PAYLOAD.rstrip(),
            PY_SIGNATURE,
            PY_TIMESTAMP,
        ),  # CRLF stripped: not the signed bytes
        (PY_PUBLIC_KEY, PY_PAYLOAD, BAD_SIGNATURE, PY_TIMESTAMP),  # bad signature
        (PY_PUBLIC_KEY, PY_PAYLOAD, PY_SIGNATURE, "timestamp"),  # bad timestamp
        (NODE_PUBLIC_KEY, NODE_PAYLOAD, BAD_SIGNATURE, NODE_TIMESTAMP),
        (NODE_PUBLIC_KEY, NODE_PAYLOAD, NODE_SIGNATURE + "causing failure", NODE_TIMESTAMP),
        (NODE_PUBLIC_KEY, NODE_PAYLOAD, NODE_SIGNATURE, ""),
        (NODE_PUBLIC_KEY, NODE_PAYLOAD, "", NODE_TIMESTAMP),
        (NODE_PUBLIC_KEY, NODE_PAYLOAD, "%%%not base64%%%", NODE_TIMESTAMP),
    ],
    ids=[
        "bad-key",
        "bad-payload",
        "crlf-stripped",
        "bad-signature",
        "bad-timestamp",
        "node-bad-signature",
        "node-corrupt-signature",
        "node-empty-timestamp",
        "empty-signature",
        "not-base64",
    ],
)
def test_official_vectors_refuse_tampering(key, payload, signature, timestamp):
    assert not verify_ecdsa_sha256(timestamp.encode() + payload, signature, [key])


def test_rotation_any_configured_key_verifies():
    message = PY_TIMESTAMP.encode() + PY_PAYLOAD
    assert verify_ecdsa_sha256(message, PY_SIGNATURE, [OTHER_PUBLIC_KEY, PY_PUBLIC_KEY])
    assert verify_ecdsa_sha256(message, PY_SIGNATURE, [PY_PUBLIC_KEY, NODE_PUBLIC_KEY])
    assert not verify_ecdsa_sha256(message, PY_SIGNATURE, [OTHER_PUBLIC_KEY, NODE_PUBLIC_KEY])
    assert not verify_ecdsa_sha256(message, PY_SIGNATURE, [])


def test_pem_keys_are_accepted_too():
    body = "\n".join(PY_PUBLIC_KEY[i : i + 64] for i in range(0, len(PY_PUBLIC_KEY), 64))
    pem = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"
    assert verify_ecdsa_sha256(PY_TIMESTAMP.encode() + PY_PAYLOAD, PY_SIGNATURE, [pem])


@pytest.mark.parametrize("spec", ["not a key", "QUJD", PY_PUBLIC_KEY[:-20]])
def test_unreadable_configured_key_is_a_configuration_error(spec):
    with pytest.raises(ConfigurationError):
        load_ec_public_key(spec)


def test_the_committed_test_key_pair_matches_and_signs():
    private_pem = (EVENTS / "keys" / "sendgrid-test-private.pem").read_bytes()
    public = (EVENTS / "keys" / "sendgrid-test-public.b64").read_text().strip()
    assert public_key_b64_from_private_pem(private_pem) == public
    assert public in (EVENTS / "README.md").read_text()
    body = b'[{"email":"a@b.io","event":"open"}]\r\n'
    signature = sign_sendgrid(body, "1795451400", private_pem)
    assert verify_ecdsa_sha256(b"1795451400" + body, signature, [public])
    assert not verify_ecdsa_sha256(b"1795451401" + body, signature, [public])


def test_hmac_helper_for_later_providers():
    # RFC 4231, test case 2
    key, data = b"Jefe", b"what do ya want for nothing?"
    digest_hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    digest_b64 = base64.b64encode(bytes.fromhex(digest_hex)).decode()
    assert verify_hmac_sha256(data, digest_hex, [key])
    assert verify_hmac_sha256(data, digest_hex + "\n", [b"old", key])  # rotation, whitespace
    assert verify_hmac_sha256(data, digest_b64, [key], encoding="base64")
    assert not verify_hmac_sha256(data, digest_b64, [key])  # wrong encoding
    assert not verify_hmac_sha256(data + b"!", digest_hex, [key])
    assert not verify_hmac_sha256(data, digest_hex, [b"Jeff"])
    assert not verify_hmac_sha256(data, "é", [key])


@pytest.mark.parametrize(
    ("value", "now", "ok"),
    [
        ("1000", 1000.0, True),
        ("1000", 1300.0, True),
        ("1000", 1300.5, False),
        ("1000", 700.0, True),
        ("1000", 699.0, False),
        ("", 1000.0, False),
        (None, 1000.0, False),
        ("10e2", 1000.0, False),
        ("-1000", 1000.0, False),
        ("١٠٠٠", 1000.0, False),  # non-ASCII digits
        ("9" * 40, 1000.0, False),
    ],
)
def test_check_timestamp(value, now, ok):
    if ok:
        assert check_timestamp(value, now=now, tolerance_seconds=300, header="ts") == int(value)
    else:
        with pytest.raises(SignatureError):
            check_timestamp(value, now=now, tolerance_seconds=300, header="ts")


# --- the provider: authenticate ----------------------------------------------------------------


def sendgrid_request(body: bytes, headers: dict[str, str], now: float) -> IngestRequest:
    event = http_api_event(
        "POST", "/webhooks/sendgrid", body, headers=headers, base64_encode=True, time_epoch_ms=int(now * 1000)
    )
    request = from_http_api_event(event, max_body_bytes=256 * 1024)
    return IngestRequest(
        method=request.method,
        path=request.path,
        body=request.body,
        received_at=request.received_at,
        headers=request.headers,
        now=now,
    )


def py_vector_request(now: float = 1600112502 + 5, overrides: dict[str, str] | None = None) -> IngestRequest:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: PY_SIGNATURE,
        TIMESTAMP_HEADER: PY_TIMESTAMP,
        **(overrides or {}),
    }
    return sendgrid_request(PY_PAYLOAD, {k: v for k, v in headers.items() if v}, now)


def test_provider_accepts_the_official_vector_and_maps_it():
    config = IngestConfig(sendgrid_public_keys=(OTHER_PUBLIC_KEY, PY_PUBLIC_KEY))
    request = py_vector_request()
    PROVIDER.authenticate(request, config)
    result = PROVIDER.parse(request, config)
    (event,) = result.events
    assert event.event_id == "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"
    assert event.type == "email_dropped"
    assert event.name == "dropped"
    assert event.source == "sendgrid"
    assert event.identity.email == "hello@world.com"
    assert event.occurred_at == datetime.fromtimestamp(1600112492, tz=UTC)
    assert event.properties == {
        "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "reason": "Bounced Address",
    }


@pytest.mark.parametrize(
    ("now", "overrides", "fragment"),
    [
        (1600112502 + 301, {}, "stale"),
        (1600112502 - 301, {}, "stale"),
        (1600112502, {SIGNATURE_HEADER: ""}, "Signature header is missing"),
        (1600112502, {TIMESTAMP_HEADER: ""}, "Timestamp header is missing"),
        (1600112502, {SIGNATURE_HEADER: BAD_SIGNATURE}, "does not match"),
        (1600112503, {TIMESTAMP_HEADER: "1600112503"}, "does not match"),  # fresh, but not what was signed
    ],
)
def test_provider_refuses_with_401(now, overrides, fragment):
    config = IngestConfig(sendgrid_public_keys=(PY_PUBLIC_KEY,))
    with pytest.raises(SignatureError) as info:
        PROVIDER.authenticate(py_vector_request(now, overrides), config)
    assert info.value.status == 401
    assert fragment in info.value.message


def test_only_the_old_key_after_rotation_refuses():
    with pytest.raises(SignatureError):
        PROVIDER.authenticate(py_vector_request(), IngestConfig(sendgrid_public_keys=(OTHER_PUBLIC_KEY,)))


def test_no_key_configured_is_401_unless_insecure_mode():
    request = py_vector_request(now=2_000_000_000)  # stale, unsigned: irrelevant without a key
    with pytest.raises(SignatureError) as info:
        PROVIDER.authenticate(request, IngestConfig())
    assert "not configured" in info.value.message
    assert info.value.details == [
        "set SENDGRID_WEBHOOK_PUBLIC_KEYS to the Signed Event Webhook verification key"
    ]
    PROVIDER.authenticate(request, IngestConfig(allow_unsigned=True))  # no exception


def test_insecure_mode_does_not_weaken_a_configured_key():
    config = IngestConfig(sendgrid_public_keys=(PY_PUBLIC_KEY,), allow_unsigned=True)
    with pytest.raises(SignatureError):
        PROVIDER.authenticate(py_vector_request(overrides={SIGNATURE_HEADER: ""}), config)


def test_config_from_env_reads_keys_and_insecure_flag():
    config = IngestConfig.from_env(
        {
            "SENDGRID_WEBHOOK_PUBLIC_KEYS": f" {OTHER_PUBLIC_KEY} , {PY_PUBLIC_KEY},",
            "LEADSCORE_INSECURE_ALLOW_UNSIGNED": "1",
        }
    )
    assert config.sendgrid_public_keys == (OTHER_PUBLIC_KEY, PY_PUBLIC_KEY)
    assert config.allow_unsigned is True
    assert IngestConfig.from_env({"LEADSCORE_INSECURE_ALLOW_UNSIGNED": "0"}).allow_unsigned is False
    assert IngestConfig.from_env({}).sendgrid_public_keys == ()


def test_signed_headers_round_trip_through_authenticate():
    private_pem = (EVENTS / "keys" / "sendgrid-test-private.pem").read_bytes()
    public = public_key_b64_from_private_pem(private_pem)
    body = b'[{"email":"a@b.io","event":"delivered","sg_event_id":"x"}]\r\n'
    headers = signed_headers(body, private_pem, timestamp="1795451400")
    request = sendgrid_request(body, headers, now=1795451400 + 10)
    PROVIDER.authenticate(request, IngestConfig(sendgrid_public_keys=(public,)))


# --- the provider: mapping ----------------------------------------------------------------------


def parse(items: Any) -> dict[str, Any]:
    body = json.dumps(items).encode()
    result = PROVIDER.parse(
        sendgrid_request(body, {"content-type": "application/json"}, 1795451400), IngestConfig()
    )
    return {"result": result, "by_id": {e.event_id: e for e in result.events}}


BASE = {"email": "Dana.Reyes@northwindlabs.io", "timestamp": 1795449600, "sg_message_id": "msg-1"}


@pytest.mark.parametrize(
    ("sendgrid_event", "canonical"),
    [
        ("delivered", "email_delivered"),
        ("open", "email_open"),
        ("click", "email_click"),
        ("bounce", "email_bounce"),
        ("dropped", "email_dropped"),
        ("deferred", "email_deferred"),
        ("unsubscribe", "email_unsubscribe"),
        ("group_unsubscribe", "email_unsubscribe"),
        ("spamreport", "email_spam_report"),
    ],
)
def test_each_sendgrid_event_type_maps(sendgrid_event, canonical):
    (event,) = parse([{**BASE, "event": sendgrid_event, "sg_event_id": "id-1"}])["result"].events
    assert event.type == canonical
    assert event.name == sendgrid_event
    assert event.identity.email == "dana.reyes@northwindlabs.io"
    assert event.occurred_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_click_carries_url_and_path_and_nothing_personal():
    (event,) = parse(
        [
            {
                **BASE,
                "event": "click",
                "sg_event_id": "c1",
                "url": "https://www.leadscore.example/pricing?utm_source=sendgrid&utm_campaign=q4",
                "url_offset": {"index": 0, "type": "html"},
                "ip": "198.51.100.23",
                "useragent": "Mozilla/5.0 (Macintosh) Chrome/131.0",
                "category": ["newsletter", "q4"],
                "lead_source": "webinar",  # a custom (unique) argument
            }
        ]
    )["result"].events
    assert event.properties == {
        "sg_message_id": "msg-1",
        "category": "newsletter,q4",
        "url": "https://www.leadscore.example/pricing?utm_source=sendgrid&utm_campaign=q4",
        "path": "/pricing",
        "utm_source": "sendgrid",
        "utm_campaign": "q4",
        "lead_source": "webinar",
    }
    assert event.bot is None


def test_machine_opens_and_scanner_clicks_are_marked_bot():
    parsed = parse(
        [
            {
                **BASE,
                "event": "open",
                "sg_event_id": "o1",
                "sg_machine_open": True,
                "useragent": "Mozilla/5.0",
            },
            {**BASE, "event": "open", "sg_event_id": "o2", "sg_machine_open": False},
            {
                **BASE,
                "event": "click",
                "sg_event_id": "c1",
                "url": "https://x.io/a",
                "useragent": "Mimecast/1.0",
            },
        ]
    )["by_id"]
    assert parsed["o1"].bot == "machine open"
    assert parsed["o2"].bot is None
    assert parsed["c1"].bot == "email security scanner user agent (mimecast/1.0)"


def test_bounce_properties():
    (event,) = parse(
        [
            {
                **BASE,
                "event": "bounce",
                "sg_event_id": "b1",
                "type": "blocked",
                "bounce_classification": "Reputation",
                "status": "5.7.1",
                "reason": "550 5.7.1 mailbox dana.reyes@northwindlabs.io refused",
            }
        ]
    )["result"].events
    assert event.properties == {
        "sg_message_id": "msg-1",
        "bounce_type": "blocked",
        "bounce_classification": "Reputation",
        "status": "5.7.1",
    }


def test_batch_accepts_valid_items_and_lists_the_rest():
    result = parse(
        [
            {**BASE, "event": "processed", "sg_event_id": "p1"},
            {**BASE, "event": "delivered", "sg_event_id": "d1"},
            {**BASE, "event": "delivered", "sg_event_id": "d1"},  # redelivered in the same batch
            {**BASE, "event": "open"},  # no sg_event_id: a content hash
            {"event": "open", "sg_event_id": "x1"},
            {**BASE, "email": "not-an-email", "event": "open", "sg_event_id": "x2"},
            {**BASE, "sg_event_id": "x3"},
            "junk",
            {**BASE, "event": "group_resubscribe", "sg_event_id": "g1"},
            {**BASE, "event": "account_status_change", "sg_event_id": "a1"},
        ]
    )["result"]
    assert [e.event_id[:11] for e in result.events] == ["d1", "sendgrid:h:", "g1"]
    assert result.events[2].type == "email_resubscribe"  # a group's resubscribe is consent state
    assert result.duplicates_in_request == 1
    response = result.to_response()
    assert response["rejected"] == [
        {"index": 4, "error": "email: missing or not a string"},
        {"index": 5, "error": "email: not a valid email address"},
        {"index": 6, "error": "event: missing or not a string"},
        {"index": 7, "error": "must be an event object"},
    ]
    assert [i["index"] for i in response["ignored"]] == [0, 9]
    assert response["ignored"][1]["reason"] == "unknown SendGrid event type 'account_status_change'"


@pytest.mark.parametrize("body", [b'{"event": "open"}', b'"x"'])
def test_body_must_be_an_array(body):
    with pytest.raises(MalformedBodyError):
        PROVIDER.parse(sendgrid_request(body, {}, 1795451400), IngestConfig())


# --- the registry --------------------------------------------------------------------------------


def test_registry_finds_sendgrid_case_insensitively_and_404s_the_rest():
    assert "sendgrid" in provider_names()
    assert "common" not in provider_names()
    assert get_provider("SendGrid") is PROVIDER
    for name in ("marketo", "common", "", "../sendgrid", "sendgrid/x", "a" * 100):
        with pytest.raises(UnknownProviderError) as info:
            get_provider(name)
        assert info.value.status == 404
