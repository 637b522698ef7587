"""leadscore benchmarks: `python -m bench` (or `make bench`) runs them all.

Each benchmark is a module with ``run() -> dict`` run in its own interpreter (fresh imports, its own
environment and mocks), reporting rows of ``metric, measured, baseline, ratio, goal, pass``. Results go
to ``bench/results/latest.json`` (gitignored). Not part of ``make test``.

Peer rule engines (rule-engine, cel-python, a Rust CEL binding) live only in ``.venv-bench``, which
:mod:`bench.peers` creates on demand; they never enter the runtime or dev virtualenv.
"""
