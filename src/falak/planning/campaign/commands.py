"""A checked campaign plan as the station's command stack: each session's configure, start, stop.

Every experiment with a ``commands:`` mapping (:class:`~falak.planning.campaign.model.
CommandMapping`; a session's own mapping replaces its experiment's) gets, for each planned
session occurrence, one stack step per command, released at an absolute UTC time from the
plan:

========== =========================================================================
phase      released at (then + the command's ``offset_s``)
========== =========================================================================
configure  the session's start: its first activity on the rack (prep)
start      the start of its ``run``
stop       the end of the payload's operation: the end of ``unattended``, or of ``run``
========== =========================================================================

A release time must stay inside the session's rack occupation (prep start to stow end), where
the plan budgeted its power. Steps are in time order (at one time: configure, start, stop,
then by experiment), each with a comment ``EXPERIMENT/SESSION #REPETITION PHASE (RACK)``.
The document is the YAML of :mod:`falak.commanding.stack` (this module, a planner, does not
import commanding: the caller checks the document against the mission database with
``falak.commanding.stack.parse_stack``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from falak.errors import InputError
from falak.planning.campaign.model import (
    COMMAND_PHASES,
    Activity,
    Campaign,
    CommandSpec,
    Plan,
)
from falak.planning.stackdoc import POLICIES, stack_yaml
from falak.utctime import datetime_to_ns, format_ns

__all__ = ["POLICIES", "StackSummary", "plan_stack", "stack_name", "stack_yaml"]

_NS_PER_S = 1_000_000_000
_NS_PER_MIN = 60 * _NS_PER_S
_RACK_KINDS = ("prep", "run", "unattended", "stow")


@dataclass(frozen=True)
class StackSummary:
    """What :func:`plan_stack` made: counts, first and last release (ns since 1970, UTC)."""

    sessions: int
    """Session occurrences that got steps."""
    steps: int
    first_ns: int
    last_ns: int
    unmapped: tuple[str, ...]
    """Planned experiments with sessions that have no ``commands:`` mapping (no steps)."""


def stack_name(campaign: Campaign) -> str:
    """Return a stack name from the campaign's name: lower case, words joined by ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", campaign.name.lower()).strip("-") or "campaign"


def _fields(acts: list[Activity], repetition: int, power_kw: float) -> dict[str, float]:
    minutes = {k: 0 for k in _RACK_KINDS}
    for a in acts:
        if a.kind in minutes:
            minutes[a.kind] += a.end_min - a.start_min
    operate = minutes["run"] + minutes["unattended"]
    return {
        **{f"{k}_min": float(v) for k, v in minutes.items()},
        "operate_min": float(operate),
        "operate_s": float(operate * 60),
        "repetition": float(repetition),
        "power_kw": power_kw,
    }


def _number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def _arguments(spec: CommandSpec, fields: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in spec.args.items():
        m = re.fullmatch(r"\{(\w+)\}", v) if isinstance(v, str) else None
        out[k] = _number(fields[m.group(1)]) if m else v
    return out


def plan_stack(
    campaign: Campaign,
    plan: Plan,
    *,
    name: str | None = None,
    spacecraft: str | None = None,
    policy: str = "continue",
    description: str | None = None,
) -> tuple[dict[str, Any], StackSummary]:
    """Turn a plan of ``campaign`` into a command stack document (see the module doc).

    Parameters
    ----------
    campaign, plan
        The campaign (with ``commands:`` mappings) and a plan of it, checked by the caller
        (:func:`~falak.planning.campaign.checker.check_plan`).
    name
        The stack's name; default :func:`stack_name`.
    spacecraft
        Written as the stack's ``spacecraft:`` when given (the MDB's root name).
    policy
        ``on_failure`` of the stack: ``continue`` (default: one session's failed command
        does not hold the rest of the campaign) or ``stop``.

    Returns
    -------
    The stack as a dict (``stack``, ``spacecraft``, ``description``, ``on_failure``,
    ``steps`` each with ``command``, ``arguments``, ``at``, ``comment``, and ``verify``,
    ``timeout_s``, ``on_failure`` when the mapping gives them) and a :class:`StackSummary`.

    Raises
    ------
    InputError
        A bad policy, a release outside its session's rack occupation, a plan activity of an
        experiment or session the campaign does not have, or no step at all.
    """
    if policy not in POLICIES:
        raise InputError(f"stack policy {policy!r} is not one of {', '.join(POLICIES)}")
    t0_ns = datetime_to_ns(campaign.start, "campaign start")
    experiments = {e.name: e for e in campaign.experiments}
    rows: list[tuple[int, int, str, str, int, int, dict[str, Any]]] = []
    occurrences = 0
    unmapped: set[str] = set()
    for key, acts in plan.occurrences().items():
        exp, sess, rep = key
        e = experiments.get(exp)
        if e is None:
            raise InputError(f"the plan has experiment {exp!r}, which the campaign does not")
        try:
            s = e.session(sess)
        except KeyError:
            raise InputError(
                f"the plan has session {exp}/{sess}, which the campaign does not"
            ) from None
        chain = [a for a in acts if a.kind in _RACK_KINDS and a.rack is not None]
        mapping = s.commands if s.commands is not None else e.commands
        if mapping is None:
            unmapped.add(exp)
            continue
        if not chain:
            continue
        anchors_min = _anchors(chain)
        span = (t0_ns + chain[0].start_min * _NS_PER_MIN, t0_ns + chain[-1].end_min * _NS_PER_MIN)
        fields = _fields(chain, rep, s.power_kw)
        rack = chain[0].rack
        made = 0
        for phase, specs in mapping.phases():
            for i, spec in enumerate(specs):
                at_ns = t0_ns + anchors_min[phase] * _NS_PER_MIN + round(spec.offset_s * _NS_PER_S)
                label = f"{exp}/{sess} #{rep} {phase}"
                if not span[0] <= at_ns <= span[1]:
                    raise InputError(
                        f"{label}: {spec.command} at {format_ns(at_ns, 0)} (offset_s "
                        f"{spec.offset_s:g}) is outside the session's rack time "
                        f"{format_ns(span[0], 0)} .. {format_ns(span[1], 0)}; change its offset_s"
                    )
                step: dict[str, Any] = {
                    "command": spec.command,
                    "arguments": _arguments(spec, fields),
                    "at": format_ns(at_ns, 0 if at_ns % _NS_PER_S == 0 else 3),
                    "comment": f"{label} ({rack})" + (f": {spec.comment}" if spec.comment else ""),
                }
                if spec.verify is not None:
                    step["verify"] = spec.verify
                if spec.timeout_s is not None:
                    step["timeout_s"] = _number(spec.timeout_s)
                if spec.on_failure is not None:
                    step["on_failure"] = spec.on_failure
                rows.append((at_ns, COMMAND_PHASES.index(phase), exp, sess, rep, i, step))
                made += 1
        occurrences += made > 0
    if not rows:
        raise InputError(
            "the plan gives no command step: no planned experiment has a 'commands:' mapping "
            "with commands (see docs/commanding.md, 'Stacks from a campaign plan')"
        )
    rows.sort(key=lambda r: r[:6])
    doc: dict[str, Any] = {"stack": name or stack_name(campaign)}
    if spacecraft is not None:
        doc["spacecraft"] = spacecraft
    doc["description"] = description or (
        f"campaign {campaign.name!r}: {occurrences} sessions, plan status {plan.status}"
    )
    doc["on_failure"] = policy
    doc["steps"] = [r[-1] for r in rows]
    summary = StackSummary(
        sessions=occurrences,
        steps=len(rows),
        first_ns=rows[0][0],
        last_ns=rows[-1][0],
        unmapped=tuple(sorted(unmapped)),
    )
    return doc, summary


def _anchors(chain: list[Activity]) -> dict[str, int]:
    """Minutes of each phase's release in one occurrence's rack chain (see the module doc)."""
    runs = [a for a in chain if a.kind == "run"]
    run = runs[0] if runs else chain[0]
    operating = [a for a in chain if a.kind in ("run", "unattended")] or [run]
    return {
        "configure": chain[0].start_min,
        "start": run.start_min,
        "stop": max(a.end_min for a in operating),
    }
