"""The leads table's key schema, in one place (docs/architecture.md, "LeadsTable").

Every item of a lead shares its partition key ``LEAD#<lead_id>``:

- ``LEAD``: the lead item (state, journal, dedupe memory, outbox, index keys);
- ``EV#<ver:012>#<part:04>#<hash>``: history items (events moved out of the journal);
- ``DD#<last hour:08>#<token>``: dedupe pages (remembered event digests moved out of the lead item).

The sparse indexes are write-sharded so that no partition key takes more than DynamoDB's 1,000 WCU/s
per key at 10^4 events/s: ``hot`` is keyed ``HOT#<tier>#<shard>``, ``due`` ``DUE#<shard>``, the shard
taken from the lead id (uniform: it is a hash). Readers merge the shards. Items written before the
sharding carry ``HOT#<tier>`` / ``DUE``: readers include those partitions too (``LEGACY``) until a
``leadscore leads rescore --all`` has rewritten every lead.
"""

from __future__ import annotations

LEAD_SK = "LEAD"
EVENT_PREFIX = "EV#"
DEDUPE_PREFIX = "DD#"
HOT_INDEX = "hot"
DUE_INDEX = "due"
HOT_SHARDS = 16
DUE_SHARDS = 16
LEGACY = -1  # the shard of an item written before the indexes were sharded


def lead_pk(lead_id: str) -> str:
    return f"LEAD#{lead_id}"


def lead_id_of(pk: str) -> str:
    return pk.removeprefix("LEAD#")


def shard_of(lead_id: str, shards: int) -> int:
    """The lead's shard: its id is a hash (``e``/``a`` + hex), so its digits spread uniformly."""
    try:
        return int(lead_id[1:9], 16) % shards
    except ValueError:
        return sum(lead_id.encode()) % shards


def hot_pk(tier: str, shard: int) -> str:
    return f"HOT#{tier}" if shard == LEGACY else f"HOT#{tier}#{shard:02d}"


def due_pk(shard: int) -> str:
    return "DUE" if shard == LEGACY else f"DUE#{shard:02d}"


def hot_shards() -> list[int]:
    return [*range(HOT_SHARDS), LEGACY]


def due_shards() -> list[int]:
    return [*range(DUE_SHARDS), LEGACY]


def dedupe_sk(last_hour: int, token: str) -> str:
    return f"{DEDUPE_PREFIX}{last_hour:08d}#{token}"
