"""HubSpot Forms API v3 submission bodies, for websites that post that shape to us
(``POST /webhooks/hubspot-forms``), as they would to HubSpot's "Submit data to a form" endpoint
(https://developers.hubspot.com/docs/api-reference/legacy/marketing/forms/v3-legacy/submit-data-unauthenticated).

The body::

    {"submittedAt": "1795441800000",
     "fields": [{"objectTypeId": "0-1", "name": "email", "value": "..."},
                {"objectTypeId": "0-2", "name": "name", "value": "Nordwerk Industrie GmbH"}],
     "context": {"hutk": "...", "pageUri": "https://...", "pageName": "Request a demo"},
     "legalConsentOptions": {"consent": {"consentToProcess": true, ...}}}

- ``fields[]`` with ``objectTypeId`` ``0-1`` (contact; the default when absent) go through the form alias
  table by their internal name (``firstname``, ``jobtitle``, ``numemployees``...); ``0-2`` (company) fields
  are company properties: ``name`` is the company, ``numberofemployees`` its size, ``annualrevenue``,
  ``industry``, ``country``, ``domain``/``website``; other company fields are kept as ``company_<name>``.
  Other object types are kept as ``<objectTypeId>_<name>`` properties, never as profile fields.
- ``submittedAt`` (epoch milliseconds, a string or a number) is ``occurred_at``; anything else is a 422
  naming it. ``context.pageUri`` is the page (``page_url``, ``path``, its ``utm_*``); the form is
  named by ``?form=`` in the URL, else ``context.pageName``, else ``?formGuid=``; ``context.hutk``
  (HubSpot's visitor cookie) and ``context.pageId`` are kept as properties; ``context.ipAddress`` is not
  stored.
- ``legalConsentOptions.consent.consentToProcess`` is kept as ``consent_to_process``.
- Event id: a hash of the mapped submission (``submittedAt`` included), so a re-post is counted once.

The route is public, like ``POST /forms``: a browser posts it with no secret, and the same honeypot fields
apply. The source of its events is ``hubspot-forms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, UnprocessableError
from leadscore.ingest.normalize import parse_time, snake_key
from leadscore.ingest.providers.common import add_submission, json_object, section, text
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult

SOURCE = "hubspot-forms"
CONTACT = "0-1"
COMPANY = "0-2"
MAX_FIELDS = 1000  # HubSpot's own limit per submission
_COMPANY_FIELDS: Mapping[str, str] = {
    "name": "company",
    "numberofemployees": "company_size",
    "annualrevenue": "revenue",
    "industry": "industry",
    "country": "country",
    "domain": "website",
    "website": "website",
}


def _field_pairs(fields: Any) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Contact fields (and the company's profile fields) as form pairs; the other fields as properties,
    which never reach the alias table (a company's ``email`` must not become the contact's)."""
    if not isinstance(fields, list) or not fields:
        raise MalformedBodyError('fields: a HubSpot Forms v3 body has "fields": [{"name", "value"}, ...]')
    if len(fields) > MAX_FIELDS:
        raise UnprocessableError(f"fields: at most {MAX_FIELDS} fields per submission")
    contact: list[tuple[str, Any]] = []
    company: list[tuple[str, Any]] = []
    extra: dict[str, Any] = {}
    for index, field in enumerate(fields):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            raise MalformedBodyError(f"fields[{index}]: an object with a string name")
        name, value = field["name"].strip(), field.get("value")
        if isinstance(value, dict | list):
            raise UnprocessableError(f"fields[{index}].value: must be a string, number or boolean")
        object_type = text(field.get("objectTypeId")) or CONTACT
        if object_type == CONTACT:
            contact.append((name, value))
        elif object_type == COMPANY:
            target = _COMPANY_FIELDS.get(name.lower())
            if target:
                company.append((target, value))
            else:
                extra.setdefault(snake_key(f"company_{name}"), value)
        else:
            extra.setdefault(snake_key(f"{object_type}_{name}"), value)
    return contact + company, extra


def _submitted_at(value: Any) -> str | None:
    if value is None or value == "":
        return None
    millis = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not millis.isdigit() or parse_time(int(millis)) is None:
        raise UnprocessableError(
            "submittedAt: must be epoch milliseconds", details=['submittedAt: e.g. "1795441800000"']
        )
    return millis


class HubspotFormsProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        """Public, like ``POST /forms``: nothing to verify (HubSpot's own endpoint takes no secret)."""

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        document = json_object(request, "HubSpot Forms v3")
        result = IngestResult(source=SOURCE)
        pairs, extra = _field_pairs(document.get("fields"))
        if any(name in config.honeypot_fields and value not in (None, "") for name, value in pairs):
            result.honeypot = True
            return result
        pairs = [(name, value) for name, value in pairs if name not in config.honeypot_fields]
        context = section(document, "context")
        submitted = _submitted_at(document.get("submittedAt"))
        page_uri = text(context.get("pageUri"))
        if page_uri:
            pairs.append(("page_url", page_uri))
        if submitted:
            pairs.append(("submitted_at", submitted))
        consent = section(section(document, "legalConsentOptions"), "consent").get("consentToProcess")
        form_name = (
            text(request.query_value("form"))
            or text(context.get("pageName"))
            or text(request.query_value("formGuid"))
            or "HubSpot form"
        )
        add_submission(
            result,
            pairs,
            request,
            config,
            relayed=False,
            form_name=form_name[:200],
            extra_properties={
                **extra,
                "hutk": text(context.get("hutk")),
                "page_id": text(context.get("pageId")),
                "consent_to_process": consent if isinstance(consent, bool) else None,
            },
        )
        return result


PROVIDER = HubspotFormsProvider()
