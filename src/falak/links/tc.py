"""Telecommand uplinks: send command packets over UDP or TCP, after a configurable delay.

The delay models propagation: a lunar link holds each packet about 1.28 s (the one-way light
time Earth–Moon, 384 400 km / 299 792.458 km/s) before it leaves, so the spacecraft receives
it that long after release. Packets keep their order; :meth:`TcUplink.send` never blocks on
the delay: it returns the release time and a sender thread puts the packet on the wire at
``release + delay``.

Release times and the delay are on the uplink's ``clock`` (:mod:`falak.clock`; default real
time): in a simulated run at ``speed`` N the release time is the run's simulated UTC and a
delay of ``delay_s`` simulated seconds holds the packet ``delay_s / N`` host seconds.

URL forms for :func:`open_uplink` (``delay_s=SECONDS`` may be added as a query parameter):

* ``udp://HOST:PORT`` — one datagram per packet;
* ``tcp://HOST:PORT`` — a stream of packets to a listening spacecraft/simulator (connects on
  first send, reconnects after an error).
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from falak.clock import Clock, as_clock, host_seconds_until
from falak.errors import InputError

__all__ = ["TcUplink", "TcpUplink", "UdpUplink", "UplinkStats", "open_uplink"]

_FORMS = "udp://HOST:PORT[?delay_s=S] or tcp://HOST:PORT[?delay_s=S]"


@dataclass(frozen=True)
class UplinkStats:
    """Counters of an uplink."""

    name: str
    url: str
    delay_s: float
    queued: int
    """Packets released and waiting for their delay to pass."""
    sent: int
    bytes_sent: int
    errors: int
    last_error: str | None
    last_sent_ns: int | None


class TcUplink(ABC):
    """A telecommand uplink with a fixed one-way delay (seconds of its ``clock``)."""

    def __init__(self, name: str, *, delay_s: float = 0.0, clock: Clock | None = None) -> None:
        if not 0.0 <= delay_s <= 3600.0:
            raise InputError(f"uplink delay must be within 0..3600 s, got {delay_s}")
        self.name = name
        self.delay_s = float(delay_s)
        self.clock = as_clock(clock)
        """Release times and the delay are on this clock (default: real time)."""
        self._heap: list[tuple[int, int, bytes]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._sent = 0
        self._inflight = 0  # popped from the queue, not yet counted as sent or failed
        self._bytes = 0
        self._errors = 0
        self._last_error: str | None = None
        self._last_sent_ns: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"uplink-{name}", daemon=True)
        self._thread.start()

    @property
    @abstractmethod
    def url(self) -> str:
        """Where packets go."""

    @abstractmethod
    def _transmit(self, data: bytes) -> None:
        """Put one packet on the wire (raise OSError on failure)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.url} delay {self.delay_s:g} s>"

    def send(self, data: bytes) -> int:
        """Release a packet; return the release time (ns since the Unix epoch, UTC).

        The packet leaves ``delay_s`` later. Raises :class:`InputError` once closed.
        """
        now = self.clock.now_ns()
        with self._cond:
            if self._closed:
                raise InputError(f"uplink {self.name} is closed")
            due = now + round(self.delay_s * 1e9)
            heapq.heappush(self._heap, (due, next(self._order), bytes(data)))
            self._cond.notify()
        return now

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    not self._heap or self._heap[0][0] > self.clock.now_ns()
                ):
                    due = self._heap[0][0] if self._heap else None
                    wait = 0.5 if due is None else host_seconds_until(self.clock, due)
                    self._cond.wait(min(wait, 0.5))
                if self._closed:
                    return
                _due, _n, data = heapq.heappop(self._heap)
                self._inflight += 1
            try:
                self._transmit(data)
            except OSError as exc:
                with self._cond:
                    self._inflight -= 1
                    self._errors += 1
                    self._last_error = str(exc)
            else:
                with self._cond:
                    self._inflight -= 1
                    self._sent += 1
                    self._bytes += len(data)
                    self._last_sent_ns = self.clock.now_ns()

    def stats(self) -> UplinkStats:
        """Counters so far."""
        with self._cond:
            return UplinkStats(
                self.name,
                self.url,
                self.delay_s,
                len(self._heap),
                self._sent,
                self._bytes,
                self._errors,
                self._last_error,
                self._last_sent_ns,
            )

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every released packet has left (up to ``timeout_s``); True if it did."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._cond:
                if not self._heap and not self._inflight:
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Stop the sender (packets still waiting for their delay are dropped and counted as
        errors) and close the socket."""
        with self._cond:
            self._closed = True
            dropped = len(self._heap)
            self._heap.clear()
            self._cond.notify_all()
        if dropped:
            self._errors += dropped
            self._last_error = f"{dropped} packet(s) dropped at close"
        self._thread.join(2.0)
        self._close_socket()

    def _close_socket(self) -> None:
        return None


class UdpUplink(TcUplink):
    """Send each packet as one UDP datagram to ``host:port``."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        delay_s: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            super().__init__(name, delay_s=delay_s, clock=clock)
        except InputError:
            self._sock.close()
            raise

    @property
    def url(self) -> str:
        return f"udp://{self.host}:{self.port}"

    def _transmit(self, data: bytes) -> None:
        self._sock.sendto(data, (self.host, self.port))

    def _close_socket(self) -> None:
        self._sock.close()


class TcpUplink(TcUplink):
    """Send packets over one TCP connection to ``host:port`` (connects when needed)."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        delay_s: float = 0.0,
        timeout_s: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        super().__init__(name, delay_s=delay_s, clock=clock)

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def _transmit(self, data: bytes) -> None:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), self.timeout_s)
        try:
            self._sock.sendall(data)
        except OSError:
            self._sock.close()
            self._sock = None
            raise

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def open_uplink(
    url: str,
    name: str | None = None,
    *,
    delay_s: float | None = None,
    clock: Clock | None = None,
) -> TcUplink:
    """Build an uplink from a URL (see the module doc); ``delay_s`` overrides the URL's.

    ``clock`` keeps release times and the delay (:mod:`falak.clock`; default: real time).
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    if scheme not in ("udp", "tcp"):
        raise InputError(f"unknown uplink URL {url!r}; use {_FORMS}")
    try:
        port = parts.port
        delay = float(query.pop("delay_s", "0")) if delay_s is None else delay_s
    except ValueError as exc:
        raise InputError(f"bad uplink URL {url!r}: {exc}; use {_FORMS}") from None
    if port is None or not parts.hostname:
        raise InputError(f"uplink URL {url!r} needs a host and a port; use {_FORMS}")
    if query:
        raise InputError(
            f"unknown option(s) {', '.join(sorted(query))} in uplink URL {url!r}; allowed: delay_s"
        )
    link_name = name or f"{scheme}-uplink"
    if scheme == "udp":
        return UdpUplink(link_name, parts.hostname, port, delay_s=delay, clock=clock)
    return TcpUplink(link_name, parts.hostname, port, delay_s=delay, clock=clock)
