"""template.yaml as data: what moto ignores (encryption, PITR, policies, mappings...) is checked here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from leadscore.ingest import config as ingest_config
from leadscore.settings import Settings

from tests.support import ROOT, TEMPLATE, translate
from tools.localstack import passes_filters

FUNCTIONS = (
    "IngestFunction",
    "ScorerFunction",
    "NotifierFunction",
    "LeadsApiFunction",
    "SweeperFunction",
    "SweepWorkerFunction",
    "ErasureFunction",
    "ServerEventsFunction",
    "SesEventsFunction",
    "CustomEventsFunction",
    "CrmSyncFunction",
)
LEADS_ROUTES = {
    ("GET", "/leads"),
    ("GET", "/leads/{lead}"),
    ("POST", "/leads/{lead}/outcome"),
    ("POST", "/leads/{lead}/adjustments"),
    ("GET", "/accounts"),  # accounts (docs/architecture.md, "Accounts")
    ("GET", "/accounts/{domain}"),
    ("POST", "/leads/{lead}/stage"),
}

# Each function's inline IAM statements as (action, resource) pairs, resources by logical id.
# Exact sets: a broadened action or resource fails here.
EXPECTED_ACTIONS = {
    "IngestFunction": {
        ("sqs:SendMessage", "EventsQueue"),
        (
            "ssm:GetParameter",
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/leadscore/*",
        ),
        (
            "secretsmanager:GetSecretValue",
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:leadscore/*",
        ),
    },
    "ScorerFunction": {
        # Lambda's SQS poller, with the function's role: on its own queue only (no managed policy)
        ("sqs:ReceiveMessage", "EventsQueue"),
        ("sqs:DeleteMessage", "EventsQueue"),
        ("sqs:GetQueueAttributes", "EventsQueue"),
        ("dynamodb:BatchGetItem", "LeadsTable"),  # uncached leads and their dedupe pages, read first
        ("dynamodb:PutItem", "LeadsTable"),
        ("dynamodb:BatchWriteItem", "LeadsTable"),
        ("dynamodb:Query", "LeadsTable"),
        ("s3:GetObject", "RulesBucket/rules/*"),
        ("s3:GetObjectVersion", "RulesBucket/rules/*"),  # RulesStore's cold-container fallback
        ("s3:ListBucketVersions", "RulesBucket"),  # conditioned on s3:prefix rules/* (test below)
    },
    "NotifierFunction": {
        # Lambda's stream poller, with the function's role: on the table's stream only
        ("dynamodb:DescribeStream", "LeadsTable"),
        ("dynamodb:GetRecords", "LeadsTable"),
        ("dynamodb:GetShardIterator", "LeadsTable"),
        ("dynamodb:ListStreams", "LeadsTable/stream/*"),
        ("sns:Publish", "AlertsTopic"),
        ("events:PutEvents", "LeadEventsBus"),  # lead events (docs/events.md)
        ("dynamodb:UpdateItem", "LeadsTable"),
        ("sqs:SendMessage", "NotifierDLQ"),
    },
    "LeadsApiFunction": {
        ("dynamodb:GetItem", "LeadsTable"),
        ("dynamodb:BatchGetItem", "LeadsTable"),
        ("dynamodb:Query", "LeadsTable"),
        ("dynamodb:Query", "LeadsTable/index/hot"),
        ("dynamodb:Scan", "LeadsTable"),  # ?tier=cold: cold leads are not indexed
        ("dynamodb:PutItem", "LeadsTable"),
        ("dynamodb:BatchWriteItem", "LeadsTable"),  # the journal moving out with an adjustment's write
        ("s3:GetObject", "RulesBucket/rules/*"),
        ("s3:GetObjectVersion", "RulesBucket/rules/*"),  # RulesStore's cold-container fallback
        ("s3:ListBucketVersions", "RulesBucket"),  # conditioned on s3:prefix rules/* (test below)
    },
    "SweeperFunction": {
        ("sqs:SendMessage", "SweepQueue"),
        ("sqs:SendMessage", "AsyncFailuresDLQ"),  # Lambda sends a failed scheduled run there
    },
    "SweepWorkerFunction": {
        # Lambda's SQS poller, with the function's role: on its own queue only (no managed policy)
        ("sqs:ReceiveMessage", "SweepQueue"),
        ("sqs:DeleteMessage", "SweepQueue"),
        ("sqs:GetQueueAttributes", "SweepQueue"),
        ("dynamodb:Query", "LeadsTable/index/due"),
        ("dynamodb:GetItem", "LeadsTable"),
        ("dynamodb:Query", "LeadsTable"),
        ("dynamodb:PutItem", "LeadsTable"),
        ("dynamodb:BatchWriteItem", "LeadsTable"),
        ("dynamodb:Scan", "LeadsTable"),
        ("dynamodb:UpdateItem", "LeadsTable"),
        ("sns:Publish", "AlertsTopic"),
        ("events:PutEvents", "LeadEventsBus"),  # lead events (docs/events.md)
        ("sqs:SendMessage", "SweepQueue"),
        ("s3:GetObject", "RulesBucket/rules/*"),
        ("s3:GetObjectVersion", "RulesBucket/rules/*"),  # RulesStore's cold-container fallback
        ("s3:ListBucketVersions", "RulesBucket"),  # conditioned on s3:prefix rules/* (test below)
    },
    "ErasureFunction": {
        ("dynamodb:GetItem", "LeadsTable"),
        ("dynamodb:Query", "LeadsTable"),
        ("dynamodb:BatchWriteItem", "LeadsTable"),
        ("dynamodb:PutItem", "LeadsTable"),  # the tombstone
        ("sqs:ReceiveMessage", "EventsDLQ"),  # the person's dead letters, read through
        ("sqs:DeleteMessage", "EventsDLQ"),
        ("sqs:ChangeMessageVisibility", "EventsDLQ"),  # the others' made visible again
        ("sqs:GetQueueAttributes", "EventsDLQ"),
        ("sqs:SendMessage", "AsyncFailuresDLQ"),  # Lambda sends a failed asynchronous run there
        ("s3:GetObject", "RulesBucket/rules/*"),  # the accounts section: the erased lead's account follows
        ("s3:GetObjectVersion", "RulesBucket/rules/*"),  # RulesStore's cold-container fallback
        ("s3:ListBucketVersions", "RulesBucket"),  # conditioned on s3:prefix rules/*
    },
    # AWS-native sources: each relays to EventsQueue and may send nothing else anywhere.
    "ServerEventsFunction": {
        ("sqs:ReceiveMessage", "ServerEventsQueue"),  # Lambda's SQS poller, on its own queue only
        ("sqs:DeleteMessage", "ServerEventsQueue"),
        ("sqs:GetQueueAttributes", "ServerEventsQueue"),
        ("sqs:SendMessage", "EventsQueue"),
    },
    "SesEventsFunction": {
        ("sqs:SendMessage", "EventsQueue"),
        ("sqs:SendMessage", "AsyncFailuresDLQ"),  # Lambda sends a failed asynchronous run there
    },
    "CustomEventsFunction": {
        ("sqs:SendMessage", "EventsQueue"),
        ("sqs:SendMessage", "AsyncFailuresDLQ"),  # Lambda sends a failed asynchronous run there
    },
    "CrmSyncFunction": {
        # Lambda's stream and SQS pollers, with the function's role: the table's stream, its own queue
        ("dynamodb:DescribeStream", "LeadsTable"),
        ("dynamodb:GetRecords", "LeadsTable"),
        ("dynamodb:GetShardIterator", "LeadsTable"),
        ("dynamodb:ListStreams", "LeadsTable/stream/*"),
        ("sqs:ReceiveMessage", "CrmSyncRetryQueue"),
        ("sqs:DeleteMessage", "CrmSyncRetryQueue"),
        ("sqs:GetQueueAttributes", "CrmSyncRetryQueue"),
        ("dynamodb:GetItem", "LeadsTable"),  # a re-drive reads the lead's current item
        ("sqs:SendMessage", "CrmSyncRetryQueue"),
        ("sqs:SendMessage", "CrmSyncDLQ"),
        # + secretsmanager:GetSecretValue on each CRM's secret, in conditional policies (test_crm_sync.py)
    },
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
EXPECTED_MANAGED = {
    "IngestFunction": {BASIC, XRAY},
    # Their own roles: SAM's event-source managed policies (poller actions on "*") are not attached.
    "ScorerFunction": {BASIC, XRAY},
    "NotifierFunction": {BASIC, XRAY},
    "LeadsApiFunction": {BASIC, XRAY},
    "SweeperFunction": {BASIC, XRAY},
    "SweepWorkerFunction": {BASIC, XRAY},
    "ErasureFunction": {BASIC, XRAY},  # no trigger: invoked directly (lambda:InvokeFunction)
    "ServerEventsFunction": {BASIC, XRAY},  # its own role: no SQS poller policy on every queue
    "SesEventsFunction": {BASIC, XRAY},  # invoked by SNS through a resource policy, not a role
    "CustomEventsFunction": {BASIC, XRAY},  # invoked by EventBridge through a resource policy
    "CrmSyncFunction": {BASIC, XRAY},  # its own role: no poller policy on every stream or queue
}


@pytest.fixture(scope="module")
def tr():
    return translate(TEMPLATE)


@pytest.fixture(scope="module")
def res(tr):
    return tr.resources


def _ref(value: Any) -> str:
    """A resource reference as text: GetAtt X.Arn / Ref X -> "X"; Sub "${X.Arn}/a/*" -> "X/a/*"."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return re.sub(r"\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}", r"\1", text)
    return json.dumps(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role(res: dict[str, Any], function: str) -> dict[str, Any]:
    role: dict[str, Any] = res[res[function]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    return role


def _managed(res: dict[str, Any], function: str) -> set[str]:
    """The role's managed policy ARNs, in the aws partition."""
    arns = _role(res, function).get("ManagedPolicyArns", [])
    return {a["Fn::Sub"].replace("${AWS::Partition}", "aws") if isinstance(a, dict) else a for a in arns}


def _inline_statements(res: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = _role(res, function)
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


# ---------------------------------------------------------------------------------------------- runtime
def test_layer_runtime_matches_function_runtime(tr, res):
    layer = tr.resource("SharedLayer")
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    runtimes = {res[f]["Properties"]["Runtime"] for f in FUNCTIONS}
    assert runtimes == {"python3.13"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    # Built by shared/Makefile, which installs for python3.13 and compiles .pyc (see the template).
    assert tr.sam["Resources"]["SharedLayer"]["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "shared" / "Makefile").read_text()
    assert "--python-version 3.13" in makefile and "compileall" in makefile
    for function in FUNCTIONS:
        props = res[function]["Properties"]
        assert props["Layers"] == [{"Ref": tr.aliases["SharedLayer"]}]
        assert props["Architectures"] == ["x86_64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] == 512
        timeouts = {
            "SweepWorkerFunction": 120,
            "ScorerFunction": 60,
            "ErasureFunction": 600,
            "CrmSyncFunction": 60,
        }
        assert props["Timeout"] == timeouts.get(function, 30)


def test_every_handler_is_a_module_of_the_repository(tr):
    for function in FUNCTIONS:
        spec = tr.functions[function]
        assert spec.handler == "app.lambda_handler"
        assert (ROOT / spec.code_uri / "app.py").is_file(), spec.code_uri
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", function.removesuffix("Function")).lower()
        assert spec.module == f"functions.{snake}.app"


# ---------------------------------------------------------------------------------------------- state
def test_rules_bucket_is_versioned_encrypted_private_and_tls_only(res):
    bucket = res["RulesBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}

    policy = res["RulesBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "RulesBucket"}
    denies = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 1
    deny = denies[0]
    assert deny["Principal"] == "*"
    assert deny["Action"] in ("s3:*", ["s3:*"])
    assert {_ref(r) for r in _as_list(deny["Resource"])} == {"RulesBucket", "RulesBucket/*"}


def test_leads_table_encryption_recovery_stream_ttl_and_indexes(res):
    table = res["LeadsTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"pk": "S", "sk": "S", "hot_pk": "S", "score": "N", "due_pk": "S", "due_at": "N"}
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"hot", "due"}
    assert indexes["hot"]["KeySchema"] == [
        {"AttributeName": "hot_pk", "KeyType": "HASH"},
        {"AttributeName": "score", "KeyType": "RANGE"},
    ]
    assert indexes["hot"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}  # no copy of each write
    assert indexes["due"]["KeySchema"] == [
        {"AttributeName": "due_pk", "KeyType": "HASH"},
        {"AttributeName": "due_at", "KeyType": "RANGE"},
    ]
    assert indexes["due"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_queues_are_encrypted_and_events_queue_redrives_to_its_dlq(tr, res):
    queues = tr.of_type("AWS::SQS::Queue")
    assert set(queues) == {
        "EventsQueue",
        "EventsDLQ",
        "NotifierDLQ",
        "SweepQueue",
        "SweepDLQ",
        "AsyncFailuresDLQ",
        "ImportsQueue",  # list imports: S3 notifications and continuations (test_list_import.py)
        "ImportsDLQ",
        "ServerEventsQueue",
        "ServerEventsDLQ",
        "CrmSyncRetryQueue",  # CRM writes to retry: {lead_id, crm}, re-read when received
        "CrmSyncDLQ",
    }
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
    events = res["EventsQueue"]["Properties"]
    assert events["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDLQ", "Arn"]},
        "maxReceiveCount": 5,
    }
    scorer_timeout = res["ScorerFunction"]["Properties"]["Timeout"]
    assert events["VisibilityTimeout"] == 6 * scorer_timeout == 360
    assert res["EventsDLQ"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    jobs = res["SweepQueue"]["Properties"]
    assert jobs["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SweepDLQ", "Arn"]}
    assert jobs["VisibilityTimeout"] == 6 * res["SweepWorkerFunction"]["Properties"]["Timeout"]
    for function in ("SweeperFunction", "ErasureFunction"):  # invoked asynchronously: failures are kept
        target = res[function]["Properties"]["DeadLetterConfig"]["TargetArn"]
        assert target == {"Fn::GetAtt": ["AsyncFailuresDLQ", "Arn"]}, function


def test_alerts_topic_is_encrypted_and_email_subscription_is_optional(tr, res):
    assert res["AlertsTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    subscription = res["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlertsTopic"}
    assert tr.cfn["Conditions"]["HasAlertEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}


# ---------------------------------------------------------------------------------------------- triggers
def test_scorer_reads_events_queue_in_batches_with_partial_failures(tr):
    (mapping,) = [m for m in tr.mappings if m.function == "ScorerFunction"]
    assert (mapping.kind, mapping.source) == ("sqs", "EventsQueue")
    assert mapping.batch_size == 2000  # coalescing: see bench/aws_calls.py
    assert 1 <= mapping.properties["MaximumBatchingWindowInSeconds"] <= 20  # alerts stay prompt
    assert mapping.properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_notifier_reads_filtered_stream_with_retries_and_dlq(tr):
    (mapping,) = [m for m in tr.mappings if m.function == "NotifierFunction"]
    assert (mapping.kind, mapping.source) == ("dynamodb", "LeadsTable")
    props = mapping.properties
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["LeadsTable", "StreamArn"]}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert mapping.batch_size == 10
    assert mapping.maximum_retry_attempts == 20
    assert props["BisectBatchOnFunctionError"] is True
    assert mapping.reports_item_failures
    # alert_pending: the String Set of pending alert ids (leadscore.dal.leads.to_item), absent when none.
    assert mapping.filters == [{"dynamodb": {"NewImage": {"alert_pending": {"SS": [{"exists": True}]}}}}]
    pending = {
        "dynamodb": {"NewImage": {"pk": {"S": "LEAD#x"}, "alert_pending": {"SS": ["x/sales_ready-1"]}}}
    }
    settled = {"dynamodb": {"NewImage": {"pk": {"S": "LEAD#x"}}}}
    assert passes_filters(pending, mapping.filters)
    assert not passes_filters(settled, mapping.filters)
    assert mapping.on_failure == "NotifierDLQ"


def test_http_api_routes_cors_and_throttling(tr, res):
    assert {(r.method, r.path, r.function) for r in tr.routes} == {
        ("POST", "/forms", "IngestFunction"),
        ("POST", "/track", "IngestFunction"),
        ("POST", "/webhooks/{provider}", "IngestFunction"),
        ("GET", "/webhooks/{provider}", "IngestFunction"),
        ("HEAD", "/webhooks/{provider}", "IngestFunction"),
    } | {(method, path, "LeadsApiFunction") for method, path in LEADS_ROUTES}
    body = res["LeadscoreApi"]["Properties"]["Body"]
    assert set(body["paths"]) == {"/forms", "/track", "/webhooks/{provider}"} | {p for _, p in LEADS_ROUTES}
    for path in body["paths"].values():
        for operation in path.values():
            assert operation["x-amazon-apigateway-integration"]["payloadFormatVersion"] == "2.0"
    assert body["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://example.com"]
    stage = res["LeadscoreApiApiGatewayDefaultStage"]["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
    }


def test_every_leads_route_requires_iam_auth_and_ingest_routes_do_not(tr, res):
    paths = res["LeadscoreApi"]["Properties"]["Body"]["paths"]
    security = {
        (method.upper(), path): operation.get("security")
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    for route in LEADS_ROUTES:
        assert security[route] == [{"AWS_IAM": []}], route
    for route, value in security.items():
        if route not in LEADS_ROUTES:
            assert value is None, route  # forms, tracking and signed webhooks stay public
    schemes = res["LeadscoreApi"]["Properties"]["Body"]["components"]["securitySchemes"]
    assert schemes["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    # As written in template.yaml, and as the local stack reads it (it refuses unsigned requests).
    events = tr.sam["Resources"]["LeadsApiFunction"]["Properties"]["Events"]
    assert {e["Properties"]["Auth"]["Authorizer"] for e in events.values()} == {"AWS_IAM"}
    assert {(r.method, r.path) for r in tr.routes if r.auth == "AWS_IAM"} == LEADS_ROUTES


def test_sweeper_runs_on_the_sweep_schedule(tr, res):
    rules = tr.of_type("AWS::Events::Rule")
    assert set(rules) == {"SweeperFunctionSweep", "CustomEventsFunctionCustom"}  # + the custom events rule
    rule = rules["SweeperFunctionSweep"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert rule["State"] == "ENABLED"
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": ["SweeperFunction", "Arn"]}]
    permission = res["SweeperFunctionSweepPermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["SweeperFunctionSweep", "Arn"]}
    assert tr.sam["Parameters"]["SweepSchedule"]["Default"] == "rate(5 minutes)"
    (mapping,) = [m for m in tr.mappings if m.function == "SweepWorkerFunction"]
    assert mapping.source == "SweepQueue" and mapping.batch_size == 1
    assert translate(TEMPLATE, {"SweepSchedule": "rate(15 minutes)"}).parameters["SweepSchedule"] == (
        "rate(15 minutes)"
    )


def test_enterprise_alerts_subscription_is_an_optional_filtered_example(tr, res):
    assert "EnterpriseAlertsSubscription" in res  # conditional: created only with an address
    subscription = res["EnterpriseAlertsSubscription"]
    assert subscription["Condition"] == "HasEnterpriseAlertsEmail"
    props = subscription["Properties"]
    assert props["TopicArn"] == {"Ref": "AlertsTopic"}
    assert props["Endpoint"] == {"Ref": "EnterpriseAlertsEmail"}
    assert props["FilterPolicyScope"] == "MessageAttributes"
    assert props["FilterPolicy"] == {
        "grade": [{"prefix": "A"}],
        "top_category": [{"Ref": "EnterpriseAlertsCategory"}],
    }
    assert tr.cfn["Conditions"]["HasEnterpriseAlertsEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "EnterpriseAlertsEmail"}, ""]}]
    }


def test_allowed_origins_parameter_becomes_the_cors_origin_list():
    tr = translate(TEMPLATE, {"AllowedOrigins": "https://a.example, https://b.example"})
    cors = tr.resources["LeadscoreApi"]["Properties"]["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == ["https://a.example", "https://b.example"]


# ---------------------------------------------------------------------------------------------- IAM
@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_policies_are_exactly_least_privilege(res, function):
    pairs = set()
    for statement in _inline_statements(res, function):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            assert "*" not in action, action
            for resource in _as_list(statement["Resource"]):
                assert resource != "*"
                pairs.add((action, _ref(resource)))
    assert pairs == EXPECTED_ACTIONS[function]
    assert _managed(res, function) == EXPECTED_MANAGED[function]


def test_listing_rules_versions_is_limited_to_the_rules_prefix(res):
    """The fallback to an older rules version lists the key's versions: never the whole bucket."""
    readers = ("ScorerFunction", "LeadsApiFunction", "SweepWorkerFunction")
    for function in readers:
        listing = [s for s in _inline_statements(res, function) if s["Action"] == "s3:ListBucketVersions"]
        assert [s["Condition"] for s in listing] == [{"StringLike": {"s3:prefix": "rules/*"}}], function
        env = res[function]["Properties"]["Environment"]["Variables"]
        assert env["RULES_KEY"].startswith("rules/")  # the prefix the store lists is allowed


# ---------------------------------------------------------------------------------------------- environment
def test_function_environment_names_are_known_settings(res):
    """Every variable the template sets is one the code reads: a Settings alias, or one of the
    variables leadscore.ingest.config documents (ingest's own, e.g. the SendGrid keys)."""
    settings = {f.alias for f in Settings.model_fields.values() if f.alias}
    ingest = {getattr(ingest_config, n) for n in dir(ingest_config) if n.endswith("_ENV")}
    ingest |= _provider_variables()
    for function in FUNCTIONS:
        names = set(res[function]["Properties"]["Environment"]["Variables"])
        allowed = settings | {"LOG_LEVEL"} | (ingest if function == "IngestFunction" else set())
        unknown = {n for n in names if n not in allowed and not n.startswith("POWERTOOLS_")}
        assert not unknown, f"{function}: {sorted(unknown)} are not variables leadscore reads"


def _provider_variables() -> set[str]:
    """What each provider module reads: its secret (deployed: ``<NAME>_PARAM``) and plain settings."""
    import importlib
    import pkgutil

    import leadscore.ingest.providers as providers

    names: set[str] = set()
    for info in pkgutil.iter_modules(providers.__path__):
        module = importlib.import_module(f"leadscore.ingest.providers.{info.name}")
        for attr, value in vars(module).items():
            if attr == "CREDENTIAL_VARIABLE":
                names |= {value, f"{value}_PARAM"}
            elif attr.endswith("_SETTING") and isinstance(value, str):
                names.add(value)
    return names


def test_every_provider_secret_is_wired_to_a_parameter_not_a_value(res):
    variables = res["IngestFunction"]["Properties"]["Environment"]["Variables"]
    secrets = {n for n in _provider_variables() if n.endswith("_PARAM")}
    assert secrets <= set(variables)
    for name in secrets:  # the template names where the secret lives; it never holds the secret
        assert set(variables[name]) == {"Ref"}, name


def test_unsigned_webhooks_are_never_allowed_by_the_template(res):
    for function in FUNCTIONS:
        assert ingest_config.ALLOW_UNSIGNED_ENV not in res[function]["Properties"]["Environment"]["Variables"]


def test_function_environments_match_the_architecture(res):
    env = {f: res[f]["Properties"]["Environment"]["Variables"] for f in FUNCTIONS}
    common = {
        "POWERTOOLS_SERVICE_NAME": "leadscore",
        "POWERTOOLS_METRICS_NAMESPACE": "Leadscore",
        "LOG_LEVEL": {"Ref": "LogLevel"},
    }
    for variables in env.values():
        assert common.items() <= variables.items()
    assert env["IngestFunction"]["EVENTS_QUEUE_URL"] == {"Ref": "EventsQueue"}
    assert env["IngestFunction"]["MAX_BODY_BYTES"] == "262144"
    assert env["IngestFunction"]["SENDGRID_WEBHOOK_PUBLIC_KEYS"] == {"Ref": "SendgridWebhookPublicKeys"}
    assert env["ScorerFunction"] == {
        **common,
        "LEADS_TABLE": {"Ref": "LeadsTable"},
        "RULES_BUCKET": {"Ref": "RulesBucket"},
        "RULES_KEY": "rules/current.json",
        "RULES_REFRESH_SECONDS": {"Ref": "RulesRefreshSeconds"},
        "SALES_READY_THRESHOLD": {"Ref": "SalesReadyThreshold"},
        "HISTORY_TTL_DAYS": {"Ref": "HistoryRetentionDays"},
    }
    assert env["NotifierFunction"] == {
        **common,
        "ALERTS_TOPIC_ARN": {"Ref": "AlertsTopic"},
        "LEADS_TABLE": {"Ref": "LeadsTable"},
        "LEAD_EVENTS_BUS": {"Fn::GetAtt": ["LeadEventsBus", "Name"]},
        "LEAD_URL_TEMPLATE": {"Ref": "LeadUrlTemplate"},
    }
    reader = {
        **common,
        "LEADS_TABLE": {"Ref": "LeadsTable"},
        "RULES_BUCKET": {"Ref": "RulesBucket"},
        "RULES_KEY": "rules/current.json",
        "RULES_REFRESH_SECONDS": {"Ref": "RulesRefreshSeconds"},
        "SALES_READY_THRESHOLD": {"Ref": "SalesReadyThreshold"},
    }
    assert env["LeadsApiFunction"] == reader
    jobs = {"SWEEP_QUEUE_URL": {"Ref": "SweepQueue"}}
    assert env["SweeperFunction"] == {**common, "LEADS_TABLE": {"Ref": "LeadsTable"}, **jobs}
    assert env["SweepWorkerFunction"] == {
        **reader,
        **jobs,
        "ALERTS_TOPIC_ARN": {"Ref": "AlertsTopic"},
        "LEAD_EVENTS_BUS": {"Fn::GetAtt": ["LeadEventsBus", "Name"]},  # and lead events
        "LEAD_URL_TEMPLATE": {"Ref": "LeadUrlTemplate"},  # it re-drives alerts
    }
    assert env["ErasureFunction"] == {
        **common,
        "LEADS_TABLE": {"Ref": "LeadsTable"},
        "EVENTS_DLQ_URL": {"Ref": "EventsDLQ"},
        "RULES_BUCKET": {"Ref": "RulesBucket"},  # the erased lead's account is recomputed
        "RULES_KEY": "rules/current.json",
        "RULES_REFRESH_SECONDS": {"Ref": "RulesRefreshSeconds"},
    }
    for relay in ("ServerEventsFunction", "SesEventsFunction", "CustomEventsFunction"):
        assert env[relay] == {**common, "EVENTS_QUEUE_URL": {"Ref": "EventsQueue"}}, relay


def test_outputs(tr):
    assert set(tr.cfn["Outputs"]) == {
        "ApiUrl",
        "LeadsTableName",
        "RulesBucketName",
        "AlertsTopicArn",
        "EventsQueueUrl",
        "EventsDLQUrl",
        "NotifierDLQUrl",
        "SweepQueueUrl",
        "IngestFunctionUrlEndpoint",
        "ImportsBucketName",
        "ServerEventsQueueUrl",
        "ServerEventsQueueArn",
        "LeadEventsBusName",
        "CrmSyncDLQUrl",
        "CrmSyncRetryQueueUrl",
    }


def test_parameters_and_defaults(tr):
    params = tr.sam["Parameters"]
    defaults = {name: spec.get("Default") for name, spec in params.items()}
    assert defaults == {
        "SalesReadyThreshold": 100,
        "AlertEmail": "",
        "RulesRefreshSeconds": 60,
        "AllowedOrigins": "https://example.com",
        "LogLevel": "INFO",
        "HistoryRetentionDays": 400,
        "ApiThrottleRateLimit": 50,
        "ApiThrottleBurstLimit": 100,
        "SendgridWebhookPublicKeys": "",
        "ApiAccessLogs": "false",
        "SweepSchedule": "rate(5 minutes)",
        "IngestFunctionUrl": "false",
        "EnterpriseAlertsEmail": "",
        "EnterpriseAlertsCategory": "buying-signal",
        "SesEventsTopicArn": "",  # no subscription unless set
        "CustomEventBusName": "default",
        "CustomEventSources": "leadscore.custom",
        "LeadUrlTemplate": "",  # no link in alerts until set
        # CRM write-back: each CRM off until its secret is set (docs/connect.md, "CRM write-back").
        "HubSpotTokenSecretArn": "",
        "SalesforceSecretArn": "",
        "SalesforceObject": "Lead",
        "CrmRequestsPer10Seconds": 50,
        # Where each provider's secret lives (SSM / Secrets Manager); empty = that provider is off (401).
        **dict.fromkeys(
            (
                "TypeformSecretParam",
                "HubspotClientSecretParam",
                "TallySigningSecretParam",
                "WebflowSecretParam",
                "MailgunSigningKeyParam",
                "PostmarkBasicAuthParam",
                "MailchimpWebhookKeyParam",
                "MandrillWebhookKeyParam",
                "BrevoWebhookTokenParam",
                "SalesforceWebhookKeyParam",
                "SesSnsTopicArns",
                "HubspotWebhookBaseUrl",
                "MandrillWebhookUrl",
                "FormRedirectUrls",
            ),
            "",
        ),
    }
    assert params["AllowedOrigins"]["Type"] == "CommaDelimitedList"


def test_env_json_only_overrides_variables_the_template_declares(res):
    """`sam local invoke -n env.json` silently ignores variables a function does not declare."""
    env_file = json.loads((ROOT / "env.json").read_text())
    for key, variables in env_file.items():
        if key.startswith("_"):
            continue
        if key == "Parameters":
            declared = set().union(*(res[f]["Properties"]["Environment"]["Variables"] for f in FUNCTIONS))
        else:
            assert key in FUNCTIONS, key
            declared = set(res[key]["Properties"]["Environment"]["Variables"])
        assert set(variables) <= declared, (key, sorted(set(variables) - declared))
        assert all(isinstance(v, str) for v in variables.values())
