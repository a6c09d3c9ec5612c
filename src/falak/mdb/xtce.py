"""XTCE import and export for the mission database.

XTCE is the OMG / CCSDS XML Telemetric and Command Exchange format (OMG XTCE 1.2,
CCSDS 660.0-B-2). :func:`load_xtce` reads XTCE 1.1 (``http://www.omg.org/space/xtce``) and
1.2 (``http://www.omg.org/spec/XTCE/20180204``) into :class:`falak.mdb.model.MissionDatabase`;
:func:`dump_xtce` writes XTCE 1.2 that loads back to an equal model.

Loading works in two passes over the element tree, each visiting every element once: the first
registers the qualified name of every type, parameter, container and command; the second
builds the model and resolves each reference to a qualified name (XTCE name rules: absolute
``/A/B/x``, relative with ``.`` and ``..``, or a bare name searched in the current space system
and then its ancestors). Unresolved references are collected and raised together as
:class:`falak.errors.MdbErrors`, each naming the file, line, XPath and a fix.

Mapping notes:

* Aggregate members in references (``Hdr/APID`` or Yamcs's ``Hdr.APID``) become
  ``ParameterRef(parameter="/.../Hdr", member=("APID",))``; ``ArgumentInstanceRef`` becomes a
  ``ParameterRef`` with ``argument=True`` and the argument's short name.
* Array dimensions ``StartingIndex``..``EndingIndex`` become an element count
  (``end - start + 1``, folded into ``DynamicValue.intercept``); XTCE 1.1 arrays declared with
  ``numberOfDimensions`` only get ``dimensions=()`` and take their sizes from the
  ``ArrayParameterRefEntry`` (``ParameterEntry.dimensions``).
* A ``CommandContainer`` is kept on its ``MetaCommand`` (``entries``, ``container_name``,
  ``container_base``, ``container_restriction``); free-standing ones from a
  ``CommandContainerSet`` become sequence containers.
* Model fields XTCE has no element for (derivations, expected periods, CRCs, CCSDS time codes,
  leading-size binaries, verifier fail conditions) are exported as ``falak:*`` ancillary data
  and read back from it.
* Elements the model cannot carry (algorithms, streams, ``ParameterToSetList``, math-operation
  calibrators, container aliases, command-container sizes) are skipped; see
  ``UNSUPPORTED_ELEMENTS``; ``load_xtce(path, skipped=notes)`` lists where a file uses them.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

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
    DataSource,
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
    IntegerSign,
    IntegerType,
    Location,
    Member,
    MetaCommand,
    MissionDatabase,
    Not,
    NumericAlarm,
    Operator,
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
)

if TYPE_CHECKING:
    from lxml.etree import _Element  # type: ignore[import-untyped]  # lxml ships no stubs

__all__ = [
    "NS_XTCE_11",
    "NS_XTCE_12",
    "UNSUPPORTED_ELEMENTS",
    "dump_xtce",
    "load_xtce",
    "write_xtce",
]

NS_XTCE_11 = "http://www.omg.org/space/xtce"
NS_XTCE_12 = "http://www.omg.org/spec/XTCE/20180204"
_KNOWN_NS = ("", NS_XTCE_11, NS_XTCE_12)

#: XTCE elements that are read past without being mapped (the model has no place for them),
#: with what that means; ``load_xtce(..., skipped=[])`` lists where a file uses them.
UNSUPPORTED_ELEMENTS: dict[str, str] = {
    "AlgorithmSet": "the parameters its algorithms output are not computed",
    "StreamSet": "frame streams are not modelled; containers are decoded from packets",
    "ServiceSet": "services are not modelled",
    "MathOperationCalibrator": "values of this type stay uncalibrated (raw)",
    "ParameterToSetList": "parameters are not set when the command is sent",
    "TransmissionConstraintList": "the command is not held back by these constraints",
    "Interlock": "the command interlock is not enforced",
    "ContextSignificanceList": "only the default significance is kept",
    "DefaultRateInStream": "the expected rate is not checked",
    "AliasSet": "aliases are kept for parameters only",
    "BinaryEncoding": "the command container size is not checked",
}

#: Largest polynomial-calibrator exponent accepted (XTCE sets no limit; this keeps a typo
#: such as exponent="1e9" from allocating a billion coefficients).
_MAX_EXPONENT = 64

_MISS = object()

#: Prefix of the ancillary items that carry falak fields XTCE has no element for
#: (derivations, expected periods, CRCs, CCSDS time codes, leading-size binaries).
_FALAK = "falak:"

#: Yamcs's placeholder reference that means "no dynamic value" (XTCE 1.2 makes the
#: ``DynamicValue`` of a variable-size string mandatory even when a terminator sizes it).
_YAMCS_IGNORE = "_yamcs_ignore"

_KINDS = {
    "type": "parameter type",
    "argtype": "argument type",
    "parameter": "parameter",
    "container": "container",
    "command": "command",
}


_LOCAL: dict[object, str] = {}


def _local(tag: object) -> str:
    """Local name of a tag (namespaces are ignored: some files mix prefixed and bare names)."""
    try:
        return _LOCAL[tag]
    except KeyError:
        t = cast(str, tag)
        name = _LOCAL[tag] = t[t.rfind("}") + 1 :]
        return name


def _float(text: str | None, default: float = 0.0) -> float:
    return default if text is None else float(text)


def _bool(text: str | None, default: bool) -> bool:
    """An XML Schema boolean (``true``, ``false``, ``1``, ``0``); anything else is an error."""
    if text is None:
        return default
    word = text.strip().lower()
    if word not in ("true", "1", "false", "0"):
        raise ValueError(f"{text!r} is not a boolean: write true or false")
    return word in ("true", "1")


def _text(el: _Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return cast(str, el.text).strip()


_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<d>[\d.]+)D)?(?:T(?:(?P<h>[\d.]+)H)?(?:(?P<m>[\d.]+)M)?"
    r"(?:(?P<s>[\d.]+)S)?)?$"
)


def _duration_s(text: str) -> float:
    """Seconds of an ``xs:duration`` such as ``PT10M`` (years and months are not accepted)."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise ValueError(f"duration {text!r} is not of the form PnDTnHnMnS")
    s = (
        float(m["d"] or 0) * 86400.0
        + float(m["h"] or 0) * 3600.0
        + float(m["m"] or 0) * 60.0
        + float(m["s"] or 0)
    )
    return -s if m["sign"] else s


def _fmt(x: float) -> str:
    """Shortest text that reads back to the same float (integers without ``.0``)."""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _seconds(x: float) -> str:
    return f"PT{_fmt(x)}S"


# =============================================================================================
# Import


@dataclass
class _SsRecord:
    """One SpaceSystem element and the item elements found in it (first pass)."""

    el: _Element
    qname: str
    xpath: str
    parent: _SsRecord | None
    types: list[tuple[_Element, str]] = field(default_factory=list)
    arg_types: list[tuple[_Element, str]] = field(default_factory=list)
    parameters: list[tuple[_Element, str]] = field(default_factory=list)
    containers: list[tuple[_Element, str]] = field(default_factory=list)
    commands: list[tuple[_Element, str]] = field(default_factory=list)
    subs: list[_SsRecord] = field(default_factory=list)
    model: SpaceSystem | None = None


class _Loader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[MdbError] = []
        self.skipped: list[MdbError] = []
        self.names: dict[str, dict[str, _Element]] = {k: {} for k in _KINDS}
        #: qualified command-container name -> element, for argument lookups
        self.command_containers: dict[str, _Element] = {}
        self._cache: dict[tuple[str, str, str], str | None] = {}
        self._ss_parent: dict[str, str] = {}

    # -- errors --------------------------------------------------------------------------------

    def error(self, el: _Element, message: str, fix: str | None = None) -> None:
        self.errors.append(
            MdbError(message, file=self.file, line=el.sourceline, xpath=_xpath(el), fix=fix)
        )

    def skip(self, el: _Element) -> None:
        """Note an element the model cannot carry (see ``UNSUPPORTED_ELEMENTS``)."""
        tag = _local(el.tag)
        self.skipped.append(
            MdbError(
                f"{tag} is not supported and was skipped: "
                + UNSUPPORTED_ELEMENTS.get(tag, "it has no equivalent in falak's model"),
                file=self.file,
                line=el.sourceline,
                xpath=_xpath(el),
            )
        )

    def src(self, el: _Element, xpath: str) -> SourceLocation:
        return SourceLocation(self.file, el.sourceline, xpath)

    # -- first pass: names ---------------------------------------------------------------------

    def collect(self, el: _Element, parent: _SsRecord | None) -> _SsRecord:
        name = el.get("name")
        if not name:
            self.error(el, "SpaceSystem has no name", "add a name attribute")
            name = "unnamed"
        qname = "/" + name if parent is None else parent.qname + "/" + name
        xpath = (
            f"/SpaceSystem[@name='{name}']"
            if parent is None
            else f"{parent.xpath}/SpaceSystem[@name='{name}']"
        )
        rec = _SsRecord(el, qname, xpath, parent)
        self._ss_parent[qname] = parent.qname if parent is not None else ""
        for child in el:
            tag = _local(child.tag)
            if tag in ("TelemetryMetaData", "CommandMetaData"):
                sect_xp = f"{xpath}/{tag}"
                for sect in child:
                    stag = _local(sect.tag)
                    set_xp = f"{sect_xp}/{stag}"
                    if stag == "ParameterTypeSet":
                        self._register(sect, rec, "type", rec.types, set_xp)
                    elif stag == "ArgumentTypeSet":
                        self._register(sect, rec, "argtype", rec.arg_types, set_xp)
                    elif stag == "ParameterSet":
                        self._register(sect, rec, "parameter", rec.parameters, set_xp)
                    elif stag == "ContainerSet":
                        # A name already used by a MetaCommand's container keeps that one
                        # (BogusSAT-2 defines CCSDSTelecommandPacket both ways; Yamcs loads it).
                        self._register(
                            sect, rec, "container", rec.containers, set_xp, skip_known=True
                        )
                    elif stag == "MetaCommandSet":
                        self._register(sect, rec, "command", rec.commands, set_xp)
                        for mc in sect:
                            for part in mc:
                                if _local(part.tag) == "CommandContainer":
                                    cname = part.get("name")
                                    if cname:
                                        q = qname + "/" + cname
                                        self._add_name("container", q, part)
                                        self.command_containers[q] = part
                    elif stag == "CommandContainerSet":
                        # Free-standing command containers (shared command headers) have no
                        # MetaCommand to live in: they become sequence containers.
                        # A name already used by a MetaCommand's container keeps that one
                        # (BogusSAT-2 defines CCSDSTelecommandPacket both ways; Yamcs loads it).
                        self._register(
                            sect, rec, "container", rec.containers, set_xp, skip_known=True
                        )
                    elif stag in UNSUPPORTED_ELEMENTS:
                        self.skip(sect)
            elif tag == "SpaceSystem":
                rec.subs.append(self.collect(child, rec))
        return rec

    def _register(
        self,
        set_el: _Element,
        rec: _SsRecord,
        kind: str,
        out: list[tuple[_Element, str]],
        set_xp: str,
        *,
        skip_known: bool = False,
    ) -> None:
        prefix = rec.qname + "/"
        table = self.names[kind]
        for item in set_el:
            name = item.get("name")
            tag = _local(item.tag)
            if not name:
                self.error(item, f"{tag} has no name", "add a name attribute")
                continue
            qname = prefix + name
            if skip_known and qname in self.command_containers:
                continue
            if kind == "container" and tag not in ("SequenceContainer", "CommandContainer"):
                continue
            if qname in table:
                self._add_name(kind, qname, item)  # reports the duplicate
                continue
            table[qname] = item
            out.append((item, f"{set_xp}/{tag}[@name='{name}']"))

    def _add_name(self, kind: str, qname: str, el: _Element) -> None:
        table = self.names[kind]
        if qname in table:
            first = table[qname].sourceline
            self.error(
                el,
                f"{_KINDS[kind]} {qname!r} is defined twice (first at line {first})",
                "rename one of them",
            )
        else:
            table[qname] = el

    # -- name resolution -----------------------------------------------------------------------

    def lookup(self, kind: str, ref: str, ss: str) -> str | None:
        """Qualified name of ``ref`` seen from space system ``ss``, or None."""
        table = self.names[kind]
        simple = "/" not in ref and ref != "." and ref != ".."
        if simple:
            q = ss + "/" + ref
            if q in table:  # the common case: defined in the same space system
                return q
        key = (kind, ss, ref)
        cached = self._cache.get(key, _MISS)
        if cached is not _MISS:
            return cast("str | None", cached)
        found: str | None = None
        if ref.startswith("/"):
            q = _normalize(ref)
            found = q if q in table else None
        else:
            base: str | None = ss
            while base is not None:
                q = base + "/" + ref if simple else _normalize(base + "/" + ref)
                if q in table:
                    found = q
                    break
                base = self._ss_parent.get(base) if base else None
        self._cache[key] = found
        return found

    def resolve(self, kind: str, ref: str | None, ss: str, el: _Element, what: str) -> str | None:
        if ref is None:
            self.error(el, f"{what} has no reference", f"give the {_KINDS[kind]}'s name")
            return None
        found = self.lookup(kind, ref, ss)
        if found is None:
            self._unresolved(kind, ref, ss, el, what)
        return found

    def _unresolved(self, kind: str, ref: str, ss: str, el: _Element, what: str) -> None:
        word = _KINDS[kind]
        short = ref.rstrip("/").rsplit("/", 1)[-1]
        self.error(
            el,
            f"{what} refers to {word} {ref!r}, which is not defined in SpaceSystem {ss} "
            "or its ancestors",
            f"define a {word} named {short} in SpaceSystem {ss}, or qualify the name "
            f"(e.g. /{ss.strip('/').split('/')[0]}/.../{short})",
        )

    def resolve_parameter(
        self, ref: str | None, ss: str, el: _Element, what: str
    ) -> tuple[str, tuple[str, ...]] | None:
        """Resolve a parameter reference that may name an aggregate member.

        Members are written ``Param/member`` (XTCE path syntax) or ``Param.member`` (Yamcs).
        """
        if ref is None:
            self.error(el, f"{what} has no parameterRef", "give the parameter's name")
            return None
        found = self.lookup("parameter", ref, ss)
        if found is not None:
            return found, ()
        parts = ref.split("/")
        for k in range(len(parts) - 1, 0, -1):
            head = "/".join(parts[:k])
            if head in ("", ".", ".."):
                continue
            q = self.lookup("parameter", head, ss)
            if q is not None:
                return q, tuple(parts[k:])
        last = parts[-1]
        if "." in last and last not in (".", ".."):
            # a dot is legal inside a name (SCI.HDR.APID may be member APID of SCI.HDR):
            # the longest prefix that names a parameter wins, as in split_member_key
            bits = last.split(".")
            for k in range(len(bits) - 1, 0, -1):
                head = "/".join([*parts[:-1], ".".join(bits[:k])])
                q = self.lookup("parameter", head, ss)
                if q is not None:
                    return q, tuple(bits[k:])
        self._unresolved("parameter", ref, ss, el, what)
        return None

    # -- second pass: build --------------------------------------------------------------------

    def build(self, rec: _SsRecord) -> SpaceSystem:
        el = rec.el
        ss = SpaceSystem(
            name=rec.qname.rsplit("/", 1)[-1],
            qualified_name=rec.qname,
            description=el.get("shortDescription"),
            source=self.src(el, rec.xpath),
        )
        for child in el:
            tag = _local(child.tag)
            if tag == "LongDescription":
                ss.long_description = _text(child)
            elif tag == "AncillaryDataSet":
                ss.ancillary = _ancillary(child)
        q = rec.qname
        self._build_all(rec.types, ss.types, lambda e, x: self.data_type(e, q, x, argument=False))
        self._build_all(
            rec.arg_types, ss.argument_types, lambda e, x: self.data_type(e, q, x, argument=True)
        )
        self._build_all(rec.parameters, ss.parameters, lambda e, x: self.parameter(e, q, x))
        self._build_all(rec.containers, ss.containers, lambda e, x: self.container(e, q, x))
        self._build_all(rec.commands, ss.commands, lambda e, x: self.command(e, q, x))
        for sub in rec.subs:
            s = self.build(sub)
            ss.subsystems[s.name] = s
        rec.model = ss
        return ss

    def _build_all(
        self,
        items: list[tuple[_Element, str]],
        out: dict[str, Any],
        make: Callable[[_Element, str], Any],
    ) -> None:
        """Build each item; a malformed attribute value becomes an error, not a crash."""
        for el, xp in items:
            try:
                obj = make(el, xp)
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                self.error(
                    el,
                    f"{_local(el.tag)} {el.get('name')!r} has a malformed value ({exc})",
                    "write integers, numbers, booleans (true/false) and hex strings as XTCE "
                    "defines them",
                )
                continue
            if obj is not None:
                out[obj.name] = obj

    # -- parameters ----------------------------------------------------------------------------

    def parameter(self, el: _Element, ss: str, xp: str) -> Parameter:
        name = el.get("name")
        tref = el.get("parameterTypeRef")
        tq = None
        if tref is not None:  # look up first: the message is formatted only on a miss
            tq = self.lookup("type", tref, ss) or self.resolve(
                "type", tref, ss, el, f"parameter {name!r}"
            )
        long_d: str | None = None
        aliases: tuple[tuple[str, str], ...] = ()
        anc: tuple[tuple[str, str], ...] = ()
        data_source: DataSource = "telemetered"
        read_only = False
        for c in el if len(el) else ():
            tag = _local(c.tag)
            if tag == "ParameterProperties":
                data_source = c.get("dataSource", "telemetered")
                read_only = _bool(c.get("readOnly"), False)
            elif tag == "LongDescription":
                long_d = _text(c)
            elif tag == "AliasSet":
                aliases = _aliases(c)
            elif tag == "AncillaryDataSet":
                anc = _ancillary(c)
        if data_source not in ("telemetered", "derived", "constant", "local", "ground", "command"):
            self.error(
                el,
                f"parameter {name!r} has unknown dataSource {data_source!r}",
                "use telemetered, derived, constant, local or ground",
            )
            data_source = "telemetered"
        derivation: Derivation | None = None
        period: float | None = None
        if anc:
            anc, extra = _split_falak(anc)
            if "falak:derivation" in extra:
                function, *inputs = extra["falak:derivation"].split()
                derivation = Derivation(function, tuple(inputs))
            if "falak:expected_period_s" in extra:
                period = float(extra["falak:expected_period_s"])
        return Parameter(
            name=name,
            qualified_name=ss + "/" + name,
            type=tq,
            data_source=data_source,
            read_only=read_only,
            derivation=derivation,
            expected_period_s=period,
            description=el.get("shortDescription"),
            long_description=long_d,
            aliases=aliases,
            ancillary=anc,
            source=self.src(el, xp),
        )

    # -- types ---------------------------------------------------------------------------------

    def data_type(self, el: _Element, ss: str, xp: str, *, argument: bool) -> DataType | None:
        tag = _local(el.tag)
        kind = tag.removesuffix("ParameterType").removesuffix("ArgumentType")
        name = el.get("name")
        tkind = "argtype" if argument else "type"
        kids: dict[str, _Element] = {}
        for c in el:
            kids.setdefault(_local(c.tag), c)
        anc, extra = _split_falak(
            _ancillary(kids["AncillaryDataSet"]) if "AncillaryDataSet" in kids else ()
        )
        common: dict[str, Any] = {
            "name": name,
            "description": el.get("shortDescription"),
            "long_description": _text(kids.get("LongDescription")),
            "ancillary": anc,
            "source": self.src(el, xp),
        }
        what = f"type {name!r}"
        if kind == "Aggregate":
            members: list[Member] = []
            ml = kids.get("MemberList")
            for m in ml if ml is not None else ():
                mname = m.get("name", "")
                mt = self.resolve(tkind, m.get("typeRef"), ss, m, f"member {mname!r} of {what}")
                members.append(Member(mname, mt or "", m.get("shortDescription")))
            return AggregateType(members=tuple(members), **common)
        if kind == "Array":
            et = self.resolve(tkind, el.get("arrayTypeRef"), ss, el, f"array {what}")
            dl = kids.get("DimensionList")
            # XTCE 1.1 numberOfDimensions without a DimensionList: sizes are given at the entry
            dims = tuple(self.dimension(d, ss) for d in dl) if dl is not None else ()
            return ArrayType(element_type=et or "", dimensions=dims, **common)

        unit = None
        us = kids.get("UnitSet")
        if us is not None and len(us):
            unit = _text(us[0])
        common["initial_value"] = el.get("initialValue")
        encoding: DataEncoding | None = None
        calibrator: Calibrator | None = None
        for enc_tag in (
            "IntegerDataEncoding",
            "FloatDataEncoding",
            "StringDataEncoding",
            "BinaryDataEncoding",
        ):
            enc_el = kids.get(enc_tag)
            if enc_el is not None:
                encoding, calibrator = self.encoding(enc_el, ss, what)
                break

        if kind in ("Integer", "Float"):
            valid = kids.get("ValidRange")
            if valid is None and "ValidRangeSet" in kids and len(kids["ValidRangeSet"]):
                valid = kids["ValidRangeSet"][0]
            alarm = self.numeric_alarm(kids.get("DefaultAlarm"), kids.get("ContextAlarmList"), ss)
            num: dict[str, Any] = {
                "encoding": encoding,
                "calibrator": calibrator,
                "unit": unit,
                "valid_range": _range(valid) if valid is not None else None,
                "alarm": alarm,
            }
            if kind == "Integer":
                return IntegerType(
                    signed=_bool(el.get("signed"), True),
                    size_bits=int(el.get("sizeInBits", "32")),
                    **num,
                    **common,
                )
            return FloatType(size_bits=int(el.get("sizeInBits", "32")), **num, **common)
        if kind == "Enumerated":
            values: list[EnumValue] = []
            lst = kids.get("EnumerationList")
            for e in lst if lst is not None else ():
                mx = e.get("maxValue")
                values.append(
                    EnumValue(
                        value=int(e.get("value")),
                        label=e.get("label"),
                        max_value=None if mx is None else int(mx),
                        description=e.get("shortDescription"),
                    )
                )
            return EnumeratedType(
                encoding=encoding,
                values=tuple(values),
                unit=unit,
                alarm=self.enum_alarm(kids.get("DefaultAlarm"), kids.get("ContextAlarmList"), ss),
                **common,
            )
        if kind == "Boolean":
            return BooleanType(
                encoding=encoding,
                zero_string=el.get("zeroStringValue", "False"),
                one_string=el.get("oneStringValue", "True"),
                unit=unit,
                **common,
            )
        if kind == "String":
            sr = kids.get("SizeRangeInCharacters")
            return StringType(
                encoding=encoding,
                unit=unit,
                size_range=_range(sr) if sr is not None else None,
                **common,
            )
        if kind == "Binary":
            if "falak:leading_size_bits" in extra and isinstance(encoding, BinaryEncoding):
                encoding = BinaryEncoding(leading_size_bits=int(extra["falak:leading_size_bits"]))
            return BinaryType(encoding=encoding, unit=unit, **common)
        if kind in ("AbsoluteTime", "RelativeTime"):
            scale, offset = 1.0, 0.0
            enc_el = kids.get("Encoding")
            if enc_el is not None:
                scale = _float(enc_el.get("scale"), 1.0)
                offset = _float(enc_el.get("offset"), 0.0)
                for c in enc_el:
                    encoding, _ = self.encoding(c, ss, what)
                    break
            if kind == "RelativeTime":
                return RelativeTimeType(encoding=encoding, scale=scale, offset=offset, **common)
            epoch: TimeEpoch | None = None
            offset_from: ParameterRef | None = None
            ref_el = kids.get("ReferenceTime")
            for c in ref_el if ref_el is not None else ():
                ctag = _local(c.tag)
                if ctag == "Epoch":
                    epoch = TimeEpoch(_text(c) or "TAI")
                elif ctag == "OffsetFrom":
                    pr = self.param_ref(c, ss, f"OffsetFrom of {what}")
                    offset_from = pr
            return AbsoluteTimeType(
                encoding=encoding,
                timecode=_timecode(extra["falak:timecode"]) if "falak:timecode" in extra else None,
                scale=scale,
                offset=offset,
                epoch=epoch,
                offset_from=offset_from,
                **common,
            )
        self.error(el, f"{tag} is not a known XTCE type", "use one of the XTCE 1.2 type elements")
        return None

    def dimension(self, d: _Element, ss: str) -> Dimension:
        """A ``Dimension`` (start and end index) or an XTCE 1.1 ``Size`` (element count)."""
        if _local(d.tag) == "Size":
            v = self.int_value(d, ss, "array size")
            if isinstance(v, DynamicValue):
                return Dimension(dynamic_size=v)
            return Dimension(size=v)
        start: int | DynamicValue = 0
        end: int | DynamicValue | None = None
        for c in d:
            tag = _local(c.tag)
            if tag in ("StartingIndex", "EndingIndex"):
                v = self.int_value(c, ss, f"array dimension {tag}")
                if tag == "StartingIndex":
                    start = v if v is not None else 0
                else:
                    end = v
        if isinstance(start, DynamicValue):
            self.error(
                d, "a dynamic StartingIndex is not supported", "start arrays at a fixed index"
            )
            start = 0
        if isinstance(end, DynamicValue):
            return Dimension(
                dynamic_size=DynamicValue(end.ref, end.slope, end.intercept + 1 - start)
            )
        if end is None:
            return Dimension()
        return Dimension(size=end - start + 1)

    def int_value(self, el: _Element, ss: str, what: str) -> int | DynamicValue | None:
        """An XTCE IntegerValueType: ``FixedValue`` or ``DynamicValue`` child (or nested Fixed)."""
        for c in el:
            tag = _local(c.tag)
            if tag == "FixedValue":
                return int(_text(c) or "0")
            if tag == "Fixed":
                return self.int_value(c, ss, what)
            if tag == "DynamicValue":
                return self.dynamic(c, ss, what)
            if tag == "DiscreteLookupList":
                self.error(c, f"{what}: DiscreteLookupList is not supported", "use a DynamicValue")
                return None
        return None

    def dynamic(self, el: _Element, ss: str, what: str) -> DynamicValue | None:
        ref: ParameterRef | None = None
        slope, intercept = 1.0, 0.0
        for c in el:
            tag = _local(c.tag)
            if tag == "ParameterInstanceRef":
                if c.get("parameterRef") == _YAMCS_IGNORE:
                    return None
                ref = self.param_ref(c, ss, what)
            elif tag == "ArgumentInstanceRef":
                ref = ParameterRef(parameter=c.get("argumentRef", ""), argument=True)
            elif tag == "LinearAdjustment":
                slope = _float(c.get("slope"), 1.0)
                intercept = _float(c.get("intercept"), 0.0)
        if ref is None:
            return None
        return DynamicValue(ref, slope, intercept)

    def param_ref(self, el: _Element, ss: str, what: str) -> ParameterRef | None:
        """ParameterRef from an element with ``parameterRef`` / ``useCalibratedValue``."""
        r = self.resolve_parameter(el.get("parameterRef"), ss, el, what)
        if r is None:
            return None
        return ParameterRef(
            parameter=r[0],
            member=r[1],
            calibrated=_bool(el.get("useCalibratedValue"), True),
            instance=int(el.get("instance", "0")),
        )

    def encoding(
        self, el: _Element, ss: str, what: str
    ) -> tuple[DataEncoding | None, Calibrator | None]:
        tag = _local(el.tag)
        order = None
        bo = el.get("byteOrder")
        size = el.get("sizeInBits")
        calibrator: Calibrator | None = None
        default_cal: Calibrator | None = None
        contexts: list[tuple[Condition, Calibrator]] = []
        size_el: _Element | None = None
        variable: _Element | None = None
        for c in el:
            ctag = _local(c.tag)
            if ctag == "ByteOrderList":
                order = tuple(int(b.get("byteSignificance")) for b in c)
            elif ctag == "DefaultCalibrator":
                default_cal = self.calibrator(c, ss, what)
            elif ctag == "ContextCalibratorList":
                for cc in c:
                    cond: Condition | None = None
                    cal: Calibrator | None = None
                    for part in cc:
                        ptag = _local(part.tag)
                        if ptag == "ContextMatch":
                            cond = self.match(part, ss, f"context calibrator of {what}")
                        elif ptag == "Calibrator":
                            cal = self.calibrator(part, ss, what)
                    if cond is not None and cal is not None:
                        contexts.append((cond, cal))
            elif ctag == "SizeInBits":
                size_el = c
            elif ctag == "Variable":
                variable = c
        calibrator = ContextCalibrator(tuple(contexts), default_cal) if contexts else default_cal

        if tag in ("IntegerDataEncoding", "FloatDataEncoding"):
            nbits = int(size) if size is not None else (8 if tag[0] == "I" else 32)
            nbytes = (nbits + 7) // 8
            if bo == "leastSignificantByteFirst":
                order = tuple(range(nbytes))
            if order is not None and order == tuple(range(nbytes - 1, -1, -1)):
                order = None
            if tag == "IntegerDataEncoding":
                enc = el.get("encoding", "unsigned")
                enc = {"twosCompliment": "twosComplement"}.get(enc, enc)
                if enc not in ("unsigned", "twosComplement", "signMagnitude", "onesComplement"):
                    self.error(
                        el,
                        f"integer encoding {enc!r} of {what} is not supported",
                        "use unsigned, twosComplement, signMagnitude or onesComplement",
                    )
                    enc = "unsigned"
                return IntegerEncoding(nbits, cast(IntegerSign, enc), order), calibrator
            fenc = el.get("encoding", "IEEE754_1985")
            if fenc in ("IEEE754_1985", "IEEE754"):
                fenc = "IEEE754"
            elif fenc != "MILSTD_1750A":
                self.error(
                    el,
                    f"float encoding {fenc!r} of {what} is not supported",
                    "use IEEE754_1985 or MILSTD_1750A",
                )
                fenc = "IEEE754"
            return FloatEncoding(nbits, fenc, order), calibrator
        if tag == "StringDataEncoding":
            fixed: int | None = None
            dyn: DynamicValue | None = None
            lead: int | None = None
            term: bytes | None = None
            max_bits: int | None = None
            holder = size_el if size_el is not None else variable
            if variable is not None:
                mx = variable.get("maxSizeInBits")
                max_bits = None if mx is None else int(mx)
            for c in holder if holder is not None else ():
                ctag = _local(c.tag)
                if ctag == "Fixed":
                    v = self.int_value(c, ss, what)
                    if isinstance(v, int):
                        fixed = v
                    elif isinstance(v, DynamicValue):
                        dyn = v
                elif ctag == "FixedValue":
                    fixed = int(_text(c) or "0")
                elif ctag == "DynamicValue":
                    dyn = self.dynamic(c, ss, what)
                elif ctag == "TerminationChar":
                    term = bytes.fromhex(_text(c) or "00")
                elif ctag == "LeadingSize":
                    lead = int(c.get("sizeInBitsOfSizeTag", "16"))
            return (
                StringEncoding(
                    charset=el.get("encoding", "UTF-8"),
                    fixed_size_bits=fixed,
                    dynamic_size=dyn,
                    leading_size_bits=lead,
                    terminator=term,
                    max_size_bits=max_bits,
                ),
                calibrator,
            )
        # BinaryDataEncoding
        fixed_b: int | None = None
        dyn_b: DynamicValue | None = None
        if size_el is not None:
            v = self.int_value(size_el, ss, what)
            if isinstance(v, DynamicValue):
                dyn_b = v
            else:
                fixed_b = v
        return BinaryEncoding(fixed_size_bits=fixed_b, dynamic_size=dyn_b), calibrator

    def calibrator(self, el: _Element, ss: str, what: str) -> Calibrator | None:
        for c in el:
            tag = _local(c.tag)
            if tag == "PolynomialCalibrator":
                terms: dict[int, float] = {}
                for t in c:
                    e = int(float(t.get("exponent", "0")))
                    if not 0 <= e <= _MAX_EXPONENT:
                        raise ValueError(f"polynomial exponent {e} is outside 0..{_MAX_EXPONENT}")
                    terms[e] = terms.get(e, 0.0) + _float(t.get("coefficient"))
                n = max(terms) + 1 if terms else 0
                return PolynomialCalibrator(tuple(terms.get(i, 0.0) for i in range(n)))
            if tag == "SplineCalibrator":
                pts = tuple((_float(p.get("raw")), _float(p.get("calibrated"))) for p in c)
                return SplineCalibrator(
                    pts, int(c.get("order", "1")), _bool(c.get("extrapolate"), False)
                )
            if tag == "MathOperationCalibrator":
                self.skip(c)
                return None
        return None

    # -- alarms --------------------------------------------------------------------------------

    def numeric_alarm(
        self, default: _Element | None, contexts: _Element | None, ss: str
    ) -> NumericAlarm | None:
        if default is None and contexts is None:
            return None
        static: AlarmRanges | None = None
        min_v = 1
        if default is not None:
            min_v = int(default.get("minViolations", "1"))
            for c in default:
                if _local(c.tag) == "StaticAlarmRanges":
                    static = _alarm_ranges(c)
        ctx: list[tuple[Condition, AlarmRanges]] = []
        for ca in contexts if contexts is not None else ():
            cond: Condition | None = None
            ranges = AlarmRanges()
            for c in ca:
                tag = _local(c.tag)
                if tag == "ContextMatch":
                    cond = self.match(c, ss, "context alarm")
                elif tag == "StaticAlarmRanges":
                    ranges = _alarm_ranges(c)
            if cond is not None:
                ctx.append((cond, ranges))
        return NumericAlarm(static, tuple(ctx), min_v)

    def enum_alarm(
        self, default: _Element | None, contexts: _Element | None, ss: str
    ) -> EnumerationAlarm | None:
        if default is None and contexts is None:
            return None
        levels: tuple[tuple[str, AlarmLevel], ...] = ()
        dflt = AlarmLevel.NORMAL
        min_v = 1
        if default is not None:
            min_v = int(default.get("minViolations", "1"))
            dflt = _level(default.get("defaultAlarmLevel", "normal"))
            for c in default:
                if _local(c.tag) == "EnumerationAlarmList":
                    levels = _enum_levels(c)
        ctx: list[tuple[Condition, tuple[tuple[str, AlarmLevel], ...]]] = []
        for ca in contexts if contexts is not None else ():
            cond: Condition | None = None
            lv: tuple[tuple[str, AlarmLevel], ...] = ()
            for c in ca:
                tag = _local(c.tag)
                if tag == "ContextMatch":
                    cond = self.match(c, ss, "context alarm")
                elif tag == "EnumerationAlarmList":
                    lv = _enum_levels(c)
            if cond is not None:
                ctx.append((cond, lv))
        return EnumerationAlarm(levels, dflt, tuple(ctx), min_v)

    # -- conditions ----------------------------------------------------------------------------

    def match(self, el: _Element, ss: str, what: str) -> Condition | None:
        """A MatchCriteriaType holder (RestrictionCriteria, IncludeCondition, ContextMatch...)."""
        for c in el:
            cond = self.criterion(c, ss, what)
            if cond is not None or _local(c.tag) in _CRITERIA:
                return cond
        return None

    def criterion(self, c: _Element, ss: str, what: str) -> Condition | None:
        tag = _local(c.tag)
        if tag == "Comparison":
            ref = self.param_ref(c, ss, what)
            if ref is None:
                return None
            op = c.get("comparisonOperator", "==")
            return Comparison(ref, self.operator(c, op), c.get("value", ""))
        if tag == "ComparisonList":
            parts = [self.criterion(x, ss, what) for x in c]
            return AllOf(tuple(p for p in parts if p is not None))
        if tag == "BooleanExpression":
            for x in c:
                return self.bool_expr(x, ss, what)
            return None
        if tag in ("NextContainer", "CustomAlgorithm", "MatchCriteria"):
            self.error(
                c, f"{tag} in {what} is not supported", "use Comparison or BooleanExpression"
            )
        return None

    def bool_expr(self, c: _Element, ss: str, what: str) -> Condition | None:
        tag = _local(c.tag)
        if tag in ("ANDedConditions", "ORedConditions"):
            parts = [self.bool_expr(x, ss, what) for x in c]
            conds = tuple(p for p in parts if p is not None)
            return AllOf(conds) if tag == "ANDedConditions" else AnyOf(conds)
        if tag == "Condition":
            refs: list[ParameterRef | None] = []
            op = "=="
            value: str | None = None
            op_el = c
            for x in c:
                xtag = _local(x.tag)
                if xtag == "ParameterInstanceRef":
                    refs.append(self.param_ref(x, ss, what))
                elif xtag == "ArgumentInstanceRef":
                    refs.append(ParameterRef(x.get("argumentRef", ""), argument=True))
                elif xtag == "ComparisonOperator":
                    op = _text(x) or "=="
                    op_el = x
                elif xtag == "Value":
                    value = x.text or ""
            if len(refs) != 1 or value is None:
                self.error(
                    c,
                    f"a Condition comparing two parameters in {what} is not supported",
                    "compare a parameter with a Value",
                )
                return None
            if refs[0] is None:
                return None
            return Comparison(refs[0], self.operator(op_el, op), value)
        return self.criterion(c, ss, what)

    def operator(self, el: _Element, op: str) -> Operator:
        op = {"=": "==", "&lt;": "<", "&gt;": ">"}.get(op, op)
        if op not in ("==", "!=", "<", "<=", ">", ">="):
            self.error(el, f"comparison operator {op!r} is not known", "use ==, !=, <, <=, > or >=")
            return "=="
        return cast(Operator, op)

    # -- containers ----------------------------------------------------------------------------

    def entries(
        self, el: _Element, ss: str, what: str, arguments: set[str] | None = None
    ) -> tuple[Entry, ...]:
        out: list[Entry] = []
        lookup = self.lookup
        for e in el:
            tag = _local(e.tag)
            if tag == "ParameterRefEntry" and not len(e):  # the common case, made fast
                ref = e.get("parameterRef")
                q = (ref is not None and lookup("parameter", ref, ss)) or self.resolve(
                    "parameter", ref, ss, e, f"entry of {what}"
                )
                out.append(ParameterEntry(q or ""))
                continue
            loc: Location | None = None
            inc: Condition | None = None
            rep: Repeat | None = None
            dims: tuple[Dimension, ...] = ()
            esrc = SourceLocation(self.file, e.sourceline)  # for validate's entry errors
            for c in e:
                ctag = _local(c.tag)
                if ctag == "LocationInContainerInBits":
                    ref = c.get("referenceLocation", "previousEntry")
                    v = self.int_value(c, ss, what)
                    if ref not in ("previousEntry", "containerStart", "packetStart"):
                        self.error(
                            c,
                            f"referenceLocation {ref!r} is not supported",
                            "use previousEntry or containerStart",
                        )
                        ref = "previousEntry"
                    if not isinstance(v, int):
                        self.error(c, "a dynamic entry location is not supported", "use FixedValue")
                        v = 0
                    loc = Location(v, ref)
                elif ctag == "IncludeCondition":
                    inc = self.match(c, ss, f"include condition in {what}")
                elif ctag == "RepeatEntry":
                    count: int | DynamicValue = 1
                    off = 0
                    for r in c:
                        rtag = _local(r.tag)
                        if rtag == "Count":
                            cv = self.int_value(r, ss, what)
                            count = cv if cv is not None else 1
                        elif rtag == "Offset":
                            ov = self.int_value(r, ss, what)
                            off = ov if isinstance(ov, int) else 0
                    rep = Repeat(count, off)
                elif ctag == "DimensionList":
                    dims = tuple(self.dimension(d, ss) for d in c)
            if tag in ("ParameterRefEntry", "ArrayParameterRefEntry"):
                q = self.resolve("parameter", e.get("parameterRef"), ss, e, f"entry of {what}")
                out.append(ParameterEntry(q or "", loc, inc, rep, dims, source=esrc))
            elif tag == "ContainerRefEntry":
                q = self.resolve("container", e.get("containerRef"), ss, e, f"entry of {what}")
                out.append(ContainerEntry(q or "", loc, inc, rep, source=esrc))
            elif tag == "FixedValueEntry":
                hexv = e.get("binaryValue")
                value = bytes.fromhex(hexv if len(hexv or "") % 2 == 0 else "0" + cast(str, hexv))
                size = e.get("sizeInBits")
                nbits = int(size) if size is not None else 8 * len(value)
                out.append(
                    FixedValueEntry(
                        nbits, value if hexv else None, e.get("name"), loc, inc, rep, source=esrc
                    )
                )
            elif tag == "ArgumentRefEntry":
                a = e.get("argumentRef", "")
                if arguments is not None and a not in arguments:
                    self.error(
                        e,
                        f"entry of {what} refers to argument {a!r}, which the command and its "
                        "base commands do not define",
                        f"add an Argument named {a} to the ArgumentList",
                    )
                out.append(ArgumentEntry(a, loc, inc, rep, source=esrc))
            else:
                self.error(
                    e, f"{tag} is not supported", "use ParameterRefEntry or ContainerRefEntry"
                )
        return tuple(out)

    def container(self, el: _Element, ss: str, xp: str) -> SequenceContainer:
        name = el.get("name")
        what = f"container {name!r}"
        entries: tuple[Entry, ...] = ()
        base: str | None = None
        restriction: Condition | None = None
        long_d: str | None = None
        anc: tuple[tuple[str, str], ...] = ()
        size: int | None = None
        for c in el:
            tag = _local(c.tag)
            if tag == "EntryList":
                entries = self.entries(c, ss, what)
            elif tag == "BaseContainer":
                base, restriction = self.base_container(c, ss, what)
            elif tag == "LongDescription":
                long_d = _text(c)
            elif tag == "AncillaryDataSet":
                anc = _ancillary(c)
            elif tag == "BinaryEncoding":
                for s in c:
                    if _local(s.tag) == "SizeInBits":
                        v = self.int_value(s, ss, what)
                        size = v if isinstance(v, int) else None
            elif tag in ("AliasSet", "DefaultRateInStream"):
                self.skip(c)
        anc, extra = _split_falak(anc)
        period = extra.get("falak:expected_period_s")
        return SequenceContainer(
            name=name,
            qualified_name=ss + "/" + name,
            entries=entries,
            base=base,
            restriction=restriction,
            abstract=_bool(el.get("abstract"), False),
            size_bits=size,
            expected_period_s=None if period is None else float(period),
            crc=_crc(extra.get("falak:crc")),
            description=el.get("shortDescription"),
            long_description=long_d,
            ancillary=anc,
            source=self.src(el, xp),
        )

    def base_container(
        self, c: _Element, ss: str, what: str
    ) -> tuple[str | None, Condition | None]:
        base = self.resolve("container", c.get("containerRef"), ss, c, f"base of {what}")
        restriction: Condition | None = None
        for r in c:
            if _local(r.tag) == "RestrictionCriteria":
                restriction = self.match(r, ss, f"restriction of {what}")
        return base, restriction

    # -- commands ------------------------------------------------------------------------------

    def _argument_names(self, q: str, seen: set[str] | None = None) -> set[str]:
        """Argument names of command ``q`` and its base commands (for ArgumentRefEntry)."""
        seen = seen or set()
        if q in seen or q not in self.names["command"]:
            return set()
        seen.add(q)
        el = self.names["command"][q]
        out: set[str] = set()
        ss = q.rsplit("/", 1)[0]
        for c in el:
            tag = _local(c.tag)
            if tag == "ArgumentList":
                out.update(a.get("name", "") for a in c)
            elif tag == "BaseMetaCommand":
                b = self.lookup("command", c.get("metaCommandRef", ""), ss)
                if b is not None:
                    out |= self._argument_names(b, seen)
        return out

    def command(self, el: _Element, ss: str, xp: str) -> MetaCommand:
        name = el.get("name")
        qname = ss + "/" + name
        what = f"command {name!r}"
        kw: dict[str, Any] = {}
        anonymous = False
        extra: dict[str, str] = {}
        for c in el:
            tag = _local(c.tag)
            if tag == "LongDescription":
                kw["long_description"] = _text(c)
            elif tag == "AncillaryDataSet":
                kw["ancillary"], extra = _split_falak(_ancillary(c))
                kw["crc"] = _crc(extra.get("falak:crc"))
                anonymous = "falak:anonymous_container" in extra
            elif tag == "BaseMetaCommand":
                kw["base"] = self.resolve(
                    "command", c.get("metaCommandRef"), ss, c, f"base of {what}"
                )
                assigns: list[tuple[str, str]] = []
                for x in c:
                    if _local(x.tag) == "ArgumentAssignmentList":
                        assigns.extend(
                            (a.get("argumentName", ""), a.get("argumentValue", "")) for a in x
                        )
                kw["argument_assignments"] = tuple(assigns)
            elif tag == "ArgumentList":  # some files split the arguments over several lists
                args = list(kw.get("arguments", ()))
                for a in c:
                    aname = a.get("name", "")
                    at = self.resolve(
                        "argtype", a.get("argumentTypeRef"), ss, a, f"argument {aname!r} of {what}"
                    )
                    args.append(
                        Argument(aname, at, a.get("initialValue"), a.get("shortDescription"))
                    )
                kw["arguments"] = tuple(args)
            elif tag == "CommandContainer":
                cname = c.get("name")
                kw["container_name"] = None if cname is None else ss + "/" + cname
                argnames = self._argument_names(qname)
                for x in c:
                    xtag = _local(x.tag)
                    if xtag == "EntryList":
                        kw["entries"] = self.entries(x, ss, what, argnames)
                    elif xtag == "BaseContainer":
                        b, r = self.base_container(x, ss, what)
                        kw["container_base"] = b
                        kw["container_restriction"] = r
                    elif xtag in UNSUPPORTED_ELEMENTS:
                        self.skip(x)
            elif tag == "DefaultSignificance":
                level = c.get("consequenceLevel", "none")
                try:
                    kw["significance"] = Significance[level.upper()]
                except KeyError:
                    self.error(
                        c,
                        f"consequenceLevel {level!r} is not known",
                        "use none, watch, warning, distress, critical or severe",
                    )
                kw["significance_reason"] = c.get("reasonForWarning")
            elif tag == "VerifierSet":
                kw["verifiers"] = tuple(self.verifier(v, ss, what) for v in c)
            elif tag in UNSUPPORTED_ELEMENTS:
                self.skip(c)
        if anonymous:  # the model had entries but no container name; the export made one up
            kw["container_name"] = None
        if "verifiers" in kw and any(k.startswith("falak:verifier.") for k in extra):
            kw["verifiers"] = _verifier_extras(kw["verifiers"], extra)
        return MetaCommand(
            name=name,
            qualified_name=qname,
            abstract=_bool(el.get("abstract"), False),
            description=el.get("shortDescription"),
            source=self.src(el, xp),
            **kw,
        )

    def verifier(self, el: _Element, ss: str, what: str) -> Verifier:
        tag = _local(el.tag)
        stage = _VERIFIER_STAGES.get(tag, tag.removesuffix("Verifier").lower())
        start, stop = 0.0, 10.0
        container: str | None = None
        condition: Condition | None = None
        for c in el:
            ctag = _local(c.tag)
            if ctag == "CheckWindow":
                try:
                    start = _duration_s(c.get("timeToStartChecking", "PT0S"))
                    stop = _duration_s(c.get("timeToStopChecking", "PT10S"))
                except ValueError as exc:
                    self.error(c, str(exc), "write durations like PT10M or PT2.5S")
            elif ctag == "ContainerRef":
                container = self.resolve(
                    "container", c.get("containerRef"), ss, c, f"{stage} verifier of {what}"
                )
            elif ctag in _CRITERIA:
                condition = self.criterion(c, ss, f"{stage} verifier of {what}")
        return Verifier(stage, start, stop, container, condition)


_CRITERIA = (
    "Comparison",
    "ComparisonList",
    "BooleanExpression",
    "NextContainer",
    "CustomAlgorithm",
    "MatchCriteria",
)

_VERIFIER_STAGES = {
    "TransferredToRangeVerifier": "transferred",
    "SentFromRangeVerifier": "sent",
    "ReceivedVerifier": "received",
    "AcceptedVerifier": "accepted",
    "QueuedVerifier": "queued",
    "ExecutionVerifier": "execution",
    "CompleteVerifier": "complete",
    "FailedVerifier": "failed",
}
_STAGE_TAGS = {v: k for k, v in _VERIFIER_STAGES.items()}


def _normalize(path: str) -> str:
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return "/" + "/".join(out)


def _xpath(el: _Element) -> str:
    """Readable XPath of an element: local names, ``[@name=...]`` or a position."""
    parts: list[str] = []
    node: _Element | None = el
    while node is not None:
        tag = _local(node.tag)
        name = node.get("name")
        parent = node.getparent()
        if name is not None:
            parts.append(f"{tag}[@name='{name}']")
        elif parent is None:
            parts.append(tag)
        else:
            same = [c for c in parent if c.tag == node.tag]
            parts.append(tag if len(same) == 1 else f"{tag}[{same.index(node) + 1}]")
        node = parent
    return "/" + "/".join(reversed(parts))


def _ancillary(el: _Element) -> tuple[tuple[str, str], ...]:
    return tuple((a.get("name", ""), (a.text or "").strip()) for a in el)


def _split_falak(
    items: tuple[tuple[str, str], ...],
) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """Separate falak's own ``falak:*`` ancillary items (fields XTCE has no element for)."""
    if not any(n.startswith(_FALAK) for n, _ in items):
        return items, {}
    return (
        tuple((n, v) for n, v in items if not n.startswith(_FALAK)),
        {n: v for n, v in items if n.startswith(_FALAK)},
    )


def _crc(text: str | None) -> Literal["CRC-16-CCITT"] | None:
    if text is None:
        return None
    if text != "CRC-16-CCITT":
        raise ValueError(f"falak:crc {text!r} is not CRC-16-CCITT")
    return "CRC-16-CCITT"


def _timecode(text: str) -> CucTimeCode | CdsTimeCode:
    """``CUC coarse fine`` or ``CDS day submillis`` (byte counts), as the export writes it."""
    kind, a, b = text.split()
    if kind == "CUC":
        return CucTimeCode(int(a), int(b))
    if kind == "CDS":
        return CdsTimeCode(int(a), int(b))
    raise ValueError(f"falak:timecode {text!r} is neither CUC nor CDS")


def _falak_items(obj: Any) -> list[tuple[str, str]]:
    """Model fields XTCE has no element for, as ``falak:*`` ancillary items."""
    out: list[tuple[str, str]] = []
    if isinstance(obj, Parameter) and obj.derivation is not None:
        text = " ".join((obj.derivation.function, *obj.derivation.inputs))
        out.append(("falak:derivation", text))
    if isinstance(obj, Parameter | SequenceContainer) and obj.expected_period_s is not None:
        out.append(("falak:expected_period_s", repr(float(obj.expected_period_s))))
    if isinstance(obj, MetaCommand) and obj.container_name is None and obj.entries:
        out.append(("falak:anonymous_container", "true"))
    if isinstance(obj, MetaCommand):
        for key, ver in _verifier_keys(obj.verifiers):
            if ver.container is not None and ver.condition is not None:
                out.append((f"{key}.container", ver.container))
            if ver.fail_condition is not None:
                out.append((f"{key}.fail_condition", json.dumps(_cond_json(ver.fail_condition))))
    if isinstance(obj, SequenceContainer | MetaCommand) and obj.crc is not None:
        out.append(("falak:crc", obj.crc))
    if isinstance(obj, AbsoluteTimeType) and obj.timecode is not None:
        tc = obj.timecode
        if isinstance(tc, CucTimeCode):
            out.append(("falak:timecode", f"CUC {tc.coarse_bytes} {tc.fine_bytes}"))
        else:
            out.append(("falak:timecode", f"CDS {tc.day_bytes} {tc.submillis_bytes}"))
    enc = getattr(obj, "encoding", None)
    if isinstance(enc, BinaryEncoding) and enc.leading_size_bits is not None:
        out.append(("falak:leading_size_bits", str(enc.leading_size_bits)))
    return out


def _verifier_keys(verifiers: Iterable[Verifier]) -> list[tuple[str, Verifier]]:
    """``falak:verifier.<stage>.<n>`` for each verifier, in the order the export writes them."""
    seen: dict[str, int] = {}
    out = []
    for v in sorted(verifiers, key=_verifier_rank):
        n = seen.get(v.stage, 0)
        seen[v.stage] = n + 1
        out.append((f"falak:verifier.{v.stage}.{n}", v))
    return out


def _verifier_extras(
    verifiers: tuple[Verifier, ...], extra: dict[str, str]
) -> tuple[Verifier, ...]:
    """Put back what XTCE verifiers cannot hold: a container next to a condition, and a
    per-stage fail condition."""
    out = []
    for key, v in _verifier_keys(verifiers):
        if f"{key}.container" in extra:
            v = replace(v, container=extra[f"{key}.container"])
        if f"{key}.fail_condition" in extra:
            v = replace(
                v, fail_condition=_cond_from_json(json.loads(extra[f"{key}.fail_condition"]))
            )
        out.append(v)
    return tuple(out)


def _cond_json(cond: Condition) -> Any:
    """A condition as JSON (qualified names), for ``falak:*`` ancillary items."""
    if isinstance(cond, Comparison):
        r = cond.ref
        return {
            "ref": r.parameter,
            "member": list(r.member),
            "calibrated": r.calibrated,
            "instance": r.instance,
            "argument": r.argument,
            "op": cond.operator,
            "value": cond.value,
        }
    if isinstance(cond, Not):
        return {"not": _cond_json(cond.condition)}
    key = "all" if isinstance(cond, AllOf) else "any"
    return {key: [_cond_json(c) for c in cond.conditions]}


def _cond_from_json(obj: Any) -> Condition:
    if "not" in obj:
        return Not(_cond_from_json(obj["not"]))
    if "all" in obj:
        return AllOf(tuple(_cond_from_json(c) for c in obj["all"]))
    if "any" in obj:
        return AnyOf(tuple(_cond_from_json(c) for c in obj["any"]))
    ref = ParameterRef(
        str(obj["ref"]),
        tuple(obj["member"]),
        bool(obj["calibrated"]),
        int(obj["instance"]),
        bool(obj["argument"]),
    )
    if obj["op"] not in _NEGATE:
        raise ValueError(f"comparison operator {obj['op']!r} is not known")
    return Comparison(ref, obj["op"], str(obj["value"]))


def _aliases(el: _Element) -> tuple[tuple[str, str], ...]:
    return tuple((a.get("nameSpace", ""), a.get("alias", "")) for a in el)


def _range(el: _Element) -> Range:
    lo_i, lo_e = el.get("minInclusive"), el.get("minExclusive")
    hi_i, hi_e = el.get("maxInclusive"), el.get("maxExclusive")
    return Range(
        min=_float(lo_i) if lo_i is not None else (_float(lo_e) if lo_e is not None else None),
        max=_float(hi_i) if hi_i is not None else (_float(hi_e) if hi_e is not None else None),
        min_inclusive=lo_e is None,
        max_inclusive=hi_e is None,
    )


def _alarm_ranges(el: _Element) -> AlarmRanges:
    kw: dict[str, Range] = {}
    for c in el:
        level = _local(c.tag).removesuffix("Range").lower()
        kw[level] = _range(c)
    return AlarmRanges(**kw)


def _level(text: str) -> AlarmLevel:
    return AlarmLevel[text.upper()] if text.upper() in AlarmLevel.__members__ else AlarmLevel.NORMAL


def _enum_levels(el: _Element) -> tuple[tuple[str, AlarmLevel], ...]:
    return tuple((a.get("enumerationLabel", ""), _level(a.get("alarmLevel", "normal"))) for a in el)


def load_xtce(
    path: str | Path, *, validate: bool = True, skipped: list[MdbError] | None = None
) -> MissionDatabase:
    """Load an XTCE 1.1 or 1.2 file into a :class:`MissionDatabase`.

    Every reference is resolved to a qualified name. All problems found are raised together
    as :class:`falak.errors.MdbErrors` (a subclass of :class:`falak.errors.MdbError`), each
    naming file, line, XPath and a fix.

    Parameters
    ----------
    path
        The XTCE file.
    validate
        Run the semantic checks of :mod:`falak.mdb.validate` (when installed) after loading.
        ``False`` loads files that are legal XTCE but use what falak's decoder does not
        support (e.g. spline calibrators of order 2), for inspection or conversion.
    skipped
        When a list is given, a note (an unraised :class:`MdbError` with file, line, XPath
        and what it means) is appended for each XTCE element the model cannot carry and the
        loader skipped, e.g. a ``MathOperationCalibrator`` (see ``UNSUPPORTED_ELEMENTS``).
    """
    from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

    p = Path(path)
    file = str(p)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=True,
    )
    try:
        # opened here, the name given as bytes: lxml cannot encode a str file name that is not
        # UTF-8 (a lone surrogate, as os.fsdecode keeps such bytes)
        with p.open("rb") as fh:
            tree = etree.parse(fh, parser, base_url=os.fsencode(file))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise MdbErrors(
            [
                MdbError(
                    f"malformed XML: {exc.msg}",
                    file=file,
                    line=line,
                    fix="correct the XML syntax at that line (an XML editor shows it)",
                )
            ]
        ) from None
    except OSError as exc:
        raise MdbErrors(
            [MdbError(f"cannot read file: {exc}", file=file, fix="check the path")]
        ) from None
    root = tree.getroot()
    ns = cast(str, root.tag)[1:].split("}")[0] if cast(str, root.tag).startswith("{") else ""
    if _local(root.tag) != "SpaceSystem" or ns not in _KNOWN_NS:
        raise MdbErrors(
            [
                MdbError(
                    f"root element is {root.tag!r}, not an XTCE SpaceSystem",
                    file=file,
                    line=root.sourceline,
                    xpath="/" + _local(root.tag),
                    fix=(
                        "an XTCE file must have a SpaceSystem root element in namespace "
                        f"{NS_XTCE_12} (XTCE 1.2) or {NS_XTCE_11} (XTCE 1.1)"
                    ),
                )
            ]
        )
    loader = _Loader(file)
    # Building ~10^4 small objects triggers the cyclic garbage collector many times over
    # for nothing (the tree holds no cycles); pausing it halves the load time of big files.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        rec = loader.collect(root, None)
        ss = loader.build(rec)
    finally:
        if gc_was_enabled:
            gc.enable()
    if skipped is not None:
        skipped.extend(loader.skipped)
    if loader.errors:
        raise MdbErrors(loader.errors)
    mdb = MissionDatabase(ss, source_file=file)
    if validate:
        _run_validate(mdb)
    return mdb


def _run_validate(mdb: MissionDatabase) -> None:
    """Run :mod:`falak.mdb.validate` when it is installed."""
    if importlib.util.find_spec("falak.mdb.validate") is None:
        return
    mod = importlib.import_module("falak.mdb.validate")
    validate = cast(Callable[[MissionDatabase], list[MdbError]], mod.validate)
    found = validate(mdb)
    errors = [e for e in found if getattr(e, "severity", "error") == "error"]
    if errors:
        raise MdbErrors(errors)
    mdb.warnings = [e for e in found if e not in errors]


# =============================================================================================
# Export


class _Writer:
    def __init__(self, mdb: MissionDatabase, *, qualified: bool) -> None:
        from lxml import etree

        self.etree = etree
        self.ns = "{" + NS_XTCE_12 + "}"
        self.qualified = qualified
        self.ss = mdb.root.qualified_name
        containers = set(mdb.containers)
        containers.update(c.container_name for c in mdb.commands.values() if c.container_name)
        self.names: dict[str, set[str]] = {
            "type": set(mdb.types),
            "argtype": set(mdb.argument_types),
            "parameter": set(mdb.parameters),
            "container": containers,
            "command": set(mdb.commands),
        }

    def rel(self, kind: str, qname: str) -> str:
        """The shortest name that XTCE's rules resolve to ``qname`` from the current space
        system: the bare name when the upward search finds this item first, else ``qname``."""
        if self.qualified:
            return qname
        short = qname.rsplit("/", 1)[-1]
        if self._find(kind, short) == qname:
            return short
        return qname

    def _find(self, kind: str, name: str) -> str | None:
        table = self.names[kind]
        base = self.ss
        while True:
            q = base + "/" + name
            if q in table:
                return q
            if not base:
                return None
            base = base.rsplit("/", 1)[0]

    def sub(
        self,
        parent: _Element,
        tag: str,
        attrib: dict[str, str] | None = None,
        text: str | None = None,
    ) -> _Element:
        el = self.etree.SubElement(parent, self.ns + tag)
        if attrib:
            for k, v in attrib.items():
                el.set(k, v)
        if text is not None:
            el.text = text
        return el

    def describe(self, el: _Element, obj: Any, aliases: Iterable[tuple[str, str]] = ()) -> None:
        """LongDescription, AliasSet, AncillaryDataSet (in XTCE's order)."""
        desc = getattr(obj, "description", None)
        if desc is not None:
            el.set("shortDescription", desc)
        long_d = getattr(obj, "long_description", None)
        if long_d is not None:
            self.sub(el, "LongDescription", text=long_d)
        al = list(aliases)
        if al:
            s = self.sub(el, "AliasSet")
            for nsp, alias in al:
                self.sub(s, "Alias", {"nameSpace": nsp, "alias": alias})
        anc = [*getattr(obj, "ancillary", ()), *_falak_items(obj)]
        if anc:
            s = self.sub(el, "AncillaryDataSet")
            for name, value in anc:
                self.sub(s, "AncillaryData", {"name": name}, value)

    def space_system(self, parent: _Element | None, ss: SpaceSystem) -> _Element:
        if parent is None:
            el = self.etree.Element(self.ns + "SpaceSystem", nsmap={"xtce": NS_XTCE_12})
        else:
            el = self.sub(parent, "SpaceSystem")
        el.set("name", ss.name)
        self.ss = ss.qualified_name
        self.describe(el, ss)
        if ss.types or ss.parameters or ss.containers:
            tm = self.sub(el, "TelemetryMetaData")
            if ss.types:
                s = self.sub(tm, "ParameterTypeSet")
                for t in ss.types.values():
                    self.data_type(s, t, argument=False)
            if ss.parameters:
                s = self.sub(tm, "ParameterSet")
                for p in ss.parameters.values():
                    self.parameter(s, p)
            if ss.containers:
                s = self.sub(tm, "ContainerSet")
                for c in ss.containers.values():
                    self.container(s, c)
        if ss.argument_types or ss.commands:
            cm = self.sub(el, "CommandMetaData")
            if ss.argument_types:
                s = self.sub(cm, "ArgumentTypeSet")
                for t in ss.argument_types.values():
                    self.data_type(s, t, argument=True)
            if ss.commands:
                s = self.sub(cm, "MetaCommandSet")
                for m in ss.commands.values():
                    self.command(s, m)
        for sub in ss.subsystems.values():
            self.space_system(el, sub)
        return el

    # -- parameters and types ------------------------------------------------------------------

    def parameter(self, parent: _Element, p: Parameter) -> None:
        el = self.sub(parent, "Parameter", {"name": p.name})
        if p.type is not None:
            el.set("parameterTypeRef", self.rel("type", p.type))
        self.describe(el, p, p.aliases)
        if p.data_source != "telemetered" or p.read_only:
            self.sub(
                el,
                "ParameterProperties",
                {"dataSource": p.data_source, "readOnly": "true" if p.read_only else "false"},
            )

    def data_type(self, parent: _Element, t: DataType, *, argument: bool) -> None:
        suffix = "ArgumentType" if argument else "ParameterType"
        kind = "argtype" if argument else "type"
        element = {
            IntegerType: "Integer",
            FloatType: "Float",
            EnumeratedType: "Enumerated",
            BooleanType: "Boolean",
            StringType: "String",
            BinaryType: "Binary",
            AbsoluteTimeType: "AbsoluteTime",
            RelativeTimeType: "RelativeTime",
            AggregateType: "Aggregate",
            ArrayType: "Array",
        }[type(t)]
        el = self.sub(parent, element + suffix, {"name": t.name})
        init = getattr(t, "initial_value", None)
        if init is not None:
            el.set("initialValue", init)
        self.describe(el, t)
        if isinstance(t, AggregateType):
            ml = self.sub(el, "MemberList")
            for m in t.members:
                me = self.sub(ml, "Member", {"name": m.name, "typeRef": self.rel(kind, m.type)})
                if m.description is not None:
                    me.set("shortDescription", m.description)
            return
        if isinstance(t, ArrayType):
            el.set("arrayTypeRef", self.rel(kind, t.element_type))
            self.dimensions(el, t.dimensions)
            return
        if isinstance(t, IntegerType):
            el.set("signed", "true" if t.signed else "false")
            el.set("sizeInBits", str(t.size_bits))
        elif isinstance(t, FloatType):
            el.set("sizeInBits", str(t.size_bits))
        elif isinstance(t, BooleanType):
            el.set("zeroStringValue", t.zero_string)
            el.set("oneStringValue", t.one_string)
        unit = getattr(t, "unit", None)
        if not isinstance(t, AbsoluteTimeType | RelativeTimeType):
            us = self.sub(el, "UnitSet")
            if unit is not None:
                self.sub(us, "Unit", text=unit)
        if isinstance(t, AbsoluteTimeType | RelativeTimeType):
            if t.encoding is not None or t.scale != 1.0 or t.offset != 0.0:
                enc = self.sub(el, "Encoding")
                if t.scale != 1.0:
                    enc.set("scale", _fmt(t.scale))
                if t.offset != 0.0:
                    enc.set("offset", _fmt(t.offset))
                if t.encoding is not None:
                    self.encoding(enc, t.encoding, None)
            if isinstance(t, AbsoluteTimeType) and (t.epoch or t.offset_from):
                rt = self.sub(el, "ReferenceTime")
                if t.offset_from is not None:
                    self.ref_attrs(self.sub(rt, "OffsetFrom"), t.offset_from)
                elif t.epoch is not None:
                    self.sub(rt, "Epoch", text=t.epoch.epoch)
            return
        cal = getattr(t, "calibrator", None)
        if t.encoding is not None:
            self.encoding(el, t.encoding, cal)
        if isinstance(t, EnumeratedType):
            lst = self.sub(el, "EnumerationList")
            for v in t.values:
                e = self.sub(lst, "Enumeration", {"value": str(v.value), "label": v.label})
                if v.max_value is not None:
                    e.set("maxValue", str(v.max_value))
                if v.description is not None:
                    e.set("shortDescription", v.description)
            if t.alarm is not None:
                self.enum_alarm(el, t.alarm)
        elif isinstance(t, StringType) and t.size_range is not None:
            self.range(self.sub(el, "SizeRangeInCharacters"), t.size_range)
        elif isinstance(t, IntegerType | FloatType):
            if t.valid_range is not None:
                holder = self.sub(el, "ValidRangeSet") if argument else el
                self.range(self.sub(holder, "ValidRange"), t.valid_range)
            if t.alarm is not None and not argument:
                self.numeric_alarm(el, t.alarm)

    def dimensions(self, parent: _Element, dims: tuple[Dimension, ...]) -> None:
        dl = self.sub(parent, "DimensionList")
        for d in dims:
            de = self.sub(dl, "Dimension")
            if d.size is None and d.dynamic_size is None:
                continue  # size given where the array is placed (XTCE 1.1 numberOfDimensions)
            self.sub(self.sub(de, "StartingIndex"), "FixedValue", text="0")
            end = self.sub(de, "EndingIndex")
            if d.dynamic_size is not None:
                dv = d.dynamic_size
                self.dynamic(end, DynamicValue(dv.ref, dv.slope, dv.intercept - 1))
            else:
                self.sub(end, "FixedValue", text=str(cast(int, d.size) - 1))

    def range(self, el: _Element, r: Range) -> None:
        if r.min is not None:
            el.set("minInclusive" if r.min_inclusive else "minExclusive", _fmt(r.min))
        if r.max is not None:
            el.set("maxInclusive" if r.max_inclusive else "maxExclusive", _fmt(r.max))

    def alarm_ranges(self, parent: _Element, ar: AlarmRanges) -> None:
        s = self.sub(parent, "StaticAlarmRanges")
        for level, r in ar.items():
            self.range(self.sub(s, level.name.capitalize() + "Range"), r)

    def numeric_alarm(self, parent: _Element, a: NumericAlarm) -> None:
        if a.static is not None:
            d = self.sub(parent, "DefaultAlarm", {"minViolations": str(a.min_violations)})
            self.alarm_ranges(d, a.static)
        if a.contexts:
            lst = self.sub(parent, "ContextAlarmList")
            for cond, ranges in a.contexts:
                ca = self.sub(lst, "ContextAlarm", {"minViolations": str(a.min_violations)})
                self.alarm_ranges(ca, ranges)
                self.condition(self.sub(ca, "ContextMatch"), cond)

    def enum_alarm(self, parent: _Element, a: EnumerationAlarm) -> None:
        d = self.sub(parent, "DefaultAlarm", {"minViolations": str(a.min_violations)})
        if a.default != AlarmLevel.NORMAL:
            d.set("defaultAlarmLevel", a.default.name.lower())
        self.enum_levels(d, a.levels)
        if a.contexts:
            lst = self.sub(parent, "ContextAlarmList")
            for cond, levels in a.contexts:
                ca = self.sub(lst, "ContextAlarm")
                self.enum_levels(ca, levels)
                self.condition(self.sub(ca, "ContextMatch"), cond)

    def enum_levels(self, parent: _Element, levels: tuple[tuple[str, AlarmLevel], ...]) -> None:
        lst = self.sub(parent, "EnumerationAlarmList")
        for label, level in levels:
            self.sub(
                lst,
                "EnumerationAlarm",
                {"alarmLevel": level.name.lower(), "enumerationLabel": label},
            )

    def encoding(self, parent: _Element, enc: DataEncoding, cal: Calibrator | None) -> None:
        if isinstance(enc, IntegerEncoding | FloatEncoding):
            if isinstance(enc, IntegerEncoding):
                el = self.sub(
                    parent,
                    "IntegerDataEncoding",
                    {"sizeInBits": str(enc.size_bits), "encoding": enc.encoding},
                )
            else:
                name = "IEEE754_1985" if enc.encoding == "IEEE754" else enc.encoding
                el = self.sub(
                    parent,
                    "FloatDataEncoding",
                    {"sizeInBits": str(enc.size_bits), "encoding": name},
                )
            if enc.byte_order is not None:
                n = len(enc.byte_order)
                if enc.byte_order == tuple(range(n)):
                    el.set("byteOrder", "leastSignificantByteFirst")
                else:
                    bl = self.sub(el, "ByteOrderList")
                    for b in enc.byte_order:
                        self.sub(bl, "Byte", {"byteSignificance": str(b)})
            if cal is not None:
                self.calibrators(el, cal)
            return
        if isinstance(enc, StringEncoding):
            el = self.sub(parent, "StringDataEncoding", {"encoding": enc.charset})
            if enc.fixed_size_bits is not None:
                holder = self.sub(el, "SizeInBits")
                fixed = self.sub(holder, "Fixed")
                self.sub(fixed, "FixedValue", text=str(enc.fixed_size_bits))
            else:
                holder = self.sub(el, "Variable")
                if enc.max_size_bits is not None:
                    holder.set("maxSizeInBits", str(enc.max_size_bits))
                if enc.dynamic_size is not None:
                    self.dynamic(holder, enc.dynamic_size)
                else:
                    dv = self.sub(holder, "DynamicValue")
                    self.sub(dv, "ParameterInstanceRef", {"parameterRef": _YAMCS_IGNORE})
            if enc.terminator is not None:
                self.sub(holder, "TerminationChar", text=enc.terminator.hex().upper())
            if enc.leading_size_bits is not None:
                self.sub(holder, "LeadingSize", {"sizeInBitsOfSizeTag": str(enc.leading_size_bits)})
            return
        el = self.sub(parent, "BinaryDataEncoding")
        size = self.sub(el, "SizeInBits")
        if enc.dynamic_size is not None:
            self.dynamic(size, enc.dynamic_size)
        elif enc.fixed_size_bits is not None:
            self.sub(size, "FixedValue", text=str(enc.fixed_size_bits))

    def calibrators(self, enc_el: _Element, cal: Calibrator) -> None:
        if isinstance(cal, ContextCalibrator):
            if cal.default is not None:
                self.calibrator(self.sub(enc_el, "DefaultCalibrator"), cal.default)
            lst = self.sub(enc_el, "ContextCalibratorList")
            for cond, c in cal.contexts:
                cc = self.sub(lst, "ContextCalibrator")
                self.condition(self.sub(cc, "ContextMatch"), cond)
                self.calibrator(self.sub(cc, "Calibrator"), c)
        else:
            self.calibrator(self.sub(enc_el, "DefaultCalibrator"), cal)

    def calibrator(self, holder: _Element, cal: Calibrator) -> None:
        if isinstance(cal, PolynomialCalibrator):
            pc = self.sub(holder, "PolynomialCalibrator")
            for i, coef in enumerate(cal.coefficients):
                self.sub(pc, "Term", {"coefficient": repr(float(coef)), "exponent": str(i)})
        elif isinstance(cal, SplineCalibrator):
            sc = self.sub(
                holder,
                "SplineCalibrator",
                {"order": str(cal.order), "extrapolate": "true" if cal.extrapolate else "false"},
            )
            for raw, eng in cal.points:
                self.sub(
                    sc, "SplinePoint", {"raw": repr(float(raw)), "calibrated": repr(float(eng))}
                )
        else:  # a nested context calibrator cannot be written in XTCE; keep its default
            if cal.default is not None:
                self.calibrator(holder, cal.default)

    # -- references and conditions -------------------------------------------------------------

    def ref_text(self, ref: ParameterRef) -> str:
        name = self.rel("parameter", ref.parameter)
        if ref.member:
            text = "/".join((name, *ref.member))
            # a member path must not read as another parameter's path
            return (
                text
                if self._find("parameter", text) is None
                else "/".join((ref.parameter, *ref.member))
            )
        return name

    def ref_attrs(self, el: _Element, ref: ParameterRef) -> None:
        el.set("parameterRef", self.ref_text(ref))
        if not ref.calibrated:
            el.set("useCalibratedValue", "false")
        if ref.instance:
            el.set("instance", str(ref.instance))

    def instance_ref(self, parent: _Element, ref: ParameterRef) -> None:
        if ref.argument:
            self.sub(parent, "ArgumentInstanceRef", {"argumentRef": ref.parameter})
        else:
            self.ref_attrs(self.sub(parent, "ParameterInstanceRef"), ref)

    def dynamic(self, parent: _Element, dv: DynamicValue) -> None:
        el = self.sub(parent, "DynamicValue")
        self.instance_ref(el, dv.ref)
        if dv.slope != 1.0 or dv.intercept != 0.0:
            self.sub(
                el, "LinearAdjustment", {"slope": _fmt(dv.slope), "intercept": _fmt(dv.intercept)}
            )

    def int_value(self, parent: _Element, v: int | DynamicValue) -> None:
        if isinstance(v, DynamicValue):
            self.dynamic(parent, v)
        else:
            self.sub(parent, "FixedValue", text=str(v))

    def condition(self, holder: _Element, cond: Condition) -> None:
        """Write ``cond`` as the MatchCriteria content of ``holder``."""
        cond = _push_not(cond)
        if isinstance(cond, Comparison) and not cond.ref.argument:
            self.comparison(holder, cond)
        elif isinstance(cond, AllOf) and all(
            isinstance(c, Comparison) and not c.ref.argument for c in cond.conditions
        ):
            lst = self.sub(holder, "ComparisonList")
            for c in cond.conditions:
                self.comparison(lst, cast(Comparison, c))
        else:
            self.bool_expr(self.sub(holder, "BooleanExpression"), cond)

    def comparison(self, parent: _Element, c: Comparison) -> None:
        el = self.sub(parent, "Comparison")
        self.ref_attrs(el, c.ref)
        el.set("value", c.value)
        el.set("comparisonOperator", c.operator)

    def bool_expr(self, parent: _Element, cond: Condition) -> None:
        if isinstance(cond, AllOf | AnyOf):
            el = self.sub(
                parent, "ANDedConditions" if isinstance(cond, AllOf) else "ORedConditions"
            )
            for c in cond.conditions:
                self.bool_expr(el, c)
        elif isinstance(cond, Comparison):
            el = self.sub(parent, "Condition")
            self.instance_ref(el, cond.ref)
            self.sub(el, "ComparisonOperator", text=cond.operator)
            self.sub(el, "Value", text=cond.value)

    # -- containers and commands ---------------------------------------------------------------

    def entries(self, parent: _Element, entries: tuple[Entry, ...]) -> None:
        el = self.sub(parent, "EntryList")
        for e in entries:
            if isinstance(e, ParameterEntry):
                tag = "ArrayParameterRefEntry" if e.dimensions else "ParameterRefEntry"
                x = self.sub(el, tag, {"parameterRef": self.rel("parameter", e.parameter)})
            elif isinstance(e, ContainerEntry):
                x = self.sub(
                    el, "ContainerRefEntry", {"containerRef": self.rel("container", e.container)}
                )
            elif isinstance(e, ArgumentEntry):
                x = self.sub(el, "ArgumentRefEntry", {"argumentRef": e.argument})
            else:
                x = self.sub(el, "FixedValueEntry", {"sizeInBits": str(e.size_bits)})
                if e.name is not None:
                    x.set("name", e.name)
                if e.value is not None:
                    x.set("binaryValue", e.value.hex().upper())
            if e.location is not None:
                loc = self.sub(
                    x, "LocationInContainerInBits", {"referenceLocation": e.location.reference}
                )
                self.sub(loc, "FixedValue", text=str(e.location.offset_bits))
            if e.repeat is not None:
                rep = self.sub(x, "RepeatEntry")
                self.int_value(self.sub(rep, "Count"), e.repeat.count)
                if e.repeat.offset_bits:
                    self.int_value(self.sub(rep, "Offset"), e.repeat.offset_bits)
            if e.include_if is not None:
                self.condition(self.sub(x, "IncludeCondition"), e.include_if)
            if isinstance(e, ParameterEntry) and e.dimensions:
                self.dimensions(x, e.dimensions)

    def base(self, parent: _Element, base: str, restriction: Condition | None) -> None:
        b = self.sub(parent, "BaseContainer", {"containerRef": self.rel("container", base)})
        if restriction is not None:
            self.condition(self.sub(b, "RestrictionCriteria"), restriction)

    def container(self, parent: _Element, c: SequenceContainer) -> None:
        el = self.sub(parent, "SequenceContainer", {"name": c.name})
        if c.abstract:
            el.set("abstract", "true")
        self.describe(el, c)
        if c.size_bits is not None:
            be = self.sub(el, "BinaryEncoding")
            self.sub(self.sub(be, "SizeInBits"), "FixedValue", text=str(c.size_bits))
        self.entries(el, c.entries)
        if c.base is not None:
            self.base(el, c.base, c.restriction)

    def command(self, parent: _Element, m: MetaCommand) -> None:
        el = self.sub(parent, "MetaCommand", {"name": m.name})
        if m.abstract:
            el.set("abstract", "true")
        self.describe(el, m)
        if m.base is not None:
            b = self.sub(el, "BaseMetaCommand", {"metaCommandRef": self.rel("command", m.base)})
            if m.argument_assignments:
                lst = self.sub(b, "ArgumentAssignmentList")
                for n, v in m.argument_assignments:
                    self.sub(lst, "ArgumentAssignment", {"argumentName": n, "argumentValue": v})
        if m.arguments:
            lst = self.sub(el, "ArgumentList")
            for a in m.arguments:
                ae = self.sub(lst, "Argument", {"name": a.name})
                if a.type is not None:
                    ae.set("argumentTypeRef", self.rel("argtype", a.type))
                if a.initial_value is not None:
                    ae.set("initialValue", a.initial_value)
                if a.description is not None:
                    ae.set("shortDescription", a.description)
        if m.container_name is not None or m.entries or m.container_base is not None:
            cname = m.container_name or m.qualified_name + "_Container"
            cc = self.sub(el, "CommandContainer", {"name": cname.rsplit("/", 1)[-1]})
            self.entries(cc, m.entries)
            if m.container_base is not None:
                self.base(cc, m.container_base, m.container_restriction)
        if m.significance != Significance.NONE or m.significance_reason is not None:
            ds = self.sub(
                el, "DefaultSignificance", {"consequenceLevel": m.significance.name.lower()}
            )
            if m.significance_reason is not None:
                ds.set("reasonForWarning", m.significance_reason)
        if m.verifiers:
            vs = self.sub(el, "VerifierSet")
            for ver in sorted(m.verifiers, key=_verifier_rank):
                ve = self.sub(vs, _STAGE_TAGS.get(ver.stage, "CompleteVerifier"))
                if ver.condition is not None:  # a container as well goes in falak:* items
                    self.condition(ve, ver.condition)
                elif ver.container is not None:
                    self.sub(
                        ve, "ContainerRef", {"containerRef": self.rel("container", ver.container)}
                    )
                window = {
                    "timeToStartChecking": _seconds(ver.window_start_s),
                    "timeToStopChecking": _seconds(ver.window_stop_s),
                }
                self.sub(ve, "CheckWindow", window)


def _verifier_rank(v: Verifier) -> int:
    order = list(_VERIFIER_STAGES.values())
    return order.index(v.stage) if v.stage in order else len(order)


_NEGATE: dict[str, Operator] = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def _push_not(cond: Condition) -> Condition:
    """Remove ``Not`` (XTCE has no negation) by De Morgan's laws and inverted operators."""
    if isinstance(cond, Not):
        inner = cond.condition
        if isinstance(inner, Not):
            return _push_not(inner.condition)
        if isinstance(inner, Comparison):
            return Comparison(inner.ref, _NEGATE[inner.operator], inner.value)
        if isinstance(inner, AllOf):
            return AnyOf(tuple(_push_not(Not(c)) for c in inner.conditions))
        return AllOf(tuple(_push_not(Not(c)) for c in inner.conditions))
    if isinstance(cond, AllOf):
        return AllOf(tuple(_push_not(c) for c in cond.conditions))
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(_push_not(c) for c in cond.conditions))
    return cond


def dump_xtce(mdb: MissionDatabase, *, qualified: bool = False) -> bytes:
    """Write ``mdb`` as XTCE 1.2 XML (UTF-8, with declaration).

    References are written as bare names where XTCE's search (current space system, then
    its ancestors) finds the same item, which keeps flat files readable by other tools;
    ``qualified=True`` writes every reference as an absolute path instead.
    """
    from lxml import etree

    w = _Writer(mdb, qualified=qualified)
    root = w.space_system(None, mdb.root)
    return cast(
        bytes, etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )


def write_xtce(mdb: MissionDatabase, path: str | Path, *, qualified: bool = False) -> None:
    """Write ``mdb`` to ``path`` as XTCE 1.2 (see :func:`dump_xtce`)."""
    Path(path).write_bytes(dump_xtce(mdb, qualified=qualified))
