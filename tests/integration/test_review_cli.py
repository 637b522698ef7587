"""`leadscore review`: what a lead counts as, the refusal on too little data, and the sources.

- A lead's features are its history replayed up to its decision point: later events change nothing.
- No outcome once the horizon has passed counts as not converted; a lead inside its horizon is left
  out ("open"); a conversion after the horizon is not a conversion within it.
- Too few conversions or losses: exit 3 and a message saying how many and how many are needed.
- The same leads read from a stack (moto), from an export file and from the simulator give the same
  report: the table path and the simulator path are one code path.
- ``--propose`` writes a rules file that validates, with a diff; cards scored with it carry a
  probability.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from leadscore.dal.items import history_items, journal_entry, to_item
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent
from leadscore.scoring.engine import evaluate
from leadscore.scoring.state import LeadState, SalesOutcome

from tests.support import Stack, serving
from tools.cli import main
from tools.review.cli import export_line
from tools.review.features import DAY, Featurizer, Row
from tools.review.simulate import now_for, simulate
from tools.review.sql import group_export
from tools.rules_source import compile_file

RULES = Path("rules/example.yaml")
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _featurizer(now: datetime) -> Featurizer:
    _, rules = compile_file(RULES)
    return Featurizer.for_rules(rules, as_of_days=14, horizon_days=90, now=now)


def _event(n: int, at: datetime, kind: str = "page_view", **extra: Any) -> CanonicalEvent:
    return CanonicalEvent.model_validate(
        {
            "event_id": f"e{n}",
            "source": "test",
            "type": kind,
            "occurred_at": at,
            "identity": {"email": "ada@acme.example"},
            **extra,
        }
    )


def _lead(outcomes: list[SalesOutcome]) -> tuple[LeadState, list[CanonicalEvent]]:
    history = [
        _event(0, T0, "identify", profile={"job_title": "CTO", "company_size": 800, "industry": "software"}),
        _event(1, T0 + timedelta(days=2), properties={"path": "/pricing"}),
    ]
    return LeadState(lead_id="l1", email="ada@acme.example", outcomes=outcomes), history


def _won(days: float) -> SalesOutcome:
    return SalesOutcome(status="converted", by="rep", at=int((T0 + timedelta(days=days)).timestamp()))


def test_events_after_the_decision_point_change_nothing() -> None:
    f = _featurizer(T0 + timedelta(days=200))
    state, history = _lead([])
    before = f.row(state, history)
    later = [_event(9, T0 + timedelta(days=20), "form_submit", name="Request a demo")]
    after = f.row(state, history + later)
    assert isinstance(before, Row) and isinstance(after, Row)
    assert before.x == after.x and before.score == after.score
    assert before.decided_at == int((T0 + timedelta(days=14)).timestamp())


def test_no_outcome_after_the_horizon_is_not_converted_and_open_leads_are_left_out() -> None:
    state, history = _lead([])
    matured = _featurizer(T0 + timedelta(days=14 + 90 + 1)).row(state, history)
    assert isinstance(matured, Row) and not matured.converted
    assert _featurizer(T0 + timedelta(days=14 + 89)).row(state, history) == "open"


def test_a_conversion_counts_only_within_the_horizon() -> None:
    f = _featurizer(T0 + timedelta(days=400))
    state, history = _lead([_won(14 + 60)])
    inside = f.row(state, history)
    assert isinstance(inside, Row) and inside.converted
    state, history = _lead([_won(14 + 120)])
    outside = f.row(state, history)
    assert isinstance(outside, Row) and not outside.converted


def test_an_early_outcome_moves_the_decision_point_to_the_day_before() -> None:
    f = _featurizer(T0 + timedelta(days=400))
    state, history = _lead([_won(5)])
    row = f.row(state, history)
    assert isinstance(row, Row) and row.converted
    assert row.decided_at == int((T0 + timedelta(days=4)).timestamp())


def test_too_little_data_refuses_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["review", "--simulate", "3", "--leads", "150"])
    err = capsys.readouterr().err
    assert code == 3
    assert "too little data to review" in err and "needs at least 30 of each" in err


def _review(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["review", *argv, "--rules", str(RULES), "--capacity", "10/week", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


SAME = ("population", "grades", "deciles", "rules")


def test_a_stack_an_export_and_the_simulator_give_the_same_report(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = list(simulate(21, 900, weeks=26))
    repo = LeadRepository(stack.outputs["LeadsTableName"])
    export = tmp_path / "export.jsonl"
    items: list[dict[str, Any]] = []
    with export.open("w") as out:
        for lead in leads:
            out.write(export_line(lead.state, lead.history) + "\n")
            # the lead item and its history items, as the scorer writes them (batched: moto is slow)
            entries = [journal_entry(e, None, 2_000_000_000) for e in lead.history]
            items += [to_item(lead.state), *history_items(lead.state.lead_id, 1, entries)]
    repo.put_items(items)
    now = now_for(26).isoformat()
    common = ("--now", now)
    from_stack = _review(capsys, "--stack", stack.name, *common)
    from_file = _review(capsys, "--input", str(export), *common)
    simulated = _review(capsys, "--simulate", "21", "--leads", "900", "--weeks", "26", *common)
    for key in SAME:
        assert from_stack[key] == from_file[key] == simulated[key], key
    assert from_stack["comparison"]["hand"] == from_file["comparison"]["hand"]
    assert from_stack["population"]["leads"] == 900
    assert "truth" in simulated["comparison"] and "truth" not in from_stack["comparison"]

    # DynamoDB's export to S3: every item, one {"Item": ...} a line, binary as base64, in any file and
    # any order; DuckDB groups it by lead (tools.review.sql.GROUP_EXPORT), the review reads the groups.
    scanned = [
        i
        for page in stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.outputs["LeadsTableName"])
        for i in page["Items"]
    ]
    random.Random(0).shuffle(scanned)
    data = tmp_path / "export" / "data"
    data.mkdir(parents=True)
    for n in range(3):
        with gzip.open(data / f"part-{n}.json.gz", "wt") as out:
            for item in scanned[n::3]:
                out.write(json.dumps({"Item": _export_json(item)}) + "\n")
    grouped = tmp_path / "grouped.jsonl"
    group_export(str(data / "*.json.gz"), str(grouped))
    from_export = _review(capsys, "--input", str(grouped), *common)
    for key in SAME:
        assert from_export[key] == from_stack[key], key
    assert from_export["comparison"]["hand"] == from_stack["comparison"]["hand"]

    # --local: make serve's stack answers /_local/export, read by the same code as --input
    with serving(stack, Path.cwd()) as base:
        from_local = _review(capsys, "--local", "--url", base, *common)
    for key in SAME:
        assert from_local[key] == from_stack[key], key

    # Without --rules, a stack is reviewed with its rules in force (rules/current.json in its bucket).
    version = stack.upload_rules(RULES)
    assert main(["review", "--stack", stack.name, *common, "--json"]) == 0
    published = json.loads(capsys.readouterr().out)
    assert published["rules_file"] is None and published["rules_version"] == "2026-11-23"
    assert published["rules"] == from_stack["rules"]
    assert version


def _export_json(item: dict[str, Any]) -> dict[str, Any]:
    """An item as DynamoDB's export writes it: binary values base64-encoded."""
    out: dict[str, Any] = {}
    for name, value in item.items():
        if "B" in value:
            out[name] = {"B": base64.b64encode(value["B"]).decode()}
        elif "M" in value:
            out[name] = {"M": _export_json(value["M"])}
        else:
            out[name] = value
    return out


def test_propose_writes_a_valid_rules_file_with_a_diff_and_a_probability(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = tmp_path / "proposed.json"
    report = _review(capsys, "--simulate", "4", "--leads", "2500", "--propose", str(proposed))
    diff = Path(f"{proposed}.diff").read_text()
    assert '-     "points": 10.0,' in diff and "calibration" in diff
    assert report["proposal"]["file"] == str(proposed)
    _, rules = compile_file(proposed)
    model = rules.models[0]
    assert model.calibration is not None and model.calibration.horizon_days == 90
    assert model.thresholds.sales_ready == report["thresholds"]["learned_proposed"]["threshold"]
    points = {r.id: r.points for r in (*model.fit, *model.activity)}
    assert points["competitor"] == -100  # disqualifying rules keep their points
    card = evaluate(LeadState(lead_id="x"), rules, T0, None)
    assert card.probability is not None and 0 < card.probability < 1
    assert DAY == 86_400


def test_the_demo_step_writes_the_report_and_the_proposal(tmp_path: Path) -> None:
    from tools.review.cli import demo_report

    lines = demo_report(tmp_path / "review.html", tmp_path / "proposed.json", seed=5, leads=1_500)
    assert (tmp_path / "review.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "proposed.json.diff").exists()
    assert any("Base conversion rate" in line for line in lines)
    assert any("Rules that do not predict" in line for line in lines)


def test_target_precision_proposes_the_lowest_threshold_that_reaches_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["review", "--simulate", "4", "--leads", "2500", "--target-precision", "0.35", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    pick = report["thresholds"]["hand_proposed"]
    table = report["thresholds"]["hand_table"]
    assert pick["precision"] >= 0.35
    assert all(r["precision"] < 0.35 or r["leads"] < 10 for r in table if r["threshold"] < pick["threshold"])


def test_since_leaves_out_leads_first_seen_before(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["review", "--simulate", "4", "--leads", "3000", "--since", "2025-05-01", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["population"]["from"] >= "2025-05-15"  # first seen + the 14-day decision point
    assert report["population"]["left_out"]["before-since"] > 0
