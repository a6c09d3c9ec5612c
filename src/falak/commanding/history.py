"""Command history: one record per command with every attribute, stored in the archive.

A record is a JSON-able dict: ``id``, ``command`` (qualified name), ``arguments``
(engineering values), ``raw``, ``binary`` (hex), ``user``, ``roles``, ``queue``, ``state``
(:class:`~falak.commanding.queue.CommandState`), ``time_ns`` (issue time), ``release_ns``,
``seq_count``, ``apid``, ``link``, ``significance``, ``verifiers`` (stage → outcome, time,
window and message), ``reason`` (why rejected or failed) and ``audit``: every action on the
command (issue, arm, confirm, release, reject, cancel, verify) with its user and time.

Each audit entry is also written as an archive event (source ``commanding``), so actions are
audited even for commands that were never recorded (a refused privilege).

Times (``time_ns`` of records and audit entries) come from the history's ``clock``
(:mod:`falak.clock`; default real time), the run's clock in a simulated run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from falak.archive import Archive
from falak.clock import Clock, as_clock
from falak.errors import InputError

__all__ = ["CommandHistory", "jsonable"]


def jsonable(value: Any) -> Any:
    """Return ``value`` with bytes as hex, tuples as lists, numpy scalars as Python ones."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


class CommandHistory:
    """Records in memory, written through to ``archive`` when given (thread-safe)."""

    def __init__(self, archive: Archive | None = None, *, clock: Clock | None = None) -> None:
        self.archive = archive
        self.clock = as_clock(clock)
        """Where record and audit times come from (default: real time)."""
        self._records: dict[int, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._next = 1

    def create(self, record: Mapping[str, Any]) -> int:
        """Store a new record; return its id."""
        rec = jsonable(dict(record))
        rec.setdefault("time_ns", self.clock.now_ns())
        rec.setdefault("audit", [])
        rec.setdefault("verifiers", {})
        with self._lock:
            cid = self.archive.append_command(rec) if self.archive is not None else self._next
            self._next = max(self._next, cid) + 1
            rec["id"] = cid
            self._records[cid] = rec
        return cid

    def update(self, command_id: int, **attrs: Any) -> dict[str, Any]:
        """Merge ``attrs`` (top-level keys) into a record; return the new record."""
        attrs = jsonable(attrs)
        with self._lock:
            rec = self._records.get(command_id)
            if rec is None:
                raise InputError(f"no command with id {command_id} in the history")
            rec.update(attrs)
            if self.archive is not None:
                self.archive.update_command(command_id, **attrs)
            return dict(rec)

    def set_verifier(self, command_id: int, stage: str, **attrs: Any) -> None:
        """Merge ``attrs`` into one verifier stage's entry."""
        with self._lock:
            rec = self._records[command_id]
            verifiers = dict(rec.get("verifiers", {}))
            verifiers[stage] = {**verifiers.get(stage, {}), **jsonable(attrs)}
            self.update(command_id, verifiers=verifiers)

    def audit(
        self,
        user: str,
        action: str,
        message: str,
        command_id: int | None = None,
        *,
        severity: str = "info",
        **details: Any,
    ) -> None:
        """Record an action by ``user``: in the command's ``audit`` list and as an event."""
        t = self.clock.now_ns()
        entry = {"time_ns": t, "user": user, "action": action, "message": message, **details}
        with self._lock:
            if command_id is not None and command_id in self._records:
                audit = [*self._records[command_id].get("audit", []), jsonable(entry)]
                self.update(command_id, audit=audit)
            if self.archive is not None:
                self.archive.append_event(
                    t,
                    "commanding",
                    severity,
                    message,
                    user=user,
                    action=action,
                    command_id=command_id,
                    **jsonable(details),
                )

    def get(self, command_id: int) -> dict[str, Any]:
        """A copy of one record."""
        with self._lock:
            rec = self._records.get(command_id)
            if rec is None:
                raise InputError(f"no command with id {command_id} in the history")
            return _deep_copy(rec)

    def records(self) -> list[dict[str, Any]]:
        """Copies of every record of this session, oldest first."""
        with self._lock:
            return [_deep_copy(r) for _, r in sorted(self._records.items())]


def _deep_copy(rec: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(rec)
