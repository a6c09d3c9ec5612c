"""``/parameters/{name}/plot``: a parameter's history decimated to min/max per pixel column.

A plot ``width`` pixels wide cannot show more than one value range per pixel column, so the
server cuts ``[start, stop)`` into ``width`` equal columns and sends, for each column that
holds samples, its centre time, the smallest and largest finite value and how many samples
fell in it (the min/max decimation Open MCT asks of its telemetry sources). Drawn as a band
from min to max, the decimated series looks exactly like the full one at that width, spikes
included, and costs ``O(width)`` bytes whatever the archive holds.

Values are the engineering values when they are numbers, else the raw values (an enumeration
plots its raw code); a parameter with neither numeric (text, bytes) is refused with 400.
Non-finite values (NaN, ±inf) are not counted.

Zooming asks for ranges inside the one shown, again and again: the server keeps the last few
series it read (:class:`SeriesCache`, per spacecraft and parameter, up to
:data:`CACHE_SAMPLES` samples in all) with the archive's version of that parameter
(:meth:`~falak.archive.Archive.parameter_version`), and answers a range inside a cached one
from memory while the version holds. When the version says samples were only appended (a
live parameter: new segments, nothing merged or deleted; SQL archives), only the new
segments are read and merged in; a merge, delete or replay reads the range again. A read is
kept only if the version was the same before and after it (a write between the two would
leave the cache unsure of what it holds); on an SQL archive the version, the read and the check
run under the parameter store's lock, so the live writer (10 Hz and more) cannot slip a write
between them and force a full re-read.

The cached series is sorted and finite, so a request decimates it with two passes (min and
max, :func:`numpy.minimum.reduceat` over the range) and ``width + 1`` binary searches: the
route's worker thread releases and re-takes the GIL a handful of times per request, which
matters when the event loop beside it carries a WebSocket stream of thousands of updates per
second (each hand-back waits up to the interpreter's switch interval). The answer is encoded by
orjson straight from the arrays, and says what the server spent in a ``Server-Timing`` header
(``read``: series from the cache or the archive, ``decimate``, ``encode``, ``cpu``: the
worker thread's CPU time; ms).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from falak.archive import Archive, ParameterSeries
from falak.archive.sql import SqlArchive
from falak.errors import InputError
from falak.server.routes.deps import CurrentUser, SpacecraftDep
from falak.server.routes.telemetry import Start, Stop, time_range
from falak.server.schemas import iso

__all__ = [
    "CACHE_SAMPLES",
    "Decimated",
    "PlotOut",
    "SeriesCache",
    "column_edges",
    "decimate",
    "decimate_sorted",
    "router",
]

router = APIRouter(tags=["telemetry"])

MAX_WIDTH = 10_000
"""The widest plot served, in columns (a 4K screen is 3840 pixels wide)."""


CACHE_SAMPLES = 20_000_000
"""Samples the plot cache holds at most, all series together (~320 MB of times and values)."""


@dataclass(frozen=True)
class _Series:
    lo_ns: int | None  # the range read (None: open)
    hi_ns: int | None
    version: object
    kind: str
    time_ns: npt.NDArray[np.int64]  # sorted
    values: npt.NDArray[np.float64]  # finite


class SeriesCache:
    """The last series read for plots, least recently used first out (see the module doc)."""

    def __init__(self, max_samples: int = CACHE_SAMPLES) -> None:
        self.max_samples = max_samples
        self._items: OrderedDict[tuple[object, str], _Series] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(
        self, key: tuple[object, str], lo: int | None, hi: int | None, version: object
    ) -> _Series | None:
        """The cached series covering ``[lo, hi)`` at ``version``, or None."""
        with self._lock:
            s = self._items.get(key)
            covers = (
                s is not None
                and s.version == version
                and (s.lo_ns is None or (lo is not None and lo >= s.lo_ns))
                and (s.hi_ns is None or (hi is not None and hi <= s.hi_ns))
            )
            if not covers or s is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return s

    def peek(self, key: tuple[object, str]) -> _Series | None:
        """The cached series of ``key`` whatever its version (None: none)."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple[object, str], series: _Series) -> None:
        """Keep ``series`` (unless it alone is larger than the cache)."""
        if series.time_ns.size > self.max_samples:
            return
        with self._lock:
            self._items[key] = series
            self._items.move_to_end(key)
            while sum(v.time_ns.size for v in self._items.values()) > self.max_samples:
                self._items.popitem(last=False)


_CACHE = SeriesCache()


@dataclass(frozen=True)
class Decimated:
    """Min/max per column: only the columns that hold at least one finite value."""

    time_ns: npt.NDArray[np.int64]
    """Each column's centre time, ns since 1970 (UTC)."""
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]
    """Finite samples in the column."""


def decimate(
    time_ns: npt.ArrayLike, values: npt.ArrayLike, start_ns: int, stop_ns: int, width: int
) -> Decimated:
    """Cut ``[start_ns, stop_ns)`` into ``width`` equal columns; min, max and count of each.

    Parameters
    ----------
    time_ns
        Sample times, int64 ns since 1970 (any order).
    values
        The samples, numeric (converted to float64; non-finite ones are dropped).
    start_ns, stop_ns
        The plotted range (``stop_ns > start_ns``); samples outside it are ignored.
    width
        Columns (pixels), at least 1. Column ``k`` covers ``[e(k), e(k+1))`` with
        ``e(k) = start + floor(k*(stop-start)/width)`` (exact integer arithmetic).
    """
    if width < 1:
        raise InputError(f"width must be at least 1 column, got {width}")
    if stop_ns <= start_ns:
        raise InputError(f"stop ({stop_ns} ns) must be after start ({start_ns} ns)")
    t = np.asarray(time_ns, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v) & (t >= start_ns) & (t < stop_ns)
    t, v = t[keep], v[keep]
    if t.size > 1 and np.any(t[1:] < t[:-1]):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return decimate_sorted(t, v, start_ns, stop_ns, width)


def column_edges(start_ns: int, stop_ns: int, width: int) -> npt.NDArray[np.int64]:
    """``start + k*span//width`` for k = 0..width, exact: with ``span = q*width + r``,
    ``k*span//width = k*q + (k*r)//width`` and ``k*r < width**2`` fits in int64 (``k*span``
    itself would not, for months of ns times thousands of columns)."""
    span = stop_ns - start_ns
    q, r = divmod(span, width)
    k = np.arange(width + 1, dtype=np.int64)
    return np.int64(start_ns) + k * np.int64(q) + (k * np.int64(r)) // np.int64(width)


def decimate_sorted(
    t: npt.NDArray[np.int64], v: npt.NDArray[np.float64], start_ns: int, stop_ns: int, width: int
) -> Decimated:
    """:func:`decimate` of samples already sorted by time and finite (the cached series):
    binary searches for the column edges and one min and one max pass over the range."""
    if width < 1:
        raise InputError(f"width must be at least 1 column, got {width}")
    if stop_ns <= start_ns:
        raise InputError(f"stop ({stop_ns} ns) must be after start ({start_ns} ns)")
    edges = column_edges(start_ns, stop_ns, width)
    first = np.searchsorted(t, edges, side="left")
    count = np.diff(first)
    full = np.flatnonzero(count)
    if not full.size:
        z = np.zeros(0)
        return Decimated(np.zeros(0, dtype=np.int64), z, z, np.zeros(0, dtype=np.int64))
    # reduceat over the samples inside [start, stop) only, from the first non-empty column
    base = int(first[full[0]])
    inside = v[base : int(first[-1])]
    starts = first[full] - base
    lo = np.minimum.reduceat(inside, starts)
    hi = np.maximum.reduceat(inside, starts)
    centre = edges[full] + (edges[full + 1] - edges[full]) // 2
    return Decimated(centre, lo, hi, count[full].astype(np.int64))


class PlotOut(BaseModel):
    """A parameter's decimated history: one entry per column that holds samples."""

    parameter: str
    start: str | None
    stop: str | None
    start_ns: int
    stop_ns: int
    width: int
    value: str = Field(description="'eng' or 'raw': which value was decimated")
    samples: int = Field(description="Finite samples in [start, stop)")
    time_ns: list[int] = Field(description="Each column's centre time")
    min: list[float]
    max: list[float]
    count: list[int]


def _numeric(a: npt.NDArray[np.generic]) -> bool:
    return a.dtype.kind in "iufb"


@router.get("/parameters/{name:path}/plot", response_model=PlotOut)
def plot(
    name: str,
    rt: SpacecraftDep,
    user: CurrentUser,
    start: Start = None,
    stop: Stop = None,
    width: Annotated[
        int, Query(ge=1, le=MAX_WIDTH, description="Columns (the plot's width in pixels)")
    ] = 1000,
) -> Response:
    """Min, max and count per pixel column of one parameter's archived values in
    ``[start, stop)`` (default: from its first to just after its last sample)."""
    w0, c0 = time.perf_counter(), time.thread_time()
    q = rt.mdb.parameter(name).qualified_name
    t0, t1 = time_range(start, stop)
    series = _series(rt, q, t0, t1)
    w1 = time.perf_counter()
    kind = series.kind
    times, values = series.time_ns, series.values
    if t0 is None:
        t0 = int(times[0]) if times.size else 0
    if t1 is None:
        t1 = int(times[-1]) + 1 if times.size else t0 + 1
    if t1 <= t0:
        t1 = t0 + 1
    d = decimate_sorted(times, values, t0, t1, width)
    w2 = time.perf_counter()
    # the fields of PlotOut (the documented schema), encoded from the arrays by orjson
    body: dict[str, Any] = {
        "parameter": q,
        "start": iso(t0),
        "stop": iso(t1),
        "start_ns": t0,
        "stop_ns": t1,
        "width": width,
        "value": kind,
        "samples": int(d.count.sum()),
        "time_ns": d.time_ns,
        "min": d.min,
        "max": d.max,
        "count": d.count,
    }
    content = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    w3, c3 = time.perf_counter(), time.thread_time()
    timing = (
        f"read;dur={1e3 * (w1 - w0):.2f}, decimate;dur={1e3 * (w2 - w1):.2f}, "
        f"encode;dur={1e3 * (w3 - w2):.2f}, cpu;dur={1e3 * (c3 - c0):.2f}"
    )
    return Response(content, media_type="application/json", headers={"Server-Timing": timing})


def _series(rt: SpacecraftDep, q: str, t0: int | None, t1: int | None) -> _Series:
    """``q``'s numeric values in ``[t0, t1)``, sorted and finite: from the cache or read."""
    archive = rt.archive
    # SQL: no write between the version, the read and the check (the writer takes this lock)
    lock = archive.params.lock if isinstance(archive, SqlArchive) else contextlib.nullcontext()
    with lock:
        version = archive.parameter_version(q)
        key = (id(archive), q)
        hit = None if version is None else _CACHE.get(key, t0, t1, version)
        if hit is None and version is not None:
            hit = _appended(archive, q, key, t0, t1, version)
        if hit is None:
            lo, hi = _widened(t0, t1, version)
            kind, t, v = _numeric_series(q, archive.read_parameter(q, lo, hi))
            hit = _Series(lo, hi, version, kind, t, v)
            if version is not None and archive.parameter_version(q) == version:
                _CACHE.put(key, hit)
    a = 0 if t0 is None else int(np.searchsorted(hit.time_ns, t0, side="left"))
    b = hit.time_ns.size if t1 is None else int(np.searchsorted(hit.time_ns, t1, side="left"))
    return _Series(t0, t1, version, hit.kind, hit.time_ns[a:b], hit.values[a:b])


def _widened(t0: int | None, t1: int | None, version: object) -> tuple[int | None, int | None]:
    """The range to read for ``[t0, t1)``: its span more on each side (the next zooms out and
    pans stay inside it), open on a side where that passes the parameter's first or last
    sample (``version``'s least ``t_start`` and greatest ``t_stop``, SQL archives)."""
    if t0 is None or t1 is None:
        return t0, t1
    span = max(1, t1 - t0)
    lo: int | None = t0 - span
    hi: int | None = t1 + span
    if isinstance(version, tuple) and len(version) == 4:
        last, first = version[2], version[3]
        if isinstance(first, int) and lo is not None and lo <= first:
            lo = None
        if isinstance(last, int) and hi is not None and hi > last:
            hi = None
    return lo, hi


def _numeric_series(
    q: str, s: ParameterSeries
) -> tuple[str, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The plotted kind (eng, else raw) and the finite samples sorted by time."""
    eng, raw = np.asarray(s.eng), np.asarray(s.raw)
    if _numeric(eng):
        kind, values = "eng", eng
    elif _numeric(raw):
        kind, values = "raw", raw
    else:
        raise InputError(f"{q} is not numeric ({eng.dtype} values): it cannot be plotted")
    t = np.asarray(s.time_ns, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v)
    t, v = t[keep], v[keep]
    if t.size > 1 and np.any(t[1:] < t[:-1]):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return kind, t, v


def _appended(
    archive: Archive,
    q: str,
    key: tuple[object, str],
    t0: int | None,
    t1: int | None,
    version: object,
) -> _Series | None:
    """The cached series with the segments appended since it was read merged in, if only
    appends happened (see the module doc); None otherwise."""
    old = _CACHE.peek(key)
    if (
        not isinstance(archive, SqlArchive)
        or old is None
        or not (isinstance(old.version, tuple) and isinstance(version, tuple))
        or len(old.version) != 4
        or len(version) != 4
        or not (old.lo_ns is None or (t0 is not None and t0 >= old.lo_ns))
        or not (old.hi_ns is None or (t1 is not None and t1 <= old.hi_ns))
    ):
        return None
    rows_then, top_then = old.version[0], old.version[1]
    if top_then is None or version[0] <= rows_then:
        return None  # merged or deleted: read again
    if archive.new_segment_rows(q, int(top_then)) != version[0] - rows_then:
        return None  # not appends only
    s = archive.read_parameter(q, old.lo_ns, old.hi_ns, after_segment_id=int(top_then))
    if archive.parameter_version(q) != version:
        return None  # written meanwhile: read again
    kind, t, v = _numeric_series(q, s)
    if kind != old.kind:
        return None
    times = np.concatenate([old.time_ns, t])
    values = np.concatenate([old.values, v])
    if t.size and old.time_ns.size and t[0] < old.time_ns[-1]:
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
    merged = _Series(old.lo_ns, old.hi_ns, version, kind, times, values)
    _CACHE.put(key, merged)
    return merged
