"""Rescoring a lead from its history: after a rules change, and for events too old to score live."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from leadscore.dal.leads import LeadRepository

from tests.support import ROOT, Stack, example_rules_json, explained_card, pinned_clock_at
from tools.cli import main

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
EMAIL = "re@northwind.io"


pinned_clock = pinned_clock_at(NOW)


def form(stack: Stack, sid: str, **fields: Any) -> None:
    body = json.dumps({"email": EMAIL, "submission_id": sid, **fields})
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202


def test_rescore_applies_new_rules_to_the_whole_history_without_alerting(
    stack: Stack, tmp_path: Path
) -> None:
    stack.upload_rules(example_rules_json())
    form(stack, "f1", job_title="CTO", industry="Software", company_size=800, country="US")
    form(stack, "f2", form="Request a demo")
    form(stack, "f3", form="Download the guide", timestamp="2026-09-01T12:00:00Z")  # too old to score live
    stack.drain()
    table = stack.env("ScorerFunction")["LEADS_TABLE"]
    repo = LeadRepository(table)
    before = repo.get_by_email(EMAIL)
    assert before.card.score == 100 and len(stack.inbox()) == 1
    old = [n for e, n in repo.history(before.lead_id) if n]
    assert old and "days late" in old[0]

    doc = yaml.safe_load((ROOT / "rules" / "example.yaml").read_text())
    for rule in doc["models"]["lead"]["activity"]:
        if rule["id"] == "demo-request":
            rule["points"] = 60  # marketing decided demo requests are worth more
    new_rules = tmp_path / "rules.yaml"
    new_rules.write_text(yaml.safe_dump(doc))

    assert (
        main(["leads", "rescore", EMAIL, "--table", table, "--rules", str(new_rules), "--threshold", "100"])
        == 0
    )
    after = repo.get_by_email(EMAIL)
    by_rule = {c.rule: c for c in explained_card(after, new_rules).contributions}
    assert by_rule["demo-request"].points == 60
    assert "content-download" in by_rule  # the late event counts now
    assert after.events_total == 3
    assert after.ver == before.ver + 1
    assert after.card.rules_version != before.card.rules_version
    assert after.outbox.keys() == before.outbox.keys()  # same alerts: a rescore never alerts
    stack.drain()
    assert stack.inbox() == []


def test_rescore_of_an_unknown_lead_says_so(stack: Stack) -> None:
    table = stack.env("ScorerFunction")["LEADS_TABLE"]
    code = main(
        ["leads", "rescore", "nobody@x.io", "--table", table, "--rules", str(ROOT / "rules" / "example.yaml")]
    )
    assert code == 1
