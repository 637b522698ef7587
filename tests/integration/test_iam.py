"""Least privilege, checked against reality: every AWS call each function makes during a run that
drives every code path (every route, the schedule and its workers, every write path: journal moves,
dedupe pages, merges, late events and rebuilds, alert re-drive, rescore --all and its continuations,
erasure, the rules fallback) is allowed by that function's own policy in the translated template, on
that resource, and every permission a policy grants is used by some call (or is listed below with
its reason). No statement grants ``Resource: "*"``."""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from leadscore import clock
from leadscore.crm.mapping import HUBSPOT_PROPERTIES
from leadscore.models.event import lead_id_for_email

from tests.support import EVENTS, ROOT, TEMPLATE, Stack, example_rules_json
from tests.support.crm import HUBSPOT_TOKEN, create_secrets
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_salesforce import FakeSalesforce
from tools.local.replay import resign_sendgrid

PUBLIC_KEY = (EVENTS / "keys" / "sendgrid-test-public.b64").read_text().strip()
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)

# botocore operation -> IAM action, where the names differ.
ACTION = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
}
# Granted but not exercised by this run, each with its reason.
UNUSED_OK = {
    (
        "IngestFunction",
        "ssm:GetParameter",
    ): "only with a provider secret configured in SSM (none in this run)",
    ("IngestFunction", "secretsmanager:GetSecretValue"): "only with a provider secret in Secrets Manager",
    (
        "NotifierFunction",
        "sqs:SendMessage",
    ): "Lambda's stream poller sends failed batches to NotifierDLQ with this role",
    ("SweeperFunction", "sqs:SendMessage@AsyncFailuresDLQ"): "Lambda sends a failed scheduled run there",
    (
        "CrmSyncFunction",
        "sqs:SendMessage@CrmSyncDLQ",
    ): "the handler parks for good there; Lambda sends failed stream batches too",
    **{
        (function, "sqs:SendMessage@AsyncFailuresDLQ"): "Lambda sends a failed asynchronous run there"
        for function in ("SesEventsFunction", "CustomEventsFunction")
    },
    (
        "ImportFunction",
        "s3:ListBucket",
    ): "S3 checks it to answer 404 rather than 403 for a report that does not exist yet",
    (
        "ErasureFunction",
        "sqs:SendMessage",
    ): "Lambda sends a failed asynchronous invocation to AsyncFailuresDLQ",
    **{
        (function, action): "Lambda's event-source poller uses the function's role"
        for function, actions in (
            ("ScorerFunction", ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")),
            ("SweepWorkerFunction", ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")),
            ("ImportFunction", ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")),
            ("ServerEventsFunction", ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")),
            ("CrmSyncFunction", ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")),
            (
                "CrmSyncFunction",
                (
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ),
            ),
            (
                "NotifierFunction",
                (
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ),
            ),
        )
        for action in actions
    },
}
# The only managed policies a role may carry, each with why it stays.
MANAGED_OK = {
    "service-role/AWSLambdaBasicExecutionRole": "logs; scoping to the function's log group is a cycle",
    "AWSXrayWriteOnlyAccess": "X-Ray has no resource-level permissions",
}


def _resource_of(stack: Stack, service: str, params: dict[str, Any]) -> str:
    """A call's resource as the template names it: ``LeadsTable/index/hot``, ``RulesBucket/rules/x``."""
    physical = {
        stack.physical_id(lid): lid for lid in stack.translation.resources if _has_physical(stack, lid)
    }
    if service == "dynamodb":
        name = physical.get(params.get("TableName", ""), params.get("TableName", "?"))
        if "RequestItems" in params:
            name = physical.get(next(iter(params["RequestItems"])), "?")
        return f"{name}/index/{params['IndexName']}" if params.get("IndexName") else name
    if service == "s3":
        bucket = physical.get(params.get("Bucket", ""), params.get("Bucket", "?"))
        return f"{bucket}/{params['Key']}" if "Key" in params else bucket  # an object, or the bucket
    if service == "sqs":
        return physical.get(params.get("QueueUrl", ""), "?")
    if service == "sns":
        return physical.get(params.get("TopicArn", ""), "?")
    if service == "events":  # PutEvents: each entry names its bus; one resource per call
        buses = {str(entry.get("EventBusName", "default")) for entry in params.get("Entries", [])}
        return physical.get(buses.pop(), "?") if len(buses) == 1 else "?"
    if service == "secretsmanager":  # named by the template parameter that holds its ARN
        secret = params.get("SecretId", "")
        names = [k for k, v in stack.translation.parameters.items() if v == secret]
        return names[0] if names else secret
    return "*"


def _has_physical(stack: Stack, logical_id: str) -> bool:
    try:
        stack.physical_id(logical_id)
    except Exception:
        return False
    return True


def _statement_resources(resource: Any) -> list[str]:
    """Template resource -> name: ``{"Fn::GetAtt": ["LeadsTable", "Arn"]}`` -> ``LeadsTable``."""
    if isinstance(resource, list):
        return [r for item in resource for r in _statement_resources(item)]
    if isinstance(resource, dict):
        if "Fn::GetAtt" in resource:
            return [resource["Fn::GetAtt"][0]]
        if "Ref" in resource:
            return [resource["Ref"]]
        if "Fn::Sub" in resource:
            text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
            return [text.replace("${", "").replace(".Arn}", "").replace("}", "")]
    return [str(resource)]


def policies(stack: Stack) -> dict[str, list[tuple[set[str], list[str]]]]:
    """Per function: the inline statements of its role, and of the policies attached to the role whose
    condition holds with the stack's parameters, as (actions, resources)."""
    from tools.localstack.template import condition

    resources = stack.translation.resources
    out: dict[str, list[tuple[set[str], list[str]]]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role_id = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        role = resources[role_id]
        statements = []
        attached = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy"
            and {"Ref": role_id} in r["Properties"].get("Roles", [])
            and (
                "Condition" not in r
                or condition(r["Condition"], stack.translation.cfn, stack.translation.parameters)
            )
        ]
        for policy in role["Properties"].get("Policies", []) + attached:
            for st in policy["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                statements.append((set(actions), _statement_resources(st["Resource"])))
        out[logical_id] = statements
    return out


Calls = dict[str, set[tuple[str, str]]]
Granted = dict[str, list[tuple[set[str], list[str]]]]


def _not_allowed(calls: Calls, granted: Granted) -> list[str]:
    """Each call a function made that none of its role's statements allows."""
    problems = []
    for function, made in sorted(calls.items()):
        for action, resource in sorted(made):
            allowed = any(
                any(fnmatch.fnmatch(action, a) for a in actions)
                and any(fnmatch.fnmatch(resource, r) or resource == r for r in resources)
                for actions, resources in granted[function]
            )
            if not allowed:
                problems.append(f"{function} calls {action} on {resource} but its policy does not allow it")
    return problems


def _never_used(calls: Calls, granted: Granted) -> list[str]:
    """Each (action, resource) a role grants that its function never called (unless UNUSED_OK)."""
    problems = []
    for function, statements in granted.items():
        used = calls.get(function, set())
        for actions, resources in statements:
            assert "*" not in resources, f"{function} grants {sorted(actions)} on every resource"
            for action in actions:
                for resource in resources:
                    if any(a == action and fnmatch.fnmatch(r, resource) for a, r in used):
                        continue
                    if (function, action) in UNUSED_OK or (function, f"{action}@{resource}") in UNUSED_OK:
                        continue
                    problems.append(f"{function} is granted {action} on {resource} but never uses it")
    return problems


@pytest.fixture(autouse=True)
def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(NOW)


def test_every_call_is_allowed_and_every_permission_is_used(
    aws: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    hubspot = FakeHubSpot(token=HUBSPOT_TOKEN).__enter__()
    salesforce = FakeSalesforce().__enter__()
    request.addfinalizer(hubspot.__exit__)
    request.addfinalizer(salesforce.__exit__)
    hubspot.properties |= set(HUBSPOT_PROPERTIES)
    salesforce.define_leadscore_fields()
    hub_arn, sf_arn = create_secrets(
        boto3.client("secretsmanager", region_name="us-east-1"), hubspot, salesforce
    )
    crm = {"HubSpotTokenSecretArn": hub_arn, "SalesforceSecretArn": sf_arn}
    stack = Stack.create(TEMPLATE, parameters={"SendgridWebhookPublicKeys": PUBLIC_KEY, **crm})
    stack.upload_rules(example_rules_json())
    # The current rules object is invalid and the example is its previous version: every function's
    # cold container reads the current object, then falls back through the bucket's versions (the
    # calls of RulesStore's fallback are checked against the policies like any other).
    stack.upload_rules(b'{"models": {"lead": {"thresholds": {"alert_cooldown_hours": 1e305}}}}')
    calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
    current: list[str] = []
    original_call = BaseClient._make_api_call  # type: ignore[attr-defined]
    original_invoke = Stack.invoke

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if current:
            service = self.meta.service_model.signing_name or self.meta.service_model.service_name
            action = f"{self.meta.service_model.endpoint_prefix}:{operation}"
            if action == "s3:GetObject" and params.get("VersionId"):
                action = "s3:GetObjectVersion"  # what IAM checks for a GET of a given version
            calls[current[-1]].add((ACTION.get(action, action), _resource_of(stack, service, params)))
        return original_call(self, operation, params)

    def invoke(self: Stack, function: str, event: Any, context: Any = None) -> Any:
        if not current or current[-1] != function:
            # Each function has its own containers in Lambda: no rules cached by another function.
            from leadscore.dal.rules_store import reset_rules_cache

            reset_rules_cache()
        current.append(function)
        try:
            return original_invoke(self, function, event, context)
        finally:
            current.pop()

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    monkeypatch.setattr(Stack, "invoke", invoke)

    for path in sorted(EVENTS.glob("http-*.json")):
        event = json.loads(path.read_text())
        resign_sendgrid(event, ROOT)
        stack.invoke("IngestFunction", event)
    stack.drain()
    functions = set(policies(stack))
    _drive_every_path(stack, monkeypatch)
    _drive_crm_sync(stack, monkeypatch, salesforce)

    granted = policies(stack)
    problems = _not_allowed(calls, granted) + _never_used(calls, granted)
    assert problems == [], "\n".join(problems)
    assert set(functions) <= set(calls)  # every function ran


def test_no_role_carries_a_managed_policy_on_every_queue_table_or_stream() -> None:
    from tests.support import translated_template

    resources = translated_template()["Resources"]
    roles = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions} <= set(roles)
    for name, role in roles.items():
        if name == "CodeDeployServiceRole":
            continue  # SAM's deployment preference role, not a function's
        for arn in role.get("ManagedPolicyArns", []):
            text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
            assert text.split(":policy/")[-1] in MANAGED_OK, f"{name} carries {text}"


def _drive_every_path(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the samples: every route of the Lead API, and the paths a plain run never takes."""
    from leadscore.dal import items
    from leadscore.dal.jobs import JobMessage, Jobs
    from leadscore.dal.topic import PublishFailed, Topic

    from tests.support import run_sweep

    auth = {"authorization": "AWS4-HMAC-SHA256 Credential=test", "content-type": "application/json"}
    dana = "dana.reyes@northwindlabs.io"
    for method, route, body in (
        ("GET", "/leads", None),
        ("GET", f"/leads/{dana}", None),
        ("POST", f"/leads/{dana}/stage", '{"stage": "sal"}'),
        ("POST", f"/leads/{dana}/outcome", '{"status": "converted", "amount": 1200}'),
        ("GET", "/accounts", None),  # Dana and Sam (events/http-07): northwindlabs.io
        ("GET", "/accounts/northwindlabs.io", None),
    ):
        response = stack.call_http(method, route, body, auth)
        assert response["statusCode"] < 300, (route, response)
    cold = stack.call_http("GET", "/leads", None, auth, query={"tier": "cold"})  # a Scan: not indexed
    assert cold["statusCode"] == 200, cold
    every_unit = items.units

    def moving(on: bool) -> None:  # on: every write that carries a journal moves it to history first
        monkeypatch.setattr(items, "units", (lambda size: size) if on else every_unit)

    form = json.dumps({"email": "adjusted@northwind.io", "submission_id": "iam-1", "form": "Newsletter"})
    stack.call_http("POST", "/forms", form, {"content-type": "application/json"})
    stack.drain()  # a new lead: its item's journal holds this event
    moving(True)
    adjustment = '{"points": -5, "reason": "test"}'
    response = stack.call_http("POST", "/leads/adjusted@northwind.io/adjustments", adjustment, auth)
    assert response["statusCode"] == 201, response
    moving(False)
    # A flood on one lead (dedupe pages), an event too late to score live (a rebuild), and an alert
    # SNS refuses once (the sweep re-drives it).
    flood = [
        {"type": "page", "messageId": f"f{i}", "userId": "u", "context": {"traits": {"email": "bot@x.io"}}}
        for i in range(60)
    ]
    stack.call_http("POST", "/track", json.dumps({"batch": flood}), {"content-type": "application/json"})
    late = {
        "type": "track",
        "event": "Webinar Registered",
        "messageId": "late",
        "userId": "u",
        "timestamp": "2026-10-01T00:00:00Z",
        "context": {"traits": {"email": dana}},
    }
    stack.call_http("POST", "/track", json.dumps(late), {"content-type": "application/json"})
    stack.drain()
    stack.call_http("POST", "/track", json.dumps({"batch": flood[:5]}), {"content-type": "application/json"})
    failures = iter([True])
    original = Topic.publish

    def flaky(self: Topic, request: dict[str, Any]) -> str:
        if next(failures, False):
            raise PublishFailed("Throttled")
        return original(self, request)

    monkeypatch.setattr(Topic, "publish", flaky)
    # The buyer's lead events: EventBridge fails the first request, so the sweep re-drives them.
    from leadscore.dal.eventbus import EventBus

    bus_failures = iter([True])
    original_put = EventBus.put

    def flaky_put(self: EventBus, entries: Any) -> Any:
        if next(bus_failures, False):
            raise PublishFailed("ThrottlingException")
        return original_put(self, entries)

    monkeypatch.setattr(EventBus, "put", flaky_put)
    buyer = {
        "email": "buyer@acme-fintech.com",
        "submission_id": "b1",
        "form": "Request a demo",
        "job_title": "CFO",
        "industry": "Fintech",
        "company_size": 900,
        "country": "US",
    }
    stack.call_http("POST", "/forms", json.dumps(buyer), {"content-type": "application/json"})
    stack.drain()
    # The sweep: decay, the rebuild, the re-drive; a worker low on time continues its job.
    moving(True)
    clock.pin(NOW + timedelta(days=90))
    checks = iter(range(10**6))
    monkeypatch.setattr(
        "tools.localstack.context.LambdaContext.get_remaining_time_in_millis",
        lambda self: 1_000 if next(checks) % 4 == 3 else 60_000,
    )
    assert run_sweep(stack)["failed"] == 0
    # rescore --all (what the CLI queues), its progress, and continuations.
    jobs = Jobs(
        stack.env("SweepWorkerFunction")["LEADS_TABLE"], stack.env("SweepWorkerFunction")["SWEEP_QUEUE_URL"]
    )
    monkeypatch.setattr("leadscore.dal.leads.LeadRepository.scan_segment.__defaults__", (None, 2))
    jobs.create("iam", 2, False, int(NOW.timestamp()))
    jobs.enqueue([JobMessage(kind="rescore", job="iam", segment=n, total=2) for n in range(2)])
    stack.drain()
    # Erasure reads the events DLQ through: one dead letter of the person's, one of someone else's.
    monkeypatch.setattr(
        "tools.localstack.context.LambdaContext.get_remaining_time_in_millis", lambda self: 60_000
    )
    sqs = stack.client("sqs")
    for who in ("tom.becker@oldfield-manufacturing.example", "someone@else.example"):
        sqs.send_message(QueueUrl=stack.queue_url("EventsDLQ"), MessageBody=json.dumps({"email": who}))
    erased = stack.invoke("ErasureFunction", {"email": "tom.becker@oldfield-manufacturing.example"})
    assert erased["deleted"] > 0 and erased["dead_letters"]["deleted"] == 1
    # The AWS-native sources, from their sample events: the server-side queue, SES through SNS, and
    # custom events on EventBridge (each relays to EventsQueue).
    from tests.support import load_event

    for record in load_event("sqs-01-server-events")["Records"]:
        sqs.send_message(QueueUrl=stack.queue_url("ServerEventsQueue"), MessageBody=record["body"])
    stack.invoke("SesEventsFunction", load_event("sns-ses-03-open"))
    stack.invoke("CustomEventsFunction", load_event("eventbridge-01-demo-requested"))
    stack.drain()
    _drive_list_import(stack, monkeypatch)


def _drive_crm_sync(stack: Stack, monkeypatch: pytest.MonkeyPatch, salesforce: FakeSalesforce) -> None:
    """The CRM sync's other paths: Salesforce's daily limit parks a lead on the retry queue, whose
    re-drive reads the lead's current item; a revoked HubSpot token parks one in the DLQ."""
    from leadscore.services import crm_sync

    monkeypatch.setattr(crm_sync, "RETRY_DELAY_SECONDS", 0)
    monkeypatch.setattr(
        "tools.localstack.context.LambdaContext.get_remaining_time_in_millis", lambda self: 60_000
    )
    stack.drain()
    salesforce.daily_limit = salesforce.used
    form = json.dumps({"email": "crm-retry@northwind.io", "submission_id": "crm-1", "form": "Newsletter"})
    stack.call_http("POST", "/forms", form, {"content-type": "application/json"})
    while stack.pump_queue("EventsQueue"):
        pass
    while stack.pump_stream("LeadsTable", "CrmSyncFunction"):
        pass
    assert lead_id_for_email("crm-retry@northwind.io") not in salesforce.records["Lead"]
    salesforce.daily_limit = 10**6
    stack.drain()
    assert lead_id_for_email("crm-retry@northwind.io") in salesforce.records["Lead"]
    secret = stack.env("CrmSyncFunction")["HUBSPOT_TOKEN_SECRET_ARN"]
    stack.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="pat-revoked")
    crm_sync.reset_clients()
    from leadscore.ingest.secrets import clear_secret_cache

    clear_secret_cache()
    form = json.dumps({"email": "crm-dead@northwind.io", "submission_id": "crm-2", "form": "Newsletter"})
    stack.call_http("POST", "/forms", form, {"content-type": "application/json"})
    stack.drain()


def _drive_list_import(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV dropped in the imports bucket, long enough to continue in a second invocation, then the
    same file again (its report is read: unchanged)."""
    from leadscore.services import list_import

    monkeypatch.setattr(list_import, "CHUNK_ROWS", 2)
    monkeypatch.setattr(
        "tools.localstack.context.LambdaContext.get_remaining_time_in_millis", lambda self: 1_000
    )
    rows = "".join(f"visitor{i}@northwind.io,Northwind\n" for i in range(5))
    bucket = stack.physical_id("ImportsBucket")
    for _ in range(2):
        stack.client("s3").put_object(
            Bucket=bucket, Key="imports/IAM expo.csv", Body="email,company\n" + rows
        )
        stack.drain()
