"""One Logger, Metrics and Tracer for every function. Keys, not prose; never raw events (PII)."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "leadscore"
NAMESPACE = "Leadscore"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# An address in any script: a local part of anything but spaces and delimiters (Unicode letters, marks,
# digits; quoted local parts aside), an at sign (ASCII, full-width, small, or percent-encoded), then
# dot-separated labels in any script (IDN U-labels, xn-- A-labels) with the dots IDNA accepts (。．｡).
_AT = r"(?:[@\uff20\ufe6b]|%40)"
_DOT = "[.\u3002\uff0e\uff61]"
_DELIMITERS = "\\s<>()\\[\\]{},;:\"'`|\\\\/@\uff20\ufe6b"
_LABEL = f"[^{_DELIMITERS}.\u3002\uff0e\uff61?#&=]+"
_EMAIL = re.compile(f"[^{_DELIMITERS}]+{_AT}{_LABEL}(?:{_DOT}{_LABEL})+")


def redact(text: str) -> str:
    """Mask anything that looks like an email address, in any script, before it reaches a log line or
    an error message that echoes what the caller sent."""
    return _EMAIL.sub("<email>", text)


def count(name: str, value: float = 1, **dims: Any) -> None:
    """Add a count metric. Dimensions are never PII (tier, source, provider...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for key, dim in dims.items():
        metrics.add_metadata(key=key, value=dim)
