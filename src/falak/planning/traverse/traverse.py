"""Rover traverses: a least-cost route through waypoints, then a schedule in sunlight and contact.

Approach (two stages; the route itself is not time-dependent)
-------------------------------------------------------------
1. **Route** (:func:`plan_route`): the exact least-cost 8-connected path on the hazard cost map
   (:mod:`falak.planning.traverse.route`) from the start through the science waypoints to the goal —
   in the given order, or (``unordered=True``) in the cheapest order, found exactly by
   Held–Karp over the pairwise optimal costs. Hazard cells (slope over the limit, steps, rocks,
   no data) are never entered.
2. **Schedule** (:func:`schedule_traverse`): along that fixed route, the earliest arrival in
   time steps of ``dt`` (the illumination timeline's step, 10–60 min), by *earliest-departure
   labelling*: for every time step t and route cell k, the largest battery charge with which the
   rover can be at k at t (a fuller battery is never worse, so that one label per (t, k) is
   exact). In each step the rover either waits where it is, or drives forward at ``speed_m_s``
   as far as the step allows (stopping at a cell and idling for the rest of the step). Light and
   Earth are taken as constant over a step at their *worse* value of the step's two ends
   (lit fraction: the smaller; Earth: in view at both ends), which is conservative when they
   vary monotonically within the step. A drive's battery charge is integrated move by move
   along the cells it passes, each move lit at the darker of its two cells (a shadowed crater
   floor crossed in two minutes costs two minutes of sunlight, not the whole step's), and must
   stay above the minimum after every move.

Battery (:class:`Battery`): charge in Wh between ``min_charge_wh`` and ``capacity_wh``;
driving draws ``drive_power_w``, standing still ``idle_power_w`` (survival heaters and
avionics); the panels give ``solar_power_w × lit fraction`` of the Sun's disk. A teleoperated
rover drives only while the Earth is in view from every cell it passes in that step; it may
wait anywhere (or, with ``haven_min_sun_fraction`` > 0, only where at least that share of the
Sun is up — a *safe haven*).

Limits, stated plainly: the route is chosen for terrain cost alone, before the schedule; a
route that trades a little more cost for more sunlight is not searched for. Times are resolved
to the time step (the rover stops at step ends); conditions inside a step are not sampled
(use a step shorter than the shadows' motion across a cell). Waiting at waypoints for science
is not modelled.

:func:`replay` checks a schedule independently: it walks the segments in sub-steps of at most
60 s, interpolates the timeline linearly in time, and reports any moment the battery is below
its minimum or a teleoperated rover drives without the Earth in view.

Default battery: falak's assumed values for a ~35 kg rover class (not a published
specification): 150 Wh, driving 60 W, idle 15 W, panels 90 W in full Sun.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError, PlanInfeasible
from falak.planning.traverse.route import GridRoute, held_karp, path_costs, shortest_path
from falak.terrain.dem import Dem, fill_holes
from falak.terrain.hazards import HazardMaps

__all__ = [
    "Battery",
    "ReplayReport",
    "RidgePair",
    "Schedule",
    "Segment",
    "TraverseRoute",
    "lit_ridge_pairs",
    "plan_route",
    "replay",
    "route_png",
    "route_timeline",
    "schedule_traverse",
    "timeline_rows",
    "to_geojson",
]

_SQRT2 = math.sqrt(2.0)
#: Longest sub-step of :func:`replay`, seconds.
REPLAY_STEP_S = 60.0
#: How far a drive's duration may be from distance / speed in :func:`replay`, seconds.
DURATION_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class Battery:
    """Battery and power model (Wh, W); see the module text for the assumed defaults."""

    capacity_wh: float = 150.0
    drive_power_w: float = 60.0
    idle_power_w: float = 15.0
    solar_power_w: float = 90.0
    min_charge_wh: float = 0.0
    initial_charge_wh: float | None = None

    def __post_init__(self) -> None:
        for name in ("capacity_wh", "drive_power_w", "idle_power_w", "solar_power_w"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"battery {name} must be a number ≥ 0, got {value!r}")
        if not 0 <= self.min_charge_wh < self.capacity_wh:
            raise InputError(
                f"battery min_charge_wh must be within 0 … capacity ({self.capacity_wh} Wh), "
                f"got {self.min_charge_wh}"
            )
        start = self.start_wh
        if not self.min_charge_wh <= start <= self.capacity_wh:
            raise InputError(
                f"battery initial_charge_wh must be within {self.min_charge_wh} … "
                f"{self.capacity_wh} Wh, got {start}"
            )

    @property
    def start_wh(self) -> float:
        """Charge at departure (full unless given)."""
        return self.capacity_wh if self.initial_charge_wh is None else self.initial_charge_wh


@dataclass
class TraverseRoute:
    """A spatial route: its cells, their projected coordinates, and what it crosses."""

    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    distance_m: NDArray[np.float64]  # cumulative along the route, per cell
    cost: float
    max_slope_deg: float
    waypoint_nodes: list[int]  # route index of each waypoint in visiting order (start … goal)
    waypoint_xy: list[tuple[float, float]]  # the same points as asked, in visiting order
    order: list[int]  # visiting order of the ``via`` points as given (0-based)
    hazard_model: str = "tactical"  # the hazard model of the maps it was planned on
    hazard_model_reason: str = ""

    @property
    def length_m(self) -> float:
        """Length of the route, metres."""
        return float(self.distance_m[-1])


def _describe_hazard(maps: HazardMaps, r: int, c: int) -> str:
    return maps.describe_cell(r, c)


def _cut_off_reason(maps: HazardMaps, a: tuple[int, int], b: tuple[int, int]) -> str:
    """Name the hazard class whose cells alone separate ``a`` from ``b``."""
    from scipy import ndimage

    passable = np.isfinite(maps.cost)
    classes = maps.hazard_classes()
    for name, mask in classes.items():
        others = [m for n, m in classes.items() if n != name]
        only_this = mask & ~np.logical_or.reduce(others)
        labels, _ = ndimage.label(passable | only_this, structure=np.ones((3, 3)))
        if labels[a] and labels[a] == labels[b]:
            return f"cut off by {name}"
    return "cut off by a mix of hazards (" + ", ".join(classes) + ")"


def _cell(dem: Dem, maps: HazardMaps, xy: tuple[float, float], name: str) -> tuple[int, int]:
    x, y = float(xy[0]), float(xy[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"{name} ({x}, {y}) must be finite projected metres")
    rows, cols = dem.cell_of(x, y)
    r, c = int(rows[0]), int(cols[0])
    if not np.isfinite(maps.cost[r, c]):
        raise PlanInfeasible(
            f"{name} ({x:.1f}, {y:.1f}) is inside a hazard: {_describe_hazard(maps, r, c)}",
            [f"{name} in a hazard"],
        )
    return r, c


def plan_route(
    dem: Dem,
    maps: HazardMaps,
    start_xy: tuple[float, float],
    goal_xy: tuple[float, float],
    via_xy: list[tuple[float, float]] | None = None,
    *,
    unordered: bool = False,
) -> TraverseRoute:
    """Plan the least-cost route from start through the ``via`` points to the goal.

    Parameters
    ----------
    dem, maps
        The DEM and its hazard maps (:func:`falak.terrain.hazards.hazards`).
    start_xy, goal_xy, via_xy
        Projected metres (LOLA south-polar stereographic) of the points.
    unordered
        Visit the ``via`` points in the cheapest order (exact, Held–Karp, ≤ 12 points) instead
        of the given one.

    Raises
    ------
    InputError
        A point is outside the DEM, or there are too many unordered points.
    PlanInfeasible
        A point is in a hazard, or cut off; the message names the hazard.
    """
    via_xy = list(via_xy or [])
    names = ["start", *[f"waypoint {i + 1}" for i in range(len(via_xy))], "goal"]
    points = [start_xy, *via_xy, goal_xy]
    cells = [_cell(dem, maps, p, n) for p, n in zip(points, names, strict=True)]
    cost = maps.cost.astype(np.float64)
    res = dem.resolution_m
    legs: list[GridRoute] = []
    if unordered and len(via_xy) > 1:
        matrix, routes = path_costs(cost, cells, res)
        for j in range(1, len(cells)):
            if not np.isfinite(matrix[0, j]):
                raise PlanInfeasible(
                    f"no path: the {names[j]} {_fmt(points[j])} is "
                    f"{_cut_off_reason(maps, cells[0], cells[j])} from the start",
                    [f"{names[j]} cut off"],
                )
        order, _ = held_karp(matrix)
        legs = [routes[(a, b)] for a, b in itertools.pairwise(order)]
    else:
        order = list(range(len(cells)))
        for a, b in itertools.pairwise(order):
            try:
                legs.append(shortest_path(cost, cells[a], cells[b], res))
            except PlanInfeasible:
                raise PlanInfeasible(
                    f"no path: the {names[b]} {_fmt(points[b])} is "
                    f"{_cut_off_reason(maps, cells[a], cells[b])} from the {names[a]}",
                    [f"{names[b]} cut off"],
                ) from None
    rows = np.concatenate([legs[0].rows, *[leg.rows[1:] for leg in legs[1:]]])
    cols = np.concatenate([legs[0].cols, *[leg.cols[1:] for leg in legs[1:]]])
    nodes = [0]
    for leg in legs:
        nodes.append(nodes[-1] + len(leg) - 1)
    step = np.where(np.abs(np.diff(rows)) + np.abs(np.diff(cols)) == 2, _SQRT2, 1.0)
    step[(np.diff(rows) == 0) & (np.diff(cols) == 0)] = 0.0
    distance = np.concatenate([[0.0], np.cumsum(step * res)])
    return TraverseRoute(
        rows=rows,
        cols=cols,
        x_m=dem.x_m[cols],
        y_m=dem.y_m[rows],
        distance_m=distance,
        cost=float(sum(leg.cost for leg in legs)),
        max_slope_deg=float(np.max(maps.slope_deg[rows, cols])),
        waypoint_nodes=nodes,
        waypoint_xy=[(float(points[i][0]), float(points[i][1])) for i in order],
        order=[i - 1 for i in order[1:-1]],
        hazard_model=maps.model,
        hazard_model_reason=maps.model_reason,
    )


def _fmt(xy: tuple[float, float]) -> str:
    return f"({float(xy[0]):.1f}, {float(xy[1]):.1f})"


@dataclass
class Segment:
    """One drive or wait, between route indices ``node_from`` and ``node_to`` (equal: wait)."""

    kind: str  # "drive" or "wait"
    start: _dt.datetime
    end: _dt.datetime
    node_from: int
    node_to: int
    battery_start_wh: float
    battery_end_wh: float

    @property
    def duration_s(self) -> float:
        """Length of the segment, seconds."""
        return (self.end - self.start).total_seconds()


@dataclass
class Schedule:
    """A timed traverse along a route: segments, departure, arrival and what the rover saw."""

    segments: list[Segment]
    depart: _dt.datetime
    arrive: _dt.datetime
    waypoint_arrivals: list[_dt.datetime]
    min_battery_wh: float
    sunlit_fraction: float  # time-weighted mean lit fraction of the Sun where the rover is
    earth_visible_fraction: float  # share of the traverse's time with the Earth in view there
    time_step_s: float
    notes: list[str] = field(default_factory=list)
    #: (n_cells,) lit fraction of the Sun at each route cell when the rover is on it (0…1).
    passage_sun_fraction: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(0, np.float64)
    )

    @property
    def duration_s(self) -> float:
        """From departure to arrival, seconds."""
        return (self.arrive - self.depart).total_seconds()

    def waits(self) -> list[Segment]:
        """The wait segments."""
        return [s for s in self.segments if s.kind == "wait"]


@numba.njit(cache=True, nogil=True)
def _label(
    step_s: Any,
    distance_m: Any,
    sun: Any,
    earth: Any,
    speed: float,
    capacity: float,
    reserve: float,
    start_wh: float,
    drive_w: float,
    idle_w: float,
    solar_w: float,
    teleoperated: bool,
    haven: float,
) -> tuple[Any, Any, Any, int]:
    """Earliest-departure labelling; returns (best charge, previous node, drive s, last step).

    ``best[t, k]`` is the largest charge (Wh) at node k at time step t (−inf: unreachable).
    Stops at the first step the last node is reached (returned) or at the end (−1).
    """
    n_t, n_k = sun.shape
    best = np.full((n_t, n_k), -np.inf)
    prev = np.full((n_t, n_k), -1, dtype=np.int32)
    drive_s = np.zeros((n_t, n_k))
    best[0, 0] = start_wh
    goal = n_k - 1
    if n_k == 1:
        return best, prev, drive_s, 0
    for t in range(n_t - 1):
        dt = step_s[t]
        for k in range(n_k - 1):
            b = best[t, k]
            if b == -np.inf:
                continue
            s_here = min(sun[t, k], sun[t + 1, k])
            if s_here >= haven:
                nb = min(capacity, b + (solar_w * s_here - idle_w) * dt / 3600.0)
                if nb >= reserve and nb > best[t + 1, k]:
                    best[t + 1, k] = nb
                    prev[t + 1, k] = k
                    drive_s[t + 1, k] = 0.0
            if teleoperated and not (earth[t, k] and earth[t + 1, k]):
                continue
            s_prev = s_here
            b1 = b
            for k2 in range(k + 1, n_k):
                td = (distance_m[k2] - distance_m[k]) / speed
                if td > dt:
                    break
                if teleoperated and not (earth[t, k2] and earth[t + 1, k2]):
                    break
                s2 = min(sun[t, k2], sun[t + 1, k2])
                # the move k2−1 → k2, lit at the darker of its two cells
                move_s = (distance_m[k2] - distance_m[k2 - 1]) / speed
                b1 = min(capacity, b1 + (solar_w * min(s_prev, s2) - drive_w) * move_s / 3600.0)
                s_prev = s2
                if b1 < reserve:
                    break  # the battery would run out on the way
                b2 = b1
                if k2 != goal:
                    b2 = min(capacity, b1 + (solar_w * s2 - idle_w) * (dt - td) / 3600.0)
                    if b2 < reserve:
                        continue
                if k2 == goal:
                    # at the goal the earliest arrival within the step wins, not the charge
                    better = best[t + 1, k2] == -np.inf or td < drive_s[t + 1, k2]
                else:
                    better = b2 > best[t + 1, k2]
                if better:
                    best[t + 1, k2] = b2
                    prev[t + 1, k2] = k
                    drive_s[t + 1, k2] = td
        if best[t + 1, goal] > -np.inf:
            return best, prev, drive_s, t + 1
    return best, prev, drive_s, -1


def _utc(t64: Any) -> _dt.datetime:
    ns = int(np.datetime64(t64, "ns").astype(np.int64))
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=ns // 1000)


def _as_times(times: Any) -> NDArray[np.datetime64]:
    out = []
    for t in np.atleast_1d(np.asarray(times, dtype=object)):
        if isinstance(t, _dt.datetime):
            if t.tzinfo is None:
                raise InputError(f"time {t!r} has no timezone; give UTC-aware datetimes")
            out.append(np.datetime64(t.astimezone(_dt.UTC).replace(tzinfo=None), "ns"))
        else:
            out.append(np.datetime64(t, "ns"))
    return np.array(out, dtype="datetime64[ns]")


def schedule_traverse(
    route: TraverseRoute,
    times: Any,
    sun_fraction: ArrayLike,
    earth_visible: ArrayLike,
    *,
    speed_m_s: float = 0.1,
    battery: Battery | None = None,
    teleoperated: bool = True,
    haven_min_sun_fraction: float = 0.0,
) -> Schedule:
    """Schedule the earliest arrival along ``route`` (earliest-departure labelling; module text).

    Parameters
    ----------
    route
        From :func:`plan_route`.
    times
        (n_times,) increasing UTC epochs (``datetime64`` or aware ``datetime``); the first is the
        earliest departure.
    sun_fraction, earth_visible
        (n_times, n_cells) lit fraction of the Sun's disk (0…1) and Earth in view, for the
        route's cells in order (as ``illumination_timeline`` gives them).
    speed_m_s
        Driving speed (VIPER: 0.1 m/s nominal, REFERENCES.md).
    teleoperated
        Drive only with the Earth in view (False: autonomous).
    haven_min_sun_fraction
        Wait only where at least this share of the Sun is up (0: anywhere the battery allows).

    Raises
    ------
    PlanInfeasible
        The goal cannot be reached within the timeline; the message names why (battery empty
        after so many hours of darkness at (x, y), no Earth window, or the window too short).
    """
    battery = battery or Battery()
    t64 = _as_times(times)
    sun = np.asarray(sun_fraction, dtype=np.float64)
    earth = np.asarray(earth_visible, dtype=np.bool_)
    n_k = route.rows.shape[0]
    if t64.ndim != 1 or t64.size < 2 or np.any(np.diff(t64) <= np.timedelta64(0, "ns")):
        raise InputError("times must be at least 2 strictly increasing UTC epochs")
    if sun.shape != (t64.size, n_k) or earth.shape != sun.shape:
        raise InputError(
            f"sun_fraction and earth_visible must have shape (n_times, n_cells) = "
            f"({t64.size}, {n_k}), got {sun.shape} and {earth.shape}"
        )
    if not (math.isfinite(speed_m_s) and speed_m_s > 0):
        raise InputError(f"speed_m_s must be a positive number, got {speed_m_s!r}")
    sun = np.nan_to_num(np.clip(sun, 0.0, 1.0), nan=0.0)  # unknown light counts as dark
    step_s = np.diff(t64).astype("timedelta64[ns]").astype(np.float64) / 1e9
    best, prev, drive_s, last = _label(
        step_s, route.distance_m, sun, earth, float(speed_m_s), battery.capacity_wh,
        battery.min_charge_wh, battery.start_wh, battery.drive_power_w, battery.idle_power_w,
        battery.solar_power_w, bool(teleoperated), float(haven_min_sun_fraction),
    )  # fmt: skip
    if last < 0:
        reason = _why_not(
            route, t64, step_s, best, sun, earth, float(speed_m_s), battery,
            bool(teleoperated), float(haven_min_sun_fraction),
        )  # fmt: skip
        raise PlanInfeasible(*reason)
    # Walk back: (t, k) ← (t−1, prev).
    steps = []
    t, k = last, n_k - 1
    while t > 0:
        steps.append((t - 1, int(prev[t, k]), k, float(drive_s[t, k])))
        k = int(prev[t, k])
        t -= 1
    steps.reverse()
    segments: list[Segment] = []
    charge = battery.start_wh
    cap = battery.capacity_wh

    def add(kind: str, t0: np.datetime64, dur: float, a: int, b: int, power: float) -> None:
        nonlocal charge
        if dur <= 0:
            return
        end_charge = min(cap, charge + power * dur / 3600.0)
        start = t0
        stop = t0 + np.timedelta64(round(dur * 1e9), "ns")
        if segments and segments[-1].kind == kind and segments[-1].node_to == a:
            last_seg = segments[-1]
            last_seg.end, last_seg.node_to = _utc(stop), b
            last_seg.battery_end_wh = end_charge
        else:
            segments.append(Segment(kind, _utc(start), _utc(stop), a, b, charge, end_charge))
        charge = end_charge

    min_charge = charge
    for ts, a, b, td in steps:
        dt = step_s[ts]
        t0 = t64[ts]
        s_a = min(sun[ts, a], sun[ts + 1, a])
        if a == b:
            add("wait", t0, dt, a, a, battery.solar_power_w * s_a - battery.idle_power_w)
        else:
            # the drive's charge integrated move by move, as the labelling does
            lit = np.minimum(sun[ts, a : b + 1], sun[ts + 1, a : b + 1])
            move_s = np.diff(route.distance_m[a : b + 1]) / speed_m_s
            run = charge
            for s_move, dur in zip(np.minimum(lit[:-1], lit[1:]), move_s, strict=True):
                net = battery.solar_power_w * float(s_move) - battery.drive_power_w
                run = min(cap, run + net * float(dur) / 3600.0)
                min_charge = min(min_charge, run)
            add("drive", t0, td, a, b, (run - charge) * 3600.0 / td if td > 0 else 0.0)
            if b != n_k - 1:
                rest = dt - td
                s_b = min(sun[ts, b], sun[ts + 1, b])
                t_rest = t0 + np.timedelta64(round(td * 1e9), "ns")
                add("wait", t_rest, rest, b, b, battery.solar_power_w * s_b - battery.idle_power_w)
        min_charge = min(min_charge, charge)
    if segments and segments[0].kind == "wait":
        depart = segments[0].end if len(segments) > 1 else segments[0].start
    else:
        depart = _utc(t64[0])
    arrive = segments[-1].end if segments else _utc(t64[0])
    # Arrivals at waypoints: the end of the drive that reaches each waypoint node.
    arrivals = []
    for node in route.waypoint_nodes:
        when = _utc(t64[0]) if node == 0 else None
        for seg in segments:
            if when is None and seg.kind == "drive" and seg.node_from < node <= seg.node_to:
                frac = (route.distance_m[node] - route.distance_m[seg.node_from]) / speed_m_s
                when = seg.start + _dt.timedelta(seconds=float(frac))
        arrivals.append(when or arrive)
    total = max((arrive - _utc(t64[0])).total_seconds(), 1e-9)
    lit_s, earth_s, passage = _exposure(segments, route, t64, sun, earth, speed_m_s)
    return Schedule(
        segments=segments,
        depart=depart,
        arrive=arrive,
        waypoint_arrivals=arrivals,
        min_battery_wh=float(min_charge),
        sunlit_fraction=min(1.0, lit_s / total),  # µs rounding of the times
        earth_visible_fraction=min(1.0, earth_s / total),
        time_step_s=float(np.median(step_s)),
        passage_sun_fraction=passage,
    )


def _exposure(
    segments: list[Segment],
    route: TraverseRoute,
    t64: NDArray[np.datetime64],
    sun: NDArray[np.float64],
    earth: NDArray[np.bool_],
    speed_m_s: float,
) -> tuple[float, float, NDArray[np.float64]]:
    """Integrate light and Earth visibility where the rover actually is, segment by segment.

    Returns (sunlit seconds, Earth-in-view seconds, lit fraction at each route cell when the
    rover is on it). Both series are interpolated linearly in time between the timeline's
    samples (Earth visibility as 0/1, so a step whose ends disagree counts half). While
    driving, the rover is on cell j from the midpoint before it to the midpoint after it along
    the route, and the cell's value is taken at the middle of that time. This is the
    description of the schedule, not the planner's energy bound, which takes the worst cell
    and the worse end of each step.
    """
    t_s = (t64 - t64[0]) / np.timedelta64(1, "s")
    origin = _utc(t64[0])
    earth_f = earth.astype(np.float64)
    n_k = route.rows.shape[0]
    passage = np.full(n_k, np.nan)
    lit_s = earth_s = 0.0

    def at(when_s: NDArray[np.float64], cells: NDArray[np.intp], series: Any) -> Any:
        i = np.clip(np.searchsorted(t_s, when_s, side="right") - 1, 0, t_s.size - 2)
        w = np.clip((when_s - t_s[i]) / (t_s[i + 1] - t_s[i]), 0.0, 1.0)
        return (1.0 - w) * series[i, cells] + w * series[i + 1, cells]

    d = route.distance_m
    for seg in segments:
        start_s = (seg.start - origin).total_seconds()
        end_s = start_s + seg.duration_s
        if seg.kind == "wait":
            inner = t_s[(t_s > start_s) & (t_s < end_s)]
            edges = np.concatenate([[start_s], inner, [end_s]])
            cell = np.full(edges.size, seg.node_from, np.intp)
            # linear between samples: the trapezoid rule is exact
            lit_s += float(np.trapezoid(at(edges, cell, sun), edges))
            earth_s += float(np.trapezoid(at(edges, cell, earth_f), edges))
            if np.isnan(passage[seg.node_from]):
                passage[seg.node_from] = float(np.mean(at(edges, cell, sun)))
            continue
        j = np.arange(seg.node_from, seg.node_to + 1)
        lo = np.maximum(d[seg.node_from], (d[np.maximum(j - 1, 0)] + d[j]) / 2.0)
        hi = np.minimum(d[seg.node_to], (d[j] + d[np.minimum(j + 1, n_k - 1)]) / 2.0)
        dwell_s = (hi - lo) / speed_m_s
        mid_s = start_s + ((lo + hi) / 2.0 - d[seg.node_from]) / speed_m_s
        lit = at(mid_s, j, sun)
        lit_s += float(np.sum(lit * dwell_s))
        earth_s += float(np.sum(at(mid_s, j, earth_f) * dwell_s))
        passage[j[1:]] = lit[1:]
        if np.isnan(passage[j[0]]):
            passage[j[0]] = lit[0]
    return lit_s, earth_s, passage


def _why_not(
    route: TraverseRoute,
    t64: NDArray[np.datetime64],
    step_s: NDArray[np.float64],
    best: NDArray[np.float64],
    sun: NDArray[np.float64],
    earth: NDArray[np.bool_],
    speed_m_s: float,
    battery: Battery,
    teleoperated: bool,
    haven: float,
) -> tuple[str, list[str]]:
    """Name the binding constraint: the one whose removal lets the rover reach the goal.

    The labelling is run again with the battery unlimited: if the goal is then reached, the
    battery binds. If not, and a teleoperated rover with an unlimited battery planned
    autonomous would get there, the Earth's visibility binds. Otherwise the rover cannot wait
    where it is (safe haven) or the window is too short.
    """

    def relaxed(tele: bool) -> tuple[NDArray[np.float64], int]:
        free, _, _, last = _label(
            step_s, route.distance_m, sun, earth, speed_m_s, np.inf, -np.inf, 0.0,
            battery.drive_power_w, battery.idle_power_w, battery.solar_power_w, tele, haven,
        )  # fmt: skip
        return free, last

    end = _utc(t64[-1]).isoformat().replace("+00:00", "Z")
    free, last_free = relaxed(teleoperated)
    if last_free >= 0:
        return _battery_reason(route, t64, best, sun, battery)
    reached = np.isfinite(free)
    k = int(np.max(np.nonzero(reached.any(axis=0))[0]))
    t_seen = np.nonzero(reached[:, k])[0]
    first, t_last = int(t_seen[0]), int(t_seen[-1])
    where = _fmt((route.x_m[k], route.y_m[k]))
    if t_last < t64.size - 1:  # with energy to spare, only the haven rule stops waiting
        when = _utc(t64[t_last]).isoformat().replace("+00:00", "Z")
        return (
            f"no safe haven: at {where} only {sun[t_last + 1, k]:.0%} of the Sun is up after "
            f"{when}, and the rover may wait only where at least {haven:.0%} is",
            ["safe haven"],
        )
    if teleoperated and relaxed(False)[1] >= 0:
        nxt = min(k + 1, route.rows.shape[0] - 1)

        def at(node: int) -> str:
            place = "the start " if node == 0 else ""
            return (
                f"{place}{_fmt((route.x_m[node], route.y_m[node]))} "
                f"({route.distance_m[node]:.0f} m along the route)"
            )

        if not np.any(earth[first:, k]):
            hidden = f"never in view at {at(k)}"
        elif not np.any(earth[first:, nxt]):
            hidden = f"never in view at {at(nxt)}"
        else:
            hidden = f"never in view at both {at(k)} and the next cell for a whole time step"
        arrival = _utc(t64[first]).isoformat().replace("+00:00", "Z")
        return (
            f"no Earth window: the Earth is {hidden} from {arrival} to {end} (the end of the "
            "timeline), and a teleoperated rover drives only in contact (plan it --autonomous, "
            "move the start, or extend the window)",
            ["earth visibility"],
        )
    return (
        f"the goal is not reached by {end} (end of the timeline): the rover gets to {where}, "
        f"{route.distance_m[k]:.0f} of {route.length_m:.0f} m; extend the planning window",
        ["time window"],
    )


def _battery_reason(
    route: TraverseRoute,
    t64: NDArray[np.datetime64],
    best: NDArray[np.float64],
    sun: NDArray[np.float64],
    battery: Battery,
) -> tuple[str, list[str]]:
    """Say where and after how long in the dark the battery runs out (it binds)."""
    reached = np.isfinite(best)
    k = int(np.max(np.nonzero(reached.any(axis=0))[0]))
    t_last = int(np.nonzero(reached[:, k])[0][-1])
    where = _fmt((route.x_m[k], route.y_m[k]))
    # The rover cannot stay at or leave k after t_last: the battery ran out in the dark.
    dark = t_last
    while dark > 0 and sun[dark - 1, k] * battery.solar_power_w < battery.idle_power_w:
        dark -= 1
    seconds = float((t64[t_last] - t64[dark]) / np.timedelta64(1, "s"))
    drain_w = battery.idle_power_w - battery.solar_power_w * sun[t_last, k]
    left_wh = best[t_last, k] - battery.min_charge_wh
    seconds += left_wh / drain_w * 3600.0 if drain_w > 0 else 0.0  # what is left, idling
    return (
        f"battery would be empty after {seconds / 3600.0:.1f} h of darkness at {where} "
        f"({route.distance_m[k]:.0f} m along the route; capacity {battery.capacity_wh:g} "
        f"Wh, idle {battery.idle_power_w:g} W)",
        ["battery"],
    )


@dataclass
class ReplayReport:
    """What :func:`replay` found: violations in words, the lowest charge, coverage."""

    violations: list[str]
    min_battery_wh: float
    dark_s: float  # time with less than half the Sun up

    @property
    def ok(self) -> bool:
        """No violation."""
        return not self.violations


def replay(
    schedule: Schedule,
    route: TraverseRoute,
    times: Any,
    sun_fraction: ArrayLike,
    earth_visible: ArrayLike,
    *,
    speed_m_s: float = 0.1,
    battery: Battery | None = None,
    teleoperated: bool = True,
) -> ReplayReport:
    """Re-fly a schedule against the timeline in ≤ 60 s sub-steps; list every violation.

    Independent of the planner: the rover's position comes from the segments' times and the
    speed; light is interpolated linearly in time at the cells the rover is on during each
    sub-step (sub-steps are cut at the timeline's samples and, while driving, where the rover
    passes from one cell to the next); the Earth counts as in view during a
    sub-step only if it is in view at the timeline samples on both sides. The battery is
    integrated sub-step by sub-step and must stay at or above its minimum.
    """
    battery = battery or Battery()
    t64 = _as_times(times)
    t_s = (t64 - t64[0]) / np.timedelta64(1, "s")
    sun = np.nan_to_num(np.clip(np.asarray(sun_fraction, dtype=float), 0, 1), nan=0.0)
    earth = np.asarray(earth_visible, dtype=bool)
    origin = _utc(t64[0])
    violations: list[str] = []
    charge = battery.start_wh
    low = charge
    dark_s = 0.0
    position = 0.0  # metres along the route
    clock = schedule.segments[0].start if schedule.segments else origin
    n_k = route.rows.shape[0]

    def node_at(d_m: float) -> int:
        return int(min(np.searchsorted(route.distance_m, d_m + 1e-6, side="right") - 1, n_k - 1))

    for seg in schedule.segments:
        if abs((seg.start - clock).total_seconds()) > 1e-3:
            violations.append(f"gap or overlap at {seg.start.isoformat()}")
        if seg.kind == "drive":
            expected = (route.distance_m[seg.node_to] - route.distance_m[seg.node_from]) / speed_m_s
            if abs(expected - seg.duration_s) > DURATION_TOLERANCE_S:
                violations.append(f"drive at {seg.start.isoformat()} faster than {speed_m_s} m/s")
            if abs(route.distance_m[seg.node_from] - position) > 1e-6:
                violations.append(f"drive at {seg.start.isoformat()} starts away from the rover")
        elif seg.node_from != node_at(position):
            violations.append(f"wait at {seg.start.isoformat()} is not where the rover is")
        start_s = (seg.start - origin).total_seconds()
        end_s = start_s + seg.duration_s
        inner = t_s[(t_s > start_s) & (t_s < end_s)]
        if seg.kind == "drive":  # sub-steps never straddle a cell either
            d0 = float(route.distance_m[seg.node_from])
            crossings = start_s + (route.distance_m[seg.node_from + 1 : seg.node_to] - d0) / (
                speed_m_s
            )
            inner = np.union1d(inner, crossings[(crossings > start_s) & (crossings < end_s)])
        edges = np.concatenate([[start_s], inner, [end_s]])
        pieces = []
        for e0, e1 in itertools.pairwise(edges):  # sub-steps never straddle a sample
            n_sub = max(1, math.ceil((e1 - e0) / REPLAY_STEP_S))
            pieces += [e0 + (e1 - e0) * i / n_sub for i in range(n_sub)]
        pieces.append(end_s)
        for a_s, b_s in itertools.pairwise(pieces):
            dt = b_s - a_s
            moving = seg.kind == "drive"
            k = node_at(position)
            k_end = node_at(position + (speed_m_s * dt if moving else 0.0))
            cells = range(k, k_end + 1)
            lit = min(
                min(float(np.interp(a_s, t_s, sun[:, kk])), float(np.interp(b_s, t_s, sun[:, kk])))
                for kk in cells
            )
            if lit < 0.5:
                dark_s += dt
            power = battery.solar_power_w * lit
            if moving:
                power -= battery.drive_power_w
                j0 = max(0, int(np.searchsorted(t_s, a_s, side="right")) - 1)
                j1 = min(t_s.size - 1, int(np.searchsorted(t_s, b_s - 1e-9, side="left")))
                if teleoperated and not np.all(earth[j0 : j1 + 1, k : k_end + 1]):
                    violations.append(
                        f"drives without the Earth in view at {_fmt((route.x_m[k], route.y_m[k]))}"
                        f" around {(origin + _dt.timedelta(seconds=a_s)).isoformat()}"
                    )
                position = d0 + speed_m_s * (b_s - start_s)  # not accumulated: no drift
            else:
                power -= battery.idle_power_w
            charge = min(battery.capacity_wh, charge + power * dt / 3600.0)
            low = min(low, charge)
            if charge < battery.min_charge_wh - 1e-9:
                violations.append(
                    f"battery at {charge:.2f} Wh < {battery.min_charge_wh:g} Wh at "
                    f"{(origin + _dt.timedelta(seconds=b_s)).isoformat()}"
                )
                break
        if seg.kind == "drive" and abs(position - route.distance_m[seg.node_to]) <= (
            speed_m_s * DURATION_TOLERANCE_S
        ):
            # segment times are kept to 1 µs: the duration was checked against the distance
            # above, so the rover is at the drive's end node (no drift over many drives)
            position = float(route.distance_m[seg.node_to])
        clock = seg.end
    if schedule.segments and node_at(position) != n_k - 1:
        violations.append(f"the rover ends {route.length_m - position:.1f} m short of the goal")
    return ReplayReport(violations=violations, min_battery_wh=float(low), dark_s=dark_s)


@dataclass
class RidgePair:
    """Two lit ridge points (projected m) for a traverse, and what they see over a window."""

    start_xy: tuple[float, float]
    goal_xy: tuple[float, float]
    separation_m: float  # straight-line distance
    lit_fraction: tuple[float, float]  # time-mean lit share of the Sun's disk at each
    earth_fraction: tuple[float, float]  # share of the times with the Earth in view at each
    score: float


def lit_ridge_pairs(
    dem: Dem,
    maps: HazardMaps,
    horizons: Any,
    times: Any,
    *,
    min_separation_m: float = 3000.0,
    max_separation_m: float = 4000.0,
    ridge_window_m: float = 1000.0,
    sample_step_cells: int = 16,
    max_candidates: int = 400,
    margin_cells: int = 50,
    count: int = 5,
) -> list[RidgePair]:
    """Pairs of sunlit ridge points that a rover can drive between, best first.

    Candidates are cells on a grid every ``sample_step_cells`` that are on a ridge — higher
    than the mean height within ``ridge_window_m`` around them (a positive topographic
    position index, Weiss 2001) —, passable, at least ``margin_cells`` from the DEM's edge
    and in the largest connected passable region (so every pair is joined by a route). Their
    sunlight and Earth visibility over ``times`` come from
    :func:`falak.terrain.illumination.illumination_timeline`; the ``max_candidates`` most lit
    are paired. A pair ``min_separation_m`` … ``max_separation_m`` apart scores the smaller
    of its two lit fractions plus half the smaller Earth-in-view share (lit first, contact
    second: falak's choice). Returns up to ``count`` pairs; raises
    :class:`~falak.errors.PlanInfeasible` if none qualifies.
    """
    from scipy import ndimage

    from falak.terrain.illumination import illumination_timeline

    if not 0 < min_separation_m <= max_separation_m:
        raise InputError(
            f"need 0 < min_separation_m ≤ max_separation_m, got {min_separation_m}, "
            f"{max_separation_m}"
        )
    passable = np.isfinite(maps.cost)
    labels, n_labels = ndimage.label(passable, structure=np.ones((3, 3)))
    if n_labels == 0:
        raise PlanInfeasible("no passable cell on the map", ["no passable cell"])
    largest = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    size = max(3, 2 * round(ridge_window_m / dem.resolution_m / 2) + 1)
    filled, _ = fill_holes(dem.height_m)
    ridge = filled > ndimage.uniform_filter(filled.astype(np.float64), size, mode="nearest")
    top = ridge & (labels == largest)
    ny, nx = dem.shape
    m = margin_cells
    grid = np.zeros_like(top)
    grid[m : ny - m : sample_step_cells, m : nx - m : sample_step_cells] = True
    rr, cc = np.nonzero(top & grid)
    if rr.size < 2:
        raise PlanInfeasible(
            f"fewer than two passable ridge cells away from the edge ({rr.size})",
            ["no ridge cells"],
        )
    seen = illumination_timeline(dem, horizons, np.column_stack([rr, cc]).astype(np.int64), times)
    lit = np.asarray(seen.sun_fraction, dtype=np.float64).mean(axis=0)
    earth = np.asarray(seen.earth_visible, dtype=np.float64).mean(axis=0)
    keep = np.argsort(-lit, kind="stable")[:max_candidates]
    rr, cc, lit, earth = rr[keep], cc[keep], lit[keep], earth[keep]
    x, y = dem.x_m[cc], dem.y_m[rr]
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    score = np.minimum(lit[:, None], lit[None, :]) + 0.5 * np.minimum(
        earth[:, None], earth[None, :]
    )
    score = np.where((dist >= min_separation_m) & (dist <= max_separation_m), score, -np.inf)
    score = np.triu(score, 1) + np.tril(np.full_like(score, -np.inf))
    order = np.argsort(-score, axis=None, kind="stable")[:count]
    pairs = []
    for flat in order:
        i, j = divmod(int(flat), score.shape[1])
        if not np.isfinite(score[i, j]):
            break
        pairs.append(
            RidgePair(
                (float(x[i]), float(y[i])), (float(x[j]), float(y[j])), float(dist[i, j]),
                (float(lit[i]), float(lit[j])), (float(earth[i]), float(earth[j])),
                float(score[i, j]),
            )
        )  # fmt: skip
    if not pairs:
        raise PlanInfeasible(
            f"no two of the {rr.size} ridge cells are {min_separation_m:g} … "
            f"{max_separation_m:g} m apart",
            ["no ridge pair at that distance"],
        )
    return pairs


def route_timeline(
    dem: Dem,
    horizons: Any,
    route: TraverseRoute,
    depart: _dt.datetime,
    hours: float,
    step_min: float = 30.0,
) -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.bool_]]:
    """Times from ``depart`` over ``hours`` every ``step_min`` and the route cells' light/Earth.

    Uses :func:`falak.terrain.illumination.illumination_timeline` for the route's cells.
    """
    from falak.terrain.illumination import illumination_timeline

    if depart.tzinfo is None:
        raise InputError(f"depart {depart!r} has no timezone; give a UTC-aware datetime")
    if not (0 < step_min <= 120 and 0 < hours <= 24 * 60):
        raise InputError(
            f"step_min must be within 0 … 120 min and hours within 0 … 1440, got {step_min}, "
            f"{hours}"
        )
    n = math.ceil(hours * 60.0 / step_min) + 1
    start = np.datetime64(depart.astimezone(_dt.UTC).replace(tzinfo=None), "ns")
    times = start + np.arange(n) * np.timedelta64(round(step_min * 60e9), "ns")
    cells = np.column_stack([route.rows, route.cols]).astype(np.int64)
    sun, earth = illumination_timeline(dem, horizons, cells, times)
    return times, np.asarray(sun, dtype=np.float64), np.asarray(earth, dtype=np.bool_)


def _iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def timeline_rows(schedule: Schedule, route: TraverseRoute) -> list[dict[str, Any]]:
    """The schedule as a list of drive/wait rows (times ISO 8601 UTC, places in projected m)."""
    rows = []
    for seg in schedule.segments:
        rows.append(
            {
                "kind": seg.kind,
                "start": _iso(seg.start),
                "end": _iso(seg.end),
                "duration_s": round(seg.duration_s, 3),
                "from_xy_m": [float(route.x_m[seg.node_from]), float(route.y_m[seg.node_from])],
                "to_xy_m": [float(route.x_m[seg.node_to]), float(route.y_m[seg.node_to])],
                "distance_m": float(
                    route.distance_m[seg.node_to] - route.distance_m[seg.node_from]
                ),
                "battery_start_wh": round(seg.battery_start_wh, 3),
                "battery_end_wh": round(seg.battery_end_wh, 3),
            }
        )
    return rows


def to_geojson(route: TraverseRoute, schedule: Schedule | None = None) -> dict[str, Any]:
    """A GeoJSON Feature: the route as a LineString in the DEM's projected metres.

    Coordinates are LOLA south-polar stereographic metres (not WGS84 longitude/latitude as RFC
    7946 expects; the ``crs_proj4`` property says so). Properties: ``length_m``, ``cost``,
    ``max_slope_deg``, ``waypoints`` and, with a schedule, ``duration_s``, ``depart``,
    ``arrive``, ``sunlit_fraction``, ``earth_visible_fraction``, ``min_battery_wh``, ``waits``
    and ``timeline``.
    """
    from falak.terrain.dem import LOLA_SOUTH_POLE_PROJ4

    coords = np.column_stack([route.x_m, route.y_m]).round(3).tolist()
    waypoints = []
    for i, (node, xy) in enumerate(zip(route.waypoint_nodes, route.waypoint_xy, strict=True)):
        item: dict[str, Any] = {
            "role": "start" if i == 0 else "goal" if i == len(route.waypoint_nodes) - 1 else "via",
            "x_m": xy[0],
            "y_m": xy[1],
            "distance_m": float(route.distance_m[node]),
        }
        if schedule is not None:
            item["arrive"] = _iso(schedule.waypoint_arrivals[i])
        waypoints.append(item)
    props: dict[str, Any] = {
        "crs_proj4": LOLA_SOUTH_POLE_PROJ4,
        "length_m": route.length_m,
        "cost": route.cost,
        "max_slope_deg": route.max_slope_deg,
        "hazard_model": route.hazard_model,
        "hazard_model_reason": route.hazard_model_reason,
        "via_order": route.order,
        "waypoints": waypoints,
        "duration_s": None,
        "depart": None,
        "arrive": None,
        "sunlit_fraction": None,
        "earth_visible_fraction": None,
    }
    if schedule is not None:
        props.update(
            duration_s=schedule.duration_s,
            depart=_iso(schedule.depart),
            arrive=_iso(schedule.arrive),
            sunlit_fraction=schedule.sunlit_fraction,
            earth_visible_fraction=schedule.earth_visible_fraction,
            min_battery_wh=schedule.min_battery_wh,
            time_step_s=schedule.time_step_s,
            waits=[r for r in timeline_rows(schedule, route) if r["kind"] == "wait"],
            timeline=timeline_rows(schedule, route),
        )
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": props,
    }


def route_png(
    path: Any,
    dem: Dem,
    maps: HazardMaps,
    route: TraverseRoute,
    lit_fraction: NDArray[np.float64] | None = None,
    schedule: Schedule | None = None,
) -> Any:
    """Write a PNG: hillshade, hazard cells, the route (coloured by lit fraction) and waits.

    ``lit_fraction`` (n_cells,) is the mean sunlit share of each route cell over the traverse
    window; without it, a schedule's route is coloured by the lit fraction when the rover is on
    each cell (``Schedule.passage_sun_fraction``, what its ``sunlit_fraction`` averages), and a
    bare route is drawn in one colour.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from falak.terrain.preview import hillshade

    t = dem.transform
    ny, nx = dem.shape
    extent = (
        float(t.c / 1e3), float((t.c + t.a * nx) / 1e3), float((t.f + t.e * ny) / 1e3),
        float(t.f / 1e3),
    )  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    ax.imshow(hillshade(dem.height_m, dem.resolution_m), cmap="gray", extent=extent)
    hazard = np.ma.masked_equal(maps.impassable.astype(float), 0)
    ax.imshow(hazard, cmap=ListedColormap(["#d62728"]), alpha=0.45, extent=extent)
    hazard_patch = Patch(
        color="#d62728",
        alpha=0.45,
        label=f"hazards ({maps.model} model: " + ", ".join(maps.hazard_classes()) + ")",
    )
    x, y = route.x_m / 1e3, route.y_m / 1e3
    label = "mean sunlit fraction over the window (0…1)"
    if lit_fraction is None and schedule is not None and schedule.passage_sun_fraction.size:
        lit_fraction = schedule.passage_sun_fraction
        label = "sunlit fraction as the rover passes (0…1)"
    if lit_fraction is not None:
        points = ax.scatter(x, y, c=lit_fraction, cmap="plasma", vmin=0, vmax=1, s=4, zorder=3)
        fig.colorbar(points, ax=ax, label=label)
    else:
        ax.plot(x, y, color="#1f77b4", lw=1.5, zorder=3)
    wx = [p[0] / 1e3 for p in route.waypoint_xy]
    wy = [p[1] / 1e3 for p in route.waypoint_xy]
    ax.plot(wx, wy, "o", color="white", mec="black", ms=6, zorder=4, label="waypoints")
    if schedule is not None and schedule.waits():
        nodes = [s.node_from for s in schedule.waits()]
        ax.plot(x[nodes], y[nodes], "s", color="cyan", mec="black", ms=5, zorder=5, label="waits")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=[*handles, hazard_patch], loc="upper right", fontsize=7)
    ax.set_xlabel("x (km, polar stereographic)")
    ax.set_ylabel("y (km)")
    ax.set_title(f"Traverse: {route.length_m:.0f} m, hazards in red ({maps.model} hazard model)")
    fig.savefig(path)
    plt.close(fig)
    return path
