"""``/spacecraft``: the spacecraft the server hosts, with their links' and uplink's state.

Every per-spacecraft route is also served under ``/spacecraft/{sc}/...`` (see
:mod:`falak.server.routes.deps`); these two routes list them.
"""

from __future__ import annotations

from fastapi import APIRouter

from falak.server.routes.deps import CurrentUser, RuntimeDep, SpacecraftDep
from falak.server.routes.links import link_out
from falak.server.runtime import SpacecraftRuntime
from falak.server.schemas import SpacecraftOut, UplinkOut, iso

router = APIRouter(tags=["spacecraft"])


def spacecraft_out(sc: SpacecraftRuntime, *, default: bool) -> SpacecraftOut:
    """A spacecraft as the API shows it."""
    uplink = None
    if sc.uplink is not None:
        u = sc.uplink.stats()
        uplink = UplinkOut(
            name=u.name,
            url=u.url,
            delay_s=u.delay_s,
            sent=u.sent,
            queued=u.queued,
            errors=u.errors,
            last_sent=iso(u.last_sent_ns),
        )
    return SpacecraftOut(
        name=sc.name,
        mdb=sc.mdb.root.qualified_name,
        default=default,
        processor_running=sc.processor.running,
        links=[link_out(lk) for lk in sc.processor.links.values()],
        uplink=uplink,
        light_time_s=sc.light_time_s,
    )


@router.get("/spacecraft", response_model=list[SpacecraftOut])
def spacecraft(rt: RuntimeDep, user: CurrentUser) -> list[SpacecraftOut]:
    """The spacecraft this user may see, the default first, with their link state."""
    return [
        spacecraft_out(sc, default=sc is rt.default)
        for sc in rt.spacecraft.values()
        if user.has("viewer", sc.name)
    ]


@router.get("/spacecraft/{sc}", response_model=SpacecraftOut)
def one(sc: str, rt: RuntimeDep, craft: SpacecraftDep) -> SpacecraftOut:
    """One spacecraft with its link state (404 lists the known names)."""
    return spacecraft_out(craft, default=craft is rt.default)
