"""Rover hazard and cost maps."""

from __future__ import annotations

import numpy as np
import pytest

from falak.errors import InputError
from falak.terrain.dem import Rocks
from falak.terrain.hazards import Rover, footprint_cells, hazards, select_model
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


# --- Tactical or strategic: what the DEM resolves (issue 14) ---------------------------------


def test_model_rule_and_its_reason_are_stated():
    """Tactical when cells ≤ wheel base, else strategic; an override says what auto would do."""
    rover = Rover()
    assert select_model(rover, 0.1) == (
        "tactical",
        "0.1 m cells ≤ the 0.5 m wheel base: steps and rocks at the wheels' scale are resolved",
    )
    assert select_model(rover, 0.5)[0] == "tactical"  # the boundary is inclusive
    model, why = select_model(rover, 5.0)
    assert model == "strategic"
    assert why == (
        "5 m cells > the 0.5 m wheel base: a 0.15 m step or rock is not resolved; slope over a "
        "15 m baseline, roughness and rock abundance as cost"
    )
    model, why = select_model(rover, 5.0, "tactical")
    assert model == "tactical"
    assert why.startswith("tactical by request; auto would pick strategic: 5 m cells >")
    with pytest.raises(InputError, match="hazard model must be one of auto, tactical, strategic"):
        select_model(rover, 5.0, "orbital")


def test_5m_dem_is_not_mostly_step_hazards():
    """The issue's failure: on a 5 m DEM the tactical test made most cells 'steps'.

    Forced tactical, the same DEM is mostly impassable (steps judged over 15 m, rocks of
    0.3 m filling 25 m² cells); the strategic model keeps slope and rock fields as hazards.
    """
    dem = synthesize(256, 5.0, seed=4)
    strategic = hazards(dem)
    tactical = hazards(dem, model="tactical")
    assert tactical.summary()["impassable"] > 0.5  # the old behaviour, kept on request
    share = strategic.summary()
    assert share["model"] == "strategic"
    assert "5 m cells > the 0.5 m wheel base" in share["model_reason"]
    assert share["step"] == 0.0
    assert share["impassable"] < 0.15
    too_steep = strategic.slope_deg > 20.0
    assert (strategic.impassable == (too_steep | strategic.rock | strategic.no_data)).all()
    assert "steps over 0.15 m" not in strategic.hazard_classes()


def test_strategic_rock_abundance_cost(make_dem):
    """Blocked share = Σ π (D + wheel base)² / 4 / cell area; f/(1 − f) added to the cost."""
    dem = make_dem(np.zeros((10, 10)), 5.0)
    xs = [dem.x_m[2]] + [dem.x_m[7]] * 12
    ys = [dem.y_m[2]] + [dem.y_m[7]] * 12
    dem.rocks = Rocks(np.array(xs), np.array(ys), np.array([1.0] + [1.5] * 12))
    maps = hazards(dem)
    assert maps.model == "strategic"
    one = np.pi / 4 * (1.0 + 0.5) ** 2 / 25.0  # one 1 m rock (0.5 m tall > 0.15 m clearance)
    assert maps.rock_blocked[2, 2] == pytest.approx(one, rel=1e-6)
    assert maps.cost[2, 2] == pytest.approx(1.0 + one / (1.0 - one), rel=1e-6)  # flat, smooth
    assert not maps.rock[2, 2]
    # twelve 1.5 m rocks in one cell: 12 · π · 2² / 4 / 25 > 1 → capped, a rock field
    assert maps.rock_blocked[7, 7] == 1.0
    assert maps.rock[7, 7]
    assert np.isinf(maps.cost[7, 7])
    assert maps.describe_cell(7, 7) == ("rocks taller than the clearance block 100% of the cell")
    assert maps.cost[0, 0] == pytest.approx(1.0)


def test_strategic_without_a_rock_map_says_so(make_dem):
    maps = hazards(make_dem(np.zeros((10, 10)), 5.0))
    assert maps.model_reason.endswith(
        "; no rock map with this DEM, so rock abundance is not in the cost"
    )
    assert not maps.rock.any()
    # local bumps on a coarse DEM are terrain, not rocks: none is detected as one
    bumpy = np.zeros((20, 20))
    bumpy[10, 10] = 0.4
    assert not hazards(make_dem(bumpy, 5.0)).rock.any()
    assert hazards(make_dem(bumpy, 5.0), model="tactical").rock[10, 10]


def test_cli_names_the_model_and_takes_an_override(tmp_path):
    from typer.testing import CliRunner

    from falak.cli.app import app
    from falak.terrain.dem import write_dem

    runner = CliRunner()
    write_dem(synthesize(64, 5.0, seed=4), tmp_path / "dem.tif")
    args = ["terrain", "hazards", "--dem", str(tmp_path / "dem.tif"), "--out-dir"]
    result = runner.invoke(app, [*args, str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "hazard model: strategic (5 m cells > the 0.5 m wheel base: a 0.15 m step or rock is "
        "not resolved;"
    )
    assert (tmp_path / "a" / "rock_blocked.tif").exists()
    result = runner.invoke(app, [*args, str(tmp_path / "b"), "--hazard-model", "tactical"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("hazard model: tactical (tactical by request; auto would")
    result = runner.invoke(app, [*args, str(tmp_path / "c"), "--hazard-model", "orbital"])
    assert result.exit_code == 1
    assert "hazard model must be one of auto, tactical, strategic, got 'orbital'" in result.output
