"""The command manager: issue, hold, arm, release and verify commands; keep their history.

A command's path::

    issue ─▶ privileges ─▶ encode (MDB) ─▶ queue ─▶ time tag ─▶ queue state ─▶ arming
          ─▶ transmission constraints ─▶ uplink window ─▶ release (uplink, sequence count)
          ─▶ verifiers

* ``issue`` checks the user's privilege on the queue and encodes the arguments at once
  (a bad argument raises :class:`~falak.errors.CommandRejected` naming it); a dry run stops
  there and returns the record with the bytes.
* A scheduler thread moves queued commands on: it waits for the time tag (``release_at``,
  UTC), for a blocked queue to be enabled (an operator may :meth:`CommandManager.release` one
  command), for a critical command to be armed and confirmed within the policy's windows,
  and for the transmission constraints to hold on the latest live values (up to their
  timeouts). A disabled queue rejects what it holds.
* With ``uplink_windows`` (e.g. a lunar rover's Earth-above-horizon windows,
  :mod:`falak.planning.traverse.windows`), a command that could go while the clock is outside
  every window waits for the next one (policy ``wait``: it stays queued, its history says
  "waiting for the uplink window START–END (Earth below ROVER's horizon)" and it is sent at
  the window's start) or is rejected naming the next window (``refuse``).
* On release the packet gets the next sequence count of its APID and goes to the uplink
  (which may add a light-time delay); the verifiers of the MDB command start, with windows
  counted from the release time.
* A watcher thread reads the bus (every parameter value the processor publishes): it keeps
  the latest value of every parameter (for constraints) and feeds each received packet's
  values to the running verifications. The values of one packet arrive as one message per
  parameter, so a packet is evaluated once it has *settled* (``settle_s`` after its first
  value arrived), with all its values together.

Every step is written to the command history (:class:`~falak.commanding.history.
CommandHistory`, in the archive when one is given) and every action is audited with its
user. Threads, not asyncio, like the processor: a server calls these methods from its
request handlers (they only take a lock) and waits with :meth:`CommandManager.wait` in a
worker thread.

Time: the manager keeps the mission's time on its ``clock`` (:mod:`falak.clock`; default
real time; in a simulated run the run's clock, shared with the simulators): issue, release
and verification times, time tags, verifier windows and transmission-constraint timeouts
are on it, and its threads' waits are converted to host seconds. The arming and confirmation
windows of critical commands are an operator's reaction time, so they stay in host seconds;
so do ``settle_s`` and :meth:`CommandManager.wait`'s timeout. Verifier windows are widened
by the round-trip light time (``2 * light_time_s``): an acknowledgement cannot arrive sooner;
and by ``host_allowance_s`` host seconds (as many seconds of the mission's clock as those take
at its speed): the time the ground itself takes to see an acknowledgement (socket, decoding,
a loaded machine), which at speed 60 turns 0.1 host s into 6 mission seconds.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np

from falak.archive import Archive
from falak.bus import Bus, Subscription, SubscriptionClosed
from falak.clock import Clock, as_clock, host_seconds_until
from falak.commanding.history import CommandHistory
from falak.commanding.queue import (
    FINAL_STATES,
    CommandQueue,
    CommandState,
    CriticalPolicy,
    QueueState,
    TransmissionConstraint,
)
from falak.errors import CommandRejected, InputError
from falak.links.tc import TcUplink
from falak.mdb.model import Condition, MetaCommand, MissionDatabase, Verifier
from falak.tc.encoder import CommandEncoder, EncodedCommand, set_sequence_count
from falak.tc.verification import (
    Value,
    Verification,
    command_context,
    evaluate,
    parse_condition,
)
from falak.utctime import datetime_to_ns, format_ns

__all__ = ["DEFAULT_QUEUE", "UPLINK_POLICIES", "CommandManager", "UplinkSchedule"]

DEFAULT_QUEUE = "default"


@dataclass
class _Pending:
    id: int
    cmd: MetaCommand
    encoded: EncodedCommand
    user: str
    roles: frozenset[str]
    queue: str
    issued_ns: int
    release_at_ns: int | None = None
    needs_arming: bool = False
    armed_by: str | None = None
    armed_ns: int | None = None
    confirmed_by: str | None = None
    forced_by: str | None = None
    constraints_since_ns: int | None = None
    arming_since_ns: int | None = None
    window_wait: tuple[int, int] | None = None  # (uplink window start it waits for, since)


UPLINK_POLICIES = ("wait", "refuse")
"""What a command released outside every uplink window does: wait for the next, or fail."""


class WindowLike(Protocol):
    """An uplink window: ``[start_ns, end_ns)`` on the manager's clock."""

    @property
    def start_ns(self) -> int: ...

    @property
    def end_ns(self) -> int: ...


class UplinkSchedule(Protocol):
    """When the uplink reaches the spacecraft: the shape of
    :class:`falak.planning.traverse.windows.UplinkWindows` (or any object like it)."""

    def at(self, t_ns: int) -> WindowLike | None: ...

    def next_after(self, t_ns: int) -> WindowLike | None: ...

    def closed_reason(self, spacecraft: str | None = None) -> str: ...


def _window_text(w: WindowLike) -> str:
    def iso(t: int) -> str:
        return format_ns(t, 0 if t % 1_000_000_000 == 0 else 9)

    return f"{iso(w.start_ns)}–{iso(w.end_ns)}"


@runtime_checkable
class SampleBatch(Protocol):
    """What the watcher reads from the bus: the shape of the processor's
    :class:`~falak.processor.processor.ParameterValues` (not imported: the processor sits in
    a layer above commanding)."""

    parameter: str
    container: str
    recv_time_ns: Any
    raw: Any
    eng: Any
    present: Any

    def __len__(self) -> int: ...


class CommandManager:
    """Issue and verify the commands of ``mdb`` (see the module doc).

    Parameters
    ----------
    mdb
        The mission database (commands, verifiers).
    bus
        Where the processor publishes parameter values (verifiers, constraints); None:
        verifiers are not run (recorded as ``UNWATCHED``; the command stays ``released``).
    archive
        Command history and audit events go there (None: in memory only).
    uplink
        Where released packets go (None: only dry runs are possible).
    queues
        Command queues; default: one enabled queue ``"default"`` open to everyone.
    critical
        Arming policy for critical commands.
    constraints
        Transmission constraints (more with :meth:`add_constraint`).
    settle_s
        How long a packet's values are gathered from the bus before it is evaluated (host s).
    clock
        The mission's time (:mod:`falak.clock`); default: real time.
    light_time_s
        One-way light time to the spacecraft (s, >= 0): each verifier window's end is
        pushed back by the round trip, ``2 * light_time_s`` (recorded as ``light_time_s``
        in the command's history, with the widened ``window_s`` of each stage).
    host_allowance_s
        Host seconds added to each verifier window's end, converted to the clock's seconds
        (``host_allowance_s * clock.speed``); default 0.
    uplink_windows
        When the uplink reaches the spacecraft (:class:`UplinkSchedule`, times on ``clock``);
        None: always.
    uplink_policy
        ``wait`` or ``refuse``: what a command ready outside every window does (module doc).
    """

    def __init__(
        self,
        mdb: MissionDatabase,
        *,
        bus: Bus | None = None,
        archive: Archive | None = None,
        uplink: TcUplink | None = None,
        queues: Iterable[CommandQueue] | None = None,
        critical: CriticalPolicy | None = None,
        constraints: Iterable[TransmissionConstraint] = (),
        settle_s: float = 0.02,
        clock: Clock | None = None,
        light_time_s: float = 0.0,
        host_allowance_s: float = 0.0,
        uplink_windows: UplinkSchedule | None = None,
        uplink_policy: str = "wait",
    ) -> None:
        if not 0.0 <= light_time_s <= 3600.0:
            raise InputError(f"light time must be within 0..3600 s (one way), got {light_time_s}")
        if not 0.0 <= host_allowance_s <= 60.0:
            raise InputError(f"host allowance must be within 0..60 s, got {host_allowance_s}")
        if uplink_policy not in UPLINK_POLICIES:
            raise InputError(
                f"uplink policy {uplink_policy!r} must be one of {', '.join(UPLINK_POLICIES)}"
            )
        self.uplink_windows = uplink_windows
        """When the uplink reaches the spacecraft (None: always)."""
        self.uplink_policy = uplink_policy
        self.mdb = mdb
        self.bus = bus
        self.uplink = uplink
        self.clock = as_clock(clock)
        """The mission's time: release times, windows, time tags (default: real time)."""
        self.light_time_s = float(light_time_s)
        """One-way light time (s); verifier windows end ``2 * light_time_s`` later."""
        self.host_allowance_s = float(host_allowance_s)
        """Host seconds added to verifier windows (see the class doc)."""
        self.encoder = CommandEncoder(mdb)
        self.history = CommandHistory(archive, clock=self.clock)
        qs = list(queues) if queues is not None else [CommandQueue(DEFAULT_QUEUE)]
        self.queues: dict[str, CommandQueue] = {q.name: q for q in qs}
        self.critical = critical or CriticalPolicy()
        self.constraints: list[TransmissionConstraint] = list(constraints)
        self.settle_ns = round(settle_s * 1e9)
        self.latest: dict[str, Value] = {}
        """Latest value of every parameter seen on the bus, by qualified name."""
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._pending: dict[int, _Pending] = {}
        self._active: dict[int, Verification] = {}
        self._seq: dict[int, int] = {}
        self._packets: dict[tuple[str, int], tuple[int, dict[str, Value]]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sub: Subscription | None = None

    def __repr__(self) -> str:
        return (
            f"<CommandManager {len(self._pending)} queued, {len(self._active)} verifying, "
            f"queues {', '.join(f'{q.name}={q.state.value}' for q in self.queues.values())}>"
        )

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler and (with a bus) the watcher thread."""
        if self._threads:
            return
        self._stop.clear()
        if self.bus is not None:
            self._sub = self.bus.subscribe(maxsize=100_000)
            self._threads.append(
                threading.Thread(target=self._watch, name="falak-cmd-watch", daemon=True)
            )
        self._threads.append(
            threading.Thread(target=self._schedule, name="falak-cmd-sched", daemon=True)
        )
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop the threads; queued commands are cancelled, running verifiers cancelled."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._sub is not None:
            self._sub.close()
        for t in self._threads:
            t.join(5.0)
        self._threads = []
        now = self.clock.now_ns()
        with self._lock:
            for cid in list(self._pending):
                self._finish_pending(cid, CommandState.CANCELLED, "command manager stopped")
            for cid, v in list(self._active.items()):
                for r in v.cancel(now, "command manager stopped"):
                    self.history.set_verifier(
                        cid, r.stage, outcome=r.outcome.value, time_ns=r.time_ns, message=r.message
                    )
                self.history.update(cid, state=CommandState.FAILED.value, reason="stopped")
                del self._active[cid]

    def __enter__(self) -> CommandManager:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration -------------------------------------------------------------------

    def queue(self, name: str) -> CommandQueue:
        """A queue by name (``InputError`` lists the queues)."""
        q = self.queues.get(name)
        if q is None:
            raise InputError(f"no command queue {name!r}; queues: {', '.join(self.queues)}")
        return q

    def set_queue_state(self, name: str, state: QueueState | str, *, user: str) -> None:
        """Enable, block or disable a queue (audited)."""
        q = self.queue(name)
        new = QueueState(state)
        with self._cond:
            old, q.state = q.state, new
            self.history.audit(user, "queue", f"queue {name}: {old.value} -> {new.value}")
            self._cond.notify_all()

    def add_constraint(
        self,
        condition: str | Condition,
        *,
        timeout_s: float = 0.0,
        commands: Iterable[str] = (),
        user: str = "system",
    ) -> TransmissionConstraint:
        """Add a transmission constraint (text like ``"MODE == SAFE and BATT_V > 7"``)."""
        text = condition if isinstance(condition, str) else repr(condition)
        cond = parse_condition(condition, self.mdb) if isinstance(condition, str) else condition
        names = frozenset(self.mdb.command(c).qualified_name for c in commands)
        tc = TransmissionConstraint(cond, float(timeout_s), names, text)
        with self._cond:
            self.constraints.append(tc)
            self.history.audit(user, "constraint", f"transmission constraint added: {text}")
        return tc

    # -- issuing -------------------------------------------------------------------------

    def encode(self, command: str, args: Mapping[str, Any] | None = None) -> EncodedCommand:
        """Encode without queueing or sending (raises :class:`CommandRejected`)."""
        return self.encoder.encode(command, args or {})

    def issue(
        self,
        command: str,
        args: Mapping[str, Any] | None = None,
        *,
        user: str,
        roles: Iterable[str] = (),
        queue: str = DEFAULT_QUEUE,
        release_at: datetime | None = None,
        dry_run: bool = False,
        origin: str = "api",
        stack: str | None = None,
        stack_step: int | None = None,
    ) -> dict[str, Any]:
        """Put a command into a queue (or, with ``dry_run``, only encode it).

        Returns the history record (its ``id`` names the command in the other methods).
        ``stack`` and ``stack_step`` (1-based) name the command stack step that issued it
        (:mod:`falak.commanding.stack`); the history records them.
        Raises :class:`CommandRejected` for a missing privilege, a bad argument or a
        disabled queue; the rejection is recorded and audited.
        """
        role_set = frozenset(roles)
        q = self.queue(queue)
        cmd = self.mdb.command(command)
        release_ns = None if release_at is None else datetime_to_ns(release_at, "release time")
        base: dict[str, Any] = {
            "command": cmd.qualified_name,
            "user": user,
            "roles": sorted(role_set),
            "queue": q.name,
            "origin": origin,
            "significance": cmd.significance.name.lower(),
            "requested_arguments": dict(args or {}),
            "release_at_ns": release_ns,
            "dry_run": dry_run,
        }
        if stack is not None:
            base.update(stack=stack, stack_step=stack_step)
        if not q.permits(user, role_set):
            msg = (
                f"{cmd.name}: user {user} (roles {', '.join(sorted(role_set)) or 'none'}) may "
                f"not use queue {q.name}; allowed: {q.describe_privileges()}"
            )
            self._reject_new(base, user, msg)
        try:
            enc = self.encoder.encode(cmd, args or {})
        except CommandRejected as exc:
            self._reject_new(base, user, str(exc), argument=exc.argument)
        base.update(
            arguments=enc.arguments,
            raw=enc.raw,
            binary=enc.binary.hex(),
            apid=enc.apid,
            size_bytes=len(enc.binary),
        )
        if dry_run:
            base["state"] = "dry_run"
            cid = self.history.create(base)
            self.history.audit(user, "dry_run", f"{cmd.name} encoded (dry run)", cid)
            return self.history.get(cid)
        if q.state is QueueState.DISABLED:
            self._reject_new(base, user, f"{cmd.name}: queue {q.name} is disabled")
        with self._cond:
            base["state"] = CommandState.QUEUED.value
            cid = self.history.create(base)
            now = self.clock.now_ns()
            self._pending[cid] = _Pending(
                cid,
                cmd,
                enc,
                user,
                role_set,
                q.name,
                now,
                base["release_at_ns"],
                self.critical.needs_arming(cmd.significance),
            )
            self.history.audit(user, "issue", f"{cmd.name} queued in {q.name}", cid)
            self._cond.notify_all()
            return self.history.get(cid)

    def _reject_new(self, base: dict[str, Any], user: str, msg: str, **extra: Any) -> None:
        base.update(state=CommandState.REJECTED.value, reason=msg, **extra)
        cid = self.history.create(base)
        self.history.audit(user, "reject", msg, cid, severity="warning")
        raise CommandRejected(msg, argument=extra.get("argument"))

    # -- operator actions on queued commands ---------------------------------------------

    def _queued(self, command_id: int, action: str, user: str) -> _Pending:
        pc = self._pending.get(command_id)
        if pc is None:
            state = self.history.get(command_id).get("state")
            msg = f"cannot {action} command {command_id}: it is {state}, not queued"
            self.history.audit(user, action, msg, command_id, severity="warning")
            raise CommandRejected(msg)
        return pc

    def arm(self, command_id: int, *, user: str, roles: Iterable[str] = ()) -> None:
        """Arm a queued critical command (the first of two steps; then :meth:`confirm`).

        A user without an arming role is refused (:class:`CommandRejected`, audited); the
        command keeps waiting for an authorised user until its arming window passes.
        """
        with self._cond:
            pc = self._queued(command_id, "arm", user)
            if not pc.needs_arming:
                msg = f"{pc.cmd.name} is not critical and needs no arming"
                self.history.audit(user, "arm", msg, command_id, severity="warning")
                raise CommandRejected(msg)
            if not self.critical.may_arm(roles):
                msg = (
                    f"{pc.cmd.name}: user {user} (roles {', '.join(sorted(roles)) or 'none'}) may "
                    f"not arm critical commands; arming roles: "
                    f"{', '.join(sorted(self.critical.arm_roles))}"
                )
                self.history.audit(user, "arm_refused", msg, command_id, severity="warning")
                raise CommandRejected(msg)
            pc.armed_by, pc.armed_ns = user, time.monotonic_ns()  # operator time: host
            self.history.update(command_id, state=CommandState.ARMED.value, armed_by=user)
            self.history.audit(
                user,
                "arm",
                f"{pc.cmd.name} armed; confirm within {self.critical.confirm_window_s:g} s",
                command_id,
            )
            self._cond.notify_all()

    def confirm(self, command_id: int, *, user: str, roles: Iterable[str] = ()) -> None:
        """Confirm an armed critical command within the confirmation window (else it is
        rejected); it is then released when its queue and constraints allow."""
        with self._cond:
            pc = self._queued(command_id, "confirm", user)
            if pc.armed_ns is None:
                msg = f"{pc.cmd.name}: confirm needs arming first"
                self.history.audit(user, "confirm", msg, command_id, severity="warning")
                raise CommandRejected(msg)
            if not self.critical.may_arm(roles):
                msg = f"{pc.cmd.name}: user {user} may not confirm critical commands"
                self.history.audit(user, "confirm_refused", msg, command_id, severity="warning")
                raise CommandRejected(msg)
            late_s = (time.monotonic_ns() - pc.armed_ns) / 1e9
            if late_s > self.critical.confirm_window_s:
                msg = (
                    f"{pc.cmd.name}: confirmed {late_s:.2f} s after arming; the limit is "
                    f"{self.critical.confirm_window_s:g} s"
                )
                self.history.audit(user, "confirm", msg, command_id, severity="warning")
                self._finish_pending(command_id, CommandState.REJECTED, msg, user=user)
                raise CommandRejected(msg)
            pc.confirmed_by = user
            self.history.update(command_id, confirmed_by=user)
            self.history.audit(user, "confirm", f"{pc.cmd.name} confirmed", command_id)
            # step it now, as the scheduler would next: the caller's record then shows the
            # true state (released, or still armed while a time tag, queue or constraint holds)
            self._step(pc, self.clock.now_ns())
            self._cond.notify_all()

    def release(self, command_id: int, *, user: str, roles: Iterable[str] = ()) -> None:
        """Let one command out of a blocked queue now (time tag, arming and constraints
        still apply). A critical command not armed and confirmed is rejected."""
        with self._cond:
            pc = self._queued(command_id, "release", user)
            if pc.needs_arming and pc.confirmed_by is None:
                msg = f"{pc.cmd.name} is critical: release refused without arming and confirmation"
                self.history.audit(user, "release", msg, command_id, severity="warning")
                self._finish_pending(command_id, CommandState.REJECTED, msg, user=user)
                raise CommandRejected(msg)
            q = self.queue(pc.queue)
            if not (q.permits(user, roles)):
                msg = f"{pc.cmd.name}: user {user} may not release from queue {q.name}"
                self.history.audit(user, "release", msg, command_id, severity="warning")
                raise CommandRejected(msg)
            pc.forced_by = user
            self.history.audit(user, "release", f"{pc.cmd.name} released by operator", command_id)
            self._cond.notify_all()

    def cancel(self, command_id: int, *, user: str) -> None:
        """Withdraw a queued command (audited)."""
        with self._cond:
            pc = self._queued(command_id, "cancel", user)
            self._finish_pending(
                command_id, CommandState.CANCELLED, f"{pc.cmd.name} cancelled by {user}", user=user
            )

    # -- reading -------------------------------------------------------------------------

    def get(self, command_id: int) -> dict[str, Any]:
        """The history record of a command."""
        return self.history.get(command_id)

    def wait(self, command_id: int, timeout_s: float = 30.0) -> dict[str, Any]:
        """Wait until the command reaches a final state (or ``timeout_s``); return its record."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while True:
                rec = self.history.get(command_id)
                left = end - time.monotonic()
                if rec.get("state") in FINAL_STATES or left <= 0:
                    return rec
                self._cond.wait(min(left, 0.1))

    # -- scheduler -----------------------------------------------------------------------

    def _finish_pending(
        self, command_id: int, state: CommandState, reason: str, *, user: str = "system"
    ) -> None:
        self._pending.pop(command_id, None)
        self.history.update(command_id, state=state.value, reason=reason)
        if user == "system":
            action = "reject" if state is CommandState.REJECTED else state.value
            self.history.audit(user, action, reason, command_id, severity="warning")
        self._cond.notify_all()

    def _schedule(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                now = self.clock.now_ns()
                wake = 0.05
                for cid in list(self._pending):
                    due = self._step(self._pending[cid], now)
                    if due is not None:
                        wake = min(wake, host_seconds_until(self.clock, due))
                self._cond.wait(wake)

    def _step(self, pc: _Pending, now: int) -> int | None:
        """Move one queued command on; return when it next needs attention (clock ns) if soon.

        ``now`` is the clock's time; arming and confirmation run on the host's.
        """
        if pc.release_at_ns is not None and now < pc.release_at_ns:
            return pc.release_at_ns
        q = self.queues[pc.queue]
        if q.state is QueueState.DISABLED:
            self._finish_pending(pc.id, CommandState.REJECTED, f"queue {q.name} is disabled")
            return None
        if q.state is QueueState.BLOCKED and pc.forced_by is None:
            return None
        if pc.needs_arming:
            if pc.armed_ns is None:
                # the arming window opens when the command could otherwise go (time tag
                # passed, queue enabled), so a time-tagged critical command is armed near
                # its time
                host_now = time.monotonic_ns()
                if pc.arming_since_ns is None:
                    pc.arming_since_ns = host_now
                if host_now - pc.arming_since_ns > self.critical.arm_window_s * 1e9:
                    msg = (
                        f"{pc.cmd.name} is critical and was not armed within "
                        f"{self.critical.arm_window_s:g} s"
                    )
                    self._finish_pending(pc.id, CommandState.REJECTED, msg)
                return None
            if pc.confirmed_by is None:
                if time.monotonic_ns() - pc.armed_ns > self.critical.confirm_window_s * 1e9:
                    msg = (
                        f"{pc.cmd.name} was armed but not confirmed within "
                        f"{self.critical.confirm_window_s:g} s"
                    )
                    self._finish_pending(pc.id, CommandState.REJECTED, msg)
                return None
        pending = [
            c
            for c in self.constraints
            if c.applies_to(pc.cmd.qualified_name)
            and not evaluate(c.condition, self.latest, self.mdb)
        ]
        if pending:
            if pc.constraints_since_ns is None:
                pc.constraints_since_ns = now
            waited = (now - pc.constraints_since_ns) / 1e9
            limit = max(c.timeout_s for c in pending)
            if waited >= limit:
                text = "; ".join(c.text for c in pending)
                msg = f"{pc.cmd.name}: transmission constraint not met within {limit:g} s: {text}"
                self._finish_pending(pc.id, CommandState.REJECTED, msg)
            return None
        if self.uplink_windows is not None and self.uplink_windows.at(now) is None:
            return self._outside_window(pc, now, self.uplink_windows)
        if pc.window_wait is not None:
            waited_s = (now - pc.window_wait[1]) / 1e9
            self.history.update(pc.id, reason=None, uplink_waited_s=waited_s)
        self._release(pc)
        return None

    def _outside_window(self, pc: _Pending, now: int, windows: UplinkSchedule) -> int | None:
        """Hold (policy wait) or reject (refuse) a command ready while the uplink is down."""
        ahead = windows.next_after(now)
        why = windows.closed_reason()
        if ahead is None or self.uplink_policy == "refuse":
            nxt = f"next uplink window {_window_text(ahead)}" if ahead else "no window ahead"
            msg = f"{pc.cmd.name}: uplink closed ({why}); {nxt}"
            self._finish_pending(pc.id, CommandState.REJECTED, msg)
            return None
        if pc.window_wait is None or pc.window_wait[0] != ahead.start_ns:
            since = now if pc.window_wait is None else pc.window_wait[1]
            pc.window_wait = (ahead.start_ns, since)
            reason = f"waiting for the uplink window {_window_text(ahead)} ({why})"
            window = {"start_ns": ahead.start_ns, "end_ns": ahead.end_ns, "since_ns": since}
            self.history.update(pc.id, reason=reason, uplink_wait=window)
            self.history.audit("system", "uplink_wait", f"{pc.cmd.name} {reason}", pc.id)
        return ahead.start_ns

    def _release(self, pc: _Pending) -> None:
        enc = pc.encoded
        if self.uplink is None:
            self._finish_pending(pc.id, CommandState.REJECTED, "no uplink configured")
            return
        data = enc.binary
        seq = None
        if enc.ccsds and enc.apid is not None:
            seq = self._seq.get(enc.apid, 0)
            self._seq[enc.apid] = (seq + 1) & 0x3FFF
            data = set_sequence_count(data, seq, crc=enc.crc)
        try:
            release_ns = self.uplink.send(data)
        except InputError as exc:
            self._finish_pending(pc.id, CommandState.REJECTED, f"uplink refused: {exc}")
            return
        del self._pending[pc.id]
        stages = self.verifiers(pc.cmd)
        v = Verification(self.mdb, stages, release_ns, command_context(seq, enc.arguments))
        verifiers = {
            s.stage: {
                "outcome": "PENDING",
                "window_s": [s.window_start_s, s.window_stop_s],
                "container": s.container,
            }
            for s in stages
        }
        if self.bus is None:
            for entry in verifiers.values():
                entry.update(outcome="UNWATCHED", message="no telemetry bus to watch")
        state = CommandState.RELEASED if pc.cmd.verifiers else CommandState.COMPLETED
        self.history.update(
            pc.id,
            state=state.value,
            release_ns=release_ns,
            binary=data.hex(),
            seq_count=seq,
            link=self.uplink.name,
            link_url=self.uplink.url,
            uplink_delay_s=self.uplink.delay_s,
            light_time_s=self.light_time_s,
            host_allowance_s=self.host_allowance_s,
            verifiers=verifiers,
        )
        self.history.audit(
            pc.forced_by or pc.user,
            "release",
            f"{pc.cmd.name} released to {self.uplink.name}",
            pc.id,
        )
        if pc.cmd.verifiers and self.bus is not None:
            self._active[pc.id] = v
        self._cond.notify_all()

    def verifiers(self, command: str | MetaCommand) -> tuple[Verifier, ...]:
        """The verifier stages of ``command`` as this manager runs them: each window's end
        pushed back by the round-trip light time (``2 * light_time_s``) and the host
        allowance (``host_allowance_s`` at the clock's speed)."""
        cmd = command if isinstance(command, MetaCommand) else self.mdb.command(command)
        extra_s = 2.0 * self.light_time_s + self.host_allowance_s * self.clock.speed
        if not extra_s:
            return cmd.verifiers
        return tuple(
            dataclasses.replace(s, window_stop_s=s.window_stop_s + extra_s) for s in cmd.verifiers
        )

    # -- watcher -------------------------------------------------------------------------

    def _watch(self) -> None:
        sub = self._sub
        assert sub is not None
        while not self._stop.is_set():
            try:
                first = sub.get(timeout=0.02)
                batch = ([first] if first is not None else []) + sub.drain()
            except SubscriptionClosed:
                break
            host_now = time.monotonic_ns()
            with self._cond:
                for d in batch:
                    if isinstance(d.payload, SampleBatch):
                        self._gather(d.payload, host_now)
                self._evaluate(host_now, self.clock.now_ns())

    def _gather(self, pv: SampleBatch, host_now: int) -> None:
        n = len(pv)
        present = pv.present if pv.present is not None else np.ones(n, dtype=bool)
        for i in np.flatnonzero(present):
            recv = int(pv.recv_time_ns[i])
            value = Value(pv.raw[i], pv.eng[i], recv)
            prev = self.latest.get(pv.parameter)
            if prev is None or prev.time_ns <= recv:
                self.latest[pv.parameter] = value
            key = (pv.container, recv)
            entry = self._packets.get(key)
            if entry is None:
                entry = (host_now, {})
                self._packets[key] = entry
            entry[1][pv.parameter] = value

    def _evaluate(self, host_now: int, now: int) -> None:
        """Evaluate the packets settled by ``host_now`` (host ns), close windows by ``now``
        (clock ns)."""
        ready = sorted(
            (k for k, (seen, _) in self._packets.items() if host_now - seen >= self.settle_ns),
            key=lambda k: k[1],
        )
        for key in ready:
            _seen, values = self._packets.pop(key)
            container, recv = key
            if not self._active:
                continue
            merged = {**self.latest, **values}
            for cid, v in list(self._active.items()):
                self._record(cid, v, v.observe(recv, merged, container))
        # no window closes while values of a packet inside it may still be settling (a host
        # interval, in clock time here)
        horizon = now - round(self.clock.speed * (2 * self.settle_ns + 50_000_000))
        for cid, v in list(self._active.items()):
            self._record(cid, v, v.tick(horizon))
        if ready:
            self._cond.notify_all()

    def _record(self, cid: int, v: Verification, results: list[Any]) -> None:
        for r in results:
            self.history.set_verifier(
                cid,
                r.stage,
                outcome=r.outcome.value,
                time_ns=r.time_ns,
                delay_s=(r.time_ns - v.release_ns) / 1e9,
                message=r.message,
            )
        if results and v.done:
            state = v.final_state or CommandState.FAILED.value
            bad = [f"{s} {o.value}" for s, o in v.outcomes().items() if o.value not in ("OK",)]
            self.history.update(
                cid,
                state=state,
                reason="; ".join(bad) if bad else None,
                completed_ns=max(r.time_ns for r in results),
            )
            self._active.pop(cid, None)
            self._cond.notify_all()
