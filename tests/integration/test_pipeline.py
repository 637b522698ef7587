"""The whole slice, built from template.yaml.

HTTP -> ingest -> SQS -> scorer -> DynamoDB -> stream -> notifier -> SNS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_email

from tests.support import TEMPLATE, Stack, example_rules_json, load_event, pinned_clock_at

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # an hour after the sample requests
DANA = "dana.reyes@northwindlabs.io"


pinned_clock = pinned_clock_at(SAMPLE_TIME)


def post(stack: Stack, name: str) -> dict[str, Any]:
    response: dict[str, Any] = stack.invoke("IngestFunction", load_event(name))
    return response


def form(stack: Stack, email: str, submission: str, **fields: Any) -> dict[str, Any]:
    body = json.dumps({"email": email, "submission_id": submission, **fields})
    response: dict[str, Any] = stack.call_http("POST", "/forms", body, {"content-type": "application/json"})
    return response


def lead(stack: Stack, email: str) -> Any:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(email)


def test_form_to_queue_to_score_to_one_notification(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    for name in ("http-01-form-json", "http-03-track-page", "http-04-track-batch"):
        response = post(stack, name)
        assert response["statusCode"] == 202, response
    stack.drain()
    notifications = stack.inbox()
    assert len(notifications) == 1, [n["Subject"] for n in notifications]
    note = notifications[0]
    assert "Dana Reyes" in note["Subject"]
    assert note["MessageAttributes"]["tier"]["Value"] == "sales_ready"
    alert = json.loads(note["Message"])  # SQS subscribers get the versioned JSON form
    assert alert["schema"] == "leadscore.alert/1"
    assert alert["lead"]["email"] == DANA
    text = alert["text"]  # ...which carries the plain-text form email subscribers get
    assert DANA in text
    assert "Requested a demo" in text and "C-level or VP title (+25)" in text
    state = lead(stack, DANA)
    assert state.card.tier == "sales_ready"
    assert f"Score:    {state.card.score:g}" in text
    # Explicit fields are stored on the lead.
    assert state.profile["job_title"] == "VP of Engineering"
    assert state.profile["company"] == "Northwind Labs"
    assert state.profile["company_size"] == 500
    assert state.profile["industry"] == "Software"
    assert state.profile["country"] == "United States"
    # Every accepted event is in the lead's history, with its id.
    history = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).history(state.lead_id)
    assert len(history) == state.events_total
    assert "sub_7f3c9a2e41" in {e.event_id for e, _ in history} | {
        e.event_id.split(":")[-1] for e, _ in history
    }
    # The alert was marked sent; nothing is pending.
    assert [a.status for a in state.outbox.values()] == ["sent"]


def test_no_notification_below_the_threshold(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    assert post(stack, "http-02-form-urlencoded")["statusCode"] == 202
    stack.drain()
    assert stack.inbox() == []
    state = lead(stack, "priya.natarajan@helioslogistics.co")
    assert state is not None and state.card.score < 100 and state.card.tier != "sales_ready"


@pytest.mark.parametrize("same_batch", [True, False])
def test_exactly_one_notification_when_two_events_push_a_lead_across(stack: Stack, same_batch: bool) -> None:
    stack.upload_rules(example_rules_json())
    profile = {
        "job_title": "CTO",
        "company": "Acme",
        "company_size": 800,
        "industry": "Fintech",
        "country": "US",
    }
    # fit 25 + 15 + 15 + 5 = 60; a demo request (+40) crosses 100 only with the second event.
    assert form(stack, "kim@acme.com", "s1", **profile)["statusCode"] == 202
    if not same_batch:
        stack.drain()
        assert stack.inbox() == []
        assert lead(stack, "kim@acme.com").card.score == 60
    assert form(stack, "kim@acme.com", "s2", form="Request a demo")["statusCode"] == 202
    assert form(stack, "kim@acme.com", "s3", form="Talk to sales: demo")["statusCode"] == 202
    stack.drain()
    notifications = stack.inbox()
    assert len(notifications) == 1
    state = lead(stack, "kim@acme.com")
    assert state.card.score >= 100
    assert len(state.outbox) == 1


def test_missing_rules_file_retries_events_instead_of_scoring_with_nothing(stack: Stack) -> None:
    assert post(stack, "http-01-form-json")["statusCode"] == 202
    results = stack.drain(max_rounds=2)
    assert any(r.failed for r in results), "the scorer must fail the batch when there are no rules"
    assert lead(stack, DANA) is None
    stack.upload_rules(example_rules_json())
    from tools.localstack import reset_caches

    reset_caches()
    _make_visible(stack)
    stack.drain()
    state = lead(stack, DANA)
    assert state is not None and state.card.score > 0


def test_invalid_rules_file_on_a_cold_start_is_an_error_not_an_empty_score(stack: Stack) -> None:
    stack.upload_rules(b'{"models": {"lead": {"fit": [{"id": "x"}]}}}')
    assert post(stack, "http-01-form-json")["statusCode"] == 202
    results = stack.drain(max_rounds=2)
    failed = [r for r in results if r.failed]
    assert failed, "the scorer must fail the batch when the rules are invalid"
    assert lead(stack, DANA) is None


def test_a_bad_rules_file_keeps_the_last_good_rules(aws: None) -> None:
    stack = Stack.create(TEMPLATE, env_overrides={"ScorerFunction": {"RULES_REFRESH_SECONDS": "1"}})
    stack.upload_rules(example_rules_json())
    assert form(stack, "a@northwind.io", "a1", job_title="CTO")["statusCode"] == 202
    stack.drain()
    good_version = lead(stack, "a@northwind.io").card.rules_version
    stack.upload_rules(b"{not json")
    clock.pin(None)
    import time

    time.sleep(1.1)  # past the refresh interval: the scorer looks again, finds a bad file
    assert form(stack, "b@northwind.io", "b1", job_title="CTO")["statusCode"] == 202
    stack.drain()
    state = lead(stack, "b@northwind.io")
    assert state is not None, "scoring must continue on the last good rules"
    assert state.card.rules_version == good_version
    assert state.card.fit == 25  # scored by the example rules: C-level title


def test_bad_bodies_get_a_4xx_with_a_json_error_and_nothing_is_queued(stack: Stack) -> None:
    for name, status in (
        ("http-bad-01-form-invalid-json", 400),
        ("http-bad-02-form-no-email", 422),
        ("http-bad-03-form-unsupported-content-type", 415),
        ("http-bad-05-track-not-an-object", 400),
        ("http-bad-07-webhook-unknown-provider", 404),
    ):
        response = post(stack, name)
        assert response["statusCode"] == status, (name, response)
        body = json.loads(response["body"])
        assert body["error"] and body["message"], body
    sqs = stack.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=stack.queue_url("EventsQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_poison_message_fails_alone_and_lands_in_the_dlq(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    sqs = stack.client("sqs")
    queue = stack.queue_url("EventsQueue")
    sqs.send_message(QueueUrl=queue, MessageBody='{"not": "an event"}')
    assert form(stack, "ok@northwind.io", "ok1", job_title="CTO")["statusCode"] == 202
    for _ in range(8):
        _make_visible(stack)
        stack.drain(max_rounds=3)
    assert lead(stack, "ok@northwind.io").events_total == 1  # scored once, not once per retry
    dlq = stack.queue_url("EventsDLQ")
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ['{"not": "an event"}']


def _make_visible(stack: Stack) -> None:
    """Make in-flight messages visible again now (SQS would after the visibility timeout)."""
    sqs = stack.client("sqs")
    queue = stack.queue_url("EventsQueue")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    for m in messages:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)


def test_lead_id_is_the_hash_of_the_normalized_email(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    assert form(stack, "  Mixed.Case@Northwind.IO ", "m1")["statusCode"] == 202
    stack.drain()
    state = lead(stack, "mixed.case@northwind.io")
    assert state.lead_id == lead_id_for_email("mixed.case@northwind.io")
    assert state.email == "mixed.case@northwind.io"
