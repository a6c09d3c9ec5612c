"""Time XTCE loading: falak.mdb.xtce.load_xtce against space_packet_parser, same files, same run.

Run: ``.venv/bin/python benchmarks/xtce_load.py [--repeat N]``. Prints the best and median
wall time (``time.perf_counter``) and the median CPU time (``time.process_time``, steadier on a
shared machine) of each loader on each file, and the ratio space_packet_parser / falak of the
median wall times (above 1 means falak is faster). falak is timed with and without
its semantic validation (``falak.mdb.validate``), which space_packet_parser does not do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("FALAK_TESTDATA", REPO.parent / "shared" / "testdata"))

FILES = [
    ("CTIM (1.7 MB, 9,493 params)", "space_packet_parser/ctim/ctim_xtce_v1.xml",
     "CCSDSTelemetryPacket"),
    ("SUDA (147 kB)", "space_packet_parser/suda/suda_combined_science_definition.xml",
     "CCSDSPacket"),
    ("JPSS flat (14 kB)", "space_packet_parser/jpss/jpss1_geolocation_xtce_v1.xml",
     "CCSDSPacket"),
]  # fmt: skip


def _interleaved(
    funcs: list[Callable[[], object]], repeat: int
) -> list[tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each function, run in turn so load on a shared machine
    affects all of them alike."""
    for f in funcs:
        f()  # warm up imports and caches
    out: list[tuple[list[float], list[float]]] = [([], []) for _ in funcs]
    for _ in range(repeat):
        for f, (wall, cpu) in zip(funcs, out, strict=True):
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per loader and file")
    args = parser.parse_args()

    from space_packet_parser.xtce.definitions import XtcePacketDefinition

    from falak.mdb.xtce import load_xtce

    header = (
        f"{'file':32} {'loader':32} {'wall best':>9} {'wall med':>9} {'cpu med':>8} "
        f"{'spp/falak':>9}"
    )
    print(header + "\n" + "-" * len(header))
    for label, rel, root in FILES:
        path = TESTDATA / rel
        results = _interleaved(
            [
                lambda p=path, r=root: XtcePacketDefinition.from_xtce(p, root_container_name=r),
                lambda p=path: load_xtce(p),
                lambda p=path: load_xtce(p, validate=False),
            ],
            args.repeat,
        )
        names = [
            "space_packet_parser from_xtce",
            "falak load_xtce",
            "falak load_xtce(validate=False)",
        ]
        spp_wall = statistics.median(results[0][0])
        for name, (wall, cpu) in zip(names, results, strict=True):
            med = statistics.median(wall)
            ratio = "" if name.startswith("space") else f"{spp_wall / med:.2f}x"
            print(
                f"{label:32} {name:32} {min(wall) * 1e3:7.1f}ms {med * 1e3:7.1f}ms "
                f"{statistics.median(cpu) * 1e3:6.1f}ms {ratio:>9}"
            )
    print(
        f"\n{args.repeat} timed runs each, interleaved, after one warm-up; "
        f"{os.cpu_count()} CPUs visible; load average {os.getloadavg()[0]:.1f}. "
        "spp/falak is the ratio of median wall times (above 1: falak is faster)."
    )


if __name__ == "__main__":
    main()
