"""Hostile input through the whole stack (moto): alerts SNS accepts, and the ones it never would.

- A form whose first_name carries a header injection ("Dana\\r\\nBcc: x@evil.test") crosses the
  threshold: exactly one alert is delivered, its Subject printable ASCII without control characters.
- A request SNS can never accept (too large for SNS, caught by ``publish_problems`` before
  publishing; or refused by SNS itself) is recorded failed after ONE attempt, with a reason free of
  PII; later writes of the lead (stream records) and sweeps never publish it again; ``AlertFailed``
  is counted.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository
from leadscore.dal.topic import PublishRefused, Topic

from tests.support import Stack, example_rules_json, pinned_clock_at, run_sweep

SAMPLE_TIME = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
PROFILE = {"job_title": "CTO", "company": "Acme", "company_size": 800, "industry": "Fintech", "country": "US"}


pinned_clock = pinned_clock_at(SAMPLE_TIME)


def _form(stack: Stack, email: str, sid: str, **fields: Any) -> None:
    body = json.dumps({"email": email, "submission_id": sid, **fields})
    response = stack.call_http("POST", "/forms", body, {"content-type": "application/json"})
    assert response["statusCode"] == 202, response


def _lead(stack: Stack, email: str) -> Any:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(email)


@pytest.fixture
def publishes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every request the stack hands to SNS (then published as usual)."""
    calls: list[dict[str, Any]] = []
    original = Topic.publish

    def counted(self: Topic, request: dict[str, Any]) -> str:
        calls.append(request)
        return original(self, request)

    monkeypatch.setattr(Topic, "publish", counted)
    return calls


def test_a_header_injection_in_the_name_delivers_one_alert_with_a_clean_subject(
    stack: Stack, publishes: list[dict[str, Any]]
) -> None:
    stack.upload_rules(example_rules_json())
    _form(
        stack,
        "dana@northwind.io",
        "d1",
        form="Request a demo",
        first_name="Dana\r\nBcc: x@evil.test",
        **PROFILE,
    )
    stack.drain()
    (note,) = stack.inbox()
    assert len(publishes) == 1
    title = note["Subject"]
    assert title.isascii() and title.isprintable() and len(title) < 100
    assert "\r" not in title and "\n" not in title
    assert title.startswith("Sales-ready lead: Dana Bcc: x@evil.test (Acme) - ")
    alert = json.loads(note["Message"])
    assert alert["lead"]["name"] == "Dana Bcc: x@evil.test"
    assert all(line.isprintable() for line in alert["text"].splitlines())


@pytest.mark.parametrize("how", ["too_large", "refused_by_sns"])
def test_a_request_sns_never_accepts_fails_once_and_is_never_retried(
    stack: Stack,
    publishes: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    import leadscore.services.delivery as delivery

    caplog.set_level(logging.INFO, logger="leadscore")
    if how == "too_large":
        from leadscore.alerts import sns_message as render

        def oversized(*args: Any) -> dict[str, Any]:
            request = render(*args)
            return {**request, "Message": json.dumps({"default": "x" * 262_144})}

        monkeypatch.setattr(delivery, "sns_message", oversized)
        expected_publishes, reason = 0, "message_too_large"
    else:

        def refuse(self: Topic, request: dict[str, Any]) -> str:
            publishes.append(request)
            raise PublishRefused("InvalidParameter")

        monkeypatch.setattr(Topic, "publish", refuse)
        expected_publishes, reason = 1, "refused by SNS: InvalidParameter"

    stack.upload_rules(example_rules_json())
    _form(stack, "ivy@northwind.io", "i1", form="Request a demo", first_name="Ivy", **PROFILE)
    stack.drain()
    state = _lead(stack, "ivy@northwind.io")
    (alert,) = state.outbox.values()
    assert (alert.status, alert.error) == ("failed", reason)  # at the first attempt, no backoff
    assert state.pending_alerts == []
    assert len(publishes) == expected_publishes
    out = capsys.readouterr().out  # the metrics (EMF)
    assert '"AlertFailed"' in out
    failed_logs = [r for r in caplog.records if r.getMessage() == "alert failed for good"]
    assert [getattr(r, "reason", None) for r in failed_logs] == [reason]
    assert "ivy" not in reason.lower() and "@" not in reason

    # Later writes of the lead (stream records) and sweeps never try it again.
    _form(stack, "ivy@northwind.io", "i2", form="Webinar signup")
    stack.drain()
    for hours in (1, 6):
        clock.pin(SAMPLE_TIME + timedelta(hours=hours))
        run_sweep(stack)
    assert len(publishes) == expected_publishes
    assert stack.inbox() == []
    assert '"AlertFailed"' not in capsys.readouterr().out  # counted once
