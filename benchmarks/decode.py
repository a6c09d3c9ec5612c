"""Benchmark: MDB-driven telemetry decoding against ccsdspy and space_packet_parser.

The JPSS-1 geolocation packets of tests/data (7200 packets of 71 bytes, 27 fields) are
repeated to at least 1,000,000 packets. Every decoder starts from the bytes in memory and
ends with one array (or value) per field:

1. **raw**: falak (split the stream per CCSDS 133.0-B-2, decode through the XTCE container tree
   as published: it has no calibrators or alarms) against ccsdspy 2.x ``FixedLength.load``
   with its CSV definition of the same packet (from a ``BytesIO``, its in-memory entry point).
   All 27 fields must be equal.
2. **calibrated and monitored**: the same XTCE with real polynomial calibrators (to SI-ish
   units: day count to MJD, ms and µs to s, m to km, m/s to km/s; 9 fields) and static
   warning/critical ranges (position, velocity, attitude quaternion; 10 fields) added to the
   XML (see :func:`calibrated_xtce`), loaded by falak's XTCE reader. Peer: ccsdspy with a
   ``PolyConverter`` per calibrated field (``add_converted_field``, as its users calibrate),
   plus the same ranges checked with numpy on the converted values (ccsdspy has no limit
   checking: this part of the peer is home-made). Engineering values must agree to 1e-12
   (relative) and every sample's alarm level must be the same.
3. **space_packet_parser** 6.x: the same XTCE, packet by packet into a list (as its users
   do), on a ``--spp-packets`` subset; falak is timed on the same subset. All 27 values of
   every packet must equal falak's.

Every comparison: warm-up of both, interleaved repeats, wall and CPU time (``_harness``).

Run: ``.venv/bin/python benchmarks/decode.py [--packets N] [--repeat 3] [--out FILE]``
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Bench, Side, expect
from lxml import etree

from falak.mdb import load
from falak.mdb.model import AlarmLevel
from falak.tm.decoder import decode_stream

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FALAK_TESTDATA", REPO.parent / "shared" / "testdata"))
#: The JPSS files ship in tests/data (BSD-3); older checkouts have them only in ../shared.
_DATA = REPO / "tests" / "data"
TESTDATA = _DATA if (_DATA / "space_packet_parser" / "jpss").is_dir() else SHARED
JPSS = TESTDATA / "space_packet_parser" / "jpss"
PACKETS = JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
XTCE = JPSS / "jpss1_geolocation_xtce_v1.xml"
CSV = JPSS / "ccsdspy_jpss1_geolocation.csv"
XTCE_NS = "http://www.omg.org/spec/XTCE/20180204"

#: falak's XTCE names of ccsdspy's primary-header fields (the body fields share names).
HEADER = {
    "VERSION": "CCSDS_VERSION_NUMBER",
    "TYPE": "CCSDS_PACKET_TYPE",
    "SEC_HDR_FLG": "CCSDS_SECONDARY_FLAG",
    "PKT_APID": "CCSDS_APID",
    "SEQ_FLGS": "CCSDS_SEQUENCE_FLAG",
    "SRC_SEQ_CTR": "CCSDS_SEQUENCE_COUNT",
    "PKT_LEN": "CCSDS_PACKET_LENGTH",
}
#: Parameter type -> polynomial coefficients (c0, c1): eng = c0 + c1 * raw.
CALIBRATORS = {
    "DOY_Type": (36204.0, 1.0),  # days since 1958-01-01 -> MJD
    "MSEC_Type": (0.0, 1e-3),  # ms of day -> s
    "USEC_Type": (0.0, 1e-6),  # µs -> s
    "ADGPSPOS_Type": (0.0, 1e-3),  # ECEF m -> km
    "ADGPSVEL_Type": (0.0, 1e-3),  # m/s -> km/s
}
#: Parameter type -> (warning range, critical range) on engineering values. JPSS-1 flies at
#: ~7,200 km from the Earth's centre at ~7.5 km/s, so the position and velocity ranges are
#: crossed near the poles and the equator: the monitoring has real work to do.
ALARMS = {
    "ADGPSPOS_Type": ((-7000.0, 7000.0), (-7150.0, 7150.0)),
    "ADGPSVEL_Type": ((-7.3, 7.3), (-7.45, 7.45)),
    "ADCFAQ_Type": ((-0.9, 0.9), (-1.0, 1.0)),
}


def calibrated_xtce(path: Path) -> None:
    """Write the JPSS XTCE with :data:`CALIBRATORS` and :data:`ALARMS` added, to ``path``."""
    tree = etree.parse(str(XTCE))
    ns = {"xtce": XTCE_NS}

    def sub(parent: Any, tag: str, **attrs: str) -> Any:
        return etree.SubElement(parent, f"{{{XTCE_NS}}}{tag}", attrs)

    for name, (c0, c1) in CALIBRATORS.items():
        (ptype,) = tree.xpath(f"//xtce:FloatParameterType[@name='{name}']", namespaces=ns)
        (enc,) = [e for e in ptype if etree.QName(e).localname.endswith("DataEncoding")]
        poly = sub(sub(enc, "DefaultCalibrator"), "PolynomialCalibrator")
        for exponent, coefficient in enumerate((c0, c1)):
            sub(poly, "Term", coefficient=repr(coefficient), exponent=str(exponent))
    for name, (warning, critical) in ALARMS.items():
        (ptype,) = tree.xpath(f"//xtce:FloatParameterType[@name='{name}']", namespaces=ns)
        ranges = sub(sub(ptype, "DefaultAlarm"), "StaticAlarmRanges")
        for tag, (lo, hi) in (("WarningRange", warning), ("CriticalRange", critical)):
            sub(ranges, tag, minInclusive=repr(lo), maxInclusive=repr(hi))
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def _type_of() -> dict[str, str]:
    """Parameter name -> its type's name, from the XTCE (for the calibration tables)."""
    tree = etree.parse(str(XTCE))
    return {p.get("name"): p.get("parameterTypeRef") for p in tree.iter(f"{{{XTCE_NS}}}Parameter")}


def numpy_level(eng: np.ndarray, warning: tuple[float, float], critical: tuple[float, float]):  # type: ignore[no-untyped-def]
    """Alarm level per sample from inclusive in-limits ranges (the peer's home-made monitoring)."""
    level = np.zeros(eng.shape, dtype=np.uint8)
    level[(eng < warning[0]) | (eng > warning[1])] = AlarmLevel.WARNING
    level[(eng < critical[0]) | (eng > critical[1])] = AlarmLevel.CRITICAL
    return level


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="at least this many packets")
    ap.add_argument(
        "--spp-packets", type=int, default=20_000, help="subset for space_packet_parser"
    )
    Bench.arguments(ap)
    args = ap.parse_args()

    import ccsdspy
    import space_packet_parser as spp
    from ccsdspy.converters import PolyConverter

    logging.getLogger("ccsdspy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="ccsdspy")  # its notes on the fixed layout

    base = PACKETS.read_bytes()
    data = base * -(-args.packets // 7200)
    n = len(data) // 71
    bench = Bench(
        f"decode: {n:,} JPSS-1 packets ({len(data) / 1e6:.1f} MB, 27 fields each); "
        f"numpy {np.__version__}, ccsdspy {ccsdspy.__version__}, space_packet_parser "
        f"{importlib.metadata.version('space_packet_parser')}",
        args.out,
    )
    types = _type_of()

    def same_raw(ours: Any, theirs: dict[str, np.ndarray], what: str) -> None:
        expect(ours.n_decoded == n, f"{what}: falak decoded {ours.n_decoded:,} of {n:,}")
        cols = ours.containers[0].columns
        expect(len(cols) == 27, f"{what}: falak gave {len(cols)} fields, not 27")
        for name, col in cols.items():
            short = name.rsplit("/", 1)[-1]
            ref = theirs[HEADER.get(short, short)]
            expect(
                np.array_equal(col.raw, ref.astype(col.raw.dtype)) and len(ref) == n,
                f"{what}: field {short} differs from ccsdspy",
            )

    # 1. raw
    mdb = load(XTCE)
    pkt = ccsdspy.FixedLength.from_file(str(CSV))
    bench.compare(
        "raw: XTCE as published (no calibrators or alarms in it) vs ccsdspy",
        [
            Side("falak decode_stream", lambda: decode_stream(mdb, data)[0]),
            Side(
                "ccsdspy FixedLength.load",
                lambda: pkt.load(io.BytesIO(data), include_primary_header=True),
            ),
        ],
        repeat=args.repeat,
        check=lambda r: same_raw(r["falak decode_stream"], r["ccsdspy FixedLength.load"], "raw"),
    )
    bench.say("all 27 fields of every packet equal (asserted)")

    # 2. calibrated and monitored
    with tempfile.TemporaryDirectory() as tmp:
        cal_path = Path(tmp) / "jpss1_calibrated.xml"
        calibrated_xtce(cal_path)
        mdb_cal = load(cal_path)
    pkt_cal = ccsdspy.FixedLength.from_file(str(CSV))
    calibrated = [p for p, t in types.items() if t in CALIBRATORS]
    alarmed = [p for p, t in types.items() if t in ALARMS]
    for p in calibrated:
        c0, c1 = CALIBRATORS[types[p]]
        pkt_cal.add_converted_field(p, f"{p}_eng", PolyConverter([c1, c0]))  # highest first

    def ccsdspy_calibrated() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        out = pkt_cal.load(io.BytesIO(data), include_primary_header=True)
        levels = {}
        for p in alarmed:
            eng = out[f"{p}_eng"] if p in calibrated else out[p]
            levels[p] = numpy_level(eng, *ALARMS[types[p]])
        return out, levels

    counts: dict[str, int] = {}

    def same_calibrated(r: dict[str, Any]) -> None:
        ours = r["falak decode_stream (calibrated XTCE)"]
        theirs, levels = r["ccsdspy + PolyConverter + numpy limits"]
        same_raw(ours, theirs, "calibrated")
        got = ours.containers[0]
        for p in calibrated:
            eng = got.column(p).eng
            expect(
                np.allclose(eng, theirs[f"{p}_eng"], rtol=1e-12, atol=0),
                f"{p}: engineering values differ from ccsdspy's PolyConverter",
            )
        for p in alarmed:
            mon = got.column(p).monitoring
            expect(mon is not None, f"{p}: falak did not monitor it")
            expect(np.array_equal(mon, levels[p]), f"{p}: alarm levels differ")
            counts[p] = int(np.count_nonzero(mon))
        expect(sum(counts.values()) > 0, "no sample out of limits: the monitoring did nothing")

    bench.compare(
        f"calibrated: {len(calibrated)} polynomial calibrators, {len(alarmed)} alarmed fields",
        [
            Side("falak decode_stream (calibrated XTCE)", lambda: decode_stream(mdb_cal, data)[0]),
            Side("ccsdspy + PolyConverter + numpy limits", ccsdspy_calibrated),
        ],
        repeat=args.repeat,
        check=same_calibrated,
    )
    bench.say(f"engineering values equal to 1e-12 and alarm levels equal (asserted); samples "
              f"out of limits: {sum(counts.values()):,} ("
              + ", ".join(f"{p} {c:,}" for p, c in counts.items() if c) + ")")  # fmt: skip

    # 3. space_packet_parser on a subset, falak on the same subset
    definition = spp.load_xtce(XTCE)
    sub = data[: 71 * args.spp_packets]

    def run_spp() -> list[Any]:
        return [definition.parse_bytes(raw) for raw in spp.ccsds_generator(sub)]

    def same_spp(r: dict[str, Any]) -> None:
        ours, theirs = r["falak decode_stream"], r["space_packet_parser parse_bytes"]
        expect(len(theirs) == args.spp_packets, f"space_packet_parser found {len(theirs)}")
        for name, col in ours.containers[0].columns.items():
            short = name.rsplit("/", 1)[-1]
            ref = np.array([p[short].raw_value for p in theirs])
            expect(np.array_equal(col.raw, ref), f"{short} differs from space_packet_parser")

    bench.compare(
        f"space_packet_parser: the first {args.spp_packets:,} packets",
        [
            Side("falak decode_stream", lambda: decode_stream(mdb, sub)[0]),
            Side("space_packet_parser parse_bytes", run_spp),
        ],
        repeat=args.repeat,
        check=same_spp,
    )
    bench.say("all 27 fields of every packet equal (asserted)")
    bench.say(f"python {sys.version.split()[0]}")
    bench.finish()


if __name__ == "__main__":
    main()
