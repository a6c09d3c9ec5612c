"""Property tests: decode(encode(x)) == x for every encoding, and garbage never crashes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from falak.ccsds.spacepacket import split_packets
from falak.mdb.model import (
    BinaryEncoding,
    BinaryType,
    FixedValueEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    ParameterEntry,
    StringEncoding,
    StringType,
)
from falak.tm.decoder import Decoder
from falak.tm.encoder import ContainerEncoder

from .mdbs import Builder, from_ccsdspy_csv


@st.composite
def int_field(draw: st.DrawFn) -> tuple[object, st.SearchStrategy[object]]:
    kind = draw(st.sampled_from(["unsigned", "twosComplement", "signMagnitude", "onesComplement"]))
    size = draw(st.integers(1 if kind == "unsigned" else 2, 64))
    order = None
    if size % 8 == 0 and size >= 16 and draw(st.booleans()):
        order = tuple(draw(st.permutations(range(size // 8))))
    enc = IntegerEncoding(size, kind, order)
    if kind == "unsigned":
        values = st.integers(0, (1 << size) - 1)
    elif kind == "twosComplement":
        values = st.integers(-(1 << (size - 1)), (1 << (size - 1)) - 1)
    else:
        values = st.integers(-((1 << (size - 1)) - 1), (1 << (size - 1)) - 1)
    return IntegerType("T", enc, signed=kind != "unsigned"), values


@st.composite
def float_field(draw: st.DrawFn) -> tuple[object, st.SearchStrategy[object]]:
    size = draw(st.sampled_from([16, 32, 64]))
    order = tuple(range(size // 8)) if draw(st.booleans()) else None  # little-endian
    values = st.floats(width=size, allow_nan=False)
    return FloatType("T", FloatEncoding(size, byte_order=order), size_bits=size), values


@st.composite
def text_field(draw: st.DrawFn) -> tuple[object, st.SearchStrategy[object]]:
    form = draw(st.sampled_from(["fixed", "leading", "terminated"]))
    alphabet = st.characters(min_codepoint=32, max_codepoint=126)
    if form == "fixed":
        n = draw(st.integers(1, 12))
        enc = StringEncoding(fixed_size_bits=8 * n, terminator=b"\0")
        return StringType("T", enc), st.text(alphabet, max_size=n)
    if form == "leading":
        bits = draw(st.sampled_from([8, 16]))
        return StringType("T", StringEncoding(leading_size_bits=bits)), st.text(
            alphabet, max_size=40
        )
    return StringType("T", StringEncoding(terminator=b"\0")), st.text(alphabet, max_size=40)


@st.composite
def blob_field(draw: st.DrawFn) -> tuple[object, st.SearchStrategy[object]]:
    if draw(st.booleans()):
        n = draw(st.integers(1, 16))
        return BinaryType("T", BinaryEncoding(fixed_size_bits=8 * n)), st.binary(
            min_size=n, max_size=n
        )
    return BinaryType("T", BinaryEncoding(leading_size_bits=16)), st.binary(max_size=64)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_decode_of_encode_is_identity(data: st.DataObject) -> None:
    """Random layouts of every encoding, several packets of random values each."""
    fields = data.draw(
        st.lists(
            st.one_of(int_field(), float_field(), text_field(), blob_field()),
            min_size=1,
            max_size=8,
        )
    )
    b = Builder()
    entries: list[object] = []
    bits = 0
    for i, (ptype, _) in enumerate(fields):
        if isinstance(ptype, StringType | BinaryType) and bits % 8:
            entries.append(FixedValueEntry(8 - bits % 8))  # strings start on a byte boundary
            bits += 8 - bits % 8
        name = f"F{i}"
        b.param(name, dataclasses.replace(ptype, name=f"{name}_T"))
        entries.append(ParameterEntry(f"/T/{name}"))
        enc = ptype.encoding
        bits += (
            getattr(enc, "size_bits", 8) if isinstance(enc, IntegerEncoding | FloatEncoding) else 8
        )
    b.container("P", tuple(entries))
    mdb = b.build()
    n_packets = data.draw(st.integers(1, 5))
    packets = [
        {f"F{i}": data.draw(values) for i, (_, values) in enumerate(fields)}
        for _ in range(n_packets)
    ]
    enc = ContainerEncoder(mdb)
    blobs = [enc.encode("P", p) for p in packets]
    buf = b"".join(blobs)
    lengths = np.array([len(x) for x in blobs])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    res = Decoder(mdb, "P").decode(buf, offsets, lengths)
    assert res.failed_counts() == {}
    cols = res.container("P")
    assert cols.packet_index.tolist() == list(range(n_packets))
    for i, (ptype, _) in enumerate(fields):
        col = cols.column(f"F{i}")
        got = col.eng if isinstance(ptype, StringType) else col.raw
        for k, p in enumerate(packets):
            want = p[f"F{i}"]
            if isinstance(ptype, FloatType):
                assert np.array_equal(np.asarray(got[k], dtype=np.float64), np.float64(want)), (
                    k,
                    i,
                )
            else:
                assert got[k] == want, (k, i, got[k], want)


JPSS_CSV = "space_packet_parser/jpss/ccsdspy_jpss1_geolocation.csv"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.booleans())
def test_garbage_never_crashes_split_and_decode(
    testdata: Path, garbage: bytes, lenient: bool
) -> None:
    """Random bytes: every byte is in a packet or a skipped range, and decoding counts
    whatever fails instead of raising."""
    mdb = from_ccsdspy_csv(testdata / JPSS_CSV, apid=11)
    split = split_packets(garbage, lenient_version=lenient)
    covered = int(split.lengths.sum()) + sum(r.stop - r.start for r in split.skipped)
    assert covered == len(garbage)
    res = Decoder(mdb).decode(garbage, split.offsets, split.lengths)
    assert res.n_decoded + sum(res.failed_counts().values()) == split.n_packets


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, 7]),  # enumeration codes
            st.booleans(),
            st.integers(0, 2**32 - 1),  # CUC coarse seconds
            st.integers(0, 2**16 - 1),  # CUC fine (1/65536 s)
            st.integers(0, 65535),  # CDS day
            st.integers(0, 86_399_999),  # CDS ms of day
            st.integers(-2048, 2047),  # aggregate member a (int12)
            st.floats(width=32, allow_nan=False),  # aggregate member b
            st.lists(st.integers(0, 255), min_size=3, max_size=3),  # fixed array
            st.lists(st.integers(-(2**15), 2**15 - 1), max_size=6),  # counted array
        ),
        min_size=1,
        max_size=6,
    )
)
def test_structured_types_round_trip(rows: list[tuple]) -> None:
    """Enumerations, booleans, CCSDS CUC and CDS times, aggregates, fixed and counted arrays."""
    from falak.mdb.model import (
        AbsoluteTimeType,
        AggregateType,
        ArrayType,
        BooleanType,
        CdsTimeCode,
        CucTimeCode,
        Dimension,
        DynamicValue,
        EnumeratedType,
        EnumValue,
        Member,
        ParameterRef,
    )

    b = Builder()
    labels = (EnumValue(0, "OFF"), EnumValue(1, "ON"), EnumValue(2, "AUTO"), EnumValue(7, "FAULT"))
    b.param("MODE", EnumeratedType("MODE_T", IntegerEncoding(3), values=labels))
    b.param("FLAG", BooleanType("FLAG_T", IntegerEncoding(1)))
    b.param("PAD", IntegerType("PAD_T", IntegerEncoding(4), signed=False))
    b.param("CUC", AbsoluteTimeType("CUC_T", timecode=CucTimeCode(4, 2)))
    b.param("CDS", AbsoluteTimeType("CDS_T", timecode=CdsTimeCode(2, 0)))
    b.types["A_T"] = IntegerType("A_T", IntegerEncoding(12, "twosComplement"))
    b.types["B_T"] = FloatType("B_T", FloatEncoding(32), size_bits=32)
    agg = AggregateType("AGG_T", (Member("a", "/T/A_T"), Member("b", "/T/B_T")))
    b.param("AGG", agg)
    b.types["U8_T"] = IntegerType("U8_T", IntegerEncoding(8), signed=False)
    b.types["I16_T"] = IntegerType("I16_T", IntegerEncoding(16, "twosComplement"))
    b.param("FIX", ArrayType("FIX_T", "/T/U8_T", (Dimension(size=3),)))
    b.param("N", IntegerType("N_T", IntegerEncoding(8), signed=False))
    count = DynamicValue(ParameterRef("/T/N", calibrated=False))
    b.param("VAR", ArrayType("VAR_T", "/T/I16_T", (Dimension(dynamic_size=count),)))
    names = ("MODE", "FLAG", "PAD", "CUC", "CDS", "AGG", "FIX", "N", "VAR")
    b.container("P", tuple(ParameterEntry(f"/T/{n}") for n in names))
    mdb = b.build()
    enc = ContainerEncoder(mdb)
    packets = []
    for mode, flag, coarse, fine, day, ms, a, bb, fix, var in rows:
        values = {
            "MODE": mode,
            "FLAG": int(flag),
            "PAD": 0,
            "CUC": coarse + fine / 65536,
            "CDS": day * 86400 + ms / 1000,
            "AGG": {"a": a, "b": bb},
            "FIX": fix,
            "N": len(var),
            "VAR": var,
        }
        packets.append(enc.encode("P", values))
    lengths = np.array([len(p) for p in packets])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    res = Decoder(mdb, "P").decode(b"".join(packets), offsets, lengths)
    assert res.failed_counts() == {}
    c = res.container("P")
    for k, (mode, flag, coarse, fine, day, ms, a, bb, fix, var) in enumerate(rows):
        assert c.column("MODE").raw[k] == mode
        assert c.column("MODE").eng[k] == {0: "OFF", 1: "ON", 2: "AUTO", 7: "FAULT"}[mode]
        assert bool(c.column("FLAG").eng[k]) is flag
        assert c.column("CUC").raw[k] == coarse + fine / 65536
        assert c.column("CDS").raw[k] == day * 86400 + ms / 1000
        assert c.column("AGG.a").raw[k] == a
        assert c.column("AGG.b").raw[k] == np.float32(bb)
        assert c.column("FIX").raw[k].tolist() == fix
        assert list(c.column("VAR").raw[k]) == var
