"""A 100,000-row list import on the local stack: time, memory, events written, AWS requests.

``python -m bench.list_import [--rows N] [--sqs-latency-ms MS] [--timeout S] [--out FILE]``.

A moto server runs in its own process on 127.0.0.1 (so this process's memory is the function's, and
S3 and the import queue are real HTTP requests); the stack is created from template.yaml; a seeded CSV
(accents, quoted fields, 1 % invalid addresses, 1 % duplicates, some formula cells) is put under
``imports/``; S3's notification on ImportsQueue is pumped to ImportFunction with the template's timeout
(or ``--timeout``), continuations included, as Lambda would run them. Then the same file is put again.

The events queue is the one thing not left to moto: moto's SQS re-counts every message of a queue on
each send (about 40 ms per SendMessageBatch at 1,000 queued messages, 400 ms at 4,000, measured here),
so 100,000 events would measure moto. Each SendMessageBatch to EventsQueue is serialized by botocore as
usual and then answered in-process after ``--sqs-latency-ms`` (default 10 ms, a modelled round trip),
and its entries are counted. Scoring the events is the scorer's benchmark (``make bench``).

Measured: wall and CPU time per invocation and in total; peak RSS of this process during the import
(``VmHWM``, reset just before; the CSV's bytes are already in memory) and its growth over the RSS
before; events sent to EventsQueue; AWS requests by operation; and what the re-import did.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import FAKE_AWS, RESULTS, ROOT, TEMPLATE

FIRST = ["Ana", "José", "Zoë", "Mário", "Chloé", "Dana", "Priya", "Søren", "Łukasz", "Nadia"]
COMPANIES = ['Acme "Fin" Ltd', "Müller, Söhne & Co", "Northwind Labs", "Helios Logistics", "Bücher AG"]


def make_csv(rows: int, seed: int = 14) -> bytes:
    rng = random.Random(seed)
    out = ["\ufeffWork Email,First Name,Company,Job Title,Company size,Country,Scanned at,Notes"]
    emails: list[str] = []
    for i in range(rows):
        roll = rng.random()
        if roll < 0.01:
            email = f"broken-{i}.example.com"  # no @: rejected
        elif roll < 0.02 and emails:
            email = rng.choice(emails)  # a duplicate
        else:
            email = f"visitor{i}@company{i % 5000}.example"
            emails.append(email)
        company = rng.choice(COMPANIES).replace('"', '""')
        notes = '=HYPERLINK(""http://x"")' if rng.random() < 0.005 else f"booth {rng.randint(1, 90)}"
        out.append(
            f'{email},{rng.choice(FIRST)},"{company}",Director,{rng.randint(10, 5000)},DE,'
            f'2026-11-18T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00Z,"{notes}"'
        )
    return ("\r\n".join(out) + "\r\n").encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak) of this process, from /proc (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak measured is the import's own."""
    Path("/proc/self/clear_refs").write_text("5")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.list_import")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sqs-latency-ms", type=float, default=10.0)
    parser.add_argument("--timeout", type=int, default=0, help="the function's timeout (0: the template's)")
    parser.add_argument("--out", type=Path, default=RESULTS / "list_import.json")
    args = parser.parse_args(argv)

    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    server = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(FAKE_AWS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return _measure(args.rows, args.out, endpoint, args.sqs_latency_ms / 1000, args.timeout)
    finally:
        server.terminate()
        server.wait(timeout=10)


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


def _measure(rows: int, out: Path, endpoint: str, latency: float, timeout: int) -> dict[str, Any]:
    import dataclasses
    import io

    import botocore.session
    from botocore.client import BaseClient

    from tools.localstack import Stack

    log = io.StringIO()
    stack = Stack.create(TEMPLATE, endpoint_url=endpoint, handler_output=log)
    if timeout:
        functions = stack.translation.functions
        functions["ImportFunction"] = dataclasses.replace(functions["ImportFunction"], timeout=timeout)
    stack.drain()  # nothing queued yet (the local stack drops S3's test event)
    data = make_csv(rows)
    bucket = stack.physical_id("ImportsBucket")
    key = f"imports/Bench expo {rows} badge scans.csv"
    events_queue = stack.queue_url("EventsQueue")

    calls: Counter[str] = Counter()
    entries = Counter[str]()
    original = BaseClient._make_api_call  # type: ignore[attr-defined]
    counting = [False]

    def counted(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if counting[0]:
            calls[f"{self.meta.service_model.endpoint_prefix}:{operation}"] += 1
            if operation == "SendMessageBatch" and params.get("QueueUrl") == events_queue:
                entries["events"] += len(params["Entries"])
                entries["bytes"] += sum(len(e["MessageBody"].encode()) for e in params["Entries"])
        return original(self, operation, params)

    def answer_events_queue(model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.name != "SendMessageBatch":
            return None
        request = json.loads(params.get("body") or b"{}")
        if request.get("QueueUrl") != events_queue:
            return None
        time.sleep(latency)
        ok = [{"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": "0" * 32} for e in request["Entries"]]
        return _Http(200), {"Successful": ok, "Failed": [], "ResponseMetadata": {"HTTPStatusCode": 200}}

    create_client = botocore.session.Session.create_client

    def create_answered_client(session: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(session, *args, **kwargs)
        client.meta.events.register("before-call.sqs.SendMessageBatch", answer_events_queue)
        return client

    botocore.session.Session.create_client = create_answered_client  # type: ignore[method-assign]
    BaseClient._make_api_call = counted  # type: ignore[attr-defined]

    def run_import() -> list[dict[str, Any]]:
        invocations = []
        while True:
            start, cpu = time.perf_counter(), time.process_time()
            counting[0] = True
            try:
                pumped = stack.pump_queue("ImportsQueue")
            finally:
                counting[0] = False
            if not pumped:
                return invocations
            invocations.append(
                {
                    "seconds": round(time.perf_counter() - start, 2),
                    "cpu_seconds": round(time.process_time() - cpu, 2),
                    "errors": pumped.errors,
                    "failed": pumped.failed,
                }
            )

    s3 = stack.client("s3")
    _reset_peak_rss()
    rss_before = _status_mb("VmRSS")
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    started = time.perf_counter()
    first = run_import()
    elapsed = time.perf_counter() - started
    rss_after = _status_mb("VmHWM")
    first_calls = dict(calls)
    first_events = entries["events"]
    report = json.loads(s3.get_object(Bucket=bucket, Key=key + ".report.json")["Body"].read())

    calls.clear()
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    started = time.perf_counter()
    second = run_import()
    reimport_seconds = time.perf_counter() - started
    reimport_events = entries["events"] - first_events
    BaseClient._make_api_call = original  # type: ignore[attr-defined]
    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    timeout = stack.translation.functions["ImportFunction"].timeout
    result = {
        "rows": rows,
        "file_bytes": len(data),
        "function_timeout_seconds": timeout,
        "invocations": len(first),
        "per_invocation": first,
        "total_seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed),
        "peak_rss_growth_mb": round(rss_after - rss_before, 1),
        "peak_rss_mb": round(rss_after, 1),
        "cpu_seconds": round(sum(i["cpu_seconds"] for i in first), 2),
        "sqs_latency_ms_modelled": latency * 1000,
        "events_sent": first_events,
        "event_bytes": entries["bytes"],
        "report": {
            k: report[k]
            for k in ("status", "rows", "accepted", "rejected", "duplicates", "neutralized_cells")
        },
        "requests": first_calls,
        "requests_total": sum(first_calls.values()),
        "reimport": {
            "invocations": len(second),
            "seconds": round(reimport_seconds, 3),
            "requests": dict(calls),
            "events_sent": reimport_events,
        },
        "meta": {
            "command": " ".join(["python -m bench.list_import", *sys.argv[1:]]),
            "machine": f"{os.cpu_count()} cores, shared; moto server {endpoint} in its own process",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "shared")]
    main()
