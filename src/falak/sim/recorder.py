"""On-board packet recorder: bounded in bytes, oldest packets overwritten and counted."""

from __future__ import annotations

import threading
from collections import deque


class Recorder:
    """Store packets while out of contact; when full, overwrite the oldest and count them.

    Parameters
    ----------
    capacity_bytes
        Recorder size; a packet larger than this is not stored and counts as overwritten.
    """

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes <= 0:
            msg = f"recorder capacity must be > 0 bytes; got {capacity_bytes!r}"
            raise ValueError(msg)
        self.capacity_bytes = capacity_bytes
        self.used_bytes = 0
        self.overwritten_packets = 0
        self._packets: deque[bytes] = deque()
        self._lock = threading.Lock()

    def record(self, packet: bytes) -> None:
        """Store one packet, dropping (and counting) the oldest ones to make room."""
        with self._lock:
            if len(packet) > self.capacity_bytes:
                self.overwritten_packets += 1
                return
            while self.used_bytes + len(packet) > self.capacity_bytes:
                self.used_bytes -= len(self._packets.popleft())
                self.overwritten_packets += 1
            self._packets.append(packet)
            self.used_bytes += len(packet)

    @property
    def fill_percent(self) -> float:
        """Return the fill level in percent of capacity (for housekeeping telemetry)."""
        return 100.0 * self.used_bytes / self.capacity_bytes

    def __len__(self) -> int:
        return len(self._packets)

    def dump(self) -> list[bytes]:
        """Return every stored packet, oldest first, and empty the recorder."""
        with self._lock:
            packets = list(self._packets)
            self._packets.clear()
            self.used_bytes = 0
            return packets
