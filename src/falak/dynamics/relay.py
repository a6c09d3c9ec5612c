"""A relay satellite in lunar orbit: Keplerian propagation and visibility from the Moon and Earth.

The relay (Queqiao-2-like: ~200 × 16,000 km altitude, inclination 62.4°, period ~24 h; CNSA) is
propagated as a two-body Kepler orbit about the Moon with GM = 4902.8001224453 km³/s² (GRAIL
GRGM1200A). That ignores the Earth's and Sun's pull, which move such a high orbit by tens of km
per day: good for planning visibility over days, not for navigation.

Frame of the elements: **MOON_ME frozen at the element epoch** — the inertial frame whose axes
coincide with MOON_ME_DE421 at ``epoch`` (equator = lunar mean equator, x = mean-Earth prime
meridian at that instant). A Kepler orbit must live in an inertial frame, and this one makes the
elements read naturally: inclination to the lunar equator, argument of periapsis from the
ascending node on it. Positions are then rotated with the real MOON_ME orientation of each epoch
(:func:`~falak.dynamics.moonframes.icrf_to_moon_me`), so the ground track rotates under the
orbit as it should.

Geometry is instantaneous (no light time) for a lunar site (the relay is ≤ 0.06 light-seconds
away; it moves ≲ 120 m meanwhile, ≲ 0.01°); for an Earth station the Moon and relay are taken at
the epoch their light left them (one light-time pass, ~1.3 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.dynamics import moonframes
from falak.dynamics.moonsky import SPEED_OF_LIGHT_KM_S, MoonSite, as_time
from falak.errors import InputError

if TYPE_CHECKING:
    from skyfield.timelib import Time

__all__ = [
    "MOON_GM_KM3_S2",
    "EarthStation",
    "KeplerElements",
    "RelayVisibility",
    "earth_station_sees_relay",
    "occulted",
    "queqiao2_like",
    "relay_position_me_km",
    "relay_visibility",
]

#: Lunar GM, km³/s² (GRAIL GRGM1200A, ``gggrx_1200a_sha.tab``).
MOON_GM_KM3_S2 = 4902.8001224453


@dataclass(frozen=True)
class KeplerElements:
    """Osculating Kepler elements of a lunar orbit in MOON_ME frozen at ``epoch`` (see module).

    Angles in degrees; ``mean_anomaly_deg`` at ``epoch`` (timezone-aware UTC).
    """

    semi_major_axis_km: float
    eccentricity: float
    inclination_deg: float
    raan_deg: float
    arg_periapsis_deg: float
    mean_anomaly_deg: float
    epoch: datetime

    def __post_init__(self) -> None:
        if self.epoch.tzinfo is None:
            raise InputError(f"relay epoch {self.epoch.isoformat()} has no time zone; give UTC")
        if not 0.0 <= self.eccentricity < 1.0:
            raise InputError(
                f"eccentricity {self.eccentricity:g} is not elliptical; allowed 0 ≤ e < 1"
            )
        if not 0.0 <= self.inclination_deg <= 180.0:
            raise InputError(f"inclination {self.inclination_deg:g}° is outside 0…180°")
        if self.periapsis_radius_km <= moonframes.MOON_RADIUS_KM:
            raise InputError(
                f"periapsis radius {self.periapsis_radius_km:.1f} km is inside the Moon "
                f"({moonframes.MOON_RADIUS_KM} km); raise a or lower e"
            )

    @property
    def periapsis_radius_km(self) -> float:
        """Periapsis distance from the Moon's centre, km."""
        return self.semi_major_axis_km * (1.0 - self.eccentricity)

    @property
    def apoapsis_radius_km(self) -> float:
        """Apoapsis distance from the Moon's centre, km."""
        return self.semi_major_axis_km * (1.0 + self.eccentricity)

    @property
    def period_s(self) -> float:
        """Kepler period 2π√(a³/GM), seconds."""
        return 2.0 * math.pi * math.sqrt(self.semi_major_axis_km**3 / MOON_GM_KM3_S2)

    @classmethod
    def from_altitudes(
        cls,
        periapsis_altitude_km: float,
        apoapsis_altitude_km: float,
        inclination_deg: float,
        *,
        epoch: datetime,
        raan_deg: float = 0.0,
        arg_periapsis_deg: float = 90.0,
        mean_anomaly_deg: float = 0.0,
    ) -> KeplerElements:
        """Build elements from periapsis/apoapsis altitudes above the 1737.4 km sphere."""
        rp = moonframes.MOON_RADIUS_KM + periapsis_altitude_km
        ra = moonframes.MOON_RADIUS_KM + apoapsis_altitude_km
        if ra < rp:
            raise InputError(
                f"apoapsis altitude {apoapsis_altitude_km:g} km is below periapsis altitude "
                f"{periapsis_altitude_km:g} km"
            )
        return cls(
            semi_major_axis_km=(rp + ra) / 2.0,
            eccentricity=(ra - rp) / (ra + rp),
            inclination_deg=inclination_deg,
            raan_deg=raan_deg,
            arg_periapsis_deg=arg_periapsis_deg,
            mean_anomaly_deg=mean_anomaly_deg,
            epoch=epoch,
        )


def queqiao2_like(epoch: datetime, raan_deg: float = 0.0) -> KeplerElements:
    """Return a Queqiao-2-like relay: 200 × 16,000 km, i = 62.4°, apolune over the south.

    ω = 90° puts periapsis at the northernmost point of the orbit, so the apolune, where the
    relay spends most of each ~24 h period, is at 62.4°S latitude: over the south-pole region.
    """
    return KeplerElements.from_altitudes(
        200.0, 16_000.0, 62.4, epoch=epoch, raan_deg=raan_deg, arg_periapsis_deg=90.0
    )


def _solve_kepler(mean_anomaly: NDArray[np.float64], e: float) -> NDArray[np.float64]:
    """Solve E − e sin E = M for arrays of M (Newton; start at π for e > 0.8)."""
    m = np.mod(mean_anomaly, 2.0 * np.pi)
    big_e = np.full_like(m, np.pi) if e > 0.8 else m + e * np.sin(m)
    for _ in range(50):
        step = (big_e - e * np.sin(big_e) - m) / (1.0 - e * np.cos(big_e))
        big_e = big_e - step
        if np.abs(step).max(initial=0.0) < 1e-14:
            break
    return big_e


def _frozen_me_to_icrf(elements: KeplerElements) -> NDArray[np.float64]:
    epoch_t = moonframes.timescale().from_datetime(elements.epoch)
    moonframes.check_time_span(epoch_t)
    rotation: NDArray[np.float64] = moonframes.icrf_to_moon_me(epoch_t)[0].T
    return rotation


def _relay_frozen_km(elements: KeplerElements, t: Time) -> NDArray[np.float64]:
    """Relay position wrt the Moon's centre in frozen MOON_ME, km, shape (N, 3)."""
    epoch_t = moonframes.timescale().from_datetime(elements.epoch)
    # whole + fraction keeps µs resolution (a single float JD resolves only ~40 µs).
    dt_days = (np.asarray(t.whole, dtype=float) - float(epoch_t.whole)) + (
        np.asarray(t.tt_fraction, dtype=float) - float(epoch_t.tt_fraction)
    )
    dt_s = np.atleast_1d(dt_days) * 86_400.0
    a, e = elements.semi_major_axis_km, elements.eccentricity
    n = math.sqrt(MOON_GM_KM3_S2 / a**3)
    big_e = _solve_kepler(math.radians(elements.mean_anomaly_deg) + n * dt_s, e)
    x_p = a * (np.cos(big_e) - e)
    y_p = a * math.sqrt(1.0 - e * e) * np.sin(big_e)
    raan = math.radians(elements.raan_deg)
    inc = math.radians(elements.inclination_deg)
    argp = math.radians(elements.arg_periapsis_deg)
    cO, sO, ci, si = math.cos(raan), math.sin(raan), math.cos(inc), math.sin(inc)
    cw, sw = math.cos(argp), math.sin(argp)
    p_hat = np.array([cO * cw - sO * sw * ci, sO * cw + cO * sw * ci, sw * si])
    q_hat = np.array([-cO * sw - sO * cw * ci, -sO * sw + cO * cw * ci, cw * si])
    position: NDArray[np.float64] = x_p[:, None] * p_hat + y_p[:, None] * q_hat
    return position


def relay_position_me_km(elements: KeplerElements, times: Any) -> NDArray[np.float64]:
    """Return the relay's position wrt the Moon's centre in MOON_ME, km, shape (N, 3).

    ``times``: skyfield ``Time``, ``datetime64`` (UTC) array, or aware datetimes.
    """
    t = as_time(times)
    frozen = _relay_frozen_km(elements, t)
    icrf = frozen @ _frozen_me_to_icrf(elements).T
    me: NDArray[np.float64] = np.einsum("nij,nj->ni", moonframes.icrf_to_moon_me(t), icrf)
    return me


def _relay_icrf_km(elements: KeplerElements, t: Time) -> NDArray[np.float64]:
    """Relay position wrt the Moon's centre in ICRF, km, shape (N, 3)."""
    moonframes.check_time_span(t)
    icrf: NDArray[np.float64] = _relay_frozen_km(elements, t) @ _frozen_me_to_icrf(elements).T
    return icrf


class RelayVisibility(NamedTuple):
    """Relay seen from a site: unpacks as ``(visible, azimuth_deg, elevation_deg, range_km)``."""

    visible: NDArray[np.bool_]
    azimuth_deg: NDArray[np.float64]
    elevation_deg: NDArray[np.float64]
    range_km: NDArray[np.float64]


def occulted(
    observer: NDArray[np.float64], target: NDArray[np.float64], centre: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """True where the segment observer→target (N, 3) passes inside the Moon's 1737.4 km sphere.

    The observer's own point is excluded (a site on the surface touches the sphere).
    """
    d = target - observer
    to_centre = centre - observer
    u = np.clip(np.einsum("ni,ni->n", to_centre, d) / np.einsum("ni,ni->n", d, d), 0.0, 1.0)
    closest = observer + u[:, None] * d - centre
    miss_km = np.sqrt(np.einsum("ni,ni->n", closest, closest))
    inside: NDArray[np.bool_] = (miss_km < moonframes.MOON_RADIUS_KM - 1e-6) & (u > 1e-9)
    return inside


def _az_el_range(
    enu_rows: NDArray[np.float64], vector: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    enu = vector @ enu_rows.T
    range_km = np.sqrt(np.einsum("ni,ni->n", enu, enu))
    azimuth = np.degrees(np.arctan2(enu[:, 0], enu[:, 1])) % 360.0
    elevation = np.degrees(np.arcsin(np.clip(enu[:, 2] / range_km, -1.0, 1.0)))
    return azimuth, elevation, range_km


def relay_visibility(
    site: MoonSite,
    relay_elements: KeplerElements,
    times: Any,
    min_elevation_deg: float = 0.0,
) -> RelayVisibility:
    """Return when the relay is usable from a lunar site, with its azimuth, elevation and range.

    Visible means elevation ≥ ``min_elevation_deg`` above the sphere's local horizontal **and**
    the line of sight clear of the Moon's 1737.4 km sphere (terrain is not modelled).
    """
    t = as_time(times)
    moonframes.check_time_span(t)
    relay_me = relay_position_me_km(relay_elements, t)
    site_me = site.position_me_km
    azimuth, elevation, range_km = _az_el_range(site.enu_to_me.T, relay_me - site_me)
    observer = np.broadcast_to(site_me, relay_me.shape)
    blocked = occulted(observer, relay_me, np.zeros(3))
    visible = (elevation >= min_elevation_deg) & ~blocked
    return RelayVisibility(visible, azimuth, elevation, range_km)


class EarthStation(Protocol):
    """What :func:`earth_station_sees_relay` needs of a ground station (``stations.Station``)."""

    @property
    def itrs_km(self) -> NDArray[np.float64]: ...

    @property
    def enu_matrix(self) -> NDArray[np.float64]: ...

    def min_elevation_at(self, azimuth_deg: ArrayLike) -> NDArray[np.float64]: ...


def earth_station_sees_relay(
    station: EarthStation, relay: KeplerElements, times: Any
) -> RelayVisibility:
    """Return when an Earth station sees the relay: above its mask and not behind the Moon.

    ``station`` is a :class:`falak.dynamics.stations.Station` (WGS84 geodetic site with
    ``min_elevation_deg`` and an optional azimuth mask). The relay and the Moon are taken at the
    epoch their light left them; the Earth's orientation is skyfield's ITRS (no polar motion,
    ≲ 15 m at the station).
    """
    from skyfield.framelib import itrs

    t = as_time(times)
    moonframes.check_time_span(t)
    icrf_to_itrs = np.moveaxis(np.asarray(itrs.rotation_at(t)).reshape(3, 3, -1), -1, 0)
    station_icrf = np.einsum("nji,j->ni", icrf_to_itrs, station.itrs_km)
    whole = np.atleast_1d(np.asarray(t.whole, dtype=float))
    fraction = np.atleast_1d(np.asarray(t.tdb_fraction, dtype=float))
    whole, fraction = np.broadcast_arrays(whole, fraction)
    earth_to_moon = moonframes.spk_segment(3, 301).compute(
        whole, fraction
    ) - moonframes.spk_segment(3, 399).compute(whole, fraction)
    relay_icrf = _relay_icrf_km(relay, t)
    vector = earth_to_moon.T + relay_icrf - station_icrf
    light_time_s = np.sqrt(np.einsum("ni,ni->n", vector, vector)) / SPEED_OF_LIGHT_KM_S
    # One light-time pass: the Moon and relay where they were when the light left them
    # (the Earth's centre moves with the EMB frame; its ~1 km shift in 1.3 s is included).
    back = fraction - light_time_s / 86_400.0
    moon_then = (
        moonframes.spk_segment(3, 301).compute(whole, back)
        - moonframes.spk_segment(3, 399).compute(whole, fraction)
    ).T
    t_back = moonframes.timescale().tdb_jd(whole, back)
    relay_then = _relay_icrf_km(relay, t_back)
    vector = moon_then + relay_then - station_icrf
    enu_rows = np.einsum("ij,njk->nik", station.enu_matrix, icrf_to_itrs)
    enu = np.einsum("nij,nj->ni", enu_rows, vector)
    range_km = np.sqrt(np.einsum("ni,ni->n", enu, enu))
    azimuth = np.degrees(np.arctan2(enu[:, 0], enu[:, 1])) % 360.0
    elevation = np.degrees(np.arcsin(np.clip(enu[:, 2] / range_km, -1.0, 1.0)))
    blocked = occulted(station_icrf, moon_then + relay_then, moon_then)
    visible = (elevation >= station.min_elevation_at(azimuth)) & ~blocked
    return RelayVisibility(visible, azimuth, elevation, range_km)
