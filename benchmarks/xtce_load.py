"""Time XTCE loading: falak.mdb.xtce.load_xtce against space_packet_parser, same files, same run.

Run: ``.venv/bin/python benchmarks/xtce_load.py [--repeat N] [--out FILE]``. Through
``_harness``: warm-up, interleaved runs, min/median/max of wall and CPU time of each loader on
each file, and the ratios space_packet_parser / falak of the medians (above 1 means falak is
faster). falak is timed with and without its semantic validation (``falak.mdb.validate``),
which space_packet_parser does not do. Both must find the same numbers of parameters and
containers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from _harness import Bench, Side, expect

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FALAK_TESTDATA", REPO.parent / "shared" / "testdata"))
#: The space_packet_parser files ship in tests/data (BSD-3); older checkouts: ../shared only.
TESTDATA = (
    REPO / "tests" / "data"
    if (REPO / "tests" / "data" / "space_packet_parser").is_dir()
    else SHARED
)

FILES = [
    ("CTIM (1.7 MB, 9,493 params)", "space_packet_parser/ctim/ctim_xtce_v1.xml",
     "CCSDSTelemetryPacket"),
    ("SUDA (147 kB)", "space_packet_parser/suda/suda_combined_science_definition.xml",
     "CCSDSPacket"),
    ("JPSS flat (14 kB)", "space_packet_parser/jpss/jpss1_geolocation_xtce_v1.xml",
     "CCSDSPacket"),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    Bench.arguments(parser, repeat=7)
    args = parser.parse_args()

    from space_packet_parser.xtce.definitions import XtcePacketDefinition

    from falak.mdb.xtce import load_xtce

    bench = Bench("XTCE loading: falak load_xtce vs space_packet_parser from_xtce", args.out)
    for label, rel, root in FILES:
        path = TESTDATA / rel

        def check(r: dict[str, Any], label: str = label) -> None:
            theirs = r["space_packet_parser from_xtce"]
            for name in ("falak load_xtce", "falak load_xtce(validate=False)"):
                ours = r[name]
                expect(
                    len(ours.parameters) == len(theirs.parameters)
                    and len(ours.containers) == len(theirs.containers),
                    f"{label}: {name} has {len(ours.parameters)} parameters and "
                    f"{len(ours.containers)} containers, space_packet_parser "
                    f"{len(theirs.parameters)} and {len(theirs.containers)}",
                )

        bench.compare(
            label,
            [
                Side("falak load_xtce", lambda p=path: load_xtce(p)),
                Side(
                    "falak load_xtce(validate=False)", lambda p=path: load_xtce(p, validate=False)
                ),
                Side(
                    "space_packet_parser from_xtce",
                    lambda p=path, r=root: XtcePacketDefinition.from_xtce(p, root_container_name=r),
                ),
            ],
            repeat=args.repeat,
            check=check,
        )
    bench.say("parameter and container counts equal on every file (asserted)")
    bench.finish()


if __name__ == "__main__":
    main()
