"""Decode CPU time with and without ``gc.freeze()`` after loading the perftest2-shaped MDB.

Batches of random packets from ``ingest.py`` (200 packet types x 369 uint32 parameters),
``Decoder.decode`` with calibration and limits, process CPU time per batch, 12 batches per
line, plain and frozen interleaved twice in one process (``gc.unfreeze()`` in between).
``falak serve`` and ``falak tm decode`` freeze after loading (falak.cli.freeze_loaded_objects).

Run: .venv/bin/python benchmarks/gc_freeze.py
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ingest
from _harness import load_average

from falak.tm.decoder import Decoder


def main() -> None:
    mdb = ingest.build_mdb()
    packets = ingest.make_packets()
    decoder = Decoder(mdb)  # type: ignore[arg-type]
    rng = np.random.default_rng(1)

    def batch(n: int) -> tuple[bytes, np.ndarray, np.ndarray]:
        chosen = [packets[i] for i in rng.integers(0, len(packets), n)]
        lengths = np.array([len(p) for p in chosen], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return b"".join(chosen), offsets, lengths

    def run(label: str, n: int, reps: int = 12) -> None:
        times = []
        for _ in range(reps):
            data, offsets, lengths = batch(n)
            t = time.process_time()
            decoder.decode(data, offsets, lengths)
            times.append(time.process_time() - t)
        print(
            f"{label:7s} {n:5d} packets: median {statistics.median(times) * 1e3:5.0f} ms, "
            f"max {max(times) * 1e3:5.0f} ms; load average {load_average()}",
            flush=True,
        )

    for n in (200, 1000):
        for _ in range(2):
            run("plain", n)
            gc.collect()
            gc.freeze()
            run("frozen", n)
            gc.unfreeze()


if __name__ == "__main__":
    main()
