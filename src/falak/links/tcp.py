"""TCP telemetry link: a byte stream of CCSDS space packets, delimited by their length fields.

The stream is split with :class:`~falak.ccsds.spacepacket.PacketSplitter` (CCSDS 133.0-B-2
Packet Data Length, §4.1.3.5). Two modes:

* client (default): connect to ``host:port``; when the connection fails or drops, reconnect
  after a delay that doubles from ``backoff_s`` up to ``max_backoff_s`` (reset on success);
* server (``server=True``): listen on ``host:port`` and serve one sender at a time; when it
  disconnects, wait for the next.

A connection that ends in the middle of a packet counts the tail as ``truncated``.
"""

from __future__ import annotations

import socket

from falak.ccsds.spacepacket import PacketSplitter, SkippedRange
from falak.clock import Clock
from falak.links.base import Link

__all__ = ["TcpLink"]

_CHUNK = 1 << 20


class TcpLink(Link):
    """Receive a CCSDS packet stream over TCP, as a reconnecting client or as a server."""

    def __init__(
        self,
        name: str,
        host: str = "127.0.0.1",
        port: int = 10015,
        *,
        server: bool = False,
        prefix_bytes: int = 0,
        lenient_version: bool = False,
        backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        rate_window_s: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            name,
            prefix_bytes=prefix_bytes,
            lenient_version=lenient_version,
            rate_window_s=rate_window_s,
            clock=clock,
        )
        self.host = host
        self.port = port
        self.server = server
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self._listener: socket.socket | None = None
        if server:
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((host, port))
            lst.listen(1)
            lst.settimeout(0.1)
            self.port = int(lst.getsockname()[1])
            self._listener = lst
            self.state = "listening"

    @property
    def url(self) -> str:
        mode = "?mode=server" if self.server else ""
        return f"tcp://{self.host}:{self.port}{mode}"

    def _run(self) -> None:
        delay = self.backoff_s
        while not self._stop.is_set():
            conn = self._accept() if self.server else self._connect()
            if conn is None:
                if not self.server:
                    self.state = f"reconnecting in {delay:.1f} s"
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.max_backoff_s)
                continue
            delay = self.backoff_s
            self.connections += 1
            self.state = "connected"
            try:
                self._serve(conn)
            finally:
                conn.close()
            self.state = "disconnected"
        if self._listener is not None:
            self._listener.close()
        self.state = "stopped"

    def _connect(self) -> socket.socket | None:
        self.state = "connecting"
        try:
            return socket.create_connection((self.host, self.port), self.connect_timeout_s)
        except OSError:
            return None

    def _accept(self) -> socket.socket | None:
        assert self._listener is not None
        self.state = "listening"
        try:
            conn, _ = self._listener.accept()
        except TimeoutError:
            return None
        except OSError:
            self._stop.wait(0.1)
            return None
        return conn

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        splitter = PacketSplitter(
            prefix_bytes=self.prefix_bytes, lenient_version=self.lenient_version
        )
        while not self._stop.is_set():
            try:
                chunk = conn.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            self._emit_split(splitter.feed(chunk))
        self._emit_split(splitter.finish())

    def _emit_split(self, res: object) -> None:
        from falak.ccsds.spacepacket import SplitResult

        assert isinstance(res, SplitResult)
        if res.data is None or (res.n_packets == 0 and not res.skipped):
            return
        base = res.base_offset
        skipped = [SkippedRange(r.start - base, r.stop - base, r.reason) for r in res.skipped]
        self._emit(res.data, res.local_offsets, res.lengths, skipped)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (and the listener in server mode)."""
        super().stop(timeout)
        if self._listener is not None:
            self._listener.close()
