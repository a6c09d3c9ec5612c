"""Two CFDP entities over a pair of lossy links on a simulated clock (tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from falak.cfdp import Entity, LossyLink, ReceivedFile


class Clock:
    """A settable clock in seconds."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Peer(Protocol):
    def tick(self) -> None: ...
    def busy(self) -> bool: ...
    def receive(self, pdu: bytes) -> None: ...


@dataclass
class Pair:
    """Sender ``a`` (entity 1) and receiver ``b`` (entity 2), links ``down`` (a->b) and ``up``."""

    clock: Clock
    a: Any
    b: Any
    down: LossyLink
    up: LossyLink
    got: list[ReceivedFile] = field(default_factory=list)

    def run(self, step_s: float = 0.05, limit_s: float = 3600.0) -> float:
        """Tick both entities and deliver until both are idle and nothing is in flight."""
        start = self.clock.t
        while self.clock.t - start < limit_s:
            self.a.tick()
            self.b.tick()
            self.down.poll()
            self.up.poll()
            if not (self.a.busy() or self.b.busy() or self.down.in_flight() or self.up.in_flight()):
                return self.clock.t - start
            self.clock.t += step_s
        raise AssertionError(f"transfer not done after {limit_s} s (simulated)")


def pair(
    *,
    loss: float = 0.0,
    delay_s: float = 1.3,
    jitter_s: float = 0.0,
    seed: int = 0,
    tamper: Callable[[bytes], bytes | None] | None = None,
    **timers: float,
) -> Pair:
    """falak entity 1 sends to falak entity 2; ``tamper`` may change or drop (None) PDUs a->b."""
    clock = Clock()
    timers = {"ack_interval_s": 4.0, "nak_interval_s": 4.0, "check_interval_s": 4.0, **timers}
    got: list[ReceivedFile] = []
    links: dict[str, LossyLink] = {}

    def a_send(p: bytes) -> None:
        q = tamper(p) if tamper is not None else p
        if q is not None:
            links["down"].send(q)

    a = Entity(1, a_send, now=clock, **timers)
    b = Entity(2, lambda p: links["up"].send(p), now=clock, on_received=got.append, **timers)
    kw = {"delay_s": delay_s, "jitter_s": jitter_s, "loss": loss}
    links["down"] = LossyLink(b.receive, clock, seed=seed, **kw)
    links["up"] = LossyLink(a.receive, clock, seed=seed + 1, **kw)
    return Pair(clock, a, b, links["down"], links["up"], got)


def file_bytes(n: int, seed: int = 0) -> bytes:
    """Deterministic incompressible-looking test data."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
