"""Seeded traffic, lead histories and containers for the storage benchmark (no leadscore at import).

- :func:`population`: leads with a heavy-tailed lifetime number of events (P(n) ~ n^-2, 1..5,000:
  most leads have a handful, a few have thousands), each with its own email and profile;
- :func:`window`: a stretch of traffic at a fixed rate (Poisson arrivals); each event picks its lead
  with probability proportional to the lead's lifetime count, so a lead with 5,000 events of history
  is also the one that keeps sending; plus strangers' traffic (random emails on ``/track``, and
  malformed requests the front door answers 4xx) and 1 % provider redeliveries;
- :func:`burst`: many events on few leads (an email blast's opens and clicks, a crawler on a form);
- :func:`sqs_batches`: batches as the SQS event source forms them: up to ``batch_size`` records,
  closed when the batching window since its first record ends, dealt to containers in turn.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

PATHS = [
    "/pricing",
    "/pricing/enterprise",
    "/product/analytics",
    "/product/routing",
    "/customers/acme",
    "/docs/api",
    "/",
    "/careers",
    "/about",
    "/security",
    "/integrations/salesforce",
    "/integrations/hubspot",
] + [f"/blog/post-{i}" for i in range(60)]
TITLES = [
    "VP of Engineering",
    "Chief Financial Officer",
    "Director of Marketing",
    "Head of Sales Operations",
    "Marketing Manager",
    "Software Engineer",
    "Student",
    "Founder",
    "Account Executive",
    "Junior Analyst",
    "CTO",
    "Product Manager",
]
INDUSTRIES = [
    "Software",
    "Fintech",
    "Healthcare",
    "Retail",
    "Education",
    "Manufacturing",
    "SaaS",
    "Insurance",
]
COUNTRIES = ["US", "United Kingdom", "Germany", "India", "Brazil", "Canada", "France", "Australia"]
FORMS = ["Request a demo", "Download the ROI guide", "Webinar: scoring 101", "Contact sales", "Newsletter"]
PERSONAL = ["gmail.com", "outlook.com", "yahoo.com"]
MAX_HISTORY = 5_000


@dataclass
class Lead:
    n: int  # lifetime events (its history before the window, and its weight in the traffic)
    email: str
    profile: dict[str, Any]


@dataclass
class Event:
    at: float  # simulated seconds from the window's start
    lead: int  # index in the population; -1 for a stranger
    body: str  # the queue message (CanonicalEvent JSON)
    request: int  # the ingest request it arrived in


@dataclass
class Traffic:
    events: list[Event]
    requests: int  # HTTP requests the front door answered (including rejected ones)
    rejected_requests: int  # malformed: answered 4xx by ingest, nothing queued
    send_batches: int  # SendMessageBatch calls ingest made (<= 10 events per call, per request)
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


def lifetime_events(rng: random.Random) -> int:
    """A discrete power law P(n) ~ n^-2 on 1..MAX_HISTORY (inverse transform of a Pareto(1))."""
    return min(MAX_HISTORY, int(1.0 / (1.0 - rng.random())))


def population(n: int, seed: int) -> list[Lead]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        roll = rng.random()
        domain = rng.choice(PERSONAL) if roll < 0.25 else f"company{rng.randint(1, 20_000)}.com"
        profile: dict[str, Any] = {
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "job_title": rng.choice(TITLES),
            "company": f"Company {i % 20_000}",
            "company_size": float(rng.choice([5, 40, 150, 800, 3000, 12000])),
            "industry": rng.choice(INDUSTRIES),
            "country": rng.choice(COUNTRIES),
        }
        out.append(Lead(lifetime_events(rng), f"person{i}@{domain}", profile))
    return out


def iso(epoch_s: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


class Bodies:
    """Queue messages in the scorer's format, each with a fresh event id."""

    def __init__(self, rng: random.Random, epoch0: float) -> None:
        self.rng = rng
        self.epoch0 = epoch0
        self.serial = 0

    def make(
        self, email: str, at: float, profile: dict[str, Any] | None = None, kind: str | None = None
    ) -> str:
        rng = self.rng
        self.serial += 1
        roll = rng.random() if kind is None else -1.0
        name: str | None = None
        props: dict[str, Any] = {}
        source = "segment"
        if kind is None:
            if roll < 0.62:
                kind = "page_view"
            elif roll < 0.80:
                kind = "email_open"
            elif roll < 0.88:
                kind = "email_click"
            elif roll < 0.93:
                kind = "email_delivered"
            elif roll < 0.97:
                kind = "track"
            else:
                kind = "form_submit"
        if kind == "page_view":
            path = rng.choice(PATHS)
            props = {"path": path + (f"?utm_campaign=c{rng.randint(1, 500)}" if rng.random() < 0.3 else "")}
        elif kind.startswith("email_"):
            source = "sendgrid"
            props = {"message_id": f"msg-{rng.randint(1, 10**9)}", "campaign": f"c{rng.randint(1, 300)}"}
            if kind == "email_click":
                props["url"] = "https://example.com" + rng.choice(PATHS)
        elif kind == "track":
            name = rng.choice(["Trial Started", "Demo Requested", "Viewed Integrations"])
        elif kind == "form_submit":
            source = "forms"
            name = rng.choice(FORMS)
        when = iso(self.epoch0 + at)
        body: dict[str, Any] = {
            "schema_version": 1,
            "event_id": f"{source}:{self.serial:010d}:{rng.getrandbits(32):08x}",
            "source": source,
            "type": kind,
            "name": name,
            "occurred_at": when,
            "received_at": when,
            "identity": {"email": email, "anonymous_id": None},
            "profile": profile if kind == "form_submit" else None,
            "properties": props,
            "bot": None,
        }
        return json.dumps(body, separators=(",", ":"))


def _requests(events: list[Event], rng: random.Random, first: int) -> tuple[int, int]:
    """Group email events into provider webhook requests (up to 50 each, in arrival order); every
    other event is its own request. Returns (requests, SendMessageBatch calls)."""
    request = first
    open_email: list[Event] = []
    sends = 0
    for e in events:
        if '"source":"sendgrid"' in e.body:
            if not open_email or len(open_email) >= rng.randint(1, 50):
                if open_email:
                    sends += math.ceil(len(open_email) / 10)
                request += 1
                open_email = []
            open_email.append(e)
            e.request = request
        else:
            request += 1
            e.request = request
            sends += 1
    if open_email:
        sends += math.ceil(len(open_email) / 10)
    return request - first, sends


def window(
    leads: list[Lead],
    total: int,
    rate: float,
    seed: int,
    epoch0: float,
    strangers: float = 0.08,
    malformed: float = 0.02,
    redeliveries: float = 0.01,
) -> Traffic:
    """``total`` queued events at ``rate`` per second, drawn as described in the module docstring."""
    rng = random.Random(seed)
    bodies = Bodies(rng, epoch0)
    cum: list[float] = []
    acc = 0.0
    for lead in leads:
        acc += lead.n
        cum.append(acc)
    picks = rng.choices(range(len(leads)), cum_weights=cum, k=total)
    t = 0.0
    events: list[Event] = []
    for i in range(total):
        t += rng.expovariate(rate)
        if rng.random() < strangers:  # /track for a random email: a new lead, never seen again
            email = f"x{rng.getrandbits(48):012x}@{rng.choice([*PERSONAL, 'mailinator.com', 'example.org'])}"
            events.append(Event(t, -1, bodies.make(email, t, kind="page_view"), 0))
            continue
        lead = leads[picks[i]]
        events.append(Event(t, picks[i], bodies.make(lead.email, t, lead.profile), 0))
    for i in rng.sample(range(len(events) - 200), k=int(len(events) * redeliveries)):
        later = events[i + rng.randint(1, 199)]  # the same message again, a little later
        events.append(Event(later.at, events[i].lead, events[i].body, 0))
    events.sort(key=lambda e: e.at)
    requests, sends = _requests(events, rng, 0)
    rejected = int(requests * malformed / (1 - malformed))
    return Traffic(events, requests + rejected, rejected, sends, t)


def burst(leads: list[Lead], n_leads: int, total: int, rate: float, seed: int, epoch0: float) -> Traffic:
    """``total`` events on ``n_leads`` leads at ``rate`` per second: opens, clicks and page views."""
    rng = random.Random(seed)
    bodies = Bodies(rng, epoch0)
    chosen = rng.sample(range(len(leads)), k=n_leads)
    t = 0.0
    events = []
    for _ in range(total):
        t += rng.expovariate(rate)
        i = rng.choice(chosen)
        kind = rng.choice(["email_open", "email_click", "page_view"])
        events.append(Event(t, i, bodies.make(leads[i].email, t, kind=kind), 0))
    requests, sends = _requests(events, rng, 0)
    return Traffic(events, requests, 0, sends, t, {"leads": chosen})


@dataclass
class Batch:
    closes_at: float  # simulated time the event source invokes the function with it
    container: int
    events: list[Event]


def sqs_batches(events: list[Event], batch_size: int, window_s: float, containers: int) -> list[Batch]:
    """Batches as the SQS event source forms them (size or window, whichever first), each given to
    the container that has waited longest (round robin: every container starts cold)."""
    out: list[Batch] = []
    current: list[Event] = []
    for e in events:
        if current and (len(current) >= batch_size or e.at - current[0].at >= window_s):
            out.append(Batch(min(current[-1].at, current[0].at + window_s), len(out) % containers, current))
            current = []
        current.append(e)
    if current:
        out.append(
            Batch(
                current[0].at + window_s if len(current) < batch_size else current[-1].at,
                len(out) % containers,
                current,
            )
        )
    return out


def history(
    email: str, n: int, end_epoch: float, days: float, seed: int, profile: dict[str, Any]
) -> list[tuple[float, str]]:
    """``n`` events of one lead spread over ``days`` before ``end_epoch`` (epoch seconds, body)."""
    rng = random.Random(seed)
    bodies = Bodies(rng, 0.0)
    times = sorted(end_epoch - rng.uniform(0, days * 86_400) for _ in range(n))
    return [(at, bodies.make(email, at, profile)) for at in times]
