"""The sky of a lunar surface site: Sun and Earth azimuth/elevation, Earth distance, light time.

A site is a point on the LOLA sphere (radius 1737.4 km, :data:`~falak.dynamics.moonframes.
MOON_RADIUS_KM`) plus a height, at a selenographic latitude/longitude in the MOON_ME frame
(MOON_ME_DE421, the frame of the LOLA maps). For each epoch :func:`sky` computes the apparent
direction of the Sun and of the Earth as seen from the site, the way skyfield's
``observe(...).apparent()`` does:

* light time: the target is taken at the epoch its light left it (iterated to < 1 ns);
* aberration: the relativistic aberration of the site's barycentric velocity (the Moon's
  velocity plus the 4.6 m/s of lunar rotation at the equator);
* gravitational deflection is left out: for the Earth seen from the Moon it is ≲ 1 mas, and
  skyfield's default deflectors give the Sun no deflection of its own light.

Directions are then rotated into MOON_ME with :func:`~falak.dynamics.moonframes.icrf_to_moon_me`
and into the site's local east-north-up frame, whose "up" is the sphere normal (not the local
terrain). Azimuth counts from north through east; elevation is above that smooth horizon, with no
refraction (the Moon has no atmosphere). Real horizons (terrain) are added elsewhere on top of the
unit vectors :attr:`SkyResult.sun_enu` and :attr:`SkyResult.earth_enu`.

Everything is evaluated for whole arrays of epochs with jplephem's Chebyshev series on DE421,
so a year at 1-minute steps (525,600 epochs) is one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from falak.dynamics import moonframes
from falak.errors import InputError

if TYPE_CHECKING:
    from skyfield.timelib import Time

__all__ = [
    "SOLAR_RADIUS_KM",
    "SPEED_OF_LIGHT_KM_S",
    "MoonSite",
    "SkyResult",
    "as_time",
    "disk_fraction_above_horizon",
    "sky",
    "to_datetime64",
]

#: Speed of light, km/s (exact, SI).
SPEED_OF_LIGHT_KM_S = 299_792.458
#: Nominal solar radius (IAU 2015 Resolution B3), km; gives 0.267° at 1 au.
SOLAR_RADIUS_KM = 695_700.0
_DAY_S = 86_400.0

# NAIF ids of the DE421 segments used here.
_SSB, _EMB, _SUN, _MOON, _EARTH = 0, 3, 10, 301, 399


@dataclass(frozen=True)
class MoonSite:
    """A site on the Moon: selenographic latitude/longitude in MOON_ME, height above 1737.4 km.

    Parameters
    ----------
    lat_deg
        Latitude, degrees, −90 … +90 (south negative).
    lon_deg
        East longitude, degrees; any value, normalised to (−180, 180].
    height_m
        Height above the LOLA sphere of radius 1737.4 km, metres.
    """

    lat_deg: float
    lon_deg: float
    height_m: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lat_deg", "lon_deg", "height_m"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"site {name} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise InputError(f"site {name} must be finite, got {value!r}")
            object.__setattr__(self, name, number)
        if abs(self.lat_deg) > 90.0:
            raise InputError(
                f"site latitude {self.lat_deg:g}° is outside −90…+90° (south negative)"
            )
        if self.height_m <= -moonframes.MOON_RADIUS_KM * 1e3:
            raise InputError(
                f"site height {self.height_m:g} m is below the Moon's centre; give metres above "
                f"the {moonframes.MOON_RADIUS_KM} km sphere"
            )
        lon = (self.lon_deg + 180.0) % 360.0 - 180.0
        if lon == -180.0:
            lon = 180.0
        object.__setattr__(self, "lon_deg", lon)

    @property
    def radius_km(self) -> float:
        """Distance from the Moon's centre, km (1737.4 km + height)."""
        return moonframes.MOON_RADIUS_KM + self.height_m * 1e-3

    @property
    def position_me_km(self) -> NDArray[np.float64]:
        """Position in MOON_ME, km, shape (3,)."""
        return self.radius_km * self.enu_to_me[:, 2]

    @property
    def enu_to_me(self) -> NDArray[np.float64]:
        """Matrix whose columns are the site's east, north, up unit vectors in MOON_ME."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl = math.sin(lat), math.cos(lat)
        so, co = math.sin(lon), math.cos(lon)
        east = [-so, co, 0.0]
        north = [-sl * co, -sl * so, cl]
        up = [cl * co, cl * so, sl]
        return np.array([east, north, up]).T


@dataclass
class SkyResult:
    """Sun and Earth as seen from a lunar site at N epochs; every array has length N.

    Angles in degrees: azimuth from north through east, 0…360; elevation above the horizontal
    plane of the sphere normal. ``sun_enu`` and ``earth_enu`` (N, 3) are unit vectors to the
    apparent Sun and Earth in the site's east-north-up frame.
    """

    time: NDArray[np.datetime64]
    sun_azimuth_deg: NDArray[np.float64]
    sun_elevation_deg: NDArray[np.float64]
    sun_distance_km: NDArray[np.float64]
    sun_disk_fraction: NDArray[np.float64]
    earth_azimuth_deg: NDArray[np.float64]
    earth_elevation_deg: NDArray[np.float64]
    earth_distance_km: NDArray[np.float64]
    light_time_s: NDArray[np.float64]
    sun_enu: NDArray[np.float64] = field(repr=False)
    earth_enu: NDArray[np.float64] = field(repr=False)

    def __len__(self) -> int:
        return int(self.time.shape[0])


def to_datetime64(times: Any) -> NDArray[np.datetime64]:
    """Convert UTC times (aware datetimes, ISO strings or datetime64) to ``datetime64[ns]``."""
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        return times.astype("datetime64[ns]")
    if isinstance(times, datetime):
        times = [times]
    out = []
    for value in times:
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise InputError(
                    f"time {value.isoformat()} has no time zone; give UTC, e.g. 2028-01-01T00:00Z"
                )
            offset = value.utcoffset()
            assert offset is not None
            value = (value - offset).replace(tzinfo=None)
        out.append(np.datetime64(value, "ns"))
    return np.array(out, dtype="datetime64[ns]")


def as_time(times: Any) -> Time:
    """Return a skyfield ``Time`` array for ``times`` (Time, datetime64[ns] UTC, or datetimes)."""
    if hasattr(times, "tdb") and hasattr(times, "whole"):
        return times
    ns = to_datetime64(times).astype(np.int64)
    days, rest_ns = np.divmod(ns, 86_400 * 10**9)
    ts = moonframes.timescale()
    return ts.utc(1970, 1, 1 + days, 0, 0, rest_ns * 1e-9)


def _times_as_datetime64(t: Time) -> NDArray[np.datetime64]:
    """Return the UTC epochs of a skyfield ``Time`` as ``datetime64[ns]`` (vectorised).

    A leap second (23:59:60.x) becomes the first instant of the next day, as datetime64 has none.
    """
    year, month, day, hour, minute, second = (np.atleast_1d(np.asarray(c)) for c in t.utc)
    months = (year.astype(np.int64) - 1970) * 12 + (month.astype(np.int64) - 1)
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (day.astype(np.int64) - 1)
    ns = (hour.astype(np.int64) * 60 + minute.astype(np.int64)) * 60 * 10**9 + np.round(
        second * 1e9
    ).astype(np.int64)
    result: NDArray[np.datetime64] = days.astype("datetime64[ns]") + ns.astype("timedelta64[ns]")
    return result


def disk_fraction_above_horizon(
    elevation_deg: NDArray[np.float64], angular_radius_deg: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Return the fraction of a uniform disk above a flat horizon.

    A disk of angular radius ``ρ`` centred at elevation ``h`` shows the fraction
    ``(π/2 + asin x + x√(1−x²)) / π`` with ``x = h/ρ`` clipped to [−1, 1] (small-disk, flat-sky
    approximation: error ≲ ρ² ≈ 2e−5 for the Sun).
    """
    x = np.clip(np.asarray(elevation_deg) / np.asarray(angular_radius_deg), -1.0, 1.0)
    fraction: NDArray[np.float64] = (np.pi / 2 + np.arcsin(x) + x * np.sqrt(1.0 - x * x)) / np.pi
    return fraction


def _segment(center: int, target: int) -> moonframes.ChebyshevSegment:
    return moonframes.spk_segment(center, target)


def _position(
    center: int, target: int, whole: NDArray[np.float64], fraction: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Chebyshev position of ``target`` wrt ``center`` (ICRF km), shape (3, N)."""
    return _segment(center, target).compute(whole, fraction)


def _barycentric(
    body: int, whole: NDArray[np.float64], fraction: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Barycentric ICRF position of the Sun, Earth or Moon, km, shape (3, N)."""
    if body == _SUN:
        return _position(_SSB, _SUN, whole, fraction)
    return _position(_SSB, _EMB, whole, fraction) + _position(_EMB, body, whole, fraction)


def _observe(
    body: int,
    observer_km: NDArray[np.float64],
    whole: NDArray[np.float64],
    fraction: NDArray[np.float64],
    iterations: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the light-time corrected vector observer→body (3, N) km and the light time, s.

    Each pass re-evaluates the ephemeris at the retarded epoch; the light-time error shrinks by
    v/c ≈ 1e−4 per pass, so 2 passes leave ≈ 1e−8 s (0.4 mm of Earth motion) and < 1e−9 s for
    the Sun.
    """
    light_time_s = np.zeros(whole.shape)
    vector = _barycentric(body, whole, fraction) - observer_km
    for _ in range(iterations):
        light_time_s = np.sqrt(np.einsum("in,in->n", vector, vector)) / SPEED_OF_LIGHT_KM_S
        vector = _barycentric(body, whole, fraction - light_time_s / _DAY_S) - observer_km
    light_time_s = np.sqrt(np.einsum("in,in->n", vector, vector)) / SPEED_OF_LIGHT_KM_S
    return vector, light_time_s


def _aberrate(
    vector_km: NDArray[np.float64], velocity_km_s: NDArray[np.float64], light_time_s: NDArray[Any]
) -> NDArray[np.float64]:
    """Apply relativistic aberration (IERS/NOVAS ``aber``, as in skyfield) to (3, N) vectors."""
    distance = light_time_s * SPEED_OF_LIGHT_KM_S
    speed = np.sqrt(np.einsum("in,in->n", velocity_km_s, velocity_km_s))
    beta = speed / SPEED_OF_LIGHT_KM_S
    cos_d = np.einsum("in,in->n", vector_km, velocity_km_s) / (distance * speed)
    gamma_inv = np.sqrt(1.0 - beta * beta)
    p = beta * cos_d
    q = (1.0 + p / (1.0 + gamma_inv)) * light_time_s
    result: NDArray[np.float64] = (gamma_inv * vector_km + q * velocity_km_s) / (1.0 + p)
    return result


def _az_el(
    enu: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Unit vectors (N, 3), azimuth and elevation in degrees from ENU vectors (N, 3)."""
    norm = np.sqrt(np.einsum("ni,ni->n", enu, enu))
    unit = enu / norm[:, None]
    azimuth = np.degrees(np.arctan2(unit[:, 0], unit[:, 1])) % 360.0
    elevation = np.degrees(np.arcsin(np.clip(unit[:, 2], -1.0, 1.0)))
    return unit, azimuth, elevation


def site_icrf_km(
    site: MoonSite, t: Time
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Return the site's barycentric ICRF position and velocity (3, N) and ICRF→ENU (N, 3, 3).

    Position in km, velocity in km/s (Moon's barycentric velocity plus the rotation of the
    MOON_ME frame, by a centred difference of the rotation over ±60 s).
    """
    moonframes.check_time_span(t)
    whole = np.atleast_1d(np.asarray(t.whole, dtype=float))
    fraction = np.atleast_1d(np.asarray(t.tdb_fraction, dtype=float))
    whole, fraction = (np.ascontiguousarray(a) for a in np.broadcast_arrays(whole, fraction))
    icrf_to_me = moonframes.icrf_to_moon_me(t)
    site_me = site.position_me_km
    # r_icrf = R^T r_me for every epoch.
    offset_km = np.einsum("nji,j->in", icrf_to_me, site_me)
    emb = _segment(_SSB, _EMB).compute_and_differentiate(whole, fraction)
    moon = _segment(_EMB, _MOON).compute_and_differentiate(whole, fraction)
    position = emb[0] + moon[0] + offset_km
    velocity = emb[1] + moon[1]
    # Rotation of the Moon: ω × r ≈ 4.6 m/s at the equator; its aberration is ≲ 3 mas but cheap.
    omega_rad_s = 2.0 * np.pi / (27.321661 * _DAY_S)
    pole = icrf_to_me[:, 2, :].T  # MOON_ME z axis in ICRF, (3, N)
    velocity = velocity + omega_rad_s * np.cross(pole, offset_km, axis=0)
    icrf_to_enu = np.einsum("ji,njk->nik", site.enu_to_me, icrf_to_me)
    return position, velocity, icrf_to_enu


def sky(site: MoonSite, times: Any) -> SkyResult:
    """Compute the apparent Sun and Earth seen from ``site`` at each epoch.

    Parameters
    ----------
    site
        The lunar surface site (MOON_ME, sphere of 1737.4 km).
    times
        UTC epochs: a skyfield ``Time`` array, a ``datetime64`` array (UTC) or a sequence of
        timezone-aware ``datetime``.

    Returns
    -------
    SkyResult
        Arrays of length N. ``earth_distance_km`` is the light-time distance to the Earth's
        centre (``light_time_s`` × c); ``sun_disk_fraction`` is the part of the solar disk
        (radius 695,700 km at the actual distance) above the smooth horizon.

    Raises
    ------
    InputError
        If an epoch is outside 1900–2050 (DE421 and the Moon PCK).
    """
    if isinstance(times, Sequence) and not isinstance(times, str) and len(times) == 0:
        raise InputError("no times given; give at least one UTC epoch")
    if hasattr(times, "tdb") and hasattr(times, "whole"):
        t = times
        time64 = _times_as_datetime64(t)
    else:
        time64 = to_datetime64(times)
        moonframes.check_time_span(time64)
        t = as_time(time64)
    observer, velocity, icrf_to_enu = site_icrf_km(site, t)
    whole = np.ascontiguousarray(np.broadcast_to(np.asarray(t.whole, dtype=float), time64.shape))
    fraction = np.ascontiguousarray(
        np.broadcast_to(np.asarray(t.tdb_fraction, dtype=float), time64.shape)
    )

    results = {}
    for name, body in (("sun", _SUN), ("earth", _EARTH)):
        vector, light_time_s = _observe(body, observer, whole, fraction, iterations=2)
        apparent = _aberrate(vector, velocity, light_time_s)
        enu = np.einsum("nij,jn->ni", icrf_to_enu, apparent)
        unit, azimuth, elevation = _az_el(enu)
        results[name] = (unit, azimuth, elevation, light_time_s)

    sun_unit, sun_az, sun_el, sun_lt = results["sun"]
    earth_unit, earth_az, earth_el, earth_lt = results["earth"]
    sun_distance_km = sun_lt * SPEED_OF_LIGHT_KM_S
    sun_radius_deg = np.degrees(np.arcsin(SOLAR_RADIUS_KM / sun_distance_km))
    return SkyResult(
        time=time64,
        sun_azimuth_deg=sun_az,
        sun_elevation_deg=sun_el,
        sun_distance_km=sun_distance_km,
        sun_disk_fraction=disk_fraction_above_horizon(sun_el, sun_radius_deg),
        earth_azimuth_deg=earth_az,
        earth_elevation_deg=earth_el,
        earth_distance_km=earth_lt * SPEED_OF_LIGHT_KM_S,
        light_time_s=earth_lt,
        sun_enu=sun_unit,
        earth_enu=earth_unit,
    )
