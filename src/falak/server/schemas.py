"""Request and response models of the API (pydantic), shown in ``/openapi.json``.

Times are ISO 8601 UTC strings (``2026-11-25T12:00:00.000000Z``) and, where exactness
matters, integer nanoseconds since 1970 (``*_ns``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from falak.utctime import format_ns

__all__ = [
    "AlarmAction",
    "AlarmOut",
    "AlarmRecordOut",
    "ClockOut",
    "CommandRecord",
    "CommandRequest",
    "ErrorOut",
    "EventOut",
    "LinkOut",
    "Me",
    "PacketOut",
    "ParameterInfo",
    "QueueOut",
    "QueueStateRequest",
    "Sample",
    "Series",
    "ShelveAction",
    "StackLoadRequest",
    "StackOut",
    "StackRunRequest",
    "TimelineItem",
    "TimelineOut",
    "TokenRequest",
    "TokenResponse",
    "iso",
    "jsonable",
]


def iso(t_ns: int | None) -> str | None:
    """ns since 1970 → ISO 8601 UTC with microseconds (rounded) and ``Z``."""
    return None if t_ns is None else format_ns(t_ns, 6)


def jsonable(v: Any) -> Any:
    """A decoded value (numpy scalar/array, bytes, datetime64) as JSON-ready Python."""
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "M":
            return [iso(int(x)) if not np.isnat(x) else None for x in v.astype("datetime64[ns]")]
        if v.dtype == object:
            return [jsonable(x) for x in v.tolist()]
        return jsonable(v.tolist())
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else iso(int(v.astype("datetime64[ns]").astype(np.int64)))
    if isinstance(v, np.generic):
        return jsonable(v.item())
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, bytes | bytearray):
        return v.hex()
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, datetime):
        return v.isoformat()
    return v


class ErrorOut(BaseModel):
    """Every 4xx answer: what was wrong (and, for commands, which argument). Request
    validation failures (422) give a list of problems in ``detail``."""

    detail: str | list[Any]
    argument: str | None = None


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: str
    """Expiry, ISO 8601 UTC."""
    user: str
    roles: list[str]


class Me(BaseModel):
    user: str
    roles: list[str]
    spacecraft: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The user's effective roles on each spacecraft (empty: none there).",
    )


class ParameterInfo(BaseModel):
    name: str
    qualified_name: str
    type: str | None
    units: str | None = None
    description: str | None = None
    expected_period_s: float | None = None


class Sample(BaseModel):
    """One value of a parameter; ``status`` is its monitoring level (``NORMAL``...)."""

    parameter: str
    time: str | None
    time_ns: int
    recv_time_ns: int | None = None
    raw: Any
    eng: Any
    status: str


class Series(BaseModel):
    parameter: str
    time_ns: list[int]
    time: list[str | None]
    raw: list[Any]
    eng: list[Any]
    status: list[str]
    truncated: bool = False
    """True when ``limit`` cut the series (the oldest samples are returned)."""


class PacketOut(BaseModel):
    id: int
    recv_time: str | None
    recv_time_ns: int
    link: str
    apid: int | None
    seq_count: int | None
    length: int
    status: str
    hex: str | None = None


class EventOut(BaseModel):
    id: int
    time: str | None
    time_ns: int
    source: str
    severity: str
    message: str
    attrs: dict[str, Any] = {}


class AlarmOut(BaseModel):
    parameter: str
    state: str
    level: str
    max_level: str
    value: Any
    trigger_time: str | None
    time: str | None
    acknowledged: bool
    ack_user: str | None = None
    ack_comment: str | None = None
    shelved_until: str | None = None
    shelve_user: str | None = None


class AlarmRecordOut(BaseModel):
    time: str | None
    time_ns: int
    parameter: str
    level: str
    value: str
    state: str
    user: str | None = None
    comment: str | None = None


class AlarmAction(BaseModel):
    comment: str = Field("", max_length=2000)


class ShelveAction(BaseModel):
    comment: str = Field("", max_length=2000)
    duration_s: float = Field(gt=0, le=7 * 86400, description="Shelve time in seconds.")


class LinkOut(BaseModel):
    name: str
    url: str
    enabled: bool
    state: str
    packets: int
    bytes: int
    packets_per_s: float
    bytes_per_s: float
    rejected: dict[str, int]
    last_reception: str | None
    discarded_disabled: int
    kernel_drops: int | None = Field(
        default=None,
        description="UDP: datagrams the kernel dropped because the link's socket was full "
        "(a flood beyond what the spacecraft's chain takes); None for other links.",
    )


class UplinkOut(BaseModel):
    name: str
    url: str
    delay_s: float
    sent: int
    queued: int
    errors: int
    last_sent: str | None


class SpacecraftOut(BaseModel):
    name: str = Field(description="The spacecraft's name: its MDB's root name.")
    mdb: str = Field(description="The MDB's root space system (qualified name).")
    default: bool = Field(description="What the routes without /spacecraft/{sc} mean.")
    processor_running: bool
    links: list[LinkOut]
    uplink: UplinkOut | None
    light_time_s: float = Field(description="One-way light time, ground <-> spacecraft.")


class CommandRequest(BaseModel):
    command: str = Field(min_length=1, max_length=500, description="Qualified or short name.")
    arguments: dict[str, Any] = Field(default_factory=dict)
    queue: str = Field("default", min_length=1, max_length=200)
    release_at: datetime | None = Field(
        None, description="Time tag, ISO 8601 with a time zone (UTC); None: at once."
    )
    dry_run: bool = False


class CommandRecord(BaseModel):
    """A command-history record: ``id``, ``command``, ``state``, ``user``, ``arguments``,
    ``binary`` (hex), ``verifiers`` (stage → outcome, time, message), ``audit``..."""

    id: int
    command: str
    state: str
    user: str
    model_config = {"extra": "allow"}


class QueueOut(BaseModel):
    name: str
    state: str
    roles: list[str]
    users: list[str]


class QueueStateRequest(BaseModel):
    state: Literal["enabled", "blocked", "disabled"]


class StackLoadRequest(BaseModel):
    """A command stack to load: its YAML text (JSON is YAML too), see docs/commanding.md."""

    text: str = Field(min_length=1, max_length=1_000_000)
    file: str = Field("<stack>", max_length=500, description="Name used in error messages.")


class StackRunRequest(BaseModel):
    arm_critical: bool = Field(
        False,
        description="Arm and confirm the stack's critical steps as the calling user (who must "
        "be allowed to arm); a stack with critical steps does not start without it.",
    )


class StackOut(BaseModel):
    """A command stack's record: ``name``, ``state``, ``spacecraft``, ``steps`` (each with its
    definition and status: ``state``, ``command_id``, ``release_ns``, ``reason``)..."""

    name: str
    state: str
    spacecraft: str
    steps: list[dict[str, Any]]
    model_config = {"extra": "allow"}


class ClockOut(BaseModel):
    """The run's clock (``GET /clock``)."""

    utc: str = Field(description="UTC now on the run clock, ISO 8601.")
    utc_ns: int = Field(description="The same, ns since 1970.")
    speed: float = Field(description="Simulated seconds per host second (1: real time).")
    epoch: str | None = Field(
        description="Simulated UTC at the clock's reference (null: real time)."
    )
    host_ns: int = Field(description="The server host's time.time_ns() when utc_ns was read.")


class TimelineItem(BaseModel):
    kind: Literal[
        "pass", "contact", "eclipse", "uplink_window", "campaign", "traverse", "stack",
        "imaging", "error",
    ]  # fmt: skip
    start: str
    end: str = Field(description="ISO 8601 UTC; equal to start for an instant (a stack step).")
    label: str
    lane: str = Field(description="The lane of the timeline it is drawn in.")
    detail: dict[str, Any] = Field(default_factory=dict, description="Shown on hover.")


class TimelineOut(BaseModel):
    """A spacecraft's timeline between ``start`` and ``end`` (``GET /timeline``)."""

    items: list[TimelineItem]
    now: str = Field(description="The run clock's now, ISO 8601 UTC.")
    start: str
    end: str
