"""The sales alerts topic (SNS): publish, and tell a permanent refusal from a passing failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from leadscore.dal import clients

# SNS error codes that a retry of the same request cannot fix (Publish's documented errors).
PERMANENT = frozenset(
    {
        "InvalidParameter",
        "InvalidParameterValue",
        "ParameterValueInvalid",
        "ValidationError",
        "NotFound",
        "AuthorizationError",
        "InvalidSecurity",
    }
)


class PublishRefused(Exception):
    """SNS refused the request for good (``code`` names why; never the message)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PublishFailed(Exception):
    """A failure a later attempt may not meet (throttling, SNS or KMS unavailable, the network)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


Result = PublishFailed | PublishRefused | None  # per message or entry: None when it was accepted


def call[T](request: Callable[[], T], refused: frozenset[str]) -> T:
    """Make an AWS request: an error code in ``refused`` raises :class:`PublishRefused`, any other
    failure (an error code, the network) :class:`PublishFailed`."""
    try:
        return request()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        if code in refused:
            raise PublishRefused(code) from None
        raise PublishFailed(code) from None
    except BotoCoreError as exc:
        raise PublishFailed(type(exc).__name__) from None


class Topic:
    def __init__(self, arn: str) -> None:
        self.arn = arn

    def publish(self, request: dict[str, Any]) -> str:
        """Publish; returns the message id. Raises :class:`PublishRefused` or :class:`PublishFailed`."""
        response = call(lambda: clients.sns().publish(TopicArn=self.arn, **request), PERMANENT)
        return str(response.get("MessageId", ""))
