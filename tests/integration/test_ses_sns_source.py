"""SES events through an SNS topic subscribed directly to SesEventsFunction (issue 14, item 1), on the
local stack built from template.yaml.

The records in ``events/sns-ses-*.json`` follow the SES developer guide's "Examples of event data that
Amazon SES publishes to Amazon SNS" (one of each event type) and its notification examples
(``notificationType``), inside the SNS → Lambda envelope of the Lambda developer guide. SNS delivers one
record per invocation, so each record is its own invocation here too."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import lead_id_for_email

from tests.support import RULES_EXAMPLE_YAML, TEMPLATE, Stack, load_event, pinned_clock_at

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
DANA = "dana.reyes@northwindlabs.io"
PRIYA = "priya.natarajan@helioslogistics.ca"
TOM = "tom.becker@oldmail-example.de"


pinned_clock = pinned_clock_at(NOW)


def deliver(stack: Stack, sample: str) -> list[dict[str, Any]]:
    """Each record of ``sample`` as SNS delivers it: one invocation per record."""
    return [stack.invoke("SesEventsFunction", {"Records": [r]}) for r in load_event(sample)["Records"]]


def types(stack: Stack, email: str) -> list[str]:
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    return sorted(event.type for event, _ in repo.history(lead_id_for_email(email)))


def test_every_event_publishing_type_is_scored_or_deliberately_ignored(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    answers = deliver(stack, "sns-ses-01-event-publishing")
    assert [a["accepted"] for a in answers] == [1, 1, 1, 1, 1, 1, 0, 1, 1]
    assert answers[6] == {"records": 1, "accepted": 0, "rejected": 0, "ignored": 1}  # Rendering Failure
    stack.drain()
    assert types(stack, DANA) == ["email_click", "email_delivered", "email_open"]
    assert types(stack, TOM) == ["email_bounce"]
    assert types(stack, PRIYA) == [
        "email_deferred",
        "email_dropped",
        "email_spam_report",
        "email_unsubscribe",
    ]


def test_the_older_notification_format_is_accepted(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    assert [a["accepted"] for a in deliver(stack, "sns-ses-02-notifications")] == [1, 1]
    stack.drain()
    assert types(stack, TOM) == ["email_bounce"]
    assert types(stack, DANA) == ["email_delivered"]


def test_an_event_is_counted_once_whatever_delivery_or_transport_brings_it(aws: None) -> None:
    # Unsigned, so that this test needs no SNS certificate: signatures are test_ingest_providers' subject.
    unsigned = {"IngestFunction": {"LEADSCORE_INSECURE_ALLOW_UNSIGNED": "1"}}
    stack = Stack.create(TEMPLATE, env_overrides=unsigned)
    stack.upload_rules(RULES_EXAMPLE_YAML)
    (record,) = load_event("sns-ses-03-open")["Records"]
    stack.invoke("SesEventsFunction", {"Records": [record]})
    stack.invoke("SesEventsFunction", {"Records": [record]})  # SNS retries: same MessageId
    # The same SES event through the HTTPS subscription: another SNS message id, the same event.
    envelope = {**record["Sns"], "MessageId": "another-sns-delivery", "SigningCertURL": "x"}
    response = stack.call_http("POST", "/webhooks/ses", json.dumps(envelope), {"content-type": "text/plain"})
    assert response["statusCode"] == 202 and json.loads(response["body"])["accepted"] == 1, response
    # A second open of the same email, later, is another event.
    later = copy.deepcopy(record)
    message = json.loads(later["Sns"]["Message"])
    message["open"]["timestamp"] = "2026-11-23T16:45:00.000Z"
    later["Sns"].update(Message=json.dumps(message), MessageId="sns-second-open")
    stack.invoke("SesEventsFunction", {"Records": [later]})
    stack.drain()
    assert types(stack, DANA) == ["email_open", "email_open"]
    state = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(DANA)
    assert state is not None and state.events_total == 2


def test_records_that_carry_no_ses_event_are_answered_not_raised(stack: Stack) -> None:
    (record,) = load_event("sns-ses-03-open")["Records"]
    not_json = copy.deepcopy(record)
    not_json["Sns"]["Message"] = "Hello from SNS!"
    no_source = {k: v for k, v in record.items() if k != "EventSource"}
    no_recipient = copy.deepcopy(record)
    message = json.loads(no_recipient["Sns"]["Message"])
    message["mail"]["destination"] = []
    no_recipient["Sns"]["Message"] = json.dumps(message)
    answer = stack.invoke("SesEventsFunction", {"Records": [not_json, no_source, no_recipient]})
    assert answer == {"records": 3, "accepted": 0, "rejected": 3, "ignored": 0}
    assert stack.pump_queue("EventsQueue").records == 0


def test_events_that_cannot_be_queued_fail_the_invocation_so_lambda_retries_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.dal.queue import EnqueueError

    def unavailable(events: Any, url: str) -> None:
        raise EnqueueError("SendMessageBatch failed: Throttling", failed=len(events), total=len(events))

    monkeypatch.setattr("functions.ses_events.app.enqueue", unavailable)
    with pytest.raises(EnqueueError):
        stack.invoke("SesEventsFunction", load_event("sns-ses-03-open"))


def test_the_stack_deploys_with_a_topic_and_the_function_policy_names_it(aws: None) -> None:
    import boto3

    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="leadscore-ses-events")["TopicArn"]
    stack = Stack.create(TEMPLATE, parameters={"SesEventsTopicArn": topic})
    policy = json.loads(
        stack.client("lambda").get_policy(FunctionName=stack.physical_id("SesEventsFunction"))["Policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == topic
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == "123456789012"


def test_a_publish_to_the_configured_topic_reaches_the_function_through_the_template_s_subscription(
    aws: None,
) -> None:
    import boto3

    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="leadscore-ses-events")["TopicArn"]
    other = sns.create_topic(Name="someone-elses-topic")["TopicArn"]
    stack = Stack.create(TEMPLATE, parameters={"SesEventsTopicArn": topic})
    stack.upload_rules(RULES_EXAMPLE_YAML)
    (record,) = load_event("sns-ses-03-open")["Records"]
    assert stack.publish(other, record["Sns"]["Message"]) == []
    ((function, answer),) = stack.publish(topic, record["Sns"]["Message"])
    assert (function, answer["accepted"]) == ("SesEventsFunction", 1)
    stack.drain()
    assert types(stack, DANA) == ["email_open"]
    unsubscribed = Stack.create(TEMPLATE, name="no-topic")  # SesEventsTopicArn empty: no subscription
    assert unsubscribed.publish(topic, record["Sns"]["Message"]) == []
