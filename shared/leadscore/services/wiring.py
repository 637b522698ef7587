"""This deployment's adapters, from its settings: the leads table's repository, the rules in force,
and a Lambda context's time left. What every handler needs before it calls a use case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from leadscore.dal.leads import LeadRepository, repository
from leadscore.dal.rules_store import rules_store
from leadscore.rules.compiler import CompiledRules
from leadscore.settings import get_settings, require


class HasTimeLeft(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def leads() -> LeadRepository:
    """The leads table's repository (``LEADS_TABLE``), cached per container."""
    return repository(require(get_settings().leads_table, "LEADS_TABLE"))


def current_rules() -> CompiledRules:
    """The rules in force (``RULES_BUCKET``/``RULES_KEY``, cached, last good kept on failure)."""
    settings = get_settings()
    return rules_store(
        require(settings.rules_bucket, "RULES_BUCKET"), settings.rules_key, settings.rules_refresh_seconds
    ).current()


def time_left(context: HasTimeLeft | None) -> Callable[[], float] | None:
    """Seconds the invocation has left (None outside Lambda: no limit)."""
    if context is None:
        return None
    return lambda: context.get_remaining_time_in_millis() / 1000
