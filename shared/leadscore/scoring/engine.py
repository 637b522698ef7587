"""Pure scoring: apply events to a lead's state, evaluate its score card, decide alerts.

No AWS here. Given the same state, events, rules and clock, the result is always the same.

Activity is kept per rule in a bounded form (:class:`leadscore.scoring.state.RuleFacts`): raw day
counts for the cap windows that can still take an event, and one decayed sum for the windows before.
A window closes ``LATE_DAYS`` after its last day: its capped occurrences are then final, and with
exponential decay ``sum(n * 0.5 ** (age / h))`` can be carried as one number re-expressed at any day,
so folding is exact. Events older than ``LATE_DAYS`` are not applied to the folded sums (their cap
windows are closed): they are kept in the history and the lead is rebuilt from it (``rebuild_at``).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from leadscore.models.event import CanonicalEvent
from leadscore.principals import principal_name
from leadscore.rules.compiler import CompiledModel, CompiledRule, CompiledRules, Facts
from leadscore.rules.model import CategoryThreshold
from leadscore.scoring import consent as consent_state
from leadscore.scoring import crm, lifecycle, routing
from leadscore.scoring.state import (
    MAX_ALERT_CONTRIBUTIONS,
    MAX_ANONYMOUS_IDS,
    MAX_DEDUPE_PAGES,
    MAX_MERGED,
    MAX_PENDING_ALERTS,
    MAX_RECENT,
    AlertEntry,
    AlertKind,
    Contribution,
    DedupePage,
    LeadState,
    RecentActivity,
    RuleFacts,
    ScoreCard,
    Touch,
    clip,
)

DAY = 86_400
HOUR = 3_600
# An event id is remembered this long after it was first seen: longer than any provider's documented
# retry schedule (SendGrid 72 h, HubSpot 24 h, Postmark ~10.5 h, Brevo ~11 h, Mailgun 8 h) and than
# the events queue's retention (4 days). docs/architecture.md, "Counting each event once".
DEDUPE_HOURS = 96
MAX_REMEMBERED = 24  # digests kept in the lead item; the overflow moves to dedupe pages
# Events up to this many days old are scored live; older ones are kept and the lead is rebuilt.
LATE_DAYS = 7
MAX_DELIVERED = 16  # email deliveries remembered for the bot check, for a day
MAX_RECENT_RULES = 5
TOP_REASONS = 5
MIN_WEIGHT = 0.01  # a folded sum decayed below this is dropped
SURGE_COOLDOWN_HOURS = 72


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def event_digest(event_id: str) -> str:
    """A short, fixed-size digest of an event id (64 bits): what the lead remembers for dedupe."""
    return hashlib.blake2b(event_id.encode(), digest_size=8).hexdigest()


def message_digest(value: str) -> str:
    """A short digest of an email message id: the key of the delivery the bot check remembers."""
    return hashlib.blake2b(value.encode(), digest_size=6).hexdigest()


# --------------------------------------------------------------------------- facts
def is_customer(state: LeadState) -> bool:
    """The ``customer`` fact: the lead's own outcomes include a conversion. (A rules list of customer
    domains is tested by the model's ``applies_when`` with ``email in_list``; account grouping can
    widen this fact to the lead's whole account here.)"""
    return any(o.status == "converted" for o in state.outcomes)


def profile_facts(state: LeadState) -> dict[str, object]:
    facts: dict[str, object] = dict(state.profile)
    if state.email:
        local, _, domain = state.email.partition("@")
        facts.update(email=state.email, email_domain=domain, email_local=local)
    facts.update(consent_state.view(state.consent).facts())
    facts["customer"] = is_customer(state)
    return facts


def event_facts(event: CanonicalEvent) -> dict[str, object]:
    facts: dict[str, object] = {"type": event.type, "name": event.name, "source": event.source}
    for key, value in event.properties.items():
        facts["properties." + key] = value
    return facts


def bot_reason(event: CanonicalEvent, rules: CompiledRules, state: LeadState) -> str | None:
    """Why this event looks automated (kept in history, never scored), or None."""
    if event.bot:
        return event.bot
    bots = rules.bots
    props = event.properties
    if bots.ignore_machine_opens and event.type == "email_open" and props.get("machine_open") is True:
        return "machine open"
    agent = props.get("user_agent")
    if isinstance(agent, str) and bots.user_agent_contains:
        lowered = agent.lower()
        for needle in bots.user_agent_contains:
            if needle.lower() in lowered:
                return f"scanner user agent ({needle})"
    if bots.min_seconds_after_delivery and event.type in ("email_open", "email_click"):
        message_id = props.get("message_id")
        delivered = state.delivered.get(message_digest(str(message_id))) if message_id is not None else None
        if (
            delivered is not None
            and 0 <= epoch(event.occurred_at) - delivered < bots.min_seconds_after_delivery
        ):
            return f"within {bots.min_seconds_after_delivery}s of delivery"
    return None


# --------------------------------------------------------------------------- rule evidence
Series = list[tuple[int, int]]  # (day, occurrences that count after the rule's window cap), by day

_MODELS: dict[int, tuple[CompiledRules, dict[str, CompiledModel]]] = {}


def _model_of(rules: CompiledRules) -> dict[str, CompiledModel]:
    """Activity rule id -> the model it belongs to (its decay applies), per compiled rules object."""
    cached = _MODELS.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    mapping = {r.id: m for m in rules.models for r in m.activity}
    if len(_MODELS) > 8:
        _MODELS.clear()
    _MODELS[id(rules)] = (rules, mapping)
    return mapping


def _window_days(rule: CompiledRule) -> int:
    cap = rule.cap
    return cap.window_days if cap is not None and cap.per_window is not None else 1


def _window_end(rule: CompiledRule, day: int) -> int:
    size = _window_days(rule)
    return (day // size) * size + size - 1


def _capped(rule: CompiledRule, days: dict[str, int]) -> Series:
    """The occurrences of one rule that count, per day, after its per-window cap (earliest first)."""
    cap = rule.cap
    per_window = cap.per_window if cap is not None else None
    out: Series = []
    remaining: dict[int, int] = {}
    for day, count in sorted((int(d), c) for d, c in days.items()):
        n = count
        if per_window is not None and cap is not None:
            window = day // cap.window_days
            left = remaining.get(window, per_window)
            n = min(count, left)
            remaining[window] = left - n
        if n > 0:
            out.append((day, n))
    return out


@dataclass(frozen=True, slots=True)
class _Weights:
    """How a model's decay weighs one occurrence ``age`` days old."""

    half_life: float | None
    expire: int | None

    def __call__(self, age: int) -> float:
        if self.expire is not None and age >= self.expire:
            return 0.0
        if self.half_life is None:
            return 1.0
        return float(0.5 ** (max(age, 0) / self.half_life))


_FLAT = _Weights(None, None)


def _weights(model: CompiledModel, rule: CompiledRule) -> _Weights:
    if not rule.decays:
        return _FLAT
    return _Weights(model.decay.half_life_days, model.decay.expire_after_days)


@dataclass(slots=True)
class _Evidence:
    """One rule's counting occurrences, ready to be weighed at any day."""

    rule: CompiledRule
    weights: _Weights
    series: Series  # open windows (capped) and kept closed windows
    fold_day: int
    fold: float
    folded: int
    last: int

    def points(self, day: int) -> tuple[float, int]:
        """Decayed, capped points at ``day`` and how many occurrences counted."""
        weigh = self.weights
        total = 0.0
        counted = 0
        for d, n in self.series:
            w = weigh(day - d)
            if w <= 0.0:
                continue
            total += n * w
            counted += n
        if self.folded:
            half_life = weigh.half_life
            if half_life is None:
                total += self.fold
            else:
                total += self.fold * float(0.5 ** (max(day - self.fold_day, 0) / half_life))
            counted += self.folded
        total *= self.rule.points
        cap = self.rule.cap
        if cap is not None and cap.max_points is not None:
            total = max(min(total, cap.max_points), -cap.max_points)
        return total, counted

    @property
    def decays(self) -> bool:
        return self.weights is not _FLAT and (
            self.weights.half_life is not None or self.weights.expire is not None
        )


def _evidence(rule: CompiledRule, model: CompiledModel, facts: RuleFacts, extra: dict[str, int]) -> _Evidence:
    days = facts.days
    if extra:
        days = dict(days)
        for d, c in extra.items():
            days[d] = days.get(d, 0) + c
    series = _capped(rule, days)
    if facts.kept:
        series = sorted([*facts.kept, *series])
    return _Evidence(
        rule=rule,
        weights=_weights(model, rule),
        series=series,
        fold_day=facts.fold_day,
        fold=facts.fold,
        folded=facts.folded,
        last=facts.last,
    )


_NO_FACTS = RuleFacts()


# --------------------------------------------------------------------------- evaluation
def _grade(model: CompiledModel, fit: float, activity: float) -> str:
    letter = next((k for k in ("A", "B", "C") if fit >= model.grade.fit[k]), "D")
    digit = next((k for k in ("4", "3", "2") if activity >= model.grade.activity[k]), "1")
    return letter + digit


def _tier(model: CompiledModel, score: float, threshold: float, disqualified: bool) -> str:
    if disqualified:
        return "disqualified"
    if score >= threshold:
        return "sales_ready"
    tier = "cold"
    for t in model.thresholds.tiers:
        if score >= t.min:
            tier = t.name
    return tier


def _surge(model: CompiledModel, state: LeadState, now_day: int) -> bool:
    surge = model.surge
    if surge is None:
        return False
    recent = baseline = 0.0
    start = now_day - surge.window_days
    base_start = start - surge.baseline_days
    for d, points in state.surge_days.items():
        day = int(d)
        if start < day <= now_day:
            recent += points
        elif base_start < day <= start:
            baseline += points
    if recent < surge.min_points or baseline <= 0:
        return False  # a surge is a change against the lead's own baseline: a new lead has none
    per_window = baseline * surge.window_days / surge.baseline_days
    return recent >= surge.ratio * per_window


def _fmt_points(points: float) -> str:
    return f"{points:+.0f}" if abs(points - round(points)) < 0.05 else f"{points:+.1f}"


def _ago(seconds: int) -> str:
    days = seconds // DAY
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    return f"{days // 7} weeks ago"


def reason_text(c: Contribution | _Line, now: int) -> str:
    """Plain words a rep can read: "Viewed pricing page 3×, last 2 days ago (+30)"."""
    text = c.description
    if c.kind == "activity":
        if c.count > 1:
            text += f" {c.count}×"
        if c.last_seen is not None:
            text += f", last {_ago(now - c.last_seen)}"
    if c.disqualify:
        text += " [disqualifies]"
    return f"{text} ({_fmt_points(c.points)})"


@dataclass(slots=True)
class _Line:
    """One contribution, before it becomes a :class:`Contribution` (only when explaining)."""

    rule: str
    kind: Literal["fit", "activity", "adjustment"]
    description: str
    points: float
    count: int = 1
    last_seen: int | None = None
    category: str | None = None
    disqualify: bool = False

    def model(self) -> Contribution:
        return Contribution(
            rule=self.rule,
            kind=self.kind,
            description=self.description,
            points=self.points,
            count=self.count,
            last_seen=self.last_seen,
            category=self.category,
            disqualify=self.disqualify,
        )


def _rule_evidence(state: LeadState, model: CompiledModel) -> list[_Evidence]:
    out = []
    legacy = state.legacy_counters
    for rule in model.activity:
        facts = state.activity.get(rule.id)
        extra = legacy.get(rule.id, {}) if legacy else {}
        if facts is None and not extra:
            continue
        out.append(_evidence(rule, model, facts or _NO_FACTS, extra))
    return out


def evaluate(
    state: LeadState,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    *,
    due: bool = True,
    explain: bool = True,
    model: CompiledModel | None = None,
) -> ScoreCard:
    """The lead's score card at ``now``: a pure function of its facts and the rules.

    ``due=False`` skips the search for the next day decay changes the tier (``due_at`` stays None);
    ``explain=False`` leaves out the per-rule contributions (the lead item stores only the reasons).
    ``model``: that model's card (default: the lead's primary model, the first that applies).
    """
    facts: Facts = profile_facts(state)
    return _evaluate(
        state, rules, model or rules.model_for(facts), facts, now, default_threshold, due, explain
    )


def evaluate_all(
    state: LeadState, rules: CompiledRules, now: datetime, default_threshold: float | None
) -> tuple[ScoreCard, dict[str, ScoreCard]]:
    """The primary model's card (with its due day, unexplained: what the item stores) and the cards
    of every other model that applies (``LeadState.cards``: no contributions, reasons or due day)."""
    facts: Facts = profile_facts(state)
    primary, others = rules.models_for(facts)
    card = _evaluate(state, rules, primary, facts, now, default_threshold, True, False)
    cards = {}
    for model in others:
        # no reasons: ~100 packed bytes a model (bench/models.py); readers explain the card
        cards[model.name] = _evaluate(state, rules, model, facts, now, default_threshold, False, False, 0)
    return card, cards


def _evaluate(
    state: LeadState,
    rules: CompiledRules,
    model: CompiledModel,
    facts: Facts,
    now: datetime,
    default_threshold: float | None,
    due: bool,
    explain: bool,
    top: int = TOP_REASONS,
) -> ScoreCard:
    now_s = epoch(now)
    now_day = now_s // DAY
    lines: list[_Line] = []
    categories: dict[str, float] = defaultdict(float)
    disqualified = False
    fit = activity = 0.0
    for rule in model.match_fit(facts):
        fit += rule.points
        disqualified |= rule.disqualify
        if rule.category:
            categories[rule.category] += rule.points
        lines.append(
            _Line(rule.id, "fit", rule.description, rule.points, 1, None, rule.category, rule.disqualify)
        )
    evidence = _rule_evidence(state, model)
    for ev in evidence:
        points, counted = ev.points(now_day)
        if counted == 0:
            continue
        rule = ev.rule
        disqualified |= rule.disqualify
        activity += points
        rounded = round(points, 2)
        if rule.category:
            categories[rule.category] += rounded
        lines.append(
            _Line(
                rule.id,
                "activity",
                rule.description,
                rounded,
                counted,
                ev.last or None,
                rule.category,
                rule.disqualify,
            )
        )
    adjusted = 0.0
    for adj in state.adjustments:
        adjusted += adj.points
        disqualified |= adj.disqualify
        lines.append(
            _Line(
                f"manual:{adj.id}",
                "adjustment",
                f"Adjusted by {principal_name(adj.by)}: {adj.reason}",
                adj.points,
                1,
                adj.at,
                None,
                adj.disqualify,
            )
        )
    threshold = model.sales_ready(default_threshold)
    score = round(fit + activity + adjusted, 2)
    calibration = model.calibration
    lines.sort(key=lambda c: (-abs(c.points), c.rule))
    card = ScoreCard(
        score=score,
        fit=round(fit, 2),
        activity=round(activity, 2),
        tier=_tier(model, score, threshold, disqualified),
        grade=_grade(model, fit, activity),
        categories={k: round(v, 2) for k, v in sorted(categories.items())},
        contributions=[c.model() for c in lines] if explain else [],
        reasons=[clip(reason_text(c, now_s)) or "" for c in lines[:top] if c.points or c.disqualify],
        disqualified=disqualified,
        surge=_surge(model, state, now_day),
        model=model.name,
        rules_version=rules.version,
        threshold=threshold,
        computed_at=now_s,
    )
    if calibration is not None:
        # One exp per evaluation; the log-odds are clamped so no bounded score can overflow it.
        z = min(max(calibration.slope * score + calibration.intercept, -50.0), 50.0)
        card.probability = round(1.0 / (1.0 + math.exp(-z)), 4)
        card.horizon_days = calibration.horizon_days
    if due:
        card.due_at = _next_due(state, model, card, now_s, evidence)
    return card


def explained(card: ScoreCard, state: LeadState, rules: CompiledRules, now: datetime) -> ScoreCard:
    """``card`` with its per-rule contributions (a reader's view: the lead item stores only the
    reasons), evaluated at ``card.computed_at`` with the rules that scored it. With other rules, the
    card stands as stored: contributions from other rules would not add up to its score."""
    if card.contributions or card.rules_version != rules.version:
        return card
    at = datetime.fromtimestamp(card.computed_at, now.tzinfo) if card.computed_at else now
    model = _named(rules, card.model)
    if model is None:
        return card
    full = evaluate(state, rules, at, card.threshold, due=False, model=model)
    return card.model_copy(update={"contributions": full.contributions})


def _rearm_level(model: CompiledModel, threshold: float) -> float:
    return threshold - model.thresholds.hysteresis


def _named(rules: CompiledRules, name: str) -> CompiledModel | None:
    return next((m for m in rules.models if m.name == name), None)


def _band(model: CompiledModel, card: ScoreCard) -> tuple[str, bool]:
    return card.tier, card.score < _rearm_level(model, card.threshold)


def _next_due(
    state: LeadState,
    model: CompiledModel,
    card: ScoreCard,
    now_s: int,
    evidence: list[_Evidence],
) -> int | None:
    """The first day on which decay alone changes the tier or the re-arm state, if within a year."""
    decaying = [ev for ev in evidence if ev.decays]
    if not decaying:
        return None
    start = _band(model, card)
    if start == ("cold", True) and all(ev.rule.points >= 0 for ev in decaying):
        return None  # the score can only fall, and a cold, re-armed lead has nowhere lower to go
    fixed = card.fit + sum(a.points for a in state.adjustments)
    today = now_s // DAY
    fixed += sum(ev.points(today)[0] for ev in evidence if not ev.decays)

    def band_at(day_offset: int) -> tuple[str, bool]:
        score = fixed
        for ev in decaying:
            score += ev.points(today + day_offset)[0]
        score = round(score, 2)
        tier = _tier(model, score, card.threshold, card.disqualified)
        return tier, score < _rearm_level(model, card.threshold)

    lo, hi = 0, 1
    while band_at(hi) == start:
        lo, hi = hi, hi * 2
        if hi > 512:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if band_at(mid) == start:
            lo = mid
        else:
            hi = mid
    return now_s - now_s % DAY + hi * DAY


# --------------------------------------------------------------------------- applying events
@dataclass
class Outcome:
    """What applying a batch of events to one lead did."""

    state: LeadState
    before: ScoreCard
    after: ScoreCard
    accepted: list[CanonicalEvent] = field(default_factory=list)
    duplicates: list[CanonicalEvent] = field(default_factory=list)
    unscored: list[tuple[CanonicalEvent, str]] = field(default_factory=list)  # (event, why)
    alerts: list[AlertEntry] = field(default_factory=list)
    late: int = 0  # accepted but too old to score live: counted by the rebuild ``rebuild_at`` asks for
    dirty: bool = False  # the state changed even without new events (e.g. a merge was recorded)
    erased: int = 0  # dropped: sent before their lead was erased

    @property
    def changed(self) -> bool:
        return bool(self.accepted) or self.dirty


def _close_windows(rule: CompiledRule, model: CompiledModel, facts: RuleFacts, now_day: int) -> None:
    """Fold (or keep) every window of ``facts.days`` that can no longer take a live event."""
    oldest_open = now_day - LATE_DAYS
    closing = {d: c for d, c in facts.days.items() if _window_end(rule, int(d)) < oldest_open}
    if closing:
        for d in closing:
            del facts.days[d]
        series = _capped(rule, closing)
        weights = _weights(model, rule)
        if weights.expire is not None and rule.decays:
            facts.kept = sorted([*facts.kept, *series])
        elif series:
            half_life = weights.half_life
            if half_life is None:
                facts.fold += sum(n for _, n in series)
            else:
                anchor = max(facts.fold_day, series[-1][0])
                total = (
                    facts.fold * float(0.5 ** ((anchor - facts.fold_day) / half_life))
                    if facts.folded
                    else 0.0
                )
                for day, n in series:
                    total += n * float(0.5 ** ((anchor - day) / half_life))
                facts.fold, facts.fold_day = total, anchor
            facts.folded += sum(n for _, n in series)
    weights = _weights(model, rule)
    if facts.kept:
        facts.kept = [(d, n) for d, n in facts.kept if weights(now_day - d) >= MIN_WEIGHT]
    if facts.folded and facts.fold * weights(now_day - facts.fold_day) < MIN_WEIGHT:
        facts.fold, facts.folded, facts.fold_day = 0.0, 0, 0  # decayed to nothing


def _surge_horizon(rules: CompiledRules) -> int:
    return max(((m.surge.window_days + m.surge.baseline_days) for m in rules.models if m.surge), default=0)


def _forget_seen(state: LeadState, now_hour: int) -> bool:
    """Drop remembered ids older than the memory window; move the overflow to a dedupe page.
    Returns False when the lead had to forget pages still inside the window (``MAX_DEDUPE_PAGES``)."""
    state.seen = {h: ids for h, ids in state.seen.items() if now_hour - int(h) <= DEDUPE_HOURS}
    state.dd_pages = [(h, t) for h, t in state.dd_pages if now_hour - h <= DEDUPE_HOURS]
    if state.remembered > MAX_REMEMBERED:
        hours = sorted(int(h) for h in state.seen)
        digests = [d for h in hours for d in state.seen[str(h)]]
        token = hashlib.blake2b(f"{state.ver}:{','.join(digests)}".encode(), digest_size=4).hexdigest()
        page = DedupePage(first_hour=hours[0], last_hour=hours[-1], token=token, digests=digests)
        state.spill = [*state.spill, page]
        state.dd_pages = [*state.dd_pages, (page.last_hour, token)]
        state.seen = {}
    if len(state.dd_pages) > MAX_DEDUPE_PAGES:
        state.dd_pages = state.dd_pages[-MAX_DEDUPE_PAGES:]
        return False
    return True


def _prune(state: LeadState, rules: CompiledRules, now_s: int) -> None:
    """Keep the state bounded: close cap windows, forget what can no longer change a score or a
    dedupe decision, and cap every list (see :mod:`leadscore.scoring.state`)."""
    now_day = now_s // DAY
    if state.legacy_counters:
        for rule_id, days in state.legacy_counters.items():
            facts = state.activity.setdefault(rule_id, RuleFacts())
            for d, c in days.items():
                facts.days[d] = facts.days.get(d, 0) + c
        state.legacy_counters = {}
    models = _model_of(rules)
    by_id = rules.by_id
    for rule_id, facts in state.activity.items():
        rule = by_id.get(rule_id)
        model = models.get(rule_id)
        if rule is not None and model is not None:
            _close_windows(rule, model, facts, now_day)
    horizon = _surge_horizon(rules)
    state.surge_days = {d: p for d, p in state.surge_days.items() if now_day - int(d) < horizon}
    if not _forget_seen(state, now_s // HOUR):
        state.memory_full = True
    delivered = sorted(((t, m) for m, t in state.delivered.items() if t > now_s - DAY), reverse=True)
    state.delivered = {m: t for t, m in delivered[:MAX_DELIVERED]}
    state.recent = sorted(state.recent, key=lambda r: r.at)[-MAX_RECENT:]
    state.anonymous_ids = state.anonymous_ids[-MAX_ANONYMOUS_IDS:]
    state.merged_from = state.merged_from[-MAX_MERGED:]
    # A sent (or failed) alert is done: ``last_alert_at`` keeps its time for the cooldown, and every
    # write would otherwise carry its score card along. Pending alerts beyond the cap are superseded
    # by newer ones of the same lead (sales needs the newest), oldest first.
    outbox = {k: a for k, a in state.outbox.items() if a.status in ("pending", "sending")}
    if len(outbox) > MAX_PENDING_ALERTS:
        waiting = sorted((a for a in outbox.values() if a.status == "pending"), key=lambda a: a.created_at)
        for alert in waiting[: len(outbox) - MAX_PENDING_ALERTS]:
            del outbox[alert.id]
    state.outbox = outbox


def _merge_profile(state: LeadState, event: CanonicalEvent) -> None:
    if event.identity.email and not state.email:
        state.email = event.identity.email
    anon = event.identity.anonymous_id
    if anon and anon not in state.anonymous_ids:
        state.anonymous_ids = [*state.anonymous_ids, anon]
    if event.profile is not None:
        state.profile.update({k: v for k, v in event.profile.fields().items() if v is not None})


def _fresh(
    card: ScoreCard | None,
    model: CompiledModel | None,
    state: LeadState,
    rules: CompiledRules,
    now_s: int,
    default_threshold: float | None,
) -> bool:
    """Whether ``card`` is what evaluating ``model`` again at ``now_s`` would give."""
    return (
        card is not None
        and model is not None
        and card.rules_version == rules.version
        and card.computed_at <= now_s
        and card.computed_at // DAY == now_s // DAY
        and not state.legacy_counters
        and model.sales_ready(default_threshold) == card.threshold
    )


def _current_card(
    state: LeadState, rules: CompiledRules, now: datetime, default_threshold: float | None
) -> ScoreCard:
    """The stored card when evaluating again would give the same score: every write stores the card
    of its own facts, and scores move only with the rules, the threshold and the day (decay is per
    day). Otherwise a fresh evaluation. Saves one evaluation per lead on the per-event path.

    Either way ``due_at`` is the stored one: the day the ``due`` index holds for this lead."""
    card = state.card
    if card is not None and _fresh(
        card, _named(rules, card.model), state, rules, epoch(now), default_threshold
    ):
        return card
    fresh = evaluate(state, rules, now, default_threshold, due=False, explain=False)
    fresh.due_at = card.due_at if card is not None else None
    return fresh


def _current_other(
    state: LeadState,
    rules: CompiledRules,
    model: CompiledModel,
    now: datetime,
    default_threshold: float | None,
) -> ScoreCard:
    """A non-primary model's card of ``state`` at ``now``: the stored one while it holds (the same
    shortcut as :func:`_current_card`), else that model evaluated on ``state`` (a model that starts
    to apply is compared with what the lead scored in it before these events)."""
    card = state.cards.get(model.name)
    if card is not None and _fresh(card, model, state, rules, epoch(now), default_threshold):
        return card
    return evaluate(state, rules, now, default_threshold, due=False, explain=False, model=model)


def _snapshot(
    state: LeadState,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    model: CompiledModel,
) -> ScoreCard:
    """The card an alert carries: explained, with at most MAX_ALERT_CONTRIBUTIONS contributions."""
    card = evaluate(state, rules, now, default_threshold, due=False, model=model)
    card.contributions = card.contributions[:MAX_ALERT_CONTRIBUTIONS]
    return card


def _crossed(
    state: LeadState, key: str, before: float, after: float, level: float, rearm: float, blocked: bool
) -> bool:
    """One upward crossing of ``level`` while armed (``key`` in ``armed``), re-armed by hysteresis
    (a score below ``rearm``); a ``blocked`` (disqualified) lead never crosses. Updates the armed
    state; the caller checks the cooldown and raises."""
    armed = state.armed.get(key, True) or before < rearm
    if before < level <= after and armed and not blocked:
        state.armed[key] = False  # raised, or crossed inside the cooldown: counted as alerted
        return True
    if after < rearm:
        if key == "sales_ready":
            state.armed[key] = True  # the primary's key as stored items have it
        else:
            state.armed.pop(key, None)  # armed is the default: no bytes for it
    return False


@dataclass(slots=True)
class _Alerting:
    """Deciding one model's alerts on one write."""

    state: LeadState
    rules: CompiledRules
    model: CompiledModel
    now: datetime
    default_threshold: float | None
    prefix: str  # "" for the primary model, "<model>:" for the others
    after: ScoreCard
    alerts: list[AlertEntry] = field(default_factory=list)

    def cooling(self, key: str, seconds: int) -> bool:
        last = self.state.last_alert_at.get(key)
        return last is not None and epoch(self.now) - last < seconds

    def raise_alert(
        self, kind: AlertKind, key: str, title: str | None = None, category: str | None = None
    ) -> None:
        state, now_s = self.state, epoch(self.now)
        card = _snapshot(state, self.rules, self.now, self.default_threshold, self.model)
        card.due_at = self.after.due_at
        entry = AlertEntry(
            id=f"{key}-{state.ver}",
            kind=kind,
            created_at=now_s,
            card=card,
            title=title,
            category=category,
            stage=state.stage,
        )
        state.outbox[entry.id] = entry
        state.last_alert_at[key] = now_s
        self.alerts.append(entry)


def _category_title(name: str, label: str | None, threshold: float) -> str:
    """ "Predictive maintenance interest crossed 50"."""
    what = label or f"{name.replace('-', ' ').replace('_', ' ').capitalize()} interest"
    return clip(f"{what} crossed {threshold:g}", 100) or what


def _decide_model_alerts(a: _Alerting, before: ScoreCard, surge: bool) -> None:
    """A model's alerts: its threshold, its categories' thresholds, and (primary only) the surge."""
    model, after = a.model, a.after
    cooldown = int(model.thresholds.alert_cooldown_hours * 3600)
    threshold = after.threshold
    key = a.prefix + "sales_ready"
    if _crossed(
        a.state,
        key,
        before.score,
        after.score,
        threshold,
        _rearm_level(model, threshold),
        after.disqualified,
    ) and not a.cooling(key, cooldown):
        a.raise_alert("sales_ready", key, model.alert_title)
    for name, cat in model.categories.items():
        key = f"{a.prefix}cat:{name}"
        was, now_points = before.categories.get(name, 0.0), after.categories.get(name, 0.0)
        rearm = _category_rearm(model, cat)
        if _crossed(
            a.state, key, was, now_points, cat.threshold, rearm, after.disqualified
        ) and not a.cooling(key, cooldown):
            a.raise_alert("category", key, _category_title(name, cat.label, cat.threshold), name)
    # Surge days are the lead's, not a model's: only the primary model raises the surge alert.
    if (
        surge
        and after.surge
        and not before.surge
        and not after.disqualified
        and not a.cooling("surge", SURGE_COOLDOWN_HOURS * 3600)
    ):
        a.raise_alert("surge", "surge")


def _decide_alerts(
    state: LeadState,
    rules: CompiledRules,
    before: ScoreCard,
    after: ScoreCard,
    now: datetime,
    default_threshold: float | None,
    others_before: dict[str, ScoreCard] | None = None,
) -> list[AlertEntry]:
    """One alert per upward crossing, re-armed by hysteresis, limited by a cooldown: the primary
    model's (``state.card``) and those of every other model that applies (``state.cards``), each
    with its own threshold, categories and alert state. ``others_before``: the other models' cards
    before this write (missing ones are evaluated on nothing, i.e. the model starts from its fit)."""
    model = next(m for m in rules.models if m.name == after.model)
    if before.score < after.threshold <= after.score and not after.disqualified:
        # The lead becomes an MQL where the primary model's sales_ready alert is decided.
        lifecycle.on_sales_ready(state, epoch(now), after.score, after.threshold)
    alerting = _Alerting(state, rules, model, now, default_threshold, "", after)
    _decide_model_alerts(alerting, before, surge=True)
    for name, card in state.cards.items():
        other = _named(rules, name)
        was = (others_before or {}).get(name)
        if other is None or was is None:
            continue
        alerting.model, alerting.prefix, alerting.after = other, name + ":", card
        _decide_model_alerts(alerting, was, surge=False)
    return alerting.alerts


def _category_rearm(model: CompiledModel, cat: CategoryThreshold) -> float:
    hysteresis = cat.hysteresis if cat.hysteresis is not None else model.thresholds.hysteresis
    return cat.threshold - hysteresis


def _rearm_model(state: LeadState, model: CompiledModel, card: ScoreCard, prefix: str) -> None:
    if card.score < _rearm_level(model, card.threshold):
        if prefix:
            state.armed.pop(prefix + "sales_ready", None)
        else:
            state.armed["sales_ready"] = True
    for name, cat in model.categories.items():
        if card.categories.get(name, 0.0) < _category_rearm(model, cat):
            state.armed.pop(f"{prefix}cat:{name}", None)


def _rearm(state: LeadState, rules: CompiledRules) -> None:
    """Re-arm what decay (or new rules) took below its re-arm level, with no alert to decide."""
    if state.card is None:
        return
    cards = [("", state.card), *((name + ":", card) for name, card in state.cards.items())]
    for prefix, card in cards:
        model = _named(rules, card.model)
        if model is not None:
            _rearm_model(state, model, card, prefix)


def _prop(event: CanonicalEvent, *names: str) -> str | None:
    for name in names:
        value = event.properties.get(name)
        if value is not None and value != "" and not isinstance(value, bool):
            return clip(str(value), 100)
    return None


def _touch(state: LeadState, event: CanonicalEvent, occurred: int) -> None:
    """Keep the lead's first and latest touch (a delivery report is not the lead touching us)."""
    if event.type == "email_delivered":
        return
    first, last = state.first_touch, state.last_touch
    if first is not None and last is not None and first.at < occurred < last.at:
        return
    touch = Touch(
        at=occurred,
        source=clip(event.source, 64) or event.source,
        campaign=_prop(event, "utm_campaign", "campaign"),
        channel=_prop(event, "utm_source"),
        medium=_prop(event, "utm_medium"),
    )
    if first is None or occurred < first.at:
        state.first_touch = touch
    if last is None or occurred >= last.at:
        state.last_touch = touch


def _remember(state: LeadState, digest: str, hour: int) -> None:
    key = str(hour)
    ids = state.seen.get(key)
    if ids is None:
        state.seen[key] = [digest]
    else:
        ids.append(digest)


def _late(event: CanonicalEvent, day: int, now_s: int, max_age_days: int) -> str | None:
    """Why a live write keeps this event for the rebuild instead of applying it, or None.

    Too old: its cap window is closed. Delivered again longer after it was first received than the
    dedupe memory lasts (a queue redrive): only the history can tell whether it was counted, and the
    rebuild replays the history counting each event id once."""
    now_day = now_s // DAY
    if day < now_day - max_age_days:
        return f"arrived {now_day - day} days late: counted when the lead is rebuilt from history"
    received = event.received_at
    if received is not None and now_s - epoch(received) > DEDUPE_HOURS * HOUR:
        return "delivered again after the dedupe window: counted once when the lead is rebuilt from history"
    return None


def _count_activity(
    new: LeadState, event: CanonicalEvent, rules: CompiledRules, day: int, occurred: int
) -> list[str]:
    """Count the event in the facts of every activity rule it matches (its day, its total, its last
    time) and in the day's surge points. Returns the ids of the rules it matched."""
    key = str(day)
    surge_points = 0.0
    matched: list[str] = []
    for rule in rules.match_activity(event_facts(event)):
        matched.append(rule.id)
        facts = new.activity.get(rule.id)
        if facts is None:
            facts = new.activity[rule.id] = RuleFacts()
        facts.days[key] = facts.days.get(key, 0) + 1
        facts.n += 1
        facts.last = max(facts.last, occurred)
        if rule.points > 0:
            surge_points += rule.points
    if surge_points:
        new.surge_days[key] = round(new.surge_days.get(key, 0.0) + surge_points, 4)
    return matched


def _crm_applied(
    new: LeadState, event: CanonicalEvent, rules: CompiledRules, occurred: int, outcome: Outcome
) -> bool:
    """An outcome or stage move the CRM reports (leadscore.scoring.crm): recorded, never scored."""
    if event.type not in crm.CRM_EVENTS:
        return False
    note = crm.apply(new, event, rules.lifecycle, occurred)
    if note is not None:
        outcome.unscored.append((event, note))
    return True


def apply_events(
    state: LeadState,
    events: Iterable[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None = None,
    max_age_days: int | None = LATE_DAYS,
    remembered: Collection[str] = (),
) -> Outcome:
    """Apply events to a copy of ``state``. Duplicates (by event id) change nothing.

    ``remembered``: digests the lead item does not hold (its dedupe pages, or its history for a
    delivery older than the memory window), read by the caller. Live scoring applies events up to
    ``max_age_days`` old; older ones are kept in the history and ``rebuild_at`` asks for a rebuild of
    the lead from it. A replay from history (on a fresh state) or a dry run passes ``None``.
    """
    now_s = epoch(now)
    now_hour = now_s // HOUR
    before = _current_card(state, rules, now, default_threshold)
    new = state.clone()
    outcome = Outcome(state=new, before=before, after=before)
    known: set[str] = {d for ids in state.seen.values() for d in ids}
    by_id = rules.by_id
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        occurred = min(epoch(event.occurred_at), now_s)
        day = occurred // DAY
        digest = event_digest(event.event_id)
        if digest in known or digest in remembered:
            outcome.duplicates.append(event)
            continue
        known.add(digest)
        _remember(new, digest, now_hour)
        outcome.accepted.append(event)
        new.events_total += 1
        if _crm_applied(new, event, rules, occurred, outcome):
            continue
        lifecycle.on_event(new, event.type, occurred)
        _merge_profile(new, event)
        if event.identity.email is not None and event.identity.email == new.email:
            # Consent is state by event time, however late the event: applied before the late check.
            # Only the address the event names is marked (never a lead it was redirected to).
            consent_state.apply(new.consent, event, occurred)
        _touch(new, event, occurred)  # late or not: it happened
        if max_age_days is not None:
            late = _late(event, day, now_s, max_age_days)
            if late is not None:
                outcome.late += 1
                outcome.unscored.append((event, late))
                continue
        if event.type == "email_delivered" and event.properties.get("message_id") is not None:
            new.delivered[message_digest(str(event.properties["message_id"]))] = occurred
        why = bot_reason(event, rules, new)
        matched: list[str] = []
        if why is None:
            matched = _count_activity(new, event, rules, day, occurred)
        else:
            outcome.unscored.append((event, why))
        if event.type not in ("identify", "email_delivered"):
            path = event.properties.get("path")
            new.recent.append(
                RecentActivity(
                    at=occurred,
                    type=event.type,
                    source=event.source,
                    name=clip(event.name, 100),
                    path=clip(str(path)) if path is not None else None,
                    rules=[r for r in matched if r in by_id][:MAX_RECENT_RULES],
                    bot=clip(why, 100),
                )
            )
    if not outcome.accepted:
        return outcome
    new.ver = state.ver + 1
    new.created_at = state.created_at or now_s
    new.updated_at = now_s
    if outcome.late and new.rebuild_at is None:
        new.rebuild_at = now_s  # the sweep's next run rebuilds it (at most once per run)
    _prune(new, rules, now_s)
    after, new.cards = evaluate_all(new, rules, now, default_threshold)
    stored = before.due_at
    if stored is not None and after.due_at is not None and now_s < stored < after.due_at:
        # Keep the earlier visit: the sweep then finds nothing to change and stores the later day.
        # Moving the ``due`` index key on every event would cost two index writes each time.
        after.due_at = stored
    outcome.after = after
    new.card = after
    routing.assign(new, after, rules, now_s)
    others_before = _others_before(state, new, rules, now, default_threshold)
    outcome.alerts = _decide_alerts(new, rules, before, after, now, default_threshold, others_before)
    if outcome.alerts:  # the request that brought the latest event in follows the alert
        trace = next((e.trace_id for e in reversed(outcome.accepted) if e.trace_id), None)
        for alert in outcome.alerts:
            alert.trace_id = trace
    return outcome


def _others_before(
    old: LeadState, new: LeadState, rules: CompiledRules, now: datetime, default_threshold: float | None
) -> dict[str, ScoreCard]:
    """The cards, before this write, of the other models that apply after it."""
    out: dict[str, ScoreCard] = {}
    for name in new.cards:
        model = _named(rules, name)
        if model is not None:
            out[name] = _current_other(old, rules, model, now, default_threshold)
    return out


def rebuild(
    state: LeadState,
    history: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None = None,
    *,
    alerts: bool = False,
) -> LeadState:
    """Recompute a lead from its whole history with the current rules (after a rules change, or to
    count events that arrived too late to score live). Keeps what people recorded. Raises no alert
    unless ``alerts`` (then a crossing the rebuild reveals alerts, as a live write would).

    Facts derived from events (profile, activity, recent activity) are rebuilt; identity links, the
    dedupe memory, alert state, adjustments and outcomes are kept as they are.
    """
    fresh = LeadState(
        lead_id=state.lead_id,
        email=state.email,
        anonymous_ids=list(state.anonymous_ids),
        merged_into=state.merged_into,
        absorbed=state.absorbed,
        merged_from=list(state.merged_from),
        created_at=state.created_at,
        adjustments=list(state.adjustments),
        outcomes=list(state.outcomes),
        stage=state.stage,
        stage_at=state.stage_at,
        stage_moves=list(state.stage_moves),
        recycle_until=state.recycle_until,
        **routing.kept(state),
    )
    new = apply_events(fresh, history, rules, now, default_threshold, max_age_days=None).state
    new.ver = state.ver + 1
    new.updated_at = epoch(now)
    new.seen = {h: list(ids) for h, ids in state.seen.items()}
    new.dd_pages = list(state.dd_pages)
    new.spill = list(state.spill)
    new.rebuild_at = None
    # Consent outlives the history's retention: what the item knew stays, merged by event time.
    new.consent = consent_state.merge(state.consent, new.consent)
    new.card, new.cards = evaluate_all(new, rules, now, default_threshold)
    new.outbox = dict(state.outbox)
    new.journal = list(state.journal)  # history is what was replayed: it does not change
    new.last_alert_at = dict(state.last_alert_at)
    new.armed = dict(state.armed)
    if alerts and state.card is not None:
        others_before = _others_before(state, new, rules, now, default_threshold)
        _decide_alerts(new, rules, state.card, new.card, now, default_threshold, others_before)
        return new
    _rearm(new, rules)
    return new


_NOT_FACTS: dict[str, Any] = {
    "ver": True,
    "updated_at": True,
    "card": {"computed_at"},
    "cards": {"__all__": {"computed_at"}},
    "events": True,
}


def same_facts(a: LeadState, b: LeadState) -> bool:
    """Whether two states hold the same facts and card (ignoring versions and when they were written)."""
    return a.model_dump(exclude=_NOT_FACTS) == b.model_dump(exclude=_NOT_FACTS) and a.seen == b.seen


def merge_in(
    state: LeadState,
    anonymous_lead_id: str,
    events: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None = None,
) -> Outcome:
    """Merge an identified visitor's anonymous history into the known lead, scored once.

    Idempotent: the known lead remembers which anonymous leads it absorbed, and events it already
    counted are duplicates by id. Events too old to apply live ask for a rebuild, which replays the
    known lead's history (the anonymous history is copied into it by the caller).
    """
    if anonymous_lead_id in state.merged_from:
        card = state.card or evaluate(state, rules, now, default_threshold, explain=False)
        return Outcome(state=state, before=card, after=card)
    outcome = apply_events(state, events, rules, now, default_threshold)
    new = outcome.state
    if not outcome.changed:
        new.ver = state.ver + 1
        new.updated_at = epoch(now)
        new.card = outcome.after
    new.merged_from = [*new.merged_from, anonymous_lead_id][-MAX_MERGED:]
    outcome.dirty = True
    return outcome


def rescore(
    state: LeadState, rules: CompiledRules, now: datetime, default_threshold: float | None
) -> LeadState | None:
    """Re-evaluate a lead with no new events (decay sweep, new rules). None if nothing changed."""
    card, cards = evaluate_all(state, rules, now, default_threshold)
    if (
        state.card is not None
        and _same(card, state.card)
        and _same_cards(cards, state.cards)
        and not state.legacy_counters
    ):
        return None
    new = state.clone()
    new.ver = state.ver + 1
    new.updated_at = epoch(now)
    new.card, new.cards = card, cards
    routing.assign(new, card, rules, epoch(now))
    _prune(new, rules, epoch(now))
    _rearm(new, rules)
    return new


def _same(a: ScoreCard, b: ScoreCard) -> bool:
    keys = ("score", "tier", "grade", "surge", "rules_version", "due_at", "disqualified", "categories")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _same_cards(a: dict[str, ScoreCard], b: dict[str, ScoreCard]) -> bool:
    return a.keys() == b.keys() and all(_same(card, b[name]) for name, card in a.items())


def coalesce(events: Sequence[CanonicalEvent]) -> dict[str, list[CanonicalEvent]]:
    """Group a batch's events by lead, so each lead is written once per batch."""
    groups: dict[str, list[CanonicalEvent]] = defaultdict(list)
    for event in events:
        groups[event.lead_id].append(event)
    return groups
