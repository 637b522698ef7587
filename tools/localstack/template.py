"""template.yaml → CloudFormation, offline, with aws-sam-translator; and what the stack needs to know
about it (functions and their handler modules, HTTP routes, event source mappings).

The translation is cached per template file content and parameter values, so a test session pays for
it once; every caller gets its own deep copy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.localstack.events import Route, parse_filters

ARTIFACTS_BUCKET = "leadscore-local-artifacts"
ARTIFACT_KEY = "code.zip"
REGION = "us-east-1"

ESM_TYPE = "AWS::Lambda::EventSourceMapping"
# Resource types moto's CloudFormation does not implement: the engine leaves them out (and warns about none).
UNSUPPORTED_TYPES = frozenset(
    {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"}
)


class TemplateError(Exception):
    """The template cannot be used by the local stack (a missing handler, an unknown reference...)."""


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the template and where its code lives in this repository."""

    logical_id: str
    code_uri: str  # e.g. functions/scorer/
    handler: str  # e.g. app.lambda_handler
    timeout: int
    memory: int

    @property
    def module(self) -> str:
        """Full dotted module name, e.g. ``functions.scorer.app``."""
        package = ".".join(
            p for p in self.code_uri.strip("/").replace("\\", "/").split("/") if p not in ("", ".")
        )
        module = self.handler.rsplit(".", 1)[0]
        return f"{package}.{module}" if package else module

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class SourceMapping:
    """A dropped ``AWS::Lambda::EventSourceMapping``: which function a queue or stream feeds, and how."""

    logical_id: str
    function: str  # function logical id
    source: str  # logical id of the queue (kind "sqs") or table (kind "dynamodb")
    kind: str  # "sqs" | "dynamodb"
    batch_size: int
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def filters(self) -> list[dict[str, Any]]:
        return parse_filters(self.properties.get("FilterCriteria"))

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.properties.get("FunctionResponseTypes") or [])

    @property
    def maximum_retry_attempts(self) -> int:
        value = self.properties.get("MaximumRetryAttempts", -1)
        return int(value) if isinstance(value, int | str) else -1

    @property
    def on_failure(self) -> str | None:
        """Logical id of the OnFailure destination (a queue or topic), if any."""
        dest = ((self.properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return _logical_ref(dest)


@dataclass
class Translation:
    """A translated template and the facts the local stack derives from it."""

    sam: dict[str, Any]  # the template as written (parsed)
    cfn: dict[str, Any]  # the full CloudFormation translation, event source mappings included
    parameters: dict[str, Any]  # parameter values used (defaults + overrides)
    functions: dict[str, FunctionSpec]
    routes: list[Route]
    mappings: list[SourceMapping]
    aliases: dict[str, str]  # SAM logical id → CloudFormation logical id when SAM renamed it (layers)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.cfn["Resources"]
        return resources

    def resource(self, logical_id: str) -> dict[str, Any]:
        """A translated resource by logical id (SAM's name for a renamed layer works too)."""
        found: dict[str, Any] = self.resources[self.aliases.get(logical_id, logical_id)]
        return found

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == type_name}

    def deployable(self) -> dict[str, Any]:
        """A copy for moto: no event source mappings, nothing moto cannot create."""
        template = copy.deepcopy(self.cfn)
        template["Resources"] = {
            k: v
            for k, v in template["Resources"].items()
            if v.get("Type") != ESM_TYPE and v.get("Type") not in UNSUPPORTED_TYPES
        }
        return template


class _NoManagedPolicies:
    """Managed-policy loader for offline translation: every policy this template names is an ARN."""

    def load(self) -> dict[str, str]:
        return {}


_cache: dict[tuple[str, str], Translation] = {}
_cache_lock = threading.Lock()


def translate(template_path: str | Path, overrides: dict[str, Any] | None = None) -> Translation:
    """Translate ``template_path`` with the given parameter overrides (cached; returns a fresh copy)."""
    path = Path(template_path).resolve()
    text = path.read_text()
    key = (
        hashlib.sha256(text.encode()).hexdigest(),
        json.dumps(overrides or {}, sort_keys=True, default=str),
    )
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _translate(text, overrides or {})
        return copy.deepcopy(_cache[key])


def _translate(text: str, overrides: dict[str, Any]) -> Translation:
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    sam: dict[str, Any] = yaml_parse(text)
    work = copy.deepcopy(sam)
    functions = _functions(work)
    routes = _routes(work)
    _point_code_at_artifact(work)

    parameters = _parameter_values(work, overrides)
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    translator = Translator(None, Parser(), boto_session=session)
    policies = _NoManagedPolicies()
    cfn: dict[str, Any] = translator.translate(
        work, parameter_values=dict(parameters), get_managed_policy_map=policies.load
    )
    translator.metrics.publish()  # offline: publishes nowhere, and silences "unpublished metrics"
    cfn = json.loads(json.dumps(cfn, default=str))

    aliases = {}
    for sam_id, resource in sam.get("Resources", {}).items():
        if sam_id not in cfn["Resources"] and resource.get("Type") == "AWS::Serverless::LayerVersion":
            renamed = [
                k
                for k, v in cfn["Resources"].items()
                if k.startswith(sam_id) and v["Type"].endswith("Version")
            ]
            if len(renamed) == 1:
                aliases[sam_id] = renamed[0]
    mappings = [m for m in _mappings(cfn) if _enabled(m.properties.get("Enabled", True), cfn, parameters)]
    return Translation(sam, cfn, parameters, functions, routes, mappings, aliases)


def _parameter_values(template: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults plus overrides, typed as CloudFormation hands them to the SAM transform (lists for lists)."""
    values: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        value = overrides.get(name, spec.get("Default"))
        if value is None:
            continue
        if str(spec.get("Type", "")).startswith(("CommaDelimitedList", "List<")) and isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        values[name] = value
    values["AWS::Region"] = REGION
    return values


def _functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    found = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri", globals_.get("CodeUri"))
        handler = props.get("Handler", globals_.get("Handler"))
        if not isinstance(code_uri, str) or code_uri.startswith("s3://") or not isinstance(handler, str):
            continue  # not local code: cannot be run in-process
        found[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=code_uri,
            handler=handler,
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        )
    return found


def _routes(template: dict[str, Any]) -> list[Route]:
    resources = template.get("Resources") or {}
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            path = props.get("Path", "$default")
            method = str(props.get("Method", "ANY")).upper()
            api = _logical_ref(props.get("ApiId")) or ""
            api_auth = ((resources.get(api) or {}).get("Properties") or {}).get("Auth") or {}
            authorizer = (props.get("Auth") or {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
            auth = "" if authorizer in (None, "NONE") else str(authorizer)
            routes.append(Route(method=method, path=path, function=logical_id, api=api, auth=auth))
    return routes


def _point_code_at_artifact(template: dict[str, Any]) -> None:
    uri = f"s3://{ARTIFACTS_BUCKET}/{ARTIFACT_KEY}"
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    if isinstance(globals_.get("CodeUri"), str):
        globals_["CodeUri"] = uri
    for resource in (template.get("Resources") or {}).values():
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = uri


def _mappings(cfn: dict[str, Any]) -> list[SourceMapping]:
    found = []
    for logical_id, resource in cfn["Resources"].items():
        if resource.get("Type") != ESM_TYPE:
            continue
        props = resource.get("Properties") or {}
        function = _logical_ref(props.get("FunctionName"))
        source_ref = props.get("EventSourceArn")
        source = _logical_ref(source_ref)
        if function is None or source is None:
            raise TemplateError(f"{logical_id}: cannot tell which function and source it connects")
        kind_by_type = {"AWS::SQS::Queue": "sqs", "AWS::DynamoDB::Table": "dynamodb"}
        kind = kind_by_type.get(cfn["Resources"].get(source, {}).get("Type", ""))
        if kind is None:
            continue  # Kinesis, MSK...: not emulated
        default_batch = 10 if kind == "sqs" else 100
        found.append(
            SourceMapping(
                logical_id=logical_id,
                function=function,
                source=source,
                kind=kind,
                batch_size=int(props.get("BatchSize", default_batch)),
                properties=props,
            )
        )
    return found


def _enabled(value: Any, cfn: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """An event source mapping's ``Enabled``: a boolean, or ``Fn::If`` on a template condition."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        return _enabled(when_true if condition(name, cfn, parameters) else when_false, cfn, parameters)
    return value not in (False, "false", "False")


def condition(name: str, cfn: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """Evaluate the template condition ``name`` with these parameter values."""
    return bool(_evaluate(cfn.get("Conditions", {})[name], cfn, parameters))


def _evaluate(expr: Any, cfn: dict[str, Any], parameters: dict[str, Any]) -> Any:
    if not isinstance(expr, dict) or len(expr) != 1:
        return expr
    ((fn, args),) = expr.items()
    if fn == "Ref":
        value = parameters.get(args, args)
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)
    if fn == "Condition":
        return condition(args, cfn, parameters)
    values = [_evaluate(a, cfn, parameters) for a in args]
    if fn == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if fn == "Fn::Not":
        return not values[0]
    if fn == "Fn::Or":
        return any(values)
    if fn == "Fn::And":
        return all(values)
    raise TemplateError(f"condition function {fn} is not emulated")


def _logical_ref(value: Any) -> str | None:
    """The logical id behind ``{"Ref": X}`` or ``{"Fn::GetAtt": [X, attr]}`` (or "X.attr")."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
    return None
