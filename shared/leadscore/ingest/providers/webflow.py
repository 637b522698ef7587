"""Webflow form submissions (https://developers.webflow.com/data/reference/webhooks), trigger
``form_submission``.

Webhooks created by an OAuth app (or with a webhook secret) carry ``x-webflow-timestamp`` (epoch
milliseconds) and ``x-webflow-signature`` = hex HMAC-SHA256(secret, ``timestamp + ":" + raw body``). We
refuse timestamps more than 5 minutes from now. Mapping: ``payload.data`` (field name → value) goes through
the form alias table; ``payload.id`` is the event id.
Secret: ``WEBFLOW_SECRET`` / ``WEBFLOW_SECRET_PARAM`` (the app's client secret or the webhook secret).
"""

from __future__ import annotations

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.providers.common import (
    add_submission,
    check_hmac,
    json_object,
    text,
    timestamped_signature,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import hmac_digest

SOURCE = "webflow"
CREDENTIAL_VARIABLE = "WEBFLOW_SECRET"
SIGNATURE_HEADER = "x-webflow-signature"
TIMESTAMP_HEADER = "x-webflow-timestamp"


def sign(body: bytes, timestamp_ms: str, secret: str) -> str:
    return hmac_digest(secret.encode(), timestamp_ms.encode() + b":" + body)


def _signed(request: IngestRequest, config: IngestConfig) -> tuple[bytes, str]:
    signature, timestamp = timestamped_signature(request, config, SIGNATURE_HEADER, TIMESTAMP_HEADER)
    return timestamp.encode() + b":" + request.body, signature


class WebflowProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        mismatch = "the Webflow signature does not match the body and timestamp"
        check_hmac(request, config, CREDENTIAL_VARIABLE, "Webflow", _signed, mismatch)

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        document = json_object(request, "Webflow webhook")
        result = IngestResult(source=SOURCE)
        trigger = document.get("triggerType")
        if trigger is not None and trigger != "form_submission":
            result.ignore(0, f"trigger {str(trigger)[:40]!r} is not form_submission")
            return result
        payload = document.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise MalformedBodyError("a Webflow form_submission body has payload.data (field name → value)")
        submission_id = text(payload.get("id"))
        add_submission(
            result,
            [(str(k), v) for k, v in payload["data"].items()],
            request,
            config,
            event_id=f"webflow:{submission_id}" if submission_id else None,
            form_name=text(payload.get("name")),
            submitted_at=payload.get("submittedAt"),
            extra_properties={"site_id": payload.get("siteId"), "form_id": payload.get("formId")},
        )
        return result


PROVIDER = WebflowProvider()
