"""The lead item's storage format: packed state, dedupe memory, sharded sparse index keys, the journal
moving out, and the size guard."""

from __future__ import annotations

import random
import threading
import zlib
from datetime import timedelta
from typing import Any

import pytest
from leadscore.dal import codec
from leadscore.dal.items import (
    DEDUPE,
    HISTORY_CHUNK,
    JOURNAL,
    MAX_ITEM_BYTES,
    STATE,
    approx_size,
    from_item,
    history_items,
    journal_entry,
    pack_dedupe,
    stored_item,
    to_item,
    unpack_dedupe,
)
from leadscore.dal.keys import HOT_SHARDS, shard_of
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent, lead_id_for_email
from leadscore.scoring.engine import apply_events, evaluate, explained
from leadscore.scoring.state import AlertEntry, LeadState, RecentActivity, ScoreCard

from tests.unit.rules_fixtures import EMAIL, NOW, event, pricing, rules


def scored(events: list[CanonicalEvent]) -> LeadState:
    return apply_events(LeadState(lead_id=lead_id_for_email(EMAIL)), events, rules(), NOW, 100).state


def test_codec_round_trips_and_refuses_unknown_formats() -> None:
    data = b'{"lead_id":"e1","email":"x@gmail.com","profile":{}}' * 3
    blob = codec.pack(data)
    assert codec.unpack(blob) == data and len(blob) < len(data) / 2
    with pytest.raises(ValueError, match="unknown blob format"):
        codec.unpack(b"\x7f" + blob[1:])
    with pytest.raises(ValueError, match="damaged blob"):
        codec.unpack(blob[:-3])
    with pytest.raises(ValueError, match="empty"):
        codec.unpack(b"")


def test_codec_packs_with_zstd_and_still_reads_deflate_blobs() -> None:
    state = scored([event("form_submit", name="Book a demo", profile={"job_title": "VP Sales"})])
    data = state.model_dump_json(exclude_defaults=True).encode()  # as the lead item stores it
    blob = codec.pack(data)
    assert blob[0] == 3 and codec.unpack_tagged(blob) == (3, data)
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=codec._DICTIONARY_V1)
    v1 = b"\x01" + deflate.compress(data) + deflate.flush()  # what format 1 stored
    assert codec.unpack(v1) == data
    assert len(blob) < len(v1)  # the trained dictionary beats the hand-written one


def test_codec_contexts_are_per_thread() -> None:
    data = [f'{{"lead_id":"e{i}","counters":{{"pricing":{{"20400":{i}}}}}}}'.encode() for i in range(200)]
    results: dict[int, bool] = {}

    def work(n: int) -> None:
        results[n] = all(codec.unpack(codec.pack(d)) == d for d in data)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: True, 1: True, 2: True, 3: True}


def test_state_round_trips_through_the_item_with_its_outbox_and_journal() -> None:
    state = scored([event("form_submit", name="Book a demo", profile={"job_title": "VP Sales"})])
    assert state.card is not None
    state.outbox = {
        "sales_ready-1": AlertEntry(id="sales_ready-1", kind="sales_ready", created_at=1, card=state.card)
    }
    state.outbox["sales_ready-1"].lease_token = "t0k"
    state.journal = [journal_entry(pricing(), None, 99)]
    state.dd_pages = [(491_000, "0a1b2c3d")]
    item = to_item(state)
    assert set(item) >= {"pk", "sk", "ver", STATE, JOURNAL, DEDUPE, "outbox", "alert_pending"}
    back = from_item(item)
    assert back.model_dump() == state.model_dump() and back.journal == state.journal
    assert back.seen == state.seen and back.dd_pages == state.dd_pages and state.seen
    assert back.outbox["sales_ready-1"].lease_token == "t0k"  # the notifier's claim survives a rewrite


def test_the_dedupe_memory_packs_8_bytes_per_digest() -> None:
    state = LeadState(lead_id="e1")
    state.seen = {"10": ["00" * 8, "ff" * 8], "12": ["0123456789abcdef"]}
    state.dd_pages = [(9, "deadbeef"), (11, "00000001")]
    packed = pack_dedupe(state)
    assert len(packed) == 2 + 2 * 8 + 2 * 6 + 3 * 8
    assert unpack_dedupe(packed) == (state.seen, state.dd_pages)
    with pytest.raises(ValueError, match="dedupe memory format"):
        unpack_dedupe(b"\x09" + packed[1:])


def test_only_leads_above_cold_are_on_the_hot_index() -> None:
    cold = scored([pricing()])
    assert cold.card is not None and cold.card.tier == "cold"
    assert "hot_pk" not in to_item(cold) and "score" not in to_item(cold)
    warm = cold.clone()
    warm.card = ScoreCard.model_validate({**cold.card.model_dump(), "tier": "warm", "score": 70})
    shard = shard_of(warm.lead_id, HOT_SHARDS)
    assert to_item(warm)["hot_pk"] == {"S": f"HOT#warm#{shard:02d}"} and to_item(warm)["score"] == {
        "N": "70.0"
    }


def test_lead_ids_spread_evenly_over_the_shards() -> None:
    counts = [0] * HOT_SHARDS
    for i in range(16_000):
        counts[shard_of(lead_id_for_email(f"user{i}@example.com"), HOT_SHARDS)] += 1
    assert max(counts) < 1.15 * 1_000 and min(counts) > 0.85 * 1_000


def test_the_stored_card_leaves_out_what_readers_derive() -> None:
    state = scored([event("form_submit", name="Book a demo", profile={"job_title": "VP Sales"})])
    assert state.card is not None
    full = evaluate(state, rules(), NOW, 100)
    state.card = full
    assert full.contributions and full.reasons
    back = from_item(to_item(state))
    assert back.card is not None and back.card.contributions == [] and back.card.reasons == full.reasons
    assert explained(back.card, back, rules(), NOW).contributions == full.contributions


def test_the_size_guard_trims_recent_activity_and_alert_explanations_first() -> None:
    state = scored([pricing()])
    assert state.card is not None
    rnd = random.Random(7)  # incompressible text: a state the bounds would never build, the guard's case
    state.recent = [
        RecentActivity(at=i, type="page_view", source="t", path="/" + rnd.randbytes(8_000).hex())
        for i in range(10)
    ]
    item, _, written, trimmed = stored_item(state)
    assert trimmed and approx_size(item) < MAX_ITEM_BYTES and len(written.recent) < 10
    assert written.activity == state.activity  # every fact that scores is kept
    small = scored([pricing()])
    assert stored_item(small)[3] is False


def test_the_journal_rides_along_until_it_would_cost_another_write_unit() -> None:
    state = scored([pricing()])
    state.journal = [journal_entry(pricing(ago=timedelta(minutes=1)), None, 99)]
    item, moved, _, _ = stored_item(state)
    assert moved == [] and JOURNAL in item and approx_size(item) <= 1024
    for i in range(2, 200):  # grows past the first KB: moved out, in one history item
        state.journal.append(journal_entry(event("page_view", event_id=f"p{i}"), None, 99 + i))
        item, moved, _, _ = stored_item(state)
        if moved:
            break
    assert moved and JOURNAL not in item
    assert len(moved) == 1 and moved[0]["ttl"] == {"N": str(99 + i)} and moved[0]["sk"]["S"].startswith("EV#")
    assert len(state.journal) <= HISTORY_CHUNK


class _FlakyDynamo:
    """Leaves the first ``leftovers`` requests unprocessed, as DynamoDB does under load."""

    def __init__(self, leftovers: int) -> None:
        self.leftovers = leftovers
        self.requests: list[dict[str, Any]] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        if len(self.requests) <= self.leftovers:
            return {"UnprocessedItems": {"t": RequestItems["t"][:1]}}
        return {"UnprocessedItems": {}}


def test_batch_writes_resend_what_dynamodb_left_unprocessed(monkeypatch: pytest.MonkeyPatch) -> None:
    from leadscore.dal import clients

    monkeypatch.setattr("leadscore.dal.leads.time.sleep", lambda _: None)
    flaky = _FlakyDynamo(leftovers=2)
    monkeypatch.setattr(clients, "dynamodb", lambda: flaky)
    items = history_items(
        "e1", 3, [journal_entry(pricing(ago=timedelta(minutes=i)), None, 9) for i in range(3)]
    )
    LeadRepository("t").put_items(items * 2)
    assert [len(r["t"]) for r in flaky.requests] == [2, 1, 1]  # the leftover sent again until done
    stuck = _FlakyDynamo(leftovers=100)
    monkeypatch.setattr(clients, "dynamodb", lambda: stuck)
    with pytest.raises(RuntimeError, match="left unprocessed"):
        LeadRepository("t").put_items(items)
    assert len(stuck.requests) == 8
