"""Orchestration: the use cases that combine the pure domain (rules, scoring) with the adapters
(:mod:`leadscore.dal`). The domain imports neither this package nor the adapters."""
