"""rules/example.yaml is the only source: every consumer compiles it as `leadscore rules publish` does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT
from tools.cli import main
from tools.rules_source import EXAMPLE, compile_file, compiled_json


def test_no_hand_kept_json_copy_of_the_rules_exists_or_is_referenced() -> None:
    assert sorted(p.name for p in (ROOT / "rules").glob("*.json")) == ["rules.schema.json"]
    tracked = subprocess.run(
        ["git", "grep", "-l", "example[.]json", "--", "*.py", "Makefile", "*.md", "*.toml", "*.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert tracked == []


def test_compiled_json_is_what_rules_compile_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "compile", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.encode() == compiled_json(EXAMPLE) + b"\n"
    assert json.loads(compiled_json())["models"]["lead"]["fit"]


def test_an_edited_weight_is_compiled_again_not_served_from_the_cache(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    text = EXAMPLE.read_text()
    rules.write_text(text)
    before = compile_file(rules)[1].by_id["title-executive"].points
    rules.write_text(text.replace("points: 25\n", "points: 32\n", 1))
    os.utime(rules, ns=(1, 2))  # a different modification time even on a coarse clock
    assert compile_file(rules)[1].by_id["title-executive"].points == before + 7
