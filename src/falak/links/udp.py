"""UDP telemetry link: each datagram holds one or more CCSDS space packets.

The link binds ``host:port``, drains every datagram waiting in the socket (up to
``max_batch`` at a time) and passes them on as one batch: a datagram holding exactly one
packet is accepted in a vectorised check, any other is split on its own (CCSDS 133.0-B-2
length fields; garbage and truncation counted by reason).
"""

from __future__ import annotations

import socket
import sys
import time

import numpy as np

from falak.clock import Clock
from falak.links.base import Link, split_datagrams

__all__ = ["UdpLink"]

_MAX_DATAGRAM = 65_535
_SO_RCVBUFFORCE = 33
"""Linux ``SO_RCVBUFFORCE`` (asm-generic/socket.h); Python's socket module does not export it."""
_BUFFER_BYTES = 4 << 20
"""Datagrams drained in one go share this buffer (at least 64 of the largest size)."""


class UdpLink(Link):
    """Receive CCSDS packets in UDP datagrams sent to ``host:port`` (port 0: any free port).

    ``recv_buffer_bytes`` sizes the kernel receive buffer so bursts are not lost while the
    thread hands a batch on (SO_RCVBUFFORCE when permitted, else SO_RCVBUF, which the kernel
    caps at ``net.core.rmem_max``).

    ``max_rate`` (datagrams per host second; URL option ``max_rate``) is the most the link
    reads: a ground-station link has a known rate, and a flood beyond it (a stuck sender, a
    misrouted stream) then costs this server no more CPU than the link's rate, so the
    spacecraft beside it keep their latency. What the link does not read waits in the
    kernel's buffer and, once that is full, is dropped by the kernel and counted there
    (``kernel_drops`` of ``GET /links``). None: no limit.
    """

    def __init__(
        self,
        name: str,
        host: str = "0.0.0.0",
        port: int = 10015,
        *,
        prefix_bytes: int = 0,
        lenient_version: bool = False,
        max_batch: int = 1024,
        recv_buffer_bytes: int = 32 << 20,
        rate_window_s: float = 5.0,
        max_rate: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_rate is not None and not max_rate > 0:
            raise ValueError(f"max_rate must be > 0 datagrams per second, got {max_rate!r}")
        super().__init__(
            name,
            prefix_bytes=prefix_bytes,
            lenient_version=lenient_version,
            rate_window_s=rate_window_s,
            clock=clock,
        )
        self.host = host
        self.max_batch = max_batch
        self.max_rate = None if max_rate is None else float(max_rate)
        """Most datagrams read per host second (None: no limit)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # privileged, Linux only: beyond net.core.rmem_max
            if not sys.platform.startswith("linux"):
                raise OSError("SO_RCVBUFFORCE is Linux only")
            self._sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, recv_buffer_bytes)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer_bytes)
        self._sock.bind((host, port))
        self.port = int(self._sock.getsockname()[1])
        self.state = "bound"

    @property
    def url(self) -> str:
        return f"udp://{self.host}:{self.port}"

    def _run(self) -> None:
        sock = self._sock
        sock.settimeout(0.1)
        buf = bytearray(_BUFFER_BYTES)
        view = memoryview(buf)
        self.state = "listening"
        rate = self.max_rate
        tokens, last = float(self.max_batch), time.monotonic()  # token bucket (max_rate)
        try:
            while not self._stop.is_set():
                limit = self.max_batch
                if rate is not None:
                    now = time.monotonic()
                    tokens = min(float(self.max_batch), tokens + (now - last) * rate)
                    last = now
                    if tokens < 1.0:
                        self._stop.wait((1.0 - tokens) / rate)
                        continue
                    limit = int(tokens)
                starts: list[int] = []
                sizes: list[int] = []
                at = 0
                try:
                    nbytes = sock.recv_into(view[at:], _MAX_DATAGRAM)
                except TimeoutError:
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                starts.append(at)
                sizes.append(nbytes)
                at += nbytes
                sock.setblocking(False)
                try:
                    while len(starts) < limit and len(buf) - at >= _MAX_DATAGRAM:
                        try:
                            nbytes = sock.recv_into(view[at:], _MAX_DATAGRAM)
                        except (BlockingIOError, InterruptedError):
                            break
                        starts.append(at)
                        sizes.append(nbytes)
                        at += nbytes
                finally:
                    sock.settimeout(0.1)
                if rate is not None:
                    tokens -= len(starts)
                data = np.frombuffer(bytes(view[:at]), dtype=np.uint8)
                offs, lens, skipped = split_datagrams(
                    data,
                    np.asarray(starts, dtype=np.int64),
                    np.asarray(sizes, dtype=np.int64),
                    prefix_bytes=self.prefix_bytes,
                    lenient_version=self.lenient_version,
                )
                self._emit(data, offs, lens, skipped)
        finally:
            view.release()
            self.state = "stopped"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close the socket."""
        super().stop(timeout)
        self._sock.close()
        self.state = "closed"
