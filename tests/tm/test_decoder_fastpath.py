"""The decoder's fast path (planned runs of simple entries in fixed layouts) gives exactly the
results of the generic entry-by-entry walk (``Decoder(..., fast_path=False)``): the same
columns in the same order with the same raw, engineering, presence and monitoring arrays (same
dtypes, bit for bit), the same failures and excess by reason, alarms and trailing bits,
whatever the batch: equal or mixed packet lengths, truncated or overlong packets, packets not
contiguous in the buffer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from falak.ccsds.spacepacket import split_packets
from falak.mdb import load
from falak.mdb.model import (
    AlarmRanges,
    EnumeratedType,
    EnumValue,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MissionDatabase,
    NumericAlarm,
    ParameterEntry,
    PolynomialCalibrator,
    Range,
)
from falak.tm.decoder import Column, ContainerResult, Decoder, DecodeResult

from .mdbs import Builder, apid_is

SPP = "space_packet_parser"
INGEST = Path(__file__).resolve().parents[2] / "benchmarks" / "ingest.py"


def _ingest() -> ModuleType:
    """benchmarks/ingest.py, for its perftest2-shaped MDB and packets (loaded as when run as
    a script: its folder first on the path, for its sibling modules such as ``_harness``)."""
    spec = importlib.util.spec_from_file_location("falak_bench_ingest", INGEST)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(INGEST.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(INGEST.parent))
    return module


def _same_array(a: NDArray[Any] | None, b: NDArray[Any] | None, what: str) -> None:
    if a is None or b is None:
        assert a is None, what
        assert b is None, what
        return
    assert a.dtype == b.dtype, what
    assert a.shape == b.shape, what
    if a.dtype == object:
        assert [repr(x) for x in a.tolist()] == [repr(x) for x in b.tolist()], what
    else:  # bit for bit (NaN payloads included)
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), what


def _same_column(a: Column, b: Column) -> None:
    assert (a.key, a.name) == (b.key, b.name)
    _same_array(a.raw, b.raw, f"{a.key} raw")
    _same_array(a.eng, b.eng, f"{a.key} eng")
    _same_array(a.present, b.present, f"{a.key} present")
    _same_array(a.monitoring, b.monitoring, f"{a.key} monitoring")


def _same_containers(a: list[ContainerResult], b: list[ContainerResult]) -> None:
    assert [c.container for c in a] == [c.container for c in b]
    for ca, cb in zip(a, b, strict=True):
        _same_array(ca.packet_index, cb.packet_index, f"{ca.container} packet_index")
        _same_array(ca.trailing_bits, cb.trailing_bits, f"{ca.container} trailing_bits")
        assert list(ca.columns) == list(cb.columns), ca.container
        for key in ca.columns:
            _same_column(ca.columns[key], cb.columns[key])


def assert_same_result(a: DecodeResult, b: DecodeResult) -> None:
    """Every field of two decode results is equal (arrays bit for bit, same dtypes)."""
    assert a.n_packets == b.n_packets
    assert list(a.failed) == list(b.failed)
    for reason in a.failed:
        _same_array(a.failed[reason], b.failed[reason], f"failed {reason}")
    assert list(a.excess) == list(b.excess)
    for reason in a.excess:
        _same_array(a.excess[reason], b.excess[reason], f"excess {reason}")
    assert a.excess_bytes == b.excess_bytes
    assert [repr(t) for t in a.alarms] == [repr(t) for t in b.alarms]  # NaN values too
    _same_containers(a.containers, b.containers)
    _same_containers(a.partial, b.partial)


def _both(
    mdb: MissionDatabase,
    data: bytes,
    offsets: NDArray[np.int64],
    lengths: NDArray[np.int64],
    root: str | None = None,
) -> DecodeResult:
    """Decode with and without the fast path (twice with it: the second run uses the cached
    plans), check the results are the same, return one."""
    fast = Decoder(mdb, root)
    generic = Decoder(mdb, root, fast_path=False)
    want = generic.decode(data, offsets, lengths)
    assert_same_result(fast.decode(data, offsets, lengths), want)
    assert_same_result(fast.decode(data, offsets, lengths), want)
    assert fast._plans, "the fast path was not taken"
    assert not generic._plans
    return want


def _cut(
    packets: list[bytes], cuts: dict[int, int], gap: int = 0
) -> tuple[bytes, NDArray[np.int64], NDArray[np.int64]]:
    """Packets laid out with ``gap`` bytes between them; packet ``i`` cut to ``cuts[i]`` bytes."""
    parts: list[bytes] = []
    offsets: list[int] = []
    lengths: list[int] = []
    at = 0
    for i, p in enumerate(packets):
        body = p[: cuts[i]] if i in cuts else p
        offsets.append(at)
        lengths.append(len(body))
        parts.append(body + b"\xa5" * gap)
        at += len(body) + gap
    return b"".join(parts), np.array(offsets, np.int64), np.array(lengths, np.int64)


@pytest.fixture(scope="module")
def perftest2() -> tuple[MissionDatabase, list[bytes]]:
    ingest = _ingest()
    return ingest.build_mdb(), ingest.make_packets()


def test_perftest2_equal_lengths(perftest2: tuple[MissionDatabase, list[bytes]]) -> None:
    """benchmarks/ingest.py load: 400 packets of random types, one 1,492-byte layout."""
    mdb, packets = perftest2
    rng = np.random.default_rng(7)
    batch = [packets[k] for k in rng.integers(0, len(packets), 400)]
    data, offs, lens = _cut(batch, {})
    res = _both(mdb, data, offs, lens)
    assert res.n_decoded == 400
    assert res.failed_counts() == {}


@pytest.mark.parametrize("gap", [0, 3])
def test_perftest2_mixed_lengths_and_truncated(
    perftest2: tuple[MissionDatabase, list[bytes]], gap: int
) -> None:
    """Truncated packets (inside the header, on a field boundary, inside a field, one byte
    short) among whole ones; with a gap the byte matrix is gathered, not a view."""
    mdb, packets = perftest2
    rng = np.random.default_rng(8)
    batch = [packets[k] for k in rng.integers(0, len(packets), 120)]
    cuts = {3: 5, 10: 16, 11: 16, 20: 18, 21: 18, 30: 745, 40: 1000, 41: 1000, 50: 1491}
    data, offs, lens = _cut(batch, cuts, gap)
    res = _both(mdb, data, offs, lens)
    assert res.failed_counts() == {"too_short": len(cuts)}
    assert res.n_decoded == 120 - len(cuts)


def test_perftest2_overlong_packets(perftest2: tuple[MissionDatabase, list[bytes]]) -> None:
    """Packets whose length runs into their neighbours (a damaged length field), by 1 byte
    to several packets: the same excess by reason with and without the fast path."""
    mdb, packets = perftest2
    rng = np.random.default_rng(9)
    batch = [packets[k] for k in rng.integers(0, len(packets), 60)]
    data = b"".join(batch)
    lens = np.array([len(p) for p in batch], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    longer = {2: 1, 7: 1, 15: int(lens[16]), 30: int(lens[31:34].sum())}
    for k, extra in longer.items():
        lens[k] += extra
    res = _both(mdb, data, offs, lens)
    assert res.failed_counts() == {}
    assert res.excess_counts() == {"excess_bytes": 2, "oversize": 2}
    assert res.excess["oversize"].tolist() == [15, 30]


def _encodings_mdb() -> MissionDatabase:
    """Every simple encoding the fast path reads and neighbours it must leave to the generic
    path (sign-magnitude, one's complement, 12-bit, MIL-STD-1750A, unaligned, byte orders that
    are neither big- nor little-endian), with calibrators, alarms and an enumeration."""
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    le2, le4, le8 = (0, 1), (0, 1, 2, 3), tuple(range(8))
    alarm = NumericAlarm(AlarmRanges(warning=Range(-1000.0, 1000.0)))
    fields = [
        b.uint("U8", 8),
        b.param("I16", IntegerType("I16_T", IntegerEncoding(16, "twosComplement"))),
        b.param("I8", IntegerType("I8_T", IntegerEncoding(8, "twosComplement"), alarm=alarm)),
        b.uint("U32LE", 32, byte_order=le4),
        b.uint("U16BE", 16, byte_order=(1, 0)),
        b.param("I64LE", IntegerType("I64LE_T", IntegerEncoding(64, "twosComplement", le8))),
        b.param("U64", IntegerType("U64_T", IntegerEncoding(64), signed=False)),
        b.param("F32", FloatType("F32_T", FloatEncoding(32), alarm=alarm)),
        b.param("F64LE", FloatType("F64LE_T", FloatEncoding(64, byte_order=le8))),
        b.param("F16", FloatType("F16_T", FloatEncoding(16))),
        b.param(
            "CAL",
            IntegerType("CAL_T", IntegerEncoding(16), calibrator=PolynomialCalibrator((1, 2))),
        ),
        b.param("FINT", FloatType("FINT_T", IntegerEncoding(16, byte_order=le2))),
        b.param(
            "ENUM",
            EnumeratedType("ENUM_T", IntegerEncoding(8), (EnumValue(0, "OFF"), EnumValue(1, "ON"))),
        ),
        b.param("SM16", IntegerType("SM16_T", IntegerEncoding(16, "signMagnitude"))),
        b.param("OC8", IntegerType("OC8_T", IntegerEncoding(8, "onesComplement"))),
        b.uint("U12", 12),
        b.uint("U4", 4),
        b.uint("U32", 32),  # after U12 + U4: aligned again
        b.param("MIL", FloatType("MIL_T", FloatEncoding(32, "MILSTD_1750A"))),
        b.uint("ODD32", 32, byte_order=(1, 0, 3, 2)),
        b.uint("U3", 3),
        b.uint("U16X", 16),  # unaligned: generic
        b.uint("U5", 5),
        b.param("F32B", FloatType("F32B_T", FloatEncoding(32))),
        b.uint("U8B", 8),
    ]
    b.container(
        "Packet", tuple(ParameterEntry(f) for f in fields), base=hdr, restriction=apid_is(5)
    )
    return b.build()


def test_encodings_random_bytes() -> None:
    """Random bodies (NaNs and infinities included) behind a valid header, some truncated."""
    mdb = _encodings_mdb()
    rng = np.random.default_rng(9)
    # the field sizes of _encodings_mdb in bytes (U12 + U4 and U3 + U16X + U5 share bytes)
    body_bytes = (
        1 + 2 + 1 + 4 + 2 + 8 + 8 + 4 + 8 + 2 + 2 + 2 + 1 + 2 + 1 + 2 + 4 + 4 + 4 + 3 + 4 + 1
    )
    packets = []
    for _ in range(300):
        header = bytes([0x08, 0x05, 0xC0, 0x00]) + (body_bytes - 1).to_bytes(2, "big")
        packets.append(header + rng.integers(0, 256, body_bytes, dtype=np.uint8).tobytes())
    cuts = {1: 7, 2: 20, 3: 33, 4: 34, 5: 6 + 40, 6: 6 + 50, 7: 6 + body_bytes - 1}
    data, offs, lens = _cut(packets, cuts)
    res = _both(mdb, data, offs, lens)
    assert res.failed_counts() == {"too_short": len(cuts)}
    assert res.alarms, "the alarm ranges were not exercised"
    assert np.isnan(res.container("Packet").column("F16").raw).any(), "no NaN was read"


def test_jpss_xtce_file(testdata: Path) -> None:
    """JPSS-1 geolocation, 7,200 packets of 71 bytes, with the published XTCE."""
    mdb = load(testdata / SPP / "jpss" / "jpss1_geolocation_xtce_v1.xml")
    data = (testdata / SPP / "jpss" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()
    split = split_packets(data)
    res = _both(mdb, data, split.offsets, split.lengths)
    assert res.n_decoded == 7200
    # a batch with every 7th packet cut short at a different place
    lens = split.lengths.copy()
    lens[::7] -= 1 + 7 * (np.arange(lens[::7].size) % 9)
    res = _both(mdb, data, split.offsets, lens)
    assert res.failed_counts()["too_short"] > 0


def test_ctim_xtce_file(testdata: Path) -> None:
    """CTIM: 1,499 packets of many APIDs and lengths from root CCSDSTelemetryPacket."""
    mdb = load(testdata / SPP / "ctim" / "ctim_xtce_v1.xml")
    data = (testdata / SPP / "ctim" / "ccsds_2021_155_14_39_51").read_bytes()
    split = split_packets(data)
    res = _both(mdb, data, split.offsets, split.lengths, root="CCSDSTelemetryPacket")
    assert res.n_packets == 1499
    lens = split.lengths.copy()
    lens[::5] -= 3
    _both(mdb, data, split.offsets, lens, root="CCSDSTelemetryPacket")
