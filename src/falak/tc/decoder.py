"""Command decoder: the on-board side of :mod:`falak.tc.encoder`, one packet at a time.

A simulated spacecraft receives telecommand packets and decodes them with the same mission
database the ground encoded them with, so the two cannot drift apart. The decoder

1. checks the packet's length against its CCSDS packet data length field
   (CCSDS 133.0-B-2 §4.1.3.5: the field holds the data length minus one);
2. checks the packet error control field (CRC-16/CCITT-FALSE over the whole packet, CCSDS
   133.0-B-2 §4.1.4.3) when the MDB gives ``crc: CRC-16-CCITT``;
3. finds the command among the non-abstract ones whose fixed values and assigned arguments
   (APID, opcode) match the packet, and checks the packet's length against that command's;
4. decodes the arguments back to engineering values (the forward calibration; enumeration
   labels; booleans; strings) and checks them against their valid ranges, within half a raw
   count of a calibrated value, which is how far the encoder's rounding may move it.

It never raises on a packet's content: the answer is a :class:`DecodedCommand` or a
:class:`CommandRejection` whose ``reason`` is one of the acknowledgement reasons of the MDBs
(``AckReason``: :data:`UNKNOWN_OPCODE`, :data:`BAD_CRC`, :data:`BAD_LENGTH`,
:data:`ARGUMENT_OUT_OF_RANGE`) with a message for people, as flight software reports a
rejected command in an event.
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from falak import timecodes
from falak.ccsds.crc import crc16_ccitt
from falak.errors import CommandRejected, FalakError
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    ArgumentEntry,
    ArrayType,
    BinaryEncoding,
    BinaryType,
    BooleanType,
    ContainerEntry,
    CucTimeCode,
    DataEncoding,
    DataType,
    Entry,
    EnumeratedType,
    FixedValueEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MetaCommand,
    MissionDatabase,
    ParameterEntry,
    RelativeTimeType,
    StringEncoding,
    StringType,
    short_name,
)
from falak.tc.encoder import CommandEncoder, _Ctx, _fmt_range, _holds, _in_range
from falak.tm.calibration import calibrate

__all__ = [
    "ARGUMENT_OUT_OF_RANGE",
    "BAD_CRC",
    "BAD_LENGTH",
    "REJECTION_REASONS",
    "UNKNOWN_OPCODE",
    "CommandDecoder",
    "CommandRejection",
    "DecodedCommand",
]

UNKNOWN_OPCODE = "UNKNOWN_OPCODE"
"""No command of the MDB has the packet's fixed values and assignments (APID, opcode)."""
BAD_CRC = "BAD_CRC"
"""The packet error control field does not match the packet."""
BAD_LENGTH = "BAD_LENGTH"
"""The packet is shorter or longer than its length field or its command says."""
ARGUMENT_OUT_OF_RANGE = "ARGUMENT_OUT_OF_RANGE"
"""An argument is outside its valid range, or a code no enumeration label has."""
REJECTION_REASONS = (UNKNOWN_OPCODE, BAD_CRC, BAD_LENGTH, ARGUMENT_OUT_OF_RANGE)
"""The reasons a packet is rejected for, labels of the MDBs' ``AckReason`` enumeration."""

_CCSDS_HEADER_BYTES = 6


@dataclass(frozen=True)
class DecodedCommand:
    """A command packet that decoded and passed every check.

    ``arguments`` are the engineering values of the arguments a user gives (by short name),
    ``assigned`` those the command fixes (opcode, APID), ``raw`` the raw values of all.
    """

    command: str
    """Qualified command name, e.g. ``/TESTSAT/SET_MODE``."""
    arguments: dict[str, Any]
    assigned: dict[str, Any]
    raw: dict[str, Any]
    apid: int | None = None
    seq_count: int | None = None

    @property
    def name(self) -> str:
        """The command's short name."""
        return short_name(self.command)

    @property
    def opcode(self) -> int | None:
        """The raw value of an argument named OPCODE, if the command has one."""
        v = self.raw.get("OPCODE")
        return int(v) if isinstance(v, int) else None


@dataclass(frozen=True)
class CommandRejection:
    """Why a packet was refused; header fields are None when they could not be read.

    After a BAD_CRC, ``opcode`` is the field as read from the damaged packet (it may be the
    damage); the on-board software still acknowledges FAILED with it.
    """

    reason: str
    """One of :data:`REJECTION_REASONS`."""
    message: str
    apid: int | None = None
    seq_count: int | None = None
    opcode: int | None = None
    command: str | None = None
    """Qualified name of the command the packet was taken for, when one matched."""


class _Short(Exception):
    """The packet ended before the command's layout did."""


_READ_ERRORS = (_Short, FalakError, ValueError, KeyError, IndexError, UnicodeDecodeError)


@dataclass
class _Reader:
    data: bytes
    end_bits: int
    pos: int = 0
    _value: int = field(init=False)

    def __post_init__(self) -> None:
        self._value = int.from_bytes(self.data, "big")

    def read(self, nbits: int) -> int:
        if nbits <= 0:
            return 0
        if self.pos + nbits > self.end_bits:
            raise _Short
        total = 8 * len(self.data)
        v = (self._value >> (total - self.pos - nbits)) & ((1 << nbits) - 1)
        self.pos += nbits
        return v

    def read_bytes(self, n: int) -> bytes:
        return self.read(8 * n).to_bytes(n, "big") if n > 0 else b""


@dataclass
class _Walk:
    """One attempt to read a packet as one command."""

    cmd: MetaCommand
    eng: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    mismatch: tuple[str, int] | None = None
    """The first identifying field that differs: its name and the packet's value."""


def decode_integer(bits: int, enc: IntegerEncoding) -> int:
    """Return the value of an integer field's bit pattern (inverse of ``encode_integer``)."""
    n = enc.size_bits
    if enc.byte_order is not None and n % 8 == 0:
        out = 0
        nbytes = n // 8
        for i, sig in enumerate(enc.byte_order):
            out |= ((bits >> (8 * (nbytes - 1 - i))) & 0xFF) << (8 * sig)
        bits = out
    if enc.encoding == "unsigned" or not bits >> (n - 1):
        return bits
    if enc.encoding == "twosComplement":
        return bits - (1 << n)
    if enc.encoding == "signMagnitude":
        return -(bits & ((1 << (n - 1)) - 1))
    return -((~bits) & ((1 << n) - 1))  # ones' complement


def _decode_float(bits: int, enc: FloatEncoding) -> float:
    fmt = {16: ">e", 32: ">f", 64: ">d"}.get(enc.size_bits)
    if fmt is None or enc.encoding != "IEEE754":
        raise FalakError(f"cannot decode a {enc.size_bits}-bit {enc.encoding} float")
    if enc.byte_order is not None:
        nbytes = enc.size_bits // 8
        out = 0
        for i, sig in enumerate(enc.byte_order):
            out |= ((bits >> (8 * (nbytes - 1 - i))) & 0xFF) << (8 * sig)
        bits = out
    value: float = struct.unpack(fmt, bits.to_bytes(enc.size_bits // 8, "big"))[0]
    return value


class CommandDecoder:
    """Decode the telecommand packets of a mission database (see the module doc).

    Parameters
    ----------
    mdb
        The mission database the ground encodes with.
    ccsds
        Whether packets are CCSDS space packets; default: as the encoder detects it (a
        length field at bits 32..48 of the layout).
    """

    def __init__(self, mdb: MissionDatabase, *, ccsds: bool | None = None) -> None:
        self.mdb = mdb
        self.encoder = CommandEncoder(mdb, ccsds=ccsds)
        self.commands = [c for c in mdb.commands.values() if not c.abstract]
        self._entries = {c.qualified_name: self.encoder.entries(c) for c in self.commands}
        self._crc = {
            c.qualified_name: any(b.crc for b in self.encoder.chain(c)) for c in self.commands
        }
        self._all_crc = bool(self.commands) and all(self._crc.values())
        self._types = {
            c.qualified_name: {
                a.name: self.encoder.argument_type(a)
                for b in self.encoder.chain(c)
                for a in b.arguments
            }
            for c in self.commands
        }
        self._assigned_raw = {c.qualified_name: self._assigned(c) for c in self.commands}
        if ccsds is None:
            ccsds = self._detect_ccsds()
        self.ccsds = ccsds

    # -- set-up -------------------------------------------------------------------------------

    def _assigned(self, cmd: MetaCommand) -> dict[str, Any]:
        out: dict[str, Any] = {}
        all_args = {a.name: a for c in self.encoder.chain(cmd) for a in c.arguments}
        for k, text in self.encoder.assignments(cmd).items():
            a = all_args.get(k)
            if a is None:
                continue
            t = self.encoder.argument_type(a)
            eng = self.encoder._value(cmd, k, t, text)
            out[k] = self.encoder._raw(cmd, k, t, eng)
        return out

    def _detect_ccsds(self) -> bool:
        for c in self.commands:
            try:
                enc = self.encoder.encode(c, self._defaults(c))
            except FalakError:
                continue
            return enc.ccsds
        return False

    def _defaults(self, cmd: MetaCommand) -> dict[str, Any]:
        """Some valid argument values (defaults, else the first allowed) to probe a layout."""
        out: dict[str, Any] = {}
        for a in self.encoder.arguments(cmd):
            if a.initial_value is not None:
                continue
            t = self.encoder.argument_type(a)
            if isinstance(t, EnumeratedType) and t.values:
                out[a.name] = t.values[0].label
            elif isinstance(t, IntegerType | FloatType):
                r = t.valid_range
                out[a.name] = r.min if r is not None and r.min is not None else 0
            elif isinstance(t, BooleanType):
                out[a.name] = False
            elif isinstance(t, StringType):
                out[a.name] = ""
            elif isinstance(t, BinaryType):
                out[a.name] = b""
        return out

    # -- decoding -----------------------------------------------------------------------------

    def decode(self, packet: bytes) -> DecodedCommand | CommandRejection:
        """Decode one telecommand packet; never raises on the packet's content."""
        data = bytes(packet)
        apid = seq = None
        if self.ccsds:
            if len(data) < _CCSDS_HEADER_BYTES + 1:
                return CommandRejection(
                    BAD_LENGTH,
                    f"a telecommand of {len(data)} bytes is shorter than a space packet "
                    f"({_CCSDS_HEADER_BYTES}-byte primary header and at least 1 data byte)",
                )
            apid = ((data[0] & 0x07) << 8) | data[1]
            seq = ((data[2] << 8) | data[3]) & 0x3FFF
            declared = int.from_bytes(data[4:6], "big") + 7
            if declared != len(data):
                return CommandRejection(
                    BAD_LENGTH,
                    f"the packet length field says {declared} bytes but {len(data)} arrived "
                    f"(APID {apid}, sequence count {seq})",
                    apid,
                    seq,
                )
        if self._all_crc:
            bad = self._check_crc(data)
            if bad is not None:
                guess = self._opcode_guess(data)
                return CommandRejection(BAD_CRC, bad + _where(apid, seq), apid, seq, guess)
        walks: list[_Walk] = []
        wrong_length: list[_Walk] = []
        for cmd in self.commands:
            crc = self._crc[cmd.qualified_name]
            end_bits = 8 * (len(data) - (2 if crc else 0))
            walk = _Walk(cmd)
            try:
                self._walk(_Reader(data, max(end_bits, 0)), walk)
            except _Short:
                if walk.mismatch is None:
                    wrong_length.append(walk)
                walks.append(walk)
                continue
            except (FalakError, ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
                if walk.mismatch is None:
                    return CommandRejection(
                        ARGUMENT_OUT_OF_RANGE,
                        f"{cmd.name}: {exc}" + _where(apid, seq),
                        apid,
                        seq,
                        _opcode(walk),
                        cmd.qualified_name,
                    )
                walks.append(walk)
                continue
            walks.append(walk)
            if walk.mismatch is not None:
                continue
            used = walk.raw.pop("__end__")
            if used != end_bits:
                wrong_length.append(walk)
                continue
            if crc and not self._all_crc:
                bad = self._check_crc(data)
                if bad is not None:
                    return CommandRejection(
                        BAD_CRC,
                        bad + _where(apid, seq),
                        apid,
                        seq,
                        _opcode(walk),
                        cmd.qualified_name,
                    )
            return self._finish(walk, apid, seq)
        if wrong_length:
            walk = wrong_length[0]
            size = self._size_bytes(walk.cmd)
            expected = f"is {size} bytes long" if size else "has another length"
            return CommandRejection(
                BAD_LENGTH,
                f"{walk.cmd.name} {expected} but the packet has {len(data)} bytes"
                + _where(apid, seq),
                apid,
                seq,
                _opcode(walk),
                walk.cmd.qualified_name,
            )
        return CommandRejection(
            UNKNOWN_OPCODE, self._unknown(walks) + _where(apid, seq), apid, seq, _opcode_of(walks)
        )

    def _opcode_guess(self, data: bytes) -> int | None:
        """The OPCODE field as read, for a packet that failed its CRC (not to be trusted)."""
        for cmd in self.commands:
            walk = _Walk(cmd)
            with contextlib.suppress(*_READ_ERRORS):
                self._walk(_Reader(data, 8 * len(data)), walk)
            if walk.mismatch is not None and walk.mismatch[0] == "OPCODE":
                return walk.mismatch[1]
            if (op := _opcode(walk)) is not None:
                return op
        return None

    def _check_crc(self, data: bytes) -> str | None:
        if len(data) < 3:
            return f"a packet of {len(data)} bytes cannot hold a CRC"
        want = crc16_ccitt(data[:-2])
        got = int.from_bytes(data[-2:], "big")
        if want == got:
            return None
        return f"the packet's CRC is 0x{got:04X}, its bytes give 0x{want:04X}"

    def _size_bytes(self, cmd: MetaCommand) -> int | None:
        """The command's length in bytes with default arguments (None if it cannot tell)."""
        try:
            return len(self.encoder.encode(cmd, self._defaults(cmd)).binary)
        except FalakError:
            return None

    def _unknown(self, walks: list[_Walk]) -> str:
        counts: dict[str, int] = {}
        values: dict[str, int] = {}
        for w in walks:
            if w.mismatch is not None:
                name, value = w.mismatch
                counts[name] = counts.get(name, 0) + 1
                values[name] = value
        name = self.mdb.root.name
        if not counts:
            return f"no {name} command matches the packet"
        field_name = max(counts, key=lambda k: counts[k])
        v = values[field_name]
        return f"no {name} command has {field_name} = {v} (0x{v:X})"

    def _walk(self, r: _Reader, walk: _Walk) -> None:
        cmd = walk.cmd
        types = self._types[cmd.qualified_name]
        assigned = self._assigned_raw[cmd.qualified_name]
        self._entries_walk(r, self._entries[cmd.qualified_name], walk, types, assigned, 0)
        walk.raw["__end__"] = r.pos

    def _entries_walk(
        self,
        r: _Reader,
        entries: Sequence[Entry],
        walk: _Walk,
        types: dict[str, DataType],
        assigned: dict[str, Any],
        cstart: int,
    ) -> None:
        for e in entries:
            if walk.mismatch is not None:
                return
            if e.include_if is not None:
                ctx = _Ctx(walk.cmd, walk.eng, walk.raw, {})
                if not _holds(e.include_if, ctx, self.mdb):
                    continue
            if e.location is not None:
                ref = e.location.reference
                base = r.pos if ref == "previousEntry" else (0 if ref == "packetStart" else cstart)
                target = base + e.location.offset_bits
                if target < r.pos:
                    raise FalakError("entries that overlap earlier ones cannot be decoded")
                r.read(target - r.pos)
            count = 1
            if e.repeat is not None:
                if not isinstance(e.repeat.count, int):
                    raise FalakError("repeated command entries need a fixed count")
                count = e.repeat.count
            for i in range(count):
                if i and e.repeat is not None:
                    r.read(e.repeat.offset_bits)
                start = r.pos
                if isinstance(e, FixedValueEntry):
                    v = r.read(e.size_bits)
                    if self.ccsds and start in (18, 32) and e.size_bits in (14, 16):
                        continue  # sequence count and length: filled by the link and encoder
                    want = int.from_bytes(e.value, "big") if e.value else 0
                    if v != want:
                        walk.mismatch = (e.name or f"bits {start}..{r.pos}", v)
                        return
                elif isinstance(e, ArgumentEntry):
                    n = short_name(e.argument)
                    raw = self._read(r, types[n], walk, n)
                    walk.raw[n] = raw
                    if n in assigned and raw != assigned[n]:
                        walk.mismatch = (n, raw if isinstance(raw, int) else -1)
                        return
                elif isinstance(e, ParameterEntry):
                    p = self.mdb.parameters[e.parameter]
                    pt = self.mdb.types.get(p.type) if p.type else None
                    if pt is None:
                        raise FalakError(f"parameter {p.name} has no type")
                    self._read(r, pt, walk, p.name)
                elif isinstance(e, ContainerEntry):
                    sub = self.mdb.containers[e.container]
                    self._entries_walk(r, sub.entries, walk, types, assigned, r.pos)

    def _type(self, name: str) -> DataType:
        return self.mdb.argument_types.get(name) or self.mdb.types[name]

    def _read(self, r: _Reader, t: DataType, walk: _Walk, name: str) -> Any:
        """Read one raw value of type ``t``."""
        if isinstance(t, ArrayType):
            et = self._type(t.element_type)
            n = self._array_size(t, walk)
            return [self._read(r, et, walk, name) for _ in range(n)]
        if isinstance(t, AggregateType):
            return {m.name: self._read(r, self._type(m.type), walk, name) for m in t.members}
        if isinstance(t, AbsoluteTimeType) and t.timecode is not None:
            tc = t.timecode
            if isinstance(tc, CucTimeCode):
                n = tc.coarse_bytes + tc.fine_bytes
                raw = np.frombuffer(r.read_bytes(n), dtype=np.uint8).reshape(1, n)
                return float(timecodes.cuc_to_seconds(raw, tc.coarse_bytes, tc.fine_bytes)[0])
            n = tc.day_bytes + 4 + tc.submillis_bytes
            raw = np.frombuffer(r.read_bytes(n), dtype=np.uint8).reshape(1, n)
            return float(timecodes.cds_to_seconds(raw, tc.day_bytes, tc.submillis_bytes)[0])
        enc = t.encoding
        if enc is None:
            raise FalakError(f"type {t.name} has no data encoding")
        return self._read_encoded(r, enc, walk, isinstance(t, StringType))

    def _array_size(self, t: ArrayType, walk: _Walk) -> int:
        size = 1
        for d in t.dimensions:
            if d.size is not None:
                size *= d.size
            elif d.dynamic_size is not None:
                dyn = d.dynamic_size
                ref = short_name(dyn.ref.parameter)
                v = walk.eng.get(ref, walk.raw.get(ref))
                if v is None:
                    raise FalakError(f"array size {ref} is not known before the array")
                size *= int(v * dyn.slope + dyn.intercept)
        return size

    def _read_encoded(self, r: _Reader, enc: DataEncoding, walk: _Walk, text: bool) -> Any:
        if isinstance(enc, IntegerEncoding):
            return decode_integer(r.read(enc.size_bits), enc)
        if isinstance(enc, FloatEncoding):
            return _decode_float(r.read(enc.size_bits), enc)
        term = enc.terminator if isinstance(enc, StringEncoding) else None
        data: bytes
        if enc.leading_size_bits:
            data = r.read_bytes(r.read(enc.leading_size_bits))
        elif enc.fixed_size_bits is not None and enc.fixed_size_bits > 0:
            data = r.read_bytes(enc.fixed_size_bits // 8)
            if term and term in data:
                data = data[: data.index(term)]
            elif text:
                data = data.rstrip(b"\0")
        elif enc.dynamic_size is not None:
            dyn = enc.dynamic_size
            ref = short_name(dyn.ref.parameter)
            v = walk.eng.get(ref, walk.raw.get(ref))
            if v is None:
                raise FalakError(f"size {ref} is not known before the value")
            data = r.read_bytes(int(v * dyn.slope + dyn.intercept) // 8)
        elif isinstance(enc, BinaryEncoding) and (enc.fixed_size_bits or 0) < 0:
            data = r.read_bytes((r.end_bits - r.pos) // 8)  # sized by the value: the rest
        elif term is not None:
            out = bytearray()
            while not out.endswith(term):
                out.append(r.read(8))
            data = bytes(out[: -len(term)])
        else:
            raise FalakError("string or binary encoding without a size")
        if text and isinstance(enc, StringEncoding):
            return data.decode(enc.charset)
        return data

    # -- engineering values and ranges --------------------------------------------------------

    def _finish(
        self, walk: _Walk, apid: int | None, seq: int | None
    ) -> DecodedCommand | CommandRejection:
        cmd = walk.cmd
        types = self._types[cmd.qualified_name]
        assigned = self._assigned_raw[cmd.qualified_name]
        eng: dict[str, Any] = {}
        for name, raw in walk.raw.items():
            try:
                eng[name] = self._eng(cmd, name, types[name], raw)
            except CommandRejected as exc:
                return CommandRejection(
                    ARGUMENT_OUT_OF_RANGE,
                    str(exc) + _where(apid, seq),
                    apid,
                    seq,
                    _opcode(walk),
                    cmd.qualified_name,
                )
        return DecodedCommand(
            command=cmd.qualified_name,
            arguments={k: v for k, v in eng.items() if k not in assigned},
            assigned={k: v for k, v in eng.items() if k in assigned},
            raw=dict(walk.raw),
            apid=apid,
            seq_count=seq,
        )

    def _eng(self, cmd: MetaCommand, name: str, t: DataType, raw: Any) -> Any:
        """Return the engineering value of ``raw``; raise CommandRejected when out of range."""
        if isinstance(t, IntegerType | FloatType):
            value: float = raw
            tol = 0.0
            if t.calibrator is not None:
                value = float(calibrate(t.calibrator, np.array([raw], dtype=np.float64))[0])
                if isinstance(t.encoding, IntegerEncoding):
                    up, down = calibrate(t.calibrator, np.array([raw + 1, raw - 1], dtype=float))
                    tol = 0.5 * max(abs(float(up) - value), abs(value - float(down)))
            elif isinstance(t.encoding, FloatEncoding) and t.encoding.size_bits < 64:
                eps = 2.0 ** -(11 if t.encoding.size_bits == 16 else 24)
                tol = abs(float(value)) * eps
            if isinstance(value, float) and not math.isfinite(value):
                raise CommandRejected(
                    f"{cmd.name}: argument {name}: raw value {raw} is outside the calibration",
                    argument=name,
                )
            if isinstance(t, IntegerType) and isinstance(value, float) and value.is_integer():
                value = int(value)
            r = t.valid_range
            if r is not None and not _in_range(float(value), r):
                widened = type(r)(
                    None if r.min is None else r.min - tol,
                    None if r.max is None else r.max + tol,
                    r.min_inclusive,
                    r.max_inclusive,
                )
                if not tol or not _in_range(float(value), widened):
                    unit = f" {t.unit}" if t.unit else ""
                    raise CommandRejected(
                        f"{cmd.name}: argument {name} = {value:g}{unit} (raw {raw}) is outside "
                        f"{_fmt_range(r)}{unit}",
                        argument=name,
                    )
            return value
        if isinstance(t, EnumeratedType):
            for ev in t.values:
                hi = ev.max_value if ev.max_value is not None else ev.value
                if ev.value <= raw <= hi:
                    return ev.label
            labels = ", ".join(f"{ev.value} {ev.label}" for ev in t.values)
            raise CommandRejected(
                f"{cmd.name}: argument {name} = {raw} is no label of {short_name(t.name)} "
                f"({labels})",
                argument=name,
            )
        if isinstance(t, BooleanType):
            if isinstance(raw, str):
                return raw == t.one_string
            return bool(raw)
        if isinstance(t, StringType | BinaryType):
            n = len(raw.encode(_charset(t))) if isinstance(raw, str) else len(raw)
            self.encoder._check_length(cmd, name, t, raw, n)
            return raw
        if isinstance(t, ArrayType):
            et = self._type(t.element_type)
            return [self._eng(cmd, f"{name}[{i}]", et, x) for i, x in enumerate(raw)]
        if isinstance(t, AggregateType):
            return {
                m.name: self._eng(cmd, f"{name}.{m.name}", self._type(m.type), raw[m.name])
                for m in t.members
            }
        if isinstance(t, RelativeTimeType) or (
            isinstance(t, AbsoluteTimeType) and t.timecode is None
        ):
            return float(raw) * t.scale + t.offset
        return raw


def _charset(t: StringType | BinaryType) -> str:
    return t.encoding.charset if isinstance(t.encoding, StringEncoding) else "utf-8"


def _opcode(walk: _Walk) -> int | None:
    v = walk.raw.get("OPCODE")
    return v if isinstance(v, int) else None


def _opcode_of(walks: list[_Walk]) -> int | None:
    for w in walks:
        if w.mismatch is not None and w.mismatch[0] == "OPCODE":
            return w.mismatch[1]
    return next((op for w in walks if (op := _opcode(w)) is not None), None)


def _where(apid: int | None, seq: int | None) -> str:
    return "" if apid is None else f" (APID {apid}, sequence count {seq})"
