"""Mission database model: space systems, parameters, types, containers, commands.

The model follows the concepts of XTCE (CCSDS 660.0-B-2 / OMG XTCE 1.2) so that XTCE files load
without loss, in a form small enough to write by hand in falak's native YAML.

Conventions
-----------
* Every named item has a *qualified name*: the path of space systems from the root, then the
  item's short name, e.g. ``/BogusSAT/SC001/BusElectronics/Battery_Voltage``. Loaders resolve
  every reference (types, parameters, containers, arguments) to qualified names, so the model
  never needs XTCE's relative-name rules.
* Sizes are in bits. Byte orders are given as XTCE's ``ByteOrderList``: for each byte in
  transmission order, its significance (0 = least significant). ``None`` means big-endian.
* ``source`` fields say where an item was defined (file, line, XPath) for error messages; they
  are excluded from equality, so a model re-imported from an export compares equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar

if TYPE_CHECKING:
    from falak.errors import MdbError

_T = TypeVar("_T")

# ---------------------------------------------------------------------------------------------
# Where things come from (for error messages)


@dataclass(frozen=True)
class SourceLocation:
    """Where an item was defined: file, 1-based line and, for XML, an XPath."""

    file: str | None = None
    line: int | None = None
    xpath: str | None = None

    def __str__(self) -> str:
        text = self.file or "<memory>"
        if self.line is not None:
            text += f":{self.line}"
        if self.xpath:
            text += f" ({self.xpath})"
        return text


def _src() -> SourceLocation | None:
    """A ``source`` field: not compared (an export re-imports equal) and not in ``repr``."""
    return field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------------------------------------
# Values taken from other parameters, and conditions on them


@dataclass(frozen=True)
class ParameterRef:
    """A reference to a parameter's value, optionally one member of an aggregate.

    ``member`` is the path inside an aggregate (``("APID",)`` for ``CCSDS_Packet_ID/APID``).
    ``calibrated`` chooses the engineering value (True) or the raw value (False).
    ``instance`` selects an earlier occurrence in the same packet (0 = latest, -1 = the one
    before); only 0 is used by the built-in decoder.
    """

    parameter: str
    member: tuple[str, ...] = ()
    calibrated: bool = True
    instance: int = 0
    #: True when ``parameter`` is the short name of a command argument (XTCE
    #: ``ArgumentInstanceRef``), resolved against the command being encoded.
    argument: bool = False


@dataclass(frozen=True)
class DynamicValue:
    """A size or count read from a parameter: ``value * slope + intercept``."""

    ref: ParameterRef
    slope: float = 1.0
    intercept: float = 0.0


Operator = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Comparison:
    """``parameter <operator> value``; ``value`` is the text form (enum label, number, bool)."""

    ref: ParameterRef
    operator: Operator
    value: str


@dataclass(frozen=True)
class AllOf:
    """True when every condition is true (XTCE ``ComparisonList`` / ``ANDedConditions``)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """True when any condition is true (XTCE ``ORedConditions``)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """Negation of a condition."""

    condition: Condition


Condition: TypeAlias = Comparison | AllOf | AnyOf | Not


# ---------------------------------------------------------------------------------------------
# Data encodings: how raw values are laid out in bits

IntegerSign = Literal["unsigned", "twosComplement", "signMagnitude", "onesComplement"]


@dataclass(frozen=True)
class IntegerEncoding:
    """An integer of ``size_bits`` bits (1..64)."""

    size_bits: int
    encoding: IntegerSign = "unsigned"
    byte_order: tuple[int, ...] | None = None


@dataclass(frozen=True)
class FloatEncoding:
    """An IEEE 754 binary float of 16, 32 or 64 bits (``MILSTD_1750A`` is 32 or 48 bits)."""

    size_bits: int
    encoding: Literal["IEEE754", "MILSTD_1750A"] = "IEEE754"
    byte_order: tuple[int, ...] | None = None


@dataclass(frozen=True)
class StringEncoding:
    """A character string.

    Exactly one way of sizing it is set:

    * ``fixed_size_bits``: a buffer of that many bits; the string may end earlier at
      ``terminator`` (padding follows);
    * ``dynamic_size``: a buffer whose size in bits comes from a parameter;
    * ``leading_size_bits``: a size tag of that many bits gives the string's length in bytes;
    * ``terminator`` alone: the string runs up to and including the terminator byte(s).

    ``max_size_bits`` bounds variable strings.
    """

    charset: str = "UTF-8"
    fixed_size_bits: int | None = None
    dynamic_size: DynamicValue | None = None
    leading_size_bits: int | None = None
    terminator: bytes | None = None
    max_size_bits: int | None = None


@dataclass(frozen=True)
class BinaryEncoding:
    """An opaque blob: ``fixed_size_bits``, or a size in bits read from a parameter,
    or a leading size tag of ``leading_size_bits`` giving the length in bytes."""

    fixed_size_bits: int | None = None
    dynamic_size: DynamicValue | None = None
    leading_size_bits: int | None = None


DataEncoding: TypeAlias = IntegerEncoding | FloatEncoding | StringEncoding | BinaryEncoding


# ---------------------------------------------------------------------------------------------
# Calibrators: raw -> engineering


@dataclass(frozen=True)
class PolynomialCalibrator:
    """``eng = c0 + c1*raw + c2*raw**2 + ...``; ``coefficients[i]`` multiplies ``raw**i``."""

    coefficients: tuple[float, ...]


@dataclass(frozen=True)
class SplineCalibrator:
    """Interpolated table of ``(raw, eng)`` points, raw ascending.

    ``order`` 0 holds the value of the point at or below, 1 interpolates linearly.
    Outside the table the value is extrapolated when ``extrapolate`` is true, else NaN.
    """

    points: tuple[tuple[float, float], ...]
    order: int = 1
    extrapolate: bool = False


@dataclass(frozen=True)
class ContextCalibrator:
    """Calibrators chosen by conditions on other parameters; ``default`` when none match."""

    contexts: tuple[tuple[Condition, Calibrator], ...]
    default: Calibrator | None = None


Calibrator: TypeAlias = PolynomialCalibrator | SplineCalibrator | ContextCalibrator


# ---------------------------------------------------------------------------------------------
# Alarms


class AlarmLevel(IntEnum):
    """Monitoring levels, in increasing severity (Yamcs/XTCE names)."""

    NORMAL = 0
    WATCH = 1
    WARNING = 2
    DISTRESS = 3
    CRITICAL = 4
    SEVERE = 5


ALARM_LEVEL_NAMES: tuple[str, ...] = ("watch", "warning", "distress", "critical", "severe")


@dataclass(frozen=True)
class Range:
    """An in-limits range; a bound of ``None`` is open. ``*_inclusive`` tell the bound kind."""

    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True


@dataclass(frozen=True)
class AlarmRanges:
    """In-limits ranges per level: a value outside ``warning`` is at least a WARNING."""

    watch: Range | None = None
    warning: Range | None = None
    distress: Range | None = None
    critical: Range | None = None
    severe: Range | None = None

    def items(self) -> list[tuple[AlarmLevel, Range]]:
        """Return the defined ranges, least severe first."""
        out = []
        for name in ALARM_LEVEL_NAMES:
            rng = getattr(self, name)
            if rng is not None:
                out.append((AlarmLevel[name.upper()], rng))
        return out


@dataclass(frozen=True)
class NumericAlarm:
    """Static ranges, optionally replaced by the first context whose condition holds.

    ``min_violations``: consecutive out-of-limits samples needed before the alarm triggers.
    """

    static: AlarmRanges | None = None
    contexts: tuple[tuple[Condition, AlarmRanges], ...] = ()
    min_violations: int = 1


@dataclass(frozen=True)
class EnumerationAlarm:
    """Alarm level per enumeration label; labels not listed are at ``default``."""

    levels: tuple[tuple[str, AlarmLevel], ...] = ()
    default: AlarmLevel = AlarmLevel.NORMAL
    contexts: tuple[tuple[Condition, tuple[tuple[str, AlarmLevel], ...]], ...] = ()
    min_violations: int = 1


Alarm: TypeAlias = NumericAlarm | EnumerationAlarm


# ---------------------------------------------------------------------------------------------
# Time


@dataclass(frozen=True)
class TimeEpoch:
    """An epoch for absolute times: ``"TAI"`` (1958-01-01), ``"J2000"``, ``"UNIX"``, ``"GPS"``,
    or an ISO 8601 date/time in UTC."""

    epoch: str = "TAI"


@dataclass(frozen=True)
class CucTimeCode:
    """CCSDS Unsegmented Time Code (CCSDS 301.0-B-4 §3.2) without P-field.

    ``coarse_bytes`` (1..4) of seconds and ``fine_bytes`` (0..3) of binary fractions.
    """

    coarse_bytes: int = 4
    fine_bytes: int = 2


@dataclass(frozen=True)
class CdsTimeCode:
    """CCSDS Day Segmented Time Code (CCSDS 301.0-B-4 §3.3) without P-field.

    ``day_bytes`` 2 or 3, 4 bytes of milliseconds of day, ``submillis_bytes`` 0, 2 or 4
    (microseconds or picoseconds).
    """

    day_bytes: int = 2
    submillis_bytes: int = 0


# ---------------------------------------------------------------------------------------------
# Types (shared by parameters and command arguments)


@dataclass(frozen=True)
class IntegerType:
    """Integer engineering values (``size_bits`` and ``signed`` describe the engineering form)."""

    name: str
    encoding: DataEncoding | None = None
    signed: bool = True
    size_bits: int = 64
    calibrator: Calibrator | None = None
    unit: str | None = None
    valid_range: Range | None = None
    alarm: NumericAlarm | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class FloatType:
    """Floating-point engineering values; the raw form is an integer or float encoding."""

    name: str
    encoding: DataEncoding | None = None
    size_bits: int = 64
    calibrator: Calibrator | None = None
    unit: str | None = None
    valid_range: Range | None = None
    alarm: NumericAlarm | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class EnumValue:
    """One label: raw values ``value`` .. ``max_value`` (inclusive) map to ``label``."""

    value: int
    label: str
    max_value: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class EnumeratedType:
    """Integer codes with labels."""

    name: str
    encoding: DataEncoding | None = None
    values: tuple[EnumValue, ...] = ()
    unit: str | None = None
    alarm: EnumerationAlarm | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class BooleanType:
    """A flag: raw 0 is ``zero_string``, anything else ``one_string``."""

    name: str
    encoding: DataEncoding | None = None
    zero_string: str = "False"
    one_string: str = "True"
    unit: str | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class StringType:
    """Text."""

    name: str
    encoding: DataEncoding | None = None
    unit: str | None = None
    size_range: Range | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class BinaryType:
    """Opaque bytes."""

    name: str
    encoding: DataEncoding | None = None
    unit: str | None = None
    size_range: Range | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class AbsoluteTimeType:
    """An absolute time.

    Either a CCSDS time code (``timecode``), or a number (``encoding``: integer or float)
    scaled by ``scale`` and shifted by ``offset`` seconds, counted from ``epoch`` or from the
    value of another absolute-time parameter ``offset_from``.
    """

    name: str
    encoding: DataEncoding | None = None
    timecode: CucTimeCode | CdsTimeCode | None = None
    scale: float = 1.0
    offset: float = 0.0
    epoch: TimeEpoch | None = None
    offset_from: ParameterRef | None = None
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class RelativeTimeType:
    """A duration in seconds: ``encoding`` value times ``scale`` plus ``offset``."""

    name: str
    encoding: DataEncoding | None = None
    scale: float = 1.0
    offset: float = 0.0
    initial_value: str | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class Member:
    """A member of an aggregate: short name and qualified type name."""

    name: str
    type: str
    description: str | None = None


@dataclass(frozen=True)
class AggregateType:
    """A record of named members, encoded one after the other."""

    name: str
    members: tuple[Member, ...] = ()
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class Dimension:
    """One array dimension: a fixed number of elements or a count read from a parameter.

    XTCE writes dimensions as starting and ending index; the count is ``end - start + 1``,
    which loaders fold into ``DynamicValue.intercept``.
    """

    size: int | None = None
    dynamic_size: DynamicValue | None = None


@dataclass(frozen=True)
class ArrayType:
    """An array of ``element_type`` (qualified type name), row-major over ``dimensions``."""

    name: str
    element_type: str
    dimensions: tuple[Dimension, ...] = ()
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


DataType: TypeAlias = (
    IntegerType
    | FloatType
    | EnumeratedType
    | BooleanType
    | StringType
    | BinaryType
    | AbsoluteTimeType
    | RelativeTimeType
    | AggregateType
    | ArrayType
)

# ---------------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class Derivation:
    """How a derived parameter is computed: ``function`` (``"module:callable"``) is called
    with one numpy array per input (engineering values, in order) and returns one array."""

    function: str
    inputs: tuple[str, ...] = ()


DataSource = Literal["telemetered", "derived", "constant", "local", "ground", "command"]


@dataclass(frozen=True)
class Parameter:
    """A named value with a type; ``type`` is the qualified type name."""

    name: str
    qualified_name: str
    type: str | None
    data_source: DataSource = "telemetered"
    read_only: bool = False
    derivation: Derivation | None = None
    expected_period_s: float | None = None
    description: str | None = None
    long_description: str | None = None
    aliases: tuple[tuple[str, str], ...] = ()
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


# ---------------------------------------------------------------------------------------------
# Containers


@dataclass(frozen=True)
class Location:
    """Where an entry starts: ``offset_bits`` from the previous entry's end, from the
    container's start, or from the packet's start (outermost container)."""

    offset_bits: int = 0
    reference: Literal["previousEntry", "containerStart", "packetStart"] = "previousEntry"


@dataclass(frozen=True)
class Repeat:
    """The entry repeats ``count`` times (a number or a parameter), ``offset_bits`` apart."""

    count: int | DynamicValue = 1
    offset_bits: int = 0


@dataclass(frozen=True)
class ParameterEntry:
    """The value of a parameter at this point of the packet."""

    parameter: str
    location: Location | None = None
    include_if: Condition | None = None
    repeat: Repeat | None = None
    #: For array parameters: dimensions given at the entry (XTCE ``ArrayParameterRefEntry``
    #: ``DimensionList``); they replace the array type's dimensions when set.
    dimensions: tuple[Dimension, ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class ContainerEntry:
    """The entries of another container, inlined at this point."""

    container: str
    location: Location | None = None
    include_if: Condition | None = None
    repeat: Repeat | None = None
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class FixedValueEntry:
    """Bits with a fixed value (spares, sync words); ``value`` is big-endian, None = zeros."""

    size_bits: int
    value: bytes | None = None
    name: str | None = None
    location: Location | None = None
    include_if: Condition | None = None
    repeat: Repeat | None = None
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


@dataclass(frozen=True)
class ArgumentEntry:
    """A command argument's encoded value (command containers only)."""

    argument: str
    location: Location | None = None
    include_if: Condition | None = None
    repeat: Repeat | None = None
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


Entry: TypeAlias = ParameterEntry | ContainerEntry | FixedValueEntry | ArgumentEntry


@dataclass(frozen=True)
class SequenceContainer:
    """An ordered list of entries; with ``base`` it extends another container when
    ``restriction`` holds on the base's values (XTCE inheritance)."""

    name: str
    qualified_name: str
    entries: tuple[Entry, ...] = ()
    base: str | None = None
    restriction: Condition | None = None
    abstract: bool = False
    size_bits: int | None = None
    expected_period_s: float | None = None
    crc: Literal["CRC-16-CCITT"] | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec


# ---------------------------------------------------------------------------------------------
# Commands


class Significance(IntEnum):
    """Consequence level of a command (XTCE DefaultSignificance)."""

    NONE = 0
    WATCH = 1
    WARNING = 2
    DISTRESS = 3
    CRITICAL = 4
    SEVERE = 5


@dataclass(frozen=True)
class Argument:
    """A command argument: short name, qualified type name, optional default."""

    name: str
    type: str | None
    initial_value: str | None = None
    description: str | None = None


VerifierStage = Literal[
    "transferred",
    "sent",
    "received",
    "accepted",
    "queued",
    "execution",
    "started",
    "complete",
    "failed",
]


@dataclass(frozen=True)
class Verifier:
    """A verification stage: within ``window_start_s``..``window_stop_s`` after release,
    ``container`` must arrive or ``condition`` must become true (``on_fail`` for NOK)."""

    stage: str
    window_start_s: float = 0.0
    window_stop_s: float = 10.0
    container: str | None = None
    condition: Condition | None = None
    fail_condition: Condition | None = None


@dataclass(frozen=True)
class MetaCommand:
    """A command: arguments, the container that encodes them, significance and verifiers.

    ``argument_assignments`` fix arguments of the ``base`` command (qualified) to values.
    """

    name: str
    qualified_name: str
    arguments: tuple[Argument, ...] = ()
    entries: tuple[Entry, ...] = ()
    base: str | None = None
    argument_assignments: tuple[tuple[str, str], ...] = ()
    abstract: bool = False
    significance: Significance = Significance.NONE
    significance_reason: str | None = None
    verifiers: tuple[Verifier, ...] = ()
    crc: Literal["CRC-16-CCITT"] | None = None
    description: str | None = None
    long_description: str | None = None
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = _src()  # noqa: RUF009 - a dataclass field spec
    #: XTCE ``CommandContainer``: its qualified name (other command containers may extend
    #: it), the qualified container it extends (a command container or a telemetry
    #: ``SequenceContainer`` such as a shared header) and the restriction on that base.
    container_name: str | None = None
    container_base: str | None = None
    container_restriction: Condition | None = None


# ---------------------------------------------------------------------------------------------
# Space systems and the database


@dataclass
class SpaceSystem:
    """A node of the space-system tree; items are keyed by short name."""

    name: str
    qualified_name: str
    description: str | None = None
    long_description: str | None = None
    types: dict[str, DataType] = field(default_factory=dict)
    argument_types: dict[str, DataType] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    containers: dict[str, SequenceContainer] = field(default_factory=dict)
    commands: dict[str, MetaCommand] = field(default_factory=dict)
    subsystems: dict[str, SpaceSystem] = field(default_factory=dict)
    ancillary: tuple[tuple[str, str], ...] = ()
    source: SourceLocation | None = field(default=None, compare=False, repr=False)

    def walk(self) -> list[SpaceSystem]:
        """Return this system and all nested systems, depth first."""
        out = [self]
        for sub in self.subsystems.values():
            out.extend(sub.walk())
        return out


def qualify(parent: str, name: str) -> str:
    """Join a space-system path and a short name: ``qualify("/A", "b") == "/A/b"``."""
    return f"{parent.rstrip('/')}/{name}"


def short_name(qualified_name: str) -> str:
    """Return the last path element of a qualified name."""
    return qualified_name.rsplit("/", 1)[-1]


PACKET_TIME_ITEM = "falak:packet_time"
"""Ancillary item of the root space system that says how packet time is built."""


class MissionDatabase:
    """A loaded mission database: the space-system tree plus flat indexes by qualified name.

    Build it with :func:`falak.mdb.load`; ``index()`` must be called after any change to the
    tree (loaders do).
    """

    def __init__(self, root: SpaceSystem, *, source_file: str | None = None) -> None:
        self.root = root
        self.source_file = source_file
        self.types: dict[str, DataType] = {}
        self.argument_types: dict[str, DataType] = {}
        self.parameters: dict[str, Parameter] = {}
        self.containers: dict[str, SequenceContainer] = {}
        self.commands: dict[str, MetaCommand] = {}
        #: doubtful but legal definitions found by validation (``MdbError``, severity
        #: "warning"); they do not stop a load
        self.warnings: list[MdbError] = []
        self.index()

    def index(self) -> None:
        """Rebuild the flat indexes from the tree."""
        self.types.clear()
        self.argument_types.clear()
        self.parameters.clear()
        self.containers.clear()
        self.commands.clear()
        for ss in self.root.walk():
            q = ss.qualified_name
            for n, t in ss.types.items():
                self.types[qualify(q, n)] = t
            for n, t in ss.argument_types.items():
                self.argument_types[qualify(q, n)] = t
            self.parameters.update({p.qualified_name: p for p in ss.parameters.values()})
            self.containers.update({c.qualified_name: c for c in ss.containers.values()})
            self.commands.update({c.qualified_name: c for c in ss.commands.values()})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MissionDatabase):
            return NotImplemented
        return self.root == other.root

    def __repr__(self) -> str:
        return (
            f"<MissionDatabase {self.root.qualified_name!r}: {len(self.parameters)} parameters, "
            f"{len(self.containers)} containers, {len(self.commands)} commands>"
        )

    @property
    def packet_time(self) -> str | None:
        """How packet time is built, or None: the root space system's ancillary item
        ``falak:packet_time`` (e.g. ``cds:DOY,MSEC,USEC``; the recipes are in
        :mod:`falak.processor.packettime`)."""
        return next((v for k, v in self.root.ancillary if k == PACKET_TIME_ITEM), None)

    # -- lookups ------------------------------------------------------------------------------

    def parameter(self, name: str) -> Parameter:
        """Find a parameter by qualified name or, if unambiguous, by short name."""
        return self._find(self.parameters, name, "parameter")

    def container(self, name: str) -> SequenceContainer:
        """Find a container by qualified name or, if unambiguous, by short name."""
        return self._find(self.containers, name, "container")

    def command(self, name: str) -> MetaCommand:
        """Find a command by qualified name or, if unambiguous, by short name."""
        return self._find(self.commands, name, "command")

    def parameter_type(self, parameter: str | Parameter) -> DataType | None:
        """Return the type of a parameter (qualified name or object)."""
        p = self.parameter(parameter) if isinstance(parameter, str) else parameter
        return None if p.type is None else self.types[p.type]

    def split_member_key(self, key: str) -> tuple[str, tuple[str, ...]]:
        """Split ``/SS/PARAM.member.sub`` into a parameter's qualified name and member path.

        Decoded columns of aggregate members are keyed by the parameter's qualified name and
        the member path joined with dots. A dot is also legal inside an XTCE name
        (``SCI.SPIN_PHASE``), so the split is not at the first dot: a key that names a
        parameter has no members, else the longest prefix ending before a dot that names a
        parameter is the parameter. A key that names no parameter is returned whole.
        """
        if key in self.parameters:
            return key, ()
        cut = len(key)
        slash = key.rfind("/")
        while (cut := key.rfind(".", slash + 1, cut)) > slash:
            if key[:cut] in self.parameters:
                return key[:cut], tuple(key[cut + 1 :].split("."))
        return key, ()

    def children(self, container: str) -> list[SequenceContainer]:
        """Containers whose ``base`` is ``container`` (qualified), in definition order."""
        return [c for c in self.containers.values() if c.base == container]

    def root_containers(self) -> list[SequenceContainer]:
        """Containers with no base that are not only used inside other containers."""
        used = set()
        for c in self.containers.values():
            for e in c.entries:
                if isinstance(e, ContainerEntry):
                    used.add(e.container)
        return [
            c for c in self.containers.values() if c.base is None and c.qualified_name not in used
        ]

    def _find(self, table: dict[str, _T], name: str, what: str) -> _T:
        if name in table:
            return table[name]
        if not name.startswith("/"):
            hits = [q for q in table if short_name(q) == name or q.endswith("/" + name)]
            if len(hits) == 1:
                return table[hits[0]]
            if len(hits) > 1:
                from falak.errors import MdbError

                raise MdbError(
                    f"{what} name {name!r} is ambiguous",
                    fix="use one of the qualified names: " + ", ".join(sorted(hits)[:5]),
                )
        from falak.errors import MdbError

        near = sorted(q for q in table if name.lower() in q.lower())[:5]
        raise MdbError(
            f"no {what} named {name!r}",
            fix=("did you mean " + ", ".join(near)) if near else "list them with `falak mdb show`",
        )
