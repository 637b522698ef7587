"""Semantic lint for a rules document: mistakes that validate but make a rule silently never fire.

Validation (:mod:`leadscore.rules.model`, :func:`leadscore.rules.compiler.parse_document`) says
whether a document *can* be loaded; lint says whether it *does what its author meant*. It runs on
the raw document, rule by rule, so a document that fails validation is still linted wherever its
parts validate: one ``leadscore rules validate`` run reports every mistake.

Errors (the rule cannot do what it says):

- an event-type value that does not exist (``type equals: pageview``), with "did you mean";
- a property path that is a near-miss of one a built-in source produces (``properties.pth``);
- a tier whose minimum is at or above the sales-ready threshold (that tier can never show);
- a rule that can never fire: an ``all`` needing one field to equal two values, an empty numeric
  range (``gte: 500, lte: 100``), a list in ``in_list`` that is empty.

Warnings (maybe meant, worth a look):

- a property no built-in source produces (custom ``track`` properties and form fields are kept as
  properties, so it may be fine);
- a rule whose points are 0 and which does not disqualify: it never changes a score;
- a list defined under ``lists`` that no condition uses;
- a tier minimum compared with the template's default threshold when the file sets none.

Duplicate ids and points given as strings are validation errors (see the compiler).
Pure code: no I/O; used by the CLI (``leadscore rules lint|validate|publish``), never by Lambda.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import TypeAdapter, ValidationError

from leadscore.models.event import EventType
from leadscore.rules.compiler import did_you_mean
from leadscore.rules.model import (
    PROPERTIES_PREFIX,
    ActivityRule,
    AllCondition,
    AnyCondition,
    Condition,
    FieldCondition,
    FitRule,
    NotCondition,
    Routing,
    Thresholds,
    field_conditions,
)
from leadscore.rules.routing import routing_errors, unrouted

EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))
# Properties the built-in sources produce (leadscore.ingest): page views and tracking calls, UTM and
# campaign fields, forms, email providers' events. Custom track properties and unmapped form fields
# are kept too, under their own (snake_case) names: a property outside this set is only a warning.
# A source that starts producing a property adds it here (the lint test of rules/example.yaml fails
# when the example uses one that is missing).
KNOWN_PROPERTIES: frozenset[str] = frozenset(
    {
        "path",
        "url",
        "title",
        "referrer",
        "search",
        "name",
        "category",
        "campaign",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "page_path",
        "page_url",
        "user_id",
        "form",
        "message",
        "form_id",
        "submission_id",
        "message_id",
        "campaign_id",
        "campaign_name",
        "tag",
        "reason",
        "list_id",
        "portal_id",
        "object_id",
        "change_source",
        "list",  # a list import (leadscore.ingest.list_import): the list, its folder, file and row
        "folder",
        "file",
        "row",
    }
)
PROPERTY_CUTOFF = 0.85  # difflib ratio for "a near-miss of a known property" (pth/path: 0.86)
DEFAULT_THRESHOLD = 100.0  # the SalesReadyThreshold template parameter's default

Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def lint_document(raw: Any) -> list[Finding]:
    """Every lint finding in a raw (parsed, maybe invalid) rules document, errors first."""
    if not isinstance(raw, dict):
        return []
    findings: list[Finding] = []
    given_lists = raw.get("lists")
    lists: dict[str, Any] = given_lists if isinstance(given_lists, dict) else {}
    used_lists: set[str] = set()
    given_models = raw.get("models")
    models: dict[str, Any] = given_models if isinstance(given_models, dict) else {}
    for position, (model_name, model) in enumerate(models.items()):
        if not isinstance(model, dict):
            continue
        findings.extend(_lint_thresholds(str(model_name), model.get("thresholds")))
        applies = _condition(model.get("applies_when"))
        if applies is not None:
            used_lists.update(fc.in_list for fc in field_conditions(applies) if fc.in_list)
        elif position > 0 and model.get("applies_when") is None:
            findings.append(_runs_for_everyone(str(model_name)))
        categories: set[str] = set()
        for kind, rule in _rules(model):
            where = f"model '{model_name}' {kind} rule '{rule.id}'"
            used_lists.update(fc.in_list for fc in field_conditions(rule.when) if fc.in_list)
            findings.extend(_lint_rule(where, kind, rule, lists))
            if rule.category:
                categories.add(rule.category)
        findings.extend(_lint_categories(str(model_name), model.get("categories"), categories))
    routing = _routing(raw.get("routing"))
    if routing is not None:
        used_lists.update(
            fc.in_list
            for r in routing.routes
            if r.when.profile is not None
            for fc in field_conditions(r.when.profile)
            if fc.in_list
        )
        findings.extend(_lint_routing(routing, lists))
    for name in lists:
        if name not in used_lists:
            findings.append(Finding("warning", f"lists.{name}", "defined but never used by any rule"))
    return sorted(findings, key=lambda f: f.level != "error")


def _runs_for_everyone(model_name: str) -> Finding:
    return Finding(
        "warning",
        f"model '{model_name}'",
        "has no applies_when: it runs for every lead, beside the primary model (every model whose "
        "applies_when matches runs, with its own alerts)",
    )


def _lint_categories(model_name: str, raw: Any, categories: set[str]) -> list[Finding]:
    """A category threshold no rule of the model scores can never alert."""
    if not isinstance(raw, dict):
        return []
    return [
        Finding(
            "warning",
            f"model '{model_name}' categories.{name}",
            "no rule of this model has this category: its threshold never alerts"
            + did_you_mean(str(name), categories),
        )
        for name in raw
        if name not in categories
    ]


def _rules(model: dict[str, Any]) -> Iterator[tuple[str, FitRule | ActivityRule]]:
    for kind, cls in (("fit", FitRule), ("activity", ActivityRule)):
        given = model.get(kind)
        for item in given if isinstance(given, list) else ():
            try:
                yield kind, cls.model_validate(item)
            except ValidationError:
                continue  # validation reports it


def _condition(raw: Any) -> Condition | None:
    if raw is None:
        return None
    try:
        adapter: TypeAdapter[Condition] = TypeAdapter(Condition)
        return adapter.validate_python(raw)
    except ValidationError:
        return None


def _routing(raw: Any) -> Routing | None:
    if raw is None:
        return None
    try:
        return Routing.model_validate(raw)
    except ValidationError:
        return None  # validation reports it


MAX_UNROUTED_SHOWN = 10


def _lint_routing(routing: Routing, raw_lists: dict[str, Any]) -> list[Finding]:
    """Without a default, every (region, segment) a lead can be in, with no interest yet, needs a
    route: the combinations none matches are an error, named."""
    if routing.default is not None or routing_errors(routing, list(raw_lists)):
        return []  # routed by the default, or references validation reports
    lists = {k: frozenset(str(v).lower() for v in vs) for k, vs in raw_lists.items() if isinstance(vs, list)}
    missing = unrouted(routing, lists)
    if not missing:
        return []
    shown = "; ".join(missing[:MAX_UNROUTED_SHOWN])
    more = f" and {len(missing) - MAX_UNROUTED_SHOWN} more" if len(missing) > MAX_UNROUTED_SHOWN else ""
    return [
        Finding(
            "error",
            "routing",
            f"no default queue and {len(missing)} combination(s) match no route: {shown}{more}; "
            "add `default: <queue>` or a route for them",
        )
    ]


def _lint_thresholds(model_name: str, raw: Any) -> list[Finding]:
    if raw is None:
        raw = {}
    try:
        thresholds = Thresholds.model_validate(raw)
    except ValidationError:
        return []  # validation reports it
    where = f"model '{model_name}' thresholds"
    findings = []
    threshold = thresholds.sales_ready
    for tier in thresholds.tiers:
        if threshold is not None and tier.min >= threshold:
            findings.append(
                Finding(
                    "error",
                    f"{where} tier '{tier.name}'",
                    f"min {tier.min:g} is at or above sales_ready {threshold:g}: a lead that reaches it is "
                    "sales-ready, so this tier never shows",
                )
            )
        elif threshold is None and tier.min >= DEFAULT_THRESHOLD:
            findings.append(
                Finding(
                    "warning",
                    f"{where} tier '{tier.name}'",
                    f"min {tier.min:g} is at or above the template's default SalesReadyThreshold "
                    f"({DEFAULT_THRESHOLD:g}); set thresholds.sales_ready to say which you mean",
                )
            )
    return findings


def _lint_rule(where: str, kind: str, rule: FitRule | ActivityRule, lists: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for fc in field_conditions(rule.when):
        at = f"{where} field '{fc.field}'"
        if kind == "activity" and fc.field == "type":
            for value in _equality_values(fc):
                if str(value).lower() not in EVENT_TYPES:
                    hint = did_you_mean(str(value).lower(), EVENT_TYPES)
                    findings.append(
                        Finding(
                            "error",
                            at,
                            f"'{value}' is not an event type{hint} (one of {', '.join(sorted(EVENT_TYPES))})",
                        )
                    )
        if kind == "activity" and fc.field.startswith(PROPERTIES_PREFIX):
            prop = fc.field[len(PROPERTIES_PREFIX) :]
            if prop not in KNOWN_PROPERTIES:
                # stricter than for keys: a custom property may be a near relative of a known one
                # ("message", a form's free text, is not a typo of "message_id")
                hint = did_you_mean(prop, KNOWN_PROPERTIES, cutoff=PROPERTY_CUTOFF)
                if hint:
                    findings.append(Finding("error", at, f"no source produces property '{prop}'{hint}"))
                else:
                    findings.append(
                        Finding(
                            "warning",
                            at,
                            f"no built-in source produces property '{prop}' (fine if your own track "
                            "calls or form fields send it)",
                        )
                    )
        if fc.in_list and isinstance(lists.get(fc.in_list), list) and not lists[fc.in_list]:
            findings.append(Finding("error", at, f"list '{fc.in_list}' is empty: this never matches"))
        if _empty_range(fc):
            findings.append(Finding("error", at, "the range is empty (lower bound above upper): never fires"))
    for field, values in _contradictions(rule.when):
        findings.append(
            Finding(
                "error",
                where,
                f"can never fire: 'all' needs {field} to equal "
                f"{' and '.join(repr(v) for v in values)} at once",
            )
        )
    if rule.points == 0 and not rule.disqualify:
        findings.append(
            Finding("warning", where, "points are 0 and it does not disqualify: it never changes a score")
        )
    return findings


def _equality_values(fc: FieldCondition) -> list[Any]:
    if fc.equals is not None:
        return [fc.equals]
    return list(fc.in_ or ())


def _empty_range(fc: FieldCondition) -> bool:
    low = max((v for v in (fc.gte, fc.gt) if v is not None), default=-math.inf)
    high = min((v for v in (fc.lte, fc.lt) if v is not None), default=math.inf)
    if low > high:
        return True
    return low == high and (fc.gt is not None or fc.lt is not None)


def _contradictions(cond: Condition) -> Iterable[tuple[str, list[Any]]]:
    """Fields an ``all`` (at any depth) needs to equal different values at once."""
    if isinstance(cond, AllCondition):
        allowed: dict[str, set[str]] = {}
        for part in cond.all:
            if isinstance(part, FieldCondition) and (part.equals is not None or part.in_):
                values = {str(v).lower() for v in _equality_values(part)}
                before = allowed.get(part.field)
                allowed[part.field] = values if before is None else before & values
                # report a field once, when it first becomes impossible
                if (before is None or before) and not allowed[part.field]:
                    given = [
                        v
                        for p in cond.all
                        if isinstance(p, FieldCondition) and p.field == part.field
                        for v in _equality_values(p)
                    ]
                    yield part.field, given
        for part in cond.all:
            if not isinstance(part, FieldCondition):
                yield from _contradictions(part)
    elif isinstance(cond, AnyCondition):
        for part in cond.any:
            yield from _contradictions(part)
    elif isinstance(cond, NotCondition):
        return
