"""Decoded telemetry as a table: one row per packet, one column per parameter; CSV and Parquet.

Formatting rules (shared by ``falak tm decode`` and archive export):

* floats are written with the shortest text that reads back to the same double, so a float32
  value read back as float32 or float64 is bit-identical to the decoded one;
* enumerations as labels (engineering) or integer codes (raw); booleans as ``True``/``False``;
* binary values as hexadecimal text; absolute times as ISO 8601 UTC with ``Z``;
* array parameters (and arrays of aggregates) as JSON lists;
* a parameter absent from a packet (include condition false, other container) is empty.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.tm.decoder import ContainerResult


@dataclass
class Table:
    """Columns of equal length; ``values[i]`` is an array (numeric) or object array."""

    names: list[str]
    values: list[NDArray[Any]]
    present: list[NDArray[np.bool_]]

    def __len__(self) -> int:
        return int(self.values[0].shape[0]) if self.values else 0


def results_table(
    results: Sequence[ContainerResult], *, raw: bool = False, index_name: str = "packet"
) -> Table:
    """Join container results into one table ordered by packet position.

    The first column is ``index_name`` (the packet's position in the input); then one column
    per parameter in the order they were first decoded. Column names are the parameters'
    short names (qualified where two parameters share a short name).
    """
    order: list[str] = []
    names: dict[str, str] = {}
    for res in results:
        for key, col in res.columns.items():
            if key not in names:
                order.append(key)
                names[key] = col.name
    short_count: dict[str, int] = {}
    for n in names.values():
        short_count[n] = short_count.get(n, 0) + 1
    idx = (
        np.concatenate([r.packet_index for r in results])
        if results
        else np.zeros(0, dtype=np.int64)
    )
    sort = np.argsort(idx, kind="stable")
    total = int(idx.size)
    out_names = [index_name]
    out_values: list[NDArray[Any]] = [idx[sort]]
    out_present: list[NDArray[np.bool_]] = [np.ones(total, dtype=bool)]
    for key in order:
        parts: list[NDArray[Any]] = []
        pres: list[NDArray[np.bool_]] = []
        template = next(
            (r.columns[key].raw if raw else r.columns[key].eng) for r in results if key in r.columns
        )
        for res in results:
            found = res.columns.get(key)
            size = len(res)
            if found is None:  # not in this container: typed filler, masked as absent
                filler = (
                    np.full(size, None, dtype=object)
                    if template.dtype == object
                    else np.zeros((size, *template.shape[1:]), dtype=template.dtype)
                )
                parts.append(filler)
                pres.append(np.zeros(size, dtype=bool))
                continue
            parts.append(found.raw if raw else found.eng)
            pres.append(found.present if found.present is not None else np.ones(size, dtype=bool))
        values = concat_values(parts)[sort]
        out_names.append(names[key] if short_count[names[key]] == 1 else key)
        out_values.append(values)
        out_present.append(np.concatenate(pres)[sort] if pres else np.zeros(0, dtype=bool))
    return Table(out_names, out_values, out_present)


def concat_values(parts: list[NDArray[Any]]) -> NDArray[Any]:
    """Concatenate arrays; an object array when dtypes or trailing shapes differ."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.zeros(0)
    first = parts[0]
    if all(p.dtype == first.dtype and p.shape[1:] == first.shape[1:] for p in parts):
        return np.concatenate(parts)
    out = np.empty(sum(p.shape[0] for p in parts), dtype=object)
    at = 0
    for p in parts:
        for i in range(p.shape[0]):
            out[at + i] = p[i]
        at += p.shape[0]
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()] if v.dtype == object else v.tolist()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, np.generic):
        return v.item()
    return v


def format_column(values: NDArray[Any], present: NDArray[np.bool_]) -> list[str]:
    """Text form of a column for CSV, by the rules in the module docstring."""
    n = values.shape[0]
    if values.dtype.kind == "M":
        text = np.datetime_as_string(values.astype("datetime64[ns]"), unit="us")
        out = [t + "Z" if t != "NaT" else "" for t in text.tolist()]
    elif values.ndim > 1:
        out = [json.dumps(row) for row in values.tolist()]
    elif values.dtype.kind == "f":
        # numpy's float64 -> str is the shortest text that reads back to the same double,
        # as Python's repr (checked on 100,000 random values)
        out = values.astype(np.float64).astype(str).tolist()
    elif values.dtype.kind == "b":
        out = np.where(values, "True", "False").tolist()
    elif values.dtype.kind in "iu":
        out = values.astype(str).tolist()
    else:
        out = []
        for v in values.tolist():
            if v is None:
                out.append("")
            elif isinstance(v, bytes):
                out.append(v.hex())
            elif isinstance(v, np.ndarray | list | tuple | dict):
                out.append(json.dumps(_jsonable(v)))
            elif isinstance(v, float | np.floating):  # float32 as its exact double
                out.append(repr(float(v)))
            else:
                out.append(str(v))
    if not present.all():
        for i in np.flatnonzero(~present):
            out[i] = ""
    assert len(out) == n
    return out


def write_csv(table: Table, path: str | Path) -> None:
    """Write a table as CSV (header row, then one row per packet)."""
    cols = [format_column(v, p) for v, p in zip(table.values, table.present, strict=True)]
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(table.names)
        w.writerows(zip(*cols, strict=True))


def write_parquet(table: Table, path: str | Path) -> None:
    """Write a table as Parquet; arrays become list columns, absent values nulls."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for values, present in zip(table.values, table.present, strict=True):
        mask = ~present if not present.all() else None
        if values.dtype.kind in "iufbM" and values.ndim == 1:
            arrays.append(pa.array(values, mask=mask))
        elif values.ndim > 1:
            arrays.append(pa.array(values.tolist(), mask=mask))
        else:
            items: Iterable[Any] = (
                None if (mask is not None and mask[i]) else _jsonable(v)
                for i, v in enumerate(values.tolist())
            )
            arrays.append(pa.array(list(items)))
    # opened here: pyarrow cannot encode a file name that is not UTF-8 (a lone surrogate)
    with open(path, "wb") as fh:
        pq.write_table(pa.Table.from_arrays(arrays, names=table.names), fh)


def write_table(table: Table, path: str | Path) -> None:
    """Write CSV or Parquet by the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        write_csv(table, path)
    elif suffix == ".parquet":
        write_parquet(table, path)
    else:
        from falak.errors import InputError

        raise InputError(f"cannot write {path}: the output must end in .csv or .parquet")
