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

FUNCTIONS = ("IngestFunction", "ScorerFunction", "NotifierFunction")

# Each function's inline IAM statements as (action, resource) pairs, resources by logical id.
# Exact sets: a broadened action or resource fails here.
EXPECTED_ACTIONS = {
    "IngestFunction": {("sqs:SendMessage", "EventsQueue")},
    "ScorerFunction": {
        ("dynamodb:UpdateItem", "LeadsTable"),
        ("dynamodb:PutItem", "LeadsTable"),
        ("dynamodb:BatchWriteItem", "LeadsTable"),
        ("dynamodb:Query", "LeadsTable"),
        ("s3:GetObject", "RulesBucket/rules/*"),
        ("s3:GetObjectVersion", "RulesBucket/rules/*"),
    },
    "NotifierFunction": {
        ("sns:Publish", "AlertsTopic"),
        ("dynamodb:UpdateItem", "LeadsTable"),
        ("sqs:SendMessage", "NotifierDLQ"),
    },
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
EXPECTED_MANAGED = {
    "IngestFunction": {BASIC, XRAY},
    "ScorerFunction": {BASIC, XRAY, "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"},
    "NotifierFunction": {BASIC, XRAY, "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"},
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


def _inline_statements(res: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = res[f"{function}Role"]["Properties"]
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


# ---------------------------------------------------------------------------------------------- runtime
def test_layer_runtime_matches_function_runtime(tr, res):
    layer = tr.resource("SharedLayer")
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    runtimes = {res[f]["Properties"]["Runtime"] for f in FUNCTIONS}
    assert runtimes == {"python3.13"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert tr.sam["Resources"]["SharedLayer"]["Metadata"]["BuildMethod"] == "python3.13"
    for function in FUNCTIONS:
        props = res[function]["Properties"]
        assert props["Layers"] == [{"Ref": tr.aliases["SharedLayer"]}]
        assert props["Architectures"] == ["x86_64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] == 512
        assert props["Timeout"] == 30


def test_every_handler_is_a_module_of_the_repository(tr):
    for function in FUNCTIONS:
        spec = tr.functions[function]
        assert spec.handler == "app.lambda_handler"
        assert (ROOT / spec.code_uri / "app.py").is_file(), spec.code_uri
        assert spec.module == f"functions.{function.removesuffix('Function').lower()}.app"


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
    assert indexes["hot"]["Projection"] == {"ProjectionType": "ALL"}
    assert indexes["due"]["KeySchema"] == [
        {"AttributeName": "due_pk", "KeyType": "HASH"},
        {"AttributeName": "due_at", "KeyType": "RANGE"},
    ]
    assert indexes["due"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_queues_are_encrypted_and_events_queue_redrives_to_its_dlq(tr, res):
    queues = tr.of_type("AWS::SQS::Queue")
    assert set(queues) == {"EventsQueue", "EventsDLQ", "NotifierDLQ"}
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
    events = res["EventsQueue"]["Properties"]
    assert events["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDLQ", "Arn"]},
        "maxReceiveCount": 5,
    }
    scorer_timeout = res["ScorerFunction"]["Properties"]["Timeout"]
    assert events["VisibilityTimeout"] == 6 * scorer_timeout == 180
    assert res["EventsDLQ"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


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
    assert mapping.batch_size == 100
    assert mapping.properties["MaximumBatchingWindowInSeconds"] == 5
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
    }
    body = res["LeadscoreApi"]["Properties"]["Body"]
    assert set(body["paths"]) == {"/forms", "/track", "/webhooks/{provider}"}
    for path in body["paths"].values():
        assert path["post"]["x-amazon-apigateway-integration"]["payloadFormatVersion"] == "2.0"
    assert body["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://example.com"]
    stage = res["LeadscoreApiApiGatewayDefaultStage"]["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
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
    assert set(res[f"{function}Role"]["Properties"]["ManagedPolicyArns"]) == EXPECTED_MANAGED[function]


# ---------------------------------------------------------------------------------------------- environment
def test_function_environment_names_are_known_settings(res):
    """Every variable the template sets is one the code reads: a Settings alias, or one of the
    variables leadscore.ingest.config documents (ingest's own, e.g. the SendGrid keys)."""
    settings = {f.alias for f in Settings.model_fields.values() if f.alias}
    ingest = {getattr(ingest_config, n) for n in dir(ingest_config) if n.endswith("_ENV")}
    for function in FUNCTIONS:
        names = set(res[function]["Properties"]["Environment"]["Variables"])
        allowed = settings | {"LOG_LEVEL"} | (ingest if function == "IngestFunction" else set())
        unknown = {n for n in names if n not in allowed and not n.startswith("POWERTOOLS_")}
        assert not unknown, f"{function}: {sorted(unknown)} are not variables leadscore reads"


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
    }


def test_outputs(tr):
    assert set(tr.cfn["Outputs"]) == {
        "ApiUrl",
        "LeadsTableName",
        "RulesBucketName",
        "AlertsTopicArn",
        "EventsQueueUrl",
        "EventsDLQUrl",
        "NotifierDLQUrl",
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
