"""Moon body-fixed frames MOON_PA and MOON_ME, and the ephemeris and time scale behind them.

The Moon principal-axis frame (MOON_PA, realised as ``MOON_PA_DE421``) comes from the binary PCK
``moon_pa_de421_1900-2050.bpc`` (NAIF, derived from the DE421 lunar librations) and the mean-Earth
frame (MOON_ME, ``MOON_ME_DE421``) from the constant rotation in the frames kernel
``moon_080317.tf``; both kernels ship inside the ``lunarsky`` wheel. We read them with skyfield's
:class:`~skyfield.planetarylib.PlanetaryConstants` (never with lunarsky's own transforms, which
download DE430) and evaluate the PCK Chebyshev series for whole arrays of epochs at once with
jplephem, so one call gives the rotation matrices for a year of 1-minute steps.

The PCK's base frame is NAIF ``J2000`` (frame 1). As in SPICE and skyfield, the DE421 ephemeris
vectors are taken as being in that frame, so ``icrf_to_moon_*`` apply to skyfield/DE421 ICRF
vectors directly (the matrices are what SPICE's ``pxform('J2000', 'MOON_ME', et)`` returns).

Lunar radius: :data:`MOON_RADIUS_KM` = 1737.4 km, the sphere of the LOLA products.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError

if TYPE_CHECKING:
    from skyfield.api import Timescale
    from skyfield.jpllib import SpiceKernel
    from skyfield.planetarylib import PlanetaryConstants
    from skyfield.timelib import Time

__all__ = [
    "BPC_FILE",
    "FK_FILE",
    "MOON_RADIUS_KM",
    "PA_TO_ME",
    "ChebyshevSegment",
    "check_time_span",
    "ephemeris",
    "icrf_to_moon_me",
    "icrf_to_moon_pa",
    "planetary_constants",
    "spk_segment",
    "time_span",
    "timescale",
]

#: Mean lunar radius of the LOLA products (sphere), km.
MOON_RADIUS_KM = 1737.4


def _package_dir(name: str) -> Path:
    """Return a package's folder without importing it (``import lunarsky`` pulls in astropy)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"package {name!r} is not installed; pip install {name}")
    return Path(next(iter(spec.submodule_search_locations)))


_LUNARSKY_DATA = _package_dir("lunarsky") / "data"
#: Binary PCK with the DE421 lunar librations (MOON_PA_DE421, NAIF frame 31006).
BPC_FILE = _LUNARSKY_DATA / "pck" / "moon_pa_de421_1900-2050.bpc"
#: Frames kernel defining MOON_ME_DE421 relative to MOON_PA_DE421.
FK_FILE = _LUNARSKY_DATA / "fk" / "satellites" / "moon_080317.tf"

_MOON_PA_FRAME_ID = 31006  # MOON_PA_DE421 in moon_080317.tf
_J2000_JD = 2451545.0


@functools.cache
def timescale() -> Timescale:
    """Return skyfield's time scale with its built-in leap seconds and ΔT (no expiring files)."""
    from skyfield.api import load

    return load.timescale(builtin=True)


@functools.cache
def ephemeris() -> SpiceKernel:
    """Return the DE421 ephemeris bundled with ``skyfield-data`` (one module-level instance).

    The Loader points straight at the package's data folder, so no expiry check of
    ``finals2000A.all`` happens and nothing is downloaded. The file stays open for the life of
    the process and is closed at exit (no ``ResourceWarning``).
    """
    from skyfield.api import Loader

    data_dir = str(_package_dir("skyfield_data") / "data")
    eph = Loader(data_dir, verbose=False)("de421.bsp")
    atexit.register(eph.close)
    return eph


@functools.cache
def planetary_constants() -> PlanetaryConstants:
    """Return skyfield ``PlanetaryConstants`` loaded with the Moon FK and binary PCK.

    ``BODY301_RADII`` is set to the LOLA sphere, 1737.4 km, so that
    ``build_latlon_degrees`` places sites on the same sphere as falak.
    """
    from skyfield.planetarylib import PlanetaryConstants

    pc = PlanetaryConstants()
    pc.read_text(open(FK_FILE, "rb"))  # noqa: SIM115 - read_text closes the file itself
    pc.read_binary(open(BPC_FILE, "rb"))  # noqa: SIM115 - kept open for the process
    pc.variables["BODY301_RADII"] = [MOON_RADIUS_KM] * 3
    for pck in pc._binary_files:  # close the kernel file at exit, not before
        atexit.register(pck.close)
    return pc


@functools.cache
def _pa_segment() -> Any:
    """Return the jplephem segment of the binary PCK that orients MOON_PA_DE421."""
    from jplephem.pck import PCK

    pck = PCK.open(str(BPC_FILE))
    atexit.register(pck.close)
    for segment in pck.segments:
        if segment.body == _MOON_PA_FRAME_ID:
            return segment
    raise InputError(f"{BPC_FILE} has no segment for frame {_MOON_PA_FRAME_ID} (MOON_PA_DE421)")


def _pa_to_me() -> NDArray[np.float64]:
    """Build the constant MOON_PA→MOON_ME rotation from the TKFRAME angles of the FK."""
    variables = planetary_constants().variables
    frame = variables["FRAME_MOON_ME_DE421"]
    angles = np.radians(np.asarray(variables[f"TKFRAME_{frame}_ANGLES"], dtype=float) / 3600.0)
    axes = variables[f"TKFRAME_{frame}_AXES"]
    units = variables[f"TKFRAME_{frame}_UNITS"]
    if units != "ARCSECONDS":
        raise InputError(f"{FK_FILE}: expected TKFRAME angles in ARCSECONDS, found {units}")
    matrix = np.eye(3)
    for angle, axis in zip(angles, axes, strict=True):
        # SPICE TK frame: R = [angle_3]_axis3 [angle_2]_axis2 [angle_1]_axis1 with the
        # angles applied with opposite sign (the FK rotates the *frame*, see moon_080317.tf).
        matrix = _axis_rotation(int(axis), -float(angle)) @ matrix
    return matrix


def _axis_rotation(axis: int, angle_rad: float) -> NDArray[np.float64]:
    """Return the passive (frame) rotation about coordinate axis 1, 2 or 3 by ``angle_rad``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    if axis == 1:
        return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
    if axis == 2:
        return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


#: Constant rotation MOON_PA_DE421 → MOON_ME_DE421 from ``moon_080317.tf``
#: (67.92″, 78.56″, 0.30″ about axes 3, 2, 1): ``r_me = PA_TO_ME @ r_pa``.
PA_TO_ME: NDArray[np.float64] = _pa_to_me()
PA_TO_ME.setflags(write=False)


@numba.njit(cache=True)
def _chebyshev(
    coefficients: NDArray[np.float64],
    init_s: float,
    interval_s: float,
    whole_jd: NDArray[np.float64],
    fraction_days: NDArray[np.float64],
    values: NDArray[np.float64],
    rates: NDArray[np.float64],
    want_rates: bool,
) -> None:  # pragma: no cover - compiled by numba; tested through its callers
    n_records, n_components, n_coefficients = coefficients.shape
    for k in range(whole_jd.shape[0]):
        seconds = (whole_jd[k] - _J2000_JD) * 86400.0 - init_s + fraction_days[k] * 86400.0
        index = int(np.floor(seconds / interval_s))
        index = min(max(index, 0), n_records - 1)  # callers check the span first
        s = 2.0 * (seconds - index * interval_s) / interval_s - 1.0
        for c in range(n_components):
            t_prev, t_curr = 1.0, s
            u_prev, u_curr = 1.0, 2.0 * s  # Chebyshev U, for d/ds T_j = j U_(j-1)
            value = coefficients[index, c, 0] + coefficients[index, c, 1] * s
            rate = coefficients[index, c, 1]
            for j in range(2, n_coefficients):
                t_prev, t_curr = t_curr, 2.0 * s * t_curr - t_prev
                value += coefficients[index, c, j] * t_curr
                if want_rates:
                    rate += j * coefficients[index, c, j] * u_curr
                    u_prev, u_curr = u_curr, 2.0 * s * u_curr - u_prev
            values[c, k] = value
            if want_rates:
                rates[c, k] = rate * 2.0 / interval_s


class ChebyshevSegment:
    """One type-2 Chebyshev segment of a DAF file (SPK or binary PCK), evaluated with numba.

    jplephem evaluates these with NumPy temporaries of (coefficients × 3 × N); for 10^5–10^6
    epochs this compiled loop is several times faster and uses no temporaries. Results agree
    with jplephem to round-off (tested).
    """

    def __init__(self, segment: Any, component_count: int = 3) -> None:
        daf = segment.daf
        init_s, interval_s, record_size, n_records = daf.read_array(
            segment.end_i - 3, segment.end_i
        )
        data = np.asarray(daf.map_array(segment.start_i, segment.end_i - 4), dtype=np.float64)
        n_coefficients = (int(record_size) - 2) // component_count
        records = data.reshape(int(n_records), int(record_size))[:, 2:]
        self.coefficients = np.ascontiguousarray(
            records.reshape(int(n_records), component_count, n_coefficients)
        )
        self.init_s = float(init_s)
        self.interval_s = float(interval_s)
        self.component_count = component_count

    def _run(
        self, whole_jd: Any, fraction_days: Any, want_rates: bool
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        whole, fraction = np.broadcast_arrays(
            np.atleast_1d(np.asarray(whole_jd, dtype=np.float64)),
            np.atleast_1d(np.asarray(fraction_days, dtype=np.float64)),
        )
        whole = np.ascontiguousarray(whole)
        fraction = np.ascontiguousarray(fraction)
        n = whole.shape[0]
        values = np.empty((self.component_count, n))
        rates = np.empty((self.component_count, n if want_rates else 0))
        _chebyshev(
            self.coefficients,
            self.init_s,
            self.interval_s,
            whole,
            fraction,
            values,
            rates,
            want_rates,
        )
        return values, rates

    def compute(self, whole_jd: Any, fraction_days: Any = 0.0) -> NDArray[np.float64]:
        """Return the components at TDB ``whole_jd + fraction_days``, shape (components, N)."""
        return self._run(whole_jd, fraction_days, False)[0]

    def compute_and_differentiate(
        self, whole_jd: Any, fraction_days: Any = 0.0
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return components (components, N) and their rates per **second** (components, N)."""
        return self._run(whole_jd, fraction_days, True)


@functools.cache
def spk_segment(center: int, target: int) -> ChebyshevSegment:
    """Return the DE421 segment ``center → target`` (NAIF ids) as a compiled evaluator (km)."""
    return ChebyshevSegment(ephemeris().spk[center, target])


@functools.cache
def _pa_series() -> ChebyshevSegment:
    return ChebyshevSegment(_pa_segment())


@functools.cache
def time_span() -> tuple[datetime, datetime]:
    """Return the UTC span (first, last) in which both the PCK and DE421 are valid."""
    ts = timescale()
    eph = ephemeris()
    segment = _pa_segment()
    start_jd = max(segment.initial_jd, max(s.spk_segment.start_jd for s in eph.segments))
    end_jd = min(segment.final_jd, min(s.spk_segment.end_jd for s in eph.segments))
    # One day of margin so TDB/UTC offsets and light-time iterations never step outside.
    # Whole days, so the span reads simply (1900-01-02 to 2050-12-30).
    first: datetime = ts.tdb_jd(start_jd + 1.0).utc_datetime()
    last: datetime = ts.tdb_jd(end_jd - 1.0).utc_datetime()
    first = first.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    last = last.replace(hour=0, minute=0, second=0, microsecond=0)
    return first, last


def _span_text() -> str:
    first, last = time_span()
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d} UTC (DE421 and moon_pa_de421_1900-2050.bpc)"


def check_time_span(t: Time | datetime | Any) -> None:
    """Raise :class:`~falak.errors.InputError` if any epoch is outside the kernels' span.

    Parameters
    ----------
    t
        A skyfield ``Time`` (scalar or array), a timezone-aware ``datetime``, or an array of
        ``numpy.datetime64`` (UTC).
    """
    first, last = time_span()
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise InputError(f"time {t.isoformat()} has no time zone; give UTC, e.g. '...Z'")
        lo = hi = t
    elif isinstance(t, np.ndarray) and np.issubdtype(t.dtype, np.datetime64):
        if t.size == 0:
            return
        first64 = np.datetime64(first.replace(tzinfo=None), "ns")
        last64 = np.datetime64(last.replace(tzinfo=None), "ns")
        bad = t.min() if t.min() < first64 else t.max()
        if bad < first64 or bad > last64:
            when = np.datetime_as_string(bad, unit="s")
            raise InputError(f"time {when}Z is outside the Moon kernels; allowed: {_span_text()}")
        return
    else:
        tdb = np.atleast_1d(np.asarray(t.tdb, dtype=float))
        if tdb.size == 0:
            return
        ts = timescale()
        lo_jd, hi_jd = float(tdb.min()), float(tdb.max())
        if ts.tdb_jd(lo_jd).utc_datetime() >= first and ts.tdb_jd(hi_jd).utc_datetime() <= last:
            return
        lo, hi = ts.tdb_jd(lo_jd).utc_datetime(), ts.tdb_jd(hi_jd).utc_datetime()
    if lo < first or hi > last:
        when = lo.isoformat() if lo < first else hi.isoformat()
        raise InputError(f"time {when} is outside the Moon kernels; allowed: {_span_text()}")


def _angles(t: Time) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    check_time_span(t)
    whole = np.atleast_1d(np.asarray(t.whole, dtype=float))
    fraction = np.atleast_1d(np.asarray(t.tdb_fraction, dtype=float))
    whole, fraction = np.broadcast_arrays(whole, fraction)
    ra, dec, w = _pa_series().compute(whole, fraction)
    return ra, dec, w


def _euler_313(
    ra: NDArray[np.float64], dec: NDArray[np.float64], w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Return R3(w) R1(dec) R3(ra) (passive rotations) for arrays of angles, shape (N, 3, 3)."""
    ca, sa = np.cos(ra), np.sin(ra)
    cd, sd = np.cos(dec), np.sin(dec)
    cw, sw = np.cos(w), np.sin(w)
    m = np.empty((ra.shape[0], 3, 3))
    m[:, 0, 0] = cw * ca - sw * cd * sa
    m[:, 0, 1] = cw * sa + sw * cd * ca
    m[:, 0, 2] = sw * sd
    m[:, 1, 0] = -sw * ca - cw * cd * sa
    m[:, 1, 1] = -sw * sa + cw * cd * ca
    m[:, 1, 2] = cw * sd
    m[:, 2, 0] = sd * sa
    m[:, 2, 1] = -sd * ca
    m[:, 2, 2] = cd
    return m


def icrf_to_moon_pa(t: Time) -> NDArray[np.float64]:
    """Return rotation matrices ICRF (J2000) → MOON_PA_DE421, shape (N, 3, 3).

    ``r_pa = R[i] @ r_icrf`` at epoch ``t[i]``. A scalar ``Time`` gives shape (1, 3, 3).
    Raises :class:`~falak.errors.InputError` outside the PCK/DE421 span (see :func:`time_span`).
    """
    ra, dec, w = _angles(t)
    return _euler_313(ra, dec, w)


def icrf_to_moon_me(t: Time) -> NDArray[np.float64]:
    """Return rotation matrices ICRF (J2000) → MOON_ME_DE421, shape (N, 3, 3).

    ``r_me = R[i] @ r_icrf`` at epoch ``t[i]``; the LOLA topography is given in this frame.
    """
    rotation: NDArray[np.float64] = np.matmul(PA_TO_ME, icrf_to_moon_pa(t))
    return rotation
