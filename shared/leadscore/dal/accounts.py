"""Account items in the leads table (docs/architecture.md, "Accounts"). Hides boto3 from the domain.

- summary ``ACCT#<domain>`` / ``ACCT``: ``ver``; ``st`` (B) the account (digests, card, flags),
  packed; ``outbox`` (M) and ``alert_pending`` (SS) in the lead alerts' format, so the notifier's
  stream filter and the outbox's claim/lease updates work on it unchanged; ``hot_pk``/``score`` on
  the ``hot`` index (``ACCTHOT#<tier>#<shard>``, tiers above cold); ``due_pk``/``due_at`` while an
  alert may need re-driving;
- member shard ``ACCT#<domain>#<shard:02d>`` / ``MEM``: ``ver``; ``m`` (B) the shard's members, packed.

Each is written with one ``PutItem`` conditioned on the ``ver`` read; a lost race returns the winner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from leadscore.dal import clients, codec
from leadscore.dal.items import blob
from leadscore.dal.keys import DUE_SHARDS, HOT_INDEX, HOT_SHARDS, due_pk, shard_of
from leadscore.dal.leads import _get_items, paginate
from leadscore.dal.outbox import Outbox
from leadscore.scoring.accounts import MEMBER_SHARDS, Account, AccountAlert, Member, shard_of_account

ACCOUNT_PREFIX = "ACCT#"
ACCOUNT_SK = "ACCT"
MEMBERS_SK = "MEM"
ACCOUNT_HOT_PREFIX = "ACCTHOT#"
LISTED_TIERS = ("sales_ready", "warm")


def account_key(domain: str) -> dict[str, Any]:
    return {"pk": {"S": f"{ACCOUNT_PREFIX}{domain}"}, "sk": {"S": ACCOUNT_SK}}


def shard_key(domain: str, shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"{ACCOUNT_PREFIX}{domain}#{shard:02d}"}, "sk": {"S": MEMBERS_SK}}


def account_hot_pk(tier: str, shard: int) -> str:
    return f"{ACCOUNT_HOT_PREFIX}{tier}#{shard:02d}"


def is_account_pk(pk: str) -> bool:
    return pk.startswith(ACCOUNT_PREFIX)


def domain_of_pk(pk: str) -> str:
    return pk.removeprefix(ACCOUNT_PREFIX).split("#", 1)[0]


# ----------------------------------------------------------------------------------------- codec
def _alert_to_dynamo(alert: AccountAlert) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": {"S": alert.kind},
        "status": {"S": alert.status},
        "created_at": {"N": str(alert.created_at)},
        "lease_until": {"N": str(alert.lease_until)},
    }
    for name in ("sent_at", "attempts", "next_attempt_at"):
        value = getattr(alert, name)
        if value:
            entry[name] = {"N": str(value)}
    for name in ("lease_token", "error"):
        value = getattr(alert, name)
        if value is not None:
            entry[name] = {"S": value}
    snapshot = json.dumps(
        {
            "card": alert.card.model_dump(exclude_defaults=True),
            "people": [p.model_dump() for p in alert.people],
        }
    )
    entry["card"] = {"B": codec.pack(snapshot.encode())}
    return {"M": entry}


def _alert_from_dynamo(alert_id: str, value: dict[str, Any]) -> AccountAlert:
    entry = value["M"]
    snapshot = json.loads(codec.unpack(blob(entry["card"])))

    def num(name: str) -> int:
        return int(entry[name]["N"]) if name in entry else 0

    return AccountAlert(
        id=alert_id,
        kind=entry["kind"]["S"],
        status=entry["status"]["S"],
        created_at=num("created_at"),
        lease_until=num("lease_until"),
        sent_at=num("sent_at") or None,
        lease_token=entry.get("lease_token", {}).get("S"),
        attempts=num("attempts"),
        next_attempt_at=num("next_attempt_at"),
        error=entry.get("error", {}).get("S"),
        card=snapshot["card"],
        people=snapshot["people"],
    )


def account_to_item(account: Account) -> dict[str, Any]:
    body = account.model_dump_json(exclude={"ver", "outbox"}, exclude_defaults=True)
    item: dict[str, Any] = {
        **account_key(account.domain),
        "ver": {"N": str(account.ver)},
        "st": {"B": codec.pack(body.encode())},
    }
    card = account.card
    if card is not None and card.tier in LISTED_TIERS:
        item["hot_pk"] = {"S": account_hot_pk(card.tier, shard_of_account(account.domain, HOT_SHARDS))}
        item["score"] = {"N": str(card.score)}
    if account.outbox:
        item["outbox"] = {"M": {a.id: _alert_to_dynamo(a) for a in account.outbox.values()}}
    pending = sorted(a.id for a in account.pending_alerts)
    if pending:
        item["alert_pending"] = {"SS": pending}
    retry = [t for t in (a.retry_at() for a in account.outbox.values()) if t is not None]
    if retry:
        item["due_pk"] = {"S": due_pk(shard_of(account.domain, DUE_SHARDS))}
        item["due_at"] = {"N": str(min(retry))}
    return item


def account_from_item(item: dict[str, Any]) -> Account:
    account = Account.model_validate_json(codec.unpack(blob(item["st"])))
    account.ver = int(item["ver"]["N"])
    account.outbox = {k: _alert_from_dynamo(k, v) for k, v in item.get("outbox", {}).get("M", {}).items()}
    return account


@dataclass
class MemberShard:
    domain: str
    shard: int
    ver: int
    members: dict[str, Member]


def shard_to_item(shard: MemberShard) -> dict[str, Any]:
    body = json.dumps([m.model_dump(exclude_defaults=True) for m in shard.members.values()])
    return {
        **shard_key(shard.domain, shard.shard),
        "ver": {"N": str(shard.ver)},
        "m": {"B": codec.pack(body.encode())},
    }


def shard_from_item(item: dict[str, Any]) -> MemberShard:
    pk = item["pk"]["S"]
    domain, shard = pk.removeprefix(ACCOUNT_PREFIX).rsplit("#", 1)
    members = [Member.model_validate(m) for m in json.loads(codec.unpack(blob(item["m"])))]
    return MemberShard(domain, int(shard), int(item["ver"]["N"]), {m.lead_id: m for m in members})


# ----------------------------------------------------------------------------------------- store
class AccountOutbox(Outbox):
    """The outbox of account summaries: the same claim/lease/mark updates, on the account's key."""

    def _key(self, lead_id: str) -> dict[str, Any]:
        return account_key(lead_id)


@dataclass
class Metered:
    """What a roll-up cost: writes (and their billed units), reads, lost races."""

    writes: int = 0
    write_units: int = 0
    reads: int = 0
    conflicts: int = 0


class AccountStore:
    def __init__(self, table: str, batch_reads: bool = True) -> None:
        self.table = table
        self.batch_reads = batch_reads  # BatchGetItem (the scorer) or GetItem (sweep, erasure)
        self.meter = Metered()

    def read(self, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items behind ``keys``, strongly consistent."""
        self.meter.reads += len(keys)
        if self.batch_reads:
            return _get_items(self.table, keys, consistent=True)
        out = []
        for key in keys:
            item = clients.dynamodb().get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if item:
                out.append(item)
        return out

    def put(self, item: dict[str, Any], expected_ver: int) -> dict[str, Any] | None:
        """Write ``item`` if the stored ``ver`` is ``expected_ver``; else the stored item (or {})."""
        from leadscore.dal.items import approx_size, units

        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": item,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if expected_ver == 0:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            kwargs["ConditionExpression"] = "ver = :v"
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(expected_ver)}}
        self.meter.writes += 1
        self.meter.write_units += units(approx_size(item))
        try:
            clients.dynamodb().put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            self.meter.conflicts += 1
            return exc.response.get("Item") or {}  # type: ignore[return-value]
        return None

    def get(self, domain: str) -> Account | None:
        items = self.read([account_key(domain)])
        return account_from_item(items[0]) if items else None

    def shards(self, domain: str) -> list[MemberShard]:
        """Every member shard of an account (the card's API reads members from the digests instead)."""
        return [shard_from_item(i) for i in self.read([shard_key(domain, s) for s in range(MEMBER_SHARDS)])]

    def hot(
        self, tier: str, shard: int, limit: int, start: dict[str, Any] | None
    ) -> Iterator[dict[str, Any]]:
        """Index keys of one ``ACCTHOT`` shard of a tier, highest score first."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": HOT_INDEX,
            "KeyConditionExpression": "hot_pk = :t",
            "ExpressionAttributeValues": {":t": {"S": account_hot_pk(tier, shard)}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        for response in paginate("query", kwargs):
            yield from response.get("Items", [])
