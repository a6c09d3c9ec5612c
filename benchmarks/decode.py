"""Benchmark: MDB-driven telemetry decoding against ccsdspy and space_packet_parser.

The JPSS-1 geolocation packets of ../shared/testdata (7200 packets of 71 bytes, 27 fields) are
repeated to at least 1,000,000 packets. Every decoder starts from the bytes in memory and
ends with one array (or value) per field:

* falak: split the stream (CCSDS 133.0-B-2), decode through the XTCE container tree with
  calibration and limit checks switched on; once with the MDB as published (no calibrators
  or alarms) and once with a polynomial calibrator and static alarm ranges added to each of
  the 13 float and time parameters, so that the cost of calibration and monitoring shows;
* ccsdspy 2.x: ``FixedLength.load`` with its CSV definition of the same packet;
* space_packet_parser 6.x: the same XTCE, packet by packet (run on a subset and reported per
  packet, since it is about 100x slower).

Run: ``.venv/bin/python benchmarks/decode.py [--packets N]``. Writes nothing; paste the table
into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from falak.mdb import load
from falak.mdb.model import (
    AlarmRanges,
    FloatType,
    IntegerType,
    NumericAlarm,
    PolynomialCalibrator,
    Range,
)
from falak.tm.decoder import decode_stream

TESTDATA = Path(
    os.environ.get("FALAK_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")
)
JPSS = TESTDATA / "space_packet_parser" / "jpss"
PACKETS = JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
XTCE = JPSS / "jpss1_geolocation_xtce_v1.xml"
CSV = JPSS / "ccsdspy_jpss1_geolocation.csv"


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def with_calibration(mdb):
    """Add a polynomial calibrator and static alarm ranges to every float/time field."""
    cal = PolynomialCalibrator((0.5, 1.0001))
    alarm = NumericAlarm(static=AlarmRanges(warning=Range(-1e7, 1e7), critical=Range(-2e7, 2e7)))
    for ss in mdb.root.walk():
        for name, t in list(ss.types.items()):
            if isinstance(t, FloatType):
                ss.types[name] = dataclasses.replace(t, calibrator=cal, alarm=alarm)
            elif isinstance(t, IntegerType) and name.startswith(
                ("MSEC", "ADAET1MS", "ADAET2MS", "USEC")
            ):
                ss.types[name] = FloatType(
                    t.name, t.encoding, calibrator=cal, alarm=alarm, source=t.source
                )
    mdb.index()
    return mdb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="at least this many packets")
    ap.add_argument(
        "--spp-packets", type=int, default=20_000, help="subset for space_packet_parser"
    )
    args = ap.parse_args()

    base = PACKETS.read_bytes()
    reps = -(-args.packets // 7200)
    data = base * reps
    n = len(data) // 71
    print(f"{n:,} packets, {len(data) / 1e6:.1f} MB, 27 fields per packet")

    mdb = load(XTCE)
    t_falak = best_of(lambda: decode_stream(mdb, data))
    res, _ = decode_stream(mdb, data)
    assert res.n_decoded == n

    mdb_cal = with_calibration(load(XTCE))
    t_falak_cal = best_of(lambda: decode_stream(mdb_cal, data))

    import ccsdspy

    logging.getLogger("ccsdspy").setLevel(logging.ERROR)
    pkt = ccsdspy.FixedLength.from_file(str(CSV))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ccsdspy = best_of(lambda: pkt.load(io.BytesIO(data), include_primary_header=True))
        expected = pkt.load(io.BytesIO(data), include_primary_header=True)
    got = res.containers[0]
    for name in ("ADGPSPOSX", "MSEC", "ADCFAQ4"):
        np.testing.assert_array_equal(
            got.column(name).raw, expected[name].astype(got.column(name).raw.dtype)
        )

    import space_packet_parser as spp

    definition = spp.load_xtce(XTCE)
    sub = data[: 71 * args.spp_packets]

    def run_spp() -> None:
        for raw in spp.ccsds_generator(sub):
            definition.parse_bytes(raw)

    t_spp = best_of(run_spp, repeat=1) * (n / args.spp_packets)

    rows = [
        ("falak (XTCE as published, calibration+limits on)", t_falak),
        ("falak (13 fields calibrated + alarm-checked)", t_falak_cal),
        ("ccsdspy FixedLength (CSV definition)", t_ccsdspy),
        (f"space_packet_parser (XTCE, scaled from {args.spp_packets:,})", t_spp),
    ]
    print(f"{'decoder':58s} {'packets/s':>12s} {'samples/s':>14s}")
    for label, t in rows:
        print(f"{label:58s} {n / t:12,.0f} {27 * n / t:14,.0f}")
    print(f"falak / ccsdspy:             {t_ccsdspy / t_falak:6.2f}x (target >= 0.5x)")
    print(f"falak+cal / ccsdspy:         {t_ccsdspy / t_falak_cal:6.2f}x")
    print(f"falak / space_packet_parser: {t_spp / t_falak:6.0f}x (target >= 100x)")
    ctim = TESTDATA / "space_packet_parser" / "ctim" / "ctim_xtce_v1.xml"
    t_load = best_of(lambda: load(ctim))
    t_load_spp = best_of(lambda: spp.load_xtce(ctim), repeat=1)
    print(f"CTIM XTCE load (1.7 MB): falak {t_load:.3f} s, space_packet_parser {t_load_spp:.3f} s")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, ccsdspy {ccsdspy.__version__}")


if __name__ == "__main__":
    main()
