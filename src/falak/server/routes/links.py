"""``/links``: telemetry links' counters; enable and disable them (operator, audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends

from falak.errors import InputError
from falak.links import Link
from falak.server.auth import User
from falak.server.routes.deps import CurrentUser, SpacecraftDep, require
from falak.server.runtime import SpacecraftRuntime
from falak.server.schemas import LinkOut, iso

router = APIRouter(prefix="/links", tags=["links"])
Operator = Annotated[User, Depends(require("operator"))]


PROC_NET_UDP = Path("/proc/net/udp")


def kernel_drops(link: Link, table: Path = PROC_NET_UDP) -> int | None:
    """Datagrams the kernel dropped for a UDP link's socket because it was full (Linux's
    ``/proc/net/udp`` ``drops`` column, matched on the local port); None for other links
    or where the table cannot be read."""
    port = getattr(link, "port", None)
    if not link.url.startswith("udp://") or not isinstance(port, int):
        return None
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        cols = line.split()
        if len(cols) >= 13 and int(cols[1].rsplit(":", 1)[-1], 16) == port:
            return int(cols[-1])
    return None


def link_out(link: Link) -> LinkOut:
    """A link's counters as the API shows them."""
    s = link.stats()
    return LinkOut(
        kernel_drops=kernel_drops(link),
        name=s.name,
        url=s.url,
        enabled=s.enabled,
        state=s.state,
        packets=s.packets,
        bytes=s.bytes,
        packets_per_s=s.packets_per_s,
        bytes_per_s=s.bytes_per_s,
        rejected=s.rejected,
        last_reception=iso(s.last_reception_ns),
        discarded_disabled=s.discarded_disabled,
    )


def _link(rt: SpacecraftRuntime, name: str) -> Link:
    link = rt.processor.links.get(name)
    if link is None:
        raise InputError(
            f"no link named {name!r}; links: {', '.join(rt.processor.links) or 'none'}"
        )
    return link


@router.get("", response_model=list[LinkOut])
def links(rt: SpacecraftDep, user: CurrentUser) -> list[LinkOut]:
    """Every telemetry link with its counters."""
    return [link_out(lk) for lk in rt.processor.links.values()]


@router.get("/{name}", response_model=LinkOut)
def link(name: str, rt: SpacecraftDep, user: CurrentUser) -> LinkOut:
    """One link's counters."""
    return link_out(_link(rt, name))


@router.post("/{name}/enable", response_model=LinkOut)
def enable(name: str, rt: SpacecraftDep, user: Operator) -> LinkOut:
    """Pass received packets on again (operator)."""
    lk = _link(rt, name)
    lk.enable()
    rt.audit(user.name, "link_enable", f"enabled link {name}")
    return link_out(lk)


@router.post("/{name}/disable", response_model=LinkOut)
def disable(name: str, rt: SpacecraftDep, user: Operator) -> LinkOut:
    """Discard (and count) what the link receives until enabled (operator)."""
    lk = _link(rt, name)
    lk.disable()
    rt.audit(user.name, "link_disable", f"disabled link {name}")
    return link_out(lk)
