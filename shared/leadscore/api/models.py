"""Request bodies and query strings of the Lead API, validated at the edge.

Every model forbids unknown fields, so a typo ("amout") is a 422 naming it rather than a silent no-op.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from leadscore.observability import redact

MAX_POINTS = 1000.0
MAX_PAGE = 100
DEFAULT_PAGE = 25
# The tiers the hot list walks when none is asked for, in score order; "disqualified" only on request.
# A rules file's own tier names (thresholds.tiers) are listed with ?tier=name. Cold leads, the long
# tail, are not indexed (each indexed score change costs index writes): ?tier=cold reads them with a
# bounded Scan instead (leadscore.dal.cold), in table order.
DEFAULT_HOT_TIERS = ("sales_ready", "warm")
_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"

Text = Annotated[str, Field(min_length=1, max_length=500)]
# JSON numbers only: pydantic's lax mode would read true as 1 and "5" as 5. Ints are numbers too.
Number = Annotated[float, Strict()]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutcomeRequest(_Body):
    """POST /leads/{lead}/outcome: what became of the lead."""

    status: Literal["converted", "lost"]
    amount: Number | None = Field(default=None, ge=0, le=1e12)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. USD")
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class StageRequest(_Body):
    """POST /leads/{lead}/stage: sales accepts (``sal``), rejects (``rejected`` with a ``reason`` from
    the rules file's ``lifecycle.rejection_reasons``), or moves the lead forward (``sql``,
    ``opportunity``, ``customer``). Stages only move forward (leadscore.scoring.lifecycle)."""

    stage: Literal["mql", "sal", "rejected", "sql", "opportunity", "customer"]
    reason: str | None = Field(default=None, min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _reason_with_rejection(self) -> StageRequest:
        if self.stage == "rejected" and self.reason is None:
            raise ValueError("reason: required when stage is rejected")
        if self.stage != "rejected" and self.reason is not None:
            raise ValueError("reason: only a rejection has a reason")
        return self


class AdjustmentRequest(_Body):
    """POST /leads/{lead}/adjustments: a manual, audited change to the score (or a disqualification)."""

    points: Number = Field(ge=-MAX_POINTS, le=MAX_POINTS)
    reason: Text
    disqualify: Annotated[bool, Strict()] = False

    @field_validator("points")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _does_something(self) -> AdjustmentRequest:
        if self.points == 0 and not self.disqualify:
            raise ValueError("points: must not be 0 unless disqualify is true")
        return self


class HotListQuery(BaseModel):
    """GET /leads?tier=&grade=&category=&do_not_email=&limit=&cursor=

    ``tier``: one tier or a comma-separated list, walked in the order given (default: sales_ready,
    warm). ``cold`` (never a default) is read by a bounded Scan: its pages are in no score order across
    pages (each page is sorted by score) and may be short while ``next_cursor`` is set. ``grade``: "A"
    (any A grade) or an exact grade ("A4"). ``category``: leads with positive points in that category.
    ``do_not_email``: true for the leads not to email (leadscore.scoring.consent), false for the
    others. Grade, category and consent filter each page that was read, so a page may hold fewer
    than ``limit`` leads (even none) while ``next_cursor`` is still set: follow it until it is null.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tier: tuple[str, ...] = DEFAULT_HOT_TIERS
    grade: str | None = Field(default=None, pattern=r"^[A-Za-z][1-4]?$")
    category: str | None = Field(default=None, pattern=_NAME)
    # true: only leads not to email (unsubscribed, complained or undeliverable); false: only the others.
    do_not_email: bool | None = None
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=2048)

    @field_validator("tier", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            tiers = tuple(t.strip() for t in value.split(",") if t.strip())
            return tiers or DEFAULT_HOT_TIERS
        return value

    @field_validator("tier")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for tier in value:
            if not re.fullmatch(_NAME, tier):
                # Echoed back and logged: an address typed here (?tier=dana@bücher.de) is masked.
                raise ValueError(f"not a tier name: {redact(tier)[:40]!r}")
        if len(set(value)) != len(value) or len(value) > 10:
            raise ValueError("at most 10 distinct tiers")
        return value

    @field_validator("grade")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    def grade_matches(self, grade: str) -> bool:
        if self.grade is None:
            return True
        return grade == self.grade if len(self.grade) == 2 else grade[:1] == self.grade
