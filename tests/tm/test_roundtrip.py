"""Property tests: decode(encode(x)) == x for every encoding, and garbage never crashes."""

from __future__ import annotations

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
        b.types[f"{name}_T"] = type(ptype)(
            f"{name}_T",
            **{k: getattr(ptype, k) for k in ("encoding",)},
            **({"signed": ptype.signed} if isinstance(ptype, IntegerType) else {}),
            **({"size_bits": ptype.size_bits} if isinstance(ptype, FloatType) else {}),
        )
        b.params[name] = __import__("falak.mdb.model", fromlist=["Parameter"]).Parameter(
            name, f"/T/{name}", f"/T/{name}_T"
        )
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
def test_garbage_never_crashes_split_and_decode(garbage: bytes, lenient: bool) -> None:
    """Random bytes: every byte is in a packet or a skipped range, and decoding counts
    whatever fails instead of raising."""
    from pathlib import Path

    from tests.conftest import TESTDATA

    mdb = from_ccsdspy_csv(Path(TESTDATA) / JPSS_CSV, apid=11)
    split = split_packets(garbage, lenient_version=lenient)
    covered = int(split.lengths.sum()) + sum(r.stop - r.start for r in split.skipped)
    assert covered == len(garbage)
    res = Decoder(mdb).decode(garbage, split.offsets, split.lengths)
    assert res.n_decoded + sum(res.failed_counts().values()) == split.n_packets
