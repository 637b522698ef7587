"""Figures the docs quote are the ones `make bench` measured, and the README and architecture agree."""

from __future__ import annotations

import json
import re

from tests.support import ROOT


def item_bytes() -> tuple[int, int]:
    """(median, p99) bytes of the lead item from the last bench run."""
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    (goal,) = [g for g in results["goals"] if g["name"] == "item_bytes_p99"]
    median = re.search(r"p50 (\d+)", goal["note"])
    assert median is not None, goal
    return int(median.group(1)), int(goal["measured"])


def test_readme_quotes_the_measured_item_size():
    median, p99 = item_bytes()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"| `item_bytes_p99` | {p99:,} B (p50 {median:,}) |" in readme


def test_architecture_quotes_the_same_item_size():
    median, p99 = item_bytes()
    text = " ".join((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").split())
    assert f"{median:,} B at the median, {p99:,} B at p99" in text
    # and no other median: every "N B at the median" in either doc is the measured one
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in (text, readme):
        assert set(re.findall(r"([\d,]+) B at the median", doc)) <= {f"{median:,}"}
