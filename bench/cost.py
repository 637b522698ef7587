"""Cost per 1M events of the whole path, from the storage run's metered counts, and the floor.

Prices: shared/notes/performance.md (us-east-1, on-demand, as published). Measured (bench.storage):
requests and SendMessageBatch calls per event, scorer invocations, DynamoDB write and read units on
the table and each index, alerts, scorer CPU, ingest CPU, log bytes of both handlers. Modeled (each
labelled in ``assumptions``): in-region call latency, SQS receives and deletes by the event source,
the notifier's work per alert (its writes are not metered: the stand-in does not evaluate its update
expressions), and Lambda's CPU share at 512 MB.
"""

from __future__ import annotations

import math
from typing import Any

PRICES = {
    "api_gateway_http_request": 1.00 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "sns_publish": 0.50 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "logs_gb": 0.50,
    # not in performance.md: AWS X-Ray's published price, for the reported-only tracing line
    "xray_trace_recorded": 5.00 / 1e6,
}
PLATFORM_LOG_BYTES = 360  # START, END, REPORT lines per invocation
SQS_RECEIVES_PER_EVENT = 0.1  # the event source receives up to 10 messages per call
SQS_DELETES_PER_EVENT = 0.1  # and deletes them 10 per DeleteMessageBatch
NOTIFIER = {
    "invocations_per_alert": 2,  # the scorer's write, then the claim's own stream record (skipped)
    "updates_per_alert": 2,  # claim, mark sent
    "due_index_units_per_alert": 2,  # mark sent moves the due key: a delete and a put
    "ms_per_alert": 27.0,  # 2 UpdateItem (6 ms) + Publish (12 ms) + ~3 ms CPU
    "log_bytes_per_invocation": 1500,
}
XRAY_SAMPLED = 0.05  # default sampling: 1 request/s reservoir then 5 % (Tracing: Active in Globals)


def _gb_s(ms: float, memory_mb: int) -> float:
    return math.ceil(ms) / 1000 * memory_mb / 1024  # Lambda bills duration in 1 ms steps


def notifier_wcu_per_alert(lead_item_bytes: int) -> float:
    units = max(1, math.ceil(lead_item_bytes / 1024))
    return NOTIFIER["updates_per_alert"] * units + NOTIFIER["due_index_units_per_alert"]


def per_million(
    window: dict[str, Any],
    ingest: dict[str, Any],
    scorer_log_bytes: float,
    memory_mb: int,
    stretch: float,
    sqs_latency_ms: float,
) -> dict[str, Any]:
    """Dollars per 1M queued events, per service, for both front doors."""
    e = window["events"]
    r = window["requests"] / e  # HTTP requests per queued event (strangers' rejected ones included)
    s = window["send_batches"] / e
    batches = window["batches"] / e
    alerts = window["alerts_per_event"]
    p50 = window["lead_item_bytes"]["p50"]
    m = 1e6
    ingest_ms = ingest["cpu_ms_per_request"]["median"] * stretch + (s / r) * sqs_latency_ms
    wcu = window["wcu_per_event_by_where"]
    items: dict[str, float] = {
        "API Gateway HTTP API (front door)": r * PRICES["api_gateway_http_request"] * m,
        "Lambda ingest requests": r * PRICES["lambda_request"] * m,
        "Lambda ingest GB-s": r * _gb_s(ingest_ms, memory_mb) * PRICES["lambda_gb_second"] * m,
        "SQS sends (ingest)": s * PRICES["sqs_request"] * m,
        "SQS receives + deletes (event source)": (SQS_RECEIVES_PER_EVENT + SQS_DELETES_PER_EVENT)
        * PRICES["sqs_request"]
        * m,
        "Lambda scorer requests": batches * PRICES["lambda_request"] * m,
        "Lambda scorer GB-s": window["modeled_gb_s_per_event"] * PRICES["lambda_gb_second"] * m,
        "DynamoDB table writes (scorer)": wcu.get("table", 0.0) * PRICES["dynamodb_wru"] * m,
        "DynamoDB index writes (scorer)": sum(v for k, v in wcu.items() if k.startswith("index:"))
        * PRICES["dynamodb_wru"]
        * m,
        "DynamoDB reads (scorer)": window["rcu_per_event"] * PRICES["dynamodb_rru"] * m,
        "DynamoDB writes (notifier, modeled)": alerts
        * notifier_wcu_per_alert(p50)
        * PRICES["dynamodb_wru"]
        * m,
        "Lambda notifier requests + GB-s (modeled)": alerts
        * NOTIFIER["invocations_per_alert"]
        * PRICES["lambda_request"]
        * m
        + alerts * _gb_s(NOTIFIER["ms_per_alert"], memory_mb) * PRICES["lambda_gb_second"] * m,
        "SNS publishes (alerts)": alerts * PRICES["sns_publish"] * m,
        "CloudWatch Logs": (
            r * (ingest["log_bytes_per_request"] + PLATFORM_LOG_BYTES)
            + batches * (scorer_log_bytes + PLATFORM_LOG_BYTES)
            + alerts
            * NOTIFIER["invocations_per_alert"]
            * (NOTIFIER["log_bytes_per_invocation"] + PLATFORM_LOG_BYTES)
        )
        / 1e9
        * PRICES["logs_gb"]
        * m,
    }
    http_total = sum(items.values())
    url_total = http_total - items["API Gateway HTTP API (front door)"]
    floor_http = r * PRICES["api_gateway_http_request"] * m + s * PRICES["sqs_request"] * m
    floor_any = (
        r * (PRICES["lambda_request"] + _gb_s(1, 128) * PRICES["lambda_gb_second"]) * m
        + s * PRICES["sqs_request"] * m
    )
    xray = r * XRAY_SAMPLED * PRICES["xray_trace_recorded"] * m
    return {
        "per_service": {k: round(v, 4) for k, v in items.items()},
        "total_http_api": round(http_total, 4),
        "total_function_url": round(url_total, 4),
        "floor_http_api": round(floor_http, 4),
        "floor_any_front_door": round(floor_any, 4),
        "ratio_http_api_vs_floor": round(http_total / floor_http, 3),
        "ratio_function_url_vs_its_floor": round(url_total / floor_any, 3),
        "xray_tracing_not_in_total": round(xray, 4),
        "per_event": {
            "requests": round(r, 4),
            "send_batches": round(s, 4),
            "scorer_invocations": batches,
            "alerts": alerts,
            "ingest_ms_modeled": round(ingest_ms, 2),
        },
        "floor_formula": (
            "floor = requests x front-door price + SendMessageBatch calls x $0.40/1M, per 1M events: "
            "every request, junk included, is answered by the front door and every event is made durable "
            "by the cheapest durable write there is, an SQS message sent straight from the front door "
            "(HTTP API's SQS integration, no function), up to 10 events of a request per call "
            "(an SQS request at $0.40/1M is cheaper than a 1 KB DynamoDB write at $0.625/1M). "
            "HTTP API: requests x $1.00/1M + sends x $0.40/1M. With no API Gateway (a Function URL), "
            "the cheapest is a 1 ms, 128 MB function per request ($0.20/1M + GB-s) + the same sends."
        ),
        "assumptions": {
            "sqs_receives_per_event": SQS_RECEIVES_PER_EVENT,
            "sqs_deletes_per_event": SQS_DELETES_PER_EVENT,
            "notifier": NOTIFIER,
            "lambda_cpu_stretch_at_512MB": round(stretch, 3),
            "xray_sampled_share": XRAY_SAMPLED,
        },
    }


def latency(window: dict[str, Any], design: dict[str, Any], rate: float, ingest_ms: float) -> dict[str, Any]:
    """Request-to-alert latency by design (ESTIMATES from the batch size and window, the measured
    scorer batch duration, and assumed platform delays)."""
    batch, window_s = design["batch_size"], design["batching_window_s"]
    dur = window["modeled_batch_seconds"]
    poll = (0.1, 1.0)  # event source poll to invoke, s (assumed)
    stream = (0.2, 1.0)  # DynamoDB stream to notifier, s (assumed)
    notify = NOTIFIER["ms_per_alert"] / 1000

    def design_row(fill_s: float, batch_s: float) -> dict[str, float]:
        typical = ingest_ms / 1000 + 0.01 + fill_s / 2 + poll[0] + batch_s / 2 + stream[0] + notify
        worst = ingest_ms / 1000 + 0.05 + fill_s + poll[1] + batch_s + stream[1] + notify
        return {"typical_s": round(typical, 2), "worst_s": round(worst, 2)}

    fill = min(window_s, batch / rate)
    small = 100
    return {
        "estimate": True,
        "scorer_concurrency_needed": round(rate / batch * dur.get("median", 0.0), 1),
        "components": {
            "front door + ingest": f"{ingest_ms:.0f} ms + ~10 ms",
            "batch fill": f"min(window {window_s:g} s, BatchSize {batch} / {rate:g} ev/s) = {fill:.2f} s",
            "event source poll": f"{poll[0]}-{poll[1]} s (assumed)",
            "scorer batch (modeled from measured CPU + call latency)": f"median {dur.get('median', 0):.1f} s",
            "stream to notifier": f"{stream[0]}-{stream[1]} s (assumed)",
            "notifier + SNS publish": f"{notify * 1000:.0f} ms",
        },
        "this template at 10^4 ev/s": design_row(fill, dur.get("median", 0.0)),
        "this template at 1 ev/s (window-bound)": design_row(window_s, 0.05),
        f"BatchSize {small}, no window, at 10^4 ev/s": design_row(
            small / rate, dur.get("median", 0.0) * small / batch
        ),
    }
