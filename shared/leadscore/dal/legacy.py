"""Lead states written before bounded items (state blob formats 1 and 2), read into today's layout.

What changes, and what the reader does with it:

- ``counters`` (rule -> epoch day -> matches) become ``legacy_counters``: turning them into bounded
  rule facts needs each rule's cap window and decay, so the scoring engine does it, with the rules,
  the first time it scores or rescores the lead (it then evaluates the lead exactly as before);
- ``totals`` and ``last_seen`` become each rule's ``n`` and ``last``;
- ``seen`` (event digests by the day they *occurred*) becomes the dedupe memory, all digests filed
  under the hour of the item's last write: each is remembered for the whole memory window after that
  write, which covers every redelivery the old memory covered;
- ``delivered`` (message id -> time) is keyed by the message id's digest, as today.
"""

from __future__ import annotations

import json
from typing import Any

from leadscore.scoring.engine import message_digest
from leadscore.scoring.state import MAX_MERGED, LeadState, RuleFacts


def state_from_json(raw: bytes) -> LeadState:
    data: dict[str, Any] = json.loads(raw)
    counters: dict[str, dict[str, int]] = data.pop("counters", None) or {}
    totals: dict[str, int] = data.pop("totals", None) or {}
    last_seen: dict[str, int] = data.pop("last_seen", None) or {}
    seen: dict[str, list[str]] = data.pop("seen", None) or {}
    delivered: dict[str, int] = data.pop("delivered", None) or {}
    data["merged_from"] = (data.get("merged_from") or [])[-MAX_MERGED:]
    state = LeadState.model_validate(data)
    for rule_id in set(totals) | set(last_seen):
        state.activity[rule_id] = RuleFacts(n=totals.get(rule_id, 0), last=last_seen.get(rule_id, 0))
    state.legacy_counters = {rule: dict(days) for rule, days in counters.items() if days}
    digests = [d for _, ids in sorted(seen.items(), key=lambda kv: int(kv[0])) for d in ids]
    if digests:
        state.seen = {str(state.updated_at // 3600): digests}
    state.delivered = {message_digest(str(m)): int(t) for m, t in delivered.items()}
    return state
