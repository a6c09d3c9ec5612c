"""Satellite passes over ground stations: rise, culmination, set and look angles.

Method (all satellites × stations × times as arrays, no Python loop over minutes):

1. **Coarse grid.** SGP4 (:func:`falak.dynamics.tle.propagate_teme`) on a uniform time grid with
   a step of 1/40 of the shortest orbital period (138 s for the space station; clipped to
   10-600 s), TEME → ITRS by GMST 1982, then elevation, azimuth and the analytic elevation rate
   for every satellite × station × time, in chunks that bound memory.
2. **Brackets.** A pass is where the elevation is at or above the usable limit (the station's
   ``min_elevation_deg`` or its azimuth mask). Sign changes of (elevation − limit) between grid
   points bracket rises and sets. Passes too short to catch a grid point are found from the
   elevation maxima: a sign change of the elevation rate from + to − brackets every maximum;
   maxima whose tangent-line bound can reach the limit are refined, and become passes if they do.
3. **Refinement**, vectorised over all brackets: Illinois regula falsi on (elevation − limit) for
   rises and sets (to 0.1 ms), golden-section search for the highest elevation (culmination).

Passes already in progress at the window start get ``rise`` = window start and
``rise_clipped=True``; those still in progress at the window end get ``set`` = window stop and
``set_clipped=True``; their culmination is the highest point inside the window (which may be an
edge). When a pass has two elevation maxima (rare outside high orbits), the one found by the
golden-section search is reported. With an azimuth mask, a pass shorter than one grid step is
looked for between the two grid points around the elevation maximum only. Epochs where SGP4
fails (decay) count as below the horizon.

Time scale: UTC in and out; Earth rotation uses UT1 = UTC + ``ut1_minus_utc_s`` (default 0,
which moves LEO events by ≲ 0.1 s). Elevation is geometric (no refraction) above the WGS84
ellipsoid normal, like skyfield's ``altaz()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

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
        rho = r[:, None, :, :] - self.r_st[list(stas)][None, :, None, :]
        enu = np.asarray(self.enu[list(stas)])
        loc = np.einsum("sntk,njk->sntj", rho, enu)
        loc_dot = np.einsum("stk,njk->sntj", v, enu)
        return _angles(loc, loc_dot)

    def pairs(self, si: I64, ni: I64, t_s: F64) -> tuple[F64, F64]:
        """Return elevation and azimuth (deg) for paired satellite/station/time arrays (K,)."""
        k = len(t_s)
        pos = np.full((k, 3), np.nan)
        jd = np.full(k, self.jd0)
        fr = self.fr0 + t_s / _DAY_S
        order = np.argsort(si, kind="stable")
        s_sorted = si[order]
        cuts = np.flatnonzero(np.diff(s_sorted)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [k]])
        for a, b in zip(starts, ends, strict=True):
            idx = order[a:b]
            sat = self.tles[int(s_sorted[a])].satrec
            err, rr, _ = sat.sgp4_array(jd[idx], np.ascontiguousarray(fr[idx]))
            rr[err != 0] = np.nan
            pos[idx] = rr
        r, _ = teme_to_itrs(pos, jd, fr + self.dut1_days)
        rho = r - self.r_st[ni]
        loc = np.einsum("kj,kij->ki", rho, self.enu[ni])
        el, az, _ = _angles(loc, None)
        return el, az


def _angles(loc: F64, loc_dot: F64 | None) -> tuple[F64, F64, F64]:
    """Elevation, azimuth (deg) and elevation rate (deg/s) from local ENU vectors (..., 3)."""
    e, n, u = loc[..., 0], loc[..., 1], loc[..., 2]
    rng = np.sqrt(e * e + n * n + u * u)
    sin_el = np.clip(u / rng, -1.0, 1.0)
    el = np.arcsin(sin_el) * _RAD
    az = np.mod(np.arctan2(e, n) * _RAD, 360.0)
    if loc_dot is None:
        return el, az, np.zeros_like(el)
    rng_dot = np.einsum("...j,...j->...", loc, loc_dot) / rng
    cos_el = np.sqrt(np.maximum(1.0 - sin_el * sin_el, 1e-30))
    el_dot = (loc_dot[..., 2] * rng - u * rng_dot) / (rng * rng * cos_el) * _RAD
    return el, az, el_dot


def _golden_max(
    f: Callable[[I64, F64], F64], lo: F64, hi: F64, tol_s: float = 1e-3
) -> tuple[F64, F64]:
    """Vectorised golden-section search for the maximum of f(i, t) on [lo_i, hi_i]."""
    invphi = (math.sqrt(5.0) - 1.0) / 2.0
    k = len(lo)
    idx = np.arange(k)
    lo, hi = lo.copy(), hi.copy()
    c = hi - invphi * (hi - lo)
    d = lo + invphi * (hi - lo)
    fc = f(idx, c)
    fd = f(idx, d)
    width = float(np.max(hi - lo)) if k else 0.0
    iters = max(1, math.ceil(math.log(max(width, tol_s) / tol_s) / math.log(1.0 / invphi)))
    for _ in range(iters):
        left = ~(fc < fd)  # also True when both are NaN: shrink towards the start
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        new_c = np.where(left, hi - invphi * (hi - lo), d)
        new_d = np.where(left, c, lo + invphi * (hi - lo))
        fd = np.where(left, fc, fd)
        fc = np.where(left, fc, fd)
        x = np.where(left, new_c, new_d)
        fx = f(idx, x)
        fc = np.where(left, fx, fc)
        fd = np.where(left, fd, fx)
        c, d = new_c, new_d
    best_c = ~(fc < fd)
    return np.where(best_c, c, d), np.where(best_c, fc, fd)


def _illinois(
    f: Callable[[I64, F64], F64], a: F64, b: F64, fa: F64, fb: F64, tol_s: float = _ROOT_TOL_S
) -> F64:
    """Vectorised Illinois regula falsi for f(i, t) = 0 with f(a) and f(b) of opposite sign."""
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    side = np.zeros(len(a), dtype=np.int8)
    active = np.flatnonzero(b - a > tol_s)
    for it in range(200):
        if active.size == 0:
            break
        aa, bb, faa, fbb = a[active], b[active], fa[active], fb[active]
        c = (aa * fbb - bb * faa) / (fbb - faa)
        mid = 0.5 * (aa + bb)
        bad = ~np.isfinite(c) | (c <= aa) | (c >= bb)
        if it % 8 == 7:  # a bisection now and then bounds the worst case
            bad[:] = True
        c = np.where(bad, mid, c)
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
        done = (b[active] - a[active] <= tol_s) | (fcc == 0.0)
        exact = fcc == 0.0
        a[active[exact]] = c[exact]
        b[active[exact]] = c[exact]
        active = active[~done]
    return 0.5 * (a + b)


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
        Coarse grid step, seconds; default 1/40 of the shortest orbital period.

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
        step_s = min(max(period_s / 40.0, 10.0), 600.0)
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
        k: [] for k in ("s", "n", "rlo", "rhi", "rclip", "slo", "shi", "sclip")
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
    if si.size == 0:
        return []

    def g(idx: I64, t: F64) -> F64:
        el, az = geo.pairs(si2[idx], ni2[idx], t)
        out: F64 = el - geo.threshold(ni2[idx], az)
        return out

    # Rises and sets refined together: rises where g goes − → +, sets + → −.
    si2 = np.concatenate([si, si])
    ni2 = np.concatenate([ni, ni])
    lo = np.concatenate([rlo, slo])
    hi = np.concatenate([rhi, shi])
    clipped = np.concatenate([rclip, sclip])
    idx_all = np.arange(len(lo))
    g_lo = g(idx_all, lo)
    g_hi = g(idx_all, hi)
    roots = lo.copy()
    todo = ~clipped
    if todo.any():
        w = np.flatnonzero(todo)

        def g_sub(i: I64, t: F64) -> F64:
            return g(w[i], t)

        roots[w] = _illinois(g_sub, lo[w], hi[w], g_lo[w], g_hi[w])
    k = len(si)
    rise_s = np.where(rclip, 0.0, roots[:k])
    set_s = np.where(sclip, duration_s, roots[k:])

    def el_of(idx: I64, t: F64) -> F64:
        return geo.pairs(si[idx], ni[idx], t)[0]

    t_culm, el_max = _golden_max(el_of, rise_s, set_s)
    _, az_rise = geo.pairs(si, ni, rise_s)
    _, az_set = geo.pairs(si, ni, set_s)

    passes = []
    for j in np.lexsort((ni, si, rise_s)):
        tle = tle_list[int(si[j])]
        passes.append(
            Pass(
                satellite=tle.name,
                norad=tle.norad,
                station=sta_list[int(ni[j])].name,
                rise=t_start + timedelta(seconds=float(rise_s[j])),
                culminate=t_start + timedelta(seconds=float(t_culm[j])),
                set=t_start + timedelta(seconds=float(set_s[j])),
                max_elevation_deg=float(el_max[j]),
                rise_azimuth_deg=float(az_rise[j]),
                set_azimuth_deg=float(az_set[j]),
                rise_clipped=bool(rclip[j]),
                set_clipped=bool(sclip[j]),
            )
        )
    return passes


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
    keep = ~(bound < lowest - 1.0)  # 1° margin for non-concave stretches; NaN bound kept
    ps, pn, pk = ps[keep], pn[keep], pk[keep]
    if ps.size == 0:
        return
    si = sat_ids[ps]
    ni = sta_ids[pn]
    lo = t_grid[pk]
    hi = t_grid[pk + 1]

    def gf(idx: I64, t: F64) -> F64:
        e, a = geo.pairs(si[idx], ni[idx], t)
        out: F64 = e - geo.threshold(ni[idx], a)
        return out

    t_peak, g_peak = _golden_max(gf, lo, hi, tol_s=1e-3)
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
