"""Command verification: evaluate an MDB command's verifier stages over parameter values.

Pure bookkeeping, no threads or I/O: the runtime (:mod:`falak.commanding`) feeds it the
parameter values of each received packet and the clock, and records what it returns.

Each :class:`~falak.mdb.model.Verifier` stage (received, accepted, started, complete...) has a
window relative to the command's release time. Within the window a packet is *relevant* when
the verifier names no container or the packet's container is that container or inherits from
it. For a relevant packet, the stage is

* ``NOK`` when its ``fail_condition`` holds,
* ``OK`` when its ``condition`` holds (or, with no condition, as soon as the container
  arrives);

and ``TIMEOUT`` when the window closes first. Stages are independent (acks may arrive in any
order); once a stage ends NOK or TIMEOUT the stages still pending are ``CANCELLED``. The
command's final state is ``completed`` when every stage is OK, else ``failed``.

Conditions are evaluated on the packet's values laid over the latest known value of every
parameter (so a condition may mix the packet and the current state). Engineering values are
compared unless the reference asks for the raw value; enumerations compare by label, booleans
by their strings or true/false.

A comparison's value may name the command itself, so that an acknowledgement is matched to
the command it acknowledges and not to another in flight: ``$seq_count`` is the CCSDS
sequence count the command was released with, ``$args.NAME`` the engineering value of its
argument NAME (e.g. ``ACK_SEQ_COUNT == $seq_count``). Without that context (a command
released with no sequence count) such a comparison is unknown, never true.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from falak.errors import InputError
from falak.mdb.model import (
    AllOf,
    AnyOf,
    BooleanType,
    Comparison,
    Condition,
    MissionDatabase,
    Not,
    ParameterRef,
    Verifier,
)

__all__ = [
    "COMMAND_REFS",
    "Outcome",
    "StageResult",
    "Value",
    "Verification",
    "command_context",
    "evaluate",
    "parse_condition",
]


class Outcome(StrEnum):
    """Result of one verification stage."""

    PENDING = "PENDING"
    OK = "OK"
    NOK = "NOK"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Value:
    """A parameter's raw and engineering value at ``time_ns`` (reception time)."""

    raw: Any
    eng: Any
    time_ns: int = 0


@dataclass(frozen=True)
class StageResult:
    """A stage that ended: its outcome, when (ns since the Unix epoch) and why."""

    stage: str
    outcome: Outcome
    time_ns: int
    message: str = ""


_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(ref: ParameterRef, op: str, text: str, v: Value, mdb: MissionDatabase | None) -> bool:
    value = v.eng if ref.calibrated else v.raw
    if ref.member and isinstance(value, Mapping):
        for m in ref.member:
            value = value.get(m) if isinstance(value, Mapping) else None
    if value is None:
        return False
    if hasattr(value, "item"):
        value = value.item()
    target: Any
    if isinstance(value, bool):
        ptype = None
        if mdb is not None and ref.parameter in mdb.parameters:
            ptype = mdb.parameter_type(ref.parameter)
        t = text.strip()
        target = t.lower() in ("1", "true", "on", "yes") or (
            isinstance(ptype, BooleanType) and t == ptype.one_string
        )
    elif isinstance(value, int | float):
        try:
            target = (
                float(int(text, 0)) if text.strip()[:2].lower() in ("0x", "0b") else float(text)
            )
        except ValueError:
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
    elif isinstance(value, bytes):
        try:
            target = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            return False
    else:
        value, target = str(value), text
    try:
        return bool(_OPS[op](value, target))
    except TypeError:
        return False


#: Names a verifier comparison may take its value from (``$seq_count``, ``$args.NAME``).
COMMAND_REFS = ("seq_count", "args.")


def evaluate(
    cond: Condition,
    values: Mapping[str, Value],
    mdb: MissionDatabase | None = None,
    command: Mapping[str, Any] | None = None,
) -> bool | None:
    """Evaluate ``cond`` on values by qualified parameter name.

    ``command`` gives the values of ``$name`` references (``seq_count``, ``args.NAME``; see
    the module doc). Returns None when a parameter or reference it needs has no value yet
    (unknown is not true).
    """
    if isinstance(cond, Comparison):
        v = values.get(cond.ref.parameter)
        if v is None:
            return None
        target = cond.value
        if target.startswith("$"):
            known = None if command is None else command.get(target[1:])
            if known is None:
                return None
            target = str(known)
        return _compare(cond.ref, cond.operator, target, v, mdb)
    if isinstance(cond, AllOf):
        results = [evaluate(c, values, mdb, command) for c in cond.conditions]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if isinstance(cond, AnyOf):
        results = [evaluate(c, values, mdb, command) for c in cond.conditions]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if isinstance(cond, Not):
        r = evaluate(cond.condition, values, mdb, command)
        return None if r is None else not r
    return None


def command_context(seq_count: int | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The ``$name`` values of a released command: its sequence count and arguments."""
    out: dict[str, Any] = {f"args.{k}": v for k, v in arguments.items()}
    if seq_count is not None:
        out["seq_count"] = seq_count
    return out


_COND = re.compile(
    r"^\s*(?P<lhs>[A-Za-z_/][\w/.\-]*(?:\([\w/.\-]+\))?)\s*"
    r"(?P<op>==|!=|<=|>=|<|>)\s*(?P<rhs>.+?)\s*$"
)


def parse_condition(text: str, mdb: MissionDatabase) -> Condition:
    """Read ``"NAME OP VALUE"`` terms joined by ``and`` (or all by ``or``) into a condition.

    ``raw(NAME)`` compares the raw value. Names resolve like :meth:`MissionDatabase.parameter`.
    Example: ``"MODE == SAFE and BATT_V > 7.2"``.
    """
    joiner = " or " if " or " in text and " and " not in text else " and "
    terms = [t for t in text.split(joiner) if t.strip()]
    if not terms:
        raise InputError(f"empty condition {text!r}; write e.g. 'MODE == SAFE and BATT_V > 7.2'")
    out: list[Condition] = []
    for term in terms:
        m = _COND.match(term)
        if m is None:
            raise InputError(
                f"cannot read condition {term.strip()!r}; write NAME OP VALUE with OP one of "
                "== != < <= > >=, e.g. 'MODE == SAFE'"
            )
        lhs = m.group("lhs")
        calibrated = True
        if lhs.startswith("raw(") and lhs.endswith(")"):
            lhs, calibrated = lhs[4:-1], False
        rhs = m.group("rhs").strip().strip("'\"")
        ref = ParameterRef(mdb.parameter(lhs).qualified_name, calibrated=calibrated)
        out.append(Comparison(ref, m.group("op"), rhs))  # type: ignore[arg-type]  # regex-checked
    if len(out) == 1:
        return out[0]
    return AnyOf(tuple(out)) if joiner == " or " else AllOf(tuple(out))


@dataclass
class _Stage:
    verifier: Verifier
    outcome: Outcome = Outcome.PENDING
    time_ns: int | None = None
    message: str = ""


@dataclass
class Verification:
    """The verification of one released command (see the module doc).

    ``release_ns`` is the release time (ns since the Unix epoch); windows count from it.
    ``command`` holds what ``$name`` references in conditions resolve to: ``seq_count`` and
    ``args.NAME`` (see :func:`command_context`).
    """

    mdb: MissionDatabase
    verifiers: tuple[Verifier, ...]
    release_ns: int
    command: Mapping[str, Any] = field(default_factory=dict)
    _stages: list[_Stage] = field(init=False)

    def __post_init__(self) -> None:
        self._stages = [_Stage(v) for v in self.verifiers]
        self._ancestors: dict[str, set[str]] = {}

    @property
    def done(self) -> bool:
        """True when no stage is pending."""
        return all(s.outcome is not Outcome.PENDING for s in self._stages)

    @property
    def final_state(self) -> str | None:
        """``completed`` (every stage OK), ``failed``, or None while stages are pending."""
        if not self.done:
            return None
        ok = all(s.outcome is Outcome.OK for s in self._stages)
        return "completed" if ok else "failed"

    def outcomes(self) -> dict[str, Outcome]:
        """Outcome of each stage by name, in MDB order."""
        return {s.verifier.stage: s.outcome for s in self._stages}

    def window_ns(self, v: Verifier) -> tuple[int, int]:
        """Absolute window of a verifier (ns)."""
        return (
            self.release_ns + round(v.window_start_s * 1e9),
            self.release_ns + round(v.window_stop_s * 1e9),
        )

    def next_deadline_ns(self) -> int | None:
        """The earliest window end among pending stages (None when done)."""
        ends = [self.window_ns(s.verifier)[1] for s in self._stages if s.outcome is Outcome.PENDING]
        return min(ends) if ends else None

    def _in_container(self, packet_container: str | None, wanted: str) -> bool:
        if packet_container is None:
            return False
        chain = self._ancestors.get(packet_container)
        if chain is None:
            chain = set()
            c: str | None = packet_container
            while c is not None and c not in chain:
                chain.add(c)
                sc = self.mdb.containers.get(c)
                c = sc.base if sc is not None else None
            self._ancestors[packet_container] = chain
        return wanted in chain

    def observe(
        self,
        time_ns: int,
        values: Mapping[str, Value],
        container: str | None = None,
    ) -> list[StageResult]:
        """Feed one packet (its container and values laid over the latest ones) or, with
        ``container=None``, a change of state; return the stages that ended."""
        out = self.tick(time_ns)
        for s in self._stages:
            if s.outcome is not Outcome.PENDING:
                continue
            v = s.verifier
            start, stop = self.window_ns(v)
            if not start <= time_ns <= stop:
                continue
            if v.container is not None and not self._in_container(container, v.container):
                continue
            if v.fail_condition is not None and evaluate(
                v.fail_condition, values, self.mdb, self.command
            ):
                out.append(self._end(s, Outcome.NOK, time_ns, "failure condition met"))
                continue
            if v.condition is None:
                if v.container is not None:
                    out.append(self._end(s, Outcome.OK, time_ns, f"{v.container} received"))
            elif evaluate(v.condition, values, self.mdb, self.command):
                out.append(self._end(s, Outcome.OK, time_ns, "condition met"))
        return out + self._cancel_after_failure(time_ns)

    def tick(self, now_ns: int) -> list[StageResult]:
        """Close the windows that ended before ``now_ns`` (TIMEOUT); return those stages."""
        out = []
        for s in self._stages:
            if s.outcome is Outcome.PENDING and now_ns > self.window_ns(s.verifier)[1]:
                w = f"{s.verifier.window_start_s:g}..{s.verifier.window_stop_s:g} s"
                out.append(self._end(s, Outcome.TIMEOUT, now_ns, f"nothing within {w}"))
        return out + self._cancel_after_failure(now_ns)

    def cancel(self, now_ns: int, reason: str) -> list[StageResult]:
        """Cancel every pending stage."""
        return [
            self._end(s, Outcome.CANCELLED, now_ns, reason)
            for s in self._stages
            if s.outcome is Outcome.PENDING
        ]

    def _cancel_after_failure(self, now_ns: int) -> list[StageResult]:
        failed = [s for s in self._stages if s.outcome in (Outcome.NOK, Outcome.TIMEOUT)]
        if not failed:
            return []
        return self.cancel(now_ns, f"stage {failed[0].verifier.stage} {failed[0].outcome.value}")

    def _end(self, s: _Stage, outcome: Outcome, t: int, message: str) -> StageResult:
        s.outcome, s.time_ns, s.message = outcome, t, message
        return StageResult(s.verifier.stage, outcome, t, message)
