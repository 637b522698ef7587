"""The HTML review renders in headless Chromium with every chart and figure (and needs no network).

Chromium is Debian's ``chromium`` package; ``make test`` installs it first (the ``chromium`` step of
the Makefile). Without it this test fails, on purpose: CI must render the report, not skip it.

- ``--dump-dom``: the four charts are SVG with their marks (histogram bars for both groups, one bar
  per score band, the precision, recall and leads-per-week lines with the proposed threshold, the 16
  grade cells), the headline figures and one row per rule in the lift table;
- the file loads nothing: no script, no ``src``/``href``, no stylesheet link, and Chromium is run
  with every host name unresolvable;
- ``--screenshot`` writes a PNG of the page (docs/review-report.png is one).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.chromium import CHROMIUM_FLAGS, chromium
from tests.support.chromium import TagCount as _Count
from tests.support.chromium import dump_dom as _dom
from tools.review.analysis import Collector, analyse
from tools.review.features import Featurizer, Row
from tools.review.report import html
from tools.review.simulate import now_for, simulate
from tools.rules_source import compile_file


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], int]:
    _, rules = compile_file(Path("rules/example.yaml"))
    featurizer = Featurizer.for_rules(rules, as_of_days=14, horizon_days=90, now=now_for())
    collector = Collector(featurizer.rule_ids)
    for lead in simulate(8, 2_500):
        row = featurizer.row(lead.state, lead.history)
        collector.add(row, lead.truth) if isinstance(row, Row) else collector.skip(row)
    hand = [r.points for r in (*featurizer.model.fit, *featurizer.model.activity)]
    report = analyse(collector, hand, capacity=10, target_precision=None).report
    path = tmp_path_factory.mktemp("review") / "report.html"
    path.write_text(html(report), encoding="utf-8")
    return path, report, len(hand)


def test_chromium_renders_every_chart_and_figure(page: tuple[Path, dict[str, object], int]) -> None:
    path, report, rules = page
    dom = _dom(path)
    parsed = _Count()
    parsed.feed(dom)
    for chart in ("chart-distribution", "chart-bands", "chart-thresholds", "chart-grades"):
        assert parsed.count("svg", "chart", id=chart) == 1, chart
    bins = len(report["histogram"]["converted"])  # type: ignore[index]
    assert parsed.count("rect", "conv") == bins and parsed.count("rect", "not") == bins
    assert parsed.count("rect", "band") == len(report["bands"])  # type: ignore[arg-type]
    for line in ("precision", "recall", "leads-per-week"):
        assert parsed.count("polyline", line) == 1, line
    assert parsed.count("line", "proposed") == 1
    assert parsed.count("rect", "cell") == 16
    assert parsed.count("tr") >= rules + 1
    for figure in ("Base conversion rate", "Holdout AUC, hand rules", "Holdout AUC, learned weights"):
        assert figure in dom
    base = report["population"]["base_rate"]  # type: ignore[index]
    assert f"{base:.1%}" in dom
    assert "time-ordered" in dom


def test_the_report_loads_nothing(page: tuple[Path, dict[str, object], int]) -> None:
    text = page[0].read_text()
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"\b(src|href)\s*=", text)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)


def test_chromium_takes_a_screenshot(page: tuple[Path, dict[str, object], int], tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--screenshot={shot}", page[0].as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
