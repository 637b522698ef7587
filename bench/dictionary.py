"""``python -m bench.dictionary``: train the zstd dictionary that :mod:`leadscore.dal.codec` packs with.

The samples are what the scorer really packs (lead states, journals, history items, alert cards),
captured from the real handler behind canned AWS responses on synthetic workloads. The seeds differ
from every benchmark's, so the benchmarks measure sizes on items the dictionary never saw.

A new dictionary needs a new format tag in the codec: blobs already stored keep naming the old one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, example_rules_json
from bench.cpu import Stubs, payloads, scorer
from bench.workload import bursts, mixed

SIZE = 8_192  # bytes: past this, held-out blobs got no smaller
TRAINING_SEEDS = (101, 103)


def samples() -> list[bytes]:
    stubs = Stubs(example_rules_json())
    invoke, _ = scorer(stubs)
    from leadscore.dal import codec

    captured: list[bytes] = []
    real = codec.pack

    def capture(data: bytes) -> bytes:
        captured.append(data)
        return real(data)

    codec.pack = capture
    try:
        events = mixed(6_000, leads=2_000, seed=TRAINING_SEEDS[0]) + bursts(
            2_000, leads=400, seed=TRAINING_SEEDS[1]
        )
        for payload in payloads(events, 100):
            invoke(payload)
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
