"""Traverse planning: routes through waypoints on hazard maps, schedules replayed independently."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from affine import Affine  # type: ignore[import-untyped]  # ships no type information
from numpy.typing import NDArray

from falak.errors import InputError, PlanInfeasible
from falak.planning.traverse import (
    Battery,
    TraverseRoute,
    plan_route,
    replay,
    schedule_traverse,
)
from falak.planning.traverse.route import route_cost, shortest_path
from falak.terrain import Dem, Rover, hazards, synthesize

DEPART = dt.datetime(2028, 1, 10, tzinfo=dt.UTC)
# Relative tolerance on route costs: sums of ~10² float64 edge weights in another order.
RTOL = 1e-9


@pytest.fixture(scope="module")
def terrain() -> tuple[Dem, object]:
    dem = synthesize(100, 2.0, seed=3)
    return dem, hazards(dem, Rover(max_slope_deg=12.0))


def _flat(n: int = 100) -> tuple[Dem, object]:
    dem = Dem(np.zeros((3, n), np.float32), Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0))
    return dem, hazards(dem, Rover())


def _xy(dem: Dem, r: int, c: int) -> tuple[float, float]:
    return float(dem.x_m[c]), float(dem.y_m[r])


def _passable_cells(maps: object, k: int, seed: int) -> list[tuple[int, int]]:
    rr, cc = np.nonzero(np.isfinite(maps.cost))  # type: ignore[attr-defined]
    pick = np.random.default_rng(seed).choice(rr.size, k, replace=False)
    return [(int(rr[i]), int(cc[i])) for i in pick]


def test_ordered_waypoints_route_is_the_sum_of_optimal_legs(terrain) -> None:  # type: ignore[no-untyped-def]
    dem, maps = terrain
    cells = _passable_cells(maps, 4, 0)
    points = [_xy(dem, r, c) for r, c in cells]
    route = plan_route(dem, maps, points[0], points[-1], points[1:-1])
    cost = maps.cost.astype(np.float64)
    legs = [shortest_path(cost, a, b, 2.0).cost for a, b in itertools.pairwise(cells)]
    assert route.cost == pytest.approx(sum(legs), rel=RTOL)
    assert route_cost(cost, route.rows, route.cols, 2.0) == pytest.approx(route.cost, rel=RTOL)
    for node, (r, c) in zip(route.waypoint_nodes, cells, strict=True):
        assert (route.rows[node], route.cols[node]) == (r, c)
    assert not np.any(maps.impassable[route.rows, route.cols])
    assert route.max_slope_deg <= 12.0
    assert route.distance_m[-1] == pytest.approx(route.length_m)


def test_unordered_waypoints_match_brute_force_over_orders(terrain) -> None:  # type: ignore[no-untyped-def]
    dem, maps = terrain
    cells = _passable_cells(maps, 5, 1)
    points = [_xy(dem, r, c) for r, c in cells]
    start, goal, via = points[0], points[-1], points[1:-1]
    best = min(
        plan_route(dem, maps, start, goal, [via[i] for i in perm]).cost
        for perm in itertools.permutations(range(len(via)))
    )
    route = plan_route(dem, maps, start, goal, via, unordered=True)
    assert route.cost == pytest.approx(best, rel=RTOL)
    assert sorted(route.order) == [0, 1, 2]
    assert route.waypoint_xy[1:-1] == [via[i] for i in route.order]


def test_bad_points_are_refused_with_the_reason(terrain) -> None:  # type: ignore[no-untyped-def]
    dem, maps = terrain
    ok = _xy(dem, *_passable_cells(maps, 1, 2)[0])
    with pytest.raises(InputError, match=r"outside the DEM"):
        plan_route(dem, maps, ok, (1e7, 0.0))
    r, c = np.argwhere(maps.slope_deg > 12.0 + 1)[0]
    steep = _xy(dem, int(r), int(c))
    with pytest.raises(
        PlanInfeasible, match=r"goal \(.*\) is inside a hazard: slope \d+° > 12° limit"
    ):
        plan_route(dem, maps, ok, steep)


def test_cut_off_goal_names_the_slope_limit() -> None:
    # A flat plain split by a 40°-steep ridge wall: only slopes separate the halves.
    x = np.arange(60) * 2.0
    height = np.where(
        np.abs(x - 60) < 6, 60 - 6 * np.abs(x - 60) / 6 * 0 + 4 * (6 - np.abs(x - 60)), 0
    )
    dem = Dem(np.tile(height, (40, 1)).astype(np.float32), Affine(2.0, 0, 0, 0, -2.0, 100.0))
    maps = hazards(dem, Rover(clearance_m=100.0, max_slope_deg=20.0))
    with pytest.raises(PlanInfeasible, match=r"no path: the goal .* is cut off by slopes over 20°"):
        plan_route(dem, maps, _xy(dem, 20, 2), _xy(dem, 20, 57))


def test_nan_holes_are_never_driven_through() -> None:
    dem, _ = _flat(30)
    height = np.zeros((9, 30), np.float32)
    height[1:, 14:16] = np.nan  # a hole from row 1 down: the route must go round by row 0
    dem = Dem(height, dem.transform)
    maps = hazards(dem, Rover())
    route = plan_route(dem, maps, _xy(dem, 8, 2), _xy(dem, 8, 27))
    assert not np.any(np.isnan(height[route.rows, route.cols]))
    assert not np.any(maps.impassable[route.rows, route.cols])


# --- schedules -------------------------------------------------------------------------------


def _times(hours: float, step_min: float = 10.0) -> NDArray[np.datetime64]:
    n = int(hours * 60 / step_min) + 1
    start = np.datetime64(DEPART.replace(tzinfo=None), "ns")
    return start + np.arange(n) * np.timedelta64(int(step_min * 60), "s")


def _line_route() -> TraverseRoute:
    dem, maps = _flat(100)
    return plan_route(dem, maps, _xy(dem, 1, 0), _xy(dem, 1, 99))


def _check(route: TraverseRoute, times, sun, earth, **kw) -> bool:  # type: ignore[no-untyped-def]
    """Plan; a plan must replay cleanly, an infeasible one must say why. True if planned."""
    try:
        plan = schedule_traverse(route, times, sun, earth, **kw)
    except PlanInfeasible as exc:
        conflicts = exc.conflicts
    else:
        report = replay(plan, route, times, sun, earth, **kw)
        assert report.ok, report.violations
        assert report.min_battery_wh >= kw.get("battery", Battery()).min_charge_wh - 1e-9
        return True
    assert conflicts  # an infeasible plan names what blocks it
    return False


def test_all_lit_traverse_takes_length_over_speed() -> None:
    route = _line_route()  # 99 steps of 2 m = 198 m
    times = _times(6)
    sun = np.ones((times.size, len(route.rows)))
    earth = np.ones_like(sun, dtype=bool)
    plan = schedule_traverse(route, times, sun, earth, speed_m_s=0.1)
    # 1980 s of driving; the rover stops at a cell edge at each 600 s step end, so the arrival
    # is at most one cell's drive (20 s) per step later than 1980 s.
    drive_s = sum(s.duration_s for s in plan.segments if s.kind == "drive")
    assert drive_s == pytest.approx(1980.0, abs=1e-6)
    assert 1980.0 <= plan.duration_s <= 1980.0 + 4 * 20.0
    assert plan.depart == DEPART
    assert plan.sunlit_fraction == pytest.approx(1.0)
    assert plan.earth_visible_fraction == pytest.approx(1.0)
    assert replay(plan, route, times, sun, earth).ok


def test_teleoperated_rover_waits_for_earth_and_autonomous_does_not() -> None:
    route = _line_route()
    times = _times(12)
    sun = np.ones((times.size, len(route.rows)))
    earth = np.ones_like(sun, dtype=bool)
    earth[
        (times >= times[0] + np.timedelta64(20, "m")) & (times < times[0] + np.timedelta64(4, "h"))
    ] = False
    tele = schedule_traverse(route, times, sun, earth, teleoperated=True)
    auto = schedule_traverse(route, times, sun, earth, teleoperated=False)
    assert tele.arrive > DEPART + dt.timedelta(hours=4)  # waited out the loss of signal
    assert auto.arrive < DEPART + dt.timedelta(hours=1)
    assert tele.waits()
    assert replay(tele, route, times, sun, earth, teleoperated=True).ok
    # the autonomous plan, replayed as if teleoperated, is caught driving out of contact
    report = replay(auto, route, times, sun, earth, teleoperated=True)
    assert any("without the Earth in view" in v for v in report.violations)


def test_sunlit_and_earth_fractions_are_where_the_rover_is() -> None:
    """One dark cell and one hidden cell on a lit route cost 20 s each, not whole steps."""
    route = _line_route()  # 99 steps of 2 m; the rover spends 2 m / 0.1 m/s = 20 s on a cell
    times = _times(6)
    sun = np.ones((times.size, len(route.rows)))
    earth = np.ones_like(sun, dtype=bool)
    sun[:, 40] = 0.0
    earth[:, 60] = False
    plan = schedule_traverse(route, times, sun, earth, teleoperated=False)
    # Expected by hand: the rover is on cell 40 (and on cell 60) for 20 s of the traverse; all
    # the rest of the time it is lit and in view. The old summary took the worst cell of each
    # 10 min step, which made both fractions 1 - 2 × 600 s / duration.
    assert plan.sunlit_fraction == pytest.approx(1.0 - 20.0 / plan.duration_s, abs=1e-9)
    assert plan.earth_visible_fraction == pytest.approx(1.0 - 20.0 / plan.duration_s, abs=1e-9)
    assert plan.passage_sun_fraction[40] == 0.0
    assert np.all(np.delete(plan.passage_sun_fraction, 40) == 1.0)


def test_fractions_interpolate_light_linearly_in_time() -> None:
    """Waiting at the start while the Sun rises from 0 to 1 over the hour gives half light."""
    route = _line_route()
    times = _times(2, 60.0)  # samples at 0, 1 and 2 h
    sun = np.ones((times.size, len(route.rows)))
    sun[0] = 0.0
    earth = np.ones_like(sun, dtype=bool)
    earth[0] = False
    plan = schedule_traverse(route, times, sun, earth)  # teleoperated: waits the first hour
    assert plan.depart == DEPART + dt.timedelta(hours=1)
    # 3600 s at a mean of 0.5 (the ramp's integral), then 1980 s of driving in full light
    assert plan.sunlit_fraction == pytest.approx((1800.0 + 1980.0) / (3600.0 + 1980.0))
    assert plan.earth_visible_fraction == pytest.approx(plan.sunlit_fraction)


def test_earth_never_in_view_is_named_not_the_battery() -> None:
    """Earth hidden all along: a bigger battery would not help, so the Earth is named."""
    route = _line_route()
    times = _times(24, 30.0)
    sun = np.zeros((times.size, len(route.rows)))
    earth = np.zeros_like(sun, dtype=bool)  # no contact: a teleoperated rover cannot leave
    with pytest.raises(
        PlanInfeasible,
        match=r"^no Earth window: the Earth is never in view at the start \(1001\.0, 4997\.0\) "
        r"\(0 m along the route\) from 2028-01-10T00:00:00Z to 2028-01-11T00:00:00Z",
    ) as info:
        schedule_traverse(route, times, sun, earth, battery=Battery(capacity_wh=150.0))
    assert info.value.conflicts == ["earth visibility"]


def test_battery_message_names_hours_of_darkness_and_place() -> None:
    route = _line_route()
    times = _times(24, 30.0)
    sun = np.zeros((times.size, len(route.rows)))
    earth = np.zeros_like(sun, dtype=bool)
    earth[times >= times[0] + np.timedelta64(11, "h")] = True  # contact after the battery died
    battery = Battery(capacity_wh=150.0, idle_power_w=15.0)
    with pytest.raises(
        PlanInfeasible,
        match=r"battery would be empty after 10\.0 h of darkness "
        r"at \(1001\.0, 4997\.0\)",
    ) as info:  # 150 Wh / 15 W = 10 h
        schedule_traverse(route, times, sun, earth, battery=battery)
    assert info.value.conflicts == ["battery"]


def test_no_earth_window_and_short_window_messages() -> None:
    route = _line_route()
    times = _times(6)
    sun = np.ones((times.size, len(route.rows)))
    earth = np.zeros_like(sun, dtype=bool)
    with pytest.raises(PlanInfeasible, match="no Earth window"):
        schedule_traverse(route, times, sun, earth)
    with pytest.raises(PlanInfeasible, match=r"not reached by \S+ \(end of the timeline\)"):
        schedule_traverse(route, times[:3], sun[:3], ~earth[:3])


def test_safe_haven_rule() -> None:
    route = _line_route()
    times = _times(6)
    sun = np.zeros((times.size, len(route.rows)))
    earth = np.zeros_like(sun, dtype=bool)
    with pytest.raises(PlanInfeasible, match="no safe haven"):
        schedule_traverse(route, times, sun, earth, haven_min_sun_fraction=0.5)


def test_random_timelines_replay_clean() -> None:
    """Shadows and loss of signal sweeping along the route: every plan replays cleanly."""
    route = _line_route()
    outcomes = []
    for seed in range(16):
        rng = np.random.default_rng(seed)
        step = float(rng.choice([10.0, 30.0, 60.0]))
        times = _times(72, step)
        n_t, n_k = times.size, len(route.rows)
        hours = (times - times[0]) / np.timedelta64(1, "h")
        along = route.distance_m / route.length_m
        period = rng.uniform(4, 30)
        phase = hours[:, None] / period + rng.uniform(0.2, 1.5) * along[None, :] + rng.random()
        sun = np.clip(0.5 + 1.5 * np.sin(2 * np.pi * phase), 0, 1)
        earth = np.sin(2 * np.pi * (hours[:, None] / rng.uniform(3, 20) + rng.random())) > -0.3
        earth = np.broadcast_to(earth, (n_t, n_k))
        battery = Battery(
            capacity_wh=float(rng.uniform(10, 80)), min_charge_wh=float(rng.uniform(0, 5))
        )
        outcomes.append(
            _check(
                route,
                times,
                sun,
                earth,
                battery=battery,
                teleoperated=bool(seed % 2),
                speed_m_s=float(rng.choice([0.05, 0.1, 0.2])),
            )
        )
    assert sum(outcomes) >= 4  # the cases are not all infeasible (the check would be empty)


def test_replay_catches_a_dead_battery() -> None:
    route = _line_route()
    times = _times(6)
    sun = np.ones((times.size, len(route.rows)))
    earth = np.ones_like(sun, dtype=bool)
    plan = schedule_traverse(route, times, sun, earth, battery=Battery(capacity_wh=20.0))
    dark = np.zeros_like(sun)
    report = replay(plan, route, times, dark, earth, battery=Battery(capacity_wh=20.0))
    assert any("battery at" in v for v in report.violations)


def test_schedule_input_checks() -> None:
    route = _line_route()
    times = _times(2)
    with pytest.raises(InputError, match=r"shape \(n_times, n_cells\)"):
        schedule_traverse(route, times, np.ones((3, 3)), np.ones((3, 3), bool))
    with pytest.raises(InputError, match="strictly increasing"):
        schedule_traverse(
            route, times[::-1], np.ones((times.size, 100)), np.ones((times.size, 100), bool)
        )


@pytest.mark.slow
@pytest.mark.parametrize("teleoperated", [True, False])
def test_plan_on_real_illumination_replays_clean(tmp_path, teleoperated: bool) -> None:  # type: ignore[no-untyped-def]
    """End to end: DEM → hazards → route → horizons + DE421 timeline → schedule → replay."""
    from falak.planning.traverse import route_png, route_timeline, to_geojson
    from falak.terrain import horizons

    dem = synthesize(100, 0.5, seed=2)
    maps = hazards(dem, Rover(max_slope_deg=20.0))
    route = plan_route(dem, maps, _xy(dem, 2, 2), _xy(dem, 97, 97), [_xy(dem, 20, 80)])
    depart = dt.datetime(2028, 3, 1, tzinfo=dt.UTC)
    times, sun, earth = route_timeline(dem, horizons(dem, 36), route, depart, 14 * 24, 60.0)
    battery = Battery(capacity_wh=60.0)
    try:
        plan = schedule_traverse(
            route, times, sun, earth, battery=battery, teleoperated=teleoperated
        )
    except PlanInfeasible as exc:
        pytest.fail(f"a two-week window should allow a 150 m drive: {exc}")
    report = replay(plan, route, times, sun, earth, battery=battery, teleoperated=teleoperated)
    assert report.ok, report.violations
    assert plan.duration_s >= route.length_m / 0.1 - 1e-3  # times are kept to 1 µs
    feature = to_geojson(route, plan)
    props = feature["properties"]
    assert len(feature["geometry"]["coordinates"]) == len(route.rows)
    for key in (
        "length_m",
        "duration_s",
        "max_slope_deg",
        "sunlit_fraction",
        "earth_visible_fraction",
        "depart",
        "arrive",
        "waypoints",
        "waits",
        "timeline",
    ):
        assert key in props
    assert props["waypoints"][1]["arrive"] >= props["depart"]
    png = route_png(tmp_path / "r.png", dem, maps, route, sun.mean(axis=0), plan)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_many_drives_of_fractional_microseconds_replay_clean() -> None:
    """Segment times are kept to 1 µs: 40 drives of √2-cell steps must not drift the replay.

    Found on the 5 m strategic site (issue 14): after ~30 drives whose durations are not
    whole microseconds, the replay put the rover 1e-6 m short of its node and reported
    "wait ... is not where the rover is".
    """
    n = 430
    dem = Dem(np.zeros((n, n), np.float32), Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0))
    maps = hazards(dem, Rover())
    route = plan_route(dem, maps, _xy(dem, 0, 0), _xy(dem, n - 1, n - 1))  # the diagonal
    times = _times(30)
    sun = np.ones((times.size, len(route.rows)))
    earth = np.zeros_like(sun, dtype=bool)
    earth[np.arange(times.size) % 3 != 2] = True  # one 10 min drive window in every 30 min
    plan = schedule_traverse(route, times, sun, earth, speed_m_s=0.05)
    drives = [s for s in plan.segments if s.kind == "drive"]
    assert len(drives) >= 35
    report = replay(plan, route, times, sun, earth, speed_m_s=0.05)
    assert report.violations == []


def test_a_short_shadow_costs_only_its_own_crossing() -> None:
    """Drive energy is integrated move by move: 2 dark cells cost 40 s of sunlight, not 1980 s.

    A 198 m drive in full Sun but for two shadowed cells, 10 Wh battery, 60 W to drive, 90 W
    of panels: one 1 h step suffices (net +30 W lit, −60 W for the 40 s in shadow). Charging
    the whole drive at the darkest cell's light (the former rule) needs 33 Wh, so the rover
    had to stop short of the shadow and finish in later steps.
    """
    route = _line_route()
    times = _times(4, step_min=60.0)
    sun = np.ones((times.size, len(route.rows)))
    sun[:, 50:52] = 0.0
    earth = np.ones_like(sun, dtype=bool)
    battery = Battery(capacity_wh=10.0)
    plan = schedule_traverse(route, times, sun, earth, battery=battery)
    assert plan.duration_s == pytest.approx(1980.0, abs=1e-3)
    assert [s.kind for s in plan.segments] == ["drive"]
    # lowest charge just after the shadow: 10 Wh full, then 3 moves lit at the darker cell
    # (49→50, 50→51, 51→52) at −60 W for 20 s each: 10 − 1 = 9 Wh
    assert plan.min_battery_wh == pytest.approx(9.0, abs=1e-9)
    report = replay(plan, route, times, sun, earth, battery=battery)
    assert report.ok, report.violations
