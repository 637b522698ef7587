"""The ingest errors, one class per HTTP outcome. The handler maps each class to its status in one place.

Each is a :class:`~leadscore.errors.BadRequestError` (or :class:`~leadscore.errors.UnauthorizedError`), so
code that only knows the base classes still answers with the right 4xx. ``code`` is the machine-readable
``error`` field of the JSON error body.
"""

from __future__ import annotations

from typing import ClassVar

from leadscore.errors import BadRequestError, UnauthorizedError


class MalformedBodyError(BadRequestError):
    """The body cannot be parsed (bad JSON, bad base64, wrong top-level shape). 400."""

    status = 400
    code: ClassVar[str] = "malformed_body"


class SignatureError(UnauthorizedError):
    """A missing or bad signature, a stale timestamp, or no verification key configured. 401.

    ``challenge``: the ``WWW-Authenticate`` value the 401 carries (RFC 9110 section 11.6.1), for routes
    that take a standard HTTP authentication scheme; None for provider signatures (no such scheme)."""

    status = 401
    code: ClassVar[str] = "unauthorized"
    challenge: ClassVar[str | None] = None


BASIC_CHALLENGE = 'Basic realm="leadscore webhooks", charset="UTF-8"'  # RFC 7617


class BasicAuthError(SignatureError):
    """401 on a route taking HTTP Basic credentials (Postmark): it carries ``WWW-Authenticate: Basic``."""

    challenge: ClassVar[str | None] = BASIC_CHALLENGE


class BearerOrBasicAuthError(SignatureError):
    """401 on a route that takes a bearer token or Basic credentials (Brevo): both challenges."""

    challenge: ClassVar[str | None] = 'Bearer realm="leadscore webhooks", ' + BASIC_CHALLENGE


class UnknownProviderError(BadRequestError):
    """``POST /webhooks/<provider>`` for a provider we have no module for. 404."""

    status = 404
    code: ClassVar[str] = "unknown_provider"


class PayloadTooLargeError(BadRequestError):
    """The body is larger than ``MAX_BODY_BYTES``. Checked before anything is decoded or parsed. 413."""

    status = 413
    code: ClassVar[str] = "payload_too_large"


class UnsupportedMediaTypeError(BadRequestError):
    """The route does not accept this ``Content-Type``. 415."""

    status = 415
    code: ClassVar[str] = "unsupported_media_type"


class UnprocessableError(BadRequestError):
    """Well-formed, but nothing usable in it (no email or anonymous id, invalid email...). 422."""

    status = 422
    code: ClassVar[str] = "unprocessable"


class UpstreamUnavailableError(BadRequestError):
    """A provider's own service could not be reached to verify a request (the SNS signing certificate, a
    subscription confirmation): 503 with ``Retry-After``, so the sender retries. Never caused by a body."""

    status = 503
    code: ClassVar[str] = "upstream_unavailable"


class RedirectNotAllowedError(BadRequestError):
    """A form's ``_redirect`` is not one of the configured thank-you URLs (no open redirect). 400."""

    status = 400
    code: ClassVar[str] = "redirect_not_allowed"
