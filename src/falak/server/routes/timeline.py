"""``/clock`` (the run's clock) and ``/timeline`` (a spacecraft's plans, passes and stacks).

``GET /clock`` is the server's run clock (the config's ``clock:``; real time without one),
for any logged-in user: the console turns its "now" line and mission clocks with it.
``GET /timeline?start=&end=`` is served per spacecraft (viewer role); see
:mod:`falak.server.timeline` for where the items come from.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from falak.server.routes.deps import CurrentUser, RuntimeDep, SpacecraftDep
from falak.server.schemas import ClockOut, TimelineItem, TimelineOut, iso
from falak.server.timeline import timeline_items
from falak.utctime import format_ns, parse_ns

clock_router = APIRouter(tags=["timeline"])
router = APIRouter(tags=["timeline"])

DEFAULT_BEFORE_S = 6 * 3600
DEFAULT_AFTER_S = 18 * 3600


@clock_router.get("/clock", response_model=ClockOut)
def clock(rt: RuntimeDep, user: CurrentUser) -> ClockOut:
    """The run clock: UTC now, its speed (simulated s per host s) and epoch (null: real time).

    ``host_ns`` is the server host's ``time.time_ns()`` when ``utc_ns`` was read: a client
    extrapolates ``utc_ns + speed * elapsed``."""
    host_ns = time.time_ns()
    now_ns = rt.clock.now_ns()
    epoch_ns = getattr(rt.clock, "epoch_ns", None)
    return ClockOut(
        utc=format_ns(now_ns, 6),
        utc_ns=now_ns,
        speed=float(rt.clock.speed),
        epoch=iso(epoch_ns) if isinstance(epoch_ns, int) else None,
        host_ns=host_ns,
    )


@router.get("/timeline", response_model=TimelineOut)
def timeline(
    craft: SpacecraftDep,
    start: Annotated[
        str | None,
        Query(max_length=64, description="ISO 8601 UTC; default: 6 h before the run clock's now"),
    ] = None,
    end: Annotated[
        str | None,
        Query(max_length=64, description="ISO 8601 UTC; default: 18 h after the run clock's now"),
    ] = None,
) -> TimelineOut:
    """Passes, relay contacts, eclipses, uplink windows, plans and stack steps overlapping
    [start, end] (a bad plan file is an ``error`` item, not a failure)."""
    now_ns = craft.clock.now_ns()
    start_ns = (
        parse_ns(start, "start", zone_required=True)
        if start
        else now_ns - DEFAULT_BEFORE_S * 1_000_000_000
    )
    end_ns = (
        parse_ns(end, "end", zone_required=True)
        if end
        else now_ns + DEFAULT_AFTER_S * 1_000_000_000
    )
    items = timeline_items(craft, start_ns, end_ns)
    return TimelineOut(
        items=[TimelineItem(**it.to_json()) for it in items],
        now=format_ns(now_ns, 6),
        start=format_ns(start_ns, 6),
        end=format_ns(end_ns, 6),
    )
