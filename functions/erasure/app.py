"""Erasure: "forget this email". Deletes the lead, its history, the anonymous leads linked to it, and
their events waiting in the events dead-letter queue; leaves a PII-free tombstone so events still
queued cannot bring the person back.

Invoked directly (console, CLI, a privacy workflow): ``{"email": "..."}`` or ``{"lead_id": "..."}``.
Answers ``{"lead_id": ..., "deleted": n, "dead_letters": {"scanned", "deleted", "complete"}}``;
erasing an unknown lead deletes nothing and succeeds. ``complete: false`` (out of time, or messages
in flight elsewhere): run it again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.errors import field_errors
from leadscore.observability import logger, metrics
from leadscore.services import wiring
from leadscore.services.erasure import ErasureRequest, erase
from pydantic import ValidationError

__all__ = ["ErasureRequest", "lambda_handler"]


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = ErasureRequest.model_validate(event)
    except ValidationError as exc:
        details = field_errors(exc, root="request")
        return {"error": "invalid_request", "message": "invalid erasure request: " + "; ".join(details)}
    return erase(request, wiring.time_left(context))
