"""The rover traverse planner: least-cost routes on hazard maps, then schedules in sunlight.

:mod:`~falak.planning.traverse.route` searches the grid (A*, bidirectional, Held–Karp over
waypoints); :mod:`~falak.planning.traverse.traverse` plans the route through waypoints and its
schedule, replays it and writes GeoJSON and PNG. Its public names are re-exported here.
"""

from falak.planning.traverse.traverse import (
    Battery,
    ReplayReport,
    RidgePair,
    Schedule,
    Segment,
    TraverseRoute,
    lit_ridge_pairs,
    plan_route,
    replay,
    route_png,
    route_timeline,
    schedule_traverse,
    timeline_rows,
    to_geojson,
)

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
