"""CFDP PDU codecs (CCSDS 727.0-B-5 §5): round trips, garbage, a golden PDU, spacepackets' view.

Independent reference: spacepackets 0.32 (``spacepackets.cfdp.pdu``), the PDU codecs cfdp-py
is built on; falak did not write them.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spacepackets.cfdp import (
    ChecksumType as SpChecksum,
)
from spacepackets.cfdp import (
    ConditionCode,
    Direction,
    LargeFileFlag,
    PduConfig,
    TransmissionMode,
)
from spacepackets.cfdp.pdu import (
    AckPdu,
    DirectiveType,
    EofPdu,
    FileDataPdu,
    MetadataParams,
    MetadataPdu,
    NakPdu,
    PduFactory,
)
from spacepackets.cfdp.pdu import TransactionStatus as SpTransactionStatus
from spacepackets.cfdp.pdu.file_data import FileDataParams
from spacepackets.util import ByteFieldU8, ByteFieldU16, ByteFieldU32

from falak.cfdp import Entity, checksum, decode_pdu, encode_pdu, unwrap, wrap
from falak.cfdp.pdu import (
    Ack,
    ChecksumType,
    Condition,
    Directive,
    Eof,
    FileData,
    Finished,
    Header,
    KeepAlive,
    Metadata,
    Nak,
    Prompt,
)
from falak.errors import DecodeError, EncodeError

# ---------------------------------------------------------------- golden PDU

# Metadata PDU, class 2, source entity 1 -> destination entity 2, transaction 5, file of 1100
# octets "a.bin" -> "b.bin", closure not requested, modular checksum. Field by field
# (727.0-B-5 §5.1 fixed header, §5.2.5 Metadata):
GOLDEN_METADATA = bytes.fromhex(
    "20"  # version 001, type 0 (directive), toward receiver, acknowledged, no CRC, small file
    "0012"  # data field length 18 = directive 1 + flags 1 + file size 4 + LV 6 + LV 6
    "01"  # no segmentation, entity IDs 1 octet (000), no segment metadata, seq 2 octets (001)
    "01"  # source entity ID 1
    "0005"  # transaction sequence number 5
    "02"  # destination entity ID 2
    "07"  # directive code Metadata (table 5-4)
    "00"  # reserved 0, closure requested 0, reserved 00, checksum type 0 (modular)
    "0000044c"  # file size 1100
    "05612e62696e"  # source file name LV: 5, "a.bin"
    "05622e62696e"  # destination file name LV: 5, "b.bin"
)


def test_golden_metadata_decodes_to_its_truth_table_and_spacepackets_agrees() -> None:
    golden = GOLDEN_METADATA
    assert int.from_bytes(golden[1:3], "big") == len(golden) - 8  # 4 + 1 + 2 + 1 header octets
    pdu = decode_pdu(golden)
    assert pdu == Metadata(
        Header(source_id=1, seq=5, dest_id=2, id_octets=1, seq_octets=2),
        file_size=1100,
        source_name=b"a.bin",
        dest_name=b"b.bin",
        checksum_type=ChecksumType.MODULAR,
        closure_requested=False,
    )
    assert encode_pdu(pdu) == golden
    conf = PduConfig(
        source_entity_id=ByteFieldU8(1),
        dest_entity_id=ByteFieldU8(2),
        transaction_seq_num=ByteFieldU16(5),
        trans_mode=TransmissionMode.ACKNOWLEDGED,
    )
    theirs = MetadataPdu(conf, MetadataParams(False, SpChecksum.MODULAR, 1100, "a.bin", "b.bin"))
    assert bytes(theirs.pack()) == golden


# ---------------------------------------------------------------- round trips

ids = st.integers(0, 2**16 - 1)
seqs = st.integers(0, 2**32 - 1)
sizes_small = st.integers(0, 2**32 - 1)


@st.composite
def headers(draw: st.DrawFn, *, toward_sender: bool | None = None) -> Header:
    src, dst = draw(ids), draw(ids)
    need = max(1, (max(src, dst).bit_length() + 7) // 8)
    return Header(
        source_id=src,
        seq=draw(seqs),
        dest_id=dst,
        toward_sender=draw(st.booleans()) if toward_sender is None else toward_sender,
        acknowledged=draw(st.booleans()),
        crc=draw(st.booleans()),
        large_file=draw(st.booleans()),
        id_octets=draw(st.integers(need, 8)),
        seq_octets=draw(st.integers(4, 8)),
    )


names = st.binary(max_size=40)
ranges = st.tuples(sizes_small, sizes_small)
conditions = st.sampled_from(list(Condition))
pdus = st.one_of(
    st.builds(
        Metadata,
        headers(),
        sizes_small,
        names,
        names,
        st.sampled_from([0, 1, 2, 3, 15]),
        st.booleans(),
        st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=20)), max_size=3).map(tuple),
    ),
    st.builds(FileData, headers(), sizes_small, st.binary(max_size=300)),
    st.builds(
        Eof,
        headers(),
        st.integers(0, 2**32 - 1),
        sizes_small,
        conditions,
        st.none() | st.binary(min_size=1, max_size=8),
    ),
    st.builds(
        Finished,
        headers(),
        conditions,
        st.integers(0, 1),
        st.integers(0, 3),
        st.just(()),
        st.none() | st.binary(min_size=1, max_size=8),
    ),
    st.builds(
        Ack,
        headers(),
        st.sampled_from([Directive.EOF, Directive.FINISHED]),
        st.integers(0, 1),
        conditions,
        st.integers(0, 3),
    ),
    st.builds(Nak, headers(), sizes_small, sizes_small, st.lists(ranges, max_size=10).map(tuple)),
    st.builds(Prompt, headers(), st.booleans()),
    st.builds(KeepAlive, headers(), sizes_small),
)


@settings(max_examples=400, deadline=None)
@given(pdus)
def test_decode_of_encode_is_identity(pdu: object) -> None:
    raw = encode_pdu(pdu)  # type: ignore[arg-type]
    assert decode_pdu(raw) == pdu


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_raises_decode_error_or_decodes_never_crashes(raw: bytes) -> None:
    try:
        pdu = decode_pdu(raw)
    except DecodeError:
        return
    assert encode_pdu(pdu)  # whatever decodes re-encodes


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=60),
            pdus.map(encode_pdu),  # valid PDUs of any transaction, some for entity 2
            pdus.map(encode_pdu).map(lambda b: b[:-1]),
        ),
        max_size=20,
    ),
    st.integers(0, 2),
)
def test_an_entity_counts_garbage_and_keeps_running(stream: list[bytes], me: int) -> None:
    sent: list[bytes] = []
    e = Entity(me, sent.append, now=lambda: 0.0)
    for raw in stream:
        e.receive(raw)
    e.tick()
    undecodable = 0
    for raw in stream:
        try:
            decode_pdu(raw)
        except DecodeError:
            undecodable += 1
    assert e.rejected["decode"] == undecodable
    assert e.pdus_received == len(stream) - undecodable


def test_decode_errors_name_the_field_and_the_fix() -> None:
    with pytest.raises(DecodeError, match=r"at least a 4-octet fixed header \(§5.1\), got 2"):
        decode_pdu(b"\x20\x00")
    with pytest.raises(DecodeError, match=r"version field is 000; expected 001"):
        decode_pdu(bytes(8))
    good = encode_pdu(Prompt(Header(1, 2, 3)))
    with pytest.raises(
        DecodeError,
        match=r"^CFDP PDU is 13 octets; its header says 10 \+ data field length 2 = 12 \(§5.1\)$",
    ):
        decode_pdu(good + b"\x00")
    bad_code = good[:-2] + b"\x0a\x00"
    with pytest.raises(DecodeError, match=r"directive code 0x0a is not a CFDP file directive"):
        decode_pdu(bad_code)
    crc = bytearray(encode_pdu(Prompt(Header(1, 2, 3, crc=True))))
    crc[-1] ^= 1
    with pytest.raises(DecodeError, match=r"CFDP PDU CRC is 0x[0-9a-f]{4}, computed"):
        decode_pdu(bytes(crc))


def test_encode_errors_say_what_fits() -> None:
    with pytest.raises(EncodeError, match=r"entity IDs need 2 octets \(1..8\); header says 1"):
        encode_pdu(Prompt(Header(300, 1, 2)))
    with pytest.raises(EncodeError, match=r"needs the large file flag"):
        encode_pdu(KeepAlive(Header(1, 1, 2), 2**32))
    with pytest.raises(EncodeError, match=r"an LV holds at most 255"):
        encode_pdu(Metadata(Header(1, 1, 2), 1, b"x" * 256, b""))


# ---------------------------------------------------------------- spacepackets reads ours


def _conf(large: bool = False) -> PduConfig:
    return PduConfig(
        source_entity_id=ByteFieldU16(7),
        dest_entity_id=ByteFieldU16(300),
        transaction_seq_num=ByteFieldU32(99),
        trans_mode=TransmissionMode.ACKNOWLEDGED,
        file_flag=LargeFileFlag.LARGE if large else LargeFileFlag.NORMAL,
    )


H = Header(source_id=7, seq=99, dest_id=300, id_octets=2, seq_octets=4)


def test_spacepackets_and_falak_encode_the_same_bytes() -> None:
    """Each kind both ways: spacepackets packs, falak decodes; falak encodes, bytes equal."""
    data = bytes(range(200))
    theirs = [
        FileDataPdu(_conf(), FileDataParams(file_data=data, offset=4096)),
        EofPdu(_conf(), file_checksum=0xDEADBEEF, file_size=5000),
        NakPdu(_conf(), 0, 5000, [(0, 0), (1024, 2048)]),
        AckPdu(_conf(), DirectiveType.EOF_PDU, ConditionCode.NO_ERROR, SpTransactionStatus.ACTIVE),
    ]
    ours = [
        FileData(H, 4096, data),
        Eof(H, 0xDEADBEEF, 5000),
        Nak(H, 0, 5000, ((0, 0), (1024, 2048))),
        Ack(H, Directive.EOF, 0, Condition.NO_ERROR, 1),
    ]
    for t, o in zip(theirs, ours, strict=True):
        raw = bytes(t.pack())
        dec = decode_pdu(raw)
        # spacepackets sets the direction bit per PDU kind (NAK/ACK of EOF go to the sender)
        assert dec == type(o)(**{**o.__dict__, "header": dec.header})
        assert dec.header.toward_sender == (t.pdu_header.direction == Direction.TOWARDS_SENDER)
        assert encode_pdu(dec) == raw
        back = PduFactory.from_raw(encode_pdu(dec))
        assert back is not None
        assert bytes(back.pack()) == raw


def test_large_file_fields_are_64_bits_as_spacepackets_has_them() -> None:
    raw = bytes(EofPdu(_conf(large=True), file_checksum=1, file_size=2**40).pack())
    pdu = decode_pdu(raw)
    assert isinstance(pdu, Eof)
    assert pdu.file_size == 2**40
    assert pdu.header.large_file


# ---------------------------------------------------------------- checksums


def test_modular_checksum_by_hand_and_as_cfdp_py_computes_it(tmp_path: Path) -> None:
    from cfdppy.crc import calc_modular_checksum

    # §4.2.2: words at offsets 0 and 4: 0x01020304 + 0x05000000 (the last word zero-padded)
    assert checksum(b"\x01\x02\x03\x04\x05") == 0x06020304
    assert checksum(b"\xff\xff\xff\xff" * 2) == 0xFFFFFFFE  # modulo 2**32
    data = bytes((i * 37) % 251 for i in range(10_007))
    f = tmp_path / "f.bin"
    f.write_bytes(data)
    assert checksum(data) == int.from_bytes(calc_modular_checksum(f), "big")
    assert checksum(data, ChecksumType.CRC32) == zlib.crc32(data)
    assert checksum(data, ChecksumType.NULL) == 0
    with pytest.raises(EncodeError, match=r"checksum type 2 is not implemented: use 0"):
        checksum(data, 2)


# ---------------------------------------------------------------- space packets


def test_wrap_unwrap_round_trip_and_errors() -> None:
    pdu = encode_pdu(FileData(H, 0, b"abc"))
    pkt = wrap(pdu, 610, 16385)
    assert pkt[:2] == bytes([0x02, 0x62])  # version 0, TM, no secondary header, APID 610
    assert int.from_bytes(pkt[2:4], "big") & 0x3FFF == 1  # count modulo 2**14
    assert unwrap(pkt, 610) == pdu
    with pytest.raises(DecodeError, match=r"APID is 610; CFDP expected APID 611"):
        unwrap(pkt, 611)
    with pytest.raises(DecodeError, match=r"its header says 6 \+ "):
        unwrap(pkt[:-1])
    with pytest.raises(DecodeError, match=r"at least 7 octets"):
        unwrap(b"\x00")
