"""The emulator's two speed-ups change no result: one botocore loader per process, JSON read as JSON."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.cloudformation.models import Stack as MotoStack

from tools.localstack import speedups


def test_every_session_in_the_process_shares_one_data_loader() -> None:
    speedups.apply()
    first = boto3.session.Session()._session.get_component("data_loader")
    second = boto3.session.Session()._session.get_component("data_loader")
    assert first is second
    # ...and a client made from either still knows its own service.
    assert (
        boto3.session.Session(region_name="us-east-1").client("sqs").meta.service_model.service_name == "sqs"
    )


def test_a_json_stack_body_skips_pyyaml_and_parses_to_what_json_loads_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    speedups.apply()
    import yaml

    yaml_loads: list[str] = []
    real_load = yaml.load

    def counting_load(text: str, **kwargs: Any) -> Any:
        yaml_loads.append(text)
        return real_load(text, **kwargs)

    monkeypatch.setattr(yaml, "load", counting_load)  # moto calls yaml.load through the module
    body = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 0}}}, "On": "yes"}
    # "yes" would be True to a YAML 1.1 loader that did not see the quotes; JSON keeps the string.
    assert MotoStack.parse_template(json.dumps(body)) == body
    assert MotoStack.parse_template("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n") == {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}
    }
    assert len(yaml_loads) == 1  # the YAML body only


def test_moto_sqs_reads_the_wall_clock_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    speedups.apply()
    import time
    from datetime import datetime

    from moto.sqs import models

    unix_time_millis = models.unix_time_millis  # type: ignore[attr-defined]
    now = time.time() * 1000.0
    assert abs(unix_time_millis() - now) < 1_000  # the same wall clock as moto's own reading
    assert unix_time_millis(datetime(1970, 1, 1, 0, 0, 1)) == 1_000.0  # a given time as before
    monkeypatch.setattr(time, "time", lambda: 1_234.5)
    assert unix_time_millis() == 1_234_500.0  # read through time.time, not a datetime round trip
