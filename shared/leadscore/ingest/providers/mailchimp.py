"""Mailchimp Marketing webhooks (https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).

Mailchimp POSTs ``application/x-www-form-urlencoded`` bodies (``type=subscribe&fired_at=...&data[email]=...
&data[merges][FNAME]=...``) and signs nothing. The webhook URL carries a secret we compare in constant time:
``https://<api>/webhooks/mailchimp?key=<secret>``. Mailchimp checks the URL with a ``GET`` when the webhook
is created: it is answered 200 when the key is right. No timestamp is signed: a replay maps to the same
content-hash event id and is dropped by the scorer's dedupe.

Mapping (``type``): subscribe → form_submit with a Profile from the merge fields; unsubscribe →
email_unsubscribe; cleaned → email_bounce; profile and upemail → identify; campaign → ignored.
Secret: ``MAILCHIMP_WEBHOOK_KEY`` / ``MAILCHIMP_WEBHOOK_KEY_PARAM``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.normalize import occurred_at
from leadscore.ingest.providers.common import (
    add_email_event,
    add_submission,
    require_url_key,
    urlencoded_params,
)
from leadscore.ingest.request import IngestRequest
from leadscore.ingest.result import IngestResult
from leadscore.models.event import EventType, content_event_id

SOURCE = "mailchimp"
CREDENTIAL_VARIABLE = "MAILCHIMP_WEBHOOK_KEY"
KEY_PARAMETER = "key"
_MERGE_TAGS = {
    "EMAIL": "email",
    "FNAME": "first_name",
    "LNAME": "last_name",
    "PHONE": "phone",
    "COMPANY": "company",
    "TITLE": "job_title",
    "JOBTITLE": "job_title",
    "COUNTRY": "country",
    "INDUSTRY": "industry",
    # Company size: Mailchimp tags are the audience owner's choice (at most 10 characters); these are
    # the usual ones. Values such as "501-1000" read as their lower bound (Profile.company_size).
    "SIZE": "company_size",
    "COMPSIZE": "company_size",
    "COSIZE": "company_size",
    "CSIZE": "company_size",
    "COMPANYSIZ": "company_size",
    "EMPLOYEES": "company_size",
    "HEADCOUNT": "company_size",
}
_EVENT_TYPES: Mapping[str, EventType] = {
    "unsubscribe": "email_unsubscribe",
    "cleaned": "email_bounce",
    "profile": "identify",
    "upemail": "identify",
}
_KEY = re.compile(r"^data\[([^\]]+)\](?:\[([^\]]+)\])?$")


class MailchimpProvider:
    name = SOURCE

    def authenticate(self, request: IngestRequest, config: IngestConfig) -> None:
        require_url_key(
            request, config, CREDENTIAL_VARIABLE, "Mailchimp", parameter=KEY_PARAMETER, url="webhook URL"
        )

    def check_url(self, request: IngestRequest, config: IngestConfig) -> None:
        """Mailchimp's GET when the webhook is saved: 200 only with the right ``?key=``."""
        self.authenticate(request, config)

    def parse(self, request: IngestRequest, config: IngestConfig) -> IngestResult:
        pairs = urlencoded_params(request)
        top: dict[str, str] = {}
        data: dict[str, str] = {}
        merges: dict[str, str] = {}
        for name, value in pairs:
            match = _KEY.match(name)
            if match is None:
                top.setdefault(name, value)
            elif match.group(2) is None:
                data.setdefault(match.group(1), value)
            elif match.group(1) == "merges":
                merges.setdefault(match.group(2), value)
        kind = top.get("type", "").strip()
        if not kind:
            raise MalformedBodyError("a Mailchimp webhook body has a type field")
        result = IngestResult(source=SOURCE)
        fingerprint = {"top": top, "data": data, "merges": merges}
        event_id = content_event_id(SOURCE, fingerprint)
        when = occurred_at(top.get("fired_at", "").replace(" ", "T") or None, request.received_at)
        list_id = data.get("list_id")
        if kind == "subscribe":
            fields: list[tuple[str, Any]] = [("email", data.get("email"))]
            fields += [(_MERGE_TAGS.get(tag, tag.lower()), value) for tag, value in merges.items()]
            add_submission(
                result,
                fields,
                request,
                config,
                event_id=event_id,
                form_name="mailchimp subscribe",
                submitted_at=when,
                extra_properties={"list_id": list_id},
            )
            return result
        event_type = _EVENT_TYPES.get(kind)
        if event_type is None:
            result.ignore(0, f"Mailchimp {kind[:40]!r} events are not scored")
            return result
        email = data.get("new_email") if kind == "upemail" else data.get("email")
        add_email_event(
            result,
            0,
            source=SOURCE,
            event_type=event_type,
            name=kind,
            email=email,
            event_id=event_id,
            fingerprint=fingerprint,
            when=when,
            request=request,
            properties={
                "list_id": list_id,
                "reason": data.get("reason"),
                "campaign_id": data.get("campaign_id"),
            },
        )
        return result


PROVIDER = MailchimpProvider()
