"""A local stand-in for the deployed stack: template.yaml in moto, handlers in-process.

One engine for the tests (under ``moto.mock_aws()``) and ``python -m tools.local`` (a moto server)::

    stack = Stack.create("template.yaml")
    stack.upload_rules("rules/example.yaml")   # YAML is compiled as `rules publish` does
    stack.invoke("IngestFunction", stack.http_event("POST", "/forms", body))
    stack.drain()                 # EventsQueue -> ScorerFunction -> stream -> NotifierFunction
    stack.inbox()                 # what was published to AlertsTopic

Dev-only: never part of the layer or a function package.
"""

from tools.localstack.caches import reset_caches
from tools.localstack.context import LambdaContext
from tools.localstack.events import (
    Route,
    decode_body,
    http_event,
    iam_authorizer,
    match_route,
    matches_pattern,
    passes_filters,
    path_is_known,
    scheduled_event,
    sqs_event,
    sqs_record,
    stream_event,
    stream_record,
)
from tools.localstack.stack import PumpResult, Stack, StackError
from tools.localstack.template import FunctionSpec, SourceMapping, TemplateError, Translation, translate

__all__ = [
    "FunctionSpec",
    "LambdaContext",
    "PumpResult",
    "Route",
    "SourceMapping",
    "Stack",
    "StackError",
    "TemplateError",
    "Translation",
    "decode_body",
    "http_event",
    "iam_authorizer",
    "match_route",
    "matches_pattern",
    "passes_filters",
    "path_is_known",
    "reset_caches",
    "scheduled_event",
    "sqs_event",
    "sqs_record",
    "stream_event",
    "stream_record",
    "translate",
]
