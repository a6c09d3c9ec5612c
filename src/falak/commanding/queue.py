"""Command queues, privileges, transmission constraints and the critical-command policy.

Plain data the :class:`~falak.commanding.manager.CommandManager` acts on:

* a :class:`CommandQueue` is ``enabled`` (commands go on to release), ``blocked`` (commands
  wait until it is enabled, or an operator releases one) or ``disabled`` (commands are
  rejected, also those waiting in it). Its privileges list the roles and users that may put
  commands into it (plain strings; the server maps authenticated users to roles); a queue
  with neither is open to everyone.
* a :class:`TransmissionConstraint` is a condition on live parameters (the latest values on
  the bus) that must hold before a command is released; the command waits up to
  ``timeout_s`` for it, then is rejected (0: checked once).
* the :class:`CriticalPolicy` says which significance needs arming, which roles may arm and
  confirm, and the time limits: arm within ``arm_window_s`` of the moment the command could
  go (time tag passed, queue enabled), confirm within ``confirm_window_s`` of arming, else
  the command is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from falak.mdb.model import Condition, Significance

__all__ = [
    "CommandQueue",
    "CommandState",
    "CriticalPolicy",
    "QueueState",
    "TransmissionConstraint",
]


class QueueState(StrEnum):
    """What a queue does with the commands put into it."""

    ENABLED = "enabled"
    BLOCKED = "blocked"
    DISABLED = "disabled"


class CommandState(StrEnum):
    """Where a command is in its life (the history's ``state``)."""

    QUEUED = "queued"
    """Waiting: time tag, blocked queue, arming or a transmission constraint."""
    ARMED = "armed"
    RELEASED = "released"
    """Handed to the uplink; verifiers are running."""
    COMPLETED = "completed"
    """Every verification stage OK (or no verifiers)."""
    FAILED = "failed"
    """A stage NOK or TIMEOUT."""
    REJECTED = "rejected"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {CommandState.COMPLETED, CommandState.FAILED, CommandState.REJECTED, CommandState.CANCELLED}
)


@dataclass
class CommandQueue:
    """A named queue with a state and privileges (see the module doc)."""

    name: str
    state: QueueState = QueueState.ENABLED
    roles: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def permits(self, user: str, roles: Iterable[str] = ()) -> bool:
        """True when ``user`` (or one of ``roles``) may put commands into this queue."""
        if not self.roles and not self.users:
            return True
        return user in self.users or bool(self.roles & set(roles))

    def describe_privileges(self) -> str:
        """Who may use the queue, in words."""
        if not self.roles and not self.users:
            return "everyone"
        parts = []
        if self.roles:
            parts.append("roles " + ", ".join(sorted(self.roles)))
        if self.users:
            parts.append("users " + ", ".join(sorted(self.users)))
        return " or ".join(parts)


@dataclass(frozen=True)
class TransmissionConstraint:
    """``condition`` must hold on live values before release, waiting up to ``timeout_s``.

    ``commands`` lists qualified command names it applies to (empty: every command).
    ``text`` is the condition as written, for messages.
    """

    condition: Condition
    timeout_s: float = 0.0
    commands: frozenset[str] = frozenset()
    text: str = ""

    def applies_to(self, command: str) -> bool:
        """True when the constraint guards ``command`` (qualified name)."""
        return not self.commands or command in self.commands


@dataclass(frozen=True)
class CriticalPolicy:
    """Arming rules for commands of ``min_significance`` and above."""

    arm_roles: frozenset[str] = field(default_factory=lambda: frozenset({"flight_director"}))
    arm_window_s: float = 120.0
    confirm_window_s: float = 30.0
    min_significance: Significance = Significance.CRITICAL

    def needs_arming(self, significance: Significance) -> bool:
        """True when a command of this significance must be armed and confirmed."""
        return significance >= self.min_significance

    def may_arm(self, roles: Iterable[str]) -> bool:
        """True when one of ``roles`` may arm and confirm critical commands."""
        return bool(self.arm_roles & set(roles))
