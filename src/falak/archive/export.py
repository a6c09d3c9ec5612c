"""Export archived parameters aligned by time, as a :class:`falak.tm.tabular.Table`.

One row per distinct sample time across the chosen parameters; the first column is ``time``
(``datetime64[ns]`` UTC, which the tabular writers print as ISO 8601 with ``Z``), then one
column per parameter, named by its short name unless two chosen parameters share it (then the
qualified name). A parameter with no sample at a row's time is masked (empty in CSV, null in
Parquet); when a parameter has several samples at one time the last one (in time order) wins.
Write the table with :func:`falak.tm.tabular.write_table` (CSV or Parquet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError
from falak.tm.tabular import Table

__all__ = ["ParameterReader", "Series", "align", "export_parameters"]


class Series(Protocol):
    """What :func:`align` reads of a series (:class:`falak.archive.ParameterSeries` has it).

    A protocol, so that this module needs nothing from :mod:`falak.archive.base`, which
    imports it for :meth:`~falak.archive.base.Archive.export` (no import cycle).
    """

    name: str
    time_ns: NDArray[np.int64]
    raw: NDArray[Any]
    eng: NDArray[Any]


class ParameterReader(Protocol):
    """What :func:`export_parameters` needs of an archive (any :class:`falak.archive.Archive`)."""

    def read_parameter(
        self, name: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> Series:
        """Return one parameter's samples in ``[start_ns, stop_ns)``."""
        ...


def export_parameters(
    archive: ParameterReader,
    names: Sequence[str],
    start_ns: int | None = None,
    stop_ns: int | None = None,
    *,
    raw: bool = False,
) -> Table:
    """Read ``names`` from ``archive`` over ``[start_ns, stop_ns)`` and align them by time."""
    if not names:
        raise InputError("export needs at least one parameter name")
    series = [archive.read_parameter(n, start_ns, stop_ns) for n in names]
    return align(series, raw=raw)


def align(series: Sequence[Series], *, raw: bool = False) -> Table:
    """Align parameter series on the union of their times (see the module docstring)."""
    keys = [s.name for s in series]
    short = [k.rsplit("/", 1)[-1] for k in keys]
    col_names = [s if short.count(s) == 1 else k for s, k in zip(short, keys, strict=True)]
    times = [s.time_ns for s in series]
    union = np.zeros(0, dtype=np.int64)
    merged: list[NDArray[np.int64]] = []
    for t in times:
        if any(t is m or np.array_equal(t, m) for m in merged):
            continue  # parameters of one group share their times: merge them once
        merged.append(t)
        union = _union_sorted(union, t)
    n = int(union.size)
    values: list[NDArray[Any]] = [union.astype("datetime64[ns]")]
    present: list[NDArray[np.bool_]] = [np.ones(n, dtype=bool)]
    positions: list[tuple[NDArray[np.int64], NDArray[np.intp]]] = []
    for s, t in zip(series, times, strict=True):
        v = s.raw if raw else s.eng
        if t.size == n and np.array_equal(t, union):
            values.append(v)
            present.append(np.ones(n, dtype=bool))
            continue
        idx = next((i for m, i in positions if t is m or np.array_equal(t, m)), None)
        if idx is None:
            idx = np.searchsorted(union, t)
            positions.append((t, idx))
        if v.dtype.kind == "O":
            col: NDArray[Any] = np.full((n, *v.shape[1:]), None, dtype=object)
        else:
            col = np.zeros((n, *v.shape[1:]), dtype=v.dtype)
        col[idx] = v  # later samples at the same time overwrite earlier ones
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        values.append(col)
        present.append(mask)
    return Table(["time", *col_names], values, present)


def _union_sorted(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """Distinct values of two sorted arrays, sorted (timsort merges the two runs in O(n))."""
    c = np.concatenate([a, b])
    c.sort(kind="stable")
    if c.size == 0:
        return c
    keep = np.empty(c.size, dtype=bool)
    keep[0] = True
    np.not_equal(c[1:], c[:-1], out=keep[1:])
    return c[keep]
