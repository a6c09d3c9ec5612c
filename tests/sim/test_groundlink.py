"""falak.sim.groundlink: realtime only in contact, the recorder out of it, dumps at contact start.

A fake model gives windows every 600 s lasting 120 s (light time 0.1 s) and the test drives
simulated time and the host clock by hand.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from falak.sim.groundlink import GroundLink
from falak.sim.model import ContactWindow
from falak.sim.recorder import Recorder

S = 1_000_000_000
EPOCH = 1_694_131_200 * S  # 2023-09-08T00:00:00Z
PERIOD_S, DURATION_S, LIGHT_S = 600, 120, 0.1


def windows(start_ns: int, stop_ns: int) -> list[ContactWindow]:
    k0 = max(0, (start_ns - EPOCH) // (PERIOD_S * S) - 1)
    out = []
    k = k0
    while EPOCH + k * PERIOD_S * S < stop_ns:
        a = EPOCH + k * PERIOD_S * S
        w = ContactWindow(a, a + DURATION_S * S, "Karachi", LIGHT_S)
        if w.stop_ns > start_ns:
            out.append(w)
        k += 1
    return out


class Host:
    """A host monotonic clock the test advances."""

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


Sent = list[tuple[int, bytes]]


def _link(capacity: int = 1 << 20, pace: float = 2.0) -> tuple[GroundLink, Sent, Sent, Host]:
    realtime: list[tuple[int, bytes]] = []
    playback: list[tuple[int, bytes]] = []
    host = Host()
    now = {"ns": 0}
    link = GroundLink(
        windows,
        Recorder(capacity),
        lambda b: realtime.append((now["ns"], b)),
        lambda b: playback.append((now["ns"], b)),
        playback_packets_per_ms=pace,
        horizon_s=3600,
        host_ns=host,
    )
    link.now = now  # type: ignore[attr-defined]
    return link, realtime, playback, host


def _run(
    link: GroundLink,
    host: Host,
    t0_s: float,
    t1_s: float,
    step_s: float,
    make: Callable[[float], bytes] | None = None,
) -> tuple[list[bytes], list[bytes]]:
    """Step simulated time from t0 to t1 (host 100 ms per step), generating a packet each step."""
    t = t0_s
    made: list[bytes] = []
    tcs: list[bytes] = []
    while t < t1_s:
        now = EPOCH + round(t * S)
        link.now["ns"] = now  # type: ignore[attr-defined]
        if make is not None:
            p = make(t)
            made.append(p)
            link.downlink(p, now)
        tcs.extend(link.poll(now))
        host.ns += 100_000_000
        t += step_s
    return made, tcs


def _in_window(t_ns: int, slack_s: float = 0.0) -> bool:
    """Inside a window, or up to ``slack_s`` after its end (a packet in flight)."""
    return any(w.start_ns <= t_ns < w.stop_ns + slack_s * S for w in windows(t_ns - S, t_ns + S))


def test_out_of_contact_packets_reach_playback_at_the_next_contact() -> None:
    link, realtime, playback, host = _link()
    made, _ = _run(link, host, 0, 1300, 1.0, make=lambda t: f"pkt {t:.0f}".encode())
    # realtime: exactly the packets generated inside a window, each one light time later
    inside = [p for p in made if _in_window(EPOCH + int(p.split()[1]) * S)]
    outside = [p for p in made if p not in inside]
    got_rt = [b for _, b in realtime]
    assert got_rt == inside[: len(got_rt)]
    assert len(inside) - len(got_rt) == 1  # the last one is still in flight (0.1 s)
    for t_ns, b in realtime:
        gen_ns = EPOCH + int(b.split()[1]) * S
        assert t_ns >= gen_ns + LIGHT_S * S
        assert _in_window(t_ns, slack_s=LIGHT_S + 1)
    # the recorder dump: the gap 120..600 s arrives at the contact at 600 s, oldest first,
    # byte for byte; the gap 720..1200 s at 1200 s
    got_pb = [b for _, b in playback]
    assert got_pb == outside
    for t_ns, _ in playback:
        assert _in_window(t_ns)
    assert link.counters.dumped == len(outside) == link.counters.recorded
    assert link.counters.sent_realtime == len(realtime)
    assert len(link.recorder) == 0


def test_nothing_is_sent_outside_windows() -> None:
    link, realtime, playback, host = _link()
    _run(link, host, 130, 590, 0.5, make=lambda t: b"x" * 10)
    assert realtime == []
    assert playback == []
    assert link.counters.recorded == len(link.recorder) == 920
    assert not link.in_contact


def test_dump_is_paced() -> None:
    link, _realtime, _playback, host = _link(pace=2.0)
    _run(link, host, 130, 590, 1.0, make=lambda t: b"y" * 20)  # 460 packets recorded
    n = len(link.recorder)
    sent_per_poll = []
    for k in range(400):
        before = link.counters.dumped
        link.poll(EPOCH + 600 * S + k * S // 10)  # inside the window that starts at 600 s
        host.ns += 1_000_000  # 1 ms per poll: 2 packets per poll at 2 packets/ms
        sent_per_poll.append(link.counters.dumped - before)
    assert link.counters.dumped == n
    assert max(sent_per_poll) <= 2
    assert link.playback_pending == 0


def test_telecommands_only_in_contact_after_the_light_time() -> None:
    link, _, _, _host = _link()
    assert link.uplink(b"tc-in", EPOCH + 10 * S)
    assert link.poll(EPOCH + 10 * S) == []  # still on its way
    assert link.poll(EPOCH + 10 * S + int(LIGHT_S * S)) == [b"tc-in"]
    assert not link.uplink(b"tc-out", EPOCH + 300 * S)  # between contacts: not heard
    assert link.poll(EPOCH + 301 * S) == []
    assert link.counters.tc_dropped_out_of_contact == 1
    assert link.counters.tc_delivered == 1


def test_recorder_overflow_is_counted_and_the_rest_dumped() -> None:
    link, _, playback, host = _link(capacity=100)
    _run(link, host, 130, 150, 1.0, make=lambda t: b"%09d" % int(t))  # 20 packets of 9 bytes
    assert link.recorder.overwritten_packets == 9  # 11 fit in 100 bytes
    _run(link, host, 600, 620, 1.0)
    assert [b for _, b in playback] == [b"%09d" % t for t in range(139, 150)]


def test_overlapping_windows_of_one_station_merge() -> None:
    link, _, _, _ = _link()
    link.window_at(EPOCH)
    link.window_at(EPOCH + 2000 * S)  # asks for more windows, overlapping the first answer
    starts = [w.start_ns for w in link.windows]
    assert starts == sorted(set(starts))


def test_pace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="playback pace must be > 0 packets per ms; got 0"):
        GroundLink(windows, Recorder(10), print, print, playback_packets_per_ms=0)
