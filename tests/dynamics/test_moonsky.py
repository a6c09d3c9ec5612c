"""Sun and Earth in the sky of a lunar site: REFERENCES.md statistics and skyfield cross-checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from falak.dynamics import moonframes
from falak.dynamics.moonsky import (
    SOLAR_RADIUS_KM,
    MoonSite,
    as_time,
    disk_fraction_above_horizon,
    sky,
)
from falak.errors import InputError


def _hourly_2028() -> np.ndarray:
    return np.arange(
        np.datetime64("2028-01-01T00:00", "ns"),
        np.datetime64("2029-01-01T00:00", "ns"),
        np.timedelta64(1, "h"),
    )


@pytest.fixture(scope="module")
def south_pole_2028():  # type: ignore[no-untyped-def]
    return sky(MoonSite(-90.0, 0.0), _hourly_2028())


def test_earth_at_the_south_pole_in_2028(south_pole_2028) -> None:  # type: ignore[no-untyped-def]
    # REFERENCES.md "Earth elevation at the south pole (smooth sphere), 2028": −7.09° … +6.61°,
    # above the horizon 53.1% of the time (DE421 + lunarsky kernels, hourly). Tolerances: the
    # table's rounding (0.005°, 0.05%) plus hourly sampling of extremes that move ≲0.01°/h.
    elevation = south_pole_2028.earth_elevation_deg
    assert elevation.shape == (8784,)
    assert elevation.min() == pytest.approx(-7.09, abs=0.05)
    assert elevation.max() == pytest.approx(6.61, abs=0.05)
    assert 100.0 * np.mean(elevation > 0.0) == pytest.approx(53.1, abs=0.5)


def test_light_time_and_distance_at_the_pole(south_pole_2028) -> None:  # type: ignore[no-untyped-def]
    # REFERENCES.md: one-way light time Earth–Moon 1.19–1.36 s, mean ≈ 1.28 s (DE421).
    light_time = south_pole_2028.light_time_s
    assert light_time.min() >= 1.19
    assert light_time.max() <= 1.36
    assert light_time.mean() == pytest.approx(1.28, abs=0.01)
    np.testing.assert_allclose(
        south_pole_2028.earth_distance_km, light_time * 299_792.458, rtol=1e-15
    )


def test_sun_at_the_pole_stays_within_lunar_obliquity(south_pole_2028) -> None:  # type: ignore[no-untyped-def]
    # REFERENCES.md: Sun elevation at the pole within about ±1.6° (obliquity of the lunar equator
    # to the ecliptic 1.54°, plus the solar parallax from the Earth–Moon orbit ≲ 0.15°).
    elevation = south_pole_2028.sun_elevation_deg
    assert np.abs(elevation).max() <= 1.6
    assert elevation.max() > 1.45
    assert elevation.min() < -1.45


def test_best_lit_rim_site_in_2028() -> None:
    # REFERENCES.md, 88.74°S 124.5°E (Bussey et al. 2010 best-illuminated point):
    # Earth elevation −7.72° … +5.87°, above the horizon 49.6% of 2028 (hourly).
    result = sky(MoonSite(-88.74, 124.5), _hourly_2028())
    assert result.earth_elevation_deg.min() == pytest.approx(-7.72, abs=0.05)
    assert result.earth_elevation_deg.max() == pytest.approx(5.87, abs=0.05)
    assert 100.0 * np.mean(result.earth_elevation_deg > 0.0) == pytest.approx(49.6, abs=0.5)


@pytest.mark.parametrize(
    ("lat_deg", "lon_deg", "height_m"),
    [(-88.74, 124.5, 0.0), (-45.46, 177.6, 2000.0), (10.0, -60.0, 0.0)],
)
def test_matches_skyfield_observe_apparent_altaz(
    lat_deg: float, lon_deg: float, height_m: float
) -> None:
    # Independent route: skyfield's PlanetaryConstants frame + PlanetTopos on the same 1737.4 km
    # sphere, observe(...).apparent().altaz(). Both model light time and aberration; skyfield
    # also adds deflection (≤ 0.5 mas here) and evaluates the PCK at one float JD (~20 µs).
    # 1 mas therefore bounds an agreement that is a few µas when everything is right.
    ts = moonframes.timescale()
    t = ts.utc(2028, 3, np.linspace(1.0, 300.0, 7))
    ours = sky(MoonSite(lat_deg, lon_deg, height_m), t)
    eph = moonframes.ephemeris()
    pc = moonframes.planetary_constants()
    frame = pc.build_frame_named("MOON_ME_DE421")
    site = eph["moon"] + pc.build_latlon_degrees(frame, lat_deg, lon_deg, height_m)
    mas = 1.0 / 3600e3
    for body, az, el, distance in (
        ("sun", ours.sun_azimuth_deg, ours.sun_elevation_deg, ours.sun_distance_km),
        ("earth", ours.earth_azimuth_deg, ours.earth_elevation_deg, ours.earth_distance_km),
    ):
        alt_sf, az_sf, distance_sf = site.at(t).observe(eph[body]).apparent().altaz()
        np.testing.assert_allclose(el, alt_sf.degrees, rtol=0, atol=mas)
        d_az = (az - az_sf.degrees + 180.0) % 360.0 - 180.0
        np.testing.assert_allclose(d_az * np.cos(np.radians(el)), 0.0, atol=mas)
        # Aberration changes a vector's length by ≲ v/c = 1e-4 of 0; 1 km covers the Sun's
        # |apparent| vs c·τ at 1 au (≈ 15 m measured) and 1 m the Earth's.
        tolerance_km = 1.0 if body == "sun" else 1e-3
        np.testing.assert_allclose(distance, distance_sf.km, rtol=0, atol=tolerance_km)


def test_enu_unit_vectors_agree_with_azimuth_and_elevation(south_pole_2028) -> None:  # type: ignore[no-untyped-def]
    for enu, az, el in (
        (
            south_pole_2028.sun_enu,
            south_pole_2028.sun_azimuth_deg,
            south_pole_2028.sun_elevation_deg,
        ),
        (
            south_pole_2028.earth_enu,
            south_pole_2028.earth_azimuth_deg,
            south_pole_2028.earth_elevation_deg,
        ),
    ):
        np.testing.assert_allclose(np.linalg.norm(enu, axis=1), 1.0, atol=1e-12)
        az_r, el_r = np.radians(az), np.radians(el)
        expected = np.stack(
            [np.cos(el_r) * np.sin(az_r), np.cos(el_r) * np.cos(az_r), np.sin(el_r)], axis=1
        )
        np.testing.assert_allclose(enu, expected, atol=1e-12)
        assert ((az >= 0.0) & (az < 360.0)).all()


def test_solar_disk_fraction() -> None:
    # Analytic limits: centre on the horizon shows half; one radius above or below, all/none.
    rho = np.full(5, 0.267)
    fraction = disk_fraction_above_horizon(np.array([-1.0, -0.267, 0.0, 0.267, 1.0]), rho)
    np.testing.assert_allclose(fraction, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-15)
    # Against a brute-force count of points of a 2001×2001 grid on the unit disk: the grid's
    # area error is ≲ 1e-3.
    grid = np.linspace(-1.0, 1.0, 2001)
    x, y = np.meshgrid(grid, grid)
    inside = x * x + y * y <= 1.0
    for h in (-0.6, -0.2, 0.3, 0.8):
        counted = np.count_nonzero(inside & (y >= -h)) / np.count_nonzero(inside)
        assert disk_fraction_above_horizon(np.array([h * 0.25]), np.array([0.25]))[
            0
        ] == pytest.approx(counted, abs=1e-3)


def test_sun_disk_fraction_in_the_sky(south_pole_2028) -> None:  # type: ignore[no-untyped-def]
    fraction = south_pole_2028.sun_disk_fraction
    elevation = south_pole_2028.sun_elevation_deg
    # The disk's radius at 0.983–1.017 au is 0.262°–0.271° (R☉ = 695,700 km).
    radius_deg = np.degrees(np.arcsin(SOLAR_RADIUS_KM / south_pole_2028.sun_distance_km))
    assert radius_deg.min() > 0.26
    assert radius_deg.max() < 0.275
    assert (fraction[elevation > 0.28] == 1.0).all()
    assert (fraction[elevation < -0.28] == 0.0).all()
    partial = (elevation > -0.25) & (elevation < 0.25)
    assert partial.any()
    assert ((fraction[partial] > 0.0) & (fraction[partial] < 1.0)).all()


def test_time_input_forms_agree() -> None:
    site = MoonSite(-89.5, 45.0)
    aware = [datetime(2028, 5, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(3)]
    plus5 = [d.astimezone(timezone(timedelta(hours=5))) for d in aware]
    as64 = np.array([np.datetime64(d.replace(tzinfo=None), "ns") for d in aware])
    results = [sky(site, aware), sky(site, plus5), sky(site, as64), sky(site, as_time(as64))]
    for other in results[1:]:
        np.testing.assert_array_equal(other.time, results[0].time)
        np.testing.assert_allclose(other.earth_elevation_deg, results[0].earth_elevation_deg)
    assert str(results[0].time[1]) == "2028-05-01T01:00:00.000000000"


def test_site_validation_and_normalisation() -> None:
    assert MoonSite(-10.0, 270.0).lon_deg == -90.0
    assert MoonSite(0.0, -180.0).lon_deg == 180.0
    assert MoonSite(0.0, 540.0).lon_deg == 180.0
    assert MoonSite(-90, 0).radius_km == 1737.4
    assert MoonSite(0, 0, height_m=600.0).radius_km == pytest.approx(1738.0)
    assert repr(MoonSite(-89.9, 0.0)) == "MoonSite(lat_deg=-89.9, lon_deg=0.0, height_m=0.0)"
    with pytest.raises(InputError, match=r"latitude 91° is outside −90…\+90°"):
        MoonSite(91.0, 0.0)
    with pytest.raises(InputError, match="must be finite"):
        MoonSite(float("nan"), 0.0)
    with pytest.raises(InputError, match="must be a number"):
        MoonSite("south", 0.0)  # type: ignore[arg-type]


def test_bad_times_are_refused() -> None:
    site = MoonSite(-90.0, 0.0)
    with pytest.raises(InputError, match="allowed: 1900-01-02 to 2050-12-30 UTC"):
        sky(site, np.array(["2055-01-01T00:00"], dtype="datetime64[ns]"))
    with pytest.raises(InputError, match="no time zone"):
        sky(site, [datetime(2028, 1, 1)])
    with pytest.raises(InputError, match="no times given"):
        sky(site, [])
