"""The rover against its plan: along-track progress and cross-track error of its pose estimates.

The ground knows where the rover is from its odometry telemetry (the ROVER MDB's
``ROV_EST_X_M``, ``ROV_EST_Y_M``, ``ROV_EST_HEADING_DEG``: wheel odometry and IMU heading,
projected metres and map azimuths). :func:`track` projects each estimate onto the planned
route (a polyline through its cells' centres, :class:`~falak.planning.traverse.commands.
PlannedTraverse`): the nearest point of the route gives the **along-track** progress (m from
the start along the route) and the signed **cross-track** error (m, positive to the left of
the direction of travel); the schedule gives where the rover was planned to be at that time
(``planned_along_m``), so ``behind_m`` says how far it lags (negative: ahead). With headings,
``heading_error_deg`` is the estimate minus the route's direction there, wrapped to ±180°.

Samples come as arrays (from the server's API or anywhere) or from an archive export CSV
(:func:`read_odometry_csv`, the table ``falak archive export`` writes: a ``time`` column in
ISO 8601 UTC, then one column per parameter by short name). Rows without a position are
skipped and counted, never an error (a stream is not stopped by one bad row).

Limit: where the route passes close to itself (an out-and-back to a waypoint), the nearest
pass is taken, which may be the other one.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError
from falak.planning.traverse.commands import PlannedTraverse
from falak.utctime import parse_ns

__all__ = [
    "ODOMETRY_COLUMNS",
    "Odometry",
    "Track",
    "parse_odometry_csv",
    "read_odometry_csv",
    "track",
]

#: The ROVER MDB's pose estimate, as archive export names its columns: x, y, heading.
ODOMETRY_COLUMNS = ("ROV_EST_X_M", "ROV_EST_Y_M", "ROV_EST_HEADING_DEG")

_CHUNK = 1024  # samples projected at once (memory: chunk x route vertices)


@dataclass(frozen=True)
class Odometry:
    """Pose estimates: times (ns UTC), projected x/y (m), heading (° map azimuth, or None)."""

    time_ns: NDArray[np.int64]
    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    heading_deg: NDArray[np.float64] | None
    skipped: int = 0
    """Rows without a time or a position."""


@dataclass(frozen=True)
class Track:
    """Pose estimates against the plan (see the module doc); arrays per sample."""

    time_ns: NDArray[np.int64]
    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    along_m: NDArray[np.float64]
    cross_m: NDArray[np.float64]
    planned_along_m: NDArray[np.float64]
    heading_error_deg: NDArray[np.float64] | None
    route_length_m: float

    @property
    def behind_m(self) -> NDArray[np.float64]:
        """How far each sample lags the schedule along the route, m (negative: ahead)."""
        return self.planned_along_m - self.along_m

    def summary(self) -> dict[str, float]:
        """The latest sample and the cross-track statistics, for reports (m, °)."""
        if self.time_ns.size == 0:
            raise InputError("no odometry samples to report on")
        out = {
            "along_m": float(self.along_m[-1]),
            "route_length_m": self.route_length_m,
            "planned_along_m": float(self.planned_along_m[-1]),
            "behind_m": float(self.behind_m[-1]),
            "cross_m": float(self.cross_m[-1]),
            "max_abs_cross_m": float(np.max(np.abs(self.cross_m))),
            "rms_cross_m": float(np.sqrt(np.mean(self.cross_m**2))),
            "x_m": float(self.x_m[-1]),
            "y_m": float(self.y_m[-1]),
        }
        if self.heading_error_deg is not None:
            out["heading_error_deg"] = float(self.heading_error_deg[-1])
        return out


def track(
    plan: PlannedTraverse,
    time_ns: ArrayLike,
    x_m: ArrayLike,
    y_m: ArrayLike,
    heading_deg: ArrayLike | None = None,
) -> Track:
    """Project pose estimates onto the planned route (see the module doc).

    Parameters
    ----------
    plan
        The planned traverse (:meth:`PlannedTraverse.from_geojson`).
    time_ns, x_m, y_m
        (n,) sample times (ns since 1970, UTC) and estimated positions (projected m).
    heading_deg
        (n,) estimated headings (° clockwise from grid north), optional.
    """
    t = np.asarray(time_ns, dtype=np.int64).reshape(-1)
    x = np.asarray(x_m, dtype=np.float64).reshape(-1)
    y = np.asarray(y_m, dtype=np.float64).reshape(-1)
    if not (t.shape == x.shape == y.shape):
        raise InputError(
            f"time_ns, x_m and y_m must have one length, got {t.size}, {x.size}, {y.size}"
        )
    px, py = plan.x_m, plan.y_m
    if px.size < 2:  # a route of one cell: everything is at its start
        px, py = np.append(px, px), np.append(py, py)
    ax, ay = px[:-1], py[:-1]
    dx, dy = np.diff(px), np.diff(py)
    len2 = dx * dx + dy * dy
    seg_len = np.sqrt(len2)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    along = np.empty(t.size)
    cross = np.empty(t.size)
    seg = np.empty(t.size, dtype=np.intp)
    safe = np.where(len2 > 0, len2, 1.0)
    for lo in range(0, t.size, _CHUNK):
        qx, qy = x[lo : lo + _CHUNK, None] - ax, y[lo : lo + _CHUNK, None] - ay
        u = np.clip((qx * dx + qy * dy) / safe, 0.0, 1.0)
        u = np.where(len2 > 0, u, 0.0)
        ex, ey = qx - u * dx, qy - u * dy
        d2 = ex * ex + ey * ey
        d2 = np.where(len2 > 0, d2, np.inf) if np.any(len2 > 0) else d2
        k = np.argmin(d2, axis=1)
        rows = np.arange(k.size)
        along[lo : lo + _CHUNK] = cum[k] + u[rows, k] * seg_len[k]
        side = np.sign(dx[k] * qy[rows, k] - dy[k] * qx[rows, k])
        cross[lo : lo + _CHUNK] = np.where(side == 0, 1.0, side) * np.sqrt(d2[rows, k])
        seg[lo : lo + _CHUNK] = k
    heading_error = None
    if heading_deg is not None:
        h = np.asarray(heading_deg, dtype=np.float64).reshape(-1)
        if h.shape != t.shape:
            raise InputError(f"heading_deg must have {t.size} samples, got {h.size}")
        route_h = np.degrees(np.arctan2(dx[seg], dy[seg]))
        heading_error = (h - route_h + 180.0) % 360.0 - 180.0
    return Track(
        time_ns=t,
        x_m=x,
        y_m=y,
        along_m=along,
        cross_m=cross,
        planned_along_m=plan.planned_along_m(t),
        heading_error_deg=heading_error,
        route_length_m=float(cum[-1]),
    )


def read_odometry_csv(
    path: str | Path, columns: tuple[str, str, str] = ODOMETRY_COLUMNS
) -> Odometry:
    """Read pose estimates from an archive export CSV file (see :func:`parse_odometry_csv`).

    Raises
    ------
    InputError
        The file cannot be read, or :func:`parse_odometry_csv` refuses it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read odometry {path}: {exc.strerror}") from None
    return parse_odometry_csv(text, columns, source=str(path))


def parse_odometry_csv(
    text: str, columns: tuple[str, str, str] = ODOMETRY_COLUMNS, *, source: str = "odometry.csv"
) -> Odometry:
    """Parse pose estimates from archive export CSV text (``time`` + the ``columns``).

    The text of ``falak archive export``, or of the server's export
    (``falak.client.Client.export_csv(ODOMETRY_COLUMNS, start, stop)``). ``columns`` are the
    x, y and heading columns; the heading column may be absent (then ``heading_deg`` is
    None). Rows with no time, x or y (a parameter not sampled at that row's time) are skipped
    and counted in ``skipped``.

    Raises
    ------
    InputError
        No ``time`` or no x/y column (the message lists the columns there are and how to
        export the right ones).
    """
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0] if rows else []
    xc, yc, hc = columns
    missing = [c for c in ("time", xc, yc) if c not in header]
    if missing:
        name = Path(source).name
        raise InputError(
            f"{source}: no column {', '.join(missing)} (it has: {', '.join(header) or 'none'}); "
            f"export them with: falak archive export --archive DIR --parameters {xc},{yc},{hc} "
            f"--out {name}"
        )
    it, ix, iy = header.index("time"), header.index(xc), header.index(yc)
    ih = header.index(hc) if hc in header else None
    t: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    hs: list[float] = []
    skipped = 0
    for row in rows[1:]:
        try:
            when = parse_ns(row[it], "time")
            xv, yv = float(row[ix]), float(row[iy])
            hv = float(row[ih]) if ih is not None and row[ih] != "" else math.nan
        except (IndexError, ValueError, InputError):
            skipped += 1
            continue
        if not (math.isfinite(xv) and math.isfinite(yv)):
            skipped += 1
            continue
        t.append(when)
        xs.append(xv)
        ys.append(yv)
        hs.append(hv)
    order = np.argsort(np.asarray(t, dtype=np.int64), kind="stable")
    heading = np.asarray(hs)[order] if ih is not None else None
    return Odometry(
        time_ns=np.asarray(t, dtype=np.int64)[order],
        x_m=np.asarray(xs)[order],
        y_m=np.asarray(ys)[order],
        heading_deg=heading,
        skipped=skipped,
    )
