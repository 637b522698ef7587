"""`leadscore rules diff OLD NEW`: tier changes per direction, the leads that would become sales-ready,
top movers, the score distribution before and after (text, and an HTML chart rendered in Chromium)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.chromium import TagCount, dump_dom
from tools.cli import main

EXAMPLE = ROOT / "rules" / "example.yaml"
LEADS = ROOT / "rules" / "sample-leads.jsonl"
NOW = "2026-11-23T12:00:00+00:00"


@pytest.fixture
def new_rules(tmp_path: Path) -> Path:
    """The example with sales_ready 60, warm from 30 and directors +25 (not +15): Sam, a director, goes
    from 61 (warm) to 71 (sales-ready); Lee, one too, from 32 (cold) to 42 (warm)."""
    text = EXAMPLE.read_text()
    director = text.index("      - id: title-director")
    text = text[:director] + text[director:].replace("points: 15\n", "points: 25\n", 1)
    text = text.replace("      # sales_ready: 100 ", "      sales_ready: 60 ", 1)
    text = text.replace("tiers: [{name: warm, min: 60}]", "tiers: [{name: warm, min: 30}]", 1)
    path = tmp_path / "new.yaml"
    path.write_text(text)
    return path


def _rows(rules: Path, capsys: pytest.CaptureFixture[str], now: str = NOW) -> dict[str, dict[str, object]]:
    assert main(["rules", "test", str(rules), "--leads", str(LEADS), "--now", now, "--json"]) == 0
    return {str(r["email"]): r for r in json.loads(capsys.readouterr().out)}


def test_diff_counts_what_rules_test_gives_for_each_file(
    new_rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _rows(EXAMPLE, capsys), _rows(new_rules, capsys)
    moved = {e for e in old if old[e]["tier"] != new[e]["tier"]}
    assert moved == {"sam.okafor@brightledger.com", "lee.chen@summitcare.health"}  # the fixture's intent
    argv = ["rules", "diff", str(EXAMPLE), str(new_rules), "--leads", str(LEADS), "--now", NOW]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["evaluated_at"] == NOW and report["leads"] == len(old)
    assert (report["changed_tier"], report["up"], report["down"]) == (2, 2, 0)
    assert sorted((c["from"], c["to"], c["leads"]) for c in report["tier_changes"]) == sorted(
        (str(old[e]["tier"]), str(new[e]["tier"]), 1) for e in moved
    )
    assert [s["lead"] for s in report["now_sales_ready"]] == ["sam.okafor@brightledger.com"]
    edges = report["histogram"]["edges"]

    def binned(rows: dict[str, dict[str, object]]) -> list[int]:
        scores = [float(r["score"]) for r in rows.values()]  # type: ignore[arg-type]
        return [sum(lo <= x < hi for x in scores) for lo, hi in itertools.pairwise(edges)]

    assert report["histogram"]["before"] == binned(old) and report["histogram"]["after"] == binned(new)
    assert sum(report["histogram"]["after"]) == len(old)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"rules diff {EXAMPLE} -> {new_rules}: 5 lead(s), evaluated at 2026-11-23 12:00 UTC"
    )
    assert "Tier changes: 2 of 5 lead(s) change tier (2 up, 0 down)" in out
    assert re.search(r"up   warm -> sales_ready\s+1", out) and re.search(r"up   cold -> warm\s+1", out)
    assert re.search(
        r"Would become sales-ready now: 1\n  sam\.okafor@brightledger\.com\s+61\.34 -> 71\.34", out
    )
    assert "Score distribution (20-point bins):" in out


def test_diff_states_and_uses_the_evaluation_date(
    new_rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = "2027-11-23"
    argv = ["rules", "diff", str(EXAMPLE), str(new_rules), "--leads", str(LEADS), "--now", later, "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["evaluated"] == "2027-11-23 00:00 UTC"
    old, new = _rows(EXAMPLE, capsys, later), _rows(new_rules, capsys, later)
    assert report["changed_tier"] == sum(old[e]["tier"] != new[e]["tier"] for e in old)
    assert [s["lead"] for s in report["now_sales_ready"]] == sorted(
        (e for e in old if new[e]["tier"] == "sales_ready" and old[e]["tier"] != "sales_ready"),
        key=lambda e: -float(new[e]["score"]),  # type: ignore[arg-type]
    )


def test_top_movers_are_the_largest_score_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    heavier = tmp_path / "heavier.yaml"
    heavier.write_text(EXAMPLE.read_text().replace("points: 25\n", "points: 45\n", 1))  # VP titles +20
    argv = ["rules", "diff", str(EXAMPLE), str(heavier), "--leads", str(LEADS), "--now", NOW, "--json"]
    assert main([*argv, "--top", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(m["lead"], m["delta"]) for m in report["top_movers"]] == [("dana.reyes@northwindlabs.io", 20)]
    assert report["changed_tier"] == 0 and report["moved"] == 1


def test_the_html_report_renders_its_charts_in_chromium_and_loads_nothing(
    new_rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "diff.html"
    argv = ["rules", "diff", str(EXAMPLE), str(new_rules), "--leads", str(LEADS), "--now", NOW]
    assert main([*argv, "--html", str(page), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    source = page.read_text()
    assert "<script" not in source and "<link" not in source and not re.search(r"\b(src|href)\s*=", source)
    dom = dump_dom(page)
    parsed = TagCount()
    parsed.feed(dom)
    assert parsed.count("svg", "chart", id="chart-histogram") == 1
    assert parsed.count("svg", "chart", id="chart-tiers") == 1
    bins = len(report["histogram"]["before"])
    assert parsed.count("rect", "before") == bins + len(report["tiers"])  # histogram bars + tier bars
    assert parsed.count("rect", "after") == bins + len(report["tiers"])
    assert "evaluated at 2026-11-23 12:00 UTC" in dom
    assert "sam.okafor@brightledger.com" in dom and "2 (2 up, 0 down)" in dom


def test_the_readme_diff_example_runs(tmp_path: Path) -> None:
    """The README's `rules diff` example, as written (the file it builds and the report go to tmp)."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("sed 's/^      tiers:") :].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line and "--stack" not in line]
    assert len(lines) == 2 and "rules diff" in lines[1] and "--html diff.html" in lines[1]
    script = "\n".join(lines).replace("my-rules.yaml", str(tmp_path / "my-rules.yaml"))
    script = script.replace("diff.html", str(tmp_path / "diff.html"))
    done = subprocess.run(
        ["bash", "-euc", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Tier changes: 1 of 5 lead(s) change tier (1 up, 0 down)" in done.stdout  # cold -> warm
    assert (tmp_path / "diff.html").read_text().startswith("<!DOCTYPE html>")
