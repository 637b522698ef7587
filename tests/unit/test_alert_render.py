"""Alerts SNS always accepts, whatever a caller put in the lead (pure, no AWS).

- Property: over hostile profiles, names, paths, event names and reasons (line breaks, NUL, bidi
  overrides, zero-width and lone surrogate characters, quotes and backslashes, 4-byte characters),
  0..400 reasons and paths up to 2,000 characters, ``publish_problems(sns_message(...)) == []``: the
  Subject is printable ASCII under 100 characters, the request (Message plus attributes) is under
  262,144 bytes of UTF-8, each protocol's string is within its budget, attributes are never empty.
- The two overflows seen on real handlers (318 reasons; five page views with 1,022-character paths)
  leave lines off with "... and N more", count them in ``truncated`` and fit.
- ``publish_problems`` names each constraint a request breaks (so the property above can fail).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadscore.alerts import (
    JSON_BUDGET,
    SNS_MAX_MESSAGE_BYTES,
    TEXT_BUDGET,
    attributes,
    clean,
    publish_problems,
    render_json,
    render_text,
    request_size,
    sns_message,
    subject,
)
from leadscore.scoring.state import AlertEntry, Contribution, LeadState, RecentActivity, ScoreCard, Touch

HOSTILE = [
    "\r\n",
    "\n",
    "\r",
    "\t",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\uffff",
    '"',
    "\\",
    "\\u0000",
    "😀",
    "é",
    "李",
    "ﬁ",
    "Bcc: x@evil.test",
    " ",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.characters()), max_size=60).map("".join)
long_text = st.one_of(
    hostile_text,
    st.builds(lambda piece, n: (piece * n)[:2000], st.sampled_from([*HOSTILE, "a"]), st.integers(1, 2000)),
)
scalar = st.one_of(hostile_text, long_text, st.integers(-(10**30), 10**30), st.floats(), st.booleans())
PROFILE_KEYS = [
    "first_name",
    "last_name",
    "company",
    "job_title",
    "industry",
    "country",
    "company_size",
    "phone",
    "owner",
]
# The longest link LeadUrlTemplate allows (1,024 characters), to a lead.
LINK = "https://crm.example.com/" + "l" * (1024 - 34) + "/{lead_id}"


def _card(reasons: list[str], contributions: int, categories: dict[str, float], grade: str) -> ScoreCard:
    return ScoreCard(
        score=131.5,
        fit=60,
        activity=71.5,
        tier="sales_ready",
        grade=grade,
        categories=categories,
        contributions=[
            Contribution(rule=f"rule-{n}", kind="activity", description=reasons[n % len(reasons)], points=1)
            for n in range(contributions if reasons else 0)
        ],
        reasons=reasons,
        rules_version="s3:v42",
        computed_at=1795446000,
    )


@st.composite
def hostile_alerts(draw: st.DrawFn) -> tuple[LeadState, AlertEntry]:
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(PROFILE_KEYS, scalar))
    profile: dict[str, Any] = draw(known) | draw(st.dictionaries(hostile_text, scalar, max_size=20))
    reason = st.one_of(hostile_text, long_text)
    reasons = draw(
        st.one_of(st.lists(reason, max_size=40), st.integers(0, 400).map(lambda n: ["r" * 60] * n))
    )
    recent = [
        RecentActivity(
            at=draw(st.integers(0, 4_000_000_000)),
            type=draw(st.sampled_from(["page_view", "form_submit"]) | hostile_text),
            source="segment",
            path=draw(st.none() | long_text),
            name=draw(st.none() | long_text),
            rules=draw(st.lists(hostile_text, max_size=12)),
        )
        for _ in range(draw(st.integers(0, 10)))
    ]
    touch = st.builds(
        Touch,
        at=st.integers(0, 4_000_000_000),
        source=hostile_text,
        campaign=st.none() | long_text,
        channel=st.none() | long_text,
        medium=st.none() | hostile_text,
    )
    state = LeadState(
        lead_id="e0123456789abcdef0123456789abcde",
        email=draw(st.none() | st.just("dana.reyes@northwindlabs.io") | hostile_text),
        profile=profile,
        recent=recent,
        first_touch=draw(st.none() | touch),
        last_touch=draw(st.none() | touch),
    )
    categories = draw(st.dictionaries(hostile_text, st.floats(0, 1000), max_size=25))
    card = _card(
        reasons, draw(st.integers(0, 60)), categories, draw(st.sampled_from(["A4", "D1"]) | hostile_text)
    )
    kind = draw(st.sampled_from(["sales_ready", "surge"]))
    return state, AlertEntry(id=f"{kind}-1", kind=kind, created_at=1795446000, card=card)


def _in_message(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def assert_acceptable(state: LeadState, alert: AlertEntry) -> dict[str, Any]:
    request = sns_message(state, alert, LINK)
    assert publish_problems(request) == []
    size = request_size(request)
    assert size < SNS_MAX_MESSAGE_BYTES
    assert len(request["Message"].encode("utf-8")) <= size  # the real UTF-8 bytes: it encodes
    title = request["Subject"]
    assert 0 < len(title) < 100 and title.isascii() and title.isprintable() and not title[0].isspace()
    bodies = json.loads(request["Message"])
    assert set(bodies) == {"default", "email", "email-json", "sqs", "lambda", "https", "http"}
    for key in ("default", "email"):
        assert _in_message(bodies[key]) <= TEXT_BUDGET
    for key in ("email-json", "sqs", "lambda", "https", "http"):
        assert _in_message(bodies[key]) <= JSON_BUDGET
    for value in request["MessageAttributes"].values():
        assert value["StringValue"] and "@" not in value["StringValue"]
    for line in bodies["email"].splitlines():  # no control or format characters reach a reader
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in line)
    return request


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(hostile_alerts())
def test_sns_accepts_every_alert_whatever_the_lead_holds(lead: tuple[LeadState, AlertEntry]) -> None:
    state, alert = lead
    request = assert_acceptable(state, alert)
    assert sns_message(state, alert, LINK) == request  # deterministic


def sample(**state: Any) -> tuple[LeadState, AlertEntry]:
    card = _card(
        ["Requested a demo, last today (+40)", "C-level or VP title (+25)"], 2, {"buying-signal": 60}, "A4"
    )
    lead = LeadState(
        lead_id="e0123456789abcdef0123456789abcde",
        email="dana.reyes@northwindlabs.io",
        profile={"first_name": "Dana", "last_name": "Reyes", "company": "Northwind", "country": "US"},
    )
    return lead.model_copy(update=state), AlertEntry(
        id="sales_ready-1", kind="sales_ready", created_at=1795446000, card=card
    )


def test_318_reasons_end_with_and_n_more_and_fit() -> None:
    state, alert = sample()
    reasons = [f"Matched rule number {n} with its evidence, last today (+1)" for n in range(318)]
    alert = alert.model_copy(update={"card": alert.card.model_copy(update={"reasons": reasons})})
    request = assert_acceptable(state, alert)
    text = render_text(state, alert, LINK)
    (more,) = [line for line in text.splitlines() if "more" in line]
    shown = sum(1 for line in text.splitlines() if line.startswith("  - Matched rule"))
    assert more == f"  ... and {318 - shown} more" and 0 < shown < 318
    assert text.splitlines()[-1] == "Open the lead: " + LINK.replace("{lead_id}", state.lead_id)  # kept
    assert render_json(state, alert, LINK)["truncated"]["reasons_text"] == 318 - shown
    assert json.loads(json.loads(request["Message"])["sqs"])["text"] == text


def test_five_page_views_with_1022_character_paths_fit() -> None:
    def views(char: str) -> list[RecentActivity]:
        path = "/" + char * 1021
        return [
            RecentActivity(at=1795437000 + n, type="page_view", source="segment", path=path) for n in range(5)
        ]

    # 4-byte characters (as the overflow seen: each one escaped twice before): a line is left off.
    state, alert = sample(recent=views("😀"))
    assert_acceptable(state, alert)
    lines = render_text(state, alert).splitlines()
    activity = lines[lines.index("Latest activity:") + 1 :]
    assert "  ... and 1 more" in activity
    assert all(line.endswith("…") for line in activity if "page_view" in line)  # each path cut
    doc = render_json(state, alert)
    assert doc["truncated"]["recent_text"] == 1
    assert all(len(r["path"]) == 200 and r["path"].endswith("…") for r in doc["recent"])
    # ASCII: the five cut paths fit, nothing left off.
    state, alert = sample(recent=views("a"))
    assert_acceptable(state, alert)
    assert "more" not in render_text(state, alert) and "truncated" not in render_json(state, alert)


def test_a_header_injection_in_a_name_never_reaches_the_subject_or_the_text() -> None:
    state, alert = sample(
        profile={"first_name": "Dana\r\nBcc: x@evil.test", "last_name": "\u202eReyes\u200b"}
    )
    assert_acceptable(state, alert)
    assert subject(state, alert) == "Sales-ready lead: Dana Bcc: x@evil.test Reyes - 131.5 A4"
    assert render_text(state, alert).splitlines()[0] == "Sales-ready lead: Dana Bcc: x@evil.test Reyes"
    assert render_json(state, alert)["lead"]["name"] == "Dana Bcc: x@evil.test Reyes"


def test_the_subject_folds_to_ascii_and_falls_back_to_the_lead_id() -> None:
    state, alert = sample(profile={"first_name": "Zoë", "last_name": "Ångström", "company": "ﬁrma"})
    assert subject(state, alert) == "Sales-ready lead: Zoe Angstrom (firma) - 131.5 A4"
    state, alert = sample(profile={"first_name": "李", "company": "\u200b"})
    assert subject(state, alert) == "Sales-ready lead: e0123456789abcdef0123456789abcde - 131.5 A4"
    state, alert = sample(profile={"first_name": "D" * 300})
    title = subject(state, alert)
    assert len(title) == 99 and title.endswith("...")


def test_clean_removes_controls_and_format_characters_and_cuts_long_values() -> None:
    assert clean("a\x00b\u202ec\u200bd\ud800e\uffff") == "abcde"
    assert clean("  Dana \r\n\t Reyes  ") == "Dana Reyes"
    assert clean("x" * 500) == "x" * 199 + "…"


def test_attributes_are_never_empty_and_never_carry_pii() -> None:
    for country, expected in [
        ("dana@evil.test", "other"),
        ("+1 555 0100", "other"),
        ("", "unknown"),
        ("\u200b", "unknown"),
        ("Côte d'Ivoire", "cote d'ivoire"),
        ("GB", "gb"),
    ]:
        state, alert = sample(profile={"country": country})
        assert attributes(state, alert)["country"]["StringValue"] == expected
    state, alert = sample()
    empty = alert.model_copy(update={"card": alert.card.model_copy(update={"grade": "", "tier": "\x00"})})
    attrs = attributes(state, empty)
    assert attrs["grade"]["StringValue"] == "none" and attrs["queue"]["StringValue"] == "none"
    assert attrs["tier"]["StringValue"] == "unknown"


# --------------------------------------------------------------------------------------- publish_problems
def test_publish_problems_names_each_constraint_broken() -> None:
    state, alert = sample()
    good = sns_message(state, alert)
    assert publish_problems(good) == []

    def broken(**changes: Any) -> list[str]:
        return publish_problems({**good, **changes})

    assert broken(Subject="Dana\r\nBcc: x") == ["subject_control_characters"]
    assert broken(Subject="D" * 100) == ["subject_too_long"]
    assert broken(Subject="Zoë") == ["subject_not_ascii"]
    assert broken(Subject=" Dana") == ["subject_bad_first_character"]
    assert broken(Subject="") == ["subject_empty"]
    assert broken(Message=json.dumps({"default": "x" * SNS_MAX_MESSAGE_BYTES})) == ["message_too_large"]
    assert broken(Message=json.dumps({"email": "x"})) == ["message_json_no_default"]
    assert broken(Message="not json") == ["message_json_invalid"]
    assert broken(Message=json.dumps({"default": "a\ud800"}, ensure_ascii=False)) == ["message_not_utf8"]
    assert broken(Message=json.dumps({"default": "\uffff"}, ensure_ascii=False)) == [
        "message_invalid_characters"
    ]
    attrs = good["MessageAttributes"]
    assert broken(MessageAttributes={**attrs, "country": {"DataType": "String", "StringValue": ""}}) == [
        "attribute_empty_value"
    ]
    assert broken(MessageAttributes={**attrs, "score": {"DataType": "Number", "StringValue": "nan"}}) == [
        "attribute_number_invalid"
    ]
    nine = {k: v for k, v in attrs.items() if k != "source"}  # the alert uses all 10: make room for one
    assert broken(MessageAttributes={**nine, "AWS.x": {"DataType": "String", "StringValue": "a"}}) == [
        "attribute_name_reserved"
    ]
    assert broken(MessageAttributes={**nine, "a b": {"DataType": "String", "StringValue": "a"}}) == [
        "attribute_name_invalid"
    ]
    assert broken(MessageAttributes={**nine, "x": {"DataType": "Text", "StringValue": "a"}}) == [
        "attribute_type_invalid"
    ]
    many = {f"a{n}": {"DataType": "String", "StringValue": "v"} for n in range(11)}
    assert broken(MessageAttributes=many) == ["attributes_too_many"]
    # The attributes count: a Message that fits alone is too large with them.
    room = SNS_MAX_MESSAGE_BYTES - len(json.dumps({"default": ""}))
    alone = {"Message": json.dumps({"default": "x" * room}), "MessageStructure": "json"}
    assert publish_problems(alone) == []
    assert publish_problems(
        {**alone, "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}
    ) == ["message_too_large"]
    # Never the content: the names are fixed words.
    assert all("Dana" not in p and "@" not in p for p in broken(Subject="Dana\r\nx@evil.test" * 10))


def test_the_alert_shows_the_stage_it_was_raised_in() -> None:
    """The stage the lead entered with the crossing (AlertEntry.stage), in the text and the JSON; an
    alert raised before stages were kept shows the lead's stage (a stored lead without one: lead)."""
    card = _card(["Requested a demo (+40)"], 1, {"buying": 40}, "A4")
    state = LeadState(lead_id="e" + "0" * 31, email="dana@northwind.io", stage="sal")
    alert = AlertEntry(id="sales_ready-3", kind="sales_ready", created_at=1795446000, card=card, stage="mql")
    assert "Stage: mql" in render_text(state, alert)
    assert render_json(state, alert)["stage"] == "mql"
    older = alert.model_copy(update={"stage": None})
    assert render_json(state, older)["stage"] == "sal"
    assert render_json(state.model_copy(update={"stage": None}), older)["stage"] == "lead"
    assert len(attributes(state, alert)) <= 10  # SNS's limit: the stage is no attribute
