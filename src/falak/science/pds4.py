"""PDS4 products: a data file and the XML label that describes it (PDS4 Information Model 1.16).

Every science product falak writes is a PDS4 ``Product_Observational``: the data file beside
an XML label (``STEM.xml``) in the PDS common namespace ``http://pds.nasa.gov/pds4/pds/v1``,
Information Model 1.16.0.0 (schema ``PDS4_PDS_1G00``; PDS4 Standards Reference and Data
Dictionary, version 1.16.0.0). The label gives the product's logical identifier
(``urn:...``), title, start and stop time, mission, host and instrument, target, and for its
file the exact layout: record counts, byte offsets, each field's name, data type, unit and
description. ``pds4_tools.read(label)`` (the PDS Small Bodies Node's reader) reads both kinds
back to the values written; the tests in ``tests/science/test_pds4.py`` check it.

Two kinds of product:

- :func:`write_table`: a CSV table (one header line of field names, then one record per row,
  CRLF line ends) labelled as ``Table_Delimited`` (``PDS DSV 1``, comma-delimited) after a
  ``Header``. Floats are written with the shortest text that reads back to the same double,
  so the table round-trips exactly; ``datetime64`` columns are written as
  ``ASCII_Date_Time_YMD_UTC`` (``2023-09-08T08:00:00.000000000Z``).
- :func:`write_array`: a binary array (``Array_1D``/``Array_2D``/``Array_3D``), little-endian,
  last index fastest (C order), with its element type, unit and named axes.

This module is numeric-free of falak's archive: it writes arrays it is given, so any layer
above it (a CLI that reads the archive) can label its products.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError

__all__ = [
    "INFORMATION_MODEL_VERSION",
    "PDS_NAMESPACE",
    "Column",
    "Observation",
    "write_array",
    "write_table",
]

#: PDS4 Information Model version the labels declare (schema file ``PDS4_PDS_1G00.xsd``).
INFORMATION_MODEL_VERSION = "1.16.0.0"
PDS_NAMESPACE = "http://pds.nasa.gov/pds4/pds/v1"
_SCHEMA = "https://pds.nasa.gov/pds4/pds/v1/PDS4_PDS_1G00"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_LID = re.compile(r"urn:[a-z0-9][a-z0-9_.:-]*[a-z0-9]")

#: Target types of the PDS4 ``Target_Identification/type`` value list, for falak's targets.
TARGET_TYPES = {"Moon": "Satellite", "Earth": "Planet", "Sun": "Sun"}


@dataclass(frozen=True)
class Column:
    """One table column: its values (1-D), unit (``None`` for none) and description."""

    values: ArrayLike
    unit: str | None
    description: str


@dataclass(frozen=True)
class Observation:
    """What a product observed: its time span, mission, host, instrument and target.

    ``start``/``stop`` are timezone-aware UTC datetimes (or int64 ns since 1970 UTC).
    ``mission`` names the investigation (e.g. ``"Falak ROVER"``), ``host`` the spacecraft
    carrying the instrument (e.g. ``"ROVER"``), ``target`` the body observed (``"Moon"``).
    """

    start: _dt.datetime | int
    stop: _dt.datetime | int
    mission: str
    instrument: str
    target: str
    host: str | None = None


ColumnSpec = Column | tuple[ArrayLike, str | None, str]


def _iso(t: _dt.datetime | int | np.datetime64) -> str:
    if isinstance(t, np.datetime64):
        t = int(t.astype("datetime64[ns]").astype(np.int64))
    if isinstance(t, int):
        sec, ns = divmod(t, 1_000_000_000)
        day = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=sec)
        return day.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"
    if t.tzinfo is None or t.utcoffset() is None:
        raise InputError(
            f"time {t.isoformat()} has no time zone; give a UTC time "
            "(datetime(..., tzinfo=timezone.utc))"
        )
    return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_lid(lid: str) -> str:
    if not _LID.fullmatch(lid):
        raise InputError(
            f"logical identifier {lid!r} is not a PDS4 URN; give lower-case "
            "'urn:AGENCY:BUNDLE:COLLECTION:PRODUCT' (letters, digits, '_', '.', '-'), "
            "e.g. 'urn:falak:rover:radiation:dose_rate_20230908'"
        )
    return lid


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> Any:
    el = etree.SubElement(parent, f"{{{PDS_NAMESPACE}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _label_root(title: str, lid: str, obs: Observation, description: str) -> Any:
    root = etree.Element(
        f"{{{PDS_NAMESPACE}}}Product_Observational",
        nsmap={None: PDS_NAMESPACE, "xsi": _XSI},
    )
    root.set(f"{{{_XSI}}}schemaLocation", f"{PDS_NAMESPACE} {_SCHEMA}.xsd")
    ident = _sub(root, "Identification_Area")
    _sub(ident, "logical_identifier", _check_lid(lid))
    _sub(ident, "version_id", "1.0")
    _sub(ident, "title", title)
    _sub(ident, "information_model_version", INFORMATION_MODEL_VERSION)
    _sub(ident, "product_class", "Product_Observational")
    hist = _sub(_sub(ident, "Modification_History"), "Modification_Detail")
    _sub(hist, "modification_date", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"))
    _sub(hist, "version_id", "1.0")
    _sub(hist, "description", "Written by falak.science.pds4. " + description)

    area = _sub(root, "Observation_Area")
    times = _sub(area, "Time_Coordinates")
    _sub(times, "start_date_time", _iso(obs.start))
    _sub(times, "stop_date_time", _iso(obs.stop))
    inv = _sub(area, "Investigation_Area")
    _sub(inv, "name", obs.mission)
    _sub(inv, "type", "Mission")
    ref = _sub(inv, "Internal_Reference")
    _sub(ref, "lid_reference", f"urn:falak:investigation:mission.{_token(obs.mission)}")
    _sub(ref, "reference_type", "data_to_investigation")
    system = _sub(area, "Observing_System")
    for name, kind in ((obs.host, "Host"), (obs.instrument, "Instrument")):
        if name:
            comp = _sub(system, "Observing_System_Component")
            _sub(comp, "name", name)
            _sub(comp, "type", kind)
    target = _sub(area, "Target_Identification")
    _sub(target, "name", obs.target)
    _sub(target, "type", TARGET_TYPES.get(obs.target, "Satellite"))
    return root


def _token(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"


def _write_label(root: Any, label_path: Path) -> None:
    pi = etree.ProcessingInstruction(
        "xml-model",
        f'href="{_SCHEMA}.sch" schematypens="http://purl.oclc.org/dsdl/schematron"',
    )
    root.addprevious(pi)
    tree = etree.ElementTree(root)
    tree.write(str(label_path), xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _file_element(fao: Any, data_path: Path, records: int | None, data: bytes) -> None:
    f = _sub(fao, "File")
    _sub(f, "file_name", data_path.name)
    _sub(f, "creation_date_time", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if records is not None:
        _sub(f, "records", str(records))
    _sub(f, "file_size", str(len(data)), unit="byte")
    _sub(f, "md5_checksum", hashlib.md5(data).hexdigest())


def _column_text(name: str, values: NDArray[Any]) -> tuple[str, list[str]]:
    """PDS4 data type and the text of each value of one column."""
    kind = values.dtype.kind
    if kind == "M":
        ns = values.astype("datetime64[ns]").astype(np.int64)
        if (values != values).any():  # NaT
            raise InputError(f"column {name!r} has NaT times; drop those rows first")
        return "ASCII_Date_Time_YMD_UTC", [_iso(int(t)) for t in ns]
    if kind == "b":
        return "ASCII_Boolean", ["true" if v else "false" for v in values]
    if kind in "iu":
        return "ASCII_Integer", [str(int(v)) for v in values]
    if kind == "f":
        out = []
        for v in values.astype(np.float64):
            if math.isnan(v):
                out.append("NaN")
            elif math.isinf(v):
                out.append("Inf" if v > 0 else "-Inf")
            else:
                out.append(repr(float(v)))
        return "ASCII_Real", out
    if kind in "US":
        texts = [str(v) for v in values]
        bad = [t for t in texts if any(c in t for c in ',"\r\n')]
        if bad:
            raise InputError(
                f"column {name!r} has text with a comma, quote or line break ({bad[0]!r}); "
                "a PDS DSV 1 field must not contain one here: replace it"
            )
        return "UTF8_String", texts
    raise InputError(
        f"column {name!r} has dtype {values.dtype}; give integers, floats, booleans, "
        "datetime64 or strings"
    )


def write_table(
    path_stem: str | Path,
    columns: Mapping[str, ColumnSpec],
    *,
    title: str,
    lid: str,
    start: _dt.datetime | int,
    stop: _dt.datetime | int,
    mission: str,
    instrument: str,
    target: str,
    host: str | None = None,
    description: str = "",
) -> tuple[Path, Path]:
    """Write a CSV table and its PDS4 label; return ``(csv_path, label_path)``.

    Parameters
    ----------
    path_stem
        Path without suffix: the files are ``STEM.csv`` and ``STEM.xml`` (folders created).
    columns
        Field name → :class:`Column` or ``(values, unit, description)``; values are 1-D and
        all of one length, of dtype int, uint, float, bool, ``datetime64`` (UTC) or str. The
        unit is PDS4 text (``"uGy/h"``, ``"s"``, ``"deg"``) or ``None`` for a unitless field.
        Field names become the CSV header and the label's ``Field_Delimited/name``.
    title, lid
        The label's title and logical identifier, a lower-case URN such as
        ``urn:falak:rover:radiation:dose_rate``.
    start, stop
        The product's time span (timezone-aware UTC ``datetime`` or int64 ns since 1970).
    mission, instrument, target, host
        The investigation, instrument, target body (``"Moon"``, ``"Earth"``) and the host
        spacecraft (e.g. ``"ROVER"``) in ``Observation_Area``.
    description
        Free text added to the label's modification detail.

    Raises
    ------
    InputError
        Columns of unequal length or of an unsupported dtype, no columns, a bad LID or a
        naive datetime.
    """
    if not columns:
        raise InputError("write_table needs at least one column")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    data_path, label_path = stem.with_suffix(".csv"), stem.with_suffix(".xml")
    specs = {k: v if isinstance(v, Column) else Column(*v) for k, v in columns.items()}
    arrays = {k: np.asarray(c.values) for k, c in specs.items()}
    lengths = {k: a.shape for k, a in arrays.items()}
    if any(len(s) != 1 for s in lengths.values()) or len({s[0] for s in lengths.values()}) != 1:
        raise InputError(f"table columns must be 1-D and of one length; got shapes {lengths}")
    n = next(iter(lengths.values()))[0]
    for name in arrays:
        if not name or any(c in name for c in ',"\r\n'):
            raise InputError(f'field name {name!r} must be non-empty without , " or line breaks')

    typed = {k: _column_text(k, a) for k, a in arrays.items()}
    header = ",".join(arrays) + "\r\n"
    rows = zip(*(texts for _, texts in typed.values()), strict=True) if n else iter(())
    body = "".join(",".join(r) + "\r\n" for r in rows)
    data = (header + body).encode("utf-8")
    data_path.write_bytes(data)

    obs = Observation(start, stop, mission, instrument, target, host)
    root = _label_root(title, lid, obs, description)
    fao = _sub(root, "File_Area_Observational")
    _file_element(fao, data_path, n + 1, data)
    head = _sub(fao, "Header")
    _sub(head, "name", "field names")
    _sub(head, "offset", "0", unit="byte")
    _sub(head, "object_length", str(len(header.encode("utf-8"))), unit="byte")
    _sub(head, "parsing_standard_id", "UTF-8 Text")
    table = _sub(fao, "Table_Delimited")
    _sub(table, "name", _token(title))
    _sub(table, "offset", str(len(header.encode("utf-8"))), unit="byte")
    _sub(table, "parsing_standard_id", "PDS DSV 1")
    _sub(table, "records", str(n))
    _sub(table, "record_delimiter", "Carriage-Return Line-Feed")
    _sub(table, "field_delimiter", "Comma")
    rec = _sub(table, "Record_Delimited")
    _sub(rec, "fields", str(len(arrays)))
    _sub(rec, "groups", "0")
    for i, (name, (dtype, texts)) in enumerate(typed.items(), start=1):
        field = _sub(rec, "Field_Delimited")
        _sub(field, "name", name)
        _sub(field, "field_number", str(i))
        _sub(field, "data_type", dtype)
        _sub(
            field, "maximum_field_length", str(max((len(t) for t in texts), default=1)), unit="byte"
        )
        if specs[name].unit:
            _sub(field, "unit", specs[name].unit)
        _sub(field, "description", specs[name].description)
    _write_label(root, label_path)
    return data_path, label_path


_ARRAY_TYPES = {
    "f8": "IEEE754LSBDouble",
    "f4": "IEEE754LSBSingle",
    "i1": "SignedByte",
    "u1": "UnsignedByte",
    "i2": "SignedLSB2",
    "u2": "UnsignedLSB2",
    "i4": "SignedLSB4",
    "u4": "UnsignedLSB4",
    "i8": "SignedLSB8",
    "u8": "UnsignedLSB8",
}


def write_array(
    path_stem: str | Path,
    array: ArrayLike,
    *,
    unit: str | None,
    axes: Sequence[str],
    title: str,
    lid: str,
    start: _dt.datetime | int,
    stop: _dt.datetime | int,
    mission: str,
    instrument: str,
    target: str,
    host: str | None = None,
    description: str = "",
) -> tuple[Path, Path]:
    """Write a binary array (``STEM.dat``) and its PDS4 label (``STEM.xml``); return both paths.

    The array (1-D to 3-D, numeric) is written little-endian in C order and labelled
    ``Array_ND`` with ``axis_index_order`` "Last Index Fastest"; ``axes`` names each axis in
    order (e.g. ``("latitude", "longitude")``), ``unit`` is the element unit. Other
    parameters as :func:`write_table`.

    Raises
    ------
    InputError
        An array of more than 3 or no dimensions, an unsupported dtype, or axes that do not
        match its dimensions.
    """
    a = np.asarray(array)
    if a.ndim not in (1, 2, 3):
        raise InputError(f"write_array takes a 1-D to 3-D array; got {a.ndim}-D {a.shape}")
    if len(axes) != a.ndim:
        raise InputError(f"axes {tuple(axes)} must name each of the {a.ndim} axes of {a.shape}")
    key = f"{a.dtype.kind}{a.dtype.itemsize}"
    if key not in _ARRAY_TYPES:
        raise InputError(
            f"array dtype {a.dtype} has no PDS4 element type here; "
            "give float32/64 or (u)int8/16/32/64"
        )
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    data_path, label_path = stem.with_suffix(".dat"), stem.with_suffix(".xml")
    data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
    data_path.write_bytes(data)

    obs = Observation(start, stop, mission, instrument, target, host)
    root = _label_root(title, lid, obs, description)
    fao = _sub(root, "File_Area_Observational")
    _file_element(fao, data_path, None, data)
    arr = _sub(fao, f"Array_{a.ndim}D")
    _sub(arr, "name", _token(title))
    _sub(arr, "offset", "0", unit="byte")
    _sub(arr, "axes", str(a.ndim))
    _sub(arr, "axis_index_order", "Last Index Fastest")
    elem = _sub(arr, "Element_Array")
    _sub(elem, "data_type", _ARRAY_TYPES[key])
    if unit:
        _sub(elem, "unit", unit)
    for i, (name, size) in enumerate(zip(axes, a.shape, strict=True), start=1):
        ax = _sub(arr, "Axis_Array")
        _sub(ax, "axis_name", name)
        _sub(ax, "elements", str(size))
        _sub(ax, "sequence_number", str(i))
    _write_label(root, label_path)
    return data_path, label_path
