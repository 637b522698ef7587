"""The leadscore layer's process-wide caches, cleared between invocations and between tests."""

from __future__ import annotations

import importlib

_PER_INVOCATION = (
    ("leadscore.settings", "get_settings"),
    ("leadscore.dal.clients", "reset_clients"),
)
_PER_CONTAINER = (
    ("leadscore.dal.rules_store", "reset_rules_cache"),
    # The CRM sync's per-container memory (what it last wrote, its rate-limit buckets, Salesforce's
    # access token) and the cached secrets it read.
    ("leadscore.services.crm_sync", "reset_cache"),
    ("leadscore.services.crm_sync", "reset_clients"),
    ("leadscore.ingest.secrets", "clear_secret_cache"),
)


def reset_caches(*, rules: bool = True) -> None:
    """Forget cached settings and boto3 clients, and (``rules=True``) the loaded rules.

    Settings and clients depend on the environment, which changes from one function to the next, so
    every invocation starts without them. The rules cache is what a warm container keeps between
    invocations ("keep the last good rules" depends on it): it is cleared for a new stack or test.

    Imported lazily: this runs in processes that may not have imported the layer, and some of these
    functions are newer than others.
    """
    for module_name, function_name in _PER_INVOCATION + (_PER_CONTAINER if rules else ()):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            parents = {module_name.rsplit(".", n)[0] for n in range(module_name.count(".") + 1)}
            if exc.name in parents:
                continue  # not written (yet): nothing to clear
            raise
        target = getattr(module, function_name, None)
        if target is None:
            continue
        clear = getattr(target, "cache_clear", None)  # an lru_cache'd getter
        if callable(clear):
            clear()
        elif callable(target):
            target()
