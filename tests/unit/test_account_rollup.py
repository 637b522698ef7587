"""Accounts, pure (leadscore.scoring.accounts, leadscore.rules.accounts): grouping by domain, the
roll-up methods, member versions, the committee and one alert per crossing."""

from __future__ import annotations

import json

import pytest
from leadscore.rules.accounts import CompiledAccounts
from leadscore.rules.compiler import load_rules
from leadscore.scoring.accounts import (
    DAY,
    MAX_ACTIVE,
    Account,
    Member,
    account_card,
    apply_members,
    digest,
    merge_digests,
    roll_up,
    top_k,
    updated,
)

from tests.support import example_rules_json

NOW = 1_795_500_000


def accounts(**section: object) -> CompiledAccounts:
    doc = json.loads(example_rules_json())
    doc["accounts"] = {**doc["accounts"], **section}
    compiled = load_rules(json.dumps(doc).encode()).accounts
    assert compiled is not None
    return compiled


def member(lead: str, score: float, *, ver: int = 1, role: str | None = None, days_ago: float = 1) -> Member:
    return Member(
        lead_id=lead, ver=ver, score=score, activity=max(score - 50, 0), role=role,
        active_at=int(NOW - days_ago * DAY), name=lead.title(), did="page_view /pricing",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("email", "account"),
    [
        ("Ann@Contoso.COM", "contoso.com"),
        ("ann@www.contoso.com", "contoso.com"),
        ("ann@contoso.co.uk", "contoso.com"),  # alias -> primary (rules/example.yaml)
        ("ann@eu.contoso.com", "contoso.com"),  # a subdomain of a primary
        ("ann@eu.fabrikam.io", "eu.fabrikam.io"),  # unmapped subdomains stand alone
        ("ann@gmail.com", None),  # free mail
        ("ann@googlemail.com", None),
        ("ann@mailinator.com", None),  # disposable
        ("ann@ox.ac.uk", None),  # education
        ("ann@cs.stanford.edu", None),
        ("ann@leadscore.dev", None),  # the rules' own internal_domains list
        ("ann", None),
        ("ann@localhost", None),
        ("ann@bad_domain.com", None),
    ],
)
def test_grouping_by_company_domain(email: str, account: str | None) -> None:
    assert accounts().account_of(email) == account


def test_roll_up_methods() -> None:
    scores = [120.0, 80.0, 60.0, 40.0, -30.0]
    assert roll_up(scores, accounts(rollup={"method": "top_n", "n": 3})) == 260
    assert roll_up(scores, accounts(rollup={"method": "top_n", "n": 1})) == 120
    assert roll_up(scores, accounts(rollup={"method": "max"})) == 120
    assert roll_up(scores, accounts(rollup={"method": "weighted", "weights": [1, 0.5, 0.25]})) == 175
    assert roll_up([-5.0], accounts()) == 0  # negative members never lower an account


def test_an_older_member_version_never_replaces_a_newer_one() -> None:
    current = {"a": member("a", 100, ver=5)}
    assert apply_members(current, {"a": member("a", 10, ver=4)}) is None  # a late retry: nothing to write
    assert apply_members(current, {"a": member("a", 100, ver=5)}) is None  # the same: nothing to write
    assert apply_members(current, {"a": member("a", 90, ver=6)}) == {"a": member("a", 90, ver=6)}
    assert apply_members(current, {"a": None}) == {}  # erased


def test_an_older_shard_digest_never_replaces_a_newer_one() -> None:
    acc = accounts()
    new = digest({"a": member("a", 100)}, 7, acc, NOW)
    old = digest({"a": member("a", 10)}, 6, acc, NOW)
    assert merge_digests({"3": new}, {"3": old}) is None
    assert merge_digests({"3": old}, {"3": new}) == {"3": new}


def test_the_top_member_that_drops_is_replaced_from_its_shard() -> None:
    acc = accounts(rollup={"method": "top_n", "n": 2})
    members = {f"m{i}": member(f"m{i}", 100 - i) for i in range(20)}
    shard = digest(members, 1, acc, NOW)
    assert len(shard.top) == top_k(acc.spec) == 5
    card = account_card("x.com", {"0": shard}, acc, NOW)
    assert card.rollup == 100 + 99
    members["m0"] = member("m0", 1, ver=2)  # the best member cools down
    card = account_card("x.com", {"0": digest(members, 2, acc, NOW)}, acc, NOW)
    assert card.rollup == 99 + 98


def test_committee_counts_engaged_contacts_by_role_and_grades_it() -> None:
    acc = accounts()
    members = {
        "a": member("a", 80, role="decision_maker"),
        "b": member("b", 70, role="champion"),
        "c": member("c", 60, role="champion", days_ago=45),  # not engaged: active 45 days ago
        "d": member("d", 0, role="technical_evaluator"),  # no activity score: not engaged
        "e": member("e", 55),  # engaged, no role
        "g": member("g", 60, role="champion", days_ago=20),  # engaged now, not in 15 days
    }
    shard = digest(members, 1, acc, NOW)
    card = account_card("x.com", {"0": shard}, acc, NOW)
    assert card.members == 6 and card.engaged == 4
    assert card.roles == {"decision_maker": 1, "champion": 2, "technical_evaluator": 0}
    assert card.committee == "partial" and card.missing_roles == ["technical_evaluator"]
    later = account_card("x.com", {"0": shard}, acc, NOW + 15 * DAY)  # the same digest, read later
    assert later.engaged == 3 and later.roles["champion"] == 1
    members["f"] = member("f", 65, role="technical_evaluator")
    card = account_card("x.com", {"0": digest(members, 2, acc, NOW)}, acc, NOW)
    assert card.committee == "complete" and card.missing_roles == [] and card.engaged == 5


def test_a_shard_with_more_engaged_members_than_its_digest_lists_counts_them_all() -> None:
    acc = accounts()
    members = {f"m{i}": member(f"m{i}", 60, role="champion") for i in range(3 * MAX_ACTIVE)}
    shard = digest(members, 1, acc, NOW)
    assert len(shard.active) == MAX_ACTIVE
    card = account_card("x.com", {"0": shard}, acc, NOW)
    assert card.engaged == 3 * MAX_ACTIVE and card.roles["champion"] == 3 * MAX_ACTIVE


def test_an_account_alerts_once_per_crossing_and_re_arms_below_warm() -> None:
    acc = accounts()
    account = Account(domain="x.com")

    def step(account: Account, scores: list[float], ver: int) -> Account:
        members = {f"m{i}": member(f"m{i}", s, ver=ver) for i, s in enumerate(scores)}
        return updated(account, {"0": digest(members, ver, acc, NOW)}, acc, NOW)

    account = step(account, [50, 40], 1)
    assert account.outbox == {}
    account = step(account, [120, 80], 2)  # 200 + fit 0 (no profiles): crosses 200
    assert [a.kind for a in account.outbox.values()] == ["account_sales_ready"]
    account = step(account, [130, 90], 3)  # still above: no new alert
    assert len(account.outbox) == 1
    account = step(account, [30, 20], 4)  # below warm (100): re-armed
    assert account.armed["account_sales_ready"] is True
    account = step(account, [150, 90], 5)
    assert [a.kind for a in account.outbox.values()] == ["account_sales_ready", "account_sales_ready"]


def test_surge_when_several_people_are_active_within_the_window() -> None:
    acc = accounts(surge={"people": 3, "days": 7})
    members = {f"m{i}": member(f"m{i}", 55, days_ago=i * 3) for i in range(4)}  # 0, 3, 6, 9 days ago
    account = updated(Account(domain="x.com"), {"0": digest(members, 1, acc, NOW)}, acc, NOW)
    assert account.card is not None and account.card.active_people == 3 and account.card.surge
    alert = next(iter(account.outbox.values()))
    assert alert.kind == "account_surge"
    assert [p.lead_id for p in alert.people] == ["m0", "m1", "m2"]  # who was active, newest first
