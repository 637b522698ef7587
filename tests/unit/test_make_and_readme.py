"""`make` says what it is doing, and the README's Deploy section runs with what the repository installs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*targets: str) -> list[str]:
    """What `make -n` would run (-B: as on a fresh clone, whatever is installed here)."""
    # Run as a top-level make even under `make test`: a sub-make inherits MAKEFLAGS/MAKELEVEL and
    # prints "make[1]: Entering directory" lines among the commands.
    env = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    }
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    return done.stdout.splitlines()


def test_every_install_step_of_the_venv_is_announced_first():
    lines = dry_run(".venv/.installed")
    installs = [i for i, line in enumerate(lines) if " -m venv " in line or "pip install" in line]
    assert len(installs) == 4, lines  # venv, pip, dependencies, leadscore itself
    for index in installs:
        assert lines[index - 1].startswith('echo "==> ['), (lines[index - 1], lines[index])
    assert lines[-1] == 'echo "==> .venv ready"'


def test_the_long_install_says_how_long_it_takes():
    (line,) = [line for line in dry_run(".venv/.installed") if "[3/4]" in line]
    assert "minutes" in line


def test_demo_announces_the_local_stack_before_it_starts():
    lines = [line for line in dry_run("demo") if "tools.local demo" in line or "starting the local" in line]
    assert lines[0].startswith('echo "==> starting the local stack')


def _deploy_section() -> str:
    section = README.split("\n## Deploy\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```bash\n(.*?)```", section, flags=re.S))


def test_the_deploy_section_uses_no_tool_that_is_not_installed_on_path():
    commands = [line.split("#")[0].strip() for line in _deploy_section().splitlines()]
    commands = [c for c in commands if c]
    assert commands, "the Deploy section has no commands"
    for command in commands:
        program = command.split()[0]
        assert program == "make" or program.startswith(".venv/bin/"), command


def test_the_make_targets_the_deploy_section_names_exist():
    targets = set(re.findall(r"^make (\w+)", _deploy_section(), flags=re.M))
    assert targets == {"deploy"}
    lines = dry_run("deploy", "ARGS=--guided")
    assert lines[-2].endswith(".venv/bin/sam build --template template.yaml")
    assert lines[-1].endswith(".venv/bin/sam deploy --guided")
