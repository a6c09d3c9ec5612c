"""Links and uplinks keep the run's clock: reception stamps and release times in simulated
UTC, the uplink's delay in simulated seconds (issue 13: a run at ``--speed 60``)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np

from falak.clock import ScaledClock
from falak.links import FileLink, open_link
from falak.links.tc import open_uplink
from tests.links.test_links import Collector, packets

#: 2023-09-08T00:00:00Z in ns since 1970 (the demo's epoch): 19608 days * 86400 s
EPOCH_NS = 19_608 * 86_400 * 10**9


class FakeHost:
    """A host wall clock (``time.time_ns``) the test moves by hand."""

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


def scaled(host: FakeHost, speed: float = 60.0) -> ScaledClock:
    return ScaledClock(EPOCH_NS, speed, reference_host_ns=0, host_ns=host)


def test_a_file_link_stamps_reception_in_simulated_time(tmp_path: Path) -> None:
    host = FakeHost()
    host.ns = 1_000_000_000  # one host second after the reference: 60 s simulated
    path = tmp_path / "tm.bin"
    path.write_bytes(b"".join(packets(5)))
    link = FileLink("file0", path, clock=scaled(host))
    sink = Collector()
    link.start(sink)
    assert link.wait(10)
    link.stop()
    # exact, on the injected host clock: epoch + 60 s, then +1 ns per packet (strictly
    # increasing stamps, falak.links.base)
    expected = EPOCH_NS + 60_000_000_000 + np.arange(5)
    assert sink.times().tolist() == expected.tolist()
    assert link.stats().last_reception_ns == int(expected[-1])


def test_a_udp_link_at_speed_60_stamps_the_run_clock() -> None:
    clock = ScaledClock(EPOCH_NS, 60.0)  # the real host clock, 60x
    link = open_link("udp://127.0.0.1:0", "udp0", clock=clock)
    assert link.clock is clock
    sink = Collector()
    link.start(sink)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            before = clock.now_ns()
            tx.sendto(packets(1)[0], ("127.0.0.1", link.port))  # type: ignore[attr-defined]
            sink.wait_for(1, timeout=10)
            after = clock.now_ns()
    finally:
        link.stop()
    (stamp,) = sink.times().tolist()
    # in simulated time (2023), between the clock's readings around the reception; the host
    # clock (2026 on this machine) would be years outside
    assert before <= stamp <= after
    assert abs(stamp - time.time_ns()) > 86_400 * 10**9


def test_the_uplink_releases_in_clock_time_and_delays_in_simulated_seconds() -> None:
    host = FakeHost()
    clock = scaled(host)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5.0)
        port = rx.getsockname()[1]
        uplink = open_uplink(f"udp://127.0.0.1:{port}?delay_s=6", clock=clock)
        try:
            release_ns = uplink.send(b"\x18\x01\xc0\x00\x00\x00\x01")
            assert release_ns == EPOCH_NS  # the clock's now, not the host's
            time.sleep(0.3)  # real time passes; the run clock does not
            assert (uplink.stats().queued, uplink.stats().sent) == (1, 0)
            host.ns = 99_000_000  # 5.94 s simulated: not yet
            time.sleep(0.3)
            assert uplink.stats().sent == 0
            host.ns = 100_000_000  # 0.1 host s = 6 s simulated: the delay has passed
            assert uplink.flush(5.0)
            assert rx.recv(100) == b"\x18\x01\xc0\x00\x00\x00\x01"
            stats = uplink.stats()
        finally:
            uplink.close()
    assert stats.sent == 1
    assert stats.last_sent_ns == EPOCH_NS + 6_000_000_000
