"""Consent and deliverability as state (leadscore.scoring.consent): applied by event time whatever the
order of delivery, per list, only to the address the event names; shown on the card, the API rows, the
alert and its SNS attributes; readable by rule conditions.

Provider payloads follow each provider's documented webhook examples (SendGrid Event Webhook reference,
Postmark bounce and subscription-change webhooks, Mailgun ``failed`` events, Mailchimp ``cleaned``)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from leadscore import alerts
from leadscore.api.views import hot_row, score_card
from leadscore.errors import RulesValidationError
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.providers import postmark, sendgrid
from leadscore.ingest.request import IngestRequest
from leadscore.models.event import CanonicalEvent, Identity, lead_id_for_email
from leadscore.rules.compiler import load_rules
from leadscore.scoring import consent
from leadscore.scoring.engine import apply_events, evaluate, rebuild
from leadscore.scoring.state import AlertEntry, LeadState

from tests.unit.rules_fixtures import NOW, doc, rules

EMAIL = "ana@acme-fintech.com"
T0 = int(NOW.timestamp()) - 10 * 86_400  # the sequences happen over the last ten days


def ev(
    type: str, at: int, *, source: str = "test", email: str = EMAIL, eid: str | None = None, **props: Any
) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=eid or f"{type}-{at}-{sorted(props.items())}",
        source=source,
        type=type,
        occurred_at=datetime.fromtimestamp(at, UTC),
        identity=Identity(email=email),
        properties=props,
    )


def fresh(email: str = EMAIL) -> LeadState:
    return LeadState(lead_id=lead_id_for_email(email), email=email)


def delivered_one_by_one(events: list[CanonicalEvent], compiled: Any = None) -> LeadState:
    """Each event in its own batch (its own write), in the order given."""
    compiled = compiled or rules()
    state = fresh()
    for event in events:
        state = apply_events(state, [event], compiled, NOW, 100).state
    return state


# --------------------------------------------------------------------------- order of delivery
def test_out_of_order_unsubscribe_resubscribe_bounce_delivery_ends_in_the_event_time_state() -> None:
    sequence = [
        ev("email_unsubscribe", T0 + 100),
        ev("email_resubscribe", T0 + 200),
        ev("email_bounce", T0 + 300),
        ev("email_delivered", T0 + 400, message_id="m1"),  # delivered after the bounce: deliverable again
        ev("email_spam_report", T0 + 500),
    ]
    expected = consent.view(delivered_one_by_one(sequence).consent)
    assert (expected.unsubscribed, expected.undeliverable, expected.complained) == (False, False, True)
    for order in itertools.permutations(sequence):
        got = consent.view(delivered_one_by_one(list(order)).consent)
        assert got == expected, [e.type for e in order]


def test_a_resubscribe_delivered_before_an_older_unsubscribe_wins() -> None:
    state = delivered_one_by_one([ev("email_resubscribe", T0 + 200), ev("email_unsubscribe", T0 + 100)])
    assert consent.view(state.consent).unsubscribed is False
    state = delivered_one_by_one([ev("email_resubscribe", T0 + 100), ev("email_unsubscribe", T0 + 200)])
    assert consent.view(state.consent).unsubscribed_at == T0 + 200


def test_a_late_event_still_sets_consent_though_it_is_not_scored_live() -> None:
    old = int((NOW - timedelta(days=30)).timestamp())
    outcome = apply_events(fresh(), [ev("email_unsubscribe", old)], rules(), NOW, 100)
    assert outcome.late == 1  # too old for the live score...
    assert consent.view(outcome.state.consent).unsubscribed_at == old  # ...but the opt-out is state


def test_rebuild_keeps_consent_whose_history_expired() -> None:
    state = delivered_one_by_one([ev("email_unsubscribe", T0 + 100)])
    rebuilt = rebuild(state, [], rules(), NOW, 100)  # the history's retention ran out
    assert consent.view(rebuilt.consent).unsubscribed_at == T0 + 100


# --------------------------------------------------------------------------- what is undeliverable
def test_only_the_address_that_bounced_is_marked() -> None:
    other = fresh("ana+news@acme-fintech.com")  # a similarly named lead
    bounce = ev("email_bounce", T0 + 100)  # names ana@acme-fintech.com
    state = apply_events(other, [bounce], rules(), NOW, 100).state
    assert state.consent == {}
    own = apply_events(fresh(), [bounce], rules(), NOW, 100).state
    assert consent.view(own.consent).undeliverable


def _request(body: dict[str, Any] | list[Any], path: str) -> IngestRequest:
    return IngestRequest(
        method="POST",
        path=path,
        body=json.dumps(body).encode(),
        received_at=NOW,
        headers={"content-type": "application/json"},
        now=NOW.timestamp(),
    )


def _sendgrid(**item: Any) -> CanonicalEvent:
    base = {"email": EMAIL, "timestamp": T0 + 100, "sg_event_id": f"sg-{sorted(item.items())}"}
    result = sendgrid.PROVIDER.parse(_request([base | item], "/webhooks/sendgrid"), IngestConfig())
    (event,) = result.events
    return event


def _postmark(**record: Any) -> CanonicalEvent:
    result = postmark.PROVIDER.parse(_request(record, "/webhooks/postmark"), IngestConfig())
    (event,) = result.events
    return event


def _postmark_bounce(type: str, id: int) -> CanonicalEvent:
    """A Postmark bounce webhook for EMAIL: ``Type`` is what differs (HardBounce, SoftBounce, ...)."""
    return _postmark(RecordType="Bounce", Type=type, Email=EMAIL, BouncedAt="2026-11-13T12:00:00Z", ID=id)


def _postmark_suppression(reason: str) -> CanonicalEvent:
    """A Postmark subscription-change webhook suppressing EMAIL for ``reason``."""
    return _postmark(
        RecordType="SubscriptionChange",
        Recipient=EMAIL,
        SuppressSending=True,
        SuppressionReason=reason,
        ChangedAt="2026-11-13T12:00:00Z",
    )


HARD = "undeliverable"


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        # SendGrid: a bounce of type "bounce" with an address classification is hard...
        (lambda: _sendgrid(event="bounce", type="bounce", bounce_classification="Invalid Address"), [HARD]),
        # ...a "blocked" bounce or a reputation / content / technical classification is not.
        (lambda: _sendgrid(event="bounce", type="blocked", bounce_classification="Reputation"), []),
        (lambda: _sendgrid(event="bounce", type="bounce", bounce_classification="Reputation"), []),
        (lambda: _sendgrid(event="bounce", type="bounce", bounce_classification="Technical Failure"), []),
        (lambda: _sendgrid(event="bounce", type="bounce", bounce_classification="Content"), []),
        (lambda: _sendgrid(event="dropped", reason="Bounced Address"), [HARD]),
        (lambda: _sendgrid(event="dropped", reason="Invalid SMTPAPI header"), []),
        (lambda: _sendgrid(event="deferred", attempt="1"), []),
        (lambda: _sendgrid(event="unsubscribe"), ["unsubscribed"]),
        (lambda: _sendgrid(event="unsubscribe", asm_group_id=42), ["unsubscribed"]),  # global all the same
        (lambda: _sendgrid(event="group_unsubscribe", asm_group_id=42), ["unsubscribed:sendgrid-group:42"]),
        (lambda: _sendgrid(event="spamreport"), ["complained"]),
        # Postmark: HardBounce is; a soft bounce (email_deferred) or a spam notification is not.
        (lambda: _postmark_bounce("HardBounce", 1), [HARD]),
        (lambda: _postmark_bounce("SoftBounce", 2), []),
        (lambda: _postmark_bounce("SpamNotification", 3), []),
        (lambda: _postmark_bounce("Unsubscribe", 4), ["unsubscribed"]),
        (lambda: _postmark_bounce("SpamComplaint", 5), ["complained"]),
        (lambda: _postmark_suppression("HardBounce"), [HARD]),
        (lambda: _postmark_suppression("ManualSuppression"), ["unsubscribed"]),
        # Mailgun permanent failures: a bounce is; dropped for an unsubscribe is not a bounce.
        (lambda: ev("email_bounce", T0, source="mailgun", reason="bounce", severity="permanent"), [HARD]),
        (lambda: ev("email_bounce", T0, source="mailgun", reason="suppress-unsubscribe"), []),
        # Mailchimp "cleaned": reason hard is undeliverable, abuse is a complaint.
        (lambda: ev("email_bounce", T0, source="mailchimp", reason="hard", list_id="a6b5da1054"), [HARD]),
        (lambda: ev("email_bounce", T0, source="mailchimp", reason="abuse"), ["complained"]),
        # SES / Brevo / Mandrill: their hard bounces map to email_bounce; blocked/reject do not mark.
        (lambda: ev("email_bounce", T0, source="ses", bounce_type="Permanent"), [HARD]),
        (lambda: ev("email_dropped", T0, source="brevo"), []),
        (lambda: ev("email_deferred", T0, source="ses", bounce_type="Transient"), []),
    ],
)
def test_provider_bounce_types_map_to_the_right_state(event: Any, fields: list[str]) -> None:
    assert [name for name, value in consent.changes(event()) if value] == fields


def test_soft_bounce_never_makes_an_address_undeliverable() -> None:
    soft = [
        _sendgrid(event="bounce", type="blocked", bounce_classification="Reputation"),
        _sendgrid(event="deferred", attempt="3"),
        ev("email_deferred", T0 + 50, source="postmark", bounce_type="SoftBounce"),
    ]
    state = delivered_one_by_one(soft)
    assert consent.view(state.consent).undeliverable is False


def test_per_list_unsubscribe_and_resubscribe() -> None:
    state = delivered_one_by_one(
        [
            _sendgrid(event="group_unsubscribe", asm_group_id=42, timestamp=T0 + 100),
            _sendgrid(event="group_unsubscribe", asm_group_id=7, timestamp=T0 + 110),
            _sendgrid(event="group_resubscribe", asm_group_id=42, timestamp=T0 + 200),
        ]
    )
    view = consent.view(state.consent)
    assert view.lists == {"sendgrid-group:7": T0 + 110}
    assert view.unsubscribed is False and view.do_not_email is False  # one list is not all email


def test_postmark_reactivation_is_a_resubscribe() -> None:
    event = _postmark(
        RecordType="SubscriptionChange",
        Recipient=EMAIL,
        SuppressSending=False,
        SuppressionReason="ManualSuppression",
        ChangedAt="2026-11-20T12:00:00Z",
    )
    assert event.type == "email_resubscribe"
    state = delivered_one_by_one([ev("email_unsubscribe", T0), event])
    assert consent.view(state.consent).unsubscribed is False


def test_per_list_entries_are_bounded() -> None:
    events = [ev("email_unsubscribe", T0 + i, list=f"list-{i}") for i in range(consent.MAX_LISTS + 15)]
    state = delivered_one_by_one(events)
    assert len(state.consent) == consent.MAX_LISTS
    assert f"unsubscribed:list-{consent.MAX_LISTS + 14}" in state.consent  # the newest are kept


# --------------------------------------------------------------------------- where it shows
UNSUB_AT = int(datetime(2026, 11, 18, 9, 30, tzinfo=UTC).timestamp())


def _unsubscribed_lead() -> LeadState:
    state = delivered_one_by_one([ev("email_unsubscribe", UNSUB_AT)])
    state.card = evaluate(state, rules(), NOW, 100)
    return state


def test_card_api_and_hot_row_show_consent() -> None:
    state = _unsubscribed_lead()
    card = score_card(state, [])
    assert card["consent"]["do_not_email"] is True
    assert card["consent"]["unsubscribed_at"] == "2026-11-18T09:30:00Z"
    assert card["consent"]["summary"] == "Do not email: unsubscribed 2026-11-18"
    assert hot_row(state)["do_not_email"] is True
    assert score_card(fresh(), [])["consent"]["do_not_email"] is False


def test_alert_text_json_and_attributes_show_consent() -> None:
    state = _unsubscribed_lead()
    assert state.card is not None
    alert = AlertEntry(
        id="sales_ready-1", kind="sales_ready", created_at=int(NOW.timestamp()), card=state.card
    )
    text = alerts.render_text(state, alert)
    assert "Do not email: unsubscribed 2026-11-18" in text
    doc_ = alerts.render_json(state, alert)
    assert doc_["consent"]["do_not_email"] is True
    assert doc_["consent"]["reasons"][0]["state"] == "unsubscribed"
    request = alerts.sns_message(state, alert)
    attributes = request["MessageAttributes"]
    assert attributes["do_not_email"] == {"DataType": "String", "StringValue": "true"}
    assert len(attributes) <= alerts.SNS_MAX_ATTRIBUTES
    assert alerts.publish_problems(request) == []
    clean = fresh()
    clean.card = state.card
    assert alerts.attributes(clean, alert)["do_not_email"]["StringValue"] == "false"
    assert "Do not email" not in alerts.render_text(clean, alert)


# --------------------------------------------------------------------------- rules
def _with_consent_rule(**when: Any) -> dict[str, Any]:
    document = doc()
    document["models"]["lead"]["fit"].append(
        {
            "id": "do-not-email",
            "description": "Unsubscribed from all email",
            "when": {"field": "consent.unsubscribed", **when},
            "points": -25,
        }
    )
    return document


def test_a_rule_condition_on_consent_scores_it() -> None:
    compiled = load_rules(json.dumps(_with_consent_rule(equals=True)))
    unsubscribed = delivered_one_by_one([ev("email_unsubscribe", T0)], compiled)
    resubscribed = delivered_one_by_one(
        [ev("email_unsubscribe", T0), ev("email_resubscribe", T0 + 1)], compiled
    )
    assert "do-not-email" in [c.rule for c in evaluate(unsubscribed, compiled, NOW, 100).contributions]
    assert "do-not-email" not in [c.rule for c in evaluate(resubscribed, compiled, NOW, 100).contributions]


def test_rules_validate_accepts_consent_fields_and_refuses_text_operators_on_them() -> None:
    load_rules(json.dumps(_with_consent_rule(equals=True)))
    with pytest.raises(RulesValidationError, match=r"consent\.unsubscribed.*true/false flag"):
        load_rules(json.dumps(_with_consent_rule(contains="yes")))
    document = _with_consent_rule(equals=True)
    document["models"]["lead"]["fit"][-1]["when"]["field"] = "consent.unsubscribd"
    with pytest.raises(RulesValidationError, match="unknown field"):
        load_rules(json.dumps(document))


def test_rules_validate_cli_accepts_a_consent_condition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools.cli import main

    good = tmp_path / "consent.yaml"
    good.write_text(
        """
models:
  lead:
    fit:
      - id: bounced
        description: The address bounced
        when: {field: consent.undeliverable, equals: true}
        points: -40
        disqualify: true
"""
    )
    assert main(["rules", "validate", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("equals: true", "starts_with: t"))
    assert main(["rules", "validate", str(bad)]) == 1
    assert "consent.undeliverable': a true/false flag" in capsys.readouterr().err


def test_consent_survives_the_item_codec_and_stays_small() -> None:
    from leadscore.dal import items

    plain = delivered_one_by_one([ev("page_view", T0, path="/pricing")])
    full = delivered_one_by_one(
        [ev("page_view", T0, path="/pricing"), ev("email_spam_report", T0 + 1), ev("email_bounce", T0 + 2)]
        + [ev("email_unsubscribe", T0 + 10 + i, list=f"sendgrid-group:{100000 + i}") for i in range(30)]
    )
    back = items.from_item(items.to_item(full))
    assert back.consent == full.consent and len(back.consent) == 2 + consent.MAX_LISTS
    assert consent.view(back.consent) == consent.view(full.consent)
    grown = len(items.to_item(full)["st"]["B"]) - len(items.to_item(plain)["st"]["B"])
    assert 0 < grown < 400  # every flag and the capped lists: a few hundred bytes at most, packed


def _mailchimp(kind: str, fired_at: str) -> CanonicalEvent:
    from urllib.parse import urlencode

    from leadscore.ingest.providers import mailchimp

    body = urlencode(
        [
            ("type", kind),
            ("fired_at", fired_at),
            ("data[list_id]", "a6b5da1054"),
            ("data[email]", EMAIL),
            ("data[merges][EMAIL]", EMAIL),
            ("data[reason]", "manual"),
        ]
    ).encode()
    request = IngestRequest(
        method="POST",
        path="/webhooks/mailchimp",
        body=body,
        received_at=NOW,
        headers={"content-type": "application/x-www-form-urlencoded"},
        now=NOW.timestamp(),
    )
    (event,) = mailchimp.PROVIDER.parse(request, IngestConfig()).events
    return event


def test_mailchimp_audience_unsubscribe_and_later_subscribe_are_per_list() -> None:
    unsubscribe = _mailchimp("unsubscribe", "2026-11-18 09:30:00")
    subscribe = _mailchimp("subscribe", "2026-11-19 10:00:00")
    state = delivered_one_by_one([unsubscribe])
    assert consent.view(state.consent).lists == {"mailchimp-list:a6b5da1054": UNSUB_AT}
    for order in ([unsubscribe, subscribe], [subscribe, unsubscribe]):
        assert consent.view(delivered_one_by_one(order).consent).lists == {}


def test_leads_show_prints_the_do_not_email_line() -> None:
    from tools.leads_cli import format_card

    text = "\n".join(format_card(score_card(_unsubscribed_lead(), [])))
    assert "Do not email: unsubscribed 2026-11-18" in text
    assert "Do not email" not in "\n".join(format_card(score_card(fresh(), [])))
