"""The alert outbox inside the lead item: claim, publish, mark sent (or release on failure).

The scorer puts an alert in the lead's outbox in the same atomic write that crossed the threshold.
The notifier claims it with a lease (so a second stream record for the same item does not publish
it again), publishes to SNS, then marks it sent. If publishing fails, the claim is released and the
stream retries. Every write bumps ``ver`` so the scorer's cached state notices.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.dal.leads import LEAD_SK, lead_pk

LEASE_SECONDS = 120


def _update(
    table: str, lead_id: str, alert_id: str, expression: str, condition: str, values: dict[str, Any]
) -> bool:
    text = f"{expression} {condition}"
    names = {
        "#ob": "outbox",
        "#id": alert_id,
        "#st": "status",
        "#lease": "lease_until",
        "#tok": "lease_token",
    }
    values = {**values, ":one": {"N": "1"}}
    # DynamoDB rejects names and values that the expressions do not use.
    used_names = {k: v for k, v in names.items() if re.search(re.escape(k) + r"\b", text)}
    used_values = {k: v for k, v in values.items() if re.search(re.escape(k) + r"\b", text)}
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": LEAD_SK}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=used_names,
            ExpressionAttributeValues=used_values,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def claim(table: str, lead_id: str, alert_id: str, now: int) -> str | None:
    """Take the alert for publishing. Returns a lease token, or None if it is sent or leased."""
    token = secrets.token_hex(8)
    ok = _update(
        table,
        lead_id,
        alert_id,
        "SET #ob.#id.#st = :sending, #ob.#id.#lease = :until, #ob.#id.#tok = :tok, ver = ver + :one",
        "#ob.#id.#st = :pending OR (#ob.#id.#st = :sending AND #ob.#id.#lease < :now)",
        {
            ":sending": {"S": "sending"},
            ":pending": {"S": "pending"},
            ":until": {"N": str(now + LEASE_SECONDS)},
            ":now": {"N": str(now)},
            ":tok": {"S": token},
        },
    )
    return token if ok else None


def mark_sent(table: str, lead_id: str, alert_id: str, token: str, now: int) -> bool:
    return _update(
        table,
        lead_id,
        alert_id,
        "SET #ob.#id.#st = :sent, #ob.#id.sent_at = :now, ver = ver + :one DELETE alert_pending :ids",
        "#ob.#id.#st = :sending AND #ob.#id.#tok = :tok",
        {
            ":sent": {"S": "sent"},
            ":sending": {"S": "sending"},
            ":now": {"N": str(now)},
            ":tok": {"S": token},
            ":ids": {"SS": [alert_id]},
        },
    )


def release(table: str, lead_id: str, alert_id: str, token: str) -> bool:
    return _update(
        table,
        lead_id,
        alert_id,
        "SET #ob.#id.#st = :pending, #ob.#id.#lease = :zero, ver = ver + :one",
        "#ob.#id.#st = :sending AND #ob.#id.#tok = :tok",
        {
            ":pending": {"S": "pending"},
            ":sending": {"S": "sending"},
            ":zero": {"N": "0"},
            ":tok": {"S": token},
        },
    )
