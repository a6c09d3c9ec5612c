"""Rover hazard and cost maps."""

from __future__ import annotations

import numpy as np
import pytest

from falak.errors import InputError
from falak.terrain.dem import Rocks
from falak.terrain.hazards import Rover, footprint_cells, hazards
from falak.terrain.synth import synthesize


def test_default_rover_is_stated():
    rover = Rover()
    assert (rover.wheel_base_m, rover.clearance_m, rover.max_slope_deg) == (0.5, 0.15, 20.0)
    with pytest.raises(InputError, match="clearance_m must be a positive number"):
        Rover(clearance_m=-1)


def test_footprint_covers_the_wheel_base():
    assert footprint_cells(Rover(wheel_base_m=0.5), 5.0) == 3
    assert footprint_cells(Rover(wheel_base_m=1.0), 0.1) == 11


@pytest.mark.parametrize("tilt_deg", [0.0, 10.0, 25.0])
def test_tilted_plane_has_its_slope_and_no_roughness(make_dem, tilt_deg):
    """A plane z = x tan(t) + 0.3 y tan(t) has slope atan(tan t · √1.09) (analytic)."""
    res = 0.1
    yy, xx = np.mgrid[0:40, 0:40] * res
    t = np.tan(np.radians(tilt_deg))
    maps = hazards(make_dem(xx * t - 0.3 * yy * t, res))
    expected = np.degrees(np.arctan(t * np.sqrt(1.09)))
    inner = (slice(6, -6), slice(6, -6))
    np.testing.assert_allclose(maps.slope_deg[inner], expected, atol=1e-3)  # float32 heights
    assert np.abs(maps.roughness_m[inner]).max() < 1e-4
    assert np.abs(maps.step_m[inner]).max() < 1e-4
    assert maps.impassable[inner].all() == (expected > 20.0)
    finite = np.isfinite(maps.cost)
    assert (finite == ~maps.impassable).all()
    assert (maps.cost[finite] >= 1.0).all()


def test_step_taller_than_clearance_is_impassable(make_dem):
    heights = np.zeros((30, 30))
    heights[:, 15:] = 0.3  # a 30 cm ledge, twice the clearance
    maps = hazards(make_dem(heights, 0.1))
    assert maps.impassable[:, 13:17].all()
    assert not maps.impassable[:, :8].any()
    assert not maps.impassable[:, 23:].any()
    assert maps.step_m[:, 14:16].max() > 0.15


def test_rocks_from_the_list(make_dem):
    dem = make_dem(np.zeros((20, 20)), 0.5)
    dem.rocks = Rocks(
        np.array([dem.x_m[5], dem.x_m[15]]),
        np.array([dem.y_m[5], dem.y_m[15]]),
        np.array([0.5, 0.2]),  # 0.25 m tall (> 0.15 m clearance) and 0.1 m tall
    )
    maps = hazards(dem)
    assert maps.rock[5, 5]
    assert not maps.rock[15, 15]
    assert maps.impassable[5, 5]
    assert np.isinf(maps.cost[5, 5])


def test_rocks_detected_without_a_list(make_dem):
    heights = np.zeros((20, 20))
    heights[10, 10] = 0.4
    maps = hazards(make_dem(heights, 0.5))
    assert maps.rock[10, 10]
    assert maps.rock.sum() == 1


def test_nodata_holes_are_impassable_not_zero(make_dem):
    heights = np.full((20, 20), 50.0)
    heights[8:11, 8:11] = np.nan
    maps = hazards(make_dem(heights, 1.0))
    assert maps.no_data.sum() == 9
    assert maps.impassable[8:11, 8:11].all()
    # the filled hole does not make a false step around it
    assert not maps.impassable[:5].any()


def test_synthetic_terrain_summary():
    dem = synthesize(128, 1.0, seed=2)
    maps = hazards(dem, Rover())
    share = maps.summary()
    assert 0.0 < share["impassable"] < 1.0
    assert share["rock"] > 0.0
    assert maps.slope_deg.dtype == np.float32
