"""Lunar orbiter geometry: eclipses, Earth-station contacts and imaging opportunities.

All three work on a :class:`~falak.dynamics.lunar_orbit.Trajectory` (Moon-centred ICRF states
sampled in UTC), interpolated between samples with cubic Hermite polynomials (for 60 s samples of
a low lunar orbit the interpolation error is a few centimetres). Windows are found by evaluating
the condition on a uniform grid (vectorised, one skyfield/DE421 call per grid) and refining each
edge by vectorised bisection to ``tol_s``. A window shorter than the grid step can be missed;
choose ``step_s`` below the shortest window of interest.

Geometry is geometric (no light time, aberration or refraction): the light time to Earth
(≈1.3 s) moves the orbiter by ≈2 km, ≈1 µrad as seen from Earth. Radii: the Moon is the
1737.4 km sphere (LOLA), the Earth a 6378.137 km sphere for shadows, the Sun 696,000 km.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.lunar_orbit import Trajectory, _tdb_seconds, utc_times
from falak.dynamics.oem import OemEphemeris, format_oem
from falak.errors import InputError

if TYPE_CHECKING:
    from falak.dynamics.stations import Station

__all__ = [
    "EARTH_RADIUS_KM",
    "SUN_RADIUS_KM",
    "Window",
    "contacts",
    "eclipses",
    "imaging_opportunities",
    "interpolate_state",
    "sun_fraction",
    "trajectory_from_oem",
    "trajectory_to_oem",
]

#: Equatorial radius of the Earth used for its shadow (WGS84), km.
EARTH_RADIUS_KM = 6378.137
#: Photospheric radius of the Sun (IAU 2015 nominal 695,700 km; 696,000 km classic), km.
SUN_RADIUS_KM = 696000.0

F64 = NDArray[np.float64]
_MAX_OEM_GAP_S = 600.0  # Hermite error ~1 km at perilune of a 12 h orbit; 60 s: ~cm
_CHUNK = 50_000  # grid points evaluated per vectorised call


@dataclass(frozen=True)
class Window:
    """A time window [start, stop] (UTC) with extra fields (``kind``-specific, JSON-ready)."""

    start: datetime
    stop: datetime
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return (self.stop - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ISO start/stop (UTC, 'Z'), duration_s and the fields."""
        return {
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "stop": self.stop.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "duration_s": round(self.duration_s, 3),
            **self.fields,
        }


# --------------------------------------------------------------------------- trajectory I/O


def trajectory_to_oem(
    traj: Trajectory, *, object_name: str = "FALAK ORBITER", object_id: str = "UNKNOWN"
) -> str:
    """Return the trajectory as OEM text: CENTER_NAME MOON, REF_FRAME ICRF, TIME_SYSTEM UTC."""
    comments = (
        "Moon-centred ICRF axes; falak lunar_orbit propagation",
        f"force model: GRGM1200A degree {traj.meta.get('degree', '?')}, third bodies "
        f"{', '.join(traj.meta.get('third_bodies', [])) or 'none'}",
    )
    return format_oem(
        traj.times,
        traj.r_km,
        traj.v_km_s,
        object_name=object_name,
        object_id=object_id,
        comments=comments,
    )


def trajectory_from_oem(oem: OemEphemeris) -> Trajectory:
    """Build a :class:`Trajectory` from a Moon-centred ICRF OEM (TIME_SYSTEM UTC or TDB)."""
    from falak.dynamics.moonframes import check_time_span, timescale

    center = oem.metadata.get("CENTER_NAME", "").upper()
    frame = oem.metadata.get("REF_FRAME", "").upper()
    if center != "MOON" or frame not in ("ICRF", "EME2000", "J2000"):
        raise InputError(
            f"OEM has CENTER_NAME {center or '?'} and REF_FRAME {frame or '?'}; falak's lunar "
            "orbit tools need CENTER_NAME = MOON with REF_FRAME = ICRF (Moon-centred)"
        )
    times = oem.times
    if oem.time_system.upper() == "TDB":
        # Convert TDB epochs to UTC with skyfield.
        ts = timescale()
        base = times[0].astype("datetime64[D]")
        day0 = base.astype(datetime)
        sec = (times - base).astype("timedelta64[ns]").astype(np.float64) * 1e-9
        jd0 = ts.tdb(day0.year, day0.month, day0.day).tdb
        t = ts.tdb_jd(jd0, sec / 86400.0)
        utc = t.utc
        whole = np.array(
            [
                np.datetime64(f"{int(y):04d}-{int(mo):02d}-{int(d):02d}", "ns")
                for y, mo, d in zip(utc[0], utc[1], utc[2], strict=True)
            ]
        )
        secs = utc[3] * 3600.0 + utc[4] * 60.0 + utc[5]
        times = whole + np.round(secs * 1e9).astype("timedelta64[ns]")
    elif oem.time_system.upper() != "UTC":
        raise InputError(f"OEM TIME_SYSTEM {oem.time_system} is not supported; use UTC or TDB")
    check_time_span(times)
    if len(times) < 2:
        raise InputError("the OEM needs at least two states to interpolate between")
    epoch = times[0].astype("datetime64[us]").astype(datetime).replace(tzinfo=UTC)
    t_s = (times - times[0]).astype("timedelta64[ns]").astype(np.float64) * 1e-9
    gap = float(np.max(np.diff(t_s)))
    if gap > _MAX_OEM_GAP_S + 1e-3:  # 1 ms: OEM epochs are printed to the microsecond
        k = int(np.argmax(np.diff(t_s)))
        raise InputError(
            f"OEM states {k + 1} and {k + 2} are {gap:.0f} s apart; falak interpolates between "
            f"states (cubic Hermite) and needs ≤ {_MAX_OEM_GAP_S:.0f} s spacing (60 s keeps a "
            "low lunar orbit to centimetres)"
        )
    tdb_s = _tdb_seconds(utc_times(epoch, t_s), utc_times(epoch, 0.0))
    meta = {"source": "OEM", "object_id": oem.metadata.get("OBJECT_ID", "")}
    return Trajectory(epoch, t_s, tdb_s, oem.r_km.copy(), oem.v_km_s.copy(), meta)


def interpolate_state(traj: Trajectory, t_s: F64) -> tuple[F64, F64]:
    """Return (r_km, v_km_s) at UTC seconds ``t_s`` since the epoch (cubic Hermite)."""
    t = np.clip(np.asarray(t_s, dtype=float), traj.t_s[0], traj.t_s[-1])
    k = np.clip(np.searchsorted(traj.t_s, t, side="right") - 1, 0, len(traj.t_s) - 2)
    h = (traj.t_s[k + 1] - traj.t_s[k])[:, None]
    u = ((t - traj.t_s[k]) / h[:, 0])[:, None]
    p0, p1 = traj.r_km[k], traj.r_km[k + 1]
    m0, m1 = traj.v_km_s[k] * h, traj.v_km_s[k + 1] * h
    u2, u3 = u * u, u * u * u
    r = (
        (2 * u3 - 3 * u2 + 1) * p0
        + (u3 - 2 * u2 + u) * m0
        + (-2 * u3 + 3 * u2) * p1
        + (u3 - u2) * m1
    )
    dr = (
        (6 * u2 - 6 * u) * p0
        + (3 * u2 - 4 * u + 1) * m0
        + (-6 * u2 + 6 * u) * p1
        + (3 * u2 - 2 * u) * m1
    )
    return r, dr / h


# --------------------------------------------------------------------------- window search


def _find_windows(
    condition: Callable[[F64], NDArray[np.bool_]],
    t_start: float,
    t_stop: float,
    step_s: float,
    tol_s: float,
) -> list[tuple[float, float]]:
    """Return [(start, stop)] in seconds where ``condition`` holds; edges bisected to tol_s."""
    n = max(2, math.ceil((t_stop - t_start) / step_s) + 1)
    grid = np.linspace(t_start, t_stop, n)
    # Evaluate in chunks so that a long span at a fine step stays within memory.
    ok = np.concatenate(
        [np.asarray(condition(grid[i : i + _CHUNK]), dtype=bool) for i in range(0, n, _CHUNK)]
    )
    change = np.nonzero(ok[1:] != ok[:-1])[0]
    lo = grid[change].copy()
    hi = grid[change + 1].copy()
    rising = ~ok[change]  # False → True between lo and hi
    if len(change):
        while np.max(hi - lo) > tol_s:
            mid = 0.5 * (lo + hi)
            val = np.asarray(condition(mid), dtype=bool)
            # For a rising edge the condition at lo is False; move lo up while it stays False.
            move_lo = val != rising
            lo = np.where(move_lo, mid, lo)
            hi = np.where(move_lo, hi, mid)
    edges = 0.5 * (lo + hi)
    starts = [t_start] if ok[0] else []
    stops: list[float] = []
    for e, r in zip(edges, rising, strict=True):
        (starts if r else stops).append(float(e))
    if ok[-1]:
        stops.append(t_stop)
    return list(zip(starts, stops, strict=True))


def _span(traj: Trajectory, start: datetime | None, stop: datetime | None) -> tuple[float, float]:
    t0, t1 = float(traj.t_s[0]), float(traj.t_s[-1])
    if start is not None:
        t0 = max(t0, (start - traj.epoch).total_seconds())
    if stop is not None:
        t1 = min(t1, (stop - traj.epoch).total_seconds())
    if t1 <= t0:
        raise InputError("the requested interval does not overlap the trajectory's span")
    return t0, t1


_SKY_STEP_S = 300.0


@dataclass(frozen=True)
class _Sky:
    """Slowly varying geometry tabulated every 300 s (UTC seconds since the trajectory epoch).

    Rows hold ICRF → MOON_ME and GCRS → ITRS rotations (row-major, 9 columns) and the Earth and
    the Sun from the Moon (ICRF km). Interpolated with 4-point Lagrange polynomials: errors
    ≲ 1e-8 rad for the Earth's rotation (0.022 rad per step), far less for the rest.
    """

    t0: float
    h: float
    me: F64
    itrs: F64
    earth: F64
    sun: F64

    @classmethod
    def build(cls, traj: Trajectory, step_s: float = _SKY_STEP_S) -> _Sky:
        from skyfield.framelib import itrs

        from falak.dynamics.moonframes import ephemeris, icrf_to_moon_me

        t0 = float(traj.t_s[0]) - 2 * step_s
        n = math.ceil((float(traj.t_s[-1]) - t0) / step_s) + 4
        grid = t0 + step_s * np.arange(n)
        t = utc_times(traj.epoch, grid)
        eph = ephemeris()
        moon = eph["moon"]
        earth = np.ascontiguousarray((eph["earth"] - moon).at(t).position.km.T)
        sun = np.ascontiguousarray((eph["sun"] - moon).at(t).position.km.T)
        me = icrf_to_moon_me(t).reshape(n, 9)
        rot = np.moveaxis(np.asarray(itrs.rotation_at(t)), -1, 0).reshape(n, 9)
        return cls(t0, step_s, me, rot, earth, sun)

    def interp(self, tab: F64, t_s: F64) -> F64:
        """Interpolate rows of ``tab`` at ``t_s`` (4-point Lagrange), shape (N, columns)."""
        x = (np.asarray(t_s, dtype=float) - self.t0) / self.h
        k = np.clip(np.floor(x).astype(np.int64), 1, tab.shape[0] - 3)
        u = (x - k)[:, None]
        out: F64 = (
            -u * (u - 1) * (u - 2) / 6 * tab[k - 1]
            + (u + 1) * (u - 1) * (u - 2) / 2 * tab[k]
            - (u + 1) * u * (u - 2) / 2 * tab[k + 1]
            + (u + 1) * u * (u - 1) / 6 * tab[k + 2]
        )
        return out

    def bodies(self, t_s: F64) -> tuple[F64, F64]:
        """The Earth and the Sun from the Moon, ICRF km, each (N, 3)."""
        return self.interp(self.earth, t_s), self.interp(self.sun, t_s)


def _to_datetime(traj: Trajectory, t_s: float) -> datetime:
    return traj.epoch + timedelta(seconds=round(t_s, 6))


# --------------------------------------------------------------------------- eclipses


def _lit_fraction(sun_rel: F64, body_rel: F64, body_radius_km: float) -> tuple[F64, F64, F64]:
    """Visible fraction of the solar disk behind a spherical body (Montenbruck & Gill §3.4.2).

    ``sun_rel`` and ``body_rel`` are vectors from the orbiter, (N, 3) km. Returns the fraction
    and the two margins c − (a_s + a_b) (penumbra edge) and c − (a_b − a_s) (umbra edge), rad.
    """
    ds = np.linalg.norm(sun_rel, axis=1)
    db = np.linalg.norm(body_rel, axis=1)
    a_s = np.arcsin(np.minimum(SUN_RADIUS_KM / ds, 1.0))
    a_b = np.arcsin(np.minimum(body_radius_km / db, 1.0))
    cos_c = np.einsum("ij,ij->i", sun_rel, body_rel) / (ds * db)
    c = np.arccos(np.clip(cos_c, -1.0, 1.0))
    frac = np.ones_like(c)
    total = c <= a_b - a_s
    annular = c <= a_s - a_b
    partial = (c < a_s + a_b) & ~total & ~annular
    frac[total] = 0.0
    frac[annular] = 1.0 - (a_b[annular] / a_s[annular]) ** 2
    if np.any(partial):
        cp, sp, bp = c[partial], a_s[partial], a_b[partial]
        x = (cp * cp + sp * sp - bp * bp) / (2.0 * cp)
        y = np.sqrt(np.maximum(sp * sp - x * x, 0.0))
        area = (
            sp * sp * np.arccos(np.clip(x / sp, -1, 1))
            + bp * bp * np.arccos(np.clip((cp - x) / bp, -1, 1))
            - cp * y
        )
        frac[partial] = 1.0 - area / (math.pi * sp * sp)
    return frac, c - (a_s + a_b), c - (a_b - a_s)


def sun_fraction(traj: Trajectory, t_s: F64) -> dict[str, F64]:
    """Return the visible solar-disk fraction at ``t_s`` (UTC s since epoch), conical shadows.

    Keys: ``moon`` and ``earth`` (fraction left by each body), ``total`` (their product).
    """
    from falak.dynamics.moonframes import MOON_RADIUS_KM

    t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
    r, _ = interpolate_state(traj, t_s)
    earth, sun = _Sky.build(traj).bodies(t_s)
    f_moon, _, _ = _lit_fraction(sun - r, -r, MOON_RADIUS_KM)
    f_earth, _, _ = _lit_fraction(sun - r, earth - r, EARTH_RADIUS_KM)
    return {"moon": f_moon, "earth": f_earth, "total": f_moon * f_earth}


def eclipses(
    traj: Trajectory,
    start: datetime | None = None,
    stop: datetime | None = None,
    *,
    step_s: float = 30.0,
    tol_s: float = 0.01,
) -> list[Window]:
    """Find the orbiter's eclipses by the Moon and by the Earth (conical shadows).

    Each :class:`Window` spans the penumbra entry to exit and has fields ``body`` ("moon" or
    "earth"), ``umbra_start``/``umbra_stop`` (ISO UTC, or None when there is no total phase),
    and ``min_sun_fraction`` (0 = total, the smallest visible solar-disk fraction sampled).
    """
    from falak.dynamics.moonframes import MOON_RADIUS_KM

    t0, t1 = _span(traj, start, stop)
    sky = _Sky.build(traj)
    out: list[Window] = []
    for body, radius in (("moon", MOON_RADIUS_KM), ("earth", EARTH_RADIUS_KM)):

        def margins(t_s: F64, body: str = body, radius: float = radius) -> tuple[F64, F64, F64]:
            r, _ = interpolate_state(traj, t_s)
            earth, sun = sky.bodies(t_s)
            centre = -r if body == "moon" else earth - r
            return _lit_fraction(sun - r, centre, radius)

        pen = _find_windows(lambda t: margins(t)[1] < 0.0, t0, t1, step_s, tol_s)
        umb = _find_windows(lambda t: margins(t)[2] <= 0.0, t0, t1, step_s, tol_s)
        for a, b in pen:
            inside = [(u0, u1) for u0, u1 in umb if u0 >= a - tol_s and u1 <= b + tol_s]
            probe = np.linspace(a, b, 50)
            frac = margins(probe)[0]
            fields: dict[str, Any] = {
                "body": body,
                "umbra_start": None,
                "umbra_stop": None,
                "min_sun_fraction": 0.0 if inside else round(float(frac.min()), 6),
            }
            if inside:
                fields["umbra_start"] = _iso(_to_datetime(traj, inside[0][0]))
                fields["umbra_stop"] = _iso(_to_datetime(traj, inside[-1][1]))
            out.append(Window(_to_datetime(traj, a), _to_datetime(traj, b), fields))
    out.sort(key=lambda w: w.start)
    return out


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- contacts


def _station_geometry(
    traj: Trajectory, sky: _Sky, station: Station, t_s: F64
) -> tuple[F64, F64, F64, F64]:
    """Azimuth, elevation (deg), range (km) of the orbiter from ``station`` and the Moon-limb
    margin (km; < 0 when the Moon hides the orbiter) at ``t_s``."""
    from falak.dynamics.moonframes import MOON_RADIUS_KM

    r, _ = interpolate_state(traj, t_s)
    earth, _ = sky.bodies(t_s)
    rot = sky.interp(sky.itrs, t_s).reshape(-1, 3, 3)  # GCRS → ITRS
    station_gcrs = np.einsum("nji,j->ni", rot, station.itrs_km)  # Rᵀ · itrs
    sat_from_earth = r - earth
    rel_gcrs = sat_from_earth - station_gcrs
    rel_itrs = np.einsum("nij,nj->ni", rot, rel_gcrs)
    enu = rel_itrs @ station.enu_matrix.T
    rng = np.linalg.norm(enu, axis=1)
    el = np.degrees(np.arcsin(enu[:, 2] / rng))
    az = np.degrees(np.arctan2(enu[:, 0], enu[:, 1])) % 360.0
    # Line of sight station → orbiter against the Moon sphere (Moon-centred coordinates).
    s = earth + station_gcrs
    d = r - s
    u = np.clip(-np.einsum("ij,ij->i", s, d) / np.einsum("ij,ij->i", d, d), 0.0, 1.0)
    closest = s + u[:, None] * d
    margin = np.linalg.norm(closest, axis=1) - MOON_RADIUS_KM
    return az, el, rng, margin


def contacts(
    traj: Trajectory,
    stations: Station | Iterable[Station] | Mapping[str, Station],
    start: datetime | None = None,
    stop: datetime | None = None,
    *,
    step_s: float = 60.0,
    tol_s: float = 0.01,
) -> list[Window]:
    """Find when Earth stations see the orbiter: above the station's mask/min elevation and not
    hidden by the Moon.

    Each :class:`Window` has fields ``station``, ``max_elevation_deg`` and
    ``mean_range_km`` (sampled within the window).
    """
    from falak.dynamics.stations import Station

    if isinstance(stations, Station):
        station_list = [stations]
    elif isinstance(stations, Mapping):
        station_list = list(stations.values())
    else:
        station_list = list(stations)
    t0, t1 = _span(traj, start, stop)
    sky = _Sky.build(traj)
    out: list[Window] = []
    for st in station_list:

        def visible(t_s: F64, st: Station = st) -> NDArray[np.bool_]:
            az, el, _, margin = _station_geometry(traj, sky, st, t_s)
            ok: NDArray[np.bool_] = (el >= st.min_elevation_at(az)) & (margin > 0.0)
            return ok

        for a, b in _find_windows(visible, t0, t1, step_s, tol_s):
            probe = np.linspace(a, b, max(3, min(200, math.ceil((b - a) / step_s) + 1)))
            _, el, rng, _ = _station_geometry(traj, sky, st, probe)
            fields = {
                "station": st.name,
                "max_elevation_deg": round(float(el.max()), 4),
                "mean_range_km": round(float(rng.mean()), 3),
            }
            out.append(Window(_to_datetime(traj, a), _to_datetime(traj, b), fields))
    out.sort(key=lambda w: (w.start, w.fields["station"]))
    return out


# --------------------------------------------------------------------------- imaging


def _target_geometry(
    traj: Trajectory, sky: _Sky, target_me_km: F64, t_s: F64
) -> tuple[F64, F64, F64]:
    """Off-nadir angle of the target, the orbiter's elevation seen from the target, and the
    Sun's (geometric) elevation at the target, degrees."""
    r, _ = interpolate_state(traj, t_s)
    _, sun = sky.bodies(t_s)
    target = _target_icrf(sky, target_me_km, t_s)
    up = target / np.linalg.norm(target, axis=1)[:, None]
    los = target - r
    los_n = np.linalg.norm(los, axis=1)
    nadir = -r / np.linalg.norm(r, axis=1)[:, None]
    off_nadir = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", los, nadir) / los_n, -1, 1)))
    sat_el = np.degrees(np.arcsin(np.clip(-np.einsum("ij,ij->i", los, up) / los_n, -1, 1)))
    to_sun = sun - target
    sun_el = np.degrees(
        np.arcsin(
            np.clip(np.einsum("ij,ij->i", to_sun, up) / np.linalg.norm(to_sun, axis=1), -1, 1)
        )
    )
    return off_nadir, sat_el, sun_el


def imaging_opportunities(
    traj: Trajectory,
    lat_deg: float,
    lon_deg: float,
    *,
    max_off_nadir_deg: float = 30.0,
    min_sun_elevation_deg: float = 10.0,
    height_m: float = 0.0,
    start: datetime | None = None,
    stop: datetime | None = None,
    step_s: float = 5.0,
    tol_s: float = 0.01,
) -> list[Window]:
    """Find when a surface target can be imaged.

    The target (``lat_deg``, ``lon_deg`` in MOON_ME, ``height_m`` above the 1737.4 km sphere)
    must be within ``max_off_nadir_deg`` of the orbiter's nadir, above the target's horizon,
    and lit with the Sun's centre at least ``min_sun_elevation_deg`` above the target's
    horizontal plane. Each :class:`Window` has fields ``min_off_nadir_deg``,
    ``sun_elevation_deg`` (at the time of minimum off-nadir) and ``min_range_km``.
    """
    from falak.dynamics.moonframes import MOON_RADIUS_KM

    if not -90.0 <= lat_deg <= 90.0:
        raise InputError(f"target latitude {lat_deg} is outside -90..90 degrees (MOON_ME)")
    if not math.isfinite(lon_deg):
        raise InputError(f"target longitude {lon_deg} is not a number")
    if not 0.0 < max_off_nadir_deg < 90.0:
        raise InputError(f"max off-nadir angle must be in (0, 90) degrees, got {max_off_nadir_deg}")
    if not -90.0 <= min_sun_elevation_deg <= 90.0:
        raise InputError(f"min Sun elevation {min_sun_elevation_deg} is outside -90..90 degrees")
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    rad = MOON_RADIUS_KM + height_m / 1000.0
    target = rad * np.array(
        [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]
    )
    t0, t1 = _span(traj, start, stop)
    sky = _Sky.build(traj)

    def ok(t_s: F64) -> NDArray[np.bool_]:
        off, sat_el, sun_el = _target_geometry(traj, sky, target, t_s)
        good: NDArray[np.bool_] = (
            (off <= max_off_nadir_deg) & (sat_el > 0.0) & (sun_el >= min_sun_elevation_deg)
        )
        return good

    out: list[Window] = []
    for a, b in _find_windows(ok, t0, t1, step_s, tol_s):
        probe = np.linspace(a, b, 101)
        off, _, sun_el = _target_geometry(traj, sky, target, probe)
        r, _ = interpolate_state(traj, probe)
        k = int(np.argmin(off))
        fields = {
            "min_off_nadir_deg": round(float(off[k]), 4),
            "sun_elevation_deg": round(float(sun_el[k]), 4),
            "min_range_km": round(
                float(np.linalg.norm(r - _target_icrf(sky, target, probe), axis=1).min()), 3
            ),
        }
        out.append(Window(_to_datetime(traj, a), _to_datetime(traj, b), fields))
    return out


def _target_icrf(sky: _Sky, target_me_km: F64, t_s: F64) -> F64:
    rot = sky.interp(sky.me, t_s).reshape(-1, 3, 3)  # ICRF → MOON_ME
    out: F64 = np.einsum("nji,j->ni", rot, target_me_km)
    return out
