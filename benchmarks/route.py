"""Benchmark: exact least-cost route on a 2000² cost grid, falak vs scikit-image.

Peer: ``skimage.graph.route_through_array(cost, start, end, fully_connected=True,
geometric=True)`` (MCP_Geometric, Cython, binary heap). Both use the same graph: 8 neighbours,
corner cutting allowed (``corner_cutting=True`` on falak's side, as scikit-image does), edge
cost = step length × mean of the two cells' costs, impassable (inf) cells excluded. The path
costs must agree to 1e-9 (relative) or the script fails.

Grids:

* ``terrain``: the rover cost map of a synthetic south-pole DEM (2000² cells at 2 m, seed 1;
  ``falak.terrain.hazards`` with a 20° slope limit; ~11 % impassable) — the real use;
* ``uniform``: costs uniform in [1, 3) with no obstacles — A*'s worst case (its heuristic uses
  the smallest cost, 1, so it prunes little).

falak searches from both ends at once on this grid size (two threads, the default on
grids of ≥ 2¹⁸ cells; see ``falak.planning.route``), so its wall time uses both cores while
scikit-image uses one: the table gives wall and process-CPU ratios (the CPU ratio is the
work ratio, and steadier on a shared machine). Every side is warmed up on the grid itself and
timed interleaved (``_harness``). A second row per grid times falak's one-directional A*
(``bidirectional=False``) for comparison.
* ``strategic`` (issue 14): the strategic case end to end on a 5 m/pixel south-pole site of
  2048² cells (10.2 km square, LOLA's polar resolution; Shackleton's rim through the pole,
  seed 14): ``hazards`` (strategic model) → ``horizons`` (32 azimuths) → ``lit_ridge_pairs``
  (ridge points 3–4 km apart, lit over January 2028) → ``plan_route`` → ``route_timeline``
  (DE421 Sun and Earth, 28 days at 30 min) → ``schedule_traverse`` (teleoperated; the first
  ranked pair that plans) → ``replay`` (asserted clean). Timed as one side, with the time of
  each stage from the last run; then the route on the same cost map between the same points,
  falak against scikit-image (corner cutting on both sides, costs asserted equal to 1e-9),
  and the end-to-end time with scikit-image's route in place of falak's (derived: the route
  stage's time swapped for scikit-image's median).

Run: ``.venv/bin/python benchmarks/route.py [--size 2000] [--cases terrain,uniform,strategic]
[--repeat 3] [--out FILE]`` (a few minutes; making each DEM takes about one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

import numpy as np
from _harness import Bench, Side, expect
from numpy.typing import NDArray

SIZE = 2000


def _terrain(size: int) -> tuple[NDArray[np.float64], float]:
    from falak.terrain import Rover, hazards, synthesize

    dem = synthesize(size, 2.0, seed=1)
    return hazards(dem, Rover(max_slope_deg=20.0)).cost.astype(np.float64), dem.resolution_m


def _uniform(size: int) -> tuple[NDArray[np.float64], float]:
    return 1.0 + 2.0 * np.random.default_rng(0).random((size, size)), 1.0


def _corner(cost: NDArray[np.float64], r0: int, c0: int) -> tuple[int, int]:
    rr, cc = np.nonzero(np.isfinite(cost[r0 : r0 + 50, c0 : c0 + 50]))
    return r0 + int(rr[0]), c0 + int(cc[0])


STRATEGIC_SIZE = 2048
STRATEGIC_SEED = 14
DEPART = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)


def _strategic_site(size: int) -> Any:
    from falak.terrain import synthesize

    return synthesize(size, 5.0, center_lat_lon=(-90.0, 0.0), seed=STRATEGIC_SEED, shackleton=True)


def _strategic_end_to_end(
    dem: Any, stages: dict[str, float], cpu: dict[str, float]
) -> tuple[Any, Any, Any]:
    """Hazards → horizons → lit ridge points → route → schedule; stage wall and CPU seconds."""
    from falak.errors import PlanInfeasible
    from falak.planning.traverse import (
        lit_ridge_pairs,
        plan_route,
        replay,
        route_timeline,
        schedule_traverse,
    )
    from falak.terrain import hazards, horizons

    c = time.process_time()

    def lap(name: str, t0: float) -> float:
        nonlocal c
        now, c_now = time.perf_counter(), time.process_time()
        stages[name] = stages.get(name, 0.0) + now - t0
        cpu[name] = cpu.get(name, 0.0) + c_now - c
        c = c_now
        return now

    stages.clear()
    cpu.clear()
    t = time.perf_counter()
    maps = hazards(dem)
    t = lap("hazards", t)
    hz = horizons(dem, 32)
    t = lap("horizons (32 azimuths)", t)
    month = np.datetime64("2028-01-01T00:00") + np.arange(0, 29 * 24, 2) * np.timedelta64(1, "h")
    pairs = lit_ridge_pairs(dem, maps, hz, month, min_separation_m=3000, max_separation_m=4000)
    t = lap("lit ridge points", t)
    for pair in pairs:
        route = plan_route(dem, maps, pair.start_xy, pair.goal_xy)
        t = lap("route", t)
        times, sun, earth = route_timeline(dem, hz, route, DEPART, 28 * 24, 30.0)
        try:
            plan = schedule_traverse(route, times, sun, earth, teleoperated=True)
        except PlanInfeasible:
            t = lap("schedule (incl. timeline)", t)
            continue
        t = lap("schedule (incl. timeline)", t)
        report = replay(plan, route, times, sun, earth, teleoperated=True)
        expect(report.ok, f"strategic: the schedule does not replay clean: {report.violations}")
        return maps, route, plan
    raise AssertionError("strategic: no ridge pair could be scheduled")


def _strategic(bench: Bench, repeat: int) -> None:
    from skimage.graph import route_through_array

    from falak.planning.traverse.route import shortest_path

    dem = _strategic_site(STRATEGIC_SIZE)
    stages: dict[str, float] = {}
    stages_cpu: dict[str, float] = {}
    kept: dict[str, Any] = {}

    def check(r: dict[str, Any]) -> None:
        maps, route, plan = r["falak end to end"]
        expect(maps.model == "strategic", f"strategic: hazard model {maps.model!r}")
        expect(3000 <= route.length_m <= 5000, f"strategic: route {route.length_m:.0f} m")
        kept.update(maps=maps, route=route, plan=plan)

    bench.compare(
        f"strategic case end to end, {STRATEGIC_SIZE}x{STRATEGIC_SIZE} cells at 5 m",
        [Side("falak end to end", lambda: _strategic_end_to_end(dem, stages, stages_cpu))],
        repeat=repeat,
        check=check,
    )
    maps, route, plan = kept["maps"], kept["route"], kept["plan"]
    share = maps.summary()
    bench.say(
        f"hazard model: {share['model']} ({share['model_reason']}); impassable "
        f"{share['impassable']:.1%} (too steep {share['too_steep']:.1%}, rock fields "
        f"{share['rock']:.2%})"
    )
    bench.say(
        f"route {route.length_m:.0f} m, {len(route.rows)} cells, max slope "
        f"{route.max_slope_deg:.1f} deg; schedule: depart {plan.depart:%Y-%m-%dT%H:%MZ}, arrive "
        f"{plan.arrive:%Y-%m-%dT%H:%MZ} ({plan.duration_s / 3600:.1f} h), {len(plan.waits())} "
        f"waits, sunlit {plan.sunlit_fraction:.0%}, Earth in view "
        f"{plan.earth_visible_fraction:.0%}, lowest battery {plan.min_battery_wh:.0f} Wh; "
        "replay clean (asserted)"
    )
    bench.say(
        "stages of the last run (wall s / CPU s): "
        + ", ".join(f"{k} {v:.2f} / {stages_cpu[k]:.2f}" for k, v in stages.items())
    )
    cost = maps.cost.astype(np.float64)
    start = (int(route.rows[0]), int(route.cols[0]))
    goal = (int(route.rows[-1]), int(route.cols[-1]))
    costs: dict[str, float] = {}

    def check_route(r: dict[str, Any]) -> None:
        ours = r["falak (both ends, 2 threads)"].cost
        theirs = 5.0 * float(r["scikit-image route_through_array"][1])  # skimage: cells
        expect(
            abs(ours - theirs) <= 1e-9 * abs(ours),
            f"strategic: costs differ: falak {ours!r}, skimage {theirs!r}",
        )
        costs["path"] = ours

    stats = bench.compare(
        f"strategic route on the same cost map, start {start}, goal {goal}",
        [
            Side(
                "falak (both ends, 2 threads)",
                lambda: shortest_path(cost, start, goal, 5.0, corner_cutting=True),
            ),
            Side(
                "scikit-image route_through_array",
                lambda: route_through_array(
                    cost, start, goal, fully_connected=True, geometric=True
                ),
            ),
        ],
        repeat=repeat,
        check=check_route,
    )
    bench.say(f"path cost {costs['path']:.1f} (cost x m) on both (asserted)")
    ours_side = stats["falak (both ends, 2 threads)"]
    peer_side = stats["scikit-image route_through_array"]
    for kind, times, ours, peer in (
        ("wall", stages, ours_side.wall, peer_side.wall),
        ("CPU", stages_cpu, ours_side.cpu, peer_side.cpu),
    ):
        total = sum(times.values())
        swapped = total - times["route"] + peer
        bench.say(
            f"end to end ({kind}, last run) {total:.2f} s with falak's route; with "
            f"scikit-image's route in its place (derived) {swapped:.2f} s: ratio "
            f"{swapped / total:.2f}x (route alone {peer / ours:.2f}x, medians)"
        )


def main() -> None:
    from skimage.graph import route_through_array

    from falak.planning.traverse.route import shortest_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument(
        "--cases", default="terrain,uniform,strategic", help="comma-separated cases to run"
    )
    Bench.arguments(ap)
    args = ap.parse_args()
    n = args.size
    cases = args.cases.split(",")
    bench = Bench(
        f"route, cases {args.cases}: 8-connected, corner cutting on both sides, path costs "
        f"asserted equal to 1e-9 (terrain, uniform: {n}x{n} grids; strategic: "
        f"{STRATEGIC_SIZE}x{STRATEGIC_SIZE} at 5 m)",
        args.out,
    )
    for name, make in (("terrain", _terrain), ("uniform", _uniform)):
        if name not in cases:
            continue
        cost, _ = make(n)
        start = _corner(cost, 20, 20)
        goal = _corner(cost, n - 60, n - 60)
        costs: dict[str, float] = {}

        def check(r: dict[str, Any], name: str = name, costs: dict[str, float] = costs) -> None:
            peer_cost = float(r["scikit-image route_through_array"][1])
            for label in ("falak (both ends, 2 threads)", "falak A* (one direction)"):
                value = r[label].cost
                expect(
                    abs(value - peer_cost) <= 1e-9 * abs(value),
                    f"{name}: costs differ: {label} {value!r}, skimage {peer_cost!r}",
                )
            costs["path"] = peer_cost

        bench.compare(
            f"{name} grid, start {start}, goal {goal}",
            [
                Side(
                    "falak (both ends, 2 threads)",
                    lambda c=cost, s=start, g=goal: shortest_path(
                        c, s, g, 1.0, corner_cutting=True
                    ),
                ),
                Side(
                    "falak A* (one direction)",
                    lambda c=cost, s=start, g=goal: shortest_path(
                        c, s, g, 1.0, corner_cutting=True, bidirectional=False
                    ),
                ),
                Side(
                    "scikit-image route_through_array",
                    lambda c=cost, s=start, g=goal: route_through_array(
                        c, s, g, fully_connected=True, geometric=True
                    ),
                ),
            ],
            repeat=args.repeat,
            check=check,
        )
        bench.say(f"path cost {costs['path']:.4f} on all three (asserted)")
    if "strategic" in cases:
        _strategic(bench, args.repeat)
    bench.finish()


if __name__ == "__main__":
    main()
