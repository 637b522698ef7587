"""`python -m tools.local serve|demo`: the stack on this machine (moto server + in-process handlers)."""
