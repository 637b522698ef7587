"""No PII in logs, and the right to erasure."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.items import tombstone
from leadscore.dal.leads import LeadRepository, erase_lead
from leadscore.models.event import lead_id_for_anonymous, lead_id_for_email

from tests.support import EVENTS, ROOT, TEMPLATE, Stack, example_rules_json, pinned_clock_at
from tools.local.replay import resign_sendgrid

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
PUBLIC_KEY = (EVENTS / "keys" / "sendgrid-test-public.b64").read_text().strip()


pinned_clock = pinned_clock_at(datetime(2026, 11, 23, 18, 0, tzinfo=UTC))


def test_no_email_address_appears_in_logs_or_metrics_during_a_full_run(
    aws: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="leadscore")  # ours; botocore's wire logs are off in Lambda
    output = io.StringIO()
    stack = Stack.create(
        TEMPLATE, parameters={"SendgridWebhookPublicKeys": PUBLIC_KEY}, handler_output=output
    )
    stack.upload_rules(example_rules_json())
    samples = sorted(EVENTS.glob("http-*.json"))
    assert len(samples) > 10
    for path in samples:  # every sample, the refused ones too: errors must not echo addresses either
        event = json.loads(path.read_text())
        resign_sendgrid(event, ROOT)
        stack.invoke("IngestFunction", event)
    stack.drain()
    notifications = stack.inbox()
    assert notifications, "the run must reach the notifier for this test to mean anything"
    # Every record with its extra fields (what the JSON formatter writes), plus anything printed.
    records = [json.dumps(r.__dict__, default=str) for r in caplog.records]
    logged = output.getvalue() + capsys.readouterr().out + "\n".join(records)
    assert "batch scored" in logged and "alert sent" in logged  # we did capture the handlers' logs
    found = sorted(set(EMAIL_RE.findall(logged)))
    assert found == [], f"email addresses in logs: {found}"


def test_forget_erases_the_lead_its_history_and_merged_anonymous_leads(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    track = {"type": "page", "messageId": "p1", "anonymousId": "anon-7", "properties": {"path": "/pricing"}}
    identify = {
        "type": "identify",
        "messageId": "i1",
        "anonymousId": "anon-7",
        "traits": {"email": "gone@acme.com"},
    }
    for message in (track, identify):
        body = json.dumps({"timestamp": "2026-11-23T17:00:00Z", **message})
        assert (
            stack.call_http("POST", "/track", body, {"content-type": "application/json"})["statusCode"] == 202
        )
        stack.drain()
    table = stack.env("ScorerFunction")["LEADS_TABLE"]
    repo = LeadRepository(table)
    lead_id = lead_id_for_email("gone@acme.com")
    assert repo.get(lead_id) is not None and repo.history(lead_id)

    response = stack.invoke("ErasureFunction", {"email": "Gone@Acme.com"})
    assert response["lead_id"] == lead_id and response["deleted"] >= 2  # both leads (history rides along)
    dynamodb = stack.client("dynamodb")
    for target in (lead_id, lead_id_for_anonymous("anon-7")):
        left = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"LEAD#{target}"}},
        )["Items"]
        assert [i["sk"]["S"] for i in left] == ["LEAD"], target  # only the tombstone remains
        assert "ttl" in left[0]
        remains = repo.get(target)
        assert remains is not None and tombstone(remains) and remains.profile == {}
        assert "acme" not in remains.model_dump_json().lower()
    assert stack.invoke("ErasureFunction", {"email": "gone@acme.com"})["deleted"] == 0  # idempotent
    assert stack.invoke("ErasureFunction", {"email": "not-an-email"})["error"] == "invalid_request"


def test_forget_from_the_cli(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    from tools.cli import main

    stack.upload_rules(example_rules_json())
    body = json.dumps({"email": "cli@acme.com", "submission_id": "c1"})
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202
    stack.drain()
    table = stack.env("ScorerFunction")["LEADS_TABLE"]
    assert main(["privacy", "forget", "cli@acme.com", "--table", table, "--yes"]) == 0
    assert "1 item(s) deleted" in capsys.readouterr().out  # the lead, its history in its journal
    remains = LeadRepository(table).get_by_email("cli@acme.com")
    assert remains is None or tombstone(remains)
    assert erase_lead(LeadRepository(table), lead_id_for_email("cli@acme.com")) == 0


def post_form(stack: Stack, form: dict[str, Any]) -> None:
    response = stack.call_http("POST", "/forms", json.dumps(form), {"content-type": "application/json"})
    assert response["statusCode"] == 202, response


def test_forget_erases_dead_letters_and_what_is_still_queued_cannot_bring_the_person_back(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadscore.models.event import CanonicalEvent, Identity

    stack.upload_rules(example_rules_json())
    form = {"email": "gone@acme.com", "submission_id": "f1", "job_title": "VP Sales"}
    post_form(stack, form)
    stack.drain()
    sqs = stack.client("sqs")
    dlq = stack.queue_url("EventsDLQ")

    def dead_letter(email: str, event_id: str) -> None:
        event = CanonicalEvent(
            event_id=event_id,
            source="forms",
            type="form_submit",
            occurred_at=datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
            identity=Identity(email=email),
        )
        sqs.send_message(QueueUrl=dlq, MessageBody=event.model_dump_json())

    dead_letter("gone@acme.com", "d1")
    dead_letter("other@acme.com", "d2")
    sqs.send_message(QueueUrl=dlq, MessageBody='{"junk": "GONE@acme.com", "x": [}')  # never parsed
    sqs.send_message(QueueUrl=dlq, MessageBody="not json at all")
    # An event sent before the erasure, still queued when it runs.
    late = dict(form, submission_id="f2", job_title="CEO")
    post_form(stack, late)

    response = stack.invoke("ErasureFunction", {"email": "gone@acme.com"})
    assert response["dead_letters"] == {"scanned": 4, "deleted": 2, "complete": True}
    left = []
    while batch := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
        left += [m["Body"] for m in batch]
    assert len(left) == 2 and "gone@" not in " ".join(left).lower()  # the others, visible again
    assert any("other@acme.com" in b for b in left)

    results = stack.drain()  # the queued event is dropped: it was received before the erasure
    assert [r.records for r in results if r.function == "ScorerFunction"] == [1]
    assert '"ErasedLeadEvents":[1.0]' in capsys.readouterr().out  # dropped, and counted
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    remains = repo.get_by_email("gone@acme.com")
    assert remains is not None and tombstone(remains)
    signed = {
        "authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request"
    }
    assert stack.call_http("GET", "/leads/gone@acme.com", None, signed)["statusCode"] == 404

    # The person comes back later of their own accord: a new lead.
    time.sleep(1.05)  # the tombstone has a resolution of one second
    again = dict(form, submission_id="f3")
    post_form(stack, again)
    stack.drain()
    back = repo.get_by_email("gone@acme.com")
    assert back is not None and back.events_total == 1 and not tombstone(back)
