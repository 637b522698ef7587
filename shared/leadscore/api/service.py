"""The Lead API's operations, over the lead repository. No HTTP here; no boto3 either.

- :func:`lead_id_from_ref`: ``{lead}`` is a lead id or an email address (it has an ``@``);
- :func:`get_card`: the score card with recent history;
- :func:`hot_list`: the hot list, page by page, from the ``hot`` index (a Query per tier, never a Scan);
- :func:`record_outcome` / :func:`adjust` / :func:`move_stage`: one conditional write each
  (``LeadRepository.mutate``), version bumped. An adjustment re-evaluates the lead with the rules
  in force, so its card, tier and place in the hot list change at once. An adjustment never raises
  an alert (a person made it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from leadscore.api.errors import InvalidFieldError, LeadFullError, LeadNotFoundError
from leadscore.api.models import AdjustmentRequest, HotListQuery, OutcomeRequest, StageRequest
from leadscore.api.views import HISTORY_LIMIT, hot_row, score_card
from leadscore.dal.cold import cold_page
from leadscore.dal.items import tombstone
from leadscore.dal.keys import LEAD_SK, hot_pk, hot_shards, lead_pk
from leadscore.dal.leads import LeadRepository
from leadscore.ingest.body import parse_json
from leadscore.ingest.errors import MalformedBodyError, UnprocessableError
from leadscore.models.event import EmailEncodingError, lead_id_for_email
from leadscore.rules.compiler import CompiledRules
from leadscore.rules.model import Lifecycle
from leadscore.scoring import lifecycle, outcomes
from leadscore.scoring.consent import view as consent_view
from leadscore.scoring.engine import epoch, evaluate, explained, rescore
from leadscore.scoring.state import (
    MAX_ADJUSTMENTS,
    MAX_OUTCOMES,
    UNLISTED_TIERS,
    Adjustment,
    LeadState,
    SalesOutcome,
    StageMove,
)
from leadscore.scoring.timeline import score_history

_LEAD_ID = re.compile(r"[ea][0-9a-f]{31}")
_CURSOR_VERSION = 2


def lead_id_from_ref(ref: str) -> str:
    """The lead id behind ``{lead}``: an email (URL-decoded, normalized, hashed) or a lead id."""
    text = unquote(ref).strip()
    if "@" in text:
        try:
            return lead_id_for_email(text)
        except EmailEncodingError as exc:
            raise InvalidFieldError("lead", f"the email address {exc}") from None
        except ValueError:
            raise InvalidFieldError("lead", "not a valid email address") from None
    if not _LEAD_ID.fullmatch(text):
        raise InvalidFieldError("lead", "neither a lead id nor an email address")
    return text


def _existing(repo: LeadRepository, lead_id: str) -> LeadState:
    state = repo.get(lead_id)
    if state is None or tombstone(state):  # erased: what remains is only the tombstone
        raise LeadNotFoundError(lead_id)
    return state


def get_card(
    repo: LeadRepository,
    ref: str,
    history_limit: int = HISTORY_LIMIT,
    rules: CompiledRules | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The score card with recent history. The stored card holds no explanations: with ``rules`` the
    lead is evaluated again to explain it (its stored score when the rules are the ones that scored
    it, else the score those rules give now), and ``score_history`` replays its history through them
    (:mod:`leadscore.scoring.timeline`; empty without rules)."""
    lead_id = lead_id_from_ref(ref)
    state = _existing(repo, lead_id)
    at = now or datetime.now(UTC)
    history = repo.history(lead_id)  # every page is read anyway (newest first): sliced below
    timeline: list[dict[str, Any]] = []
    if rules is not None and state.card is not None:
        state.card = explained(state.card, state, rules, at)
        # The stored card's threshold is the one the deployment scored with (the rules' own wins).
        points = score_history(state, (e for e, _ in history), rules, at, state.card.threshold)
        timeline = [p.to_json() for p in points]
    return score_card(state, history[:history_limit], timeline)


# --------------------------------------------------------------------------------------------- hot list
Positions = dict[int, dict[str, Any] | str | None]
SCAN = -2  # the position of an unlisted (cold) tier: where its Scan continues, not an index shard
_SCAN_SK = re.compile(r"[A-Za-z0-9#]{1,64}")


def encode_cursor(tier: str, positions: Positions) -> str:
    """Where each shard of ``tier`` continues, compactly: [shard, score, lead id] after a lead, or the
    shard in ``d`` when it is done; shards not named start at their top. For a cold tier, ``s`` is
    [lead id, sort key] of the item its Scan continues after."""
    scan = positions.get(SCAN)
    if isinstance(scan, dict):
        at = [scan["pk"]["S"].removeprefix("LEAD#"), scan["sk"]["S"]]
        raw = json.dumps({"v": _CURSOR_VERSION, "t": tier, "s": at}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    after = []
    done = []
    for shard, position in sorted(positions.items()):
        if position == "done":
            done.append(shard)
        elif isinstance(position, dict):
            after.append([shard, position["score"]["N"], position["pk"]["S"].removeprefix("LEAD#")])
    raw = json.dumps({"v": _CURSOR_VERSION, "t": tier, "a": after, "d": done}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _not_a_cursor() -> InvalidFieldError:
    return InvalidFieldError("cursor", "not a cursor this API returned")


def decode_cursor(cursor: str, tiers: tuple[str, ...]) -> tuple[str, Positions]:
    """The tier and shard positions a cursor continues from. Anything else than a cursor this API made
    for the same tiers is a 400 naming ``cursor`` (never handed to DynamoDB as is)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = parse_json(raw, max_depth=4)  # a forged "[[[[..." is a 400, never a RecursionError
    except (binascii.Error, ValueError, MalformedBodyError, UnprocessableError):  # 1e400 is JSON, no cursor
        raise _not_a_cursor() from None
    if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
        raise _not_a_cursor()
    tier, after, done = data.get("t"), data.get("a"), data.get("d")
    if not isinstance(tier, str) or tier not in tiers:
        raise InvalidFieldError("cursor", "made for other tiers: repeat the query with the same tier")
    if tier in UNLISTED_TIERS:
        return tier, _scan_position(data.get("s"))
    shards = set(hot_shards())
    if not isinstance(after, list) or not isinstance(done, list):
        raise _not_a_cursor()
    positions: Positions = {}
    for shard in done:
        if not isinstance(shard, int) or isinstance(shard, bool) or shard not in shards:
            raise _not_a_cursor()
        positions[shard] = "done"
    for entry in after:
        if not (isinstance(entry, list) and len(entry) == 3):
            raise _not_a_cursor()
        shard, score, lead_id = entry
        if (
            not isinstance(shard, int)
            or isinstance(shard, bool)
            or shard not in shards
            or shard in positions
            or not isinstance(score, str)
            or not re.fullmatch(r"-?[0-9.Ee+\-]{1,40}", score)
            or not isinstance(lead_id, str)
            or not _LEAD_ID.fullmatch(lead_id)
        ):
            raise _not_a_cursor()
        positions[shard] = {
            "pk": {"S": lead_pk(lead_id)},
            "sk": {"S": LEAD_SK},
            "hot_pk": {"S": hot_pk(tier, shard)},
            "score": {"N": score},
        }
    return tier, positions


def _scan_position(at: object) -> Positions:
    """A cold tier's cursor: the Scan continues after this key ({} starts it from the beginning)."""
    if at is None:
        return {}
    if not (isinstance(at, list) and len(at) == 2 and all(isinstance(x, str) for x in at)):
        raise _not_a_cursor()
    lead_id, sk = at
    if not _LEAD_ID.fullmatch(lead_id) or not _SCAN_SK.fullmatch(sk):
        raise _not_a_cursor()
    return {SCAN: {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": sk}}}


def _cold_page(
    repo: LeadRepository, limit: int, positions: Positions | None
) -> tuple[list[LeadState], Positions | None]:
    """A page of a cold tier's Scan, highest score first within the page, and where it continues."""
    start = (positions or {}).get(SCAN)
    page = cold_page(repo.table, limit, start if isinstance(start, dict) else None)
    leads = sorted(page.leads, key=lambda s: -(s.card.score if s.card else 0))
    return leads, ({SCAN: page.next_key} if page.next_key is not None else None)


def _matches(state: LeadState, query: HotListQuery) -> bool:
    card = state.card
    if card is None:
        return False
    if not query.grade_matches(card.grade):
        return False
    if query.do_not_email is not None and consent_view(state.consent).do_not_email != query.do_not_email:
        return False
    return query.category is None or card.categories.get(query.category, 0) > 0


def hot_list(
    repo: LeadRepository, query: HotListQuery, rules: CompiledRules | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A page of the hot list: tiers in the order asked, highest score first within each, merged from
    the index's shards (the order and pages of one unsharded index).

    At most ``limit`` leads are read from the index per page; grade and category filters are applied
    to what was read, so a page may be short (or empty) while ``next_cursor`` is set. With ``rules``,
    each row carries the reasons the rules give.
    """
    tiers = query.tier
    index, positions = 0, None
    if query.cursor:
        tier, positions = decode_cursor(query.cursor, tiers)
        index = tiers.index(tier)
    rows: list[dict[str, Any]] = []
    remaining = query.limit
    next_cursor: str | None = None
    at = now or datetime.now(UTC)
    while index < len(tiers):
        if tiers[index] in UNLISTED_TIERS:
            leads, more = _cold_page(repo, remaining, positions)
        else:
            page = repo.hot_page(tiers[index], remaining, positions)
            leads, more = page.leads, page.positions
        remaining -= len(leads)
        for state in leads:
            if _matches(state, query):
                if rules is not None and state.card is not None:
                    state.card = explained(state.card, state, rules, at)
                rows.append(hot_row(state))
        if more is not None:
            # A cold tier's Scan read its share for this request: the next page continues it.
            if remaining <= 0 or tiers[index] in UNLISTED_TIERS:
                next_cursor = encode_cursor(tiers[index], more)
                break
            positions = more
            continue
        index, positions = index + 1, None
        if remaining <= 0:
            if index < len(tiers):
                next_cursor = encode_cursor(tiers[index], {})
            break
    return {
        "leads": rows,
        "next_cursor": next_cursor,
        "tiers": list(tiers),
        "filters": {"grade": query.grade, "category": query.category, "do_not_email": query.do_not_email},
    }


# --------------------------------------------------------------------------------------------- writes
@dataclass(frozen=True)
class Caller:
    """Who asked: the IAM principal ARN API Gateway verified (``unknown`` when it gave none)."""

    arn: str = "unknown"


def record_outcome(
    repo: LeadRepository,
    ref: str,
    body: OutcomeRequest,
    caller: Caller,
    now: datetime,
    config: Lifecycle | None = None,
) -> tuple[LeadState, SalesOutcome]:
    """Keep what became of the lead, with its score, grade and rules version at that moment (the same
    record a CRM's outcome makes, :mod:`leadscore.scoring.outcomes`); its lifecycle stage follows."""
    lead_id = lead_id_from_ref(ref)
    start = _existing(repo, lead_id)
    now_s = epoch(now)

    def change(current: LeadState) -> LeadState:
        if current.ver == 0:
            raise LeadNotFoundError(lead_id)  # removed since it was read
        outcome = outcomes.snapshot(
            current,
            body.status,
            by=caller.arn,
            at=now_s,
            amount=body.amount,
            currency=body.currency,
            note=body.note,
        )
        new = current.clone()
        try:
            outcomes.record(new, outcome, config or Lifecycle())
        except outcomes.OutcomesFull:
            raise LeadFullError("outcomes", MAX_OUTCOMES) from None
        new.ver = current.ver + 1
        new.updated_at = now_s
        return new

    saved = repo.mutate(lead_id, change, start=start)
    assert saved is not None  # change never returns None
    return saved.after, saved.after.outcomes[-1]


def move_stage(
    repo: LeadRepository, ref: str, body: StageRequest, caller: Caller, now: datetime, config: Lifecycle
) -> tuple[LeadState, StageMove | None]:
    """Move the lead's lifecycle stage (accept: ``sal``; reject: ``rejected`` with a configured
    reason, recycling it to nurture; or any later stage). Forward only: :class:`StageError` (409 or
    422) otherwise. Moving to the stage it is in changes nothing (no write, None)."""
    lead_id = lead_id_from_ref(ref)
    start = _existing(repo, lead_id)
    now_s = epoch(now)
    made: list[StageMove] = []

    def change(current: LeadState) -> LeadState | None:
        if current.ver == 0:
            raise LeadNotFoundError(lead_id)
        made.clear()
        new = current.clone()
        if body.stage == "rejected":
            entry = lifecycle.reject(new, body.reason or "", config, at=now_s, by=caller.arn, note=body.note)
        else:
            entry = lifecycle.move(new, body.stage, at=now_s, by=caller.arn, why=body.note)
        if entry is None:
            return None
        made.append(entry)
        new.ver = current.ver + 1
        new.updated_at = now_s
        return new

    saved = repo.mutate(lead_id, change, start=start)
    return (saved.after if saved is not None else start), (made[0] if made else None)


def adjust(
    repo: LeadRepository,
    ref: str,
    body: AdjustmentRequest,
    caller: Caller,
    now: datetime,
    rules: CompiledRules,
    default_threshold: float | None,
) -> tuple[LeadState, Adjustment]:
    """Append an audited adjustment and re-evaluate the lead with ``rules`` (the card, tier, hot list
    and due date change in the same write; falling below the re-arm level re-arms its alert)."""
    lead_id = lead_id_from_ref(ref)
    start = _existing(repo, lead_id)
    now_s = epoch(now)
    adjustment = Adjustment(
        id=uuid.uuid4().hex[:16],
        points=body.points,
        disqualify=body.disqualify,
        reason=body.reason,
        by=caller.arn,
        at=now_s,
    )

    def change(current: LeadState) -> LeadState:
        if current.ver == 0:
            raise LeadNotFoundError(lead_id)
        adjusted = current.clone()
        if len(current.adjustments) >= MAX_ADJUSTMENTS:
            raise LeadFullError("adjustments", MAX_ADJUSTMENTS)
        adjusted.adjustments = [*current.adjustments, adjustment]
        new = rescore(adjusted, rules, now, default_threshold)  # new card, version, re-arming
        if new is None:  # same score and tier (e.g. points that cancel out): still a new fact
            new = adjusted
            new.ver = current.ver + 1
        new.updated_at = now_s
        new.card = evaluate(new, rules, now, default_threshold)  # reasons name the adjustment
        return new

    saved = repo.mutate(lead_id, change, start=start)
    assert saved is not None
    return saved.after, adjustment
