"""``/parameters``, ``/packets``, ``/events``: latest and archived telemetry."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError, WithJsonSchema

from falak.errors import InputError
from falak.mdb.model import AlarmLevel
from falak.server.routes.deps import CurrentUser, SpacecraftDep
from falak.server.schemas import EventOut, PacketOut, Sample, Series, iso, jsonable
from falak.utctime import check_order, parse_ns, refuse_second_60

router = APIRouter(tags=["telemetry"])


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
# "+00:00" typed into a URL: the query string turns the '+' into a space
_PLUS_AS_SPACE = re.compile(r".*\d \d\d(?::?\d\d)?")


def _query_time(what: str) -> AfterValidator:
    """Refuse a query time that is not ISO 8601, or has a second 60, with the reason (422).

    The text itself goes on to :func:`time_range`, which reads it to the nanosecond
    (a ``datetime`` would keep microseconds only).
    """

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            refuse_second_60(value, what)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        try:
            _DATETIME.validate_python(value)
        except ValidationError as exc:
            if _PLUS_AS_SPACE.fullmatch(value):
                raise ValueError(
                    f"{what} {value!r} is not an ISO 8601 time: a '+' in a URL query arrives "
                    "as a space; send the offset as %2B00:00 or use Z"
                ) from None
            raise ValueError(
                f"{what} {value!r} is not an ISO 8601 time: {exc.errors()[0]['msg']}; use "
                "e.g. 2028-01-01T00:00:00Z (Z or an offset, decimals to the nanosecond)"
            ) from None
        return value

    return AfterValidator(check)


#: the OpenAPI schema of a query time (the parameter is a string read by falak.utctime)
_TIME_SCHEMA = WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
)

Start = Annotated[
    str | None,
    _query_time("start"),
    _TIME_SCHEMA,
    Query(description="From this time (ISO 8601 with Z or an offset, decimals to the ns)"),
]
Stop = Annotated[
    str | None,
    _query_time("stop"),
    _TIME_SCHEMA,
    Query(description="Until this time, exclusive (ISO 8601 like start)"),
]
Limit = Annotated[int, Query(ge=1, le=1_000_000, description="At most this many rows")]


def time_range(start: str | None, stop: str | None) -> tuple[int | None, int | None]:
    """Query times → ns since 1970, exactly, by the falak.utctime rules (a time without a
    zone, one outside 1677-09-21..2262-04-11 or a stop before the start is refused)."""
    start_ns = None if start is None else parse_ns(start, "start", zone_required=True)
    stop_ns = None if stop is None else parse_ns(stop, "stop", zone_required=True)
    check_order(start_ns, stop_ns)
    return start_ns, stop_ns


def level_name(v: int) -> str:
    """Monitoring level number → name (unknown numbers as text)."""
    try:
        return AlarmLevel(v).name
    except ValueError:
        return str(v)


@router.get("/parameters/latest", response_model=list[Sample])
def latest_all(
    rt: SpacecraftDep,
    user: CurrentUser,
    names: Annotated[list[str] | None, Query(description="Parameters (all if omitted)")] = None,
) -> list[Sample]:
    """Latest value of each named parameter received since the server started."""
    wanted = [rt.mdb.parameter(n).qualified_name for n in names] if names else sorted(rt.latest)
    out = []
    for q in wanted:
        lv = rt.latest.get(q)
        if lv is not None:
            out.append(
                Sample(
                    parameter=q,
                    time=iso(lv.time_ns),
                    time_ns=lv.time_ns,
                    recv_time_ns=lv.recv_time_ns,
                    raw=jsonable(lv.raw),
                    eng=jsonable(lv.eng),
                    status=level_name(lv.status),
                )
            )
    return out


@router.get(
    "/parameters/{name:path}/latest",
    response_model=Sample,
    responses={404: {"description": "unknown parameter, or no value yet"}},
)
def latest(name: str, rt: SpacecraftDep, user: CurrentUser) -> Sample:
    """Latest value of one parameter (live if received since start, else from the archive)."""
    q = rt.mdb.parameter(name).qualified_name
    lv = rt.latest.get(q)
    if lv is not None:
        return Sample(
            parameter=q,
            time=iso(lv.time_ns),
            time_ns=lv.time_ns,
            recv_time_ns=lv.recv_time_ns,
            raw=jsonable(lv.raw),
            eng=jsonable(lv.eng),
            status=level_name(lv.status),
        )
    s = rt.archive.read_parameter(q) if q in rt.archive.parameter_names() else None
    if s is None or len(s) == 0:
        raise InputError(f"no value of {q} received or archived yet")
    return Sample(
        parameter=q,
        time=iso(int(s.time_ns[-1])),
        time_ns=int(s.time_ns[-1]),
        raw=jsonable(s.raw[-1]),
        eng=jsonable(s.eng[-1]),
        status=level_name(int(s.status[-1])),
    )


@router.get("/parameters/{name:path}/history", response_model=Series)
def history(
    name: str,
    rt: SpacecraftDep,
    user: CurrentUser,
    start: Start = None,
    stop: Stop = None,
    limit: Limit = 100_000,
) -> Series:
    """Archived values of one parameter in ``[start, stop)``, oldest first."""
    q = rt.mdb.parameter(name).qualified_name
    t0, t1 = time_range(start, stop)
    s = rt.archive.read_parameter(q, t0, t1)
    n = len(s)
    k = min(n, limit)
    return Series(
        parameter=q,
        time_ns=s.time_ns[:k].tolist(),
        time=[iso(int(t)) for t in s.time_ns[:k]],
        raw=jsonable(s.raw[:k]),
        eng=jsonable(s.eng[:k]),
        status=[level_name(int(v)) for v in s.status[:k]],
        truncated=n > k,
    )


@router.get("/packets", response_model=list[PacketOut])
def packets(
    rt: SpacecraftDep,
    user: CurrentUser,
    start: Start = None,
    stop: Stop = None,
    apid: Annotated[list[Annotated[int, Field(ge=0, le=2047)]] | None, Query()] = None,
    limit: Limit = 1000,
    include_bytes: bool = False,
) -> list[PacketOut]:
    """Raw packets received in ``[start, stop)`` (oldest first), optionally their bytes."""
    t0, t1 = time_range(start, stop)
    out: list[PacketOut] = []
    for b in rt.archive.read_packets(t0, t1, apids=apid, batch_size=min(limit, 100_000)):
        for i in range(len(b)):
            out.append(
                PacketOut(
                    id=int(b.ids[i]),
                    recv_time=iso(int(b.recv_time_ns[i])),
                    recv_time_ns=int(b.recv_time_ns[i]),
                    link=str(b.links[i]),
                    apid=int(b.apids[i]) if b.apids.size else None,
                    seq_count=int(b.seq_counts[i]) if b.seq_counts.size else None,
                    length=int(b.lengths[i]),
                    status=str(b.status[i] or ""),
                    hex=b.packet_bytes(i).hex() if include_bytes else None,
                )
            )
            if len(out) >= limit:
                return out
    return out


@router.get("/packets/stats")
def packet_stats(rt: SpacecraftDep, user: CurrentUser) -> dict[str, Any]:
    """Counts of archived packets by APID, rejected bytes and failed decodes by reason."""
    s = rt.archive.packet_stats()
    return {
        "packets": s.n_packets,
        "by_apid": {str(k): v for k, v in s.by_apid.items()},
        "first_recv": iso(s.first_recv_ns),
        "last_recv": iso(s.last_recv_ns),
        "rejected": {k: {"ranges": r, "bytes": n} for k, (r, n) in s.rejected.items()},
        "failed": s.failed,
        "processor": jsonable(vars(rt.processor.stats())),
    }


@router.get("/events", response_model=list[EventOut])
def events(
    rt: SpacecraftDep,
    user: CurrentUser,
    start: Start = None,
    stop: Stop = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 1000,
) -> list[EventOut]:
    """Archived events (processor, commanding audit, server audit, on-board events with
    source ``onboard``), newest last."""
    t0, t1 = time_range(start, stop)
    evs = [e for e in rt.archive.read_events(t0, t1) if source is None or e.source == source]
    return [
        EventOut(
            id=e.id,
            time=iso(e.time_ns),
            time_ns=e.time_ns,
            source=e.source,
            severity=e.severity,
            message=e.message,
            attrs=jsonable(e.attrs),
        )
        for e in evs[-limit:]
    ]
