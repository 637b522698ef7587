"""Fixtures: `aws` (moto in-process, clean caches) and `stack` (template.yaml created in moto).

def test_something(stack):
    stack.upload_rules(RULES_EXAMPLE)
    stack.invoke("IngestFunction", stack.http_event("POST", "/forms", body, headers))
    stack.drain()
    assert stack.inbox()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.support import FAKE_CREDENTIALS, TEMPLATE, Stack, endpoint_variables, reset_caches, translate


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process for one test: no custom endpoints, fake credentials, no cached clients/settings."""
    for name in endpoint_variables():
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    with mock_aws():
        yield
    reset_caches()


@pytest.fixture
def stack(aws: None) -> Stack:
    """The template's stack, created in this test's moto (the translation is cached per session)."""
    return Stack.create(TEMPLATE)


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml translated to CloudFormation, as data (event source mappings included)."""
    return translate(TEMPLATE).cfn
