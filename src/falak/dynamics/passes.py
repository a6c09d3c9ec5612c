"""Satellite passes over ground stations: rise, culmination, set and look angles.

Method (all satellites × stations × times as arrays, no Python loop over minutes):

1. **Coarse grid.** SGP4 (:func:`falak.dynamics.tle.propagate_teme`) on a uniform time grid with
   a step of 1/20 of the shortest orbital period (277 s for the space station, as skyfield;
   clipped to 10-600 s), TEME → ITRS by GMST 1982, then elevation, azimuth and the analytic
   elevation rate for every satellite × station × time, in chunks that bound memory.
2. **Brackets.** A pass is where the elevation is at or above the usable limit (the station's
   ``min_elevation_deg`` or its azimuth mask). Sign changes of (elevation − limit) between grid
   points bracket rises and sets. Passes too short to catch a grid point are found from the
   elevation maxima: a sign change of the elevation rate from + to − brackets every maximum;
   maxima whose tangent-line bound can reach the limit are refined, and become passes if they do.
3. **Refinement**, vectorised over all brackets: safeguarded Newton on (elevation − limit) with
   the analytic rate, started at the root of the cubic Hermite interpolant of the grid values
   and rates, for rises and sets (to 0.1 ms; about 3 evaluations each); Illinois regula falsi
   on the elevation rate for culminations (to 1 ms), within a step of the highest grid point.

Passes already in progress at the window start get ``rise`` = window start and
``rise_clipped=True``; those still in progress at the window end get ``set`` = window stop and
``set_clipped=True``; their culmination is the highest point inside the window (which may be an
edge). When a pass has two elevation maxima (long passes of high orbits, e.g. Molniya), the
one next to the highest grid point is reported. With an azimuth mask, a pass shorter than one
grid step is found only if the elevation maximum itself clears the mask. Epochs where SGP4
fails (decay) count as below the horizon.

Time scale: UTC in and out; Earth rotation uses UT1 = UTC + ``ut1_minus_utc_s`` (default 0,
which moves LEO events by ≲ 0.1 s). Elevation is geometric (no refraction) above the WGS84
ellipsoid normal, like skyfield's ``altaz()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.stations import Station
from falak.dynamics.tle import Tle, jd_split, propagate_teme, teme_to_itrs
from falak.errors import InputError

__all__ = ["Pass", "find_passes", "look_angles"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_DAY_S = 86400.0
_RAD = 180.0 / math.pi
_ROOT_TOL_S = 1e-4
_MAX_GRID_ELEMENTS = 2_000_000  # satellites × stations × grid times per chunk (~200 MB peak)


@dataclass(frozen=True)
class Pass:
    """One pass of a satellite over a station; times are timezone-aware UTC datetimes.

    ``rise_clipped``: the pass was already in progress at the window start, so ``rise`` is the
    window start. ``set_clipped``: still in progress at the window end, ``set`` is the window
    stop. Azimuths are degrees from north through east.
    """

    satellite: str
    norad: int
    station: str
    rise: datetime
    culminate: datetime
    set: datetime
    max_elevation_deg: float
    rise_azimuth_deg: float
    set_azimuth_deg: float
    rise_clipped: bool = False
    set_clipped: bool = False

    @property
    def duration_s(self) -> float:
        """Time from rise to set, seconds."""
        return (self.set - self.rise).total_seconds()


def _utc(t: datetime, what: str) -> datetime:
    if not isinstance(t, datetime):
        raise InputError(f"{what} must be a datetime, found {type(t).__name__}")
    if t.tzinfo is None:
        raise InputError(f"{what} {t.isoformat()} has no timezone; give an aware UTC datetime")
    return t.astimezone(UTC)


def _to_datetime64(t: datetime) -> np.datetime64:
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "ns")


class _Geometry:
    """Satellite ITRS positions and topocentric angles for a fixed set of satellites/stations."""

    def __init__(
        self,
        tles: Sequence[Tle],
        stations: Sequence[Station],
        t0: datetime,
        ut1_minus_utc_s: float,
    ) -> None:
        self.tles = list(tles)
        self.stations = list(stations)
        jd, fr = jd_split(np.array([_to_datetime64(t0)]))
        self.jd0 = float(jd[0])
        self.fr0 = float(fr[0])
        self.dut1_days = ut1_minus_utc_s / _DAY_S
        self.r_st = np.array([s.itrs_km for s in self.stations]).reshape(-1, 3)
        self.enu = np.array([s.enu_matrix for s in self.stations]).reshape(-1, 3, 3)
        self.min_el = np.array([s.min_elevation_deg for s in self.stations], dtype=np.float64)
        self.masked = [j for j, s in enumerate(self.stations) if s.mask]

    # -- thresholds --------------------------------------------------------------------------
    def threshold(self, ni: I64, az_deg: F64) -> F64:
        """Usable elevation limit (deg) for station indices ``ni`` at azimuths ``az_deg``."""
        out = np.broadcast_to(self.min_el[ni], az_deg.shape).copy()
        for j in self.masked:
            m = np.broadcast_to(ni == j, az_deg.shape)
            if m.any():
                out[m] = self.stations[j].min_elevation_at(az_deg[m])
        return out

    # -- grid evaluation ---------------------------------------------------------------------
    def grid(self, sats: Sequence[int], stas: Sequence[int], t_s: F64) -> tuple[F64, F64, F64]:
        """Return elevation (deg), azimuth (deg), elevation rate (deg/s), shape (S, N, T)."""
        jd = np.full(t_s.shape, self.jd0)
        fr = self.fr0 + t_s / _DAY_S
        pos, vel, _ = propagate_teme([self.tles[i] for i in sats], jd, fr)
        r, v = teme_to_itrs(pos, jd, fr + self.dut1_days, vel)
        assert v is not None
        enu = self.enu[list(stas)]  # (N, 3, 3)
        n_sta = len(stas)
        rows = enu.reshape(-1, 3).T  # (3, 3N): east, north, up of every station
        offset = np.einsum("nij,nj->ni", enu, self.r_st[list(stas)])  # (N, 3)
        shape = (r.shape[0], r.shape[1], n_sta, 3)
        loc = (r @ rows).reshape(shape).transpose(0, 2, 1, 3) - offset[None, :, None, :]
        loc_dot = (v @ rows).reshape(shape).transpose(0, 2, 1, 3)
        return _angles(loc, loc_dot, azimuth=any(j in self.masked for j in stas))

    def pairs(
        self, si: I64, ni: I64, t_s: F64, rates: bool = False, azimuth: bool = True
    ) -> tuple[F64, F64, F64]:
        """Return elevation, azimuth (deg) and elevation rate (deg/s, zeros unless ``rates``)
        for paired satellite/station/time arrays of shape (K,)."""
        k = len(t_s)
        pos = np.full((k, 3), np.nan)
        vel = np.full((k, 3), np.nan)
        jd = np.full(k, self.jd0)
        fr = self.fr0 + t_s / _DAY_S
        order = np.argsort(si, kind="stable")
        s_sorted = si[order]
        cuts = np.flatnonzero(np.diff(s_sorted)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [k]])
        for a, b in zip(starts, ends, strict=True):
            if a == b:  # no points at all
                continue
            idx = order[a:b]
            sat = self.tles[int(s_sorted[a])].satrec
            err, rr, vv = sat.sgp4_array(jd[idx], np.ascontiguousarray(fr[idx]))
            bad = err != 0
            rr[bad] = np.nan
            vv[bad] = np.nan
            pos[idx] = rr
            vel[idx] = vv
        r, v = teme_to_itrs(pos, jd, fr + self.dut1_days, vel if rates else None)
        enu = self.enu[ni]
        loc = np.matmul(enu, (r - self.r_st[ni])[:, :, None])[:, :, 0]
        loc_dot = None if v is None else np.matmul(enu, v[:, :, None])[:, :, 0]
        return _angles(loc, loc_dot, azimuth)


def _angles(loc: F64, loc_dot: F64 | None, azimuth: bool = True) -> tuple[F64, F64, F64]:
    """Elevation, azimuth (deg) and elevation rate (deg/s) from local ENU vectors (..., 3).

    Without ``azimuth`` the azimuth comes back as zeros (it costs an arctan2 per element).
    """
    e, n, u = loc[..., 0], loc[..., 1], loc[..., 2]
    rng = np.sqrt(e * e + n * n + u * u)
    sin_el = np.clip(u / rng, -1.0, 1.0)
    el = np.arcsin(sin_el) * _RAD
    az = np.mod(np.arctan2(e, n) * _RAD, 360.0) if azimuth else np.zeros_like(el)
    if loc_dot is None:
        return el, az, np.zeros_like(el)
    rng_dot = np.einsum("...j,...j->...", loc, loc_dot) / rng
    cos_el = np.sqrt(np.maximum(1.0 - sin_el * sin_el, 1e-30))
    el_dot = (loc_dot[..., 2] * rng - u * rng_dot) / (rng * rng * cos_el) * _RAD
    return el, az, el_dot


def _illinois(
    f: Callable[[I64, F64], F64], a: F64, b: F64, fa: F64, fb: F64, tol_s: float = _ROOT_TOL_S
) -> F64:
    """Vectorised Illinois regula falsi for f(i, t) = 0 with f(a) and f(b) of opposite sign."""
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    side = np.zeros(len(a), dtype=np.int8)
    x = 0.5 * (a + b)  # current estimate: the last point tried, or the bracket midpoint
    last = np.full(len(a), np.inf)
    active = np.flatnonzero(b - a > tol_s)
    for it in range(200):
        if active.size == 0:
            break
        aa, bb, faa, fbb = a[active], b[active], fa[active], fb[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (aa * fbb - bb * faa) / (fbb - faa)
        bad = ~np.isfinite(c) | (c <= aa) | (c >= bb)
        if it % 8 == 7:  # a bisection now and then bounds the worst case
            bad[:] = True
        c = np.where(bad, 0.5 * (aa + bb), c)
        fcc = f(active, c)
        same_a = np.sign(fcc) == np.sign(faa)
        s = side[active]
        # Replace the endpoint with the same sign; halve the stale one (Illinois rule).
        fbb = np.where(same_a & (s == -1), fbb * 0.5, fbb)
        faa = np.where(~same_a & (s == 1), faa * 0.5, faa)
        a[active] = np.where(same_a, c, aa)
        fa[active] = np.where(same_a, fcc, faa)
        b[active] = np.where(same_a, bb, c)
        fb[active] = np.where(same_a, fbb, fcc)
        side[active] = np.where(same_a, -1, 1)
        x[active] = c
        # Converged: bracket below tolerance, exact zero, or a step (between successive
        # tries) below a tenth of the tolerance, which superlinear convergence makes safe.
        done = (
            (b[active] - a[active] <= tol_s)
            | (fcc == 0.0)
            | (np.abs(c - last[active]) < 0.1 * tol_s)
        )
        last[active] = c
        narrow = b[active] - a[active] <= tol_s
        x[active[narrow]] = 0.5 * (a[active[narrow]] + b[active[narrow]])
        active = active[~done]
    return x


def _hermite_root(a: F64, b: F64, fa: F64, fb: F64, da: F64, db: F64, x0: F64) -> F64:
    """Root in [a, b] of the cubic Hermite interpolant of f (values and slopes at the ends).

    A few Newton steps on the cubic itself (no function evaluations), started at ``x0``.
    """
    h = b - a
    m0, m1 = da * h, db * h
    tau = np.clip((x0 - a) / h, 0.0, 1.0)
    for _ in range(6):
        t2, t3 = tau * tau, tau * tau * tau
        p = (
            (2 * t3 - 3 * t2 + 1) * fa
            + (t3 - 2 * t2 + tau) * m0
            + (-2 * t3 + 3 * t2) * fb
            + (t3 - t2) * m1
        )
        dp = (6 * t2 - 6 * tau) * fa + (3 * t2 - 4 * tau + 1) * m0
        dp += (-6 * t2 + 6 * tau) * fb + (3 * t2 - 2 * tau) * m1
        tau = np.clip(tau - p / dp, 0.0, 1.0)
    out: F64 = a + tau * h
    return out


def _newton_bracketed(
    f: Callable[[I64, F64], tuple[F64, F64]],
    a: F64,
    b: F64,
    fa: F64,
    fb: F64,
    tol_s: float = _ROOT_TOL_S,
    da: F64 | None = None,
    db: F64 | None = None,
) -> F64:
    """Vectorised safeguarded Newton for f(i, t) = 0 inside brackets [a, b] of sign change.

    ``f`` returns the value and its time derivative. The first try is the root of the cubic
    Hermite interpolant when the end derivatives ``da``, ``db`` are known, else the
    regula-falsi point; a Newton step leaving the bracket, or every sixth step, is replaced
    by bisection.
    """
    a, b, fa = a.copy(), b.copy(), fa.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (a * fb - b * fa) / (fb - fa)
        if da is not None and db is not None:
            x = _hermite_root(a, b, fa, fb, da, db, x)
    x = np.where(np.isfinite(x) & (x > a) & (x < b), x, 0.5 * (a + b))
    active = np.arange(len(a))
    for it in range(100):
        if active.size == 0:
            break
        xa = x[active]
        fx, dfx = f(active, xa)
        same_a = np.sign(fx) == np.sign(fa[active])
        a[active] = np.where(same_a, xa, a[active])
        fa[active] = np.where(same_a, fx, fa[active])
        b[active] = np.where(same_a, b[active], xa)
        aa, bb = a[active], b[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            nx = xa - fx / dfx
        bad = ~np.isfinite(nx) | (nx <= aa) | (nx >= bb) | (it % 6 == 5)
        nx = np.where(bad, 0.5 * (aa + bb), nx)
        x[active] = nx
        done = (np.abs(nx - xa) < tol_s) | (fx == 0.0) | (bb - aa < tol_s)
        x[active[fx == 0.0]] = xa[fx == 0.0]
        active = active[~done]
    return x


def _stations_list(stations: Station | Iterable[Station] | Mapping[str, Station]) -> list[Station]:
    if isinstance(stations, Station):
        return [stations]
    if isinstance(stations, Mapping):
        return list(stations.values())
    return list(stations)


def find_passes(
    tles: Tle | Sequence[Tle],
    stations: Station | Iterable[Station] | Mapping[str, Station],
    start: datetime,
    stop: datetime,
    min_elevation_deg: float | None = None,
    *,
    ut1_minus_utc_s: float = 0.0,
    step_s: float | None = None,
) -> list[Pass]:
    """Find every pass of every satellite over every station between ``start`` and ``stop``.

    Parameters
    ----------
    tles
        Element sets (see :mod:`falak.dynamics.tle`).
    stations
        Stations; a mapping (as from :func:`~falak.dynamics.stations.load_stations`) or list.
    start, stop
        Window, timezone-aware datetimes (converted to UTC).
    min_elevation_deg
        If given, replaces each station's ``min_elevation_deg``; masks still apply on top.
    ut1_minus_utc_s
        UT1 − UTC in seconds for Earth rotation (IERS Bulletin A); 0 is good to ≲ 0.1 s.
    step_s
        Coarse grid step, seconds; default 1/20 of the shortest orbital period.

    Returns
    -------
    Passes sorted by rise time, then satellite and station. See the module docstring for the
    method and for how passes cut by the window edges are reported.
    """
    t_start = _utc(start, "start")
    t_stop = _utc(stop, "stop")
    if t_stop <= t_start:
        raise InputError(f"stop {t_stop.isoformat()} must be after start {t_start.isoformat()}")
    tle_list = [tles] if isinstance(tles, Tle) else list(tles)
    sta_list = _stations_list(stations)
    if min_elevation_deg is not None:
        if not -90.0 < min_elevation_deg < 90.0:
            raise InputError(f"min_elevation_deg {min_elevation_deg:g} is outside -90..90°")
        sta_list = [replace(s, min_elevation_deg=float(min_elevation_deg)) for s in sta_list]
    if not tle_list or not sta_list:
        return []
    duration_s = (t_stop - t_start).total_seconds()
    if step_s is None:
        period_s = min(t.period_min for t in tle_list) * 60.0
        step_s = min(max(period_s / 20.0, 10.0), 600.0)
    n_grid = max(2, math.ceil(duration_s / step_s) + 1)
    t_grid = np.linspace(0.0, duration_s, n_grid)
    step = float(t_grid[1] - t_grid[0])

    geo = _Geometry(tle_list, sta_list, t_start, ut1_minus_utc_s)
    n_sta = len(sta_list)
    per_sat = n_sta * n_grid
    sats_per_chunk = max(1, _MAX_GRID_ELEMENTS // per_sat)
    stas_per_chunk = (
        n_sta if per_sat <= _MAX_GRID_ELEMENTS else max(1, _MAX_GRID_ELEMENTS // n_grid)
    )

    cols: dict[str, list[NDArray[np.generic]]] = {
        k: []
        for k in [
            "s",
            "n",
            "rlo",
            "rhi",
            "rclip",
            "slo",
            "shi",
            "sclip",
            "grlo",
            "grhi",
            "gslo",
            "gshi",
            "clo",
            "chi",
            "dclo",
            "dchi",
            "drlo",
            "drhi",
            "dslo",
            "dshi",
        ]
    }
    for s0 in range(0, len(tle_list), sats_per_chunk):
        sats = list(range(s0, min(s0 + sats_per_chunk, len(tle_list))))
        for n0 in range(0, n_sta, stas_per_chunk):
            stas = list(range(n0, min(n0 + stas_per_chunk, n_sta)))
            _brackets_for_chunk(geo, sats, stas, t_grid, step, duration_s, cols)

    if not cols["s"]:
        return []
    si = np.concatenate(cols["s"]).astype(np.int64)
    ni = np.concatenate(cols["n"]).astype(np.int64)
    rlo, rhi = np.concatenate(cols["rlo"]), np.concatenate(cols["rhi"])
    slo, shi = np.concatenate(cols["slo"]), np.concatenate(cols["shi"])
    rclip = np.concatenate(cols["rclip"]).astype(bool)
    sclip = np.concatenate(cols["sclip"]).astype(bool)
    grlo, grhi = np.concatenate(cols["grlo"]), np.concatenate(cols["grhi"])
    gslo, gshi = np.concatenate(cols["gslo"]), np.concatenate(cols["gshi"])
    if si.size == 0:
        return []

    # Rises and sets refined together: rises where g goes − → +, sets + → −; g = elevation −
    # limit, its rate taken as the elevation rate (exact without a mask).
    si2 = np.concatenate([si, si])
    ni2 = np.concatenate([ni, ni])
    lo = np.concatenate([rlo, slo])
    hi = np.concatenate([rhi, shi])
    g_lo = np.concatenate([grlo, gslo])
    g_hi = np.concatenate([grhi, gshi])
    clipped = np.concatenate([rclip, sclip])
    roots = lo.copy()
    w = np.flatnonzero(~clipped)
    if w.size:
        sw, nw = si2[w], ni2[w]

        def g_and_rate(i: I64, t: F64) -> tuple[F64, F64]:
            el, az, el_dot = geo.pairs(sw[i], nw[i], t, rates=True, azimuth=bool(geo.masked))
            return el - geo.threshold(nw[i], az), el_dot

        d_lo = np.concatenate([np.concatenate(cols[k]) for k in ("drlo", "dslo")])
        d_hi = np.concatenate([np.concatenate(cols[k]) for k in ("drhi", "dshi")])
        roots[w] = _newton_bracketed(
            g_and_rate, lo[w], hi[w], g_lo[w], g_hi[w], da=d_lo[w], db=d_hi[w]
        )
    k = len(si)
    rise_s = np.where(rclip, 0.0, roots[:k])
    set_s = np.where(sclip, duration_s, roots[k:])

    # Culmination: root of the analytic elevation rate around the highest grid point of the
    # pass (so a pass with two maxima reports the higher); an edge of the pass when the
    # elevation is monotonic there (clipped passes, masks).
    el_r, az_rise, _ = geo.pairs(si, ni, rise_s)
    el_s, az_set, _ = geo.pairs(si, ni, set_s)
    # Brackets come from the grid with their elevation rates; ends outside the pass move to
    # its rise or set, where the rate is computed afresh.
    clo, chi = np.concatenate(cols["clo"]), np.concatenate(cols["chi"])
    d_lo, d_hi = np.concatenate(cols["dclo"]), np.concatenate(cols["dchi"])
    moved = np.flatnonzero(clo < rise_s)
    clo[moved] = rise_s[moved]
    d_lo[moved] = geo.pairs(si[moved], ni[moved], clo[moved], rates=True, azimuth=False)[2]
    moved = np.flatnonzero(chi > set_s)
    chi[moved] = set_s[moved]
    d_hi[moved] = geo.pairs(si[moved], ni[moved], chi[moved], rates=True, azimuth=False)[2]
    t_culm = np.where(el_r >= el_s, rise_s, set_s)
    w = np.flatnonzero((d_lo > 0.0) & (d_hi < 0.0))
    if w.size:

        def rate(i: I64, t: F64) -> F64:
            return geo.pairs(si[w[i]], ni[w[i]], t, rates=True, azimuth=False)[2]

        t_culm[w] = _illinois(rate, clo[w], chi[w], d_lo[w], d_hi[w], tol_s=1e-3)
    el_max = geo.pairs(si, ni, t_culm, azimuth=False)[0]
    edge_higher = np.maximum(el_r, el_s) > el_max
    t_culm = np.where(edge_higher, np.where(el_r >= el_s, rise_s, set_s), t_culm)
    el_max = np.where(edge_higher, np.maximum(el_r, el_s), el_max)

    order = np.lexsort((ni, si, rise_s))
    base = np.datetime64(t_start.replace(tzinfo=None), "us")

    def stamps(t: F64) -> list[datetime]:
        us = np.round(t[order] * 1e6).astype(np.int64).astype("timedelta64[us]")
        return [d.replace(tzinfo=UTC) for d in (base + us).tolist()]

    names = [tle_list[i].name for i in si[order].tolist()]
    norads = [tle_list[i].norad for i in si[order].tolist()]
    stas = [sta_list[j].name for j in ni[order].tolist()]
    return [
        Pass(*fields)
        for fields in zip(
            names,
            norads,
            stas,
            stamps(rise_s),
            stamps(t_culm),
            stamps(set_s),
            el_max[order].tolist(),
            az_rise[order].tolist(),
            az_set[order].tolist(),
            rclip[order].tolist(),
            sclip[order].tolist(),
            strict=True,
        )
    ]


def _brackets_for_chunk(
    geo: _Geometry,
    sats: list[int],
    stas: list[int],
    t_grid: F64,
    step: float,
    duration_s: float,
    cols: dict[str, list[NDArray[np.generic]]],
) -> None:
    """Append rise/set brackets of every pass in this satellite × station chunk to ``cols``."""
    el, az, el_dot = geo.grid(sats, stas, t_grid)
    n_idx = np.asarray(stas, dtype=np.int64)[None, :, None]
    g = el - geo.threshold(np.broadcast_to(n_idx, el.shape), az)
    above = g >= 0.0
    n_t = len(t_grid)

    # 1. Runs of grid points above the limit.
    prev = np.zeros_like(above)
    prev[..., 1:] = above[..., :-1]
    nxt = np.zeros_like(above)
    nxt[..., :-1] = above[..., 1:]
    rs, rn, rk = np.nonzero(above & ~prev)
    ss, sn, sk = np.nonzero(above & ~nxt)
    # Both lists are in (sat, station, time) order and runs alternate start/end: pair them.
    assert np.array_equal(rs, ss)
    assert np.array_equal(rn, sn)
    sat_ids = np.asarray(sats, dtype=np.int64)
    sta_ids = np.asarray(stas, dtype=np.int64)
    rclip = rk == 0
    sclip = sk == n_t - 1
    t_rk = t_grid[rk]
    t_sk = t_grid[sk]
    cols["s"].append(sat_ids[rs])
    cols["n"].append(sta_ids[rn])
    cols["rlo"].append(np.where(rclip, 0.0, t_grid[np.maximum(rk - 1, 0)]))
    cols["rhi"].append(t_rk)
    cols["rclip"].append(rclip)
    cols["slo"].append(t_sk)
    cols["shi"].append(np.where(sclip, duration_s, t_grid[np.minimum(sk + 1, n_t - 1)]))
    cols["sclip"].append(sclip)
    cols["grlo"].append(g[rs, rn, np.maximum(rk - 1, 0)])
    cols["grhi"].append(g[rs, rn, rk])
    cols["gslo"].append(g[rs, rn, sk])
    cols["gshi"].append(g[rs, rn, np.minimum(sk + 1, n_t - 1)])
    cols["drlo"].append(el_dot[rs, rn, np.maximum(rk - 1, 0)])
    cols["drhi"].append(el_dot[rs, rn, rk])
    cols["dslo"].append(el_dot[rs, rn, sk])
    cols["dshi"].append(el_dot[rs, rn, np.minimum(sk + 1, n_t - 1)])
    # Highest grid point of each run: the culmination lies within one step of it, on the side
    # the elevation rate there points to.
    lengths = sk - rk + 1
    if lengths.size:
        first = np.cumsum(lengths) - lengths
        run_id = np.repeat(np.arange(lengths.size), lengths)
        tk = np.repeat(rk, lengths) + (np.arange(int(lengths.sum())) - np.repeat(first, lengths))
        vals = el[np.repeat(rs, lengths), np.repeat(rn, lengths), tk]
        km = tk[np.lexsort((-vals, run_id))[first]]
    else:
        km = rk
    c_lo = np.clip(np.where(el_dot[rs, rn, km] > 0.0, km, km - 1), 0, n_t - 2)
    cols["clo"].append(t_grid[c_lo])
    cols["chi"].append(t_grid[c_lo + 1])
    cols["dclo"].append(el_dot[rs, rn, c_lo])
    cols["dchi"].append(el_dot[rs, rn, c_lo + 1])

    # 2. Short passes between grid points: elevation maxima (rate + → −) with no grid point up.
    peak = (el_dot[..., :-1] > 0.0) & (el_dot[..., 1:] <= 0.0)
    peak &= ~above[..., :-1] & ~above[..., 1:]
    ps, pn, pk = np.nonzero(peak)
    if ps.size == 0:
        return
    e0, e1 = el[ps, pn, pk], el[ps, pn, pk + 1]
    d0, d1 = el_dot[ps, pn, pk], el_dot[ps, pn, pk + 1]
    # Upper bound of a concave elevation between the two points: where the tangents meet.
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = (e1 - e0 - d1 * step) / (d0 - d1)
        bound = e0 + d0 * np.clip(t_star, 0.0, step)
    lowest = np.array([geo.stations[j].lowest_elevation_deg for j in stas])[pn]
    keep = ~(bound < lowest - 3.0)  # 3° margin for non-concave stretches; NaN bound kept
    ps, pn, pk = ps[keep], pn[keep], pk[keep]
    if ps.size == 0:
        return
    si = sat_ids[ps]
    ni = sta_ids[pn]
    lo = t_grid[pk]
    hi = t_grid[pk + 1]

    def rate(idx: I64, t: F64) -> F64:
        return geo.pairs(si[idx], ni[idx], t, rates=True, azimuth=False)[2]

    t_peak = _illinois(rate, lo, hi, d0[keep], d1[keep], tol_s=1e-3)
    e_peak, a_peak, _ = geo.pairs(si, ni, t_peak, azimuth=bool(geo.masked))
    g_peak = e_peak - geo.threshold(ni, a_peak)
    up = g_peak >= 0.0
    if not up.any():
        return
    # Rise in [t_k, t_peak], set in [t_peak, t_k+1] (grid points on both sides are below).
    cols["s"].append(si[up])
    cols["n"].append(ni[up])
    cols["rlo"].append(t_grid[pk[up]])
    cols["rhi"].append(t_peak[up])
    cols["rclip"].append(np.zeros(int(up.sum()), dtype=bool))
    cols["slo"].append(t_peak[up])
    cols["shi"].append(t_grid[pk[up] + 1])
    cols["sclip"].append(np.zeros(int(up.sum()), dtype=bool))
    cols["grlo"].append(g[ps[up], pn[up], pk[up]])
    cols["grhi"].append(g_peak[up])
    cols["gslo"].append(g_peak[up])
    cols["gshi"].append(g[ps[up], pn[up], pk[up] + 1])
    cols["drlo"].append(d0[keep][up])
    cols["drhi"].append(np.zeros(int(up.sum())))
    cols["dslo"].append(np.zeros(int(up.sum())))
    cols["dshi"].append(d1[keep][up])
    cols["clo"].append(t_grid[pk[up]])
    cols["chi"].append(t_grid[pk[up] + 1])
    cols["dclo"].append(d0[keep][up])
    cols["dchi"].append(d1[keep][up])


def look_angles(
    tles: Tle | Sequence[Tle],
    station: Station,
    times: Sequence[datetime] | NDArray[np.datetime64],
    *,
    ut1_minus_utc_s: float = 0.0,
) -> tuple[F64, F64, F64]:
    """Return azimuth (deg), elevation (deg) and range (km) of satellites from a station.

    ``times`` are aware UTC datetimes or numpy ``datetime64`` (UTC). Arrays are (S, T); NaN
    where SGP4 failed.
    """
    tle_list = [tles] if isinstance(tles, Tle) else list(tles)
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        t64 = times.astype("datetime64[ns]")
    else:
        t64 = np.array([_to_datetime64(_utc(t, "time")) for t in times], dtype="datetime64[ns]")
    jd, fr = jd_split(t64)
    pos, _, _ = propagate_teme(tle_list, jd, fr)
    r, _ = teme_to_itrs(pos, jd, fr + ut1_minus_utc_s / _DAY_S)
    loc = (r - station.itrs_km) @ station.enu_matrix.T
    el, az, _ = _angles(loc, None)
    rng: F64 = np.sqrt(np.einsum("...j,...j->...", loc, loc))
    return az, el, rng
