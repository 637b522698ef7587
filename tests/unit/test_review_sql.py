"""The SQL of docs/review.md (tools/review/sql.py), run by DuckDB on the rows ``--rows-out`` writes,
gives the same figures as the streaming review: base rate, grade cells, per-rule lift, the
time-ordered holdout's AUC and the precision at the proposed threshold; the fit sample is bounded."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from tools.cli import main
from tools.review import sql


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    rows = tmp_path_factory.mktemp("sql") / "rows.csv"
    argv = ["review", "--simulate", "4", "--leads", "3000", "--capacity", "10/week", "--json"]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main([*argv, "--rules", "rules/example.yaml", "--rows-out", str(rows)]) == 0
    return sql.connect(str(rows)), json.loads(buffer.getvalue())


def test_duckdb_gives_the_same_benchmarks(reviewed: tuple[Any, dict[str, Any]]) -> None:
    con, report = reviewed
    leads, conversions, base = con.execute(sql.BASE).fetchone()
    assert (leads, conversions) == (report["population"]["leads"], report["population"]["conversions"])
    assert base == pytest.approx(report["population"]["base_rate"])
    grades = {g: (n, c) for g, n, c in con.execute(sql.GRADES).fetchall()}
    for cell in report["grades"]:
        if cell["leads"]:
            assert grades[cell["grade"]][0] == cell["leads"]
            assert grades[cell["grade"]][1] == pytest.approx(cell["conversion"])
    lift = {r: (n, f, o) for r, n, f, o in con.execute(sql.RULE_LIFT).fetchall()}
    for rule in report["rules"]:
        n, fired, other = lift[rule["rule"]]
        assert n == rule["fired"]
        assert fired == pytest.approx(rule["conversion_fired"]) if rule["fired"] else fired is None
        assert other == pytest.approx(rule["conversion_not_fired"])


def test_duckdb_gives_the_same_holdout(reviewed: tuple[Any, dict[str, Any]]) -> None:
    con, report = reviewed
    hand = report["comparison"]["hand"]
    assert con.execute(sql.AUC).fetchone()[0] == pytest.approx(hand["auc"], abs=1e-9)
    at = hand["at_threshold"]
    leads, precision, recall = con.execute(sql.AT_THRESHOLD.format(t=at["threshold"])).fetchone()
    assert (leads, precision, recall) == (
        at["leads"],
        pytest.approx(at["precision"]),
        pytest.approx(at["recall"]),
    )
    proposed = con.execute(sql.PROPOSE.format(thresholds=sql.THRESHOLDS, capacity=10)).fetchone()[0]
    # SQL sweeps every distinct score, the CLI a 200-quantile grid: the same threshold within a grid step
    assert proposed == pytest.approx(report["thresholds"]["hand_proposed"]["threshold"], abs=2)


def test_the_fit_sample_is_bounded_and_from_the_training_rows(reviewed: tuple[Any, dict[str, Any]]) -> None:
    con, _ = reviewed
    sample = con.execute(sql.FIT_SAMPLE.format(rows=500)).fetchall()
    assert len(sample) == 500
    cut = con.execute("SELECT min(decided_at) FROM split WHERE held_out").fetchone()[0]
    assert all(row[1] <= cut for row in sample)
