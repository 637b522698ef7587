"""template.yaml as data for the AWS-native sources (issue 14): what moto does not enforce or skips
(SNS subscriptions, Lambda permissions, event source mappings, EventBridge patterns)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import TEMPLATE, translate

TOPIC = "arn:aws:sns:us-east-1:123456789012:leadscore-ses-events"


@pytest.fixture(scope="module")
def res() -> dict[str, Any]:
    return translate(TEMPLATE).resources


def test_server_events_queue_redrives_to_its_own_dlq_and_reports_item_failures() -> None:
    tr = translate(TEMPLATE)
    queue = tr.resources["ServerEventsQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ServerEventsDLQ", "Arn"]},
        "maxReceiveCount": 3,
    }
    assert queue["SqsManagedSseEnabled"] is True
    (mapping,) = [m for m in tr.mappings if m.function == "ServerEventsFunction"]
    assert mapping.source == "ServerEventsQueue" and mapping.reports_item_failures
    timeout = tr.resources["ServerEventsFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # AWS's advice for SQS event sources


def test_ses_topic_is_subscribed_and_only_it_may_invoke_the_function() -> None:
    off = translate(TEMPLATE).resources
    assert off["SesEventsSubscription"]["Condition"] == "HasSesEventsTopic"
    assert off["SesEventsPermission"]["Condition"] == "HasSesEventsTopic"
    on = translate(TEMPLATE, {"SesEventsTopicArn": TOPIC})
    assert on.parameters["SesEventsTopicArn"] == TOPIC
    subscription = on.resources["SesEventsSubscription"]["Properties"]
    assert subscription == {
        "Protocol": "lambda",
        "TopicArn": {"Ref": "SesEventsTopicArn"},
        "Endpoint": {"Fn::GetAtt": ["SesEventsFunction", "Arn"]},
    }
    permission = on.resources["SesEventsPermission"]["Properties"]
    assert permission["Principal"] == "sns.amazonaws.com"
    assert permission["SourceArn"] == {"Ref": "SesEventsTopicArn"}
    # the topic owner's account, the fifth field of the topic ARN (cross-account topics still work)
    assert permission["SourceAccount"] == {
        "Fn::Select": [4, {"Fn::Split": [":", {"Ref": "SesEventsTopicArn"}]}]
    }
    assert TOPIC.split(":")[4] == "123456789012"
    assert permission["Action"] == "lambda:InvokeFunction"


@pytest.mark.parametrize("function", ["SesEventsFunction", "CustomEventsFunction"])
def test_asynchronous_sources_keep_failed_runs(res: dict[str, Any], function: str) -> None:
    props = res[function]["Properties"]
    assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["AsyncFailuresDLQ", "Arn"]}}


def test_custom_events_rule_matches_the_configured_sources_on_the_configured_bus(res: dict[str, Any]) -> None:
    rule = res["CustomEventsFunctionCustom"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "CustomEventBusName"}
    # every detail type of those sources: unknown types are counted by the handler, not dropped here
    assert rule["EventPattern"] == {"source": {"Fn::Split": [",", {"Ref": "CustomEventSources"}]}}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["CustomEventsFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    permission = res["CustomEventsFunctionCustomPermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["CustomEventsFunctionCustom", "Arn"]}
