"""What a rep acts on is in the alert; what only machines need is in its JSON form (pure, no AWS).

- the phone, the owner, the first touch and the latest source (with the UTM campaign) and a link to the
  lead built from ``LeadUrlTemplate`` (the id URL-quoted), in the text and the JSON;
- lead id, alert id and rules version in the JSON only; an unnamed lead is named once, by its email;
- ``LeadUrlTemplate`` is checked the same way by the template (AllowedPattern) and by the settings;
- an adjustment's reason names the person (user or role session name), not the ARN.
"""

from __future__ import annotations

import re

import pytest
from leadscore.alerts import attributes, lead_link, render_json, render_text
from leadscore.principals import principal_name
from leadscore.scoring.state import AlertEntry, LeadState, ScoreCard, Touch
from leadscore.settings import LEAD_URL_PATTERN, Settings
from pydantic import ValidationError

from tests.support import TEMPLATE, translate

LEAD = "e0123456789abcdef0123456789abcde"
LINK = "https://crm.example.com/leads/{lead_id}"


def lead(**update: object) -> tuple[LeadState, AlertEntry]:
    card = ScoreCard(
        score=120, fit=50, activity=70, tier="sales_ready", grade="A4", rules_version="s3:v7", computed_at=1
    )
    state = LeadState(
        lead_id=LEAD,
        email="kim@acme.com",
        profile={"first_name": "Kim", "company": "Acme", "phone": "+1 415 555 0100", "owner": "Sam Ortiz"},
        created_at=1795000000,
        first_touch=Touch(at=1795000000, source="segment", campaign="q4-launch", channel="linkedin"),
        last_touch=Touch(at=1795440000, source="forms", campaign="pricing", medium="email"),
    )
    return state.model_copy(update=update), AlertEntry(
        id="sales_ready-9", kind="sales_ready", created_at=1795446000, card=card
    )


def test_the_text_shows_phone_owner_touches_and_link_but_no_machine_ids() -> None:
    state, alert = lead()
    text = render_text(state, alert, LINK)
    lines = text.splitlines()
    assert "Phone:    +1 415 555 0100" in lines
    assert "Owner:    Sam Ortiz" in lines
    assert "First touch:   2026-11-18 11:06 UTC  segment, campaign q4-launch (linkedin)" in lines
    assert "Latest source: 2026-11-23 13:20 UTC  forms, campaign pricing (email)" in lines
    assert lines[-1] == f"Open the lead: https://crm.example.com/leads/{LEAD}"
    assert text.count(LEAD) == 1  # in the link only
    assert "sales_ready-9" not in text and "s3:v7" not in text and "Rules version" not in text


def test_the_json_keeps_the_machine_ids_and_gains_the_rep_fields() -> None:
    state, alert = lead()
    doc = render_json(state, alert, LINK)
    assert (doc["alert_id"], doc["rules_version"], doc["lead"]["id"]) == (
        f"{LEAD}/sales_ready-9",
        "s3:v7",
        LEAD,
    )
    assert doc["lead"]["phone"] == "+1 415 555 0100" and doc["lead"]["owner"] == "Sam Ortiz"
    assert doc["lead"]["link"] == f"https://crm.example.com/leads/{LEAD}"
    assert doc["lead"]["first_touch"]["campaign"] == "q4-launch"
    assert doc["lead"]["latest_touch"] == {
        "at": "2026-11-23 13:20 UTC",
        "source": "forms",
        "campaign": "pricing",
        "utm_source": None,
        "utm_medium": "email",
    }


def test_without_a_template_or_facts_nothing_is_made_up() -> None:
    state, alert = lead(profile={"first_name": "Kim"}, first_touch=None, last_touch=None, created_at=0)
    text = render_text(state, alert)
    assert not any(
        line.startswith(("Phone:", "Owner:", "Open the lead", "First touch", "Latest source"))
        for line in text.splitlines()
    )
    doc = render_json(state, alert)
    assert (
        doc["lead"]["link"] is None and doc["lead"]["phone"] is None and doc["lead"]["latest_touch"] is None
    )
    assert attributes(state, alert)["source"]["StringValue"] == "unknown"


def test_a_lead_stored_before_touches_were_kept_shows_when_it_was_first_seen() -> None:
    state, alert = lead(first_touch=None, last_touch=None)
    assert "First touch:   2026-11-18 11:06 UTC" in render_text(state, alert).splitlines()


def test_an_unnamed_lead_is_named_once_by_its_email() -> None:
    state, alert = lead(profile={})
    lines = render_text(state, alert).splitlines()
    assert lines[0] == "Sales-ready lead: kim@acme.com"
    assert not any(line.startswith("Email:") for line in lines)
    assert sum(line.count("kim@acme.com") for line in lines) == 1


def test_source_and_do_not_email_fill_sns_s_ten_attributes() -> None:
    state, alert = lead()
    attrs = attributes(state, alert)
    assert attrs["source"] == {"DataType": "String", "StringValue": "forms"}
    assert attrs["do_not_email"] == {"DataType": "String", "StringValue": "false"}
    assert len(attrs) == 10  # SNS takes 10 at most: a new attribute must replace one


@pytest.mark.parametrize(
    ("template", "link"),
    [
        ("https://crm.example.com/leads/{lead_id}", "https://crm.example.com/leads/a%2Fb%3F%23%20%26"),
        (
            "https://x.example/view?id={lead_id}&tab=score",
            "https://x.example/view?id=a%2Fb%3F%23%20%26&tab=score",
        ),
        ("", None),
    ],
)
def test_the_link_quotes_the_id_with_nothing_safe(template: str, link: str | None) -> None:
    assert lead_link(template, "a/b?# &") == link


GOOD = ["", "https://crm.example.com/leads/{lead_id}", "http://127.0.0.1:3000/_local/cards/{lead_id}"]
BAD = [
    "crm.example.com/{lead_id}",  # no scheme
    "ftp://crm.example.com/{lead_id}",
    "https://crm.example.com/leads/",  # no placeholder
    "https://crm.example.com/{id}",  # another placeholder
    "https://crm.example.com/{lead_id}/{lead_id}",  # twice
    "https://crm.example.com/my leads/{lead_id}",  # a space
    'https://crm.example.com/"{lead_id}',
]


@pytest.mark.parametrize("value", GOOD + BAD)
def test_settings_and_template_check_lead_url_template_alike(value: str) -> None:
    parameter = translate(TEMPLATE).cfn["Parameters"]["LeadUrlTemplate"]
    assert parameter["AllowedPattern"] == LEAD_URL_PATTERN  # one pattern, so they cannot drift
    template_ok = re.fullmatch(parameter["AllowedPattern"], value) is not None
    try:
        Settings.model_validate({"LEAD_URL_TEMPLATE": value})
        settings_ok = True
    except ValidationError:
        settings_ok = False
    assert template_ok == settings_ok == (value in GOOD)


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:iam::123456789012:user/alice", "alice"),
        ("arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/JaneDoe", "JaneDoe"),
        ("arn:aws:sts::123456789012:assumed-role/Accounting-Role/JaneDoe", "JaneDoe"),
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Sales_0123abcd/jane@corp.example",
            "jane@corp.example",
        ),
        ("arn:aws-cn:sts::123456789012:federated-user/Bob", "Bob"),
        ("arn:aws-us-gov:iam::123456789012:role/ops/Deployer", "Deployer"),
        ("arn:aws:iam::123456789012:root", "root (123456789012)"),
        ("unknown", "unknown"),
        ("rep@us.example", "rep@us.example"),
        ("arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket/key"),
        ("arn:aws:sts::123456789012:assumed-role/", "arn:aws:sts::123456789012:assumed-role/"),
    ],
)
def test_principal_name_is_the_user_or_session_name(arn: str, name: str) -> None:
    assert principal_name(arn) == name
