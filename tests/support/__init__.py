"""Shared test helpers: paths, sample events, and the AWS set-up the fixtures in conftest.py use.

The local stack itself is ``tools.localstack`` (the same engine `make demo` runs); nothing here
duplicates it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tools.localstack import Stack, reset_caches, translate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
RULES_EXAMPLE = ROOT / "rules" / "example.json"

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

__all__ = [
    "EVENTS",
    "FAKE_CREDENTIALS",
    "ROOT",
    "RULES_EXAMPLE",
    "TEMPLATE",
    "Stack",
    "endpoint_variables",
    "load_event",
    "reset_caches",
    "translate",
    "translated_template",
]


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/ (the same files `sam local invoke -e` uses)."""
    path = EVENTS / (name if name.endswith(".json") else f"{name}.json")
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def translated_template() -> dict[str, Any]:
    """template.yaml translated to CloudFormation (event source mappings included)."""
    return translate(TEMPLATE).cfn


def endpoint_variables() -> list[str]:
    """Every AWS_ENDPOINT_URL* variable set in this process (they defeat moto's in-process mock)."""
    return [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]
