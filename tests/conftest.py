"""Fixtures: `aws` (moto in-process, clean caches) and `stack` (template.yaml created in moto).

def test_something(stack):
    stack.upload_rules(example_rules_json())
    stack.invoke("IngestFunction", stack.http_event("POST", "/forms", body, headers))
    stack.drain()
    assert stack.inbox()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from moto import mock_aws

from tests.support import FAKE_CREDENTIALS, TEMPLATE, Stack, endpoint_variables, reset_caches, translate
from tests.support.faults import faults  # noqa: F401 (a fixture: test_guarantees and test_soak inject AWS errors)


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


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real moto server on 127.0.0.1 (threads and processes talk to it over HTTP); yields its URL."""
    from moto.server import ThreadedMotoServer

    from tools.local.stack import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", endpoint)
    reset_caches()
    try:
        yield endpoint
    finally:
        server.stop()
        reset_caches()


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto checks a ConditionExpression and then writes, with no lock: two threads can both pass the
    check. Real DynamoDB evaluates the condition and writes atomically per item, which is what the
    optimistic writes rely on. Concurrency tests use this so that they test our code, not moto's race.
    """
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, functools.wraps(original)(locked))


@pytest.fixture
def pin_clock() -> Iterator[Callable[[datetime | None], None]]:
    """Pin leadscore's scoring clock (dated samples score as of their time); real time again after."""
    from leadscore import clock

    yield clock.pin
    clock.pin(None)


# The longest files first: with `make test`'s workers (pytest-xdist, --dist loadfile) each file runs
# on one worker, so the soak (minutes alone) starts at once beside the rest instead of last.
# Measured with `pytest -n auto --dist loadfile --durations=0` on 2026-12-03 (seconds per file: soak 150,
# sweep 95, iam 73, Lead API 60, ingest properties 51, guarantees 38, storage 35, CRM sync 32).
SLOWEST_FIRST = (
    "test_soak.py",
    "test_sweep.py",
    "test_iam.py",
    "test_leads_api.py",
    "test_ingest_handler_properties.py",
    "test_guarantees.py",
    "test_storage.py",
    "test_crm_sync.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
