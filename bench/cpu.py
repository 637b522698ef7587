"""Per-event CPU of the scorer's handler path with every AWS response canned (no moto, no network).

The real ``functions.scorer.app.lambda_handler`` runs on SQS-shaped batches of the template's
BatchSize: parse records, validate ``CanonicalEvent``, coalesce per lead, apply_events/evaluate,
build items, Powertools batch response, logs and metrics. A ``before-call`` hook on every botocore
client answers each call with a canned response, so what is left is the code's own CPU plus
botocore's request building (reported apart). Baseline: the same loop doing only ``json.loads`` of
the bodies.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from contextlib import redirect_stdout
from typing import Any

from bench.common import RULES_EXAMPLE, TEMPLATE, fake_aws_env, layer_path, main_for, median, row
from bench.workload import batches, mixed

GOAL_US = 25.0
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
            client.meta.events.register("before-call", stubs.before, unique_id="bench-stub")
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        call = botocore.client.BaseClient._make_api_call

        def timed_call(client: Any, operation: str, params: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(client, operation, params)
            finally:
                stubs.seconds += time.perf_counter() - start

        botocore.client.BaseClient._make_api_call = timed_call  # type: ignore[method-assign]


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


def run() -> dict[str, Any]:
    fake_aws_env()
    layer_path()
    os.environ.update(
        {
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
    )
    stubs = Stubs(RULES_EXAMPLE.read_bytes())
    stubs.install()
    from tools.localstack import LambdaContext, sqs_record

    sink = io.StringIO()
    with redirect_stdout(sink):  # Powertools binds its stream at import: logs and EMF go to the sink
        from functions.scorer import app

    size = _scorer_batch_size()
    per_round = max(1_000, size)
    events = mixed(total=per_round * (ROUNDS + 1), leads=3_000, seed=23)  # fresh events every round
    arn = "arn:aws:sqs:us-east-1:123456789012:bench-events"
    payloads = [
        {
            "Records": [
                sqs_record({"MessageId": f"m{i}-{j}", "Body": e.body, "ReceiptHandle": "r"}, arn)
                for j, e in enumerate(batch)
            ]
        }
        for i, batch in enumerate(batches(events, size))
    ]
    per_batch = per_round // size

    def invoke(payload: dict[str, Any]) -> Any:
        context = LambdaContext(function_name="bench-scorer", memory_limit_in_mb=512)
        with redirect_stdout(sink):
            return app.lambda_handler(payload, context)

    for payload in payloads[:per_batch]:  # cold start, then warm-up: rules loaded, clients, lead cache
        invoke(payload)
    failures = 0
    handler_us: list[float] = []
    outside_us: list[float] = []
    for r in range(1, ROUNDS + 1):
        total = outside = 0.0
        chunk = payloads[r * per_batch : (r + 1) * per_batch]
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
        handler_us.append(total / n * 1e6)
        outside_us.append(outside / n * 1e6)
    bodies = [[r["body"] for r in p["Records"]] for p in payloads[per_batch : 2 * per_batch]]

    def loads_only() -> None:
        for chunk in bodies:
            for body in chunk:
                json.loads(body)

    base_runs = []
    for _ in range(ROUNDS * 3):
        start = time.perf_counter()
        loads_only()
        base_runs.append((time.perf_counter() - start) / per_round * 1e6)
    base = median(base_runs)
    out_med, all_med = median(outside_us), median(handler_us)
    calls_per_event = {op: round(c / len(events), 3) for op, c in sorted(stubs.calls.items())}
    yaml_loaded = any(m.split(".")[0] in ("yaml", "ruamel") for m in sys.modules)
    rows = [
        row(
            f"scorer CPU per event, outside AWS calls (batch {size})",
            round(out_med, 1),
            "us",
            baseline=round(base, 2),
            ratio=round(out_med / base, 1),
            goal=f"<= {GOAL_US:.0f} us",
            ok=out_med <= GOAL_US,
            note="baseline: json.loads of the body",
        ),
        row(
            "scorer CPU per event incl. botocore request building",
            round(all_med, 1),
            "us",
            baseline=round(base, 2),
            ratio=round(all_med / base, 1),
            note="canned responses: no HTTP, signing or parsing",
        ),
        row(
            "YAML parser loaded after scoring", "yes" if yaml_loaded else "no", goal="no", ok=not yaml_loaded
        ),
    ]
    return {
        "rows": rows,
        "details": {
            "events": len(events),
            "rounds_us_outside": [round(x, 1) for x in outside_us],
            "rounds_us_total": [round(x, 1) for x in handler_us],
            "json_loads_us": round(base, 2),
            "stubbed_calls_per_event": calls_per_event,
            "failed_records": failures,
        },
    }


if __name__ == "__main__":
    main_for(run)
