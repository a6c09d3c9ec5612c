"""Commanding at run time: queues, arming, release over an uplink, verification, history.

:class:`CommandManager` hosts it all; :mod:`falak.commanding.queue` holds the plain data
(queues, privileges, constraints, critical policy) and :mod:`falak.commanding.history` the
command history written to the archive. Encoding and verifier evaluation are pure and live in
:mod:`falak.tc`.
"""

from __future__ import annotations

from falak.commanding.history import CommandHistory
from falak.commanding.manager import DEFAULT_QUEUE, CommandManager
from falak.commanding.queue import (
    CommandQueue,
    CommandState,
    CriticalPolicy,
    QueueState,
    TransmissionConstraint,
)

__all__ = [
    "DEFAULT_QUEUE",
    "CommandHistory",
    "CommandManager",
    "CommandQueue",
    "CommandState",
    "CriticalPolicy",
    "QueueState",
    "TransmissionConstraint",
]
