"""Erase a person: the lead, its history, the anonymous leads linked to it, and their events waiting
in the events dead-letter queue. A PII-free tombstone stays, so events still queued cannot bring the
person back (``functions/erasure``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadscore.dal.dlq import purge
from leadscore.dal.leads import erase_lead, linked_leads
from leadscore.models.event import Email, lead_id_for_email
from leadscore.observability import count, logger
from leadscore.services import wiring
from leadscore.services.accounts import leave
from leadscore.settings import get_settings, require


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


def erase(request: ErasureRequest, time_left: Callable[[], float] | None) -> dict[str, Any]:
    """Erase the request's lead and its linked leads; purge their dead letters. The answer counts
    what was deleted; ``dead_letters.complete`` false means: run it again."""
    repo = wiring.leads()
    before = repo.get(request.target)
    targets = linked_leads(repo, request.target)
    deleted = erase_lead(repo, request.target, targets=targets)
    if before is not None and before.email:  # its account follows: member and name taken out
        leave(repo.table, before, wiring.current_rules().accounts, int(time.time()))
    dlq_url = require(get_settings().events_dlq_url, "EVENTS_DLQ_URL")
    dlq = (
        purge(dlq_url, targets, request.email, time_left)
        if time_left
        else purge(dlq_url, targets, request.email)
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
