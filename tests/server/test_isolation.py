"""Processing is isolated per spacecraft: a flood on TESTSAT's link (a separate process
sending as fast as it can, 100-200k packets/s) must not lose, reorder or hold up TIANGONG's
telemetry beyond bounds, nor grow the server's memory.

Latency is measured from the moment the test sends a TIANGONG packet to the moment its
STN_ALT_KM value is published on TIANGONG's bus (the subscription's ``notify`` runs in the
publishing thread), for 50 packets/s, alone and during the flood.

What one process can promise, and what is asserted: all spacecraft share one interpreter
(the GIL) and, here, 2 cores with the flooder and the other users of the machine, and each
TIANGONG packet's chain (socket, queue, raw archive commit with its fsync, decode, publish)
takes the interpreter back a few tens of times. The runtime bounds the flooded side
(``MAX_QUEUED_BATCHES``: its link waits, the kernel drops what overflows its socket) and
shortens the switch interval to 0.5 ms (``SWITCH_INTERVAL_S``), which caps each hand-over.
Measured on this machine (2 cores, load average 3-5 from other users; four runs, the
flooder sending 130-150k packets/s of which TESTSAT's bounded chain takes about 55k/s):
TIANGONG alone p50 12-15 ms, p95 15-20 ms; during the flood p50 28-37 ms, p95 84-236 ms (the
tail: moments when the flooded chain holds the interpreter in long calls and its fsyncs
queue the disk ahead of TIANGONG's); 2 s after the flood p95 24-43 ms. Before the bounds
(Python's 5 ms interval, 10,000 queued batches) the flood gave p50 63-78 ms, p95 315-406
ms, and 2 s after it p95 still 160-390 ms while TESTSAT worked off its backlog. So the
median is held to the brief's 3 x baseline + 50 ms, the 95th percentile to 1 s (a packet
is never held for seconds, as a queue without bounds did), and after the flood the
baseline bound holds again.

A link given its nominal rate (``udp://...?max_rate=N``) reads no faster than that, so a
flood costs the server only the link's rate: then TIANGONG keeps its usual latency at the
95th percentile too (measured: alone p50 13-16 ms, p95 14-28 ms; during the flood p50
13-16 ms, p95 18-68 ms, with eight other jobs on the 2 cores), which the second test holds to
the baseline bound.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from falak.links import UdpLink
from falak.server.routes.links import kernel_drops
from falak.server.runtime import MAX_QUEUED_BATCHES
from tests.server.multi import TwoSpacecraft, obt_now, station_hk, two_spacecraft

RATE_HZ = 50
ROOT = Path(__file__).parents[2]


def station_latency_ms(m: TwoSpacecraft, seconds: float, first: int) -> np.ndarray:
    """Send TIANGONG HK at RATE_HZ for ``seconds``; return each packet's send-to-publish
    latency (ms), in send order. STN_ALT_KM's raw value numbers the packets from ``first``."""
    station = m.runtime.get("TIANGONG")
    published: list[int] = []
    sub = station.bus.subscribe(
        ["/TIANGONG/STN_ALT_KM"], maxsize=100_000, notify=lambda: published.append(time.time_ns())
    )
    n = int(seconds * RATE_HZ)
    packets = [station_hk(m.tiangong, i, obt_now(), first + i) for i in range(n)]
    sent: dict[int, int] = {}
    port = m.tm_port("TIANGONG")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, p in enumerate(packets):
            sent[first + i] = time.time_ns()
            s.sendto(p, ("127.0.0.1", port))
            time.sleep(1 / RATE_HZ)
    items = []
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and sum(len(d.payload) for d in items) < n:
        time.sleep(0.05)
        items += sub.drain()
    sub.close()
    pairs = zip(published[: len(items)], items, strict=True)  # close() notifies once more
    got = [(int(raw), t) for t, d in pairs for raw in d.payload.raw]
    assert [v for v, _ in got] == list(range(first, first + n)), "packets lost or reordered"
    return np.array([(t - sent[v]) / 1e6 for v, t in got])


def percentiles(lat_ms: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(lat_ms, 50)), float(np.percentile(lat_ms, 95))


@dataclass
class Flood:
    """What one flood measurement saw (latencies in ms)."""

    base: tuple[float, float]
    flood: tuple[float, float]
    after: tuple[float, float]
    sent: int
    flooded: int
    received: int
    drops: int | None
    max_queued: int

    def report(self) -> str:
        return (
            f"TIANGONG latency p50/p95 (ms): alone {self.base[0]:.1f}/{self.base[1]:.1f}, "
            f"during the flood {self.flood[0]:.1f}/{self.flood[1]:.1f}, after "
            f"{self.after[0]:.1f}/{self.after[1]:.1f}; TESTSAT sent {self.sent} packets, "
            f"{self.flooded} received during it, {self.received} in all, {self.drops} dropped "
            f"by the kernel, queue at most {self.max_queued}"
        )


def flood_testsat(tmp_path: Path, testsat_link: str = "udp://127.0.0.1:0") -> Flood:
    """Measure TIANGONG's latency alone, while a separate process floods TESTSAT's link for
    6 s, and 2 s after the flood; count what TESTSAT's link received and the kernel dropped."""
    with two_spacecraft(tmp_path, testsat_link) as m:
        testsat = m.runtime.get("TESTSAT")
        base = percentiles(station_latency_ms(m, 3.0, 10_000))
        received_before = testsat.processor.links["udp0"].stats().packets
        flooder = subprocess.Popen(
            [sys.executable, "-m", "tests.server.flood", str(m.tm_port("TESTSAT")), "6"],
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        queued: list[int] = []
        watching = threading.Event()

        def watch() -> None:  # the flooded side's queue, every 50 ms
            while not watching.wait(0.05):
                queued.append(testsat.processor.stats().queued_batches)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            time.sleep(1.0)  # the flood is on
            flood = percentiles(station_latency_ms(m, 4.0, 20_000))
        finally:
            out, _ = flooder.communicate(timeout=30)
            watching.set()
            watcher.join()
        flooded = testsat.processor.links["udp0"].stats().packets - received_before
        time.sleep(2.0)  # TESTSAT's socket backlog drains (or is dropped)
        after = percentiles(station_latency_ms(m, 3.0, 30_000))
        link = testsat.processor.links["udp0"]
        received = link.stats().packets - received_before
        drops = kernel_drops(link)
    return Flood(base, flood, after, int(out), flooded, received, drops, max(queued))


@pytest.mark.slow
def test_a_flood_on_one_spacecraft_does_not_hold_up_another(tmp_path: Path) -> None:
    f = flood_testsat(tmp_path)
    report = f.report()
    print(report)
    # It was a flood: the flooder sent > 80k packets/s and TESTSAT's chain was kept busy
    # taking > 25k/s of them over 4+ s (500 x TIANGONG's rate; 196k-250k were seen on CI's
    # 2 cores, so the bound leaves room for a loaded machine without losing the meaning).
    assert f.sent > 500_000, report
    assert f.flooded > 100_000, report
    assert f.max_queued <= MAX_QUEUED_BATCHES, report  # bounded: no growth in memory
    assert f.received + (f.drops or 0) == f.sent, report  # nothing lost without a count
    assert f.drops, report
    assert f.flood[0] < 3 * f.base[0] + 50.0, report
    assert f.flood[1] < 1000.0, report
    assert f.after[1] < 3 * f.base[1] + 50.0, report


#: TESTSAT's link rate in the rate-limited case: a generous ground-station rate (its
#: housekeeping is 1 packet/s; 2000 packets/s of 100 bytes is a 1.6 Mbit/s downlink). The
#: kernel buffer of 1 MiB holds well under a second of it (each small datagram costs the
#: buffer about 1 KiB of kernel bookkeeping), so the backlog left after the flood has
#: drained before the counts are compared.
LINK_RATE = 2000


@pytest.mark.slow
def test_a_link_at_its_rate_keeps_a_flood_from_other_spacecraft(tmp_path: Path) -> None:
    """With the flooded link at its nominal rate (``max_rate``), the flood costs the server
    no more than that rate: TIANGONG keeps its usual latency, at the 95th percentile too,
    and what the link left is dropped by the kernel and counted."""
    f = flood_testsat(tmp_path, f"udp://127.0.0.1:0?max_rate={LINK_RATE}&recv_buffer_bytes=1048576")
    report = f.report()
    print(report)
    assert f.sent > 200_000, report  # it was a flood
    assert f.flooded <= LINK_RATE * 8, report  # read at the link's rate (6 s flood + slack)
    assert f.received + (f.drops or 0) == f.sent, report  # nothing lost without a count
    assert f.flood[0] < 2 * f.base[0] + 20.0, report
    assert f.flood[1] < 3 * f.base[1] + 50.0, report
    assert f.after[1] < 3 * f.base[1] + 50.0, report


def test_kernel_drops_are_read_from_proc_net_udp(tmp_path: Path) -> None:
    """The ``drops`` column of Linux's /proc/net/udp (proc(5)), matched on the local port."""
    link = UdpLink("udp0", "127.0.0.1", 0)
    try:
        table = tmp_path / "udp"
        header = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
        header += "   uid  timeout inode ref pointer drops\n"
        row = "  {sl}: 0100007F:{port:04X} 00000000:0000 07 00000000:00000000 00:00000000 "
        row += "00000000     0        0 {inode} 2 0000000000000000 {drops}\n"
        table.write_text(
            header
            + row.format(sl=1, port=link.port + 1, inode=11, drops=5)
            + row.format(sl=2, port=link.port, inode=12, drops=417)
        )
        assert kernel_drops(link, table) == 417
        assert kernel_drops(link, tmp_path / "none") is None
        assert kernel_drops(link) == 0  # the real table: nothing sent to it yet
    finally:
        link.stop()
