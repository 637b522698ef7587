"""The leads table: lead items (state) and history items (events). Hides boto3 from the domain.

Writes are optimistic: a lead item is replaced with ``PutItem`` conditioned on the version the writer
started from. A writer that lost a race gets the current item back from the failed write
(``ReturnValuesOnConditionCheckFailure``), recomputes, and tries again.

Where the writer's state comes from is chosen by cost (docs/architecture.md, "What a write costs"):
a per-container cache for leads written recently, else a strongly consistent read (BatchGetItem,
one read unit per lead up to 4 KB, $0.125 per million) rather than a blind put that fails against
the stored item and is billed in full (one write unit per started KB, $0.625 per million).
``LEAD_WRITES=put_first`` keeps the blind put, for the benchmark's comparison.
"""

from __future__ import annotations

import heapq
import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.dal.items import (
    approx_size,
    from_item,
    history_entries,
    listed,
    page_digests,
    stored_item,
    to_item,
)
from leadscore.dal.keys import (
    DUE_INDEX,
    EVENT_PREFIX,
    HOT_INDEX,
    LEAD_SK,
    dedupe_sk,
    due_pk,
    hot_pk,
    hot_shards,
    lead_id_of,
    lead_pk,
)
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.observability import count
from leadscore.scoring import changes
from leadscore.scoring.state import LeadState

__all__ = [
    "LEAD_SK",
    "ConflictError",
    "LeadRepository",
    "Saved",
    "approx_size",
    "erase_lead",
    "from_item",
    "lead_pk",
    "listed",
    "repository",
    "reset_repositories",
    "to_item",
]


def _count_events(recorded: changes.Recorded) -> None:
    for name, value in (
        ("LeadEventsRecorded", len(recorded.added)),
        ("LeadEventsCoalesced", recorded.coalesced),
        ("LeadEventsDropped", recorded.dropped),
    ):
        if value:
            count(name, value)


class ConflictError(Exception):
    """A conditional write lost to another writer more times than the retry budget allows."""


def paginate(operation: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of a Query or Scan (``ExclusiveStartKey`` from each ``LastEvaluatedKey``)."""
    request = dict(kwargs)
    while True:
        response: dict[str, Any] = getattr(clients.dynamodb(), operation)(**request)
        yield response
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


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


def _get_items(table: str, keys: Sequence[dict[str, Any]], consistent: bool) -> list[dict[str, Any]]:
    """The items behind ``keys``, 100 per BatchGetItem."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request = {table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": consistent}}
        for response in _batch("batch_get_item", request, "items left unread; try again"):
            items.extend(response.get("Responses", {}).get(table, []))
    return items


def _lead_key(lead_id: str) -> dict[str, Any]:
    return {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": LEAD_SK}}


# --------------------------------------------------------------------------- repository
@dataclass
class Saved:
    before: LeadState
    after: LeadState
    attempts: int
    trimmed: bool = False  # the size guard trimmed the item (LeadItemTrimmed)


@dataclass(frozen=True)
class HotPage:
    leads: list[LeadState]
    positions: dict[int, dict[str, Any] | str | None] | None  # None: the tier is exhausted


class LeadRepository:
    def __init__(self, table_name: str, cache_size: int = 10_000, read_first: bool | None = None) -> None:
        self.table = table_name
        self._cache: OrderedDict[str, LeadState] = OrderedDict()
        self._cache_size = cache_size
        if read_first is None:
            read_first = os.environ.get("LEAD_WRITES", "read_first") != "put_first"
        self.read_first = read_first
        self.reads = 0  # lead items read before a write (for the batch summary)

    # ----- cache
    def _remember(self, state: LeadState) -> None:
        self._cache[state.lead_id] = state
        self._cache.move_to_end(state.lead_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, lead_id: str) -> None:
        self._cache.pop(lead_id, None)

    def cached(self, lead_id: str) -> LeadState | None:
        """The lead as this container last read or wrote it (the account roll-up's input)."""
        return self._cache.get(lead_id)

    def begin_batch(self) -> None:
        """A new batch: when reading first, forget what earlier batches cached. Measured on spread
        traffic over many containers (``make bench``), a lead cached by an earlier batch has mostly been
        written since by another container or the notifier, and a stale start costs a failed put
        billed in full (>= 1 WCU, $0.625 per 1M) where a consistent read costs 1 RCU per 4 KB ($0.125).
        Within a batch the cache still serves merges and retries. Put-first keeps it: it is all it has.
        """
        if self.read_first:
            self._cache.clear()

    def load(self, lead_ids: Iterable[str]) -> dict[str, LeadState]:
        """Each lead's state to start a write from: cached, else read (strongly consistent, 100 per
        request) when ``read_first``, else a blank state that a blind put will correct."""
        out: dict[str, LeadState] = {}
        missing: list[str] = []
        for lead_id in lead_ids:
            cached = self._cache.get(lead_id)
            if cached is not None:
                out[lead_id] = cached
            else:
                missing.append(lead_id)
        if missing and self.read_first:
            self.reads += len(missing)
            for item in _get_items(self.table, [_lead_key(i) for i in missing], consistent=True):
                state = from_item(item)
                out[state.lead_id] = state
                self._remember(state)
        for lead_id in missing:
            out.setdefault(lead_id, LeadState(lead_id=lead_id))
        return out

    def remembered(self, state: LeadState) -> set[str]:
        """The digests in the lead's dedupe pages (only the pages its committed writes list)."""
        if not state.dd_pages:
            return set()
        keys = [
            {"pk": {"S": lead_pk(state.lead_id)}, "sk": {"S": dedupe_sk(hour, token)}}
            for hour, token in state.dd_pages
        ]
        return {d for item in _get_items(self.table, keys, consistent=True) for d in page_digests(item)}

    # ----- writes
    def _put(self, state: LeadState, expected_ver: int) -> tuple[LeadState | None, LeadState, bool]:
        """Write ``state`` if the stored version is ``expected_ver``. Returns (what is stored if the
        write lost, else None; the state as written; whether the size guard trimmed it)."""
        item, before, state, trimmed = stored_item(state)
        if before:
            self.put_items(before)  # before the write that drops them from the lead item
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
            return (from_item(stored) if stored else LeadState(lead_id=state.lead_id)), state, trimmed
        return None, state, trimmed

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
        current = start or self.load([lead_id])[lead_id]
        for attempt in range(1, max_attempts + 1):
            new = change(current)
            if new is None:
                return None
            events = changes.record(current, new)  # this write's lead events, in this write
            winner, new, trimmed = self._put(new, current.ver)
            if winner is None:
                self._remember(new)
                _count_events(events)
                return Saved(before=current, after=new, attempts=attempt, trimmed=trimmed)
            current = winner
            self._remember(winner)
            if attempt >= 2:  # real contention: back off with full jitter
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311
        raise ConflictError(f"lead {lead_id}: gave up after {max_attempts} conflicting writes")

    def put_items(self, items: Sequence[dict[str, Any]]) -> None:
        """Write history or dedupe page items (idempotent: same key, same content), 25 per request."""
        for start in range(0, len(items), 25):
            writes = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            _batch("batch_write_item", {self.table: writes}, "history items left unprocessed")

    # ----- reads (API, CLI, sweep, merges)
    def get(self, lead_id: str) -> LeadState | None:
        response = clients.dynamodb().get_item(
            TableName=self.table, Key=_lead_key(lead_id), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_by_email(self, email: str) -> LeadState | None:
        return self.get(lead_id_for_email(email))

    def history(
        self, lead_id: str, limit: int | None = None, *, consistent: bool = False
    ) -> list[tuple[CanonicalEvent, str | None]]:
        """The lead's events, newest first, with the note kept beside each (why it was not scored).
        ``consistent``: every write that completed is seen (a merge must not miss an event)."""
        out: list[tuple[CanonicalEvent, str | None]] = []
        seen: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            # the history items and the lead item's journal (dedupe pages sort before EV#)
            "KeyConditionExpression": "pk = :pk AND sk >= :ev",
            "ExpressionAttributeValues": {":pk": {"S": lead_pk(lead_id)}, ":ev": {"S": EVENT_PREFIX}},
            "ConsistentRead": consistent,
        }
        for response in paginate("query", kwargs):
            for item in response.get("Items", []):
                for event, note in history_entries(item):
                    if event.event_id not in seen:
                        seen.add(event.event_id)
                        out.append((event, note))
        out.sort(key=lambda pair: pair[0].occurred_at, reverse=True)
        return out[:limit] if limit is not None else out

    def hot_page(
        self, tier: str, limit: int, positions: dict[int, dict[str, Any] | str | None] | None = None
    ) -> HotPage:
        """Up to ``limit`` leads of a tier, highest score first, merged from the ``hot`` index's shards.

        ``positions`` says where each shard continues: an index key (continue after it), None (from
        its top) or ``"done"``. The merge takes the shards' heads in (score desc, lead key) order and
        consumes each shard in its own index order, so the next page continues exactly after the last
        lead this one returned from each shard.
        """
        positions = dict(positions or {})
        readers = [
            _ShardReader(self.table, tier, shard, positions.get(shard), limit)
            for shard in hot_shards()
            if positions.get(shard) != "done"
        ]
        with ThreadPoolExecutor(max_workers=min(8, len(readers) or 1)) as pool:
            list(pool.map(lambda r: r.fill(), readers))
        heap = [(r.rank(), n) for n, r in enumerate(readers) if r.buffer]
        heapq.heapify(heap)
        keys: list[dict[str, Any]] = []
        while heap and len(keys) < limit:
            _, n = heapq.heappop(heap)
            reader = readers[n]
            keys.append(reader.pop())
            reader.fill()
            if reader.buffer:
                heapq.heappush(heap, (reader.rank(), n))
        out: dict[int, dict[str, Any] | str | None] = {
            s: p for s, p in positions.items() if p == "done" or s not in {r.shard for r in readers}
        }
        for reader in readers:
            out[reader.shard] = reader.position()
        found = {s.lead_id: s for s in self._get_many(keys)}
        leads = [found[lead_id_of(k["pk"]["S"])] for k in keys if lead_id_of(k["pk"]["S"]) in found]
        exhausted = all(p == "done" for p in out.values())
        return HotPage(leads=[s for s in leads if listed(s)], positions=None if exhausted else out)

    def _get_many(self, keys: Sequence[dict[str, Any]]) -> list[LeadState]:
        """The lead items behind index keys (the indexes project keys only), 100 per request."""
        return [
            from_item(i)
            for i in _get_items(self.table, [_lead_key(lead_id_of(k["pk"]["S"])) for k in keys], False)
        ]

    def due(
        self, shard: int, until: int, start_key: dict[str, Any] | None = None, page_size: int = 200
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(lead id, index key) of the leads of one ``due`` shard due by ``until``, earliest first."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_pk = :d AND due_at <= :until",
            "ExpressionAttributeValues": {":d": {"S": due_pk(shard)}, ":until": {"N": str(until)}},
            "Limit": page_size,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        for response in paginate("query", kwargs):
            for item in response.get("Items", []):
                yield lead_id_of(item["pk"]["S"]), item

    def scan_segment(
        self, segment: int, total: int, start_key: dict[str, Any] | None = None, page_size: int = 200
    ) -> Iterator[tuple[list[str], dict[str, Any] | None]]:
        """Lead ids of one parallel-scan segment, page by page, with the key each next page starts
        after (None at the end): for ``rescore --all``."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Segment": segment,
            "TotalSegments": total,
            "FilterExpression": "sk = :lead",
            "ProjectionExpression": "pk",
            "ExpressionAttributeValues": {":lead": {"S": LEAD_SK}},
            "Limit": page_size,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        for response in paginate("scan", kwargs):
            yield (
                [lead_id_of(i["pk"]["S"]) for i in response.get("Items", [])],
                response.get("LastEvaluatedKey"),
            )

    def all_leads(self) -> Iterator[LeadState]:
        """Every lead item, with a Scan: for the local demo and tests, never for the API or scoring."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :lead",
            "ExpressionAttributeValues": {":lead": {"S": LEAD_SK}},
        }
        for response in paginate("scan", kwargs):
            yield from (from_item(i) for i in response.get("Items", []))

    def partition_keys(self, lead_id: str) -> list[dict[str, Any]]:
        """The keys of every item of a lead: its item, history and dedupe pages."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": lead_pk(lead_id)}},
            "ProjectionExpression": "pk, sk",
        }
        return [{"pk": i["pk"], "sk": i["sk"]} for r in paginate("query", kwargs) for i in r.get("Items", [])]

    def delete_items(self, keys: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(keys), 25):
            deletes = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            _batch("batch_write_item", {self.table: deletes}, "items left undeleted; run the erasure again")


class _ShardReader:
    """One shard of the ``hot`` index for a tier, read page by page in index order."""

    def __init__(
        self, table: str, tier: str, shard: int, start: dict[str, Any] | str | None, limit: int
    ) -> None:
        self.table, self.tier, self.shard, self.limit = table, tier, shard, limit
        self.buffer: list[dict[str, Any]] = []
        self.next_key: dict[str, Any] | None = start if isinstance(start, dict) else None
        self.consumed: dict[str, Any] | None = self.next_key
        self.more = True

    def fill(self) -> None:
        if self.buffer or not self.more:
            return
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": HOT_INDEX,
            "KeyConditionExpression": "hot_pk = :t",
            "ExpressionAttributeValues": {":t": {"S": hot_pk(self.tier, self.shard)}},
            "ScanIndexForward": False,
            "Limit": self.limit,
        }
        if self.next_key:
            kwargs["ExclusiveStartKey"] = self.next_key
        response = clients.dynamodb().query(**kwargs)
        self.buffer = list(response.get("Items", []))
        self.next_key = response.get("LastEvaluatedKey")
        self.more = self.next_key is not None

    def rank(self) -> tuple[float, str]:
        head = self.buffer[0]
        return -float(head["score"]["N"]), head["pk"]["S"]

    def pop(self) -> dict[str, Any]:
        item = self.buffer.pop(0)
        self.consumed = {k: item[k] for k in ("pk", "sk", "hot_pk", "score")}
        return item

    def position(self) -> dict[str, Any] | str | None:
        if not self.buffer and not self.more:
            return "done"
        return self.consumed


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


def linked_leads(repo: LeadRepository, lead_id: str) -> set[str]:
    """The lead and every anonymous lead linked to it: merged ones, ids it holds, and every
    anonymous id its history carried beside its email."""
    from leadscore.models.event import lead_id_for_anonymous

    lead = repo.get(lead_id)
    targets = {lead_id}
    if lead is not None:
        targets.update(lead.merged_from)
        targets.update(lead_id_for_anonymous(a) for a in lead.anonymous_ids)
        for event, _ in repo.history(lead_id, consistent=True):
            if event.identity.anonymous_id:
                targets.add(lead_id_for_anonymous(event.identity.anonymous_id))
    return targets


def erase_lead(
    repo: LeadRepository, lead_id: str, now: int | None = None, targets: set[str] | None = None
) -> int:
    """The right to erasure: the lead, its history, and every anonymous lead linked to it.

    Each lead item becomes a tombstone first (a conditional write, so a scorer racing with it
    re-reads it): no PII, only ``erased_at``, expiring with the queues' retention. Events sent before
    the erasure and still queued are then dropped instead of bringing the person back. Then every
    other item of the partition (history, dedupe pages) is deleted. Returns how many items were
    deleted or blanked. Idempotent: a second erasure finds only tombstones and returns 0.
    """
    from leadscore.dal.items import tombstone

    # Wall time, like the ``received_at`` the ingest stamps (never the scoring clock, which replays pin).
    erased_at = int(time.time()) if now is None else now
    deleted = 0
    for target in sorted(linked_leads(repo, lead_id) if targets is None else targets):

        def blank(state: LeadState, target: str = target) -> LeadState | None:
            if tombstone(state):
                return None
            return LeadState(lead_id=target, erased_at=erased_at, ver=state.ver + 1)

        before = repo.get(target)
        had = len(repo.partition_keys(target))  # what the person had, the lead item included
        deleted += had - (1 if before is not None and tombstone(before) else 0)
        repo.mutate(target, blank, start=before or LeadState(lead_id=target))
        # After the tombstone nothing can add history any more, so this also catches a racing write.
        repo.delete_items([k for k in repo.partition_keys(target) if k["sk"]["S"] != LEAD_SK])
        repo.forget(target)
    return deleted
