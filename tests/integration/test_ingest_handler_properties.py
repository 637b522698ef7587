"""Property tests: nothing a caller can send makes the ingest handler answer 5xx, and a 202 always means
exactly ``accepted`` events were queued.

The handler runs in-process under moto with a real (mocked) queue. Hypothesis shares the function-scoped
fixture across examples on purpose: the queue is drained after every example.
"""

from __future__ import annotations

import base64
import json
import os
import string
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_outcome
from hypothesis import strategies as st
from leadscore.ingest.providers import mailgun, provider_names, ses
from leadscore.ingest.providers.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadscore.models.event import CanonicalEvent
from leadscore.settings import get_settings

from functions.ingest.app import lambda_handler
from tests.support import EVENTS, http_api_event, lambda_context, take_queued_events
from tests.support.http_events import body_of
from tests.support.moto_queue import events_queue

CALLER_STATUSES = {200, 202, 400, 401, 404, 405, 413, 415, 422}
PROVIDER_SECRET_ENV = (
    "TYPEFORM_SECRET",
    "HUBSPOT_CLIENT_SECRET",
    "TALLY_SIGNING_SECRET",
    "WEBFLOW_SECRET",
    "MAILGUN_SIGNING_KEY",
    "POSTMARK_BASIC_AUTH",
    "MAILCHIMP_WEBHOOK_KEY",
    "MANDRILL_WEBHOOK_KEY",
    "BREVO_WEBHOOK_TOKEN",
    "SES_SNS_TOPIC_ARNS",
)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A key that verifies nothing hypothesis can produce (SendGrid SDK test key).
SOME_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfS"
    "mpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)


@pytest.fixture
def handler(monkeypatch):
    for key in list(os.environ):
        if (
            key.startswith(("AWS_ENDPOINT_URL", "LEADSCORE_", "SENDGRID_"))
            or key in ("AWS_PROFILE", "MAX_BODY_BYTES", *PROVIDER_SECRET_ENV)
            or key.endswith("_PARAM")
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv(
        "LEADSCORE_INSECURE_ALLOW_UNSIGNED", "1"
    )  # let unsigned SendGrid bodies reach the parser
    # No network: an SNS certificate or SubscribeURL "fetch" fails as a 404 would.
    ses.set_certificate_fetcher(_no_network)
    ses.set_subscribe_fetcher(_no_network)
    monkeypatch.setattr(mailgun, "SEEN_TOKENS", mailgun._SeenTokens(100))
    with events_queue(monkeypatch) as (sqs, url):
        yield Invoker(sqs, url)
    ses.set_certificate_fetcher(None)
    ses.set_subscribe_fetcher(None)


def _no_network(url: str) -> bytes:
    raise LookupError("no network in property tests")


@dataclass
class Invoker:
    sqs: Any
    url: str

    def drain(self) -> list[CanonicalEvent]:
        return take_queued_events(self.sqs, self.url)

    def check(self, event: dict[str, Any]) -> dict[str, Any]:
        response = lambda_handler(event, lambda_context())
        status = response["statusCode"]
        assert status in CALLER_STATUSES, (status, response["body"])
        body: dict[str, Any] = json.loads(response["body"])
        queued = self.drain()
        note_outcome(
            f"{status} {body.get('error', '')}".strip()
            if status != 202
            else f"202 accepted>0: {bool(queued)}"
        )
        if status == 202:
            assert body["accepted"] == len(queued)
            assert body["accepted"] + body["duplicates_in_request"] + len(body["rejected"]) + len(
                body["ignored"]
            ) >= len(queued)
        else:
            assert queued == []
            assert set(body) == {"error", "message", "details"}
        return body


PROVIDERS = provider_names()
ROUTES = st.sampled_from(["/forms", "/track", *(f"/webhooks/{name}" for name in PROVIDERS)])
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-16",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=no-such-charset",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            'multipart/form-data; boundary="a b"; charset=rot13',
            "application/xml",
            "application/vnd.segment+json",
        ]
    ),
    st.text(max_size=40),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


def event_for(route: str, body: str | bytes | None, content_type: str | None, *, b64: bool, **headers: str):
    all_headers = {**headers}
    if content_type is not None:
        all_headers["content-type"] = content_type
    params = {"provider": route.rsplit("/", 1)[-1]} if route.startswith("/webhooks/") else None
    return http_api_event("POST", route, body, headers=all_headers, base64_encode=b64, path_parameters=params)


@SETTINGS
@given(route=ROUTES, body=st.binary(max_size=2000), content_type=CONTENT_TYPES)
def test_random_bytes_never_5xx(handler, route, body, content_type):
    handler.check(event_for(route, body, content_type, b64=True))


@SETTINGS
@given(route=ROUTES, body=st.text(max_size=2000), content_type=CONTENT_TYPES)
def test_random_text_never_5xx(handler, route, body, content_type):
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot arrive in a real HTTP body: send them as base64
        handler.check(event_for(route, body.encode("utf-8", "surrogatepass"), content_type, b64=True))
        return
    handler.check(event_for(route, body, content_type, b64=False))


@SETTINGS
@given(
    route=ROUTES, document=json_values, content_type=st.sampled_from([None, "application/json", "text/plain"])
)
def test_random_json_never_5xx(handler, route, document, content_type):
    handler.check(event_for(route, json.dumps(document), content_type, b64=False))


# Documents shaped like the real thing, so the parsers' deeper paths run.
_emails = st.one_of(
    st.emails(),
    st.sampled_from(["dana.reyes@northwindlabs.io", "not-an-email", "", " A@B.IO ", "x" * 300 + "@a.io"]),
    json_values,
)
_times = st.one_of(
    st.sampled_from(["2026-11-23T14:00:00Z", "2999-01-01T00:00:00Z", "0000", "yesterday", "1795449600"]),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    json_values,
)
_scalars = json_values
segment_message = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(
            st.sampled_from(["page", "track", "identify", "screen", "group", "alias", "Page"]), _scalars
        ),
        "event": _scalars,
        "name": _scalars,
        "messageId": _scalars,
        "anonymousId": _scalars,
        "userId": st.one_of(_emails, _scalars),
        "timestamp": _times,
        "properties": st.one_of(
            st.dictionaries(st.sampled_from(["path", "url", "title", "email", "referrer", "x"]), _scalars),
            _scalars,
        ),
        "traits": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "email": _emails,
                    "name": _scalars,
                    "title": _scalars,
                    "employees": _scalars,
                    "company": st.one_of(
                        st.fixed_dictionaries({}, optional={"name": _scalars, "employee_count": _scalars}),
                        _scalars,
                    ),
                    "address": _scalars,
                },
            ),
            _scalars,
        ),
        "context": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "userAgent": _scalars,
                    "traits": st.fixed_dictionaries({}, optional={"email": _emails}),
                    "page": st.dictionaries(st.sampled_from(["path", "url", "referrer"]), _scalars),
                    "campaign": st.dictionaries(st.sampled_from(["name", "source", "medium"]), _scalars),
                },
            ),
            _scalars,
        ),
    },
)
_sendgrid_optional = st.fixed_dictionaries(
    {},
    optional={
        "event": st.one_of(
            st.sampled_from(
                [
                    "processed",
                    "delivered",
                    "open",
                    "click",
                    "bounce",
                    "dropped",
                    "deferred",
                    "unsubscribe",
                    "group_unsubscribe",
                    "spamreport",
                    "group_resubscribe",
                    "weird",
                ]
            ),
            _scalars,
        ),
        "email": _emails,
        "timestamp": _times,
        "sg_event_id": _scalars,
        "sg_machine_open": _scalars,
        "url": st.one_of(
            st.sampled_from(["https://x.io/pricing?utm_source=a", "http://[::1", "/rel"]), _scalars
        ),
        "useragent": _scalars,
        "category": _scalars,
        "type": _scalars,
        "custom": _scalars,
    },
)
_sendgrid_types = st.sampled_from(
    ["processed", "delivered", "open", "click", "bounce", "dropped", "deferred", "unsubscribe", "spamreport"]
)
# Half fuzz, half plausible (a known event and a real-looking email), so the mapping runs to the end.
sendgrid_event = st.one_of(
    _sendgrid_optional,
    st.builds(
        lambda base, kind, email: {**base, "event": kind, "email": email},
        _sendgrid_optional,
        _sendgrid_types,
        st.emails(),
    ),
)
form_fields = st.dictionaries(
    st.one_of(
        st.sampled_from(
            [
                "email",
                "E-mail",
                "Company size",
                "employees",
                "name",
                "Job Title",
                "form_id",
                "submission_id",
                "submitted_at",
                "page_url",
                "anonymous_id",
                "website_url",
                "_hp",
                "_gotcha",
                "bot-field",
                "_redirect",
                "revenue",
                "utm_source",
                "fields",
            ]
        ),
        st.text(max_size=12),
    ),
    st.one_of(_emails, _times, _scalars),
    max_size=10,
)


@SETTINGS
@given(batch=st.one_of(segment_message, st.lists(segment_message, max_size=8)), wrap=st.booleans())
def test_segment_shaped_documents_never_5xx(handler, batch, wrap):
    document = (
        {"batch": batch, "context": {"userAgent": "curl/8"}} if wrap and isinstance(batch, list) else batch
    )
    handler.check(event_for("/track", json.dumps(document), "application/json", b64=False))


@SETTINGS
@given(items=st.lists(sendgrid_event, max_size=8))
def test_sendgrid_shaped_documents_never_5xx(handler, items):
    handler.check(event_for("/webhooks/sendgrid", json.dumps(items) + "\r\n", "application/json", b64=False))


@SETTINGS
@given(
    fields=st.one_of(form_fields, st.builds(lambda f, e: {**f, "email": e}, form_fields, st.emails())),
    encoding=st.sampled_from(["json", "urlencoded", "multipart"]),
)
def test_form_shaped_documents_never_5xx(handler, fields, encoding):
    if encoding == "json":
        handler.check(event_for("/forms", json.dumps(fields), "application/json", b64=False))
        return
    pairs = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()]
    if encoding == "urlencoded":
        from urllib.parse import urlencode

        handler.check(event_for("/forms", urlencode(pairs), "application/x-www-form-urlencoded", b64=False))
        return
    boundary = "hypothesisBoundary"
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k.replace(chr(34), "")}"\r\n\r\n{v}\r\n'
            for k, v in pairs
        )
        + f"--{boundary}--\r\n"
    )
    handler.check(
        event_for(
            "/forms",
            body.encode("utf-8", "surrogatepass"),
            f"multipart/form-data; boundary={boundary}",
            b64=True,
        )
    )


@SETTINGS
@given(
    signature=st.one_of(
        st.none(), st.text(max_size=120), st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode())
    ),
    timestamp=st.one_of(
        st.none(), st.text(alphabet=string.digits + " -x", max_size=14), st.text(max_size=14)
    ),
    body=st.binary(max_size=300),
)
def test_signed_route_with_a_key_answers_401_to_forgeries(handler, monkeypatch, signature, timestamp, body):
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEYS", SOME_KEY)
    headers: dict[str, str] = {}
    if signature is not None:
        headers[SIGNATURE_HEADER.lower()] = signature
    if timestamp is not None:
        headers[TIMESTAMP_HEADER.lower()] = timestamp
    event = event_for("/webhooks/sendgrid", body, "application/json", b64=True, **headers)
    body_json = handler.check(event)
    assert body_json["error"] == "unauthorized"


@SETTINGS
@given(
    route=st.one_of(
        st.sampled_from(
            ["forms", "track", "webhooks/sendgrid", "webhooks/SendGrid", "webhooks/x", "webhooks/", "forms/"]
        ),
        st.text(max_size=30),
        st.text(max_size=30).map(lambda t: "webhooks/" + t),
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"]),
)
def test_any_path_and_method_never_5xx(handler, route, method):
    event = http_api_event(method, "/" + route, "{}", headers={"content-type": "application/json"})
    handler.check(event)


@SETTINGS
@given(size=st.integers(min_value=0, max_value=3000), b64=st.booleans())
def test_the_size_limit_is_exact(handler, monkeypatch, size, b64):
    monkeypatch.setenv("MAX_BODY_BYTES", "1024")
    get_settings.cache_clear()
    body = handler.check(event_for("/track", b"x" * size, "application/json", b64=b64))
    assert (body.get("error") == "payload_too_large") == (size > 1024)


# --- every provider route: shaped documents (insecure mode, so the parsers run) and forgeries -------


def _sample_body(provider: str) -> bytes:
    (path,) = sorted(EVENTS.glob(f"provider-{provider}-01-*.json"))
    return body_of(json.loads(path.read_text()))


def _mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy`` nine times in ten, any JSON value the tenth."""
    return st.integers(0, 9).flatmap(lambda n: strategy if n else json_values)


def _drop_one(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    if not document:
        return st.just(document)
    return st.sampled_from([None, *document]).map(
        lambda gone: {k: v for k, v in document.items() if k != gone}
    )


def mutated(value: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Documents shaped like ``value``: most leaves kept, some replaced, a key dropped, lists resized."""
    if depth > 5:
        return st.just(value)
    if isinstance(value, dict):
        whole = st.fixed_dictionaries({k: mutated(v, depth + 1) for k, v in value.items()})
        return _mostly(st.integers(0, 4).flatmap(lambda n: whole if n else whole.flatmap(_drop_one)))
    if isinstance(value, list):
        if not value:
            return _mostly(st.lists(json_values, max_size=2))
        items = st.one_of(*(mutated(v, depth + 1) for v in value[:3]))
        return _mostly(st.lists(items, min_size=1, max_size=4))
    return _mostly(st.just(value))


_JSON_PROVIDERS = ("brevo", "hubspot", "mailgun", "postmark", "tally", "typeform", "webflow")


@SETTINGS
@given(data=st.data(), provider=st.sampled_from(_JSON_PROVIDERS))
def test_provider_shaped_json_never_5xx(handler, data, provider):
    document = data.draw(mutated(json.loads(_sample_body(provider))))
    handler.check(event_for(f"/webhooks/{provider}", json.dumps(document), "application/json", b64=False))


@SETTINGS
@given(data=st.data())
def test_ses_shaped_messages_never_5xx(handler, data):
    envelope = json.loads(_sample_body("ses"))
    inner = data.draw(mutated(json.loads(envelope["Message"])))
    message = data.draw(mutated({**envelope, "Message": json.dumps(inner)}))
    kind = data.draw(
        st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation", "x"])
    )
    if isinstance(message, dict):
        message["Type"] = kind
        message.setdefault("SubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription")
    handler.check(event_for("/webhooks/ses", json.dumps(message), "text/plain; charset=UTF-8", b64=False))


@SETTINGS
@given(data=st.data())
def test_mandrill_and_mailchimp_shaped_forms_never_5xx(handler, data):
    from urllib.parse import parse_qsl, urlencode

    events = json.loads(dict(parse_qsl(_sample_body("mandrill").decode()))["mandrill_events"])
    mandrill_body = urlencode({"mandrill_events": json.dumps(data.draw(mutated(events)))})
    handler.check(
        event_for("/webhooks/mandrill", mandrill_body, "application/x-www-form-urlencoded", b64=False)
    )
    pairs = parse_qsl(_sample_body("mailchimp").decode())
    kept = data.draw(st.lists(st.sampled_from(pairs), max_size=len(pairs), unique=True))
    kept += data.draw(
        st.lists(
            st.tuples(st.sampled_from(["type", "data[email]", "fired_at"]), st.text(max_size=20)), max_size=3
        )
    )
    handler.check(
        event_for("/webhooks/mailchimp", urlencode(kept), "application/x-www-form-urlencoded", b64=False)
    )


_FORGED_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "typeform-signature",
            "tally-signature",
            "x-webflow-signature",
            "x-webflow-timestamp",
            "x-hubspot-signature-v3",
            "x-hubspot-request-timestamp",
            "x-mandrill-signature",
            "authorization",
        ]
    ),
    st.one_of(
        st.text(max_size=60),
        st.binary(max_size=40).map(lambda b: "sha256=" + base64.b64encode(b).decode()),
        st.binary(max_size=20).map(lambda b: "Basic " + base64.b64encode(b).decode()),
        st.sampled_from(["Bearer ", "Bearer x", "1795451400000", "Basic !!", "sha256="]),
    ),
    max_size=4,
)


@SETTINGS
@given(
    provider=st.sampled_from([p for p in PROVIDERS if p != "sendgrid"]),
    headers=_FORGED_HEADERS,
    body=st.one_of(st.binary(max_size=300), st.sampled_from([b"{}", b"[]", b"mandrill_events=%5B%5D"])),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]),
)
def test_provider_routes_with_secrets_refuse_forgeries(
    handler, monkeypatch, provider, headers, body, content_type
):
    monkeypatch.delenv("LEADSCORE_INSECURE_ALLOW_UNSIGNED", raising=False)
    for name in PROVIDER_SECRET_ENV:
        monkeypatch.setenv(
            name, "arn:aws:sns:us-east-1:123456789012:t" if name == "SES_SNS_TOPIC_ARNS" else "s3cret"
        )
    response = handler.check(event_for(f"/webhooks/{provider}", body, content_type, b64=True, **headers))
    # Nothing forged gets in. Mailgun and SNS carry their signature in the body: a body that cannot be
    # read is 400/415 before any signature exists to check.
    assert response.get("error") in ("unauthorized", "malformed_body", "unsupported_media_type")
