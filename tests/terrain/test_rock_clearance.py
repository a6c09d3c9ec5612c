"""The planner's rock clearance is the rover simulator's on-board rock check, cell by cell.

:func:`falak.terrain.hazards.rock_clearance` marks a cell when some point of it is closer than
half the wheel base + a rock's radius to a listed rock taller than the step limit; the
simulator (:meth:`falak.sim.rover_site.Site.rock_step_m`) stops the rover at exactly those
points. Checked against a brute-force search over every rock and against the simulator.
"""

from __future__ import annotations

import numpy as np
import pytest

from falak.errors import InputError
from falak.sim.rover_site import Site
from falak.terrain import Rover, hazards, horizons, synthesize
from falak.terrain.hazards import keep_clear_of_rocks, rock_clearance


@pytest.mark.parametrize("resolution_m", [0.25, 0.5, 2.0])
def test_marked_cells_are_those_with_a_point_inside_a_rock_stop_distance(
    resolution_m: float,
) -> None:
    dem = synthesize(48, resolution_m, seed=3)
    assert dem.rocks is not None
    rover = Rover()
    marked = rock_clearance(dem, rover)
    tall = dem.rocks.diameter_m / 2 > rover.clearance_m
    rx, ry = dem.rocks.x_m[tall], dem.rocks.y_m[tall]
    reach = rover.wheel_base_m / 2 + dem.rocks.diameter_m[tall] / 2
    half = resolution_m / 2
    x, y = np.meshgrid(dem.x_m, dem.y_m)  # cell centres, (ny, nx)
    gap_x = np.maximum(np.abs(x[..., None] - rx) - half, 0.0)
    gap_y = np.maximum(np.abs(y[..., None] - ry) - half, 0.0)
    want = (np.hypot(gap_x, gap_y) < reach).any(axis=-1)
    assert 0 < want.sum() < want.size
    np.testing.assert_array_equal(marked, want)
    # a margin grows the marked area; the tactical model's rock map is the clearance
    assert (rock_clearance(dem, rover, margin_m=0.5) >= marked).all()
    assert rock_clearance(dem, rover, margin_m=0.5).sum() > marked.sum()
    if resolution_m <= rover.wheel_base_m:
        np.testing.assert_array_equal(hazards(dem, rover).rock, marked)


def test_the_simulator_stops_only_in_marked_cells() -> None:
    dem = synthesize(64, 0.5, seed=5)
    rover = Rover()
    site = Site(dem, horizons(dem, 8), rover)
    marked = rock_clearance(dem, rover)
    rng = np.random.default_rng(0)
    x = rng.uniform(dem.x_m[2], dem.x_m[-3], 4000)
    y = rng.uniform(dem.y_m[-3], dem.y_m[2], 4000)
    steps = [site.rock_step_m(a, b) for a, b in zip(x, y, strict=True)]
    stops = np.array(steps) > rover.clearance_m
    rows, cols = dem.cell_of(x, y)
    assert stops.sum() > 50  # the test means something
    assert marked[rows[stops], cols[stops]].all()  # every stop is in a marked cell


def test_keep_clear_of_rocks_makes_the_clearance_impassable_on_a_strategic_map() -> None:
    dem = synthesize(32, 2.0, seed=1)
    maps = hazards(dem)
    assert maps.model == "strategic"
    clear = rock_clearance(dem, maps.rover)
    kept = keep_clear_of_rocks(maps, dem)
    assert (kept.impassable == (maps.impassable | clear)).all()
    assert np.isinf(kept.cost[clear]).all()
    free = ~kept.impassable
    np.testing.assert_array_equal(kept.cost[free], maps.cost[free])
    assert kept.model == "strategic"
    assert "of every listed rock taller than the clearance are impassable" in kept.model_reason
    r, c = np.argwhere(clear & ~maps.impassable)[0]
    assert kept.describe_cell(int(r), int(c)) == (
        "too close to a rock taller than the clearance (keep_clear_of_rocks)"
    )
    with pytest.raises(InputError, match="margin_m must be a number of metres ≥ 0"):
        keep_clear_of_rocks(maps, dem, margin_m=-1.0)
