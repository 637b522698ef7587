"""The account API: ``GET /accounts`` (the hot list of accounts) and ``GET /accounts/{domain}`` (the
account card). No HTTP here, no boto3 either (leadscore.dal.accounts reads the items).

The hot list reads the ``hot`` index's ``ACCTHOT#<tier>#<shard>`` partitions (tiers above cold, as
for leads) and merges the shards by score, so pages come in the order one unsharded Query would give;
the cursor holds each shard's position. Reads are eventually consistent (a list, like ``GET /leads``).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadscore.api.errors import InvalidFieldError
from leadscore.dal.accounts import (
    ACCOUNT_PREFIX,
    ACCOUNT_SK,
    LISTED_TIERS,
    AccountStore,
    account_from_item,
    account_hot_pk,
    account_key,
)
from leadscore.dal.keys import HOT_SHARDS
from leadscore.dal.leads import _get_items
from leadscore.errors import LeadscoreError
from leadscore.scoring.accounts import Account, Member

DOMAIN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$"
_CURSOR_VERSION = 1


class AccountNotFoundError(LeadscoreError):
    """No account has this domain (404)."""

    def __init__(self, domain: str) -> None:
        super().__init__(f"no account {domain}")
        self.domain = domain


class AccountListQuery(BaseModel):
    """GET /accounts?tier=&limit=&cursor= (tier: sales_ready and/or warm, comma-separated)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tier: tuple[str, ...] = LISTED_TIERS
    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=4096)

    @field_validator("tier", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip()) or LISTED_TIERS
        return value

    @field_validator("tier")
    @classmethod
    def _listed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(t not in LISTED_TIERS for t in value) or len(set(value)) != len(value):
            raise ValueError(f"tiers listed: {', '.join(LISTED_TIERS)} (cold accounts are not indexed)")
        return value


def domain_from_ref(ref: str) -> str:
    domain = ref.strip().lower().removeprefix("www.")
    if len(domain) > 253 or not re.match(DOMAIN, domain):
        raise InvalidFieldError("domain", "not a company domain, e.g. contoso.com")
    return domain


# ------------------------------------------------------------------------------------------- views
def _person(m: Member) -> dict[str, Any]:
    return {
        "lead_id": m.lead_id,
        "name": m.name,
        "title": m.title,
        "role": m.role,
        "score": m.score,
        "tier": m.tier,
        "last_active": m.active_at or None,
        "did": m.did,
    }


def account_row(account: Account) -> dict[str, Any]:
    card = account.card
    if card is None:
        return {"domain": account.domain, "score": 0, "tier": "cold"}
    return {
        "domain": account.domain,
        "score": card.score,
        "tier": card.tier,
        "members": card.members,
        "engaged": card.engaged,
        "committee": card.committee,
        "surge": card.surge,
        "top": [
            {"lead_id": m.lead_id, "name": m.name, "score": m.score, "role": m.role} for m in card.top[:3]
        ],
    }


def account_card(store: AccountStore, ref: str) -> dict[str, Any]:
    """The account card: score and how it rolls up, tier, fit, the top members, the committee, and the
    recent activity of each engaged person."""
    domain = domain_from_ref(ref)
    account = store.get(domain)
    if account is None or account.card is None:
        raise AccountNotFoundError(domain)
    card = account.card
    active = sorted(
        (m for d in account.digests.values() for m in d.active), key=lambda m: (-m.active_at, m.lead_id)
    )
    return {
        **account_row(account),
        "rollup": card.rollup,
        "fit": card.fit,
        "fit_reasons": card.reasons,
        "threshold": card.threshold,
        "roles": card.roles,
        "missing_roles": card.missing_roles,
        "active_people": card.active_people,
        "top": [_person(m) for m in card.top],
        "recent_activity": [_person(m) for m in active[:25]],
        "computed_at": card.computed_at,
        "alerts": [
            {"id": a.id, "kind": a.kind, "status": a.status, "created_at": a.created_at}
            for a in account.outbox.values()
        ],
    }


# ------------------------------------------------------------------------------------------- hot list
Positions = dict[int, Any]  # shard -> key to continue after, or "done"


def _encode(tier: str, positions: Positions) -> str:
    after = [
        [s, p["score"]["N"], p["pk"]["S"].removeprefix(ACCOUNT_PREFIX)]
        for s, p in sorted(positions.items())
        if isinstance(p, dict)
    ]
    done = sorted(s for s, p in positions.items() if p == "done")
    raw = json.dumps({"v": _CURSOR_VERSION, "t": tier, "a": after, "d": done}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, tiers: tuple[str, ...]) -> tuple[str, Positions]:
    bad = InvalidFieldError("cursor", "not a cursor this API returned")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION or data.get("t") not in tiers:
        raise bad
    tier: str = data["t"]
    positions: Positions = {}
    try:
        for shard in data.get("d", []):
            if not isinstance(shard, int) or not 0 <= shard < HOT_SHARDS:
                raise bad
            positions[shard] = "done"
        for shard, score, domain in data.get("a", []):
            if not isinstance(shard, int) or not 0 <= shard < HOT_SHARDS or not isinstance(domain, str):
                raise bad
            if not re.fullmatch(r"-?[0-9.Ee+\-]{1,40}", str(score)):
                raise bad
            domain_from_ref(domain)
            positions[shard] = {
                **account_key(domain),
                "hot_pk": {"S": account_hot_pk(tier, shard)},
                "score": {"N": str(score)},
            }
    except (TypeError, ValueError, InvalidFieldError):
        raise bad from None
    return tier, positions


def _page(
    store: AccountStore, tier: str, limit: int, positions: Positions
) -> tuple[list[dict[str, Any]], Positions]:
    """Up to ``limit`` index keys of a tier, highest score first, merged from its shards."""
    heads: dict[int, list[dict[str, Any]]] = {}
    for shard in range(HOT_SHARDS):
        if positions.get(shard) == "done":
            continue
        start = positions.get(shard)
        items = list(
            _take(store.hot(tier, shard, limit + 1, start if isinstance(start, dict) else None), limit + 1)
        )
        heads[shard] = items
    heap = [(-float(items[0]["score"]["N"]), items[0]["pk"]["S"], s) for s, items in heads.items() if items]
    heapq.heapify(heap)
    keys: list[dict[str, Any]] = []
    used: dict[int, int] = {}
    while heap and len(keys) < limit:
        _, _, shard = heapq.heappop(heap)
        n = used.get(shard, 0)
        keys.append(heads[shard][n])
        used[shard] = n + 1
        if n + 1 < len(heads[shard]):
            nxt = heads[shard][n + 1]
            heapq.heappush(heap, (-float(nxt["score"]["N"]), nxt["pk"]["S"], shard))
    out: Positions = {s: p for s, p in positions.items() if p == "done"}
    for shard, items in heads.items():
        n = used.get(shard, 0)
        if n >= len(items):
            out[shard] = "done"
        elif n:
            last = items[n - 1]
            out[shard] = {k: last[k] for k in ("pk", "sk", "hot_pk", "score")}
        elif shard in positions:
            out[shard] = positions[shard]
    return keys, out


def _take(items: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        if len(out) >= n:
            break
    return out


def hot_accounts(store: AccountStore, query: AccountListQuery) -> dict[str, Any]:
    """A page of the account hot list: tiers in the order asked, highest score first within each."""
    tiers, index = query.tier, 0
    positions: Positions = {}
    if query.cursor:
        tier, positions = _decode(query.cursor, tiers)
        index = tiers.index(tier)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    while index < len(tiers) and len(rows) < query.limit:
        keys, positions = _page(store, tiers[index], query.limit - len(rows), positions)
        wanted = [{"pk": k["pk"], "sk": {"S": ACCOUNT_SK}} for k in keys]
        found = (
            {i["pk"]["S"]: account_from_item(i) for i in _get_items(store.table, wanted, False)}
            if wanted
            else {}
        )
        rows += [account_row(found[k["pk"]["S"]]) for k in keys if k["pk"]["S"] in found]
        if all(p == "done" for p in positions.values()) and len(positions) == HOT_SHARDS:
            index, positions = index + 1, {}
    if index < len(tiers):
        next_cursor = _encode(tiers[index], positions)
    return {"accounts": rows, "next_cursor": next_cursor, "tiers": list(tiers)}
