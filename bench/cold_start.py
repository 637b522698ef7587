"""Cold start: each function's init plus first invocation, against B = ``import boto3`` + one client.

Every sample is a fresh interpreter (:mod:`bench.first_invoke`); rounds interleave B and every
function, so B is paired with the functions in the same run on the same noisy machine. The first
invocation gets a realistic event (a ``/track`` request, an SQS record of an event for a lead that
exists, a stream record of a lead with a pending alert, an IAM-signed ``GET /leads/{lead}``, the
sweep schedule, a sweep job, an erasure request) and canned AWS answers (an in-memory table holding
that lead, the rules document from "S3", acknowledged SQS and SNS calls): no network. The goal is on
the median of the worst function.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, example_rules_json, median, python_env, run_json

RUNS = int(os.environ.get("BENCH_COLD_RUNS", "5"))
GOAL, HARD = 1.5, 2.0
ENV = {
    "POWERTOOLS_SERVICE_NAME": "leadscore",
    "POWERTOOLS_METRICS_NAMESPACE": "Leadscore",
    "LOG_LEVEL": "INFO",
    "LEADS_TABLE": "bench-leads",
    "RULES_BUCKET": "bench-rules",
    "RULES_KEY": "rules/current.json",
    "RULES_REFRESH_SECONDS": "60",
    "SALES_READY_THRESHOLD": "100",
    "HISTORY_TTL_DAYS": "400",
    "EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-events",
    "SWEEP_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-sweep",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-alerts",
    "MAX_BODY_BYTES": "262144",
}
FUNCTIONS = {
    "IngestFunction": "ingest",
    "ScorerFunction": "scorer",
    "NotifierFunction": "notifier",
    "LeadsApiFunction": "leads_api",
    "SweeperFunction": "sweeper",
    "SweepWorkerFunction": "sweep_worker",
    "ErasureFunction": "erasure",
}


def _fixtures(tmp: Path) -> dict[str, Path]:
    """One fixture per function: its event and the items the table holds before it runs."""
    from bench import sim, storage
    from bench.template import design
    from tools.localstack import http_event, iam_authorizer, scheduled_event, sqs_record, stream_record

    ctx = storage.setup()
    email = "dana.reyes@northwindlabs.io"
    profile = storage.PROFILE
    repo = storage.repository()
    key = storage.lead_key(email)
    bodies = sim.Bodies(__import__("random").Random(5), ctx.epoch0)
    t = 0.0
    for kind in ["form_submit", "page_view", "track"] * 20:
        t += 60
        storage.score(ctx, repo, [bodies.make(email, t, profile, kind=kind)], ctx.epoch0 + t + 1)
        if "alert_pending" in ctx.meter.items[key]:
            break
    lead_item = ctx.meter.items[key]
    items = [v for k, v in ctx.meter.items.items() if k[0] == key[0]]
    lead_id = key[0].removeprefix("LEAD#")
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:bench-events"
    track = json.loads((ROOT / "events" / "http-03-track-page.json").read_text())
    get_lead = http_event(
        "GET /leads/{lead}",
        "GET",
        f"/leads/{lead_id}",
        headers={"authorization": "AWS4-HMAC-SHA256 Credential=alice/20261202/us-east-1/execute-api"},
        path_parameters={"lead": lead_id},
        authorizer=iam_authorizer({"authorization": "AWS4-HMAC-SHA256 Credential=alice/x"}),
    )
    events: dict[str, Any] = {
        "ingest": track,
        "scorer": {
            "Records": [
                sqs_record(
                    {"MessageId": "m1", "Body": bodies.make(email, t + 60, profile), "ReceiptHandle": "r"},
                    queue_arn,
                )
            ]
        },
        "notifier": {
            "Records": [
                stream_record(
                    {
                        "eventName": "MODIFY",
                        "dynamodb": {
                            "Keys": {"pk": lead_item["pk"], "sk": lead_item["sk"]},
                            "NewImage": lead_item,
                            "SequenceNumber": "1",
                            "StreamViewType": "NEW_IMAGE",
                        },
                    },
                    "arn:aws:dynamodb:us-east-1:123456789012:table/bench-leads/stream/2026",
                )
            ]
        },
        "leads_api": get_lead,
        "sweeper": scheduled_event("arn:aws:events:us-east-1:123456789012:rule/bench-sweep"),
        "sweep_worker": {
            "Records": [
                sqs_record(
                    {
                        "MessageId": "j1",
                        "Body": json.dumps(
                            {"kind": "sweep", "shard": 0, "until": int(ctx.epoch0 + 86_400 * 30)}
                        ),
                        "ReceiptHandle": "r",
                    },
                    "arn:aws:sqs:us-east-1:123456789012:bench-sweep",
                )
            ]
        },
        "erasure": {"email": email},
    }
    out = {}
    for module, event in events.items():
        path = tmp / f"{module}.json"
        path.write_text(
            json.dumps(
                {
                    "module": module,
                    "table": "bench-leads",
                    "indexes": [i.__dict__ | {"include": list(i.include)} for i in design().indexes],
                    "rules": example_rules_json().decode(),
                    "items": items,
                    "event": event,
                },
                default=str,
            )
        )
        out[module] = path
    out["_alert_pending"] = Path("yes" if "alert_pending" in lead_item else "no")
    return out


def _sample(what: str, fixture: Path | None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.first_invoke", what] + ([str(fixture)] if fixture else [])
    result: dict[str, Any] = run_json(argv, env=python_env(**ENV), timeout=120)
    return result


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="leadscore-cold-") as name:
        fixtures = _fixtures(Path(name))
        alert = str(fixtures.pop("_alert_pending"))
        _sample("baseline", None)  # warm-up: __pycache__ written, files in the page cache
        for function, module in FUNCTIONS.items():
            _sample(function, fixtures[module])
        base: list[float] = []
        samples: dict[str, list[dict[str, Any]]] = {f: [] for f in FUNCTIONS}
        for _ in range(RUNS):
            base.append(_sample("baseline", None)["total"])
            for function, module in FUNCTIONS.items():
                samples[function].append(_sample(function, fixtures[module]))
    b = median(base)
    per_function: dict[str, Any] = {}
    for function, runs in samples.items():
        totals = [r["total"] for r in runs]
        per_function[function] = {
            "total_ms": {k: round(v * 1000, 1) for k, v in _mmm(totals).items()},
            "init_ms_median": round(median([r["init"] for r in runs]) * 1000, 1),
            "invoke_ms_median": round(median([r["invoke"] for r in runs]) * 1000, 1),
            "ratio_to_B": {k: round(v / b, 2) for k, v in _mmm(totals).items()},
            "paired_ratios": [round(r["total"] / x, 2) for r, x in zip(runs, base, strict=True)],
            "aws_calls": runs[-1]["calls"],
            "error": runs[-1]["error"],
            "result": runs[-1]["result"],
        }
    worst = max(per_function, key=lambda f: per_function[f]["ratio_to_B"]["median"])
    ratio = per_function[worst]["ratio_to_B"]["median"]
    return {
        "goals": [
            {
                "name": "cold_start_first_invoke_x_b",
                "measured": ratio,
                "goal": f"<= {GOAL} (hard {HARD})",
                "pass": ratio <= GOAL,
                "note": f"worst: {worst}; B median {b * 1000:.0f} ms",
            }
        ],
        "details": {
            "B_ms": {k: round(v * 1000, 1) for k, v in _mmm(base).items()},
            "runs": RUNS,
            "worst": worst,
            "hard_limit_pass": ratio <= HARD,
            "notifier_fixture_has_pending_alert": alert,
            "functions": per_function,
        },
    }


def _mmm(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


if __name__ == "__main__":
    from bench.common import main_for

    main_for(run)
