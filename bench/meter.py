"""A metered, in-memory DynamoDB stand-in behind botocore, billed the way DynamoDB bills.

The real ``leadscore.dal`` code runs unchanged: a ``before-call`` hook on every botocore client
answers DynamoDB (and canned S3/SQS/SNS) calls from memory after botocore has validated and
serialized the request, so the client-side CPU of each call is real. Only the operations the
scorer's path uses are implemented (BatchGetItem, GetItem, PutItem with the two conditions
``dal/leads.py`` writes, BatchWriteItem puts and deletes, Query on the table or an index); anything
else raises, so a design change cannot silently go unbilled.

Billing (DynamoDB on-demand, as documented):

- a write costs ``ceil(max(size before, size after) / 1 KB)`` write units on the table, at least 1;
  a failed conditional write is billed the same and writes nothing;
- each global secondary index: nothing if the item is not in it before or after, or if neither its
  key nor a projected attribute changed; a put when the item enters it, a delete when it leaves, a
  delete **and** a put when its key changes; each ``ceil(entry size / 1 KB)``;
- a strongly consistent read costs ``ceil(size / 4 KB)`` read units per item (half when eventually
  consistent); an item that is not there still costs one unit; a Query bills the total it read;
- item size: attribute name bytes + value bytes (strings UTF-8, binaries raw, numbers about one byte
  per two significant digits + 1, maps and lists 3 bytes + 1 per element + elements).

Write units are also recorded per (second of simulated time, table or index, partition key).
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Item = dict[str, Any]
Key = tuple[str, str]


# --------------------------------------------------------------------------- sizes
def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a number: about one per two significant digits, plus one."""
    mantissa = text.lower().lstrip("+-").split("e", 1)[0].replace(".", "")
    digits = mantissa.strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def binary_size(data: str | bytes) -> int:
    """Raw bytes of a binary value (base64 text on the wire, bytes in Python)."""
    if isinstance(data, bytes | bytearray):
        return len(data)
    pad = data.count("=", max(0, len(data) - 2))
    return len(data) * 3 // 4 - pad


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(binary_size(b) for b in data)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool = True) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


# --------------------------------------------------------------------------- indexes
@dataclass(frozen=True)
class Index:
    """A global secondary index: its key and projection (``KEYS_ONLY``, ``INCLUDE`` or ``ALL``)."""

    name: str
    hash_key: str
    range_key: str | None
    projection: str = "KEYS_ONLY"
    include: tuple[str, ...] = ()

    def key(self, item: Item | None) -> tuple[str, ...] | None:
        if item is None or self.hash_key not in item:
            return None
        if self.range_key is not None and self.range_key not in item:
            return None
        names = [self.hash_key] + ([self.range_key] if self.range_key else [])
        return tuple(json.dumps(item[n], sort_keys=True) for n in names)

    def entry(self, item: Item, table_keys: tuple[str, ...]) -> Item:
        """The index entry: table keys, index keys, and the projected attributes."""
        if self.projection == "ALL":
            return item
        names = {*table_keys, self.hash_key, *([self.range_key] if self.range_key else [])}
        if self.projection == "INCLUDE":
            names |= set(self.include)
        return {n: item[n] for n in names if n in item}

    def partition(self, item: Item) -> str:
        return str(next(iter(item[self.hash_key].values())))


def index_writes(index: Index, old: Item | None, new: Item | None, table_keys: tuple[str, ...]) -> list[Item]:
    """The index entries written (puts and deletes) when an item goes from ``old`` to ``new``."""
    old_key, new_key = index.key(old), index.key(new)
    if old_key is None and new_key is None:
        return []
    if old_key is None:
        assert new is not None
        return [index.entry(new, table_keys)]
    assert old is not None
    if new_key is None:
        return [index.entry(old, table_keys)]
    assert new is not None
    old_entry, new_entry = index.entry(old, table_keys), index.entry(new, table_keys)
    if old_key != new_key:
        return [old_entry, new_entry]  # a delete of the old entry and a put of the new one
    return [] if old_entry == new_entry else [new_entry]


# --------------------------------------------------------------------------- the stand-in
class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.raw = None
        self.content = b""


@dataclass
class Bill:
    """What a stretch of traffic cost: units by where, calls by operation."""

    wcu: Counter[str] = field(default_factory=Counter)  # "table" or "index:<name>"
    rcu: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)  # "<service>.<operation>"
    failed_conditions: int = 0
    lead_writes: int = 0
    table_by_kind: Counter[str] = field(default_factory=Counter)  # table units by item kind


class Meter:
    """The table in memory, and its bill. ``now`` is the simulated time (seconds) writes are booked at."""

    def __init__(
        self,
        table: str,
        indexes: list[Index],
        keys: tuple[str, str] = ("pk", "sk"),
        rules: bytes = b"{}",
    ) -> None:
        self.table = table
        self.indexes = indexes
        self.keys = keys
        self.rules = rules
        self.items: dict[Key, Item] = {}
        self.sizes: dict[Key, int] = {}
        self.now = 0.0
        self.bill = Bill()
        self.per_key: Counter[tuple[int, str, str]] = Counter()  # (second, where, partition) -> WCU
        self.lead_sizes: list[int] = []  # size of each lead item written (sk = LEAD)
        self.metering = True
        self.seconds = 0.0  # CPU spent inside this stand-in (not part of the system measured)
        self.installed = False
        # Items that exist before the run without having been written in it (a pre-existing lead
        # base): made on first access, unbilled, as if they had always been there.
        self.lazy: Callable[[Key], Item | None] | None = None
        self.alerting: set[Key] = set()  # lead items written with a pending alert (for a notifier)

    def get(self, key: Key) -> Item | None:
        item = self.items.get(key)
        if item is None and self.lazy is not None:
            item = self.lazy(key)
            if item is not None:
                self.items[key] = item
                self.sizes[key] = item_size(item)
        return item

    # ----- billing primitives
    def _book(self, where: str, partition: str, units: int) -> None:
        if not self.metering:
            return
        self.bill.wcu[where] += units
        self.per_key[(int(self.now), where, partition)] += units

    def _key(self, item: Item) -> Key:
        return (item[self.keys[0]]["S"], item[self.keys[1]]["S"])

    def write(self, new: Item | None, key: Key, *, failed: bool = False, note: str = "") -> None:
        """Store ``new`` at ``key`` (None: delete) and bill it; ``failed``: a conditional write that
        lost (billed on the table, stores nothing)."""
        old = self.get(key)
        old_size = self.sizes.get(key, 0)
        new_size = item_size(new) if new is not None else 0
        units = write_units(max(old_size, new_size))
        self._book("table", key[0], units)
        if self.metering:
            kind = "lead item" if key[1] == "LEAD" else f"{key[1][:3]} items"
            self.bill.table_by_kind[kind + (note or (" (failed conditional)" if failed else ""))] += units
        if failed:
            if self.metering:
                self.bill.failed_conditions += 1
            return
        for index in self.indexes:
            for entry in index_writes(index, old, new, self.keys):
                self._book(f"index:{index.name}", index.partition(entry), write_units(item_size(entry)))
        if new is None:
            self.items.pop(key, None)
            self.sizes.pop(key, None)
        else:
            self.items[key] = new
            self.sizes[key] = new_size
            if key[1] == "LEAD" and "alert_pending" in new:
                self.alerting.add(key)
            if key[1] == "LEAD" and self.metering:
                self.lead_sizes.append(new_size)
                self.bill.lead_writes += 1

    def read(self, key: Key, consistent: bool) -> Item | None:
        if self.metering:
            item = self.get(key)
            self.bill.rcu += read_units(self.sizes.get(key, 0), consistent)
            return item
        return self.get(key)

    # ----- operations (wire-form requests and responses)
    def handle(self, service: str, op: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.metering:
            self.bill.calls[f"{service}.{op}"] += 1
        if service == "dynamodb":
            answer: tuple[int, dict[str, Any]] = getattr(self, f"_ddb_{op}")(request)
            return answer
        if service == "s3" and op == "GetObject":
            from botocore.response import StreamingBody

            body = StreamingBody(io.BytesIO(self.rules), len(self.rules))
            return 200, {"Body": body, "ETag": '"bench"', "VersionId": "v1", "ContentLength": len(self.rules)}
        if service == "sqs" and op == "SendMessageBatch":
            return 200, {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in request["Entries"]]}
        if service == "sqs" and op == "SendMessage":
            return 200, {"MessageId": "bench", "MD5OfMessageBody": "0" * 32}
        if service == "sns" and op == "Publish":
            return 200, {"MessageId": "bench"}
        return 200, {}

    def _ddb_GetItem(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        item = self.read(self._key(request["Key"]), bool(request.get("ConsistentRead")))
        return 200, ({"Item": item} if item is not None else {})

    def _ddb_BatchGetItem(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        responses: dict[str, list[Item]] = {}
        for table, spec in request["RequestItems"].items():
            found = [self.read(self._key(k), bool(spec.get("ConsistentRead"))) for k in spec["Keys"]]
            responses[table] = [i for i in found if i is not None]
        return 200, {"Responses": responses, "UnprocessedKeys": {}}

    def _ddb_PutItem(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        item = request["Item"]
        key = self._key(item)
        current = self.get(key)
        if not _condition(request.get("ConditionExpression"), request, current):
            self.write(item, key, failed=True)
            error: dict[str, Any] = {
                "Error": {
                    "Code": "ConditionalCheckFailedException",
                    "Message": "The conditional request failed",
                }
            }
            if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
                error["Item"] = current
            return 400, error
        self.write(item, key)
        return 200, {}

    def _ddb_BatchWriteItem(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for _table, writes in request["RequestItems"].items():
            for w in writes:
                if "PutRequest" in w:
                    item = w["PutRequest"]["Item"]
                    self.write(item, self._key(item))
                else:
                    self.write(None, self._key(w["DeleteRequest"]["Key"]))
        return 200, {"UnprocessedItems": {}}

    def _ddb_UpdateItem(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Acknowledged and billed at the stored item's size; the item is NOT changed (the bench does
        not evaluate update expressions: only the notifier's outbox updates use UpdateItem, and the
        cost model prices those writes apart). Used by the cold-start fixtures."""
        key = self._key(request["Key"])
        self.write(
            self.get(key), key, failed=True, note=" (UpdateItem)"
        )  # billed like a write of the item, stores nothing
        if self.metering:
            self.bill.failed_conditions -= 1
        return 200, {}

    def _ddb_Query(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        values = request.get("ExpressionAttributeValues", {})
        conditions = _key_conditions(request["KeyConditionExpression"], values)
        name = request.get("IndexName")
        index = next((i for i in self.indexes if i.name == name), None) if name else None
        hash_key, range_key = (index.hash_key, index.range_key) if index else self.keys
        found = []
        for item in self.items.values():
            if all(_test(item.get(attr), op, value) for attr, op, value in conditions):
                found.append(item if index is None else index.entry(item, self.keys))
        if range_key is not None:
            found.sort(
                key=lambda i: _sortable(i.get(range_key)), reverse=not request.get("ScanIndexForward", True)
            )
        if "Limit" in request:
            found = found[: int(request["Limit"])]
        size = sum(item_size(i) for i in found)
        if self.metering:
            self.bill.rcu += read_units(size, bool(request.get("ConsistentRead")))
        del hash_key
        return 200, {"Items": found, "Count": len(found)}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_ddb_"):
            raise NotImplementedError(f"the bench's DynamoDB stand-in has no {name[5:]}: add and bill it")
        raise AttributeError(name)

    # ----- botocore wiring
    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        start = time.perf_counter()
        try:
            service = model.service_model.service_name
            body = params.get("body") or b"{}"
            if service == "dynamodb" or (isinstance(body, bytes | str) and body[:1] in (b"{", "{")):
                request = json.loads(body) if body else {}
            else:
                request = _query_body(body)
            status, parsed = self.handle(service, model.name, request)
            parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status, "RetryAttempts": 0})
            return _Http(status), parsed
        finally:
            self.seconds += time.perf_counter() - start

    def install(self) -> None:
        """Answer every botocore client created from now on (idempotent)."""
        if self.installed:
            return
        import botocore.session

        original = botocore.session.Session.create_client
        meter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            hook: Any = meter.before_call  # botocore's stubs type hooks as returning None
            client.meta.events.register("before-call", hook, unique_id=f"bench-meter-{id(meter)}")
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign, assignment]
        self.installed = True

    def snapshot(self) -> Bill:
        b = self.bill
        return Bill(
            Counter(b.wcu),
            b.rcu,
            Counter(b.calls),
            b.failed_conditions,
            b.lead_writes,
            Counter(b.table_by_kind),
        )

    def reset_bill(self) -> None:
        self.bill = Bill()
        self.per_key.clear()
        self.lead_sizes.clear()


def _query_body(body: Any) -> dict[str, Any]:
    """SQS (query protocol) bodies: enough to count the entries of a SendMessageBatch."""
    from urllib.parse import parse_qs

    text = body.decode() if isinstance(body, bytes) else str(body or "")
    fields = parse_qs(text)
    ids = sorted(
        {v[0] for k, v in fields.items() if re.fullmatch(r"SendMessageBatchRequestEntry\.\d+\.Id", k)}
    )
    return {"Entries": [{"Id": i} for i in ids]}


# --------------------------------------------------------------------------- expressions used by the dal
def _condition(expression: str | None, request: dict[str, Any], current: Item | None) -> bool:
    if not expression:
        return True
    expression = expression.strip()
    m = re.fullmatch(r"attribute_not_exists\((\w+)\)", expression)
    if m:
        return current is None or m.group(1) not in current
    m = re.fullmatch(r"(\w+)\s*=\s*(:\w+)", expression)
    if m:
        value = request.get("ExpressionAttributeValues", {}).get(m.group(2))
        return current is not None and current.get(m.group(1)) == value
    raise NotImplementedError(f"condition not modelled by the bench: {expression}")


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _sortable(value: dict[str, Any] | None) -> Any:
    if value is None:
        return ""
    ((kind, data),) = value.items()
    return float(data) if kind == "N" else data


def _key_conditions(expression: str, values: dict[str, Any]) -> list[tuple[str, str, Any]]:
    out = []
    for part in re.split(r"\s+AND\s+", expression.strip(), flags=re.IGNORECASE):
        m = re.fullmatch(r"(\w+)\s*(=|<=|>=|<|>)\s*(:\w+)", part.strip())
        if not m:
            raise NotImplementedError(f"key condition not modelled by the bench: {part}")
        out.append((m.group(1), m.group(2), values[m.group(3)]))
    return out


def _test(actual: dict[str, Any] | None, op: str, expected: dict[str, Any]) -> bool:
    if actual is None:
        return False
    return _OPS[op](_sortable(actual), _sortable(expected))
