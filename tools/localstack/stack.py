"""The local stack: template.yaml created in moto, handlers run in-process, event sources emulated.

Works the same in-process (under ``moto.mock_aws()``, for tests) and against a moto server (pass
``endpoint_url``, or set ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_DYNAMODB_STREAMS``).

moto never runs Lambda code, so the engine plays Lambda's part:
- ``invoke`` runs a handler with exactly its function's environment, one invocation at a time;
- ``pump_queue`` / ``pump_stream`` / ``drain`` replace the event source mappings the template declares
  (dropped before moto sees them), with batch sizes, partial batch failures, filters and DLQs;
- ``inbox`` mirrors the SNS topics into an SQS queue (moto skips subscriptions made by CloudFormation).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tools.localstack import speedups
from tools.localstack.caches import reset_caches
from tools.localstack.context import LambdaContext
from tools.localstack.events import (
    ACCOUNT_ID,
    Route,
    http_event,
    iam_authorizer,
    match_route,
    matches_pattern,
    passes_filters,
    sqs_event,
    stream_event,
    stream_record,
)
from tools.localstack.template import (
    ARTIFACT_KEY,
    ARTIFACTS_BUCKET,
    REGION,
    SourceMapping,
    TemplateError,
    Translation,
    translate,
)

speedups.apply()

INBOX_QUEUE = "leadscore-local-inbox"
LEAD_EVENTS_INBOX = "leadscore-local-lead-events"  # a rule on each bus of the template drains here
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class StackError(Exception):
    """The stack could not be created, or a logical id is not part of it."""


@dataclass
class PumpResult:
    """What one pump did: one batch handed to one function (or nothing)."""

    function: str
    source: str
    records: int = 0
    failed: int = 0
    to_dlq: int = 0
    errors: list[str] = field(default_factory=list)
    result: Any = None

    def __bool__(self) -> bool:
        return self.records > 0 or self.to_dlq > 0


@dataclass
class _StreamState:
    mapping: SourceMapping
    stream_arn: str
    iterators: dict[str, str | None]
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    limit: int = 0  # current batch size (halved by BisectBatchOnFunctionError)


class Stack:
    """A template.yaml stack in moto. Create it with :meth:`Stack.create`."""

    def __init__(
        self,
        translation: Translation,
        name: str,
        root: Path,
        *,
        endpoint_url: str | None = None,
        handler_output: TextIO | None = None,
    ) -> None:
        self.translation = translation
        self.name = name
        self.root = root
        self.region = REGION
        self.endpoint_url = endpoint_url
        self.handler_output = handler_output
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._physical: dict[str, str] = {}
        self._types: dict[str, str] = {}
        self._env: dict[str, dict[str, str]] = {}
        self._arns: dict[str, str] = {}
        self._outputs: dict[str, str] = {}
        self._api_ids: dict[str, str] = {}
        self._streams: dict[str, _StreamState] = {}
        self._inbox_url = ""
        self._lead_events_url = ""

    # ------------------------------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        template: str | Path = "template.yaml",
        *,
        name: str = "leadscore",
        parameters: Mapping[str, Any] | None = None,
        endpoint_url: str | None = None,
        handler_output: TextIO | None = None,
        env_overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Stack:
        """Translate ``template``, create it in moto, and get ready to run its functions.

        ``parameters`` overrides template parameter defaults. ``handler_output``, when given, receives
        what handlers print (logs, metrics) instead of stdout/stderr. ``env_overrides`` adds or replaces
        environment variables per function logical id (``{"IngestFunction": {"NAME": "value"}}``).
        """
        path = Path(template).resolve()
        overrides = dict(parameters or {})
        translation = translate(path, overrides)
        stack = cls(translation, name, path.parent, endpoint_url=endpoint_url, handler_output=handler_output)
        stack._create(overrides)
        for function, variables in (env_overrides or {}).items():
            stack.env(function)  # a typo in the logical id fails here
            stack._env[function].update({k: str(v) for k, v in variables.items()})
        return stack

    def _client(self, service: str) -> Any:
        return self.client(service)

    def _create(self, overrides: Mapping[str, Any]) -> None:
        reset_caches()  # new stack, cold containers
        self._upload_artifact()
        template = self.translation.deployable()
        self._stand_in_for_http_apis(template)
        cfn = self._client("cloudformation")
        cfn.create_stack(
            StackName=self.name,
            TemplateBody=json.dumps(template),
            Parameters=[
                {
                    "ParameterKey": k,
                    "ParameterValue": ",".join(map(str, v)) if isinstance(v, list) else str(v),
                }
                for k, v in overrides.items()
            ],
            Capabilities=CAPABILITIES,
        )
        described = cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        if described["StackStatus"] != "CREATE_COMPLETE":
            raise StackError(
                f"stack {self.name}: {described['StackStatus']} {described.get('StackStatusReason', '')}"
            )
        self._outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=self.name):
            for summary in page["StackResourceSummaries"]:
                self._physical[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
                self._types[summary["LogicalResourceId"]] = summary["ResourceType"]
        for logical_id in self.translation.functions:
            config = self._client("lambda").get_function_configuration(
                FunctionName=self.physical_id(logical_id)
            )
            variables = (config.get("Environment") or {}).get("Variables") or {}
            self._env[logical_id] = {k: _env_str(v) for k, v in variables.items()}
            self._arns[logical_id] = config["FunctionArn"]
        self._name_event_buses()
        self._apply_what_moto_skips()
        # Before anything writes: iterators at TRIM_HORIZON, and the SNS mirror.
        for mapping in self.translation.mappings:
            if mapping.kind == "dynamodb":
                self._streams[mapping.logical_id] = self._open_stream(mapping)
        self._create_inbox()
        self._create_lead_events_inbox()

    def _upload_artifact(self) -> None:
        s3 = self._client("s3")
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", "placeholder: handlers run in-process from the repository\n")
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=ARTIFACT_KEY, Body=buffer.getvalue())

    def _stand_in_for_http_apis(self, template: dict[str, Any]) -> None:
        """moto's CloudFormation skips ApiGatewayV2: make each HTTP API with the apigatewayv2 API instead,
        and put its id where the template refers to it (outputs, permissions)."""
        apis = self.translation.of_type("AWS::ApiGatewayV2::Api")
        api_client = self._client("apigatewayv2")
        for logical_id in apis:
            created = api_client.create_api(Name=f"{self.name}-{logical_id}", ProtocolType="HTTP")
            self._api_ids[logical_id] = created["ApiId"]
        dropped = {k for k, v in self.translation.resources.items() if k not in template["Resources"]}
        for resource in template["Resources"].values():
            depends = resource.get("DependsOn")
            if isinstance(depends, str):
                depends = [depends]
            if depends:
                kept = [d for d in depends if d not in dropped]
                if kept:
                    resource["DependsOn"] = kept
                else:
                    resource.pop("DependsOn")
        template["Resources"] = _substitute(template["Resources"], self._api_ids)
        template["Outputs"] = _substitute(template.get("Outputs", {}), self._api_ids)

    def _apply_what_moto_skips(self) -> None:
        """Bucket versioning changes what S3 answers (VersionId), so it is applied by hand."""
        for logical_id, bucket in self.translation.of_type("AWS::S3::Bucket").items():
            versioning = (bucket.get("Properties") or {}).get("VersioningConfiguration") or {}
            if versioning.get("Status") == "Enabled" and logical_id in self._physical:
                self._client("s3").put_bucket_versioning(
                    Bucket=self.physical_id(logical_id), VersioningConfiguration={"Status": "Enabled"}
                )
        self._apply_bucket_notifications()

    def _apply_bucket_notifications(self) -> None:
        """moto's CloudFormation ignores a bucket's NotificationConfiguration: put its queue configurations
        (the list-import notifications) with the API, so an upload really reaches the queue."""
        for logical_id, bucket in self.translation.of_type("AWS::S3::Bucket").items():
            configured = ((bucket.get("Properties") or {}).get("NotificationConfiguration") or {}).get(
                "QueueConfigurations"
            ) or []
            if not configured or logical_id not in self._physical:
                continue
            queues = []
            for item in configured:
                queue = item["Queue"]["Fn::GetAtt"][0]
                rules = item.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                entry: dict[str, Any] = {"QueueArn": self.arn(queue), "Events": [item["Event"]]}
                if rules:
                    entry["Filter"] = {"Key": {"FilterRules": rules}}
                queues.append(entry)
            self._client("s3").put_bucket_notification_configuration(
                Bucket=self.physical_id(logical_id),
                NotificationConfiguration={"QueueConfigurations": queues},
            )
            for item in configured:  # S3's one s3:TestEvent per queue: the stack starts with empty queues
                self._drop_s3_test_events(self.queue_url(item["Queue"]["Fn::GetAtt"][0]))

    def _drop_s3_test_events(self, queue_url: str) -> None:
        sqs = self._client("sqs")
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            if '"s3:TestEvent"' in message.get("Body", ""):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    def _open_stream(self, mapping: SourceMapping) -> _StreamState:
        table = self.physical_id(mapping.source)
        stream_arn = self._client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        streams = self._client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        iterators: dict[str, str | None] = {}
        for shard in shards:
            iterators[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        return _StreamState(
            mapping=mapping, stream_arn=stream_arn, iterators=iterators, limit=mapping.batch_size
        )

    def _create_inbox(self) -> None:
        topics = [
            self.physical_id(t) for t in self.translation.of_type("AWS::SNS::Topic") if t in self._physical
        ]
        if not topics:
            return
        self._inbox_url, inbox_arn = self._local_queue(INBOX_QUEUE)
        for topic_arn in topics:
            self._client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)

    def _name_event_buses(self) -> None:
        """moto's CloudFormation gives an ``AWS::Events::EventBus`` no physical id: it is the bus's name
        (``Name``, a plain string or ``!Sub`` of the stack name)."""
        for logical_id, bus in self.translation.of_type("AWS::Events::EventBus").items():
            if self._physical.get(logical_id):
                continue
            name = (bus.get("Properties") or {}).get("Name")
            if isinstance(name, Mapping) and isinstance(name.get("Fn::Sub"), str):
                name = name["Fn::Sub"].replace("${AWS::StackName}", self.name)
            if isinstance(name, str):
                self._physical[logical_id] = name

    def _create_lead_events_inbox(self) -> None:
        """What a customer's rule would see: every ``leadscore`` event put on the template's buses goes,
        through a rule with an SQS target (moto delivers those), to one local queue (``lead_events``)."""
        buses = [
            self.physical_id(b)
            for b in self.translation.of_type("AWS::Events::EventBus")
            if b in self._physical
        ]
        if not buses:
            return
        self._lead_events_url, arn = self._local_queue(LEAD_EVENTS_INBOX)
        events = self._client("events")
        for bus in buses:
            rule = f"{self.name}-lead-events-drain"
            events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["leadscore"]}))
            events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn}])

    def lead_events(self) -> list[dict[str, Any]]:
        """Lead events put on the stack's buses since the last call (EventBridge envelopes, with
        ``detail-type`` and ``detail``), in the order they were put."""
        return self._drain_local_queue(self._lead_events_url)

    def _local_queue(self, suffix: str) -> tuple[str, str]:
        """A queue of the local harness (not of the template), named after the stack: its URL and ARN."""
        sqs = self._client("sqs")
        url: str = sqs.create_queue(QueueName=f"{self.name}-{suffix}")["QueueUrl"]
        arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    def _drain_local_queue(self, url: str) -> list[dict[str, Any]]:
        """Every message of a :meth:`_local_queue` (none before it exists), its JSON body, deleted."""
        if not url:
            return []
        sqs = self._client("sqs")
        received: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        ):
            received += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return received

    # ------------------------------------------------------------------------------------------ lookups
    @property
    def outputs(self) -> dict[str, str]:
        """The stack's Outputs (ApiUrl uses the id of the stand-in HTTP API)."""
        return dict(self._outputs)

    @property
    def routes(self) -> list[Route]:
        return list(self.translation.routes)

    @property
    def functions(self) -> list[str]:
        return list(self.translation.functions)

    def physical_id(self, logical_id: str) -> str:
        """Name, URL or ARN CloudFormation gave the resource (table name, queue URL, topic ARN...)."""
        logical_id = self.translation.aliases.get(logical_id, logical_id)
        if logical_id in self._api_ids:
            return self._api_ids[logical_id]
        try:
            return self._physical[logical_id]
        except KeyError:
            raise StackError(f"{logical_id} is not a resource of stack {self.name}") from None

    def arn(self, logical_id: str) -> str:
        """The ARN of a queue, table, topic, bucket, function or role of the stack."""
        logical_id = self.translation.aliases.get(logical_id, logical_id)
        if logical_id in self._arns:
            return self._arns[logical_id]
        physical = self.physical_id(logical_id)
        kind = self._types.get(logical_id, "")
        if kind == "AWS::SQS::Queue":
            arn = self._client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        elif kind == "AWS::DynamoDB::Table":
            arn = self._client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"]
        elif kind == "AWS::S3::Bucket":
            arn = f"arn:aws:s3:::{physical}"
        elif kind == "AWS::IAM::Role":
            arn = self._client("iam").get_role(RoleName=physical)["Role"]["Arn"]
        else:
            arn = physical  # topics, layers: the physical id is the ARN
        self._arns[logical_id] = str(arn)
        return str(arn)

    def queue_url(self, logical_id: str) -> str:
        return self.physical_id(logical_id)

    def stream_arn(self, table_logical_id: str) -> str:
        table = self.physical_id(table_logical_id)
        return str(self._client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"])

    def api_id(self, logical_id: str | None = None) -> str:
        if logical_id is None:
            return next(iter(self._api_ids.values()), "local")
        return self._api_ids[logical_id]

    def env(self, function: str) -> dict[str, str]:
        """The function's resolved Environment.Variables (Globals included), every value a str."""
        try:
            return dict(self._env[function])
        except KeyError:
            raise StackError(f"{function} is not a function of stack {self.name}") from None

    def client(self, service: str) -> Any:
        """A boto3 client on the same endpoint as the stack (created on first use)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = _session().client(service, endpoint_url=self.endpoint_url)
            return self._clients[service]

    # ------------------------------------------------------------------------------------------ invoking
    @contextlib.contextmanager
    def environment(self, function: str) -> Iterator[dict[str, str]]:
        """Hold the invocation lock with os.environ set to exactly the function's environment.

        Variables other functions declare (and the layer's settings) are removed; Lambda's own
        runtime variables are added. Everything is restored afterwards. Settings and clients are
        cleared on entry and exit so that nothing built for one function leaks into another; loaded
        rules are kept, as a warm container keeps them (see ``reset_caches``).
        """
        with self._lock:
            wanted = self._runtime_env(function)
            foreign = set().union(*self._env.values()) | _settings_names()
            touched = set(wanted) | (foreign & set(os.environ))
            saved = {k: os.environ.get(k) for k in touched}
            try:
                for key in foreign - set(wanted):
                    os.environ.pop(key, None)
                os.environ.update(wanted)
                reset_caches(rules=False)  # the rules cache is the warm container's, kept
                yield dict(wanted)
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                reset_caches(rules=False)

    def _runtime_env(self, function: str) -> dict[str, str]:
        spec = self.translation.functions.get(function)
        if spec is None:
            raise StackError(f"{function} has no local code in the template (CodeUri + Handler)")
        name = self.physical_id(function)
        runtime = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "_HANDLER": spec.handler,
        }
        return {**runtime, **self.env(function)}

    def context(self, function: str) -> LambdaContext:
        spec = self.translation.functions[function]
        return LambdaContext(
            function_name=self.physical_id(function),
            memory_limit_in_mb=spec.memory,
            invoked_function_arn=self.arn(function),
            timeout_seconds=spec.timeout,
        )

    def handler(self, function: str) -> Any:
        """The function's handler callable, imported by full dotted name (``functions.scorer.app``)."""
        spec = self.translation.functions.get(function)
        if spec is None:
            raise StackError(f"{function} has no local code in the template (CodeUri + Handler)")
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        module = importlib.import_module(spec.module)
        target = getattr(module, spec.attribute, None)
        if not callable(target):
            raise TemplateError(f"{spec.module} has no callable {spec.attribute!r} ({function}'s Handler)")
        return target

    def invoke(self, function: str, event: Mapping[str, Any], context: Any = None) -> Any:
        """Run the function's handler in-process on ``event``, as Lambda would, and return its result."""
        with self.environment(function), self._handler_output():
            target = self.handler(function)  # imported here: import-time loggers see the same output
            return target(dict(event), context or self.context(function))

    @contextlib.contextmanager
    def _handler_output(self) -> Iterator[None]:
        if self.handler_output is None:
            yield
            return
        with contextlib.redirect_stdout(self.handler_output), contextlib.redirect_stderr(self.handler_output):
            yield

    # ------------------------------------------------------------------------------------------ HTTP API
    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The template route serving ``method path`` and its path parameters, if any."""
        return match_route(self.translation.routes, method, path)

    def http_event(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        query: Mapping[str, str | list[str]] | str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A payload 2.0 event for ``method path``, with the route key of the template's route."""
        found = self.route(method, path)
        if found is None:
            raise LookupError(f"no route of the template serves {method.upper()} {path}")
        route, params = found
        kwargs.setdefault("api_id", self._api_ids.get(route.api, self.api_id()))
        if route.auth == "AWS_IAM" and "authorizer" not in kwargs:
            kwargs["authorizer"] = iam_authorizer(headers)
        return http_event(route, method, path, body, headers, query, path_parameters=params, **kwargs)

    def authorize(
        self, route: Route, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None
    ) -> dict[str, Any] | None:
        """API Gateway's answer when it refuses ``route`` (a payload 2.0 result), or None to go on.

        Routes with the AWS_IAM authorizer need an ``Authorization`` header; locally any value is
        accepted (moto cannot verify SigV4, see :func:`iam_authorizer`), none gets API Gateway's 403.
        """
        if route.auth != "AWS_IAM" or iam_authorizer(headers) is not None:
            return None
        return {
            "statusCode": 403,
            "headers": {
                "content-type": "application/json",
                "x-amzn-errortype": "MissingAuthenticationTokenException",
            },
            "body": json.dumps({"message": "Forbidden"}),
        }

    def call_http(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str | list[str]] | str | None = None,
    ) -> Any:
        """Build the event for ``method path`` and invoke the function behind its route (after the
        route's authorizer: an AWS_IAM route without an ``Authorization`` header gets a 403)."""
        found = self.route(method, path)
        if found is None:
            raise LookupError(f"no route of the template serves {method.upper()} {path}")
        refused = self.authorize(found[0], headers)
        if refused is not None:
            return refused
        event = self.http_event(method, path, body, headers, query)
        return self.invoke(found[0].function, event)

    # ------------------------------------------------------------------------------------------ event sources
    def _mapping(self, source: str, kind: str, function: str | None = None) -> SourceMapping:
        for mapping in self.translation.mappings:
            if mapping.source == source and mapping.kind == kind and function in (None, mapping.function):
                return mapping
        raise StackError(f"no {kind} event source mapping reads {source}")

    def pump_queue(self, queue: str = "EventsQueue") -> PumpResult:
        """One batch from ``queue`` to the function its mapping feeds, as Lambda's SQS poller would.

        Successes are deleted; reported (or, on an exception, all) failures become visible again at
        once, so they are retried and reach the DLQ through the queue's redrive policy.
        """
        mapping = self._mapping(queue, "sqs")
        sqs = self._client("sqs")
        url = self.queue_url(queue)
        messages: list[dict[str, Any]] = []
        while len(messages) < mapping.batch_size:
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        outcome = PumpResult(function=mapping.function, source=queue, records=len(messages))
        if not messages:
            return outcome
        event = sqs_event(messages, self.arn(queue), self.region)
        failed_ids = self._run_batch(mapping, event, outcome, [m["MessageId"] for m in messages])
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        retry = [m for m in messages if m["MessageId"] in failed_ids]
        for chunk in _chunks(done, 10):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        for chunk in _chunks(retry, 10):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
        outcome.failed = len(retry)
        return outcome

    def _run_batch(
        self, mapping: SourceMapping, event: dict[str, Any], outcome: PumpResult, ids: list[str]
    ) -> set[str]:
        """Invoke; return the ids that failed (all on an exception or an unusable failure report)."""
        try:
            result = self.invoke(mapping.function, event)
        except Exception as exc:
            outcome.errors.append(f"{type(exc).__name__}: {exc}")
            return set(ids)
        outcome.result = result
        if not mapping.reports_item_failures or not isinstance(result, Mapping):
            return set()
        reported = result.get("batchItemFailures") or []
        failed = {str(item.get("itemIdentifier") or "") for item in reported if isinstance(item, Mapping)}
        if len(failed) != len(reported) or not failed <= set(ids):
            outcome.errors.append(f"unusable batchItemFailures {reported!r}: the whole batch is retried")
            return set(ids)
        return failed

    def pump_stream(self, table: str = "LeadsTable", function: str | None = None) -> PumpResult:
        """New stream records of ``table`` through the mapping's filters to its function, one batch.
        A table read by several functions (the notifier, the CRM sync) has one mapping, with its own
        position in the stream, per function: ``function`` names it (default: the first).

        Lambda's semantics for streams: records before the first failed sequence number are done, it
        and everything after it are retried (on a later pump), up to MaximumRetryAttempts; then a
        description of the batch goes to the OnFailure destination and the records are skipped.
        """
        mapping = self._mapping(table, "dynamodb", function)
        state = self._streams[mapping.logical_id]
        self._read_stream(state)
        outcome = PumpResult(function=mapping.function, source=table)
        if not state.pending:
            return outcome
        batch = state.pending[: max(1, state.limit)]
        outcome.records = len(batch)
        sequence = [r["dynamodb"].get("SequenceNumber", "") for r in batch]
        failed = self._run_batch(mapping, stream_event(batch), outcome, sequence)
        if not failed:
            del state.pending[: len(batch)]
            state.attempts, state.limit = 0, mapping.batch_size
            return outcome
        first = min(i for i, s in enumerate(sequence) if s in failed)
        del state.pending[:first]
        outcome.failed = len(batch) - first
        state.attempts += 1
        if outcome.errors and mapping.properties.get("BisectBatchOnFunctionError") and len(batch) > 1:
            state.limit = max(1, len(batch) // 2)
        limit = mapping.maximum_retry_attempts
        if limit >= 0 and state.attempts > limit:
            gave_up = batch[first:]
            del state.pending[: len(gave_up)]
            self._to_on_failure(mapping, state, gave_up, outcome)
            state.attempts, state.limit = 0, mapping.batch_size
        return outcome

    def _read_stream(self, state: _StreamState) -> None:
        streams = self._client("dynamodbstreams")
        patterns = state.mapping.filters
        for shard_id, start in list(state.iterators.items()):
            iterator = start
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = page.get("NextShardIterator")
                records = page.get("Records", [])
                for raw in records:
                    record = stream_record(raw, state.stream_arn, self.region)
                    if passes_filters(record, patterns):
                        state.pending.append(record)
                if not records:
                    break
            state.iterators[shard_id] = iterator

    def _to_on_failure(
        self, mapping: SourceMapping, state: _StreamState, records: list[dict[str, Any]], outcome: PumpResult
    ) -> None:
        outcome.to_dlq = len(records)
        destination = mapping.on_failure
        if destination is None or not records:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.arn(mapping.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": state.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": next(iter(state.iterators), ""),
                "startSequenceNumber": first.get("SequenceNumber"),
                "endSequenceNumber": last.get("SequenceNumber"),
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(records),
                "streamArn": state.stream_arn,
            },
        }
        kind = self._types.get(destination, "")
        if kind == "AWS::SNS::Topic":
            self._client("sns").publish(TopicArn=self.physical_id(destination), Message=json.dumps(body))
        else:
            self._client("sqs").send_message(
                QueueUrl=self.queue_url(destination), MessageBody=json.dumps(body)
            )

    def drain(self, *, max_rounds: int = 1000, timeout: float = 60.0) -> list[PumpResult]:
        """Pump every queue and stream mapping, in template order, until a round finds nothing to do."""
        results: list[PumpResult] = []
        deadline = time.monotonic() + timeout
        for _ in range(max_rounds):
            busy = False
            for mapping in self.translation.mappings:
                pumped = (
                    self.pump_queue(mapping.source)
                    if mapping.kind == "sqs"
                    else self.pump_stream(mapping.source, mapping.function)
                )
                if pumped:
                    busy = True
                    results.append(pumped)
            if not busy or time.monotonic() > deadline:
                break
        return results

    def put_events(self, entries: Iterable[Mapping[str, Any]]) -> list[tuple[str, Any]]:
        """EventBridge ``PutEvents`` as the bus delivers it: each entry (``Source``, ``DetailType``,
        ``Detail`` as JSON text, optional ``EventBusName``) becomes the event envelope and is handed to the
        function behind every rule of the stack on that bus whose pattern (as created, parameters
        resolved) matches. Returns ``(function logical id, result)`` per delivery; an entry no rule
        matches is delivered nowhere."""
        events = self._client("events")
        by_arn = {arn: logical for logical, arn in self._arns.items()}
        delivered: list[tuple[str, Any]] = []
        for entry in entries:
            bus = str(entry.get("EventBusName") or "default")
            envelope = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": ACCOUNT_ID,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": self.region,
                "resources": list(entry.get("Resources") or []),
                "detail": json.loads(entry.get("Detail") or "{}"),
            }
            for rule in events.list_rules(EventBusName=bus).get("Rules", []):
                if not rule.get("EventPattern") or not matches_pattern(
                    envelope, json.loads(rule["EventPattern"])
                ):
                    continue
                for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]:
                    function = by_arn.get(target["Arn"])
                    if function is not None:
                        delivered.append((function, self.invoke(function, envelope)))
        return delivered

    def publish(self, topic_arn: str, message: str, subject: str | None = None) -> list[tuple[str, Any]]:
        """SNS ``Publish`` as a Lambda subscription delivers it (moto's CloudFormation skips
        ``AWS::SNS::Subscription``): every ``lambda`` subscription of the template to ``topic_arn`` whose
        function's resource policy (as created) lets SNS invoke it from that topic gets one record.
        Returns ``(function logical id, result)`` per delivery."""
        delivered: list[tuple[str, Any]] = []
        for resource in self.translation.of_type("AWS::SNS::Subscription").values():
            props = resource.get("Properties", {})
            target = (
                props.get("Endpoint", {}).get("Fn::GetAtt", [""])[0]
                if props.get("Protocol") == "lambda"
                else ""
            )
            if not target or self._resolved(props.get("TopicArn")) != topic_arn:
                continue
            if not self._sns_may_invoke(target, topic_arn):
                continue
            record = {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "SignatureVersion": "1",
                    "MessageAttributes": {},
                },
            }
            delivered.append((target, self.invoke(target, {"Records": [record]})))
        return delivered

    def _resolved(self, value: Any) -> Any:
        if isinstance(value, Mapping) and "Ref" in value:
            name = value["Ref"]
            return (
                self.translation.parameters[name] if name in self.translation.parameters else self.arn(name)
            )
        return value

    def _sns_may_invoke(self, function: str, topic_arn: str) -> bool:
        lam = self._client("lambda")
        try:
            policy = json.loads(lam.get_policy(FunctionName=self.physical_id(function))["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            return False
        return any(
            st.get("Effect") == "Allow"
            and st.get("Principal", {}).get("Service") == "sns.amazonaws.com"
            and st.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == topic_arn
            for st in policy.get("Statement", [])
        )

    # ------------------------------------------------------------------------------------------ SNS and S3
    def inbox(self) -> list[dict[str, Any]]:
        """Notifications published to the stack's topics since the last call, oldest first.

        Each is the SNS envelope's ``Subject``, ``Message``, ``MessageAttributes``
        (``{name: {Type, Value}}``), ``TopicArn``, ``MessageId`` and ``Timestamp``.
        """
        notifications = [
            {
                "Subject": envelope.get("Subject"),
                "Message": envelope.get("Message", ""),
                "MessageAttributes": envelope.get("MessageAttributes") or {},
                "TopicArn": envelope.get("TopicArn", ""),
                "MessageId": envelope.get("MessageId", ""),
                "Timestamp": envelope.get("Timestamp", ""),
            }
            for envelope in self._drain_local_queue(self._inbox_url)
        ]
        notifications.sort(key=lambda n: str(n["Timestamp"]))
        return notifications

    def upload_rules(
        self, source: str | Path | bytes | Mapping[str, Any], function: str = "ScorerFunction"
    ) -> str:
        """Put a rules document at the scorer's RULES_BUCKET/RULES_KEY; returns the S3 version id.

        A YAML file is validated and compiled to JSON first, exactly as ``leadscore rules publish``
        does (``tools.rules_source``); JSON files, bytes and mappings are uploaded as given, so tests
        can publish invalid documents on purpose."""
        if isinstance(source, Mapping):
            body = json.dumps(source).encode()
        elif isinstance(source, bytes):
            body = source
        elif Path(source).suffix.lower() in (".yaml", ".yml"):
            from tools.rules_source import compiled_json

            body = compiled_json(source)
        else:
            body = Path(source).read_bytes()
        env = self.env(function)
        put = self._client("s3").put_object(
            Bucket=env["RULES_BUCKET"], Key=env["RULES_KEY"], Body=body, ContentType="application/json"
        )
        return str(put.get("VersionId", ""))


# ---------------------------------------------------------------------------------------------- helpers
def _session() -> Any:
    import boto3

    return boto3.session.Session(region_name=REGION)


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _settings_names() -> set[str]:
    try:
        from leadscore.settings import Settings
    except ImportError:
        return set()
    return {f.alias for f in Settings.model_fields.values() if f.alias}


def _substitute(value: Any, ids: Mapping[str, str]) -> Any:
    """Replace ``{"Ref": X}`` and ``${X}`` in Fn::Sub strings by ``ids[X]``."""
    if not ids:
        return value
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in ids:
            return ids[value["Ref"]]
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            if isinstance(sub, str):
                return {"Fn::Sub": _sub_string(sub, ids)}
            if isinstance(sub, list) and sub:
                return {"Fn::Sub": [_sub_string(str(sub[0]), ids), *_substitute(sub[1:], ids)]}
        return {k: _substitute(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, ids) for v in value]
    return value


def _sub_string(text: str, ids: Mapping[str, str]) -> str:
    for logical_id, physical in ids.items():
        text = text.replace("${" + logical_id + "}", physical)
    return text


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
