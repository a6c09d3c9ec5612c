"""``/uplink``: whether the uplink reaches the spacecraft now, and its next window.

A spacecraft configured with ``uplink_windows: {file, policy}`` (e.g. a lunar rover's Earth
above its terrain horizon, ``falak traverse windows``) has its commands held or refused
outside those windows (:mod:`falak.commanding.manager`); this route says, on the run clock,
whether a window is open, which, and the next. Without ``uplink_windows`` the uplink is
always open (``policy`` null). Any role that may read the spacecraft (viewer and up).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from falak.server.routes.deps import SpacecraftDep

router = APIRouter(tags=["commands"])


class WindowOut(BaseModel):
    """One uplink window, ISO 8601 UTC (start inclusive, end exclusive)."""

    start: str = Field(examples=["2023-09-13T00:00:00Z"])
    end: str = Field(examples=["2023-09-14T16:13:00Z"])


class UplinkWindowsOut(BaseModel):
    """The uplink's window policy and state on the run clock."""

    policy: str | None = Field(
        description="wait (held until the next window) or refuse; null: no windows configured"
    )
    open: bool = Field(description="a window is open now (always true without windows)")
    window: WindowOut | None = Field(description="the open window, null when closed")
    next: WindowOut | None = Field(description="the next window to open; null: none ahead")
    file: str | None = Field(description="the windows file (falak-uplink-windows/1)")


def _out(w: Any) -> WindowOut | None:
    return None if w is None else WindowOut(start=w.start, end=w.end)


@router.get("/uplink", response_model=UplinkWindowsOut)
def uplink(craft: SpacecraftDep) -> UplinkWindowsOut:
    """Is the uplink open now (run clock), in which window, and when is the next one."""
    windows = craft.uplink_windows
    if windows is None:
        return UplinkWindowsOut(policy=None, open=True, window=None, next=None, file=None)
    now_ns = craft.clock.now_ns()
    current = windows.at(now_ns)
    return UplinkWindowsOut(
        policy=craft.uplink_policy,
        open=current is not None,
        window=_out(current),
        next=_out(windows.next_after(now_ns)),
        file=windows.file,
    )
