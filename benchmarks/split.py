"""Benchmark: split 1,000,000 CCSDS packets; falak.ccsds.spacepacket against ccsdspy.

The stream is the JPSS geolocation file of space_packet_parser's test data (7200 packets of
71 bytes, APID 11) repeated and cut to 1,000,000 packets (71 MB). The peer is ccsdspy 2.x
``ccsdspy.utils.split_packet_bytes``, which returns one ``bytes`` per packet; falak returns
offsets and lengths into the input (zero-copy), so the table also times falak followed by
making the same list of ``bytes``.

Run: ``.venv/bin/python benchmarks/split.py`` (about 10 s).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from falak.ccsds.spacepacket import PacketSplitter, split_packets

N_PACKETS = 1_000_000
TESTDATA = Path(
    os.environ.get("FALAK_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")
)
JPSS = TESTDATA / "space_packet_parser/jpss/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Return the best wall time of ``repeat`` calls, and the last result."""
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> int:
    import ccsdspy
    from ccsdspy.utils import split_packet_bytes

    logging.getLogger("ccsdspy").setLevel(logging.WARNING)
    one = JPSS.read_bytes()
    reps = -(-N_PACKETS // 7200)
    stream = (one * reps)[: 71 * N_PACKETS]
    split_packets(stream[:7100])  # compile (numba cache) outside the timing

    rows: list[tuple[str, float, int]] = []

    t, res = best_of(lambda: split_packets(stream), 5)
    assert res.n_packets == N_PACKETS  # type: ignore[attr-defined]
    rows.append(("falak split_packets (offsets)", t, N_PACKETS))

    def falak_bytes() -> list[bytes]:
        r = split_packets(stream)
        return [
            stream[o : o + n] for o, n in zip(r.offsets.tolist(), r.lengths.tolist(), strict=True)
        ]

    t, lst = best_of(falak_bytes, 3)
    assert len(lst) == N_PACKETS  # type: ignore[arg-type]
    rows.append(("falak split_packets + list of bytes", t, N_PACKETS))

    def falak_stream() -> int:
        sp = PacketSplitter()
        count = 0
        for start in range(0, len(stream), 1 << 16):
            count += sp.feed(stream[start : start + (1 << 16)]).n_packets
        return count + sp.finish().n_packets

    t, cnt = best_of(falak_stream, 3)
    assert cnt == N_PACKETS
    rows.append(("falak PacketSplitter, 64 KiB chunks", t, N_PACKETS))

    # damaged: 13 bytes of 0xFF after every 1000th packet
    pkts = np.frombuffer(stream, dtype=np.uint8).reshape(N_PACKETS, 71)
    garbage = np.full((N_PACKETS // 1000, 13), 0xFF, dtype=np.uint8)
    blocks = pkts.reshape(N_PACKETS // 1000, 1000 * 71)
    damaged = np.concatenate([blocks, garbage], axis=1).tobytes()
    t, res = best_of(lambda: split_packets(damaged), 3)
    assert res.n_packets == N_PACKETS  # type: ignore[attr-defined]
    assert res.rejected_counts()["garbage"] == N_PACKETS // 1000  # type: ignore[attr-defined]
    rows.append(("falak split_packets, garbage every 1000", t, N_PACKETS))

    t0 = time.perf_counter()
    peer = split_packet_bytes(io.BytesIO(stream))
    t_peer = time.perf_counter() - t0
    assert len(peer) == N_PACKETS
    assert peer[12345] == lst[12345]  # type: ignore[index]
    rows.append((f"ccsdspy {ccsdspy.__version__} split_packet_bytes", t_peer, N_PACKETS))

    print(f"{N_PACKETS:,} packets of 71 bytes (JPSS file repeated), {len(stream) / 1e6:.0f} MB")
    print(f"{'method':<44} {'time s':>8} {'packets/s':>14} {'vs ccsdspy':>11}")
    for name, t, n in rows:
        print(f"{name:<44} {t:8.3f} {n / t:14,.0f} {t_peer / t:10.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
