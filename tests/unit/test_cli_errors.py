"""The CLI never answers a set-up problem with a traceback: one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.support import ROOT
from tools import cli

RULES = str(ROOT / "rules" / "example.yaml")


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A machine where nobody has configured AWS: no profile, no keys, no region, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return monkeypatch


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("region", "message"),
    [
        pytest.param(None, "leadscore: no AWS region: set AWS_REGION", id="no_region"),
        pytest.param("eu-west-1", "leadscore: no AWS credentials: run `aws configure`", id="no_credentials"),
    ],
)
def test_missing_aws_setup_is_one_line_and_exit_1(
    no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], region: str | None, message: str
):
    if region is not None:
        no_aws.setenv("AWS_DEFAULT_REGION", region)
    code = cli.main(["rules", "publish", RULES, "--stack", "leadscore"])
    line = one_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith(message)


def test_leads_against_a_stack_without_credentials_is_one_line(
    no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    no_aws.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    code = cli.main(["leads", "show", "dana.reyes@northwindlabs.io", "--stack", "leadscore"])
    assert code != 0
    assert "credentials" in one_line(capsys.readouterr().err)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def interrupted(_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_schema", interrupted)
    assert cli.main(["rules", "schema"]) == 130
    assert one_line(capsys.readouterr().err) == "leadscore: interrupted"


def test_other_errors_still_raise(monkeypatch: pytest.MonkeyPatch):
    """Only AWS set-up problems are turned into a line: a bug keeps its traceback."""

    def broken(_: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(cli, "cmd_schema", broken)
    with pytest.raises(ZeroDivisionError):
        cli.main(["rules", "schema"])


def test_a_closed_pipe_is_exit_141_without_a_traceback():
    """`leadscore rules schema | head -1`: the reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tools.cli", "rules", "schema"],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert one_line(done.stderr) == "leadscore: output closed early (broken pipe)"
