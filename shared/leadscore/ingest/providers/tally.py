"""Tally form webhooks (https://tally.so/help/webhooks).

Tally POSTs one JSON ``FORM_RESPONSE`` event per submission. With a signing secret set, it sends
``Tally-Signature: <base64 HMAC-SHA256(secret, raw body)>``. No timestamp is signed: a replayed delivery maps
to the same ``event_id`` (Tally's ``eventId``) and is dropped by the scorer's event-id dedupe.

Mapping: ``data.fields[]`` (``label``, ``type``, ``value``; choice values resolved through ``options``) go
through the form alias table; any ``INPUT_EMAIL`` field is the email. One ``form_submit`` with a Profile.
Secret: ``TALLY_SIGNING_SECRET`` / ``TALLY_SIGNING_SECRET_PARAM``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.providers.common import add_submission, check_hmac, form_response, text
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import hmac_digest, required_header

SOURCE = "tally"
CREDENTIAL_VARIABLE = "TALLY_SIGNING_SECRET"
SIGNATURE_HEADER = "Tally-Signature"


def sign(body: bytes, secret: str) -> str:
    return hmac_digest(secret.encode(), body, encoding="base64")


def _signed(request: IngestRequest, config: IngestConfig) -> tuple[bytes, str]:
    return request.body, required_header(request, SIGNATURE_HEADER)


class TallyProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        mismatch = "the Tally signature does not match the body"
        check_hmac(request, config, CREDENTIAL_VARIABLE, "Tally", _signed, mismatch, encoding="base64")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        read = form_response(request, SOURCE, "Tally", "data", event_key="eventType", event="FORM_RESPONSE")
        if isinstance(read, IngestResult):
            return read
        document, data = read
        result = IngestResult(source=SOURCE)
        event_id = text(document.get("eventId")) or text(data.get("responseId"))
        add_submission(
            result,
            list(_pairs(data.get("fields"))),
            request,
            config,
            event_id=f"tally:{event_id}" if event_id else None,
            form_name=text(data.get("formName")) or text(data.get("formId")),
            submitted_at=data.get("createdAt") or document.get("createdAt"),
            extra_properties={"form_id": data.get("formId")},
        )
        return result


def _pairs(fields: Any) -> Iterable[tuple[str, Any]]:
    if not isinstance(fields, list):
        return
    for item in fields:
        if not isinstance(item, dict):
            continue
        label = (
            "email" if item.get("type") == "INPUT_EMAIL" else text(item.get("label")) or text(item.get("key"))
        )
        if not label:
            continue
        value = item.get("value")
        options = item.get("options")
        if isinstance(options, list) and value is not None:
            names = {o.get("id"): o.get("text") for o in options if isinstance(o, dict)}
            chosen = value if isinstance(value, list) else [value]
            value = [names.get(v, v) if isinstance(v, str) else v for v in chosen]
        yield label, value


PROVIDER = TallyProvider()
