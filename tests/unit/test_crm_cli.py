"""``leadscore crm hubspot create-properties``: usage errors exit 2 before any call is made."""

from __future__ import annotations

import pytest

from tools.crm_cli import main

ENV = {"HUBSPOT_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hubspot"}


@pytest.mark.parametrize(
    "argv",
    [
        ["hubspot", "create-properties", "--requests-per-10s", "0"],
        ["hubspot", "create-properties", "--requests-per-10s", "ten"],
        ["hubspot", "create-properties", "--requests-per-10s"],
        ["hubspot", "delete-properties"],
    ],
    ids=["zero_rate", "non_numeric_rate", "rate_missing", "unknown_command"],
)
def test_a_usage_error_exits_2_and_says_how(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, environ=ENV) == 2
    assert "usage: leadscore crm hubspot create-properties" in capsys.readouterr().err


def test_no_secret_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hubspot", "create-properties"], environ={}) == 2
    assert "--secret-arn ARN" in capsys.readouterr().err
