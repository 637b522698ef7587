"""The rules document: what marketing writes (as YAML or JSON) and the scorer loads (as JSON).

Everything here is declarative data. Conditions combine field comparisons with all / any / not;
there is no eval and no code execution. :mod:`leadscore.rules.compiler` turns a validated
document into closures once per rules version.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

ListEntry = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)]

Scalar = str | int | float | bool

RULE_ID = r"^[a-z0-9][a-z0-9_\-]{0,63}$"

# Fields a fit rule may test: the lead's profile plus what is derived from the email.
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "job_title",
    "company",
    "company_size",
    "revenue",
    "industry",
    "country",
    "phone",
    "website",
    "lifecycle_stage",
)
FIT_FIELDS = frozenset({*PROFILE_FIELDS, "email", "email_domain", "email_local"})
NUMERIC_FIT_FIELDS = frozenset({"company_size", "revenue"})
# Fields an activity rule may test, besides any ``properties.<name>``.
ACTIVITY_FIELDS = frozenset({"type", "name", "source"})
PROPERTIES_PREFIX = "properties."

STRING_OPERATORS = ("equals", "in", "contains", "starts_with", "ends_with", "regex", "in_list")
NUMERIC_OPERATORS = ("gte", "gt", "lte", "lt")
OPERATORS = (*STRING_OPERATORS, *NUMERIC_OPERATORS, "exists")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldCondition(_Strict):
    """One comparison on one field. Give exactly one operator; ``gte``/``gt`` may pair with ``lte``/``lt``.

    String comparisons ignore case unless ``case_sensitive`` is true. ``contains``, ``starts_with``
    and ``ends_with`` accept one string or a list (any of them matches).
    """

    field: str = Field(min_length=1, max_length=100)
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    contains: str | list[str] | None = None
    starts_with: str | list[str] | None = None
    ends_with: str | list[str] | None = None
    regex: str | None = Field(default=None, max_length=1000, description="RE2 syntax (linear time)")
    in_list: str | None = Field(default=None, description="name of a list in `lists` or a built-in list")
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    exists: bool | None = None
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _one_operator(self) -> FieldCondition:
        given = self._given()
        if not given:
            raise ValueError(f"condition on '{self.field}' needs one operator: {', '.join(OPERATORS)}")
        numeric = [g for g in given if g in NUMERIC_OPERATORS]
        others = [g for g in given if g not in NUMERIC_OPERATORS]
        if others and (numeric or len(others) > 1):
            raise ValueError(
                f"condition on '{self.field}' has several operators ({', '.join(given)}); use all/any"
            )
        if ("gte" in numeric and "gt" in numeric) or ("lte" in numeric and "lt" in numeric):
            raise ValueError(f"condition on '{self.field}' has two lower or two upper bounds")
        for name in ("contains", "starts_with", "ends_with"):
            value = getattr(self, name)
            if value in ("", []):
                raise ValueError(f"'{name}' on '{self.field}' needs a non-empty value")
        return self

    def _given(self) -> list[str]:
        """The operators given, in OPERATORS order. Only set fields are looked at: a document's
        conditions are validated on every rules load, and compile time is budgeted."""
        values = self.__dict__
        given = [
            _OPERATOR_OF[k] for k in self.model_fields_set if k in _OPERATOR_OF and values[k] is not None
        ]
        if len(given) > 1:
            given.sort(key=OPERATORS.index)
        return given

    @property
    def operator(self) -> str:
        given = self._given()
        if not given:
            raise AssertionError("validated")
        return "range" if given[0] in NUMERIC_OPERATORS else given[0]


_OPERATOR_OF = {("in_" if name == "in" else name): name for name in OPERATORS}


class AllCondition(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotCondition(_Strict):
    not_: Condition = Field(alias="not")


def _condition_tag(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "field"
    if isinstance(value, AllCondition):
        return "all"
    if isinstance(value, AnyCondition):
        return "any"
    if isinstance(value, NotCondition):
        return "not"
    return "field"


Condition = Annotated[
    Annotated[AllCondition, Tag("all")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[NotCondition, Tag("not")]
    | Annotated[FieldCondition, Tag("field")],
    Discriminator(_condition_tag),
]


class Rule(_Strict):
    id: str = Field(pattern=RULE_ID, description="unique across the document; counters are kept by id")
    description: str = Field(min_length=1, max_length=120, description="plain words, e.g. 'Viewed pricing'")
    when: Condition
    points: float = Field(ge=-1000, le=1000)
    category: str | None = Field(default=None, pattern=RULE_ID, description="product line or interest")
    disqualify: bool = Field(default=False, description="a matching lead is never sales-ready")


class FitRule(Rule):
    """Scores who the lead is. Fit points never decay."""


class Cap(_Strict):
    """Limits on what one activity rule can contribute."""

    max_points: float | None = Field(default=None, gt=0, description="at most this many points (absolute)")
    per_window: int | None = Field(default=None, ge=1, description="at most this many occurrences per window")
    window_days: int = Field(default=7, ge=1, le=365)

    @model_validator(mode="after")
    def _something(self) -> Cap:
        if self.max_points is None and self.per_window is None:
            raise ValueError("a cap needs max_points or per_window")
        return self


class ActivityRule(Rule):
    """Scores what the lead does: one match per event."""

    cap: Cap | None = None
    decays: bool = Field(default=True, description="false: points keep their value (e.g. unsubscribes)")


class Tier(_Strict):
    name: str = Field(pattern=RULE_ID)
    min: float


class Thresholds(_Strict):
    sales_ready: float | None = Field(
        default=None,
        description="overrides the SalesReadyThreshold template parameter when set (see README)",
    )
    hysteresis: float = Field(
        default=0, ge=0, description="fall this far below sales_ready to re-arm the alert"
    )
    tiers: list[Tier] = Field(
        default_factory=lambda: [Tier(name="warm", min=60)],
        description="tiers between cold and sales_ready, ascending",
    )
    alert_cooldown_hours: float = Field(
        default=24, ge=0, description="at most one alert per kind per cooldown"
    )

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: list[Tier]) -> list[Tier]:
        mins = [t.min for t in tiers]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ValueError("tiers must have strictly ascending min values")
        names = [t.name for t in tiers]
        reserved = {"cold", "sales_ready", "disqualified"} & set(names)
        if reserved:
            raise ValueError(f"tier names {sorted(reserved)} are reserved")
        return tiers


FitBand = Literal["A", "B", "C"]
ActivityBand = Literal["4", "3", "2"]


def _fit_bands() -> dict[FitBand, float]:
    return {"A": 50.0, "B": 30.0, "C": 10.0}


def _activity_bands() -> dict[ActivityBand, float]:
    return {"4": 60.0, "3": 30.0, "2": 10.0}


class Grade(_Strict):
    """Fit letter A-D and activity digit 4-1: the minimum score for each band (D and 1 are the rest)."""

    fit: dict[FitBand, float] = Field(default_factory=_fit_bands)
    activity: dict[ActivityBand, float] = Field(default_factory=_activity_bands)

    @model_validator(mode="after")
    def _descending(self) -> Grade:
        for name, bands, order in (("fit", self.fit, "ABC"), ("activity", self.activity, "432")):
            if set(bands) != set(order):
                raise ValueError(f"grade.{name} needs bands {', '.join(order)}")
            values = [bands[k] for k in order]  # type: ignore[index]
            if values != sorted(values, reverse=True):
                raise ValueError(f"grade.{name} bands must descend ({' > '.join(order)})")
        return self


class Decay(_Strict):
    half_life_days: float | None = Field(default=30, gt=0, le=3650)
    expire_after_days: int | None = Field(default=None, ge=1, le=3650)


class Surge(_Strict):
    """A sudden buying signal: recent activity far above the lead's own baseline."""

    window_days: int = Field(default=7, ge=1, le=90)
    baseline_days: int = Field(default=60, ge=1, le=730)
    min_points: float = Field(default=30, ge=0)
    ratio: float = Field(default=3, ge=1)


class ScoringModel(_Strict):
    """One scoring model, e.g. ``lead`` for prospects or ``upsell`` for customers."""

    applies_when: Condition | None = Field(default=None, description="on the profile; first match wins")
    fit: list[FitRule] = Field(default_factory=list)
    activity: list[ActivityRule] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    grade: Grade = Field(default_factory=Grade)
    decay: Decay = Field(default_factory=Decay)
    surge: Surge | None = Field(default_factory=Surge)


class Bots(_Strict):
    """Automated traffic: kept in the history, never scored."""

    user_agent_contains: list[str] = Field(default_factory=list)
    ignore_machine_opens: bool = True
    min_seconds_after_delivery: int = Field(default=0, ge=0, le=3600)


class RulesDocument(_Strict):
    schema_version: Literal[1] = 1
    version: str | None = Field(default=None, max_length=100, description="a label for people, e.g. a date")
    description: str | None = None
    # Entries are matched case-insensitively: stripped and lower-cased here (in pydantic's core, much
    # faster than in Python for a 5,000-domain list).
    lists: dict[str, list[ListEntry]] = Field(default_factory=dict)
    bots: Bots = Field(default_factory=Bots)
    models: dict[str, ScoringModel] = Field(min_length=1)

    @field_validator("lists")
    @classmethod
    def _list_names(cls, lists: dict[str, list[ListEntry]]) -> dict[str, list[ListEntry]]:
        import re

        for name in lists:
            if not re.match(RULE_ID, name):
                raise ValueError(f"list name '{name}' must be lower-case letters, digits, '-' or '_'")
        return lists


AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()
