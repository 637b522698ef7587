"""Cost per 1M events from measured counts, with the price table it uses and that table's date."""

from __future__ import annotations

from typing import Any

# us-east-1, on-demand, as published (checked 2026-11-23).
PRICES_DATE = "2026-11-23"
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "sns_publish": 0.50 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "s3_get": 0.40 / 1e6,
    "logs_gb": 0.50,
}
# Latency each AWS call adds to a Lambda's billed duration (in-region p50, an assumption): moto's
# in-process time stands in for none of it; the code's own CPU is measured.
LATENCY_MS = {"dynamodb": 6.0, "s3": 20.0, "sns": 12.0, "sqs": 8.0}
# START, END and REPORT lines Lambda writes per invocation (bytes, with CloudWatch's 26-byte overhead).
PLATFORM_LOG_BYTES = 360
GOAL_PER_MILLION = 0.60
NAIVE_PER_MILLION = 3.9


def per_million(per_event: dict[str, float], memory_mb: int) -> dict[str, Any]:
    """``per_event``: lambda_invocations, lambda_seconds (billed seconds per event), wru, rru, sns,
    sqs_send (ingest's), sqs_poll (the scorer mapping's), s3_get, log_bytes. Returns dollars per 1M
    events per item, the total, and ``scoring``: the total without ingest's sends, the same scope as the
    naive design's $3.9 (an invocation per event and its calls; no queue, no HTTP API)."""
    m = 1e6
    items = {
        "Lambda requests": per_event["lambda_invocations"] * PRICES["lambda_request"] * m,
        "Lambda GB-s": per_event["lambda_seconds"] * memory_mb / 1024 * PRICES["lambda_gb_second"] * m,
        "DynamoDB writes (table)": per_event["wru_table"] * PRICES["dynamodb_wru"] * m,
        "DynamoDB writes (GSIs)": per_event["wru_gsi"] * PRICES["dynamodb_wru"] * m,
        "DynamoDB reads": per_event["rru"] * PRICES["dynamodb_rru"] * m,
        "SNS publishes": per_event["sns"] * PRICES["sns_publish"] * m,
        "SQS sends (ingest)": per_event["sqs_send"] * PRICES["sqs_request"] * m,
        "SQS receives + deletes": per_event["sqs_poll"] * PRICES["sqs_request"] * m,
        "S3 GETs": per_event["s3_get"] * PRICES["s3_get"] * m,
        "CloudWatch Logs": per_event["log_bytes"] / 1e9 * PRICES["logs_gb"] * m,
    }
    total = sum(items.values())
    return {
        "items": {k: round(v, 4) for k, v in items.items()},
        "total": round(total, 4),
        "scoring": round(total - items["SQS sends (ingest)"], 4),
    }
