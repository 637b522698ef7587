"""`leadscore rules validate | test | publish | compile` as rule writers use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import ROOT
from tools.cli import main

EXAMPLE = ROOT / "rules" / "example.yaml"
LEADS = ROOT / "rules" / "sample-leads.jsonl"


def test_validate_accepts_the_example_and_lists_every_error_of_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "validate", str(EXAMPLE)]) == 0
    assert "ok:" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """
models:
  lead:
    fit:
      - {id: a, description: x, when: {field: job_titel, contains: vp}, points: 5}
      - {id: b, description: y, when: {field: email, in_list: nope}, points: 5}
"""
    )
    assert main(["rules", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "2 error(s)" in err
    assert (
        "fit rule 'a' field 'job_titel'" in err and "fit rule 'b' field 'email': unknown list 'nope'" in err
    )


def test_validate_reports_yaml_syntax_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("models: {lead: [unclosed")
    assert main(["rules", "validate", str(bad)]) == 1
    assert "not valid YAML" in capsys.readouterr().err


def test_dry_run_scores_sample_leads_as_a_table_and_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    now = "2026-11-23T12:00:00+00:00"
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(LEADS), "--now", now]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].startswith("evaluated at 2026-11-23 12:00 UTC with ")
    assert lines[1].split()[:4] == ["lead", "score", "tier", "grade"]
    assert "dana.reyes@northwindlabs.io" in lines[2]  # the best lead first
    assert lines[-1] == (
        "5 lead(s) at 2026-11-23 12:00 UTC: sales_ready 1, warm 1, cold 2, disqualified 1; "
        "1 alert(s) would fire (sales_ready 1)"
    )
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(LEADS), "--now", now, "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert captured.err.startswith("5 lead(s) at 2026-11-23 12:00 UTC: sales_ready 1,")  # stdout stays JSON
    by_email = {r["email"]: r for r in rows}
    assert by_email["dana.reyes@northwindlabs.io"]["tier"] == "sales_ready"
    assert by_email["dana.reyes@northwindlabs.io"]["grade"][0] == "A"
    assert by_email["spy@rivalscore.com"]["tier"] == "disqualified"
    assert any("Personal email address" in r for r in by_email["jo.student@gmail.com"]["reasons"])
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_the_summary_counts_tiers_and_alerts_from_the_rows_and_states_the_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = tmp_path / "leads.jsonl"
    leads.write_text("\n".join(LEADS.read_text().splitlines()[:1]) + "\n")  # Dana alone
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(leads), "--now", "2026-11-23"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("evaluated at 2026-11-23 00:00 UTC")
    assert out[-1] == (
        "1 lead(s) at 2026-11-23 00:00 UTC: sales_ready 1; 1 alert(s) would fire (sales_ready 1)"
    )
    # the same lead a year later: decayed, no longer sales-ready, no alert
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(leads), "--now", "2027-11-23"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("1 lead(s) at 2027-11-23 00:00 UTC: ") and "sales_ready" not in last
    assert last.endswith("; 0 alert(s) would fire")


def test_the_readme_leads_file_example_is_a_leads_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**Leads files**") :]
    line = section.split("```json\n", 1)[1].split("```", 1)[0]
    leads = tmp_path / "leads.jsonl"
    leads.write_text(line)
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(leads), "--now", "2026-11-23"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("dana@northwindlabs.io ") and out[-1].startswith("1 lead(s) at 2026-11-23")
