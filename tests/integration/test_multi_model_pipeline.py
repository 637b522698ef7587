"""Several models on one lead through the whole stack (issues 18.2, 18.3): the customer's sample batch
(events/http-07-track-customer.json, replayed by `make demo`) gives an upsell alert from the
customer_expansion model and a category alert from the lead model, each delivered once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from leadscore.dal.leads import LeadRepository

from tests.support import Stack, example_rules_json, load_event, pinned_clock_at
from tests.support.routing import filtered_queue, received

SAMPLE_TIME = datetime(2026, 11, 23, 16, 10, tzinfo=UTC)  # an hour after the sample request
SAM = "sam.okafor@contoso.com"
SIGNED = {
    "authorization": "AWS4-HMAC-SHA256 Credential=alice/20261123/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"
}


pinned_clock = pinned_clock_at(SAMPLE_TIME)


def alerts_of(notes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    out = []
    for note in notes:
        alert = json.loads(note["Message"])
        out.append((alert["model"], alert["kind"], note["Subject"]))
    return sorted(out)


def test_the_customer_sample_delivers_an_upsell_alert_and_a_category_alert(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    upsell_only = filtered_queue(stack, "account-managers", {"kind": [{"prefix": "customer_expansion:"}]})
    sales_only = filtered_queue(stack, "sales", {"kind": ["sales_ready"]})
    assert stack.invoke("IngestFunction", load_event("http-07-track-customer"))["statusCode"] == 202
    stack.drain()
    notes = stack.inbox()
    assert alerts_of(notes) == [
        ("customer_expansion", "sales_ready", "Upsell signal: Sam Okafor (Contoso) - 90 C4"),
        ("lead", "category", "Predictive maintenance interest crossed 50: Sam Okafor (Contoso) - 95 B4"),
    ]
    by_kind = {n["MessageAttributes"]["kind"]["Value"]: n for n in notes}
    assert sorted(by_kind) == ["category", "customer_expansion:sales_ready"]
    assert by_kind["category"]["MessageAttributes"]["top_category"]["Value"] == "predictive-maintenance"
    upsell = json.loads(by_kind["customer_expansion:sales_ready"]["Message"])
    assert upsell["title"] == "Upsell signal" and upsell["threshold"] == 60
    assert "Model:    customer_expansion" in upsell["text"]
    # a filter policy takes one model's alerts; a sales_ready subscription keeps the lead model's only
    assert [json.loads(m["Message"])["model"] for m in received(stack, upsell_only)] == ["customer_expansion"]
    assert received(stack, sales_only) == []

    state = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(SAM)
    assert state is not None and state.card is not None
    assert (state.card.model, state.card.score, state.card.tier) == ("lead", 95, "warm")  # the hot list's
    assert (state.cards["customer_expansion"].score, state.cards["customer_expansion"].tier) == (
        90,
        "sales_ready",
    )
    assert [a.status for a in state.outbox.values()] == ["sent", "sent"]
    # the API lists every model that scored the lead, the primary first
    response = stack.call_http("GET", f"/leads/{SAM}", None, SIGNED)
    assert response["statusCode"] == 200
    card = json.loads(response["body"])
    assert card["score"] == 95 and card["model"] == "lead"
    assert [(m["model"], m["score"], m["tier"], m["primary"]) for m in card["models"]] == [
        ("lead", 95, "warm", True),
        ("customer_expansion", 90, "sales_ready", False),
    ]
    # the same request again (a client retry): counted once, so nothing more is sent
    assert stack.invoke("IngestFunction", load_event("http-07-track-customer"))["statusCode"] == 202
    stack.drain()
    assert stack.inbox() == []
