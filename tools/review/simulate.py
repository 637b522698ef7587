"""A seeded B2B funnel with a known truth, in the shape the review reads from a real table.

Each simulated lead is what the leads table holds for it: a :class:`LeadState` (email, first seen,
sales outcomes recorded through ``POST /leads/{lead}/outcome``) and its history of canonical events
(an ``identify`` with the firmographics, then page views, forms, trials and email engagement). The
review replays that history through the same engine the scorer runs, so the same code path is
exercised as on a stack.

The hidden truth is a logistic propensity of what the lead did up to its decision point (``AS_OF``
after it was first seen). It differs from the hand rules (``rules/example.yaml``) in known ways,
listed in :data:`TRUTH` and checked by the recovery tests:

- manufacturing converts well, but the hand rules do not list it as a target industry;
- enterprise companies (over 5,000 people) convert *worse* than mid-market; the hand rules add 10;
- blog reads and email opens do not predict at all (the hand rules add points for them);
- webinars barely predict (hand: +10 each), case studies predict more than their +4;
- pricing views, demos and trials predict, as the hand rules say.

Converted leads also get activity *after* their decision point (more pricing views, a "Contract
Signed" event): a review that leaks events from after the decision would look better than the truth,
which the recovery tests would catch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.state import LeadState, SalesOutcome

DAY = 86_400
AS_OF_DAYS = 14  # the review's default decision point: two weeks after a lead is first seen
HORIZON_DAYS = 90
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday

# The hidden truth: log-odds per unit of each simulated fact (counts are of events up to the decision).
TRUTH: dict[str, float] = {
    "base": -3.4,
    "title_executive": 0.9,
    "title_director": 0.6,
    "title_manager": 0.2,
    "title_junior": -1.0,
    "industry_target": 0.5,
    "industry_manufacturing": 1.1,  # hand rules: 0 (not a target industry)
    "industry_unrelated": -0.8,
    "size_sweet_spot": 0.5,
    "size_enterprise": -0.4,  # hand rules: +10
    "size_small": -0.8,
    "country_outside": -0.8,
    "email_personal": -0.9,
    "pricing_view": 0.55,  # per view, at most 3 counted
    "demo_request": 1.6,
    "trial_signup": 1.2,
    "case_study_view": 0.45,  # hand rules: +4
    "webinar": 0.1,  # hand rules: +10
    "blog_view": 0.0,  # hand rules: +1 each
    "email_open": 0.0,  # hand rules: +1 each
    "email_click": 0.15,
    "careers_view": -1.0,
}
# Where the truth differs from the hand rules: the facts the learned weights should move.
TRUTH_DIFFERS = ("industry_manufacturing", "size_enterprise", "blog_view", "email_open", "webinar")

_TITLES = [
    ("CEO", "title_executive", 0.05),
    ("VP of Sales", "title_executive", 0.07),
    ("Chief Revenue Officer", "title_executive", 0.03),
    ("Director of Marketing", "title_director", 0.12),
    ("Head of Growth", "title_director", 0.06),
    ("Marketing Manager", "title_manager", 0.2),
    ("Sales Operations Manager", "title_manager", 0.1),
    ("Marketing Intern", "title_junior", 0.07),
    ("Sales Assistant", "title_junior", 0.05),
    ("Account Executive", None, 0.15),
    ("Analyst", None, 0.1),
]
_INDUSTRIES = [
    ("software", "industry_target", 0.25),
    ("fintech", "industry_target", 0.1),
    ("healthcare", "industry_target", 0.1),
    ("manufacturing", "industry_manufacturing", 0.15),
    ("logistics", None, 0.1),
    ("media", None, 0.1),
    ("education", "industry_unrelated", 0.1),
    ("retail", "industry_unrelated", 0.1),
]
_COUNTRIES = [("US", 0.45), ("United Kingdom", 0.12), ("Germany", 0.1), ("Canada", 0.06), ("Brazil", 0.1)]
_COUNTRIES += [("India", 0.12), ("Australia", 0.05)]
_SERVED = {"US", "United Kingdom", "Germany", "Canada"}
# (fact, base rate per lead over 3 weeks, how much intent raises it)
_ACTIVITY = [
    ("pricing_view", 0.5, 3.0),
    ("demo_request", 0.04, 6.0),
    ("trial_signup", 0.06, 4.0),
    ("case_study_view", 0.3, 2.0),
    ("webinar", 0.25, 0.5),
    ("blog_view", 1.5, 0.3),
    ("email_open", 2.0, 0.2),
    ("email_click", 0.4, 0.8),
    ("careers_view", 0.12, -0.5),
]


def _pick(rng: random.Random, table: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    weights = [row[-1] for row in table]
    return rng.choices(table, weights=weights)[0]


@dataclass(slots=True)
class SimulatedLead:
    """One lead as the table holds it, plus what only the simulator knows."""

    state: LeadState
    history: list[CanonicalEvent]
    truth: float  # the hidden probability of converting within the horizon of the decision point
    decision_at: int  # epoch seconds: first seen + AS_OF_DAYS


def _event(
    email: str, n: int, kind: str, at: datetime, name: str | None = None, **props: Any
) -> CanonicalEvent:
    return CanonicalEvent.model_validate(
        {
            "event_id": f"sim:{email}:{n}",
            "source": "sim",
            "type": kind,
            "name": name,
            "occurred_at": at,
            "identity": {"email": email},
            "properties": props,
        }
    )


def _activity_event(email: str, n: int, fact: str, at: datetime, rng: random.Random) -> CanonicalEvent:
    if fact == "pricing_view":
        return _event(email, n, "page_view", at, path="/pricing")
    if fact == "demo_request":
        return _event(email, n, "form_submit", at, "Request a demo")
    if fact == "trial_signup":
        return _event(email, n, "track", at, "Trial Started")
    if fact == "case_study_view":
        return _event(email, n, "page_view", at, path=f"/customers/story-{rng.randint(1, 9)}")
    if fact == "webinar":
        return _event(email, n, "form_submit", at, "Webinar registration")
    if fact == "blog_view":
        return _event(email, n, "page_view", at, path=f"/blog/post-{rng.randint(1, 99)}")
    if fact == "email_open":
        return _event(email, n, "email_open", at, message_id=f"m{n}")
    if fact == "email_click":
        return _event(email, n, "email_click", at, message_id=f"m{n}")
    return _event(email, n, "page_view", at, path="/careers")


def simulate(
    seed: int,
    leads: int = 5_000,
    weeks: int = 52,
    start: datetime = START,
    as_of_days: int = AS_OF_DAYS,
    horizon_days: int = HORIZON_DAYS,
) -> Iterator[SimulatedLead]:
    """``leads`` leads first seen uniformly over ``weeks`` weeks from ``start``, in arrival order.
    Deterministic for a seed. Streams: one lead at a time."""
    rng = random.Random(seed)
    start_s = int(start.timestamp())
    span = weeks * 7 * DAY
    arrivals = sorted(rng.randrange(span) for _ in range(leads)) if leads <= 200_000 else None
    for i in range(leads):
        offset = arrivals[i] if arrivals is not None else (i * span) // leads + rng.randrange(DAY)
        yield _lead(rng, seed, i, start_s + offset, as_of_days, horizon_days)


def now_for(weeks: int = 52, start: datetime = START, horizon_days: int = HORIZON_DAYS) -> datetime:
    """A review time at which every simulated lead's horizon has passed."""
    return start + timedelta(days=weeks * 7 + AS_OF_DAYS + horizon_days + 1)


def _lead(
    rng: random.Random, seed: int, i: int, first_s: int, as_of_days: int, horizon_days: int
) -> SimulatedLead:
    facts: dict[str, float] = {}
    title, title_fact, _ = _pick(rng, _TITLES)
    industry, industry_fact, _ = _pick(rng, _INDUSTRIES)
    country, _ = _pick(rng, _COUNTRIES)
    size = int(math.exp(rng.uniform(math.log(5), math.log(50_000))))
    personal = rng.random() < 0.2
    for fact in (title_fact, industry_fact):
        if fact:
            facts[fact] = 1.0
    if 200 <= size <= 5000:
        facts["size_sweet_spot"] = 1.0
    elif size > 5000:
        facts["size_enterprise"] = 1.0
    elif size < 20:
        facts["size_small"] = 1.0
    if country not in _SERVED:
        facts["country_outside"] = 1.0
    if personal:
        facts["email_personal"] = 1.0
    domain = "gmail.com" if personal else f"co{seed}-{i}.example.com"
    email = f"lead{i}@{domain}"
    first = datetime.fromtimestamp(first_s, UTC)
    decision_s = first_s + as_of_days * DAY
    profile = {
        "first_name": f"Lead{i}",
        "job_title": title,
        "company": f"Company {i}",
        "company_size": size,
        "industry": industry,
        "country": country,
    }
    history = [
        CanonicalEvent.model_validate(
            {
                "event_id": f"sim:{email}:0",
                "source": "sim",
                "type": "identify",
                "occurred_at": first,
                "identity": {"email": email},
                "profile": profile,
            }
        )
    ]
    engagement = rng.gammavariate(1.2, 1.0)
    intent = rng.random() < 0.15
    n = 1
    counts: dict[str, int] = {}
    for fact, rate, lift in _ACTIVITY:
        mean = rate * engagement * (1 + (lift if intent else 0.0))
        count = _poisson(rng, max(mean, 0.0))
        # events spread over the first three weeks: some fall after the decision point (not counted)
        for _ in range(count):
            at_s = first_s + 60 + rng.randrange(21 * DAY)
            if at_s <= decision_s:
                counts[fact] = counts.get(fact, 0) + 1
            history.append(_activity_event(email, n, fact, datetime.fromtimestamp(at_s, UTC), rng))
            n += 1
    for fact, count in counts.items():
        facts[fact] = float(min(count, 3) if fact == "pricing_view" else count)
    logit = TRUTH["base"] + sum(TRUTH[f] * v for f, v in facts.items())
    p = 1 / (1 + math.exp(-logit))
    converted = rng.random() < p
    outcomes: list[SalesOutcome] = []
    if converted:
        at_s = decision_s + rng.randrange(DAY, (horizon_days - 1) * DAY)
        outcomes.append(
            SalesOutcome(status="converted", amount=rng.randrange(5, 80) * 1000.0, by="sim", at=at_s)
        )
        # the leak bait: what converting leads do after the decision point
        for k in range(3):
            when = datetime.fromtimestamp(decision_s + (k + 1) * 3600, UTC)
            history.append(_event(email, n, "page_view", when, path="/pricing"))
            n += 1
        history.append(
            _event(email, n, "form_submit", datetime.fromtimestamp(at_s - DAY, UTC), "Contact sales")
        )
    elif rng.random() < 0.6:
        at_s = decision_s + rng.randrange(5 * DAY, 120 * DAY)
        outcomes.append(SalesOutcome(status="lost", by="sim", at=at_s, note="no budget"))
    state = LeadState(
        lead_id=lead_id_for_email(email),
        email=email,
        created_at=first_s,
        updated_at=first_s,
        outcomes=outcomes,
    )
    return SimulatedLead(state=state, history=history, truth=p, decision_at=decision_s)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
