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
import importlib.resources
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    "check_time_span",
    "ephemeris",
    "icrf_to_moon_me",
    "icrf_to_moon_pa",
    "planetary_constants",
    "time_span",
    "timescale",
]

#: Mean lunar radius of the LOLA products (sphere), km.
MOON_RADIUS_KM = 1737.4

_LUNARSKY_DATA = Path(str(importlib.resources.files("lunarsky") / "data"))
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

    data_dir = str(importlib.resources.files("skyfield_data") / "data")
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


@functools.cache
def time_span() -> tuple[datetime, datetime]:
    """Return the UTC span (first, last) in which both the PCK and DE421 are valid."""
    ts = timescale()
    eph = ephemeris()
    segment = _pa_segment()
    start_jd = max(segment.initial_jd, max(s.spk_segment.start_jd for s in eph.segments))
    end_jd = min(segment.final_jd, min(s.spk_segment.end_jd for s in eph.segments))
    # One day of margin so TDB/UTC offsets and light-time iterations never step outside.
    first: datetime = ts.tdb_jd(start_jd + 1.0).utc_datetime()
    last: datetime = ts.tdb_jd(end_jd - 1.0).utc_datetime()
    return first, last


def _span_text() -> str:
    first, last = time_span()
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d} UTC (DE421 with moon_pa_de421_1900-2050.bpc)"


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
        if t.min() < first64 or t.max() > last64:
            raise InputError(
                f"time {t.min()} … {t.max()} is outside the Moon kernels; allowed: {_span_text()}"
            )
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
    ra, dec, w = _pa_segment().compute(whole, fraction, derivative=False)
    return np.asarray(ra), np.asarray(dec), np.asarray(w)


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
