"""Per-event CPU of the scorer's handler path with every AWS response canned (no moto, no network).

The real ``functions.scorer.app.lambda_handler`` runs on SQS-shaped batches of 100 records (the
goal's size) and of the template's BatchSize (reported): parse records, validate
``CanonicalEvent``, coalesce per lead, apply_events/evaluate, build items, Powertools batch
response, logs and metrics. A ``before-call`` hook on every botocore client answers each call with
a canned response, so what is left is the code's own CPU plus botocore's request building
(reported apart). Baseline: the same loop doing only ``json.loads`` of the bodies.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

from bench.common import TEMPLATE, example_rules_json, fake_aws_env, layer_path, main_for, median, row
from bench.workload import Event, batches, mixed

GOAL_US = 25.0
GOAL_BATCH = 100  # the goal is per event at SQS batch size 100
ROUNDS = 5


class _Http:
    status_code = 200
    headers: dict[str, str] = {}


class Stubs:
    """Canned botocore responses, and the time spent inside botocore calls."""

    def __init__(self, rules: bytes) -> None:
        self.rules = rules
        self.calls: dict[str, int] = {}
        self.seconds = 0.0

    def before(self, model: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.response import StreamingBody

        op = model.name
        self.calls[op] = self.calls.get(op, 0) + 1
        meta = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if op == "GetObject":
            body = StreamingBody(io.BytesIO(self.rules), len(self.rules))
            return _Http(), {"Body": body, "ETag": '"bench"', "VersionId": "v1", **meta}
        if op == "BatchWriteItem":
            return _Http(), {"UnprocessedItems": {}, **meta}
        return _Http(), meta

    def install(self) -> None:
        import botocore.client
        import botocore.session

        original = botocore.session.Session.create_client
        stubs = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            hook: Any = stubs.before  # botocore's stubs type hooks as returning None
            client.meta.events.register("before-call", hook, unique_id="bench-stub")
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign, assignment]
        base: Any = botocore.client.BaseClient
        call = base._make_api_call

        def timed_call(client: Any, operation: str, params: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(client, operation, params)
            finally:
                stubs.seconds += time.perf_counter() - start

        base._make_api_call = timed_call


def _scorer_batch_size() -> int:
    """The template's BatchSize for the scorer, read in a child process: translating the template
    loads a YAML parser, and this process checks that scoring does not."""
    import subprocess

    code = (
        "import sys; from tools.localstack import translate; "
        "print(next(m.batch_size for m in translate(sys.argv[1]).mappings "
        "if m.kind == 'sqs' and m.function == 'ScorerFunction'))"
    )
    argv = [sys.executable, "-c", code, str(TEMPLATE)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=TEMPLATE.parent)
    return int(out.stdout.strip())


SCORER_ENV = {
    "LEADS_TABLE": "bench-leads",
    "RULES_BUCKET": "bench-rules",
    "RULES_KEY": "rules/current.json",
    "RULES_REFRESH_SECONDS": "60",
    "SALES_READY_THRESHOLD": "100",
    "HISTORY_TTL_DAYS": "400",
    "POWERTOOLS_SERVICE_NAME": "leadscore",
    "POWERTOOLS_METRICS_NAMESPACE": "Leadscore",
    "LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_NAME": "bench-scorer",
}
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:bench-events"


Invoke = Callable[[dict[str, Any]], Any]


def scorer(stubs: Stubs) -> tuple[Invoke, io.StringIO]:
    """The real scorer handler behind canned AWS responses: ``invoke(payload)``, and its log sink."""
    fake_aws_env()
    layer_path()
    os.environ.update(SCORER_ENV)
    stubs.install()
    from tools.localstack import LambdaContext

    sink = io.StringIO()
    with redirect_stdout(sink):  # Powertools binds its stream at import: logs and EMF go to the sink
        from functions.scorer import app

    def invoke(payload: dict[str, Any]) -> Any:
        context = LambdaContext(function_name="bench-scorer", memory_limit_in_mb=512)
        with redirect_stdout(sink):
            return app.lambda_handler(payload, context)

    return invoke, sink


def payloads(events: list[Event], size: int) -> list[dict[str, Any]]:
    """SQS-shaped batches of ``size`` records."""
    from tools.localstack import sqs_record

    return [
        {
            "Records": [
                sqs_record({"MessageId": f"m{i}-{j}", "Body": e.body, "ReceiptHandle": "r"}, QUEUE_ARN)
                for j, e in enumerate(batch)
            ]
        }
        for i, batch in enumerate(batches(events, size))
    ]


@dataclass
class Measured:
    size: int
    events: int
    outside_us: list[float]
    total_us: list[float]
    json_loads_us: float
    failures: int


def _measure(invoke: Invoke, stubs: Stubs, sink: io.StringIO, size: int, seed: int) -> Measured:
    """Per-event CPU at one batch size, on a warm container, over ROUNDS rounds of fresh events."""
    per_round = max(1_000, size)
    events = mixed(total=per_round * (ROUNDS + 1), leads=3_000, seed=seed)  # fresh events every round
    batched = payloads(events, size)
    per_batch = per_round // size
    for payload in batched[:per_batch]:  # warm-up: rules loaded, clients, lead cache
        invoke(payload)
    failures = 0
    total_us: list[float] = []
    outside_us: list[float] = []
    for r in range(1, ROUNDS + 1):
        total = outside = 0.0
        chunk = batched[r * per_batch : (r + 1) * per_batch]
        for payload in chunk:  # a warm container: the lead cache fills as it would
            stubs.seconds = 0.0
            sink.seek(0)
            sink.truncate()
            start = time.perf_counter()
            result = invoke(payload)
            elapsed = time.perf_counter() - start
            failures += len(result.get("batchItemFailures", []))
            total += elapsed
            outside += elapsed - stubs.seconds
        n = sum(len(p["Records"]) for p in chunk)
        total_us.append(total / n * 1e6)
        outside_us.append(outside / n * 1e6)
    bodies = [r["body"] for p in batched[per_batch : 2 * per_batch] for r in p["Records"]]
    base_runs = []
    for _ in range(ROUNDS * 3):
        start = time.perf_counter()
        for body in bodies:
            json.loads(body)
        base_runs.append((time.perf_counter() - start) / len(bodies) * 1e6)
    return Measured(size, len(events), outside_us, total_us, median(base_runs), failures)


def run() -> dict[str, Any]:
    stubs = Stubs(example_rules_json())
    invoke, sink = scorer(stubs)
    invoke(payloads(mixed(total=50, leads=50, seed=1), 50)[0])  # the cold start: rules, clients
    template_size = _scorer_batch_size()
    runs = [_measure(invoke, stubs, sink, GOAL_BATCH, seed=23)]
    if template_size != GOAL_BATCH:
        runs.append(_measure(invoke, stubs, sink, template_size, seed=29))
    yaml_loaded = any(m.split(".")[0] in ("yaml", "ruamel") for m in sys.modules)
    rows = []
    for m in runs:
        out_med, all_med = median(m.outside_us), median(m.total_us)
        goal = m.size == GOAL_BATCH
        where = "the goal's batch size" if goal else "the template's BatchSize"
        rows += [
            row(
                f"scorer CPU per event, outside AWS calls (batch {m.size})",
                round(out_med, 1),
                "us",
                baseline=round(m.json_loads_us, 2),
                ratio=round(out_med / m.json_loads_us, 1),
                goal=f"<= {GOAL_US:.0f} us" if goal else "report",
                ok=out_med <= GOAL_US if goal else None,
                note=f"{where}; baseline: json.loads of the body",
            ),
            row(
                f"scorer CPU per event incl. botocore request building (batch {m.size})",
                round(all_med, 1),
                "us",
                baseline=round(m.json_loads_us, 2),
                ratio=round(all_med / m.json_loads_us, 1),
                note="canned responses: no HTTP, signing or parsing",
            ),
        ]
    rows.append(
        row("YAML parser loaded after scoring", "yes" if yaml_loaded else "no", goal="no", ok=not yaml_loaded)
    )
    events = sum(m.events for m in runs)
    return {
        "rows": rows,
        "details": {
            "runs": [
                {
                    "batch_size": m.size,
                    "events": m.events,
                    "rounds_us_outside": [round(x, 1) for x in m.outside_us],
                    "rounds_us_total": [round(x, 1) for x in m.total_us],
                    "json_loads_us": round(m.json_loads_us, 2),
                    "failed_records": m.failures,
                }
                for m in runs
            ],
            "stubbed_calls_per_event": {op: round(c / events, 3) for op, c in sorted(stubs.calls.items())},
        },
    }


if __name__ == "__main__":
    main_for(run)
