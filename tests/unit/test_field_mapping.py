"""Complete field mapping from each form provider's documented webhook shape (Typeform's example
payload: ``definition.fields`` with ``ref``s and ``answers`` naming their ``field``; Tally's
``FORM_RESPONSE`` with ``options`` for choice fields; Mailchimp's urlencoded ``data[merges][TAG]``;
Webflow's ``form_submission`` with ``payload.data`` keyed by field label)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from leadscore.ingest.config import IngestConfig
from leadscore.ingest.providers import mailchimp, tally, typeform, webflow
from leadscore.ingest.request import IngestRequest
from leadscore.models.event import CanonicalEvent

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
EMAIL = "ana@acme-fintech.com"


def _request(body: Any, content_type: str = "application/json") -> IngestRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return IngestRequest(
        method="POST",
        path="/webhooks/x",
        body=raw,
        received_at=NOW,
        headers={"content-type": content_type},
        now=NOW.timestamp(),
    )


def _one(result: Any) -> CanonicalEvent:
    (event,) = result.events
    assert isinstance(event, CanonicalEvent)
    return event


TYPEFORM: dict[str, Any] = {
    "event_id": "01HTYPEFORMEVENT",
    "event_type": "form_response",
    "form_response": {
        "form_id": "lT4Z3j",
        "token": "a3a12ec67a1365927098a606107fac15",
        "landed_at": "2026-11-20T09:58:00Z",
        "submitted_at": "2026-11-20T10:00:00Z",
        "hidden": {"utm_source": "linkedin", "utm_campaign": "q4-finance"},
        "definition": {
            "id": "lT4Z3j",
            "title": "Talk to sales",
            "fields": [
                {"id": "Ab1", "title": "What is your work email?", "type": "email", "ref": "email"},
                {"id": "Ab2", "title": "What's your role?", "type": "short_text", "ref": "job_title"},
                {
                    "id": "Ab3",
                    "title": "How big is your team?",
                    "type": "multiple_choice",
                    "ref": "company_size",
                },
                {"id": "Ab4", "title": "Which products?", "type": "multiple_choice", "ref": "products"},
                {
                    "id": "Ab5",
                    "title": "Company",
                    "type": "short_text",
                    "ref": "0f3b3c64-6c1e-4d0e-9bb6-6f5d0c1d2e3f",  # Typeform's default ref: a UUID
                },
            ],
        },
        "answers": [
            {
                "type": "choices",
                "choices": {"labels": ["Payments", "Billing"]},
                "field": {"id": "Ab4", "type": "multiple_choice", "ref": "products"},
            },
            {
                "type": "choice",
                "choice": {"label": "501-1000"},
                "field": {"id": "Ab3", "type": "multiple_choice", "ref": "company_size"},
            },
            {
                "type": "text",
                "text": "VP Finance",
                "field": {"id": "Ab2", "type": "short_text", "ref": "job_title"},
            },
            {"type": "email", "email": EMAIL, "field": {"id": "Ab1", "type": "email", "ref": "email"}},
            {
                "type": "text",
                "text": "Acme Fintech",
                "field": {"id": "Ab5", "type": "short_text", "ref": "0f3b3c64-6c1e-4d0e-9bb6-6f5d0c1d2e3f"},
            },
        ],
    },
}


def test_typeform_maps_answers_by_ref_with_choice_labels_and_hidden_fields() -> None:
    event = _one(typeform.PROVIDER.parse(_request(TYPEFORM), IngestConfig()))
    assert event.identity.email == EMAIL
    assert event.profile is not None
    assert (event.profile.job_title, event.profile.company_size) == ("VP Finance", 501.0)  # by ref
    assert event.profile.company == "Acme Fintech"  # a UUID ref: the title maps it
    assert event.properties["utm_source"] == "linkedin" and event.properties["utm_campaign"] == "q4-finance"
    assert event.properties["which_products"] == "Payments,Billing"  # every label of a multiple choice
    assert event.name == "Talk to sales"


def test_typeform_answers_never_map_by_position() -> None:
    shuffled = copy.deepcopy(TYPEFORM)
    shuffled["form_response"]["answers"].reverse()
    shuffled["form_response"]["definition"]["fields"].reverse()
    original = _one(typeform.PROVIDER.parse(_request(TYPEFORM), IngestConfig()))
    again = _one(typeform.PROVIDER.parse(_request(shuffled), IngestConfig()))
    assert again.profile == original.profile and again.properties == original.properties


TALLY: dict[str, Any] = {
    "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
    "eventType": "FORM_RESPONSE",
    "createdAt": "2026-11-20T10:00:00.000Z",
    "data": {
        "responseId": "2wgx4n",
        "submissionId": "2wgx4n",
        "respondentId": "dwQKYm",
        "formId": "VwbNEw",
        "formName": "Contact sales",
        "createdAt": "2026-11-20T10:00:00.000Z",
        "fields": [
            {"key": "question_3EKz4n", "label": "Work email", "type": "INPUT_EMAIL", "value": EMAIL},
            {
                "key": "question_w4Q4Xn",
                "label": "Company size",
                "type": "DROPDOWN",
                "value": ["5c5d4ce2"],
                "options": [{"id": "1a2b3c4d", "text": "1-50"}, {"id": "5c5d4ce2", "text": "501-1000"}],
            },
            {
                "key": "question_mRXgpX",
                "label": "Industry",
                "type": "MULTIPLE_CHOICE",
                "value": ["0e9d8c7b"],
                "options": [{"id": "0e9d8c7b", "text": "Fintech"}, {"id": "f00d", "text": "Retail"}],
            },
            {
                "key": "question_nPzYbD",
                "label": "Interests",
                "type": "CHECKBOXES",
                "value": ["k1", "k2"],
                "options": [{"id": "k1", "text": "API"}, {"id": "k2", "text": "Reporting"}],
            },
        ],
    },
}


def test_tally_resolves_choice_values_through_options() -> None:
    event = _one(tally.PROVIDER.parse(_request(TALLY), IngestConfig()))
    assert event.profile is not None
    assert (event.profile.company_size, event.profile.industry) == (501.0, "Fintech")
    assert event.properties["interests"] == "API,Reporting"  # labels, never option ids
    assert "k1" not in json.dumps(event.properties)


def test_mailchimp_merge_fields_include_company_title_and_size_ranges() -> None:
    body = urlencode(
        [
            ("type", "subscribe"),
            ("fired_at", "2026-11-20 10:00:00"),
            ("data[id]", "8a25ff1d98"),
            ("data[list_id]", "a6b5da1054"),
            ("data[email]", EMAIL),
            ("data[email_type]", "html"),
            ("data[merges][EMAIL]", EMAIL),
            ("data[merges][FNAME]", "Ana"),
            ("data[merges][LNAME]", "Silva"),
            ("data[merges][COMPANY]", "Acme Fintech"),
            ("data[merges][JOBTITLE]", "VP Finance"),
            ("data[merges][SIZE]", "501-1000"),
            ("data[ip_opt]", "10.20.10.30"),
        ]
    ).encode()
    event = _one(
        mailchimp.PROVIDER.parse(_request(body, "application/x-www-form-urlencoded"), IngestConfig())
    )
    assert event.profile is not None
    profile = event.profile
    assert (profile.company, profile.job_title, profile.company_size) == ("Acme Fintech", "VP Finance", 501.0)
    assert (profile.first_name, profile.last_name) == ("Ana", "Silva")


def test_webflow_labels_with_spaces_map_through_the_alias_table() -> None:
    body = {
        "triggerType": "form_submission",
        "payload": {
            "name": "Request a quote",
            "siteId": "65427cf400e02b306eaa049c",
            "data": {
                "First Name": "Ana",
                "Last Name": "Silva",
                "Email Address": EMAIL,
                "Company Name": "Acme Fintech",
                "Job Title": "VP Finance",
                "Number of Employees": "501-1000",
                "Country / Region": "Germany",
            },
            "submittedAt": "2026-11-20T10:00:00.000Z",
            "id": "6321ca84df3949bfc6752327",
            "formId": "65429eadebe8a9f3a30f62d0",
        },
    }
    event = _one(webflow.PROVIDER.parse(_request(body), IngestConfig()))
    assert event.profile is not None
    profile = event.profile
    assert (profile.first_name, profile.company, profile.job_title) == ("Ana", "Acme Fintech", "VP Finance")
    assert (profile.company_size, profile.country) == (501.0, "Germany")
