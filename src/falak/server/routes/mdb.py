"""``/mdb``: browse the mission database (parameters, containers, commands)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from falak.mdb.model import MetaCommand, MissionDatabase, Parameter
from falak.server.routes.deps import CurrentUser, SpacecraftDep
from falak.server.schemas import ParameterInfo

router = APIRouter(prefix="/mdb", tags=["mission database"])


def parameter_info(mdb: MissionDatabase, p: Parameter) -> ParameterInfo:
    """A parameter as the API shows it."""
    t = mdb.types.get(p.type) if p.type else None
    return ParameterInfo(
        name=p.name,
        qualified_name=p.qualified_name,
        type=p.type,
        units=getattr(t, "unit", None),
        description=p.description,
        expected_period_s=p.expected_period_s,
    )


def command_info(c: MetaCommand) -> dict[str, Any]:
    """A command as the API shows it."""
    return {
        "name": c.name,
        "qualified_name": c.qualified_name,
        "description": c.description,
        "significance": c.significance.name.lower(),
        "abstract": c.abstract,
        "base": c.base,
        "arguments": [
            {
                "name": a.name,
                "type": a.type,
                "default": a.initial_value,
                "description": a.description,
            }
            for a in c.arguments
        ],
        "verifiers": [
            {"stage": v.stage, "window_s": [v.window_start_s, v.window_stop_s]} for v in c.verifiers
        ],
    }


@router.get("")
def summary(rt: SpacecraftDep, user: CurrentUser) -> dict[str, Any]:
    """Name and size of the mission database."""
    m = rt.mdb
    return {
        "name": m.root.qualified_name,
        "source_file": m.source_file,
        "parameters": len(m.parameters),
        "containers": len(m.containers),
        "commands": len(m.commands),
    }


@router.get("/parameters", response_model=list[ParameterInfo])
def parameters(
    rt: SpacecraftDep,
    user: CurrentUser,
    q: Annotated[str | None, Query(max_length=200, description="Substring of the name")] = None,
) -> list[ParameterInfo]:
    """Every parameter (optionally those whose qualified name contains ``q``)."""
    return [
        parameter_info(rt.mdb, p)
        for name, p in sorted(rt.mdb.parameters.items())
        if q is None or q.lower() in name.lower()
    ]


@router.get("/parameters/{name:path}", response_model=ParameterInfo)
def parameter(name: str, rt: SpacecraftDep, user: CurrentUser) -> ParameterInfo:
    """One parameter by qualified or short name (404 names similar ones)."""
    return parameter_info(rt.mdb, rt.mdb.parameter(name))


@router.get("/containers")
def containers(rt: SpacecraftDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Every container: name, base container and description."""
    return [
        {"qualified_name": q, "name": c.name, "base": c.base, "description": c.description}
        for q, c in sorted(rt.mdb.containers.items())
    ]


@router.get("/commands")
def commands(rt: SpacecraftDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Every command with its arguments, significance and verifiers."""
    return [command_info(c) for _, c in sorted(rt.mdb.commands.items())]


@router.get("/commands/{name:path}")
def command(name: str, rt: SpacecraftDep, user: CurrentUser) -> dict[str, Any]:
    """One command by qualified or short name."""
    return command_info(rt.mdb.command(name))
