"""What sales receives: an alert as plain text (email), as versioned JSON (machines), and SNS attributes.

Everything a caller controls (names, company, profile values, page paths, event names, and the reasons
built from them) is hostile until cleaned here: control and format characters are removed, whitespace
runs collapse to one space, long values are cut with an ellipsis (:func:`clean`). The Subject is folded
to printable ASCII (:func:`subject`), as SNS requires.

Size: SNS refuses a Publish whose Message plus message attributes (names, types and values) exceed
262,144 bytes of UTF-8. With ``MessageStructure=json`` every protocol's string is inside that one
Message (the text twice: ``default`` and ``email``; the JSON five times), so each has a byte budget,
counted as it appears in the Message (after JSON escaping): :data:`TEXT_BUDGET` for the text and
:data:`JSON_BUDGET` for the JSON. Reasons, contributions, activity and profile fields that do not fit
are left off, the text saying "... and N more" and the JSON counting them in ``truncated``. Same input,
same output. :func:`publish_problems` applies the checks SNS would; it finds nothing in any request
:func:`sns_message` builds.

What a rep acts on comes first: name, email, phone, the profile, the owner when known, the score, where
the lead came from (first touch) and what brought them back (latest source, with the UTM campaign),
and a link to the lead (the ``LeadUrlTemplate`` parameter). Machine identifiers (lead id, alert id,
rules version) are in the JSON form only.
"""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from leadscore.scoring import consent as consent_state
from leadscore.scoring.accounts import AccountAlert, Member
from leadscore.scoring.state import AlertEntry, Contribution, LeadState, RecentActivity, Touch, likelihood

ALERT_SCHEMA = "leadscore.alert/1"
_TITLES = {"sales_ready": "Sales-ready lead", "surge": "Buying surge", "category": "Interest crossed"}
PRIMARY_MODEL = "lead"  # the model every rules file has; alerts of other models name theirs


def title(alert: AlertEntry) -> str:
    """The alert's headline: the rules' (a model's ``alert.title``, a category's label), else the
    kind's ("Sales-ready lead"), cleaned."""
    return clean(alert.title, MAX_NAME) if alert.title else _TITLES[alert.kind]


def kind_of(alert: AlertEntry) -> str:
    """The ``kind`` attribute: the kind, prefixed with the model for models other than ``lead``
    ("customer_expansion:sales_ready"), so a filter policy can take one model's alerts (a prefix
    match) while ``sales_ready`` subscriptions keep receiving the lead model's only."""
    model = alert.card.model
    return alert.kind if model == PRIMARY_MODEL else f"{_token(model, 'other')}:{alert.kind}"


_FIELDS = (
    ("phone", "Phone"),
    ("job_title", "Title"),
    ("company", "Company"),
    ("company_size", "Size"),
    ("industry", "Industry"),
    ("country", "Country"),
    ("owner", "Owner"),
)
LEAD_ID_PLACEHOLDER = "{lead_id}"

# ---------------------------------------------------------------------------------------- SNS limits
# SNS Publish (API reference, Publish and MessageAttributeValue): the Message is UTF-8, at most
# 262,144 bytes *including* every message attribute's name, data type and value; the Subject is ASCII
# text that begins with a letter, number or punctuation mark, without line breaks or control
# characters, under 100 characters; attribute names, types and values must not be empty.
SNS_MAX_MESSAGE_BYTES = 262_144
SNS_MAX_SUBJECT_CHARS = 99
SNS_MAX_ATTRIBUTES = 10  # more are dropped for SQS subscriptions with raw message delivery
SNS_MAX_ATTRIBUTE_NAME = 256
SNS_MAX_ATTRIBUTE_TYPE_BYTES = 256
_PROTOCOLS_TEXT = ("default", "email")
_PROTOCOLS_JSON = ("email-json", "sqs", "lambda", "https", "http")

# Budgets, in UTF-8 bytes as each string appears escaped inside the Message. The Message holds the
# text twice and the JSON five times: 2 x 12 KiB + 5 x 36 KiB = 204 KiB (208,896 bytes), plus keys,
# attributes (< 1 KiB) and the Subject: well under 262,144, whatever the lead holds.
TEXT_BUDGET = 12 * 1024
JSON_BUDGET = 36 * 1024
ACTIVITY_TEXT_BUDGET = 4 * 1024  # the text's activity lines come first; the reasons get the rest
_MORE_RESERVE = 64  # room for one "... and N more" line
_TRUNCATED_RESERVE = 160  # room for the JSON's "truncated" counts

# Caps, in characters, of one cleaned value.
MAX_NAME = 100
MAX_EMAIL = 254
MAX_VALUE = 200  # a profile value, a reason, a path, an event name
MAX_KEY = 64  # a profile key, a category, a rule id, a type, a source, a tier, a grade
MAX_ID = 100  # lead id, alert id, rules version
MAX_PROFILE_FIELDS = 20
MAX_CATEGORIES_TEXT = 10
MAX_CATEGORIES_JSON = 20
MAX_RULES_PER_ACTIVITY = 10
MAX_RECENT = 5
_INT_DIGITS = 20  # longer integers are shown as (clipped) text

# Control, format (zero-width, bidi overrides), lone surrogates (JSON "\ud800" parses to one; it cannot
# be encoded as UTF-8), unassigned code points and non-characters (U+FFFE, U+FFFF: not XML characters).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn"})
_ELLIPSIS = "…"


# -------------------------------------------------------------------------------------------- cleaning
def _clip(text: str, limit: int, ellipsis: str = _ELLIPSIS) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)] + ellipsis


def clean(value: object, limit: int = MAX_VALUE) -> str:
    """``value`` as one line of text safe to show: no control, format or surrogate characters, runs of
    whitespace (line breaks included) as one space, at most ``limit`` characters (an ellipsis ends a
    cut value)."""
    text = value if isinstance(value, str) else _num(value)
    text = text[: limit * 8]  # bounded work; what follows only shortens it
    kept: list[str] = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch) not in _DROPPED_CATEGORIES:
            kept.append(ch)
    return _clip(" ".join("".join(kept).split()), limit)


def ascii_fold(value: object, limit: int = SNS_MAX_SUBJECT_CHARS) -> str:
    """``value`` cleaned, transliterated (NFKD, accents dropped) to printable ASCII, at most ``limit``
    characters ("..." ends a cut value)."""
    text = unicodedata.normalize("NFKD", clean(value, limit * 4))
    text = "".join(ch for ch in text if " " <= ch <= "~")
    return _clip(" ".join(text.split()), limit, "...")


def _num(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        digits = str(value)
        return f"{value:,}" if len(digits) <= _INT_DIGITS else digits
    if isinstance(value, float):
        return f"{value:,}"
    return str(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_scalar(value: object) -> object:
    """A profile value as JSON: numbers stay numbers while short and finite, text is cleaned."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and len(str(value)) <= _INT_DIGITS:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return clean(value)


def _date(epoch: int) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return clean(epoch, 32)


def lead_link(template: str, lead_id: str) -> str | None:
    """The link to the lead: ``template`` (the ``LeadUrlTemplate`` parameter, e.g.
    ``https://crm.example.com/leads/{lead_id}``) with the lead id URL-quoted in place of
    ``{lead_id}``; None without a template."""
    if not template:
        return None
    return template.replace(LEAD_ID_PLACEHOLDER, quote(lead_id, safe=""))


def display_name(state: LeadState) -> str:
    first, last = state.profile.get("first_name"), state.profile.get("last_name")
    name = " ".join(str(p) for p in (first, last) if p)
    return name or state.email or state.lead_id


def _name(state: LeadState) -> str:
    """The lead's name for an alert, cleaned: first and last name, else the email, else the lead id."""
    parts = (clean(state.profile.get(key, ""), MAX_NAME) for key in ("first_name", "last_name"))
    name = clean(" ".join(p for p in parts if p), MAX_NAME)
    return name or clean(state.email or "", MAX_EMAIL) or clean(state.lead_id, MAX_ID) or "lead"


# ------------------------------------------------------------------------------------------- measuring
def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _in_message(text: str) -> int:
    """Bytes ``text`` takes inside the Message (a JSON string there), without its quotes."""
    return _utf8_len(json.dumps(text, ensure_ascii=False)) - 2


def _fit(costs: list[int], budget: int) -> int:
    """How many leading items fit ``budget``."""
    used = 0
    for n, cost in enumerate(costs):
        used += cost
        if used > budget:
            return n
    return len(costs)


def _more(n: int) -> str:
    return f"  ... and {n} more"


# -------------------------------------------------------------------------------------------- rendering
class _Alert:
    """The alert's cleaned content, once."""

    def __init__(self, state: LeadState, alert: AlertEntry, link_template: str = "") -> None:
        card = alert.card
        self.state, self.alert, self.card = state, alert, card
        self.title = title(alert)
        self.model = clean(card.model, MAX_KEY)
        self.category = clean(alert.category, MAX_KEY) if alert.category else None
        self.name = _name(state)
        self.email = clean(state.email, MAX_EMAIL) if state.email else None
        self.link = lead_link(link_template, state.lead_id)
        self.first_touch = state.first_touch
        if self.first_touch is None and state.created_at:  # a lead stored before touches were kept
            self.first_touch = Touch(at=state.created_at, source="")
        self.last_touch = state.last_touch
        self.lead_id = clean(state.lead_id, MAX_ID)
        self.alert_id = clean(alert.id, MAX_ID)
        self.tier = clean(card.tier, MAX_KEY)
        self.stage = clean(alert.stage or state.stage or "lead", MAX_KEY)
        self.grade = clean(card.grade, MAX_KEY)
        self.rules_version = clean(card.rules_version, MAX_ID)
        categories: dict[str, float] = {}
        for key, points in sorted(card.categories.items(), key=lambda kv: (-_order(kv[1]), kv[0])):
            name = clean(key, MAX_KEY)
            if name and name not in categories and len(categories) < MAX_CATEGORIES_JSON:
                categories[name] = points
        self.categories = categories
        self.reasons = [r for r in (clean(reason) for reason in card.reasons) if r]
        self.profile: dict[str, object] = {}
        for key in sorted(state.profile):
            name = clean(key, MAX_KEY)
            if name and name not in self.profile:
                self.profile[name] = _json_scalar(state.profile[key])
        # The owner: the profile's (a form's owner field wins), else the one routing assigned.
        given = state.profile.get("owner")
        owner = given if given is not None and given != "" else state.owner
        self.owner = clean(owner, MAX_NAME) if owner is not None and owner != "" else None
        routed = owner is state.owner and state.owner_queue
        self.owner_queue = clean(state.owner_queue, MAX_KEY) if routed and self.owner else None
        self.fields = [
            (label, clean(state.profile[key]) if key != "owner" else self._owner_text())
            for key, label in _FIELDS
            if key in state.profile or (key == "owner" and self.owner)
        ]
        self.recent = list(reversed(state.recent[-MAX_RECENT:]))
        # Consent as the lead item holds it when the alert is rendered (newer than the card's snapshot).
        self.consent = consent_state.view(state.consent)
        self.do_not_email = consent_state.do_not_email(self.consent)

    def _owner_text(self) -> str:
        """ "Sam Ortiz", or "maria@x.com (queue na-mid-market)" when routing assigned it."""
        if not self.owner:
            return ""
        return self.owner + (f" (queue {self.owner_queue})" if self.owner_queue else "")


def _order(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _score(value: float) -> str:
    return f"{value:g}"


def _activity_line(act: RecentActivity) -> str:
    what = clean(act.path or act.name or "")
    kind = clean(act.type, MAX_KEY)
    return f"  - {_date(act.at)}  {kind}{' ' + what if what else ''}"


def _touch_text(touch: Touch) -> str:
    """ "2026-11-02 09:00 UTC  webflow, campaign spring-launch (google / cpc)"."""
    text = f"{_date(touch.at)}"
    source = clean(touch.source, MAX_KEY)
    if source:
        text += f"  {source}"
    if touch.campaign:
        text += f"{',' if source else ' '} campaign {clean(touch.campaign)}"
    via = " / ".join(clean(v, MAX_KEY) for v in (touch.channel, touch.medium) if v)
    return text + (f" ({via})" if via else "")


def _touch_json(touch: Touch | None) -> dict[str, Any] | None:
    if touch is None:
        return None
    return {
        "at": _date(touch.at),
        "source": clean(touch.source, MAX_KEY) or None,
        "campaign": clean(touch.campaign) if touch.campaign else None,
        "utm_source": clean(touch.channel, MAX_KEY) if touch.channel else None,
        "utm_medium": clean(touch.medium, MAX_KEY) if touch.medium else None,
    }


def _score_lines(a: _Alert) -> list[str]:
    """Score, tier and grade, the model (other than ``lead``), the interests and the likelihood."""
    card = a.card
    lines = [
        f"Score:    {_score(card.score)} (fit {_score(card.fit)}, activity {_score(card.activity)});"
        f" threshold {_score(card.threshold)}",
        f"Tier:     {a.tier}    Grade: {a.grade}    Stage: {a.stage}"
        + ("    SURGE: sudden buying signal" if card.surge else ""),
    ]
    if a.model != PRIMARY_MODEL:
        lines.append(f"Model:    {a.model}")
    if a.categories:
        shown = list(a.categories.items())[:MAX_CATEGORIES_TEXT]
        lines.append("Interest: " + ", ".join(f"{k} {_score(v)}" for k, v in shown))
    chance = likelihood(card)
    if chance:
        lines.append(f"Likely:   {chance}")
    return lines


def _text(a: _Alert) -> tuple[str, int, int]:
    """The email text, and how many reasons and activity lines it leaves off."""
    head = [f"{a.title}: {a.name}", ""]
    if a.do_not_email:
        head += [a.do_not_email, ""]
    if a.email and a.email != a.name:  # an unnamed lead is named by its email already
        head.append(f"Email:    {a.email}")
    for label, value in a.fields:
        if value:
            head.append(f"{label + ':':<9} {value}")
    head += ["", *_score_lines(a)]
    touches = []
    if a.first_touch is not None:
        touches.append(f"First touch:   {_touch_text(a.first_touch)}")
    if a.last_touch is not None:
        touches.append(f"Latest source: {_touch_text(a.last_touch)}")
    if touches:
        head += ["", *touches]
    head += ["", "Why:"]
    foot = ["", f"Open the lead: {clean(a.link, 2048)}"] if a.link else []

    def cost(lines: list[str]) -> int:
        return sum(_in_message(line) + 2 for line in lines)  # "\n" is 2 bytes escaped

    left = TEXT_BUDGET - cost(head) - cost(foot) - 2 * _MORE_RESERVE
    activity = [_activity_line(act) for act in a.recent]
    if activity:
        left -= cost(["", "Latest activity:"])
    shown_activity = _fit([_in_message(x) + 2 for x in activity], min(left, ACTIVITY_TEXT_BUDGET))
    left -= cost(activity[:shown_activity])
    reasons = [f"  - {r}" for r in a.reasons]
    shown_reasons = _fit([_in_message(x) + 2 for x in reasons], left)

    lines = head + reasons[:shown_reasons]
    if shown_reasons < len(reasons):
        lines.append(_more(len(reasons) - shown_reasons))
    if activity:
        lines += ["", "Latest activity:", *activity[:shown_activity]]
        if shown_activity < len(activity):
            lines.append(_more(len(activity) - shown_activity))
    lines += foot
    return "\n".join(lines), len(reasons) - shown_reasons, len(activity) - shown_activity


def render_text(state: LeadState, alert: AlertEntry, link_template: str = "") -> str:
    return _text(_Alert(state, alert, link_template))[0]


def subject(state: LeadState, alert: AlertEntry) -> str:
    """The email Subject: printable ASCII, starting with a letter, under 100 characters."""
    card = alert.card
    who = ascii_fold(_name(state)) or ascii_fold(state.lead_id) or "lead"
    company = ascii_fold(state.profile.get("company", ""))
    who += f" ({company})" if company else ""
    text = f"{title(alert)}: {who} - {_score(card.score)} {ascii_fold(card.grade, MAX_KEY)}"
    return ascii_fold(text, SNS_MAX_SUBJECT_CHARS)


def _contribution(c: Contribution) -> dict[str, Any]:
    out: dict[str, Any] = c.model_dump(exclude_none=True)
    for key in ("rule", "category"):
        if key in out:
            out[key] = clean(out[key], MAX_KEY)
    out["description"] = clean(c.description)
    out["points"] = _finite(c.points)
    return out


def _recent(act: RecentActivity) -> dict[str, Any]:
    out: dict[str, Any] = act.model_dump(exclude_none=True)
    for key in ("type", "source", "bot"):
        if key in out:
            out[key] = clean(out[key], MAX_KEY)
    for key in ("name", "path"):
        if key in out:
            out[key] = clean(out[key])
    out["rules"] = [clean(r, MAX_KEY) for r in act.rules[:MAX_RULES_PER_ACTIVITY]]
    return out


def render_json(state: LeadState, alert: AlertEntry, link_template: str = "") -> dict[str, Any]:
    """The alert as versioned JSON, within :data:`JSON_BUDGET` once in the Message."""
    a = _Alert(state, alert, link_template)
    card = a.card
    text, reasons_off, activity_off = _text(a)
    doc: dict[str, Any] = {
        "schema": ALERT_SCHEMA,
        "alert_id": f"{a.lead_id}/{a.alert_id}",
        "kind": alert.kind,
        "model": a.model,
        "title": a.title,
        "created_at": _date(alert.created_at),
        "lead": {
            "id": a.lead_id,
            "email": a.email,
            "name": a.name,
            "phone": clean(state.profile["phone"]) if state.profile.get("phone") else None,
            "owner": a.owner,
            "owner_queue": a.owner_queue,
            "link": a.link,
            "first_touch": _touch_json(a.first_touch),
            "latest_touch": _touch_json(a.last_touch),
            "profile": {},
        },
        "score": _finite(card.score),
        "fit": _finite(card.fit),
        "activity": _finite(card.activity),
        "tier": a.tier,
        "stage": a.stage,
        "grade": a.grade,
        "threshold": _finite(card.threshold),
        "surge": card.surge,
        "consent": {
            "do_not_email": a.consent.do_not_email,
            "reasons": [{"state": name, "since": _date(at)} for name, at in a.consent.reasons()],
        },
        "categories": {k: _finite(v) for k, v in a.categories.items()},
        "reasons": [],
        "contributions": [],
        "recent": [],
        "rules_version": a.rules_version,
        "text": text,
    }
    if card.probability is not None:  # a calibrated model only: the JSON of others stays as it was
        doc |= {
            "probability": card.probability,
            "horizon_days": card.horizon_days,
            "likelihood": likelihood(card),
        }
    if a.category:  # a category alert: which category crossed its threshold
        doc["category"] = a.category
    if alert.trace_id:  # the request whose event raised it: the correlation id in every log on its way
        doc["trace_id"] = clean(alert.trace_id, MAX_ID)

    def cost(value: object) -> int:
        return _in_message(_dumps(value))

    left = JSON_BUDGET - cost(doc) - _TRUNCATED_RESERVE
    # Each part in turn takes what it can of what is left: items are whole, and a list keeps its head.
    profile = list(a.profile.items())[:MAX_PROFILE_FIELDS]
    costs = [cost({k: v}) for k, v in profile]  # '"k": v' and ", " (the braces' two bytes)
    shown = _fit(costs, left)
    left -= sum(costs[:shown])
    doc["lead"]["profile"] = dict(profile[:shown])
    truncated = {"profile": len(a.profile) - shown}
    parts: list[tuple[str, list[Any]]] = [
        ("reasons", a.reasons),
        ("contributions", [_contribution(c) for c in card.contributions]),
        ("recent", [_recent(act) for act in a.recent]),
    ]
    for key, items in parts:
        costs = [cost(item) + 2 for item in items]  # and ", "
        shown = _fit(costs, left)
        left -= sum(costs[:shown])
        doc[key] = items[:shown]
        truncated[key] = len(items) - shown
    truncated["reasons_text"] = reasons_off
    truncated["recent_text"] = activity_off
    if any(truncated.values()):
        doc["truncated"] = truncated
    return doc


# ------------------------------------------------------------------------------------------- attributes
_COUNTRY = re.compile(r"[a-z][a-z .'-]{0,55}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}")


def _token(value: str, default: str) -> str:
    """A filterable attribute value: a short ASCII token, else ``default`` (never empty)."""
    text = ascii_fold(value, MAX_KEY)
    return text if _TOKEN.fullmatch(text) else default


def _country(value: object) -> str:
    """The country for filter policies: a plausible country name or code, lower case, never PII (an
    address or a number in the field gives "other")."""
    if value is None or value == "":
        return "unknown"
    text = ascii_fold(value, 56).lower()
    if not text:
        return "unknown"
    return text if _COUNTRY.fullmatch(text) else "other"


def _number(value: float) -> str | None:
    """A Number attribute value (plain decimal, 5 decimals at most, within the +/-10^9 that filter
    policies compare), or None for a value that is not such a number."""
    if not math.isfinite(value) or abs(value) > 1e9:
        return None
    text = f"{value:.5f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def attributes(state: LeadState, alert: AlertEntry) -> dict[str, dict[str, str]]:
    """SNS message attributes, for subscription filter policies (never PII, never empty).

    All ten of SNS's ten (:data:`SNS_MAX_ATTRIBUTES`; more are dropped for raw SQS delivery): kind,
    tier, grade, ``queue`` (the routing queue the lead's owner was assigned from, ``none`` without
    one: a desk subscribes to its own leads; it replaced ``fit``, the grade's letter, which a filter
    policy reads as ``grade: [{prefix: A}]``), top_category, surge, country, score, ``source``, the
    source of the latest touch (``form``, ``segment``, ``hubspot``...; ``unknown`` for a lead stored
    before touches were kept), and ``do_not_email`` (consent state). A new attribute must replace
    one. Phone, owner and link are PII or not filterable: they are in the Message only."""
    card = alert.card
    top = "none"
    if alert.category:  # a category alert: the category that crossed
        top = alert.category
    elif card.categories:
        top = max(card.categories.items(), key=lambda kv: _order(kv[1]))[0]
    grade = _token(card.grade, "none")
    attrs = {
        "kind": kind_of(alert),
        "tier": _token(card.tier, "unknown"),
        "grade": grade,
        "queue": _token(state.owner_queue, "none") if state.owner_queue else "none",
        "top_category": _token(top, "none"),
        "surge": "true" if card.surge else "false",
        "country": _country(state.profile.get("country")),
        # Consent (unsubscribed, complained or undeliverable): with source, 10 attributes: SNS's limit.
        "do_not_email": "true" if consent_state.view(state.consent).do_not_email else "false",
        "source": _token(state.last_touch.source, "unknown") if state.last_touch else "unknown",
    }
    out = {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}
    score = _number(card.score)
    if score is not None:
        out["score"] = {"DataType": "Number", "StringValue": score}
    return out


# -------------------------------------------------------------------------------------------- publish
def sns_message(state: LeadState, alert: AlertEntry, link_template: str = "") -> dict[str, Any]:
    """Keyword arguments for SNS Publish: text for email, JSON for machine protocols. With
    ``link_template`` (``LeadUrlTemplate``), both link to the lead."""
    structured = render_json(state, alert, link_template)
    text = structured["text"]
    body = _dumps(structured)
    message = dict.fromkeys(_PROTOCOLS_TEXT, text) | dict.fromkeys(_PROTOCOLS_JSON, body)
    return {
        "Subject": subject(state, alert),
        "Message": json.dumps(message, ensure_ascii=False),
        "MessageStructure": "json",
        "MessageAttributes": attributes(state, alert),
    }


def request_size(request: Mapping[str, Any]) -> int:
    """Bytes SNS counts against its limit: the Message plus every attribute's name, type and value."""
    size = _utf8_len(str(request.get("Message", "")))
    for name, attr in (request.get("MessageAttributes") or {}).items():
        size += _utf8_len(str(name))
        if isinstance(attr, Mapping):
            size += _utf8_len(str(attr.get("DataType", "")))
            if "StringValue" in attr:
                size += _utf8_len(str(attr["StringValue"]))
            binary = attr.get("BinaryValue")
            if isinstance(binary, bytes | bytearray):
                size += len(binary)
    return size


_PUNCTUATION = frozenset(string.punctuation)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_ATTRIBUTE_TYPES = ("String", "String.Array", "Number", "Binary")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# What SNS and SQS accept in a body or a String attribute (the XML character set).
_INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _subject_problems(value: object) -> list[str]:
    if not isinstance(value, str):
        return ["subject_not_string"]
    problems = []
    if not value:
        problems.append("subject_empty")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        problems.append("subject_control_characters")
    if any(not (" " <= ch <= "~") and unicodedata.category(ch) != "Cc" for ch in value):
        problems.append("subject_not_ascii")
    if len(value) > SNS_MAX_SUBJECT_CHARS:
        problems.append("subject_too_long")
    if value and not (value[0].isascii() and (value[0].isalnum() or value[0] in _PUNCTUATION)):
        problems.append("subject_bad_first_character")
    return problems


def _message_problems(value: object, structure: object) -> list[str]:
    if not isinstance(value, str):
        return ["message_not_string"]
    if not value:
        return ["message_empty"]
    if not _encodes(value):
        return ["message_not_utf8"]
    if _INVALID_CHARACTER.search(value):
        return ["message_invalid_characters"]
    if structure is None:
        return []
    if structure != "json":
        return ["message_structure_invalid"]
    try:
        parsed = json.loads(value)
    except ValueError:
        return ["message_json_invalid"]
    if not isinstance(parsed, dict):
        return ["message_json_invalid"]
    problems = []
    if not isinstance(parsed.get("default"), str):
        problems.append("message_json_no_default")
    if any(not isinstance(v, str) for v in parsed.values()):
        problems.append("message_json_value_not_string")
    if any(isinstance(v, str) and not _encodes(v) for v in parsed.values()):
        problems.append("message_not_utf8")
    elif any(isinstance(v, str) and _INVALID_CHARACTER.search(v) for v in parsed.values()):
        problems.append("message_invalid_characters")
    return problems


def _attribute_problems(attrs: object) -> list[str]:
    if attrs is None:
        return []
    if not isinstance(attrs, Mapping):
        return ["attributes_invalid"]
    problems = ["attributes_too_many"] if len(attrs) > SNS_MAX_ATTRIBUTES else []
    for name, attr in attrs.items():
        if not isinstance(name, str) or not name:
            problems.append("attribute_name_empty")
            continue
        problems += _attribute_name_problems(name)
        if not isinstance(attr, Mapping):
            problems.append("attribute_invalid")
            continue
        problems += _attribute_value_problems(attr)
    return problems


def _attribute_name_problems(name: str) -> list[str]:
    problems = []
    if len(name) > SNS_MAX_ATTRIBUTE_NAME:
        problems.append("attribute_name_too_long")
    if not _ATTRIBUTE_NAME.fullmatch(name) or name.startswith(".") or name.endswith(".") or ".." in name:
        problems.append("attribute_name_invalid")
    if name.lower().startswith(("aws.", "amazon.")):
        problems.append("attribute_name_reserved")
    return problems


def _attribute_value_problems(attr: Mapping[str, Any]) -> list[str]:
    """A message attribute's type and value: what SNS checks of ``DataType`` and the value it names."""
    kind = attr.get("DataType")
    if not isinstance(kind, str) or not kind:
        return ["attribute_type_empty"]
    problems = []
    base = next((t for t in sorted(_ATTRIBUTE_TYPES, key=len, reverse=True) if kind.startswith(t)), None)
    if base is None or not (kind == base or kind[len(base)] == "."):
        problems.append("attribute_type_invalid")
    if _utf8_len(kind) > SNS_MAX_ATTRIBUTE_TYPE_BYTES:
        problems.append("attribute_type_too_long")
    if base == "Binary":
        return problems if attr.get("BinaryValue") else [*problems, "attribute_empty_value"]
    value = attr.get("StringValue")
    if not isinstance(value, str) or not value:
        return [*problems, "attribute_empty_value"]
    if not _encodes(value) or _INVALID_CHARACTER.search(value):
        problems.append("attribute_value_invalid")
    if base == "Number" and not _NUMBER.fullmatch(value):
        problems.append("attribute_number_invalid")
    if base == "String.Array" and not _is_json_list(value):
        problems.append("attribute_array_invalid")
    return problems


def _is_json_list(value: str) -> bool:
    try:
        return isinstance(json.loads(value), list)
    except ValueError:
        return False


def publish_problems(request: Mapping[str, Any]) -> list[str]:
    """The constraints of SNS Publish that ``request`` breaks, by name (never its content, so never
    PII), sorted; empty when SNS would accept it. Delivery records such an alert failed at once."""
    problems: list[str] = []
    if "Subject" in request:
        problems += _subject_problems(request["Subject"])
    problems += _message_problems(request.get("Message"), request.get("MessageStructure"))
    problems += _attribute_problems(request.get("MessageAttributes"))
    if request_size(request) > SNS_MAX_MESSAGE_BYTES:
        problems.append("message_too_large")
    return sorted(set(problems))


# -------------------------------------------------------------------------------------------- accounts
_ACCOUNT_TITLES = {"account_sales_ready": "Account sales-ready", "account_surge": "Account surge"}
ACCOUNT_ALERT_SCHEMA = "leadscore.account_alert/1"


def _person(m: Member) -> dict[str, Any]:
    return {
        "lead_id": clean(m.lead_id, MAX_ID),
        "name": clean(m.name or m.lead_id, MAX_NAME),
        "title": clean(m.title) if m.title else None,
        "role": clean(m.role, MAX_KEY) if m.role else None,
        "score": _finite(m.score),
        "tier": clean(m.tier, MAX_KEY),
        "last_active": _date(m.active_at) if m.active_at else None,
        "did": clean(m.did) if m.did else None,
    }


def account_subject(alert: AccountAlert) -> str:
    """ "Account sales-ready: contoso.com, 3 people engaged"."""
    card = alert.card
    people = card.active_people if alert.kind == "account_surge" else card.engaged
    noun = "person" if people == 1 else "people"
    text = f"{_ACCOUNT_TITLES[alert.kind]}: {ascii_fold(card.domain)}, {people} {noun} engaged"
    return ascii_fold(text, SNS_MAX_SUBJECT_CHARS)


def _account_text(alert: AccountAlert, people: list[dict[str, Any]]) -> str:
    card = alert.card
    roles = ", ".join(f"{clean(k, MAX_KEY)} {v}" for k, v in card.roles.items())
    lines = [
        f"{_ACCOUNT_TITLES[alert.kind]}: {clean(card.domain)}",
        "",
        f"Score:     {_score(card.score)} (members {_score(card.rollup)}, fit {_score(card.fit)});"
        f" threshold {_score(card.threshold)}",
        f"Tier:      {clean(card.tier, MAX_KEY)}    Members: {card.members}    Engaged: {card.engaged}"
        f"    Active this week: {card.active_people}",
        f"Committee: {clean(card.committee, MAX_KEY)} ({roles})"
        + (
            f"; missing {', '.join(clean(r, MAX_KEY) for r in card.missing_roles)}"
            if card.missing_roles
            else ""
        ),
        "",
        "People:",
    ]
    budget = TEXT_BUDGET - sum(_in_message(x) + 2 for x in lines) - 2 * _MORE_RESERVE
    body = []
    for p in people:
        line = f"  - {p['name']}" + (f", {p['title']}" if p["title"] else "")
        line += f" ({p['role'] or 'no role'}, score {_score(p['score'] or 0)})"
        line += f": {p['did']}" + (f" at {p['last_active']}" if p["last_active"] else "") if p["did"] else ""
        body.append(line)
    shown = _fit([_in_message(x) + 2 for x in body], budget)
    lines += body[:shown]
    if shown < len(body):
        lines.append(_more(len(body) - shown))
    if card.reasons:
        lines += ["", "Account fit:", *(f"  - {clean(r)}" for r in card.reasons[:10])]
    return "\n".join(lines)


def account_sns_message(alert: AccountAlert) -> dict[str, Any]:
    """An account alert as SNS Publish arguments: the same protocols and the same ten attribute
    names as a lead alert (``kind`` tells them apart; ``source`` is ``account``)."""
    card = alert.card
    people = [_person(m) for m in alert.people[: MAX_RECENT * 2]]
    text = _account_text(alert, people)
    doc = {
        "schema": ACCOUNT_ALERT_SCHEMA,
        "alert_id": f"{clean(card.domain, MAX_ID)}/{clean(alert.id, MAX_ID)}",
        "kind": alert.kind,
        "created_at": _date(alert.created_at),
        "account": {
            "domain": clean(card.domain, MAX_ID),
            "score": _finite(card.score),
            "rollup": _finite(card.rollup),
            "fit": _finite(card.fit),
            "tier": clean(card.tier, MAX_KEY),
            "threshold": _finite(card.threshold),
            "members": card.members,
            "engaged": card.engaged,
            "active_people": card.active_people,
            "committee": {
                "grade": card.committee,
                "roles": dict(card.roles),
                "missing": list(card.missing_roles),
            },
        },
        "people": people,
        "text": text,
    }
    body = _dumps(doc)
    message = dict.fromkeys(_PROTOCOLS_TEXT, text) | dict.fromkeys(_PROTOCOLS_JSON, body)
    country = card.profile.get("country")
    attrs = {
        "kind": alert.kind,
        "tier": _token(card.tier, "unknown"),
        "grade": _token(card.committee, "none"),  # the committee's grade: complete, partial, none
        "queue": "none",
        "top_category": "none",
        "surge": "true" if card.surge else "false",
        "country": _country(country),
        "do_not_email": "false",
        "source": "account",
    }
    out = {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}
    score = _number(card.score)
    if score is not None:
        out["score"] = {"DataType": "Number", "StringValue": score}
    return {
        "Subject": account_subject(alert),
        "Message": json.dumps(message, ensure_ascii=False),
        "MessageStructure": "json",
        "MessageAttributes": out,
    }
