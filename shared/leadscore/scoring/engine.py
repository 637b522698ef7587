"""Pure scoring: apply events to a lead's state, evaluate its score card, decide alerts.

No AWS here. Given the same state, events, rules and clock, the result is always the same.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadscore.models.event import CanonicalEvent
from leadscore.rules.compiler import CompiledModel, CompiledRule, CompiledRules, Facts
from leadscore.scoring.state import AlertEntry, AlertKind, Contribution, LeadState, RecentActivity, ScoreCard

DAY = 86_400
DEDUPE_DAYS = 35  # event ids are remembered this long: SendGrid retries for 72 h, Lambda/SQS for days
# At most this many remembered ids (~17 bytes each), so a lead hammered by a bot cannot push its item
# toward DynamoDB's 400 KB limit; the oldest days are forgotten first.
MAX_SEEN = 8_000
MAX_DELIVERED = 2_000
RECENT_ACTIVITIES = 10
TOP_REASONS = 5
MIN_WEIGHT = 0.01  # decayed day buckets below this weight are dropped
SURGE_COOLDOWN_HOURS = 72


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def event_digest(event_id: str) -> str:
    """A short, fixed-size digest of an event id (64 bits): what the lead item remembers for dedupe."""
    return hashlib.blake2b(event_id.encode(), digest_size=8).hexdigest()


# --------------------------------------------------------------------------- facts
def profile_facts(state: LeadState) -> dict[str, object]:
    facts: dict[str, object] = dict(state.profile)
    if state.email:
        local, _, domain = state.email.partition("@")
        facts.update(email=state.email, email_domain=domain, email_local=local)
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
        delivered = state.delivered.get(str(message_id)) if message_id is not None else None
        if (
            delivered is not None
            and 0 <= epoch(event.occurred_at) - delivered < bots.min_seconds_after_delivery
        ):
            return f"within {bots.min_seconds_after_delivery}s of delivery"
    return None


# --------------------------------------------------------------------------- evaluation
Series = list[tuple[int, int]]  # (day, occurrences that count after the rule's window cap), by day


def _series(rule: CompiledRule, days: dict[str, int]) -> Series:
    """The occurrences of one activity rule that count, per day, after its per-window cap. Ages do
    not change these, so they are worked out once per evaluation and weighed at any later day."""
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


def _points(model: CompiledModel, rule: CompiledRule, series: Series, now_day: int) -> tuple[float, int]:
    """Decayed, capped points of one activity rule at ``now_day``, and how many occurrences counted."""
    expire = half_life = None
    if rule.decays:
        expire, half_life = model.decay.expire_after_days, model.decay.half_life_days
    total = 0.0
    counted = 0
    for day, n in series:
        age = now_day - day
        if expire is not None and age >= expire:
            continue
        weight = float(0.5 ** (max(age, 0) / half_life)) if half_life is not None else 1.0
        if weight <= 0.0:  # underflow: thousands of half-lives old
            continue
        total += n * weight * rule.points
        counted += n
    cap = rule.cap
    if cap is not None and cap.max_points is not None:
        total = max(min(total, cap.max_points), -cap.max_points)
    return total, counted


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
    for rule in model.activity:
        if rule.points <= 0:
            continue
        for d, count in state.counters.get(rule.id, {}).items():
            day = int(d)
            if start < day <= now_day:
                recent += count * rule.points
            elif base_start < day <= start:
                baseline += count * rule.points
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


def reason_text(c: Contribution, now: int) -> str:
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


def evaluate(
    state: LeadState,
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None,
    *,
    due: bool = True,
) -> ScoreCard:
    """The lead's score card at ``now``: a pure function of its facts and the rules. ``due=False``
    skips the search for the next day decay changes the tier (``due_at`` stays None)."""
    now_s = epoch(now)
    now_day = now_s // DAY
    facts: Facts = profile_facts(state)
    model = rules.model_for(facts)
    contributions: list[Contribution] = []
    disqualified = False
    fit = activity = 0.0
    for rule in model.match_fit(facts):
        fit += rule.points
        disqualified |= rule.disqualify
        contributions.append(
            Contribution(
                rule=rule.id,
                kind="fit",
                description=rule.description,
                points=rule.points,
                category=rule.category,
                disqualify=rule.disqualify,
            )
        )
    series: dict[CompiledRule, Series] = {}
    for rule in model.activity:
        days = state.counters.get(rule.id)
        if not days:
            continue
        series[rule] = counted_days = _series(rule, days)
        points, counted = _points(model, rule, counted_days, now_day)
        if counted == 0:
            continue
        disqualified |= rule.disqualify
        activity += points
        contributions.append(
            Contribution(
                rule=rule.id,
                kind="activity",
                description=rule.description,
                points=round(points, 2),
                count=counted,
                last_seen=state.last_seen.get(rule.id),
                category=rule.category,
                disqualify=rule.disqualify,
            )
        )
    adjusted = 0.0
    for adj in state.adjustments:
        adjusted += adj.points
        disqualified |= adj.disqualify
        contributions.append(
            Contribution(
                rule=f"manual:{adj.id}",
                kind="adjustment",
                description=f"Adjusted by {adj.by}: {adj.reason}",
                points=adj.points,
                last_seen=adj.at,
                disqualify=adj.disqualify,
            )
        )
    threshold = model.sales_ready(default_threshold)
    score = round(fit + activity + adjusted, 2)
    categories: dict[str, float] = defaultdict(float)
    for c in contributions:
        if c.category:
            categories[c.category] += c.points
    contributions.sort(key=lambda c: (-abs(c.points), c.rule))
    card = ScoreCard(
        score=score,
        fit=round(fit, 2),
        activity=round(activity, 2),
        tier=_tier(model, score, threshold, disqualified),
        grade=_grade(model, fit, activity),
        categories={k: round(v, 2) for k, v in sorted(categories.items())},
        contributions=contributions,
        reasons=[reason_text(c, now_s) for c in contributions[:TOP_REASONS] if c.points or c.disqualify],
        disqualified=disqualified,
        surge=_surge(model, state, now_day),
        model=model.name,
        rules_version=rules.version,
        threshold=threshold,
        computed_at=now_s,
    )
    if due:
        card.due_at = _next_due(state, model, card, now_s, series)
    return card


def _rearm_level(model: CompiledModel, threshold: float) -> float:
    return threshold - model.thresholds.hysteresis


def _band(model: CompiledModel, card: ScoreCard) -> tuple[str, bool]:
    return card.tier, card.score < _rearm_level(model, card.threshold)


def _next_due(
    state: LeadState,
    model: CompiledModel,
    card: ScoreCard,
    now_s: int,
    series: dict[CompiledRule, Series],
) -> int | None:
    """The first day on which decay alone changes the tier or the re-arm state, if within a year."""
    if not any(rule.decays for rule in series):
        return None
    start = _band(model, card)
    if start == ("cold", True) and all(rule.points >= 0 for rule in series if rule.decays):
        return None  # the score can only fall, and a cold, re-armed lead has nowhere lower to go
    fixed = card.fit + sum(a.points for a in state.adjustments)
    today = now_s // DAY

    def band_at(day_offset: int) -> tuple[str, bool]:
        score = fixed
        for rule, counted_days in series.items():
            score += _points(model, rule, counted_days, today + day_offset)[0]
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
    dirty: bool = False  # the state changed even without new events (e.g. a merge was recorded)

    @property
    def changed(self) -> bool:
        return bool(self.accepted) or self.dirty


def _horizon_days(model: CompiledModel) -> int | None:
    decay = model.decay
    horizons = []
    if decay.expire_after_days is not None:
        horizons.append(decay.expire_after_days)
    if decay.half_life_days is not None:
        horizons.append(math.ceil(decay.half_life_days * math.log2(1 / MIN_WEIGHT)))
    return min(horizons) if horizons else None


def _prune(state: LeadState, rules: CompiledRules, now_day: int) -> None:
    """Forget what can no longer change a score: old dedupe ids, fully decayed counters, sent alerts."""
    state.seen = {d: ids for d, ids in state.seen.items() if int(d) > now_day - DEDUPE_DAYS}
    while sum(len(ids) for ids in state.seen.values()) > MAX_SEEN and len(state.seen) > 1:
        del state.seen[min(state.seen, key=int)]
    cutoff_s = (now_day - DEDUPE_DAYS) * DAY
    delivered = sorted(((t, m) for m, t in state.delivered.items() if t > cutoff_s), reverse=True)
    state.delivered = {m: t for t, m in delivered[:MAX_DELIVERED]}
    horizon = max((h for m in rules.models if (h := _horizon_days(m)) is not None), default=None)
    if horizon is not None:
        decaying = {r.id for r in rules.activity if r.decays}
        for rule_id in list(state.counters):
            if rule_id in decaying:
                days = {d: c for d, c in state.counters[rule_id].items() if now_day - int(d) < horizon}
                if days:
                    state.counters[rule_id] = days
                else:
                    del state.counters[rule_id]
    # A sent alert is done: ``last_alert_at`` keeps its time for the cooldown, and every write would
    # otherwise carry its score card along.
    state.outbox = {k: a for k, a in state.outbox.items() if a.status != "sent"}


def _merge_profile(state: LeadState, event: CanonicalEvent) -> None:
    if event.identity.email and not state.email:
        state.email = event.identity.email
    anon = event.identity.anonymous_id
    if anon and anon not in state.anonymous_ids:
        state.anonymous_ids = [*state.anonymous_ids, anon][-20:]
    if event.profile is not None:
        state.profile.update({k: v for k, v in event.profile.fields().items() if v is not None})


def _current_card(
    state: LeadState, rules: CompiledRules, now: datetime, default_threshold: float | None
) -> ScoreCard:
    """The stored card when evaluating again would give the same score: every write stores the card
    of its own facts, and scores move only with the rules, the threshold and the day (decay is per
    day). Otherwise a fresh evaluation. Saves one evaluation per lead on the per-event path.

    Either way ``due_at`` is the stored one: the day the ``due`` index holds for this lead."""
    card = state.card
    now_s = epoch(now)
    if (
        card is not None
        and card.rules_version == rules.version
        and card.computed_at <= now_s
        and card.computed_at // DAY == now_s // DAY
    ):
        model = next((m for m in rules.models if m.name == card.model), None)
        if model is not None and model.sales_ready(default_threshold) == card.threshold:
            return card
    fresh = evaluate(state, rules, now, default_threshold, due=False)
    fresh.due_at = card.due_at if card is not None else None
    return fresh


def _decide_alerts(
    state: LeadState,
    rules: CompiledRules,
    before: ScoreCard,
    after: ScoreCard,
    now_s: int,
) -> list[AlertEntry]:
    """One alert per upward crossing, re-armed by hysteresis, limited by a cooldown."""
    model = next(m for m in rules.models if m.name == after.model)
    threshold = after.threshold
    rearm_below = _rearm_level(model, threshold)
    cooldown = int(model.thresholds.alert_cooldown_hours * 3600)
    alerts: list[AlertEntry] = []

    def cooling(kind: str, seconds: int) -> bool:
        last = state.last_alert_at.get(kind)
        return last is not None and now_s - last < seconds

    def raise_alert(kind: AlertKind) -> None:
        entry = AlertEntry(id=f"{kind}-{state.ver}", kind=kind, created_at=now_s, card=after)
        state.outbox[entry.id] = entry
        state.last_alert_at[kind] = now_s
        alerts.append(entry)

    armed = state.armed.get("sales_ready", True) or before.score < rearm_below
    crossed = before.score < threshold <= after.score and not after.disqualified
    if crossed and armed and not cooling("sales_ready", cooldown):
        raise_alert("sales_ready")
        state.armed["sales_ready"] = False
    elif after.score < rearm_below:
        state.armed["sales_ready"] = True
    elif crossed and armed:
        state.armed["sales_ready"] = False  # crossed inside the cooldown: counted as alerted

    if (
        after.surge
        and not before.surge
        and not after.disqualified
        and not cooling("surge", SURGE_COOLDOWN_HOURS * 3600)
    ):
        raise_alert("surge")
    return alerts


def apply_events(
    state: LeadState,
    events: Iterable[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None = None,
    max_age_days: int | None = DEDUPE_DAYS,
) -> Outcome:
    """Apply events to a copy of ``state``. Duplicates (by event id) change nothing.

    Live scoring refuses events older than the dedupe memory (``max_age_days``): they are kept in
    history for a rescore. A replay from history or a dry run passes ``None``.
    """
    now_s = epoch(now)
    now_day = now_s // DAY
    before = _current_card(state, rules, now, default_threshold)
    new = state.clone()
    outcome = Outcome(state=new, before=before, after=before)
    batch_seen: set[str] = set()
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        occurred = min(epoch(event.occurred_at), now_s)
        day = occurred // DAY
        digest = event_digest(event.event_id)
        if digest in batch_seen or digest in new.seen.get(str(day), ()):
            outcome.duplicates.append(event)
            continue
        if max_age_days is not None and day <= now_day - max_age_days:
            outcome.unscored.append(
                (event, f"older than {DEDUPE_DAYS} days: kept in history, rescore to count it")
            )
            continue
        batch_seen.add(digest)
        new.seen[str(day)] = [*new.seen.get(str(day), []), digest]
        outcome.accepted.append(event)
        new.events_total += 1
        _merge_profile(new, event)
        if event.type == "email_delivered" and event.properties.get("message_id") is not None:
            new.delivered[str(event.properties["message_id"])] = occurred
        why = bot_reason(event, rules, new)
        matched: list[str] = []
        if why is None:
            facts = event_facts(event)
            for rule in rules.match_activity(facts):
                matched.append(rule.id)
                days = new.counters.setdefault(rule.id, {})
                days[str(day)] = days.get(str(day), 0) + 1
                new.totals[rule.id] = new.totals.get(rule.id, 0) + 1
                new.last_seen[rule.id] = max(new.last_seen.get(rule.id, 0), occurred)
        else:
            outcome.unscored.append((event, why))
        if event.type not in ("identify", "email_delivered"):
            path = event.properties.get("path")
            new.recent.append(
                RecentActivity(
                    at=occurred,
                    type=event.type,
                    source=event.source,
                    name=event.name,
                    path=str(path) if path is not None else None,
                    rules=matched,
                    bot=why,
                )
            )
    new.recent = sorted(new.recent, key=lambda r: r.at)[-RECENT_ACTIVITIES:]
    if not outcome.accepted:
        return outcome
    new.ver = state.ver + 1
    new.created_at = state.created_at or now_s
    new.updated_at = now_s
    _prune(new, rules, now_day)
    after = evaluate(new, rules, now, default_threshold)
    stored = before.due_at
    if stored is not None and after.due_at is not None and now_s < stored < after.due_at:
        # Keep the earlier visit: the sweep then finds nothing to change and stores the later day.
        # Moving the ``due`` index key on every event would cost two index writes each time.
        after.due_at = stored
    outcome.after = after
    new.card = after
    outcome.alerts = _decide_alerts(new, rules, before, after, now_s)
    return outcome


def rebuild(
    state: LeadState,
    history: Sequence[CanonicalEvent],
    rules: CompiledRules,
    now: datetime,
    default_threshold: float | None = None,
) -> LeadState:
    """Recompute a lead from its whole history with the current rules (after a rules change, or to
    count events that arrived too late to score live). Never alerts; keeps what people recorded.

    Facts derived from events (profile, counters, dedupe memory, recent activity) are rebuilt;
    identity links, alert state, adjustments and outcomes are kept as they are.
    """
    fresh = LeadState(
        lead_id=state.lead_id,
        email=state.email,
        anonymous_ids=list(state.anonymous_ids),
        merged_into=state.merged_into,
        merged_from=list(state.merged_from),
        created_at=state.created_at,
        adjustments=list(state.adjustments),
        outcomes=list(state.outcomes),
    )
    new = apply_events(fresh, history, rules, now, default_threshold, max_age_days=None).state
    new.ver = state.ver + 1
    new.updated_at = epoch(now)
    new.card = evaluate(new, rules, now, default_threshold)
    new.outbox = dict(state.outbox)
    new.journal = list(state.journal)  # history is what was replayed: it does not change
    new.last_alert_at = dict(state.last_alert_at)
    new.armed = dict(state.armed)
    model = next(m for m in rules.models if m.name == new.card.model)
    if new.card.score < _rearm_level(model, new.card.threshold):
        new.armed["sales_ready"] = True
    return new


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
    counted are duplicates by id. Old anonymous events count too (a replay, not live traffic).
    """
    if anonymous_lead_id in state.merged_from:
        card = state.card or evaluate(state, rules, now, default_threshold)
        return Outcome(state=state, before=card, after=card)
    outcome = apply_events(state, events, rules, now, default_threshold, max_age_days=None)
    new = outcome.state
    if not outcome.changed:
        new.ver = state.ver + 1
        new.updated_at = epoch(now)
        new.card = outcome.after
    new.merged_from = [*new.merged_from, anonymous_lead_id]
    outcome.dirty = True
    return outcome


def rescore(
    state: LeadState, rules: CompiledRules, now: datetime, default_threshold: float | None
) -> LeadState | None:
    """Re-evaluate a lead with no new events (decay sweep, new rules). None if nothing changed."""
    card = evaluate(state, rules, now, default_threshold)
    if state.card is not None and _same(card, state.card):
        return None
    new = state.clone()
    new.ver = state.ver + 1
    new.updated_at = epoch(now)
    new.card = card
    _prune(new, rules, epoch(now) // DAY)
    model = next(m for m in rules.models if m.name == card.model)
    if card.score < _rearm_level(model, card.threshold):
        new.armed["sales_ready"] = True
    return new


def _same(a: ScoreCard, b: ScoreCard) -> bool:
    keys = ("score", "tier", "grade", "surge", "rules_version", "due_at", "disqualified")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def coalesce(events: Sequence[CanonicalEvent]) -> dict[str, list[CanonicalEvent]]:
    """Group a batch's events by lead, so each lead is written once per batch."""
    groups: dict[str, list[CanonicalEvent]] = defaultdict(list)
    for event in events:
        groups[event.lead_id].append(event)
    return groups
