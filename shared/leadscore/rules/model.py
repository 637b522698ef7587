"""The rules document: what marketing writes (as YAML or JSON) and the scorer loads (as JSON).

Everything here is declarative data. Conditions combine field comparisons with all / any / not;
there is no eval and no code execution. :mod:`leadscore.rules.compiler` turns a validated
document into closures once per rules version.

Every number is bounded (the limits below, documented in the README's Rules section): it must be
finite (no NaN or Infinity, which JSON parsers accept as ``NaN``, ``Infinity`` or ``1e309``), inside
its range, and a number, never ``true``/``false`` or a string. A document that validates therefore
cannot overflow scoring (``alert_cooldown_hours: 1e305`` once did) or make the score card store a
non-number (``sales_ready: 1e309`` was stored as a null threshold).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
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

from leadscore.rules.countries import COUNTRIES

ListEntry = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)]

# A float here may be NaN or infinite for validation to get past the union (whose errors would name
# every branch): FieldCondition then refuses it with one message naming the operator and the field.
Scalar = str | int | Annotated[float, Field(allow_inf_nan=True)] | bool

RULE_ID = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


def _rule_ids[T: Iterable[str]](names: T, what: str, shown: int | None = None) -> T:
    """``names`` if each is an id like a rule's (``RULE_ID``), else a ValueError naming ``what`` and
    the first that is not (its first ``shown`` characters)."""
    import re

    for name in names:
        if not re.match(RULE_ID, name):
            raise ValueError(f"{what} '{name[:shown]}' must be lower-case letters, digits, '-' or '_'")
    return names


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
# Consent and deliverability flags (booleans: compare with ``equals: true``), e.g. consent.unsubscribed.
# Consent and deliverability state (leadscore.scoring.consent) that fit conditions can test: booleans.
CONSENT_RULE_FIELDS = (
    "consent.unsubscribed",
    "consent.complained",
    "consent.undeliverable",
    "consent.do_not_email",
    "consent.unsubscribed_any_list",
)
# ``customer``: the lead converted (an outcome) -- the customer fact models' applies_when can test
# (with ``email in_list`` a list of customer domains). Account grouping may set it too.
BOOLEAN_FIT_FIELDS = frozenset({*CONSENT_RULE_FIELDS, "customer"})
FIT_FIELDS = frozenset({*PROFILE_FIELDS, "email", "email_domain", "email_local", *BOOLEAN_FIT_FIELDS})
NUMERIC_FIT_FIELDS = frozenset({"company_size", "revenue"})
# Fields an activity rule may test, besides any ``properties.<name>``.
ACTIVITY_FIELDS = frozenset({"type", "name", "source"})
PROPERTIES_PREFIX = "properties."

# --------------------------------------------------------------------------- bounds
MAX_RULE_POINTS = 1_000  # one rule's points, either sign
# Scores: thresholds, hysteresis, tier minimums, grade cut-offs, caps' max_points, surge min_points.
MAX_SCORE = 100_000
MAX_OPERAND = 10**15  # numbers compared with gte/gt/lte/lt, equals or in (revenue in cents fits)
MAX_PER_WINDOW = 100_000  # occurrences per cap window
MAX_COOLDOWN_HOURS = 8_760  # a year
MIN_HALF_LIFE_DAYS = 0.1  # decay is weighed per day: shorter means "today only" anyway
MAX_DAYS = 3_650  # half-life and expiry
MAX_SURGE_RATIO = 1_000
MAX_BOT_SECONDS = 3_600
# Calibration (a sigmoid of the score): log-odds per point and at score 0, and the horizon it predicts.
MAX_CALIBRATION_SLOPE = 10.0
MAX_CALIBRATION_INTERCEPT = 50.0
MAX_HORIZON_DAYS = 730


def _number(ge: float, le: float, **kw: Any) -> Any:
    """A bounded, finite number; ``strict`` refuses ``true``/``false`` and numeric strings (the JSON
    schema says ``number``), ``allow_inf_nan=False`` refuses NaN and Infinity."""
    return Field(ge=ge, le=le, strict=True, allow_inf_nan=False, **kw)


def _integer(ge: int, le: int, **kw: Any) -> Any:
    return Field(ge=ge, le=le, strict=True, **kw)


STRING_OPERATORS = ("equals", "in", "contains", "starts_with", "ends_with", "regex", "in_list")
NUMERIC_OPERATORS = ("gte", "gt", "lte", "lt")
OPERATORS = (*STRING_OPERATORS, *NUMERIC_OPERATORS, "exists")


class _Strict(BaseModel):
    # allow_inf_nan=False: no float in a document may be NaN or infinite (the numeric fields say so
    # again, and FieldCondition checks the numbers in ``equals`` and ``in`` itself).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


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
    gte: float | None = _number(-MAX_OPERAND, MAX_OPERAND, default=None)
    gt: float | None = _number(-MAX_OPERAND, MAX_OPERAND, default=None)
    lte: float | None = _number(-MAX_OPERAND, MAX_OPERAND, default=None)
    lt: float | None = _number(-MAX_OPERAND, MAX_OPERAND, default=None)
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
        if "equals" in given or "in" in given:
            for value in [self.equals] if "equals" in given else self.in_ or ():
                if _out_of_range(value):
                    name = "equals" if "equals" in given else "in"
                    raise ValueError(
                        f"'{name}' on '{self.field}': numbers must be finite and within "
                        f"-{MAX_OPERAND:g}..{MAX_OPERAND:g} ({value!r})"
                    )
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


def _out_of_range(value: Scalar | None) -> bool:
    """A number in ``equals``/``in`` that is not finite or beyond the bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not (math.isfinite(value) and -MAX_OPERAND <= value <= MAX_OPERAND)


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


def field_conditions(
    cond: AllCondition | AnyCondition | NotCondition | FieldCondition,
) -> Iterator[FieldCondition]:
    """The field conditions a condition is made of, at any depth, in document order."""
    if isinstance(cond, AllCondition):
        for c in cond.all:
            yield from field_conditions(c)
    elif isinstance(cond, AnyCondition):
        for c in cond.any:
            yield from field_conditions(c)
    elif isinstance(cond, NotCondition):
        yield from field_conditions(cond.not_)
    else:
        yield cond


class Rule(_Strict):
    id: str = Field(pattern=RULE_ID, description="unique across the document; counters are kept by id")
    description: str = Field(min_length=1, max_length=120, description="plain words, e.g. 'Viewed pricing'")
    when: Condition
    points: float = _number(-MAX_RULE_POINTS, MAX_RULE_POINTS)
    category: str | None = Field(default=None, pattern=RULE_ID, description="product line or interest")
    disqualify: bool = Field(default=False, description="a matching lead is never sales-ready")


class FitRule(Rule):
    """Scores who the lead is. Fit points never decay."""


class Cap(_Strict):
    """Limits on what one activity rule can contribute."""

    max_points: float | None = Field(
        default=None,
        gt=0,
        le=MAX_SCORE,
        strict=True,
        allow_inf_nan=False,
        description="at most this many points (absolute)",
    )
    per_window: int | None = _integer(
        1, MAX_PER_WINDOW, default=None, description="at most this many occurrences per window"
    )
    window_days: int = _integer(1, 365, default=7)

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
    min: float = _number(-MAX_SCORE, MAX_SCORE)


class Thresholds(_Strict):
    sales_ready: float | None = _number(
        0,
        MAX_SCORE,
        default=None,
        description="overrides the SalesReadyThreshold template parameter when set (see README)",
    )
    hysteresis: float = _number(
        0, MAX_SCORE, default=0, description="fall this far below sales_ready to re-arm the alert"
    )
    tiers: list[Tier] = Field(
        default_factory=lambda: [Tier(name="warm", min=60)],
        description="tiers between cold and sales_ready, ascending",
    )
    alert_cooldown_hours: float = _number(
        0, MAX_COOLDOWN_HOURS, default=24, description="at most one alert per kind per cooldown"
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
CutOff = Annotated[float, _number(-MAX_SCORE, MAX_SCORE)]


def _fit_bands() -> dict[FitBand, CutOff]:
    return {"A": 50.0, "B": 30.0, "C": 10.0}


def _activity_bands() -> dict[ActivityBand, CutOff]:
    return {"4": 60.0, "3": 30.0, "2": 10.0}


class Grade(_Strict):
    """Fit letter A-D and activity digit 4-1: the minimum score for each band (D and 1 are the rest)."""

    fit: dict[FitBand, CutOff] = Field(default_factory=_fit_bands)
    activity: dict[ActivityBand, CutOff] = Field(default_factory=_activity_bands)

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
    half_life_days: float | None = _number(MIN_HALF_LIFE_DAYS, MAX_DAYS, default=30)
    expire_after_days: int | None = _integer(1, MAX_DAYS, default=None)


class Surge(_Strict):
    """A sudden buying signal: recent activity far above the lead's own baseline."""

    window_days: int = _integer(1, 90, default=7)
    baseline_days: int = _integer(1, 730, default=60)
    min_points: float = _number(0, MAX_SCORE, default=30)
    ratio: float = _number(1, MAX_SURGE_RATIO, default=3)


class Calibration(_Strict):
    """The probability a score stands for, fitted by ``leadscore review`` on outcomes (Platt's sigmoid):
    ``P(converts within horizon_days) = 1 / (1 + exp(-(slope * score + intercept)))``. A higher score
    never means a lower probability (``slope >= 0``)."""

    slope: float = _number(0, MAX_CALIBRATION_SLOPE, description="log-odds per point")
    intercept: float = _number(
        -MAX_CALIBRATION_INTERCEPT, MAX_CALIBRATION_INTERCEPT, description="log-odds at score 0"
    )
    horizon_days: int = _integer(1, MAX_HORIZON_DAYS, default=90)
    fitted: str | None = Field(default=None, max_length=200, description="on what, for people")


class ModelAlert(_Strict):
    """How a model's alerts are headed, e.g. ``title: Upsell signal`` for a customer model."""

    title: str = Field(min_length=1, max_length=60, description="the alert's headline, e.g. 'Upsell signal'")


class CategoryThreshold(_Strict):
    """A category's own threshold (a product line, an interest): when the points of the model's rules
    in that category cross it upwards, a ``category`` alert, with the same hysteresis and cooldown
    mechanism as the model's main threshold."""

    threshold: float = _number(0, MAX_SCORE, description="alert when the category's points reach this")
    label: str | None = Field(
        default=None, min_length=1, max_length=80, description="e.g. 'Predictive maintenance interest'"
    )
    hysteresis: float | None = _number(
        0, MAX_SCORE, default=None, description="fall this far below to re-arm; default: the model's"
    )


class ScoringModel(_Strict):
    """One scoring model, e.g. ``lead`` for prospects or ``customer_expansion`` for customers.

    Every model whose ``applies_when`` matches runs, with its own score, tier, grade, thresholds and
    alerts; the first that matches (in document order; the last model when none does) is the lead's
    primary model: its card is the one the hot list, the API's score and the CLI rank by."""

    applies_when: Condition | None = Field(
        default=None, description="on the profile; every match runs, the first is the primary"
    )
    fit: list[FitRule] = Field(default_factory=list)
    activity: list[ActivityRule] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    grade: Grade = Field(default_factory=Grade)
    decay: Decay = Field(default_factory=Decay)
    surge: Surge | None = Field(default_factory=Surge)
    calibration: Calibration | None = Field(
        default=None, description="the score as a probability of converting (from `leadscore review`)"
    )
    alert: ModelAlert | None = None
    categories: dict[str, CategoryThreshold] = Field(
        default_factory=dict, description="per-category thresholds, by category name"
    )

    @field_validator("categories")
    @classmethod
    def _category_names(cls, categories: dict[str, CategoryThreshold]) -> dict[str, CategoryThreshold]:
        return _rule_ids(categories, "category")


class Bots(_Strict):
    """Automated traffic: kept in the history, never scored."""

    user_agent_contains: list[str] = Field(default_factory=list)
    ignore_machine_opens: bool = True
    min_seconds_after_delivery: int = _integer(0, MAX_BOT_SECONDS, default=0)


MAX_REJECTION_REASONS = 50


class Lifecycle(_Strict):
    """Lifecycle stages (leadscore.scoring.lifecycle): why sales may reject a lead, and how long a
    rejected (recycled) lead stays in nurture before crossing the threshold makes it an MQL again."""

    rejection_reasons: list[str] = Field(
        default_factory=lambda: ["not_a_fit", "no_budget", "bad_timing", "no_response", "duplicate"],
        max_length=MAX_REJECTION_REASONS,
        description="the reasons a rejection may give (ids: lower-case letters, digits, '-' or '_')",
    )
    recycle_cooldown_days: int = _integer(0, MAX_DAYS, default=30)

    @field_validator("rejection_reasons")
    @classmethod
    def _reason_ids(cls, reasons: list[str]) -> list[str]:
        _rule_ids(reasons, "rejection reason", shown=64)
        if len(set(reasons)) != len(reasons):
            raise ValueError("rejection reasons must be distinct")
        return reasons


# --------------------------------------------------------------------------- owner routing
# docs/architecture.md, "Owner routing". Territories map countries (ISO 3166-1 alpha-2) to regions,
# segments map company sizes (employees) to names, routes (first match wins) send a lead to a queue,
# and a queue names its owners. Every list is bounded like the rest of the document.
ROUTING_NAME = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"  # territories, segments, queues: EMEA, enterprise-desk
UNKNOWN = "unknown"  # a region or segment name for a lead without (a recognised) country or size
OTHER_REGION = "other"  # a recognised country that is in no territory
DEFAULT_ROUTE = "default"  # the route id of an assignment by `default`
MAX_QUEUES = 100
MAX_QUEUE_MEMBERS = 200
MAX_ROUTES = 200
MAX_TERRITORIES = 50
MAX_SEGMENTS = 20
MAX_EMPLOYEES = 10_000_000

RoutingName = Annotated[str, StringConstraints(pattern=ROUTING_NAME)]
Member = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CountryGiven = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Names = RoutingName | Annotated[list[RoutingName], Field(min_length=1, max_length=MAX_TERRITORIES)]
Countries = Annotated[list[CountryGiven], Field(min_length=1, max_length=len(COUNTRIES))]


def _no_booleans(countries: Any) -> Any:
    """YAML 1.1 reads the unquoted country code NO (Norway) as false: say so, not "not a string"."""
    if isinstance(countries, list) and any(isinstance(c, bool) for c in countries):
        raise ValueError("a country is true/false: YAML reads NO (Norway) as false, write it as 'NO'")
    return countries


def names_of(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class Queue(_Strict):
    """Owners (ids, emails or names, as the CRM knows them) that share leads: ``round_robin`` spreads
    leads over them (by the lead id, so a lead keeps its owner), ``single`` gives every lead to the
    first member (the others are named for people)."""

    members: list[Member] = Field(min_length=1, max_length=MAX_QUEUE_MEMBERS)
    strategy: Literal["round_robin", "single"] = "round_robin"
    description: str | None = Field(default=None, max_length=120)

    @field_validator("members")
    @classmethod
    def _distinct(cls, members: list[str]) -> list[str]:
        seen: set[str] = set()
        for member in members:
            if member.lower() in seen:
                raise ValueError(f"member '{member}' is listed twice")
            seen.add(member.lower())
        return members


class Segment(_Strict):
    """Companies by size: ``min_employees`` <= company_size <= ``max_employees`` (either may be left out)."""

    name: RoutingName
    min_employees: int | None = _integer(0, MAX_EMPLOYEES, default=None)
    max_employees: int | None = _integer(0, MAX_EMPLOYEES, default=None)

    @model_validator(mode="after")
    def _bounds(self) -> Segment:
        if self.min_employees is None and self.max_employees is None:
            raise ValueError(f"segment '{self.name}' needs min_employees or max_employees")
        if (
            self.min_employees is not None
            and self.max_employees is not None
            and self.min_employees > self.max_employees
        ):
            raise ValueError(f"segment '{self.name}': min_employees is above max_employees")
        return self


class Interest(_Strict):
    """The lead's interest: ``category`` is the card's top category, or with ``min_points`` has at
    least that many points (whatever the top one is)."""

    category: str = Field(pattern=RULE_ID)
    min_points: float | None = _number(-MAX_SCORE, MAX_SCORE, default=None)


class RouteWhen(_Strict):
    """What a route needs (every part given must match; nothing given matches every lead). ``region``
    names territories, or ``unknown`` (no recognised country) or ``other`` (a country in no territory);
    ``segment`` names segments, or ``unknown`` (no company size)."""

    region: Names | None = None
    country: Countries | None = None
    segment: Names | None = None
    interest: Interest | None = None
    profile: Condition | None = Field(default=None, description="any fit condition on the profile")

    @field_validator("country", mode="before")
    @classmethod
    def _country_codes(cls, value: Any) -> Any:
        return _no_booleans(value)


class Route(_Strict):
    id: str = Field(pattern=RULE_ID, description="unique; stored on the lead with its assignment")
    description: str | None = Field(default=None, max_length=120)
    when: RouteWhen = Field(default_factory=RouteWhen)
    queue: RoutingName


class Routing(_Strict):
    """Owner routing: which queue (and so which owner) a lead goes to once it is warm or better."""

    territories: dict[RoutingName, Countries] = Field(default_factory=dict, max_length=MAX_TERRITORIES)
    segments: list[Segment] = Field(default_factory=list, max_length=MAX_SEGMENTS)
    queues: dict[RoutingName, Queue] = Field(min_length=1, max_length=MAX_QUEUES)
    routes: list[Route] = Field(default_factory=list, max_length=MAX_ROUTES)
    default: RoutingName | None = Field(default=None, description="the queue of a lead no route matches")

    @field_validator("territories", mode="before")
    @classmethod
    def _country_codes(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for countries in value.values():
                _no_booleans(countries)
        return value


# --------------------------------------------------------------------------- accounts (issue 18.1)
ACCOUNT_ROLES = ("decision_maker", "champion", "technical_evaluator")
MAX_ACCOUNT_N = 50


class AccountRollup(_Strict):
    """How member scores add up: the sum of the top ``n``, the best one, or ``weights`` by rank."""

    method: Literal["top_n", "max", "weighted"] = "top_n"
    n: int = _integer(1, MAX_ACCOUNT_N, default=3)
    weights: list[Annotated[float, _number(0, 100)]] = Field(
        default_factory=lambda: [1.0, 0.5, 0.25], min_length=1, max_length=MAX_ACCOUNT_N
    )


class AccountThresholds(_Strict):
    sales_ready: float = _number(0, MAX_SCORE, default=200)
    warm: float = _number(0, MAX_SCORE, default=100, description="below it, the alert re-arms")
    min_people: int = _integer(
        1, 1_000, default=2, description="engaged contacts an account needs to alert (one has a lead alert)"
    )


class AccountSurge(_Strict):
    """Several people of one account active within ``days``."""

    people: int = _integer(2, 1_000, default=3)
    days: int = _integer(1, 90, default=7)


def _default_roles() -> dict[str, Condition]:
    return {
        "decision_maker": FieldCondition(
            field="job_title",
            regex=r"\b(ceo|cto|cfo|coo|cio|ciso|cmo|cro|chief|vp|vice president|head|director"
            r"|president|founder)\b",
        ),
        "champion": FieldCondition(field="job_title", regex=r"\b(manager|lead|principal|owner)\b"),
        "technical_evaluator": FieldCondition(
            field="job_title", regex=r"\b(engineer|architect|developer|it|devops|sre|security|admin\w*)\b"
        ),
    }


class Committee(_Strict):
    """The buying committee: roles by title rules (first match in this order wins), and who counts as
    engaged (activity score above 0, active within ``engaged_days``)."""

    roles: dict[str, Condition] = Field(default_factory=_default_roles, min_length=1, max_length=10)
    engaged_days: int = _integer(1, 365, default=30)

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, Condition]) -> dict[str, Condition]:
        return _rule_ids(roles, "role name")


class Accounts(_Strict):
    """Leads grouped by company domain into accounts (docs/architecture.md, "Accounts")."""

    exclude_lists: list[str] = Field(
        default_factory=lambda: ["personal_email_domains", "education_domains"],
        description="lists (built-in or of this document) whose domains never form an account",
    )
    domains: dict[ListEntry, ListEntry] = Field(
        default_factory=dict, max_length=10_000, description="alias -> primary domain of one company"
    )
    rollup: AccountRollup = Field(default_factory=AccountRollup)
    fit: list[FitRule] = Field(
        default_factory=list, description="on the best profile: industry, size, country"
    )
    thresholds: AccountThresholds = Field(default_factory=AccountThresholds)
    surge: AccountSurge = Field(default_factory=AccountSurge)
    committee: Committee = Field(default_factory=Committee)


class RulesDocument(_Strict):
    schema_version: Literal[1] = 1
    version: str | None = Field(default=None, max_length=100, description="a label for people, e.g. a date")
    description: str | None = None
    # Entries are matched case-insensitively: stripped and lower-cased here (in pydantic's core, much
    # faster than in Python for a 5,000-domain list).
    lists: dict[str, list[ListEntry]] = Field(default_factory=dict)
    bots: Bots = Field(default_factory=Bots)
    models: dict[str, ScoringModel] = Field(min_length=1)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    routing: Routing | None = Field(default=None, description="owner routing (docs/architecture.md)")
    accounts: Accounts | None = Field(default=None, description="account grouping; off when absent")

    @field_validator("lists")
    @classmethod
    def _list_names(cls, lists: dict[str, list[ListEntry]]) -> dict[str, list[ListEntry]]:
        return _rule_ids(lists, "list name")


AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()
