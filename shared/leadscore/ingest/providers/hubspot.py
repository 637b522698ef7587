"""HubSpot (https://developers.hubspot.com/docs/api/webhooks/validating-requests), request signature v3.

HubSpot sends ``X-HubSpot-Signature-v3`` = base64 HMAC-SHA256(client secret, method + URI + raw body +
timestamp) and ``X-HubSpot-Request-Timestamp`` (epoch milliseconds); requests more than 5 minutes old (or
ahead) are refused. The URI is the full URL HubSpot called (``https://host/path?query``), with the
characters HubSpot decodes (``%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B``) decoded. Behind a custom
domain or proxy, set ``HUBSPOT_WEBHOOK_BASE_URL`` (``https://hooks.example.com``) so the URL is rebuilt as
HubSpot saw it.

Bodies:

- a JSON **object** (a workflow "Send a webhook" action, or a form submission relayed as contact
  properties; values may be plain or ``{"value": ...}``) → one ``form_submit`` with a Profile, through the
  form alias table (``firstname``, ``jobtitle``, ``company``...). Event id: ``hs_form_submission_id``,
  ``conversion-id`` or a content hash;
- a JSON object with ``dealstage`` or ``hs_is_closed_won`` (a **deal** workflow's "Send a webhook") →
  closed won/lost: a ``crm_outcome`` (amount, ``deal_currency_code``), event id
  ``hubspot:deal:<id>:<converted|lost>``; open: a ``crm_stage`` to ``opportunity``. A deal names no
  person: the workflow must put the associated contact's email in the body (``leadscore_email``,
  docs/connect.md "Outcomes and stages from the CRM");
- a contact object with ``lifecyclestage`` (HubSpot's default stages) or ``leadscore_stage`` (``sal``,
  ``rejected`` with ``leadscore_rejection_reason``) also moves the lead's stage (``crm_stage``);
- a JSON **array** of webhook-subscription events → ``contact.propertyChange`` on ``email`` becomes an
  ``identify`` for that email (event id ``hubspot:<eventId>``); other events carry no email and are ignored
  with a reason.

Secret: ``HUBSPOT_CLIENT_SECRET`` / ``HUBSPOT_CLIENT_SECRET_PARAM``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError, UnprocessableError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    add_email_event,
    add_submission,
    check_hmac,
    json_document,
    text,
    timestamped_signature,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.ingest.signatures import hmac_digest
from leadscore.models.event import EventType

SOURCE = "hubspot"
CREDENTIAL_VARIABLE = "HUBSPOT_CLIENT_SECRET"
BASE_URL_SETTING = "HUBSPOT_WEBHOOK_BASE_URL"
SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def hubspot_uri(url: str) -> str:
    """The URI as HubSpot signs it: the listed percent-escapes decoded (either case)."""
    out = url
    for escape, char in _DECODED.items():
        out = out.replace(escape, char).replace(escape.lower(), char)
    return out


def signed_message(method: str, uri: str, body: bytes, timestamp_ms: str) -> bytes:
    return method.upper().encode() + hubspot_uri(uri).encode() + body + timestamp_ms.encode()


def sign(method: str, uri: str, body: bytes, timestamp_ms: str, secret: str) -> str:
    return hmac_digest(secret.encode(), signed_message(method, uri, body, timestamp_ms), encoding="base64")


def _signed(request: IngestRequest, config: IngestConfig) -> tuple[bytes, str]:
    signature, timestamp = timestamped_signature(request, config, SIGNATURE_HEADER, TIMESTAMP_HEADER)
    uri = request.public_url(config.setting(BASE_URL_SETTING))
    return signed_message(request.method, uri, request.body, timestamp), signature


class HubSpotProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        mismatch = "the HubSpot v3 signature does not match the request"
        check_hmac(request, config, CREDENTIAL_VARIABLE, "HubSpot", _signed, mismatch, encoding="base64")

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        document = json_document(request)
        result = IngestResult(source=SOURCE)
        if isinstance(document, dict):
            _add_submission(result, document, request, config)
        elif isinstance(document, list):
            for index, item in enumerate(document):
                _add_subscription_event(result, index, item, request)
        else:
            raise MalformedBodyError("a HubSpot body is a JSON object (contact) or array (webhook events)")
        return result


def _value(raw: Any) -> Any:
    return raw.get("value") if isinstance(raw, dict) else raw


def _contact_pairs(document: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    properties = document.get("properties")
    if isinstance(properties, dict):
        yield from ((str(k), _value(v)) for k, v in properties.items())
    fields = document.get("fields")
    if isinstance(fields, list):  # a form submission: [{"name": "email", "value": "..."}]
        for item in fields:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                yield item["name"], item.get("value")
    for key, value in document.items():
        if key not in ("properties", "fields") and not isinstance(value, dict | list):
            yield str(key), value


# HubSpot's default lifecycle stages -> leadscore's (leadscore.scoring.lifecycle); others are ignored.
LIFECYCLE_STAGES = {
    "subscriber": "subscriber",
    "lead": "lead",
    "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "customer",
}
# Where a deal's webhook carries the person: the associated contact's email, put in the request body
# by the workflow (or copied to a deal property). HubSpot's webhook subscriptions carry no associations.
DEAL_EMAIL_KEYS = ("leadscore_email", "contact_email", "associated_contact_email", "email")


def _won(values: Mapping[str, Any]) -> str | None:
    """``converted`` / ``lost`` for a closed deal, None for an open one. ``hs_is_closed_won`` (any
    pipeline) wins over the default pipeline's stage ids ``closedwon`` / ``closedlost``."""
    closed_won = str(values.get("hs_is_closed_won", "")).lower()
    closed = str(values.get("hs_is_closed", "")).lower()
    if closed_won == "true":
        return "converted"
    if closed_won == "false" and closed == "true":
        return "lost"
    stage = str(values.get("dealstage", "")).lower()
    return {"closedwon": "converted", "closedlost": "lost"}.get(stage)


def _amount(value: Any) -> float | None:
    try:
        amount = float(str(value).replace(",", "")) if value not in (None, "") else None
    except ValueError:
        return None
    return amount if amount is not None and 0 <= amount <= 1e12 else None


def _add_deal(result: IngestResult, values: Mapping[str, Any], request: IngestRequest) -> None:
    """A deal workflow's webhook: closed won/lost -> a ``crm_outcome``; any other stage -> the lead is
    an ``opportunity`` (``crm_stage``). Recorded once per deal and outcome (the event id)."""
    deal = (
        text(str(values.get("hs_object_id") or values.get("dealId") or values.get("objectId") or "")) or "?"
    )
    email = next((values[k] for k in DEAL_EMAIL_KEYS if text(values.get(k))), None)
    if email is None:
        message = "leadscore_email: a deal webhook needs the associated contact's email (docs/connect.md)"
        raise UnprocessableError(message, details=[message])
    status = _won(values)
    when = occurred_at(values.get("closedate") or values.get("hs_lastmodifieddate"), request.received_at)
    kind: EventType = "crm_stage"
    props: dict[str, Any] = {"stage": "opportunity", "crm_object": f"deal:{deal}"}
    event_id = f"hubspot:deal:{deal}:open"
    if status is not None:
        kind, event_id = "crm_outcome", f"hubspot:deal:{deal}:{status}"
        props = {
            "status": status,
            "amount": _amount(values.get("amount")),
            "currency": text(values.get("deal_currency_code")),
            "crm_object": f"deal:{deal}",
        }
    add_email_event(
        result,
        0,
        source=SOURCE,
        event_type=kind,
        name=f"deal {status or 'open'}",
        email=email,
        event_id=event_id,
        fingerprint=values,
        when=when,
        request=request,
        properties=props,
    )


def _add_stage(result: IngestResult, values: Mapping[str, Any], base_id: str, request: IngestRequest) -> None:
    """A contact's stage the CRM moved: ``leadscore_stage`` (``sal``, or ``rejected`` with
    ``leadscore_rejection_reason``) set by sales, else HubSpot's ``lifecyclestage``."""
    stage = text(values.get("leadscore_stage"))
    if stage is None:
        stage = LIFECYCLE_STAGES.get(str(values.get("lifecyclestage", "")).lower())
    if stage is None:
        return
    props = {"stage": stage.lower(), "reason": text(values.get("leadscore_rejection_reason"))}
    props["crm_object"] = f"contact:{text(str(values.get('hs_object_id') or values.get('vid') or '')) or '?'}"
    add_email_event(
        result,
        0,
        source=SOURCE,
        event_type="crm_stage",
        name=f"stage {stage}"[:200],
        email=values.get("email"),
        event_id=f"{base_id}:stage",
        fingerprint=values,
        when=request.received_at,
        request=request,
        properties=props,
    )


def _add_submission(
    result: IngestResult, document: Mapping[str, Any], request: IngestRequest, config: IngestConfig
) -> None:
    pairs = list(_contact_pairs(document))
    values = dict(pairs)
    if "dealstage" in values or "hs_is_closed_won" in values:
        _add_deal(result, values, request)
        return
    submission = text(values.get("hs_form_submission_id")) or text(values.get("conversion-id"))
    event = add_submission(
        result,
        pairs,
        request,
        config,
        event_id=f"hubspot:{submission}" if submission else None,
        form_name=text(values.get("hs_form_title")) or text(values.get("form_name")),
        submitted_at=values.get("submittedAt") or values.get("hs_form_submission_timestamp"),
        extra_properties={"portal_id": document.get("portalId") or document.get("portal-id")},
    )
    _add_stage(result, values, event.event_id, request)


def _add_subscription_event(result: IngestResult, index: int, item: Any, request: IngestRequest) -> None:
    if not isinstance(item, dict):
        result.reject(index, "must be an event object")
        return
    kind = item.get("subscriptionType")
    if not isinstance(kind, str):
        result.reject(index, "subscriptionType: missing or not a string")
        return
    if kind.startswith("deal.") or item.get("propertyName") == "lifecyclestage":
        # No associations and no email in a subscription event: outcomes and stages come through
        # workflows that carry the person (docs/connect.md, "Outcomes and stages from the CRM").
        result.ignore(index, f"{kind[:60]} names no person: send it through a workflow webhook")
        return
    if not (kind == "contact.propertyChange" and item.get("propertyName") == "email"):
        result.ignore(index, f"{kind[:60]} carries no email address")
        return
    event_id = item.get("eventId")
    add_email_event(
        result,
        index,
        source=SOURCE,
        event_type="identify",
        name=kind,
        email=item.get("propertyValue"),
        event_id=f"hubspot:{event_id}" if isinstance(event_id, int | str) and str(event_id) else None,
        fingerprint=item,
        when=occurred_at(item.get("occurredAt"), request.received_at),
        request=request,
        properties={
            "portal_id": item.get("portalId"),
            "object_id": item.get("objectId"),
            "change_source": item.get("changeSource"),
        },
    )


PROVIDER = HubSpotProvider()
