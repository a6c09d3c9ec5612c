"""Alarm lifecycle, as operators expect it (ISA-18.2 style, as Yamcs does it).

An alarm exists for a parameter from the moment its monitoring level leaves NORMAL until it
is *cleared*. While it exists:

* ``triggered``     the value went out of limits (or got worse than the most severe level seen
                    so far: an acknowledged alarm that escalates needs a new acknowledgement);
* ``acknowledged``  an operator acknowledged it, with a user name and a comment;
* ``normal``        the value returned to normal, but nobody acknowledged the alarm yet: it
                    stays on the operators' list until acknowledged;
* ``shelved``       an operator hid it for a time (with user and comment); changes are still
                    archived but not announced on the bus; when the shelve time runs out (or
                    on :meth:`AlarmManager.unshelve`) it is announced again as ``triggered``
                    if the value is still out of limits, else as ``normal``;
* ``cleared``       the alarm is over: acknowledged and back to normal (in either order), or
                    cleared by an operator. A value still out of limits after an operator's
                    clear starts a new alarm at its next sample.

Every change is archived as an :class:`~falak.archive.AlarmRecord` (state, level, value,
user, comment) and published on the bus topic ``"alarms"``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.archive import AlarmRecord, Archive
from falak.bus import Bus
from falak.errors import InputError
from falak.mdb.model import AlarmLevel

__all__ = ["ALARMS_TOPIC", "Alarm", "AlarmManager"]

ALARMS_TOPIC = "alarms"
"""Bus topic of alarm records."""


@dataclass
class Alarm:
    """An alarm that has not been cleared yet."""

    parameter: str
    level: AlarmLevel
    """Level of the latest value (NORMAL once returned to normal)."""
    max_level: AlarmLevel
    """Most severe level since the alarm triggered."""
    trigger_time_ns: int
    value: Any
    time_ns: int
    """Time of the latest change."""
    acknowledged: bool = False
    ack_level: AlarmLevel = AlarmLevel.NORMAL
    """Most severe level when acknowledged: worse than this needs a new acknowledgement."""
    ack_user: str | None = None
    ack_comment: str | None = None
    ack_time_ns: int | None = None
    shelved_until_ns: int | None = None
    shelve_user: str | None = None
    shelve_comment: str | None = None

    @property
    def shelved(self) -> bool:
        """True while shelved."""
        return self.shelved_until_ns is not None

    @property
    def state(self) -> str:
        """``shelved``, ``acknowledged``, ``normal`` (back to normal, unacknowledged) or
        ``triggered``."""
        if self.shelved:
            return "shelved"
        if self.acknowledged:
            return "acknowledged"
        if self.level == AlarmLevel.NORMAL:
            return "normal"
        return "triggered"


class AlarmManager:
    """Track alarms from monitoring levels and operator actions (see the module doc).

    Thread-safe: the processor feeds levels from its thread while operators act from others.
    ``clock`` returns the current time in ns (for operator actions and shelve expiry).
    """

    def __init__(
        self,
        archive: Archive | None = None,
        bus: Bus | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.archive = archive
        self.bus = bus
        self.clock = clock
        self._alarms: dict[str, Alarm] = {}
        self._last_level: dict[str, int] = {}
        self._lock = threading.RLock()
        self.records: list[AlarmRecord] = []
        """Records of this session (also archived), oldest first; bounded to 10,000."""

    # -- queries -------------------------------------------------------------------------

    def active(self) -> list[Alarm]:
        """Alarms not cleared yet, most severe first."""
        with self._lock:
            return sorted(self._alarms.values(), key=lambda a: (-a.max_level, a.trigger_time_ns))

    def get(self, parameter: str) -> Alarm | None:
        """The alarm of ``parameter`` (qualified name), or None."""
        with self._lock:
            return self._alarms.get(parameter)

    # -- values --------------------------------------------------------------------------

    def observe(
        self,
        parameter: str,
        time_ns: NDArray[np.int64],
        levels: NDArray[np.uint8],
        values: NDArray[Any],
    ) -> None:
        """Feed a series of monitoring levels (one per sample, in time order)."""
        if levels.size == 0:
            return
        with self._lock:
            prev = self._last_level.get(parameter, 0)
            lev = levels.astype(np.int16)
            before = np.empty_like(lev)
            before[0] = prev
            before[1:] = lev[:-1]
            changes = np.flatnonzero(lev != before)
            for i in changes.tolist():
                v = values[i]
                value = v.item() if hasattr(v, "item") else v
                self._change(parameter, int(time_ns[i]), AlarmLevel(int(lev[i])), value)
            self._last_level[parameter] = int(lev[-1])

    def _change(self, parameter: str, t: int, level: AlarmLevel, value: Any) -> None:
        alarm = self._alarms.get(parameter)
        if level != AlarmLevel.NORMAL:
            if alarm is None:
                alarm = Alarm(parameter, level, level, t, value, t)
                self._alarms[parameter] = alarm
                self._record(alarm, "triggered")
                return
            was_normal = alarm.level == AlarmLevel.NORMAL
            alarm.level, alarm.value, alarm.time_ns = level, value, t
            escalated = level > alarm.max_level or (alarm.acknowledged and level > alarm.ack_level)
            alarm.max_level = max(alarm.max_level, level)
            if escalated:
                alarm.acknowledged = False  # escalation needs a new acknowledgement
                self._record(alarm, "triggered")
            elif was_normal:
                self._record(alarm, "triggered")
            return
        if alarm is None:
            return
        alarm.level, alarm.value, alarm.time_ns = level, value, t
        self._record(alarm, "normal")
        if alarm.acknowledged and not alarm.shelved:
            self._remove(alarm, t, None, "acknowledged and back to normal")

    # -- operator actions ----------------------------------------------------------------

    def _need(self, parameter: str) -> Alarm:
        alarm = self._alarms.get(parameter)
        if alarm is None:
            active = ", ".join(sorted(self._alarms)[:5]) or "none"
            raise InputError(f"no active alarm for {parameter!r}; active alarms: {active}")
        return alarm

    def acknowledge(self, parameter: str, user: str, comment: str = "") -> Alarm:
        """Acknowledge the alarm of ``parameter``; it clears if the value is back to normal."""
        with self._lock:
            alarm = self._need(parameter)
            t = self.clock()
            alarm.acknowledged = True
            alarm.ack_user, alarm.ack_comment, alarm.ack_time_ns = user, comment, t
            alarm.ack_level = alarm.max_level
            self._record(alarm, "acknowledged", user, comment, t)
            if alarm.level == AlarmLevel.NORMAL and not alarm.shelved:
                self._remove(alarm, t, user, "acknowledged and back to normal")
            return alarm

    def shelve(self, parameter: str, user: str, comment: str, duration_s: float) -> Alarm:
        """Hide the alarm for ``duration_s`` seconds (announcements stop, archiving goes on)."""
        if not duration_s > 0:
            raise InputError(f"shelve duration must be > 0 s, got {duration_s}")
        with self._lock:
            alarm = self._need(parameter)
            t = self.clock()
            alarm.shelved_until_ns = t + int(duration_s * 1e9)
            alarm.shelve_user, alarm.shelve_comment = user, comment
            self._record(alarm, "shelved", user, comment, t)
            return alarm

    def unshelve(self, parameter: str, user: str | None = None, comment: str = "") -> Alarm:
        """End a shelve now."""
        with self._lock:
            alarm = self._need(parameter)
            self._unshelve(alarm, self.clock(), user, comment or "unshelved")
            return alarm

    def clear(self, parameter: str, user: str, comment: str = "") -> None:
        """Remove the alarm now; a value still out of limits starts a new one at its next
        sample."""
        with self._lock:
            alarm = self._need(parameter)
            self._remove(alarm, self.clock(), user, comment or "cleared by operator")
            self._last_level[parameter] = 0

    def tick(self, now_ns: int | None = None) -> None:
        """End the shelves whose time ran out (the processor calls this periodically)."""
        now = self.clock() if now_ns is None else now_ns
        with self._lock:
            for alarm in list(self._alarms.values()):
                if alarm.shelved_until_ns is not None and alarm.shelved_until_ns <= now:
                    self._unshelve(alarm, now, None, "shelve expired")

    # -- internals -----------------------------------------------------------------------

    def _unshelve(self, alarm: Alarm, t: int, user: str | None, comment: str) -> None:
        if alarm.shelved_until_ns is None:
            return
        alarm.shelved_until_ns = None
        if alarm.level == AlarmLevel.NORMAL and alarm.acknowledged:
            self._remove(alarm, t, user, comment)
        else:
            self._record(alarm, "triggered" if alarm.level else "normal", user, comment, t)

    def _remove(self, alarm: Alarm, t: int, user: str | None, comment: str) -> None:
        self._alarms.pop(alarm.parameter, None)
        alarm.shelved_until_ns = None
        self._record(alarm, "cleared", user, comment, t)

    def _record(
        self,
        alarm: Alarm,
        state: str,
        user: str | None = None,
        comment: str | None = None,
        t: int | None = None,
    ) -> None:
        rec = AlarmRecord(
            time_ns=alarm.time_ns if t is None else t,
            parameter=alarm.parameter,
            level=(alarm.level if state != "cleared" else alarm.max_level).name,
            value=str(alarm.value),
            state=state,
            user=user,
            comment=comment,
        )
        self.records.append(rec)
        if len(self.records) > 10_000:
            del self.records[:1000]
        if self.archive is not None:
            self.archive.append_alarm(rec)
        if self.bus is not None and (not alarm.shelved or state == "shelved"):
            self.bus.publish(ALARMS_TOPIC, rec)
