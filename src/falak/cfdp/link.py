"""A lossy, delayed, optionally rate-limited and reordering link for CFDP tests and simulators.

Not a CCSDS standard: a seeded model of what a space link does to a stream of PDUs (or
packets). Each item sent is dropped with probability ``loss``; otherwise it arrives
``delay_s`` later plus a uniform ``jitter_s`` (jitter reorders), after waiting its turn on a
link of ``rate_bps`` (serialisation delay, no queue limit). While ``up`` is False (no contact)
everything sent is lost.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

__all__ = ["LossyLink"]


class LossyLink:
    """One direction of a link, delivering to ``deliver`` when :meth:`poll` finds items due.

    Parameters
    ----------
    deliver
        Called with each item that arrives (e.g. ``Entity.receive``).
    now
        Clock in seconds (the same one the entities use).
    loss
        Drop probability per item, 0..1.
    delay_s
        Fixed one-way delay (light time), seconds.
    jitter_s
        Extra uniform 0..jitter_s delay per item; > 0 reorders items.
    rate_bps
        Link rate in bits per second; None: unlimited.
    seed
        Seed of the loss and jitter draws.
    """

    def __init__(
        self,
        deliver: Callable[[bytes], None],
        now: Callable[[], float],
        *,
        loss: float = 0.0,
        delay_s: float = 0.0,
        jitter_s: float = 0.0,
        rate_bps: float | None = None,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"loss must be a probability 0..1, got {loss}")
        self.deliver = deliver
        self.now = now
        self.loss = loss
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.rate_bps = rate_bps
        self.up = True
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, bytes]] = []
        self._n = 0
        self._free_at = 0.0
        self.sent = 0
        self.sent_bytes = 0
        self.dropped = 0
        self.delivered = 0

    def send(self, item: bytes) -> None:
        """Put ``item`` on the link now."""
        self.sent += 1
        self.sent_bytes += len(item)
        t = self.now()
        if self.rate_bps:
            t = max(t, self._free_at) + len(item) * 8 / self.rate_bps
            self._free_at = t
        if not self.up or self._rng.random() < self.loss:
            self.dropped += 1
            return
        t += self.delay_s + (self._rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0)
        self._n += 1
        heapq.heappush(self._queue, (t, self._n, item))

    __call__ = send

    def poll(self) -> int:
        """Deliver every item due by now; return how many."""
        now, n = self.now(), 0
        while self._queue and self._queue[0][0] <= now:
            _, _, item = heapq.heappop(self._queue)
            self.delivered += 1
            n += 1
            self.deliver(item)
        return n

    def in_flight(self) -> int:
        """Items sent and not yet delivered."""
        return len(self._queue)

    def next_arrival(self) -> float | None:
        """Time of the next arrival, or None when nothing is in flight."""
        return self._queue[0][0] if self._queue else None
