"""The clock a run keeps: UTC now, in real time or ``speed`` times faster, shared by processes.

A simulated run (``falak demo --speed 60``) needs the server and the simulators to agree on
what time it is, although they are separate processes. :class:`ScaledClock` is that
agreement: three numbers that every process of the run is given (``epoch_ns``, ``speed``,
``reference_host_ns``) and from which each computes the same simulated UTC::

    now_ns = epoch_ns + speed * (time.time_ns() - reference_host_ns)

``time.time_ns()`` is the host's wall clock, the one clock all processes of a host share
(a step of the host clock moves every process of the run alike; within a process
:meth:`ScaledClock.now_ns` never goes backwards). :class:`SystemClock` is real time, the
default everywhere. Code that waits converts simulated seconds to host seconds with
:meth:`Clock.host_seconds` (``sim_s / speed``).

All times are int64 ns since 1970-01-01 UTC, falak's scale (:mod:`falak.utctime`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "ScaledClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What falak reads the time from: ``now_ns()`` and the ``speed`` it runs at."""

    @property
    def speed(self) -> float:
        """Simulated seconds per host second (1.0 in real time)."""
        ...

    def now_ns(self) -> int:
        """Return UTC now, int64 ns since 1970-01-01."""
        ...

    def host_seconds(self, sim_seconds: float) -> float:
        """Return the host seconds that ``sim_seconds`` of this clock take."""
        ...


class SystemClock:
    """Real time: the host's wall clock (``time.time_ns``)."""

    speed = 1.0

    def now_ns(self) -> int:
        """Return the host's UTC now in ns."""
        return time.time_ns()

    def host_seconds(self, sim_seconds: float) -> float:
        """Return ``sim_seconds`` unchanged (real time)."""
        return float(sim_seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
"""The real-time clock, the default wherever a ``clock`` is optional."""


class ScaledClock:
    """Simulated UTC that started at ``epoch_ns`` when the host clock read ``reference_host_ns``.

    Parameters
    ----------
    epoch_ns
        Simulated UTC at the reference instant, ns since 1970-01-01.
    speed
        Simulated seconds per host second (1 = real time, 60 = a minute per second); > 0.
    reference_host_ns
        The host's ``time.time_ns()`` at which simulated time was ``epoch_ns``; default: now.
        Give every process of a run the same value.
    host_ns
        The host clock, injectable for tests.
    """

    def __init__(
        self,
        epoch_ns: int,
        speed: float = 1.0,
        reference_host_ns: int | None = None,
        *,
        host_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
            msg = f"clock speed must be > 0 (1 = real time, 60 = 60x faster); got {speed!r}"
            raise ValueError(msg)
        self.epoch_ns = int(epoch_ns)
        self._speed = float(speed)
        self._host_ns = host_ns
        self.reference_host_ns = host_ns() if reference_host_ns is None else int(reference_host_ns)
        self._lock = threading.Lock()
        self._last_ns = -(2**63)

    @property
    def speed(self) -> float:
        """Simulated seconds per host second."""
        return self._speed

    def now_ns(self) -> int:
        """Return simulated UTC in ns; never less than a value returned before."""
        sim_ns = self.epoch_ns + round(self._speed * (self._host_ns() - self.reference_host_ns))
        with self._lock:
            self._last_ns = max(self._last_ns, sim_ns)
            return self._last_ns

    def host_seconds(self, sim_seconds: float) -> float:
        """Return the host seconds that ``sim_seconds`` of simulated time take."""
        return float(sim_seconds) / self._speed

    def host_seconds_until(self, sim_ns: int) -> float:
        """Return host seconds until simulated time ``sim_ns`` (0 if it has passed)."""
        return max(0.0, (sim_ns - self.now_ns()) / self._speed / 1e9)

    def sleep_until(self, sim_ns: int, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until simulated time reaches ``sim_ns``."""
        while (wait_s := self.host_seconds_until(sim_ns)) > 0:
            sleep(wait_s)

    def as_dict(self) -> dict[str, float | int]:
        """Return the three numbers another process needs to keep the same clock."""
        return {
            "epoch_ns": self.epoch_ns,
            "speed": self._speed,
            "reference_host_ns": self.reference_host_ns,
        }

    def __repr__(self) -> str:
        return (
            f"ScaledClock(epoch_ns={self.epoch_ns}, speed={self._speed:g}, "
            f"reference_host_ns={self.reference_host_ns})"
        )
