"""Benchmark: split 1,000,000 CCSDS packets; falak.ccsds.spacepacket against ccsdspy.

The stream is the JPSS geolocation file of space_packet_parser's test data (7200 packets of
71 bytes, APID 11) repeated and cut to 1,000,000 packets (71 MB). The peer is ccsdspy 2.x
``ccsdspy.utils.split_packet_bytes``, which returns one ``bytes`` per packet; falak returns
offsets and lengths into the input (zero-copy), so the table also times falak followed by
making the same list of ``bytes``; the ratio is taken on that same output, with both sides
warmed up and timed interleaved (``_harness``), and the packets asserted equal. falak's
zero-copy offsets, its streaming splitter and a damaged stream are timed too, on their own.

Run: ``.venv/bin/python benchmarks/split.py [--repeat N] [--out FILE]`` (about 30 s).

``--damage`` instead sweeps corruptions of the real files (JPSS, CTIM, SUDA) and prints, per
kind, in how many cases packets that the corruption did not touch were lost, how many in all
and the worst case: one corruption of every packet (length field set to FFFF, 0 or a random
value; one byte deleted; one header bit flipped; the packet duplicated; zero fill inserted
before it or appended to the file), and 1000 cases of 2-15 corruptions at once (about 3 min).
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Bench, Side, expect

from falak.ccsds.spacepacket import PacketSplitter, split_packets

N_PACKETS = 1_000_000
TESTDATA = Path(__file__).resolve().parents[1] / "tests" / "data"  # ships with falak
JPSS = TESTDATA / "space_packet_parser/jpss/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
DAMAGE_FILES = {
    "jpss": (JPSS, 0),
    "ctim": (TESTDATA / "space_packet_parser/ctim/ccsds_2021_155_14_39_51", 0),
    "suda": (TESTDATA / "space_packet_parser/suda/sciData_2022_130_17_41_53.spl", 4),
}
KINDS = ["len_ffff", "len_0", "len_rand", "del_byte", "bit_flip", "dup", "fill_ins", "fill_app"]


def main(argv: list[str]) -> int:
    import ccsdspy
    from ccsdspy.utils import split_packet_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    Bench.arguments(parser, repeat=3)
    parser.add_argument("--damage", action="store_true", help="run the corruption sweep instead")
    args = parser.parse_args(argv)
    if args.damage:
        return damage_sweep()

    logging.getLogger("ccsdspy").setLevel(logging.WARNING)
    one = JPSS.read_bytes()
    reps = -(-N_PACKETS // 7200)
    stream = (one * reps)[: 71 * N_PACKETS]
    bench = Bench(
        f"split {N_PACKETS:,} packets of 71 bytes (JPSS file repeated, "
        f"{len(stream) / 1e6:.0f} MB): falak against ccsdspy {ccsdspy.__version__}",
        args.out,
    )

    def falak_bytes() -> list[bytes]:
        r = split_packets(stream)
        return [
            stream[o : o + n] for o, n in zip(r.offsets.tolist(), r.lengths.tolist(), strict=True)
        ]

    def same_packets(results: dict[str, Any]) -> None:
        ours, peer = results["falak split_packets + list of bytes"], results["ccsdspy"]
        expect(len(ours) == len(peer) == N_PACKETS, f"{len(ours)} vs {len(peer)} packets")
        expect(ours == peer, "falak and ccsdspy split different packet bytes")

    # the same output on both sides: one bytes object per packet, as ccsdspy's users get it
    bench.compare(
        "same output (a list of bytes per packet)",
        [
            Side("falak split_packets + list of bytes", falak_bytes),
            Side("ccsdspy", lambda: split_packet_bytes(io.BytesIO(stream))),
        ],
        repeat=args.repeat,
        check=same_packets,
    )

    def n_packets(expected: int) -> Any:
        def check(results: dict[str, Any]) -> None:
            for name, n in results.items():
                expect(n == expected, f"{name}: {n} packets, expected {expected}")

        return check

    def falak_stream() -> int:
        sp = PacketSplitter()
        count = 0
        for start in range(0, len(stream), 1 << 16):
            count += sp.feed(stream[start : start + (1 << 16)]).n_packets
        return count + sp.finish().n_packets

    # damaged: 13 bytes of 0xFF after every 1000th packet
    pkts = np.frombuffer(stream, dtype=np.uint8).reshape(N_PACKETS, 71)
    garbage = np.full((N_PACKETS // 1000, 13), 0xFF, dtype=np.uint8)
    blocks = pkts.reshape(N_PACKETS // 1000, 1000 * 71)
    damaged = np.concatenate([blocks, garbage], axis=1).tobytes()

    def falak_damaged() -> int:
        res = split_packets(damaged)
        expect(res.rejected_counts()["garbage"] == N_PACKETS // 1000, "garbage ranges miscounted")
        return res.n_packets

    # falak's own ways, no peer (offsets into the input, zero-copy; streaming; damage)
    bench.compare(
        "falak alone: offsets, streaming, damaged stream",
        [
            Side("falak split_packets (offsets)", lambda: split_packets(stream).n_packets),
            Side("falak PacketSplitter, 64 KiB chunks", falak_stream),
            Side("falak split_packets, garbage every 1000", falak_damaged),
        ],
        repeat=args.repeat,
        check=n_packets(N_PACKETS),
    )
    bench.finish()
    return 0


def _corrupt(unit: bytes, kind: str, rng: random.Random, prefix: int) -> list[tuple[bytes, bool]]:
    """Return what replaces ``unit`` (prefix + packet): (bytes, untouched) pieces."""
    b = bytearray(unit)
    if kind == "len_ffff":
        b[prefix + 4 : prefix + 6] = b"\xff\xff"
    elif kind == "len_0":
        b[prefix + 4 : prefix + 6] = b"\x00\x00"
    elif kind == "len_rand":
        old = (b[prefix + 4] << 8) | b[prefix + 5]
        new = rng.randrange(65535)
        b[prefix + 4 : prefix + 6] = (new if new < old else new + 1).to_bytes(2, "big")
    elif kind == "del_byte":
        del b[rng.randrange(len(b))]
    elif kind == "bit_flip":
        bit = rng.randrange(48)
        b[prefix + bit // 8] ^= 1 << (bit % 8)
    elif kind == "dup":
        return [(unit, True), (unit, True)]
    elif kind == "fill_ins":
        return [(bytes(rng.choice([1, 7, 100, 4096, 65536])), False), (unit, True)]
    return [(bytes(b), False)]


def damage_sweep() -> int:
    """Print, per file and kind of corruption, the good packets lost (see the module doc)."""
    print(f"{'file':5} {'kind':9} {'cases':>6} {'with loss':>10} {'lost':>7} {'worst':>6}")
    for name, (path, prefix) in DAMAGE_FILES.items():
        raw = path.read_bytes()
        clean = split_packets(raw, prefix_bytes=prefix)
        assert clean.skipped == []
        offsets, lengths = clean.offsets.tolist(), clean.lengths.tolist()
        units = [raw[o - prefix : o + n] for o, n in zip(offsets, lengths, strict=True)]
        for kind in [*KINDS, "multi"]:
            rng = random.Random(f"{name}-{kind}")
            cases = range(min(len(units), 1000)) if kind == "multi" else range(len(units))
            with_loss = total = worst = 0
            for k in cases:
                parts = [(u, True) for u in units]
                if kind == "fill_app":
                    parts.append((bytes(rng.choice([1, 7, 100, 4096, 65536, 1 << 20])), False))
                elif kind == "multi":
                    picks = rng.sample(range(len(units)), min(len(units) - 1, rng.randint(2, 15)))
                    for j in sorted(picks, reverse=True):
                        parts[j : j + 1] = _corrupt(units[j], rng.choice(KINDS[:-1]), rng, prefix)
                else:
                    parts[k : k + 1] = _corrupt(units[k], kind, rng, prefix)
                stream = b"".join(p for p, _ in parts)
                expected, off = [], 0
                for p, good in parts:
                    if good:
                        expected.append((off + prefix, len(p) - prefix))
                    off += len(p)
                res = split_packets(stream, prefix_bytes=prefix)
                found = set(zip(res.offsets.tolist(), res.lengths.tolist(), strict=True))
                lost = sum(1 for e in expected if e not in found)
                with_loss += lost > 0
                total += lost
                worst = max(worst, lost)
            row = f"{name:5} {kind:9} {len(cases):6} {with_loss:10} {total:7} {worst:6}"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
