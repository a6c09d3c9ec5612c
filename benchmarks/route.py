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
work ratio, and steadier on a shared machine), best of 3 runs of each, interleaved. A second
row per grid times falak's one-directional A* (``bidirectional=False``) for comparison.
Run: ``.venv/bin/python benchmarks/route.py`` (a few minutes; making the DEM takes about one).
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

SIZE = 2000
REPEATS = 3


def _terrain() -> tuple[NDArray[np.float64], float]:
    from falak.terrain import Rover, hazards, synthesize

    dem = synthesize(SIZE, 2.0, seed=1)
    return hazards(dem, Rover(max_slope_deg=20.0)).cost.astype(np.float64), dem.resolution_m


def _uniform() -> tuple[NDArray[np.float64], float]:
    return 1.0 + 2.0 * np.random.default_rng(0).random((SIZE, SIZE)), 1.0


def _corner(cost: NDArray[np.float64], r0: int, c0: int) -> tuple[int, int]:
    rr, cc = np.nonzero(np.isfinite(cost[r0 : r0 + 50, c0 : c0 + 50]))
    return r0 + int(rr[0]), c0 + int(cc[0])


def main() -> None:
    from skimage.graph import route_through_array

    from falak.planning.traverse.route import shortest_path

    shortest_path(np.ones((4, 4)), (0, 0), (3, 3))  # compile (numba cache) outside the timing
    rows = []
    for name, make in (("terrain", _terrain), ("uniform", _uniform)):
        cost, _ = make()
        start = _corner(cost, 20, 20)
        goal = _corner(cost, SIZE - 60, SIZE - 60)
        ours: list[tuple[float, float]] = []
        one_way: list[tuple[float, float]] = []
        peer: list[tuple[float, float]] = []
        for _ in range(REPEATS):  # interleaved, so a change of machine load hits both sides
            for times, bidirectional in ((ours, None), (one_way, False)):
                w0, c0 = time.perf_counter(), time.process_time()
                route = shortest_path(
                    cost, start, goal, 1.0, corner_cutting=True, bidirectional=bidirectional
                )
                times.append((time.perf_counter() - w0, time.process_time() - c0))
                if bidirectional is None:
                    ours_cost = route.cost
            w0, c0 = time.perf_counter(), time.process_time()
            _, peer_cost = route_through_array(
                cost, start, goal, fully_connected=True, geometric=True
            )
            peer.append((time.perf_counter() - w0, time.process_time() - c0))
            for label, value in (("falak", ours_cost), ("falak A*", route.cost)):
                if abs(value - float(peer_cost)) > 1e-9 * abs(value):
                    raise SystemExit(
                        f"{name}: costs differ: {label} {value!r}, skimage {peer_cost!r}"
                    )
        for label, times in ((name, ours), (f"{name} A*", one_way)):
            wall = (min(o[0] for o in times), min(p[0] for p in peer))
            cpu = (min(o[1] for o in times), min(p[1] for p in peer))
            rows.append((label, start, goal, ours_cost, wall, cpu))
    print(f"grid {SIZE}x{SIZE}, 8-connected, corner cutting on both sides, best of {REPEATS}")
    print(
        f"{'grid':11} {'start':>12} {'goal':>12} {'path cost':>11} {'falak s':>8} "
        f"{'skimage s':>9} {'wall ratio':>10} {'CPU ratio':>9}"
    )
    for name, start, goal, cost_value, wall, cpu in rows:
        print(
            f"{name:11} {start!s:>12} {goal!s:>12} {cost_value:11.4f} {wall[0]:8.3f} "
            f"{wall[1]:9.3f} {wall[1] / wall[0]:9.1f}x {cpu[1] / cpu[0]:8.1f}x"
        )


if __name__ == "__main__":
    main()
