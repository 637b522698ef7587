"""List imports through the local stack built from template.yaml: a CSV put in ImportsBucket → S3's
notification on ImportsQueue → ImportFunction → events on EventsQueue → ScorerFunction → leads scored
by the example rules; the report next to the file; re-imports that change nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository

from tests.support import EVENTS, RULES_EXAMPLE_YAML, Stack, explained_card, load_event, run_sweep

SAMPLE = EVENTS / "imports" / "Web Summit 2026 badge scans.csv"
KEY = "imports/Web Summit 2026 badge scans.csv"
DANA = "dana.reyes@northwindlabs.io"
JOSE = "josé.álvarez@acme-fintech.com"
SAM = "sam@helios-logistics.ca"
DAY_AFTER = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)  # the file is uploaded the day after the show


@pytest.fixture
def day_after(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(DAY_AFTER)


def put(stack: Stack, key: str, body: bytes) -> None:
    stack.client("s3").put_object(Bucket=stack.physical_id("ImportsBucket"), Key=key, Body=body)


def report(stack: Stack, key: str = KEY) -> dict[str, Any]:
    body = stack.client("s3").get_object(Bucket=stack.physical_id("ImportsBucket"), Key=key + ".report.json")
    loaded: dict[str, Any] = json.loads(body["Body"].read())
    return loaded


def repo(stack: Stack) -> LeadRepository:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])


def table_items(stack: Stack) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.physical_id("LeadsTable"))["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def imports_of(results: list[Any]) -> list[Any]:
    return [r for r in results if r.function == "ImportFunction"]


def test_a_csv_put_in_the_bucket_is_imported_scored_and_reported(stack: Stack, day_after: None) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    put(stack, KEY, SAMPLE.read_bytes())  # the key has spaces: S3's event carries it URL-encoded
    results = stack.drain()
    assert [(r.records, r.errors) for r in imports_of(results)] == [(1, [])]

    got = report(stack)
    assert got["status"] == "complete" and got["list"] == "Web Summit 2026 badge scans"
    assert (got["rows"], got["accepted"], got["rejected"], got["duplicates"]) == (6, 3, 2, 1)
    assert got["rejected_rows"] == [
        {"row": 5, "reason": "email: not a valid email address"},
        {"row": 6, "reason": "email: missing"},
    ]
    assert got["duplicate_rows"] == [{"row": 7, "reason": "same email as row 2"}]
    assert got["neutralized"] == [{"row": 4, "reason": "Notes: formula-like value dropped (CSV injection)"}]
    text = json.dumps(got, ensure_ascii=False)
    assert "HYPERLINK" not in text and DANA not in text and "not-an-email" not in text

    leads = repo(stack)
    dana = leads.get_by_email(DANA)
    assert dana is not None and dana.profile["company"] == "Northwind Labs"
    assert dana.events_total == 1  # the duplicate row counted once
    jose = leads.get_by_email(JOSE)
    assert jose is not None and jose.profile["company"] == "Acme Fintech, S.L."
    assert jose.profile["first_name"] == "José"
    sam = leads.get_by_email(SAM)
    assert sam is not None
    history = leads.history(sam.lead_id)
    assert "HYPERLINK" not in json.dumps([event.model_dump(mode="json") for event, _ in history])
    [(event, _)] = history
    assert event.type == "list_import" and event.name == "Web Summit 2026 badge scans"
    assert event.occurred_at.isoformat() == "2026-11-18T12:05:00+00:00"  # the "Scanned at" column
    # The example rules score the scan (trade-show-scan: "summit" in the list's name).
    contributions = {c.rule: c for c in explained_card(dana).contributions}
    assert "trade-show-scan" in contributions
    assert 14 < contributions["trade-show-scan"].points <= 15  # 15 points, decayed for a day


def test_a_list_uploaded_weeks_after_the_show_is_scored_by_the_sweep(
    stack: Stack, pin_clock: Callable[[datetime | None], None]
) -> None:
    """Rows older than the scorer's late window (7 days) are kept unscored and the lead is rebuilt from
    its history by the next sweep: the scan counts, with the decay its age calls for."""
    pin_clock(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    stack.upload_rules(RULES_EXAMPLE_YAML)
    put(stack, KEY, SAMPLE.read_bytes())
    stack.drain()
    dana = repo(stack).get_by_email(DANA)
    assert dana is not None
    assert "trade-show-scan" not in {c.rule for c in explained_card(dana).contributions}
    assert run_sweep(stack)["rebuilt"] >= 3
    dana = repo(stack).get_by_email(DANA)
    assert dana is not None
    assert "trade-show-scan" in {c.rule for c in explained_card(dana).contributions}


def test_re_importing_the_same_file_changes_nothing(stack: Stack, day_after: None) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    put(stack, KEY, SAMPLE.read_bytes())
    stack.drain()
    before = table_items(stack)
    first_report = report(stack)

    put(stack, KEY, SAMPLE.read_bytes())  # the same bytes: the same ETag
    results = stack.drain()
    assert [r.function for r in results] == ["ImportFunction"]  # nothing reached the scorer
    assert table_items(stack) == before
    assert report(stack) == first_report

    # A copy saved again by a spreadsheet, sorted the other way (other rows, other line endings, no BOM:
    # another ETag) is read, and every person in it has the event id of before: nobody counts twice.
    header, *rows = SAMPLE.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\r\n")
    resaved = b"\n".join([header, *reversed([r for r in rows if r])]) + b"\n"
    put(stack, KEY, resaved)
    results = stack.drain()
    assert {r.function for r in results} == {"ImportFunction", "ScorerFunction"}
    assert report(stack)["etag"] != first_report["etag"] and report(stack)["accepted"] == 3
    leads = repo(stack)
    for email in (DANA, JOSE, SAM):
        lead = leads.get_by_email(email)
        assert lead is not None and lead.events_total == 1, email
        assert len(leads.history(lead.lead_id)) == 1


def test_a_corrected_file_adds_only_the_people_it_adds(stack: Stack, day_after: None) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    put(stack, KEY, SAMPLE.read_bytes())
    stack.drain()
    dana_before = repo(stack).get_by_email(DANA)
    corrected = SAMPLE.read_bytes().replace(b"not-an-email", b"nora@northwindlabs.io")
    put(stack, KEY, corrected)
    stack.drain()
    assert report(stack)["accepted"] == 4 and report(stack)["rejected"] == 1
    nora = repo(stack).get_by_email("nora@northwindlabs.io")
    dana = repo(stack).get_by_email(DANA)
    assert nora is not None and nora.events_total == 1
    assert dana is not None and dana_before is not None
    assert (dana.events_total, dana.card.score) == (dana_before.events_total, dana_before.card.score)


def test_the_sample_event_runs_through_the_handler(stack: Stack) -> None:
    """events/import-01-s3-notification.json (for `sam local invoke ImportFunction -e`): the SQS record
    S3's notification becomes, with the key URL-encoded as S3 sends it."""
    bucket = stack.physical_id("ImportsBucket")
    stack.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    put(stack, KEY, SAMPLE.read_bytes())
    event = copy.deepcopy(load_event("import-01-s3-notification"))
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["bucket"]["name"] = bucket
    event["Records"][0]["body"] = json.dumps(body)
    response = stack.invoke("ImportFunction", event)
    assert response == {"batchItemFailures": []}
    assert report(stack)["accepted"] == 3


def test_a_message_that_is_no_notification_fails_alone_and_reaches_the_dlq(stack: Stack) -> None:
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url("ImportsQueue"), MessageBody='{"Records": [{"nope": 1}]}')
    put(stack, KEY, SAMPLE.read_bytes())
    stack.drain()
    assert report(stack)["status"] == "complete"  # the good message was not held back by the bad one
    dead = sqs.receive_message(QueueUrl=stack.queue_url("ImportsDLQ"), MaxNumberOfMessages=10)
    assert [m["Body"] for m in dead.get("Messages", [])] == ['{"Records": [{"nope": 1}]}']


def test_a_file_that_is_not_utf8_gets_a_failed_report_and_no_retry(stack: Stack) -> None:
    put(stack, "imports/latin1.csv", "email,company\nana@x.io,Müller\n".encode("latin-1"))
    results = stack.drain()
    assert [r.failed for r in imports_of(results)] == [0]
    got = report(stack, "imports/latin1.csv")
    assert got["status"] == "failed" and "not UTF-8" in got["error"]


def test_objects_outside_the_prefix_or_not_csv_are_not_imported(stack: Stack) -> None:
    put(stack, "elsewhere/list.csv", b"email\nana@x.io\n")
    put(stack, "imports/list.xlsx", b"PK\x03\x04")
    assert imports_of(stack.drain()) == []


def test_s3s_test_event_is_consumed_and_does_nothing(stack: Stack) -> None:
    """S3 sends one s3:TestEvent to the queue when the notification is saved (S3 User Guide, "Event
    message structure"); the local stack drops it at creation, so here it is sent as S3 would."""
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-18T16:00:00.000Z",
        "Bucket": stack.physical_id("ImportsBucket"),
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url("ImportsQueue"), MessageBody=json.dumps(test_event))
    [result] = imports_of(stack.drain())
    assert (result.records, result.failed, result.result) == (1, 0, {"batchItemFailures": []})
    listed = stack.client("s3").list_objects_v2(Bucket=stack.physical_id("ImportsBucket"))
    assert listed.get("KeyCount", 0) == 0


def test_the_template_wires_bucket_queue_and_function_as_documented() -> None:
    """What moto's CloudFormation does not apply, checked on the translated template as data."""
    from tests.support import translated_template

    resources = translated_template()["Resources"]
    bucket = resources["ImportsBucket"]["Properties"]
    [notification] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["ImportsQueue", "Arn"]}
    assert notification["Event"] == "s3:ObjectCreated:*"
    rules = {r["Name"]: r["Value"] for r in notification["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "imports/", "suffix": ".csv"}  # reports (.csv.report.json) never trigger
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    tls = resources["ImportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert (tls["Effect"], tls["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    [allow] = resources["ImportsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    queue = resources["ImportsQueue"]["Properties"]
    function = resources["ImportFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ImportsDLQ", "Arn"]},
        "maxReceiveCount": 3,
    }
    [mapping] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["ImportsQueue", "Arn"]}
    ]
    assert mapping["BatchSize"] == 1 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
