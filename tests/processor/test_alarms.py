"""Alarm lifecycle: triggered, escalated, acknowledged, shelved, cleared, back to normal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falak.archive import open_archive
from falak.bus import Bus
from falak.errors import InputError
from falak.processor import ALARMS_TOPIC, AlarmManager

P = "/TESTSAT/BATT_V"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_000_000

    def __call__(self) -> int:
        return self.now


def feed(m: AlarmManager, clock: Clock, levels: list[int], values: list[float]) -> int:
    """Samples 1 ns apart from the clock's time (then the clock moves past them)."""
    t0 = clock.now
    m.observe(
        P,
        t0 + np.arange(len(levels), dtype=np.int64),
        np.asarray(levels, np.uint8),
        np.asarray(values),
    )
    clock.now += len(levels) + 1
    return t0


def test_lifecycle_is_archived_and_published(tmp_path: Path) -> None:
    clock = Clock()
    bus = Bus()
    sub = bus.subscribe([ALARMS_TOPIC])
    with open_archive(tmp_path / "a") as archive:
        m = AlarmManager(archive, bus, clock=clock)
        # WARNING (2), escalates to CRITICAL (4), back to NORMAL: unacknowledged, stays listed
        t0 = feed(m, clock, [0, 2, 2, 4, 0], [7.4, 8.5, 8.5, 9.0, 7.4])
        alarm = m.get(P)
        assert alarm is not None
        assert (alarm.state, alarm.max_level.name) == ("normal", "CRITICAL")
        assert alarm.trigger_time_ns == t0 + 1
        # acknowledging an alarm that is back to normal clears it
        m.acknowledge(P, "ana", "battery test, expected")
        assert m.get(P) is None
        # a new alarm, acknowledged, then escalating: needs a new acknowledgement
        feed(m, clock, [2], [8.5])
        m.acknowledge(P, "ana", "watching it")
        assert m.get(P).state == "acknowledged"  # type: ignore[union-attr]
        feed(m, clock, [4], [9.0])
        assert m.get(P).state == "triggered"  # type: ignore[union-attr]
        # shelved for 10 s: changes archived, not announced; expiry announces it again
        m.shelve(P, "ben", "known sensor glitch", 10.0)
        assert m.get(P).state == "shelved"  # type: ignore[union-attr]
        before = len(sub.drain())
        feed(m, clock, [0, 2], [7.4, 8.5])
        assert sub.drain() == []
        clock.now += 9_000_000_000
        m.tick()
        assert m.get(P).state == "shelved"  # type: ignore[union-attr]
        clock.now += 2_000_000_000
        m.tick()
        assert m.get(P).state == "triggered"  # type: ignore[union-attr]
        # an operator clears it while still out of limits: the next sample starts a new one
        m.clear(P, "ben", "reset")
        assert m.get(P) is None
        t1 = feed(m, clock, [2], [8.5])
        assert m.get(P).trigger_time_ns == t1  # type: ignore[union-attr]
        # acknowledged, then back to normal: cleared
        m.acknowledge(P, "ana", "ok")
        feed(m, clock, [0], [7.4])
        assert m.active() == []
        records = archive.read_alarms()
    states = [(r.state, r.level, r.user) for r in records]
    assert states == [
        ("triggered", "WARNING", None),
        ("triggered", "CRITICAL", None),
        ("normal", "NORMAL", None),
        ("acknowledged", "NORMAL", "ana"),
        ("cleared", "CRITICAL", "ana"),
        ("triggered", "WARNING", None),
        ("acknowledged", "WARNING", "ana"),
        ("triggered", "CRITICAL", None),
        ("shelved", "CRITICAL", "ben"),
        ("normal", "NORMAL", None),  # not announced while shelved, but archived
        ("triggered", "WARNING", None),  # not announced either
        ("triggered", "WARNING", None),  # shelve expired
        ("cleared", "CRITICAL", "ben"),
        ("triggered", "WARNING", None),
        ("acknowledged", "WARNING", "ana"),
        ("normal", "NORMAL", None),
        ("cleared", "WARNING", None),
    ]
    assert records[3].comment == "battery test, expected"
    assert records[11].comment == "shelve expired"
    published = [d.payload.state for d in sub.drain()]
    assert before == 9
    assert published == ["triggered", "cleared", "triggered", "acknowledged", "normal", "cleared"]


def test_actions_on_unknown_alarm_and_bad_shelve_are_refused() -> None:
    m = AlarmManager()
    with pytest.raises(InputError, match=r"no active alarm for '/X'; active alarms: none"):
        m.acknowledge("/X", "ana")
    feed(m, Clock(), [2], [8.5])
    with pytest.raises(InputError, match="shelve duration must be > 0 s"):
        m.shelve(P, "ana", "", 0)
