"""Fields whose JSON type is known. A boolean or an object where a string or a number belongs (or a
scalar where an object belongs) is refused naming the field, never read as ``"True"`` or dropped
silently: the caller gets a 422 (forms, a single Segment message) or a per-item rejection (a batch).

``null`` counts as absent everywhere. Arrays of scalars stay allowed in form fields (a multi-select's
values are joined with commas); a Segment id or name must be a string (or a number, which Segment's own
libraries sometimes send for ``userId``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Segment spec fields leadscore reads: (path, expected) with expected "text" (string or number) or
# "object". Paths are dotted from the message.
SEGMENT_TEXT_FIELDS = (
    "event",
    "name",
    "anonymousId",
    "userId",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "traits.email",
    "context.traits.email",
    "properties.email",
)
SEGMENT_OBJECT_FIELDS = (
    "traits",
    "properties",
    "context",
    "context.traits",
    "context.page",
    "context.campaign",
)


def json_kind(value: Any) -> str:
    """``true`` → "a boolean", ``{}`` → "an object"... as a message says it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else type(value).__name__


def text_problem(path: str, value: Any, *, arrays: bool = False) -> str | None:
    """``"path: expected a string or a number, got a boolean"``, or None if ``value`` fits."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return None
    if arrays and isinstance(value, list) and all(text_problem("", v) is None for v in value):
        return None
    return f"{path}: expected a string or a number, got {json_kind(value)}"


def _at(message: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = message
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def segment_problems(message: Mapping[str, Any]) -> list[str]:
    """What is the wrong JSON type in a Segment message (one line per field, in spec order)."""
    problems = []
    for path in SEGMENT_OBJECT_FIELDS:
        found, value = _at(message, path)
        if found and value is not None and not isinstance(value, Mapping):
            problems.append(f"{path}: expected an object, got {json_kind(value)}")
    for path in SEGMENT_TEXT_FIELDS:
        found, value = _at(message, path)
        if found:
            problem = text_problem(path, value)
            if problem is not None:
                problems.append(problem)
    return problems


def form_problems(pairs: Iterable[tuple[str, Any]], is_known: Any) -> list[str]:
    """Form fields that map to a known target (``is_known(name)``) holding a boolean or an object."""
    return [
        problem
        for name, value in pairs
        if is_known(name) and (problem := text_problem(name, value, arrays=True)) is not None
    ]
