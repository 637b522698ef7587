"""Lead items as DynamoDB stores them: the state, its journal, its dedupe memory, history and pages.

The lead item holds, in plain attributes, only what DynamoDB itself must see: keys, ``ver``, the
sharded index keys (sparse), the stream filter's ``alert_pending`` and the alert ``outbox`` the
notifier updates in place. The rest is three binary attributes:

- ``st``: the state as JSON, packed (:mod:`leadscore.dal.codec`); formats 1-2 are the layout before
  bounded items and are read through :mod:`leadscore.dal.legacy`;
- ``jr``: the newest history entries, packed, until they move to a history item;
- ``dd``: the dedupe memory, raw (digests do not compress): ``01`` then the page count (u8) and each
  page (last hour u32, token 4 bytes), then per hour first seen: hour u32, count u16, 8-byte digests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from typing import Any

from leadscore.crm.mapping import fingerprint as crm_fingerprint
from leadscore.dal import codec, legacy
from leadscore.dal.keys import (
    DUE_SHARDS,
    EVENT_PREFIX,
    HOT_SHARDS,
    LEAD_SK,
    dedupe_sk,
    due_pk,
    hot_pk,
    lead_pk,
    shard_of,
)
from leadscore.models.event import CanonicalEvent
from leadscore.scoring.engine import DEDUPE_HOURS, HOUR
from leadscore.scoring.state import (
    ERASED_KEEP_SECONDS,
    MAX_RECENT,
    UNLISTED_TIERS,
    AlertEntry,
    DedupePage,
    EventEntry,
    LeadState,
    ScoreCard,
)

STATE = "st"
JOURNAL = "jr"
DEDUPE = "dd"
CRM = "crm"  # the fingerprint of what the CRMs show (leadscore.crm.mapping), for the sync's filter
HISTORY_CHUNK = 200  # entries per history item at most (a bot burst stays far below 400 KB)
# The item is bounded by construction (leadscore.scoring.state); this is the guard behind it: an item
# above it drops its recent activity and the alert cards' explanations first (LeadItemTrimmed).
MAX_ITEM_BYTES = 64 * 1024
_DD_VERSION = 1


_NOT_IN_HISTORY = {"trace_id"}  # an event's request id follows it to its alert, not into the history


def blob(value: dict[str, Any]) -> bytes:
    raw = value["B"]
    return base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)  # stream records carry base64


# --------------------------------------------------------------------------- alerts (plain attributes)
def _delivery_to_dynamo(alert: AlertEntry | EventEntry) -> dict[str, Any]:
    """The delivery fields an outbox entry shares with the others (what ``dal.outbox`` updates)."""
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
    if alert.attempts:
        entry["attempts"] = {"N": str(alert.attempts)}
    if alert.next_attempt_at:
        entry["next_attempt_at"] = {"N": str(alert.next_attempt_at)}
    if alert.error is not None:
        entry["error"] = {"S": alert.error}
    return entry


def _delivery_from_dynamo(entry_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": entry_id,
        "kind": entry["kind"]["S"],
        "status": entry["status"]["S"],
        "created_at": _number(entry, "created_at"),
        "lease_until": _number(entry, "lease_until"),
        "sent_at": int(entry["sent_at"]["N"]) if "sent_at" in entry else None,
        "lease_token": entry.get("lease_token", {}).get("S"),
        "attempts": _number(entry, "attempts"),
        "next_attempt_at": _number(entry, "next_attempt_at"),
        "error": entry.get("error", {}).get("S"),
    }


def _alert_to_dynamo(alert: AlertEntry) -> dict[str, Any]:
    entry = _delivery_to_dynamo(alert)
    if alert.trace_id is not None:
        entry["trace_id"] = {"S": alert.trace_id}
    if alert.title is not None:
        entry["title"] = {"S": alert.title}
    if alert.category is not None:
        entry["category"] = {"S": alert.category}
    if alert.stage is not None:
        entry["stage"] = {"S": alert.stage}
    entry["card"] = {"B": codec.pack(alert.card.model_dump_json(exclude_defaults=True).encode())}
    return {"M": entry}


def _number(entry: dict[str, Any], name: str) -> int:
    value = entry.get(name)
    return int(value["N"]) if value else 0


def _alert_from_dynamo(alert_id: str, value: dict[str, Any]) -> AlertEntry:
    entry = value["M"]
    card = ScoreCard.model_validate_json(codec.unpack(blob(entry["card"])))
    return AlertEntry(
        **_delivery_from_dynamo(alert_id, entry),
        trace_id=entry.get("trace_id", {}).get("S"),
        title=entry.get("title", {}).get("S"),
        category=entry.get("category", {}).get("S"),
        stage=entry.get("stage", {}).get("S"),
        card=card,
    )


# Lead events share the ``outbox`` map (and so the alerts' claim/mark updates), keyed ``ev.<kind>-<ver>``;
# their payload is one compact JSON string ``d`` (no score card: docs/events.md, "What an event costs").
EVENT_PREFIX_KEY = "ev."
_EVENT_PAYLOAD = {"change", "score", "tier", "grade", "model", "rules_version", "stage", "owner", "queue"}


def _event_to_dynamo(event: EventEntry) -> dict[str, Any]:
    entry = _delivery_to_dynamo(event)
    entry["d"] = {"S": event.model_dump_json(include=_EVENT_PAYLOAD, exclude_defaults=True)}
    return {"M": entry}


def _event_from_dynamo(event_id: str, value: dict[str, Any]) -> EventEntry:
    entry = value["M"]
    payload = json.loads(entry["d"]["S"]) if "d" in entry else {}
    return EventEntry(**_delivery_from_dynamo(event_id, entry), **payload)


# --------------------------------------------------------------------------- dedupe memory (binary)
def pack_dedupe(state: LeadState) -> bytes:
    parts = [struct.pack(">BB", _DD_VERSION, len(state.dd_pages))]
    for last_hour, token in state.dd_pages:
        parts.append(struct.pack(">I", last_hour) + bytes.fromhex(token))
    for hour, digests in sorted(state.seen.items(), key=lambda kv: int(kv[0])):
        parts.append(struct.pack(">IH", int(hour), len(digests)))
        parts.append(bytes.fromhex("".join(digests)))
    return b"".join(parts)


def unpack_dedupe(data: bytes) -> tuple[dict[str, list[str]], list[tuple[int, str]]]:
    version, pages = struct.unpack_from(">BB", data, 0)
    if version != _DD_VERSION:
        raise ValueError(f"unknown dedupe memory format {version}")
    offset = 2
    dd_pages = []
    for _ in range(pages):
        (hour,) = struct.unpack_from(">I", data, offset)
        dd_pages.append((hour, data[offset + 4 : offset + 8].hex()))
        offset += 8
    seen: dict[str, list[str]] = {}
    while offset < len(data):
        hour, count = struct.unpack_from(">IH", data, offset)
        offset += 6
        raw = data[offset : offset + 8 * count]
        offset += 8 * count
        seen[str(hour)] = [raw[i : i + 8].hex() for i in range(0, len(raw), 8)]
    return seen, dd_pages


def page_item(lead_id: str, page: DedupePage) -> dict[str, Any]:
    """A dedupe page as an item, expired by TTL once the memory window has passed it."""
    ttl = (page.last_hour + DEDUPE_HOURS + 2) * HOUR
    return {
        "pk": {"S": lead_pk(lead_id)},
        "sk": {"S": dedupe_sk(page.last_hour, page.token)},
        "ids": {"B": bytes.fromhex("".join(page.digests))},
        "ttl": {"N": str(ttl)},
    }


def page_digests(item: dict[str, Any]) -> list[str]:
    raw = blob(item["ids"])
    return [raw[i : i + 8].hex() for i in range(0, len(raw), 8)]


# --------------------------------------------------------------------------- the lead item
def listed(state: LeadState) -> bool:
    """Whether the lead is on the ``hot`` index (known, scored, and above the long tail)."""
    return state.card is not None and state.email is not None and state.card.tier not in UNLISTED_TIERS


def due_time(state: LeadState) -> int | None:
    """When the sweep must visit the lead: decay changes its tier or re-arms it, it waits for a
    rebuild, or an alert the notifier was interrupted on needs re-driving."""
    times = [a.retry_at() for a in state.outbox.values()]
    times += [e.retry_at() for e in state.events.values()]
    times += [state.card.due_at if state.card is not None else None, state.rebuild_at]
    present = [t for t in times if t is not None]
    return min(present) if present else None


_STATE_EXCLUDE: dict[str, Any] = {"ver": True, "outbox": True, "events": True, "card": {"contributions"}}


def to_item(state: LeadState) -> dict[str, Any]:
    """The DynamoDB item for a lead (low-level attribute values)."""
    body = state.model_dump_json(exclude=_STATE_EXCLUDE, exclude_defaults=True)
    item: dict[str, Any] = {
        "pk": {"S": lead_pk(state.lead_id)},
        "sk": {"S": LEAD_SK},
        "ver": {"N": str(state.ver)},
        STATE: {"B": codec.pack(body.encode())},
    }
    card = state.card
    if card is not None and listed(state):
        item["hot_pk"] = {"S": hot_pk(card.tier, shard_of(state.lead_id, HOT_SHARDS))}
        item["score"] = {"N": str(card.score)}
    due = due_time(state)
    if due is not None:
        item["due_pk"] = {"S": due_pk(shard_of(state.lead_id, DUE_SHARDS))}
        item["due_at"] = {"N": str(due)}
    if state.outbox or state.events:
        item["outbox"] = {"M": {a.id: _alert_to_dynamo(a) for a in state.outbox.values()}}
        item["outbox"]["M"].update({e.id: _event_to_dynamo(e) for e in state.events.values()})
    pending = sorted([a.id for a in state.pending_alerts] + [e.id for e in state.pending_events])
    if pending:
        item["alert_pending"] = {"SS": pending}
    if state.journal:
        item[JOURNAL] = {"B": codec.pack(f"[{','.join(state.journal)}]".encode())}
    if state.seen or state.dd_pages:
        item[DEDUPE] = {"B": pack_dedupe(state)}
    synced = crm_fingerprint(state)
    if synced is not None:  # CrmSyncFunction's stream filter: a known, scored, live lead (11 B with its name)
        item[CRM] = {"S": synced}
    if tombstone(state):
        item["ttl"] = {"N": str(int(state.erased_at or 0) + ERASED_KEEP_SECONDS)}
    return item


def tombstone(state: LeadState) -> bool:
    """An erased lead that nothing has been written to since: no PII, expires by itself."""
    return state.erased_at is not None and state.events_total == 0 and state.email is None


def from_item(item: dict[str, Any]) -> LeadState:
    """The lead in a DynamoDB item (as the client, a stream record or a failed write returns it)."""
    tag, raw = codec.unpack_tagged(blob(item[STATE]))
    legacy_layout = tag in codec.LEGACY_TAGS
    state = legacy.state_from_json(raw) if legacy_layout else LeadState.model_validate_json(raw)
    state.ver = int(item["ver"]["N"])
    entries = item.get("outbox", {}).get("M", {})
    state.outbox = {
        k: _alert_from_dynamo(k, v) for k, v in entries.items() if not k.startswith(EVENT_PREFIX_KEY)
    }
    state.events = {k: _event_from_dynamo(k, v) for k, v in entries.items() if k.startswith(EVENT_PREFIX_KEY)}
    if JOURNAL in item:
        state.journal = [_compact(entry) for entry in json.loads(codec.unpack(blob(item[JOURNAL])))]
    if DEDUPE in item:
        state.seen, state.dd_pages = unpack_dedupe(blob(item[DEDUPE]))
    if "due_at" in item:
        state.stored_due = int(item["due_at"]["N"])
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


def approx_size(item: dict[str, Any]) -> int:
    """The item's size as DynamoDB bills it (attribute names plus values), or slightly more."""
    return sum(len(name) + _value_size(value) for name, value in item.items())


def units(size: int) -> int:
    return -(-size // 1024)


# --------------------------------------------------------------------------- history
def journal_entry(event: CanonicalEvent, note: str | None, ttl: int) -> str:
    """One event of a lead's history as the journal keeps it: the event, why it was not scored (None
    when it was), and when DynamoDB may expire it."""
    body = event.model_dump_json(exclude_none=True, exclude=_NOT_IN_HISTORY)
    return f'{{"note":{json.dumps(note)},"ttl":{ttl},"event":{body}}}'


def history_items(lead_id: str, ver: int, entries: Sequence[str]) -> list[dict[str, Any]]:
    """Journal entries moved out of the lead item, as history items of up to ``HISTORY_CHUNK`` each.

    Keyed by the lead version whose write moves them and by their content: a retry of the same write
    rewrites the same item, and two writers racing for a version never overwrite each other's (the
    loser's entries may then be stored twice; readers drop repeats by event id).
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


def history_entries(item: dict[str, Any]) -> Iterator[tuple[CanonicalEvent, str | None]]:
    """The events kept in an item: a history item's, or the journal of the lead item."""
    attribute = item.get("ev") or item.get(JOURNAL)
    if attribute is None:
        return
    for entry in json.loads(codec.unpack(blob(attribute))):
        yield CanonicalEvent.model_validate(entry["event"]), entry.get("note")


# --------------------------------------------------------------------------- what a write stores
def _trimmed(state: LeadState) -> LeadState:
    """The guard behind the bounds: drop what sales can best do without (recent activity, the alert
    cards' explanations), keeping every fact that scores."""
    outbox = {
        k: a.model_copy(update={"card": a.card.model_copy(update={"contributions": [], "reasons": []})})
        for k, a in state.outbox.items()
    }
    return state.model_copy(update={"recent": state.recent[-max(1, MAX_RECENT // 5) :], "outbox": outbox})


def stored_item(state: LeadState) -> tuple[dict[str, Any], list[dict[str, Any]], LeadState, bool]:
    """The item to write for ``state``; the history and dedupe page items to write before it; the
    state as written (its journal and spill emptied when they moved); whether the guard trimmed it.

    The journal rides in the lead item while it fits in the write units the state needs anyway; when
    it would cost another unit (or grows long), it moves to a history item first. Most writes so
    store history for free, and a write that moves it is one history item for many events.
    """
    before = [page_item(state.lead_id, page) for page in state.spill]
    written = state.model_copy(update={"spill": []}) if state.spill else state
    item = to_item(written)
    journal = item.get(JOURNAL)
    if journal is not None:
        with_journal = approx_size(item)
        without = with_journal - len(JOURNAL) - len(journal["B"])
        if units(with_journal) > units(without) or len(written.journal) > HISTORY_CHUNK:
            del item[JOURNAL]
            before += history_items(written.lead_id, written.ver, written.journal)
            written = written.model_copy(update={"journal": []})
    trimmed = approx_size(item) > MAX_ITEM_BYTES
    if trimmed:
        written = _trimmed(written)
        item = to_item(written)
    return item, before, written, trimmed
