"""CRC-16/CCITT-FALSE against published check values and Python's binascii.crc_hqx."""

from __future__ import annotations

import binascii

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from falak.ccsds.crc import check_packet_crc, crc16_ccitt, crc16_ccitt_batch
from falak.ccsds.spacepacket import encode_packet, split_packets
from falak.errors import InputError


def test_catalogue_check_value() -> None:
    # CRC catalogue (Greg Cook), CRC-16/IBM-3740 aka CRC-16/CCITT-FALSE: check = 0x29B1
    assert crc16_ccitt(b"123456789") == 0x29B1


@pytest.mark.parametrize(
    ("hex_bytes", "expected"),
    [
        # ECSS-E-ST-70-41C annex B.1 (PUS-C) verification table for the packet CRC
        ("0000", 0x1D0F),
        ("000000", 0xCC9C),
        ("abcdef01", 0x04A2),
        ("1456f89a0001", 0x7FD5),
    ],
)
def test_ecss_verification_table(hex_bytes: str, expected: int) -> None:
    assert crc16_ccitt(bytes.fromhex(hex_bytes)) == expected


def test_empty_input_is_the_preset() -> None:
    assert crc16_ccitt(b"") == 0xFFFF
    assert crc16_ccitt(b"", init=0x1234) == 0x1234


@given(data=st.binary(max_size=500), init=st.integers(0, 0xFFFF))
def test_matches_binascii_crc_hqx(data: bytes, init: int) -> None:
    # binascii.crc_hqx is the same CRC (poly 0x1021, MSB first, no reflection, no xorout)
    assert crc16_ccitt(data, init) == binascii.crc_hqx(data, init)
    assert crc16_ccitt(np.frombuffer(data, dtype=np.uint8), init) == binascii.crc_hqx(data, init)


@given(a=st.binary(max_size=100), b=st.binary(max_size=100))
def test_continues_over_pieces(a: bytes, b: bytes) -> None:
    assert crc16_ccitt(b, crc16_ccitt(a)) == crc16_ccitt(a + b)


@given(chunks=st.lists(st.binary(max_size=80), max_size=30))
def test_batch_matches_scalar(chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    lengths = np.array([len(c) for c in chunks], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    out = crc16_ccitt_batch(data, offsets, lengths)
    assert out.dtype == np.uint16
    assert out.tolist() == [binascii.crc_hqx(c, 0xFFFF) for c in chunks]


def _with_crc(apid: int, body: bytes) -> bytes:
    # the CRC field is part of the data field; it covers the header and the body before it
    pkt = encode_packet(apid, body + b"\x00\x00")
    crc = crc16_ccitt(pkt[:-2])
    return pkt[:-2] + crc.to_bytes(2, "big")


def test_check_packet_crc_on_split_packets() -> None:
    stream = b"".join(_with_crc(9, bytes([k]) * (k + 1)) for k in range(20))
    res = split_packets(stream)
    assert res.n_packets == 20
    ok = check_packet_crc(res.data, res.offsets, res.lengths)  # type: ignore[arg-type]
    assert ok.all()
    damaged = bytearray(stream)
    damaged[int(res.offsets[7]) + 7] ^= 0x10  # one bit flipped in packet 7's data field
    ok = check_packet_crc(bytes(damaged), res.offsets, res.lengths)
    assert np.flatnonzero(~ok).tolist() == [7]


def test_short_packets_fail_and_bad_ranges_raise() -> None:
    ok = check_packet_crc(b"\x01\x02\x03", np.array([0, 0]), np.array([2, 0]))
    assert ok.tolist() == [False, False]
    with pytest.raises(InputError, match=r"must lie inside the data \(0\.\.3\)"):
        crc16_ccitt_batch(b"abc", np.array([2]), np.array([5]))
    with pytest.raises(InputError, match="one shape"):
        crc16_ccitt_batch(b"abc", np.array([0, 1]), np.array([1]))
    with pytest.raises(InputError, match=r"CRC init must be within 0\.\.0xFFFF"):
        crc16_ccitt(b"abc", init=0x10000)
