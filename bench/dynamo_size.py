"""DynamoDB item sizes and write units, computed the way DynamoDB bills them.

Sizes follow the documented rules: attribute name bytes + value bytes; strings and binaries by length,
numbers ~1 byte per 2 significant digits + 1, booleans and nulls 1 byte, lists and maps 3 bytes + 1 byte
per element + their elements (map keys count as names). One write unit per started KB of the larger of
the item before and after the write.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any


def number_size(text: str) -> int:
    mantissa = text.lower().lstrip("+-").split("e", 1)[0].replace(".", "")
    digits = mantissa.strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(base64.b64decode(data)) if isinstance(data, str) else len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) if isinstance(b, str) else len(b) for b in data)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def units(size: int, unit: int = 1024) -> int:
    return max(1, math.ceil(size / unit))


@dataclass(frozen=True)
class Shape:
    """What the bill needs to remember of a stored item: its size and its index keys."""

    size: int
    hot: tuple[str, str] | None  # `hot` GSI (KEYS_ONLY): hot_pk, score
    due: tuple[str, str] | None  # `due` GSI (KEYS_ONLY): due_pk, due_at

    @classmethod
    def of(cls, item: dict[str, Any]) -> Shape:
        def key(a: str, b: str) -> tuple[str, str] | None:
            if a in item and b in item:
                return (str(next(iter(item[a].values()))), str(next(iter(item[b].values()))))
            return None

        return cls(item_size(item), key("hot_pk", "score"), key("due_pk", "due_at"))


def _keys_only(old: tuple[str, str] | None, new: tuple[str, str] | None) -> int:
    """A KEYS_ONLY index is untouched unless its key changes (then a delete and a put); entries < 1 KB."""
    if old == new:
        return 0
    return (1 if old is not None else 0) + (1 if new is not None else 0)


def gsi_units(old: Shape | None, new: Shape | None) -> int:
    """Index write units for one successful write."""
    return _keys_only(old.hot if old else None, new.hot if new else None) + _keys_only(
        old.due if old else None, new.due if new else None
    )
