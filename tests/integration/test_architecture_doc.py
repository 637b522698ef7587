"""docs/architecture.md's function table names every environment variable each function reads from
template.yaml (the Globals' LOG_LEVEL and POWERTOOLS_* aside), and names none it does not have."""

from __future__ import annotations

import fnmatch
import re

from tests.support import ROOT, translated_template

COMMON = {"LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"}


def _documented() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Functions", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[A-Z]\w+Function", cells[0]):
            env = re.sub(r"\[[^\]]*\]\([^)]*\)", "", cells[3])  # links aside
            env = re.sub(r"\([^)]*\)", "", env)  # and notes in parentheses
            rows[cells[0]] = [v.strip().strip("`") for v in env.split(",") if v.strip()]
    return rows


def test_the_function_table_lists_each_function_s_environment() -> None:
    documented = _documented()
    resources = translated_template()["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(documented) == set(functions)
    problems = []
    for name, resource in sorted(functions.items()):
        actual = set((resource["Properties"].get("Environment") or {}).get("Variables", {})) - COMMON
        patterns = documented[name]
        for pattern in patterns:
            if not fnmatch.filter(actual, pattern):
                problems.append(f"{name}: the doc names {pattern}, which it does not read")
        for variable in sorted(actual):
            if not any(fnmatch.fnmatch(variable, p) for p in patterns):
                problems.append(f"{name}: reads {variable}, which the doc does not name")
    assert problems == []
