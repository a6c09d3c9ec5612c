"""Exact grid routes against independent shortest-path codes (scipy, scikit-image, brute force)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from falak.errors import InputError, PlanInfeasible
from falak.planning.traverse.route import (
    MAX_UNORDERED,
    held_karp,
    path_costs,
    route_cost,
    shortest_path,
)

# Relative tolerance on path costs: both codes sum the same ~10³ float64 edge weights, in
# different orders; 1e-9 is far above that rounding and far below one edge (≥ 1e-3 relative).
RTOL = 1e-9


def _graph(cost: NDArray[np.float64], res: float, corner_cutting: bool):  # type: ignore[no-untyped-def]
    """The module's graph built independently, as a scipy sparse matrix (test oracle)."""
    from scipy.sparse import coo_matrix

    ny, nx = cost.shape
    ok = np.isfinite(cost)
    idx = np.arange(ny * nx).reshape(ny, nx)
    rows, cols, weights = [], [], []
    for dr, dc in [(0, 1), (1, 0), (1, 1), (1, -1)]:
        r0, r1 = 0, ny - dr
        c0, c1 = max(0, -dc), nx - max(0, dc)
        a = (slice(r0, r1), slice(c0, c1))
        b = (slice(r0 + dr, r1 + dr), slice(c0 + dc, c1 + dc))
        valid = ok[a] & ok[b]
        if dr and dc and not corner_cutting:
            # the two cells the diagonal passes between: (r, c+dc) and (r+dr, c)
            side1 = ok[(slice(r0, r1), slice(c0 + dc, c1 + dc))]
            side2 = ok[(slice(r0 + dr, r1 + dr), slice(c0, c1))]
            valid &= side1 & side2
        length = math.sqrt(2.0) if dr and dc else 1.0
        w = res * length * 0.5 * (cost[a] + cost[b])
        rows.append(idx[a][valid])
        cols.append(idx[b][valid])
        weights.append(w[valid])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    w = np.concatenate(weights)
    return coo_matrix((w, (r, c)), shape=(ny * nx, ny * nx)).tocsr()


def _cost_grid(n: int, seed: int, hole_share: float) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    cost = 1.0 + 2.0 * rng.random((n, n))
    cost[rng.random((n, n)) < hole_share] = np.inf
    return cost


def _passable_pair(cost: NDArray[np.float64]) -> tuple[tuple[int, int], tuple[int, int]]:
    rr, cc = np.nonzero(np.isfinite(cost))
    return (int(rr[0]), int(cc[0])), (int(rr[-1]), int(cc[-1]))


def _check_against_scipy(
    cost: NDArray[np.float64], res: float, corner_cutting: bool, bidirectional: bool = False
) -> None:
    from scipy.sparse.csgraph import dijkstra

    start, goal = _passable_pair(cost)
    nx = cost.shape[1]
    reference = dijkstra(
        _graph(cost, res, corner_cutting), directed=False, indices=start[0] * nx + start[1]
    )[goal[0] * nx + goal[1]]
    if not np.isfinite(reference):
        with pytest.raises(PlanInfeasible):
            shortest_path(
                cost, start, goal, res, corner_cutting=corner_cutting, bidirectional=bidirectional
            )
        return
    route = shortest_path(
        cost, start, goal, res, corner_cutting=corner_cutting, bidirectional=bidirectional
    )
    assert route.cost == pytest.approx(reference, rel=RTOL)
    # the returned cells really cost that, start and end where asked, and avoid every hazard
    assert route_cost(cost, route.rows, route.cols, res) == pytest.approx(route.cost, rel=RTOL)
    assert (int(route.rows[0]), int(route.cols[0])) == start
    assert (int(route.rows[-1]), int(route.cols[-1])) == goal
    assert np.all(np.isfinite(cost[route.rows, route.cols]))
    steps = np.abs(np.diff(route.rows)) + np.abs(np.diff(route.cols))
    if not corner_cutting:
        diagonal = np.nonzero(steps == 2)[0]
        side1 = cost[route.rows[diagonal], route.cols[diagonal + 1]]
        side2 = cost[route.rows[diagonal + 1], route.cols[diagonal]]
        assert np.all(np.isfinite(side1) & np.isfinite(side2))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("corner_cutting", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_route_cost_equals_scipy_dijkstra(
    seed: int, corner_cutting: bool, bidirectional: bool
) -> None:
    _check_against_scipy(_cost_grid(80, seed, 0.25), 5.0, corner_cutting, bidirectional)


@pytest.mark.parametrize("seed", range(12))
def test_bidirectional_route_equals_scipy_on_sparse_and_tied_grids(seed: int) -> None:
    """Both halves of the search meet through few cells (a few holes) or through many
    equal-cost routes (integer costs); the cost must still be the optimum."""
    rng = np.random.default_rng(100 + seed)
    cost = _cost_grid(int(rng.integers(20, 90)), seed, float(rng.choice([0.0, 0.1, 0.4])))
    if seed % 2:
        cost = np.where(np.isfinite(cost), np.round(cost), np.inf)
    _check_against_scipy(cost, float(rng.choice([0.5, 1.0, 3.0])), bool(seed % 3), True)


def test_bidirectional_edge_cases() -> None:
    cost = np.full((40, 40), 2.0)
    same = shortest_path(cost, (5, 5), (5, 5), bidirectional=True)
    assert same.cost == 0.0
    assert len(same) == 1
    step = shortest_path(cost, (5, 5), (5, 6), bidirectional=True)
    assert step.cost == pytest.approx(2.0)
    walled = cost.copy()
    walled[30:, 30] = np.inf
    walled[30, 30:] = np.inf
    with pytest.raises(PlanInfeasible, match="no route"):
        shortest_path(walled, (0, 0), (39, 39), bidirectional=True)


def test_route_on_terrain_hazard_costs_equals_scipy_dijkstra() -> None:
    from falak.terrain import Rover, hazards, synthesize

    dem = synthesize(120, 2.0, seed=3)
    maps = hazards(dem, Rover(max_slope_deg=12.0))
    cost = maps.cost.astype(np.float64)
    assert 0.0 < maps.impassable.mean() < 0.5  # a map with real obstacles
    _check_against_scipy(cost, dem.resolution_m, False)
    _check_against_scipy(cost, dem.resolution_m, False, bidirectional=True)
    start, goal = _passable_pair(cost)
    route = shortest_path(cost, start, goal, dem.resolution_m)
    assert np.all(maps.slope_deg[route.rows, route.cols] <= 12.0)


@pytest.mark.slow
@pytest.mark.parametrize("bidirectional", [False, True])
def test_route_500_squared_equals_scipy_dijkstra(bidirectional: bool) -> None:
    _check_against_scipy(_cost_grid(500, 11, 0.3), 1.0, False, bidirectional)


def test_route_equals_scikit_image_route_through_array() -> None:
    """scikit-image's MCP_Geometric uses the same edge cost (and cuts corners)."""
    from skimage.graph import route_through_array

    cost = _cost_grid(60, 5, 0.0)
    _, reference = route_through_array(cost, (3, 2), (55, 50), fully_connected=True)
    route = shortest_path(cost, (3, 2), (55, 50), 1.0, corner_cutting=True)
    assert route.cost == pytest.approx(float(reference), rel=RTOL)


def test_nan_cells_are_never_entered() -> None:
    cost = np.ones((5, 5))
    cost[1:4, 2] = np.nan  # a wall with a gap at the top and bottom rows
    route = shortest_path(cost, (2, 0), (2, 4), 1.0)
    assert np.all(np.isfinite(cost[route.rows, route.cols]))
    assert route.cost > 4.0  # it had to go round


def test_straight_route_cost_is_distance_times_cost() -> None:
    """Hand value: 9 straight steps of 2 m at cost 1.5 → 27."""
    route = shortest_path(np.full((3, 10), 1.5), (1, 0), (1, 9), 2.0)
    assert route.cost == pytest.approx(27.0, rel=RTOL)
    assert route.length_cells() == pytest.approx(9.0)


def test_bad_input_messages() -> None:
    cost = np.ones((4, 4))
    cost[0, 3] = np.inf
    with pytest.raises(InputError, match=r"start cell \(row 9, col 0\) is outside the 4x4 grid"):
        shortest_path(cost, (9, 0), (1, 1))
    with pytest.raises(PlanInfeasible, match=r"goal cell \(row 0, col 3\) is impassable"):
        shortest_path(cost, (1, 1), (0, 3))
    with pytest.raises(InputError, match="cost must be positive"):
        shortest_path(np.zeros((3, 3)), (0, 0), (2, 2))
    walled = np.ones((5, 5))
    walled[:, 2] = np.inf
    with pytest.raises(PlanInfeasible, match="no route"):
        shortest_path(walled, (0, 0), (4, 4))


def test_corner_cutting_forbidden_by_default() -> None:
    cost = np.ones((2, 2))
    cost[0, 1] = cost[1, 0] = np.inf
    with pytest.raises(PlanInfeasible):
        shortest_path(cost, (0, 0), (1, 1))
    route = shortest_path(cost, (0, 0), (1, 1), corner_cutting=True)
    assert route.cost == pytest.approx(math.sqrt(2.0), rel=RTOL)


def _brute_force(matrix: NDArray[np.float64]) -> float:
    n = matrix.shape[0]
    best = math.inf
    for order in itertools.permutations(range(1, n - 1)):
        path = [0, *order, n - 1]
        best = min(best, sum(matrix[a, b] for a, b in itertools.pairwise(path)))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_held_karp_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2 + int(rng.integers(1, 7))  # 1 … 6 waypoints
    matrix = rng.random((n, n)) * 100
    matrix[rng.random((n, n)) < 0.15] = np.inf  # some legs impossible, asymmetric too
    np.fill_diagonal(matrix, 0.0)
    reference = _brute_force(matrix)
    if not np.isfinite(reference):
        with pytest.raises(PlanInfeasible):
            held_karp(matrix)
        return
    order, total = held_karp(matrix)
    assert total == pytest.approx(reference, rel=RTOL)
    assert sorted(order) == list(range(n))
    assert order[0] == 0
    assert order[-1] == n - 1
    assert sum(matrix[a, b] for a, b in itertools.pairwise(order)) == pytest.approx(total)


def test_held_karp_on_grid_path_costs() -> None:
    cost = _cost_grid(40, 2, 0.1)
    rr, cc = np.nonzero(np.isfinite(cost))
    pick = np.random.default_rng(1).choice(rr.size, 6, replace=False)
    points = [(int(rr[i]), int(cc[i])) for i in pick]
    matrix, routes = path_costs(cost, points, 2.0)
    assert np.allclose(matrix, matrix.T, rtol=RTOL)  # the graph is undirected
    for (i, j), route in routes.items():
        assert route.cost == pytest.approx(matrix[i, j], rel=RTOL)
    order, total = held_karp(matrix)
    assert total == pytest.approx(_brute_force(matrix), rel=RTOL)
    assert total == pytest.approx(
        sum(routes[(a, b)].cost for a, b in itertools.pairwise(order)), rel=RTOL
    )


def test_held_karp_refuses_too_many_waypoints() -> None:
    n = MAX_UNORDERED + 3
    with pytest.raises(InputError, match=f"{n - 2} unordered waypoints"):
        held_karp(np.ones((n, n)))


def test_bidirectional_falls_back_when_its_final_check_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the halves' final stop check failed (only a torn lock-free read could do that), the
    search is rerun one-directionally and the answer is still the optimum. (A grid large
    enough that both halves are running when they meet, so neither ends by exhausting its
    side — which would make the check pass whatever μ is.)"""
    import falak.planning.traverse.route as route_module

    cost = _cost_grid(400, 21, 0.0)
    start, goal = (0, 0), (399, 399)
    expected = shortest_path(cost, start, goal, bidirectional=False).cost
    real_meeting, real_run = route_module._meeting, route_module._run
    calls: list[str] = []

    def pessimistic(*arrays: NDArray[np.float64]) -> tuple[float, int]:
        mu, cell = real_meeting(*arrays)
        calls.append("meeting")
        return mu * 1e6, cell  # no finite pair of floors covers this μ: the check fails

    def one_way(*args: Any, **kwargs: Any) -> Any:
        calls.append("one-way")
        return real_run(*args, **kwargs)

    monkeypatch.setattr(route_module, "_meeting", pessimistic)
    monkeypatch.setattr(route_module, "_run", one_way)
    route = shortest_path(cost, start, goal, bidirectional=True)
    assert calls == ["meeting", "one-way"]
    assert route.cost == pytest.approx(expected, rel=RTOL)
    assert route_cost(cost, route.rows, route.cols) == pytest.approx(expected, rel=RTOL)
