"""A planned traverse as the rover's drive stack: legs as TURN + DRIVE (or GOTO), in Earth windows.

Input is the GeoJSON Feature of ``falak traverse plan`` with a schedule (``--depart``): its
LineString (projected metres, LOLA south-polar stereographic), the drive/wait ``timeline``,
the ``waypoints``, and the two properties :func:`command_properties` adds for this module:
``rover`` (speed, the hazard limits the plan used, teleoperated or not) and ``earth_windows``
(when the Earth is above the horizon *where the plan has the rover*, judged per time step
as the schedule does: in view at a cell between two steps when in view there at both, so
conservative by up to one step at each end).

Legs
----
Each drive of the timeline (the schedule drives between its time steps' ends) is cut at the
waypoints it passes and simplified by Douglas–Peucker: a leg is a straight line within
``tolerance_m`` of the polyline through the route's cell centres (every vertex is within it
of the leg, so every point of the leg is within it of the polyline). With the default, half a
DEM cell, a leg stays inside the route's cells and the two cells at the corner of each
diagonal move, which the planner keeps free of hazards (it never cuts a hazard's corner), up
to their edges; a leg longer than ``max_leg_m``
(:data:`MAX_LEG_M`, the ROVER MDB's longest DRIVE) is cut into equal pieces. A leg is a
``TURN`` to its heading (left out when the rover already faces it within
:data:`TURN_MIN_DEG`) and a ``DRIVE`` of its length on that heading, or one ``GOTO`` to its
end point (``legs="goto"``). Headings are degrees clockwise from grid north (+y of the
projection; at the south pole +y points along the 0°E meridian), 0 ≤ heading < 360, the
ROVER MDB's map azimuths. Every ``DRIVE``/``GOTO`` carries the plan's hazard
limits (``MAX_SLOPE_DEG``, ``MAX_STEP_M`` = the rover's clearance) for the on-board check.

Times
-----
A step's expected duration is its length over the rover's speed (a ``TURN``: the turn angle
over ``turn_rate_deg_s``; the first turn assumes 180°, since the rover's heading at the
start is not in the plan). A command released at ``t`` reaches the rover at ``t + lt``
(``lt`` the one-way light time, 1.28 s for the Moon), ends at ``t + lt + duration`` and its
completion is seen on Earth at ``t + 2 lt + duration``. A step is released at the later of
its time in the schedule and the expected completion of the step before it (the stack
executor waits for that anyway), and **the whole round trip must fit inside one Earth
window**: a step that would run past a window's end is held to the start of the next window
long enough (its comment says so). Release times are absolute UTC (``at:``). A step's
``timeout_s`` is ``2 lt +`` :data:`TIMEOUT_FACTOR` ``× duration +`` :data:`TIMEOUT_MARGIN_S`,
room for wheel slip on slopes.

The document is the YAML of :mod:`falak.commanding.stack`; this planner does not import
commanding: the caller checks it against the rover's MDB with ``parse_stack``.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError
from falak.planning.stackdoc import POLICIES
from falak.planning.traverse.traverse import Schedule, TraverseRoute
from falak.terrain.hazards import Rover
from falak.utctime import datetime_to_ns, format_ns, parse_ns

__all__ = [
    "LEG_KINDS",
    "LIGHT_TIME_S",
    "MAX_LEG_M",
    "TIMEOUT_FACTOR",
    "TIMEOUT_MARGIN_S",
    "TURN_MIN_DEG",
    "TURN_RATE_DEG_S",
    "DriveSummary",
    "PlannedTraverse",
    "command_properties",
    "drive_stack",
    "earth_windows",
    "heading_deg",
]

#: One-way light time Earth–Moon, seconds (mean distance 384 400 km / c).
LIGHT_TIME_S = 1.28
#: A TURN is left out when the heading changes by less than this, degrees.
TURN_MIN_DEG = 1.0
#: Turn-in-place rate, degrees per second (the ROVER MDB's rover: 3°/s).
TURN_RATE_DEG_S = 3.0
#: Longest DRIVE or GOTO, m (the ROVER MDB's: at most 20 m, its complete window sized for it).
MAX_LEG_M = 20.0
#: Timeout of a step: 2 light times + this × its expected duration + TIMEOUT_MARGIN_S.
TIMEOUT_FACTOR = 2.0
TIMEOUT_MARGIN_S = 30.0
#: How legs are commanded: TURN + DRIVE on a heading, or GOTO the leg's end point.
LEG_KINDS = ("drive", "goto")

_NS = 1_000_000_000
_MATCH_M = 0.01  # GeoJSON coordinates are rounded to the millimetre


def heading_deg(dx_m: ArrayLike, dy_m: ArrayLike) -> NDArray[np.float64]:
    """Return headings clockwise from grid north (+y), degrees in [0, 360), of moves (dx, dy)."""
    h = np.degrees(np.arctan2(np.asarray(dx_m, float), np.asarray(dy_m, float))) % 360.0
    return np.where(h >= 360.0, 0.0, h)


def _iso(t_ns: int) -> str:
    return format_ns(int(t_ns), 0 if t_ns % _NS == 0 else 3)


# -- what falak traverse plan adds to its GeoJSON ----------------------------------------


def earth_windows(
    schedule: Schedule,
    route: TraverseRoute,
    times: Any,
    earth_visible: ArrayLike,
    *,
    speed_m_s: float,
) -> list[tuple[int, int]]:
    """Return the Earth windows at the rover's planned positions, ``(start_ns, end_ns)`` UTC.

    Parameters
    ----------
    schedule, route
        The plan (:func:`~falak.planning.traverse.schedule_traverse`).
    times, earth_visible
        The timeline: (n_times,) UTC epochs and (n_times, n_cells) Earth in view per route
        cell (:func:`~falak.planning.traverse.route_timeline`).
    speed_m_s
        The speed the schedule was made with (where a drive has the rover mid-step).

    Between two time steps the Earth counts as in view at a cell when it is in view there at
    both steps (the schedule's own rule); the rover is where the schedule has it (before
    departure: the start; after arrival: the goal; mid-drive: the cell it has reached). A
    window is a maximal time with the Earth in view where the rover is, within the timeline.
    """
    t_ns = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    earth = np.asarray(earth_visible, dtype=bool)
    if earth.shape != (t_ns.size, route.rows.size) or t_ns.size < 2:
        raise InputError(
            f"earth_visible must be (n_times, n_cells) = ({t_ns.size}, {route.rows.size}) "
            f"with n_times >= 2, got {earth.shape}"
        )
    knots_t: list[float] = []
    knots_d: list[float] = []
    for seg in schedule.segments:
        if seg.kind != "drive":
            continue
        t0 = datetime_to_ns(seg.start)
        d0, d1 = float(route.distance_m[seg.node_from]), float(route.distance_m[seg.node_to])
        knots_t += [t0, t0 + (d1 - d0) / speed_m_s * _NS]
        knots_d += [d0, d1]
        # when the rover reaches each cell of this drive: where its view may change
        knots_t += list(
            t0 + (route.distance_m[seg.node_from + 1 : seg.node_to] - d0) / speed_m_s * _NS
        )
        knots_d += list(route.distance_m[seg.node_from + 1 : seg.node_to])
    order = np.argsort(knots_t, kind="stable")
    kt, kd = np.asarray(knots_t)[order], np.asarray(knots_d)[order]
    edges = np.unique(np.concatenate([t_ns.astype(float), kt[(kt > t_ns[0]) & (kt < t_ns[-1])]]))
    mid = 0.5 * (edges[:-1] + edges[1:])
    along = np.interp(mid, kt, kd) if kt.size else np.zeros(mid.size)
    node = np.clip(
        np.searchsorted(route.distance_m, along + 1e-6, side="right") - 1, 0, route.rows.size - 1
    )
    step = np.clip(np.searchsorted(t_ns, mid, side="right") - 1, 0, t_ns.size - 2)
    seen = earth[step, node] & earth[step + 1, node]  # as the schedule judges a step
    out: list[tuple[int, int]] = []
    runs = np.flatnonzero(np.diff(np.concatenate([[0], seen.astype(np.int8), [0]])))
    for a, b in zip(runs[::2], runs[1::2], strict=True):
        out.append((int(edges[a]), int(edges[b])))
    return out


def command_properties(
    schedule: Schedule,
    route: TraverseRoute,
    times: Any,
    earth_visible: ArrayLike,
    *,
    rover: Rover,
    speed_m_s: float,
    teleoperated: bool,
) -> dict[str, Any]:
    """Return the GeoJSON properties :func:`drive_stack` needs: ``rover`` and ``earth_windows``.

    ``rover``: ``speed_m_s``, ``max_slope_deg``, ``max_step_m`` (the clearance: the highest
    step the hazard map let through), ``wheel_base_m``, ``teleoperated``. ``earth_windows``:
    a list of ``{"start", "end"}`` ISO 8601 UTC (:func:`earth_windows`).
    """
    windows = earth_windows(schedule, route, times, earth_visible, speed_m_s=speed_m_s)
    return {
        "rover": {
            "speed_m_s": float(speed_m_s),
            "max_slope_deg": float(rover.max_slope_deg),
            "max_step_m": float(rover.clearance_m),
            "wheel_base_m": float(rover.wheel_base_m),
            "teleoperated": bool(teleoperated),
        },
        "earth_windows": [{"start": _iso(a), "end": _iso(b)} for a, b in windows],
    }


# -- reading a planned traverse ----------------------------------------------------------


@dataclass(frozen=True)
class PlannedTraverse:
    """A scheduled traverse read back from its GeoJSON (:meth:`from_geojson`)."""

    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    distance_m: NDArray[np.float64]
    """Cumulative along the route, per vertex."""
    drives: tuple[tuple[int, int, int, int], ...]
    """Each drive of the timeline: (start_ns, end_ns, first vertex, last vertex)."""
    waypoint_nodes: tuple[int, ...]
    waypoint_roles: tuple[str, ...]
    depart_ns: int
    arrive_ns: int
    speed_m_s: float
    max_slope_deg: float
    max_step_m: float
    teleoperated: bool
    windows: tuple[tuple[int, int], ...]
    """Earth windows at the rover's planned positions, (start_ns, end_ns)."""

    @property
    def length_m(self) -> float:
        """Length of the route, m."""
        return float(self.distance_m[-1])

    @property
    def cell_m(self) -> float:
        """The DEM's cell size as the route's shortest straight move, m (1 for no move)."""
        steps = np.abs(np.concatenate([np.diff(self.x_m), np.diff(self.y_m)]))
        steps = steps[steps > _MATCH_M]
        return float(steps.min()) if steps.size else 1.0

    def planned_along_m(self, time_ns: ArrayLike) -> NDArray[np.float64]:
        """Where the schedule has the rover at ``time_ns`` (ns UTC), m along the route."""
        kt: list[float] = []
        kd: list[float] = []
        for t0, t1, a, b in self.drives:
            kt += [float(t0), float(t1)]
            kd += [float(self.distance_m[a]), float(self.distance_m[b])]
        t = np.asarray(time_ns, dtype=np.int64).astype(float)
        if not kt:
            return np.zeros(t.shape)
        return np.asarray(np.interp(t, kt, kd), dtype=np.float64)

    @classmethod
    def from_geojson(
        cls, feature: Mapping[str, Any], *, file: str = "the route"
    ) -> PlannedTraverse:
        """Read a route planned with a schedule by ``falak traverse plan --depart``.

        Raises
        ------
        InputError
            Not such a Feature, a route without a schedule, a timeline not on the route, or
            a file written before ``falak traverse plan`` gave the rover and Earth windows;
            the message says how to make one.
        """
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        props = feature.get("properties") if isinstance(feature, Mapping) else None
        if (
            not isinstance(geometry, Mapping)
            or geometry.get("type") != "LineString"
            or not isinstance(props, Mapping)
        ):
            raise InputError(
                f"{file} is not a planned traverse: expected the GeoJSON Feature with a "
                "LineString that falak traverse plan writes"
            )
        coords = np.asarray(geometry.get("coordinates") or [], dtype=float).reshape(-1, 2)
        timeline = props.get("timeline")
        if not timeline or props.get("depart") is None:
            raise InputError(
                f"{file} has a route but no schedule; plan it with a departure time: "
                "falak traverse plan ... --depart TIME --out ROUTE.geojson"
            )
        missing = [k for k in ("rover", "earth_windows") if k not in props]
        if missing:
            raise InputError(
                f"{file} has no {' or '.join(missing)} (written by an older falak traverse "
                "plan); plan it again with falak traverse plan ... --depart TIME"
            )
        x, y = coords[:, 0], coords[:, 1]
        dist = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])

        def vertex(xy: Sequence[float], first: int, what: str) -> int:
            near = np.flatnonzero(np.hypot(x[first:] - xy[0], y[first:] - xy[1]) < _MATCH_M)
            if near.size == 0:
                raise InputError(f"{file}: {what} ({xy[0]:.3f}, {xy[1]:.3f}) is not on the route")
            return first + int(near[0])

        drives = []
        cur = 0
        for n, row in enumerate(timeline, 1):
            if row.get("kind") != "drive":
                continue
            a = vertex(row["from_xy_m"], cur, f"timeline row {n} starts at")
            b_ok = np.flatnonzero(
                (np.hypot(x[a:] - row["to_xy_m"][0], y[a:] - row["to_xy_m"][1]) < _MATCH_M)
                & (np.abs(dist[a:] - dist[a] - float(row["distance_m"])) < _MATCH_M)
            )
            if b_ok.size == 0:
                raise InputError(
                    f"{file}: timeline row {n} ({float(row['distance_m']):.3f} m) does not "
                    "follow the route"
                )
            b = a + int(b_ok[0])
            drives.append((parse_ns(row["start"]), parse_ns(row["end"]), a, b))
            cur = b
        waypoints = props.get("waypoints") or []
        nodes = tuple(int(np.argmin(np.abs(dist - float(w["distance_m"])))) for w in waypoints)
        rover = props["rover"]
        windows = tuple(
            (parse_ns(w["start"], "earth window start"), parse_ns(w["end"], "earth window end"))
            for w in props["earth_windows"]
        )
        return cls(
            x_m=x,
            y_m=y,
            distance_m=dist,
            drives=tuple(drives),
            waypoint_nodes=nodes,
            waypoint_roles=tuple(str(w.get("role", "via")) for w in waypoints),
            depart_ns=parse_ns(props["depart"], "depart"),
            arrive_ns=parse_ns(props["arrive"], "arrive"),
            speed_m_s=float(rover["speed_m_s"]),
            max_slope_deg=float(rover["max_slope_deg"]),
            max_step_m=float(rover["max_step_m"]),
            teleoperated=bool(rover.get("teleoperated", True)),
            windows=windows,
        )


# -- legs --------------------------------------------------------------------------------


def _simplify(x: NDArray[np.float64], y: NDArray[np.float64], tol_m: float) -> list[int]:
    """Douglas–Peucker: indices (0 … n−1) of the vertices kept within ``tol_m`` of the line."""
    n = x.size
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    todo = [(0, n - 1)]
    while todo:
        a, b = todo.pop()
        if b - a < 2:
            continue
        dx, dy = x[b] - x[a], y[b] - y[a]
        px, py = x[a + 1 : b] - x[a], y[a + 1 : b] - y[a]
        length = math.hypot(dx, dy)
        off = np.abs(dx * py - dy * px) / length if length > 0 else np.hypot(px, py)
        k = int(np.argmax(off))
        if off[k] > tol_m:
            keep[a + 1 + k] = True
            todo += [(a, a + 1 + k), (a + 1 + k, b)]
    return [int(i) for i in np.flatnonzero(keep)]


@dataclass(frozen=True)
class _Leg:
    start: int
    end: int
    drive: int  # index of its drive in the timeline
    distance_m: float
    heading_deg: float
    end_xy: tuple[float, float]
    """Where it ends, projected m (``end`` is −1 for a piece of a leg cut at max_leg_m)."""


def _legs(plan: PlannedTraverse, tol_m: float, max_leg_m: float) -> list[_Leg]:
    breaks = set(plan.waypoint_nodes)
    legs: list[_Leg] = []
    for d, (_, _, a, b) in enumerate(plan.drives):
        cuts = sorted({a, b} | {k for k in breaks if a < k < b})
        for p, q in itertools.pairwise(cuts):
            kept = [p + i for i in _simplify(plan.x_m[p : q + 1], plan.y_m[p : q + 1], tol_m)]
            for u, v in itertools.pairwise(kept):
                dx, dy = plan.x_m[v] - plan.x_m[u], plan.y_m[v] - plan.y_m[u]
                dist = math.hypot(dx, dy)
                if dist < _MATCH_M:
                    continue
                pieces = math.ceil(dist / max_leg_m - 1e-9)
                for k in range(pieces):  # equal pieces of at most max_leg_m
                    ends = (
                        plan.x_m[u] + dx * (k + 1) / pieces,
                        plan.y_m[u] + dy * (k + 1) / pieces,
                    )
                    last = v if k == pieces - 1 else -1
                    legs.append(_Leg(u, last, d, dist / pieces, float(heading_deg(dx, dy)), ends))
    return legs


# -- the stack ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DriveSummary:
    """What :func:`drive_stack` made; times ns since 1970 UTC."""

    legs: int
    steps: int
    distance_m: float
    first_ns: int
    last_ns: int
    """Release of the last step."""
    done_ns: int
    """When the last step's completion is expected on Earth."""
    planned_arrive_ns: int
    held: int
    """Steps held to a later Earth window than their time in the schedule."""
    windows: int
    """Earth windows the stack releases in."""


def _fit(windows: Sequence[tuple[int, int]], t_ns: int, need_ns: int) -> int | None:
    """Return the earliest release ≥ ``t_ns`` with ``need_ns`` left in one window, or None."""
    for start, end in windows:
        r = max(t_ns, start)
        if r + need_ns <= end:
            return r
    return None


def _number(v: float, digits: int) -> float:
    return float(round(v, digits))


def drive_stack(
    feature: Mapping[str, Any],
    *,
    light_time_s: float = LIGHT_TIME_S,
    policy: str = "stop",
    legs: str = "drive",
    turn_rate_deg_s: float = TURN_RATE_DEG_S,
    tolerance_m: float | None = None,
    max_leg_m: float = MAX_LEG_M,
    name: str | None = None,
    spacecraft: str | None = None,
    file: str = "the route",
) -> tuple[dict[str, Any], DriveSummary]:
    """Turn a planned traverse (its GeoJSON Feature) into a drive stack (see the module doc).

    Parameters
    ----------
    feature
        From ``falak traverse plan --depart`` (:meth:`PlannedTraverse.from_geojson`).
    light_time_s
        One-way light time, s.
    policy
        ``on_failure`` of the stack: ``stop`` (default: a drive that fails — a hazard stop,
        a timeout — holds the rest until the team has looked) or ``continue``.
    legs
        ``drive`` (TURN + DRIVE) or ``goto`` (GOTO the leg's end).
    turn_rate_deg_s
        Turn-in-place rate for the TURNs' expected durations.
    tolerance_m
        Largest distance of a leg from the route's cell centres, m (default half a cell).
    max_leg_m
        Longest DRIVE or GOTO, m: a longer leg is cut into equal pieces.
    name, spacecraft
        The stack's name (default ``traverse-YYYYMMDDTHHMM`` of the departure) and
        ``spacecraft:`` (the MDB's root name) when given.

    Returns
    -------
    The stack as a dict (``stack``, ``spacecraft``, ``description``, ``on_failure``,
    ``steps`` each with ``command``, ``arguments``, ``at``, ``timeout_s``, ``comment``) and a
    :class:`DriveSummary`.

    Raises
    ------
    InputError
        A bad option, a route that cannot be read, no drive, or a step that fits no Earth
        window from its time on (the message says how long it needs).
    """
    if policy not in POLICIES:
        raise InputError(f"stack policy {policy!r} is not one of {', '.join(POLICIES)}")
    if legs not in LEG_KINDS:
        raise InputError(f"legs {legs!r} is not one of {', '.join(LEG_KINDS)}")
    if not (math.isfinite(light_time_s) and light_time_s >= 0):
        raise InputError(f"light time must be a number of seconds >= 0, got {light_time_s!r}")
    if not (math.isfinite(turn_rate_deg_s) and turn_rate_deg_s > 0):
        raise InputError(f"turn rate must be a positive number of °/s, got {turn_rate_deg_s!r}")
    plan = PlannedTraverse.from_geojson(feature, file=file)
    tol = 0.5 * plan.cell_m if tolerance_m is None else float(tolerance_m)
    if not (math.isfinite(tol) and tol > 0):
        raise InputError(f"tolerance_m must be a positive number of metres, got {tolerance_m!r}")
    if not (math.isfinite(max_leg_m) and max_leg_m > 0):
        raise InputError(f"max_leg_m must be a positive number of metres, got {max_leg_m!r}")
    all_legs = _legs(plan, tol, max_leg_m)
    if not all_legs:
        raise InputError(f"{file}: the schedule has no drive (start and goal are one cell)")
    lt_ns = round(light_time_s * _NS)
    limits = {"MAX_SLOPE_DEG": plan.max_slope_deg, "MAX_STEP_M": plan.max_step_m}
    ends = {n: i for i, n in enumerate(plan.waypoint_nodes) if i > 0}
    steps: list[dict[str, Any]] = []
    releases: list[int] = []
    held = 0
    used: set[int] = set()
    cursor = 0  # when the step before is expected done on Earth
    facing: float | None = None
    planned = 0
    last_drive = -1
    n_legs = len(all_legs)

    def add(command: str, arguments: dict[str, Any], duration_s: float, comment: str) -> None:
        nonlocal cursor, planned, held
        need = 2 * lt_ns + round(duration_s * _NS)
        want = max(planned, cursor)
        r = _fit(plan.windows, want, need)
        if r is None:
            if not any(end > want for _, end in plan.windows):
                fix = (
                    "the plan drives out of contact (planned --autonomous?): plan it "
                    "teleoperated, or with more --hours"
                    if not plan.teleoperated
                    else "plan it with more --hours"
                )
                raise InputError(
                    f"{comment}: no Earth window where the rover is from {_iso(want)} on; {fix}"
                )
            raise InputError(
                f"{comment}: needs {need / _NS:.0f} s in one Earth window (expected "
                f"{duration_s:.0f} s + 2 light times) and no window from {_iso(want)} on has "
                f"it; plan again with a shorter --step-min or a later window (--hours)"
            )
        note = ""
        if r > want:
            held += 1
            note = f"; held for the Earth window from {_iso(r)}"
        used.update(i for i, w in enumerate(plan.windows) if w[0] <= r <= w[1])
        timeout = 2 * light_time_s + TIMEOUT_FACTOR * duration_s + TIMEOUT_MARGIN_S
        steps.append(
            {
                "command": command,
                "arguments": arguments,
                "at": _iso(r),
                "timeout_s": math.ceil(timeout),
                "comment": f"{comment} (expected {duration_s:.0f} s){note}",
            }
        )
        releases.append(r)
        cursor = r + need
        planned = max(planned, r) + round(duration_s * _NS)

    for i, leg in enumerate(all_legs, 1):
        if leg.drive != last_drive:  # a new drive of the schedule starts at its own time
            planned = plan.drives[leg.drive][0]
            last_drive = leg.drive
        to = f" to the {plan.waypoint_roles[ends[leg.end]]}" if leg.end in ends else ""
        label = f"leg {i}/{n_legs}: {leg.distance_m:.2f} m at {leg.heading_deg:.1f}°{to}"
        turn = 180.0 if facing is None else abs((leg.heading_deg - facing + 180.0) % 360.0 - 180.0)
        drive_s = leg.distance_m / plan.speed_m_s
        heading = _number(leg.heading_deg, 2)
        if legs == "goto":
            add(
                "GOTO",
                {
                    "X_M": _number(leg.end_xy[0], 3),
                    "Y_M": _number(leg.end_xy[1], 3),
                    **limits,
                },
                drive_s + turn / turn_rate_deg_s,
                label,
            )
        else:
            if facing is None or turn >= TURN_MIN_DEG:
                add("TURN", {"HEADING_DEG": heading}, turn / turn_rate_deg_s, f"turn, {label}")
            add(
                "DRIVE",
                {"DISTANCE_M": _number(leg.distance_m, 3), "HEADING_DEG": heading, **limits},
                drive_s,
                label,
            )
        facing = leg.heading_deg
    depart = _dt.datetime.fromtimestamp(plan.depart_ns / _NS, _dt.UTC)
    doc: dict[str, Any] = {"stack": name or f"traverse-{depart:%Y%m%dt%H%M}"}
    if spacecraft is not None:
        doc["spacecraft"] = spacecraft
    doc["description"] = (
        f"traverse of {plan.length_m:.0f} m in {n_legs} legs, departing {_iso(plan.depart_ns)}"
        f", planned arrival {_iso(plan.arrive_ns)}; light time {light_time_s:g} s"
    )
    doc["on_failure"] = policy
    doc["steps"] = steps
    summary = DriveSummary(
        legs=n_legs,
        steps=len(steps),
        distance_m=float(sum(leg.distance_m for leg in all_legs)),
        first_ns=releases[0],
        last_ns=releases[-1],
        done_ns=cursor,
        planned_arrive_ns=plan.arrive_ns,
        held=held,
        windows=len(used),
    )
    return doc, summary
