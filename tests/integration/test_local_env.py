"""The local stack (``make serve``) honours every local variable docs/connect.md documents: the plain
secrets, the variables the template also declares through parameters (``SES_SNS_TOPIC_ARNS``,
``HUBSPOT_WEBHOOK_BASE_URL``, ``MANDRILL_WEBHOOK_URL``: their empty defaults once overrode them),
``ALLOWED_ORIGINS`` (CORS) and ``SNS_SIGNING_CERT_FILE`` (an SNS certificate trusted from a file, no
network). One LocalStack, started the way ``make serve`` starts it, with all of them set."""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from leadscore.dal.clients import reset_clients
from leadscore.ingest.providers import ses

from tests.support import EVENTS, ROOT, load_event
from tools.local.console import Console
from tools.local.replay import http_get, replay_request
from tools.local.stack import LocalStack
from tools.localstack import local_env
from tools.signing import sign_sns_message

CONNECT = ROOT / "docs" / "connect.md"
TOPIC = "arn:aws:sns:us-east-1:123456789012:leadscore-ses-events"
SITE = "https://app.acme.example"
BOUNCED = "tom.becker@oldmail-example.de"  # the recipient of events/provider-ses-01-bounce.json


def documented_local_variables() -> set[str]:
    """Every variable docs/connect.md tells a user to set locally: the "secret (local)" column of the
    sources table, and each ``NAME`` in a sentence that says to set it."""
    text = CONNECT.read_text()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| ") and line.count("|") >= 6 and "`" in line:
            names.update(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", line.rsplit("|", 2)[1]))
    names.update(re.findall(r"[Ss]et `([A-Z][A-Z0-9_]{3,})`", text))
    return {n for n in names if not n.endswith("_PARAM") and n != "LEADSCORE_INSECURE_ALLOW_UNSIGNED"}


def value_for(name: str) -> str:
    return {
        "SES_SNS_TOPIC_ARNS": TOPIC,
        "HUBSPOT_WEBHOOK_BASE_URL": "https://hooks.acme.example",
        "MANDRILL_WEBHOOK_URL": "https://hooks.acme.example/webhooks/mandrill",
        "ALLOWED_ORIGINS": f"https://www.acme.example, {SITE}",
        "SNS_SIGNING_CERT_FILE": str(EVENTS / "keys" / "sns-test-cert.pem"),
        "SENDGRID_WEBHOOK_PUBLIC_KEYS": (EVENTS / "keys" / "sendgrid-test-public.b64").read_text().strip(),
    }.get(name, f"local-{name.lower()}")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LocalStack, int, set[str]]]:
    names = documented_local_variables()
    with pytest.MonkeyPatch.context() as mp, open(os.devnull, "w") as sink:
        for name in names:
            mp.setenv(name, value_for(name))

        def network(url: str) -> bytes:
            raise AssertionError(f"fetched {url} from the network")

        ses.set_certificate_fetcher(network)  # what runs unless the file is trusted
        saved = dict(os.environ)  # start() points AWS_ENDPOINT_URL and credentials at its moto server
        local = LocalStack(ROOT, Console(sink))
        try:
            local.start()
            base = local.serve_http("127.0.0.1", 0)
            yield local, int(base.rsplit(":", 1)[1]), names
        finally:
            local.stop()
            ses.set_certificate_fetcher(None)
            os.environ.clear()
            os.environ.update(saved)
            reset_clients()


def test_the_docs_name_the_variables_this_test_sets() -> None:
    names = documented_local_variables()
    assert {
        "SES_SNS_TOPIC_ARNS",
        "HUBSPOT_WEBHOOK_BASE_URL",
        "MANDRILL_WEBHOOK_URL",
        "TYPEFORM_SECRET",
    } <= names
    assert {"ALLOWED_ORIGINS", local_env.CERTIFICATE_FILE_VARIABLE} <= names


def test_every_documented_variable_reaches_the_ingest_function(
    served: tuple[LocalStack, int, set[str]],
) -> None:
    local, _, names = served
    function_variables = names - {"ALLOWED_ORIGINS", local_env.CERTIFICATE_FILE_VARIABLE}
    with local.stack.environment("IngestFunction"):
        seen = {name: os.environ.get(name) for name in function_variables}
    assert seen == {name: value_for(name) for name in function_variables}


def _preflight(port: int, origin: str) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "OPTIONS", "/forms", headers={"origin": origin, "access-control-request-method": "POST"}
        )
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_allowed_origins_configure_cors_locally(served: tuple[LocalStack, int, set[str]]) -> None:
    _, port, _ = served
    status, headers = _preflight(port, SITE)
    assert status == 204 and headers.get("access-control-allow-origin") == SITE
    _, headers = _preflight(port, "https://example.com")  # the template's default, not configured here
    assert "access-control-allow-origin" not in headers


def _ses_sample_signed_now() -> dict[str, Any]:
    event = copy.deepcopy(load_event("provider-ses-01-bounce.json"))
    message = json.loads(event["body"])
    message["Timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    message["Signature"] = sign_sns_message(message, (EVENTS / "keys" / "sns-test-private.pem").read_bytes())
    event["body"] = json.dumps(message)
    return event


def test_sns_certificate_from_a_file_and_the_bounce_marks_the_address(
    served: tuple[LocalStack, int, set[str]],
) -> None:
    local, port, _ = served
    status, body = replay_request(port, _ses_sample_signed_now())
    assert status == 202, body
    deadline = time.monotonic() + 30
    card: dict[str, Any] = {}
    while time.monotonic() < deadline:
        local.pump()
        status, raw = http_get(port, f"/_local/cards/{quote(BOUNCED)}")
        if status == 200:
            card = json.loads(raw)
            break
        time.sleep(0.2)
    assert card["consent"]["undeliverable"] is True
    assert card["consent"]["summary"].startswith("Do not email: undeliverable 2026-11-23")
