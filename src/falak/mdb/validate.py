"""Semantic checks of a mission database, independent of the format it was loaded from.

Both loaders (native YAML and XTCE) call :func:`validate` after building the model. It finds
what a parser cannot see on its own: references to items that do not exist, cycles of
inheritance or nesting, restrictions on parameters the base container never decodes, alarm
ranges in the wrong order, spline tables out of order, and sizes read from parameters that are
not decoded before they are needed. Each error names the item's source (file, line, XPath) and
the fix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Iterable, Iterator

import numpy as np

from falak.errors import InputError, MdbError, TimeCodeError
from falak.mdb.functions import ENTRY_POINT_GROUP, is_known_function
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    AlarmRanges,
    AllOf,
    AnyOf,
    ArgumentEntry,
    ArrayType,
    BinaryEncoding,
    BinaryType,
    BooleanType,
    Calibrator,
    CdsTimeCode,
    Comparison,
    Condition,
    ContainerEntry,
    ContextCalibrator,
    CucTimeCode,
    DataEncoding,
    DataType,
    Dimension,
    DynamicValue,
    Entry,
    EnumeratedType,
    EnumerationAlarm,
    FixedValueEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MetaCommand,
    MissionDatabase,
    Not,
    NumericAlarm,
    ParameterEntry,
    ParameterRef,
    PolynomialCalibrator,
    Range,
    RelativeTimeType,
    SequenceContainer,
    SourceLocation,
    SplineCalibrator,
    StringEncoding,
    StringType,
)
from falak.mdb.packettime import RECIPES, PacketTimeRecipe
from falak.timecodes import epoch_seconds_to_datetime64

__all__ = ["MAX_PACKET_BITS", "validate"]

#: The largest CCSDS space packet in bits: a 6-octet primary header and at most 65,536 octets of
#: data (CCSDS 133.0-B-2 §4.1.3.5.3). No offset, field, count or array of a packet is larger;
#: bounding them keeps the decoder's bit positions far from overflowing.
MAX_PACKET_BITS = 65_542 * 8
_MAX = f"{MAX_PACKET_BITS:,} bits, the largest CCSDS packet"
#: the texts the decoder reads as a boolean (falak.tm.decoder._comparison_value)
_BOOLEAN_WORDS = ("1", "true", "on", "yes", "0", "false", "off", "no")

_STAGES = (
    "transferred",
    "sent",
    "received",
    "accepted",
    "queued",
    "execution",
    "started",
    "complete",
    "failed",
)


def validate(mdb: MissionDatabase, *, known_missing: Collection[str] = ()) -> list[MdbError]:
    """Check a mission database for semantic errors; return them all (empty when it is sound).

    Parameters
    ----------
    mdb
        The database, with its flat indexes built (``mdb.index()``).
    known_missing
        Qualified names a loader already reported as unresolved; references to them are not
        reported a second time.
    """
    checker = _Checker(mdb, set(known_missing))
    checker.run()
    return checker.errors


def conditions_refs(cond: Condition | None) -> Iterator[ParameterRef]:
    """Yield every parameter reference of a condition tree."""
    if cond is None:
        return
    if isinstance(cond, Comparison):
        yield cond.ref
    elif isinstance(cond, AllOf | AnyOf):
        for c in cond.conditions:
            yield from conditions_refs(c)
    elif isinstance(cond, Not):
        yield from conditions_refs(cond.condition)


def _decoder_number(text: str) -> float | None:
    """The number the decoder compares with for ``text``, or None when it reads no number."""
    try:
        if text.strip().lower().startswith(("0x", "0b")):
            return float(int(text, 0))
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _finite(*values: float | None) -> bool:
    return all(v is None or math.isfinite(v) for v in values)


def _fmt_range(r: Range) -> str:
    lo = "-inf" if r.min is None else f"{r.min:g}"
    hi = "+inf" if r.max is None else f"{r.max:g}"
    return f"[{lo}, {hi}]"


def _inside(inner: Range, outer: Range) -> bool:
    """True when ``inner`` lies within ``outer`` (open bounds are infinite)."""
    if outer.min is not None and (inner.min is None or inner.min < outer.min):
        return False
    return not (outer.max is not None and (inner.max is None or inner.max > outer.max))


class _Checker:
    def __init__(self, mdb: MissionDatabase, known_missing: set[str]) -> None:
        self.mdb = mdb
        self.known_missing = known_missing
        self.errors: list[MdbError] = []
        self._cycles_seen: set[frozenset[str]] = set()

    # -- helpers ----------------------------------------------------------------------------

    def err(
        self, src: SourceLocation | None, message: str, fix: str, severity: str = "error"
    ) -> None:
        self.errors.append(
            MdbError(
                message,
                file=src.file if src else self.mdb.source_file,
                line=src.line if src else None,
                xpath=src.xpath if src else None,
                fix=fix,
                severity=severity,
            )
        )

    def warn(self, src: SourceLocation | None, message: str, fix: str) -> None:
        """Legal XTCE that falak decodes only best-effort: reported, but the load goes on."""
        self.err(src, message, fix, severity="warning")

    def missing(self, name: str) -> bool:
        return name in self.known_missing

    def lookup_type(self, name: str, arg: bool) -> DataType | None:
        if arg and name in self.mdb.argument_types:
            return self.mdb.argument_types[name]
        return self.mdb.types.get(name)

    def check_ref(
        self,
        ref: ParameterRef,
        src: SourceLocation | None,
        where: str,
        arg_names: Collection[str] | None = None,
    ) -> None:
        """Check that a parameter (or argument) reference exists, with its member path."""
        if ref.argument:
            if arg_names is not None and ref.parameter not in arg_names:
                self.err(
                    src,
                    f"{where} refers to argument {ref.parameter!r}, which the command lacks",
                    "use one of the command's arguments: " + ", ".join(sorted(arg_names)),
                )
            return
        if ref.parameter not in self.mdb.parameters:
            if not self.missing(ref.parameter):
                self.err(
                    src,
                    f"{where} refers to parameter {ref.parameter!r}, which does not exist",
                    "define the parameter or correct the name",
                )
            return
        if ref.member:
            ptype = self.mdb.parameters[ref.parameter].type
            t = self.mdb.types.get(ptype) if ptype else None
            for m in ref.member:
                if not isinstance(t, AggregateType):
                    self.err(
                        src,
                        f"{where} refers to member {'.'.join(ref.member)!r} of "
                        f"{ref.parameter!r}, which is not an aggregate there",
                        "remove the member path or give the parameter an aggregate type",
                    )
                    return
                names = {mm.name: mm.type for mm in t.members}
                if m not in names:
                    self.err(
                        src,
                        f"{where} refers to member {m!r} of {ref.parameter!r}, "
                        "which does not exist",
                        "use one of the members: " + ", ".join(names),
                    )
                    return
                t = self.mdb.types.get(names[m])

    def check_condition(
        self,
        cond: Condition | None,
        src: SourceLocation | None,
        where: str,
        arg_names: Collection[str] | None = None,
        *,
        command_refs: bool = False,
    ) -> None:
        """Check a condition tree; ``command_refs``: a verifier's, whose values may be
        ``$seq_count`` or ``$args.NAME`` (the command being verified)."""
        if cond is None:
            return
        if isinstance(cond, AllOf | AnyOf):
            if not cond.conditions:
                self.err(src, f"{where} has an empty list of conditions", "give at least one")
            for c in cond.conditions:
                self.check_condition(c, src, where, arg_names, command_refs=command_refs)
            return
        if isinstance(cond, Not):
            self.check_condition(cond.condition, src, where, arg_names, command_refs=command_refs)
            return
        self.check_ref(cond.ref, src, where, arg_names)
        if cond.value.startswith("$"):
            allowed = ["$seq_count", *(f"$args.{a}" for a in sorted(arg_names or ()))]
            if not command_refs:
                self.err(
                    src,
                    f"{where} compares with {cond.value!r}, a reference to a command; only "
                    "command verifiers can use those",
                    "compare with a value, or quote it if it is a text",
                )
            elif cond.value not in allowed:
                self.err(
                    src,
                    f"{where} compares with {cond.value!r}, which the command does not have",
                    "use one of: " + ", ".join(allowed),
                )
            return
        if not cond.ref.argument:
            self.check_comparison_value(cond.ref, cond.value, src, where)

    def check_comparison_value(
        self, ref: ParameterRef, value: str, src: SourceLocation | None, where: str
    ) -> None:
        """A comparison's value must be one the decoder can compare with (a number for
        numbers, a label for enumerations, hex for binaries, an ISO time for times):
        otherwise every packet silently fails the condition, or decoding raises."""
        t = self.resolve_ref_type(ref)
        if t is None:
            return
        name = ref.parameter + "".join("." + m for m in ref.member)
        shown = name if ref.calibrated else f"raw({name})"
        enc = getattr(t, "encoding", None)
        numeric = isinstance(enc, IntegerEncoding | FloatEncoding)
        if isinstance(t, EnumeratedType):
            labels = [v.label for v in t.values]
            if ref.calibrated and t.values and value not in labels:
                self.err(
                    src,
                    f"{where} compares {name!r} with {value!r}, which is not one of its labels",
                    "use one of " + ", ".join(labels) + " (or compare the raw value)",
                )
            elif not ref.calibrated and numeric and value not in labels:
                self.check_number(value, shown, src, where)
            return
        if isinstance(t, BinaryType):
            try:
                bytes.fromhex(value.removeprefix("0x"))
            except ValueError:
                self.err(
                    src,
                    f"{where} compares {shown!r} with {value!r}, which is not hex bytes",
                    "write the bytes in hex, e.g. 0A1B",
                )
            return
        if isinstance(t, BooleanType) and ref.calibrated:
            words = (*_BOOLEAN_WORDS, t.one_string.lower(), t.zero_string.lower())
            if value.strip().lower() not in words:
                self.err(
                    src,
                    f"{where} compares {shown!r} with {value!r}, which is not a boolean",
                    f"write {t.one_string} or {t.zero_string} (or true/false, 1/0)",
                )
            return
        if isinstance(t, AbsoluteTimeType) and ref.calibrated:
            try:
                np.datetime64(value.rstrip("Z"), "ns")
            except ValueError:
                self.err(
                    src,
                    f"{where} compares {shown!r} with {value!r}, which is not an ISO 8601 time",
                    "write a UTC time such as 2026-01-01T00:00:00Z",
                )
            return
        if numeric and (
            isinstance(t, IntegerType | FloatType | RelativeTimeType) or not ref.calibrated
        ):
            self.check_number(value, shown, src, where)

    def check_number(self, value: str, shown: str, src: SourceLocation | None, where: str) -> None:
        if _decoder_number(value) is not None:
            return
        if value.lstrip()[:1] in ("=", "<", ">", "!"):
            fix = "use one of == != < <= > >= between the name and a number ('not equal' is !=)"
        elif not value.strip():
            fix = "give the number to compare with, e.g. APID == 100"
        else:
            fix = "write a number (100, 2.5, 0x64); remove anything after it"
        self.err(src, f"{where} compares {shown!r} with {value!r}, which is not a number", fix)

    def resolve_ref_type(self, ref: ParameterRef) -> DataType | None:
        p = self.mdb.parameters.get(ref.parameter)
        if p is None or p.type is None:
            return None
        t: DataType | None = self.mdb.types.get(p.type)
        for m in ref.member:
            if not isinstance(t, AggregateType):
                return None
            names = {mm.name: mm.type for mm in t.members}
            t = self.mdb.types.get(names.get(m, ""))
        return t

    # -- the checks ---------------------------------------------------------------------------

    def run(self) -> None:
        for qn, t in self.mdb.types.items():
            self.check_type(qn, t, arg=False)
        for qn, t in self.mdb.argument_types.items():
            self.check_type(qn, t, arg=True)
        self.check_type_nesting()
        self.check_parameters()
        self.check_containers()
        self.check_commands()
        self.check_packet_time()

    # types

    def check_type(self, qn: str, t: DataType, arg: bool) -> None:
        src = t.source
        what = ("argument type " if arg else "type ") + qn
        enc = getattr(t, "encoding", None)
        if enc is not None:
            self.check_encoding(enc, src, what, arg)
        cal = getattr(t, "calibrator", None)
        if cal is not None:
            self.check_calibrator(cal, src, what)
        if isinstance(t, IntegerType | FloatType):
            if t.valid_range is not None:
                self.check_range(t.valid_range, src, what + " valid range")
            if t.alarm is not None:
                self.check_numeric_alarm(t.alarm, src, what)
        if isinstance(t, EnumeratedType):
            self.check_enumeration(t, src, what)
        if isinstance(t, StringType | BinaryType) and t.size_range is not None:
            self.check_range(t.size_range, src, what + " size range")
        if isinstance(t, AbsoluteTimeType):
            self.check_time(t, src, what)
        if isinstance(t, AbsoluteTimeType | RelativeTimeType) and not _finite(t.scale, t.offset):
            self.err(
                src,
                f"{what}: scale {t.scale:g} and offset {t.offset:g} s must be finite",
                "give finite numbers (seconds = raw * scale + offset)",
            )
        if isinstance(t, AggregateType):
            seen: set[str] = set()
            for m in t.members:
                if m.name in seen:
                    self.err(src, f"{what} has two members named {m.name!r}", "rename one")
                seen.add(m.name)
                if self.lookup_type(m.type, arg) is None and not self.missing(m.type):
                    self.err(
                        src,
                        f"{what}: member {m.name!r} has type {m.type!r}, which does not exist",
                        "define that type or correct the name",
                    )
        if isinstance(t, ArrayType):
            if self.lookup_type(t.element_type, arg) is None and not self.missing(t.element_type):
                self.err(
                    src,
                    f"{what}: element type {t.element_type!r} does not exist",
                    "define that type or correct the name",
                )
            self.check_dimensions(t.dimensions, src, what)
            for d in t.dimensions:
                if d.dynamic_size is not None:
                    self.check_dynamic(d.dynamic_size, src, what + " dimension", arg)
                elif d.size is None or d.size < 0:
                    self.err(
                        src,
                        f"{what} has a dimension with neither a size nor a count parameter",
                        "give the dimension a number of elements or a parameter to read it from",
                    )

    def check_dynamic(
        self, dv: DynamicValue, src: SourceLocation | None, what: str, arg: bool
    ) -> None:
        self.check_slope(dv, src, what)
        ref = dv.ref
        if arg and (ref.argument or ref.parameter not in self.mdb.parameters):
            return  # argument types size from arguments, checked against each command
        self.check_ref(ref, src, what)

    def check_slope(self, dv: DynamicValue, src: SourceLocation | None, what: str) -> None:
        if not _finite(dv.slope, dv.intercept):
            self.err(
                src,
                f"{what}: slope {dv.slope:g} and intercept {dv.intercept:g} must be finite",
                "give finite numbers (size = value * slope + intercept)",
            )

    def check_bits(self, bits: int, src: SourceLocation | None, what: str) -> None:
        """A size or offset in bits of a packet field must fit in a packet."""
        if abs(bits) > MAX_PACKET_BITS:
            self.err(
                src,
                f"{what} of {bits:,} bits is larger than {_MAX}",
                f"give at most {MAX_PACKET_BITS:,} bits (CCSDS 133.0-B-2)",
            )

    def check_dimensions(
        self, dims: Iterable[Dimension], src: SourceLocation | None, what: str
    ) -> None:
        """Fixed dimensions whose elements could not fit in a packet (each element is at
        least one bit; the decoder makes one entry per element)."""
        count = math.prod(d.size for d in dims if d.size is not None and d.dynamic_size is None)
        if count > MAX_PACKET_BITS:
            self.err(
                src,
                f"{what} has {count:,} elements, more than fit in {_MAX}",
                "give the number of elements of each dimension (or read it from a parameter)",
            )

    def check_encoding(
        self, enc: DataEncoding, src: SourceLocation | None, what: str, arg: bool
    ) -> None:
        if isinstance(enc, IntegerEncoding):
            if not 1 <= enc.size_bits <= 64:
                self.err(
                    src, f"{what}: integer encoding of {enc.size_bits} bits", "use 1 to 64 bits"
                )
            if enc.encoding != "unsigned" and enc.size_bits < 2:
                self.err(
                    src,
                    f"{what}: a signed integer needs at least 2 bits",
                    "use 2 to 64 bits or make it unsigned",
                )
            self.check_byte_order(enc.byte_order, enc.size_bits, src, what)
        elif isinstance(enc, FloatEncoding):
            allowed = (16, 32, 64) if enc.encoding == "IEEE754" else (32, 48)
            if enc.size_bits not in allowed:
                self.err(
                    src,
                    f"{what}: {enc.encoding} float of {enc.size_bits} bits",
                    "use " + " or ".join(str(a) for a in allowed) + " bits",
                )
            self.check_byte_order(enc.byte_order, enc.size_bits, src, what)
        elif isinstance(enc, StringEncoding | BinaryEncoding):
            fixed = enc.fixed_size_bits is not None
            dyn = enc.dynamic_size is not None
            lead = enc.leading_size_bits is not None
            term = isinstance(enc, StringEncoding) and enc.terminator is not None
            kind = "string" if isinstance(enc, StringEncoding) else "binary"
            # a leading size tag or a terminator may sit inside a fixed or dynamic buffer
            if (fixed and dyn) or not (fixed or dyn or lead or term):
                ways = "a fixed size, a size parameter or a leading size tag"
                if kind == "string":
                    ways += ", or a terminator alone"
                self.err(
                    src,
                    f"{what}: the {kind} encoding must be sized in exactly one way",
                    "give " + ways,
                )
            # -1 is the Yamcs convention for "as long as the argument value given"
            if enc.fixed_size_bits is not None and enc.fixed_size_bits < (-1 if arg else 0):
                self.err(src, f"{what}: negative size", "give a size in bits >= 0")
            elif enc.fixed_size_bits is not None:
                self.check_bits(enc.fixed_size_bits, src, f"{what}: {kind} encoding")
            if enc.leading_size_bits is not None and not 1 <= enc.leading_size_bits <= 64:
                self.err(
                    src,
                    f"{what}: leading size tag of {enc.leading_size_bits} bits",
                    "use a tag of 1 to 64 bits",
                )
            if enc.dynamic_size is not None:
                self.check_dynamic(enc.dynamic_size, src, what + " size", arg)

    def check_byte_order(
        self, order: tuple[int, ...] | None, size_bits: int, src: SourceLocation | None, what: str
    ) -> None:
        if order is None:
            return
        if size_bits % 8 or sorted(order) != list(range(size_bits // 8)):
            self.err(
                src,
                f"{what}: byte order {list(order)} does not fit {size_bits} bits",
                f"list each of the {max(1, size_bits // 8)} byte significances 0.."
                f"{max(0, size_bits // 8 - 1)} once (the size must be whole bytes)",
            )

    def check_calibrator(self, cal: Calibrator, src: SourceLocation | None, what: str) -> None:
        if isinstance(cal, PolynomialCalibrator):
            if not _finite(*cal.coefficients):
                self.err(
                    src,
                    f"{what}: polynomial calibrator with a coefficient that is not a finite "
                    f"number ({', '.join(f'{c:g}' for c in cal.coefficients)})",
                    "give finite numbers [c0, c1, ...] with eng = c0 + c1*raw + ...",
                )
            elif not cal.coefficients:
                self.warn(
                    src,
                    f"{what}: polynomial calibrator without coefficients (decoded as 0)",
                    "give [c0, c1, ...] with eng = c0 + c1*raw + ...",
                )
        elif isinstance(cal, SplineCalibrator):
            if not all(_finite(*p) for p in cal.points):
                self.err(
                    src,
                    f"{what}: spline calibrator with a point that is not finite",
                    "give [raw, eng] points of finite numbers",
                )
                return
            raws = [p[0] for p in cal.points]
            need = 1 if cal.order == 0 else 2
            if len(raws) < need:
                self.err(
                    src,
                    f"{what}: spline calibrator with {len(raws)} point(s)",
                    f"give at least {need} [raw, eng] points",
                )
            for a, b in itertools.pairwise(raws):
                if b < a:
                    self.err(
                        src,
                        f"{what}: spline points are not in ascending raw order ({a:g} then {b:g})",
                        "sort the [raw, eng] points by raw value",
                    )
                    break
                if b == a:  # a vertical step: legal XTCE, the later point wins from there on
                    self.warn(
                        src,
                        f"{what}: spline has a vertical step at raw {a:g}",
                        "give each raw value once unless a jump is meant",
                    )
                    break
            if cal.order not in (0, 1):
                self.warn(
                    src,
                    f"{what}: spline order {cal.order} is decoded as linear (order 1)",
                    "use order 0 (steps) or 1 (linear)",
                )
        elif isinstance(cal, ContextCalibrator):
            for cond, sub in cal.contexts:
                self.check_condition(cond, src, what + " calibrator context")
                self.check_calibrator(sub, src, what)
            if cal.default is not None:
                self.check_calibrator(cal.default, src, what)

    def check_range(self, r: Range, src: SourceLocation | None, what: str) -> None:
        if any(b is not None and math.isnan(b) for b in (r.min, r.max)):
            self.err(
                src,
                f"{what} {_fmt_range(r)} has a NaN bound (no value is ever inside or outside it)",
                "give a number, or leave the bound open (null in YAML, no attribute in XTCE)",
            )
        elif r.min is not None and r.max is not None and r.min > r.max:
            self.err(src, f"{what} {_fmt_range(r)} has min above max", "swap the bounds")

    def check_alarm_ranges(
        self, ranges: AlarmRanges, src: SourceLocation | None, what: str
    ) -> None:
        items = ranges.items()
        for level, r in items:
            self.check_range(r, src, f"{what} {level.name.lower()} range")
        for i, (lo_level, lo_r) in enumerate(items):
            for hi_level, hi_r in items[i + 1 :]:
                if not _inside(lo_r, hi_r):
                    self.err(
                        src,
                        f"{what}: the {lo_level.name.lower()} range {_fmt_range(lo_r)} is not "
                        f"inside the {hi_level.name.lower()} range {_fmt_range(hi_r)}",
                        f"a value outside the {hi_level.name.lower()} range is more severe, so "
                        f"widen it or narrow the {lo_level.name.lower()} range",
                    )

    def check_numeric_alarm(
        self, alarm: NumericAlarm, src: SourceLocation | None, what: str
    ) -> None:
        if alarm.static is not None:
            self.check_alarm_ranges(alarm.static, src, what + " alarm")
        for cond, ranges in alarm.contexts:
            self.check_condition(cond, src, what + " alarm context")
            self.check_alarm_ranges(ranges, src, what + " context alarm")
        if alarm.min_violations < 1:
            self.err(
                src,
                f"{what}: alarm min_violations {alarm.min_violations}",
                "use 1 or more consecutive samples",
            )

    def check_enumeration(self, t: EnumeratedType, src: SourceLocation | None, what: str) -> None:
        seen: dict[str, int] = {}
        for v in t.values:
            if v.label in seen:
                self.err(
                    src,
                    f"{what}: label {v.label!r} is used for {seen[v.label]} and {v.value}",
                    "give each label once (use max_value for a range of raw values)",
                )
            seen.setdefault(v.label, v.value)
            if v.max_value is not None and v.max_value < v.value:
                self.err(
                    src,
                    f"{what}: label {v.label!r} has max {v.max_value} below {v.value}",
                    "give max_value >= value",
                )
        labels = set(seen)
        alarm = t.alarm
        if isinstance(alarm, EnumerationAlarm):
            tables = [alarm.levels] + [lv for _, lv in alarm.contexts]
            for table in tables:
                for label, _level in table:
                    if label not in labels:
                        self.err(
                            src,
                            f"{what}: alarm for label {label!r}, which the type lacks",
                            "use one of " + ", ".join(seen),
                        )
            for cond, _ in alarm.contexts:
                self.check_condition(cond, src, what + " alarm context")

    def check_time(self, t: AbsoluteTimeType, src: SourceLocation | None, what: str) -> None:
        tc = t.timecode
        if isinstance(tc, CucTimeCode) and not (
            1 <= tc.coarse_bytes <= 4 and 0 <= tc.fine_bytes <= 3
        ):
            self.err(
                src,
                f"{what}: CUC with {tc.coarse_bytes} coarse and {tc.fine_bytes} fine bytes",
                "use 1..4 coarse and 0..3 fine bytes (CCSDS 301.0-B-4)",
            )
        if isinstance(tc, CdsTimeCode) and (
            tc.day_bytes not in (2, 3) or tc.submillis_bytes not in (0, 2, 4)
        ):
            self.err(
                src,
                f"{what}: CDS with {tc.day_bytes} day and {tc.submillis_bytes} "
                "sub-millisecond bytes",
                "use 2 or 3 day bytes and 0, 2 or 4 sub-millisecond bytes (CCSDS 301.0-B-4)",
            )
        if t.offset_from is not None:
            self.check_ref(t.offset_from, src, what + " offset_from")
        if t.epoch is not None:
            try:  # what the decoder converts with; a far-future ISO epoch would wrap there
                epoch_seconds_to_datetime64([0.0], t.epoch.epoch)
            except TimeCodeError as exc:
                self.err(
                    src,
                    f"{what}: {exc}",
                    "name TAI, GPS, J2000 or UNIX, or give an ISO 8601 UTC date between "
                    "1677-09-22 and 2262-04-11",
                )

    def check_packet_time(self) -> None:
        """The ``falak:packet_time`` recipe parses and names parameters that exist."""
        if self.mdb.packet_time is None:
            return
        try:
            PacketTimeRecipe.parse(None, self.mdb)
        except InputError as exc:
            message, _, fix = str(exc).partition("; fix: ")
            self.err(self.mdb.root.source, message, fix or f"write one of: {RECIPES}")

    def check_type_nesting(self) -> None:
        for table in (self.mdb.types, self.mdb.argument_types):

            def children(qn: str, table: dict[str, DataType] = table) -> list[str]:
                t = table.get(qn) or self.mdb.types.get(qn)
                if isinstance(t, AggregateType):
                    return [m.type for m in t.members]
                if isinstance(t, ArrayType):
                    return [t.element_type]
                return []

            for qn in table:
                self.find_cycle(
                    qn,
                    children,
                    "type",
                    table[qn].source,
                    "a type cannot contain itself; break the loop",
                )

    # parameters

    def check_parameters(self) -> None:
        for qn, p in self.mdb.parameters.items():
            src = p.source
            if p.type is not None and p.type not in self.mdb.types and not self.missing(p.type):
                self.err(
                    src,
                    f"parameter {qn} has type {p.type!r}, which does not exist",
                    "define that type or correct the name",
                )
            self.check_member_names(qn, self.mdb.types.get(p.type) if p.type else None)
            if p.derivation is not None:
                d = p.derivation
                if not is_known_function(d.function):
                    self.err(
                        src,
                        f"parameter {qn}: derivation function {d.function!r} is not one falak "
                        "may call (a mission database never makes falak import a module)",
                        "use one of falak's (falak:magnitude, falak:mean, falak:sum), a numpy "
                        "ufunc such as numpy:multiply, or register your own with "
                        "falak.tm.derived.register_derived_function or an entry point "
                        f"{ENTRY_POINT_GROUP!r} (docs/mdb-yaml.md, Derived parameters)",
                    )
                for inp in d.inputs:
                    if inp not in self.mdb.parameters and not self.missing(inp):
                        self.err(
                            src,
                            f"parameter {qn}: derivation input {inp!r} does not exist",
                            "define that parameter or correct the name",
                        )
                    if inp == qn:
                        self.err(
                            src,
                            f"parameter {qn} is an input of its own derivation",
                            "derive it from other parameters",
                        )
            if p.expected_period_s is not None and p.expected_period_s <= 0:
                self.err(
                    src,
                    f"parameter {qn}: expected period {p.expected_period_s} s",
                    "give a period > 0 s",
                )

    def check_member_names(self, qn: str, t: DataType | None, path: tuple[str, ...] = ()) -> None:
        """A dot is legal in a name, and decoded aggregate members are keyed
        ``PARAM.member``: a parameter named like a member of another (``A.B`` beside ``A``
        with member ``B``) would share its column."""
        if not isinstance(t, AggregateType) or len(path) > 16:
            return
        for m in t.members:
            sub = (*path, m.name)
            member_key = qn + "".join("." + x for x in sub)
            other = self.mdb.parameters.get(member_key)
            if other is not None:
                self.err(
                    other.source,
                    f"parameter {member_key} has the name of member {'.'.join(sub)!r} of "
                    f"aggregate parameter {qn}, so their decoded values would mix",
                    "rename the parameter or the member",
                )
            self.check_member_names(qn, self.mdb.types.get(m.type), sub)

    # containers

    def base_chain(self, qn: str) -> list[SequenceContainer]:
        """Containers from ``qn``'s root base down to ``qn`` (stops at cycles/missing)."""
        chain: list[SequenceContainer] = []
        seen: set[str] = set()
        cur: str | None = qn
        while cur is not None and cur in self.mdb.containers and cur not in seen:
            seen.add(cur)
            c = self.mdb.containers[cur]
            chain.append(c)
            cur = c.base
        chain.reverse()
        return chain

    def flat_entries(
        self, entries: Iterable[Entry], stack: tuple[str, ...] = ()
    ) -> Iterator[Entry]:
        for e in entries:
            if isinstance(e, ContainerEntry):
                sub = self.mdb.containers.get(e.container)
                if sub is not None and e.container not in stack:
                    yield e
                    for c in self.base_chain(e.container):
                        yield from self.flat_entries(c.entries, (*stack, e.container))
                continue
            yield e

    def params_of(self, containers: Iterable[SequenceContainer]) -> list[str]:
        out: list[str] = []
        for c in containers:
            for e in self.flat_entries(c.entries, (c.qualified_name,)):
                if isinstance(e, ParameterEntry):
                    out.append(e.parameter)
        return out

    def find_cycle(
        self,
        start: str,
        children: Callable[[str], list[str]],
        what: str,
        src: SourceLocation | None,
        fix: str,
    ) -> None:
        """Report a cycle through ``start`` (depth-first), once per distinct cycle."""
        get = children
        path: list[str] = [start]
        on_path = {start}
        visited: set[str] = set()

        def dfs(node: str) -> list[str] | None:
            for nxt in get(node):
                if nxt == start:
                    return [*path, start]
                if nxt in on_path or nxt in visited:
                    continue
                visited.add(nxt)
                path.append(nxt)
                on_path.add(nxt)
                found = dfs(nxt)
                if found:
                    return found
                path.pop()
                on_path.discard(nxt)
            return None

        cycle = dfs(start)
        if cycle is None:
            return
        key = frozenset(cycle)
        if key in self._cycles_seen:
            return
        self._cycles_seen.add(key)
        self.err(src, f"{what} cycle: " + " -> ".join(cycle), fix)

    def check_containers(self) -> None:
        containers = self.mdb.containers
        for qn, c in containers.items():
            src = c.source
            what = f"container {qn}"
            if c.base is not None:
                if c.base not in containers:
                    if not self.missing(c.base):
                        self.err(
                            src,
                            f"{what}: base container {c.base!r} does not exist",
                            "define that container or correct the name",
                        )
                else:
                    self.find_cycle(
                        qn,
                        lambda n: [b for b in [containers[n].base] if b] if n in containers else [],
                        "container inheritance",
                        src,
                        "a container cannot extend itself; remove one base",
                    )
            elif c.restriction is not None:
                self.err(
                    src,
                    f"{what} has a restriction but no base container",
                    "give the base container the restriction applies to",
                )
            self.find_cycle(
                qn,
                lambda n: (
                    [e.container for e in containers[n].entries if isinstance(e, ContainerEntry)]
                    if n in containers
                    else []
                ),
                "container nesting",
                src,
                "a container cannot include itself; remove one container entry",
            )
            if c.restriction is not None and c.base is not None:
                self.check_condition(c.restriction, src, what + " restriction")
                chain = self.base_chain(c.base)
                if chain and chain[-1].qualified_name == c.base:
                    avail = set(self.params_of(chain))
                    for ref in conditions_refs(c.restriction):
                        if ref.parameter in self.mdb.parameters and ref.parameter not in avail:
                            self.err(
                                src,
                                f"{what}: restriction on {ref.parameter!r}, which the base "
                                f"chain ({' -> '.join(x.qualified_name for x in chain)}) "
                                "does not decode",
                                "restrict on a parameter of the base container or its bases",
                            )
            n_errors = len(self.errors)
            self.check_entries(c.entries, src, what, command=None)
            self.check_sizes_in_order(c)
            if len(self.errors) == n_errors:  # else the entry's own error says it better
                self.check_positions(c)
            if c.size_bits is not None:
                self.check_bits(c.size_bits, src, f"{what}: size")
            if c.expected_period_s is not None and c.expected_period_s <= 0:
                self.err(
                    src, f"{what}: expected period {c.expected_period_s} s", "give a period > 0 s"
                )

    def check_entries(
        self,
        entries: Iterable[Entry],
        src: SourceLocation | None,
        what: str,
        command: MetaCommand | None,
    ) -> None:
        arg_names = self.command_args(command) if command is not None else None
        container_src = src
        for i, e in enumerate(entries, start=1):
            where = f"{what} entry {i}"
            src = e.source or container_src
            self.check_placement(e, src, where)
            if isinstance(e, ParameterEntry):
                if e.parameter not in self.mdb.parameters and not self.missing(e.parameter):
                    self.err(
                        src,
                        f"{where}: parameter {e.parameter!r} does not exist",
                        "define that parameter or correct the name",
                    )
                else:
                    p = self.mdb.parameters.get(e.parameter)
                    t = self.mdb.types.get(p.type) if p and p.type else None
                    if p is not None and t is None and p.type is None:
                        self.err(
                            src,
                            f"{where}: parameter {e.parameter!r} has no type, so it "
                            "cannot be decoded",
                            "give the parameter a type",
                        )
                    if (
                        t is not None
                        and not isinstance(t, AggregateType | ArrayType)
                        and t.encoding is None
                        and not (isinstance(t, AbsoluteTimeType) and t.timecode is not None)
                    ):
                        self.err(
                            src,
                            f"{where}: parameter {e.parameter!r} has type "
                            f"{p.type if p else ''!r} without an encoding, so it cannot "
                            "be decoded",
                            "give the type an encoding (e.g. uint16)",
                        )
                self.check_dimensions(e.dimensions, src, where)
                for d in e.dimensions:
                    if d.dynamic_size is not None:
                        self.check_slope(d.dynamic_size, src, where + " dimension")
                        self.check_ref(d.dynamic_size.ref, src, where + " dimension", arg_names)
            elif isinstance(e, ContainerEntry):
                if e.container not in self.mdb.containers and not self.missing(e.container):
                    self.err(
                        src,
                        f"{where}: container {e.container!r} does not exist",
                        "define that container or correct the name",
                    )
            elif isinstance(e, ArgumentEntry):
                if arg_names is None:
                    self.err(
                        src,
                        f"{where}: argument entry {e.argument!r} in a telemetry container",
                        "argument entries belong in commands",
                    )
                elif e.argument not in arg_names:
                    self.err(
                        src,
                        f"{where}: argument {e.argument!r} is not an argument of the "
                        "command or its bases",
                        "declare it under arguments: or use one of: "
                        + ", ".join(sorted(arg_names)),
                    )
            elif isinstance(e, FixedValueEntry):
                if e.size_bits < 0:
                    self.err(
                        src, f"{where}: fixed value of {e.size_bits} bits", "give a size >= 0 bits"
                    )
                else:
                    # shorter values are zero-extended on the left
                    self.check_bits(e.size_bits, src, f"{where}: fixed value")
            self.check_condition(e.include_if, src, where + " include condition", arg_names)
            if e.repeat is not None and isinstance(e.repeat.count, DynamicValue):
                self.check_slope(e.repeat.count, src, where + " repeat count")
                self.check_ref(e.repeat.count.ref, src, where + " repeat count", arg_names)
            elif e.repeat is not None and isinstance(e.repeat.count, int) and e.repeat.count < 0:
                self.err(src, f"{where}: repeat count {e.repeat.count}", "give a count >= 0")

    def check_placement(self, e: Entry, src: SourceLocation | None, where: str) -> None:
        """Locations and repeats the decoder can follow: inside a packet, starting at or after
        the container's or packet's start."""
        loc = e.location
        if loc is not None:
            self.check_bits(loc.offset_bits, src, f"{where}: location")
            if loc.reference != "previousEntry" and loc.offset_bits < 0:
                start = "container's" if loc.reference == "containerStart" else "packet's"
                self.err(
                    src,
                    f"{where} starts {-loc.offset_bits:,} bits before the {start} start",
                    f"give an offset >= 0 from the {start} start",
                )
        rep = e.repeat
        if rep is not None:
            self.check_bits(rep.offset_bits, src, f"{where}: repeat offset")
            if isinstance(rep.count, int) and rep.count > MAX_PACKET_BITS:
                self.err(
                    src,
                    f"{where} repeats {rep.count:,} times, more than fit in {_MAX}",
                    "give the number of repetitions (or read it from a parameter)",
                )

    def min_bits(self, t: DataType | None, depth: int = 0) -> int:
        """The fewest bits a value of type ``t`` takes in a packet (0 when unknown)."""
        if t is None or depth > 16:
            return 0
        if isinstance(t, AggregateType):
            return sum(self.min_bits(self.mdb.types.get(m.type), depth + 1) for m in t.members)
        if isinstance(t, ArrayType):
            return self.array_min_bits(t, t.dimensions, depth)
        if isinstance(t, AbsoluteTimeType) and t.timecode is not None:
            tc = t.timecode
            if isinstance(tc, CucTimeCode):
                return 8 * (tc.coarse_bytes + tc.fine_bytes)
            return 8 * (tc.day_bytes + 4 + tc.submillis_bytes)
        enc = getattr(t, "encoding", None)
        if isinstance(enc, IntegerEncoding | FloatEncoding):
            return enc.size_bits
        if isinstance(enc, StringEncoding | BinaryEncoding):
            if enc.fixed_size_bits is not None:
                return max(enc.fixed_size_bits, 0)
            if enc.leading_size_bits is not None:
                return enc.leading_size_bits
            if isinstance(enc, StringEncoding) and enc.terminator:
                return 8 * len(enc.terminator)
        return 0

    def array_min_bits(self, t: ArrayType, dims: Iterable[Dimension], depth: int = 0) -> int:
        fixed = (d.size if d.size is not None and d.dynamic_size is None else 0 for d in dims)
        count = math.prod(fixed)
        return count * self.min_bits(self.mdb.types.get(t.element_type), depth + 1) if count else 0

    def entry_min_bits(self, e: Entry, depth: int = 0) -> int:
        """The fewest bits one occurrence of an entry takes (locations inside not counted)."""
        if isinstance(e, FixedValueEntry):
            return max(e.size_bits, 0)
        if isinstance(e, ParameterEntry):
            p = self.mdb.parameters.get(e.parameter)
            t = self.mdb.types.get(p.type) if p is not None and p.type else None
            if isinstance(t, ArrayType) and e.dimensions:
                return self.array_min_bits(t, e.dimensions)
            return self.min_bits(t)
        if isinstance(e, ContainerEntry) and depth <= 16:
            chain = self.base_chain(e.container)
            return sum(self.span_min_bits(x, depth + 1) for c in chain for x in c.entries)
        return 0

    def span_min_bits(self, e: Entry, depth: int = 0) -> int:
        """The fewest bits an entry takes with its repeats (0 when it may be absent)."""
        rep = e.repeat
        count = 1 if rep is None else rep.count if isinstance(rep.count, int) else 0
        if e.include_if is not None or count <= 0:
            return 0
        offset = rep.offset_bits if rep is not None else 0
        return max(self.entry_min_bits(e, depth) * count + offset * (count - 1), 0)

    def check_positions(self, c: SequenceContainer) -> None:
        """Every entry of a packet starts at or after the packet's start and ends within the
        largest packet, even when each field before it is as short as it can be."""
        chain = self.base_chain(c.qualified_name)
        if not chain or chain[-1] is not c:
            return
        pos = 0  # the fewest bits from the packet's start
        for owner in chain:
            for i, e in enumerate(owner.entries, start=1):
                before = pos
                loc = e.location
                if loc is not None:
                    if loc.reference == "previousEntry":
                        pos += loc.offset_bits
                    else:
                        pos = max(loc.offset_bits, 0)
                where = f"container {owner.qualified_name} entry {i}"
                if pos < 0 and owner is c:
                    self.err(
                        e.source or c.source,
                        f"{where} can start {-pos:,} bits before the packet's start (its "
                        f"offset is {loc.offset_bits if loc else 0:,} bits from the end of "
                        "the previous entry)",
                        "make the offset smaller, or give it from the container's start "
                        '(absolute_bits in YAML, referenceLocation="containerStart" in XTCE)',
                    )
                    return
                pos = max(pos, 0)
                size = self.entry_min_bits(e)
                rep = e.repeat
                count = rep.count if rep is not None and isinstance(rep.count, int) else 1
                if rep is not None and not isinstance(rep.count, int):
                    count = 0
                if count > 0:
                    offset = rep.offset_bits if rep is not None else 0
                    pos += size * count + offset * (count - 1)
                if e.include_if is not None or count == 0:
                    pos = min(pos, before)
                if pos > MAX_PACKET_BITS and owner is c:
                    self.err(
                        e.source or c.source,
                        f"{where} ends at least {pos:,} bits after the packet's start, "
                        f"beyond {_MAX}",
                        "check the entry's location, size, dimensions and repeat count",
                    )
                    return

    def dynamic_refs_of(self, t: DataType | None, depth: int = 0) -> list[ParameterRef]:
        if t is None or depth > 16:
            return []
        out: list[ParameterRef] = []
        enc = getattr(t, "encoding", None)
        if isinstance(enc, StringEncoding | BinaryEncoding) and enc.dynamic_size is not None:
            out.append(enc.dynamic_size.ref)
        if isinstance(t, ArrayType):
            out.extend(d.dynamic_size.ref for d in t.dimensions if d.dynamic_size is not None)
            elem = self.mdb.types.get(t.element_type) or self.mdb.argument_types.get(t.element_type)
            out.extend(self.dynamic_refs_of(elem, depth + 1))
        return out

    def check_argument_sizes_in_order(self, cmd: MetaCommand) -> None:
        """Arguments sized by another argument must come after it in the encoded command."""
        chain = self.command_chain(cmd.qualified_name)
        if not chain or chain[-1] is not cmd:
            return
        types = {a.name: a.type for c in chain for a in c.arguments}
        seen: set[str] = set()
        for c in chain:
            own = c is cmd
            for e in c.entries:
                if not isinstance(e, ArgumentEntry):
                    continue
                tq = types.get(e.argument)
                t = self.lookup_type(tq, arg=True) if tq else None
                for ref in self.dynamic_refs_of(t):
                    if (
                        own
                        and ref.argument
                        and ref.parameter in types
                        and (ref.parameter not in seen)
                    ):
                        self.err(
                            cmd.source,
                            f"command {cmd.qualified_name}: the size of argument "
                            f"{e.argument!r} is read from argument {ref.parameter!r}, "
                            "which is not encoded before it",
                            f"put {ref.parameter!r} earlier in the command's entries",
                        )
                seen.add(e.argument)

    def is_integer_valued(self, ref: ParameterRef) -> bool:
        t = self.resolve_ref_type(ref)
        if t is None:
            return True  # reported elsewhere
        if isinstance(t, IntegerType):
            return True
        enc = getattr(t, "encoding", None)
        if not ref.calibrated and isinstance(enc, IntegerEncoding):
            return True
        return (
            isinstance(t, FloatType) and isinstance(enc, IntegerEncoding) and (t.calibrator is None)
        )

    def check_sizes_in_order(self, c: SequenceContainer) -> None:
        """Sizes and counts read from parameters must come from integers decoded earlier."""
        chain = self.base_chain(c.qualified_name)
        if not chain or chain[-1] is not c:
            return
        seen: set[str] = set(self.params_of(chain[:-1]))
        for e in self.flat_entries(c.entries, (c.qualified_name,)):
            refs: list[ParameterRef] = []
            if e.repeat is not None and isinstance(e.repeat.count, DynamicValue):
                refs.append(e.repeat.count.ref)
            if isinstance(e, ParameterEntry):
                p = self.mdb.parameters.get(e.parameter)
                if e.dimensions:
                    refs.extend(
                        d.dynamic_size.ref for d in e.dimensions if d.dynamic_size is not None
                    )
                    if p is not None and p.type is not None:
                        t = self.mdb.types.get(p.type)
                        if isinstance(t, ArrayType):
                            refs.extend(self.dynamic_refs_of(self.mdb.types.get(t.element_type)))
                elif p is not None and p.type is not None:
                    refs.extend(self.dynamic_refs_of(self.mdb.types.get(p.type)))
            for ref in refs:
                if ref.argument or ref.parameter not in self.mdb.parameters:
                    continue
                if ref.parameter not in seen:
                    self.err(
                        c.source,
                        f"container {c.qualified_name}: the size of "
                        f"{getattr(e, 'parameter', 'an entry')!r} is read from "
                        f"{ref.parameter!r}, which is not decoded before it",
                        f"put {ref.parameter!r} earlier in the container or its bases",
                    )
                elif not self.is_integer_valued(ref):
                    self.err(
                        c.source,
                        f"container {c.qualified_name}: the size of "
                        f"{getattr(e, 'parameter', 'an entry')!r} is read from "
                        f"{ref.parameter!r}, which is not an integer",
                        "read sizes from an integer parameter (or its raw value)",
                    )
            if isinstance(e, ParameterEntry):
                seen.add(e.parameter)

    # commands

    def command_chain(self, qn: str) -> list[MetaCommand]:
        chain: list[MetaCommand] = []
        seen: set[str] = set()
        cur: str | None = qn
        while cur is not None and cur in self.mdb.commands and cur not in seen:
            seen.add(cur)
            c = self.mdb.commands[cur]
            chain.append(c)
            cur = c.base
        chain.reverse()
        return chain

    def command_args(self, cmd: MetaCommand) -> set[str]:
        return {a.name for c in self.command_chain(cmd.qualified_name) for a in c.arguments}

    def check_commands(self) -> None:
        commands = self.mdb.commands
        for qn, cmd in commands.items():
            src = cmd.source
            what = f"command {qn}"
            if cmd.base is not None:
                if cmd.base not in commands:
                    if not self.missing(cmd.base):
                        self.err(
                            src,
                            f"{what}: base command {cmd.base!r} does not exist",
                            "define that command or correct the name",
                        )
                else:
                    self.find_cycle(
                        qn,
                        lambda n: [b for b in [commands[n].base] if b] if n in commands else [],
                        "command inheritance",
                        src,
                        "a command cannot extend itself; remove one base",
                    )
            names: set[str] = set()
            for a in cmd.arguments:
                if a.name in names:
                    self.err(src, f"{what} has two arguments named {a.name!r}", "rename one")
                names.add(a.name)
                if (
                    a.type is not None
                    and self.lookup_type(a.type, arg=True) is None
                    and not self.missing(a.type)
                ):
                    self.err(
                        src,
                        f"{what}: argument {a.name!r} has type {a.type!r}, which does not exist",
                        "define that argument type or correct the name",
                    )
            base_args: set[str] = set()
            if cmd.base is not None and cmd.base in commands:
                base_args = self.command_args(commands[cmd.base])
            for name, _value in cmd.argument_assignments:
                if name not in base_args and name not in names:
                    self.err(
                        src,
                        f"{what}: assignment to {name!r}, which is not an argument "
                        "of its base commands",
                        "assign one of: " + (", ".join(sorted(base_args)) or "(none)"),
                    )
            self.check_entries(cmd.entries, src, what, command=cmd)
            self.check_argument_sizes_in_order(cmd)
            arg_names = self.command_args(cmd)
            for ver in cmd.verifiers:
                vwhat = f"{what} verifier {ver.stage!r}"
                if ver.stage not in _STAGES:
                    self.err(src, f"{vwhat}: unknown stage", "use one of " + ", ".join(_STAGES))
                if ver.window_stop_s < ver.window_start_s:
                    self.err(
                        src,
                        f"{vwhat}: window ends ({ver.window_stop_s} s) before it "
                        f"starts ({ver.window_start_s} s)",
                        "give [start_s, stop_s]",
                    )
                if (
                    ver.container is not None
                    and ver.container not in self.mdb.containers
                    and (not self.missing(ver.container))
                ):
                    self.err(
                        src,
                        f"{vwhat}: container {ver.container!r} does not exist",
                        "define that container or correct the name",
                    )
                if ver.container is None and ver.condition is None:
                    self.err(
                        src,
                        f"{vwhat} has neither a container nor a condition",
                        "give the packet to wait for or the condition to become true",
                    )
                self.check_condition(ver.condition, src, vwhat, arg_names, command_refs=True)
                self.check_condition(ver.fail_condition, src, vwhat, arg_names, command_refs=True)
            cb = getattr(cmd, "container_base", None)
            if (
                cb is not None
                and cb not in self.mdb.containers
                and not self.missing(cb)
                and not (any(getattr(c, "container_name", None) == cb for c in commands.values()))
            ):
                self.err(
                    src,
                    f"{what}: container base {cb!r} does not exist",
                    "define that container or correct the name",
                )
            self.check_condition(getattr(cmd, "container_restriction", None), src, what, arg_names)
