"""What sales receives: an alert as plain text (email), as versioned JSON (machines), and SNS attributes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from leadscore.scoring.state import AlertEntry, LeadState

ALERT_SCHEMA = "leadscore.alert/1"
_TITLES = {"sales_ready": "Sales-ready lead", "surge": "Buying surge"}
_FIELDS = (
    ("job_title", "Title"),
    ("company", "Company"),
    ("company_size", "Size"),
    ("industry", "Industry"),
    ("country", "Country"),
)


def _date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def display_name(state: LeadState) -> str:
    first, last = state.profile.get("first_name"), state.profile.get("last_name")
    name = " ".join(str(p) for p in (first, last) if p)
    return name or state.email or state.lead_id


def subject(state: LeadState, alert: AlertEntry) -> str:
    card = alert.card
    company = state.profile.get("company")
    who = display_name(state) + (f" ({company})" if company else "")
    text = f"{_TITLES[alert.kind]}: {who} - {card.score:g} {card.grade}"
    return text if len(text) <= 99 else text[:96] + "..."


def render_text(state: LeadState, alert: AlertEntry) -> str:
    card = alert.card
    lines = [f"{_TITLES[alert.kind]}: {display_name(state)}", ""]
    if state.email:
        lines.append(f"Email:    {state.email}")
    for key, label in _FIELDS:
        if key in state.profile:
            lines.append(f"{label + ':':<9} {_num(state.profile[key])}")
    lines += [
        "",
        f"Score:    {card.score:g} (fit {card.fit:g}, activity {card.activity:g});"
        f" threshold {card.threshold:g}",
        f"Tier:     {card.tier}    Grade: {card.grade}"
        + ("    SURGE: sudden buying signal" if card.surge else ""),
    ]
    if card.categories:
        lines.append(
            "Interest: "
            + ", ".join(f"{k} {v:g}" for k, v in sorted(card.categories.items(), key=lambda kv: -kv[1]))
        )
    lines += ["", "Why:"] + [f"  - {r}" for r in card.reasons]
    if state.recent:
        lines += ["", "Latest activity:"]
        for act in reversed(state.recent[-5:]):
            what = act.path or act.name or ""
            lines.append(f"  - {_date(act.at)}  {act.type}{' ' + what if what else ''}")
    lines += [
        "",
        f"Rules version: {card.rules_version}  |  lead id: {state.lead_id}  |  alert id: {alert.id}",
    ]
    return "\n".join(lines)


def render_json(state: LeadState, alert: AlertEntry) -> dict[str, Any]:
    card = alert.card
    return {
        "schema": ALERT_SCHEMA,
        "alert_id": f"{state.lead_id}/{alert.id}",
        "kind": alert.kind,
        "created_at": _date(alert.created_at),
        "lead": {
            "id": state.lead_id,
            "email": state.email,
            "name": display_name(state),
            "profile": state.profile,
        },
        "score": card.score,
        "fit": card.fit,
        "activity": card.activity,
        "tier": card.tier,
        "grade": card.grade,
        "threshold": card.threshold,
        "surge": card.surge,
        "categories": card.categories,
        "reasons": card.reasons,
        "contributions": [c.model_dump(exclude_none=True) for c in card.contributions],
        "recent": [a.model_dump(exclude_none=True) for a in reversed(state.recent[-5:])],
        "rules_version": card.rules_version,
        "text": render_text(state, alert),
    }


def attributes(state: LeadState, alert: AlertEntry) -> dict[str, dict[str, str]]:
    """SNS message attributes, for subscription filter policies (never PII)."""
    card = alert.card
    top = max(card.categories.items(), key=lambda kv: kv[1])[0] if card.categories else "none"
    attrs = {
        "kind": alert.kind,
        "tier": card.tier,
        "grade": card.grade,
        "fit": card.grade[0],
        "top_category": top,
        "surge": "true" if card.surge else "false",
        "country": str(state.profile.get("country", "unknown")).lower(),
    }
    out = {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}
    out["score"] = {"DataType": "Number", "StringValue": f"{card.score:g}"}
    return out


def sns_message(state: LeadState, alert: AlertEntry) -> dict[str, Any]:
    """Keyword arguments for SNS Publish: text for email, JSON for machine protocols."""
    structured = render_json(state, alert)
    text = structured["text"]
    body = json.dumps(structured, sort_keys=True)
    message = {
        "default": text,
        "email": text,
        "email-json": body,
        "sqs": body,
        "lambda": body,
        "https": body,
        "http": body,
    }
    return {
        "Subject": subject(state, alert),
        "Message": json.dumps(message),
        "MessageStructure": "json",
        "MessageAttributes": attributes(state, alert),
    }
