"""AWS calls per event through the real handlers against moto (in-process), and the cost they imply.

10,000 events (Zipf over 3,000 leads, ~30 % email-blast bursts) go to ScorerFunction in SQS-shaped
batches of 100 via ``Stack.invoke``; after each batch the DynamoDB stream is pumped to
NotifierFunction, as the event source mapping would. Every botocore call made inside a handler is seen
by ``before-call``/``after-call`` hooks: counted, timed, and for DynamoDB writes billed the DynamoDB way
(table and GSI write units from item sizes before and after). A second, burst-only workload (8,000
email-blast events) is measured the same way.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any

from bench import cost
from bench.common import RULES_EXAMPLE, TEMPLATE, fake_aws_env, layer_path, main_for, row
from bench.dynamo_size import Shape, gsi_units, units
from bench.workload import Event, batches, bursts, ingest_requests, mixed

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


@dataclass
class Invocation:
    function: str
    wall: float = 0.0
    aws: float = 0.0
    clients: float = 0.0
    modeled_latency: float = 0.0
    log_bytes: int = 0
    calls: Counter[str] = field(default_factory=Counter)


class Meter:
    """Hooks on every botocore client; active only while a handler runs."""

    def __init__(self) -> None:
        self.current: Invocation | None = None
        self.invocations: list[Invocation] = []
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (function, service, operation)
        self.wru_table: Counter[str] = Counter()
        self.wru_gsi: Counter[str] = Counter()
        self.rru: Counter[str] = Counter()
        self.condition_failures = 0
        self.shapes: dict[tuple[str, str, str], Shape] = {}
        self.lead_sizes: list[int] = []
        self.wru_lead_writes = 0
        self.hot_tiers: Counter[str] = Counter()
        self.gsi_hot = 0
        self.gsi_due = 0
        self.reader: Any = None  # an unmetered DynamoDB client, to see items after UpdateItem
        self.stream: list[dict[str, Any]] = []  # NEW_IMAGE records of lead writes, for the notifier
        self.errors: list[str] = []  # handler invocations that raised
        self._tag = f"bench-{id(self)}"  # one workload's meter must not see another's calls

    # ----- hooks
    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        meter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            client = original(session, *args, **kwargs)
            if meter.current is not None:
                meter.current.clients += time.perf_counter() - start
            client.meta.events.register("before-call", meter.before, unique_id=f"bench-before-{id(meter)}")
            client.meta.events.register("after-call", meter.after, unique_id=f"bench-after-{id(meter)}")
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def before(self, model: Any, params: Any, context: Any, **_: Any) -> None:
        if self.current is None:
            return
        context[self._tag] = (time.perf_counter(), params)

    def after(self, http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        started = context.pop(self._tag, None) if isinstance(context, dict) else None
        inv = self.current
        if inv is None or started is None:
            return
        elapsed = time.perf_counter() - started[0]
        service = model.service_model.service_name
        op = model.name
        inv.aws += elapsed
        inv.calls[f"{service}.{op}"] += 1
        inv.modeled_latency += cost.LATENCY_MS.get(service, 10.0) / 1000
        self.calls[(inv.function, service, op)] += 1
        if service != "dynamodb":
            return
        ok = http_response.status_code < 300
        body = started[1].get("body") or b"{}"
        request = json.loads(body)
        self._bill(inv.function, op, request, parsed, ok)

    # ----- DynamoDB billing
    def _bill(self, function: str, op: str, request: dict[str, Any], parsed: Any, ok: bool) -> None:
        if op in READS:
            self.rru[function] += 1
            return
        table = request.get("TableName", "")
        if op == "BatchWriteItem":
            for table_name, writes in request.get("RequestItems", {}).items():
                for write in writes:
                    item = write.get("PutRequest", {}).get("Item")
                    if item is None:
                        continue
                    self._write(function, table_name, item, Shape.of(item))
            return
        if op == "PutItem":
            item = request["Item"]
            if ok:
                self._write(function, table, item, Shape.of(item))
                self._emit(item)
            else:
                self._failed(function, table, item, parsed)
            return
        if op in ("UpdateItem", "DeleteItem"):
            key = request["Key"]
            if not ok:
                self._failed(function, table, key, parsed)
                return
            current = self._read(table, key)
            self._write(function, table, current or key, Shape.of(current) if current else None)
            if current:
                self._emit(current)

    def _emit(self, item: dict[str, Any]) -> None:
        """What the table's stream (NEW_IMAGE) carries for a lead write."""
        if item.get("sk", {}).get("S") != "LEAD":
            return
        self.stream.append(
            {
                "eventID": f"bench-{len(self.stream)}",
                "eventName": "MODIFY",
                "dynamodb": {
                    "Keys": {"pk": item["pk"], "sk": item["sk"]},
                    "NewImage": item,
                    "SequenceNumber": str(100000 + len(self.stream)),
                    "StreamViewType": "NEW_IMAGE",
                },
            }
        )

    def _key(self, table: str, item: dict[str, Any]) -> tuple[str, str, str]:
        return (table, item["pk"]["S"], item["sk"]["S"])

    def _write(self, function: str, table: str, item: dict[str, Any], new: Shape | None) -> None:
        key = self._key(table, item)
        old = self.shapes.get(key)
        sizes = [s.size for s in (old, new) if s is not None]
        self.wru_table[function] += units(max(sizes)) if sizes else 1
        self.wru_gsi[function] += gsi_units(old, new)
        if key[2] == "LEAD":
            self.wru_lead_writes += units(max(sizes)) if sizes else 1
            self.gsi_hot += gsi_units(
                Shape(0, old.hot, None) if old else None, Shape(0, new.hot, None) if new else None
            )
            self.gsi_due += gsi_units(
                Shape(0, None, old.due) if old else None, Shape(0, None, new.due) if new else None
            )
            if new is not None and new.hot is not None:
                self.hot_tiers[new.hot[0]] += 1
        if new is None:
            self.shapes.pop(key, None)
        else:
            self.shapes[key] = new
            if key[2] == "LEAD":
                self.lead_sizes.append(new.size)

    def _failed(self, function: str, table: str, item: dict[str, Any], parsed: Any) -> None:
        """A failed conditional write still bills the size of the item that is there."""
        self.condition_failures += 1
        old = self.shapes.get(self._key(table, item))
        self.wru_table[function] += units(old.size) if old else 1

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        saved, self.current = self.current, None
        try:
            item: dict[str, Any] | None = self.reader.get_item(
                TableName=table, Key=key, ConsistentRead=True
            ).get("Item")
            return item
        finally:
            self.current = saved


class _Sink:
    """Handler output: counts the bytes a batch logs, keeps the lines for the summary."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def reset(self) -> None:
        self.bytes = 0
        self.lines = []


_SINK = _Sink()  # Powertools binds its stream once per process: every workload shares this sink


def _crossings(lines: list[str]) -> int:
    total = 0
    for line in "".join(lines).splitlines():
        if '"batch scored"' in line:
            try:
                total += int(json.loads(line).get("alerts", 0))
            except ValueError:
                continue
    return total


def _notify(stack: Any, meter: Meter) -> None:
    """The stream mapping's part: filtered NEW_IMAGE records to NotifierFunction in batches.

    The records are the images the handlers wrote (seen by the meter), so moto's slow stream reads stay
    out of the measurement; the mapping's filter and batch size come from the template.
    """
    from tools.localstack import passes_filters, stream_event, stream_record

    mapping = next(
        m for m in stack.translation.mappings if m.kind == "dynamodb" and m.function == "NotifierFunction"
    )
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/1"
    while meter.stream:
        raw, meter.stream = meter.stream, []
        records = [r for r in (stream_record(x, arn) for x in raw) if passes_filters(r, mapping.filters)]
        for start in range(0, len(records), mapping.batch_size):
            try:
                stack.invoke("NotifierFunction", stream_event(records[start : start + mapping.batch_size]))
            except Exception as exc:  # Lambda would retry the batch; the bench records it and goes on
                meter.errors.append(f"NotifierFunction: {type(exc).__name__}: {exc}"[:300])


def _drop_moto_stream(table: str) -> None:
    """moto copies every write's full image into its stream shard (slow for large items); the meter
    feeds the notifier the same images itself, so moto's copy is switched off."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(table).stream_shard = None


def measure(events: list[Event], label: str) -> dict[str, Any]:
    """Run one workload through a fresh stack; return per-event counts and durations."""
    import boto3
    from leadscore.dal.leads import reset_repositories
    from moto import mock_aws

    from tools.localstack import Stack, sqs_record

    meter = Meter()
    meter.install()
    sink = _SINK

    class MeteredStack(Stack):
        def invoke(self, function: str, event: Any, context: Any = None) -> Any:
            inv = Invocation(function)
            sink.reset()
            meter.current = inv
            start = time.perf_counter()
            try:
                return super().invoke(function, event, context)
            finally:
                inv.wall = time.perf_counter() - start
                meter.current = None
                inv.log_bytes = sink.bytes
                meter.invocations.append(inv)
                if function == "ScorerFunction":
                    scorer_lines.extend(sink.lines)

    scorer_lines: list[str] = []
    reset_repositories()
    # A warm container keeps its boto3 clients: the local stack clears them per invocation (its
    # functions share one process); here they are kept per workload, and made anew for each.
    from leadscore.dal.clients import reset_clients

    from tools.localstack import caches

    caches._PER_INVOCATION = tuple(c for c in caches._PER_INVOCATION if c[1] != "reset_clients")
    reset_clients()
    with redirect_stdout(sink):  # type: ignore[type-var]
        # Powertools binds its stream when the Logger is made; the stack imports the layer early.
        import leadscore.observability  # noqa: F401
    with mock_aws():
        stack = MeteredStack.create(TEMPLATE, handler_output=sink)  # type: ignore[arg-type]
        stack.upload_rules(RULES_EXAMPLE)
        _drop_moto_stream(stack.physical_id("LeadsTable"))
        meter.reader = boto3.session.Session(region_name="us-east-1").client("dynamodb")
        queue_arn = stack.arn("EventsQueue")
        env = stack.env("ScorerFunction")
        refresh = int(env.get("RULES_REFRESH_SECONDS", "60"))
        memory = stack.translation.functions["ScorerFunction"].memory
        batch_size = next(
            m.batch_size
            for m in stack.translation.mappings
            if m.kind == "sqs" and m.function == "ScorerFunction"
        )
        started = time.perf_counter()
        failed = 0
        for n, batch in enumerate(batches(events, batch_size)):
            records = [
                sqs_record({"MessageId": f"{label}-{n}-{i}", "Body": e.body, "ReceiptHandle": "r"}, queue_arn)
                for i, e in enumerate(batch)
            ]
            try:
                result = stack.invoke("ScorerFunction", {"Records": records})
            except Exception as exc:  # the whole batch would be retried
                meter.errors.append(f"ScorerFunction: {type(exc).__name__}: {exc}"[:300])
                result = {"batchItemFailures": records}
            failed += len((result or {}).get("batchItemFailures", []))
            _notify(stack, meter)
        elapsed = time.perf_counter() - started
        published = len(stack.inbox())
    reset_repositories()
    reset_clients()
    return _summary(meter, events, scorer_lines, elapsed, refresh, memory, batch_size, failed, published)


def _summary(
    meter: Meter,
    events: list[Event],
    scorer_lines: list[str],
    elapsed: float,
    refresh: int,
    memory: int,
    batch_size: int,
    failed: int,
    delivered: int,
) -> dict[str, Any]:
    n = len(events)
    by_fn: dict[str, list[Invocation]] = {}
    for inv in meter.invocations:
        by_fn.setdefault(inv.function, []).append(inv)

    def calls(function: str, service: str, ops: set[str] | None = None) -> int:
        return sum(
            c
            for (f, s, o), c in meter.calls.items()
            if f == function and s == service and (ops is None or o in ops)
        )

    def billed_seconds(invs: list[Invocation]) -> tuple[float, float]:
        """(measured-compute + modeled AWS latency, raw moto wall) summed over invocations.

        Clients are created per invocation by the local stack (it clears them); a warm Lambda keeps
        them, so their creation is left out. The first invocation of each function (imports) too.
        """
        if not invs:
            return 0.0, 0.0
        warm = invs[1:] or invs
        modeled = sum(max(0.0, i.wall - i.aws - i.clients) + i.modeled_latency for i in warm)
        raw = sum(i.wall - i.clients for i in warm)
        scale = len(invs) / len(warm)
        return modeled * scale, raw * scale

    scorer = by_fn.get("ScorerFunction", [])
    notifier = by_fn.get("NotifierFunction", [])
    s_bill, s_raw = billed_seconds(scorer)
    n_bill, _ = billed_seconds(notifier)
    crossings = _crossings(scorer_lines)
    sns = calls("NotifierFunction", "sns", {"Publish"})
    wru_table = sum(meter.wru_table.values())
    wru_gsi = sum(meter.wru_gsi.values())
    scorer_reads = calls("ScorerFunction", "dynamodb", READS)
    s3_gets = calls("ScorerFunction", "s3", {"GetObject"})
    log_bytes = sum(i.log_bytes + cost.PLATFORM_LOG_BYTES for i in meter.invocations)
    sends = ingest_requests(events)
    polls = math.ceil(n / 10)  # Lambda's SQS poller: ReceiveMessage and DeleteMessageBatch, 10 per call
    per_event = {
        "lambda_invocations": len(meter.invocations) / n,
        "lambda_seconds": (s_bill + n_bill) / n,
        "wru_table": wru_table / n,
        "wru_gsi": wru_gsi / n,
        "rru": sum(meter.rru.values()) * 0.5 / n,
        "sns": sns / n,
        "sqs_send": sends / n,
        "sqs_poll": 2 * polls / n,
        "s3_get": s3_gets / n,
        "log_bytes": log_bytes / n,
    }
    sizes = sorted(meter.lead_sizes) or [0]
    return {
        "events": n,
        "leads": len({e.lead for e in events}),
        "elapsed_s": round(elapsed, 1),
        "scorer_invocations": len(scorer),
        "notifier_invocations": len(notifier),
        "failed_records": failed,
        "handler_errors": len(meter.errors),
        "handler_error_samples": sorted(set(meter.errors))[:5],
        "calls": {f"{f}:{s}.{o}": c for (f, s, o), c in sorted(meter.calls.items())},
        "calls_per_event": round(sum(meter.calls.values()) / n, 3),
        "wru_table_per_event": round(wru_table / n, 3),
        "wru_gsi_per_event": round(wru_gsi / n, 3),
        "wru_by_function": {k: round(v / n, 3) for k, v in meter.wru_table.items()},
        "breakdown": {
            "lead_item_wru_per_event": round(meter.wru_lead_writes / n, 3),
            "history_wru_per_event": round((wru_table - meter.wru_lead_writes) / n, 3),
            "hot_index_wru_per_event": round(meter.gsi_hot / n, 3),
            "due_index_wru_per_event": round(meter.gsi_due / n, 3),
            "hot_index_writes_by_tier": dict(meter.hot_tiers),
            # Lead writes per event if the SQS mapping's BatchSize were larger (distinct leads per batch).
            "lead_writes_per_event_by_batch_size": {
                size: round(sum(len({e.lead for e in b}) for b in batches(events, size)) / n, 3)
                for size in (100, 1000, 10000)
            },
        },
        "wru_gsi_by_function": {k: round(v / n, 3) for k, v in meter.wru_gsi.items()},
        "condition_failures": meter.condition_failures,
        "scorer_reads": scorer_reads,
        "s3_gets": s3_gets,
        "s3_allowed": 1 + int(elapsed // refresh),
        "refresh_seconds": refresh,
        "crossings": crossings,
        "sns_publishes": sns,
        "delivered_to_inbox": delivered,
        "lambda_per_event": round(len(meter.invocations) / n, 4),
        "scorer_per_event": round(len(scorer) / n, 4),
        "expected_scorer_per_event": round(1 / batch_size, 4),
        "scorer_ms_per_invocation_modeled": round(s_bill / max(1, len(scorer)) * 1000, 1),
        "scorer_ms_per_invocation_moto": round(s_raw / max(1, len(scorer)) * 1000, 1),
        "notifier_ms_per_invocation_modeled": round(n_bill / max(1, len(notifier)) * 1000, 1),
        "log_bytes_per_scorer_batch": round(
            sum(i.log_bytes for i in scorer) / max(1, len(scorer)) + cost.PLATFORM_LOG_BYTES
        ),
        "lead_item_bytes": {
            "median": sizes[len(sizes) // 2],
            "p90": sizes[int(len(sizes) * 0.9)],
            "p99": sizes[int(len(sizes) * 0.99)],
            "max": sizes[-1],
        },
        "sqs_requests": {"ingest_send_batches": sends, "receive": polls, "delete": polls},
        "per_event": per_event,
        "cost": cost.per_million(per_event, memory),
        "memory_mb": memory,
    }


def _cost_row(metric: str, dollars: float, note: str = "") -> dict[str, Any]:
    """A cost per 1M events beside the goal, as a ratio to the naive design's."""
    return row(
        metric,
        dollars,
        "$",
        baseline=cost.NAIVE_PER_MILLION,
        ratio=round(dollars / cost.NAIVE_PER_MILLION, 2),
        goal=f"<= ${cost.GOAL_PER_MILLION:.2f}",
        ok=dollars <= cost.GOAL_PER_MILLION,
        note=note,
    )


def run() -> dict[str, Any]:
    fake_aws_env()
    layer_path()
    mixed_events = mixed(10_000)
    burst_events = bursts(8_000, leads=1_600)  # several SQS batches, not one
    m = measure(mixed_events, "mixed")
    b = measure(burst_events, "burst")
    rows = [
        row(
            "DynamoDB WCU per event (table), mixed",
            m["wru_table_per_event"],
            "WCU",
            goal="<= 1.0",
            ok=m["wru_table_per_event"] <= 1.0,
            note=f"lead item median {m['lead_item_bytes']['median']} B, max {m['lead_item_bytes']['max']} B",
        ),
        row(
            "DynamoDB WCU per event (table), burst",
            b["wru_table_per_event"],
            "WCU",
            goal="<= 0.5",
            ok=b["wru_table_per_event"] <= 0.5,
        ),
        row(
            "DynamoDB WCU per event (GSI hot+due), mixed",
            m["wru_gsi_per_event"],
            "WCU",
            note="billed on top of the table's; in the cost",
        ),
        row(
            "DynamoDB reads on the scorer path",
            m["scorer_reads"] + b["scorer_reads"],
            goal="0",
            ok=m["scorer_reads"] + b["scorer_reads"] == 0,
        ),
        row(
            "S3 GETs (scorer), mixed",
            m["s3_gets"],
            baseline=m["s3_allowed"],
            goal=f"<= 1 per {m['refresh_seconds']} s",
            ok=m["s3_gets"] <= m["s3_allowed"],
            note=f"run took {m['elapsed_s']} s",
        ),
        row(
            "SNS publishes vs crossings, mixed",
            m["sns_publishes"],
            baseline=m["crossings"],
            goal="= crossings",
            ok=m["sns_publishes"] == m["crossings"],
        ),
        row(
            "SNS publishes vs crossings, burst",
            b["sns_publishes"],
            baseline=b["crossings"],
            goal="= crossings",
            ok=b["sns_publishes"] == b["crossings"],
        ),
        row(
            "Scorer invocations per event",
            m["scorer_per_event"],
            baseline=m["expected_scorer_per_event"],
            goal="0.01",
            ok=m["scorer_per_event"] <= m["expected_scorer_per_event"] + 1e-9,
            note=f"all Lambda (with notifier): {m['lambda_per_event']}",
        ),
        row("AWS calls per event (all handlers), mixed", m["calls_per_event"], note="report"),
        row(
            "handler invocations that raised (mixed + burst)",
            m["handler_errors"] + b["handler_errors"],
            goal="0",
            ok=m["handler_errors"] + b["handler_errors"] == 0,
            note="; ".join((m["handler_error_samples"] + b["handler_error_samples"])[:1])[:160],
        ),
    ]
    rows.append(
        _cost_row(
            "Cost per 1M events, mixed",
            m["cost"]["total"],
            f"prices {cost.PRICES_DATE}; baseline = naive design",
        )
    )
    rows.append(
        _cost_row(
            "  from the queue on (the naive design's scope)",
            m["cost"]["scoring"],
            "without ingest's SQS sends (one per HTTP request)",
        )
    )
    for item, dollars in m["cost"]["items"].items():
        rows.append(row(f"  cost: {item}", dollars, "$"))
    rows.append(_cost_row("Cost per 1M events, burst", b["cost"]["total"]))
    return {
        "rows": rows,
        "details": {
            "mixed": m,
            "burst": b,
            "prices": {"date": cost.PRICES_DATE, **cost.PRICES},
            "latency_model_ms": cost.LATENCY_MS,
        },
    }


if __name__ == "__main__":
    main_for(run)
