"""Command encoder: validate and calibrate arguments, lay out a command packet from the MDB.

A command's bits are the entries of its base commands first (outermost base first), then its
own (XTCE ``MetaCommand`` inheritance); ``argument_assignments`` of a derived command fix
arguments of its bases (opcodes, APIDs). A command container that extends a *telemetry*
container (a shared header) starts with that container's entries, whose parameters take the
values of the restrictions in the chain (``APID == 100``) or their types' initial values.

Arguments are given in engineering units and turned into raw values by the inverse of their
type's calibrator: a linear polynomial exactly, a higher-order polynomial by a root find that
requires the polynomial to be monotonic over the raw range, a spline table by inverse
interpolation (its engineering values must be strictly monotonic). A bad argument raises
:class:`~falak.errors.CommandRejected` naming the argument, the value and what is allowed.

CCSDS packets (CCSDS 133.0-B-2 §4.1.3). When the first 48 bits of the layout end with a field
named like a packet length (``packet_length``, ``CCSDS_Packet_Length``...) the packet is a
space packet: the encoder fills the packet data length field (total length − 7) and the 14-bit
sequence count, and when the MDB gives ``crc: CRC-16-CCITT`` appends the CRC-16/CCITT-FALSE of
the whole packet (the packet error control field, CCSDS 133.0-B-2 §4.1.4.3), counted in the
length. Pass ``ccsds=True``/``False`` to override the detection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from falak.errors import CommandRejected, EncodeError, MdbError
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    AllOf,
    AnyOf,
    Argument,
    ArgumentEntry,
    ArrayType,
    BinaryEncoding,
    BinaryType,
    BooleanType,
    Calibrator,
    Comparison,
    Condition,
    ContainerEntry,
    ContextCalibrator,
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
    Not,
    ParameterEntry,
    PolynomialCalibrator,
    Range,
    RelativeTimeType,
    SplineCalibrator,
    StringEncoding,
    StringType,
    short_name,
)
from falak.tm.encoder import BitWriter, ContainerEncoder, encode_integer, write_timecode

__all__ = [
    "CommandEncoder",
    "EncodedCommand",
    "EncodedField",
    "inverse_calibrate",
    "set_sequence_count",
]

_LENGTH_NAMES = ("packet_length", "ccsds_length", "ccsds_packet_length", "length")
"""Names (lower case) of a field that, ending at bit 48, marks a CCSDS primary header."""


@dataclass(frozen=True)
class EncodedField:
    """One field of an encoded command, for display: where it is and what it holds."""

    name: str
    offset_bits: int
    size_bits: int
    raw: Any
    eng: Any = None


@dataclass(frozen=True)
class EncodedCommand:
    """A command ready to send: its bytes and what went into them.

    ``arguments`` are engineering values after defaults and assignments (by short name),
    ``raw`` the raw values written. ``apid``/``seq_count`` are None for non-CCSDS packets.
    """

    command: str
    arguments: dict[str, Any]
    raw: dict[str, Any]
    binary: bytes
    fields: tuple[EncodedField, ...] = ()
    ccsds: bool = False
    crc: bool = False
    apid: int | None = None
    seq_count: int | None = None

    @property
    def hex(self) -> str:
        """The bytes as lower-case hex."""
        return self.binary.hex()


def set_sequence_count(packet: bytes, seq_count: int, *, crc: bool) -> bytes:
    """Return a CCSDS packet with its 14-bit sequence count replaced (CRC recomputed if
    ``crc``); CCSDS 133.0-B-2 §4.1.3.4.3."""
    from falak.ccsds.crc import crc16_ccitt

    if not 0 <= seq_count <= 0x3FFF:
        raise EncodeError(f"sequence count must be within 0..16383, got {seq_count}")
    b = bytearray(packet)
    word = (b[2] << 8) | b[3]
    word = (word & 0xC000) | seq_count
    b[2], b[3] = word >> 8, word & 0xFF
    if crc:
        b[-2:] = crc16_ccitt(bytes(b[:-2])).to_bytes(2, "big")
    return bytes(b)


# ---------------------------------------------------------------------------------------------
# Inverse calibration


def inverse_calibrate(cal: Calibrator, eng: float, raw_lo: float, raw_hi: float) -> float:
    """Return the raw value whose calibration is ``eng``, searching ``raw_lo..raw_hi``.

    Raises ``ValueError`` with a readable reason when there is none (outside the table, a
    polynomial that is not monotonic there).
    """
    if isinstance(cal, ContextCalibrator):
        if cal.default is None:
            return eng
        cal = cal.default  # contexts depend on telemetry; commands use the default
        return inverse_calibrate(cal, eng, raw_lo, raw_hi)
    if isinstance(cal, PolynomialCalibrator):
        c = cal.coefficients
        if len(c) < 2 or all(x == 0 for x in c[1:]):
            raise ValueError("the calibrator is constant and cannot be inverted")
        if len(c) == 2 or all(x == 0 for x in c[2:]):
            return (eng - c[0]) / c[1]
        return _poly_root(c, eng, raw_lo, raw_hi)
    if isinstance(cal, SplineCalibrator):
        xs = np.array([p[0] for p in cal.points], dtype=np.float64)
        ys = np.array([p[1] for p in cal.points], dtype=np.float64)
        d = np.diff(ys)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ValueError("the spline's engineering values are not strictly monotonic")
        if d[0] < 0:
            xs, ys = xs[::-1], ys[::-1]
        lo_y, hi_y = float(ys[0]), float(ys[-1])
        if not lo_y <= eng <= hi_y:
            if not cal.extrapolate or cal.order == 0:
                raise ValueError(
                    f"outside the calibration table {min(lo_y, hi_y)}..{max(lo_y, hi_y)}"
                )
            i = (0, 1) if eng < lo_y else (-2, -1)
            x0, x1, y0, y1 = xs[i[0]], xs[i[1]], ys[i[0]], ys[i[1]]
            return float(x0 + (eng - y0) * (x1 - x0) / (y1 - y0))
        if cal.order == 0:
            k = int(np.searchsorted(ys, eng, side="right")) - 1
            return float(xs[max(k, 0)])
        return float(np.interp(eng, ys, xs))
    raise ValueError(f"unknown calibrator {type(cal).__name__}")


def _poly_root(c: tuple[float, ...], eng: float, lo: float, hi: float) -> float:
    from scipy.optimize import brentq

    coeffs = np.asarray(c[::-1], dtype=np.float64)  # numpy: highest power first
    xs = np.linspace(lo, hi, 4097)
    slope = np.polyval(np.polyder(coeffs), xs)
    if not (np.all(slope >= 0) or np.all(slope <= 0)):
        raise ValueError(f"the polynomial calibrator is not monotonic over raw {lo:g}..{hi:g}")
    f_lo = float(np.polyval(coeffs, lo)) - eng
    f_hi = float(np.polyval(coeffs, hi)) - eng
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if f_lo * f_hi > 0:
        a, b = sorted((f_lo + eng, f_hi + eng))
        raise ValueError(f"outside the calibrated range {a:g}..{b:g}")
    root: float = brentq(lambda x: float(np.polyval(coeffs, x)) - eng, lo, hi, xtol=1e-12)
    return root


# ---------------------------------------------------------------------------------------------
# The encoder


def _fmt_range(r: Range) -> str:
    lo = "-inf" if r.min is None else f"{r.min:g}"
    hi = "inf" if r.max is None else f"{r.max:g}"
    return f"{lo}..{hi}"


def _in_range(v: float, r: Range) -> bool:
    if r.min is not None and (v < r.min if r.min_inclusive else v <= r.min):
        return False
    return not (r.max is not None and (v > r.max if r.max_inclusive else v >= r.max))


def _raw_bounds(enc: Any) -> tuple[float, float]:
    if isinstance(enc, IntegerEncoding):
        n = enc.size_bits
        if enc.encoding == "unsigned":
            return 0.0, float((1 << n) - 1)
        if enc.encoding == "twosComplement":
            return float(-(1 << (n - 1))), float((1 << (n - 1)) - 1)
        return float(-((1 << (n - 1)) - 1)), float((1 << (n - 1)) - 1)
    if isinstance(enc, FloatEncoding):
        big = float(np.finfo(np.float32).max) if enc.size_bits <= 32 else 1e300
        return -big, big
    return -math.inf, math.inf


@dataclass
class _Ctx:
    """State of one encoding: the command, engineering and raw values by argument name."""

    cmd: MetaCommand
    eng: dict[str, Any]
    raw: dict[str, Any]
    params: dict[tuple[str, tuple[str, ...]], str]
    fields: list[EncodedField] = field(default_factory=list)


class CommandEncoder:
    """Encode the commands of a mission database (see the module doc)."""

    def __init__(self, mdb: MissionDatabase, *, ccsds: bool | None = None) -> None:
        self.mdb = mdb
        self.ccsds = ccsds
        self._tm = ContainerEncoder(mdb)

    # -- structure ----------------------------------------------------------------------------

    def command(self, name: str | MetaCommand) -> MetaCommand:
        """Find a command by qualified or short name (``MdbError`` lists near names)."""
        return self.mdb.command(name) if isinstance(name, str) else name

    def chain(self, name: str | MetaCommand) -> list[MetaCommand]:
        """The command and its bases, outermost base first."""
        c = self.command(name)
        out = [c]
        seen = {c.qualified_name}
        while c.base is not None:
            c = self.mdb.commands[c.base]
            if c.qualified_name in seen:
                raise MdbError(f"command {c.qualified_name} inherits from itself")
            seen.add(c.qualified_name)
            out.append(c)
        return out[::-1]

    def assignments(self, name: str | MetaCommand) -> dict[str, str]:
        """Arguments fixed by ``argument_assignments`` in the chain (short name → text)."""
        out: dict[str, str] = {}
        for c in self.chain(name):
            out.update(dict(c.argument_assignments))
        return out

    def arguments(self, name: str | MetaCommand) -> list[Argument]:
        """Every argument of the command and its bases that a user may give (not assigned)."""
        fixed = self.assignments(name)
        out: list[Argument] = []
        for c in self.chain(name):
            out.extend(a for a in c.arguments if a.name not in fixed)
        return out

    def argument_type(self, arg: Argument) -> DataType:
        """The type of an argument (argument types first, then parameter types)."""
        if arg.type is None:
            raise MdbError(f"argument {arg.name} has no type", fix="give it a type in the MDB")
        t = self.mdb.argument_types.get(arg.type) or self.mdb.types.get(arg.type)
        if t is None:
            raise MdbError(f"argument {arg.name}: no type {arg.type!r}")
        return t

    def entries(self, name: str | MetaCommand) -> list[Entry]:
        """Entries of the command's packet in order: base commands' first."""
        chain = self.chain(name)
        out: list[Entry] = []
        root = chain[0]
        if root.container_base is not None and root.container_base in self.mdb.containers:
            for tm in self._tm.chain(root.container_base):
                out.extend(tm.entries)
        for c in chain:
            out.extend(c.entries)
        return out

    # -- validation ---------------------------------------------------------------------------

    def validate(self, name: str | MetaCommand, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check user arguments; return engineering values of every argument (by short name).

        Defaults fill missing arguments, assignments fix base arguments. Raises
        :class:`CommandRejected` naming the argument for an unknown, missing or bad value.
        """
        cmd = self.command(name)
        if cmd.abstract:
            concrete = sorted(short_name(q) for q, c in self.mdb.commands.items() if not c.abstract)
            raise CommandRejected(
                f"{cmd.name} is abstract and cannot be sent; commands: {', '.join(concrete)}"
            )
        fixed = self.assignments(cmd)
        allowed = self.arguments(cmd)
        by_name = {a.name: a for a in allowed}
        all_args = {a.name: a for c in self.chain(cmd) for a in c.arguments}
        for k in args:
            if k in fixed:
                raise CommandRejected(
                    f"{cmd.name}: argument {k} is fixed to {fixed[k]} by the command definition",
                    argument=k,
                )
            if k not in by_name:
                names = ", ".join(by_name) or "none"
                raise CommandRejected(
                    f"{cmd.name}: unknown argument {k}; arguments: {names}", argument=k
                )
        eng: dict[str, Any] = {}
        for k, text in fixed.items():
            a = all_args.get(k)
            if a is None:
                raise MdbError(f"command {cmd.name} assigns {k}, which no base command has")
            eng[k] = self._value(cmd, a.name, self.argument_type(a), text)
        # dynamic sizes: an array/binary argument may imply its size argument
        implied = self._implied_sizes(cmd, allowed, args)
        for a in allowed:
            if a.name in args:
                value = args[a.name]
            elif a.name in implied:
                value = implied[a.name]
            elif a.initial_value is not None:
                value = a.initial_value
            else:
                t = self.argument_type(a)
                raise CommandRejected(
                    f"{cmd.name}: argument {a.name} is missing and has no default; "
                    f"give {a.name}={_describe(t)}",
                    argument=a.name,
                )
            eng[a.name] = self._value(cmd, a.name, self.argument_type(a), value)
        self._check_sizes(cmd, allowed, eng)
        return eng

    def _implied_sizes(
        self, cmd: MetaCommand, allowed: list[Argument], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in allowed:
            if a.name not in args:
                continue
            t = self.argument_type(a)
            dyn = None
            n: int | None = None
            if isinstance(t, ArrayType) and t.dimensions and t.dimensions[0].dynamic_size:
                dyn = t.dimensions[0].dynamic_size
                v = args[a.name]
                n = len(v) if isinstance(v, list | tuple) else None
            elif isinstance(t, BinaryType) and isinstance(t.encoding, BinaryEncoding):
                dyn = t.encoding.dynamic_size
                try:
                    n = 8 * len(_as_bytes(args[a.name]))
                except (ValueError, TypeError):
                    n = None
            if dyn is not None and n is not None and dyn.ref.argument:
                target = dyn.ref.parameter
                if target not in args and dyn.slope:
                    out[target] = round((n - dyn.intercept) / dyn.slope)
        return out

    def _check_sizes(self, cmd: MetaCommand, allowed: list[Argument], eng: dict[str, Any]) -> None:
        for a in allowed:
            t = self.argument_type(a)
            dyn = None
            n = None
            if isinstance(t, ArrayType) and t.dimensions and t.dimensions[0].dynamic_size:
                dyn, n = t.dimensions[0].dynamic_size, len(eng[a.name])
            elif isinstance(t, BinaryType) and isinstance(t.encoding, BinaryEncoding):
                dyn, n = t.encoding.dynamic_size, 8 * len(eng[a.name])
            if dyn is None or n is None or dyn.ref.parameter not in eng:
                continue
            want = eng[dyn.ref.parameter] * dyn.slope + dyn.intercept
            if want != n:
                unit = "elements" if isinstance(t, ArrayType) else "bits"
                raise CommandRejected(
                    f"{cmd.name}: argument {a.name} has {n} {unit} but {dyn.ref.parameter} = "
                    f"{eng[dyn.ref.parameter]} says {want:g}",
                    argument=a.name,
                )

    def _value(self, cmd: MetaCommand, name: str, t: DataType, value: Any) -> Any:
        """Parse and check one engineering value; return it in canonical form."""

        def bad(why: str) -> CommandRejected:
            return CommandRejected(f"{cmd.name}: argument {name} = {value!r} {why}", argument=name)

        if isinstance(t, IntegerType | FloatType):
            try:
                if isinstance(value, str):
                    v: float = (
                        int(value, 0)
                        if isinstance(t, IntegerType)
                        and value.strip().lower().startswith(("0x", "0b", "0o"))
                        else float(value)
                    )
                elif isinstance(value, bool):
                    raise TypeError
                else:
                    v = float(value) if isinstance(t, FloatType) else value
            except (ValueError, TypeError):
                kind = "an integer" if isinstance(t, IntegerType) else "a number"
                raise bad(f"is not {kind}") from None
            if isinstance(t, IntegerType):
                if isinstance(v, float):
                    if not v.is_integer():
                        raise bad("is not an integer")
                    v = int(v)
                if not isinstance(v, int | np.integer):
                    raise bad("is not an integer")
                v = int(v)
            elif not math.isfinite(v):
                raise bad("is not a finite number")
            unit = f" {t.unit}" if t.unit else ""
            if t.valid_range is not None and not _in_range(float(v), t.valid_range):
                # as given: ``f"{v:g}"`` would print 40.000001 as 40, inside -20..40
                shown = value.strip() if isinstance(value, str) else str(value)
                raise CommandRejected(
                    f"{cmd.name}: argument {name} = {shown} is outside "
                    f"{_fmt_range(t.valid_range)}{unit}",
                    argument=name,
                )
            return v
        if isinstance(t, EnumeratedType):
            labels = [ev.label for ev in t.values]
            if isinstance(value, str) and value in labels:
                return value
            if isinstance(value, str):
                hits = [lab for lab in labels if lab.lower() == value.lower()]
                if len(hits) == 1:
                    return hits[0]
            raise bad(f"is not one of {', '.join(labels)}")
        if isinstance(t, BooleanType):
            if isinstance(value, bool | np.bool_):
                return bool(value)
            if isinstance(value, str):
                s = value.strip()
                if s == t.one_string or s.lower() in ("true", "1", "on", "yes"):
                    return True
                if s == t.zero_string or s.lower() in ("false", "0", "off", "no"):
                    return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise bad(f"is not a boolean ({t.one_string}/{t.zero_string}, true/false)")
        if isinstance(t, StringType):
            if not isinstance(value, str):
                raise bad("is not a string")
            self._check_length(cmd, name, t, value, len(value.encode(_charset(t))))
            return value
        if isinstance(t, BinaryType):
            try:
                data = _as_bytes(value)
            except (ValueError, TypeError):
                raise bad("is not bytes or hex text") from None
            self._check_length(cmd, name, t, value, len(data))
            return data
        if isinstance(t, ArrayType):
            items = _parse_list(value)
            if items is None:
                raise bad("is not a list")
            et = self.mdb.argument_types.get(t.element_type) or self.mdb.types[t.element_type]
            if t.dimensions and t.dimensions[0].size is not None:
                size = 1
                for d in t.dimensions:
                    size *= d.size or 0
                if len(items) != size:
                    raise bad(f"has {len(items)} elements; {size} expected")
            return [self._value(cmd, f"{name}[{i}]", et, x) for i, x in enumerate(items)]
        if isinstance(t, AggregateType):
            if isinstance(value, str):
                import json

                try:
                    value = json.loads(value)
                except ValueError:
                    raise bad("is not a JSON object of members") from None
            if not isinstance(value, Mapping):
                raise bad("is not a mapping of members")
            names = [m.name for m in t.members]
            extra = set(value) - set(names)
            if extra:
                raise bad(f"has unknown member(s) {', '.join(sorted(extra))}; members: {names}")
            out = {}
            for m in t.members:
                if m.name not in value:
                    raise bad(f"lacks member {m.name}")
                mt = self.mdb.argument_types.get(m.type) or self.mdb.types[m.type]
                out[m.name] = self._value(cmd, f"{name}.{m.name}", mt, value[m.name])
            return out
        if isinstance(t, RelativeTimeType | AbsoluteTimeType):
            try:
                return float(value)
            except (TypeError, ValueError):
                raise bad("is not a number of seconds") from None
        raise bad(f"has an unsupported type {type(t).__name__}")

    def _check_length(
        self, cmd: MetaCommand, name: str, t: StringType | BinaryType, value: Any, n: int
    ) -> None:
        enc = t.encoding
        limit: int | None = None
        if isinstance(enc, StringEncoding | BinaryEncoding):
            if enc.fixed_size_bits is not None and enc.fixed_size_bits > 0:
                limit = enc.fixed_size_bits // 8
            elif enc.leading_size_bits:
                limit = (1 << enc.leading_size_bits) - 1
            if isinstance(enc, StringEncoding) and enc.max_size_bits:
                limit = min(limit or enc.max_size_bits // 8, enc.max_size_bits // 8)
        lo, hi = 0, limit
        if t.size_range is not None:
            lo = int(t.size_range.min or 0)
            if t.size_range.max is not None:
                hi = int(t.size_range.max) if hi is None else min(hi, int(t.size_range.max))
        for k, v in t.ancillary:  # Yamcs convention for binaries: minLength/maxLength
            if k == "Yamcs" and v.startswith("minLength="):
                lo = int(v.split("=", 1)[1])
            if k == "Yamcs" and v.startswith("maxLength="):
                hi = int(v.split("=", 1)[1])
        if n < lo or (hi is not None and n > hi):
            allowed = f"{lo}..{hi}" if hi is not None else f"at least {lo}"
            shown = value if len(str(value)) <= 40 else str(value)[:37] + "..."
            raise CommandRejected(
                f"{cmd.name}: argument {name} = {shown!r} is {n} bytes long; "
                f"allowed {allowed} bytes",
                argument=name,
            )

    # -- raw values ---------------------------------------------------------------------------

    def _raw(self, cmd: MetaCommand, name: str, t: DataType, eng: Any) -> Any:
        if isinstance(t, IntegerType | FloatType):
            enc = t.encoding
            raw: float = float(eng)
            if t.calibrator is not None:
                lo, hi = _raw_bounds(enc)
                try:
                    raw = inverse_calibrate(t.calibrator, float(eng), lo, hi)
                except ValueError as exc:
                    raise CommandRejected(
                        f"{cmd.name}: argument {name} = {eng:g}: {exc}", argument=name
                    ) from None
            if isinstance(enc, IntegerEncoding):
                r = round(raw)
                lo, hi = _raw_bounds(enc)
                if not lo <= r <= hi:
                    raise CommandRejected(
                        f"{cmd.name}: argument {name} = {eng} needs raw value {r}, outside the "
                        f"{enc.size_bits}-bit {enc.encoding} range {lo:.0f}..{hi:.0f}",
                        argument=name,
                    )
                return int(r) if t.calibrator is not None or isinstance(eng, float) else int(eng)
            return raw
        if isinstance(t, EnumeratedType):
            return next(ev.value for ev in t.values if ev.label == eng)
        if isinstance(t, BooleanType):
            if isinstance(t.encoding, StringEncoding):
                return t.one_string if eng else t.zero_string
            return 1 if eng else 0
        if isinstance(t, ArrayType):
            et = self.mdb.argument_types.get(t.element_type) or self.mdb.types[t.element_type]
            return [self._raw(cmd, f"{name}[{i}]", et, x) for i, x in enumerate(eng)]
        if isinstance(t, AggregateType):
            out = {}
            for m in t.members:
                mt = self.mdb.argument_types.get(m.type) or self.mdb.types[m.type]
                out[m.name] = self._raw(cmd, f"{name}.{m.name}", mt, eng[m.name])
            return out
        if isinstance(t, RelativeTimeType | AbsoluteTimeType):
            return (float(eng) - t.offset) / t.scale
        return eng

    # -- encoding -----------------------------------------------------------------------------

    def encode(
        self,
        name: str | MetaCommand,
        args: Mapping[str, Any] | None = None,
        *,
        seq_count: int = 0,
    ) -> EncodedCommand:
        """Validate ``args`` (engineering values or their text) and return the packet.

        ``seq_count`` goes into a CCSDS header's sequence count field (0..16383).
        """
        cmd = self.command(name)
        eng = self.validate(cmd, args or {})
        types = {a.name: self.argument_type(a) for c in self.chain(cmd) for a in c.arguments}
        raw = {k: self._raw(cmd, k, types[k], v) for k, v in eng.items()}
        params: dict[tuple[str, tuple[str, ...]], str] = {}
        root = self.chain(cmd)[0]
        if root.container_base is not None and root.container_base in self.mdb.containers:
            for tm in self._tm.chain(root.container_base):
                if tm.restriction is not None:
                    _restriction_values(tm.restriction, params)
        for c in self.chain(cmd):
            if c.container_restriction is not None:
                _restriction_values(c.container_restriction, params)
        ctx = _Ctx(cmd, eng, raw, params)
        w = BitWriter()
        try:
            self._entries(w, self.entries(cmd), ctx, types)
        except EncodeError as exc:
            raise CommandRejected(f"{cmd.name}: {exc}") from None
        data = w.to_bytes()
        crc = any(c.crc for c in self.chain(cmd))
        ccsds = self.ccsds if self.ccsds is not None else _is_ccsds(ctx.fields)
        apid = None
        if ccsds:
            total = len(data) + (2 if crc else 0)
            if total < 7 or total - 7 > 0xFFFF:
                raise CommandRejected(f"{cmd.name}: a space packet must be 7..65542 bytes")
            b = bytearray(data)
            b[4:6] = (total - 7).to_bytes(2, "big")
            data = bytes(b) + (b"\0\0" if crc else b"")
            data = set_sequence_count(data, seq_count, crc=crc)
            apid = ((data[0] & 0x07) << 8) | data[1]
        elif crc:
            from falak.ccsds.crc import crc16_ccitt

            data = data + crc16_ccitt(data).to_bytes(2, "big")
        fields = [
            EncodedField(f.name, f.offset_bits, f.size_bits, _read_bits(data, f), f.eng)
            if isinstance(f.raw, int)
            else f
            for f in ctx.fields
        ]
        if crc:
            n = 8 * (len(data) - 2)
            fields.append(EncodedField("crc", n, 16, int.from_bytes(data[-2:], "big")))
        return EncodedCommand(
            command=cmd.qualified_name,
            arguments=eng,
            raw=raw,
            binary=data,
            fields=tuple(fields),
            ccsds=ccsds,
            crc=crc,
            apid=apid,
            seq_count=seq_count if ccsds else None,
        )

    def _entries(
        self, w: BitWriter, entries: Sequence[Entry], ctx: _Ctx, types: dict[str, DataType]
    ) -> None:
        cstart = w.nbits
        for e in entries:
            if e.include_if is not None and not _holds(e.include_if, ctx, self.mdb):
                continue
            if e.location is not None:
                ref = e.location.reference
                base = (
                    w.nbits if ref == "previousEntry" else (0 if ref == "packetStart" else cstart)
                )
                target = base + e.location.offset_bits
                if target < w.nbits:
                    raise EncodeError("entries that overlap earlier ones cannot be encoded")
                w.pad_to(target)
            count = 1
            if e.repeat is not None:
                if not isinstance(e.repeat.count, int):
                    raise EncodeError("repeated command entries need a fixed count")
                count = e.repeat.count
            for r in range(count):
                if r and e.repeat is not None:
                    w.write(0, e.repeat.offset_bits)
                start = w.nbits
                if isinstance(e, ArgumentEntry):
                    n = short_name(e.argument)
                    if n not in ctx.raw:
                        raise EncodeError(f"no value for argument {n}")
                    self._write(w, types[n], ctx.raw[n])
                    ctx.fields.append(
                        EncodedField(n, start, w.nbits - start, _scalar(ctx.raw[n]), ctx.eng[n])
                    )
                elif isinstance(e, FixedValueEntry):
                    v = int.from_bytes(e.value, "big") if e.value else 0
                    w.write(v, e.size_bits)
                    ctx.fields.append(EncodedField(e.name or "fixed", start, e.size_bits, v))
                elif isinstance(e, ParameterEntry):
                    p = self.mdb.parameters[e.parameter]
                    pt = self.mdb.types.get(p.type) if p.type else None
                    if pt is None:
                        raise EncodeError(f"parameter {p.name} has no type")
                    value = self._header_value(ctx, p.qualified_name, (), pt)
                    self._write(w, pt, value)
                    ctx.fields.append(EncodedField(p.name, start, w.nbits - start, _scalar(value)))
                elif isinstance(e, ContainerEntry):
                    sub = self.mdb.containers[e.container]
                    self._entries(w, sub.entries, ctx, types)

    def _header_value(self, ctx: _Ctx, param: str, member: tuple[str, ...], t: DataType) -> Any:
        """Raw value of a parameter (or member) in a command packet: from the restrictions of
        the chain, else its type's initial value, else 0 (lengths and counts filled later)."""
        if isinstance(t, AggregateType):
            out = {}
            for m in t.members:
                mt = self.mdb.types.get(m.type) or self.mdb.argument_types[m.type]
                out[m.name] = self._header_value(ctx, param, (*member, m.name), mt)
            return out
        text = ctx.params.get((param, member))
        if text is None:
            text = getattr(t, "initial_value", None)
        if text is None:
            return 0
        name = "/".join((short_name(param), *member))
        return self._raw(ctx.cmd, name, t, self._value(ctx.cmd, name, t, text))

    def _write(self, w: BitWriter, t: DataType, raw: Any) -> None:
        if isinstance(t, ArrayType):
            et = self.mdb.argument_types.get(t.element_type) or self.mdb.types[t.element_type]
            for x in raw:
                self._write(w, et, x)
            return
        if isinstance(t, AggregateType):
            for m in t.members:
                mt = self.mdb.argument_types.get(m.type) or self.mdb.types[m.type]
                self._write(w, mt, raw[m.name] if isinstance(raw, Mapping) else 0)
            return
        if isinstance(t, AbsoluteTimeType) and t.timecode is not None:
            write_timecode(w, t.timecode, float(raw))  # seconds since the code's epoch
            return
        enc = t.encoding
        if enc is None:
            raise EncodeError(f"type {t.name} has no data encoding")
        if isinstance(enc, IntegerEncoding):
            w.write(encode_integer(int(raw), enc), enc.size_bits)
            return
        if isinstance(enc, BinaryEncoding) and (enc.fixed_size_bits or 0) < 0:
            w.write_bytes(bytes(raw))  # size given by the value (Yamcs minLength/maxLength)
            return
        self._tm.write_encoded(w, enc, raw, {})


def _describe(t: DataType) -> str:
    if isinstance(t, EnumeratedType):
        return "one of " + ", ".join(ev.label for ev in t.values)
    if isinstance(t, IntegerType | FloatType):
        r = f" in {_fmt_range(t.valid_range)}" if t.valid_range else ""
        return (
            ("an integer" if isinstance(t, IntegerType) else "a number")
            + r
            + (f" {t.unit}" if t.unit else "")
        )
    if isinstance(t, BooleanType):
        return f"{t.one_string} or {t.zero_string}"
    return f"a {type(t).__name__.removesuffix('Type').lower()} value"


def _charset(t: StringType) -> str:
    return t.encoding.charset if isinstance(t.encoding, StringEncoding) else "utf-8"


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x").replace(" ", ""))
    raise TypeError("not bytes")


def _parse_list(value: Any) -> list[Any] | None:
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist"):
        out = value.tolist()
        return out if isinstance(out, list) else None
    if isinstance(value, str):
        import json

        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = [x for x in value.strip("[]").split(",") if x.strip()]
        return parsed if isinstance(parsed, list) else None
    return None


def _scalar(v: Any) -> Any:
    return v if isinstance(v, int | float | str | bytes) else repr(v)


def _read_bits(data: bytes, f: EncodedField) -> int:
    if f.size_bits == 0:
        return 0
    nbytes = (f.offset_bits + f.size_bits + 7) // 8
    word = int.from_bytes(data[:nbytes], "big")
    return (word >> (8 * nbytes - f.offset_bits - f.size_bits)) & ((1 << f.size_bits) - 1)


def _is_ccsds(fields: list[EncodedField]) -> bool:
    """True when a field named like a packet length spans bits 32..48 (CCSDS primary header)."""
    for f in fields:
        if f.offset_bits == 32 and f.size_bits == 16:
            return f.name.lower() in _LENGTH_NAMES or f.name.lower().endswith("_length")
    return False


def _restriction_values(cond: Condition, out: dict[tuple[str, tuple[str, ...]], str]) -> None:
    """Collect ``parameter[.member] == value`` terms (as text) of a restriction."""
    if isinstance(cond, Comparison) and cond.operator == "==":
        out[(cond.ref.parameter, cond.ref.member)] = cond.value
    elif isinstance(cond, AllOf):
        for c in cond.conditions:
            _restriction_values(c, out)


def _holds(cond: Condition, ctx: _Ctx, mdb: MissionDatabase) -> bool:
    """Evaluate an include condition on the command's arguments (engineering values)."""
    if isinstance(cond, Comparison):
        name = short_name(cond.ref.parameter)
        vals = ctx.eng if cond.ref.calibrated else ctx.raw
        if name not in vals:
            return False
        v = vals[name]
        target: Any = cond.value
        if isinstance(v, bool):
            target = cond.value.strip().lower() in ("1", "true", "on", "yes")
        elif isinstance(v, int | float):
            try:
                target = float(cond.value)
            except ValueError:
                return False
        ops = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        try:
            return bool(ops[cond.operator](v, target))
        except TypeError:
            return False
    if isinstance(cond, AllOf):
        return all(_holds(c, ctx, mdb) for c in cond.conditions)
    if isinstance(cond, AnyOf):
        return any(_holds(c, ctx, mdb) for c in cond.conditions)
    if isinstance(cond, Not):
        return not _holds(cond.condition, ctx, mdb)
    return False
