"""`leadscore leads export` writes what `rules test` and `rules diff` read: scoring the export with the
rules in force gives back the stack's own cards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from leadscore import clock
from leadscore.dal.leads import LeadRepository

from tests.support import (
    RULES_EXAMPLE_YAML,
    Stack,
    example_rules_json,
    explained_card,
    load_event,
    serving,
)
from tools.cli import main

SAMPLES = (
    "http-01-form-json",
    "http-02-form-urlencoded",
    "http-03-track-page",
    "http-06-form-personal-email",
)


@pytest.fixture
def scored(stack: Stack) -> Iterator[Stack]:
    """The samples scored as `make demo` scores them: as of an hour after they were recorded."""
    stack.upload_rules(example_rules_json())
    events = [load_event(name) for name in SAMPLES]
    recorded = max(e["requestContext"]["timeEpoch"] for e in events) // 1000
    clock.pin(datetime.fromtimestamp(recorded + 3600, UTC))
    try:
        for event in events:
            assert stack.invoke("IngestFunction", event)["statusCode"] == 202
        stack.drain()
        yield stack
    finally:
        clock.pin(None)


def _cards(stack: Stack) -> dict[str, tuple[float, str]]:
    repo = LeadRepository(stack.physical_id("LeadsTable"))
    cards = {}
    for state in repo.all_leads():
        if state.merged_into:  # an identified visitor: its events are on the known lead
            continue
        card = explained_card(state)
        cards[state.email or state.lead_id] = (round(card.score, 6), card.tier)
    return cards


def _tested(export: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[float, str]]:
    now = clock.now().isoformat()
    assert (
        main(["rules", "test", str(RULES_EXAMPLE_YAML), "--leads", str(export), "--now", now, "--json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    return {r["email"] or r["lead_id"]: (round(r["score"], 6), r["tier"]) for r in rows}


def test_export_of_a_table_scores_back_to_the_stacks_own_cards(
    scored: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "leads.jsonl"
    assert main(["leads", "export", "--table", scored.physical_id("LeadsTable"), "-o", str(export)]) == 0
    cards = _cards(scored)
    assert f"wrote {len(cards)} lead(s) to {export}" in capsys.readouterr().err
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(cards) >= 3 and len(lines) == len(cards)
    assert all(set(line) == {"email", "lead_id", "events"} and line["events"] for line in lines)
    dana = next(line for line in lines if line["email"] == "dana.reyes@northwindlabs.io")
    assert dana["events"][0]["type"] == "form_submit" and dana["events"][0]["event_id"]
    assert _tested(export, capsys) == cards


@pytest.fixture
def local_url(scored: Stack) -> Iterator[str]:
    """The `make serve` HTTP server (tools.local.stack) in front of this test's in-process stack."""
    with serving(scored) as base:
        yield base


def test_export_of_the_local_stack_to_stdout(
    scored: Stack, local_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["leads", "export", "--local", "--url", local_url]) == 0
    captured = capsys.readouterr()
    export = tmp_path / "local.jsonl"
    export.write_text(captured.out)
    cards = _cards(scored)
    assert captured.err.strip() == f"{len(cards)} lead(s)"
    assert _tested(export, capsys) == cards


def test_export_without_a_server_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from tools.local.stack import free_port

    assert main(["leads", "export", "--local", "--url", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "is `make serve` running?" in capsys.readouterr().err


def test_rules_diff_over_the_table_equals_rules_diff_over_its_export(
    scored: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = scored.physical_id("LeadsTable")
    heavier = tmp_path / "heavier.yaml"
    heavier.write_text(RULES_EXAMPLE_YAML.read_text().replace("points: 25\n", "points: 45\n", 1))
    export = tmp_path / "leads.jsonl"
    assert main(["leads", "export", "--table", table, "-o", str(export)]) == 0
    capsys.readouterr()
    now = clock.now().isoformat()
    diff = ["rules", "diff", str(RULES_EXAMPLE_YAML), str(heavier), "--now", now, "--json"]
    assert main([*diff, "--table", table]) == 0
    over_table = json.loads(capsys.readouterr().out)
    assert main([*diff, "--leads", str(export)]) == 0
    assert over_table == json.loads(capsys.readouterr().out)
    assert [m["lead"] for m in over_table["top_movers"]] == ["dana.reyes@northwindlabs.io"]  # a VP
