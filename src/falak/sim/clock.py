"""The simulator's clock is the run's clock: :class:`falak.clock.ScaledClock`.

A simulator and the ground share one clock per run (three numbers: ``epoch_ns``, ``speed``,
``reference_host_ns``; see :mod:`falak.clock`), so there is one clock class, not a
simulator's own. ``SimClock`` is the name this module gave it before; new code imports
:class:`~falak.clock.ScaledClock` from :mod:`falak.clock`.
"""

from __future__ import annotations

from falak.clock import ScaledClock

__all__ = ["ScaledClock", "SimClock"]

SimClock = ScaledClock
"""The simulator's clock: :class:`falak.clock.ScaledClock` (this module's former name)."""
