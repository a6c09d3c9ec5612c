"""Packets longer than their container are decoded and reported by reason (issue 12).

A packet whose container ends one or more whole bytes before the packet does is a warning,
counted in ``DecodeResult.excess`` apart from the failures: ``excess_bytes`` when fewer bytes
follow the container than it holds (an MDB that leaves spare bytes undescribed), ``oversize``
when at least as many follow (a damaged length field swallowing the packets after it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from falak.mdb import load
from falak.mdb.model import IntegerEncoding, IntegerType, MissionDatabase, ParameterEntry
from falak.tm.decoder import EXCESS_REASONS, Decoder, decode_stream

from .mdbs import Builder, apid_is

SPP = "space_packet_parser"
JPSS = f"{SPP}/jpss/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
JPSS_PACKET_BYTES = 71  # jpss/TRUTH.md: 7,200 packets of 71 bytes


def test_reasons_are_named() -> None:
    assert EXCESS_REASONS == ("excess_bytes", "oversize")


def test_damaged_length_packet_is_reported_as_oversize(testdata: Path) -> None:
    """Issue 12: bytes 4-5 of JPSS packet 644 set to FF FF make a 65,542-byte packet (6-byte
    header + 65,535 + 1 data bytes, CCSDS 133.0-B-2 §4.1.3.5). Its first 71 bytes are still
    packet 644, decoded as before, and it is reported, not passed as a normal packet."""
    good = (testdata / JPSS).read_bytes()
    bad = bytearray(good)
    at = 644 * JPSS_PACKET_BYTES
    bad[at + 4 : at + 6] = b"\xff\xff"
    mdb = load(testdata / SPP / "jpss" / "jpss1_geolocation_xtce_v1.xml")
    offsets = [643 * JPSS_PACKET_BYTES, at, 0]
    lengths = [JPSS_PACKET_BYTES, 65_542, JPSS_PACKET_BYTES]
    res = Decoder(mdb).decode(bytes(bad), offsets, lengths)
    assert res.n_decoded == 3
    assert res.failed_counts() == {}
    assert res.excess_counts() == {"oversize": 1}
    assert res.excess["oversize"].tolist() == [1]
    assert res.excess_bytes == {"oversize": 65_542 - JPSS_PACKET_BYTES}
    (c,) = res.containers
    assert (c.trailing_bits // 8).tolist() == [0, 65_542 - JPSS_PACKET_BYTES, 0]
    want = Decoder(mdb).decode(good, [at], [JPSS_PACKET_BYTES]).containers[0]
    for key, col in want.columns.items():
        if not key.endswith("PKT_LEN"):
            assert c.columns[key].raw[1] == col.raw[0], key
    assert c.column("PKT_LEN").raw[1] == 0xFFFF


def test_ctim_spare_bytes_are_excess_bytes_warnings(testdata: Path) -> None:
    """ctim/TRUTH.md: the 104 APID 1 packets (114 bytes) leave 11 bits after their container
    (one whole byte and 3 padding bits) and one 46-byte APID 20 packet leaves 128 bits (16
    bytes; its container holds 30): 105 real packets, decoded, counted as warnings."""
    mdb = load(testdata / SPP / "ctim" / "ctim_xtce_v1.xml")
    data = (testdata / SPP / "ctim" / "ccsds_2021_155_14_39_51").read_bytes()
    res, _ = decode_stream(mdb, data, root="CCSDSTelemetryPacket")
    assert res.failed_counts() == {}
    assert res.n_decoded == 1499
    assert res.excess_counts() == {"excess_bytes": 105}
    assert res.excess_bytes == {"excess_bytes": 104 * 1 + 16}
    apid1 = res.container("APID_1_Packet")
    assert np.isin(apid1.packet_index, res.excess["excess_bytes"]).all()


def _eight_bit_mdb() -> MissionDatabase:
    """A header with a container of 6 + 5 bytes (APID 100) and one of 6 bytes + 13 bits."""
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    body = tuple(ParameterEntry(b.uint(f"B{i}", 8)) for i in range(5))
    b.container("Five", body, base=hdr, restriction=apid_is(100))
    odd = IntegerType("ODD_T", IntegerEncoding(13), signed=False)
    b.container("Odd", (ParameterEntry(b.param("ODD", odd)),), base=hdr, restriction=apid_is(101))
    return b.build()


def _packet(apid: int, data_bytes: int) -> bytes:
    header = apid.to_bytes(2, "big") + b"\xc0\x00" + (data_bytes - 1).to_bytes(2, "big")
    return header + bytes(range(1, data_bytes + 1))


def test_padding_bits_are_not_excess_and_the_threshold() -> None:
    """Bits short of a byte are octet padding; ``oversize`` from as many bytes after the
    container as in it (11-byte container: 11 extra bytes)."""
    mdb = _eight_bit_mdb()
    packets = [
        _packet(100, 5),  # exactly its container
        _packet(100, 6),  # 1 byte after
        _packet(100, 15),  # 10 bytes after an 11-byte container
        _packet(100, 16),  # 11 bytes after: at least as many as in it
        _packet(101, 2),  # 48 + 13 = 61 bits in 8 bytes: 3 padding bits
        _packet(101, 3),  # 11 bits after: a whole byte and 3 padding bits
        _packet(300, 40),  # no container: a failure, not excess
    ]
    lengths = np.array([len(p) for p in packets])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    res = Decoder(mdb).decode(b"".join(packets), offsets, lengths)
    assert res.failed_counts() == {"no_container": 1}
    assert res.excess_counts() == {"excess_bytes": 3, "oversize": 1}
    assert res.excess["excess_bytes"].tolist() == [1, 2, 5]
    assert res.excess["oversize"].tolist() == [3]
    assert res.excess_bytes == {"excess_bytes": 1 + 10 + 1, "oversize": 11}


def test_no_excess_leaves_empty_counts() -> None:
    mdb = _eight_bit_mdb()
    p = _packet(100, 5)
    res = Decoder(mdb).decode(p, [0], [len(p)])
    assert res.excess == {}
    assert res.excess_counts() == {}
    assert res.excess_bytes == {}


@given(extra=st.lists(st.integers(0, 40), min_size=1, max_size=30))
def test_excess_by_reason_for_any_lengths(extra: list[int]) -> None:
    """Packets of the 11-byte container with 0..40 bytes more: ``excess_bytes`` for 1..10,
    ``oversize`` from 11; every packet decoded, whatever the mix, fast path or not."""
    mdb = _eight_bit_mdb()
    packets = [_packet(100, 5 + k) for k in extra]
    lengths = np.array([len(p) for p in packets])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    data = b"".join(packets)
    res = Decoder(mdb).decode(data, offsets, lengths)
    generic = Decoder(mdb, fast_path=False).decode(data, offsets, lengths)
    assert res.n_decoded == len(extra)
    assert res.failed_counts() == {}
    ex = np.array(extra)
    want = {
        "excess_bytes": np.flatnonzero((ex >= 1) & (ex < 11)),
        "oversize": np.flatnonzero(ex >= 11),
    }
    for r in (res, generic):
        assert {k: v.tolist() for k, v in r.excess.items()} == {
            k: v.tolist() for k, v in want.items() if v.size
        }
        assert r.excess_bytes == {k: int(ex[v].sum()) for k, v in want.items() if v.size}
