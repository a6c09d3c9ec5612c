"""``/console``: what the web console needs that the resource routes do not give in one answer.

``GET /console/commands`` lists the commands a user can send (not abstract) with everything
the commanding page builds its form from: every argument the user may give, through the
command's bases and minus the ones its definition assigns, with its type's kind, range,
enumeration labels, unit and default, and whether the command must be armed and confirmed
under the server's critical-command policy (and whether the calling user may arm). The
browser checks values against these before sending; the server checks them again (the
encoder's ``validate``) whatever the browser did.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from falak.errors import MdbError
from falak.mdb.model import (
    AbsoluteTimeType,
    ArrayType,
    BinaryType,
    BooleanType,
    DataType,
    EnumeratedType,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MetaCommand,
    Range,
    StringType,
)
from falak.server.routes.deps import CurrentUser, SpacecraftDep
from falak.server.runtime import SpacecraftRuntime
from falak.tc.encoder import CommandEncoder

router = APIRouter(prefix="/console", tags=["console"])


def _range(r: Range | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "min": r.min,
        "max": r.max,
        "min_inclusive": r.min_inclusive,
        "max_inclusive": r.max_inclusive,
    }


def _integer_bounds(t: IntegerType) -> dict[str, Any]:
    """The raw encoding's bounds of an uncalibrated integer (what fits in its bits)."""
    enc = t.encoding
    if not isinstance(enc, IntegerEncoding) or t.calibrator is not None:
        return {}
    n = enc.size_bits
    if enc.encoding == "unsigned":
        return {"encoded_min": 0, "encoded_max": (1 << n) - 1}
    return {"encoded_min": -(1 << (n - 1)), "encoded_max": (1 << (n - 1)) - 1}


def argument_spec(t: DataType) -> dict[str, Any]:
    """The form field of an argument type: ``kind`` and what the browser checks."""
    out: dict[str, Any] = {"type": t.name, "unit": getattr(t, "unit", None)}
    if isinstance(t, IntegerType):
        return out | {"kind": "integer", "range": _range(t.valid_range)} | _integer_bounds(t)
    if isinstance(t, FloatType):
        return out | {"kind": "float", "range": _range(t.valid_range)}
    if isinstance(t, EnumeratedType):
        return out | {"kind": "enumeration", "labels": [v.label for v in t.values]}
    if isinstance(t, BooleanType):
        return out | {"kind": "boolean", "labels": [t.zero_string, t.one_string]}
    if isinstance(t, StringType):
        return out | {"kind": "string", "size_range": _range(t.size_range)}
    if isinstance(t, BinaryType):
        return out | {"kind": "binary", "size_range": _range(t.size_range)}
    if isinstance(t, AbsoluteTimeType):
        return out | {"kind": "time"}
    if isinstance(t, ArrayType):
        return out | {"kind": "array", "element_type": t.element_type}
    return out | {"kind": "other"}


def command_form(rt: SpacecraftRuntime, enc: CommandEncoder, c: MetaCommand) -> dict[str, Any]:
    """One sendable command as the commanding page's form."""
    args = []
    for a in enc.arguments(c):
        try:
            spec = argument_spec(enc.argument_type(a))
        except MdbError:
            spec = {"kind": "other", "type": a.type}
        args.append(
            {"name": a.name, "default": a.initial_value, "description": a.description} | spec
        )
    return {
        "name": c.name,
        "qualified_name": c.qualified_name,
        "description": c.description,
        "significance": c.significance.name.lower(),
        "significance_reason": c.significance_reason,
        "needs_arming": rt.commands.critical.needs_arming(c.significance),
        "arguments": args,
        "verifiers": [v.stage for v in rt.commands.verifiers(c)],
    }


@router.get("/commands")
def commands(rt: SpacecraftDep, user: CurrentUser) -> dict[str, Any]:
    """The commands a user can send, as forms, and the critical-command policy for this user."""
    enc = CommandEncoder(rt.mdb)
    policy = rt.commands.critical
    return {
        "may_arm": policy.may_arm(user.roles_on(rt.name)),
        "arm_roles": sorted(policy.arm_roles),
        "arm_window_s": policy.arm_window_s,
        "confirm_window_s": policy.confirm_window_s,
        "commands": [
            command_form(rt, enc, c) for _, c in sorted(rt.mdb.commands.items()) if not c.abstract
        ],
    }
