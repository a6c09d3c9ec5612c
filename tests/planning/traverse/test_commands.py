"""A planned traverse as a drive stack: legs that sum to the route, releases in Earth windows."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from falak.errors import InputError
from falak.planning.stackdoc import stack_yaml
from falak.planning.traverse import plan_route, schedule_traverse, to_geojson
from falak.planning.traverse.commands import (
    LIGHT_TIME_S,
    TURN_RATE_DEG_S,
    PlannedTraverse,
    command_properties,
    drive_stack,
    earth_windows,
    heading_deg,
)
from falak.planning.traverse.tracking import track
from falak.terrain import Rover, hazards, synthesize
from falak.utctime import datetime_to_ns, parse_ns

ROVER_MDB = Path(__file__).parents[3] / "src" / "falak" / "missions" / "rover" / "mdb.yaml"
SPEED_M_S = 0.05
T0 = np.datetime64("2028-01-10T00:00", "ns")
N_TIMES = 25  # every 10 min over 4 h
GAP = slice(3, 6)  # Earth hidden at 00:30, 00:40, 00:50 everywhere


@pytest.fixture(scope="module")
def planned() -> dict[str, Any]:
    dem = synthesize(100, 0.5, seed=2)  # 50 m square at 0.5 m
    maps = hazards(dem, Rover(max_slope_deg=20.0))
    start = (float(dem.x_m[2]), float(dem.y_m[2]))
    goal = (float(dem.x_m[97]), float(dem.y_m[97]))
    route = plan_route(dem, maps, start, goal, [(float(dem.x_m[80]), float(dem.y_m[20]))])
    times = T0 + np.arange(N_TIMES) * np.timedelta64(10, "m")
    sun = np.ones((N_TIMES, route.rows.size))
    earth = np.ones((N_TIMES, route.rows.size), bool)
    earth[GAP] = False
    schedule = schedule_traverse(route, times, sun, earth, speed_m_s=SPEED_M_S)
    feature = to_geojson(route, schedule)
    extra = command_properties(
        schedule, route, times, earth, rover=maps.rover, speed_m_s=SPEED_M_S, teleoperated=True
    )
    feature["properties"].update(extra)
    return {
        "route": route, "schedule": schedule, "times": times, "earth": earth, "f": feature,
        "dem": dem, "maps": maps,
    }  # fmt: skip


def _windows(feature: dict[str, Any]) -> list[tuple[int, int]]:
    return [
        (parse_ns(w["start"]), parse_ns(w["end"])) for w in feature["properties"]["earth_windows"]
    ]


def test_earth_windows_are_where_the_rover_sees_the_earth(planned) -> None:  # type: ignore[no-untyped-def]
    # Earth hidden at steps 3-5 (00:30-00:50): windows 00:00-00:20 and 01:00 to the end.
    assert planned["f"]["properties"]["earth_windows"] == [
        {"start": "2028-01-10T00:00:00Z", "end": "2028-01-10T00:20:00Z"},
        {"start": "2028-01-10T01:00:00Z", "end": "2028-01-10T04:00:00Z"},
    ]
    # Hidden only at the goal: after arrival the rover is there, so the window closes.
    earth = planned["earth"].copy()
    earth[:, -1] = False
    got = earth_windows(
        planned["schedule"], planned["route"], planned["times"], earth, speed_m_s=SPEED_M_S
    )
    arrive_ns = datetime_to_ns(planned["schedule"].arrive)
    assert abs(got[-1][1] - arrive_ns) < 1e6  # the window closes as it reaches the goal (1 ms)
    assert planned["f"]["properties"]["rover"] == {
        "speed_m_s": SPEED_M_S,
        "max_slope_deg": 20.0,
        "max_step_m": 0.15,
        "wheel_base_m": 0.5,
        "teleoperated": True,
    }


def test_exact_legs_follow_the_route_cell_by_cell(planned) -> None:  # type: ignore[no-untyped-def]
    route = planned["route"]
    doc, summary = drive_stack(planned["f"], tolerance_m=1e-6)
    drives = [s for s in doc["steps"] if s["command"] == "DRIVE"]
    total = sum(s["arguments"]["DISTANCE_M"] for s in drives)
    assert total == pytest.approx(route.length_m, abs=1e-3 * len(drives))  # mm rounding
    assert summary.distance_m == pytest.approx(route.length_m, abs=1e-2)
    # 8-connected moves: every heading is a multiple of 45°
    assert all(s["arguments"]["HEADING_DEG"] % 45 == 0 for s in drives)


def test_legs_sum_to_the_route(planned) -> None:  # type: ignore[no-untyped-def]
    route = planned["route"]
    doc, summary = drive_stack(planned["f"])  # default tolerance: half a 0.5 m cell
    drives = [s["arguments"] for s in doc["steps"] if s["command"] == "DRIVE"]
    assert summary.legs == len(drives) < route.rows.size / 2  # straight runs merged
    h = np.radians([a["HEADING_DEG"] for a in drives])
    d = np.array([a["DISTANCE_M"] for a in drives])
    end = np.array([route.x_m[0] + np.sum(d * np.sin(h)), route.y_m[0] + np.sum(d * np.cos(h))])
    # headings to 0.01° (1.7e-4 rad) over ≤ 85 m: ≤ 15 mm; distances to the mm
    assert np.hypot(*(end - [route.x_m[-1], route.y_m[-1]])) < 0.02
    # Chords cut the corners of the 8-connected path: shorter, by little
    assert route.length_m * 0.95 < d.sum() <= route.length_m + 1e-6
    # Each leg's end lies on the route (a cell centre)
    x, y = route.x_m[0], route.y_m[0]
    for a in drives:
        x += a["DISTANCE_M"] * math.sin(math.radians(a["HEADING_DEG"]))
        y += a["DISTANCE_M"] * math.cos(math.radians(a["HEADING_DEG"]))
        assert np.min(np.hypot(route.x_m - x, route.y_m - y)) < 0.02
    assert {a["MAX_SLOPE_DEG"] for a in drives} == {20.0}
    assert {a["MAX_STEP_M"] for a in drives} == {0.15}


def test_headings_are_clockwise_from_grid_north() -> None:
    # +y is grid north (0°), +x is 90°, -y 180°, -x 270°
    assert heading_deg([0, 1, 0, -1, 1], [1, 0, -1, 0, 1]).tolist() == [0, 90, 180, 270, 45]


def _durations(doc: dict[str, Any], speed_m_s: float = SPEED_M_S) -> list[float]:
    """Each step's expected duration, from its arguments (independently of the planner)."""
    out, facing = [], None
    for s in doc["steps"]:
        a = s["arguments"]
        if s["command"] == "TURN":
            turn = 180.0 if facing is None else abs((a["HEADING_DEG"] - facing + 180) % 360 - 180)
            out.append(turn / TURN_RATE_DEG_S)
            facing = a["HEADING_DEG"]
        elif s["command"] == "DRIVE":
            out.append(a["DISTANCE_M"] / speed_m_s)
            facing = a["HEADING_DEG"]
        else:  # GOTO: not needed here
            out.append(math.nan)
    return out


def test_releases_and_round_trips_inside_earth_windows(planned) -> None:  # type: ignore[no-untyped-def]
    doc, summary = drive_stack(planned["f"])
    windows = _windows(planned["f"])
    at = [parse_ns(s["at"]) for s in doc["steps"]]
    assert at == sorted(at)
    lt_ns = LIGHT_TIME_S * 1e9
    for s, t, dur in zip(doc["steps"], at, _durations(doc), strict=True):
        # released, executed and seen complete on Earth inside one window (25 ms: distances
        # rounded to the mm are 10 ms at 0.05 m/s, headings to 0.01° 3 ms of turn at 3°/s)
        done = t + 2 * lt_ns + dur * 1e9
        assert any(a <= t and done <= b + 25e6 for a, b in windows), s
    for prev, nxt, dur in zip(at, at[1:], _durations(doc), strict=False):
        assert nxt >= prev + 2 * lt_ns + dur * 1e9 - 25e6  # after the step before is done
    # The plan's second drive ends at 00:19:59; turns and round trips push its last legs past
    # the window's end at 00:20, so they wait for the window at 01:00.
    held = [s for s in doc["steps"] if "held for the Earth window" in s["comment"]]
    assert summary.held == len(held) == 1
    assert held[0]["at"] == "2028-01-10T01:00:00Z"
    assert summary.windows == 2
    assert summary.first_ns == parse_ns("2028-01-10T00:00:00Z")  # the planned departure


def test_turns_only_where_the_heading_changes(planned) -> None:  # type: ignore[no-untyped-def]
    doc, _ = drive_stack(planned["f"])
    steps = doc["steps"]
    assert steps[0]["command"] == "TURN"  # the heading at the start is not known
    for prev, s in itertools.pairwise(steps):
        if s["command"] == "TURN":
            assert prev["command"] == "DRIVE"
            assert s["arguments"]["HEADING_DEG"] != prev["arguments"]["HEADING_DEG"]
    assert steps[0]["comment"].startswith("turn, leg 1/")
    assert "(expected 60 s)" in steps[0]["comment"]  # 180° at 3°/s
    goal_leg = [s for s in steps if "to the goal" in s["comment"]]
    assert goal_leg[-1] is steps[-1]


def test_goto_legs_end_at_the_goal(planned) -> None:  # type: ignore[no-untyped-def]
    route = planned["route"]
    doc, summary = drive_stack(planned["f"], legs="goto", policy="continue", name="day-3")
    assert {s["command"] for s in doc["steps"]} == {"GOTO"}
    assert len(doc["steps"]) == summary.legs
    last = doc["steps"][-1]["arguments"]
    assert (last["X_M"], last["Y_M"]) == (round(route.x_m[-1], 3), round(route.y_m[-1], 3))
    assert doc["stack"] == "day-3"
    assert doc["on_failure"] == "continue"


def test_a_step_longer_than_any_window_is_refused(planned) -> None:  # type: ignore[no-untyped-def]
    f = copy.deepcopy(planned["f"])
    f["properties"]["earth_windows"] = [
        {"start": "2028-01-10T00:00:00Z", "end": "2028-01-10T00:00:30Z"}
    ]
    with pytest.raises(InputError, match=r"turn, leg 1/\d+: .* needs 63 s in one Earth window"):
        drive_stack(f)


def test_out_of_contact_says_so(planned) -> None:  # type: ignore[no-untyped-def]
    f = copy.deepcopy(planned["f"])
    f["properties"]["earth_windows"] = []  # e.g. an autonomous plan into the Earth's shadow
    f["properties"]["rover"]["teleoperated"] = False
    with pytest.raises(InputError) as exc:
        drive_stack(f)
    assert str(exc.value) == (
        "turn, leg 1/25: 3.04 m at 99.5°: no Earth window where the rover is from "
        "2028-01-10T00:00:00Z on; "
        "the plan drives out of contact (planned --autonomous?): plan it teleoperated, or with "
        "more --hours"
    )


def test_bad_input_says_what_to_do(planned) -> None:  # type: ignore[no-untyped-def]
    f = copy.deepcopy(planned["f"])
    with pytest.raises(InputError, match="policy 'later' is not one of stop, continue"):
        drive_stack(f, policy="later")
    with pytest.raises(InputError, match="legs 'fly' is not one of drive, goto"):
        drive_stack(f, legs="fly")
    with pytest.raises(InputError, match=r"light time must be a number of seconds >= 0, got -1"):
        drive_stack(f, light_time_s=-1.0)
    with pytest.raises(InputError, match="turn rate must be a positive number of °/s, got 0"):
        drive_stack(f, turn_rate_deg_s=0.0)
    with pytest.raises(InputError, match="max_leg_m must be a positive number of metres"):
        drive_stack(f, max_leg_m=math.nan)
    del f["properties"]["earth_windows"]
    with pytest.raises(InputError, match=r"r\.geojson has no earth_windows .* plan it again"):
        drive_stack(f, file="r.geojson")
    f["properties"]["depart"] = None
    with pytest.raises(InputError, match="has a route but no schedule; plan it with a depart"):
        drive_stack(f)
    with pytest.raises(InputError, match="is not a planned traverse"):
        drive_stack({"type": "FeatureCollection"})


def test_planned_progress_follows_the_schedule(planned) -> None:  # type: ignore[no-untyped-def]
    plan = PlannedTraverse.from_geojson(planned["f"])
    route = planned["route"]
    t = [parse_ns(planned["f"]["properties"]["depart"]), plan.arrive_ns + 10**12]
    assert plan.planned_along_m(t).tolist() == pytest.approx([0.0, route.length_m], abs=0.01)


@pytest.mark.skipif(not ROVER_MDB.exists(), reason="the rover MDB has not landed yet")
def test_the_stack_loads_against_the_rover_mdb(planned) -> None:  # type: ignore[no-untyped-def]
    from falak.commanding.stack import parse_stack
    from falak.mdb import load

    mdb = load(ROVER_MDB)
    for legs in ("drive", "goto"):
        doc, summary = drive_stack(planned["f"], legs=legs, spacecraft=mdb.root.name)
        stack = parse_stack(stack_yaml(doc), mdb, file="drive.yaml")
        assert len(stack.steps) == summary.steps
        assert stack.steps[0].at_ns == summary.first_ns


def test_long_legs_are_cut_for_the_rover(planned) -> None:  # type: ignore[no-untyped-def]
    whole, _ = drive_stack(planned["f"])
    cut, summary = drive_stack(planned["f"], max_leg_m=2.0)

    def drives(doc: dict[str, Any]) -> list[float]:
        return [s["arguments"]["DISTANCE_M"] for s in doc["steps"] if s["command"] == "DRIVE"]

    assert max(drives(whole)) > 2.0  # the fixture has legs to cut
    assert max(drives(cut)) <= 2.0
    assert sum(drives(cut)) == pytest.approx(sum(drives(whole)), abs=1e-3 * summary.legs)
    # pieces of one leg share its heading: no TURN between them
    turns = sum(s["command"] == "TURN" for s in cut["steps"])
    assert turns == sum(s["command"] == "TURN" for s in whole["steps"])


def test_legs_stay_off_hazards(planned) -> None:  # type: ignore[no-untyped-def]
    # Half a cell from the cell-centre polyline: inside the route's cells and the corner cells
    # of its diagonal moves, which the planner keeps hazard-free (module doc). Sampled every
    # 1 cm along each leg, on a map with a quarter of its cells hazards (seeded), so that the
    # route threads between them.
    dem, maps = planned["dem"], planned["maps"]
    mask = np.random.default_rng(7).random(maps.impassable.shape) < 0.25
    mask[:5, :5] = mask[-5:, -5:] = False
    maps = dataclasses.replace(
        maps, impassable=mask, cost=np.where(mask, np.inf, 1.0).astype(np.float32)
    )
    route = plan_route(
        dem, maps, (float(dem.x_m[2]), float(dem.y_m[2])), (float(dem.x_m[97]), float(dem.y_m[97]))
    )
    near = ndimage.binary_dilation(mask, np.ones((3, 3), bool))[route.rows, route.cols]
    assert near.mean() > 0.5  # most of the route runs beside a hazard
    n = route.rows.size
    plan = schedule_traverse(
        route, planned["times"], np.ones((N_TIMES, n)), np.ones((N_TIMES, n), bool),
        speed_m_s=SPEED_M_S,
    )  # fmt: skip
    feature = to_geojson(route, plan)
    extra = command_properties(
        plan, route, planned["times"], np.ones((N_TIMES, n), bool), rover=maps.rover,
        speed_m_s=SPEED_M_S, teleoperated=True,
    )  # fmt: skip
    feature["properties"].update(extra)
    for legs in ("drive", "goto"):
        doc, summary = drive_stack(feature, legs=legs, max_leg_m=100.0)
        assert summary.legs < n / 2
        x, y = float(route.x_m[0]), float(route.y_m[0])
        for s in doc["steps"]:
            a = s["arguments"]
            if s["command"] == "TURN":
                continue
            if s["command"] == "GOTO":
                x1, y1 = a["X_M"], a["Y_M"]
            else:
                h = math.radians(a["HEADING_DEG"])
                x1, y1 = x + a["DISTANCE_M"] * math.sin(h), y + a["DISTANCE_M"] * math.cos(h)
            k = max(2, int(math.hypot(x1 - x, y1 - y) / 0.01))
            rows, cols = dem.cell_of(np.linspace(x, x1, k), np.linspace(y, y1, k))
            assert not maps.impassable[rows, cols].any(), s["comment"]
            x, y = x1, y1


def test_the_stack_drives_the_rover_model() -> None:
    # The ROVER simulator's model (falak.sim.rover) flies the stack: each step arrives one light
    # time after its release, the next waits for the step before to end. A rock-free site:
    # the planner's tactical rock cells hold only the rock's own cell, while the rover's check
    # keeps its centre a half wheel base plus the rock's radius away (reported to the lead).
    from falak.sim import rover as rv
    from falak.sim.rover_site import Site
    from falak.terrain import horizons

    s_ns = 10**9
    dem = synthesize(100, 0.5, seed=2, rock_density_per_m2=0.0)
    maps = hazards(dem, Rover())
    site = Site(dem, horizons(dem, 36), Rover())
    start = (float(dem.x_m[2]), float(dem.y_m[2]))
    goal = (float(dem.x_m[90]), float(dem.y_m[90]))  # the on-board map wants a margin
    route = plan_route(dem, maps, start, goal)
    epoch = parse_ns("2028-01-04T00:00:00Z")
    times = np.datetime64(epoch, "ns") + np.arange(13) * np.timedelta64(10, "m")
    n = route.rows.size
    sun, earth = np.ones((13, n)), np.ones((13, n), bool)
    plan = schedule_traverse(route, times, sun, earth, speed_m_s=0.0556)  # the MDB's 200 m/h
    feature = to_geojson(route, plan)
    extra = command_properties(
        plan, route, times, earth, rover=maps.rover, speed_m_s=0.0556, teleoperated=True
    )
    feature["properties"].update(extra)
    planned_traverse = PlannedTraverse.from_geojson(feature)
    lt = round(LIGHT_TIME_S * s_ns)
    for legs in ("drive", "goto"):
        doc, summary = drive_stack(feature, legs=legs)
        model = rv.RoverModel(
            epoch, site, seed=1,
            opts={"start_x_m": start[0], "start_y_m": start[1], "contacts": "always"},
        )  # fmt: skip
        t, est = epoch, []
        for step, dur in zip(doc["steps"], _durations(doc, speed_m_s=0.0556), strict=True):
            at = max(parse_ns(step["at"]), t)
            while t < at + lt:  # the command crosses the light time
                t = min(t + s_ns, at + lt)
                model.step(t)
            outcome = model.execute(step["command"], step["arguments"], t)
            assert outcome.ok, (step["comment"], outcome.message)
            assert outcome.finish is not None
            started, end = t, None
            while end is None:
                t += s_ns
                model.step(t)
                est.append((t, model.est_x, model.est_y))
                end = outcome.finish(t)
            assert end.ok, (step["comment"], end.message)
            if step["command"] == "DRIVE":  # it drives at the MDB's speed (1 s steps)
                assert (t - started) / s_ns == pytest.approx(dur, abs=2.0)
            t += lt  # its completion reaches the ground
        # The rover believes it is at the goal (wheel odometry); slip leaves it short in truth
        assert math.hypot(model.est_x - goal[0], model.est_y - goal[1]) < 0.05
        assert math.hypot(model.x - goal[0], model.y - goal[1]) < 0.05 * route.length_m
        e = np.array(est)
        tr = track(planned_traverse, e[:, 0].astype(np.int64), e[:, 1], e[:, 2])
        assert np.abs(tr.cross_m).max() < 0.25 + 0.05  # legs within half a cell; IMU drift
        assert (t - summary.done_ns) / s_ns == pytest.approx(0.0, abs=2.0 * summary.steps)
