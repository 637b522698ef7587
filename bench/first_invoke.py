"""Child of :mod:`bench.cold_start`: one function's init plus first invocation in this fresh interpreter.

``python -m bench.first_invoke FUNCTION FIXTURE.json`` (or ``baseline``) prints one JSON line. The clock
starts before anything is imported; AWS answers come from :class:`bench.meter.Meter` (canned S3
rules, SQS/SNS acknowledgements, an in-memory table holding the fixture's items), so no network.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import importlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from contextlib import redirect_stdout  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    """The attributes Powertools and the handlers read from a Lambda context."""

    def __init__(self, name: str, memory: int, timeout: int) -> None:
        self.function_name = name
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def baseline() -> dict[str, Any]:
    import boto3

    boto3.session.Session().client("dynamodb")
    return {"total": time.perf_counter() - T0}


def function(name: str, fixture_path: str) -> dict[str, Any]:
    from bench.meter import Index, Meter

    with open(fixture_path) as f:
        fixture = json.load(f)
    meter = Meter(fixture["table"], [Index(**i) for i in fixture["indexes"]], rules=fixture["rules"].encode())
    for item in fixture["items"]:
        key = (item["pk"]["S"], item["sk"]["S"])
        meter.items[key] = item
    meter.install()
    sink = io.StringIO()
    error = None
    with redirect_stdout(sink):
        module = importlib.import_module(f"functions.{fixture['module']}.app")
        t1 = time.perf_counter()
        try:
            out = module.lambda_handler(fixture["event"], Context(name, 512, 30))
        except Exception as exc:  # reported: a first invocation that fails is not a fast one
            out, error = None, f"{type(exc).__name__}: {exc}"[:300]
    t2 = time.perf_counter()
    return {
        "init": t1 - T0,
        "invoke": t2 - t1,
        "total": t2 - T0,
        "calls": dict(meter.bill.calls),
        "error": error,
        "result": json.dumps(out, default=str)[:300],
    }


if __name__ == "__main__":
    what = sys.argv[1]
    result = baseline() if what == "baseline" else function(what, sys.argv[2])
    print(json.dumps(result))
