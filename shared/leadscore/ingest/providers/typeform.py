"""Typeform webhooks (https://www.typeform.com/developers/webhooks/).

Typeform POSTs one JSON ``form_response`` per submission. With a webhook secret set, it sends
``Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, raw body)>``. The signature carries no timestamp,
so a replayed delivery verifies: it maps to the same ``event_id`` (Typeform's ``event_id``), and the scorer's
event-id dedupe drops it.

Mapping: every answer is matched to its question by the answer's ``field`` (``ref``/``id``), never by its
position, and becomes a ``(name, value)`` pair that goes through the form alias table. The name is the
field's ``ref`` when the alias table knows it (a form builder sets refs such as ``job_title`` or
``company_size`` once, while titles are questions: "What's your role?"), else its title, else the ref.
Choice answers give their labels (``choices`` every label); email answers are ``email``; hidden fields
(``utm_source``...) join as they are. One ``form_submit`` with a Profile.
Secret: ``TYPEFORM_SECRET`` / ``TYPEFORM_SECRET_PARAM``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import SignatureError
from leadscore.ingest.forms import build_alias_index, normalize_field_name
from leadscore.ingest.providers.common import add_submission, check_hmac, form_response, section, text
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import hmac_digest, required_header

SOURCE = "typeform"
CREDENTIAL_VARIABLE = "TYPEFORM_SECRET"
SIGNATURE_HEADER = "Typeform-Signature"

# answer "type" → the key holding its value
_ANSWER_VALUE = {
    "text": "text",
    "email": "email",
    "phone_number": "phone_number",
    "url": "url",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "file_url": None,
    "payment": None,
}


def sign(body: bytes, secret: str) -> str:
    """The ``Typeform-Signature`` header value for ``body`` (tests and samples)."""
    return "sha256=" + hmac_digest(secret.encode(), body, encoding="base64")


def _signed(request: IngestRequest, config: IngestConfig) -> tuple[bytes, str]:
    header = required_header(request, SIGNATURE_HEADER)
    scheme, _, signature = header.strip().partition("=")
    if scheme != "sha256" or not signature:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is not sha256=<base64>")
    return request.body, signature


class TypeformProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        mismatch = "the Typeform signature does not match the body"
        check_hmac(request, config, CREDENTIAL_VARIABLE, "Typeform", _signed, mismatch, encoding="base64")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        read = form_response(
            request, SOURCE, "Typeform", "form_response", event_key="event_type", event="form_response"
        )
        if isinstance(read, IngestResult):
            return read
        document, response = read
        result = IngestResult(source=SOURCE)
        titles = _field_titles(response.get("definition"))
        aliases = build_alias_index(config.field_aliases)
        pairs: list[tuple[str, Any]] = list(_answer_pairs(response.get("answers"), titles, aliases))
        hidden = response.get("hidden")
        if isinstance(hidden, dict):
            pairs.extend((str(k), v) for k, v in hidden.items())
        definition = response.get("definition")
        form_title = text(definition.get("title")) if isinstance(definition, dict) else None
        event_id = text(document.get("event_id")) or text(response.get("token"))
        add_submission(
            result,
            pairs,
            request,
            config,
            event_id=f"typeform:{event_id}" if event_id else None,
            form_name=form_title or text(response.get("form_id")),
            submitted_at=response.get("submitted_at"),
            extra_properties={"form_id": response.get("form_id")},
        )
        return result


def _field_titles(definition: Any) -> Mapping[str, str]:
    titles: dict[str, str] = {}
    if isinstance(definition, dict) and isinstance(definition.get("fields"), list):
        for item in definition["fields"]:
            if (
                isinstance(item, dict)
                and isinstance(item.get("id"), str)
                and isinstance(item.get("title"), str)
            ):
                titles[item["id"]] = item["title"]
    return titles


def _answer_pairs(
    answers: Any, titles: Mapping[str, str], aliases: Mapping[str, str]
) -> Iterable[tuple[str, Any]]:
    if not isinstance(answers, list):
        return
    for answer in answers:
        if not isinstance(answer, dict):
            continue
        kind = answer.get("type")
        field = section(answer, "field")
        ref = text(field.get("ref"))
        if ref and normalize_field_name(ref) in aliases:
            label: str | None = ref
        else:
            label = titles.get(str(field.get("id"))) or ref or text(field.get("id"))
        if kind == "email":
            label = "email"  # an email question is the lead's email whatever its title
        if not label:
            continue
        if kind == "choice" and isinstance(answer.get("choice"), dict):
            value: Any = answer["choice"].get("label") or answer["choice"].get("other")
        elif kind == "choices" and isinstance(answer.get("choices"), dict):
            value = answer["choices"].get("labels")
        elif isinstance(kind, str) and _ANSWER_VALUE.get(kind):
            value = answer.get(str(_ANSWER_VALUE[kind]))
        else:
            continue
        yield label, value


PROVIDER = TypeformProvider()
