"""Lunar orbit propagation: GRGM1200A gravity, Earth and Sun third bodies, compiled DOP853.

State vectors are Moon-centred with ICRF axes (km, km/s): the frame in which DE421 gives the
Earth and the Sun, and in which the third-body terms take their usual direct-minus-indirect
form a = GM_b [(d − r)/|d − r|³ − d/|d|³], d being the body's position from the Moon's centre.
Lunar gravity is evaluated in MOON_PA (the frame of GRGM1200A) after rotating the position
with the DE421 PA librations (:mod:`falak.dynamics.moonframes`); the result is rotated back.

The rotation matrices and the Earth and Sun positions are tabulated once over the propagation
span (every 600 s by default, from skyfield/DE421) and interpolated inside the right-hand side
with 4-point Lagrange polynomials (error ≲ 1e−13 rad and ≲ 1 mm for a 600 s table), so skyfield
is never called inside the integrator. The integrator is Dormand & Prince's 8(5,3) pair
(Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.5, with the coefficients and error norm of
scipy's DOP853) compiled with numba, stepping exactly onto the requested output epochs.

Time inside is TDB seconds since the epoch; output epochs are uniform in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from falak.dynamics.gravity import GravityField, _accel_one, load_grgm1200a, recursion_factors
from falak.errors import InputError

if TYPE_CHECKING:
    from skyfield.timelib import Time

__all__ = [
    "GM_EARTH_KM3_S2",
    "GM_MOON_KM3_S2",
    "GM_SUN_KM3_S2",
    "ForceModel",
    "Trajectory",
    "elements_frame_to_icrf",
    "elements_to_state",
    "propagate",
    "right_hand_side",
    "state_to_elements",
    "utc_times",
]

#: GM of the Moon from GRGM1200A's header (km³/s²).
GM_MOON_KM3_S2 = 4902.8001224453
#: GM of the Earth, DE421/DE430 value (Folkner et al. 2014, IPN PR 42-196, Table 8).
GM_EARTH_KM3_S2 = 398600.435436
#: GM of the Sun, DE430 value (same table): 132712440041.939400 km³/s².
GM_SUN_KM3_S2 = 132712440041.9394

_TABLE_STEP_S = 600.0
_MAX_OUTPUT_STATES = 5_000_000


@dataclass(frozen=True)
class ForceModel:
    """What accelerates the orbiter.

    ``degree`` truncates GRGM1200A (0 = point mass, 2 with ``zonal_only`` = J2 only);
    ``gravity`` overrides the field entirely (e.g. a hand-made J2 field in tests);
    ``third_bodies`` is any subset of ``("earth", "sun")``.
    """

    degree: int = 8
    zonal_only: bool = False
    third_bodies: tuple[str, ...] = ("earth", "sun")
    gravity: GravityField | None = None

    def field(self) -> GravityField:
        """Return the gravity field this model uses."""
        if self.gravity is not None:
            return self.gravity
        if self.degree < 0:
            raise InputError(f"gravity degree must be ≥ 0, got {self.degree}")
        return load_grgm1200a(self.degree).truncated(self.degree, zonal_only=self.zonal_only)


@dataclass(frozen=True)
class Trajectory:
    """A propagated orbit sampled at uniform UTC steps.

    ``times`` are UTC ``datetime64[ns]``; ``t_s`` UTC seconds since ``epoch``; ``tdb_s`` TDB
    seconds since the epoch; ``r_km``/``v_km_s`` Moon-centred ICRF, shape (N, 3).
    """

    epoch: datetime
    t_s: NDArray[np.float64]
    tdb_s: NDArray[np.float64]
    r_km: NDArray[np.float64]
    v_km_s: NDArray[np.float64]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def times(self) -> NDArray[np.datetime64]:
        """UTC epochs as ``datetime64[ns]``."""
        start = np.datetime64(self.epoch.astimezone(UTC).replace(tzinfo=None), "ns")
        return start + np.round(self.t_s * 1e9).astype("timedelta64[ns]")

    def skyfield_times(self) -> Time:
        """Return the sample epochs as a skyfield ``Time`` array."""
        return utc_times(self.epoch, self.t_s)


def utc_times(epoch: datetime, offsets_s: ArrayLike) -> Time:
    """Return skyfield times ``epoch + offsets_s`` (UTC seconds; vectorised)."""
    from falak.dynamics.moonframes import timescale

    if epoch.tzinfo is None:
        raise InputError(f"epoch {epoch.isoformat()} has no time zone; give UTC, e.g. '...Z'")
    e = epoch.astimezone(UTC)
    sec = e.second + e.microsecond * 1e-6 + np.asarray(offsets_s, dtype=float)
    return timescale().utc(e.year, e.month, e.day, e.hour, e.minute, sec)


def _tdb_seconds(t: Time, t0: Time) -> NDArray[np.float64]:
    """TDB seconds from ``t0`` to ``t`` without losing precision in the Julian date."""
    whole = np.asarray(t.whole, dtype=float) - float(np.asarray(t0.whole).ravel()[0])
    frac = np.asarray(t.tdb_fraction, dtype=float) - float(np.asarray(t0.tdb_fraction).ravel()[0])
    return np.atleast_1d((whole + frac) * 86400.0)


# --------------------------------------------------------------------------- Kepler elements


def elements_to_state(
    a_km: float,
    e: float,
    i_deg: float,
    raan_deg: float,
    argp_deg: float,
    ta_deg: float,
    gm_km3_s2: float = GM_MOON_KM3_S2,
    *,
    min_perilune_radius_km: float | None = 1737.4,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (r_km, v_km_s) from osculating Keplerian elements (angles in the same frame).

    Raises :class:`~falak.errors.InputError` for a non-elliptic orbit or one whose perilune
    radius is below ``min_perilune_radius_km`` (the 1737.4 km LOLA sphere by default).
    """
    if not (math.isfinite(a_km) and a_km > 0):
        raise InputError(f"semi-major axis must be a positive number of km, got {a_km}")
    if not 0.0 <= e < 1.0:
        raise InputError(f"eccentricity must be in [0, 1) for a closed orbit, got {e}")
    if not 0.0 <= i_deg <= 180.0:
        raise InputError(f"inclination must be in 0..180 degrees, got {i_deg}")
    rp = a_km * (1.0 - e)
    if min_perilune_radius_km is not None and rp < min_perilune_radius_km:
        raise InputError(
            f"perilune radius {rp:.1f} km (altitude {rp - min_perilune_radius_km:.1f} km) is "
            f"below the lunar surface ({min_perilune_radius_km} km); raise a or lower e"
        )
    p = a_km * (1.0 - e * e)
    nu = math.radians(ta_deg)
    r_pf = p / (1.0 + e * math.cos(nu)) * np.array([math.cos(nu), math.sin(nu), 0.0])
    v_pf = math.sqrt(gm_km3_s2 / p) * np.array([-math.sin(nu), e + math.cos(nu), 0.0])
    rot = _perifocal_to_inertial(
        math.radians(raan_deg), math.radians(i_deg), math.radians(argp_deg)
    )
    return rot @ r_pf, rot @ v_pf


def elements_frame_to_icrf(frame: str, epoch: datetime) -> NDArray[np.float64]:
    """Return the rotation taking vectors in an element frame to Moon-centred ICRF axes.

    ``frame`` is ``"ICRF"`` (identity) or ``"MOON_PA"``: the Moon's principal-axis frame frozen
    at ``epoch`` (inertial; its equator is the lunar equator, so i = 90° is a lunar-polar orbit
    and Ω is counted from the PA x axis at the epoch).
    """
    name = frame.strip().upper().replace("-", "_")
    if name == "ICRF":
        return np.eye(3)
    if name == "MOON_PA":
        from falak.dynamics.moonframes import icrf_to_moon_pa

        if epoch.tzinfo is None:
            raise InputError(f"epoch {epoch.isoformat()} has no time zone; give UTC, e.g. '...Z'")
        rot: NDArray[np.float64] = icrf_to_moon_pa(utc_times(epoch, 0.0))[0].T
        return rot
    raise InputError(f"element frame {frame!r} is unknown; use ICRF or MOON_PA")


def _perifocal_to_inertial(raan: float, inc: float, argp: float) -> NDArray[np.float64]:
    co, so = math.cos(raan), math.sin(raan)
    ci, si = math.cos(inc), math.sin(inc)
    cw, sw = math.cos(argp), math.sin(argp)
    return np.array(
        [
            [co * cw - so * sw * ci, -co * sw - so * cw * ci, so * si],
            [so * cw + co * sw * ci, -so * sw + co * cw * ci, -co * si],
            [sw * si, cw * si, ci],
        ]
    )


def state_to_elements(
    r_km: ArrayLike, v_km_s: ArrayLike, gm_km3_s2: float = GM_MOON_KM3_S2
) -> dict[str, NDArray[np.float64]]:
    """Return osculating elements for states of shape (N, 3) (or (3,)), vectorised.

    Keys: ``a_km, e, i_deg, raan_deg, argp_deg, ta_deg`` (angles in degrees, 0..360).
    """
    r = np.atleast_2d(np.asarray(r_km, dtype=float))
    v = np.atleast_2d(np.asarray(v_km_s, dtype=float))
    rn = np.linalg.norm(r, axis=1)
    h = np.cross(r, v)
    hn = np.linalg.norm(h, axis=1)
    node = np.column_stack([-h[:, 1], h[:, 0], np.zeros(len(h))])
    nn = np.linalg.norm(node, axis=1)
    evec = np.cross(v, h) / gm_km3_s2 - r / rn[:, None]
    e = np.linalg.norm(evec, axis=1)
    energy = 0.5 * np.einsum("ij,ij->i", v, v) - gm_km3_s2 / rn
    a = -gm_km3_s2 / (2.0 * energy)
    inc = np.degrees(np.arccos(np.clip(h[:, 2] / hn, -1, 1)))
    raan = np.degrees(np.arctan2(node[:, 1], node[:, 0])) % 360.0
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_w = np.einsum("ij,ij->i", node, evec) / (nn * e)
        argp = np.degrees(np.arccos(np.clip(cos_w, -1, 1)))
        argp = np.where(evec[:, 2] < 0, 360.0 - argp, argp)
        cos_nu = np.einsum("ij,ij->i", evec, r) / (e * rn)
        ta = np.degrees(np.arccos(np.clip(cos_nu, -1, 1)))
        ta = np.where(np.einsum("ij,ij->i", r, v) < 0, 360.0 - ta, ta)
    return {"a_km": a, "e": e, "i_deg": inc, "raan_deg": raan, "argp_deg": argp, "ta_deg": ta}


# --------------------------------------------------------------------------- force tables


@dataclass(frozen=True)
class _Tables:
    """Uniform tables (TDB seconds from the epoch) the right-hand side interpolates."""

    t0_s: float
    step_s: float
    rot: NDArray[np.float64]  # (N, 9) ICRF → MOON_PA, row-major
    earth_km: NDArray[np.float64]  # (N, 3) Earth from the Moon, ICRF
    sun_km: NDArray[np.float64]  # (N, 3) Sun from the Moon, ICRF


def _build_tables(
    epoch: datetime, tdb_start_s: float, tdb_end_s: float, step_s: float = _TABLE_STEP_S
) -> _Tables:
    from falak.dynamics.moonframes import ephemeris, icrf_to_moon_pa, timescale

    t_epoch = utc_times(epoch, 0.0)
    jd_whole = float(np.asarray(t_epoch.whole).ravel()[0])
    jd_frac = float(np.asarray(t_epoch.tdb_fraction).ravel()[0])
    n = math.ceil((tdb_end_s - tdb_start_s) / step_s) + 5
    grid_s = tdb_start_s - 2 * step_s + step_s * np.arange(n)
    t = timescale().tdb_jd(jd_whole, jd_frac + grid_s / 86400.0)
    rot = icrf_to_moon_pa(t).reshape(n, 9)
    eph = ephemeris()
    moon = eph["moon"]
    earth_km = (eph["earth"] - moon).at(t).position.km.T.copy()
    sun_km = (eph["sun"] - moon).at(t).position.km.T.copy()
    return _Tables(float(grid_s[0]), step_s, rot, earth_km, sun_km)


@njit(cache=True)
def _lagrange4(
    tab: NDArray[np.float64], t0: float, h: float, t: float, out: NDArray[np.float64]
) -> None:
    x = (t - t0) / h
    k = math.floor(x)
    if k < 1:
        k = 1
    elif k > tab.shape[0] - 3:
        k = tab.shape[0] - 3
    u = x - k
    w0 = -u * (u - 1.0) * (u - 2.0) / 6.0
    w1 = (u + 1.0) * (u - 1.0) * (u - 2.0) / 2.0
    w2 = -(u + 1.0) * u * (u - 2.0) / 2.0
    w3 = (u + 1.0) * u * (u - 1.0) / 6.0
    for j in range(tab.shape[1]):
        out[j] = w0 * tab[k - 1, j] + w1 * tab[k, j] + w2 * tab[k + 1, j] + w3 * tab[k + 2, j]


@njit(cache=True)
def _rhs(
    t: float,
    y: NDArray[np.float64],
    c: NDArray[np.float64],
    s: NDArray[np.float64],
    f: NDArray[np.float64],
    gm: float,
    radius: float,
    t0: float,
    h: float,
    rot_tab: NDArray[np.float64],
    earth_tab: NDArray[np.float64],
    sun_tab: NDArray[np.float64],
    gm_earth: float,
    gm_sun: float,
    scratch: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None:
    """dy/dt for y = (r, v) Moon-centred ICRF; ``scratch`` is (2, N+3, N+3) for V̄/W̄."""
    x, yy, z = y[0], y[1], y[2]
    if c.shape[0] == 1:
        # Point mass: no frame rotation needed.
        r2 = x * x + yy * yy + z * z
        k = -gm / (r2 * math.sqrt(r2))
        ax, ay, az = k * x, k * yy, k * z
    else:
        m = np.empty(9)
        _lagrange4(rot_tab, t0, h, t, m)
        px = m[0] * x + m[1] * yy + m[2] * z
        py = m[3] * x + m[4] * yy + m[5] * z
        pz = m[6] * x + m[7] * yy + m[8] * z
        bx, by, bz = _accel_one(px, py, pz, c, s, f, gm, radius, scratch[0], scratch[1])
        ax = m[0] * bx + m[3] * by + m[6] * bz
        ay = m[1] * bx + m[4] * by + m[7] * bz
        az = m[2] * bx + m[5] * by + m[8] * bz
    d = np.empty(3)
    for body in range(2):
        gmb = gm_earth if body == 0 else gm_sun
        if gmb == 0.0:
            continue
        tab = earth_tab if body == 0 else sun_tab
        _lagrange4(tab, t0, h, t, d)
        dx, dy, dz = d[0] - x, d[1] - yy, d[2] - z
        q = dx * dx + dy * dy + dz * dz
        q3 = q * math.sqrt(q)
        p = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        p3 = p * math.sqrt(p)
        ax += gmb * (dx / q3 - d[0] / p3)
        ay += gmb * (dy / q3 - d[1] / p3)
        az += gmb * (dz / q3 - d[2] / p3)
    out[0] = y[3]
    out[1] = y[4]
    out[2] = y[5]
    out[3] = ax
    out[4] = ay
    out[5] = az


@njit(cache=True)
def _dop853(
    y0: NDArray[np.float64],
    t_out: NDArray[np.float64],
    rtol: float,
    atol: float,
    h_init: float,
    A: NDArray[np.float64],
    B: NDArray[np.float64],
    C: NDArray[np.float64],
    E3: NDArray[np.float64],
    E5: NDArray[np.float64],
    c: NDArray[np.float64],
    s: NDArray[np.float64],
    f: NDArray[np.float64],
    gm: float,
    radius: float,
    t0: float,
    h_tab: float,
    rot_tab: NDArray[np.float64],
    earth_tab: NDArray[np.float64],
    sun_tab: NDArray[np.float64],
    gm_earth: float,
    gm_sun: float,
    max_steps: int,
    min_radius: float,
) -> tuple[NDArray[np.float64], int, int, int]:
    """Integrate from t_out[0] through each t_out; return (states, n_rhs, n_steps, status).

    status 0 = done, 1 = too many steps, 2 = the radius fell below ``min_radius`` (the states
    returned end at the last output epoch reached).
    """
    nstage = B.shape[0]
    n = y0.shape[0]
    nn = c.shape[0] + 3
    scratch = np.zeros((2, nn, nn))
    out = np.empty((t_out.shape[0], n))
    K = np.empty((nstage + 1, n))
    y = y0.copy()
    out[0] = y
    t = t_out[0]
    fcur = np.empty(n)
    _rhs(
        t,
        y,
        c,
        s,
        f,
        gm,
        radius,
        t0,
        h_tab,
        rot_tab,
        earth_tab,
        sun_tab,
        gm_earth,
        gm_sun,
        scratch,
        fcur,
    )
    n_rhs = 1
    n_steps = 0
    h = h_init
    ytmp = np.empty(n)
    ynew = np.empty(n)
    fnew = np.empty(n)
    for j in range(1, t_out.shape[0]):
        target = t_out[j]
        while t < target:
            if n_steps >= max_steps:
                return out[:j], n_rhs, n_steps, 1
            clipped = False
            h_try = h
            if t + h_try >= target:
                h_try = target - t
                clipped = True
            rejected = False
            while True:
                K[0] = fcur
                # One call site for the right-hand side keeps numba's compile time down: stages
                # 1..nstage−1 at t + C·h, then stage nstage is the new state at t + h (FSAL).
                for st in range(1, nstage + 1):
                    if st < nstage:
                        for i in range(n):
                            acc = 0.0
                            for q in range(st):
                                acc += A[st, q] * K[q, i]
                            ytmp[i] = y[i] + h_try * acc
                        tt = t + C[st] * h_try
                    else:
                        for i in range(n):
                            acc = 0.0
                            for q in range(nstage):
                                acc += B[q] * K[q, i]
                            ytmp[i] = y[i] + h_try * acc
                            ynew[i] = ytmp[i]
                        tt = t + h_try
                    _rhs(
                        tt,
                        ytmp,
                        c,
                        s,
                        f,
                        gm,
                        radius,
                        t0,
                        h_tab,
                        rot_tab,
                        earth_tab,
                        sun_tab,
                        gm_earth,
                        gm_sun,
                        scratch,
                        K[st],
                    )
                fnew[:] = K[nstage]
                n_rhs += nstage
                err5 = 0.0
                err3 = 0.0
                for i in range(n):
                    sc = atol + max(abs(y[i]), abs(ynew[i])) * rtol
                    e5 = 0.0
                    e3 = 0.0
                    for q in range(nstage + 1):
                        e5 += E5[q] * K[q, i]
                        e3 += E3[q] * K[q, i]
                    err5 += (e5 / sc) ** 2
                    err3 += (e3 / sc) ** 2
                denom = err5 + 0.01 * err3
                err = abs(h_try) * err5 / math.sqrt(denom * n) if denom > 0.0 else 0.0
                if err < 1.0:
                    factor = 10.0 if err == 0.0 else min(10.0, 0.9 * err ** (-1.0 / 8.0))
                    if rejected:
                        factor = min(1.0, factor)
                    h_next = h_try * factor
                    break
                rejected = True
                clipped = False
                h_try *= max(0.2, 0.9 * err ** (-1.0 / 8.0))
            n_steps += 1
            t = t + h_try if not (t + h_try >= target) else target
            y[:] = ynew
            fcur[:] = fnew
            if y[0] * y[0] + y[1] * y[1] + y[2] * y[2] < min_radius * min_radius:
                return out[:j], n_rhs, n_steps, 2
            # A step cut short to land on an output epoch does not shrink the next step.
            h = h_next if not clipped else max(h, h_next)
        out[j] = y
    return out, n_rhs, n_steps, 0


def _dop853_coefficients() -> tuple[NDArray[np.float64], ...]:
    from scipy.integrate._ivp import dop853_coefficients as dc

    ns = dc.N_STAGES
    return (
        np.ascontiguousarray(dc.A[:ns, :ns]),
        np.ascontiguousarray(dc.B),
        np.ascontiguousarray(dc.C[:ns]),
        np.ascontiguousarray(dc.E3),
        np.ascontiguousarray(dc.E5),
    )


@dataclass(frozen=True)
class _Problem:
    field: GravityField
    factors: NDArray[np.float64]
    tables: _Tables
    gm_earth: float
    gm_sun: float

    def args(self) -> tuple[Any, ...]:
        tb = self.tables
        return (
            self.field.c,
            self.field.s,
            self.factors,
            self.field.gm_km3_s2,
            self.field.radius_km,
            tb.t0_s,
            tb.step_s,
            tb.rot,
            tb.earth_km,
            tb.sun_km,
            self.gm_earth,
            self.gm_sun,
        )

    def rhs(self) -> Callable[[float, NDArray[np.float64]], NDArray[np.float64]]:
        """Return ``f(t_tdb_s, y) -> dy/dt`` for use with scipy's ``solve_ivp``."""
        args = self.args()
        nn = self.field.c.shape[0] + 3
        scratch = np.zeros((2, nn, nn))

        def fun(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
            out = np.empty(6)
            # numba's Dispatcher stub declares no parameters; the call matches _rhs above.
            _rhs(float(t), np.ascontiguousarray(y, dtype=float), *args, scratch, out)  # type: ignore[call-arg]
            return out

        return fun


def right_hand_side(
    epoch: datetime, tdb_end_s: float, force: ForceModel | None = None
) -> Callable[[float, NDArray[np.float64]], NDArray[np.float64]]:
    """Return the compiled force model as ``f(t, y)`` for ``scipy.integrate.solve_ivp``.

    ``t`` is TDB seconds since ``epoch`` (valid from 0 to ``tdb_end_s``), ``y`` the
    Moon-centred ICRF state (km, km/s). This is the function :func:`propagate` integrates.
    """
    return _problem(epoch, tdb_end_s, force or ForceModel()).rhs()


def _problem(epoch: datetime, tdb_end_s: float, force: ForceModel) -> _Problem:
    grav = force.field()
    unknown = set(force.third_bodies) - {"earth", "sun"}
    if unknown:
        raise InputError(f"unknown third bodies {sorted(unknown)}; allowed: 'earth', 'sun'")
    tables = _build_tables(epoch, min(0.0, tdb_end_s), max(0.0, tdb_end_s))
    return _Problem(
        grav,
        recursion_factors(grav.degree),
        tables,
        GM_EARTH_KM3_S2 if "earth" in force.third_bodies else 0.0,
        GM_SUN_KM3_S2 if "sun" in force.third_bodies else 0.0,
    )


def propagate(
    epoch: datetime,
    r0_km: ArrayLike,
    v0_km_s: ArrayLike,
    duration_s: float,
    step_s: float = 60.0,
    force: ForceModel | None = None,
    *,
    rtol: float = 1e-11,
    atol: float = 1e-9,
    max_steps: int = 10_000_000,
) -> Trajectory:
    """Propagate a lunar orbiter and sample it every ``step_s`` UTC seconds.

    Parameters
    ----------
    epoch
        Timezone-aware UTC epoch of the initial state.
    r0_km, v0_km_s
        Initial position (km) and velocity (km/s), Moon-centred ICRF axes.
    duration_s
        Span to propagate, seconds (> 0); the last sample is at or before the end.
    step_s
        Output spacing in UTC seconds.
    force
        The force model (GRGM1200A degree 8, Earth and Sun by default).
    rtol, atol
        Integrator tolerances (atol in km and km/s).

    Raises
    ------
    InputError
        For a bad epoch, span or state, or a span outside the Moon kernels (1900–2050), or an
        orbit that hits the Moon.
    """
    from falak.dynamics.moonframes import MOON_RADIUS_KM, check_time_span

    force = force or ForceModel()
    r0 = np.asarray(r0_km, dtype=float).reshape(3)
    v0 = np.asarray(v0_km_s, dtype=float).reshape(3)
    if not (np.all(np.isfinite(r0)) and np.all(np.isfinite(v0))):
        raise InputError("initial state must be finite numbers (km, km/s)")
    if np.linalg.norm(r0) < MOON_RADIUS_KM:
        raise InputError(
            f"initial position is {np.linalg.norm(r0):.1f} km from the Moon's centre, inside "
            f"the {MOON_RADIUS_KM} km sphere"
        )
    if not (duration_s > 0 and step_s > 0 and math.isfinite(duration_s)):
        raise InputError(f"duration and step must be > 0 s, got {duration_s} and {step_s}")
    if epoch.tzinfo is None:
        raise InputError(f"epoch {epoch.isoformat()} has no time zone; give UTC, e.g. '...Z'")
    check_time_span(epoch)
    check_time_span(epoch + timedelta(seconds=duration_s))
    n_out = math.floor(duration_s / step_s + 1e-9) + 1
    if n_out > _MAX_OUTPUT_STATES:
        raise InputError(
            f"{n_out} output states requested (duration {duration_s:g} s / step {step_s:g} s); "
            f"at most {_MAX_OUTPUT_STATES:,} — use a longer step"
        )
    t_utc: NDArray[np.float64] = step_s * np.arange(n_out, dtype=np.float64)
    t_sky = utc_times(epoch, t_utc)
    tdb_s = _tdb_seconds(t_sky, utc_times(epoch, 0.0))
    tdb_s[0] = 0.0
    prob = _problem(epoch, float(tdb_s[-1]), force)
    A, B, C, E3, E5 = _dop853_coefficients()
    # numba's Dispatcher stub declares no parameters; the call matches _dop853 above.
    states, n_rhs, n_steps, status = _dop853(  # type: ignore[call-arg]
        np.concatenate([r0, v0]),
        tdb_s,
        rtol,
        atol,
        min(10.0, step_s),
        A,
        B,
        C,
        E3,
        E5,
        *prob.args(),
        max_steps,
        MOON_RADIUS_KM,
    )
    if status == 1:
        raise InputError(f"integration stopped after {max_steps} steps; loosen rtol/atol")
    if status == 2:
        raise InputError(
            f"the orbit hits the Moon (the {MOON_RADIUS_KM} km sphere) between "
            f"{t_utc[len(states) - 1]:.0f} s and {t_utc[len(states)]:.0f} s after the epoch"
        )
    meta = {
        "degree": prob.field.degree,
        "third_bodies": list(force.third_bodies),
        "n_rhs": n_rhs,
        "n_steps": n_steps,
        "rtol": rtol,
        "atol": atol,
    }
    return Trajectory(
        epoch.astimezone(UTC), t_utc, tdb_s, states[:, :3].copy(), states[:, 3:].copy(), meta
    )
