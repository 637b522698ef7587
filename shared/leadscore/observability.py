"""One Logger and one Metrics for every function. Keys, not prose; never raw events (PII).

No Tracer: X-Ray active tracing in template.yaml records each invocation's segment; the Powertools
Tracer (aws-xray-sdk) would add about 126 ms to every cold start to trace the AWS calls inside it
(measured on this project's 2-core bench machine), which the scorer's per-batch metrics already count.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

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
    """Add a count metric. Dimensions are never PII and come from small fixed sets (a status, an error
    code, a known provider), so CloudWatch can filter and alarm on them.

    Without dimensions the count joins the invocation's one EMF document; with dimensions it is its own
    document (EMF gives one dimension set to every metric in a document), written at once.
    """
    if not dims:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    dimensions = {"service": SERVICE, **{key: str(dim) for key, dim in dims.items()}}
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE, default_dimensions=dimensions
    ):
        pass
