"""The ground-station link of a simulated spacecraft: contacts, light time, recorder, playback.

Inside a contact window (:meth:`falak.sim.model.SpacecraftModel.contact_windows`) telemetry
goes down the **realtime** link and reaches the ground one light time after it was
generated; outside, it goes to the on-board :class:`~falak.sim.recorder.Recorder`. When a
contact starts, the recorder is dumped byte for byte on the **playback** link (the analogue
of a playback virtual channel), oldest first, paced at ``playback_packets_per_ms`` host
packets per millisecond so that a burst does not overflow the ground's socket buffer; a dump
cut short by the end of the contact goes on at the next one. Telecommands are heard only
inside a window and reach the spacecraft one light time after the ground sent them; outside,
they are dropped and counted (a spacecraft does not hear them).

The link has no sockets and no clock of its own: the runner (:mod:`falak.sim.spacecraft`)
gives it simulated now at every :meth:`GroundLink.poll` and the functions that send, so it
can be tested in simulated time alone.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from falak.sim.model import ContactWindow
from falak.sim.recorder import Recorder

__all__ = ["GroundLink", "LinkCounters"]

_NS = 1_000_000_000


@dataclass
class LinkCounters:
    """What went over the link (the status file's numbers)."""

    sent_realtime: int = 0
    dumped: int = 0
    recorded: int = 0
    tc_delivered: int = 0
    tc_dropped_out_of_contact: int = 0


@dataclass(order=True)
class _Due:
    due_ns: int
    order: int
    data: bytes = field(compare=False)


class GroundLink:
    """Route telemetry and telecommands as a ground-station link does (see the module doc).

    Parameters
    ----------
    windows
        ``(start_ns, stop_ns) -> [ContactWindow]``, usually the model's ``contact_windows``.
    recorder
        The on-board recorder for packets generated out of contact.
    send_realtime, send_playback
        Called with each packet as it reaches the ground (realtime and playback links).
    playback_packets_per_ms
        Pace of a recorder dump, packets per host millisecond.
    horizon_s
        Simulated seconds of contact windows asked for at a time.
    host_ns
        The host's monotonic clock (pacing), injectable for tests.
    """

    def __init__(
        self,
        windows: Callable[[int, int], list[ContactWindow]],
        recorder: Recorder,
        send_realtime: Callable[[bytes], object],
        send_playback: Callable[[bytes], object],
        *,
        playback_packets_per_ms: float = 5.0,
        horizon_s: float = 86_400.0,
        host_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if not playback_packets_per_ms > 0:
            msg = f"playback pace must be > 0 packets per ms; got {playback_packets_per_ms!r}"
            raise ValueError(msg)
        self._windows_of = windows
        self.recorder = recorder
        self._send_realtime = send_realtime
        self._send_playback = send_playback
        self.pace_per_ms = float(playback_packets_per_ms)
        self.horizon_ns = int(horizon_s * _NS)
        self._host_ns = host_ns
        self.counters = LinkCounters()
        self.windows: list[ContactWindow] = []
        self._known_until_ns: int | None = None
        self._realtime: list[_Due] = []
        self._uplink: list[_Due] = []
        self._playback: deque[bytes] = deque()
        self._order = 0
        self._was_in_contact = False
        self._playback_from_ns = 0
        self._budget = 0.0
        self._last_host_ns: int | None = None

    # -- contact windows ----------------------------------------------------------------------

    def _ensure_windows(self, now_ns: int) -> None:
        if (
            self._known_until_ns is not None
            and now_ns + self.horizon_ns // 2 < self._known_until_ns
        ):
            return
        start = now_ns if self._known_until_ns is None else self._known_until_ns
        stop = now_ns + self.horizon_ns
        for w in self._windows_of(start, stop):
            self._add_window(w)
        self._known_until_ns = stop

    def _add_window(self, w: ContactWindow) -> None:
        """Add a window, merging it with a known one of the same station it overlaps."""
        for i, old in enumerate(self.windows):
            if old.via == w.via and w.start_ns <= old.stop_ns and old.start_ns <= w.stop_ns:
                self.windows[i] = ContactWindow(
                    min(old.start_ns, w.start_ns),
                    max(old.stop_ns, w.stop_ns),
                    old.via,
                    old.light_time_s,
                )
                return
        self.windows.append(w)
        self.windows.sort(key=lambda x: x.start_ns)

    def window_at(self, now_ns: int) -> ContactWindow | None:
        """Return the window the spacecraft is in at ``now_ns`` (shortest light time), or None."""
        self._ensure_windows(now_ns)
        inside = [w for w in self.windows if w.start_ns <= now_ns < w.stop_ns]
        return min(inside, key=lambda w: w.light_time_s) if inside else None

    # -- traffic ------------------------------------------------------------------------------

    def _push(self, heap: list[_Due], due_ns: int, data: bytes) -> None:
        self._order += 1
        heapq.heappush(heap, _Due(due_ns, self._order, data))

    def downlink(self, packet: bytes, now_ns: int) -> bool:
        """Send a packet generated at ``now_ns``: realtime in contact, else record it.

        Returns True when it went realtime.
        """
        w = self.window_at(now_ns)
        if w is None:
            self.recorder.record(packet)
            self.counters.recorded += 1
            return False
        self._push(self._realtime, now_ns + round(w.light_time_s * _NS), packet)
        return True

    def uplink(self, packet: bytes, now_ns: int) -> bool:
        """Take a telecommand the ground sent at ``now_ns``; False (dropped) out of contact."""
        w = self.window_at(now_ns)
        if w is None:
            self.counters.tc_dropped_out_of_contact += 1
            return False
        self._push(self._uplink, now_ns + round(w.light_time_s * _NS), packet)
        return True

    def poll(self, now_ns: int) -> list[bytes]:
        """Deliver what is due by ``now_ns``; return the telecommands that reach the spacecraft.

        Sends due realtime packets, starts a recorder dump when a contact begins and sends
        the next paced part of a dump in progress.
        """
        while self._realtime and self._realtime[0].due_ns <= now_ns:
            self._send_realtime(heapq.heappop(self._realtime).data)
            self.counters.sent_realtime += 1
        w = self.window_at(now_ns)
        in_contact = w is not None
        if w is not None and not self._was_in_contact:
            # the dump starts when the ground hears the spacecraft: after the light time
            self._playback_from_ns = now_ns + round(w.light_time_s * _NS)
            self._playback.extend(self.recorder.dump())
        self._was_in_contact = in_contact
        host = self._host_ns()
        if self._last_host_ns is not None:
            self._budget += (host - self._last_host_ns) / 1e6 * self.pace_per_ms
        self._last_host_ns = host
        if in_contact and self._playback and now_ns >= self._playback_from_ns:
            n = min(len(self._playback), max(1, int(self._budget)))
            for _ in range(n):
                self._send_playback(self._playback.popleft())
            self.counters.dumped += n
            # at most 100 ms of pace saved up: a slow poll does not become one big burst
            self._budget = min(max(self._budget - n, 0.0), 100.0 * self.pace_per_ms)
        else:
            self._budget = 0.0
        out: list[bytes] = []
        while self._uplink and self._uplink[0].due_ns <= now_ns:
            out.append(heapq.heappop(self._uplink).data)
        self.counters.tc_delivered += len(out)
        return out

    @property
    def in_contact(self) -> bool:
        """Whether the last poll was inside a contact window."""
        return self._was_in_contact

    @property
    def playback_pending(self) -> int:
        """Packets taken from the recorder for a dump and not sent yet."""
        return len(self._playback)

    def flush(self) -> None:
        """Send the realtime packets still in flight (at a clean stop)."""
        while self._realtime:
            self._send_realtime(heapq.heappop(self._realtime).data)
            self.counters.sent_realtime += 1
