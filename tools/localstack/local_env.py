"""The local variables docs/connect.md documents, honoured by the local stack (``make serve``, tests).

A function runs locally with exactly its template environment (``Stack.environment``), so a variable
the template declares from a parameter (``SES_SNS_TOPIC_ARNS: !Ref SesSnsTopicArns``) would be set to
the parameter's empty default whatever the shell exported. Those variables are read here from the
process environment and passed as the template parameters instead: the stack then carries them,
exactly as a deployment with those parameters would.

Plain secrets (``TYPEFORM_SECRET`` and the like, docs/connect.md "Local mode") are not declared by
the template and reach the handler from the process environment unchanged.

``SNS_SIGNING_CERT_FILE`` (local only): a PEM certificate file trusted as the SNS signing certificate
for every ``SigningCertURL`` (which must still be an ``https://sns.<region>.amazonaws.com/`` URL), read
from disk with no network, e.g. ``events/keys/sns-test-cert.pem`` for messages signed with the test key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# Documented local variable -> the template parameter that sets it in the function's environment.
PARAMETER_VARIABLES: Mapping[str, str] = {
    "SES_SNS_TOPIC_ARNS": "SesSnsTopicArns",
    "HUBSPOT_WEBHOOK_BASE_URL": "HubspotWebhookBaseUrl",
    "MANDRILL_WEBHOOK_URL": "MandrillWebhookUrl",
    "ALLOWED_ORIGINS": "AllowedOrigins",  # the HTTP API's CORS origins, comma-separated
    "LEADSCORE_FORM_REDIRECT_URLS": "FormRedirectUrls",  # thank-you pages a form may 303 to (docs/website.md)
}
CERTIFICATE_FILE_VARIABLE = "SNS_SIGNING_CERT_FILE"


class LocalEnvError(ValueError):
    """A documented local variable holds something the local stack cannot use (named in the message)."""


def parameters_from(environ: Mapping[str, str]) -> dict[str, str]:
    """Template parameter overrides for the documented variables set (non-empty) in ``environ``."""
    out: dict[str, str] = {}
    for variable, parameter in PARAMETER_VARIABLES.items():
        value = environ.get(variable, "").strip()
        if value:
            if parameter == "AllowedOrigins":
                value = ",".join(part.strip() for part in value.split(",") if part.strip())
            out[parameter] = value
    return out


def trust_certificate_file(environ: Mapping[str, str], root: Path | None = None) -> Path | None:
    """With ``SNS_SIGNING_CERT_FILE`` set, make the SES handler verify SNS signatures with that file's
    certificate (no network). Returns the file, or None when the variable is not set."""
    raw = environ.get(CERTIFICATE_FILE_VARIABLE, "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute() and root is not None:
        path = root / path
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise LocalEnvError(f"{CERTIFICATE_FILE_VARIABLE}={raw}: cannot read it ({exc.strerror})") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise LocalEnvError(f"{CERTIFICATE_FILE_VARIABLE}={raw}: not a PEM certificate")
    from leadscore.ingest.providers.ses import set_certificate_fetcher

    set_certificate_fetcher(lambda url: pem)
    return path
