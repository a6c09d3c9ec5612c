"""What every telemetry link shares: received batches, reception times, counters, rates.

Links run in threads (not asyncio): each link owns one thread that blocks on its socket or
file and hands each :class:`ReceivedBatch` to a *sink* (a callable; the processor's queue).
Threads keep blocking socket code simple and let the asyncio server of a later issue host the
processor unchanged (it calls ``start``/``stop`` and reads :meth:`Link.stats`).

Reception times are int64 ns since the Unix epoch (UTC) and strictly increase per link: the
packets of one datagram or chunk get consecutive nanoseconds, and a time equal to or before
the previous one is bumped to previous + 1 ns, so archive rows keyed by (link, time) never
collide. They are read from the link's ``clock`` (:mod:`falak.clock`; default real time): in a
simulated run at ``speed`` N, the run's simulated UTC, so they compare with the simulator's
contact windows and with the server's view of time. Packet and byte rates are per host
second (what the socket and the machine carry).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from falak.ccsds.spacepacket import (
    IDLE_APID,
    MIN_PACKET_BYTES,
    REJECT_REASONS,
    SkippedRange,
    split_packets,
)
from falak.clock import Clock, as_clock

__all__ = [
    "Link",
    "LinkStats",
    "RateMeter",
    "ReceivedBatch",
    "RejectedRange",
    "Sink",
    "split_datagrams",
]


@dataclass(frozen=True)
class RejectedRange:
    """Bytes ``data[start:stop]`` of a batch that are in no packet, with the splitter's reason."""

    start: int
    stop: int
    reason: str
    recv_time_ns: int


@dataclass
class ReceivedBatch:
    """Packets received by one link: ``data[offsets[i] : offsets[i] + lengths[i]]``.

    ``recv_time_ns`` holds one strictly increasing reception time per packet. ``rejected``
    lists byte ranges of ``data`` that the splitter rejected (they are archived as such).
    """

    link: str
    data: NDArray[np.uint8]
    offsets: NDArray[np.int64]
    lengths: NDArray[np.int64]
    recv_time_ns: NDArray[np.int64]
    rejected: list[RejectedRange] = field(default_factory=list)

    @property
    def n_packets(self) -> int:
        """Number of packets in the batch."""
        return int(self.offsets.size)

    @property
    def n_bytes(self) -> int:
        """Bytes in the batch's packets."""
        return int(self.lengths.sum())

    def compact(self) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """Return the packets back to back (new data) and their offsets in it."""
        n = self.n_packets
        if n == 0:
            return np.zeros(0, np.uint8), np.zeros(0, np.int64)
        new_off = np.zeros(n, dtype=np.int64)
        np.cumsum(self.lengths[:-1], out=new_off[1:])
        total = int(new_off[-1] + self.lengths[-1])
        if (
            total == self.data.size
            and int(self.offsets[0]) == 0
            and np.array_equal(self.offsets, new_off)
        ):
            return self.data, self.offsets
        src = np.repeat(self.offsets - new_off, self.lengths) + np.arange(total)
        return self.data[src], new_off


Sink = Callable[[ReceivedBatch], None]


class RateMeter:
    """Packets/s and bytes/s over a sliding window of ``window_s`` seconds."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_ns = int(window_s * 1e9)
        self._events: deque[tuple[int, int, int]] = deque()
        self._packets = 0
        self._bytes = 0

    def add(self, t_ns: int, packets: int, nbytes: int) -> None:
        """Record ``packets`` and ``nbytes`` received at ``t_ns``."""
        self._events.append((t_ns, packets, nbytes))
        self._packets += packets
        self._bytes += nbytes
        self._trim(t_ns)

    def _trim(self, now_ns: int) -> None:
        limit = now_ns - self.window_ns
        while self._events and self._events[0][0] < limit:
            _, p, b = self._events.popleft()
            self._packets -= p
            self._bytes -= b

    def rates(self, now_ns: int | None = None) -> tuple[float, float]:
        """Return (packets/s, bytes/s) over the window ending at ``now_ns``."""
        now = time.time_ns() if now_ns is None else now_ns
        self._trim(now)
        seconds = self.window_ns / 1e9
        return self._packets / seconds, self._bytes / seconds


@dataclass(frozen=True)
class LinkStats:
    """A snapshot of a link's counters (what operators ask for)."""

    name: str
    url: str
    enabled: bool
    state: str
    packets: int
    bytes: int
    packets_per_s: float
    bytes_per_s: float
    rejected: dict[str, int]
    rejected_bytes: dict[str, int]
    last_reception_ns: int | None
    discarded_disabled: int
    """Packets received while the link was disabled (not passed on)."""
    connections: int = 0
    """TCP: connections established so far."""


class Link(ABC):
    """A telemetry source running in its own thread; see the module doc for reception times."""

    def __init__(
        self,
        name: str,
        *,
        prefix_bytes: int = 0,
        lenient_version: bool = False,
        rate_window_s: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.clock = as_clock(clock)
        """Where reception times come from (default: real time)."""
        self.prefix_bytes = prefix_bytes
        self.lenient_version = lenient_version
        self._sink: Sink | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._enabled = True
        self._lock = threading.Lock()
        self._last_ns = 0
        self._packets = 0
        self._bytes = 0
        self._discarded = 0
        self._rejected = dict.fromkeys(REJECT_REASONS, 0)
        self._rejected_bytes = dict.fromkeys(REJECT_REASONS, 0)
        self._meter = RateMeter(rate_window_s)
        self.state = "stopped"
        self.connections = 0

    @property
    @abstractmethod
    def url(self) -> str:
        """The link's address as a URL (``udp://host:port``, ``tcp://...``, ``file://...``)."""

    @abstractmethod
    def _run(self) -> None:
        """Receive until ``self._stop`` is set (runs in the link thread)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.url} {self.state}>"

    # -- control --------------------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        """Start receiving in a daemon thread; each batch goes to ``sink``."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._sink = sink
        self._stop.clear()
        self._thread = threading.Thread(target=self._guarded_run, name=f"link-{self.name}")
        self._thread.daemon = True
        self._thread.start()

    def _guarded_run(self) -> None:
        try:
            self._run()
        finally:
            if self.state not in ("done", "failed"):
                self.state = "stopped"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving and wait for the link thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the link thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def enabled(self) -> bool:
        """A disabled link keeps its socket but discards (and counts) what it receives."""
        return self._enabled

    def enable(self) -> None:
        """Pass received packets on again."""
        self._enabled = True

    def disable(self) -> None:
        """Discard received packets (counted in ``discarded_disabled``) until enabled."""
        self._enabled = False

    # -- counters -------------------------------------------------------------------------

    def stats(self) -> LinkStats:
        """Return a snapshot of the counters; rates are over the sliding window."""
        with self._lock:
            pps, bps = self._meter.rates()
            return LinkStats(
                name=self.name,
                url=self.url,
                enabled=self._enabled,
                state=self.state,
                packets=self._packets,
                bytes=self._bytes,
                packets_per_s=pps,
                bytes_per_s=bps,
                rejected=dict(self._rejected),
                rejected_bytes=dict(self._rejected_bytes),
                last_reception_ns=self._last_ns or None,
                discarded_disabled=self._discarded,
                connections=self.connections,
            )

    # -- for subclasses -------------------------------------------------------------------

    def _stamp(self, n: int) -> NDArray[np.int64]:
        """Return ``n`` strictly increasing reception times (ns) after the previous ones."""
        now = self.clock.now_ns()
        first = max(now, self._last_ns + 1)
        times = first + np.arange(max(n, 1), dtype=np.int64)
        self._last_ns = int(times[-1])
        return times[:n]

    def _emit(
        self,
        data: NDArray[np.uint8],
        offsets: NDArray[np.int64],
        lengths: NDArray[np.int64],
        skipped: list[SkippedRange],
    ) -> None:
        """Count and pass on packets ``offsets``/``lengths`` of ``data`` and rejected ranges.

        ``skipped`` ranges are offsets into ``data``.
        """
        n = int(offsets.size)
        if n == 0 and not skipped:
            return
        with self._lock:
            times = self._stamp(n)
            t0 = int(times[0]) if n else self._last_ns
            if not self._enabled:
                self._discarded += n
                return
            nbytes = int(lengths.sum()) if n else 0
            self._packets += n
            self._bytes += nbytes
            self._meter.add(time.time_ns(), n, nbytes)
            rejected = []
            for r in skipped:
                self._rejected[r.reason] += 1
                self._rejected_bytes[r.reason] += r.stop - r.start
                rejected.append(RejectedRange(r.start, r.stop, r.reason, t0))
        if self._sink is not None:
            self._sink(
                ReceivedBatch(
                    self.name,
                    data,
                    offsets.astype(np.int64, copy=False),
                    lengths.astype(np.int64, copy=False),
                    times,
                    rejected,
                )
            )


def split_datagrams(
    data: NDArray[np.uint8],
    starts: NDArray[np.int64],
    sizes: NDArray[np.int64],
    *,
    prefix_bytes: int = 0,
    lenient_version: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[SkippedRange]]:
    """Find the packets in datagrams ``data[starts[i] : starts[i] + sizes[i]]``.

    A datagram that holds exactly one packet (prefix included) whose length field matches is
    taken as is, in one vectorised check; any other is split on its own with
    :func:`~falak.ccsds.spacepacket.split_packets` (several packets, garbage, truncation), so
    one bad datagram never affects the next. Returns packet offsets and lengths into ``data``
    and the rejected ranges (offsets into ``data``), in datagram order.
    """
    n = int(starts.size)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), []
    h = starts + prefix_bytes
    fits = sizes >= prefix_bytes + MIN_PACKET_BYTES
    hs = np.where(fits, h, 0)
    b0 = data[hs].astype(np.int64)
    apid = ((b0 & 7) << 8) | data[hs + 1].astype(np.int64)
    total = ((data[hs + 4].astype(np.int64) << 8) | data[hs + 5].astype(np.int64)) + 7
    good = fits & (total == sizes - prefix_bytes) & (apid != IDLE_APID)
    if not lenient_version:
        good &= (b0 >> 5) == 0
    if good.all():
        return h.astype(np.int64), total.astype(np.int64), []
    offs: list[NDArray[np.int64]] = []
    lens: list[NDArray[np.int64]] = []
    skipped: list[SkippedRange] = []
    for i in range(n):
        s = int(starts[i])
        if good[i]:
            offs.append(h[i : i + 1])
            lens.append(total[i : i + 1])
            continue
        res = split_packets(
            data[s : s + int(sizes[i])],
            prefix_bytes=prefix_bytes,
            lenient_version=lenient_version,
        )
        offs.append(res.offsets + s)
        lens.append(res.lengths)
        skipped.extend(SkippedRange(r.start + s, r.stop + s, r.reason) for r in res.skipped)
    return np.concatenate(offs), np.concatenate(lens), skipped
