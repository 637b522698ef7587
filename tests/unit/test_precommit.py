"""The pre-commit hooks run the checks `make test` runs (.pre-commit-config.yaml, Makefile)."""

from __future__ import annotations

import re

import yaml

from tests.support import ROOT


def _recipe(target: str) -> list[str]:
    """The commands of a Makefile target, with ``$(VENV)`` spelled out."""
    text = (ROOT / "Makefile").read_text()
    block = re.search(rf"^{target}:[^\n]*\n((?:\t[^\n]*\n)+)", text, flags=re.M)
    assert block is not None, target
    return [line.strip().replace("$(VENV)", ".venv") for line in block.group(1).splitlines()]


def _hooks() -> dict[str, str]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    assert repo["repo"] == "local"
    return {hook["id"]: hook["entry"] for hook in repo["hooks"]}


def test_each_make_check_has_a_hook_running_the_same_command() -> None:
    hooks = _hooks()
    checks = [*_recipe("lint"), *_recipe("typecheck")]
    assert len(checks) == 3, checks  # ruff check, ruff format --check, mypy
    for command in checks:
        base = command.removesuffix(" .")  # make runs them on the tree; pre-commit on the files changed
        assert any(entry.startswith(base) for entry in hooks.values()), (command, hooks)


def test_the_template_hook_is_make_validate() -> None:
    (validate,) = _recipe("validate")
    assert validate.split("sam ", 1)[1] in _hooks()["sam-validate"]


def test_the_complexity_gate_is_on_in_ruff() -> None:
    import tomllib

    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C90" in lint["select"] and lint["mccabe"]["max-complexity"] <= 15
