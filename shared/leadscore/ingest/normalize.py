"""Small normalizers every source shares: properties, timestamps, URLs, campaign (UTM) fields.

Properties are capped so that one event always fits in one SQS message, whatever the caller sends:
at most ``MAX_PROPERTIES`` keys, keys cut to ``MAX_KEY_CHARS``, strings cut to ``MAX_VALUE_CHARS``,
nested objects flattened to dotted keys (``MAX_DEPTH`` levels), lists of scalars joined with commas,
non-finite numbers dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from leadscore.models.event import Scalar

MAX_PROPERTIES = 64
MAX_KEY_CHARS = 100
MAX_VALUE_CHARS = 1024
MAX_DEPTH = 3
FUTURE_TOLERANCE = timedelta(minutes=5)

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Segment's context.campaign keys → our property names.
CAMPAIGN_KEYS = {
    "name": "utm_campaign",
    "source": "utm_source",
    "medium": "utm_medium",
    "term": "utm_term",
    "content": "utm_content",
}

_SNAKE = re.compile(r"[^a-z0-9]+")


def snake_key(name: str) -> str:
    """``"How did you hear?"`` → ``"how_did_you_hear"``."""
    return _SNAKE.sub("_", name.casefold()).strip("_")[:MAX_KEY_CHARS]


def scalar(value: Any) -> Scalar | None:
    """A property value: strings trimmed and capped, finite numbers, booleans; lists of scalars joined."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        return text[:MAX_VALUE_CHARS] if text else None
    if isinstance(value, list | tuple):
        parts = [str(v) for v in (scalar(item) for item in value) if v is not None]
        return ",".join(parts)[:MAX_VALUE_CHARS] if parts else None
    return None


def _flatten(prefix: str, value: Any, depth: int) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), item, depth + 1)
    else:
        yield prefix, value


def clean_properties(*sources: Mapping[str, Any] | None) -> dict[str, Scalar]:
    """Merge property mappings (earlier sources win), flattened and capped. Empty values are dropped."""
    out: dict[str, Scalar] = {}
    for source in sources:
        if not source:
            continue
        for path, value in _flatten("", source, 0):
            key = path.strip()[:MAX_KEY_CHARS]
            if not key or key in out:
                continue
            clean = scalar(value)
            if clean is None:
                continue
            if len(out) >= MAX_PROPERTIES:
                return out
            out[key] = clean
    return out


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (``Z`` or an offset; naive means UTC) or epoch seconds/milliseconds. None if unusable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            if not math.isfinite(value) or value <= 0:
                return None
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
                return parse_time(float(text))
            parsed = datetime.fromisoformat(text)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def occurred_at(value: Any, received_at: datetime) -> datetime:
    """When it happened: the sender's time if usable and not in the future, else when we received it."""
    parsed = parse_time(value)
    if parsed is None or parsed > received_at + FUTURE_TOLERANCE:
        return received_at
    return parsed


def url_path(url: str) -> str | None:
    """The path of a URL (``https://x.io/pricing?a=1`` → ``/pricing``), or None if it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme and not url.startswith("/"):
        return None
    return parts.path or "/"


def utm_from_url(url: str) -> dict[str, str]:
    """The ``utm_*`` query parameters of a URL."""
    try:
        query = urlsplit(url.strip()).query
    except ValueError:
        return {}
    return {k: v for k, v in parse_qsl(query) if k in UTM_FIELDS and v.strip()}


def page_properties(url: Any, path: Any = None) -> dict[str, Any]:
    """``url`` and ``path`` (derived from the URL when missing) and UTM fields found in the URL."""
    props: dict[str, Any] = {}
    if isinstance(url, str) and url.strip():
        props["url"] = url.strip()
        derived = url_path(url)
        if derived:
            props["path"] = derived
        props.update(utm_from_url(url))
    if isinstance(path, str) and path.strip():
        props["path"] = path.strip()
    return props
