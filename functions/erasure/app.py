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
from leadscore.dal.dlq import purge
from leadscore.dal.leads import erase_lead, linked_leads, repository
from leadscore.errors import field_errors
from leadscore.models.event import Email, lead_id_for_email
from leadscore.observability import count, logger, metrics
from leadscore.settings import get_settings, require
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    # A lead id as the API returns it: never an arbitrary (NUL, surrogate) string handed to DynamoDB.
    lead_id: str | None = Field(default=None, pattern=r"^[ea][0-9a-f]{31}$")

    @model_validator(mode="after")
    def _one(self) -> ErasureRequest:
        if (self.email is None) == (self.lead_id is None):
            raise ValueError("give exactly one of email or lead_id")
        return self

    @property
    def target(self) -> str:
        return lead_id_for_email(self.email) if self.email else str(self.lead_id)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = ErasureRequest.model_validate(event)
    except ValidationError as exc:
        details = field_errors(exc, root="request")
        return {"error": "invalid_request", "message": "invalid erasure request: " + "; ".join(details)}
    settings = get_settings()
    repo = repository(require(settings.leads_table, "LEADS_TABLE"))
    targets = linked_leads(repo, request.target)
    deleted = erase_lead(repo, request.target, targets=targets)
    dlq = purge(
        require(settings.events_dlq_url, "EVENTS_DLQ_URL"),
        targets,
        request.email,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    count("LeadsErased")
    if dlq.deleted:
        count("DeadLettersErased", dlq.deleted)
    logger.info(
        "lead erased",
        extra={
            "lead_id": request.target,
            "deleted_items": deleted,
            "dead_letters_scanned": dlq.scanned,
            "dead_letters_deleted": dlq.deleted,
            "complete": dlq.complete,
        },
    )
    return {
        "lead_id": request.target,
        "deleted": deleted,
        "dead_letters": {"scanned": dlq.scanned, "deleted": dlq.deleted, "complete": dlq.complete},
    }
