"""Command stacks: a stored, named list of command steps the server releases at their times.

A stack is written in YAML (see ``docs/commanding.md``)::

    stack: heater-checkout          # its name
    spacecraft: TESTSAT             # optional; default: the server's only spacecraft
    on_failure: stop                # stop (default) or continue after a failed step
    steps:
      - command: NOOP
        offset_s: 0                 # seconds after the stack's start (>= 0) ...
      - command: SET_HEATER
        arguments: {SETPOINT: 12.5}
        offset_s: 5
        verify: complete            # wait for this verifier stage (default: the last)
        timeout_s: 20               # give up waiting after this long (default: windows)
        on_failure: continue        # per-step override of the stack policy
        comment: warm the battery

A step gives either ``offset_s`` (relative to the start) or ``at`` (an absolute UTC time,
:mod:`falak.utctime` rules); one stack does not mix the two. Release times must not go
backwards. :func:`parse_stack` checks every step against the mission database (command,
arguments by encoding them, verifier stage) and raises :class:`StackError` listing every
problem as ``FILE:LINE: message``.

The :class:`StackExecutor` runs stacks through the normal :class:`~falak.commanding.manager.
CommandManager` path (privileges, queues, arming, constraints, audit), one step after the
other: a step is released at its time or, if that has passed (a late start, a pause), as soon
as the step before it is done — steps are never skipped, and never released before their time.

Release times (``at``, or the start plus ``offset_s``) and verification timeouts are on the
executor's ``clock`` (:mod:`falak.clock`; by default the command manager's), so in a
simulated run at ``speed`` N a step ``offset_s: 600`` goes out 600 simulated (600/N host)
seconds after the start.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from falak.clock import Clock, as_clock, host_seconds_until
from falak.commanding.queue import FINAL_STATES
from falak.errors import CommandRejected, FalakError, InputError
from falak.mdb.model import MissionDatabase
from falak.tc.encoder import CommandEncoder
from falak.utctime import format_ns, parse_ns

__all__ = [
    "STACK_STATES",
    "Stack",
    "StackError",
    "StackExecutor",
    "Step",
    "parse_stack",
]

STACK_STATES = ("loaded", "running", "paused", "completed", "aborted", "failed")
"""States of a stack run."""

_POLICIES = ("stop", "continue")
_STACK_KEYS = ("stack", "spacecraft", "description", "on_failure", "steps")
_STEP_KEYS = (
    "command",
    "arguments",
    "offset_s",
    "at",
    "comment",
    "verify",
    "timeout_s",
    "on_failure",
    "queue",
)


class StackError(InputError):
    """A stack file is wrong; ``problems`` lists each as ``FILE:LINE: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Step:
    """One command of a stack: release time, arguments, verification and policy."""

    command: str
    """Qualified MDB name."""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    offset_s: float | None = None
    at_ns: int | None = None
    comment: str | None = None
    verify: str | None = None
    """Verifier stage to wait for; None: the command's last stage; ``"none"``: do not wait."""
    timeout_s: float | None = None
    on_failure: str | None = None
    """None: the stack's policy."""
    queue: str = "default"
    line: int | None = None


@dataclass(frozen=True)
class Stack:
    """A named list of steps for one spacecraft (see the module doc)."""

    name: str
    spacecraft: str
    steps: tuple[Step, ...]
    on_failure: str = "stop"
    description: str | None = None

    def policy(self, index: int) -> str:
        """The failure policy of step ``index`` (0-based)."""
        return self.steps[index].on_failure or self.on_failure

    def to_json(self) -> dict[str, Any]:
        """The stack as a JSON-able dict (what the archive stores)."""
        return {
            "name": self.name,
            "spacecraft": self.spacecraft,
            "on_failure": self.on_failure,
            "description": self.description,
            "steps": [
                {
                    "command": s.command,
                    "arguments": dict(s.arguments),
                    "offset_s": s.offset_s,
                    "at": None if s.at_ns is None else format_ns(s.at_ns),
                    "comment": s.comment,
                    "verify": s.verify,
                    "timeout_s": s.timeout_s,
                    "on_failure": s.on_failure,
                    "queue": s.queue,
                    "line": s.line,
                }
                for s in self.steps
            ],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Stack:
        """Rebuild a stack from :meth:`to_json` (no MDB check: it was checked when loaded)."""
        steps = tuple(
            Step(
                s["command"],
                dict(s.get("arguments") or {}),
                s.get("offset_s"),
                None if s.get("at") is None else parse_ns(s["at"]),
                s.get("comment"),
                s.get("verify"),
                s.get("timeout_s"),
                s.get("on_failure"),
                s.get("queue", "default"),
                s.get("line"),
            )
            for s in d["steps"]
        )
        return cls(
            d["name"], d["spacecraft"], steps, d.get("on_failure", "stop"), d.get("description")
        )


# -- parsing -----------------------------------------------------------------------------


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def parse_stack(text: str, mdb: MissionDatabase, *, file: str = "<stack>") -> Stack:
    """Parse and check a stack written in YAML (see the module doc).

    Raises
    ------
    StackError
        Every problem found, each as ``FILE:LINE: message``.
    """
    problems: list[str] = []

    def err(node: Node | None, message: str) -> None:
        err_at(_line(node) if node is not None else 1, message)

    def err_at(line: int, message: str) -> None:
        problems.append(f"{file}:{line}: {message}")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise StackError(
            [f"{file}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from None
    if not isinstance(root, MappingNode):
        raise StackError([f"{file}:1: a stack is a mapping with 'stack:' and 'steps:'"])
    items = _items(root, "the stack", _STACK_KEYS, err)
    name_node = items.get("stack")
    name = _scalar(name_node) if name_node is not None else None
    if not name:
        err(root, "the stack has no name; add 'stack: NAME'")
    own = mdb.root.name
    spacecraft = own
    if "spacecraft" in items:
        spacecraft = _scalar(items["spacecraft"]) or own
        if spacecraft != own:
            err(
                items["spacecraft"],
                f"spacecraft {spacecraft!r} is not hosted here; spacecraft: {own}",
            )
    policy = _policy(items.get("on_failure"), "the stack", err) or "stop"
    steps: list[Step] = []
    numbers: list[int] = []  # 1-based step numbers of the good steps, for messages
    steps_node = items.get("steps")
    if not isinstance(steps_node, SequenceNode) or not steps_node.value:
        err(
            steps_node or root,
            "the stack has no steps; add 'steps:' with one '- command: NAME' per step",
        )
    else:
        encoder = CommandEncoder(mdb)
        for i, node in enumerate(steps_node.value, 1):
            step = _step(node, i, mdb, encoder, err)
            if step is not None:
                steps.append(step)
                numbers.append(i)
        _check_times(steps, numbers, err, err_at, steps_node)
    description = _scalar(items["description"]) if "description" in items else None
    if problems:
        raise StackError(problems)
    assert name is not None
    return Stack(name, spacecraft, tuple(steps), policy, description)


def _items(
    node: MappingNode, what: str, keys: tuple[str, ...], err: Callable[[Node | None, str], None]
) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for k, v in node.value:
        key = str(k.value) if isinstance(k, ScalarNode) else repr(k)
        if key not in keys:
            err(k, f"{what}: unknown key {key!r}; keys: {', '.join(keys)}")
        elif key in out:
            err(k, f"{what}: key {key!r} appears twice")
        else:
            out[key] = v
    return out


def _scalar(node: Node) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) and node.value != "" else None


def _value(node: Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _policy(node: Node | None, what: str, err: Callable[[Node | None, str], None]) -> str | None:
    if node is None:
        return None
    text = _scalar(node)
    if text not in _POLICIES:
        err(node, f"{what}: on_failure {text!r} is not one of {', '.join(_POLICIES)}")
        return None
    return text


def _number(node: Node, what: str, err: Callable[[Node | None, str], None]) -> float | None:
    v = _value(node)
    if isinstance(v, bool) or not isinstance(v, int | float):
        err(node, f"{what} {node.value!r} is not a number of seconds")
        return None
    if v < 0:
        err(node, f"{what} {v:g} is negative; give seconds >= 0")
        return None
    return float(v)


def _step(
    node: Node,
    i: int,
    mdb: MissionDatabase,
    encoder: CommandEncoder,
    err: Callable[[Node | None, str], None],
) -> Step | None:
    what = f"step {i}"
    if not isinstance(node, MappingNode):
        err(node, f"{what} must be a mapping starting with 'command: NAME'")
        return None
    items = _items(node, what, _STEP_KEYS, err)
    ok = True

    def bad(n: Node | None, message: str) -> None:
        nonlocal ok
        ok = False
        err(n, message)

    cname = _scalar(items["command"]) if "command" in items else None
    if cname is None:
        bad(node, f"{what} has no command; add 'command: NAME'")
        return None
    try:
        cmd = mdb.command(cname)
    except FalakError:
        names = ", ".join(sorted(c.name for c in mdb.commands.values() if not c.abstract))
        bad(items["command"], f"{what}: no command named {cname!r}; commands: {names}")
        return None
    args: dict[str, Any] = {}
    if "arguments" in items:
        v = _value(items["arguments"])
        if not isinstance(v, dict):
            bad(items["arguments"], f"{what}: arguments must be a mapping NAME: VALUE")
        else:
            args = {str(k): a for k, a in v.items()}
    try:
        encoder.encode(cmd, args)
    except CommandRejected as exc:
        bad(items.get("arguments", items["command"]), f"{what}: {exc}")
    offset_s = at_ns = None
    if "offset_s" in items and "at" in items:
        bad(items["at"], f"{what} gives both offset_s and at; give one")
    elif "at" in items:
        text = items["at"].value if isinstance(items["at"], ScalarNode) else ""
        try:
            at_ns = parse_ns(str(text), f"{what}: at")
        except InputError as exc:
            bad(items["at"], str(exc))
    elif "offset_s" in items:
        offset_s = _number(items["offset_s"], f"{what}: offset_s", bad)
    else:
        offset_s = 0.0
    verify = _scalar(items["verify"]) if "verify" in items else None
    stages = [v.stage for v in cmd.verifiers]
    if verify is not None and verify != "none" and verify not in stages:
        bad(
            items["verify"],
            f"{what}: {cmd.name} has no verifier stage {verify!r}; stages: "
            f"{', '.join(stages) or 'none'} (or 'none' to not wait)",
        )
    timeout_s = (
        _number(items["timeout_s"], f"{what}: timeout_s", bad) if "timeout_s" in items else None
    )
    policy = _policy(items.get("on_failure"), what, bad)
    comment = _scalar(items["comment"]) if "comment" in items else None
    queue = (_scalar(items["queue"]) if "queue" in items else None) or "default"
    if not ok:
        return None
    return Step(
        cmd.qualified_name,
        args,
        offset_s,
        at_ns,
        comment,
        verify,
        timeout_s,
        policy,
        queue,
        _line(node),
    )


def _when(step: Step, t: float) -> str:
    return format_ns(int(t)) if step.at_ns is not None else f"{t:g} s"


def _check_times(
    steps: list[Step],
    numbers: list[int],
    err: Callable[[Node | None, str], None],
    err_at: Callable[[int, str], None],
    node: SequenceNode,
) -> None:
    kinds = {s.at_ns is None for s in steps}
    if len(kinds) > 1:
        err(node, "steps mix offset_s and at; give every step an offset_s, or every step an at")
        return
    prev: Step | None = None
    for i, s in zip(numbers, steps, strict=True):
        if prev is not None:
            a = prev.at_ns if prev.at_ns is not None else prev.offset_s
            b = s.at_ns if s.at_ns is not None else s.offset_s
            if a is not None and b is not None and b < a:
                problem = f"is at {_when(s, b)}, before the step before it ({_when(s, a)})"
                err_at(s.line or 1, f"step {i} {problem}; put the steps in time order")
        prev = s


# -- execution ---------------------------------------------------------------------------


@dataclass
class _Run:
    stack: Stack
    state: str = "loaded"
    steps: list[dict[str, Any]] = field(default_factory=list)
    start_ns: int | None = None
    user: str | None = None
    roles: frozenset[str] = frozenset()
    arm_critical: bool = False
    reason: str | None = None
    loaded_by: str | None = None
    loaded_ns: int = 0
    thread: threading.Thread | None = None


class StackExecutor:
    """Run command stacks through ``manager`` (see the module doc).

    Parameters
    ----------
    manager
        The command manager (its history records ``stack`` and ``stack_step``).
    store
        Called with a stack's record after every change (the server writes it to the
        archive); None: kept in memory only.
    poll_s
        How often a running step's record is looked at (host s).
    clock
        Release times and timeouts are on this clock (:mod:`falak.clock`); default: the
        manager's ``clock`` (real time if it has none).
    """

    def __init__(
        self,
        manager: Any,
        *,
        store: Callable[[dict[str, Any]], None] | None = None,
        poll_s: float = 0.02,
        clock: Clock | None = None,
    ) -> None:
        self.manager = manager
        self.clock = as_clock(clock if clock is not None else getattr(manager, "clock", None))
        """Where release times and timeouts are read (see the module doc)."""
        self.store = store
        self.poll_s = poll_s
        self._runs: dict[str, _Run] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()

    # -- loading -------------------------------------------------------------------------

    def load(self, text: str, *, user: str, file: str = "<stack>") -> dict[str, Any]:
        """Parse, check and store a stack (replacing one of that name that is not running)."""
        stack = parse_stack(text, self.manager.mdb, file=file)
        with self._cond:
            old = self._runs.get(stack.name)
            if old is not None and old.state in ("running", "paused"):
                raise InputError(
                    f"stack {stack.name} is {old.state}; abort it before loading it again"
                )
            run = _Run(stack, loaded_by=user, loaded_ns=self.clock.now_ns())
            run.steps = [{"index": i, "state": "pending"} for i in range(1, len(stack.steps) + 1)]
            self._runs[stack.name] = run
            self.manager.history.audit(user, "stack_load", f"stack {stack.name} loaded")
            return self._save(run)

    def restore(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Take back stored records (a server restart): a running stack comes back paused,
        a step that was being verified as ``interrupted`` (never sent again)."""
        self._stop.clear()
        with self._cond:
            for rec in records:
                run = _Run(
                    Stack.from_json(rec["stack"]),
                    state=rec["state"],
                    steps=[dict(s) for s in rec["steps"]],
                    start_ns=rec.get("start_ns"),
                    user=rec.get("user"),
                    reason=rec.get("reason"),
                    loaded_by=rec.get("loaded_by"),
                    loaded_ns=int(rec.get("loaded_ns") or 0),
                )
                if run.state == "running":
                    run.state = "paused"
                    run.reason = "the server restarted while the stack was running"
                for s in run.steps:
                    if s["state"] == "released":
                        s["state"] = "interrupted"
                        s["reason"] = "the server restarted while it was being verified"
                self._runs[run.stack.name] = run
                self._save(run)

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        """A stack's record: state, its steps and each step's status."""
        with self._lock:
            return self._record(self._run(name))

    def records(self) -> list[dict[str, Any]]:
        """Every stack's record, by name."""
        with self._lock:
            return [self._record(r) for _, r in sorted(self._runs.items())]

    def _run(self, name: str) -> _Run:
        run = self._runs.get(name)
        if run is None:
            raise InputError(
                f"no stack named {name!r}; stacks: {', '.join(sorted(self._runs)) or 'none'}"
            )
        return run

    def _record(self, run: _Run) -> dict[str, Any]:
        steps = []
        for defn, status in zip(run.stack.to_json()["steps"], run.steps, strict=True):
            steps.append({**defn, **status})
        return {
            "name": run.stack.name,
            "spacecraft": run.stack.spacecraft,
            "state": run.state,
            "on_failure": run.stack.on_failure,
            "description": run.stack.description,
            "start_ns": run.start_ns,
            "user": run.user,
            "reason": run.reason,
            "loaded_by": run.loaded_by,
            "loaded_ns": run.loaded_ns,
            "failed_steps": sum(1 for s in run.steps if s["state"] in ("failed", "rejected")),
            "steps": steps,
            "stack": run.stack.to_json(),
        }

    def _save(self, run: _Run) -> dict[str, Any]:
        rec = self._record(run)
        if self.store is not None:
            self.store(rec)
        self._cond.notify_all()
        return rec

    # -- operator actions ----------------------------------------------------------------

    def _critical(self, run: _Run) -> list[int]:
        crit = []
        for i, s in enumerate(run.stack.steps, 1):
            if run.steps[i - 1]["state"] == "pending" and self.manager.critical.needs_arming(
                self.manager.mdb.command(s.command).significance
            ):
                crit.append(i)
        return crit

    def _authorise(self, run: _Run, user: str, roles: frozenset[str], arm_critical: bool) -> None:
        crit = self._critical(run)
        if not crit:
            return
        steps = ", ".join(map(str, crit))
        if not arm_critical:
            msg = (
                f"stack {run.stack.name}: steps {steps} are critical commands; start with "
                "arm_critical (--arm-critical) to arm and confirm them as you"
            )
            self.manager.history.audit(user, "stack_refused", msg, severity="warning")
            raise CommandRejected(msg)
        if not self.manager.critical.may_arm(roles):
            msg = (
                f"stack {run.stack.name}: steps {steps} are critical and user {user} may not arm "
                f"them; arming roles: {', '.join(sorted(self.manager.critical.arm_roles))}"
            )
            self.manager.history.audit(user, "stack_refused", msg, severity="warning")
            raise CommandRejected(msg)

    def start(
        self, name: str, *, user: str, roles: Iterable[str] = (), arm_critical: bool = False
    ) -> dict[str, Any]:
        """Start a loaded (or finished) stack now: its steps are issued as ``user``.

        A stack with critical steps starts only with ``arm_critical`` from a user who may
        arm; the executor then arms and confirms each critical step as that user.
        """
        role_set = frozenset(roles)
        with self._cond:
            run = self._run(name)
            if run.state in ("running", "paused"):
                raise InputError(f"stack {name} is {run.state}; abort it to start it again")
            run.steps = [
                {"index": i, "state": "pending"} for i in range(1, len(run.stack.steps) + 1)
            ]
            self._authorise(run, user, role_set, arm_critical)
            run.state, run.user, run.roles = "running", user, role_set
            run.start_ns = self.clock.now_ns()
            run.arm_critical, run.reason = arm_critical, None
            self.manager.history.audit(user, "stack_start", f"stack {name} started")
            self._spawn(run)
            return self._save(run)

    def pause(self, name: str, *, user: str) -> dict[str, Any]:
        """Hold the steps not yet released (a step being verified goes on)."""
        with self._cond:
            run = self._run(name)
            if run.state != "running":
                raise InputError(f"stack {name} is {run.state}, not running; cannot pause it")
            run.state = "paused"
            self.manager.history.audit(user, "stack_pause", f"stack {name} paused")
            return self._save(run)

    def resume(
        self, name: str, *, user: str, roles: Iterable[str] = (), arm_critical: bool = False
    ) -> dict[str, Any]:
        """Continue a paused stack; its remaining steps are issued as ``user``. Steps whose
        time passed while paused are released at once, one after the other."""
        role_set = frozenset(roles)
        with self._cond:
            run = self._run(name)
            if run.state != "paused":
                raise InputError(f"stack {name} is {run.state}, not paused; cannot resume it")
            self._authorise(run, user, role_set, arm_critical)
            run.state, run.user, run.roles, run.reason = "running", user, role_set, None
            run.arm_critical = arm_critical
            self.manager.history.audit(user, "stack_resume", f"stack {name} resumed")
            if run.thread is None or not run.thread.is_alive():
                self._spawn(run)
            return self._save(run)

    def abort(self, name: str, *, user: str) -> dict[str, Any]:
        """Cancel the steps not yet released (and a step's command still queued)."""
        with self._cond:
            run = self._run(name)
            if run.state not in ("running", "paused", "loaded"):
                raise InputError(f"stack {name} is {run.state}; there is nothing to abort")
            run.state, run.reason = "aborted", f"aborted by {user}"
            for s in run.steps:
                if s["state"] == "pending":
                    s["state"] = "cancelled"
                cid = s.get("command_id")
                if s["state"] == "released" and cid is not None:
                    rec = self.manager.get(cid)
                    if rec.get("state") in ("queued", "armed"):
                        with contextlib.suppress(CommandRejected):
                            self.manager.cancel(cid, user=user)
            self.manager.history.audit(user, "stack_abort", f"stack {name} aborted")
            return self._save(run)

    def stop(self) -> None:
        """Stop the executor threads (stacks keep their state; running ones stay running in
        the stored record and come back paused when restored)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            threads = [r.thread for r in self._runs.values() if r.thread is not None]
        for t in threads:
            t.join(5.0)

    # -- the run -------------------------------------------------------------------------

    def _spawn(self, run: _Run) -> None:
        run.thread = threading.Thread(
            target=self._execute, args=(run,), name=f"falak-stack-{run.stack.name}", daemon=True
        )
        run.thread.start()

    def _release_ns(self, run: _Run, step: Step) -> int:
        if step.at_ns is not None:
            return step.at_ns
        assert run.start_ns is not None
        return run.start_ns + round((step.offset_s or 0.0) * 1e9)

    def _execute(self, run: _Run) -> None:
        for i, step in enumerate(run.stack.steps):
            status = run.steps[i]
            with self._cond:
                if status["state"] != "pending":
                    continue
                while not self._stop.is_set():
                    if run.state == "aborted":
                        return
                    due = self._release_ns(run, step)
                    if run.state == "running" and self.clock.now_ns() >= due:
                        break
                    wait = 0.1 if run.state != "running" else host_seconds_until(self.clock, due)
                    self._cond.wait(min(0.1, wait))
                if self._stop.is_set():
                    return
                ok = self._issue(run, i, step, status)
            if ok:
                ok = self._verify(run, i, step, status)
            with self._cond:
                if not ok and run.stack.policy(i) == "stop" and run.state != "aborted":
                    run.state = "failed"
                    run.reason = (
                        f"step {i + 1} ({step.command}) {status['state']}: {status.get('reason')}"
                    )
                    for s in run.steps:
                        if s["state"] == "pending":
                            s["state"] = "cancelled"
                    self.manager.history.audit(
                        run.user or "system",
                        "stack_failed",
                        f"stack {run.stack.name} stopped: {run.reason}",
                        severity="warning",
                    )
                    self._save(run)
                    return
        with self._cond:
            if run.state == "running":
                run.state = "completed"
                self.manager.history.audit(
                    run.user or "system", "stack_completed", f"stack {run.stack.name} completed"
                )
                self._save(run)

    def _issue(self, run: _Run, i: int, step: Step, status: dict[str, Any]) -> bool:
        user = run.user or "system"
        try:
            rec = self.manager.issue(
                step.command,
                step.arguments,
                user=user,
                roles=run.roles,
                queue=step.queue,
                origin="stack",
                stack=run.stack.name,
                stack_step=i + 1,
            )
        except (CommandRejected, InputError) as exc:
            status.update(state="rejected", reason=str(exc), release_ns=self.clock.now_ns())
            self._save(run)
            return False
        cid = int(rec["id"])
        status.update(state="released", command_id=cid, release_ns=self.clock.now_ns())
        cmd = self.manager.mdb.command(step.command)
        if self.manager.critical.needs_arming(cmd.significance) and run.arm_critical:
            try:
                self.manager.arm(cid, user=user, roles=run.roles)
                self.manager.confirm(cid, user=user, roles=run.roles)
            except CommandRejected as exc:
                status.update(state="rejected", reason=str(exc))
                self._save(run)
                return False
        self._save(run)
        return True

    def _verify(self, run: _Run, i: int, step: Step, status: dict[str, Any]) -> bool:
        cmd = self.manager.mdb.command(step.command)
        cid = status["command_id"]
        stage = step.verify or (cmd.verifiers[-1].stage if cmd.verifiers else "none")
        # the manager's stages: windows widened by the round-trip light time
        stages = getattr(self.manager, "verifiers", lambda c: c.verifiers)(cmd)
        windows = max((v.window_stop_s for v in stages), default=0.0)
        # default: the manager closes the windows first; 5 host s of slack for that
        slack_s = 5.0 * self.clock.speed
        timeout_s = step.timeout_s if step.timeout_s is not None else windows + slack_s
        end_ns = self.clock.now_ns() + round(timeout_s * 1e9)
        while not self._stop.is_set():
            rec = self.manager.get(cid)
            state = rec.get("state")
            outcome = (rec.get("verifiers") or {}).get(stage, {}).get("outcome")
            if state in ("rejected", "cancelled"):
                status.update(state="failed", reason=f"command {state}: {rec.get('reason')}")
                break
            if stage == "none" and state not in ("queued", "armed"):
                status.update(state="completed")
                break
            if outcome == "OK":
                status.update(state="completed")
                break
            if outcome not in (None, "PENDING"):
                status.update(state="failed", reason=_failed_stage(rec, stage, outcome))
                break
            if state in FINAL_STATES:
                status.update(
                    state="completed" if state == "completed" else "failed",
                    reason=rec.get("reason"),
                )
                break
            if state == "queued" and rec.get("uplink_wait"):
                # held for the spacecraft's uplink window: the step's time runs from its release
                end_ns = self.clock.now_ns() + round(timeout_s * 1e9)
            if self.clock.now_ns() > end_ns:
                status.update(state="failed", reason=f"{stage} not verified within {timeout_s:g} s")
                break
            time.sleep(self.poll_s)
        status["stage"] = stage
        with self._cond:
            self._save(run)
        return bool(status["state"] == "completed")


def _failed_stage(rec: dict[str, Any], stage: str, outcome: str) -> str:
    """Why a step's stage did not verify: a stage CANCELLED because an earlier one failed names
    that earlier stage and its outcome first ("execution NOK; complete CANCELLED")."""
    if outcome == "CANCELLED":
        for name, v in (rec.get("verifiers") or {}).items():
            if name != stage and v.get("outcome") not in (None, "OK", "PENDING", "CANCELLED"):
                return f"{name} {v.get('outcome')}; {stage} {outcome}"
    return f"{stage} {outcome}"
