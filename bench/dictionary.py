"""``python -m bench.dictionary``: train the zstd dictionary that :mod:`leadscore.dal.codec` packs with.

The samples are what the scorer really packs (lead states, journals, history items, alert cards),
captured from the real ``score_batch`` against the storage benchmark's metered stand-in, on the
same kind of traffic the benchmark sends (:mod:`bench.sim`: heavy-tailed leads, strangers,
redeliveries, a burst). The seeds differ from every benchmark's, so the benchmarks measure sizes
on items the dictionary never saw.

A new dictionary needs a new format tag in the codec: blobs already stored keep naming the old one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench import sim
from bench.common import ROOT

SIZE = 8_192  # bytes: past this, held-out blobs got no smaller
TRAINING_SEEDS = (101, 103)
LEADS = 2_000
WINDOW_EVENTS = 6_000
BURST_EVENTS = 2_000


def samples() -> list[bytes]:
    from bench import storage
    from bench.template import design

    ctx = storage.setup()
    from leadscore.dal import codec

    captured: list[bytes] = []
    real = codec.pack

    def capture(data: bytes) -> bytes:
        captured.append(data)
        return real(data)

    leads = sim.population(LEADS, TRAINING_SEEDS[0])
    spread = sim.window(leads, WINDOW_EVENTS, storage.RATE, TRAINING_SEEDS[0], ctx.epoch0)
    burst = sim.burst(leads, 40, BURST_EVENTS, storage.RATE, TRAINING_SEEDS[1], ctx.epoch0)
    d = design()
    repo = storage.repository()
    codec.pack = capture
    try:
        for traffic in (spread, burst):
            storage.replay(ctx, repo, traffic.events, d.batch_size, d.batching_window_s)
    finally:
        codec.pack = real
    return captured


def main(argv: list[str]) -> int:
    import zstandard

    out = Path(argv[0]) if argv else ROOT / "shared" / "leadscore" / "dal" / "zstd-v2.dict"
    data = samples()
    samples_: list[Any] = list(data)
    trained: Any = zstandard.train_dictionary(SIZE, samples_, level=3)
    out.write_bytes(trained.as_bytes())
    print(f"{out}: {len(trained.as_bytes())} bytes from {len(data)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
