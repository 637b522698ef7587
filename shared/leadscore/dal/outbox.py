"""The alert outbox inside the lead item: claim, then mark sent, back off, or fail (UpdateItem).

The scorer puts an alert in the lead's outbox in the same atomic write that crossed the threshold.
Delivery (:mod:`leadscore.services.delivery`) claims it with a lease, so a second stream record or the
sweep does not publish it again while it is being sent, publishes, then records what happened. Every
update bumps ``ver`` so a scorer holding the item in its cache notices; none of them rewrites the
item's index keys (the sweep corrects ``due_at`` when it visits).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.dal.keys import LEAD_SK, lead_pk
from leadscore.scoring.state import LEASE_SECONDS

_NAMES = {
    "#ob": "outbox",
    "#st": "status",
    "#lease": "lease_until",
    "#tok": "lease_token",
    "#att": "attempts",
    "#next": "next_attempt_at",
    "#err": "error",
    "#sent": "sent_at",
}


class Outbox:
    """The outbox of the leads in one table."""

    def __init__(self, table: str) -> None:
        self.table = table

    def _update(
        self, lead_id: str, alert_id: str, expression: str, condition: str, values: dict[str, Any]
    ) -> bool:
        text = f"{expression} {condition}"
        names = {**_NAMES, "#id": alert_id}
        values = {**values, ":one": {"N": "1"}}
        # DynamoDB rejects names and values that the expressions do not use.
        used_names = {k: v for k, v in names.items() if re.search(re.escape(k) + r"\b", text)}
        used_values = {k: v for k, v in values.items() if re.search(re.escape(k) + r"\b", text)}
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
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

    def claim(self, lead_id: str, alert_id: str, now: int) -> str | None:
        """Take the alert for publishing. Returns a lease token, or None if it is done, leased, or
        backing off after a failure."""
        token = secrets.token_hex(8)
        ok = self._update(
            lead_id,
            alert_id,
            "SET #ob.#id.#st = :sending, #ob.#id.#lease = :until, #ob.#id.#tok = :tok, ver = ver + :one",
            "(#ob.#id.#st = :pending AND (attribute_not_exists(#ob.#id.#next) OR #ob.#id.#next <= :now))"
            " OR (#ob.#id.#st = :sending AND #ob.#id.#lease < :now)",
            {
                ":sending": {"S": "sending"},
                ":pending": {"S": "pending"},
                ":until": {"N": str(now + LEASE_SECONDS)},
                ":now": {"N": str(now)},
                ":tok": {"S": token},
            },
        )
        return token if ok else None

    def mark_sent(self, lead_id: str, alert_id: str, token: str, now: int) -> bool:
        return self._update(
            lead_id,
            alert_id,
            "SET #ob.#id.#st = :sent, #ob.#id.#sent = :now, ver = ver + :one DELETE alert_pending :ids",
            "#ob.#id.#st = :sending AND #ob.#id.#tok = :tok",
            {
                ":sent": {"S": "sent"},
                ":sending": {"S": "sending"},
                ":now": {"N": str(now)},
                ":tok": {"S": token},
                ":ids": {"SS": [alert_id]},
            },
        )

    def back_off(self, lead_id: str, alert_id: str, token: str, attempts: int, next_attempt_at: int) -> bool:
        """A transient failure: pending again, not before ``next_attempt_at``. The stream record this
        update makes finds it backing off, so a failure never loops through item rewrites."""
        return self._update(
            lead_id,
            alert_id,
            "SET #ob.#id.#st = :pending, #ob.#id.#lease = :zero, #ob.#id.#att = :att,"
            " #ob.#id.#next = :next, ver = ver + :one",
            "#ob.#id.#st = :sending AND #ob.#id.#tok = :tok",
            {
                ":pending": {"S": "pending"},
                ":sending": {"S": "sending"},
                ":zero": {"N": "0"},
                ":att": {"N": str(attempts)},
                ":next": {"N": str(next_attempt_at)},
                ":tok": {"S": token},
            },
        )

    def fail(self, lead_id: str, alert_id: str, token: str, reason: str) -> bool:
        """The alert can never be published: recorded as failed (``reason`` carries no PII)."""
        return self._update(
            lead_id,
            alert_id,
            "SET #ob.#id.#st = :failed, #ob.#id.#err = :why, ver = ver + :one DELETE alert_pending :ids",
            "#ob.#id.#st = :sending AND #ob.#id.#tok = :tok",
            {
                ":failed": {"S": "failed"},
                ":sending": {"S": "sending"},
                ":why": {"S": reason[:500]},
                ":tok": {"S": token},
                ":ids": {"SS": [alert_id]},
            },
        )
