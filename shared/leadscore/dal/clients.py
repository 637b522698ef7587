"""boto3 clients: created on first use, cached per container, never at import.

Lazy creation keeps cold starts small (each client costs ~27 ms) and lets moto intercept them.
Tests call :func:`reset_clients` so that no client outlives the mock it was made under.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient


@cache
def _config() -> Any:
    from botocore.config import Config

    # Standard retry mode: exponential backoff with full jitter, throttling-aware, 5 attempts.
    # No client-side parameter validation: every request is built by this package's adapters (typed
    # by the boto3 stubs and exercised against moto in the tests), and validating a lead item's
    # nested attribute values cost ~170 us of CPU per call on the scoring path (``make bench``
    # profile); AWS validates them again anyway.
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=3,
        read_timeout=10,
        parameter_validation=False,
    )


@cache
def _client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=_config())  # type: ignore[call-overload]


def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def s3() -> S3Client:
    client: S3Client = _client("s3")
    return client


def sns() -> SNSClient:
    client: SNSClient = _client("sns")
    return client


def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


def events() -> Any:
    """EventBridge (no type stubs installed: ``leadscore.dal.eventbus`` is its only caller)."""
    return _client("events")


def reset_clients() -> None:
    """Forget every cached client (tests, or after changing the endpoint)."""
    _client.cache_clear()
