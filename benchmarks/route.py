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
Run: ``.venv/bin/python benchmarks/route.py [--size 2000] [--repeat 3] [--out FILE]`` (a few
minutes; making the DEM takes about one).
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    from skimage.graph import route_through_array

    from falak.planning.traverse.route import shortest_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=SIZE)
    Bench.arguments(ap)
    args = ap.parse_args()
    n = args.size
    bench = Bench(
        f"route: {n}x{n} grid, 8-connected, corner cutting on both sides, path costs asserted "
        "equal to 1e-9",
        args.out,
    )
    for name, make in (("terrain", _terrain), ("uniform", _uniform)):
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
    bench.finish()


if __name__ == "__main__":
    main()
