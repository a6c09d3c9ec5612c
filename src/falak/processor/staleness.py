"""Parameter staleness: a parameter not refreshed within its expected period is *expired*.

The expected period of a parameter is its own ``Parameter.expected_period_s`` or, failing
that, the ``expected_period_s`` of a container that holds it directly (a ``ParameterEntry``
of that container; the shortest if several). A parameter with neither is never expired.

A parameter expires when no new value arrived within ``tolerance`` times its expected period
(default 1.5: a packet a little late is not yet stale), counted on the reception clock from
its last refresh (or from :meth:`StalenessMonitor.start`, so a parameter that never comes also
expires). It is fresh again at its next value. Each change is reported once, as a
:class:`Staleness` record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from falak.mdb.model import MissionDatabase, ParameterEntry

__all__ = ["STALENESS_TOPIC", "Staleness", "StalenessMonitor", "expected_periods"]

STALENESS_TOPIC = "staleness"
"""Bus topic where every staleness change is also published."""


@dataclass(frozen=True)
class Staleness:
    """A parameter became expired (``expired=True``) or fresh again, at ``time_ns``."""

    parameter: str
    expired: bool
    time_ns: int
    last_refresh_ns: int | None
    expected_period_s: float


def expected_periods(mdb: MissionDatabase) -> dict[str, float]:
    """Expected period in s of every parameter that has one (see the module doc)."""
    out: dict[str, float] = {}
    for c in mdb.containers.values():
        if c.expected_period_s is None:
            continue
        for e in c.entries:
            if isinstance(e, ParameterEntry):
                key = e.parameter
                out[key] = min(out.get(key, c.expected_period_s), c.expected_period_s)
    for p in mdb.parameters.values():
        if p.expected_period_s is not None:
            out[p.qualified_name] = p.expected_period_s
    return out


class StalenessMonitor:
    """Track refreshes and report expiries (not thread-safe: the processor thread owns it)."""

    def __init__(self, mdb: MissionDatabase, *, tolerance: float = 1.5) -> None:
        self.periods = expected_periods(mdb)
        self.tolerance = tolerance
        self._limit_ns = {k: int(v * tolerance * 1e9) for k, v in self.periods.items()}
        self._last: dict[str, int] = {}
        self._started_ns: int | None = None
        self.expired: set[str] = set()

    def start(self, now_ns: int) -> None:
        """Start the clock for parameters never received."""
        self._started_ns = now_ns

    def tracked(self, keys: Iterable[str]) -> list[str]:
        """The keys among ``keys`` that have an expected period."""
        return [k for k in keys if k in self._limit_ns]

    def refreshed(self, keys: Iterable[str], now_ns: int) -> list[Staleness]:
        """Record a new value of each key; return the records of those that were expired."""
        out = []
        for k in keys:
            if k not in self._limit_ns:
                continue
            if k in self.expired:
                self.expired.discard(k)
                out.append(Staleness(k, False, now_ns, self._last.get(k), self.periods[k]))
            self._last[k] = now_ns
        return out

    def check(self, now_ns: int) -> list[Staleness]:
        """Return the parameters that expired since the last check."""
        out = []
        for k, limit in self._limit_ns.items():
            if k in self.expired:
                continue
            last = self._last.get(k, self._started_ns)
            if last is not None and now_ns - last > limit:
                self.expired.add(k)
                out.append(Staleness(k, True, now_ns, self._last.get(k), self.periods[k]))
        return out
