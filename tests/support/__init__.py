"""Shared test helpers: paths, sample events, and the AWS set-up the fixtures in conftest.py use.

The local stack itself is ``tools.localstack`` (the same engine `make demo` runs); nothing here
duplicates it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.http_events import http_api_event
from tools.localstack import Stack, reset_caches, translate
from tools.localstack.context import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
RULES_EXAMPLE_YAML = ROOT / "rules" / "example.yaml"  # the only source: see example_rules_json()
# For branches written before the YAML became the only source: ``stack.upload_rules(RULES_EXAMPLE)``
# compiles this YAML as ``rules publish`` does. New code: ``example_rules_json()``/``example_rules()``.
RULES_EXAMPLE = RULES_EXAMPLE_YAML

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

__all__ = [
    "DANA_SALES_READY",
    "EVENTS",
    "FAKE_CREDENTIALS",
    "ROOT",
    "RULES_EXAMPLE",
    "RULES_EXAMPLE_YAML",
    "TEMPLATE",
    "Stack",
    "endpoint_variables",
    "example_rules",
    "example_rules_json",
    "http_api_event",
    "ingest_samples",
    "lambda_context",
    "load_event",
    "pinned_clock_at",
    "reset_caches",
    "serving",
    "take_queued_events",
    "translate",
    "translated_template",
]


def example_rules_json() -> bytes:
    """rules/example.yaml compiled to the JSON the scorer loads, exactly as ``rules publish`` does
    (cached per file version by ``tools.rules_source``)."""
    from tools.rules_source import compiled_json

    return compiled_json(RULES_EXAMPLE_YAML)


def example_rules() -> Any:
    """rules/example.yaml compiled (``CompiledRules``)."""
    from tools.rules_source import compiled_rules

    return compiled_rules(RULES_EXAMPLE_YAML)


@contextlib.contextmanager
def serving(stack: Stack, root: Path = ROOT) -> Iterator[str]:
    """`make serve`'s HTTP server (tools.local.stack) in front of an already-created stack, on a
    free port; yields its base URL and stops it afterwards."""
    from tools.local.console import Console
    from tools.local.stack import LocalStack

    with open(os.devnull, "w") as sink:
        local = LocalStack(root, Console(sink))
        local.attach(stack)
        base = local.serve_http("127.0.0.1", 0)
        try:
            yield base
        finally:
            local.stop()


def pinned_clock_at(when: datetime) -> Any:
    """A test module's autouse ``pinned_clock`` fixture: leadscore's scoring clock pinned to ``when`` in
    each of its tests (conftest's ``pin_clock``; real time again after). Use it as
    ``pinned_clock = pinned_clock_at(NOW)``."""
    import pytest  # not at the top: bench/ imports the CRM fakes of this package without pytest

    @pytest.fixture(autouse=True, name="pinned_clock")
    def pinned_clock(pin_clock: Callable[[datetime | None], None]) -> None:
        pin_clock(when)

    return pinned_clock


def take_queued_events(sqs: Any, queue_url: str) -> list[Any]:
    """Every CanonicalEvent on the queue, taken off it (received and deleted), oldest first."""
    from leadscore.models.event import CanonicalEvent

    events: list[CanonicalEvent] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            events.append(CanonicalEvent.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return events


def lambda_context(function_name: str = "IngestFunction") -> LambdaContext:
    """The context a handler receives, as the local stack builds it."""
    return LambdaContext(function_name=function_name, memory_limit_in_mb=256)


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/ (the same files `sam local invoke -e` uses)."""
    path = EVENTS / (name if name.endswith(".json") else f"{name}.json")
    event: dict[str, Any] = json.loads(path.read_text())
    return event


# The sample requests that make Dana sales-ready: her demo form, a pricing page view, a tracked batch.
DANA_SALES_READY = ("http-01-form-json", "http-03-track-page", "http-04-track-batch")


def ingest_samples(stack: Stack, *names: str) -> None:
    """Each sample event ``names`` (events/) through the stack's IngestFunction; each must be accepted."""
    for name in names:
        assert stack.invoke("IngestFunction", load_event(name))["statusCode"] == 202, name


def translated_template() -> dict[str, Any]:
    """template.yaml translated to CloudFormation (event source mappings included)."""
    return translate(TEMPLATE).cfn


def endpoint_variables() -> list[str]:
    """Every AWS_ENDPOINT_URL* variable set in this process (they defeat moto's in-process mock)."""
    return [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]


def run_sweep(stack: Stack) -> dict[str, Any]:
    """One run of the sweep schedule, as in AWS: SweeperFunction queues a job per ``due`` shard, the
    SweepWorkerFunction invocations (pumped from the queue) visit them. Returns their summaries
    added up: ``due``, ``rescored``, ``rebuilt``, ``unchanged``, ``failed``, ``alerts_sent``,
    ``moves`` and ``jobs`` (worker invocations, continuations included)."""
    from collections import Counter

    import functions.sweep_worker.app as worker
    from tools.localstack import scheduled_event

    summaries: list[dict[str, Any]] = []
    original = worker.work

    def work(record: Any, lambda_context: Any = None) -> dict[str, Any]:
        summary = original(record, lambda_context)
        summaries.append(summary)
        return summary

    worker.work = work
    try:
        rule = stack.physical_id("SweeperFunctionSweep")
        stack.invoke("SweeperFunction", scheduled_event(f"arn:aws:events:us-east-1:123456789012:rule/{rule}"))
        stack.drain(timeout=300)  # a loaded machine: many jobs, and the notifier delivering their changes
    finally:
        worker.work = original
    totals: dict[str, Any] = {"jobs": len(summaries), "moves": Counter()}
    for summary in summaries:
        for key in (
            "due",
            "rescored",
            "rebuilt",
            "unchanged",
            "missing",
            "failed",
            "alerts_sent",
            "events_sent",
        ):
            totals[key] = totals.get(key, 0) + summary[key]
        totals["moves"].update(summary["moves"])
    totals["moves"] = dict(totals["moves"])
    return totals


def explained_card(state: Any, rules_path: Path = RULES_EXAMPLE_YAML) -> Any:
    """The lead's card with its per-rule contributions, as the Lead API shows it (the lead item stores
    the card without them)."""
    from leadscore import clock
    from leadscore.scoring.engine import evaluate

    from tools.rules_source import compiled_rules

    rules = compiled_rules(rules_path)
    return evaluate(state, rules, clock.now(), state.card.threshold if state.card else None)
