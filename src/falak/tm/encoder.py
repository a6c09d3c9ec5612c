"""Container encoder: the inverse of the decoder, one packet at a time.

Given a container of the mission database and raw values by parameter name, lay the values
out in bits as the container says. Values of parameters used in the restriction criteria of
the container's inheritance chain (APIDs, packet types) are filled in from those criteria
when not given. Simulators build their telemetry with it, and the property tests check
``decode(encode(x)) == x`` for every type and byte order.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from falak import timecodes
from falak.errors import EncodeError, TimeCodeError
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    AllOf,
    AnyOf,
    ArrayType,
    BinaryEncoding,
    BooleanType,
    CdsTimeCode,
    Comparison,
    Condition,
    ContainerEntry,
    CucTimeCode,
    DataEncoding,
    DataType,
    Entry,
    EnumeratedType,
    FixedValueEntry,
    FloatEncoding,
    IntegerEncoding,
    MissionDatabase,
    Not,
    ParameterEntry,
    SequenceContainer,
    StringEncoding,
)


class BitWriter:
    """Append bit fields, most significant bit first."""

    def __init__(self) -> None:
        self.value = 0
        self.nbits = 0

    def write(self, value: int, nbits: int) -> None:
        """Append the low ``nbits`` of ``value``."""
        if nbits <= 0:
            return
        self.value = (self.value << nbits) | (value & ((1 << nbits) - 1))
        self.nbits += nbits

    def write_bytes(self, data: bytes) -> None:
        """Append whole bytes."""
        self.write(int.from_bytes(data, "big"), 8 * len(data))

    def pad_to(self, nbits: int) -> None:
        """Append zero bits up to a total of ``nbits`` (never truncates)."""
        if nbits > self.nbits:
            self.write(0, nbits - self.nbits)

    def to_bytes(self) -> bytes:
        """The bits written so far, zero-padded to a whole number of bytes."""
        pad = (-self.nbits) % 8
        return (self.value << pad).to_bytes((self.nbits + pad) // 8, "big")


def encode_integer(value: int, enc: IntegerEncoding) -> int:
    """Return the unsigned bit pattern of ``value`` under an integer encoding.

    Raises :class:`EncodeError` when the value does not fit.
    """
    n = enc.size_bits
    v = int(value)
    if enc.encoding == "unsigned":
        lo, hi = 0, (1 << n) - 1
    elif enc.encoding == "twosComplement":
        lo, hi = -(1 << (n - 1)), (1 << (n - 1)) - 1
    else:  # sign-magnitude and ones' complement have a negative zero
        lo, hi = -((1 << (n - 1)) - 1), (1 << (n - 1)) - 1
    if not lo <= v <= hi:
        raise EncodeError(f"{v} does not fit a {n}-bit {enc.encoding} integer ({lo}..{hi})")
    if v >= 0:
        bits = v
    elif enc.encoding == "twosComplement":
        bits = v + (1 << n)
    elif enc.encoding == "signMagnitude":
        bits = (1 << (n - 1)) | -v
    else:
        bits = (~(-v)) & ((1 << n) - 1)
    if enc.byte_order is not None:
        if n % 8:
            raise EncodeError("a byte order other than big-endian needs whole bytes")
        out = 0
        for sig in enc.byte_order:
            out = (out << 8) | ((bits >> (8 * sig)) & 0xFF)
        bits = out
    return bits


def encode_float(value: float, enc: FloatEncoding) -> int:
    """Return the bit pattern of an IEEE 754 float of 16, 32 or 64 bits."""
    fmt = {16: ">e", 32: ">f", 64: ">d"}.get(enc.size_bits)
    if fmt is None or enc.encoding != "IEEE754":
        raise EncodeError(f"cannot encode a {enc.size_bits}-bit {enc.encoding} float")
    bits = int.from_bytes(struct.pack(fmt, float(value)), "big")
    if enc.byte_order is not None:
        out = 0
        for sig in enc.byte_order:
            out = (out << 8) | ((bits >> (8 * sig)) & 0xFF)
        bits = out
    return bits


class ContainerEncoder:
    """Encode packets of the containers of a mission database."""

    def __init__(self, mdb: MissionDatabase) -> None:
        self.mdb = mdb

    def chain(self, container: str | SequenceContainer) -> list[SequenceContainer]:
        """The container and its bases, outermost base first."""
        c = self.mdb.container(container) if isinstance(container, str) else container
        out = [c]
        while c.base is not None:
            c = self.mdb.containers[c.base]
            out.append(c)
        return out[::-1]

    def restriction_values(self, container: str | SequenceContainer) -> dict[str, Any]:
        """Raw values implied by ``==`` comparisons in the inheritance chain's restrictions."""
        values: dict[str, Any] = {}
        for c in self.chain(container):
            if c.restriction is not None:
                _collect(c.restriction, values)
        return values

    def encode(self, container: str | SequenceContainer, values: Mapping[str, Any]) -> bytes:
        """Encode one packet. ``values`` maps parameter names (qualified or short) to raw values.

        Aggregates take a dict of members, arrays a (nested) list, strings ``str`` or ``bytes``,
        binaries ``bytes``, time codes seconds since their epoch.
        """
        raw: dict[str, Any] = {}
        for k, v in values.items():
            raw[self.mdb.parameter(k).qualified_name] = v
        for k, v in self.restriction_values(container).items():
            raw.setdefault(k, v)
        w = BitWriter()
        for c in self.chain(container):
            self._entries(w, c.entries, raw, 0)
        return w.to_bytes()

    def _entries(
        self, w: BitWriter, entries: tuple[Entry, ...], raw: dict[str, Any], cstart: int
    ) -> None:
        for e in entries:
            if e.include_if is not None and not _holds(e.include_if, raw, self.mdb):
                continue
            if e.location is not None:
                target = (
                    w.nbits + e.location.offset_bits
                    if e.location.reference == "previousEntry"
                    else (0 if e.location.reference == "packetStart" else cstart)
                    + e.location.offset_bits
                )
                if target < w.nbits:
                    raise EncodeError("entries that overlap earlier ones cannot be encoded")
                w.pad_to(target)
            count = 1
            if e.repeat is not None:
                rc = e.repeat.count
                count = (
                    rc
                    if isinstance(rc, int)
                    else int(raw[rc.ref.parameter] * rc.slope + rc.intercept)
                )
            for r in range(count):
                if r and e.repeat is not None:
                    w.write(0, e.repeat.offset_bits)
                if isinstance(e, ParameterEntry):
                    p = self.mdb.parameters[e.parameter]
                    if p.qualified_name not in raw:
                        raise EncodeError(f"no value given for parameter {p.name}")
                    ptype = self.mdb.types[p.type] if p.type else None
                    if ptype is None:
                        raise EncodeError(f"parameter {p.name} has no type")
                    self._value(w, ptype, raw[p.qualified_name], raw)
                elif isinstance(e, ContainerEntry):
                    sub = self.mdb.containers[e.container]
                    self._entries(w, sub.entries, raw, w.nbits)
                elif isinstance(e, FixedValueEntry):
                    v = int.from_bytes(e.value, "big") if e.value else 0
                    w.write(v, e.size_bits)
                else:
                    raise EncodeError("argument entries belong to command containers")

    def _value(self, w: BitWriter, ptype: DataType, value: Any, raw: dict[str, Any]) -> None:
        if isinstance(ptype, AggregateType):
            for m in ptype.members:
                self._value(w, self.mdb.types[m.type], value[m.name], raw)
            return
        if isinstance(ptype, ArrayType):
            etype = self.mdb.types[ptype.element_type]
            for item in _flatten(value):
                self._value(w, etype, item, raw)
            return
        if isinstance(ptype, AbsoluteTimeType) and ptype.timecode is not None:
            write_timecode(w, ptype.timecode, float(value))
            return
        enc = ptype.encoding
        if enc is None:
            raise EncodeError(f"type {ptype.name} has no data encoding")
        self.write_encoded(w, enc, value, raw)

    def write_encoded(
        self, w: BitWriter, enc: DataEncoding, value: Any, raw: Mapping[str, Any]
    ) -> None:
        """Write one raw value with a data encoding."""
        if isinstance(enc, IntegerEncoding):
            w.write(encode_integer(int(value), enc), enc.size_bits)
        elif isinstance(enc, FloatEncoding):
            w.write(encode_float(float(value), enc), enc.size_bits)
        elif isinstance(enc, StringEncoding | BinaryEncoding):
            data = (
                value.encode(enc.charset)
                if isinstance(value, str) and isinstance(enc, StringEncoding)
                else bytes(value)
            )
            term = enc.terminator if isinstance(enc, StringEncoding) else None
            if enc.leading_size_bits:
                w.write(len(data), enc.leading_size_bits)
                w.write_bytes(data)
            elif enc.fixed_size_bits is not None:
                size = enc.fixed_size_bits // 8
                body = data + (term or b"") if len(data) < size else data
                if len(body) > size:
                    raise EncodeError(f"{len(data)} bytes do not fit a {size}-byte field")
                w.write_bytes(body.ljust(size, b"\0"))
            elif enc.dynamic_size is not None:
                w.write_bytes(data)
            elif term is not None:
                w.write_bytes(data + term)
            else:
                raise EncodeError("string or binary encoding without a size")
        else:
            raise EncodeError(f"unsupported encoding {type(enc).__name__}")


def write_timecode(w: BitWriter, tc: CucTimeCode | CdsTimeCode, seconds: float) -> None:
    """Write the CUC or CDS T-field of ``seconds`` since the code's epoch (falak.timecodes)."""
    try:
        if isinstance(tc, CucTimeCode):
            field = timecodes.seconds_to_cuc([seconds], tc.coarse_bytes, tc.fine_bytes)
        else:
            field = timecodes.seconds_to_cds([seconds], tc.day_bytes, tc.submillis_bytes)
    except TimeCodeError as exc:
        raise EncodeError(str(exc)) from None
    w.write_bytes(field[0].tobytes())


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        out: list[Any] = []
        for v in items:
            out.extend(_flatten(v) if isinstance(v, list | tuple) else [v])
        return out
    return [value]


def _collect(cond: Condition, values: dict[str, Any]) -> None:
    if isinstance(cond, Comparison):
        if cond.operator == "==" and not cond.ref.member:
            try:
                values[cond.ref.parameter] = int(cond.value, 0)
            except ValueError:
                values[cond.ref.parameter] = cond.value
    elif isinstance(cond, AllOf):
        for c in cond.conditions:
            _collect(c, values)


def _target(ptype: DataType | None, text: str) -> Any:
    """The raw value a comparison's text stands for (enumeration labels become codes)."""
    if isinstance(ptype, EnumeratedType):
        for ev in ptype.values:
            if ev.label == text:
                return ev.value
    if isinstance(ptype, BooleanType):
        return 1 if text in ("1", "true", "True", ptype.one_string) else 0
    try:
        return int(text, 0)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _holds(cond: Condition, raw: Mapping[str, Any], mdb: MissionDatabase) -> bool:
    """Evaluate a condition on raw values (calibrated comparisons of calibrated numbers are
    approximated on the raw value; enumeration labels and booleans are exact)."""
    if isinstance(cond, Comparison):
        v = raw.get(cond.ref.parameter)
        if v is None:
            return False
        p = mdb.parameters.get(cond.ref.parameter)
        ptype = mdb.types.get(p.type) if p is not None and p.type else None
        target = _target(ptype, cond.value)
        try:
            ops = {
                "==": lambda: v == target,
                "!=": lambda: v != target,
                "<": lambda: v < target,
                "<=": lambda: v <= target,
                ">": lambda: v > target,
                ">=": lambda: v >= target,
            }
            return bool(ops[cond.operator]())
        except TypeError:
            return False
    if isinstance(cond, AllOf):
        return all(_holds(c, raw, mdb) for c in cond.conditions)
    if isinstance(cond, AnyOf):
        return any(_holds(c, raw, mdb) for c in cond.conditions)
    if isinstance(cond, Not):
        return not _holds(cond.condition, raw, mdb)
    return False
