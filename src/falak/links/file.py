"""File telemetry link: replay a recorded file of CCSDS packets, paced or as fast as possible.

The file is split once (CCSDS 133.0-B-2 length fields, :func:`split_packets`); packets are
then passed on in chunks. With ``rate_pps`` the link paces them: packet ``k`` is never passed
on before ``start + k / rate_pps`` (chunks every ``tick_s``); without it, chunks of
``chunk_packets`` go out back to back. Reception times are the times of passing on.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from falak.ccsds.spacepacket import split_packets
from falak.clock import Clock
from falak.errors import InputError
from falak.links.base import Link

__all__ = ["FileLink"]


class FileLink(Link):
    """Replay ``path`` at ``rate_pps`` packets/s (None: as fast as the sink takes them)."""

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        rate_pps: float | None = None,
        prefix_bytes: int = 0,
        lenient_version: bool = False,
        chunk_packets: int = 20_000,
        tick_s: float = 0.01,
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
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"telemetry file {self.path} not found; give an existing file")
        if rate_pps is not None and rate_pps <= 0:
            raise InputError(
                f"rate must be > 0 packets/s (or omitted for full speed), got {rate_pps}"
            )
        self.rate_pps = rate_pps
        self.chunk_packets = chunk_packets
        self.tick_s = tick_s
        self.done = threading.Event()
        """Set when the whole file has been passed on."""
        self.sent = 0
        """Packets passed on so far."""
        self.total: int | None = None
        """Packets in the file (known once the link thread has split it)."""
        self.state = "ready"

    @property
    def url(self) -> str:
        rate = f"?rate={self.rate_pps:g}" if self.rate_pps else ""
        return f"file://{self.path.resolve()}{rate}"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the file has been passed on; return False on timeout."""
        return self.done.wait(timeout)

    def _run(self) -> None:
        self.state = "reading"
        data = np.fromfile(self.path, dtype=np.uint8)
        split = split_packets(
            data, prefix_bytes=self.prefix_bytes, lenient_version=self.lenient_version
        )
        self.total = split.n_packets
        if split.skipped:
            self._emit(data, np.zeros(0, np.int64), np.zeros(0, np.int64), split.skipped)
        offs, lens = split.offsets, split.lengths
        n = self.total
        self.state = "replaying"
        t0 = time.perf_counter()
        while self.sent < n and not self._stop.is_set():
            if self.rate_pps is None:
                stop = min(n, self.sent + self.chunk_packets)
            else:
                due = int((time.perf_counter() - t0) * self.rate_pps) + 1
                stop = min(n, due, self.sent + self.chunk_packets)
                if stop <= self.sent:
                    wait = (self.sent / self.rate_pps) - (time.perf_counter() - t0)
                    self._stop.wait(max(min(wait, self.tick_s), 0.0005))
                    continue
            a, b = self.sent, stop
            lo = int(offs[a])
            hi = int(offs[b - 1] + lens[b - 1])
            self._emit(data[lo:hi], offs[a:b] - lo, lens[a:b], [])
            self.sent = stop
        if self.sent >= n:
            self.state = "done"
            self.done.set()
