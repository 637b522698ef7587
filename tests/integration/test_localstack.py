"""The local stack engine (tools.localstack): stack creation in moto, environments, events, pumps.

Handlers are faked here (``stack.handler`` patched) so that the engine's own behaviour is tested;
the real functions are exercised through the same engine by their own integration tests.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from tests.support import FAKE_CREDENTIALS, TEMPLATE, Stack
from tools.localstack import decode_body, http_event, match_route, matches_pattern, passes_filters
from tools.localstack.events import Route


def _fake(stack: Stack, monkeypatch: pytest.MonkeyPatch, handlers: dict[str, Any]) -> None:
    """Stand-in handlers for the functions named; any other function acknowledges what it gets. The
    s3:TestEvent S3 queues when the imports bucket's notification is saved is taken first, so the
    pumps a test counts are its own."""

    def acknowledge(event: Any, context: Any) -> dict[str, Any]:
        return {"batchItemFailures": []}

    monkeypatch.setattr(stack, "handler", lambda function: handlers.get(function, acknowledge))
    stack.pump_queue("ImportsQueue")


def _put_lead(stack: Stack, pk: str, **attributes: Any) -> None:
    item = {"pk": {"S": pk}, "sk": {"S": "LEAD"}, **attributes}
    stack.client("dynamodb").put_item(TableName=stack.physical_id("LeadsTable"), Item=item)


def _queue_count(stack: Stack, queue: str) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(queue), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


# ---------------------------------------------------------------------------------------------- stack
def test_stack_comes_up_with_outputs_and_resources(stack):
    outputs = stack.outputs
    assert set(outputs) >= {"ApiUrl", "LeadsTableName", "RulesBucketName", "AlertsTopicArn", "EventsQueueUrl"}
    assert outputs["LeadsTableName"] == stack.physical_id("LeadsTable")
    assert outputs["EventsQueueUrl"] == stack.queue_url("EventsQueue")
    assert outputs["ApiUrl"] == f"https://{stack.api_id()}.execute-api.us-east-1.amazonaws.com/"
    table = stack.client("dynamodb").describe_table(TableName=stack.physical_id("LeadsTable"))["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"hot", "due"}
    assert stack.arn("EventsQueue").startswith("arn:aws:sqs:us-east-1:")
    assert stack.arn("ScorerFunction").startswith("arn:aws:lambda:us-east-1:")


def test_scorer_env_points_at_the_created_resources(stack):
    env = stack.env("ScorerFunction")
    assert env["LEADS_TABLE"] == stack.physical_id("LeadsTable")
    assert env["RULES_BUCKET"] == stack.outputs["RulesBucketName"]
    assert env["RULES_KEY"] == "rules/current.json"
    assert env["SALES_READY_THRESHOLD"] == "100"  # Number parameters come back as str
    assert env["RULES_REFRESH_SECONDS"] == "60"
    assert env["POWERTOOLS_SERVICE_NAME"] == "leadscore"
    assert all(isinstance(v, str) for f in stack.functions for v in stack.env(f).values())
    assert stack.env("IngestFunction")["EVENTS_QUEUE_URL"] == stack.queue_url("EventsQueue")
    assert stack.env("NotifierFunction")["ALERTS_TOPIC_ARN"] == stack.outputs["AlertsTopicArn"]


def test_parameters_reach_the_environment(aws):
    stack = Stack.create(TEMPLATE, parameters={"SalesReadyThreshold": 80, "LogLevel": "DEBUG"})
    assert stack.env("ScorerFunction")["SALES_READY_THRESHOLD"] == "80"
    assert stack.env("IngestFunction")["LOG_LEVEL"] == "DEBUG"


def test_inbox_receives_what_is_published_to_the_topic(stack):
    assert stack.inbox() == []
    stack.client("sns").publish(
        TopicArn=stack.outputs["AlertsTopicArn"],
        Subject="Sales-ready lead",
        Message="ada@example.com reached 120",
        MessageAttributes={"tier": {"DataType": "String", "StringValue": "hot"}},
    )
    (note,) = stack.inbox()
    assert note["Subject"] == "Sales-ready lead"
    assert note["Message"] == "ada@example.com reached 120"
    assert note["MessageAttributes"]["tier"]["Value"] == "hot"
    assert stack.inbox() == []  # each notification is returned once


def test_upload_rules_puts_the_document_where_the_scorer_reads_it(stack):
    version = stack.upload_rules({"schema_version": 1})
    env = stack.env("ScorerFunction")
    got = stack.client("s3").get_object(Bucket=env["RULES_BUCKET"], Key=env["RULES_KEY"])
    assert json.loads(got["Body"].read()) == {"schema_version": 1}
    assert version
    assert version == got["VersionId"]  # the bucket is versioned, as in the template


# ---------------------------------------------------------------------------------------------- invoke
def test_invoke_runs_with_exactly_the_functions_environment(stack, monkeypatch):
    monkeypatch.setenv("LEADS_TABLE", "left-over-from-the-test")
    seen: dict[str, Any] = {}

    def ingest(event, context):
        seen["env"] = dict(os.environ)
        seen["context"] = context
        return {"statusCode": 202}

    _fake(stack, monkeypatch, {"IngestFunction": ingest})
    assert stack.invoke("IngestFunction", {"x": 1}) == {"statusCode": 202}
    env, context = seen["env"], seen["context"]
    assert env["EVENTS_QUEUE_URL"] == stack.queue_url("EventsQueue")
    assert "LEADS_TABLE" not in env  # not IngestFunction's variable
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == stack.physical_id("IngestFunction")
    assert env["AWS_ACCESS_KEY_ID"] == os.environ["AWS_ACCESS_KEY_ID"]  # the rest is inherited
    assert os.environ["LEADS_TABLE"] == "left-over-from-the-test"  # restored
    assert "EVENTS_QUEUE_URL" not in os.environ
    assert context.function_name == stack.physical_id("IngestFunction")
    assert context.memory_limit_in_mb == 512
    assert context.invoked_function_arn == stack.arn("IngestFunction")
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.aws_request_id


def test_handler_is_imported_by_full_dotted_name(stack):
    spec = stack.translation.functions["ScorerFunction"]
    assert spec.module == "functions.scorer.app"
    assert spec.attribute == "lambda_handler"


# ---------------------------------------------------------------------------------------------- HTTP events
def test_http_event_matches_the_webhook_route(stack):
    event = stack.http_event(
        "POST",
        "/webhooks/sendgrid",
        b'[{"event":"open"}]',
        {"Content-Type": "application/json", "Cookie": "a=1; b=2"},
        {"x": "1"},
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /webhooks/{provider}"
    assert event["requestContext"]["routeKey"] == "POST /webhooks/{provider}"
    assert event["pathParameters"] == {"provider": "sendgrid"}
    assert event["rawPath"] == "/webhooks/sendgrid"
    assert event["rawQueryString"] == "x=1"
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["headers"]["content-type"] == "application/json"
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False
    assert event["body"] == '[{"event":"open"}]'
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"]) == ("POST", "/webhooks/sendgrid")
    assert http["sourceIp"] and http["userAgent"]
    assert isinstance(event["requestContext"]["timeEpoch"], int)
    assert event["requestContext"]["apiId"] == stack.api_id()


def test_http_event_base64_encodes_binary_bodies():
    route = Route("POST", "/forms", "IngestFunction")
    event = http_event(route, "POST", "/forms", b"\xff\xfe\x00raw")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00raw"
    assert decode_body(event) == b"\xff\xfe\x00raw"
    assert "pathParameters" not in event


def test_decode_body_keeps_a_flagged_body_that_is_not_base64_and_reads_none_as_empty():
    # A hand-written sample in events/ may set isBase64Encoded on plain text: the replay sends it as is.
    assert decode_body({"body": '{"email": "a@b.co"}', "isBase64Encoded": True}) == b'{"email": "a@b.co"}'
    assert decode_body({"body": "aGk=", "isBase64Encoded": True}) == b"hi"
    assert decode_body({"body": "aGk=", "isBase64Encoded": False}) == b"aGk="
    assert decode_body({"isBase64Encoded": True}) == b""


def test_routes_match_like_api_gateway(stack):
    routes = stack.routes
    found = match_route(routes, "post", "/forms")
    assert found is not None
    assert found[0].route_key == "POST /forms"
    assert match_route(routes, "GET", "/forms") is None
    assert match_route(routes, "POST", "/webhooks/a/b") is None
    assert match_route(routes, "POST", "/nope") is None
    with pytest.raises(LookupError):
        stack.http_event("POST", "/nope")


# ---------------------------------------------------------------------------------------------- filters
def test_filter_patterns_match_exact_values():
    pattern = {"dynamodb": {"NewImage": {"alert_pending": {"BOOL": [True]}}}}
    pending = {"dynamodb": {"NewImage": {"alert_pending": {"BOOL": True}, "pk": {"S": "x"}}}}
    assert matches_pattern(pending, pattern)
    assert not matches_pattern({"dynamodb": {"NewImage": {"alert_pending": {"BOOL": False}}}}, pattern)
    assert not matches_pattern({"dynamodb": {"NewImage": {"pk": {"S": "x"}}}}, pattern)
    assert not matches_pattern({"dynamodb": {"NewImage": {"alert_pending": {"N": "1"}}}}, {"x": [1]})
    assert not matches_pattern({"v": 1}, {"v": [True]})  # JSON true is not 1
    assert matches_pattern({"eventName": "INSERT"}, {"eventName": ["INSERT", "MODIFY"]})
    string_set = {"a": {"SS": [{"exists": True}]}}
    assert matches_pattern({"a": {"SS": ["x", "y"]}}, string_set)
    assert not matches_pattern({"a": {"S": "x"}}, string_set)
    assert not matches_pattern({"b": 1}, string_set)
    assert matches_pattern({"a": 1}, {"b": [{"exists": False}]})
    assert passes_filters({"anything": 1}, [])
    assert passes_filters(pending, [{"eventName": ["REMOVE"]}, pattern])


# ---------------------------------------------------------------------------------------------- pumps
def test_pump_queue_deletes_successes_and_redrives_failures_to_the_dlq(stack, monkeypatch):
    batches: list[list[str]] = []

    def scorer(event, context):
        bodies = [r["body"] for r in event["Records"]]
        batches.append(bodies)
        assert all(r["eventSource"] == "aws:sqs" for r in event["Records"])
        assert all(r["eventSourceARN"] == stack.arn("EventsQueue") for r in event["Records"])
        assert all("ApproximateReceiveCount" in r["attributes"] for r in event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    _fake(stack, monkeypatch, {"ScorerFunction": scorer})
    sqs = stack.client("sqs")
    for body in ["good", "bad", *[f"m{i}" for i in range(23)]]:
        sqs.send_message(QueueUrl=stack.queue_url("EventsQueue"), MessageBody=body)

    first = stack.pump_queue("EventsQueue")
    assert (first.records, first.failed) == (25, 1)  # one batch, gathered by receives of 10
    results = stack.drain()
    assert [r.records for r in results] == [1, 1, 1, 1]  # "bad" retried until maxReceiveCount (5)
    assert _queue_count(stack, "EventsQueue") == 0
    dlq = sqs.receive_message(QueueUrl=stack.queue_url("EventsDLQ"), MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dlq] == ["bad"]
    assert sum(b.count("good") for b in batches) == 1


def test_pump_queue_retries_a_whole_batch_when_the_handler_raises(stack, monkeypatch):
    calls = []

    def scorer(event, context):
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("rules unavailable")
        return {"batchItemFailures": []}

    _fake(stack, monkeypatch, {"ScorerFunction": scorer})
    for i in range(3):
        stack.client("sqs").send_message(QueueUrl=stack.queue_url("EventsQueue"), MessageBody=str(i))
    failed = stack.pump_queue("EventsQueue")
    assert (failed.records, failed.failed) == (3, 3)
    assert failed.errors == ["RuntimeError: rules unavailable"]
    assert stack.pump_queue("EventsQueue").failed == 0
    assert calls == [3, 3]
    assert _queue_count(stack, "EventsQueue") == 0


def test_pump_stream_filters_records_and_keeps_failures_for_later(stack, monkeypatch):
    seen: list[list[str]] = []
    healthy = {"ok": False}

    def notifier(event, context):
        pks = [r["dynamodb"]["NewImage"]["pk"]["S"] for r in event["Records"]]
        seen.append(pks)
        for record in event["Records"]:
            assert record["eventSource"] == "aws:dynamodb"
            assert record["eventSourceARN"] == stack.stream_arn("LeadsTable")
            assert record["dynamodb"]["SequenceNumber"]
        failures = [
            {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
            for r in event["Records"]
            if r["dynamodb"]["NewImage"]["pk"]["S"] == "LEAD#b" and not healthy["ok"]
        ]
        return {"batchItemFailures": failures}

    _fake(stack, monkeypatch, {"NotifierFunction": notifier})
    _put_lead(stack, "LEAD#a", alert_pending={"SS": ["alert-1"]})
    _put_lead(stack, "LEAD#quiet", score={"N": "3"})
    _put_lead(stack, "LEAD#b", alert_pending={"SS": ["alert-1"]})
    _put_lead(stack, "LEAD#c", alert_pending={"SS": ["alert-1"]})
    _put_lead(stack, "LEAD#sent", score={"N": "120"})  # alert sent: the set is gone

    first = stack.pump_stream("LeadsTable")
    assert seen == [["LEAD#a", "LEAD#b", "LEAD#c"]]  # filtered: no quiet, no sent
    assert first.failed == 2  # b failed: b and everything after it is retried
    healthy["ok"] = True
    second = stack.pump_stream("LeadsTable")
    assert seen[-1] == ["LEAD#b", "LEAD#c"]
    assert second.failed == 0
    assert not stack.pump_stream("LeadsTable")


def test_pump_stream_gives_up_after_maximum_retries_to_the_dlq(stack, monkeypatch):
    def notifier(event, context):
        raise RuntimeError("SNS down")

    _fake(stack, monkeypatch, {"NotifierFunction": notifier})
    _put_lead(stack, "LEAD#a", alert_pending={"SS": ["alert-1"]})
    results = stack.drain()
    assert len(results) == 21  # the first attempt and MaximumRetryAttempts (20) retries
    assert results[-1].to_dlq == 1
    (message,) = stack.client("sqs").receive_message(QueueUrl=stack.queue_url("NotifierDLQ"))["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stack.stream_arn("LeadsTable")
    assert not stack.drain()


def test_drain_runs_queue_then_stream_until_idle(stack, monkeypatch):
    table = stack.physical_id("LeadsTable")

    def scorer(event, context):
        for record in event["Records"]:
            stack.client("dynamodb").put_item(
                TableName=table,
                Item={"pk": {"S": record["body"]}, "sk": {"S": "LEAD"}, "alert_pending": {"SS": ["a"]}},
            )
        return {"batchItemFailures": []}

    def notifier(event, context):
        for record in event["Records"]:
            stack.client("sns").publish(
                TopicArn=os.environ["ALERTS_TOPIC_ARN"],
                Subject="alert",
                Message=record["dynamodb"]["NewImage"]["pk"]["S"],
            )
        return {"batchItemFailures": []}

    _fake(stack, monkeypatch, {"ScorerFunction": scorer, "NotifierFunction": notifier})
    stack.client("sqs").send_message(QueueUrl=stack.queue_url("EventsQueue"), MessageBody="LEAD#z")
    results = stack.drain()
    assert [(r.function, r.records) for r in results] == [("ScorerFunction", 1), ("NotifierFunction", 1)]
    assert [n["Message"] for n in stack.inbox()] == ["LEAD#z"]


# ---------------------------------------------------------------------------------------------- server mode
@pytest.mark.slow
def test_stack_against_a_moto_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    from tools.local.stack import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for name, value in FAKE_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", endpoint)
        stack = Stack.create(TEMPLATE, name="served", endpoint_url=endpoint)
        assert stack.env("ScorerFunction")["LEADS_TABLE"] == stack.physical_id("LeadsTable")
        stack.client("sns").publish(TopicArn=stack.outputs["AlertsTopicArn"], Message="hello")
        assert [n["Message"] for n in stack.inbox()] == ["hello"]
        seen = []

        def notifier(event, context):
            seen.append(len(event["Records"]))
            return {}

        _fake(stack, monkeypatch, {"NotifierFunction": notifier})
        _put_lead(stack, "LEAD#s", alert_pending={"SS": ["alert-1"]})
        assert stack.pump_stream("LeadsTable").records == 1
        assert seen == [1]
    finally:
        server.stop()
