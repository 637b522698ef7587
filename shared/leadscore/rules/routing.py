"""The routing section compiled: which route (and so which queue) a lead's profile and card match.

Pure code, compiled once per rules version with the rest of the document
(:func:`leadscore.rules.compiler.compile_document`). Picking the owner inside the queue and keeping
the assignment on the lead is :mod:`leadscore.scoring.routing`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from leadscore.rules.compiler import (
    BUILTIN_LISTS,
    Facts,
    Predicate,
    _check_condition,
    compile_condition,
    did_you_mean,
)
from leadscore.rules.countries import COUNTRIES, country_code, country_name
from leadscore.rules.model import (
    DEFAULT_ROUTE,
    FIT_FIELDS,
    OTHER_REGION,
    UNKNOWN,
    Interest,
    Queue,
    Routing,
    Segment,
    names_of,
)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a lead stands for routing: its region and segment (``unknown``/``other`` included), its
    country code, and its interest categories (the card's)."""

    region: str
    segment: str
    country: str | None
    categories: Mapping[str, float]

    @property
    def top_category(self) -> str | None:
        """The category with the most points (the alert's ``top_category``), if any."""
        if not self.categories:
            return None
        return max(self.categories.items(), key=lambda kv: kv[1])[0]


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    id: str
    queue: str
    regions: frozenset[str] | None
    countries: frozenset[str] | None
    segments: frozenset[str] | None
    interest: Interest | None
    profile: Predicate | None

    def matches(self, where: Where, facts: Facts) -> bool:
        if self.regions is not None and where.region not in self.regions:
            return False
        if self.countries is not None and where.country not in self.countries:
            return False
        if self.segments is not None and where.segment not in self.segments:
            return False
        if self.interest is not None and not _interested(self.interest, where):
            return False
        return self.profile is None or self.profile(facts)

    def reason(self, where: Where) -> str:
        """Why it matched, in the route's own terms: "region EMEA, segment enterprise"."""
        parts = []
        if self.regions is not None:
            parts.append(f"region {where.region}")
        if self.countries is not None:
            parts.append(f"country {where.country}")
        if self.segments is not None:
            parts.append(f"segment {where.segment}")
        if self.interest is not None:
            parts.append(f"interest {self.interest.category}")
        if self.profile is not None:
            parts.append("profile")
        return f"route {self.id}: " + (", ".join(parts) or "every lead")


def _interested(interest: Interest, where: Where) -> bool:
    if interest.min_points is None:
        return where.top_category == interest.category
    points = where.categories.get(interest.category)
    return points is not None and points >= interest.min_points


@dataclass(frozen=True, slots=True)
class CompiledRouting:
    region_of: Mapping[str, str]  # country code -> territory
    segments: tuple[Segment, ...]
    queues: Mapping[str, Queue]
    members: Mapping[str, frozenset[str]]  # queue -> its members, for "is the owner still in it"
    routes: tuple[CompiledRoute, ...]
    default: str | None

    def where(self, facts: Facts, categories: Mapping[str, float]) -> Where:
        code = country_code(facts.get("country"))
        region = UNKNOWN if code is None else self.region_of.get(code, OTHER_REGION)
        return Where(region, self.segment_of(facts.get("company_size")), code, categories)

    def segment_of(self, size: object) -> str:
        """The first segment whose range holds ``size`` (employees), else ``unknown``."""
        if size is None or isinstance(size, bool):
            return UNKNOWN
        try:
            number = float(size)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return UNKNOWN
        if not math.isfinite(number):
            return UNKNOWN
        for segment in self.segments:
            low = segment.min_employees
            high = segment.max_employees
            if (low is None or number >= low) and (high is None or number <= high):
                return segment.name
        return UNKNOWN

    def match(self, where: Where, facts: Facts) -> tuple[str, str, str] | None:
        """(route id, queue, reason) of the first route that matches, else the default; None when
        neither applies."""
        for route in self.routes:
            if route.matches(where, facts):
                return route.id, route.queue, route.reason(where)
        if self.default is not None:
            return DEFAULT_ROUTE, self.default, "default route"
        return None


def compile_routing(routing: Routing, lists: Mapping[str, frozenset[str]]) -> CompiledRouting:
    region_of = {code.upper(): region for region, codes in routing.territories.items() for code in codes}
    routes = tuple(
        CompiledRoute(
            id=r.id,
            queue=r.queue,
            regions=frozenset(names_of(r.when.region)) if r.when.region is not None else None,
            countries=frozenset(c.upper() for c in r.when.country) if r.when.country else None,
            segments=frozenset(names_of(r.when.segment)) if r.when.segment is not None else None,
            interest=r.when.interest,
            profile=compile_condition(r.when.profile, lists) if r.when.profile is not None else None,
        )
        for r in routing.routes
    )
    return CompiledRouting(
        region_of=region_of,
        segments=tuple(routing.segments),
        queues=dict(routing.queues),
        members={name: frozenset(q.members) for name, q in routing.queues.items()},
        routes=routes,
        default=routing.default,
    )


def routing_errors(routing: Routing | None, list_names: list[str]) -> list[str]:
    """The cross-checks of a routing section: its references, and its profile conditions' fields and
    lists (as a fit rule's)."""
    if routing is None:
        return []
    errors = routing_problems(routing)
    known = set(list_names) | set(BUILTIN_LISTS)
    for route in routing.routes:
        if route.when.profile is not None:
            where = f"routing route '{route.id}' profile"
            errors.extend(_check_condition(route.when.profile, FIT_FIELDS, known, where))
    return errors


def routing_problems(routing: Routing) -> list[str]:
    """What makes a routing section unusable although each part validates: unknown queues, regions,
    segments and countries (with "did you mean"), a country in two territories, reserved or repeated
    names. :func:`leadscore.rules.compiler.parse_document` reports them with the other cross-checks
    (through :func:`routing_errors`)."""
    errors: list[str] = []
    region_of: dict[str, str] = {}
    for region, countries in routing.territories.items():
        where = f"routing territory '{region}'"
        if region.lower() in (UNKNOWN, OTHER_REGION):
            errors.append(f"{where}: '{UNKNOWN}' and '{OTHER_REGION}' are reserved names")
        for given in countries:
            code = given.upper()
            if code not in COUNTRIES:
                errors.append(f"{where}: {_not_a_country(given)}")
            elif region_of.setdefault(code, region) != region:
                errors.append(f"{where}: {code} is in territory '{region_of[code]}' too")
    names = [s.name for s in routing.segments]
    for name in sorted({n for n in names if names.count(n) > 1 or n.lower() == UNKNOWN}):
        errors.append(f"routing segment '{name}': listed twice, or the reserved name '{UNKNOWN}'")
    regions = {*routing.territories, UNKNOWN, OTHER_REGION}
    segments = {*names, UNKNOWN}
    ids: set[str] = set()
    for route in routing.routes:
        where = f"routing route '{route.id}'"
        if route.id in ids or route.id == DEFAULT_ROUTE:
            errors.append(f"{where}: id already used, or the reserved id '{DEFAULT_ROUTE}'")
        ids.add(route.id)
        if route.queue not in routing.queues:
            errors.append(
                f"{where}: unknown queue '{route.queue}'{did_you_mean(route.queue, routing.queues)}"
            )
        errors.extend(
            f"{where}: unknown region '{r}'{did_you_mean(r, regions)}"
            for r in names_of(route.when.region)
            if r not in regions
        )
        errors.extend(
            f"{where}: unknown segment '{s}'{did_you_mean(s, segments)}"
            for s in names_of(route.when.segment)
            if s not in segments
        )
        errors.extend(
            f"{where}: {_not_a_country(c)}" for c in route.when.country or () if c.upper() not in COUNTRIES
        )
    default = routing.default
    if default is not None and default not in routing.queues:
        errors.append(f"routing default: unknown queue '{default}'{did_you_mean(default, routing.queues)}")
    return errors


def _not_a_country(given: str) -> str:
    meant = country_code(given)
    hint = f"; did you mean '{meant}' ({country_name(meant)})?" if meant else ""
    return f"'{given}' is not an ISO 3166-1 alpha-2 country code{hint}"


def unrouted(routing: Routing, lists: Mapping[str, frozenset[str]]) -> list[str]:
    """Each (region, segment) combination, ``unknown`` country and size included, of a lead with no
    interest yet that no route matches (the default aside): "region EMEA, segment smb". A lead of
    each is made up (a country of the region, a size of the segment) and routed as the scorer would."""
    compiled = compile_routing(routing, lists)
    taken = set(compiled.region_of)
    regions: list[tuple[str, str | None]] = [
        (f"region {name}", codes[0].upper()) for name, codes in routing.territories.items() if codes
    ]
    outside = next((code for code in COUNTRIES if code not in taken), None)
    if outside is not None:
        regions.append((f"a country in no territory (e.g. {outside})", outside))
    regions.append((f"{UNKNOWN} country", None))
    sizes: list[tuple[str, int | None]] = [(f"segment {s.name}", _size_in(s)) for s in routing.segments]
    sizes.append((f"{UNKNOWN} size", None))
    missing = []
    for region, country in regions:
        for segment, size in sizes:
            given = {"country": country, "company_size": size}
            facts = {k: v for k, v in given.items() if v is not None}
            where = compiled.where(facts, {})
            if not any(route.matches(where, facts) for route in compiled.routes):
                missing.append(f"{region}, {segment}, no interest")
    return missing


def _size_in(segment: Segment) -> int:
    if segment.min_employees is not None:
        return segment.min_employees
    return segment.max_employees or 0
