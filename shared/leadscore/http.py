"""HTTP answers shared by every API handler: JSON bodies, typed JSON errors, one handler per error type."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from leadscore.observability import count, logger, redact

ErrorHandler = Callable[[Any], Response[str]]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """``{"error": code, "message": ..., "details": [...]}``, counted and logged (redacted, no body)."""
    count("RequestsRejected", status=int(status), error=code)
    logger.warning(
        "request rejected", extra={"status": int(status), "error": code, "reason": redact(message)}
    )
    return json_response(status, {"error": code, "message": message, "details": details or []}, headers)


def unexpected_error(exc: Exception) -> Response[str]:
    # The stack frames, not the exception message: a message may quote the caller's input.
    stack = traceback.format_tb(exc.__traceback__)
    logger.error("unexpected error", extra={"error_type": type(exc).__name__, "stack": stack})
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "unexpected error")


def misconfigured(exc: Exception) -> Response[str]:
    """The deployment is wrong (a missing variable, an unreadable secret): our fault, never the caller's."""
    logger.error("configuration error", extra={"reason": redact(str(exc))})
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return error_response(status, "configuration_error", "the service is misconfigured")


def register_error_handlers(
    app: APIGatewayHttpResolver, handlers: Iterable[tuple[type[Exception], ErrorHandler]]
) -> None:
    """One handler per error type (Powertools picks the most specific by MRO). A table, because
    Powertools' exception_handler decorator is untyped."""
    for exc_type, handler in handlers:
        app.exception_handler(exc_type)(handler)
