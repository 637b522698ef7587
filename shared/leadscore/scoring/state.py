"""The lead's state: everything scoring needs, kept in one DynamoDB item.

The state holds *facts* (profile, per-rule counters by day, recent dedupe ids, recent activity) and
*derived* values (the score card). Derived values are a pure function of the facts, the rules and the
time, so a lead can always be rescored. Every writer bumps ``ver``; writes are conditional on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Scalar = str | int | float | bool
AlertKind = Literal["sales_ready", "surge"]
# Tiers kept off the ``hot`` index (the long tail): every score change of an indexed lead costs index
# writes (a new sort key is a delete and a put), so only the leads sales would call are indexed.
UNLISTED_TIERS = frozenset({"cold"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Contribution(_Model):
    """What one rule adds to the score, and the evidence for it."""

    rule: str
    kind: Literal["fit", "activity", "adjustment"]
    description: str
    points: float
    count: int = 1
    last_seen: int | None = None  # epoch seconds
    category: str | None = None
    disqualify: bool = False


class ScoreCard(_Model):
    score: float
    fit: float
    activity: float
    tier: str
    grade: str
    categories: dict[str, float] = Field(default_factory=dict)
    contributions: list[Contribution] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    disqualified: bool = False
    surge: bool = False
    model: str = "lead"
    rules_version: str = ""
    threshold: float = Field(default=100.0, allow_inf_nan=False)  # never stored as a non-number
    computed_at: int = 0
    due_at: int | None = None  # when decay may next move the tier or re-arm an alert

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold_of_unbounded_rules(cls, value: object) -> object:
        """Before rules were bounded, ``sales_ready: 1e309`` (infinity) was stored as JSON null. Such a
        card reads with the default threshold: it is stale anyway (its rules no longer validate, so
        its ``rules_version`` is never the one in force) and the next evaluation replaces it."""
        return 100.0 if value is None else value


class RecentActivity(_Model):
    at: int
    type: str
    source: str
    name: str | None = None
    path: str | None = None
    rules: list[str] = Field(default_factory=list)
    bot: str | None = None


class AlertEntry(_Model):
    """An alert in the lead's outbox. The notifier publishes it, exactly once per crossing."""

    id: str
    kind: AlertKind
    status: Literal["pending", "sending", "sent"] = "pending"
    created_at: int
    lease_until: int = 0
    lease_token: str | None = None  # the notifier's claim: kept when the scorer rewrites the item
    sent_at: int | None = None
    card: ScoreCard


class Adjustment(_Model):
    """A manual change by a person (e.g. sales marks a lead as a competitor): audited, explained."""

    id: str
    points: float = 0
    disqualify: bool = False
    reason: str
    by: str
    at: int


class SalesOutcome(_Model):
    """What became of the lead: the ground truth for reviewing rules and threshold."""

    status: Literal["converted", "lost"]
    amount: float | None = None
    currency: str | None = None
    note: str | None = None
    by: str
    at: int
    score_at_outcome: float | None = None
    grade_at_outcome: str | None = None
    rules_version: str | None = None


class LeadState(_Model):
    lead_id: str
    email: str | None = None
    anonymous_ids: list[str] = Field(default_factory=list)
    profile: dict[str, Scalar] = Field(default_factory=dict)
    counters: dict[str, dict[str, int]] = Field(default_factory=dict)  # rule id -> epoch day -> matches
    totals: dict[str, int] = Field(default_factory=dict)  # rule id -> lifetime matches
    last_seen: dict[str, int] = Field(default_factory=dict)  # rule id -> epoch seconds
    seen: dict[str, list[str]] = Field(default_factory=dict)  # occurred epoch day -> event digests
    delivered: dict[str, int] = Field(default_factory=dict)  # email message id -> delivered at (bot check)
    recent: list[RecentActivity] = Field(default_factory=list)
    events_total: int = 0
    ver: int = 0
    created_at: int = 0
    updated_at: int = 0
    card: ScoreCard | None = None
    armed: dict[str, bool] = Field(default_factory=dict)
    last_alert_at: dict[str, int] = Field(default_factory=dict)
    outbox: dict[str, AlertEntry] = Field(default_factory=dict)
    merged_into: str | None = None  # an anonymous visitor, once identified: the known lead's id
    merged_from: list[str] = Field(default_factory=list)  # anonymous leads whose history is merged in
    adjustments: list[Adjustment] = Field(default_factory=list)
    outcomes: list[SalesOutcome] = Field(default_factory=list)
    # The newest history entries (JSON text: event, note, ttl), stored beside the state in the same
    # atomic write, until the storage layer moves them to a history item. Not part of the state blob.
    journal: list[str] = Field(default_factory=list, exclude=True)

    def clone(self) -> LeadState:
        """A copy whose containers can be changed without touching this state.

        Containers are copied one level deep (``counters`` two); the models inside them (alerts,
        activities, adjustments) are shared, and code replaces them rather than changing them in
        place. Twenty times cheaper than ``model_copy(deep=True)`` on the per-event path.
        """
        return self.model_copy(
            update={
                "anonymous_ids": list(self.anonymous_ids),
                "profile": dict(self.profile),
                "counters": {rule: dict(days) for rule, days in self.counters.items()},
                "totals": dict(self.totals),
                "last_seen": dict(self.last_seen),
                "seen": {day: list(ids) for day, ids in self.seen.items()},
                "delivered": dict(self.delivered),
                "recent": list(self.recent),
                "armed": dict(self.armed),
                "last_alert_at": dict(self.last_alert_at),
                "outbox": dict(self.outbox),
                "merged_from": list(self.merged_from),
                "adjustments": list(self.adjustments),
                "outcomes": list(self.outcomes),
                "journal": list(self.journal),
            }
        )

    @property
    def pending_alerts(self) -> list[AlertEntry]:
        return [a for a in self.outbox.values() if a.status != "sent"]
