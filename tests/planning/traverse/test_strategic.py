"""Strategic planning on a real-resolution map (issue 14): a km-scale traverse on a 5 m DEM.

The site: falak's synthetic south pole at 5 m/pixel (LOLA's polar resolution), centred on the
pole with Shackleton (21 km, 4.2 km deep; Zuber et al. 2012) whose rim passes the pole, so
the DEM holds the rim's crest and outer flank (slopes of ~10° from the ejecta falloff) and
its inner wall (30–40°: fresh-crater paraboloid, Pike 1977), plus Neukum craters, rocks and
fractal roughness. The default rover, whose 0.5 m wheel base is a tenth of a cell, gets the
strategic hazard model. Two points on lit ridges (``lit_ridge_pairs``) a few km apart are
joined by the least-cost route and scheduled teleoperated against DE421 sunlight and Earth
visibility over a month (January 2028), then replayed independently.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from falak.errors import PlanInfeasible
from falak.planning.traverse import (
    lit_ridge_pairs,
    plan_route,
    replay,
    route_timeline,
    schedule_traverse,
    to_geojson,
)
from falak.planning.traverse.route import shortest_path
from falak.terrain import hazards, horizons, synthesize

DEPART = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
SEED = 14


def strategic_case(size: int, min_m: float, max_m: float):  # type: ignore[no-untyped-def]
    """DEM → hazards → horizons → lit ridge points → route → schedule (first pair that plans)."""
    dem = synthesize(size, 5.0, center_lat_lon=(-90.0, 0.0), seed=SEED, shackleton=True)
    maps = hazards(dem)
    hz = horizons(dem, 32)
    month = np.datetime64("2028-01-01T00:00") + np.arange(0, 29 * 24, 2) * np.timedelta64(1, "h")
    pairs = lit_ridge_pairs(dem, maps, hz, month, min_separation_m=min_m, max_separation_m=max_m)
    reasons = []
    for pair in pairs:
        route = plan_route(dem, maps, pair.start_xy, pair.goal_xy)
        times, sun, earth = route_timeline(dem, hz, route, DEPART, 28 * 24, 30.0)
        try:
            plan = schedule_traverse(route, times, sun, earth, teleoperated=True)
        except PlanInfeasible as exc:  # e.g. the route crosses a week-long shadow
            reasons.append(str(exc))
            continue
        return dem, maps, pair, route, (times, sun, earth), plan
    pytest.fail(f"no ridge pair planned: {reasons}")


def _check(dem, maps, pair, route, timeline, plan, min_m: float, max_m: float) -> None:  # type: ignore[no-untyped-def]
    times, sun, earth = timeline
    share = maps.summary()
    assert share["model"] == "strategic"
    assert share["step"] == 0.0
    assert share["impassable"] < 0.9  # Shackleton's inner wall is most of what is impassable
    assert min_m <= pair.separation_m <= max_m
    assert min(pair.lit_fraction) >= 0.5  # both ends on lit ground over the month
    assert route.length_m >= pair.separation_m
    assert np.isfinite(maps.cost[route.rows, route.cols]).all()  # never enters a hazard
    assert route.max_slope_deg <= 20.0
    assert plan.duration_s >= route.length_m / 0.1 - 1e-3
    assert plan.sunlit_fraction > 0.5
    report = replay(plan, route, times, sun, earth, teleoperated=True)
    assert report.ok, report.violations
    props = to_geojson(route, plan)["properties"]
    assert props["hazard_model"] == "strategic"
    assert props["hazard_model_reason"].startswith("5 m cells > the 0.5 m wheel base")


def test_strategic_traverse_at_1024_squared() -> None:
    """The CI-sized case: 1024² cells (5.1 km square), ridge points 1.5–2.5 km apart."""
    case = strategic_case(1024, 1500.0, 2500.0)
    _check(*case, 1500.0, 2500.0)


def test_strategic_route_equals_scikit_image_on_the_same_cost_map() -> None:
    """Same graph on both sides (8 neighbours, corner cutting): equal cost to 1e-9."""
    from skimage.graph import route_through_array

    dem = synthesize(512, 5.0, center_lat_lon=(-90.0, 0.0), seed=SEED, shackleton=True)
    from scipy import ndimage

    cost = hazards(dem).cost.astype(np.float64)
    labels, _ = ndimage.label(np.isfinite(cost), structure=np.ones((3, 3)))
    rr, cc = np.nonzero(labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    start, goal = (int(rr[0]), int(cc[0])), (int(rr[-1]), int(cc[-1]))
    ours = shortest_path(cost, start, goal, 5.0, corner_cutting=True)
    _, theirs = route_through_array(cost, start, goal, fully_connected=True, geometric=True)
    assert ours.cost == pytest.approx(5.0 * theirs, rel=1e-9)  # skimage's unit is a cell


@pytest.mark.slow
def test_strategic_traverse_at_full_size() -> None:
    """The issue's case: 2048² cells at 5 m (10.2 km square), a 3–5 km traverse."""
    case = strategic_case(2048, 3000.0, 4000.0)
    _check(*case, 3000.0, 4000.0)
    route = case[3]
    assert 3000.0 <= route.length_m <= 5000.0


def test_lit_ridge_pairs_refusals_name_the_reason() -> None:
    from falak.errors import InputError

    dem = synthesize(256, 5.0, center_lat_lon=(-90.0, 0.0), seed=SEED)
    maps = hazards(dem)
    hz = horizons(dem, 8)
    times = np.datetime64("2028-01-01T00:00") + np.arange(4) * np.timedelta64(6, "h")
    with pytest.raises(InputError, match="need 0 < min_separation_m ≤ max_separation_m"):
        lit_ridge_pairs(dem, maps, hz, times, min_separation_m=500, max_separation_m=100)
    with pytest.raises(PlanInfeasible, match=r"ridge cells are 5000 … 6000 m apart"):
        lit_ridge_pairs(dem, maps, hz, times, min_separation_m=5000, max_separation_m=6000)
    pairs = lit_ridge_pairs(dem, maps, hz, times, min_separation_m=300, max_separation_m=600)
    assert pairs == sorted(pairs, key=lambda p: -p.score)
    assert all(300 <= p.separation_m <= 600 for p in pairs)


def test_traverse_cli_names_the_hazard_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from falak.cli.app import app
    from falak.terrain.dem import write_dem

    dem = synthesize(128, 5.0, seed=SEED)
    write_dem(dem, tmp_path / "dem.tif")
    start = f"{dem.x_m[5]},{dem.y_m[5]}"
    goal = f"{dem.x_m[120]},{dem.y_m[120]}"
    out = tmp_path / "route.geojson"
    args = ["traverse", "plan", "--dem", str(tmp_path / "dem.tif"), "--start", start]
    result = CliRunner().invoke(
        app, [*args, "--goal", goal, "--out", str(out), "--png", str(tmp_path / "r.png")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("hazard model: strategic (5 m cells > the 0.5 m wheel base")
    props = json.loads(out.read_text())["properties"]
    assert props["hazard_model"] == "strategic"
    assert "rock abundance as cost" in props["hazard_model_reason"]
    result = CliRunner().invoke(
        app, [*args, "--goal", goal, "--out", str(out), "--hazard-model", "tactical"]
    )
    # forced tactical on 5 m cells, the goal's 15 m footprint holds a "step" (the old failure)
    assert result.exit_code == 1
    assert "is inside a hazard: step 0.28 m > 0.15 m clearance" in result.output
