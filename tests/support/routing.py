"""An SQS queue subscribed to the stack's alerts topic with a filter policy, as a customer's second
subscriber would be, and what it received: how the routing tests check SNS filter policies. And the
forms they send to make a lead sales-ready."""

from __future__ import annotations

import json
from typing import Any

from tools.localstack import Stack


def filtered_queue(stack: Stack, name: str, policy: dict[str, Any], scope: str = "MessageAttributes") -> str:
    """A new queue ``name`` subscribed to AlertsTopic with ``policy``; returns its URL."""
    sqs = stack.client("sqs")
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.client("sns").subscribe(
        TopicArn=stack.outputs["AlertsTopicArn"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": scope},
        ReturnSubscriptionArn=True,
    )
    return url


def received(stack: Stack, url: str) -> list[dict[str, Any]]:
    """Every SNS envelope the queue holds, taken off it."""
    sqs = stack.client("sqs")
    out = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def submit_forms(stack: Stack, email: str, *names: str, **profile: Any) -> None:
    """One JSON form submission to ``POST /forms`` per name in ``names``, the first with ``profile``."""
    for n, name in enumerate(names):
        fields = {
            "email": email,
            "form": name,
            "submission_id": f"{email}-{n}",
            **(profile if n == 0 else {}),
        }
        response = stack.call_http("POST", "/forms", json.dumps(fields), {"content-type": "application/json"})
        assert response["statusCode"] == 202, response
