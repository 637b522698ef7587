"""`leadscore rules publish` against S3 (moto): validates, lints, then uploads the compiled JSON.

Moved out of the unit tests (they need the AWS emulator): tests/unit/test_rules_cli.py and
tests/unit/test_rules_validate.py cover the same commands without AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import RULES_EXAMPLE_YAML
from tools.cli import main


@pytest.fixture
def s3(aws: None) -> Any:
    """An S3 client under moto, and the empty bucket ``rules-bucket`` to publish to."""
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="rules-bucket")
    return client


def test_publish_validates_then_uploads_json_never_yaml(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "publish", str(RULES_EXAMPLE_YAML), "--bucket", "rules-bucket"]) == 0
    body = s3.get_object(Bucket="rules-bucket", Key="rules/current.json")["Body"].read()
    assert json.loads(body)["models"]["lead"]["fit"]
    assert "published s3://rules-bucket/rules/current.json" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {}}')
    assert main(["rules", "publish", str(bad), "--bucket", "rules-bucket"]) == 1
    assert s3.get_object(Bucket="rules-bucket", Key="rules/current.json")["Body"].read() == body  # untouched


def test_publish_refuses_a_file_with_lint_errors(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES_EXAMPLE_YAML.read_text().replace("equals: page_view", "equals: pageview", 1))
    assert main(["rules", "publish", str(bad), "--bucket", "rules-bucket"]) == 1
    assert "'pageview' is not an event type; did you mean 'page_view'?" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket="rules-bucket").get("KeyCount") == 0


def test_publish_prints_warnings_and_publishes(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unused = tmp_path / "unused.yaml"
    unused.write_text(
        RULES_EXAMPLE_YAML.read_text().replace("lists:\n", "lists:\n  partners: [p.example]\n", 1)
    )
    assert main(["rules", "publish", str(unused), "--bucket", "rules-bucket"]) == 0
    captured = capsys.readouterr()
    assert f"warning: {unused}: lists.partners: defined but never used by any rule" in captured.err
    assert "published s3://rules-bucket/rules/current.json" in captured.out
