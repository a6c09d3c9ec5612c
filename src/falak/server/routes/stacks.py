"""``/stacks``: load, show, start, pause, resume and abort command stacks.

Roles: any user reads stacks; ``operator`` loads and runs them. A stack with critical steps
starts (or resumes) only with ``arm_critical`` from a user who may arm critical commands
(``flight_director``): the executor then arms and confirms each critical step as that user.
Every action is audited (archive events, source ``commanding``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from falak.server.auth import User
from falak.server.routes.deps import CurrentUser, SpacecraftDep, require
from falak.server.schemas import (
    ErrorOut,
    StackLoadRequest,
    StackOut,
    StackRunRequest,
    jsonable,
)

router = APIRouter(tags=["stacks"])
Operator = Annotated[User, Depends(require("operator"))]

_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "refused (critical steps not armed, bad role)"},
}


def _out(rec: dict[str, Any]) -> StackOut:
    return StackOut.model_validate(jsonable(rec))


@router.get("/stacks", response_model=list[StackOut])
def stacks(rt: SpacecraftDep, user: CurrentUser) -> list[StackOut]:
    """Every command stack with its state and steps."""
    return [_out(r) for r in rt.stacks.records()]


@router.post("/stacks", response_model=StackOut)
def load(body: StackLoadRequest, rt: SpacecraftDep, user: Operator) -> StackOut:
    """Load a stack (operator): checked against the MDB, errors as ``FILE:LINE: message``."""
    return _out(rt.stacks.load(body.text, user=user.name, file=body.file))


@router.get("/stacks/{name}", response_model=StackOut)
def show(name: str, rt: SpacecraftDep, user: CurrentUser) -> StackOut:
    """One stack with the status of each step."""
    return _out(rt.stacks.get(name))


@router.post("/stacks/{name}/start", response_model=StackOut, responses=_REFUSED)
def start(
    name: str, rt: SpacecraftDep, user: Operator, body: StackRunRequest | None = None
) -> StackOut:
    """Start a stack now (operator); its steps are issued as you."""
    arm = body.arm_critical if body is not None else False
    return _out(
        rt.stacks.start(name, user=user.name, roles=user.roles_on(rt.name), arm_critical=arm)
    )


@router.post("/stacks/{name}/pause", response_model=StackOut)
def pause(name: str, rt: SpacecraftDep, user: Operator) -> StackOut:
    """Hold the steps not yet released (operator)."""
    return _out(rt.stacks.pause(name, user=user.name))


@router.post("/stacks/{name}/resume", response_model=StackOut, responses=_REFUSED)
def resume(
    name: str, rt: SpacecraftDep, user: Operator, body: StackRunRequest | None = None
) -> StackOut:
    """Continue a paused stack (operator); late steps go at once, in order, issued as you."""
    arm = body.arm_critical if body is not None else False
    return _out(
        rt.stacks.resume(name, user=user.name, roles=user.roles_on(rt.name), arm_critical=arm)
    )


@router.post("/stacks/{name}/abort", response_model=StackOut)
def abort(name: str, rt: SpacecraftDep, user: Operator) -> StackOut:
    """Cancel the steps not yet released (operator)."""
    return _out(rt.stacks.abort(name, user=user.name))
