"""leadscore benchmarks: `python -m bench` (or `make bench`) runs them all, about 7 minutes here.

- :mod:`bench.storage`: the real ``score_batch`` (and the real scorer and ingest handlers) against
  :mod:`bench.meter`, a metered in-memory DynamoDB behind botocore, on seeded traffic
  (:mod:`bench.sim`): 100k leads, heavy-tailed histories, 10^4 events/s, SQS batching from the
  template, cold containers; item sizes, write and read units, per-key load, CPU, and the inputs of
  :mod:`bench.cost` (cost per 1M events, its floor, latency estimates);
- :mod:`bench.cold_start`: init + first invocation of every function against B, paired;
- :mod:`bench.rules_bench`: the rules matcher against peer engines on all-distinct values.

Each runs in its own interpreter. Results: ``bench/results/latest.json`` with ``goals`` (name,
measured, goal, pass), ``details`` and ``meta``. Not part of ``make test``.

Peer rule engines (rule-engine, cel-python, a Rust CEL binding) live only in ``.venv-bench``, which
:mod:`bench.peers` creates on demand; they never enter the runtime or dev virtualenv.
:mod:`bench.dictionary` retrains the codec's zstd dictionary on :mod:`bench.sim` traffic through
:mod:`bench.storage`'s stand-in; it is not part of the run.
"""
