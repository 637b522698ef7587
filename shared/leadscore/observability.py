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

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def redact(text: str) -> str:
    """Mask anything that looks like an email address before it reaches a log line."""
    return _EMAIL.sub("<email>", text)


def count(name: str, value: float = 1, **dims: Any) -> None:
    """Add a count metric. Dimensions are never PII (tier, source, provider...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for key, dim in dims.items():
        metrics.add_metadata(key=key, value=dim)
