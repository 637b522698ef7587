"""moto's in-process AWS for the tests that run IngestFunction (or its queue code) without the whole
stack: the testing credentials, nothing that would send boto3 elsewhere, fresh leadscore clients and
settings on the way in and out, and the events queue as ``EVENTS_QUEUE_URL``.

Integration tests only: importing this imports moto."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from leadscore.dal.clients import reset_clients
from leadscore.settings import get_settings
from moto import mock_aws

TESTING_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An SQS client under ``mock_aws`` with the testing credentials (an ``AWS_ENDPOINT_URL*`` or
    ``AWS_PROFILE`` of the caller's shell removed: they defeat the mock)."""
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key == "AWS_PROFILE":
            monkeypatch.delenv(key)
    for name, value in TESTING_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    get_settings.cache_clear()
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")
    reset_clients()
    get_settings.cache_clear()


@contextmanager
def events_queue(monkeypatch: pytest.MonkeyPatch, name: str = "events") -> Iterator[tuple[Any, str]]:
    """:func:`moto_sqs` and a queue ``name`` set as ``EVENTS_QUEUE_URL``; yields the client and its URL."""
    with moto_sqs(monkeypatch) as sqs:
        url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        monkeypatch.setenv("EVENTS_QUEUE_URL", url)
        get_settings.cache_clear()
        yield sqs, url
