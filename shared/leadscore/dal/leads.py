"""The leads table: lead items (state) and history items (events). Hides boto3 from the domain.

Writes are optimistic: a lead item is replaced with ``PutItem`` conditioned on the version the
writer started from. A writer that lost a race gets the current item back from the failed write
(``ReturnValuesOnConditionCheckFailure``), recomputes, and tries again; nothing is ever read
before a write, and a per-container cache makes the first attempt succeed for leads seen recently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from leadscore.dal import clients, codec
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.state import UNLISTED_TIERS, AlertEntry, LeadState, ScoreCard

LEAD_SK = "LEAD"
EVENT_PREFIX = "EV#"
HOT_INDEX = "hot"
DUE_INDEX = "due"
DUE_PK = "DUE"


def lead_pk(lead_id: str) -> str:
    return f"LEAD#{lead_id}"


class ConflictError(Exception):
    """A conditional write lost to another writer more times than the retry budget allows."""


# --------------------------------------------------------------------------- (de)serialization
# The lead item: keys, ``ver``, the state as one packed blob, and in plain attributes only what
# DynamoDB itself must see: the index keys (sparse), the stream filter's ``alert_pending`` and the
# alert outbox the notifier updates in place. See docs/architecture.md, "What a write costs".
STATE = "st"
JOURNAL = "jr"  # the newest history entries, until they move to a history item (see _stored_item)


def _blob(value: dict[str, Any]) -> bytes:
    raw = value["B"]
    return base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)  # stream records carry base64


def _alert_to_dynamo(alert: AlertEntry) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": {"S": alert.kind},
        "status": {"S": alert.status},
        "created_at": {"N": str(alert.created_at)},
        "lease_until": {"N": str(alert.lease_until)},
    }
    if alert.sent_at is not None:
        entry["sent_at"] = {"N": str(alert.sent_at)}
    if alert.lease_token is not None:
        entry["lease_token"] = {"S": alert.lease_token}
    if alert.card is not None:
        entry["card"] = {"B": codec.pack(alert.card.model_dump_json().encode())}
    return {"M": entry}


def _alert_from_dynamo(alert_id: str, value: dict[str, Any]) -> AlertEntry:
    entry = value["M"]
    card = ScoreCard.model_validate_json(codec.unpack(_blob(entry["card"]))) if "card" in entry else None
    return AlertEntry(
        id=alert_id,
        kind=entry["kind"]["S"],
        status=entry["status"]["S"],
        created_at=int(entry["created_at"]["N"]),
        lease_until=int(entry.get("lease_until", {}).get("N", 0)),
        sent_at=int(entry["sent_at"]["N"]) if "sent_at" in entry else None,
        lease_token=entry.get("lease_token", {}).get("S"),
        card=card,
    )


def listed(state: LeadState) -> bool:
    """Whether the lead is on the ``hot`` index (known, scored, and above the long tail)."""
    return state.card is not None and state.email is not None and state.card.tier not in UNLISTED_TIERS


def to_item(state: LeadState) -> dict[str, Any]:
    """The DynamoDB item for a lead (low-level attribute values)."""
    blob = codec.pack(state.model_dump_json(exclude={"ver", "outbox"}).encode())
    item: dict[str, Any] = {
        "pk": {"S": lead_pk(state.lead_id)},
        "sk": {"S": LEAD_SK},
        "ver": {"N": str(state.ver)},
        STATE: {"B": blob},
    }
    card = state.card
    if card is not None and listed(state):
        item["hot_pk"] = {"S": f"HOT#{card.tier}"}
        item["score"] = {"N": str(card.score)}
    if card is not None and card.due_at is not None:
        item["due_pk"] = {"S": DUE_PK}
        item["due_at"] = {"N": str(card.due_at)}
    if state.outbox:
        item["outbox"] = {"M": {a.id: _alert_to_dynamo(a) for a in state.outbox.values()}}
    pending = sorted(a.id for a in state.pending_alerts)
    if pending:
        item["alert_pending"] = {"SS": pending}
    if state.journal:
        item[JOURNAL] = {"B": codec.pack(f"[{','.join(state.journal)}]".encode())}
    return item


def from_item(item: dict[str, Any]) -> LeadState:
    """The lead in a DynamoDB item (as the client, a stream record or a failed write returns it)."""
    state = LeadState.model_validate_json(codec.unpack(_blob(item[STATE])))
    state.ver = int(item["ver"]["N"])
    state.outbox = {k: _alert_from_dynamo(k, v) for k, v in item.get("outbox", {}).get("M", {}).items()}
    if JOURNAL in item:
        state.journal = [_compact(entry) for entry in json.loads(codec.unpack(_blob(item[JOURNAL])))]
    return state


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind in ("N", "B"):
        return len(data)  # a number's digits: an upper bound of its stored size
    if kind == "SS":
        return sum(len(x.encode()) for x in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    return 1


def _approx_size(item: dict[str, Any]) -> int:
    """The item's size as DynamoDB bills it (attribute names plus values), or slightly more."""
    return sum(len(name) + _value_size(value) for name, value in item.items())


def _units(size: int) -> int:
    return -(-size // 1024)


HISTORY_CHUNK = 200  # entries per history item at most (a bot burst stays far below 400 KB)


def journal_entry(event: CanonicalEvent, note: str | None, ttl: int) -> str:
    """One event of a lead's history as the journal keeps it: the event, why it was not scored (None
    when it was), and when DynamoDB may expire it."""
    return f'{{"note":{json.dumps(note)},"ttl":{ttl},"event":{event.model_dump_json(exclude_none=True)}}}'


def history_items(lead_id: str, ver: int, entries: Sequence[str]) -> list[dict[str, Any]]:
    """Journal entries moved out of the lead item, as history items of up to ``HISTORY_CHUNK`` each.

    Keyed by the lead version whose write moves them and by their content: a retry of the same write
    rewrites the same item, and two writers racing for a version never overwrite each other's (the
    loser's entries may then be stored twice; :meth:`LeadRepository.history` drops repeats by id).
    """
    items: list[dict[str, Any]] = []
    for start in range(0, len(entries), HISTORY_CHUNK):
        body = f"[{','.join(entries[start : start + HISTORY_CHUNK])}]".encode()
        ttl = max(int(json.loads(e)["ttl"]) for e in entries[start : start + HISTORY_CHUNK])
        digest = hashlib.blake2b(body, digest_size=6).hexdigest()
        items.append(
            {
                "pk": {"S": lead_pk(lead_id)},
                "sk": {"S": f"{EVENT_PREFIX}{ver:012d}#{start // HISTORY_CHUNK:04d}#{digest}"},
                "ev": {"B": codec.pack(body)},
                "ttl": {"N": str(ttl)},
            }
        )
    return items


def _stored_item(state: LeadState) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The item to write for ``state``, and the history items to write before it.

    The journal rides in the lead item while it fits in the write units the state needs anyway; when
    it would cost another unit (or grows long), it moves to a history item first. Most batches so
    write history for free, and a write that moves it is one history item for many events.
    """
    item = to_item(state)
    journal = item.get(JOURNAL)
    if journal is None:
        return item, []
    with_journal = _approx_size(item)
    without = with_journal - len(JOURNAL) - len(journal["B"])
    if _units(with_journal) <= _units(without) and len(state.journal) <= HISTORY_CHUNK:
        return item, []
    del item[JOURNAL]
    return item, history_items(state.lead_id, state.ver, state.journal)


def _history_entries(item: dict[str, Any]) -> Iterator[tuple[CanonicalEvent, str | None]]:
    """The events kept in an item: a history item's, or the journal of the lead item."""
    attribute = item.get("ev") or item.get(JOURNAL)
    if attribute is None:
        return
    for entry in json.loads(codec.unpack(_blob(attribute))):
        yield CanonicalEvent.model_validate(entry["event"]), entry.get("note")


def _batch(operation: str, request: dict[str, Any], failure: str) -> list[dict[str, Any]]:
    """A BatchWriteItem or BatchGetItem request, sent again with what DynamoDB left unprocessed
    (backing off with full jitter) until nothing is left. Returns every response."""
    responses: list[dict[str, Any]] = []
    leftover = "UnprocessedKeys" if operation == "batch_get_item" else "UnprocessedItems"
    for attempt in range(8):
        response: dict[str, Any] = getattr(clients.dynamodb(), operation)(RequestItems=request)
        responses.append(response)
        request = dict(response.get(leftover) or {})
        if not request:
            return responses
        time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311
    raise RuntimeError(failure)


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
    def _put(self, state: LeadState, expected_ver: int) -> tuple[LeadState | None, LeadState]:
        """Write ``state`` if the stored version is ``expected_ver``. Returns (what is stored if the
        write lost, else None; the state as written, its journal emptied if it moved to history)."""
        item, moved = _stored_item(state)
        if moved:
            self.put_history(moved)  # before the write that drops them from the journal
            state = state.model_copy(update={"journal": []})
        if expected_ver == 0:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition, values = "ver = :v", {":v": {"N": str(expected_ver)}}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": item,
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
            stored: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            return (from_item(stored) if stored else LeadState(lead_id=state.lead_id)), state
        return None, state

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
            winner, new = self._put(new, current.ver)
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
            writes = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            _batch("batch_write_item", {self.table: writes}, "history items left unprocessed")

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
        seen: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",  # the history items and the lead item's journal
            "ExpressionAttributeValues": {":pk": {"S": lead_pk(lead_id)}},
        }
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                for event, note in _history_entries(item):
                    if event.event_id not in seen:
                        seen.add(event.event_id)
                        out.append((event, note))
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
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in response.get("Items", [])]
        found = {lead_pk(s.lead_id): s for s in self._get_many(keys)}
        return [found[k["pk"]["S"]] for k in keys if k["pk"]["S"] in found], last

    def _get_many(self, keys: Sequence[dict[str, Any]]) -> list[LeadState]:
        """The lead items behind index keys (the ``hot`` index projects keys only), 100 per request."""
        states: list[LeadState] = []
        for start in range(0, len(keys), 100):
            request = {self.table: {"Keys": list(keys[start : start + 100])}}
            for response in _batch("batch_get_item", request, "lead items left unread; try again"):
                states.extend(from_item(i) for i in response.get("Responses", {}).get(self.table, []))
        return states

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

    def all_leads(self) -> Iterator[LeadState]:
        """Every lead item, with a Scan: for the local demo and tests, never for the API or scoring."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :lead",
            "ExpressionAttributeValues": {":lead": {"S": LEAD_SK}},
        }
        while True:
            response = clients.dynamodb().scan(**kwargs)
            yield from (from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


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
            deletes = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            _batch("batch_write_item", {repo.table: deletes}, "items left undeleted; run the erasure again")
        repo.forget(target)
        deleted += len(keys)
    return deleted
