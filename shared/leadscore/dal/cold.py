"""Cold leads, the long tail, listed by a bounded, filtered Scan of the leads table.

Cold leads are kept off the ``hot`` index on purpose: they are most leads and receive most events, and
every score change of an indexed lead is an index key change (a delete plus a put, 2 write units),
so indexing them would triple the write cost of their events and put the busiest tier's index keys
near DynamoDB's per-key limit at the design load (docs/architecture.md, "Listing cold leads").
Listing them is a person browsing, rare next to events: a Scan pays per request instead of per event.

A page reads at most ``max_calls`` Scan calls of ``scan_page`` items each (bounded latency and read
units per request), keeps the lead items that are not on the index (``attribute_not_exists(hot_pk)``,
so DynamoDB drops the rest before returning them) and whose tier is unlisted, and stops at ``limit``
leads. ``next_key`` is where the next page starts: the key of the last item read (a Scan may start
after any primary key), or None once the whole table was read. A page may hold fewer than ``limit``
leads, even none, while ``next_key`` is set. Pages come in the table's order, not by score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadscore.dal import clients
from leadscore.dal.items import from_item, tombstone
from leadscore.dal.keys import LEAD_SK
from leadscore.scoring.state import UNLISTED_TIERS, LeadState

SCAN_PAGE = 500  # items a Scan call evaluates (its Limit); about 0.5 MB of lead and history items
MAX_CALLS = 4  # Scan calls per page at most


@dataclass
class ColdPage:
    leads: list[LeadState]
    next_key: dict[str, Any] | None  # None: the whole table has been read
    scanned: int = 0  # items DynamoDB read (and billed) for this page
    calls: int = 0


def cold_listed(state: LeadState) -> bool:
    """A known, scored lead whose tier keeps it off the ``hot`` index."""
    card = state.card
    return (
        card is not None and state.email is not None and card.tier in UNLISTED_TIERS and not tombstone(state)
    )


def cold_page(
    table: str,
    limit: int,
    start_key: dict[str, Any] | None = None,
    *,
    scan_page: int = SCAN_PAGE,
    max_calls: int = MAX_CALLS,
) -> ColdPage:
    """Up to ``limit`` cold leads from ``start_key`` on (see the module docstring)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "sk = :lead AND attribute_not_exists(hot_pk)",
        "ExpressionAttributeValues": {":lead": {"S": LEAD_SK}},
        "Limit": scan_page,
    }
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    page = ColdPage(leads=[], next_key=None)
    while page.calls < max_calls:
        response: dict[str, Any] = dict(clients.dynamodb().scan(**kwargs))
        page.calls += 1
        page.scanned += int(response.get("ScannedCount", 0))
        for item in response.get("Items", []):
            state = from_item(item)
            if cold_listed(state):
                page.leads.append(state)
                if len(page.leads) >= limit:
                    page.next_key = {"pk": item["pk"], "sk": item["sk"]}
                    return page
        last = response.get("LastEvaluatedKey")
        if not last:
            return page
        kwargs["ExclusiveStartKey"] = page.next_key = {"pk": last["pk"], "sk": last["sk"]}
    return page
