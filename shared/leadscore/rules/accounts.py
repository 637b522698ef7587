"""The rules document's ``accounts`` section, compiled once per rules version: which email domains
form an account (and under which primary domain), how member scores roll up, the account-level fit
rules, the committee's roles by title and the thresholds (docs/architecture.md, "Accounts")."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leadscore.rules.model import Accounts

Facts = Mapping[str, Any]
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$")


@dataclass(frozen=True, slots=True)
class AccountFitRule:
    id: str
    description: str
    points: float
    test: Callable[[Facts], bool]


@dataclass(frozen=True, slots=True)
class CompiledAccounts:
    spec: Accounts
    excluded: Callable[[str], bool]  # a domain that never forms an account (free-mail, education...)
    roles: tuple[tuple[str, Callable[[Facts], bool]], ...]
    fit: tuple[AccountFitRule, ...]

    def primary(self, domain: str) -> str:
        """The account's domain: the alias mapping first (a subdomain of a mapped or primary domain
        maps like its parent), else the domain itself."""
        mapped = self.spec.domains.get(domain)
        if mapped is not None:
            return mapped
        labels = domain.split(".")
        primaries = set(self.spec.domains.values())
        for i in range(1, len(labels) - 1):
            parent = ".".join(labels[i:])
            if parent in self.spec.domains:
                return self.spec.domains[parent]
            if parent in primaries:
                return parent
        return domain

    def account_of(self, email: str | None) -> str | None:
        """The account domain of an email address: lower-case, ``www.`` dropped, aliases mapped; None
        for an address without a valid domain or one of an excluded list."""
        if not email or "@" not in email:
            return None
        domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".").removeprefix("www.")
        if len(domain) > 253 or not _DOMAIN.match(domain) or self.excluded(domain):
            return None
        primary = self.primary(domain)
        return None if self.excluded(primary) else primary

    def role_of(self, facts: Facts) -> str | None:
        for name, test in self.roles:
            if test(facts):
                return name
        return None


def compile_accounts(spec: Accounts | None, lists: Mapping[str, frozenset[str]]) -> CompiledAccounts | None:
    if spec is None:
        return None
    from leadscore.rules.compiler import _membership, compile_condition

    tests = [_membership(name, lists, domain_field=True) for name in spec.exclude_lists]

    def excluded(domain: str) -> bool:
        return any(test(domain) for test in tests)

    return CompiledAccounts(
        spec=spec,
        excluded=excluded,
        roles=tuple((name, compile_condition(cond, lists)) for name, cond in spec.committee.roles.items()),
        fit=tuple(
            AccountFitRule(r.id, r.description, r.points, compile_condition(r.when, lists)) for r in spec.fit
        ),
    )
