"""The alert outbox inside the lead item: claim, then mark sent, back off, or fail (UpdateItem).

The scorer puts an alert in the lead's outbox in the same atomic write that crossed the threshold.
Delivery (:mod:`leadscore.services.delivery`) claims it with a lease, so a second stream record or the
sweep does not publish it again while it is being sent, publishes, then records what happened. Every
update bumps ``ver`` so a scorer holding the item in its cache notices. The updates that end or
postpone an attempt also move the lead's ``due`` index key (the next visit the sweep owes it), but
only if the item is still the version the delivery read: else the key stays, and the sweep's visit
corrects it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.dal.keys import LEAD_SK, lead_pk
from leadscore.scoring.state import LEASE_SECONDS

Finished = Literal["moved", "recorded", "lost"]  # recorded with the due key moved / without / not at all


@dataclass(frozen=True)
class DueKey:
    """The lead's ``due`` index key after an attempt (``at`` None: off the index), valid for the item
    version ``ver`` (the version the delivery read, plus its claim)."""

    ver: int
    pk: str
    at: int | None


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

    def _key(self, lead_id: str) -> dict[str, Any]:
        return {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": LEAD_SK}}

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
                Key=self._key(lead_id),
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

    def _finish(
        self,
        lead_id: str,
        alert_id: str,
        token: str,
        sets: str,
        values: dict[str, Any],
        due: DueKey | None,
        remove_pending: bool,
    ) -> Finished:
        """Record how an attempt ended (conditional on our claim), moving the due key with it when
        the item is still the version ``due`` was computed from."""
        condition = "#ob.#id.#st = :sending AND #ob.#id.#tok = :tok"
        values = {**values, ":sending": {"S": "sending"}, ":tok": {"S": token}}
        tail = " DELETE alert_pending :ids" if remove_pending else ""
        if remove_pending:
            values[":ids"] = {"SS": [alert_id]}
        if due is not None:
            index = (
                f", due_pk = :dpk, due_at = :due{tail}"
                if due.at is not None
                else f"{tail} REMOVE due_pk, due_at"
            )
            due_values = {":ver": {"N": str(due.ver)}}
            if due.at is not None:
                due_values |= {":dpk": {"S": due.pk}, ":due": {"N": str(due.at)}}
            expression = f"SET {sets}, ver = ver + :one{index}"
            if self._update(
                lead_id, alert_id, expression, f"{condition} AND ver = :ver", values | due_values
            ):
                return "moved"
        if self._update(lead_id, alert_id, f"SET {sets}, ver = ver + :one{tail}", condition, values):
            return "recorded"
        return "lost"  # the claim expired and another delivery took the alert

    def mark_sent(
        self, lead_id: str, alert_id: str, token: str, now: int, due: DueKey | None = None
    ) -> Finished:
        return self._finish(
            lead_id,
            alert_id,
            token,
            "#ob.#id.#st = :sent, #ob.#id.#sent = :now",
            {":sent": {"S": "sent"}, ":now": {"N": str(now)}},
            due,
            remove_pending=True,
        )

    def back_off(
        self,
        lead_id: str,
        alert_id: str,
        token: str,
        attempts: int,
        next_attempt_at: int,
        due: DueKey | None = None,
    ) -> Finished:
        """A transient failure: pending again, not before ``next_attempt_at``. The stream record this
        update makes finds it backing off, so a failure never loops through item rewrites."""
        return self._finish(
            lead_id,
            alert_id,
            token,
            "#ob.#id.#st = :pending, #ob.#id.#lease = :zero, #ob.#id.#att = :att, #ob.#id.#next = :next",
            {
                ":pending": {"S": "pending"},
                ":zero": {"N": "0"},
                ":att": {"N": str(attempts)},
                ":next": {"N": str(next_attempt_at)},
            },
            due,
            remove_pending=False,
        )

    def fail(
        self, lead_id: str, alert_id: str, token: str, reason: str, due: DueKey | None = None
    ) -> Finished:
        """The alert can never be published: recorded as failed (``reason`` carries no PII)."""
        return self._finish(
            lead_id,
            alert_id,
            token,
            "#ob.#id.#st = :failed, #ob.#id.#err = :why",
            {":failed": {"S": "failed"}, ":why": {"S": reason[:500]}},
            due,
            remove_pending=True,
        )
