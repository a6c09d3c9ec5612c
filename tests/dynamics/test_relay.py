"""Relay satellite in lunar orbit: Kepler propagation and visibility from the Moon and Earth."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from falak.dynamics import moonframes
from falak.dynamics.moonsky import MoonSite, as_time
from falak.dynamics.relay import (
    MOON_GM_KM3_S2,
    KeplerElements,
    _solve_kepler,
    earth_station_sees_relay,
    queqiao2_like,
    relay_position_me_km,
    relay_visibility,
)
from falak.dynamics.stations import Station
from falak.errors import InputError

EPOCH = datetime(2028, 1, 1, tzinfo=UTC)


def _grid(days: float, step_minutes: float) -> np.ndarray:
    start = np.datetime64("2028-01-01T00:00", "ns")
    return start + np.arange(0, days * 1440, step_minutes).astype(np.int64) * np.timedelta64(
        60, "s"
    )


def test_queqiao2_period_is_about_a_day() -> None:
    # REFERENCES.md relay: Queqiao-2 ~200 × 16,000 km, i 62.4°, period ~24 h (CNSA). Kepler with
    # GM 4902.8 km³/s²: a = 1737.4 + (200 + 16,000)/2 = 9,837.4 km, T = 2π√(a³/GM) = 24.32 h.
    relay = queqiao2_like(EPOCH)
    assert relay.semi_major_axis_km == pytest.approx(9837.4)
    assert relay.period_s / 3600.0 == pytest.approx(
        2 * math.pi * math.sqrt(9837.4**3 / 4902.8) / 3600.0, rel=1e-6
    )
    assert 23.5 < relay.period_s / 3600.0 < 24.5
    assert relay.periapsis_radius_km == pytest.approx(1937.4)
    assert relay.apoapsis_radius_km == pytest.approx(17737.4)


def test_kepler_solver_residual() -> None:
    mean = np.linspace(-10.0, 10.0, 2001)
    for e in (0.0, 0.3, 0.803, 0.99):
        big_e = _solve_kepler(mean, e)
        residual = big_e - e * np.sin(big_e) - np.mod(mean, 2 * np.pi)
        np.testing.assert_allclose(residual, 0.0, atol=1e-12)


def test_orbit_obeys_two_body_laws() -> None:
    # Independent checks of the propagator: vis-viva speed (finite differences of positions in
    # the frozen inertial frame), constant angular momentum, periodicity, apolune latitude.
    relay = queqiao2_like(EPOCH)
    ts = moonframes.timescale()
    seconds = np.linspace(0.0, relay.period_s, 2001)
    t = ts.tt_jd(float(ts.from_datetime(EPOCH).tt), seconds / 86_400.0)
    # Undo the Moon's rotation: positions in ICRF (inertial).
    me = relay_position_me_km(relay, t)
    icrf = np.einsum("nji,nj->ni", moonframes.icrf_to_moon_me(t), me)
    h_s = 1.0
    t_plus = ts.tt_jd(float(ts.from_datetime(EPOCH).tt), (seconds + h_s) / 86_400.0)
    t_minus = ts.tt_jd(float(ts.from_datetime(EPOCH).tt), (seconds - h_s) / 86_400.0)
    icrf_plus = np.einsum(
        "nji,nj->ni", moonframes.icrf_to_moon_me(t_plus), relay_position_me_km(relay, t_plus)
    )
    icrf_minus = np.einsum(
        "nji,nj->ni", moonframes.icrf_to_moon_me(t_minus), relay_position_me_km(relay, t_minus)
    )
    velocity = (icrf_plus - icrf_minus) / (2 * h_s)
    r = np.linalg.norm(icrf, axis=1)
    speed = np.linalg.norm(velocity, axis=1)
    vis_viva = np.sqrt(MOON_GM_KM3_S2 * (2.0 / r - 1.0 / relay.semi_major_axis_km))
    # Centred difference error ≈ a h²/6 ≲ 1.3e-3 km/s² · 1 s² / 6 at perilune.
    np.testing.assert_allclose(speed, vis_viva, rtol=0, atol=5e-4)
    momentum = np.linalg.norm(np.cross(icrf, velocity), axis=1)
    expected_h = math.sqrt(MOON_GM_KM3_S2 * relay.semi_major_axis_km * (1 - relay.eccentricity**2))
    # h = √(GM a (1−e²)); the same finite-difference error, relative ≲ 1e-7.
    np.testing.assert_allclose(momentum, expected_h, rtol=1e-6)
    np.testing.assert_allclose(icrf[-1], icrf[0], atol=1e-6)  # one Kepler period later
    assert r.min() == pytest.approx(1937.4, abs=1e-3)
    assert r.max() == pytest.approx(17737.4, abs=1e-3)
    # ω = 90°: apolune at latitude −i = −62.4° in MOON_ME (libration shifts it by < 0.1°).
    apolune = me[np.argmax(np.linalg.norm(me, axis=1))]
    assert math.degrees(math.asin(apolune[2] / np.linalg.norm(apolune))) == pytest.approx(
        -62.4, abs=0.1
    )


def test_relay_visibility_from_the_south_pole() -> None:
    # With the apolune over the south (ω = 90°) the relay spends ~21 h of each 24.3 h period
    # above the south pole's horizon; derived here over 28 days at 5-minute steps: 91.0%.
    # A mirror orbit (ω = 270°, apolune over the north) is never above the south pole's horizon
    # (its perilune passes 200 km up at 62.4°S, 27.6° from the pole, beyond the 26.4° horizon).
    times = _grid(28, 5)
    south = MoonSite(-90.0, 0.0)
    visibility = relay_visibility(south, queqiao2_like(EPOCH), times)
    assert 0.85 < visibility.visible.mean() < 0.95
    mirror = KeplerElements.from_altitudes(200, 16_000, 62.4, epoch=EPOCH, arg_periapsis_deg=270)
    assert not relay_visibility(south, mirror, times).visible.any()
    # Never visible below the requested elevation; on the sphere, visible ⇔ above it.
    for min_el in (0.0, 10.0):
        visible, _az, el, range_km = relay_visibility(
            south, queqiao2_like(EPOCH), times, min_elevation_deg=min_el
        )
        assert not (visible & (el < min_el)).any()
        np.testing.assert_array_equal(visible, el >= min_el)
        assert range_km.min() > 200.0 - 1e-6
    fewer = relay_visibility(south, queqiao2_like(EPOCH), times, min_elevation_deg=10.0)
    assert fewer.visible.sum() < visibility.visible.sum()


def test_relay_elevation_matches_plain_vector_geometry() -> None:
    # At the pole "up" is −z of MOON_ME, so elevation = asin(−Δz/|Δ|) with Δ = relay − site.
    times = _grid(2, 30)
    relay = queqiao2_like(EPOCH)
    _visible, _az, el, range_km = relay_visibility(MoonSite(-90.0, 0.0), relay, times)
    delta = relay_position_me_km(relay, times) - np.array([0.0, 0.0, -moonframes.MOON_RADIUS_KM])
    np.testing.assert_allclose(range_km, np.linalg.norm(delta, axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        el, np.degrees(np.arcsin(-delta[:, 2] / np.linalg.norm(delta, axis=1))), atol=1e-9
    )


def test_earth_station_against_skyfield_moon_and_occultation() -> None:
    # Independent route: skyfield's apparent Moon from the WGS84 station. The relay is at most
    # 17,737 km from the Moon's centre, ≤ 2.7° seen from the Earth, so: Moon ≥ 3° above the
    # station's limit and relay not behind the Moon ⇒ visible; Moon ≥ 3° below ⇒ not visible.
    # "Behind the Moon" is recomputed from skyfield's Moon: angular separation from the Moon's
    # centre smaller than its angular radius (1737.4 km) and the relay farther than the Moon.
    from skyfield.api import wgs84

    station = Station("Kashi", 39.5, 76.0, 1300.0, min_elevation_deg=5.0)
    relay = queqiao2_like(EPOCH)
    times = _grid(14, 5)
    result = earth_station_sees_relay(station, relay, times)
    t = as_time(times)
    eph = moonframes.ephemeris()
    observer = (eph["earth"] + wgs84.latlon(39.5, 76.0, 1300.0)).at(t)
    moon = observer.observe(eph["moon"])
    moon_alt, _az, moon_distance = moon.apparent().altaz()
    moon_vec = moon.position.km.T
    relay_vec = moon_vec + np.einsum(
        "nji,nj->ni", moonframes.icrf_to_moon_me(t), relay_position_me_km(relay, t)
    )
    cos_sep = np.einsum("ni,ni->n", moon_vec, relay_vec) / (
        np.linalg.norm(moon_vec, axis=1) * np.linalg.norm(relay_vec, axis=1)
    )
    separation = np.degrees(np.arccos(np.clip(cos_sep, -1, 1)))
    moon_radius = np.degrees(np.arcsin(moonframes.MOON_RADIUS_KM / moon_distance.km))
    behind = (separation < moon_radius) & (np.linalg.norm(relay_vec, axis=1) > moon_distance.km)
    # Away from the limb (±0.01°, ≈ 70 km at the Moon, far beyond the light-time details):
    clear = np.abs(separation - moon_radius) > 0.01
    high = moon_alt.degrees > station.min_elevation_deg + 3.0
    low = moon_alt.degrees < station.min_elevation_deg - 3.0
    assert behind.any()  # the occultation case is exercised
    np.testing.assert_array_equal(result.visible[high & clear], ~behind[high & clear])
    assert not result.visible[low].any()
    # Range is the station–relay distance: within the orbit's size of the Moon's distance.
    assert (np.abs(result.range_km - moon_distance.km) < 17_737.5).all()
    assert not (result.visible & (result.elevation_deg < 5.0)).any()


def test_bad_elements_are_refused() -> None:
    with pytest.raises(InputError, match="inside the Moon"):
        KeplerElements.from_altitudes(-100.0, 1000.0, 60.0, epoch=EPOCH)
    with pytest.raises(InputError, match="not elliptical; allowed 0 ≤ e < 1"):
        KeplerElements(9000.0, 1.2, 60.0, 0.0, 0.0, 0.0, EPOCH)
    with pytest.raises(InputError, match="no time zone"):
        queqiao2_like(EPOCH.replace(tzinfo=None))
    with pytest.raises(InputError, match="below periapsis altitude"):
        KeplerElements.from_altitudes(1000.0, 100.0, 60.0, epoch=EPOCH)
    with pytest.raises(InputError, match="outside the Moon kernels"):
        relay_visibility(MoonSite(-90, 0), queqiao2_like(EPOCH), [EPOCH + timedelta(days=365 * 30)])
