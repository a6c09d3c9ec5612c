"""falak's native YAML mission-database format: load, check and dump.

The format is described in ``docs/mdb-yaml.md`` (and, for editors, ``falak/mdb/schema.json``).
In short, a document is a space system::

    name: TESTSAT
    types:
      Voltage: {kind: float, encoding: uint16, calibrator: {polynomial: [0, 0.001]}, unit: V}
    parameters:
      BATT_V: Voltage
      APID: uint11                      # compact built-in types: uint1..64, int2..64, float32
    containers:
      HK: {base: CCSDS_TM, restriction: "APID == 100", entries: [BATT_V]}
    systems:
      PAYLOAD: {...}                    # nested space systems, same keys

Names may be short, relative (``PAYLOAD/X``) or absolute (``/TESTSAT/PAYLOAD/X``); a name is
looked up in the current space system, then in its ancestors (as in XTCE). The loader records
the line of every item, collects every error it finds (with its line and a fix) and raises
them together as :class:`falak.errors.MdbErrors`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from falak.errors import MdbError, MdbErrors
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    AlarmLevel,
    AlarmRanges,
    AllOf,
    AnyOf,
    Argument,
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
    Derivation,
    Dimension,
    DynamicValue,
    Entry,
    EnumeratedType,
    EnumerationAlarm,
    EnumValue,
    FixedValueEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    Location,
    Member,
    MetaCommand,
    MissionDatabase,
    Not,
    NumericAlarm,
    Parameter,
    ParameterEntry,
    ParameterRef,
    PolynomialCalibrator,
    Range,
    RelativeTimeType,
    Repeat,
    SequenceContainer,
    Significance,
    SourceLocation,
    SpaceSystem,
    SplineCalibrator,
    StringEncoding,
    StringType,
    TimeEpoch,
    Verifier,
    qualify,
    short_name,
)
from falak.mdb.validate import validate

__all__ = ["builtin_type", "dump_yaml", "load_yaml", "loads_yaml"]

# ---------------------------------------------------------------------------------------------
# YAML reading: YAML 1.2 booleans (only true/false), so labels such as ON/OFF/YES stay text.


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]  # libyaml's loader when built
    """SafeLoader whose booleans are only true/false (YAML 1.2), not yes/no/on/off."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
# YAML 1.2 also reads 1e-3 (no dot) as a number
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.?[0-9]*[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"

# ---------------------------------------------------------------------------------------------
# Built-in compact types: uint1..uint64, int2..int64, float16/32/64, with "le" for little-endian

_BUILTIN_RE = re.compile(r"^(?:(?P<int>u?int)(?P<ibits>\d+)|float(?P<fbits>16|32|64))(?P<le>le)?$")
BUILTIN_HELP = (
    "uint1..uint64, int2..int64, float16, float32, float64 (add 'le' for little-endian, "
    "e.g. uint32le)"
)


def _le(bits: int) -> tuple[int, ...]:
    return tuple(range(bits // 8))


def _encoding_from_spec(spec: str) -> IntegerEncoding | FloatEncoding | None:
    m = _BUILTIN_RE.match(spec)
    if not m:
        return None
    le = m.group("le") is not None
    if m.group("int"):
        bits = int(m.group("ibits"))
        signed = m.group("int") == "int"
        if not (2 if signed else 1) <= bits <= 64 or (le and bits % 8):
            return None
        return IntegerEncoding(
            bits, "twosComplement" if signed else "unsigned", _le(bits) if le else None
        )
    bits = int(m.group("fbits"))
    return FloatEncoding(bits, "IEEE754", _le(bits) if le else None)


def _spec_from_encoding(enc: DataEncoding | None) -> str | None:
    """The compact text of an encoding (``uint16``, ``float32le``) or None if it has none."""
    if isinstance(enc, IntegerEncoding) and enc.encoding in ("unsigned", "twosComplement"):
        spec = ("uint" if enc.encoding == "unsigned" else "int") + str(enc.size_bits)
    elif isinstance(enc, FloatEncoding) and enc.encoding == "IEEE754":
        spec = f"float{enc.size_bits}"
    else:
        return None
    if enc.byte_order is not None:
        if enc.byte_order != _le(enc.size_bits) or enc.size_bits % 8:
            return None
        spec += "le"
    return spec if _encoding_from_spec(spec) == enc else None


def builtin_type(spec: str, name: str | None = None) -> IntegerType | FloatType | None:
    """Return the type a compact name such as ``uint16`` or ``float32le`` stands for, or None."""
    enc = _encoding_from_spec(spec)
    if isinstance(enc, IntegerEncoding):
        return IntegerType(name or spec, encoding=enc, signed=enc.encoding != "unsigned")
    if isinstance(enc, FloatEncoding):
        return FloatType(name or spec, encoding=enc)
    return None


# ---------------------------------------------------------------------------------------------
# Names

TYPE_KINDS = (
    "integer",
    "float",
    "enumerated",
    "boolean",
    "string",
    "binary",
    "absolute_time",
    "relative_time",
    "aggregate",
    "array",
)
_KIND_OF: dict[type, str] = {
    IntegerType: "integer",
    FloatType: "float",
    EnumeratedType: "enumerated",
    BooleanType: "boolean",
    StringType: "string",
    BinaryType: "binary",
    AbsoluteTimeType: "absolute_time",
    RelativeTimeType: "relative_time",
    AggregateType: "aggregate",
    ArrayType: "array",
}
_LEVELS = {lv.name.lower(): lv for lv in AlarmLevel}
_ALARM_RANGE_KEYS = ("watch", "warning", "distress", "critical", "severe")
_SIGNIFICANCE = {s.name.lower(): s for s in Significance}
_INT_SIGNS = ("unsigned", "twosComplement", "signMagnitude", "onesComplement")
_FLOAT_ENCODINGS = ("IEEE754", "MILSTD_1750A")
_LOCATION_KEYS = {
    "offset_bits": "previousEntry",
    "absolute_bits": "containerStart",
    "packet_offset_bits": "packetStart",
}


def _normpath(path: str) -> str:
    parts: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    return "/" + "/".join(parts)


def _parent(qn: str) -> str:
    return qn.rsplit("/", 1)[0] or "/"


def _scopes(scope: str, root: str) -> list[str]:
    """The systems a relative name is looked up in: ``scope``, its parents up to ``root``."""
    out = [scope]
    while scope != root and scope.startswith(root + "/"):
        scope = _parent(scope)
        out.append(scope)
    return out


# ---------------------------------------------------------------------------------------------
# References and conditions as text

_REF_RE = re.compile(
    r"^(?P<raw>raw\()?\s*(?P<arg>arg\()?\s*(?P<name>[^\s()\[\]]+?)\s*"
    r"(?:\[\s*(?P<inst>-?\d+)\s*\])?\s*(?P<close1>\))?\s*(?P<close2>\))?$"
)
_OPS = ("==", "!=", "<=", ">=", "<", ">")
_COND_RE = re.compile(r"^(?P<lhs>.+?)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<rhs>.*)$")


def _split_ref(text: str) -> tuple[str, tuple[str, ...], bool, bool, int] | None:
    """Split ``raw(NAME.member[-1])`` into (name, members, calibrated, argument, instance)."""
    m = _REF_RE.match(text.strip())
    if not m:
        return None
    want_close = (m.group("raw") is not None) + (m.group("arg") is not None)
    have_close = (m.group("close1") is not None) + (m.group("close2") is not None)
    if want_close != have_close:
        return None
    path = m.group("name")
    head, slash, last = path.rpartition("/")
    if last in (".", ".."):
        members: tuple[str, ...] = ()
        name = path
    else:
        bits = last.split(".")
        if any(b == "" for b in bits):
            return None
        name = head + slash + bits[0]
        members = tuple(bits[1:])
    inst = int(m.group("inst")) if m.group("inst") else 0
    return name, members, m.group("raw") is None, m.group("arg") is not None, inst


def _quote_value(value: str) -> str:
    if (
        value
        and value == value.strip()
        and not value.startswith(("'", '"'))
        and not any(op in value for op in ("==", "!=", "<", ">"))
    ):
        return value
    return json.dumps(value)


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass
class _SysDef:
    qn: str
    name: str
    node: MappingNode | None
    items: dict[str, tuple[Node, Node]]
    line: int
    subs: list[_SysDef] = field(default_factory=list)


class _Ctx:
    """Error collection and typed access to YAML nodes, with line numbers."""

    def __init__(self, file: str, loader: _Loader) -> None:
        self.file = file
        self.loader = loader
        self.errors: list[MdbError] = []

    def err(self, node: Node | None, message: str, fix: str | None = None) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        if any(e.line == line and e.message == message for e in self.errors):
            return  # the same node seen by both passes
        self.errors.append(MdbError(message, file=self.file, line=line, fix=fix))

    def src(self, node: Node) -> SourceLocation:
        return SourceLocation(self.file, node.start_mark.line + 1)

    def mapping(self, node: Node, what: str) -> list[tuple[str, Node, Node]] | None:
        """Items of a mapping, keys as text; reports duplicates and non-mappings."""
        if not isinstance(node, MappingNode):
            self.err(
                node,
                f"{what} must be a mapping (key: value lines)",
                f"write {what} as 'key: value' entries indented below it",
            )
            return None
        out: list[tuple[str, Node, Node]] = []
        seen: dict[str, int] = {}
        merged = self._merged(node, what, depth=0)
        own = {str(k.value) for k, _v in node.value if isinstance(k, ScalarNode)}
        for key, k, v in merged:
            if key not in own and key not in seen:
                seen[key] = k.start_mark.line + 1
                out.append((key, k, v))
        seen = {}
        for k, v in node.value:
            if k.tag == _MERGE:
                continue
            if not isinstance(k, ScalarNode):
                self.err(k, f"{what} has a key that is not a plain name", "use a plain name")
                continue
            key = str(k.value)
            if key in seen:
                self.err(
                    k,
                    f"{what}: key {key!r} appears twice (first on line {seen[key]})",
                    "remove or rename one of them",
                )
                continue
            seen[key] = k.start_mark.line + 1
            out.append((key, k, v))
        return out

    def _merged(self, node: MappingNode, what: str, depth: int) -> list[tuple[str, Node, Node]]:
        """The pairs a YAML merge key (``<<: *base``) brings in, first source first."""
        out: list[tuple[str, Node, Node]] = []
        for k, v in node.value:
            if k.tag != _MERGE:
                continue
            sources = v.value if isinstance(v, SequenceNode) else [v]
            for src in sources:
                if not isinstance(src, MappingNode) or depth > 32:
                    self.err(
                        src,
                        f"{what}: '<<' must merge a mapping or a list of mappings",
                        "write <<: *anchor where the anchor names a mapping",
                    )
                    continue
                inner = self._merged(src, what, depth + 1)
                own = [
                    (str(kk.value), kk, vv)
                    for kk, vv in src.value
                    if kk.tag != _MERGE and isinstance(kk, ScalarNode)
                ]
                names = {n for n, _k, _v in own}
                for item in [*(i for i in inner if i[0] not in names), *own]:
                    if item[0] not in {n for n, _k, _v in out}:
                        out.append(item)
        return out

    def fields(
        self, node: Node, what: str, allowed: Iterable[str]
    ) -> dict[str, tuple[Node, Node]] | None:
        """A mapping whose keys must be in ``allowed``; unknown keys are reported."""
        items = self.mapping(node, what)
        if items is None:
            return None
        allowed = list(allowed)
        out: dict[str, tuple[Node, Node]] = {}
        for key, k, v in items:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                self.err(
                    k,
                    f"unknown key {key!r} in {what}",
                    hint + "allowed keys: " + ", ".join(allowed),
                )
                continue
            out[key] = (k, v)
        return out

    def is_null(self, node: Node) -> bool:
        return isinstance(node, ScalarNode) and node.tag == _NULL

    def text(self, node: Node, what: str) -> str | None:
        """A scalar as the text written (so 0x10 stays '0x10', OFF stays 'OFF')."""
        if not isinstance(node, ScalarNode):
            self.err(
                node,
                f"{what} must be a single value, not a list or mapping",
                "write it on one line after the colon",
            )
            return None
        if node.tag == _NULL and node.style is None:
            self.err(node, f"{what} is empty", "give a value")
            return None
        return str(node.value)

    def opt_text(self, node: Node, what: str) -> str | None:
        if self.is_null(node):
            return None
        return self.text(node, what)

    def value(self, node: Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def number(self, node: Node, what: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            return float(self.value(node))
        self.err(
            node,
            f"{what} must be a number, found {self._show(node)}",
            "write a number such as 3 or 0.25",
        )
        return None

    def opt_number(self, node: Node, what: str) -> float | None:
        return None if self.is_null(node) else self.number(node, what)

    def integer(self, node: Node, what: str, minimum: int | None = None) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == _INT:
            v = int(self.value(node))
            if minimum is not None and v < minimum:
                self.err(
                    node,
                    f"{what} must be at least {minimum}, found {v}",
                    f"write a whole number >= {minimum}",
                )
                return None
            return v
        self.err(
            node,
            f"{what} must be a whole number, found {self._show(node)}",
            "write a whole number such as 8",
        )
        return None

    def boolean(self, node: Node, what: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return bool(self.value(node))
        self.err(
            node, f"{what} must be true or false, found {self._show(node)}", "write true or false"
        )
        return None

    def seq(self, node: Node, what: str) -> list[Node] | None:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.err(
            node,
            f"{what} must be a list, found {self._show(node)}",
            "write [a, b, ...] or one '- item' line per element",
        )
        return None

    def _show(self, node: Node) -> str:
        if isinstance(node, ScalarNode):
            return repr(node.value)
        return "a list" if isinstance(node, SequenceNode) else "a mapping"


_SYSTEM_KEYS = (
    "name",
    "description",
    "long_description",
    "ancillary",
    "types",
    "argument_types",
    "parameters",
    "containers",
    "commands",
    "systems",
)
_SUBSYSTEM_KEYS = tuple(k for k in _SYSTEM_KEYS if k != "name")
_COMMON_TYPE_KEYS = ("kind", "description", "long_description", "ancillary")
_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "integer": (
        "encoding",
        "signed",
        "size_bits",
        "calibrator",
        "unit",
        "valid_range",
        "alarm",
        "initial_value",
    ),
    "float": (
        "encoding",
        "size_bits",
        "calibrator",
        "unit",
        "valid_range",
        "alarm",
        "initial_value",
    ),
    "enumerated": ("encoding", "enum", "unit", "alarm", "initial_value"),
    "boolean": ("encoding", "zero_string", "one_string", "unit", "initial_value"),
    "string": ("encoding", "unit", "size_range", "initial_value"),
    "binary": ("encoding", "unit", "size_range", "initial_value"),
    "absolute_time": (
        "encoding",
        "timecode",
        "scale",
        "offset",
        "epoch",
        "offset_from",
        "initial_value",
    ),
    "relative_time": ("encoding", "scale", "offset", "initial_value"),
    "aggregate": ("members",),
    "array": ("element_type", "dimensions"),
}
_PARAMETER_KEYS = (
    "type",
    "description",
    "long_description",
    "derived",
    "expected_period_s",
    "data_source",
    "read_only",
    "aliases",
    "ancillary",
)
_DATA_SOURCES = ("telemetered", "derived", "constant", "local", "ground", "command")
_CONTAINER_KEYS = (
    "base",
    "restriction",
    "abstract",
    "entries",
    "size_bits",
    "expected_period_s",
    "crc",
    "description",
    "long_description",
    "ancillary",
)
_COMMAND_KEYS = (
    "base",
    "abstract",
    "significance",
    "significance_reason",
    "arguments",
    "assign",
    "entries",
    "verifiers",
    "crc",
    "description",
    "long_description",
    "ancillary",
    "container_name",
    "container_base",
    "container_restriction",
)
_ENTRY_KEYS = (
    "parameter",
    "container",
    "argument",
    "fixed",
    "value",
    "name",
    "offset_bits",
    "absolute_bits",
    "packet_offset_bits",
    "include_if",
    "repeat",
    "dimensions",
)
_CRCS = ("CRC-16-CCITT",)


class _Builder:
    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.root_qn = "/"
        self.types: set[str] = set()
        self.argument_types: set[str] = set()
        self.parameters: set[str] = set()
        self.containers: set[str] = set()
        self.commands: set[str] = set()
        self.command_containers: set[str] = set()
        self.missing: set[str] = set()
        self.tainted_lines: set[int] = set()
        # implicit types created while resolving, by (table, qualified name)
        self.implicit_types: dict[str, DataType] = {}
        self.implicit_argument_types: dict[str, DataType] = {}
        self.type_nodes: dict[str, tuple[Node, Node]] = {}
        self.systems: dict[str, SpaceSystem] = {}

    # -- pass 1: the tree of systems and the names it defines --------------------------------

    def collect(self, node: Node, qn: str | None, key_node: Node | None) -> _SysDef | None:
        ctx = self.ctx
        what = "the space system" if qn is None else f"space system {short_name(qn)}"
        allowed = _SYSTEM_KEYS if qn is None else _SUBSYSTEM_KEYS
        if qn is not None and ctx.is_null(node):
            items: dict[str, tuple[Node, Node]] | None = {}
        else:
            items = ctx.fields(node, what, allowed)
        if items is None:
            return None
        if qn is None:
            if "name" not in items:
                ctx.err(
                    node,
                    "the document has no 'name:' for its space system",
                    "start the file with 'name: MYSAT'",
                )
                name = "UNNAMED"
            else:
                name = ctx.text(items["name"][1], "name") or "UNNAMED"
                if "/" in name or "." in name:
                    ctx.err(
                        items["name"][1],
                        f"space system name {name!r} contains '/' or '.'",
                        "use letters, digits, '_' and '-'",
                    )
            qn = "/" + name
            self.root_qn = qn
        sd = _SysDef(
            qn,
            short_name(qn),
            node if isinstance(node, MappingNode) else None,
            items,
            (key_node or node).start_mark.line + 1,
        )
        for section, table in (
            ("types", self.types),
            ("argument_types", self.argument_types),
            ("parameters", self.parameters),
            ("containers", self.containers),
            ("commands", self.commands),
        ):
            if section not in items:
                continue
            sec_node = items[section][1]
            if ctx.is_null(sec_node):
                continue
            entries = ctx.mapping(sec_node, f"{section} of {short_name(qn)}")
            for key, k, _v in entries or []:
                if "/" in key or "." in key or not key:
                    ctx.err(
                        k,
                        f"name {key!r} in {section} contains '/' or '.'",
                        "use letters, digits, '_' and '-' (nest systems under systems:)",
                    )
                table.add(qualify(qn, key))
        if "commands" in items and not ctx.is_null(items["commands"][1]):
            for key, _k, v in ctx.mapping(items["commands"][1], f"commands of {sd.name}") or []:
                if isinstance(v, MappingNode):
                    for kk, vv in v.value:
                        if (
                            isinstance(kk, ScalarNode)
                            and kk.value == "container_name"
                            and (isinstance(vv, ScalarNode))
                        ):
                            self.command_containers.add(
                                _normpath(
                                    vv.value if vv.value.startswith("/") else qualify(qn, vv.value)
                                )
                            )
                _ = key
        if "systems" in items and not ctx.is_null(items["systems"][1]):
            for key, k, v in ctx.mapping(items["systems"][1], f"systems of {sd.name}") or []:
                sub = self.collect(v, qualify(qn, key), k)
                if sub is not None:
                    sd.subs.append(sub)
        return sd

    # -- names ----------------------------------------------------------------------------------

    def lookup(self, name: str, scope: str, table: set[str]) -> str | None:
        if name.startswith("/"):
            q = _normpath(name)
            return q if q in table else None
        for s in _scopes(scope, self.root_qn):
            q = _normpath(qualify(s, name))
            if q in table:
                return q
        return None

    def resolve(
        self, name: str, scope: str, table: set[str], what: str, node: Node, user: str, section: str
    ) -> str:
        q = self.lookup(name, scope, table)
        if q is not None:
            return q
        near = difflib.get_close_matches(
            short_name(name), sorted({short_name(t) for t in table}), n=3
        )
        hint = ("did you mean " + " or ".join(near) + "? ") if near else ""
        self.ctx.err(
            node,
            f"unknown {what} {name!r} {user}",
            f"{hint}define it under {section}: or correct the name",
        )
        q = _normpath(name if name.startswith("/") else qualify(scope, name))
        self.missing.add(q)
        return q

    def resolve_type(self, name: str, scope: str, node: Node, user: str, arg: bool) -> str:
        """Resolve a type name: explicit types (argument types first for arguments), then
        the built-in compact names, which create a type in the root system."""
        candidates: list[str] = []
        if name.startswith("/"):
            candidates = [_normpath(name)]
        else:
            candidates = [_normpath(qualify(s, name)) for s in _scopes(scope, self.root_qn)]
        for q in candidates:
            if arg and q in self.argument_types:
                return q
            if q in self.types:
                if arg:
                    self.implicit_argument_types[q] = self._copy_later(q)
                return q
        spec = short_name(name)
        q = qualify(self.root_qn, spec)
        if q in candidates:
            bt = builtin_type(spec)
            if bt is not None:
                (self.implicit_argument_types if arg else self.implicit_types)[q] = bt
                return q
        near = difflib.get_close_matches(
            spec, sorted({short_name(t) for t in self.types | self.argument_types}), n=3
        )
        hint = ("did you mean " + " or ".join(near) + "? ") if near else ""
        self.ctx.err(
            node,
            f"unknown type {name!r} {user}",
            f"{hint}write one of {BUILTIN_HELP} or define it under "
            + ("argument_types: or types:" if arg else "types:"),
        )
        q = _normpath(name if name.startswith("/") else qualify(scope, name))
        self.missing.add(q)
        return q

    def _copy_later(self, q: str) -> DataType:
        # placeholder; replaced by the built type of ``types[q]`` after pass 2
        return IntegerType("__copy__:" + q)

    # -- references and conditions ------------------------------------------------------------

    def ref(self, node: Node, scope: str, user: str) -> ParameterRef | None:
        text = self.ctx.text(node, f"parameter reference {user}")
        if text is None:
            return None
        return self.ref_text(text, node, scope, user)

    def ref_text(self, text: str, node: Node, scope: str, user: str) -> ParameterRef | None:
        parts = _split_ref(text)
        if parts is None:
            self.ctx.err(
                node,
                f"cannot read parameter reference {text!r} {user}",
                "write NAME, NAME.member, raw(NAME), arg(ARGUMENT) or NAME[-1]",
            )
            return None
        name, members, calibrated, argument, inst = parts
        if not argument:
            name = self.resolve(name, scope, self.parameters, "parameter", node, user, "parameters")
        return ParameterRef(name, members, calibrated, inst, argument)

    def condition(self, node: Node, scope: str, user: str) -> Condition | None:
        ctx = self.ctx
        if isinstance(node, SequenceNode):
            subs = [self.condition(n, scope, user) for n in node.value]
            if any(s is None for s in subs):
                return None
            return AllOf(tuple(cast(list[Condition], subs)))
        if isinstance(node, MappingNode):
            items = ctx.fields(node, f"condition {user}", ("all", "any", "not"))
            if items is None:
                return None
            if len(items) != 1:
                ctx.err(
                    node,
                    f"condition {user} must have exactly one of all:, any:, not:",
                    "nest conditions: {any: [A == 1, B == 2]}",
                )
                return None
            key, (_k, v) = next(iter(items.items()))
            if key == "not":
                inner = self.condition(v, scope, user)
                return None if inner is None else Not(inner)
            seq = ctx.seq(v, f"'{key}:' of condition {user}")
            if seq is None:
                return None
            subs = [self.condition(n, scope, user) for n in seq]
            if any(s is None for s in subs):
                return None
            conds = tuple(cast(list[Condition], subs))
            return AllOf(conds) if key == "all" else AnyOf(conds)
        text = ctx.text(node, f"condition {user}")
        if text is None:
            return None
        m = _COND_RE.match(text.strip())
        if not m:
            ctx.err(
                node,
                f"cannot read condition {text!r} {user}",
                "write 'NAME == VALUE' with one of == != < <= > >=, e.g. 'APID == 100', "
                "'raw(MODE) == 3', 'HDR.APID >= 3'",
            )
            return None
        ref = self.ref_text(m.group("lhs"), node, scope, user)
        rhs = m.group("rhs").strip()
        bad = self.bad_condition_value(m.group("op"), rhs)
        if bad is not None:
            ctx.err(node, f"cannot read condition {text!r} {user}: {bad[0]}", bad[1])
            return None
        if rhs.startswith('"'):
            try:
                rhs = str(json.loads(rhs))
            except ValueError:
                ctx.err(
                    node,
                    f"bad quoted value {rhs} in condition {user}",
                    'close the quotes: NAME == "some text"',
                )
                return None
        elif rhs.startswith("'") and rhs.endswith("'") and len(rhs) >= 2:
            rhs = rhs[1:-1]
        if ref is None:
            return None
        return Comparison(ref, cast(Any, m.group("op")), rhs)

    @staticmethod
    def bad_condition_value(op: str, rhs: str) -> tuple[str, str] | None:
        """Why the value of ``NAME OP VALUE`` cannot be read (message, fix), or None."""
        if not rhs:
            return f"nothing follows {op}", "give the value to compare with, e.g. 'APID == 100'"
        if rhs[0] in "=<>!":
            return (
                f"{op}{rhs[0]} is not an operator",
                "use one of == != < <= > >= ('not equal' is !=)",
            )
        return None  # a value the type cannot compare with is reported by validate

    def dynamic(self, node: Node, scope: str, user: str) -> DynamicValue | None:
        ctx = self.ctx
        if isinstance(node, MappingNode):
            items = ctx.fields(node, f"size {user}", ("parameter", "slope", "intercept"))
            if items is None:
                return None
            if "parameter" not in items:
                ctx.err(node, f"size {user} has no parameter:", "give parameter: NAME")
                return None
            ref = self.ref(items["parameter"][1], scope, user)
            slope = ctx.number(items["slope"][1], "slope") if "slope" in items else 1.0
            icpt = ctx.number(items["intercept"][1], "intercept") if "intercept" in items else 0.0
            if ref is None or slope is None or icpt is None:
                return None
            return DynamicValue(ref, slope, icpt)
        ref = self.ref(node, scope, user)
        return None if ref is None else DynamicValue(ref)

    # -- small values -----------------------------------------------------------------------

    def pairs(self, node: Node, what: str) -> tuple[tuple[str, str], ...]:
        ctx = self.ctx
        if isinstance(node, SequenceNode):
            out = []
            for item in node.value:
                if isinstance(item, SequenceNode) and len(item.value) == 2:
                    a = ctx.text(item.value[0], what)
                    b = ctx.text(item.value[1], what)
                    if a is not None and b is not None:
                        out.append((a, b))
                else:
                    ctx.err(item, f"{what} item must be [key, value]", "or use a mapping")
            return tuple(out)
        out = []
        for key, _k, v in ctx.mapping(node, what) or []:
            t = ctx.text(v, f"{what} {key}")
            if t is not None:
                out.append((key, t))
        return tuple(out)

    def range_(self, node: Node, what: str) -> Range | None:
        ctx = self.ctx
        if isinstance(node, SequenceNode):
            if len(node.value) != 2:
                ctx.err(node, f"{what} must be [min, max]", "write two numbers; null is open")
                return None
            lo = ctx.opt_number(node.value[0], f"{what} min")
            hi = ctx.opt_number(node.value[1], f"{what} max")
            if (lo is None and not ctx.is_null(node.value[0])) or (
                hi is None and not ctx.is_null(node.value[1])
            ):
                return None
            return Range(lo, hi)
        items = ctx.fields(node, what, ("min", "max", "min_inclusive", "max_inclusive"))
        if items is None:
            return None
        r = Range()
        if "min" in items:
            r = replace(r, min=ctx.opt_number(items["min"][1], f"{what} min"))
        if "max" in items:
            r = replace(r, max=ctx.opt_number(items["max"][1], f"{what} max"))
        for key in ("min_inclusive", "max_inclusive"):
            if key in items:
                b = ctx.boolean(items[key][1], f"{what} {key}")
                if b is not None:
                    r = replace(r, **{key: b})
        return r

    def hexbytes(self, node: Node, what: str) -> bytes | None:
        ctx = self.ctx
        if isinstance(node, ScalarNode) and node.tag == _INT and node.style is None:
            text = node.value
        else:
            text = ctx.text(node, what)
        if text is None:
            return None
        clean = text.replace(" ", "").replace("_", "")
        if clean.lower().startswith("0x"):
            clean = clean[2:]
        try:
            return bytes.fromhex(clean)
        except ValueError:
            ctx.err(
                node,
                f"{what} {text!r} is not hexadecimal bytes",
                "write hex digits, two per byte, e.g. '1ACFFC1D' or '00'",
            )
            return None

    # -- encodings --------------------------------------------------------------------------

    def encoding(self, node: Node, kind: str, scope: str, user: str) -> DataEncoding | None:
        ctx = self.ctx
        if isinstance(node, ScalarNode) and not ctx.is_null(node):
            spec = str(node.value)
            enc = _encoding_from_spec(spec)
            if enc is None:
                ctx.err(
                    node,
                    f"unknown encoding {spec!r} {user}",
                    f"write one of {BUILTIN_HELP}, or a mapping such as "
                    "{bits: 12, signed: true} or {fixed_bits: 64} for strings",
                )
            return enc
        items = ctx.fields(
            node,
            f"encoding {user}",
            (
                "as",
                "bits",
                "signed",
                "encoding",
                "byte_order",
                "charset",
                "fixed_bits",
                "terminator",
                "leading_size_bits",
                "size_bits_from",
                "max_bits",
            ),
        )
        if items is None:
            return None
        as_kind = None
        if "as" in items:
            as_kind = ctx.text(items["as"][1], "as")
            if as_kind not in ("integer", "float", "string", "binary"):
                ctx.err(
                    items["as"][1],
                    f"unknown encoding kind {as_kind!r} {user}",
                    "write as: integer, float, string or binary",
                )
                return None
        if as_kind is None:
            if kind in ("string", "binary"):
                as_kind = kind
            else:
                enc_name = items.get("encoding", (None, None))[1]
                is_float = isinstance(enc_name, ScalarNode) and enc_name.value in _FLOAT_ENCODINGS
                as_kind = "float" if is_float else "integer"
        if as_kind in ("integer", "float"):
            for key in items:
                if key not in ("as", "bits", "signed", "encoding", "byte_order"):
                    ctx.err(
                        items[key][0],
                        f"key {key!r} does not apply to a numeric encoding {user}",
                        "use bits, signed, encoding and byte_order",
                    )
            if "bits" not in items:
                ctx.err(node, f"numeric encoding {user} has no bits:", "give bits: N")
                return None
            bits = ctx.integer(items["bits"][1], "bits", 1)
            order = None
            if "byte_order" in items:
                seq = ctx.seq(items["byte_order"][1], "byte_order")
                if seq is None:
                    return None
                vals = [ctx.integer(n, "byte_order item", 0) for n in seq]
                if any(v is None for v in vals):
                    return None
                order = tuple(cast(list[int], vals))
            if bits is None:
                return None
            if as_kind == "float":
                fe = "IEEE754"
                if "encoding" in items:
                    fe = ctx.text(items["encoding"][1], "encoding") or fe
                    if fe not in _FLOAT_ENCODINGS:
                        ctx.err(
                            items["encoding"][1],
                            f"unknown float encoding {fe!r}",
                            "use IEEE754 or MILSTD_1750A",
                        )
                        return None
                return FloatEncoding(bits, cast(Any, fe), order)
            sign = "unsigned"
            if "signed" in items:
                s = ctx.boolean(items["signed"][1], "signed")
                sign = "twosComplement" if s else "unsigned"
            if "encoding" in items:
                sign = ctx.text(items["encoding"][1], "encoding") or sign
                if sign not in _INT_SIGNS:
                    ctx.err(
                        items["encoding"][1],
                        f"unknown integer encoding {sign!r} {user}",
                        "use " + ", ".join(_INT_SIGNS) + " (or IEEE754 for floats)",
                    )
                    return None
            return IntegerEncoding(bits, cast(Any, sign), order)
        # strings and binaries
        for key in ("bits", "signed", "encoding", "byte_order"):
            if key in items:
                ctx.err(
                    items[key][0],
                    f"key {key!r} does not apply to a {as_kind} encoding",
                    "use fixed_bits, terminator, leading_size_bits, size_bits_from, "
                    "max_bits, charset",
                )
        fixed = (
            ctx.integer(items["fixed_bits"][1], "fixed_bits", -1)
            if ("fixed_bits" in items)
            else None
        )
        lead = (
            ctx.integer(items["leading_size_bits"][1], "leading_size_bits", 1)
            if ("leading_size_bits" in items)
            else None
        )
        dyn = (
            self.dynamic(items["size_bits_from"][1], scope, user)
            if ("size_bits_from" in items)
            else None
        )
        if as_kind == "binary":
            for key in ("charset", "terminator", "max_bits"):
                if key in items:
                    ctx.err(
                        items[key][0],
                        f"key {key!r} does not apply to a binary encoding",
                        "use fixed_bits, leading_size_bits or size_bits_from",
                    )
            return BinaryEncoding(fixed, dyn, lead)
        charset = "UTF-8"
        if "charset" in items:
            charset = ctx.text(items["charset"][1], "charset") or charset
        term = (
            self.hexbytes(items["terminator"][1], "terminator") if ("terminator" in items) else None
        )
        mx = ctx.integer(items["max_bits"][1], "max_bits", 0) if "max_bits" in items else None
        return StringEncoding(charset, fixed, dyn, lead, term, mx)

    # -- calibrators and alarms -------------------------------------------------------------

    def calibrator(self, node: Node, scope: str, user: str) -> Calibrator | None:
        ctx = self.ctx
        items = ctx.fields(
            node,
            f"calibrator {user}",
            ("polynomial", "spline", "order", "extrapolate", "contexts", "default", "when"),
        )
        if items is None:
            return None
        items.pop("when", None)
        kinds = [k for k in ("polynomial", "spline", "contexts") if k in items]
        if len(kinds) != 1:
            ctx.err(
                node,
                f"calibrator {user} needs exactly one of polynomial:, spline:, contexts:",
                "e.g. calibrator: {polynomial: [0.0, 0.001]}",
            )
            return None
        kind = kinds[0]
        if kind == "polynomial":
            seq = ctx.seq(items["polynomial"][1], "polynomial")
            if seq is None:
                return None
            coefs = [ctx.number(n, "polynomial coefficient") for n in seq]
            if any(c is None for c in coefs):
                return None
            return PolynomialCalibrator(tuple(cast(list[float], coefs)))
        if kind == "spline":
            seq = ctx.seq(items["spline"][1], "spline")
            if seq is None:
                return None
            pts: list[tuple[float, float]] = []
            for n in seq:
                if not (isinstance(n, SequenceNode) and len(n.value) == 2):
                    ctx.err(
                        n,
                        f"spline point {user} must be [raw, eng]",
                        "write each point as [raw, eng]",
                    )
                    return None
                a = ctx.number(n.value[0], "spline raw")
                b = ctx.number(n.value[1], "spline eng")
                if a is None or b is None:
                    return None
                pts.append((a, b))
            order = ctx.integer(items["order"][1], "order", 0) if "order" in items else 1
            extra = (
                ctx.boolean(items["extrapolate"][1], "extrapolate")
                if ("extrapolate" in items)
                else False
            )
            return SplineCalibrator(tuple(pts), order if order is not None else 1, bool(extra))
        seq = ctx.seq(items["contexts"][1], "contexts")
        if seq is None:
            return None
        contexts: list[tuple[Condition, Calibrator]] = []
        for n in seq:
            cond = self.when(n, scope, user)
            cal = self.calibrator(n, scope, user)
            if cond is not None and cal is not None:
                contexts.append((cond, cal))
        default = (
            self.calibrator(items["default"][1], scope, user) if ("default" in items) else None
        )
        return ContextCalibrator(tuple(contexts), default)

    def when(self, node: Node, scope: str, user: str) -> Condition | None:
        if not isinstance(node, MappingNode):
            self.ctx.err(
                node,
                f"context {user} must be a mapping with when:",
                "write - when: 'MODE == SAFE' followed by its settings",
            )
            return None
        for key, _k, v in self.ctx.mapping(node, f"context {user}") or []:
            if key == "when":
                return self.condition(v, scope, f"{user} (context)")
        self.ctx.err(node, f"context {user} has no when:", "add when: 'NAME == VALUE'")
        return None

    def alarm_ranges(self, items: dict[str, tuple[Node, Node]], what: str) -> AlarmRanges:
        kw: dict[str, Range | None] = {}
        for key in _ALARM_RANGE_KEYS:
            if key in items:
                kw[key] = self.range_(items[key][1], f"{key} range {what}")
        return AlarmRanges(**kw)

    def numeric_alarm(self, node: Node, scope: str, user: str) -> NumericAlarm | None:
        ctx = self.ctx
        items = ctx.fields(
            node, f"alarm {user}", (*_ALARM_RANGE_KEYS, "static", "contexts", "min_violations")
        )
        if items is None:
            return None
        static = None
        if any(k in items for k in _ALARM_RANGE_KEYS):
            static = self.alarm_ranges(items, user)
            if "static" in items:
                ctx.err(
                    items["static"][0],
                    f"alarm {user} has both static: and level ranges",
                    "put the ranges either directly under alarm: or under static:",
                )
        elif "static" in items:
            sitems = ctx.fields(items["static"][1], f"static alarm {user}", _ALARM_RANGE_KEYS)
            static = self.alarm_ranges(sitems or {}, user)
        contexts: list[tuple[Condition, AlarmRanges]] = []
        if "contexts" in items:
            for n in ctx.seq(items["contexts"][1], "contexts") or []:
                cond = self.when(n, scope, user)
                citems = ctx.fields(n, f"alarm context {user}", ("when", *_ALARM_RANGE_KEYS))
                if cond is not None and citems is not None:
                    contexts.append((cond, self.alarm_ranges(citems, user)))
        mv = (
            ctx.integer(items["min_violations"][1], "min_violations", 1)
            if ("min_violations" in items)
            else 1
        )
        return NumericAlarm(static, tuple(contexts), mv or 1)

    def level(self, node: Node, what: str) -> AlarmLevel | None:
        text = self.ctx.text(node, what)
        if text is None:
            return None
        if text.lower() not in _LEVELS:
            self.ctx.err(
                node, f"unknown alarm level {text!r} {what}", "use one of " + ", ".join(_LEVELS)
            )
            return None
        return _LEVELS[text.lower()]

    def level_table(
        self, items: Iterable[tuple[str, Node, Node]], what: str
    ) -> tuple[tuple[str, AlarmLevel], ...]:
        out = []
        for key, _k, v in items:
            lv = self.level(v, f"for label {key} {what}")
            if lv is not None:
                out.append((key, lv))
        return tuple(out)

    def enum_alarm(self, node: Node, scope: str, user: str) -> EnumerationAlarm | None:
        ctx = self.ctx
        items = ctx.mapping(node, f"alarm {user}")
        if items is None:
            return None
        special = {
            k: (kn, v)
            for k, kn, v in items
            if k in ("default", "contexts", "min_violations", "levels")
        }
        labels = [(k, kn, v) for k, kn, v in items if k not in special]
        if "levels" in special:
            if labels:
                ctx.err(
                    labels[0][1],
                    f"alarm {user} has both levels: and labels",
                    "list the labels under levels: only",
                )
            labels = ctx.mapping(special["levels"][1], "levels") or []
        levels = self.level_table(labels, user)
        default = AlarmLevel.NORMAL
        if "default" in special:
            default = self.level(special["default"][1], f"default {user}") or default
        contexts: list[tuple[Condition, tuple[tuple[str, AlarmLevel], ...]]] = []
        if "contexts" in special:
            for n in ctx.seq(special["contexts"][1], "contexts") or []:
                cond = self.when(n, scope, user)
                citems = [
                    (k, kn, v) for k, kn, v in (ctx.mapping(n, "context") or []) if k != "when"
                ]
                if len(citems) == 1 and citems[0][0] == "levels":
                    citems = ctx.mapping(citems[0][2], "levels") or []
                if cond is not None:
                    contexts.append((cond, self.level_table(citems, user)))
        mv = (
            ctx.integer(special["min_violations"][1], "min_violations", 1)
            if ("min_violations" in special)
            else 1
        )
        return EnumerationAlarm(levels, default, tuple(contexts), mv or 1)

    # -- types ------------------------------------------------------------------------------

    def data_type(
        self, name: str, knode: Node, node: Node, scope: str, arg: bool
    ) -> DataType | None:
        ctx = self.ctx
        src = ctx.src(knode)
        user = f"for type {name}"
        if isinstance(node, ScalarNode) and not ctx.is_null(node):
            bt = builtin_type(str(node.value), name)
            if bt is None:
                ctx.err(
                    node,
                    f"unknown built-in type {node.value!r} for type {name}",
                    f"write one of {BUILTIN_HELP}, or a mapping with kind: and encoding:",
                )
                return None
            return replace(bt, source=src)
        items = ctx.mapping(node, f"type {name}")
        if items is None:
            return None
        keys = {k for k, _kn, _v in items}
        kind: str | None = None
        for k, _kn, v in items:
            if k == "kind":
                kind = ctx.text(v, "kind")
                if kind not in TYPE_KINDS:
                    near = difflib.get_close_matches(kind or "", TYPE_KINDS, n=1)
                    ctx.err(
                        v,
                        f"unknown kind {kind!r} for type {name}",
                        (f"did you mean {near[0]!r}? " if near else "")
                        + "use one of "
                        + ", ".join(TYPE_KINDS),
                    )
                    return None
        if kind is None:
            kind = self.infer_kind(keys, items)
            if kind is None:
                ctx.err(
                    node, f"type {name} has no kind:", "add kind: one of " + ", ".join(TYPE_KINDS)
                )
                return None
        f = ctx.fields(node, f"type {name} ({kind})", _COMMON_TYPE_KEYS + _TYPE_KEYS[kind])
        if f is None:
            return None
        common: dict[str, Any] = {"source": src}
        for key in ("description", "long_description"):
            if key in f:
                common[key] = ctx.opt_text(f[key][1], key)
        if "ancillary" in f:
            common["ancillary"] = self.pairs(f["ancillary"][1], "ancillary")
        if "initial_value" in f:
            common["initial_value"] = ctx.opt_text(f["initial_value"][1], "initial_value")
        if "unit" in f:
            common["unit"] = ctx.opt_text(f["unit"][1], "unit")
        enc: DataEncoding | None = None
        if "encoding" in f and not ctx.is_null(f["encoding"][1]):
            enc = self.encoding(f["encoding"][1], kind, scope, user)
            common["encoding"] = enc
        if kind in ("integer", "float") and "valid_range" in f:
            common["valid_range"] = self.range_(f["valid_range"][1], f"valid_range {user}")
        if kind in ("string", "binary") and "size_range" in f:
            common["size_range"] = self.range_(f["size_range"][1], f"size_range {user}")
        if kind in ("integer", "float"):
            if "calibrator" in f and not ctx.is_null(f["calibrator"][1]):
                common["calibrator"] = self.calibrator(f["calibrator"][1], scope, user)
            if "alarm" in f and not ctx.is_null(f["alarm"][1]):
                common["alarm"] = self.numeric_alarm(f["alarm"][1], scope, user)
            if "size_bits" in f:
                common["size_bits"] = ctx.integer(f["size_bits"][1], "size_bits", 1) or 64
        if kind == "integer":
            signed = enc.encoding != "unsigned" if isinstance(enc, IntegerEncoding) else True
            if "signed" in f:
                b = ctx.boolean(f["signed"][1], "signed")
                signed = signed if b is None else b
            return IntegerType(name, signed=signed, **common)
        if kind == "float":
            return FloatType(name, **common)
        if kind == "enumerated":
            values = self.enum_values(f["enum"][1], name) if "enum" in f else ()
            alarm = (
                self.enum_alarm(f["alarm"][1], scope, user)
                if ("alarm" in f and not ctx.is_null(f["alarm"][1]))
                else None
            )
            return EnumeratedType(name, values=values, alarm=alarm, **common)
        if kind == "boolean":
            for key in ("zero_string", "one_string"):
                if key in f:
                    common[key] = ctx.text(f[key][1], key) or ""
            return BooleanType(name, **common)
        if kind == "string":
            return StringType(name, **common)
        if kind == "binary":
            return BinaryType(name, **common)
        if kind in ("absolute_time", "relative_time"):
            for key in ("scale", "offset"):
                if key in f:
                    num = ctx.number(f[key][1], key)
                    if num is not None:
                        common[key] = num
            if kind == "relative_time":
                return RelativeTimeType(name, **common)
            if "timecode" in f:
                common["timecode"] = self.timecode(f["timecode"][1], user)
            if "epoch" in f and not ctx.is_null(f["epoch"][1]):
                ep = ctx.text(f["epoch"][1], "epoch")
                common["epoch"] = TimeEpoch(ep) if ep is not None else None
            if "offset_from" in f and not ctx.is_null(f["offset_from"][1]):
                common["offset_from"] = self.ref(f["offset_from"][1], scope, user)
            return AbsoluteTimeType(name, **common)
        common.pop("source")
        if kind == "aggregate":
            members: list[Member] = []
            mnode = f["members"][1] if "members" in f else None
            for mname, mk, mv in (ctx.mapping(mnode, f"members of {name}") if mnode else []) or []:
                mdesc = None
                tnode = mv
                if isinstance(mv, MappingNode):
                    mitems = ctx.fields(mv, f"member {mname}", ("type", "description"))
                    if mitems is None or "type" not in mitems:
                        if mitems is not None:
                            ctx.err(mv, f"member {mname} of {name} has no type:", "give type: NAME")
                        continue
                    tnode = mitems["type"][1]
                    if "description" in mitems:
                        mdesc = ctx.opt_text(mitems["description"][1], "description")
                tname = ctx.text(tnode, f"type of member {mname}")
                if tname is None:
                    continue
                q = self.resolve_type(tname, scope, tnode, f"for member {mname} of {name}", arg)
                members.append(Member(mname, q, mdesc))
                _ = mk
            return AggregateType(name, tuple(members), source=src, **common)
        # array
        if "element_type" not in f:
            ctx.err(node, f"array type {name} has no element_type:", "give element_type: NAME")
            return None
        ename = ctx.text(f["element_type"][1], "element_type")
        if ename is None:
            return None
        eq = self.resolve_type(ename, scope, f["element_type"][1], f"for elements of {name}", arg)
        dims = self.dimensions(f["dimensions"][1], scope, user) if "dimensions" in f else ()
        return ArrayType(name, eq, dims, source=src, **common)

    def dimensions(self, node: Node, scope: str, user: str) -> tuple[Dimension, ...]:
        out = []
        for n in self.ctx.seq(node, "dimensions") or []:
            if isinstance(n, ScalarNode) and n.tag == _INT:
                out.append(Dimension(size=self.ctx.integer(n, "dimension", 0)))
            elif self.ctx.is_null(n):
                out.append(Dimension())
            else:
                dv = self.dynamic(n, scope, f"(dimension) {user}")
                if dv is not None:
                    out.append(Dimension(dynamic_size=dv))
        return tuple(out)

    def infer_kind(self, keys: set[str], items: list[tuple[str, Node, Node]]) -> str | None:
        if "enum" in keys:
            return "enumerated"
        if "members" in keys:
            return "aggregate"
        if "element_type" in keys:
            return "array"
        if "timecode" in keys:
            return "absolute_time"
        if "calibrator" in keys:
            return "float"
        for k, _kn, v in items:
            if k == "encoding" and isinstance(v, ScalarNode):
                enc = _encoding_from_spec(str(v.value))
                if isinstance(enc, IntegerEncoding):
                    return "integer"
                if isinstance(enc, FloatEncoding):
                    return "float"
        return None

    def enum_values(self, node: Node, name: str) -> tuple[EnumValue, ...]:
        ctx = self.ctx
        out: list[EnumValue] = []
        if isinstance(node, SequenceNode):
            for n in node.value:
                it = ctx.fields(
                    n, f"enum value of {name}", ("value", "label", "max", "description")
                )
                if it is None:
                    continue
                if "value" not in it or "label" not in it:
                    ctx.err(
                        n,
                        f"enum value of {name} needs value: and label:",
                        "write {value: 0, label: OFF}",
                    )
                    continue
                val = ctx.integer(it["value"][1], "value")
                lab = ctx.text(it["label"][1], "label")
                mx = ctx.integer(it["max"][1], "max") if "max" in it else None
                desc = (
                    ctx.opt_text(it["description"][1], "description")
                    if ("description" in it)
                    else None
                )
                if val is not None and lab is not None:
                    out.append(EnumValue(val, lab, mx, desc))
            return tuple(out)
        for _key, k, vnode in ctx.mapping(node, f"enum of {name}") or []:
            raw = ctx.integer(k, f"enum value of {name}")
            if raw is None:
                continue
            if isinstance(vnode, MappingNode):
                it = ctx.fields(
                    vnode, f"enum value {raw} of {name}", ("label", "max", "description")
                )
                if it is None or "label" not in it:
                    if it is not None:
                        ctx.err(
                            vnode, f"enum value {raw} of {name} has no label:", "write {label: OFF}"
                        )
                    continue
                lab = ctx.text(it["label"][1], "label")
                mx = ctx.integer(it["max"][1], "max") if "max" in it else None
                desc = (
                    ctx.opt_text(it["description"][1], "description")
                    if ("description" in it)
                    else None
                )
                if lab is not None:
                    out.append(EnumValue(raw, lab, mx, desc))
            else:
                lab = ctx.text(vnode, f"label of enum value {raw}")
                if lab is not None:
                    out.append(EnumValue(raw, lab))
        return tuple(out)

    def timecode(self, node: Node, user: str) -> CucTimeCode | CdsTimeCode | None:
        ctx = self.ctx
        items = ctx.fields(node, f"timecode {user}", ("cuc", "cds"))
        if items is None:
            return None
        if not items and isinstance(node, MappingNode) and node.value:
            return None  # only unknown keys, already reported
        if len(items) != 1:
            ctx.err(
                node,
                f"timecode {user} needs exactly one of cuc: or cds:",
                "write {cuc: {coarse: 4, fine: 2}} or {cds: {day: 2, submillis: 0}}",
            )
            return None
        key, (_k, v) = next(iter(items.items()))
        if key == "cuc":
            f = {} if ctx.is_null(v) else ctx.fields(v, "cuc", ("coarse", "fine")) or {}
            coarse = ctx.integer(f["coarse"][1], "coarse", 1) if "coarse" in f else 4
            fine = ctx.integer(f["fine"][1], "fine", 0) if "fine" in f else 2
            return CucTimeCode(coarse if coarse is not None else 4, fine if fine is not None else 2)
        f = {} if ctx.is_null(v) else ctx.fields(v, "cds", ("day", "submillis")) or {}
        day = ctx.integer(f["day"][1], "day", 1) if "day" in f else 2
        sub = ctx.integer(f["submillis"][1], "submillis", 0) if "submillis" in f else 0
        return CdsTimeCode(day if day is not None else 2, sub if sub is not None else 0)

    # -- parameters, containers, commands ---------------------------------------------------

    def parameter(self, name: str, knode: Node, node: Node, scope: str) -> Parameter | None:
        ctx = self.ctx
        qn = qualify(scope, name)
        src = ctx.src(knode)
        user = f"for parameter {name}"
        if isinstance(node, ScalarNode):
            if ctx.is_null(node):
                return Parameter(name, qn, None, source=src)
            tq1 = self.resolve_type(str(node.value), scope, node, user, arg=False)
            return Parameter(name, qn, tq1, source=src)
        f = ctx.fields(node, f"parameter {name}", _PARAMETER_KEYS)
        if f is None:
            return None
        tq: str | None = None
        if "type" in f and not ctx.is_null(f["type"][1]):
            tname = ctx.text(f["type"][1], "type")
            if tname is not None:
                tq = self.resolve_type(tname, scope, f["type"][1], user, arg=False)
        elif "type" not in f:
            ctx.err(
                node,
                f"parameter {name} has no type:",
                "give type: NAME (a type under types: or a built-in such as uint16)",
            )
        kw: dict[str, Any] = {"source": src}
        for key in ("description", "long_description"):
            if key in f:
                kw[key] = ctx.opt_text(f[key][1], key)
        for key in ("aliases", "ancillary"):
            if key in f:
                kw[key] = self.pairs(f[key][1], key)
        if "expected_period_s" in f:
            kw["expected_period_s"] = ctx.opt_number(f["expected_period_s"][1], "expected_period_s")
        if "read_only" in f:
            kw["read_only"] = bool(ctx.boolean(f["read_only"][1], "read_only"))
        if "derived" in f:
            d = ctx.fields(f["derived"][1], f"derived {user}", ("function", "inputs"))
            if d is not None:
                if "function" not in d:
                    ctx.err(
                        f["derived"][1],
                        f"derived {user} has no function:",
                        "give function: module:callable, e.g. numpy:multiply",
                    )
                else:
                    func = ctx.text(d["function"][1], "function") or ""
                    inputs: list[str] = []
                    if "inputs" in d:
                        for n in ctx.seq(d["inputs"][1], "inputs") or []:
                            t = ctx.text(n, "input")
                            if t is not None:
                                inputs.append(
                                    self.resolve(
                                        t,
                                        scope,
                                        self.parameters,
                                        "parameter",
                                        n,
                                        f"(input) {user}",
                                        "parameters",
                                    )
                                )
                    kw["derivation"] = Derivation(func, tuple(inputs))
                    kw["data_source"] = "derived"
        if "data_source" in f:
            ds = ctx.text(f["data_source"][1], "data_source")
            if ds not in _DATA_SOURCES:
                ctx.err(
                    f["data_source"][1],
                    f"unknown data_source {ds!r} {user}",
                    "use one of " + ", ".join(_DATA_SOURCES),
                )
            else:
                kw["data_source"] = ds
        return Parameter(name, qn, tq, **kw)

    def entries(self, node: Node, scope: str, user: str, command: bool) -> tuple[Entry, ...]:
        ctx = self.ctx
        out: list[Entry] = []
        for i, n in enumerate(ctx.seq(node, f"entries {user}") or [], start=1):
            e = self.entry(n, scope, f"{user} entry {i}", command)
            if e is not None:
                out.append(e)
        return tuple(out)

    def entry(self, node: Node, scope: str, user: str, command: bool) -> Entry | None:
        ctx = self.ctx
        if isinstance(node, ScalarNode):
            name = ctx.text(node, f"{user}")
            if name is None:
                return None
            if command:
                return ArgumentEntry(name)
            return ParameterEntry(
                self.resolve(
                    name, scope, self.parameters, "parameter", node, f"in {user}", "parameters"
                )
            )
        f = ctx.fields(node, user, _ENTRY_KEYS)
        if f is None:
            return None
        kinds = [k for k in ("parameter", "container", "argument", "fixed") if k in f]
        if len(kinds) != 1:
            ctx.err(
                node,
                f"{user} needs exactly one of parameter:, container:, argument:, fixed:",
                "e.g. {parameter: BATT_V, offset_bits: 8}",
            )
            return None
        kind = kinds[0]
        kw: dict[str, Any] = {"source": ctx.src(node)}  # for validate's entry errors
        locs = [k for k in _LOCATION_KEYS if k in f]
        if len(locs) > 1:
            ctx.err(
                node,
                f"{user} has more than one location",
                "give only one of " + ", ".join(_LOCATION_KEYS),
            )
        elif locs:
            off = ctx.integer(f[locs[0]][1], locs[0])
            if off is not None:
                kw["location"] = Location(off, cast(Any, _LOCATION_KEYS[locs[0]]))
        if "include_if" in f:
            kw["include_if"] = self.condition(f["include_if"][1], scope, user)
        if "repeat" in f:
            kw["repeat"] = self.repeat(f["repeat"][1], scope, user)
        for key in ("value", "name"):
            if key in f and kind != "fixed":
                ctx.err(f[key][0], f"{key}: applies only to fixed: entries ({user})", "remove it")
        if "dimensions" in f and kind != "parameter":
            ctx.err(
                f["dimensions"][0],
                f"dimensions: applies only to parameter entries ({user})",
                "remove it",
            )
        vnode = f[kind][1]
        if kind == "fixed":
            bits = ctx.integer(vnode, "fixed (bits)", 0)
            value = self.hexbytes(f["value"][1], "value") if "value" in f else None
            fname = ctx.opt_text(f["name"][1], "name") if "name" in f else None
            return None if bits is None else FixedValueEntry(bits, value, fname, **kw)
        name = ctx.text(vnode, kind)
        if name is None:
            return None
        if kind == "argument":
            return ArgumentEntry(name, **kw)
        if kind == "container":
            q = self.resolve(
                name, scope, self.containers, "container", vnode, f"in {user}", "containers"
            )
            return ContainerEntry(q, **kw)
        q = self.resolve(
            name, scope, self.parameters, "parameter", vnode, f"in {user}", "parameters"
        )
        if "dimensions" in f:
            kw["dimensions"] = self.dimensions(f["dimensions"][1], scope, user)
        return ParameterEntry(q, **kw)

    def repeat(self, node: Node, scope: str, user: str) -> Repeat | None:
        ctx = self.ctx
        if isinstance(node, ScalarNode) and node.tag == _INT:
            c = ctx.integer(node, "repeat", 0)
            return None if c is None else Repeat(c)
        if isinstance(node, MappingNode):
            f = ctx.fields(node, f"repeat {user}", ("count", "offset_bits"))
            if f is None or "count" not in f:
                if f is not None:
                    ctx.err(node, f"repeat {user} has no count:", "give count: N or a parameter")
                return None
            off = ctx.integer(f["offset_bits"][1], "offset_bits") if "offset_bits" in f else 0
            cnode = f["count"][1]
            count: int | DynamicValue | None
            if isinstance(cnode, ScalarNode) and cnode.tag == _INT:
                count = ctx.integer(cnode, "count", 0)
            else:
                count = self.dynamic(cnode, scope, f"(repeat) {user}")
            return None if count is None else Repeat(count, off or 0)
        dv = self.dynamic(node, scope, f"(repeat) {user}")
        return None if dv is None else Repeat(dv)

    def container(self, name: str, knode: Node, node: Node, scope: str) -> SequenceContainer | None:
        ctx = self.ctx
        user = f"container {name}"
        f = ctx.fields(node, user, _CONTAINER_KEYS)
        if f is None:
            return None
        kw: dict[str, Any] = {"source": ctx.src(knode)}
        self.base_ref(f, kw, scope, name, self.containers, "container", "containers")
        if "restriction" in f:
            kw["restriction"] = self.condition(
                f["restriction"][1], scope, f"(restriction of {name})"
            )
        if "abstract" in f:
            kw["abstract"] = bool(ctx.boolean(f["abstract"][1], "abstract"))
        if "entries" in f and not ctx.is_null(f["entries"][1]):
            kw["entries"] = self.entries(f["entries"][1], scope, user, command=False)
        if "size_bits" in f:
            kw["size_bits"] = ctx.integer(f["size_bits"][1], "size_bits", 0)
        if "expected_period_s" in f:
            kw["expected_period_s"] = ctx.opt_number(f["expected_period_s"][1], "expected_period_s")
        if "crc" in f:
            kw["crc"] = self.crc(f["crc"][1], user)
        self.doc_fields(f, kw)
        return SequenceContainer(name, qualify(scope, name), **kw)

    def base_ref(
        self,
        f: dict[str, tuple[Node, Node]],
        kw: dict[str, Any],
        scope: str,
        name: str,
        table: Any,
        kind: str,
        section: str,
    ) -> None:
        """Resolve an item's ``base:`` (container or command inheritance) into ``kw``."""
        if "base" in f and not self.ctx.is_null(f["base"][1]):
            b = self.ctx.text(f["base"][1], "base")
            if b is not None:
                kw["base"] = self.resolve(
                    b, scope, table, kind, f["base"][1], f"(base of {name})", section
                )

    def crc(self, node: Node, user: str) -> str | None:
        text = self.ctx.opt_text(node, "crc")
        if text is not None and text not in _CRCS:
            self.ctx.err(
                node,
                f"unknown crc {text!r} for {user}",
                "use crc: CRC-16-CCITT (CCSDS 133.0-B-2 packet error control)",
            )
            return None
        return text

    def doc_fields(self, f: dict[str, tuple[Node, Node]], kw: dict[str, Any]) -> None:
        for key in ("description", "long_description"):
            if key in f:
                kw[key] = self.ctx.opt_text(f[key][1], key)
        if "ancillary" in f:
            kw["ancillary"] = self.pairs(f["ancillary"][1], "ancillary")

    def command(self, name: str, knode: Node, node: Node, scope: str) -> MetaCommand | None:
        ctx = self.ctx
        user = f"command {name}"
        f = ctx.fields(node, user, _COMMAND_KEYS)
        if f is None:
            return None
        kw: dict[str, Any] = {"source": ctx.src(knode)}
        self.base_ref(f, kw, scope, name, self.commands, "command", "commands")
        if "abstract" in f:
            kw["abstract"] = bool(ctx.boolean(f["abstract"][1], "abstract"))
        if "significance" in f:
            s = ctx.text(f["significance"][1], "significance")
            if s is not None and s.lower() in _SIGNIFICANCE:
                kw["significance"] = _SIGNIFICANCE[s.lower()]
            elif s is not None:
                ctx.err(
                    f["significance"][1],
                    f"unknown significance {s!r} for {user}",
                    "use one of " + ", ".join(_SIGNIFICANCE),
                )
        if "significance_reason" in f:
            kw["significance_reason"] = ctx.opt_text(f["significance_reason"][1], "reason")
        if "arguments" in f and not ctx.is_null(f["arguments"][1]):
            args = []
            for aname, _ak, av in ctx.mapping(f["arguments"][1], f"arguments of {name}") or []:
                a = self.argument(aname, av, scope, name)
                if a is not None:
                    args.append(a)
            kw["arguments"] = tuple(args)
        if "assign" in f:
            kw["argument_assignments"] = self.pairs(f["assign"][1], f"assign of {name}")
        if "entries" in f and not ctx.is_null(f["entries"][1]):
            kw["entries"] = self.entries(f["entries"][1], scope, user, command=True)
        if "verifiers" in f:
            vs = []
            for n in ctx.seq(f["verifiers"][1], "verifiers") or []:
                v = self.verifier(n, scope, user)
                if v is not None:
                    vs.append(v)
            kw["verifiers"] = tuple(vs)
        if "crc" in f:
            kw["crc"] = self.crc(f["crc"][1], user)
        if "container_name" in f:
            cn = ctx.opt_text(f["container_name"][1], "container_name")
            kw["container_name"] = (
                None if cn is None else _normpath(cn if cn.startswith("/") else qualify(scope, cn))
            )
        if "container_base" in f and not ctx.is_null(f["container_base"][1]):
            cb = ctx.text(f["container_base"][1], "container_base")
            if cb is not None:
                kw["container_base"] = self.resolve(
                    cb,
                    scope,
                    self.containers | self.command_containers,
                    "container",
                    f["container_base"][1],
                    f"(container base of {name})",
                    "containers",
                )
        if "container_restriction" in f:
            kw["container_restriction"] = self.condition(
                f["container_restriction"][1], scope, f"(container restriction of {name})"
            )
        self.doc_fields(f, kw)
        return MetaCommand(name, qualify(scope, name), **kw)

    def argument(self, name: str, node: Node, scope: str, cmd: str) -> Argument | None:
        ctx = self.ctx
        user = f"for argument {name} of {cmd}"
        if isinstance(node, ScalarNode):
            if ctx.is_null(node):
                return Argument(name, None)
            return Argument(name, self.resolve_type(str(node.value), scope, node, user, True))
        f = ctx.fields(node, f"argument {name} of {cmd}", ("type", "default", "description"))
        if f is None:
            return None
        tq = None
        if "type" in f and not ctx.is_null(f["type"][1]):
            t = ctx.text(f["type"][1], "type")
            if t is not None:
                tq = self.resolve_type(t, scope, f["type"][1], user, True)
        default = ctx.opt_text(f["default"][1], "default") if "default" in f else None
        desc = ctx.opt_text(f["description"][1], "description") if "description" in f else None
        return Argument(name, tq, default, desc)

    def verifier(self, node: Node, scope: str, user: str) -> Verifier | None:
        ctx = self.ctx
        f = ctx.fields(
            node,
            f"verifier of {user}",
            ("stage", "window", "container", "condition", "fail_condition"),
        )
        if f is None:
            return None
        if "stage" not in f:
            ctx.err(
                node,
                f"verifier of {user} has no stage:",
                "give stage: received, accepted, complete, ...",
            )
            return None
        stage = ctx.text(f["stage"][1], "stage") or ""
        kw: dict[str, Any] = {}
        if "window" in f:
            seq = ctx.seq(f["window"][1], "window")
            if seq is not None and len(seq) == 2:
                a = ctx.number(seq[0], "window start")
                b = ctx.number(seq[1], "window stop")
                if a is not None and b is not None:
                    kw["window_start_s"], kw["window_stop_s"] = a, b
            elif seq is not None:
                ctx.err(
                    f["window"][1],
                    f"window of {user} verifier {stage} must be [start_s, stop_s]",
                    "write two numbers of seconds after release",
                )
        if "container" in f:
            c = ctx.text(f["container"][1], "container")
            if c is not None:
                kw["container"] = self.resolve(
                    c,
                    scope,
                    self.containers,
                    "container",
                    f["container"][1],
                    f"(verifier of {user})",
                    "containers",
                )
        for key in ("condition", "fail_condition"):
            if key in f:
                kw[key] = self.condition(f[key][1], scope, f"(verifier {stage} of {user})")
        return Verifier(stage, **kw)

    # -- pass 2 -------------------------------------------------------------------------------

    def build(self, sd: _SysDef) -> SpaceSystem:
        ctx = self.ctx
        items = sd.items
        ss = SpaceSystem(sd.name, sd.qn, source=SourceLocation(ctx.file, sd.line))
        for key in ("description", "long_description"):
            if key in items:
                setattr(ss, key, ctx.opt_text(items[key][1], key))
        if "ancillary" in items:
            ss.ancillary = self.pairs(items["ancillary"][1], "ancillary")

        def section(key: str) -> list[tuple[str, Node, Node]]:
            if key not in items or ctx.is_null(items[key][1]):
                return []
            return ctx.mapping(items[key][1], f"{key} of {sd.name}") or []

        builders: tuple[tuple[str, Callable[[str, Node, Node], Any], dict[str, Any]], ...] = (
            ("types", lambda n, k, v: self.data_type(n, k, v, sd.qn, arg=False), ss.types),
            (
                "argument_types",
                lambda n, k, v: self.data_type(n, k, v, sd.qn, arg=True),
                ss.argument_types,
            ),
            ("parameters", lambda n, k, v: self.parameter(n, k, v, sd.qn), ss.parameters),
            ("containers", lambda n, k, v: self.container(n, k, v, sd.qn), ss.containers),
            ("commands", lambda n, k, v: self.command(n, k, v, sd.qn), ss.commands),
        )
        for key, make, table in builders:
            for name, k, v in section(key):
                n0 = len(ctx.errors)
                item = make(name, k, v)
                self.taint(n0, k)
                if item is not None:
                    table[name] = item
                else:  # reported; references to it are not reported again
                    self.missing.add(qualify(sd.qn, name))
        for sub in sd.subs:
            ss.subsystems[sub.name] = self.build(sub)
        self.systems[sd.qn] = ss
        return ss

    def taint(self, n_errors_before: int, key: Node) -> None:
        """Remember an item whose definition had errors: validate() stays quiet about it."""
        if len(self.ctx.errors) > n_errors_before:
            self.tainted_lines.add(key.start_mark.line + 1)

    def add_implicit(self, root: SpaceSystem) -> None:
        """Put the built-in types used by name into the root, and copy parameter types used
        by arguments into the argument types of their system."""
        for q, t in self.implicit_types.items():
            root.types.setdefault(short_name(q), t)
        for q, t in self.implicit_argument_types.items():
            ss = self.systems.get(_parent(q))
            if ss is None:
                continue
            n = short_name(q)
            if t.name.startswith("__copy__:"):
                if n in ss.types:
                    ss.argument_types.setdefault(n, ss.types[n])
                else:  # the type itself had errors
                    self.missing.add(q)
            else:
                ss.argument_types.setdefault(n, t)


@dataclass
class _Parsed:
    mdb: MissionDatabase | None
    errors: list[MdbError]
    missing: set[str] = field(default_factory=set)
    tainted_lines: set[int] = field(default_factory=set)


def _parse(text: str, file: str) -> _Parsed:
    """Parse without semantic validation."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            syntax = MdbError(
                f"YAML syntax: {exc.problem or exc}" + (f" ({exc.context})" if exc.context else ""),
                file=file,
                line=mark.line + 1 if mark else None,
                fix="check indentation, colons and quotes on this line and the one above",
            )
            return _Parsed(None, [syntax])
        except yaml.YAMLError as exc:
            return _Parsed(None, [MdbError(f"YAML syntax: {exc}", file=file, fix="fix the YAML")])
        ctx = _Ctx(file, loader)
        if node is None:
            ctx.errors.append(
                MdbError(
                    "the file is empty",
                    file=file,
                    line=1,
                    fix="start with 'name: MYSAT' (see docs/mdb-yaml.md)",
                )
            )
            return _Parsed(None, ctx.errors)
        b = _Builder(ctx)
        sd = b.collect(node, None, None)
        if sd is None:
            return _Parsed(None, ctx.errors)
        root = b.build(sd)
        b.add_implicit(root)
        mdb = MissionDatabase(root, source_file=file)
        return _Parsed(mdb, ctx.errors, b.missing, b.tainted_lines)
    finally:
        loader.dispose()


def loads_yaml(text: str, file: str = "<string>") -> MissionDatabase:
    """Load a mission database from YAML text.

    Raises :class:`falak.errors.MdbErrors` listing every error with its line and fix.
    """
    parsed = _parse(text, file)
    errors = list(parsed.errors)
    warnings: list[MdbError] = []
    if parsed.mdb is not None:
        # items whose definition already has an error get no follow-on semantic errors
        for e in validate(parsed.mdb, known_missing=parsed.missing):
            if e.line in parsed.tainted_lines:
                continue
            (warnings if e.severity == "warning" else errors).append(e)
    if errors or parsed.mdb is None:
        errors.sort(key=lambda e: e.line or 0)
        raise MdbErrors(errors)
    parsed.mdb.warnings = warnings
    return parsed.mdb


def load_yaml(path: str | Path) -> MissionDatabase:
    """Load a mission database from a native YAML file (see ``docs/mdb-yaml.md``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MdbError(
            f"cannot read the file: {exc.strerror}",
            file=str(p),
            fix="give the path of a readable .yaml file",
        ) from exc
    except UnicodeDecodeError as exc:
        raise MdbError(
            f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            file=str(p),
            fix="save it as UTF-8",
        ) from exc
    return loads_yaml(text, file=str(p))


# ---------------------------------------------------------------------------------------------
# Dumping


class _FlowList(list[Any]):
    """A list written in flow style ([a, b])."""


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """SafeDumper writing short scalar lists inline and never using anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# quote text that a YAML 1.2 reader would take for a number
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def _repr_flow(dumper: yaml.SafeDumper, data: _FlowList) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_Dumper.add_representer(_FlowList, _repr_flow)


class _FlowDict(dict[str, Any]):
    """A mapping written in flow style ({a: 1})."""


def _repr_flow_dict(dumper: yaml.SafeDumper, data: _FlowDict) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_Dumper.add_representer(_FlowDict, _repr_flow_dict)

_FLOW_CHARS = 72  # an item shorter than this on one line is written inline


def _inline_len(x: Any) -> float:
    """Roughly how many characters ``x`` takes written inline (inf for multi-line text)."""
    if isinstance(x, dict):
        return 2 + sum(len(str(k)) + 4 + _inline_len(v) for k, v in x.items())
    if isinstance(x, list):
        return 2 + sum(2 + _inline_len(v) for v in x)
    if isinstance(x, str):
        return float("inf") if "\n" in x else len(x) + 2
    return len(str(x))


def _flow(x: Any) -> Any:
    """Write short mappings and lists inline, as a person would, bottom up."""
    if isinstance(x, dict):
        x = type(x)((k, _flow(v)) for k, v in x.items()) if type(x) is dict else x
        if type(x) is dict and x and _inline_len(x) <= _FLOW_CHARS:
            return _FlowDict(x)
        return x
    if isinstance(x, list):
        if type(x) is list:
            x = [_flow(v) for v in x]
            if x and _inline_len(x) <= _FLOW_CHARS:
                return _FlowList(x)
        return x
    return x


def _num(x: float) -> int | float:
    """Write whole floats as integers (0.0 -> 0); the loader reads both back as floats."""
    if math.isfinite(x) and x == int(x) and abs(x) < 2**53 and str(x) != "-0.0":
        return int(x)
    return x


class _Writer:
    def __init__(self, mdb: MissionDatabase, compact: bool) -> None:
        self.mdb = mdb
        self.compact = compact
        self.root_qn = mdb.root.qualified_name
        self.omit_types: set[str] = set()
        self.omit_argument_types: set[str] = set()
        if compact:
            self.plan_omissions()
        self.types = set(mdb.types) - self.omit_types
        self.argument_types = set(mdb.argument_types) - self.omit_argument_types
        self.parameters = set(mdb.parameters)
        self.containers = set(mdb.containers)
        self.commands = set(mdb.commands)

    def plan_omissions(self) -> None:
        """Leave out built-in types and argument types the loader recreates from their use."""
        mdb = self.mdb
        used_types: set[str] = {p.type for p in mdb.parameters.values() if p.type}
        for t in mdb.types.values():
            if isinstance(t, AggregateType):
                used_types.update(m.type for m in t.members)
            if isinstance(t, ArrayType):
                used_types.add(t.element_type)
        used_arg: set[str] = {a.type for c in mdb.commands.values() for a in c.arguments if a.type}
        for t in mdb.argument_types.values():
            if isinstance(t, AggregateType):
                used_arg.update(m.type for m in t.members)
            if isinstance(t, ArrayType):
                used_arg.add(t.element_type)
        root = mdb.root
        for n, t in root.types.items():
            q = qualify(self.root_qn, n)
            if q in used_types and builtin_type(n) == t:
                self.omit_types.add(q)
        for ss in root.walk():
            for n, t in ss.argument_types.items():
                q = qualify(ss.qualified_name, n)
                if q not in used_arg:
                    continue
                if ss.types.get(n) == t or (ss is root and builtin_type(n) == t):
                    self.omit_argument_types.add(q)

    # names

    def name(self, target: str, scope: str, table: set[str]) -> str:
        short = short_name(target)
        for s in _scopes(scope, self.root_qn):
            q = qualify(s, short)
            if q in table:
                return short if q == target else target
        return target

    def type_name(self, target: str, scope: str, arg: bool) -> str:
        short = short_name(target)
        for s in _scopes(scope, self.root_qn):
            q = qualify(s, short)
            if (arg and q in self.argument_types) or q in self.types:
                return short if q == target else target
        if target == qualify(self.root_qn, short) and builtin_type(short) is not None:
            return short
        return target

    def ref(self, r: ParameterRef, scope: str) -> str:
        text = r.parameter if r.argument else self.name(r.parameter, scope, self.parameters)
        if r.member:
            text += "." + ".".join(r.member)
        if r.instance:
            text += f"[{r.instance}]"
        if r.argument:
            text = f"arg({text})"
        if not r.calibrated:
            text = f"raw({text})"
        return text

    def condition(self, c: Condition, scope: str) -> Any:
        if isinstance(c, Comparison):
            return f"{self.ref(c.ref, scope)} {c.operator} {_quote_value(c.value)}"
        if isinstance(c, AllOf):
            return [self.condition(x, scope) for x in c.conditions]
        if isinstance(c, AnyOf):
            return {"any": [self.condition(x, scope) for x in c.conditions]}
        return {"not": self.condition(c.condition, scope)}

    def dynamic(self, d: DynamicValue, scope: str) -> Any:
        if d.slope == 1.0 and d.intercept == 0.0:
            return self.ref(d.ref, scope)
        return {
            "parameter": self.ref(d.ref, scope),
            "slope": _num(d.slope),
            "intercept": _num(d.intercept),
        }

    @staticmethod
    def pairs(p: tuple[tuple[str, str], ...]) -> Any:
        keys = [k for k, _ in p]
        if len(set(keys)) == len(keys):
            return dict(p)
        return [_FlowList([k, v]) for k, v in p]

    @staticmethod
    def range_(r: Range) -> Any:
        if r.min_inclusive and r.max_inclusive:
            return _FlowList(
                [None if r.min is None else _num(r.min), None if r.max is None else _num(r.max)]
            )
        out: dict[str, Any] = {}
        if r.min is not None:
            out["min"] = _num(r.min)
        if r.max is not None:
            out["max"] = _num(r.max)
        out["min_inclusive"] = r.min_inclusive
        out["max_inclusive"] = r.max_inclusive
        return out

    # types

    def encoding(self, enc: DataEncoding, kind: str, scope: str) -> Any:
        spec = _spec_from_encoding(enc)
        if spec is not None:
            return spec
        out: dict[str, Any] = {}
        if isinstance(enc, IntegerEncoding | FloatEncoding):
            is_float = isinstance(enc, FloatEncoding)
            if kind in ("string", "binary") or (is_float and enc.encoding == "IEEE754"):
                out["as"] = "float" if is_float else "integer"
            out["bits"] = enc.size_bits
            if isinstance(enc, IntegerEncoding):
                if enc.encoding == "twosComplement":
                    out["signed"] = True
                elif enc.encoding != "unsigned":
                    out["encoding"] = enc.encoding
            else:
                out["encoding"] = enc.encoding
            if enc.byte_order is not None:
                out["byte_order"] = _FlowList(enc.byte_order)
            return out
        as_kind = "string" if isinstance(enc, StringEncoding) else "binary"
        if kind != as_kind:
            out["as"] = as_kind
        if isinstance(enc, StringEncoding) and enc.charset != "UTF-8":
            out["charset"] = enc.charset
        if enc.fixed_size_bits is not None:
            out["fixed_bits"] = enc.fixed_size_bits
        if isinstance(enc, StringEncoding) and enc.terminator is not None:
            out["terminator"] = enc.terminator.hex().upper()
        if enc.leading_size_bits is not None:
            out["leading_size_bits"] = enc.leading_size_bits
        if enc.dynamic_size is not None:
            out["size_bits_from"] = self.dynamic(enc.dynamic_size, scope)
        if isinstance(enc, StringEncoding) and enc.max_size_bits is not None:
            out["max_bits"] = enc.max_size_bits
        return out

    def calibrator(self, cal: Calibrator, scope: str) -> dict[str, Any]:
        if isinstance(cal, PolynomialCalibrator):
            return {"polynomial": _FlowList(_num(c) for c in cal.coefficients)}
        if isinstance(cal, SplineCalibrator):
            out: dict[str, Any] = {"spline": [_FlowList([_num(a), _num(b)]) for a, b in cal.points]}
            if cal.order != 1:
                out["order"] = cal.order
            if cal.extrapolate:
                out["extrapolate"] = True
            return out
        ctxs = []
        for cond, sub in cal.contexts:
            ctxs.append({"when": self.condition(cond, scope), **self.calibrator(sub, scope)})
        out = {"contexts": ctxs}
        if cal.default is not None:
            out["default"] = self.calibrator(cal.default, scope)
        return out

    def alarm_ranges(self, a: AlarmRanges) -> dict[str, Any]:
        return {lv.name.lower(): self.range_(r) for lv, r in a.items()}

    def numeric_alarm(self, a: NumericAlarm, scope: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if a.static is not None:
            ranges = self.alarm_ranges(a.static)
            if ranges:
                out.update(ranges)
            else:
                out["static"] = {}
        if a.contexts:
            out["contexts"] = [
                {"when": self.condition(c, scope), **self.alarm_ranges(r)} for c, r in a.contexts
            ]
        if a.min_violations != 1:
            out["min_violations"] = a.min_violations
        return out

    def enum_alarm(self, a: EnumerationAlarm, scope: str) -> dict[str, Any]:
        special = {"default", "contexts", "min_violations", "levels"}
        labels = [lab for lab, _ in a.levels] + [lab for _, t in a.contexts for lab, _ in t]
        use_levels = any(lab in special or lab == "when" for lab in labels) or len(
            {lab for lab, _ in a.levels}
        ) != len(a.levels)
        table = {lab: lv.name.lower() for lab, lv in a.levels}
        out: dict[str, Any] = {"levels": table} if use_levels else dict(table)
        if a.default != AlarmLevel.NORMAL:
            out["default"] = a.default.name.lower()
        if a.contexts:
            out["contexts"] = [
                {
                    "when": self.condition(c, scope),
                    **(
                        {"levels": {lab: lv.name.lower() for lab, lv in t}}
                        if use_levels
                        else {lab: lv.name.lower() for lab, lv in t}
                    ),
                }
                for c, t in a.contexts
            ]
        if a.min_violations != 1:
            out["min_violations"] = a.min_violations
        return out

    def data_type(self, t: DataType, scope: str, arg: bool) -> Any:
        kind = _KIND_OF[type(t)]
        if isinstance(t, IntegerType | FloatType):
            spec = _spec_from_encoding(t.encoding)
            if spec is not None and builtin_type(spec, t.name) == t:
                return spec
        out: dict[str, Any] = {"kind": kind}
        enc = getattr(t, "encoding", None)
        if enc is not None:
            out["encoding"] = self.encoding(enc, kind, scope)
        if isinstance(t, IntegerType):
            default_signed = (
                t.encoding.encoding != "unsigned"
                if isinstance(t.encoding, IntegerEncoding)
                else True
            )
            if t.signed != default_signed:
                out["signed"] = t.signed
        if isinstance(t, IntegerType | FloatType):
            if t.size_bits != 64:
                out["size_bits"] = t.size_bits
            if t.calibrator is not None:
                out["calibrator"] = self.calibrator(t.calibrator, scope)
        if isinstance(t, EnumeratedType):
            vals = [v.value for v in t.values]
            if len(set(vals)) == len(vals):
                out["enum"] = {
                    v.value: (
                        v.label
                        if v.max_value is None and v.description is None
                        else {
                            "label": v.label,
                            **({"max": v.max_value} if v.max_value is not None else {}),
                            **({"description": v.description} if v.description is not None else {}),
                        }
                    )
                    for v in t.values
                }
            else:
                out["enum"] = [
                    {
                        "value": v.value,
                        "label": v.label,
                        **({"max": v.max_value} if v.max_value is not None else {}),
                        **({"description": v.description} if v.description is not None else {}),
                    }
                    for v in t.values
                ]
        if isinstance(t, BooleanType):
            if t.zero_string != "False":
                out["zero_string"] = t.zero_string
            if t.one_string != "True":
                out["one_string"] = t.one_string
        unit = getattr(t, "unit", None)
        if unit is not None:
            out["unit"] = unit
        if isinstance(t, IntegerType | FloatType):
            if t.valid_range is not None:
                out["valid_range"] = self.range_(t.valid_range)
            if t.alarm is not None:
                out["alarm"] = self.numeric_alarm(t.alarm, scope)
        if isinstance(t, EnumeratedType) and t.alarm is not None:
            out["alarm"] = self.enum_alarm(t.alarm, scope)
        if isinstance(t, StringType | BinaryType) and t.size_range is not None:
            out["size_range"] = self.range_(t.size_range)
        if isinstance(t, AbsoluteTimeType):
            if isinstance(t.timecode, CucTimeCode):
                out["timecode"] = {
                    "cuc": {"coarse": t.timecode.coarse_bytes, "fine": t.timecode.fine_bytes}
                }
            elif isinstance(t.timecode, CdsTimeCode):
                out["timecode"] = {
                    "cds": {"day": t.timecode.day_bytes, "submillis": t.timecode.submillis_bytes}
                }
            if t.epoch is not None:
                out["epoch"] = t.epoch.epoch
            if t.offset_from is not None:
                out["offset_from"] = self.ref(t.offset_from, scope)
        if isinstance(t, AbsoluteTimeType | RelativeTimeType):
            if t.scale != 1.0:
                out["scale"] = _num(t.scale)
            if t.offset != 0.0:
                out["offset"] = _num(t.offset)
        if isinstance(t, AggregateType):
            out["members"] = {
                m.name: (
                    self.type_name(m.type, scope, arg)
                    if m.description is None
                    else {"type": self.type_name(m.type, scope, arg), "description": m.description}
                )
                for m in t.members
            }
        if isinstance(t, ArrayType):
            out["element_type"] = self.type_name(t.element_type, scope, arg)
            out["dimensions"] = self.dimensions(t.dimensions, scope)
        init = getattr(t, "initial_value", None)
        if init is not None:
            out["initial_value"] = init
        self.docs(t, out)
        return out

    def dimensions(self, dims: tuple[Dimension, ...], scope: str) -> Any:
        out: list[Any] = []
        for d in dims:
            if d.dynamic_size is not None:
                out.append(self.dynamic(d.dynamic_size, scope))
            else:
                out.append(d.size)
        return _FlowList(out) if all(not isinstance(x, dict) for x in out) else out

    @staticmethod
    def docs(item: Any, out: dict[str, Any]) -> None:
        if item.description is not None:
            out["description"] = item.description
        if getattr(item, "long_description", None) is not None:
            out["long_description"] = item.long_description
        if item.ancillary:
            out["ancillary"] = _Writer.pairs(item.ancillary)

    # parameters, containers, commands

    def parameter(self, p: Parameter, scope: str) -> Any:
        tname = None if p.type is None else self.type_name(p.type, scope, False)
        out: dict[str, Any] = {"type": tname}
        if p.derivation is not None:
            out["derived"] = {
                "function": p.derivation.function,
                "inputs": _FlowList(
                    self.name(i, scope, self.parameters) for i in p.derivation.inputs
                ),
            }
        default_source = "derived" if p.derivation is not None else "telemetered"
        if p.data_source != default_source:
            out["data_source"] = p.data_source
        if p.read_only:
            out["read_only"] = True
        if p.expected_period_s is not None:
            out["expected_period_s"] = _num(p.expected_period_s)
        if p.aliases:
            out["aliases"] = self.pairs(p.aliases)
        self.docs(p, out)
        if len(out) == 1 and tname is not None:
            return tname
        return out

    def entry(self, e: Entry, scope: str, command: bool) -> Any:
        out: dict[str, Any] = {}
        if isinstance(e, ParameterEntry):
            name = self.name(e.parameter, scope, self.parameters)
            out["parameter"] = name
            if e.dimensions:
                out["dimensions"] = self.dimensions(e.dimensions, scope)
        elif isinstance(e, ContainerEntry):
            out["container"] = self.name(e.container, scope, self.containers)
        elif isinstance(e, ArgumentEntry):
            out["argument"] = e.argument
        else:
            out["fixed"] = e.size_bits
            if e.value is not None:
                out["value"] = e.value.hex().upper()
            if e.name is not None:
                out["name"] = e.name
        if e.location is not None:
            key = {v: k for k, v in _LOCATION_KEYS.items()}[e.location.reference]
            out[key] = e.location.offset_bits
        if e.include_if is not None:
            out["include_if"] = self.condition(e.include_if, scope)
        if e.repeat is not None:
            r = e.repeat
            count = r.count if isinstance(r.count, int) else self.dynamic(r.count, scope)
            out["repeat"] = (
                count
                if r.offset_bits == 0 and not isinstance(count, dict)
                else {"count": count, "offset_bits": r.offset_bits}
            )
        if len(out) == 1:
            if isinstance(e, ParameterEntry) and not command:
                return out["parameter"]
            if isinstance(e, ArgumentEntry) and command:
                return out["argument"]
        return out

    def container(self, c: SequenceContainer, scope: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if c.abstract:
            out["abstract"] = True
        if c.base is not None:
            out["base"] = self.name(c.base, scope, self.containers)
        if c.restriction is not None:
            out["restriction"] = self.condition(c.restriction, scope)
        if c.size_bits is not None:
            out["size_bits"] = c.size_bits
        if c.expected_period_s is not None:
            out["expected_period_s"] = _num(c.expected_period_s)
        if c.crc is not None:
            out["crc"] = c.crc
        self.docs(c, out)
        out["entries"] = [self.entry(e, scope, command=False) for e in c.entries]
        return out

    def command(self, c: MetaCommand, scope: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if c.abstract:
            out["abstract"] = True
        if c.base is not None:
            out["base"] = self.name(c.base, scope, self.commands)
        if c.significance != Significance.NONE:
            out["significance"] = c.significance.name.lower()
        if c.significance_reason is not None:
            out["significance_reason"] = c.significance_reason
        if c.crc is not None:
            out["crc"] = c.crc
        self.docs(c, out)
        if c.arguments:
            args: dict[str, Any] = {}
            for a in c.arguments:
                tname = None if a.type is None else self.type_name(a.type, scope, True)
                if a.initial_value is None and a.description is None and tname is not None:
                    args[a.name] = tname
                else:
                    d: dict[str, Any] = {"type": tname}
                    if a.initial_value is not None:
                        d["default"] = a.initial_value
                    if a.description is not None:
                        d["description"] = a.description
                    args[a.name] = d
            out["arguments"] = args
        if c.argument_assignments:
            out["assign"] = self.pairs(c.argument_assignments)
        cn = getattr(c, "container_name", None)
        if cn is not None:
            out["container_name"] = short_name(cn) if qualify(scope, short_name(cn)) == cn else cn
        cb = getattr(c, "container_base", None)
        if cb is not None:
            table = self.containers | {
                x.container_name
                for x in self.mdb.commands.values()
                if getattr(x, "container_name", None)
            }
            out["container_base"] = self.name(cb, scope, cast(set[str], table))
        cr = getattr(c, "container_restriction", None)
        if cr is not None:
            out["container_restriction"] = self.condition(cr, scope)
        if c.entries:
            out["entries"] = [self.entry(e, scope, command=True) for e in c.entries]
        if c.verifiers:
            vs = []
            for v in c.verifiers:
                d = {
                    "stage": v.stage,
                    "window": _FlowList([_num(v.window_start_s), _num(v.window_stop_s)]),
                }
                if v.container is not None:
                    d["container"] = self.name(v.container, scope, self.containers)
                if v.condition is not None:
                    d["condition"] = self.condition(v.condition, scope)
                if v.fail_condition is not None:
                    d["fail_condition"] = self.condition(v.fail_condition, scope)
                vs.append(d)
            out["verifiers"] = vs
        return out

    def system(self, ss: SpaceSystem, root: bool) -> dict[str, Any]:
        scope = ss.qualified_name
        out: dict[str, Any] = {}
        if root:
            out["name"] = ss.name
        if ss.description is not None:
            out["description"] = ss.description
        if ss.long_description is not None:
            out["long_description"] = ss.long_description
        if ss.ancillary:
            out["ancillary"] = self.pairs(ss.ancillary)
        types = {
            n: _flow(self.data_type(t, scope, False))
            for n, t in ss.types.items()
            if qualify(scope, n) not in self.omit_types
        }
        if types:
            out["types"] = types
        atypes = {
            n: _flow(self.data_type(t, scope, True))
            for n, t in ss.argument_types.items()
            if qualify(scope, n) not in self.omit_argument_types
        }
        if atypes:
            out["argument_types"] = atypes
        if ss.parameters:
            out["parameters"] = {
                n: _flow(self.parameter(p, scope)) for n, p in ss.parameters.items()
            }
        if ss.containers:
            out["containers"] = {
                n: _flow(self.container(c, scope)) for n, c in ss.containers.items()
            }
        if ss.commands:
            out["commands"] = {n: _flow(self.command(c, scope)) for n, c in ss.commands.items()}
        if ss.subsystems:
            out["systems"] = {n: self.system(s, False) for n, s in ss.subsystems.items()}
        return out


def _render(mdb: MissionDatabase, compact: bool) -> str:
    data = _Writer(mdb, compact).system(mdb.root, True)
    body = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return f"# falak mission database {mdb.root.name} (native YAML, see docs/mdb-yaml.md)\n" + body


def dump_yaml(mdb: MissionDatabase) -> str:
    """Write a mission database as native YAML that :func:`loads_yaml` reads back equal.

    Built-in types (``uint16``) and argument types identical to a parameter type are left for
    the loader to recreate; if the compact text would not read back equal, every type is
    written out. Raises :class:`falak.errors.MdbError` naming the first item that YAML cannot
    carry (a name with '/' or '.', for instance) rather than writing a lossy file.
    """
    text = _render(mdb, compact=True)
    if _parse(text, "<dump>").mdb == mdb:
        return text
    text = _render(mdb, compact=False)
    back = _parse(text, "<dump>")
    if back.mdb == mdb:
        return text
    raise MdbError(
        "cannot write this database as YAML without loss: " + _first_difference(mdb, back),
        file=mdb.source_file,
        fix="rename the item (names may not contain '/' or '.'), or report it as a falak bug "
        "with the database attached",
    )


def _first_difference(mdb: MissionDatabase, back: _Parsed) -> str:
    """Name the first item that differs after a YAML round trip."""
    if back.mdb is None or back.errors:
        return (
            "the YAML does not read back ("
            + (str(back.errors[0]) if back.errors else "no database")
            + ")"
        )
    for what in ("types", "argument_types", "parameters", "containers", "commands"):
        a, b = getattr(mdb, what), getattr(back.mdb, what)
        for qn in a:
            if a[qn] != b.get(qn):
                return f"{what[:-1].replace('_', ' ')} {qn} changes"
        for qn in b:
            if qn not in a:
                return f"{what[:-1].replace('_', ' ')} {qn} appears"
    return "the space-system tree changes"
