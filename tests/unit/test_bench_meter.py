"""The benchmark's DynamoDB stand-in bills as DynamoDB does (bench/meter.py): sizes, units, indexes."""

from __future__ import annotations

from typing import Any

import pytest

from bench.meter import Index, Meter, item_size, number_size, read_units, write_units

HOT = Index("hot", "hot_pk", "score")
DUE = Index("due", "due_pk", "due_at")


def _meter() -> Meter:
    return Meter("t", [HOT, DUE])


def _lead(pad: int, **extra: Any) -> dict[str, Any]:
    return {"pk": {"S": "LEAD#a"}, "sk": {"S": "LEAD"}, "ver": {"N": "1"}, "st": {"B": b"x" * pad}, **extra}


def _put(m: Meter, item: dict[str, Any], **kw: Any) -> int:
    status, _ = m.handle("dynamodb", "PutItem", {"TableName": "t", "Item": item, **kw})
    return status


def test_item_size_counts_names_and_values() -> None:
    # "pk"(2)+"LEAD#a"(6) + "sk"(2)+"LEAD"(4) + "ver"(3)+number 1 (2) + "st"(2)+10 bytes
    assert item_size(_lead(10)) == 8 + 6 + 5 + 12
    assert number_size("12345") == 4
    assert item_size({"b": {"B": "AAAA"}}) == 1 + 3  # base64 on the wire: 3 raw bytes
    assert item_size({"m": {"M": {"k": {"S": "vv"}}}}) == 1 + 3 + (1 + 2 + 1)


def test_units_round_up_per_started_kb_and_4kb() -> None:
    assert [write_units(s) for s in (0, 1, 1024, 1025, 4096)] == [1, 1, 1, 2, 4]
    assert [read_units(s) for s in (1, 4096, 4097)] == [1, 1, 2]
    assert read_units(4097, consistent=False) == 1


def test_write_bills_larger_of_old_and_new() -> None:
    m = _meter()
    _put(m, _lead(3000))  # 3 KB item: 3 units
    _put(m, _lead(100))  # shrinking still pays for the 3 KB it replaces
    assert m.bill.wcu["table"] == 3 + 3
    _put(m, _lead(100))
    assert m.bill.wcu["table"] == 7


def test_failed_condition_is_billed_and_writes_nothing() -> None:
    m = _meter()
    _put(m, _lead(2500))  # 3 units
    status = _put(m, _lead(10), ConditionExpression="attribute_not_exists(pk)")
    assert status == 400
    assert m.bill.failed_conditions == 1
    assert m.bill.wcu["table"] == 3 + 3  # billed at the stored item's size
    assert item_size(m.items[("LEAD#a", "LEAD")]) > 2500
    ok = _put(
        m,
        _lead(10, ver={"N": "2"}),
        ConditionExpression="ver = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    assert ok == 200


def test_gsi_key_change_is_a_delete_and_a_put() -> None:
    m = _meter()
    hot = {"hot_pk": {"S": "HOT#warm#01"}, "score": {"N": "50"}}
    _put(m, _lead(10, **hot))  # enters the index: 1 put
    assert m.bill.wcu["index:hot"] == 1
    _put(m, _lead(20, **hot))  # same keys, keys-only projection: the index is not written
    assert m.bill.wcu["index:hot"] == 1
    _put(m, _lead(20, hot_pk={"S": "HOT#warm#01"}, score={"N": "60"}))  # new sort key: delete + put
    assert m.bill.wcu["index:hot"] == 3
    _put(m, _lead(20))  # leaves the index: 1 delete
    assert m.bill.wcu["index:hot"] == 4
    assert m.bill.wcu["index:due"] == 0
    assert m.per_key[(0, "index:hot", "HOT#warm#01")] == 4


def test_reads_of_absent_items_cost_one_unit() -> None:
    m = _meter()
    _put(m, _lead(5000))  # 5 KB: 2 read units consistent
    keys = [{"pk": {"S": "LEAD#a"}, "sk": {"S": "LEAD"}}, {"pk": {"S": "LEAD#b"}, "sk": {"S": "LEAD"}}]
    _, out = m.handle(
        "dynamodb", "BatchGetItem", {"RequestItems": {"t": {"Keys": keys, "ConsistentRead": True}}}
    )
    assert len(out["Responses"]["t"]) == 1
    assert m.bill.rcu == 2 + 1


def test_unmodelled_operations_raise() -> None:
    with pytest.raises(NotImplementedError):
        _meter().handle("dynamodb", "TransactWriteItems", {})
