"""Dev-only signers: what SendGrid and SNS would send, made with the test keys in ``events/keys``.

The tests and the local demo re-sign the sample events with them. They are not in the Lambda layer:
production only verifies (``leadscore.ingest.signatures``, ``providers.sendgrid``, ``providers.ses``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

from leadscore.ingest.providers.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadscore.ingest.providers.ses import string_to_sign


def sign_ecdsa_sha256(message: bytes, private_key_pem: bytes) -> str:
    """Sign ``message`` with an EC private key (PEM); base64 DER signature."""
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, EllipticCurvePrivateKey):
        raise ValueError("not an elliptic-curve private key")
    return base64.b64encode(key.sign(message, ECDSA(SHA256()))).decode("ascii")


def public_key_b64_from_private_pem(private_key_pem: bytes) -> str:
    """The base64 DER public key of an EC private key (PEM), in the form SendGrid shows its keys."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

    key = load_pem_private_key(private_key_pem, password=None)
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def sign_sendgrid(body: bytes, timestamp: str, private_key_pem: bytes) -> str:
    """The ``X-Twilio-Email-Event-Webhook-Signature`` SendGrid would send for ``body`` at ``timestamp``."""
    return sign_ecdsa_sha256(timestamp.encode("utf-8") + body, private_key_pem)


def signed_headers(body: bytes, private_key_pem: bytes, timestamp: str | None = None) -> dict[str, str]:
    """Both signature headers for ``body`` signed now (or at ``timestamp``), with a JSON content type."""
    ts = timestamp if timestamp is not None else str(int(time.time()))
    return {
        "content-type": "application/json",
        SIGNATURE_HEADER.lower(): sign_sendgrid(body, ts, private_key_pem),
        TIMESTAMP_HEADER.lower(): ts,
    }


def sign_sns_message(message: Mapping[str, Any], private_key_pem: bytes) -> str:
    """The ``Signature`` SNS would compute for ``message`` (its ``SignatureVersion``) with an RSA key."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.hashes import SHA1, SHA256
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("not an RSA private key")
    digest = SHA1() if message.get("SignatureVersion") == "1" else SHA256()
    return base64.b64encode(key.sign(string_to_sign(message), PKCS1v15(), digest)).decode("ascii")
