"""Errors of the Lead API's domain. The handler maps each to one HTTP status."""

from __future__ import annotations

from leadscore.errors import BadRequestError, LeadscoreError


class LeadNotFoundError(LeadscoreError):
    """No lead has this id (or email)."""

    def __init__(self, lead_id: str) -> None:
        super().__init__(f"no lead {lead_id}")
        self.lead_id = lead_id


class InvalidFieldError(BadRequestError):
    """A path or query parameter that cannot be used; ``field`` names it (400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details=[f"{field}: {message}"])
        self.field = field


class LeadFullError(LeadscoreError):
    """The lead holds as many records of this kind as its item is sized for (409)."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"this lead already holds {limit} {what}: the most a lead item keeps")
        self.what = what
        self.limit = limit
