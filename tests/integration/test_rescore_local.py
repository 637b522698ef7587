"""`leadscore leads rescore --local`: the same rebuild as `--table`, against `make serve`'s stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from leadscore.dal.leads import LeadRepository

from tests.support import RULES_EXAMPLE_YAML, Stack, example_rules_json, explained_card, serving
from tools.cli import main

EMAIL = "ana@acme-fintech.com"


def form(stack: Stack, sid: str, **fields: Any) -> None:
    body = json.dumps({"email": EMAIL, "submission_id": sid, **fields})
    assert stack.call_http("POST", "/forms", body, {"content-type": "application/json"})["statusCode"] == 202


@pytest.fixture
def served(stack: Stack) -> Iterator[str]:
    """The `make serve` HTTP server (tools.local.stack) in front of this test's in-process stack."""
    stack.upload_rules(example_rules_json())
    form(stack, "f1", job_title="CTO", industry="Software", company_size=800, country="US")
    form(stack, "f2", form="Request a demo")
    stack.drain()
    with serving(stack) as base:
        yield base


def _heavier_demo(tmp_path: Path) -> Path:
    doc = yaml.safe_load(RULES_EXAMPLE_YAML.read_text())
    for rule in doc["models"]["lead"]["activity"]:
        if rule["id"] == "demo-request":
            rule["points"] = 60  # marketing decided demo requests are worth more
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_rescore_local_rebuilds_the_lead_with_the_rules_given_without_alerting(
    stack: Stack, served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    before = repo.get_by_email(EMAIL)
    assert before is not None and len(stack.inbox()) == 1
    new_rules = _heavier_demo(tmp_path)
    assert main(["leads", "rescore", EMAIL, "--local", "--url", served, "--rules", str(new_rules)]) == 0
    out = capsys.readouterr().out
    after = repo.get_by_email(EMAIL)
    assert after is not None and after.card is not None and after.ver == before.ver + 1
    assert {c.rule: c.points for c in explained_card(after, new_rules).contributions}["demo-request"] == 60
    assert out == (
        f"rescored {after.lead_id}: {after.card.score:g} {after.card.tier} {after.card.grade} "
        f"with rules {after.card.rules_version}\n"
    )
    stack.drain()
    assert stack.inbox() == []  # a rescore never alerts


def test_rescore_local_all_uses_the_rules_in_force(
    stack: Stack, served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["leads", "rescore", "--all", "--local", "--url", served]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 lead(s) rescored on the local stack"
    lead = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(EMAIL)
    assert lead is not None and out[0].startswith(f"rescored {lead.lead_id}: {lead.card.score:g} ")


def test_rescore_local_of_an_unknown_lead_and_without_a_server(
    served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools.local.stack import free_port

    rules = str(RULES_EXAMPLE_YAML)
    assert main(["leads", "rescore", "nobody@x.io", "--local", "--url", served, "--rules", rules]) == 1
    assert "no lead nobody@x.io" in capsys.readouterr().err
    gone = f"http://127.0.0.1:{free_port()}"
    assert main(["leads", "rescore", EMAIL, "--local", "--url", gone, "--rules", rules]) == 2
    assert "is `make serve` running?" in capsys.readouterr().err
