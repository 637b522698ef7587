"""Salesforce Outbound Messages (developer.salesforce.com, "Outbound Messaging", "Understanding the
Outbound Messaging WSDL"): outcomes and lifecycle stages coming back from the CRM.

Chosen over EventBridge partner events (docs/connect.md, "Outcomes and stages from the CRM"): an
Outbound Message is a flow or workflow action in every edition, needs no partner event source or rule,
carries the record's fields (so the lead is found by email), and Salesforce queues and retries it for
24 hours until it is acknowledged. It is a SOAP ``notifications`` message (``text/xml``): the
``OrganizationId`` and up to 100 ``Notification`` elements, each with its ``Id`` (stable across
redeliveries) and an ``sObject`` of the chosen fields. The endpoint must answer the SOAP ``<Ack>true</Ack>``
(:data:`ACK`), else Salesforce redelivers.

Nothing is signed: the endpoint URL carries a secret compared in constant time
(``https://<api>/webhooks/salesforce?key=<secret>``, as Mailchimp's). A replay is dropped by the
scorer's dedupe (event ids below). A body with a DOCTYPE or an entity declaration is a 400.

Mapping (``sObject`` type):

- ``Opportunity``: ``IsClosed`` and ``IsWon`` → ``crm_outcome`` converted (``Amount``,
  ``CurrencyIsoCode``); closed, not won → lost; open → ``crm_stage`` opportunity. An opportunity names
  no person: a flow fills ``Leadscore_Email__c`` from the primary contact role (docs/connect.md).
  Event id ``salesforce:<record Id>:<converted|lost|open>``.
- ``Lead``: ``IsConverted`` true → ``crm_outcome`` converted (event id ``salesforce:<Id>:converted``).
- ``Lead`` / ``Contact``: ``Leadscore_Stage__c`` (``sal``, ``sql``, ``rejected`` with
  ``Leadscore_Rejection_Reason__c``) → ``crm_stage`` (event id ``salesforce:n:<notification Id>``).

Secret: ``SALESFORCE_WEBHOOK_KEY`` / ``SALESFORCE_WEBHOOK_KEY_PARAM``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # trees only: parsed by _parse (expat, DOCTYPE and entities refused)
from collections.abc import Mapping
from typing import Any
from xml.parsers import expat

from leadscore.ingest.body import require_content_type
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.providers.common import add_email_event, require_url_key
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.models.event import EventType

SOURCE = "salesforce"
CREDENTIAL_VARIABLE = "SALESFORCE_WEBHOOK_KEY"
KEY_PARAMETER = "key"
OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_NOTIFICATIONS = 100
ACK_CONTENT_TYPE = "text/xml; charset=utf-8"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)


class SalesforceProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        require_url_key(
            request, config, CREDENTIAL_VARIABLE, "Salesforce", parameter=KEY_PARAMETER, url="endpoint URL"
        )

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        require_content_type(request.content_type, ("text/xml", "application/soap+xml"), default="text/xml")
        notifications = _notifications(request.body)
        result = IngestResult(source=SOURCE, reply=(ACK_CONTENT_TYPE, ACK))
        for index, notification in enumerate(notifications[:MAX_NOTIFICATIONS]):
            _add_notification(result, index, notification, request)
        for index in range(MAX_NOTIFICATIONS, len(notifications)):
            result.reject(index, f"an Outbound Message carries at most {MAX_NOTIFICATIONS} notifications")
        return result


def _refuse_dtd(*_: object) -> None:
    raise MalformedBodyError("an Outbound Message has no DOCTYPE or entities")


def _clark(name: str) -> str:
    """expat's ``uri}local`` (namespace separator ``}``) as ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def _parse(body: bytes) -> ET.Element:
    """The XML tree, built by expat with any DOCTYPE or entity declaration refused as it is met (what
    ``defusedxml`` does): no entity expansion, no external entity, whatever the body says."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd  # type: ignore[assignment]
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _clark(name), {_clark(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
        return builder.close()
    except (expat.ExpatError, AssertionError) as exc:  # AssertionError: TreeBuilder on no root
        raise MalformedBodyError("the body is not valid XML", details=[f"body: {exc}"]) from None


def _notifications(body: bytes) -> list[ET.Element]:
    root = _parse(body)
    found = root.find(f".//{OUTBOUND}notifications")
    if found is None:
        raise MalformedBodyError("a Salesforce Outbound Message has a notifications element")
    return found.findall(f"{OUTBOUND}Notification")


def _fields(notification: ET.Element) -> tuple[str, str, dict[str, str]]:
    """The notification's Id, the sObject's type (``Lead``) and its fields (local names -> text)."""
    note_id = (notification.findtext(f"{OUTBOUND}Id") or "").strip()
    sobject = notification.find(f"{OUTBOUND}sObject")
    if sobject is None:
        return note_id, "", {}
    kind = (sobject.get(XSI_TYPE) or "").rpartition(":")[2]
    fields = {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in sobject}
    return note_id, kind, fields


def _true(fields: Mapping[str, str], name: str) -> bool:
    return fields.get(name, "").lower() == "true"


def _amount(value: str | None) -> float | None:
    try:
        amount = float(value) if value else None
    except ValueError:
        return None
    return amount if amount is not None and 0 <= amount <= 1e12 else None


def _add_notification(
    result: IngestResult, index: int, notification: ET.Element, request: IngestRequest
) -> None:
    note_id, kind, fields = _fields(notification)
    record = fields.get("Id", "")
    if not note_id or not record:
        result.reject(index, "Notification: an Id and an sObject with an Id are required")
        return
    crm_object = f"{kind.lower() or 'record'}:{record}"
    events: list[tuple[EventType, str, dict[str, Any]]] = []
    if kind == "Opportunity":
        status = ("converted" if _true(fields, "IsWon") else "lost") if _true(fields, "IsClosed") else None
        if status is None:
            events.append(("crm_stage", f"{record}:open", {"stage": "opportunity"}))
        else:
            money = {
                "amount": _amount(fields.get("Amount")),
                "currency": fields.get("CurrencyIsoCode") or None,
            }
            events.append(("crm_outcome", f"{record}:{status}", {"status": status, **money}))
        email = fields.get("Leadscore_Email__c")
    else:
        if kind == "Lead" and _true(fields, "IsConverted"):
            events.append(("crm_outcome", f"{record}:converted", {"status": "converted"}))
        stage = fields.get("Leadscore_Stage__c", "").lower()
        if stage:
            reason = fields.get("Leadscore_Rejection_Reason__c") or None
            events.append(("crm_stage", f"n:{note_id}", {"stage": stage, "reason": reason}))
        email = fields.get("Email")
    if not events:
        result.ignore(index, f"{kind[:40] or 'the record'}: nothing that moves a lead (docs/connect.md)")
        return
    if not email:
        result.reject(index, "Email (Leadscore_Email__c on an Opportunity): the record names no person")
        return
    for event_type, suffix, props in events:
        add_email_event(
            result,
            index,
            source=SOURCE,
            event_type=event_type,
            name=f"{kind or 'record'} {props.get('status') or props.get('stage')}"[:200],
            email=email,
            event_id=f"salesforce:{suffix}",
            fingerprint=fields,
            when=request.received_at,
            request=request,
            properties={**props, "crm_object": crm_object},
        )


PROVIDER = SalesforceProvider()
