"""Accounts, pure: a lead's contribution to its account, the shard digests, the roll-up, the buying
committee and the account alerts (docs/architecture.md, "Accounts").

Storage (leadscore.dal.accounts) keeps an account in two kinds of items:

- member shards: every member of the account, spread over ``MEMBER_SHARDS`` items by lead id, each
  member recorded with its lead's ``ver`` (an older ver never replaces a newer one);
- the summary: per shard a :class:`Digest` (its top ``K`` members by score and its most recently
  active ones, tagged with the shard's ``ver``), the card computed from the digests, the alert
  flags and the outbox.

Everything the card needs is in the digests: the top N of the account is among the shards' top K
(K >= N), the committee and the surge among their active members. A top member whose score drops is
replaced from its own shard's members when that shard is written, so the summary never has to read
the other shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from leadscore.rules.accounts import CompiledAccounts
from leadscore.rules.model import MAX_ACCOUNT_N, Accounts
from leadscore.scoring.state import LeadState, OutboxEntry, Scalar, clip

DAY = 86_400
MEMBER_SHARDS = 16  # member items per account: a hot account's member writes spread over 16 keys
MIN_TOP = 5  # members per shard digest by score: max(this, the roll-up's n, its weights), <= 50
MAX_ACTIVE = 8  # recently active members per shard digest (committee, surge, the alert's people)
MAX_PEOPLE = 10  # people an account alert names
PROFILE_FIELDS = ("industry", "company_size", "country")  # account fit reads these (no PII)
AccountAlertKind = Literal["account_sales_ready", "account_surge"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Member(_Model):
    """One lead's contribution to its account, as of the lead's ``ver``."""

    lead_id: str
    ver: int
    score: float = 0.0
    fit: float = 0.0
    activity: float = 0.0
    tier: str = "cold"
    role: str | None = None
    active_at: int = 0  # the lead's latest activity (epoch seconds)
    name: str | None = None  # as the lead alert names the person: name, else email
    title: str | None = None
    did: str | None = None  # the latest activity, e.g. "form_submit Request a demo"
    profile: dict[str, Scalar] = Field(default_factory=dict)  # PROFILE_FIELDS only


class Digest(_Model):
    """What the summary keeps of one member shard, as of the shard's ``ver``: its top members by
    score, its most recently active ones (without profiles), its engaged count and roles as of the
    write (for a shard with more engaged members than ``active`` holds), and the profile of its
    best-fitting member (account fit reads it)."""

    ver: int = 0
    members: int = 0
    top: list[Member] = Field(default_factory=list)
    active: list[Member] = Field(default_factory=list)
    engaged: int = 0
    roles: dict[str, int] = Field(default_factory=dict)
    profile: dict[str, Scalar] = Field(default_factory=dict)
    profile_fit: float = 0.0
    # A shard small enough to live in the summary (at most top_k members): ``top`` holds all of them,
    # profiles included, and no member item exists. The summary's conditional write orders its writers.
    inline: bool = False


class AccountCard(_Model):
    domain: str
    score: float = 0.0
    rollup: float = 0.0
    fit: float = 0.0
    tier: str = "cold"
    members: int = 0
    engaged: int = 0
    roles: dict[str, int] = Field(default_factory=dict)  # engaged contacts per role
    committee: Literal["complete", "partial", "none"] = "none"
    missing_roles: list[str] = Field(default_factory=list)
    active_people: int = 0  # active within the surge window
    surge: bool = False
    top: list[Member] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    profile: dict[str, Scalar] = Field(default_factory=dict)  # the best profile: industry, size, country
    threshold: float = 0.0
    computed_at: int = 0


class AccountAlert(OutboxEntry):
    """An alert in the account summary's outbox: the same lifecycle (claim, lease, sent, back off,
    failed) and stored attributes as a lead alert, so the same notifier and outbox deliver it."""

    kind: AccountAlertKind
    card: AccountCard
    people: list[Member] = Field(default_factory=list)  # who is engaged, and what each did


class Account(_Model):
    domain: str
    ver: int = 0
    digests: dict[str, Digest] = Field(default_factory=dict)  # shard -> digest
    card: AccountCard | None = None
    armed: dict[str, bool] = Field(default_factory=dict)
    outbox: dict[str, AccountAlert] = Field(default_factory=dict)
    updated_at: int = 0

    @property
    def pending_alerts(self) -> list[AccountAlert]:
        return [a for a in self.outbox.values() if a.status in ("pending", "sending")]


# ------------------------------------------------------------------------------------------- members
def shard_of_member(lead_id: str) -> int:
    return int(hashlib.blake2b(lead_id.encode(), digest_size=2).hexdigest(), 16) % MEMBER_SHARDS


def shard_of_account(domain: str, shards: int) -> int:
    return int(hashlib.blake2b(domain.encode(), digest_size=2).hexdigest(), 16) % shards


def account_of(state: LeadState, accounts: CompiledAccounts) -> str | None:
    """The account a lead belongs to: by its email's domain; anonymous, erased and merged-away leads
    and personal domains belong to none."""
    if state.erased_at is not None or state.merged_into is not None:
        return None
    return accounts.account_of(state.email)


def _did(state: LeadState) -> tuple[int, str | None]:
    if not state.recent:
        return 0, None
    act = max(state.recent, key=lambda a: a.at)
    what = act.name or act.path
    return act.at, clip(f"{act.type} {what}" if what else act.type, 80)


def member_of(state: LeadState, accounts: CompiledAccounts) -> Member | None:
    """The lead's contribution (None: it has no card yet)."""
    card = state.card
    if card is None:
        return None
    profile = state.profile
    first, last = profile.get("first_name"), profile.get("last_name")
    name = " ".join(str(p) for p in (first, last) if p) or state.email
    title = profile.get("job_title")
    facts = {"job_title": str(title) if title is not None else None}
    active_at, did = _did(state)
    return Member(
        lead_id=state.lead_id,
        ver=state.ver,
        score=card.score,
        fit=card.fit,
        activity=card.activity,
        tier=card.tier,
        role=accounts.role_of(facts) if title else None,
        active_at=active_at,
        name=clip(name, 100),
        title=clip(str(title), 100) if title else None,
        did=did,
        profile={k: profile[k] for k in PROFILE_FIELDS if k in profile},
    )


def apply_members(
    members: Mapping[str, Member], changes: Mapping[str, Member | None]
) -> dict[str, Member] | None:
    """The shard's members with ``changes`` (None: the lead left, e.g. erased). An older ``ver``
    never replaces a newer one. None when nothing changed (no write)."""
    out = dict(members)
    changed = False
    for lead_id, member in changes.items():
        current = out.get(lead_id)
        if member is None:
            if current is not None:
                del out[lead_id]
                changed = True
        elif (current is None or member.ver > current.ver) and current != member:
            out[lead_id] = member
            changed = True
    return out if changed else None


def _engaged(member: Member, since: int) -> bool:
    return member.activity > 0 and member.active_at >= since


def top_k(spec: Accounts) -> int:
    """Members per shard digest by score: the account's top N is among the shards' top K."""
    return min(MAX_ACCOUNT_N, max(MIN_TOP, spec.rollup.n, len(spec.rollup.weights)))


def digest(members: Mapping[str, Member], ver: int, accounts: CompiledAccounts, now: int) -> Digest:
    """A shard's digest (see :class:`Digest`)."""
    spec = accounts.spec
    horizon = now - DAY * max(spec.committee.engaged_days, spec.surge.days)
    engaged_since = now - DAY * spec.committee.engaged_days
    ranked = sorted(members.values(), key=lambda m: (-m.score, m.lead_id))
    active = sorted(
        (m for m in members.values() if _engaged(m, horizon)), key=lambda m: (-m.active_at, m.lead_id)
    )
    engaged = [m for m in active if _engaged(m, engaged_since)]
    roles: dict[str, int] = {}
    for m in engaged:
        if m.role:
            roles[m.role] = roles.get(m.role, 0) + 1
    best = max((m for m in members.values() if m.profile), key=lambda m: (m.fit, m.lead_id), default=None)

    def bare(m: Member) -> Member:
        return m.model_copy(update={"profile": {}}) if m.profile else m

    return Digest(
        ver=ver,
        members=len(members),
        top=[bare(m) for m in ranked[: top_k(spec)]],
        active=[bare(m) for m in active[:MAX_ACTIVE]],
        engaged=len(engaged),
        roles=roles,
        profile=best.profile if best is not None else {},
        profile_fit=best.fit if best is not None else 0.0,
    )


def inline_digest(members: Mapping[str, Member], accounts: CompiledAccounts, now: int) -> Digest:
    """The digest of a shard that lives in the summary: every member, as recorded."""
    d = digest(members, 0, accounts, now)
    ranked = sorted(members.values(), key=lambda m: (-m.score, m.lead_id))
    return d.model_copy(update={"top": ranked, "inline": True})


def inline_members(d: Digest | None) -> dict[str, Member]:
    return {m.lead_id: m for m in d.top} if d is not None else {}


def merge_digests(current: Mapping[str, Digest], new: Mapping[str, Digest]) -> dict[str, Digest] | None:
    """The summary's digests with ``new`` ones where their shard ``ver`` is newer; None: no change."""
    out = dict(current)
    changed = False
    for shard, d in new.items():
        old = out.get(shard)
        if old is None or d.ver > old.ver:
            out[shard] = d
            changed = True
    return out if changed else None


# ------------------------------------------------------------------------------------------- roll-up
def roll_up(scores: Iterable[float], accounts: CompiledAccounts) -> float:
    """Member scores (positive ones, highest first) rolled up by the rules' method."""
    ranked = sorted((s for s in scores if s > 0), reverse=True)
    rollup = accounts.spec.rollup
    if not ranked:
        return 0.0
    if rollup.method == "max":
        return ranked[0]
    if rollup.method == "weighted":
        return sum(w * s for w, s in zip(rollup.weights, ranked, strict=False))
    return sum(ranked[: rollup.n])


def _best_profile(digests: Iterable[Digest]) -> dict[str, Scalar]:
    """The profile of the best-fitting member who has one (account fit reads it)."""
    with_profile = [d for d in digests if d.profile]
    if not with_profile:
        return {}
    return max(with_profile, key=lambda d: (d.profile_fit, len(d.profile), sorted(d.profile.items()))).profile


def _engaged_in(
    digests: Iterable[Digest], accounts: CompiledAccounts, now: int
) -> tuple[int, dict[str, int]]:
    """Engaged contacts and their roles: from each shard's active members as of ``now``, or, for a
    shard with more engaged members than its digest lists, its counts as of its last write."""
    since = now - DAY * accounts.spec.committee.engaged_days
    roles = {name: 0 for name, _ in accounts.roles}
    total = 0
    for d in digests:
        if len(d.active) >= MAX_ACTIVE and d.engaged > len(d.active):
            total += d.engaged
            for role, n in d.roles.items():
                if role in roles:
                    roles[role] += n
            continue
        for m in d.active:
            if _engaged(m, since):
                total += 1
                if m.role in roles:
                    roles[m.role] += 1
    return total, roles


def _committee(roles: dict[str, int]) -> tuple[str, list[str]]:
    missing = [r for r, n in roles.items() if n == 0]
    grade: Literal["complete", "partial", "none"] = (
        "complete" if not missing else ("none" if len(missing) == len(roles) else "partial")
    )
    return grade, missing


def account_card(
    domain: str, digests: Mapping[str, Digest], accounts: CompiledAccounts, now: int
) -> AccountCard:
    """The account's card from its shard digests, as of ``now``."""
    spec = accounts.spec
    top = sorted((m for d in digests.values() for m in d.top), key=lambda m: (-m.score, m.lead_id))
    rollup = roll_up((m.score for m in top), accounts)
    profile = _best_profile(digests.values())
    fit, reasons = 0.0, []
    facts = {**profile, "email_domain": domain}
    for rule in accounts.fit:
        if rule.test(facts):
            fit += rule.points
            reasons.append(f"{rule.points:+g} {rule.description}")
    score = round(rollup + fit, 4)
    thresholds = spec.thresholds
    tier = (
        "sales_ready" if score >= thresholds.sales_ready else ("warm" if score >= thresholds.warm else "cold")
    )
    active = [m for d in digests.values() for m in d.active]
    engaged, roles = _engaged_in(digests.values(), accounts, now)
    grade, missing = _committee(roles)
    recent = {m.lead_id for m in active if _engaged(m, now - DAY * spec.surge.days)}
    shown = max(spec.rollup.n, len(spec.rollup.weights)) if spec.rollup.method != "max" else 1
    return AccountCard(
        domain=domain,
        score=score,
        rollup=round(rollup, 4),
        fit=fit,
        tier=tier,
        members=sum(d.members for d in digests.values()),
        engaged=engaged,
        roles=roles,
        committee=grade,
        missing_roles=missing,
        active_people=len(recent),
        surge=len(recent) >= spec.surge.people,
        top=top[: max(shown, 5)],
        reasons=reasons,
        profile=profile,
        threshold=thresholds.sales_ready,
        computed_at=now,
    )


# ------------------------------------------------------------------------------------------- alerts
def _people(digests: Mapping[str, Digest], since: int) -> list[Member]:
    active = [m for d in digests.values() for m in d.active if _engaged(m, since)]
    active.sort(key=lambda m: (-m.active_at, m.lead_id))
    return active[:MAX_PEOPLE]


def updated(account: Account, digests: dict[str, Digest], accounts: CompiledAccounts, now: int) -> Account:
    """The account with new digests: its card, and an alert per crossing.

    ``account_sales_ready``: the score reaches the threshold with ``min_people`` engaged;
    ``account_surge``: ``surge.people`` active within ``surge.days``. Each alert is raised once and
    re-arms when the account falls back (below ``warm``; fewer people active); a write that crosses
    both raises the sales-ready one only (it names the people). Decided from the account this write
    replaces, so concurrent writers (conditional on ``ver``) raise one alert per crossing."""
    spec = accounts.spec
    card = account_card(account.domain, digests, accounts, now)
    new = account.model_copy(
        update={
            "ver": account.ver + 1,
            "digests": digests,
            "card": card,
            "armed": dict(account.armed),
            "outbox": {k: a for k, a in account.outbox.items() if a.status in ("pending", "sending")},
            "updated_at": now,
        }
    )
    crossings: list[tuple[AccountAlertKind, bool, bool]] = [
        (
            "account_sales_ready",
            card.score >= spec.thresholds.sales_ready and card.engaged >= spec.thresholds.min_people,
            card.score < spec.thresholds.warm,
        ),
        ("account_surge", card.surge, card.active_people < spec.surge.people),
    ]
    raised = False
    for kind, crossed, rearm in crossings:
        armed = new.armed.get(kind, True)
        if crossed and armed and raised:  # one alert per write: the sales-ready one names the surge
            new.armed[kind] = False
        elif crossed and armed:
            raised = True
            since = now - DAY * (spec.surge.days if kind == "account_surge" else spec.committee.engaged_days)
            alert = AccountAlert(
                id=f"{kind}-{new.ver}", kind=kind, created_at=now, card=card, people=_people(digests, since)
            )
            new.outbox[alert.id] = alert
            new.armed[kind] = False
        elif rearm and not armed:
            new.armed[kind] = True
    return new


def without(account: Account, lead_id: str) -> Account:
    """The account with a person taken out of its digests and its alerts' snapshots (erasure)."""
    digests = {
        s: d.model_copy(
            update={
                "top": [m for m in d.top if m.lead_id != lead_id],
                "active": [m for m in d.active if m.lead_id != lead_id],
            }
        )
        for s, d in account.digests.items()
    }
    outbox = {
        k: a.model_copy(
            update={
                "people": [m for m in a.people if m.lead_id != lead_id],
                "card": a.card.model_copy(update={"top": [m for m in a.card.top if m.lead_id != lead_id]}),
            }
        )
        for k, a in account.outbox.items()
    }
    return account.model_copy(update={"digests": digests, "outbox": outbox})
