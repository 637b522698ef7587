"""The leads table: lead items (state) and history items (events). Hides boto3 from the domain.

Writes are optimistic: a lead item is replaced with ``PutItem`` conditioned on the version the
writer started from. A writer that lost a race gets the current item back from the failed write
(``ReturnValuesOnConditionCheckFailure``), recomputes, and tries again; nothing is ever read
before a write, and a per-container cache makes the first attempt succeed for leads seen recently.
"""

from __future__ import annotations

import json
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.state import LeadState

LEAD_SK = "LEAD"
EVENT_PREFIX = "EV#"
HOT_INDEX = "hot"
DUE_INDEX = "due"
DUE_PK = "DUE"
DEFAULT_TIERS = ("sales_ready", "warm", "cold", "disqualified")
_KEYS = ("pk", "sk", "hot_pk", "score", "due_pk", "due_at", "alert_pending")


def lead_pk(lead_id: str) -> str:
    return f"LEAD#{lead_id}"


class ConflictError(Exception):
    """A conditional write lost to another writer more times than the retry budget allows."""


# --------------------------------------------------------------------------- (de)serialization
def _to_dynamo(value: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    result: dict[str, Any] = dict(TypeSerializer().serialize(value))
    return result


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: turn them into int or float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def to_item(state: LeadState) -> dict[str, Any]:
    """The DynamoDB item for a lead: its state, plus the keys the indexes and the stream filter use."""
    body: dict[str, Any] = json.loads(state.model_dump_json(), parse_float=Decimal)
    body["pk"] = lead_pk(state.lead_id)
    body["sk"] = LEAD_SK
    card = state.card
    if card is not None and state.email:
        body["hot_pk"] = f"HOT#{card.tier}"
        body["score"] = Decimal(str(card.score))
        if card.due_at is not None:
            body["due_pk"] = DUE_PK
            body["due_at"] = card.due_at
    pending = {a.id for a in state.pending_alerts}
    if pending:
        body["alert_pending"] = pending
    return {k: _to_dynamo(v) for k, v in body.items()}


def from_item(item: dict[str, Any]) -> LeadState:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    plain = {k: _plain(des.deserialize(v)) for k, v in item.items() if k not in _KEYS}
    return LeadState.model_validate(plain)


def history_item(
    event: CanonicalEvent, ttl: int, note: str | None = None, lead_id: str | None = None
) -> dict[str, Any]:
    """A history item, kept under ``lead_id`` (default: the event's own lead)."""
    item: dict[str, Any] = {
        "pk": {"S": lead_pk(lead_id or event.lead_id)},
        "sk": {"S": EVENT_PREFIX + event.event_id},
        "ts": {"N": str(int(event.occurred_at.timestamp()))},
        "ev": {"S": event.model_dump_json(exclude_none=True)},
        "ttl": {"N": str(ttl)},
    }
    if note:
        item["note"] = {"S": note}
    return item


# --------------------------------------------------------------------------- repository
@dataclass
class Saved:
    before: LeadState
    after: LeadState
    attempts: int


class LeadRepository:
    def __init__(self, table_name: str, cache_size: int = 10_000) -> None:
        self.table = table_name
        self._cache: OrderedDict[str, LeadState] = OrderedDict()
        self._cache_size = cache_size

    # ----- cache
    def _remember(self, state: LeadState) -> None:
        self._cache[state.lead_id] = state
        self._cache.move_to_end(state.lead_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, lead_id: str) -> None:
        self._cache.pop(lead_id, None)

    # ----- writes
    def _put(self, state: LeadState, expected_ver: int) -> LeadState | None:
        """Write ``state`` if the stored version is ``expected_ver``; else return what is stored."""
        if expected_ver == 0:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition, values = "ver = :v", {":v": {"N": str(expected_ver)}}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": to_item(state),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            clients.dynamodb().put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            return from_item(item) if item else LeadState(lead_id=state.lead_id)
        return None

    def mutate(
        self,
        lead_id: str,
        change: Callable[[LeadState], LeadState | None],
        max_attempts: int = 12,
        start: LeadState | None = None,
    ) -> Saved | None:
        """Apply ``change`` to the lead's current state and write it atomically.

        ``change`` is pure: it returns the new state (with ``ver`` bumped) or None for "nothing to
        write". On a lost race it is called again with the state that won. Returns None when nothing
        was written.
        """
        current = start or self._cache.get(lead_id) or LeadState(lead_id=lead_id)
        for attempt in range(1, max_attempts + 1):
            new = change(current)
            if new is None:
                return None
            winner = self._put(new, current.ver)
            if winner is None:
                self._remember(new)
                return Saved(before=current, after=new, attempts=attempt)
            current = winner
            self._remember(winner)
            if attempt >= 2:  # real contention: back off with full jitter
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311
        raise ConflictError(f"lead {lead_id}: gave up after {max_attempts} conflicting writes")

    def put_history(self, items: Sequence[dict[str, Any]]) -> None:
        """Write history items (idempotent: same key, same content), 25 per request, retrying leftovers."""
        for start in range(0, len(items), 25):
            pending: list[dict[str, Any]] = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            for attempt in range(8):
                response = clients.dynamodb().batch_write_item(RequestItems={self.table: pending})  # type: ignore[dict-item]
                pending = list(response.get("UnprocessedItems", {}).get(self.table, []))  # type: ignore[arg-type]
                if not pending:
                    break
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311
            if pending:
                raise RuntimeError(f"{len(pending)} history items left unprocessed")

    # ----- reads (API, CLI, sweep; never on the scoring path)
    def get(self, lead_id: str) -> LeadState | None:
        response = clients.dynamodb().get_item(
            TableName=self.table,
            Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": LEAD_SK}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_by_email(self, email: str) -> LeadState | None:
        return self.get(lead_id_for_email(email))

    def history(self, lead_id: str, limit: int | None = None) -> list[tuple[CanonicalEvent, str | None]]:
        """The lead's events, newest first, with the note kept beside each (why it was not scored)."""
        out: list[tuple[CanonicalEvent, str | None]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ev)",
            "ExpressionAttributeValues": {":pk": {"S": lead_pk(lead_id)}, ":ev": {"S": EVENT_PREFIX}},
        }
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                note = item.get("note", {}).get("S")
                out.append((CanonicalEvent.model_validate_json(item["ev"]["S"]), note))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        out.sort(key=lambda pair: pair[0].occurred_at, reverse=True)
        return out[:limit] if limit is not None else out

    def hot_page(
        self, tier: str, limit: int = 50, start_key: dict[str, Any] | None = None
    ) -> tuple[list[LeadState], dict[str, Any] | None]:
        """One page of a tier, highest score first, from the ``hot`` index (never a scan)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": HOT_INDEX,
            "KeyConditionExpression": "hot_pk = :t",
            "ExpressionAttributeValues": {":t": {"S": f"HOT#{tier}"}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = clients.dynamodb().query(**kwargs)
        last: dict[str, Any] | None = response.get("LastEvaluatedKey")
        return [from_item(i) for i in response.get("Items", [])], last

    def hot(self, tier: str, limit: int = 50) -> list[LeadState]:
        return self.hot_page(tier, limit)[0]

    def due(self, now: int, page_size: int | None = None) -> Iterator[str]:
        """Ids of leads whose decayed score may have crossed a boundary by ``now`` (``due`` index)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_pk = :d AND due_at <= :now",
            "ExpressionAttributeValues": {":d": {"S": DUE_PK}, ":now": {"N": str(now)}},
        }
        if page_size is not None:
            kwargs["Limit"] = page_size
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                yield item["pk"]["S"].removeprefix("LEAD#")
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def leaderboard(self, limit: int = 50, tiers: Iterable[str] = DEFAULT_TIERS) -> list[LeadState]:
        leads: list[LeadState] = []
        for tier in tiers:
            leads.extend(self.hot(tier, limit))
        leads.sort(key=lambda s: -(s.card.score if s.card else 0))
        return leads[:limit]


_repositories: dict[str, LeadRepository] = {}


def repository(table_name: str) -> LeadRepository:
    """One repository (and so one lead-state cache) per container and table."""
    repo = _repositories.get(table_name)
    if repo is None:
        repo = _repositories[table_name] = LeadRepository(table_name)
    return repo


def reset_repositories() -> None:
    """Forget every cached lead state (tests)."""
    _repositories.clear()


def erase_lead(repo: LeadRepository, lead_id: str) -> int:
    """The right to erasure: delete the lead, its history, and the anonymous leads merged into it.

    Returns how many items were deleted. Idempotent: erasing an absent lead deletes nothing.
    """
    lead = repo.get(lead_id)
    deleted = 0
    for target in [lead_id, *(lead.merged_from if lead else [])]:
        keys: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": repo.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": lead_pk(target)}},
            "ProjectionExpression": "pk, sk",
        }
        while True:  # the lead item and every history item share the partition key
            response = clients.dynamodb().query(**kwargs)
            keys.extend({"pk": i["pk"], "sk": i["sk"]} for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for start in range(0, len(keys), 25):
            pending: list[Any] = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            for attempt in range(8):
                out = clients.dynamodb().batch_write_item(RequestItems={repo.table: pending})
                pending = list(out.get("UnprocessedItems", {}).get(repo.table, []))
                if not pending:
                    break
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311
            if pending:
                raise RuntimeError(f"{len(pending)} items left undeleted; run the erasure again")
        repo.forget(target)
        deleted += len(keys)
    return deleted
