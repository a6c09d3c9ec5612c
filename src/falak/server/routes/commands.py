"""``/commands`` and ``/queues``: issue, dry run, arm/confirm critical commands, release,
cancel, wait for verification; command history; queue control.

Roles: any user may dry-run (encode only); ``operator`` issues, releases and cancels and
controls queues; ``flight_director`` arms and confirms critical commands. Every action is
audited by the command manager with the user (command history and archive events).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from falak.commanding.queue import FINAL_STATES, CommandState
from falak.errors import CommandRejected
from falak.server.auth import User
from falak.server.routes.deps import CurrentUser, SpacecraftDep, forbidden, require
from falak.server.routes.telemetry import Limit, Start, Stop, time_range
from falak.server.runtime import SpacecraftRuntime
from falak.server.schemas import (
    CommandRecord,
    CommandRequest,
    ErrorOut,
    QueueOut,
    QueueStateRequest,
    jsonable,
)

router = APIRouter(tags=["commands"])
Operator = Annotated[User, Depends(require("operator"))]
FlightDirector = Annotated[User, Depends(require("flight_director"))]

_REJECTED: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "rejected (bad argument named in `argument`)"},
}
_ACTED: dict[int | str, dict[str, Any]] = _REJECTED | {
    409: {"model": ErrorOut, "description": "the command has left its queue (state named)"},
}
_WAITING = {CommandState.QUEUED.value, CommandState.ARMED.value}


def _record(rec: dict[str, Any]) -> CommandRecord:
    return CommandRecord.model_validate(jsonable(rec))


def _act(rt: SpacecraftRuntime, command_id: int, action: Callable[[], None]) -> CommandRecord:
    """Run an action on a queued command and return its record as it is afterwards.

    An action on a command that already left its queue (released, completed, rejected,
    cancelled) is 409 Conflict with the manager's reason (``cannot confirm command 7: it is
    released, not queued``); other refusals stay 422.
    """
    before = rt.commands.get(command_id).get("state")
    try:
        action()
    except CommandRejected as exc:
        if before not in _WAITING:
            raise HTTPException(409, str(exc)) from None
        raise
    return _record(rt.commands.get(command_id))


@router.post("/commands", response_model=CommandRecord, responses=_REJECTED)
def issue(body: CommandRequest, rt: SpacecraftDep, user: CurrentUser) -> CommandRecord:
    """Queue a command (operator), or only encode it with ``dry_run`` (any user)."""
    if not body.dry_run:
        refusal = forbidden(user, "operator", rt)
        if refusal is not None:
            raise refusal
    rec = rt.commands.issue(
        body.command,
        body.arguments,
        user=user.name,
        roles=sorted(user.roles_on(rt.name)),
        queue=body.queue,
        release_at=body.release_at,
        dry_run=body.dry_run,
    )
    return _record(rec)


@router.post("/commands/dry-run", response_model=CommandRecord, responses=_REJECTED)
def dry_run(body: CommandRequest, rt: SpacecraftDep, user: CurrentUser) -> CommandRecord:
    """Encode a command without queueing it: the bytes and the argument values."""
    return issue(body.model_copy(update={"dry_run": True}), rt, user)


@router.get("/commands", response_model=list[CommandRecord])
def history(
    rt: SpacecraftDep,
    user: CurrentUser,
    start: Start = None,
    stop: Stop = None,
    limit: Limit = 1000,
) -> list[CommandRecord]:
    """The command history from the archive (states, verifier outcomes, audit), oldest first."""
    t0, t1 = time_range(start, stop)
    return [_record(r) for r in rt.archive.read_commands(t0, t1)[-limit:]]


@router.get("/commands/{command_id}", response_model=CommandRecord)
def get(command_id: int, rt: SpacecraftDep, user: CurrentUser) -> CommandRecord:
    """One command's live record."""
    return _record(rt.commands.get(command_id))


@router.get("/commands/{command_id}/wait", response_model=CommandRecord)
def wait(
    command_id: int,
    rt: SpacecraftDep,
    user: CurrentUser,
    stage: Annotated[
        str | None, Query(max_length=100, description="Return once this stage has an outcome")
    ] = None,
    timeout_s: Annotated[float, Query(gt=0, le=120)] = 10.0,
) -> CommandRecord:
    """Wait (up to ``timeout_s``) until the command is final, or ``stage`` has an outcome."""
    rec = rt.commands.get(command_id)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        rec = rt.commands.get(command_id)
        if rec.get("state") in FINAL_STATES:
            break
        outcome = (rec.get("verifiers") or {}).get(stage or "", {}).get("outcome")
        if stage is not None and outcome not in (None, "PENDING"):
            break
        time.sleep(0.02)
    return _record(rec)


@router.post("/commands/{command_id}/arm", response_model=CommandRecord, responses=_ACTED)
def arm(command_id: int, rt: SpacecraftDep, user: FlightDirector) -> CommandRecord:
    """Arm a queued critical command (flight director); confirm it next."""
    return _act(
        rt,
        command_id,
        lambda: rt.commands.arm(command_id, user=user.name, roles=user.roles_on(rt.name)),
    )


@router.post("/commands/{command_id}/confirm", response_model=CommandRecord, responses=_ACTED)
def confirm(command_id: int, rt: SpacecraftDep, user: FlightDirector) -> CommandRecord:
    """Confirm an armed critical command within the confirmation window (flight director).

    The answer is the command's state after the confirmation: ``released`` when nothing else
    holds it, still ``armed`` (with ``confirmed_by``) while a time tag, a blocked queue or a
    transmission constraint does."""
    return _act(
        rt,
        command_id,
        lambda: rt.commands.confirm(command_id, user=user.name, roles=user.roles_on(rt.name)),
    )


@router.post("/commands/{command_id}/release", response_model=CommandRecord, responses=_ACTED)
def release(command_id: int, rt: SpacecraftDep, user: Operator) -> CommandRecord:
    """Let one command out of a blocked queue now (operator); critical ones must be armed."""
    return _act(
        rt,
        command_id,
        lambda: rt.commands.release(command_id, user=user.name, roles=user.roles_on(rt.name)),
    )


@router.post("/commands/{command_id}/cancel", response_model=CommandRecord, responses=_ACTED)
def cancel(command_id: int, rt: SpacecraftDep, user: Operator) -> CommandRecord:
    """Withdraw a queued command (operator)."""
    return _act(rt, command_id, lambda: rt.commands.cancel(command_id, user=user.name))


@router.get("/queues", response_model=list[QueueOut])
def queues(rt: SpacecraftDep, user: CurrentUser) -> list[QueueOut]:
    """Command queues with their state and privileges."""
    return [
        QueueOut(name=q.name, state=q.state.value, roles=sorted(q.roles), users=sorted(q.users))
        for q in rt.commands.queues.values()
    ]


@router.post("/queues/{name}/state", response_model=QueueOut)
def set_queue_state(
    name: str, body: QueueStateRequest, rt: SpacecraftDep, user: Operator
) -> QueueOut:
    """Enable, block or disable a queue (operator, audited)."""
    rt.commands.set_queue_state(name, body.state, user=user.name)
    q = rt.commands.queue(name)
    return QueueOut(name=q.name, state=q.state.value, roles=sorted(q.roles), users=sorted(q.users))
