"""Simulation clock: UTC from a start epoch, running in real time or ``speed`` times faster.

The clock maps the host's monotonic clock onto simulated UTC nanoseconds::

    sim_ns = epoch_ns + speed * (monotonic_ns() - monotonic_at_start_ns)

so it never goes backwards when the host's wall clock is stepped. How the server will share
it (not done yet): the simulator publishes ``epoch_ns``, ``speed`` and the host's
``time.time_ns()`` at start in its run configuration (and in a housekeeping parameter), and
the server builds the same mapping from them; nothing here imports the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SimClock:
    """Simulated UTC clock, monotonic and thread-safe.

    Parameters
    ----------
    epoch_ns
        Simulated UTC at start, integer nanoseconds since 1970-01-01 (falak.utctime's scale).
    speed
        Simulated seconds per host second (1 = real time, 60 = a minute per second); > 0.
    monotonic_ns
        Host monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        epoch_ns: int,
        speed: float = 1.0,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if not speed > 0:
            msg = f"sim clock speed must be > 0 (1 = real time, 60 = 60x faster); got {speed!r}"
            raise ValueError(msg)
        self.epoch_ns = int(epoch_ns)
        self.speed = float(speed)
        self._monotonic_ns = monotonic_ns
        self._start_host_ns = monotonic_ns()
        self._lock = threading.Lock()
        self._last_ns = self.epoch_ns

    def now_ns(self) -> int:
        """Return simulated UTC in ns; never less than a value returned before."""
        elapsed_host_ns = self._monotonic_ns() - self._start_host_ns
        sim_ns = self.epoch_ns + round(self.speed * elapsed_host_ns)
        with self._lock:
            self._last_ns = max(self._last_ns, sim_ns)
            return self._last_ns

    def host_seconds_until(self, sim_ns: int) -> float:
        """Return host seconds until simulated time ``sim_ns`` (0 if it has passed)."""
        return max(0.0, (sim_ns - self.now_ns()) / self.speed / 1e9)

    def sleep_until(self, sim_ns: int, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until simulated time reaches ``sim_ns``."""
        while (wait_s := self.host_seconds_until(sim_ns)) > 0:
            sleep(wait_s)
