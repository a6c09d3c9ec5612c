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
:meth:`Clock.host_seconds` (``sim_s / speed``); :func:`host_seconds_until` is the wait until a
simulated instant.

What keeps which time in the live chain (``clock=`` of links, uplinks, the command manager,
its history, the stack executor and the processor): everything that says *when* in the
mission — reception stamps, release times, time tags, verifier windows, transmission
constraint timeouts, stack step times, history and audit times — is on the run's clock;
what only paces the host — socket timeouts, reconnection backoff, batch ages, flush
intervals, link rates, how long a caller waits, an operator's arm/confirm windows — stays in
host seconds.

All times are int64 ns since 1970-01-01 UTC, falak's scale (:mod:`falak.utctime`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

__all__ = [
    "SYSTEM_CLOCK",
    "Clock",
    "ScaledClock",
    "SystemClock",
    "as_clock",
    "host_seconds_until",
]


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

    @classmethod
    def from_dict(
        cls, numbers: Mapping[str, float | int], *, host_ns: Callable[[], int] = time.time_ns
    ) -> ScaledClock:
        """Build the clock another process described with :meth:`as_dict`."""
        missing = [k for k in ("epoch_ns", "speed", "reference_host_ns") if k not in numbers]
        if missing:
            msg = (
                f"a shared clock needs epoch_ns, speed and reference_host_ns; "
                f"missing {', '.join(missing)}"
            )
            raise ValueError(msg)
        return cls(
            int(numbers["epoch_ns"]),
            float(numbers["speed"]),
            int(numbers["reference_host_ns"]),
            host_ns=host_ns,
        )

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


class _FunctionClock:
    """A real-time clock read from a function (``time.time_ns``-like), for old ``clock=``."""

    speed = 1.0

    def __init__(self, now_ns: Callable[[], int]) -> None:
        self._now_ns = now_ns

    def now_ns(self) -> int:
        """Return the function's time in ns."""
        return int(self._now_ns())

    def host_seconds(self, sim_seconds: float) -> float:
        """Return ``sim_seconds`` unchanged (real time)."""
        return float(sim_seconds)

    def __repr__(self) -> str:
        return f"_FunctionClock({self._now_ns!r})"


def as_clock(clock: Clock | Callable[[], int] | None) -> Clock:
    """Return the clock that ``clock=`` means: None is :data:`SYSTEM_CLOCK`; a bare function
    returning ns (the form some ``clock=`` keywords took before) is a real-time clock."""
    if clock is None:
        return SYSTEM_CLOCK
    if isinstance(clock, Clock):
        return clock
    if callable(clock):
        return _FunctionClock(clock)
    msg = f"clock must be a falak.clock.Clock or a function returning ns; got {clock!r}"
    raise TypeError(msg)


def host_seconds_until(clock: Clock, when_ns: int) -> float:
    """Return the host seconds until ``clock`` reads ``when_ns`` (0 if it has passed)."""
    return max(0.0, clock.host_seconds((when_ns - clock.now_ns()) / 1e9))
