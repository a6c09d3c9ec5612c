"""Exact least-cost routes on a rover cost grid: A*/Dijkstra (numba) and Held–Karp ordering.

The graph
---------
Every cell with a finite cost is a node; a cell with ``inf`` or NaN cost (a hazard, or no
data) is not on the graph and is never entered. Each node links to its 8 neighbours; a move
from cell *a* to cell *b* of length ``L`` (``1`` or ``√2`` cells) costs::

    w(a, b) = resolution_m · L · (cost[a] + cost[b]) / 2

the trapezoidal integral of the cost along the segment (the same definition as scikit-image's
``MCP_Geometric`` / ``route_through_array(..., geometric=True)``, so costs can be compared).
With ``corner_cutting=False`` (the default) a diagonal move is allowed only if both cells it
passes between are on the graph too, so a route never grazes a hazard's corner.
The graph is undirected (``w(a, b) = w(b, a)``).

The search
----------
:func:`shortest_path` runs A* with the heuristic ``h(v) = c_min · resolution_m · d₈(v, goal)``,
``d₈ = max(|Δr|, |Δc|) + (√2 − 1) · min(|Δr|, |Δc|)`` (the octile distance, in cells) and
``c_min`` the smallest finite cost on the grid.

*Admissible:* any 8-connected path from v to the goal has a total length (in cells, counting
1 per straight and √2 per diagonal step) of at least d₈ — d₈ is exactly the length of the best
unobstructed path, which uses min(|Δr|,|Δc|) diagonals and the rest straight steps — and every
step of length L costs ``resolution_m · L · (cost[a] + cost[b]) / 2 ≥ resolution_m · L · c_min``.
So the cost of any path from v to the goal is ≥ h(v): h never overestimates.
*Consistent:* d₈ is a metric (a norm of the offset), so ``d₈(u) ≤ L(u, v) + d₈(v)`` and
``h(u) ≤ w(u, v) + h(v)``: keys f = g + h never decrease along an edge. The heuristic is scaled
by ``1 − 1e−12`` so floating-point rounding cannot break that. With several targets
(:func:`path_costs`) h = 0 and the search is Dijkstra.

The priority queue is a ring of buckets (Dial 1969) of width Δ just below the lightest edge
(``resolution_m · c_min``), each a doubly linked list, so a push, a decrease-key and a pop cost
O(1) instead of a heap's O(log N); the ring has room for the largest key step
(2√2 · resolution_m · c_max). Nodes inside one bucket are expanded in any order; a node whose g
improves after it was expanded is queued again (label correcting), and the search stops when
the floor k·Δ of the current bucket reaches the target's g. Exactness: every queued node x has
f(x) ≥ k·Δ, and by admissibility any path to the target through x costs ≥ f(x), so no queued
node can improve a target whose g ≤ k·Δ; and no cheaper path can hide outside the queue,
because every improvement of a g re-queues its node. (For Dijkstra, Δ below the lightest edge
means a relaxation never lands in the bucket being emptied, so nothing is ever re-expanded.)

The search reads the cost grid in place (border cells check their neighbours' bounds instead
of a padded copy) and keeps per cell only a float64 distance, an int8 state (arrival step and
"queued" bit; the route is unwound from the arrival steps) and two int32 bucket links, all
allocated unwritten (the state as zero pages from the OS): a cell's entries are read only
once its state says it was reached, so pages the search never reaches cost nothing.

From both ends at once
----------------------
On grids of :data:`BIDIRECTIONAL_MIN_CELLS` cells or more (and a machine with two cores)
:func:`shortest_path` searches from the start and from the goal at the same time, one thread
each (the kernels release the GIL): bidirectional Dijkstra on reduced costs
``w(u, v) − p(u) + p(v)`` with the average potential ``p(v) = (h_goal(v) − h_start(v)) / 2``
(Ikeda et al. 1994; Goldberg & Harrelson 2005), which keeps every reduced cost ≥ 0 for both
halves since each octile heuristic is consistent. Each half runs the bucket queue above on
its reduced keys; a half stops when its bucket floor plus the other's reaches μ, the cheapest
start-to-goal cost seen where the halves touch. Then μ is recomputed over every cell both
reached, and the criterion is checked again with the halves' final floors: any path cheaper
than the two floors together has a cell finalised by one half next to one finalised by the
other, so it passed through a cell both reached — the exact optimum is the cheapest
``d_start(v) + d_goal(v)``. (The halves read each other's arrays without locks; a stale read
only delays a stop. Should the final check ever fail, the search is rerun one-directionally.)
On the 2000² benchmark grids it is ~1.5–3× faster than A* in wall time; its CPU time is
about the same.

Waypoint order
--------------
:func:`held_karp` finds the exact cheapest order of up to :data:`MAX_UNORDERED` unordered
waypoints between a fixed start and goal by dynamic programming over subsets (Held 1962,
Bellman 1962) on the matrix of pairwise optimal path costs: O(2ⁿ n²) time. More waypoints are
refused with an :class:`~falak.errors.InputError` (no heuristic order is substituted silently).
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError, PlanInfeasible

__all__ = [
    "BIDIRECTIONAL_MIN_CELLS",
    "MAX_UNORDERED",
    "GridRoute",
    "held_karp",
    "path_costs",
    "route_cost",
    "shortest_path",
]

#: Most unordered waypoints ordered exactly by :func:`held_karp` (2¹² · 12² ≈ 0.6 M steps).
MAX_UNORDERED = 12
_SQRT2 = math.sqrt(2.0)


@dataclass
class GridRoute:
    """A route on the grid: cell rows and columns from start to goal, and its total cost."""

    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    cost: float

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def length_cells(self) -> float:
        """Length in cells (1 per straight step, √2 per diagonal)."""
        dr = np.abs(np.diff(self.rows))
        dc = np.abs(np.diff(self.cols))
        return float(np.sum(np.where((dr + dc) == 2, _SQRT2, 1.0) * ((dr + dc) > 0)))


_QUEUED = 16  # state bit: the cell is in a bucket
_CODE = 15  # state bits: arrival code
_AT_SOURCE = 9  # arrival code of the source (1…8 are a step d + 1)


@numba.njit(cache=True, nogil=True)
def _bucket_astar(
    cost: Any,
    resolution_m: float,
    source: int,
    targets: Any,
    h_scale: float,
    corner_cutting: bool,
    delta: float,
    n_buckets: int,
    dist: Any,
    state: Any,
    nxt: Any,
    prv: Any,
) -> Any:
    """A* (``h_scale`` > 0, one target) or Dijkstra (``h_scale`` = 0) on a bucket queue.

    ``cost`` is the (ny, nx) grid itself (no padded copy: border cells check their
    neighbours' bounds); indices are flat in it. Keys are f = g + h in buckets of width
    ``delta``; a node whose g improves after it was expanded is queued again, and the search
    stops once the current bucket's floor reaches the largest target distance, so the result is
    exact (see the module text). Returns the distance of each target (``inf`` if unreached).

    Work arrays come from the caller, one entry per flat index: ``state`` zeroed (int8), and
    ``dist``, ``nxt``, ``prv`` uninitialised — a cell's entries are read only once its state
    says it was reached or queued, so pages the search never reaches are never touched (on a
    2000² grid first-touch page faults otherwise cost as much as a fifth of the search).
    ``state`` holds the arrival code (0 unreached, d + 1 for a step d into the cell,
    :data:`_AT_SOURCE` at the source) plus :data:`_QUEUED` while the cell is in a bucket. The
    head of a bucket stores −(slot + 2) as its ``prv``, so no slot array is needed to unlink it.
    """
    ny, nx = cost.shape
    flat = cost.ravel()
    offsets = np.array([-nx - 1, -nx, -nx + 1, -1, 1, nx - 1, nx, nx + 1], dtype=np.int64)
    step_dr = np.array([-1, -1, -1, 0, 0, 1, 1, 1], dtype=np.int64)
    step_dc = np.array([-1, 0, 1, -1, 1, -1, 0, 1], dtype=np.int64)
    half = 0.5 * resolution_m
    weight = np.array([_SQRT2, 1.0, _SQRT2, 1.0, 1.0, _SQRT2, 1.0, _SQRT2]) * half
    head = np.full(n_buckets, -1, dtype=np.int32)
    mask = n_buckets - 1  # n_buckets is a power of two
    inv_delta = 1.0 / delta
    gr = targets[0] // nx
    gc = targets[0] % nx
    diag = _SQRT2 - 1.0
    sr = source // nx
    sc = source % nx
    ar0 = abs(sr - gr)
    ac0 = abs(sc - gc)
    k = int(h_scale * (max(ar0, ac0) + diag * min(ar0, ac0)) * inv_delta)  # bucket of f(source)
    dist[source] = 0.0
    nxt[source] = -1
    prv[source] = -((k & mask) + 2)
    head[k & mask] = source
    state[source] = _AT_SOURCE | _QUEUED
    queued = 1
    while queued > 0:
        bound = 0.0
        for t in targets:
            bound = max(bound, dist[t] if state[t] != 0 else np.inf)
        if k * delta >= bound:
            break  # every queued key ≥ k·delta ≥ each target's distance: all final
        b = k & mask
        while head[b] >= 0:
            u = head[b]
            nu = nxt[u]
            head[b] = nu
            if nu >= 0:
                prv[nu] = -(b + 2)
            state[u] &= _CODE
            queued -= 1
            cu = np.float64(flat[u])
            du = dist[u]
            ur = u // nx
            uc = u - ur * nx
            border = ur == 0 or uc == 0 or ur == ny - 1 or uc == nx - 1
            for d in range(8):
                if border:
                    vr = ur + step_dr[d]
                    vc = uc + step_dc[d]
                    if vr < 0 or vr >= ny or vc < 0 or vc >= nx:
                        continue
                v = u + offsets[d]
                cv = np.float64(flat[v])
                if not (cv < np.inf):  # inf (hazard) or NaN: not on the graph
                    continue
                diagonal = d != 1 and d != 3 and d != 4 and d != 6
                if (
                    diagonal
                    and not corner_cutting
                    and not (flat[u + step_dc[d]] < np.inf and flat[u + step_dr[d] * nx] < np.inf)
                ):
                    continue
                alt = du + weight[d] * (cu + cv)
                sv = state[v]
                if sv == 0 or alt < dist[v]:
                    if sv & _QUEUED:  # unlink from its old bucket
                        pv = prv[v]
                        nv = nxt[v]
                        if pv >= 0:
                            nxt[pv] = nv
                        else:
                            head[-pv - 2] = nv
                        if nv >= 0:
                            prv[nv] = pv
                    else:
                        queued += 1
                    dist[v] = alt
                    state[v] = (d + 1) | _QUEUED
                    key = alt
                    if h_scale > 0.0:
                        ar = abs(ur + step_dr[d] - gr)
                        ac = abs(uc + step_dc[d] - gc)
                        key += h_scale * (max(ar, ac) + diag * min(ar, ac))
                    slot = int(key * inv_delta) & mask
                    hs = head[slot]
                    nxt[v] = hs
                    prv[v] = -(slot + 2)
                    if hs >= 0:
                        prv[hs] = v
                    head[slot] = v
        k += 1
    out = np.empty(targets.shape[0])
    for i in range(targets.shape[0]):
        out[i] = dist[targets[i]] if state[targets[i]] != 0 else np.inf
    return out


@numba.njit(cache=True, nogil=True)
def _bidir_side(
    cost: Any,
    resolution_m: float,
    side: int,
    source: int,
    other: int,
    h_scale: float,
    corner_cutting: bool,
    delta: float,
    n_buckets: int,
    dist: Any,
    state: Any,
    nxt: Any,
    prv: Any,
    dist_o: Any,
    state_o: Any,
    ctl: Any,
) -> None:
    """One half of the bidirectional search: Dijkstra from ``source`` on reduced costs.

    The potential is p(v) = (h(v, other) − h(v, source)) / 2 (the average of the two octile
    heuristics, Ikeda et al. 1994), so key(v) = g(v) + p(v) and both halves see non-negative
    reduced edge costs. Work arrays as :func:`_bucket_astar`; ``dist_o``/``state_o`` are the
    other half's, written concurrently by the other thread (read only to estimate μ, the best
    meeting cost so far). ``ctl`` is shared: ``ctl[side]`` is this half's current bucket
    number (published at the start of each bucket; ``inf`` once its queue is empty),
    ``ctl[2 + side]`` its best meeting cost. A half stops when its floor plus the other's
    reaches μ: ``(k + k_other) · delta ≥ μ``. Reads of the other half may be stale, which
    only delays the stop; the caller recomputes μ exactly after both stop and checks the
    criterion again (see :func:`_bidirectional`).

    The bucket-queue steps (pop, unlink, push, neighbour tests) repeat those of
    :func:`_bucket_astar` on purpose: moved into ``inline="always"`` helpers they made both
    searches 20 % slower on the 2000² benchmark grids, and 2.5× with the neighbour test too
    (numba passes the arrays to inlined functions with reference counting).
    """
    ny, nx = cost.shape
    flat = cost.ravel()
    offsets = np.array([-nx - 1, -nx, -nx + 1, -1, 1, nx - 1, nx, nx + 1], dtype=np.int64)
    step_dr = np.array([-1, -1, -1, 0, 0, 1, 1, 1], dtype=np.int64)
    step_dc = np.array([-1, 0, 1, -1, 1, -1, 0, 1], dtype=np.int64)
    half = 0.5 * resolution_m
    weight = np.array([_SQRT2, 1.0, _SQRT2, 1.0, 1.0, _SQRT2, 1.0, _SQRT2]) * half
    head = np.full(n_buckets, -1, dtype=np.int32)
    mask = n_buckets - 1
    inv_delta = 1.0 / delta
    diag = _SQRT2 - 1.0
    sr = source // nx
    sc = source - sr * nx
    tr = other // nx
    tc = other - tr * nx
    ar = abs(sr - tr)
    ac = abs(sc - tc)
    h_st = h_scale * (max(ar, ac) + diag * min(ar, ac))
    k = int(0.5 * h_st * inv_delta)  # key(source) = p(source) = h(source, other) / 2
    dist[source] = 0.0
    nxt[source] = -1
    prv[source] = -((k & mask) + 2)
    head[k & mask] = source
    state[source] = _AT_SOURCE | _QUEUED
    queued = 1
    mu = np.inf
    while True:
        ctl[side] = k
        if (k + ctl[1 - side]) * delta >= min(ctl[2], ctl[3]):
            return
        if queued == 0:
            ctl[side] = np.inf  # everything this half can reach is final
            return
        b = k & mask
        while head[b] >= 0:
            u = head[b]
            nu = nxt[u]
            head[b] = nu
            if nu >= 0:
                prv[nu] = -(b + 2)
            state[u] &= _CODE
            queued -= 1
            cu = np.float64(flat[u])
            du = dist[u]
            ur = u // nx
            uc = u - ur * nx
            border = ur == 0 or uc == 0 or ur == ny - 1 or uc == nx - 1
            for d in range(8):
                if border:
                    vr = ur + step_dr[d]
                    vc = uc + step_dc[d]
                    if vr < 0 or vr >= ny or vc < 0 or vc >= nx:
                        continue
                v = u + offsets[d]
                cv = np.float64(flat[v])
                if not (cv < np.inf):
                    continue
                diagonal = d != 1 and d != 3 and d != 4 and d != 6
                if (
                    diagonal
                    and not corner_cutting
                    and not (flat[u + step_dc[d]] < np.inf and flat[u + step_dr[d] * nx] < np.inf)
                ):
                    continue
                alt = du + weight[d] * (cu + cv)
                sv = state[v]
                if sv == 0 or alt < dist[v]:
                    if sv & _QUEUED:
                        pv = prv[v]
                        nv = nxt[v]
                        if pv >= 0:
                            nxt[pv] = nv
                        else:
                            head[-pv - 2] = nv
                        if nv >= 0:
                            prv[nv] = pv
                    else:
                        queued += 1
                    dist[v] = alt
                    state[v] = (d + 1) | _QUEUED
                    if state_o[v] != 0:
                        meet = alt + dist_o[v]
                        if h_st <= meet < mu:  # a path through v; below h_st is a torn read
                            mu = meet
                            ctl[2 + side] = mu
                    vr = ur + step_dr[d]
                    vc = uc + step_dc[d]
                    a1 = abs(vr - tr)
                    c1 = abs(vc - tc)
                    a0 = abs(vr - sr)
                    c0 = abs(vc - sc)
                    key = alt + 0.5 * h_scale * (
                        max(a1, c1) + diag * min(a1, c1) - max(a0, c0) - diag * min(a0, c0)
                    )
                    kv = int(key * inv_delta)
                    slot = (kv if kv > k else k) & mask  # rounding never sends it back
                    hs = head[slot]
                    nxt[v] = hs
                    prv[v] = -(slot + 2)
                    if hs >= 0:
                        prv[hs] = v
                    head[slot] = v
        k += 1


@numba.njit(cache=True, nogil=True)
def _meeting(dist_f: Any, state_f: Any, dist_b: Any, state_b: Any) -> tuple[float, int]:
    """Cheapest d_f(v) + d_b(v) over cells reached by both halves, and that cell (−1: none)."""
    best = np.inf
    cell = -1
    for v in range(state_f.shape[0]):
        if state_f[v] != 0 and state_b[v] != 0:
            m = dist_f[v] + dist_b[v]
            if m < best:
                best = m
                cell = v
    return best, cell


@numba.njit(cache=True, nogil=True)
def _cost_range(grid: Any) -> tuple[float, float]:
    """Smallest and largest finite cost on ``grid`` (NaN and ±inf skipped; inf, −inf if none)."""
    lo = np.inf
    hi = -np.inf
    for v in grid.ravel():
        if v < np.inf:  # finite or −inf (NaN and inf fail)
            lo = min(lo, np.float64(v))
            hi = max(hi, np.float64(v))
    return lo, hi


#: Widest cost range (max/min finite cost) the bucket ring handles.
MAX_COST_RATIO = 1e6

_STEP_DR = np.array([-1, -1, -1, 0, 0, 1, 1, 1], dtype=np.intp)
_STEP_DC = np.array([-1, 0, 1, -1, 1, -1, 0, 1], dtype=np.intp)


def _run(
    grid: NDArray[Any],
    resolution_m: float,
    source_rc: tuple[int, int],
    targets_rc: list[tuple[int, int]],
    corner_cutting: bool,
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Search the grid; return each target's distance and the (ny, nx) cell states."""
    ny, nx = grid.shape
    c_min, c_max = _cost_range(grid)
    if c_min <= 0.0:
        raise InputError(
            f"cost must be positive where finite (got {c_min:g}); use inf (or NaN) for "
            "impassable cells"
        )
    if c_max / c_min > MAX_COST_RATIO:
        raise InputError(
            f"cost range {c_min:g} … {c_max:g} is wider than {MAX_COST_RATIO:g}:1; rescale "
            "the costs or mark the worst cells impassable (inf)"
        )
    source = source_rc[0] * nx + source_rc[1]
    targets = np.array([r * nx + c for r, c in targets_rc], dtype=np.int64)
    # Lightest edge: a straight step between two c_min cells. Buckets are as wide as it, less
    # 1e−9 so that rounding can never put a Dijkstra relaxation back into the bucket being
    # emptied. (Narrower buckets, e.g. ¼ of it, cut A*'s re-expansions but cost more than they
    # save: 20 % slower on the 2000² benchmark grids.)
    w_min = resolution_m * c_min
    delta = w_min * (1.0 - 1e-9)
    h_scale = c_min * resolution_m * (1.0 - 1e-12) if len(targets_rc) == 1 else 0.0
    # A key grows by at most w + h drop ≤ 2·√2·resolution·c_max per relaxation.
    n_buckets = 1 << (int(2.0 * _SQRT2 * resolution_m * c_max / delta) + 2).bit_length()
    n = ny * nx
    state = np.zeros(n, dtype=np.int8)  # calloc: pages are mapped zero on first touch
    dist_t = _bucket_astar(
        grid,
        float(resolution_m),
        source,
        targets,
        h_scale,
        corner_cutting,
        delta,
        n_buckets,
        np.empty(n),
        state,
        np.empty(n, dtype=np.int32),
        np.empty(n, dtype=np.int32),
    )
    return dist_t, state.reshape(ny, nx)


#: Grids of at least this many cells are searched from both ends at once (two threads).
BIDIRECTIONAL_MIN_CELLS = 1 << 18


def _bidirectional(
    grid: NDArray[Any],
    resolution_m: float,
    source_rc: tuple[int, int],
    target_rc: tuple[int, int],
    corner_cutting: bool,
) -> tuple[float, NDArray[np.intp], NDArray[np.intp]] | None:
    """Search from both ends at once, one thread each (the kernels release the GIL).

    Bidirectional Dijkstra on the reduced costs of the average potential (see
    :func:`_bidir_side`). After both halves stop, μ is recomputed exactly as the cheapest
    d_f(v) + d_b(v) over the cells both reached, and the stop criterion
    ``(k_f + k_b) · Δ ≥ μ`` is checked against it: then μ is the optimum (every path cheaper
    than k_f·Δ + k_b·Δ in reduced cost has a cell finalised by one half and reached by the
    other — the classic argument for bidirectional Dijkstra). Returns (cost, rows, cols), or
    None if that check fails (the caller falls back to one-directional A*) — it cannot, unless
    a read of the other half's arrays saw a half-written entry.
    """
    ny, nx = grid.shape
    c_min, c_max = _cost_range(grid)
    w_min = resolution_m * c_min
    delta = w_min * (1.0 - 1e-9)
    h_scale = c_min * resolution_m * (1.0 - 1e-12)
    n_buckets = 1 << (int(2.0 * _SQRT2 * resolution_m * c_max / delta) + 2).bit_length()
    n = ny * nx
    s = source_rc[0] * nx + source_rc[1]
    t = target_rc[0] * nx + target_rc[1]
    dr, dc = abs(source_rc[0] - target_rc[0]), abs(source_rc[1] - target_rc[1])
    k0 = float(int(0.5 * h_scale * (max(dr, dc) + (_SQRT2 - 1.0) * min(dr, dc)) / delta))
    ctl = np.array([k0, k0, np.inf, np.inf])
    dist = (np.empty(n), np.empty(n))
    state = (np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int8))

    def half(side: int) -> None:
        _bidir_side(
            grid,
            resolution_m,
            side,
            (s, t)[side],
            (t, s)[side],
            h_scale,
            corner_cutting,
            delta,
            n_buckets,
            dist[side],
            state[side],
            np.empty(n, dtype=np.int32),
            np.empty(n, dtype=np.int32),
            dist[1 - side],
            state[1 - side],
            ctl,
        )

    backward = threading.Thread(target=half, args=(1,), name="route-backward")
    backward.start()
    half(0)
    backward.join()
    mu, m = _meeting(dist[0], state[0], dist[1], state[1])
    if m < 0:
        return np.inf, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    if (ctl[0] + ctl[1]) * delta < mu:
        return None
    mrc = (m // nx, m % nx)
    fr, fc = _unwind(state[0].reshape(ny, nx), mrc)
    br, bc = _unwind(state[1].reshape(ny, nx), mrc)
    rows = np.concatenate([fr, br[::-1][1:]])
    cols = np.concatenate([fc, bc[::-1][1:]])
    return float(mu), rows, cols


def _as_cost(cost: ArrayLike) -> NDArray[Any]:
    grid = np.asarray(cost)
    if grid.ndim != 2 or min(grid.shape) < 1:
        raise InputError(f"cost must be a 2-D grid, got shape {grid.shape}")
    if grid.dtype != np.float32:
        grid = np.ascontiguousarray(grid, dtype=np.float64)
    return grid


def _check_cell(grid: NDArray[np.float64], rc: tuple[int, int], name: str) -> None:
    ny, nx = grid.shape
    r, c = int(rc[0]), int(rc[1])
    if not (0 <= r < ny and 0 <= c < nx):
        raise InputError(
            f"{name} cell (row {r}, col {c}) is outside the {ny}x{nx} grid; rows 0…{ny - 1}, "
            f"columns 0…{nx - 1}"
        )
    if not np.isfinite(grid[r, c]):
        raise PlanInfeasible(
            f"{name} cell (row {r}, col {c}) is impassable (cost {grid[r, c]})",
            [f"{name} in a hazard"],
        )


def _unwind(
    state: NDArray[np.int8], target_rc: tuple[int, int]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Walk arrival codes back from ``target_rc``; return rows and cols start → target."""
    r, c = int(target_rc[0]), int(target_rc[1])
    rows = [r]
    cols = [c]
    code = int(state[r, c]) & _CODE
    while 1 <= code <= 8:
        r -= int(_STEP_DR[code - 1])
        c -= int(_STEP_DC[code - 1])
        rows.append(r)
        cols.append(c)
        code = int(state[r, c]) & _CODE
    return np.array(rows[::-1], dtype=np.intp), np.array(cols[::-1], dtype=np.intp)


def shortest_path(
    cost: ArrayLike,
    start_rc: tuple[int, int],
    goal_rc: tuple[int, int],
    resolution_m: float = 1.0,
    *,
    corner_cutting: bool = False,
    bidirectional: bool | None = None,
) -> GridRoute:
    """Return the least-cost 8-connected route between two cells (exact; module text).

    Parameters
    ----------
    cost
        (ny, nx) positive cost per metre (dimensionless multiplier); ``inf``/NaN = impassable.
    start_rc, goal_rc
        (row, col) of the start and goal cells.
    resolution_m
        Cell size, metres; the route cost is in cost-weighted metres.
    corner_cutting
        Allow diagonal moves between two impassable cells (scikit-image does; a rover should not).
    bidirectional
        Search from both ends at once on two threads (the default on grids of at least
        :data:`BIDIRECTIONAL_MIN_CELLS` cells when the machine has two cores), else A* from
        the start. Both are exact; among routes of equal cost they may pick different ones.

    Raises
    ------
    InputError
        A cell is outside the grid, or the cost is malformed.
    PlanInfeasible
        Start or goal is impassable, or no route connects them.
    """
    grid = _as_cost(cost)
    _check_cell(grid, start_rc, "start")
    _check_cell(grid, goal_rc, "goal")
    s_rc = (int(start_rc[0]), int(start_rc[1]))
    g_rc = (int(goal_rc[0]), int(goal_rc[1]))
    if bidirectional is None:
        bidirectional = grid.size >= BIDIRECTIONAL_MIN_CELLS and (os.cpu_count() or 1) > 1
    found = (
        _bidirectional(grid, float(resolution_m), s_rc, g_rc, corner_cutting)
        if bidirectional and s_rc != g_rc
        else None
    )
    if found is None:
        dist, state = _run(grid, float(resolution_m), s_rc, [g_rc], corner_cutting)
        rows, cols = _unwind(state, g_rc)
        found = (float(dist[0]), rows, cols)
    if not np.isfinite(found[0]):
        raise PlanInfeasible(
            f"no route from cell {tuple(start_rc)} to cell {tuple(goal_rc)}: impassable cells "
            "cut them apart",
            ["goal cut off"],
        )
    return GridRoute(rows=found[1], cols=found[2], cost=found[0])


def route_cost(
    cost: ArrayLike, rows: ArrayLike, cols: ArrayLike, resolution_m: float = 1.0
) -> float:
    """Cost of a given cell sequence under the module's edge definition (for checks)."""
    grid = np.asarray(cost, dtype=np.float64)
    r = np.asarray(rows, dtype=np.intp)
    c = np.asarray(cols, dtype=np.intp)
    dr, dc = np.abs(np.diff(r)), np.abs(np.diff(c))
    if np.any(np.maximum(dr, dc) > 1):
        raise InputError("route cells must be 8-neighbours one after another")
    step = np.where(dr + dc == 2, _SQRT2, np.where(dr + dc == 1, 1.0, 0.0))
    values = grid[r, c]
    return float(np.sum(resolution_m * step * 0.5 * (values[:-1] + values[1:])))


def path_costs(
    cost: ArrayLike,
    points_rc: list[tuple[int, int]],
    resolution_m: float = 1.0,
    *,
    corner_cutting: bool = False,
) -> tuple[NDArray[np.float64], dict[tuple[int, int], GridRoute]]:
    """Optimal cost between every pair of points (n Dijkstra runs) and the routes themselves.

    Returns the (n, n) cost matrix (``inf`` where two points are cut apart) and a dict
    ``(i, j) → GridRoute`` for i ≠ j with a finite cost.
    """
    grid = _as_cost(cost)
    for i, rc in enumerate(points_rc):
        _check_cell(grid, rc, f"point {i}")
    n = len(points_rc)
    matrix = np.zeros((n, n))
    routes: dict[tuple[int, int], GridRoute] = {}
    cells = [(int(r), int(c)) for r, c in points_rc]
    for i in range(n):
        dist, state = _run(grid, float(resolution_m), cells[i], cells, corner_cutting)
        for j in range(n):
            matrix[i, j] = dist[j]
            if i != j and np.isfinite(dist[j]):
                rows, cols = _unwind(state, cells[j])
                routes[(i, j)] = GridRoute(rows, cols, float(dist[j]))
    return matrix, routes


def held_karp(matrix: ArrayLike) -> tuple[list[int], float]:
    """Exact cheapest path from node 0 to node n−1 visiting all others once (Held–Karp).

    ``matrix[i, j]`` is the cost from i to j (``inf`` = no path). Returns the visiting order
    (starting with 0, ending with n−1) and its cost; raises
    :class:`~falak.errors.PlanInfeasible` if no order has a finite cost and
    :class:`~falak.errors.InputError` for more than :data:`MAX_UNORDERED` intermediate nodes.
    """
    d = np.asarray(matrix, dtype=np.float64)
    n = d.shape[0]
    if d.shape != (n, n) or n < 2:
        raise InputError(f"held_karp needs a square matrix of at least 2 nodes, got {d.shape}")
    m = n - 2  # intermediate nodes 1..n-2
    if m > MAX_UNORDERED:
        raise InputError(
            f"{m} unordered waypoints: exact ordering is limited to {MAX_UNORDERED} "
            "(O(2ⁿ n²)); give them in order, or split the traverse into legs"
        )
    if m == 0:
        if not np.isfinite(d[0, 1]):
            raise PlanInfeasible("no route from start to goal", ["goal cut off"])
        return [0, 1], float(d[0, 1])
    inner = d[1 : n - 1, 1 : n - 1]
    full = (1 << m) - 1
    # best[S, j]: cheapest path from 0 through exactly set S, ending at inner node j (j ∈ S).
    best = np.full((1 << m, m), np.inf)
    parent = np.full((1 << m, m), -1, dtype=np.int64)
    for j in range(m):
        best[1 << j, j] = d[0, j + 1]
    for subset in range(1, 1 << m):
        members = [j for j in range(m) if subset >> j & 1]
        if len(members) < 2:
            continue
        for j in members:
            prev = subset & ~(1 << j)
            candidates = best[prev, :] + inner[:, j]
            k = int(np.argmin(candidates))
            if candidates[k] < best[subset, j]:
                best[subset, j] = candidates[k]
                parent[subset, j] = k
    totals = best[full, :] + d[1 : n - 1, n - 1]
    last = int(np.argmin(totals))
    total = float(totals[last])
    if not np.isfinite(total):
        raise PlanInfeasible(
            "no order of the waypoints connects start to goal: some are cut off",
            ["waypoint cut off"],
        )
    order = []
    subset, j = full, last
    while j >= 0:
        order.append(j + 1)
        subset, j = subset & ~(1 << j), int(parent[subset, j])
    return [0, *order[::-1], n - 1], total
