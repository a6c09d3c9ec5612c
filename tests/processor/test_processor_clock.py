"""The processor keeps the run's clock: latency against it, in host milliseconds (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from falak.archive import open_archive
from falak.bus import Bus
from falak.clock import ScaledClock
from falak.processor import Processor
from falak.processor.processor import Chain

from .testsat import hk_packet, load_testsat

#: 2023-09-08T00:00:00Z in ns since 1970 (the demo's epoch): 19608 days * 86400 s
EPOCH_NS = 19_608 * 86_400 * 10**9


def test_latency_is_measured_against_the_clock_in_host_ms() -> None:
    host_ns = 2_000_000_000  # the injected host clock stands 2 s after the reference
    clock = ScaledClock(EPOCH_NS, 60.0, reference_host_ns=0, host_ns=lambda: host_ns)
    bus = Bus()
    sub = bus.subscribe(maxsize=1000)
    chain = Chain(load_testsat(), None, bus=bus, clock=clock)
    pkt = np.frombuffer(hk_packet(0, 100.0), dtype=np.uint8)
    # received 1.2 simulated s before the clock's now (120 s after the epoch): 20 host ms
    recv = np.array([EPOCH_NS + 120_000_000_000 - 1_200_000_000], dtype=np.int64)
    chain.run(pkt, np.array([0]), np.array([pkt.size]), recv, None)
    sub.close()
    bus.close()
    # exact on the injected host clock, up to float rounding (1e-9 ms)
    assert abs(chain.stats.last_latency_ms - 20.0) < 1e-9
    assert chain.stats.max_latency_ms == chain.stats.last_latency_ms


def test_the_processor_hands_its_clock_to_the_chain_and_the_alarms(tmp_path: Path) -> None:
    clock = ScaledClock(EPOCH_NS, 60.0, reference_host_ns=0, host_ns=lambda: 0)
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(load_testsat(), archive, clock=clock)
        assert proc.clock is clock
        assert proc.chain.clock is clock
        assert proc.alarms.clock() == EPOCH_NS
        old = Processor(load_testsat(), archive, clock=lambda: 7)  # a bare ns function
        assert (old.clock.now_ns(), old.clock.speed) == (7, 1.0)
