"""Account roll-up: where lead cards change (a scored batch, the sweep and rescore, an erasure), each
account touched is written once: its member shards that changed, then its summary (docs/architecture.md,
"Accounts"). Pure decisions live in :mod:`leadscore.scoring.accounts`, items in
:mod:`leadscore.dal.accounts`.

Every write is conditional on the ``ver`` read. A lost race re-reads the winner and recomputes, so
two containers updating two leads of one account raise one alert for one crossing (the alert goes in
the summary's outbox with the write that crossed). A member is recorded with its lead's ``ver`` and
a shard digest with the shard's ``ver``: a retry or a late writer never replaces newer with older,
so the roll-up is idempotent and a failed batch's retry repairs what it left.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from leadscore.dal.accounts import (
    AccountOutbox,
    AccountStore,
    MemberShard,
    account_from_item,
    account_key,
    account_to_item,
    shard_from_item,
    shard_key,
    shard_to_item,
)
from leadscore.dal.keys import DUE_SHARDS, due_pk, shard_of
from leadscore.dal.outbox import DueKey
from leadscore.rules.accounts import CompiledAccounts
from leadscore.scoring.accounts import (
    Account,
    AccountAlert,
    Digest,
    Member,
    account_of,
    apply_members,
    digest,
    inline_digest,
    inline_members,
    member_of,
    merge_digests,
    shard_of_member,
    top_k,
    updated,
    without,
)
from leadscore.scoring.state import LeadState
from leadscore.services.delivery import Delivered, Publisher, Sns, Tracker, deliver_entries, due

MAX_ATTEMPTS_PER_ITEM = 12
Changes = dict[str, dict[int, dict[str, Member | None]]]  # domain -> shard -> lead id -> member


class AccountConflictError(Exception):
    """An account item kept changing under this writer beyond the retry budget."""


@dataclass
class RollupReport:
    accounts: int = 0  # accounts touched
    alerts: list[AccountAlert] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)  # domain -> why
    leads: dict[str, set[str]] = field(default_factory=dict)  # domain -> the lead ids it rolled up


def changes_of(
    states: Iterable[LeadState], accounts: CompiledAccounts
) -> tuple[Changes, dict[str, set[str]]]:
    """Each lead's contribution, grouped by account and member shard (one write per shard touched)."""
    changes: Changes = defaultdict(lambda: defaultdict(dict))
    leads: dict[str, set[str]] = defaultdict(set)
    for state in states:
        domain = account_of(state, accounts)
        member = member_of(state, accounts) if domain else None
        if domain is None or member is None:
            continue
        changes[domain][shard_of_member(state.lead_id)][state.lead_id] = member
        leads[domain].add(state.lead_id)
    return changes, leads


def _backoff(attempt: int) -> None:
    if attempt >= 2:  # real contention: back off with full jitter
        time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311


def _write_shard(
    store: AccountStore,
    shard: MemberShard,
    changes: dict[str, Member | None],
    accounts: CompiledAccounts,
    now: int,
) -> Digest:
    """Apply the changes to one member shard (conditional on its ver) and return its digest."""
    for attempt in range(1, MAX_ATTEMPTS_PER_ITEM + 1):
        members = apply_members(shard.members, changes)
        if members is None:
            return digest(shard.members, shard.ver, accounts, now)
        new = MemberShard(shard.domain, shard.shard, shard.ver + 1, members)
        winner = store.put(shard_to_item(new), shard.ver)
        if winner is None:
            return digest(new.members, new.ver, accounts, now)
        shard = shard_from_item(winner) if winner else MemberShard(shard.domain, shard.shard, 0, {})
        _backoff(attempt)
    raise AccountConflictError(f"account shard {shard.domain}#{shard.shard}: kept changing")


def _read_shard(store: AccountStore, domain: str, shard: int) -> MemberShard:
    items = store.read([shard_key(domain, shard)])
    return shard_from_item(items[0]) if items else MemberShard(domain, shard, 0, {})


def _apply_inline(
    store: AccountStore,
    account: Account,
    shards: dict[int, dict[str, Member | None]],
    accounts: CompiledAccounts,
    now: int,
) -> Account | None:
    """The summary with member changes applied to its inline shards (None: nothing changed). A shard
    that outgrows its digest moves to its member item (written here, idempotent: versions decide);
    one another writer moved meanwhile is written through its item."""
    digests = dict(account.digests)
    changed = False
    for shard, changes in shards.items():
        current = digests.get(str(shard))
        if current is not None and not current.inline:
            new = _write_shard(store, _read_shard(store, account.domain, shard), changes, accounts, now)
        else:
            members = apply_members(inline_members(current), changes)
            if members is None:
                continue
            if len(members) <= top_k(accounts.spec):
                new = inline_digest(members, accounts, now)
            else:
                stored = _read_shard(store, account.domain, shard)
                new = _write_shard(store, stored, dict(members), accounts, now)
        if new != current:
            digests[str(shard)] = new
            changed = True
    return account.model_copy(update={"digests": digests}) if changed else None


def write_account(
    store: AccountStore,
    account: Account,
    digests: dict[str, Digest],
    accounts: CompiledAccounts,
    now: int,
    edit: Callable[[Account], Account | None] | None = None,
) -> tuple[Account, list[AccountAlert]]:
    """Put the shards' new digests in the summary (conditional on its ver), with the alerts the
    change crosses. ``edit`` changes the summary first (inline shards; erasure takes a person out),
    again on the winner after a lost race; None from it: no change."""
    for attempt in range(1, MAX_ATTEMPTS_PER_ITEM + 1):
        edited = edit(account) if edit is not None else None
        base = edited or account
        merged = merge_digests(base.digests, digests)
        if merged is None and edited is None:
            return account, []
        new = updated(base, merged if merged is not None else dict(base.digests), accounts, now)
        winner = store.put(account_to_item(new), account.ver)
        if winner is None:
            raised = [a for k, a in new.outbox.items() if k not in account.outbox]
            return new, raised
        account = account_from_item(winner) if winner else Account(domain=account.domain)
        _backoff(attempt)
    raise AccountConflictError(f"account {account.domain}: kept changing")


def _roll_domain(
    store: AccountStore,
    account: Account,
    shards: dict[int, dict[str, Member | None]],
    stored: dict[int, MemberShard],
    accounts: CompiledAccounts,
    now: int,
    also: Callable[[Account], Account] | None = None,
) -> list[AccountAlert]:
    """One account's changes: its member items first (shards that have one), then its summary
    (inline shards and the new digests) in one conditional write."""
    digests: dict[str, Digest] = {}
    inline: dict[int, dict[str, Member | None]] = {}
    for shard, members in shards.items():
        current = account.digests.get(str(shard))
        if current is None or current.inline:
            inline[shard] = members
        else:
            start = stored.get(shard) or MemberShard(account.domain, shard, 0, {})
            digests[str(shard)] = _write_shard(store, start, members, accounts, now)

    def edit(a: Account) -> Account | None:
        edited = _apply_inline(store, a, inline, accounts, now) if inline else None
        return also(edited or a) if also is not None else edited

    _, raised = write_account(store, account, digests, accounts, now, edit)
    return raised


def apply_changes(
    store: AccountStore, changes: Changes, accounts: CompiledAccounts, now: int
) -> RollupReport:
    """Write every account touched: its changed member items, then its summary, once each. Reads:
    the summaries, then the member items of the shards that have one (strongly consistent)."""
    report = RollupReport(accounts=len(changes))
    found = {i["pk"]["S"]: account_from_item(i) for i in store.read([account_key(d) for d in changes])}
    summaries = {d: found.get(account_key(d)["pk"]["S"]) or Account(domain=d) for d in changes}
    wanted = [
        shard_key(d, s)
        for d, shards in changes.items()
        for s in shards
        if (g := summaries[d].digests.get(str(s))) is not None and not g.inline
    ]
    stored: dict[str, dict[int, MemberShard]] = defaultdict(dict)
    for item in store.read(wanted) if wanted else []:
        shard = shard_from_item(item)
        stored[shard.domain][shard.shard] = shard
    for domain, shards in changes.items():
        try:
            report.alerts.extend(
                _roll_domain(store, summaries[domain], shards, stored[domain], accounts, now)
            )
        except Exception as exc:  # reported per account: its leads' events are retried
            report.failures[domain] = exc
    return report


def roll_up(
    table: str,
    states: Iterable[LeadState],
    accounts: CompiledAccounts | None,
    now: int,
    *,
    batch_reads: bool = True,
) -> RollupReport:
    """Roll the leads' current states up into their accounts (one write per account and shard)."""
    if accounts is None:
        return RollupReport()
    changes, leads = changes_of(states, accounts)
    if not changes:
        return RollupReport()
    report = apply_changes(AccountStore(table, batch_reads=batch_reads), changes, accounts, now)
    report.leads = dict(leads)
    return report


def leave(table: str, state: LeadState, accounts: CompiledAccounts | None, now: int) -> bool:
    """Take an erased lead out of its account: its member entry, and its name from the summary's
    digests and alert snapshots; the card follows. ``state`` is the lead as it was before erasure.
    True if an account was written."""
    if accounts is None:
        return False
    domain = accounts.account_of(state.email)
    if domain is None:
        return False
    store = AccountStore(table, batch_reads=False)
    account = store.get(domain)
    if account is None:
        return False
    shard = shard_of_member(state.lead_id)
    current = account.digests.get(str(shard))
    stored = {shard: _read_shard(store, domain, shard)} if current is not None and not current.inline else {}
    _roll_domain(
        store,
        account,
        {shard: {state.lead_id: None}},
        stored,
        accounts,
        now,
        also=lambda a: without(a, state.lead_id),
    )
    return True


# ------------------------------------------------------------------------------------------- delivery
def _due_key(account: Account, ver: int | None) -> DueKey | None:
    if ver is None:
        return None
    times = [t for t in (a.retry_at() for a in account.outbox.values()) if t is not None]
    return DueKey(ver=ver, pk=due_pk(shard_of(account.domain, DUE_SHARDS)), at=min(times) if times else None)


class _Tracked(Tracker):
    """The account summary as this delivery leaves it, and its version while nobody else writes it."""

    def __init__(self, account: Account) -> None:
        super().__init__(account.ver)
        self.account = account
        self.outboxed = dict(account.outbox)

    def due(self, alert: AccountAlert) -> DueKey | None:
        self.outboxed[alert.id] = alert
        return _due_key(self.account.model_copy(update={"outbox": self.outboxed}), self.ver)


def deliver_account(
    account: Account,
    outbox: AccountOutbox,
    topic: Publisher,
    now: Callable[[], int],
    render: Callable[[Account, AccountAlert], dict[str, object]],
    check: Callable[[dict[str, object]], list[str]],
) -> Delivered:
    """Publish every pending alert of an account summary that may be attempted now: the lead alerts'
    lifecycle (claim with a lease, publish, mark sent / back off / failed) on the account's item."""
    return deliver_entries(
        account.domain,
        account.pending_alerts,
        outbox,
        Sns(topic),
        now,
        lambda alert: render(account, alert),
        check,
        _Tracked(account),
    )


def redrive_account(table: str, domain: str, now: datetime) -> Delivered:
    """The sweep's visit of an account summary listed by the ``due`` index: deliver its due alerts
    (the notifier was interrupted, or the stream gave up)."""
    from leadscore import clock
    from leadscore.services.notify import deliver_account_alerts

    account = AccountStore(table, batch_reads=False).get(domain)
    now_s = int(now.timestamp())
    if account is None or not any(due(a, now_s) for a in account.pending_alerts):
        return Delivered()
    return deliver_account_alerts(account, clock.seconds)
