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
