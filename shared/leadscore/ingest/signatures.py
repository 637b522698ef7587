"""Webhook signature helpers any provider can use: ECDSA P-256/SHA-256 public keys (SendGrid, and others
that sign with an asymmetric key), HMAC-SHA256 shared secrets, and the timestamp freshness check.

``cryptography`` is imported inside the functions that need it, never at module import: most requests
(forms, tracking) never verify anything, and the import costs cold-start time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from leadscore.errors import ConfigurationError
from leadscore.ingest.errors import SignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

    from leadscore.ingest.request import IngestRequest


def _b64decode(text: str) -> bytes:
    compact = "".join(text.split())
    return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)


@lru_cache(maxsize=32)
def load_ec_public_key(spec: str) -> EllipticCurvePublicKey:
    """An EC public key from base64 DER (SubjectPublicKeyInfo, as SendGrid shows it) or a PEM block.

    A key that cannot be read is a deployment mistake: :class:`ConfigurationError`, never a 401.
    """
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    try:
        if "-----BEGIN" in spec:
            key = load_pem_public_key(spec.encode())
        else:
            key = load_der_public_key(_b64decode(spec))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ConfigurationError(
            "a configured webhook public key is not a valid base64 DER or PEM key"
        ) from exc
    if not isinstance(key, EllipticCurvePublicKey):
        raise ConfigurationError("a configured webhook public key is not an elliptic-curve key")
    return key


def verify_ecdsa_sha256(message: bytes, signature_b64: str, public_keys: Sequence[str]) -> bool:
    """True if ``signature_b64`` (base64 of a DER ECDSA signature) signs ``message`` under any of the keys.

    Trying every configured key is what makes rotation work: add the new key, then remove the old one.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
    from cryptography.hazmat.primitives.hashes import SHA256

    try:
        signature = _b64decode(signature_b64)
    except (binascii.Error, ValueError):
        return False
    if not signature:
        return False
    for spec in public_keys:
        key = load_ec_public_key(spec)
        try:
            key.verify(signature, message, ECDSA(SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def verify_hmac_sha256(
    message: bytes, signature: str, secrets: Sequence[bytes], *, encoding: str = "hex"
) -> bool:
    """True if ``signature`` (hex or base64) is HMAC-SHA256 of ``message`` under any secret. Constant time."""
    return verify_hmac(message, signature, secrets, encoding=encoding)


def hmac_digest(secret: bytes, message: bytes, *, algorithm: str = "sha256", encoding: str = "hex") -> str:
    """HMAC of ``message`` as hex or base64 (for verifying, and for signing test requests)."""
    digest = hmac.new(secret, message, getattr(hashlib, algorithm)).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def verify_hmac(
    message: bytes,
    signature: str,
    secrets: Sequence[bytes],
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
) -> bool:
    """True if ``signature`` is the HMAC (``algorithm``, hex or base64) of ``message`` under any secret.

    Every secret is tried (rotation); each comparison is constant time (:func:`hmac.compare_digest`).
    """
    given = signature.strip().encode("utf-8", "replace")
    if encoding == "hex":
        given = given.lower()
    matched = False
    for secret in secrets:
        expected = hmac_digest(secret, message, algorithm=algorithm, encoding=encoding).encode()
        matched |= hmac.compare_digest(expected, given)
    return matched


def matches_any(given: str, secrets: Sequence[str]) -> bool:
    """Constant-time comparison of a token or password against every configured value."""
    candidate = given.encode("utf-8", "replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(candidate, secret.encode("utf-8"))
    return matched


def basic_credentials(authorization: str | None) -> str | None:
    """``Authorization: Basic dXNlcjpwYXNz`` → ``"user:pass"``; None when absent or not Basic."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        return _b64decode(encoded.strip()).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def required_header(request: IngestRequest, name: str) -> str:
    """A signature header's value, or 401 naming the header."""
    value = request.header(name)
    if not value or not value.strip():
        raise SignatureError(f"the {name} header is missing")
    return value


def check_timestamp(
    value: str | None, *, now: float, tolerance_seconds: int, header: str, millis: bool = False
) -> int:
    """The signed epoch timestamp (seconds, or milliseconds with ``millis``) if it is within
    ``tolerance_seconds`` of ``now``; else 401.

    Both directions count: a timestamp far in the future is as suspicious as a replayed old one.
    """
    if value is None or not value.strip():
        raise SignatureError(f"the {header} header is missing")
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > (15 if millis else 12):
        unit = "milliseconds" if millis else "seconds"
        raise SignatureError(f"the {header} header is not an epoch-{unit} timestamp")
    timestamp = int(text)
    skew = abs(now - (timestamp / 1000 if millis else timestamp))
    if skew > tolerance_seconds:
        raise SignatureError(
            f"the signed timestamp is stale ({int(skew)} s from now; tolerance {tolerance_seconds} s)",
            details=[f"{header}: outside the {tolerance_seconds} s tolerance"],
        )
    return timestamp
