"""`leadscore leads show|hot`: argument handling and formatting, against moto in-process.

Leads are written with the repository (as the scorer would leave them); the stack built from
template.yaml provides the table and the CloudFormation output ``--stack`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.api.service import get_card
from leadscore.dal.items import history_items, journal_entry
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.state import Adjustment, Contribution, LeadState, SalesOutcome, ScoreCard

from tests.support import Stack, serving
from tools.cli import main

T0 = int(datetime(2026, 11, 23, 15, 0, tzinfo=UTC).timestamp())
ADA = "ada@analytical.example"


def _state(email: str, score: float, tier: str, grade: str, **extra: Any) -> LeadState:
    card = ScoreCard(
        score=score,
        fit=60,
        activity=score - 60,
        tier=tier,
        grade=grade,
        categories={"buying-signal": score - 60} if score > 60 else {},
        contributions=[
            Contribution(
                rule="demo-request",
                kind="activity",
                description="Requested a demo",
                points=score - 60,
                count=2,
                last_seen=T0 - 3600,
                category="buying-signal",
            ),
            Contribution(rule="title-executive", kind="fit", description="C-level or VP title", points=60),
        ],
        reasons=[f"Requested a demo 2× ({score - 60:+.0f})", "CTO (+60)"],
        rules_version="s3:v7",
        threshold=100,
        computed_at=T0,
        due_at=T0 + 41 * 86400 - T0 % 86400,
    )
    return LeadState(
        lead_id=lead_id_for_email(email),
        email=email,
        profile={
            "first_name": email.split("@", maxsplit=1)[0].title(),
            "job_title": "CTO",
            "company": "Analytical Engines",
        },
        card=card,
        ver=1,
        events_total=2,
        created_at=T0 - 7200,
        updated_at=T0,
        **extra,
    )


def _replace_with(state: LeadState) -> Callable[[LeadState], LeadState]:
    def change(_: LeadState) -> LeadState:
        return state

    return change


@pytest.fixture
def leads(stack: Stack) -> LeadRepository:
    repo = LeadRepository(stack.outputs["LeadsTableName"])
    ada = _state(
        ADA,
        130,
        "sales_ready",
        "A4",
        adjustments=[
            Adjustment(
                id="adj1", points=-10, reason="budget in Q3", by="arn:aws:iam::123456789012:user/bo", at=T0
            )
        ],
        outcomes=[
            SalesOutcome(
                status="converted",
                amount=48000,
                currency="USD",
                note="3-year deal",
                by="arn:aws:iam::123456789012:user/bo",
                at=T0 + 60,
                score_at_outcome=130,
                grade_at_outcome="A4",
                rules_version="s3:v7",
            )
        ],
    )
    for state in (
        ada,
        _state("bo@acme.example", 90, "warm", "A3"),
        _state("cy@acme.example", 70, "warm", "A2"),
        _state("di@acme.example", 20, "cold", "C1"),
    ):
        repo.mutate(state.lead_id, _replace_with(state))
    events = [
        CanonicalEvent.model_validate(
            {
                "event_id": "ev-demo",
                "source": "form",
                "type": "form_submit",
                "name": "Request a demo",
                "occurred_at": datetime.fromtimestamp(T0 - 3600, UTC),
                "identity": {"email": ADA},
            }
        ),
        CanonicalEvent.model_validate(
            {
                "event_id": "ev-bot",
                "source": "segment",
                "type": "page_view",
                "occurred_at": datetime.fromtimestamp(T0 - 1800, UTC),
                "identity": {"email": ADA},
                "properties": {"path": "/pricing"},
            }
        ),
    ]
    bot = "scanner user agent (bot)"
    entries = [journal_entry(events[0], None, T0 + 86400), journal_entry(events[1], bot, T0 + 86400)]
    repo.put_items(history_items(events[0].lead_id, 1, entries))
    return repo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["leads", *argv])
    out, err = capsys.readouterr()
    return code, out, err


EXPECTED_CARD = """\
Ada <ada@analytical.example>
CTO, Analytical Engines
lead id {lead_id}

Score:    130 (fit 60, activity 70); threshold 100
Tier:     sales_ready    Grade: A4    Stage: lead
Interest: buying-signal 70

Why:
  - Requested a demo 2× (+70)
  - CTO (+60)

Adjustments:
  2026-11-23 15:00    -10  budget in Q3  (by bo)

Outcomes:
  2026-11-23 15:01  converted 48,000 USD  (score 130 A4; by bo)  "3-year deal"

Recent history (newest first):
  2026-11-23 14:30  page_view      /pricing  [not scored: scanner user agent (bot)]
  2026-11-23 14:00  form_submit    Request a demo

Rules version s3:v7; scored 2026-11-23 15:00 UTC; decay next changes it 2027-01-03 00:00 UTC
"""


def test_show_prints_the_score_card(leads: LeadRepository, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", ADA, "--stack", "leadscore")
    assert (code, err) == (0, "")
    assert out == EXPECTED_CARD.format(lead_id=lead_id_for_email(ADA))
    code, by_id, _ = run(capsys, "show", lead_id_for_email(ADA), "--table", leads.table)
    assert (code, by_id) == (0, out)


def test_an_unnamed_lead_is_shown_by_its_email_once(
    leads: LeadRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    unnamed = _state("noname@acme.example", 40, "cold", "C1").model_copy(update={"profile": {}})
    leads.mutate(unnamed.lead_id, _replace_with(unnamed))
    code, out, _ = run(capsys, "show", "noname@acme.example", "--table", leads.table)
    assert code == 0
    assert out.splitlines()[0] == "noname@acme.example"
    assert out.count("noname@acme.example") == 1


def test_show_json_is_the_api_score_card(leads: LeadRepository, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", ADA.upper(), "--json", "--table", leads.table, "--history", "1")
    assert code == 0
    card = json.loads(out)
    assert card == get_card(leads, ADA, 1)
    assert [h["event_id"] for h in card["history"]] == ["ev-bot"]


def test_show_unknown_and_malformed_leads(leads: LeadRepository, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "show", "nobody@example.com", "--table", leads.table) == (
        1,
        "",
        "leadscore leads: no lead nobody@example.com\n",
    )
    code, out, err = run(capsys, "show", "not-an-id", "--table", leads.table)
    assert (code, out) == (2, "")
    assert err == "leadscore leads: lead: neither a lead id nor an email address\n"


def test_stack_without_the_output_or_missing(
    leads: LeadRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "hot", "--stack", "no-such-stack")
    assert code == 2 and err.startswith("leadscore leads: cannot read stack no-such-stack")


EXPECTED_HOT = """\
 score  tier         grade  lead                    top interest    top reasons
   130  sales_ready  A4     ada@analytical.example  buying-signal   Requested a demo 2× (+70); CTO (+60)
    90  warm         A3     bo@acme.example         buying-signal   Requested a demo 2× (+30); CTO (+60)
    70  warm         A2     cy@acme.example         buying-signal   Requested a demo 2× (+10); CTO (+60)
"""  # di@acme.example (20, cold) is not on the hot list


def test_hot_prints_the_hot_list_highest_first(
    leads: LeadRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "hot", "--stack", "leadscore")
    assert (code, err) == (0, "")
    assert out == EXPECTED_HOT


def test_hot_limit_and_tier_follow_the_cursor(
    leads: LeadRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "hot", "--limit", "3", "--json", "--table", leads.table)
    assert code == 0
    assert [r["email"] for r in json.loads(out)] == [ADA, "bo@acme.example", "cy@acme.example"]
    code, out, _ = run(capsys, "hot", "--tier", "warm", "--json", "--table", leads.table)
    rows = json.loads(out)
    assert [(r["email"], r["tier"], r["score"]) for r in rows] == [
        ("bo@acme.example", "warm", 90),
        ("cy@acme.example", "warm", 70),
    ]
    code, out, _ = run(capsys, "hot", "--tier", "warm,cold", "--json", "--table", leads.table)
    assert code == 0  # cold leads come after the indexed tiers, from a Scan
    assert [(r["email"], r["tier"]) for r in json.loads(out)] == [
        ("bo@acme.example", "warm"),
        ("cy@acme.example", "warm"),
        ("di@acme.example", "cold"),
    ]
    code, out, _ = run(capsys, "hot", "--tier", "disqualified", "--table", leads.table)
    assert (code, out) == (0, "No leads.\n")
    code, _, err = run(capsys, "hot", "--tier", "warm;drop", "--table", leads.table)
    assert code == 2 and err.startswith("leadscore leads: tier:")


@pytest.mark.parametrize(
    "argv",
    [
        ["leads"],
        ["leads", "show"],
        ["leads", "show", ADA],  # no target
        ["leads", "show", ADA, "--local", "--stack", "s"],  # two targets
        ["leads", "hot", "--table", "t", "--limit", "0"],
        ["leads", "hot", "--table", "t", "--limit", "many"],
        ["leads", "hot", "--table", "t", "--color", "red"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage: leadscore" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- --local
@pytest.fixture
def local_server(stack: Stack, leads: LeadRepository) -> Iterator[str]:
    """The `make serve` HTTP server (tools.local.stack) in front of this test's in-process stack."""
    with serving(stack) as base:
        yield base


def test_local_reads_through_the_serve_endpoints(
    local_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "show", ADA, "--local", "--url", local_server)
    assert (code, err) == (0, "")
    assert out == EXPECTED_CARD.format(lead_id=lead_id_for_email(ADA))
    code, out, _ = run(capsys, "hot", "--local", "--url", local_server)
    assert (code, out) == (0, EXPECTED_HOT)
    code, _, err = run(capsys, "show", "ghost@example.com", "--local", "--url", local_server)
    assert code == 1 and "no lead ghost@example.com" in err


def test_local_without_a_server_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.local.stack import free_port

    monkeypatch.setenv("LEADSCORE_LOCAL_URL", f"http://127.0.0.1:{free_port()}")
    code, out, err = run(capsys, "hot", "--local")
    assert (code, out) == (2, "")
    assert "is `make serve` running?" in err
