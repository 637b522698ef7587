"""Throughput: events/s through ScorerFunction against a real moto server over HTTP (report only).

A ``ThreadedMotoServer`` on 127.0.0.1 (a free port), the stack created from template.yaml on it, and
SQS-shaped batches of 100 sent through ``Stack.invoke`` one after another (one warm container).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from bench.common import RULES_EXAMPLE, TEMPLATE, fake_aws_env, layer_path, main_for, row
from bench.workload import batches, mixed

EVENTS = 1_100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run() -> dict[str, Any]:
    import io
    import logging
    from contextlib import redirect_stdout

    fake_aws_env()
    layer_path()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint
    sink = io.StringIO()
    try:
        with redirect_stdout(sink):
            import leadscore.observability  # noqa: F401  (Powertools binds its stream here)
        from tools.localstack import Stack, sqs_record

        stack = Stack.create(TEMPLATE, endpoint_url=endpoint, handler_output=sink)
        stack.upload_rules(RULES_EXAMPLE)
        arn = stack.arn("EventsQueue")
        events = mixed(EVENTS, seed=31)
        handler_s = 0.0
        failed = 0
        per_batch = []
        for n, batch in enumerate(batches(events, 100)):
            records = [
                sqs_record({"MessageId": f"t{n}-{i}", "Body": e.body, "ReceiptHandle": "r"}, arn)
                for i, e in enumerate(batch)
            ]
            start = time.perf_counter()
            result = stack.invoke("ScorerFunction", {"Records": records})
            elapsed = time.perf_counter() - start
            sink.seek(0)
            sink.truncate()
            failed += len((result or {}).get("batchItemFailures", []))
            if n:  # the first batch is the cold start
                handler_s += elapsed
                per_batch.append(elapsed)
        scored = len(events) - 100
    finally:
        server.stop()
    rate = scored / handler_s
    return {
        "rows": [
            row(
                "throughput: scorer vs moto server (1 container)",
                round(rate, 1),
                "events/s",
                note=f"{scored} warm events, {failed} failed records; report only",
            )
        ],
        "details": {
            "events": scored,
            "seconds": round(handler_s, 2),
            "batch_s": [round(x, 2) for x in per_batch],
        },
    }


if __name__ == "__main__":
    main_for(run)
