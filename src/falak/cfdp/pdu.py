"""CCSDS 727.0-B-5 CCSDS File Delivery Protocol: Protocol Data Units, encoded and decoded.

Reference: CCSDS 727.0-B-5, *CCSDS File Delivery Protocol (CFDP)*, Blue Book, July 2020.

- §5.1 Fixed PDU header (4 octets + entity IDs + transaction sequence number): version (3 bits,
  ``001`` for this edition), PDU type (0 file directive, 1 file data), direction (0 toward the
  file receiver, 1 toward the file sender), transmission mode (0 acknowledged, 1
  unacknowledged), CRC flag, large file flag; PDU data field length (16 bits, octets);
  segmentation control, length of entity IDs (3 bits, octets minus one), segment metadata flag,
  length of transaction sequence number (3 bits, octets minus one); source entity ID,
  transaction sequence number, destination entity ID. With the CRC flag set, the last two
  octets of the data field are a CRC-16/CCITT of the whole PDU before them (§4.1.1.3.2.2).
- §5.2 File directive PDUs (directive code, table 5-4): EOF 0x04 (§5.2.2), Finished 0x05
  (§5.2.3), ACK 0x06 (§5.2.4), Metadata 0x07 (§5.2.5), NAK 0x08 (§5.2.6), Prompt 0x09
  (§5.2.7), Keep Alive 0x0C (§5.2.8). File-size sensitive fields are 32 bits, 64 with the
  large file flag.
- §5.3 File Data PDU: optional segment metadata (record continuation state, length, octets),
  offset (32/64 bits), file data.
- §5.1.6 condition codes (table 5-5); SANA checksum identifiers for the Metadata checksum type:
  0 modular (§4.2.2), 3 CRC-32 (IEEE 802.3, as ``zlib.crc32``), 15 null.

:func:`decode_pdu` raises :class:`~falak.errors.DecodeError` naming the field and what was
expected; an entity receiving a stream counts those instead (:class:`falak.cfdp.entity.Entity`).
TLVs other than the Fault Location TLV (type 0x06) in EOF/Finished and the options of
Metadata are kept as raw ``(type, value)`` pairs.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from falak.ccsds.crc import crc16_ccitt
from falak.errors import DecodeError, EncodeError

__all__ = [
    "CFDP_VERSION",
    "Ack",
    "ChecksumType",
    "Condition",
    "DeliveryCode",
    "Directive",
    "Eof",
    "FileData",
    "FileStatus",
    "Finished",
    "Header",
    "KeepAlive",
    "Metadata",
    "Nak",
    "Pdu",
    "Prompt",
    "TransactionState",
    "checksum",
    "decode_pdu",
    "encode_pdu",
]

CFDP_VERSION = 1
"""Version field ``001``: CFDP version 2, the protocol of 727.0-B-4 and -B-5 (§5.1, table 5-1)."""


class Directive(IntEnum):
    """File directive codes (§5.2, table 5-4)."""

    EOF = 0x04
    FINISHED = 0x05
    ACK = 0x06
    METADATA = 0x07
    NAK = 0x08
    PROMPT = 0x09
    KEEP_ALIVE = 0x0C


class Condition(IntEnum):
    """Condition codes (§5.1.6, table 5-5)."""

    NO_ERROR = 0
    POSITIVE_ACK_LIMIT_REACHED = 1
    KEEP_ALIVE_LIMIT_REACHED = 2
    INVALID_TRANSMISSION_MODE = 3
    FILESTORE_REJECTION = 4
    FILE_CHECKSUM_FAILURE = 5
    FILE_SIZE_ERROR = 6
    NAK_LIMIT_REACHED = 7
    INACTIVITY_DETECTED = 8
    INVALID_FILE_STRUCTURE = 9
    CHECK_LIMIT_REACHED = 10
    UNSUPPORTED_CHECKSUM_TYPE = 11
    SUSPEND_REQUEST_RECEIVED = 14
    CANCEL_REQUEST_RECEIVED = 15


class ChecksumType(IntEnum):
    """SANA checksum identifiers used in the Metadata PDU (§5.2.5, SANA registry)."""

    MODULAR = 0
    CRC32_PROXIMITY1 = 1
    CRC32C = 2
    CRC32 = 3
    NULL = 15


class DeliveryCode(IntEnum):
    """Finished PDU delivery code (§5.2.3)."""

    COMPLETE = 0
    INCOMPLETE = 1


class FileStatus(IntEnum):
    """Finished PDU file status (§5.2.3)."""

    DISCARDED_DELIBERATELY = 0
    DISCARDED_FILESTORE_REJECTION = 1
    RETAINED = 2
    UNREPORTED = 3


class TransactionState(IntEnum):
    """ACK PDU transaction status (§5.2.4)."""

    UNDEFINED = 0
    ACTIVE = 1
    TERMINATED = 2
    UNRECOGNIZED = 3


_FAULT_LOCATION_TLV = 0x06


@dataclass(frozen=True)
class Header:
    """Fixed PDU header fields (§5.1) except the type and the data field length."""

    source_id: int
    seq: int
    dest_id: int
    toward_sender: bool = False
    acknowledged: bool = True
    crc: bool = False
    large_file: bool = False
    id_octets: int = 1
    seq_octets: int = 4
    segmentation_control: bool = False
    segment_metadata: bool = False


@dataclass(frozen=True)
class Metadata:
    """Metadata PDU (§5.2.5)."""

    header: Header
    file_size: int
    source_name: bytes
    dest_name: bytes
    checksum_type: int = ChecksumType.MODULAR
    closure_requested: bool = False
    options: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True)
class FileData:
    """File Data PDU (§5.3); ``record_state``/``segment_metadata`` with the header's flag."""

    header: Header
    offset: int
    data: bytes
    record_state: int = 0
    segment_metadata: bytes = b""


@dataclass(frozen=True)
class Eof:
    """EOF PDU (§5.2.2)."""

    header: Header
    checksum: int
    file_size: int
    condition: int = Condition.NO_ERROR
    fault_entity: bytes | None = None


@dataclass(frozen=True)
class Finished:
    """Finished PDU (§5.2.3)."""

    header: Header
    condition: int = Condition.NO_ERROR
    delivery: int = DeliveryCode.COMPLETE
    file_status: int = FileStatus.RETAINED
    responses: tuple[tuple[int, bytes], ...] = ()
    fault_entity: bytes | None = None


@dataclass(frozen=True)
class Ack:
    """ACK PDU (§5.2.4): acknowledges an EOF (subtype 0) or a Finished (subtype 1)."""

    header: Header
    directive: int
    subtype: int
    condition: int = Condition.NO_ERROR
    status: int = TransactionState.ACTIVE


@dataclass(frozen=True)
class Nak:
    """NAK PDU (§5.2.6): scope and the missing ``[start, end)`` ranges; ``(0, 0)`` is metadata."""

    header: Header
    start: int
    end: int
    segments: tuple[tuple[int, int], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Prompt:
    """Prompt PDU (§5.2.7): ``keep_alive`` False asks for a NAK, True for a Keep Alive."""

    header: Header
    keep_alive: bool = False


@dataclass(frozen=True)
class KeepAlive:
    """Keep Alive PDU (§5.2.8): the receiver's progress (octets)."""

    header: Header
    progress: int


Pdu = Metadata | FileData | Eof | Finished | Ack | Nak | Prompt | KeepAlive


def checksum(data: bytes | bytearray | memoryview, kind: int = ChecksumType.MODULAR) -> int:
    """Return the file checksum of ``data`` of the given SANA type (0, 3 or 15).

    Modular (§4.2.2): the sum modulo 2**32 of the file as big-endian 32-bit words aligned on
    file offsets that are multiples of 4, the last word padded with zero octets.
    """
    if kind == ChecksumType.MODULAR:
        buf = bytes(data)
        pad = (-len(buf)) % 4
        words = np.frombuffer(buf + b"\0" * pad, dtype=">u4")
        return int(words.sum(dtype=np.uint64) & 0xFFFFFFFF)
    if kind == ChecksumType.CRC32:
        return zlib.crc32(data) & 0xFFFFFFFF
    if kind == ChecksumType.NULL:
        return 0
    raise EncodeError(
        f"checksum type {kind} is not implemented: use 0 (modular), 3 (CRC-32) or 15 (null)"
    )


# ---------------------------------------------------------------- encoding


def _int_octets(value: int, name: str) -> int:
    if value < 0:
        raise EncodeError(f"{name} must be >= 0, got {value}")
    return max(1, (value.bit_length() + 7) // 8)


def _fss(value: int, large: bool) -> bytes:
    if not large and value > 0xFFFFFFFF:
        raise EncodeError(
            f"file offset/size {value} needs the large file flag (Header(large_file=True))"
        )
    return value.to_bytes(8 if large else 4, "big")


def _lv(value: bytes, name: str) -> bytes:
    if len(value) > 255:
        raise EncodeError(f"{name} is {len(value)} octets; an LV holds at most 255 (§5.1.8)")
    return bytes([len(value)]) + value


def _tlvs(items: tuple[tuple[int, bytes], ...]) -> bytes:
    out = b""
    for kind, value in items:
        if not 0 <= kind <= 255 or len(value) > 255:
            raise EncodeError(f"TLV type must be 0..255 and value at most 255 octets, got {kind}")
        out += bytes([kind, len(value)]) + value
    return out


def _fault(entity: bytes | None) -> bytes:
    return b"" if entity is None else _tlvs(((_FAULT_LOCATION_TLV, entity),))


def _body(pdu: Pdu) -> tuple[bool, bytes]:
    """Return (is file data, data field without CRC)."""
    h = pdu.header
    lg = h.large_file
    if isinstance(pdu, FileData):
        meta = b""
        if h.segment_metadata:
            if len(pdu.segment_metadata) > 63 or not 0 <= pdu.record_state <= 3:
                raise EncodeError("segment metadata is at most 63 octets, record state 0..3")
            meta = bytes([pdu.record_state << 6 | len(pdu.segment_metadata)])
            meta += pdu.segment_metadata
        return True, meta + _fss(pdu.offset, lg) + pdu.data
    if isinstance(pdu, Metadata):
        flags = (pdu.closure_requested << 6) | (pdu.checksum_type & 0x0F)
        body = bytes([Directive.METADATA, flags]) + _fss(pdu.file_size, lg)
        body += _lv(pdu.source_name, "source file name") + _lv(pdu.dest_name, "dest file name")
        return False, body + _tlvs(pdu.options)
    if isinstance(pdu, Eof):
        body = bytes([Directive.EOF, (pdu.condition & 0x0F) << 4])
        body += struct.pack(">I", pdu.checksum) + _fss(pdu.file_size, lg)
        return False, body + _fault(pdu.fault_entity)
    if isinstance(pdu, Finished):
        b = ((pdu.condition & 0x0F) << 4) | ((pdu.delivery & 1) << 2) | (pdu.file_status & 3)
        body = bytes([Directive.FINISHED, b]) + _tlvs(pdu.responses)
        return False, body + _fault(pdu.fault_entity)
    if isinstance(pdu, Ack):
        return False, bytes(
            [
                Directive.ACK,
                ((pdu.directive & 0x0F) << 4) | (pdu.subtype & 0x0F),
                ((pdu.condition & 0x0F) << 4) | (pdu.status & 3),
            ]
        )
    if isinstance(pdu, Nak):
        body = bytes([Directive.NAK]) + _fss(pdu.start, lg) + _fss(pdu.end, lg)
        return False, body + b"".join(_fss(a, lg) + _fss(b, lg) for a, b in pdu.segments)
    if isinstance(pdu, Prompt):
        return False, bytes([Directive.PROMPT, pdu.keep_alive << 7])
    if isinstance(pdu, KeepAlive):
        return False, bytes([Directive.KEEP_ALIVE]) + _fss(pdu.progress, lg)
    raise EncodeError(f"not a CFDP PDU: {type(pdu).__name__}")


def encode_pdu(pdu: Pdu) -> bytes:
    """Encode one PDU: fixed header (§5.1), data field, CRC-16 when ``header.crc``."""
    h = pdu.header
    need = max(
        _int_octets(h.source_id, "source entity ID"), _int_octets(h.dest_id, "dest entity ID")
    )
    if h.id_octets < need or not 1 <= h.id_octets <= 8:
        raise EncodeError(f"entity IDs need {need} octets (1..8); header says {h.id_octets}")
    if _int_octets(h.seq, "transaction sequence number") > h.seq_octets or not (
        1 <= h.seq_octets <= 8
    ):
        raise EncodeError(
            f"transaction sequence number {h.seq} does not fit in {h.seq_octets} octets (1..8)"
        )
    is_data, body = _body(pdu)
    length = len(body) + (2 if h.crc else 0)
    if length > 0xFFFF:
        raise EncodeError(
            f"PDU data field is {length} octets; at most 65535 fit (§5.1): use smaller segments"
        )
    b0 = (
        (CFDP_VERSION << 5)
        | (is_data << 4)
        | (h.toward_sender << 3)
        | ((not h.acknowledged) << 2)
        | (h.crc << 1)
        | int(h.large_file)
    )
    b3 = (
        (h.segmentation_control << 7)
        | ((h.id_octets - 1) << 4)
        | (h.segment_metadata << 3)
        | (h.seq_octets - 1)
    )
    out = (
        bytes([b0])
        + length.to_bytes(2, "big")
        + bytes([b3])
        + h.source_id.to_bytes(h.id_octets, "big")
        + h.seq.to_bytes(h.seq_octets, "big")
        + h.dest_id.to_bytes(h.id_octets, "big")
        + body
    )
    if h.crc:
        out += crc16_ccitt(out).to_bytes(2, "big")
    return out


# ---------------------------------------------------------------- decoding


class _Reader:
    def __init__(self, data: bytes, pos: int, end: int, what: str) -> None:
        self.data, self.pos, self.end, self.what = data, pos, end, what

    def take(self, n: int, name: str) -> bytes:
        if self.pos + n > self.end:
            raise DecodeError(
                f"{self.what}: {name} needs {n} octets at data field offset {self.pos}, "
                f"only {self.end - self.pos} left (PDU data field length too short?)"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int, name: str) -> int:
        return int.from_bytes(self.take(n, name), "big")

    def left(self) -> int:
        return self.end - self.pos

    def tlvs(self) -> list[tuple[int, bytes]]:
        out = []
        while self.left():
            kind = self.uint(1, "TLV type")
            n = self.uint(1, "TLV length")
            out.append((kind, self.take(n, "TLV value")))
        return out


def decode_header(data: bytes) -> tuple[Header, bool, int, int]:
    """Decode the fixed header: (header, is file data, data field start, data field end)."""
    if len(data) < 4:
        raise DecodeError(f"CFDP PDU needs at least a 4-octet fixed header (§5.1), got {len(data)}")
    b0, length, b3 = data[0], int.from_bytes(data[1:3], "big"), data[3]
    version = b0 >> 5
    if version != CFDP_VERSION:
        raise DecodeError(
            f"CFDP version field is {version:03b}; expected 001 (CFDP version 2, §5.1)"
        )
    id_n, seq_n = ((b3 >> 4) & 7) + 1, (b3 & 7) + 1
    start = 4 + 2 * id_n + seq_n
    if len(data) != start + length:
        raise DecodeError(
            f"CFDP PDU is {len(data)} octets; its header says {start} + data field length "
            f"{length} = {start + length} (§5.1)"
        )
    header = Header(
        source_id=int.from_bytes(data[4 : 4 + id_n], "big"),
        seq=int.from_bytes(data[4 + id_n : 4 + id_n + seq_n], "big"),
        dest_id=int.from_bytes(data[4 + id_n + seq_n : start], "big"),
        toward_sender=bool(b0 >> 3 & 1),
        acknowledged=not (b0 >> 2 & 1),
        crc=bool(b0 >> 1 & 1),
        large_file=bool(b0 & 1),
        id_octets=id_n,
        seq_octets=seq_n,
        segmentation_control=bool(b3 >> 7),
        segment_metadata=bool(b3 >> 3 & 1),
    )
    end = len(data)
    if header.crc:
        if length < 2:
            raise DecodeError("CRC flag set but the data field is shorter than its 2 CRC octets")
        end -= 2
        found, want = int.from_bytes(data[end:], "big"), crc16_ccitt(data[:end])
        if found != want:
            raise DecodeError(f"CFDP PDU CRC is {found:#06x}, computed {want:#06x}")
    return header, bool(b0 >> 4 & 1), start, end


def decode_pdu(data: bytes | bytearray | memoryview) -> Pdu:
    """Decode one PDU; raise :class:`~falak.errors.DecodeError` naming what is wrong."""
    data = bytes(data)
    h, is_data, start, end = decode_header(data)
    fss = 8 if h.large_file else 4
    if is_data:
        r = _Reader(data, start, end, "File Data PDU")
        state, meta = 0, b""
        if h.segment_metadata:
            b = r.uint(1, "segment metadata length")
            state, meta = b >> 6, r.take(b & 0x3F, "segment metadata")
        offset = r.uint(fss, "offset")
        return FileData(h, offset, r.take(r.left(), "file data"), state, meta)
    r = _Reader(data, start, end, "file directive PDU")
    code = r.uint(1, "directive code")
    try:
        directive = Directive(code)
    except ValueError:
        raise DecodeError(
            f"directive code {code:#04x} is not a CFDP file directive; expected one of "
            + ", ".join(f"{d.value:#04x} ({d.name})" for d in Directive)
            + " (§5.2, table 5-4)"
        ) from None
    r.what = f"{directive.name} PDU"
    if directive is Directive.METADATA:
        b = r.uint(1, "flags")
        size = r.uint(fss, "file size")
        src = r.take(r.uint(1, "source file name length"), "source file name")
        dst = r.take(r.uint(1, "dest file name length"), "dest file name")
        return Metadata(h, size, src, dst, b & 0x0F, bool(b >> 6 & 1), tuple(r.tlvs()))
    if directive is Directive.EOF:
        cond = r.uint(1, "condition code") >> 4
        cks, size = r.uint(4, "file checksum"), r.uint(fss, "file size")
        fault = dict(r.tlvs()).get(_FAULT_LOCATION_TLV)
        return Eof(h, cks, size, cond, fault)
    if directive is Directive.FINISHED:
        b = r.uint(1, "condition code")
        tl = r.tlvs()
        fault = next((v for k, v in tl if k == _FAULT_LOCATION_TLV), None)
        responses = tuple((k, v) for k, v in tl if k != _FAULT_LOCATION_TLV)
        return Finished(h, b >> 4, b >> 2 & 1, b & 3, responses, fault)
    if directive is Directive.ACK:
        b1, b2 = r.uint(1, "acknowledged directive"), r.uint(1, "condition code")
        return Ack(h, b1 >> 4, b1 & 0x0F, b2 >> 4, b2 & 3)
    if directive is Directive.NAK:
        s, e = r.uint(fss, "start of scope"), r.uint(fss, "end of scope")
        if r.left() % (2 * fss):
            raise DecodeError(
                f"NAK PDU: segment requests take {r.left()} octets, not a multiple of {2 * fss}"
            )
        segs = []
        while r.left():
            segs.append((r.uint(fss, "segment start"), r.uint(fss, "segment end")))
        return Nak(h, s, e, tuple(segs))
    if directive is Directive.PROMPT:
        return Prompt(h, bool(r.uint(1, "response required") >> 7))
    return KeepAlive(h, r.uint(fss, "progress"))
