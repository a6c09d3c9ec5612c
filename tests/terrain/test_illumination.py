"""Sunlight and Earth visibility maps and per-cell timelines."""

from __future__ import annotations

import numpy as np
import pytest

from falak.dynamics.moonsky import MoonSite, sky
from falak.errors import InputError
from falak.terrain.horizons import horizons
from falak.terrain.illumination import illumination_maps, illumination_timeline

# A lunar month at 6 h steps, in DE421's span (1900–2050).
TIMES = np.arange(
    np.datetime64("2028-01-01T00:00", "ns"),
    np.datetime64("2028-01-31T00:00", "ns"),
    np.timedelta64(6, "h"),
)


@pytest.fixture(scope="module")
def flat():
    from tests.terrain.conftest import grid_dem

    dem = grid_dem(np.zeros((40, 40)), 250.0, center=(-89.5, 60.0))  # 10 km, spans 4.6° lon
    return dem, horizons(dem, 72)


def test_flat_dem_equals_the_smooth_sphere_per_cell(flat):
    """On a flat DEM each cell sees what moonsky.sky gives for its own site: the horizon is
    −atan(res/2R) = −0.004° (250 m cells) instead of 0, which moves the Sun's disk share by
    at most 0.004°/0.27° × 2/π ≈ 0.01 and flips Earth visibility only within 0.004° of 0°."""
    dem, hz = flat
    cells = np.array([[0, 0], [20, 20], [39, 5], [7, 33]])
    series = illumination_timeline(dem, hz, cells, TIMES)
    lat, lon = dem.latlon_deg()
    assert series.sun_fraction.shape == (TIMES.size, 4)
    for k, (r, c) in enumerate(cells):
        reference = sky(MoonSite(lat[r, c], lon[r, c], 0.0), TIMES)
        np.testing.assert_allclose(
            series.sun_fraction[:, k], reference.sun_disk_fraction, atol=0.01
        )
        clear = np.abs(reference.earth_elevation_deg) > 0.005
        np.testing.assert_array_equal(
            series.earth_visible[clear, k], reference.earth_elevation_deg[clear] >= 0
        )
    # the cells are far enough apart for their skies to differ (per-cell geometry matters)
    assert not np.allclose(series.sun_fraction[:, 0], series.sun_fraction[:, 3], atol=0.01)


def test_flat_dem_maps_are_the_time_averages(flat):
    dem, hz = flat
    maps = illumination_maps(dem, hz, TIMES, rows_per_chunk=7)
    lat, lon = dem.latlon_deg()
    reference = sky(MoonSite(lat[20, 20], lon[20, 20], 0.0), TIMES)
    assert maps.lit_percent[20, 20] == pytest.approx(
        100 * reference.sun_disk_fraction.mean(), abs=1.0
    )
    assert maps.earth_percent[20, 20] == pytest.approx(
        100 * (reference.earth_elevation_deg >= 0).mean(), abs=100 / TIMES.size + 1e-6
    )
    dark = reference.sun_disk_fraction == 0
    run = best = 0
    for d in dark:
        run = run + 1 if d else 0
        best = max(best, run)
    assert maps.longest_dark_h[20, 20] == pytest.approx(best * 6.0, abs=12.0)
    assert not maps.psr.any()


def test_pit_floor_never_sees_sun_or_earth(make_dem):
    """The floor of a 3 km deep, 600 m wide pit is shadowed by walls far above the polar Sun
    and Earth (within ±1.6° and ±8° of the horizontal): never lit, never in view."""
    heights = np.zeros((30, 30))
    heights[12:18, 12:18] = -3000.0
    dem = make_dem(heights, 100.0, center=(-89.8, 0.0))
    maps = illumination_maps(dem, horizons(dem, 72), TIMES)
    assert maps.psr[14:16, 14:16].all()
    assert (maps.lit_percent[14:16, 14:16] == 0).all()
    assert (maps.earth_percent[14:16, 14:16] == 0).all()
    assert maps.longest_dark_h[14, 14] == pytest.approx(TIMES.size * 6.0)
    assert not maps.psr[:5, :5].any()


def test_map_azimuth_is_local_azimuth_plus_longitude(make_dem):
    """Near the south pole the Earth hangs over the 0°E meridian, i.e. towards map +y (grid
    north) from every cell. At 60°E its local azimuth is about −60°, so only the conversion
    map = local + longitude puts it behind a wall spanning ±17° around grid north; a wall on
    the far side (grid south) must not hide it."""
    n, res = 40, 250.0
    centre = (-89.5, 60.0)
    north_wall = np.zeros((n, n))
    north_wall[0:3, 14:27] = 1300.0  # 15° high seen from the centre cell, 4.75 km away
    south_wall = north_wall[::-1].copy()
    cell = np.array([[20, 20]])
    results = {}
    for name, heights in (("north", north_wall), ("south", south_wall)):
        dem = make_dem(heights, res, center=centre)
        results[name] = illumination_timeline(dem, horizons(dem, 180), cell, TIMES)
    lat, lon = make_dem(north_wall, res, center=centre).latlon_deg()
    reference = sky(MoonSite(lat[20, 20], lon[20, 20], 0.0), TIMES)
    up = reference.earth_elevation_deg > 0.01
    assert up.sum() > 10
    assert not results["north"].earth_visible[up, 0].any()
    assert results["south"].earth_visible[up, 0].all()


def test_relay_map_and_bad_inputs(flat):
    from falak.dynamics.relay import queqiao2_like
    from falak.utctime import parse_utc

    dem, hz = flat
    relay = queqiao2_like(parse_utc("2028-01-01T00:00Z"))
    maps = illumination_maps(dem, hz, TIMES[:20], relay=relay)
    assert maps.relay_percent is not None
    assert 0 < maps.relay_percent.mean() <= 100
    other = horizons(dem, 8, 1000.0)
    other.transform = other.transform * other.transform.translation(1, 0)
    with pytest.raises(InputError, match="not on the grid"):
        illumination_maps(dem, other, TIMES)
    with pytest.raises(InputError, match="outside"):
        illumination_timeline(dem, hz, np.array([[100, 0]]), TIMES)
