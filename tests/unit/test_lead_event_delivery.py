"""Delivering lead events (leadscore.services.lead_events) against fakes: requests of at most 10
entries, each entry marked from its own result, passing failures backing off, refusals failing alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadscore.dal.eventbus import PublishFailed, PublishRefused, Result
from leadscore.dal.outbox import DueKey, Finished
from leadscore.scoring.state import EventEntry, LeadState
from leadscore.services.delivery import MAX_ATTEMPTS
from leadscore.services.lead_events import deliver_events

LEAD = "b" * 32


class FakeOutbox:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.leased: set[str] = set()

    def claim(self, lead_id: str, alert_id: str, now: int) -> str | None:
        if alert_id in self.leased:
            return None
        self.calls.append(("claim", alert_id))
        return f"tok-{alert_id}"

    def mark_sent(
        self, lead_id: str, alert_id: str, token: str, now: int, due: DueKey | None = None
    ) -> Finished:
        self.calls.append(("sent", alert_id))
        return "recorded"

    def back_off(
        self,
        lead_id: str,
        alert_id: str,
        token: str,
        attempts: int,
        next_attempt_at: int,
        due: DueKey | None = None,
    ) -> Finished:
        self.calls.append(("back_off", alert_id))
        return "recorded"

    def fail(
        self, lead_id: str, alert_id: str, token: str, reason: str, due: DueKey | None = None
    ) -> Finished:
        self.calls.append((f"fail:{reason}", alert_id))
        return "recorded"


class FakeBus:
    name = "bus"

    def __init__(self, answers: dict[str, Result] | None = None, down: Exception | None = None) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.answers = answers or {}
        self.down = down

    def put(self, entries: Sequence[dict[str, Any]]) -> list[Result]:
        self.requests.append(list(entries))
        if self.down is not None:
            raise self.down
        import json

        return [self.answers.get(json.loads(e["Detail"])["id"].split("/")[1]) for e in entries]


def state(n: int, attempts: int = 0) -> LeadState:
    events = {
        f"ev.tier-{v}": EventEntry(id=f"ev.tier-{v}", kind="tier", created_at=100 + v, attempts=attempts)
        for v in range(n)
    }
    return LeadState(lead_id=LEAD, email="x@example.com", ver=n, events=events)


def test_claimed_events_go_out_ten_per_request_and_each_is_marked_sent() -> None:
    outbox, bus = FakeOutbox(), FakeBus()
    report = deliver_events(state(12), outbox, bus, lambda: 1000)
    assert [len(r) for r in bus.requests] == [10, 2]
    assert len(report.sent) == 12 and [c for c, _ in outbox.calls].count("sent") == 12
    assert {r["EventBusName"] for rs in bus.requests for r in rs} == {"bus"}


def test_each_entry_is_marked_from_its_own_result() -> None:
    outbox = FakeOutbox()
    bus = FakeBus(
        {"ev.tier-1": PublishRefused("MalformedDetail"), "ev.tier-2": PublishFailed("ThrottlingException")}
    )
    report = deliver_events(state(4), outbox, bus, lambda: 1000)
    assert sorted(report.sent) == ["ev.tier-0", "ev.tier-3"]
    assert report.failed == {"ev.tier-1": "refused by EventBridge: MalformedDetail"}
    assert report.backing_off == ["ev.tier-2"]
    assert ("back_off", "ev.tier-2") in outbox.calls


def test_an_outage_backs_every_entry_off_and_the_last_attempt_fails_with_its_reason() -> None:
    outbox = FakeOutbox()
    report = deliver_events(state(3), outbox, FakeBus(down=PublishFailed("InternalException")), lambda: 1000)
    assert sorted(report.backing_off) == ["ev.tier-0", "ev.tier-1", "ev.tier-2"] and not report.sent
    last = deliver_events(
        state(1, attempts=MAX_ATTEMPTS - 1), FakeOutbox(), FakeBus(down=PublishFailed("X")), lambda: 10**9
    )
    assert last.failed == {"ev.tier-0": f"gave up after {MAX_ATTEMPTS} attempts (last: X)"}


def test_leased_or_backing_off_events_are_skipped() -> None:
    outbox = FakeOutbox()
    outbox.leased.add("ev.tier-0")
    s = state(2)
    s.events["ev.tier-1"] = s.events["ev.tier-1"].model_copy(update={"next_attempt_at": 5000})
    report = deliver_events(s, outbox, FakeBus(), lambda: 1000)
    assert report.skipped == 2 and report.sent == []
