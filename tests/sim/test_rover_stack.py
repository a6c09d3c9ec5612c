"""A planned traverse, turned into a drive stack, flies on the rover model.

The route is planned with ``falak.planning.traverse`` on the DEM the rover drives on (0.5 m
cells: steps and rocks resolved), turned into TURN/DRIVE steps by
:func:`falak.planning.traverse.commands.drive_stack`, and each step is executed on the model in
order, as the stack executor releases them (the next when the last one ended). The map check
from the estimated pose accepts every leg (the plan keeps them off hazards), the rover never
enters a cell over the plan's slope limit, and it ends near the goal: exactly by odometry, a
little short in truth (slip).
"""

from __future__ import annotations

import math

import numpy as np

from falak.planning.traverse import plan_route, schedule_traverse, to_geojson
from falak.planning.traverse.commands import command_properties, drive_stack
from falak.sim import rover as rv
from falak.sim.rover_site import Site
from falak.terrain import Rover, hazards, horizons, synthesize
from falak.terrain.hazards import keep_clear_of_rocks

S = 1_000_000_000
T0 = np.datetime64("2028-01-04T00:00", "ns")


def test_a_planned_traverse_flies_as_a_drive_stack() -> None:
    dem = synthesize(100, 0.5, seed=2)  # 50 m square at 0.5 m (as tests/planning/traverse)
    maps = hazards(dem, Rover(max_slope_deg=20.0))
    start = (float(dem.x_m[2]), float(dem.y_m[2]))
    goal = (float(dem.x_m[97]), float(dem.y_m[97]))
    route = plan_route(dem, maps, start, goal)
    times = T0 + np.arange(24) * np.timedelta64(10, "m")
    sun = np.ones((times.size, route.rows.size))
    earth = np.ones((times.size, route.rows.size), bool)
    speed = rv.DRIVE_SPEED_M_S
    schedule = schedule_traverse(route, times, sun, earth, speed_m_s=speed)
    feature = to_geojson(route, schedule)
    feature["properties"].update(
        command_properties(
            schedule, route, times, earth, rover=maps.rover, speed_m_s=speed, teleoperated=True
        )
    )
    doc, _ = drive_stack(feature, spacecraft="ROVER")
    site = Site(dem, horizons(dem, 36), Rover())
    t = int(T0.astype(np.int64))
    m = rv.RoverModel(
        t, site, seed=4, opts={"start_x_m": start[0], "start_y_m": start[1], "contacts": "always"}
    )
    limit = 20.0
    for step in doc["steps"]:
        assert step["command"] in ("TURN", "DRIVE")
        if step["command"] == "DRIVE":
            limit = step["arguments"]["MAX_SLOPE_DEG"]
        out = m.execute(step["command"], step["arguments"], t)
        assert out.ok, (step, out.message)
        assert out.finish is not None
        begin = site.cell(m.x, m.y)
        while (end := out.finish(t)) is None:
            t += S
            m.step(t)
            rc = site.cell(m.x, m.y)
            assert rc == begin or site.slope_deg[rc] <= limit
        if not end.ok:  # only the true terrain may stop a drive the map accepted
            assert end.reason == "HAZARD", end
            assert end.message.startswith("hazard stop at ("), end
            break
        m.soc = 0.9
    else:
        assert math.hypot(m.est_x - goal[0], m.est_y - goal[1]) < 1.0
        # slip of a few % over ~70 m of legs: the truth is short, but within a few metres
        assert math.hypot(m.x - goal[0], m.y - goal[1]) < 6.0


def _drive_doc(dem, maps, start, goal):  # type: ignore[no-untyped-def]
    route = plan_route(dem, maps, start, goal)
    times = T0 + np.arange(48) * np.timedelta64(10, "m")
    sun = np.ones((times.size, route.rows.size))
    earth = np.ones((times.size, route.rows.size), bool)
    speed = rv.DRIVE_SPEED_M_S
    schedule = schedule_traverse(route, times, sun, earth, speed_m_s=speed)
    feature = to_geojson(route, schedule)
    feature["properties"].update(
        command_properties(
            schedule, route, times, earth, rover=maps.rover, speed_m_s=speed, teleoperated=True
        )
    )
    doc, _ = drive_stack(feature, spacecraft="ROVER")
    return route, doc


def _fly_relocalised(site: Site, doc: dict, start: tuple[float, float]) -> list[str]:
    """Fly the stack's steps; before each, the rover's truth is put at its odometry estimate.

    That is the ground re-localising the rover between legs (on visual odometry): it takes
    the odometry drift of the legs before (a few % of the distance driven, metres over a
    100 m traverse) out of the test, which is about the route's clearance from rocks.
    """
    t = int(T0.astype(np.int64))
    m = rv.RoverModel(
        t, site, seed=4, opts={"start_x_m": start[0], "start_y_m": start[1], "contacts": "always"}
    )
    ends = []
    for step in doc["steps"]:
        m.x, m.y = m.est_x, m.est_y
        out = m.execute(step["command"], step["arguments"], t)
        assert out.ok, (step, out.message)
        assert out.finish is not None
        while (end := out.finish(t)) is None:
            t += S
            m.step(t)
        ends.append("OK" if end.ok else f"{end.reason}: {end.message}")
        if not end.ok:
            break
        m.soc = 0.9
    return ends


def test_a_route_planned_clear_of_rocks_drives_past_them_without_hazard_stops() -> None:
    """On the simulator's default 2 m cells, the planner keeps the on-board check's clearance.

    The rover's true-terrain check stops it within half the wheel base + a rock's radius of a
    rock taller than MAX_STEP_M (the stack's clearance), at any cell size. On 2 m cells the
    hazard model is strategic (single rocks are not resolved, only rock fields), so a route
    planned on it passes next to rocks and the rover stops at one; with ``keep_clear_of_rocks``
    every cell within that distance of a listed rock is impassable and the same traverse
    (100 m across a 128 m square of 336 such rocks) drives to its end.
    """
    dem = synthesize(64, 2.0, seed=1)
    assert dem.rocks is not None
    assert int((dem.rocks.diameter_m / 2 > 0.15).sum()) > 300
    site = Site(dem, horizons(dem, 36), Rover())
    start = (float(dem.x_m[8]), float(dem.y_m[32]))
    goal = (float(dem.x_m[56]), float(dem.y_m[32]))
    tall = dem.rocks.diameter_m / 2 > 0.15

    def clearance_m(route, half_cell_m: float = 0.0) -> float:  # type: ignore[no-untyped-def]
        """Least distance of the route's cells (their centres, or every point of a square of
        2 ``half_cell_m``) outside a tall rock's stop distance (brute force over the rocks)."""
        x, y = dem.x_m[route.cols][:, None], dem.y_m[route.rows][:, None]
        gap_x = np.maximum(np.abs(x - dem.rocks.x_m[tall]) - half_cell_m, 0.0)
        gap_y = np.maximum(np.abs(y - dem.rocks.y_m[tall]) - half_cell_m, 0.0)
        return float((np.hypot(gap_x, gap_y) - (0.25 + dem.rocks.diameter_m[tall] / 2)).min())

    plain = hazards(dem, Rover(max_slope_deg=20.0))
    assert plain.model == "strategic"
    route, doc = _drive_doc(dem, plain, start, goal)
    assert clearance_m(route) < 0.0  # the plain strategic route runs over a rock's clearance
    ends = _fly_relocalised(site, doc, start)
    assert ends[-1].startswith("HAZARD: hazard stop at ("), ends[-1]
    assert "step 0.28 m > MAX_STEP_M 0.15" in ends[-1]

    clear = keep_clear_of_rocks(plain, dem)
    assert "of every listed rock taller than the clearance are impassable" in clear.model_reason
    route, doc = _drive_doc(dem, clear, start, goal)
    assert route.length_m > 100.0
    assert clearance_m(route, half_cell_m=1.0) >= 0.0  # every point of every route cell
    ends = _fly_relocalised(site, doc, start)
    assert len(ends) > 10
    assert set(ends) == {"OK"}, ends
