"""A realistic mixed event stream: power-law over leads, with email-blast bursts.

Pure data (no leadscore import): each event is the JSON a queue message carries (``CanonicalEvent``'s
``model_dump_json()`` shape), plus which ingest request it arrived in (for the SQS send count).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1,001-5,000", "10000+"]
PATHS = (
    ["/pricing"] * 3
    + ["/blog/what-is-lead-scoring", "/blog/b2b-funnels", "/blog/intent-data"] * 3
    + ["/product/analytics", "/product/routing", "/customers/acme", "/docs/api", "/", "/careers"]
)
FORMS = ["Request a demo", "Download the ROI guide", "Webinar: scoring 101", "Contact sales", "Newsletter"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com"] + [f"company{i}.com" for i in range(400)]


@dataclass
class Event:
    body: str  # the SQS message body
    lead: int
    request: int  # ingest request id (SendMessageBatch grouping)


def _email(lead: int, rng: random.Random) -> str:
    domain = DOMAINS[lead % len(DOMAINS)]
    return f"user{lead}@{domain}"


def _profile(lead: int) -> dict[str, Any]:
    r = random.Random(lead)
    return {
        "first_name": f"First{lead}",
        "last_name": f"Last{lead}",
        "job_title": r.choice(TITLES),
        "company": f"Company {lead}",
        "company_size": float(
            {"1-10": 1, "11-50": 11, "51-200": 51, "201-500": 201}.get(r.choice(SIZES), 1001)
        ),
        "industry": r.choice(INDUSTRIES),
        "country": r.choice(COUNTRIES),
    }


class _Builder:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.events: list[tuple[float, Event]] = []
        self.serial = 0
        self.request = 0

    def add(
        self,
        lead: int,
        kind: str,
        at: float,
        *,
        source: str,
        name: str | None = None,
        properties: dict[str, Any] | None = None,
        profile: bool = False,
        request: int | None = None,
        event_id: str | None = None,
    ) -> None:
        self.serial += 1
        if request is None:
            self.request += 1
            request = self.request
        occurred = self.now - timedelta(seconds=at)
        body: dict[str, Any] = {
            "schema_version": 1,
            "event_id": event_id or f"{source}:{self.serial:08d}",
            "source": source,
            "type": kind,
            "name": name,
            "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
            "received_at": occurred.isoformat().replace("+00:00", "Z"),
            "identity": {"email": _email(lead, self.rng), "anonymous_id": None},
            "profile": _profile(lead) if profile else None,
            "properties": properties or {},
            "bot": None,
        }
        self.events.append((at, Event(json.dumps(body, separators=(",", ":")), lead, request)))

    def stream(self) -> list[Event]:
        # Oldest first (largest age first), as the queue would deliver them.
        return [e for _, e in sorted(self.events, key=lambda p: -p[0])]


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1.0 / (k**s) for k in range(1, n + 1)]


def mixed(
    total: int = 10_000, *, leads: int = 3_000, seed: int = 7, now: datetime | None = None
) -> list[Event]:
    """``total`` events: ~70 % organic (Zipf s=1.1 over ``leads``), ~30 % email-blast bursts."""
    now = now or datetime.now(UTC)
    b = _Builder(seed, now)
    rng = b.rng
    span = 3 * 86_400.0  # the stream covers the last three days
    weights = _zipf_weights(leads, 1.1)
    organic = int(total * 0.7)
    picks = rng.choices(range(leads), weights=weights, k=organic)
    for lead in picks:
        at = rng.uniform(60, span)
        roll = rng.random()
        if roll < 0.08:
            b.add(lead, "form_submit", at, source="forms", name=rng.choice(FORMS), profile=True)
        elif roll < 0.12:
            b.add(lead, "track", at, source="segment", name=rng.choice(["Trial Started", "Demo Requested"]))
        else:
            b.add(lead, "page_view", at, source="segment", properties={"path": rng.choice(PATHS)})
    _blasts(b, total - organic, leads, span)
    events = b.stream()[:total]
    # ~1 % provider retries: the same event id delivered again a little later.
    for i in rng.sample(range(len(events) - 1), k=len(events) // 100):
        events[i + 1] = Event(events[i].body, events[i].lead, events[i + 1].request)
    return events


def _blasts(b: _Builder, budget: int, leads: int, span: float) -> None:
    """Email campaigns: delivered, then (for engaged leads) several opens and clicks within minutes.

    SendGrid posts its events in batches: each webhook request carries up to 50 events.
    """
    rng = b.rng
    campaign = 0
    while budget > 0:
        campaign += 1
        start = rng.uniform(600, span)
        audience = rng.sample(range(leads), k=min(leads, 150))
        request, in_request = b.request + 1, 0
        b.request += 1
        for lead in audience:
            if budget <= 0:
                break
            message = f"msg-{campaign}-{lead}"
            props = {"message_id": message, "campaign": f"c{campaign}"}
            engaged = rng.random() < 0.35
            steps = [("email_delivered", 0.0)]
            if engaged:
                steps += [("email_open", 60.0 * k + rng.uniform(0, 50)) for k in range(1, rng.randint(2, 5))]
                steps += [("email_click", 300.0 + 60 * k) for k in range(rng.randint(1, 3))]
            for kind, offset in steps:
                if budget <= 0:
                    break
                if in_request == 50:
                    b.request += 1
                    request, in_request = b.request, 0
                extra = {"url": "https://example.com/pricing"} if kind == "email_click" else {}
                b.add(
                    lead,
                    kind,
                    max(1.0, start - offset),
                    source="sendgrid",
                    properties={**props, **extra},
                    request=request,
                )
                in_request += 1
                budget -= 1


def bursts(
    total: int = 2_000, *, leads: int = 400, seed: int = 11, now: datetime | None = None
) -> list[Event]:
    """Only email blasts: each engaged lead opens and clicks several times within minutes."""
    now = now or datetime.now(UTC)
    b = _Builder(seed, now)
    _blasts(b, total, leads, 6 * 3600.0)
    return b.stream()[:total]


def ingest_requests(events: list[Event]) -> int:
    """SendMessageBatch calls ingest makes: per HTTP request, one call per 10 events."""
    per_request: dict[int, int] = {}
    for e in events:
        per_request[e.request] = per_request.get(e.request, 0) + 1
    return sum(-(-n // 10) for n in per_request.values())


def batches(events: list[Event], size: int = 100) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]
