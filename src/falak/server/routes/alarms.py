"""``/alarms``: active alarms, their archived history, and operator actions (audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from falak.processor import Alarm
from falak.server.auth import User
from falak.server.routes.deps import CurrentUser, SpacecraftDep, require
from falak.server.routes.telemetry import Limit, Start, Stop, time_range
from falak.server.schemas import (
    AlarmAction,
    AlarmOut,
    AlarmRecordOut,
    ShelveAction,
    iso,
    jsonable,
)

router = APIRouter(prefix="/alarms", tags=["alarms"])
Operator = Annotated[User, Depends(require("operator"))]


def alarm_out(a: Alarm) -> AlarmOut:
    """An active alarm as the API shows it."""
    return AlarmOut(
        parameter=a.parameter,
        state=a.state,
        level=a.level.name,
        max_level=a.max_level.name,
        value=jsonable(a.value),
        trigger_time=iso(a.trigger_time_ns),
        time=iso(a.time_ns),
        acknowledged=a.acknowledged,
        ack_user=a.ack_user,
        ack_comment=a.ack_comment,
        shelved_until=iso(a.shelved_until_ns),
        shelve_user=a.shelve_user,
    )


@router.get("", response_model=list[AlarmOut])
def active(rt: SpacecraftDep, user: CurrentUser) -> list[AlarmOut]:
    """Alarms not cleared yet, most severe first."""
    return [alarm_out(a) for a in rt.processor.alarms.active()]


@router.get("/history", response_model=list[AlarmRecordOut])
def history(
    rt: SpacecraftDep,
    user: CurrentUser,
    start: Start = None,
    stop: Stop = None,
    parameter: str | None = None,
    limit: Limit = 1000,
) -> list[AlarmRecordOut]:
    """Archived alarm changes (with the user and comment of operator actions)."""
    t0, t1 = time_range(start, stop)
    q = rt.mdb.parameter(parameter).qualified_name if parameter else None
    recs = rt.archive.read_alarms(t0, t1, q)
    return [
        AlarmRecordOut(
            time=iso(r.time_ns),
            time_ns=r.time_ns,
            parameter=r.parameter,
            level=r.level,
            value=r.value,
            state=r.state,
            user=r.user,
            comment=r.comment,
        )
        for r in recs[-limit:]
    ]


def _qualified(rt: SpacecraftDep, name: str) -> str:
    return rt.mdb.parameter(name).qualified_name


@router.post("/{parameter:path}/acknowledge", response_model=AlarmOut)
def acknowledge(parameter: str, body: AlarmAction, rt: SpacecraftDep, user: Operator) -> AlarmOut:
    """Acknowledge a parameter's alarm (operator)."""
    q = _qualified(rt, parameter)
    a = rt.processor.alarms.acknowledge(q, user.name, body.comment)
    rt.audit(user.name, "alarm_acknowledge", f"acknowledged alarm {q}", comment=body.comment)
    return alarm_out(a)


@router.post("/{parameter:path}/shelve", response_model=AlarmOut)
def shelve(parameter: str, body: ShelveAction, rt: SpacecraftDep, user: Operator) -> AlarmOut:
    """Shelve a parameter's alarm for ``duration_s`` seconds (operator)."""
    q = _qualified(rt, parameter)
    a = rt.processor.alarms.shelve(q, user.name, body.comment, body.duration_s)
    rt.audit(
        user.name,
        "alarm_shelve",
        f"shelved alarm {q} for {body.duration_s:g} s",
        comment=body.comment,
    )
    return alarm_out(a)


@router.post("/{parameter:path}/unshelve", response_model=AlarmOut)
def unshelve(parameter: str, body: AlarmAction, rt: SpacecraftDep, user: Operator) -> AlarmOut:
    """End a shelve now (operator)."""
    q = _qualified(rt, parameter)
    a = rt.processor.alarms.unshelve(q, user.name, body.comment)
    rt.audit(user.name, "alarm_unshelve", f"unshelved alarm {q}", comment=body.comment)
    return alarm_out(a)


@router.post("/{parameter:path}/clear", status_code=204)
def clear(parameter: str, body: AlarmAction, rt: SpacecraftDep, user: Operator) -> None:
    """Clear a parameter's alarm now (operator)."""
    q = _qualified(rt, parameter)
    rt.processor.alarms.clear(q, user.name, body.comment)
    rt.audit(user.name, "alarm_clear", f"cleared alarm {q}", comment=body.comment)
