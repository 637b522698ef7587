"""What the local stack prints on the terminal: the thread-safe Console, one line per pumped batch, an
SNS alert as a rep reads it, the events the lead bus received, and the text helpers they share.

Handlers write to sys.stdout (which the stack sends to the handler log); the Console keeps the
terminal, whatever thread prints.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from typing import Any, TextIO

from tools.localstack import PumpResult


class Console:
    """Thread-safe printing to the terminal, whatever handlers do with sys.stdout meanwhile."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, text: str = "") -> None:
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()

    def batch(self, result: PumpResult) -> None:
        """One line for a pumped batch: every scored batch, and any other that failed or erred."""
        first_lines = [e.strip().splitlines()[0] for e in result.errors if e.strip()]
        errors = f"\n              error: {shorten('; '.join(first_lines), 200)}" if first_lines else ""
        if result.source == "EventsQueue" or result.function == "ScorerFunction":
            line = f"scored batch  {result.records} event(s) from {result.source}"
        else:
            line = f"{result.function:<13} {result.records} record(s) from {result.source} stream"
        if result.failed:
            line += f", {result.failed} failed (retried)"
        if result.to_dlq:
            line += f", {result.to_dlq} given up (sent to the OnFailure destination)"
        if result.errors or result.failed or result.source == "EventsQueue":
            self(line + errors)

    def notification(self, note: dict[str, Any]) -> None:
        """An SNS notification: its subject, then its message as describe_message reads it."""
        self(f"ALERT  {note.get('Subject') or '(no subject)'}")
        for line in describe_message(str(note.get("Message", ""))):
            self(f"       {line}")

    def lead_event(self, event: dict[str, Any]) -> None:
        """An event of the lead bus: its kind, the lead, and the tier move when it is one."""
        detail = event.get("detail") or {}
        change = detail.get("change") or {}
        moved = f"  {change.get('from')} -> {change.get('to')}" if "to" in change else ""
        self(f"EVENT  {event.get('detail-type')}  lead {detail.get('lead_id')}{moved}")


def describe_message(message: str, width: int = 150) -> list[str]:
    """Readable lines for an SNS message: text as is; a JSON document (what an SQS subscriber gets
    from a ``MessageStructure=json`` publish) as its scalar fields and lists, one per line."""
    try:
        document = json.loads(message)
    except ValueError:
        return message.splitlines() or [""]
    if not isinstance(document, dict):
        return [shorten(message, width)]
    if isinstance(document.get("text"), str):  # a leadscore alert: show it as the rep reads it
        return str(document["text"]).splitlines()
    lines = []
    for key, value in document.items():
        if isinstance(value, dict):
            scalars = {k: v for k, v in value.items() if not isinstance(v, dict | list)}
            if scalars:
                pairs = ", ".join(f"{k}={_scalar(v)}" for k, v in scalars.items())
                lines.append(shorten(f"{key}: {pairs}", width))
        elif isinstance(value, list):
            if value and all(isinstance(v, str | int | float) for v in value):
                lines.append(shorten(f"{key}: " + "; ".join(str(v) for v in value), width))
        else:
            lines.append(shorten(f"{key}: {_scalar(value)}", width))
    return lines


def _scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def shorten(text: str, width: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def lead_events_summary(events: list[dict[str, Any]]) -> str:
    """``Lead Became Sales Ready ×1, Lead Tier Changed ×3``: what the bus received, by detail type."""
    counts = Counter(str(e.get("detail-type")) for e in events)
    return ", ".join(f"{kind} \u00d7{n}" for kind, n in sorted(counts.items())) or "none"
