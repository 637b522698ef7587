"""The lead's state: everything scoring needs, kept in one DynamoDB item of bounded size.

The state holds *facts* (profile, per-rule activity, the dedupe memory, recent activity) and *derived*
values (the score card). Derived values are a pure function of the facts, the rules and the time, so a
lead can always be rescored. Every writer bumps ``ver``; writes are conditional on it.

Every part of the state is bounded whatever the lead's history length or what anyone sends
(docs/architecture.md, "A lead item of bounded size"):

- per-rule activity (:class:`RuleFacts`) keeps day counts only for the cap windows that can still
  receive an event (``LATE_DAYS``); older windows are folded into one decayed sum per rule;
- the dedupe memory keeps at most ``MAX_REMEMBERED`` event digests for ``DEDUPE_HOURS`` after each was
  first seen; the overflow moves to dedupe pages (separate items) that the scorer reads back;
- lists (recent activity, anonymous ids, merges, adjustments, outcomes, pending alerts) have caps.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

Scalar = str | int | float | bool
# ``category``: one category's points (a product line, an interest) crossed its own threshold.
AlertKind = Literal["sales_ready", "surge", "category"]
# Lead events (leadscore.scoring.changes, docs/events.md): what changed in one write of a lead.
EventKind = Literal["ready", "signal", "tier", "grade", "consent", "stage", "owner"]
# Tiers kept off the ``hot`` index (the long tail): every score change of an indexed lead costs index
# writes (a new sort key is a delete and a put), so only the leads sales would call are indexed.
UNLISTED_TIERS = frozenset({"cold"})
STATE_FORMAT = 3  # the layout of the state blob; 1-2 are read by leadscore.dal.legacy

# Bounds of the lists a lead item holds (see the module docstring).
MAX_RECENT = 10
MAX_ANONYMOUS_IDS = 10
MAX_MERGED = 50
MAX_ADJUSTMENTS = 50
MAX_OUTCOMES = 20
MAX_STAGE_MOVES = 50  # the newest lifecycle moves kept (the audit); older ones are dropped
MAX_PENDING_ALERTS = 10
MAX_PENDING_EVENTS = 10  # lead events waiting for EventBridge (coalesced per kind first: changes.py)
MAX_ALERT_CONTRIBUTIONS = 20
MAX_TEXT = 200  # characters of a path, an event name or a reason kept in the item
MAX_DEDUPE_PAGES = 64  # dedupe pages a lead remembers; beyond, the oldest are forgotten
# Delivery of an alert (docs/architecture.md, "Alerts"): the notifier's claim lasts LEASE_SECONDS;
# an alert still pending REDRIVE_AFTER_SECONDS after it was raised is re-driven by the sweep.
LEASE_SECONDS = 120
REDRIVE_AFTER_SECONDS = 300


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """``text`` cut to ``limit`` characters (with an ellipsis), or None."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


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
    """The lead's score at ``computed_at``. The lead item stores it with its top reasons but without
    the per-rule ``contributions`` (derived, and they would make every write of a lead that matches
    many rules dearer); readers with the rules evaluate the lead again for them. Alert snapshots
    keep them."""

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
    # With a calibrated model (rules ``calibration``): P(converts within ``horizon_days``).
    probability: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    horizon_days: int | None = None

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold_of_unbounded_rules(cls, value: object) -> object:
        """Before rules were bounded, ``sales_ready: 1e309`` (infinity) was stored as JSON null. Such a
        card reads with the default threshold: it is stale anyway (its rules no longer validate, so
        its ``rules_version`` is never the one in force) and the next evaluation replaces it."""
        return 100.0 if value is None else value


def likelihood(card: ScoreCard | None) -> str | None:
    """The card's probability for people: "about 34% likely to convert within 90 days", or None."""
    if card is None or card.probability is None:
        return None
    percent = card.probability * 100
    if percent < 1:
        about = "under 1%"
    elif percent > 99:
        about = "over 99%"
    else:
        about = f"about {percent:.0f}%"
    return f"{about} likely to convert within {card.horizon_days or 90} days"


class RecentActivity(_Model):
    at: int
    type: str
    source: str
    name: str | None = None
    path: str | None = None
    rules: list[str] = Field(default_factory=list)
    bot: str | None = None


_TOUCH_FIELDS = ("at", "source", "campaign", "channel", "medium")


class Touch(_Model):
    """Where one contact with the lead came from: the source that sent the event and its campaign
    (UTM) fields, when it had them. A lead keeps two: its first touch and its latest.

    Stored as a list (``[at, source, campaign?, channel?, medium?]``): every write of the lead carries
    it, and field names would cost more than the values (two touches: 101 bytes as objects)."""

    at: int
    source: str
    campaign: str | None = None  # utm_campaign (or the source's own campaign name)
    channel: str | None = None  # utm_source
    medium: str | None = None  # utm_medium

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return dict(zip(_TOUCH_FIELDS, value, strict=False))
        return value

    @model_serializer(mode="plain")
    def _as_list(self) -> list[int | str | None]:
        values: list[int | str | None] = [self.at, self.source, self.campaign, self.channel, self.medium]
        while values[-1] is None:
            values.pop()
        return values


class RuleFacts(_Model):
    """One activity rule's evidence, bounded whatever the history length.

    - ``days``: raw matches per epoch day, for the days of the rule's cap windows that can still take
      an event (a window closes ``LATE_DAYS`` after its last day);
    - ``kept``: ``[day, counted]`` of closed windows after the cap, only while the model expires
      activity (``expire_after_days``), so each day expires on its own;
    - ``fold_day`` / ``fold``: every other closed window, capped and decayed into one sum, expressed
      at ``fold_day`` (exact for exponential decay); ``folded``: the occurrences in it.
    """

    n: int = 0  # lifetime matches
    last: int = 0  # last match, epoch seconds
    days: dict[str, int] = Field(default_factory=dict)
    kept: list[tuple[int, int]] = Field(default_factory=list)
    fold_day: int = 0
    fold: float = 0.0
    folded: int = 0

    def copy_facts(self) -> RuleFacts:
        return RuleFacts(
            n=self.n,
            last=self.last,
            days=dict(self.days),
            kept=list(self.kept),
            fold_day=self.fold_day,
            fold=self.fold,
            folded=self.folded,
        )


class OutboxEntry(_Model):
    """What every outbox entry has (a lead's alerts and events, an account's alerts): the delivery's
    claim with a lease, its attempts and backoff, and why it failed for good. The notifier delivers
    it; the sweep re-drives it if the notifier was interrupted (docs/architecture.md, "Alerts")."""

    id: str
    status: Literal["pending", "sending", "sent", "failed"] = "pending"
    created_at: int
    lease_until: int = 0
    lease_token: str | None = None  # the notifier's claim: kept when the scorer rewrites the item
    sent_at: int | None = None
    attempts: int = 0
    next_attempt_at: int = 0  # after a transient failure: not before this (backoff)
    error: str | None = None  # why it failed for good (never PII)

    def retry_at(self) -> int | None:
        """When the sweep should re-drive this entry if the notifier has not delivered it."""
        if self.status == "sending":
            return self.lease_until
        if self.status == "pending":
            return max(self.created_at + REDRIVE_AFTER_SECONDS, self.next_attempt_at)
        return None


class AlertEntry(OutboxEntry):
    """An alert in the lead's outbox: what sales receives, with the card it was raised with."""

    kind: AlertKind
    card: ScoreCard
    trace_id: str | None = None  # the request whose event raised it: the logs' correlation id
    stage: str | None = None  # the lead's lifecycle stage when it was raised
    # The headline the rules give it (a model's ``alert.title``, a category's label), e.g. "Upsell
    # signal" or "Predictive maintenance interest crossed 50"; None: the kind's default title.
    title: str | None = None
    category: str | None = None  # a ``category`` alert: the category that crossed its threshold


class EventEntry(OutboxEntry):
    """A lead event in the lead's outbox, beside the alerts and with their delivery fields (claim,
    lease, backoff, failure), but compact: the change and the card's headline values, no
    contributions (docs/events.md). Its ``id`` (``ev.<kind>-<ver>``) is the outbox key."""

    kind: EventKind
    change: dict[str, object] = Field(default_factory=dict)  # e.g. {"from": "warm", "to": "hot"}
    score: float = 0.0
    tier: str = ""
    grade: str = ""
    model: str = "lead"
    rules_version: str = ""
    # Who works the lead and where it is in the funnel when the event was recorded (routing and the
    # lifecycle): a consumer routes on them without reading the lead. A rep, not the lead's PII.
    stage: str | None = None
    owner: str | None = None
    queue: str | None = None


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
    ref: str | None = None  # the CRM's event id when the CRM reported it: recorded once, even on replay


class StageMove(_Model):
    """One lifecycle move (leadscore.scoring.lifecycle), audited: who, when, why, from, to.

    ``ref``: the id of what caused it (a CRM event id, an outcome), so a replay never moves twice."""

    at: int
    by: str  # an IAM principal ARN, "scoring" (the threshold), or "crm:<source>"
    to: str
    from_stage: str | None = None
    why: str | None = None
    ref: str | None = None


class DedupePage(_Model):
    """Remembered event digests moved out of the lead item (written as a ``DD#`` item). ``token``
    derives from the content and the lead version: the lead item lists the pages its committed writes
    made, so a page left by a writer that lost a race is never read (it could name events that
    were not counted)."""

    first_hour: int
    last_hour: int
    token: str
    digests: list[str]


ERASED_KEEP_SECONDS = 19 * 86_400  # EventsQueue 4 days + EventsDLQ 14 days + a day of redrive


class LeadState(_Model):
    lead_id: str
    email: str | None = None
    anonymous_ids: list[str] = Field(default_factory=list)
    profile: dict[str, Scalar] = Field(default_factory=dict)
    activity: dict[str, RuleFacts] = Field(default_factory=dict)  # rule id -> its evidence
    surge_days: dict[str, float] = Field(default_factory=dict)  # epoch day -> points of positive rules
    # The dedupe memory: hour first seen -> digests of the events first seen then, and the dedupe
    # pages (last hour, token) holding the overflow. Stored as a binary attribute beside the blob
    # (digests do not compress).
    seen: dict[str, list[str]] = Field(default_factory=dict, exclude=True)
    dd_pages: list[tuple[int, str]] = Field(default_factory=list, exclude=True)
    delivered: dict[str, int] = Field(default_factory=dict)  # message digest -> delivered at (bot check)
    # Consent and deliverability (leadscore.scoring.consent): field -> (event time, value), the last
    # writer by event time winning. A few dozen bytes; per-list entries capped at consent.MAX_LISTS.
    consent: dict[str, tuple[int, bool]] = Field(default_factory=dict)
    recent: list[RecentActivity] = Field(default_factory=list)
    first_touch: Touch | None = None  # the earliest event by when it happened (identities merged in)
    last_touch: Touch | None = None  # the latest event by when it happened
    events_total: int = 0
    ver: int = 0
    created_at: int = 0
    updated_at: int = 0
    card: ScoreCard | None = None  # the primary model's card (the first whose applies_when matches)
    # Every other model whose applies_when matches (e.g. customer_expansion): its card, without
    # contributions or reasons (readers explain it). Alert state of those models is keyed
    # "<model>:<kind>" in ``armed`` and ``last_alert_at``; the primary model keeps the plain keys
    # ("sales_ready", "cat:<category>").
    cards: dict[str, ScoreCard] = Field(default_factory=dict)
    armed: dict[str, bool] = Field(default_factory=dict)
    last_alert_at: dict[str, int] = Field(default_factory=dict)
    outbox: dict[str, AlertEntry] = Field(default_factory=dict)
    # Lead events waiting for EventBridge: stored in the item's ``outbox`` map beside the alerts.
    events: dict[str, EventEntry] = Field(default_factory=dict)
    merged_into: str | None = None  # an anonymous visitor, once identified: the known lead's id
    absorbed: bool = False  # an anonymous visitor whose history the known lead has taken in
    # Erased (privacy forget): when. Events received before then are dropped, so what was still
    # queued cannot bring the person back; the tombstone expires with the queues' retention.
    erased_at: int | None = None
    merged_from: list[str] = Field(default_factory=list)  # the newest anonymous leads merged in
    adjustments: list[Adjustment] = Field(default_factory=list)
    outcomes: list[SalesOutcome] = Field(default_factory=list)
    # Lifecycle (leadscore.scoring.lifecycle): the stage (None: a lead stored before stages were
    # kept), when it was entered, the audited moves, and until when a recycled lead cannot be an MQL.
    stage: str | None = None
    stage_at: int | None = None
    stage_moves: list[StageMove] = Field(default_factory=list)
    recycle_until: int | None = None
    rebuild_at: int | None = None  # events arrived too late to score live: rebuild from history then
    # Owner routing (leadscore.scoring.routing): who owns the lead, from which queue and route, since
    # when. Kept once assigned, so a rules change does not reshuffle leads; events and the CRM read
    # ``owner``. A form's ``profile.owner`` wins (route ``profile.owner``, no queue).
    owner: str | None = None
    owner_queue: str | None = None
    route: str | None = None
    routed_at: int | None = None
    # Legacy (formats 1-2) day counters, kept until the engine, which has the rules, converts them.
    legacy_counters: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Transient, written beside the state by the storage layer in the same atomic write (never in the
    # blob): the newest history entries (JSON text: event, note, ttl) and the dedupe pages to write.
    journal: list[str] = Field(default_factory=list, exclude=True)
    spill: list[DedupePage] = Field(default_factory=list, exclude=True)
    memory_full: bool = Field(default=False, exclude=True)  # this write forgot dedupe pages (a flood)
    stored_due: int | None = Field(default=None, exclude=True)  # the item's ``due_at`` as read

    def clone(self) -> LeadState:
        """A copy whose containers can be changed without touching this state.

        Containers are copied one level deep (rule facts and the dedupe memory two); the models inside
        the other containers (alerts, activities, adjustments) are shared, and code replaces them
        rather than changing them in place. Far cheaper than ``model_copy(deep=True)`` per event.
        """
        return self.model_copy(
            update={
                "anonymous_ids": list(self.anonymous_ids),
                "profile": dict(self.profile),
                "activity": {rule: facts.copy_facts() for rule, facts in self.activity.items()},
                "surge_days": dict(self.surge_days),
                "seen": {hour: list(ids) for hour, ids in self.seen.items()},
                "dd_pages": list(self.dd_pages),
                "delivered": dict(self.delivered),
                "consent": dict(self.consent),
                "recent": list(self.recent),
                "cards": dict(self.cards),
                "armed": dict(self.armed),
                "last_alert_at": dict(self.last_alert_at),
                "outbox": dict(self.outbox),
                "events": dict(self.events),
                "merged_from": list(self.merged_from),
                "adjustments": list(self.adjustments),
                "outcomes": list(self.outcomes),
                "stage_moves": list(self.stage_moves),
                "legacy_counters": {r: dict(d) for r, d in self.legacy_counters.items()},
                "journal": list(self.journal),
                "spill": list(self.spill),
                "memory_full": False,
            }
        )

    @property
    def pending_alerts(self) -> list[AlertEntry]:
        return [a for a in self.outbox.values() if a.status in ("pending", "sending")]

    @property
    def pending_events(self) -> list[EventEntry]:
        return [e for e in self.events.values() if e.status in ("pending", "sending")]

    @property
    def remembered(self) -> int:
        return sum(len(ids) for ids in self.seen.values())
