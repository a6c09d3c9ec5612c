"""UDP, TCP and file links: exact counters, reception times, reconnects and pacing."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from falak.ccsds.spacepacket import encode_packet
from falak.errors import InputError
from falak.links import FileLink, ReceivedBatch, TcpLink, UdpLink, open_link
from falak.links.base import RateMeter


def packets(n: int, apid: int = 100, size: int = 20) -> list[bytes]:
    """``n`` packets whose payload starts with their index (to check order and content)."""
    return [
        encode_packet(apid, i.to_bytes(4, "big") + b"\xaa" * (size - 4), seq_count=i % 16384)
        for i in range(n)
    ]


class Collector:
    def __init__(self) -> None:
        self.batches: list[ReceivedBatch] = []
        self.lock = threading.Lock()

    def __call__(self, batch: ReceivedBatch) -> None:
        with self.lock:
            self.batches.append(batch)

    def packets(self) -> list[bytes]:
        out = []
        for b in self.batches:
            for o, n in zip(b.offsets.tolist(), b.lengths.tolist(), strict=True):
                out.append(b.data[o : o + n].tobytes())
        return out

    def times(self) -> np.ndarray:
        parts = [b.recv_time_ns for b in self.batches if b.n_packets]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def wait_for(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(b.n_packets for b in self.batches) >= n:
                return
            time.sleep(0.01)
        raise AssertionError(f"got {sum(b.n_packets for b in self.batches)} packets, want {n}")


def test_udp_counts_packets_bytes_and_rejections_exactly() -> None:
    link = UdpLink("udp0", "127.0.0.1", 0, rate_window_s=60.0)
    sink = Collector()
    link.start(sink)
    pk = packets(300)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for p in pk[:100]:
            tx.sendto(p, ("127.0.0.1", link.port))
        tx.sendto(b"\xff" * 9, ("127.0.0.1", link.port))  # no packet: 9 bytes of garbage
        tx.sendto(pk[100] + pk[101], ("127.0.0.1", link.port))  # two packets in one datagram
        for p in pk[102:]:
            tx.sendto(p, ("127.0.0.1", link.port))
            time.sleep(0.0002)  # a fixed-rate sender, about 5000 packets/s
        sink.wait_for(300)
    finally:
        tx.close()
        link.stop()
    assert sink.packets() == pk
    st = link.stats()
    assert st.packets == 300
    assert st.bytes == sum(len(p) for p in pk)
    assert st.rejected["garbage"] + st.rejected["truncated"] == 1
    assert st.rejected_bytes["garbage"] + st.rejected_bytes["truncated"] == 9
    times = sink.times()
    assert np.all(np.diff(times) > 0)  # strictly increasing per link
    assert st.last_reception_ns == int(times[-1])
    assert st.packets_per_s == pytest.approx(300 / 60.0)  # all inside the 60 s window
    assert link.url == f"udp://127.0.0.1:{link.port}"


def test_disabled_link_discards_and_counts() -> None:
    link = UdpLink("udp0", "127.0.0.1", 0)
    sink = Collector()
    link.start(sink)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        link.disable()
        for p in packets(5):
            tx.sendto(p, ("127.0.0.1", link.port))
        deadline = time.monotonic() + 5
        while link.stats().discarded_disabled < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        link.enable()
        for p in packets(3):
            tx.sendto(p, ("127.0.0.1", link.port))
        sink.wait_for(3)
    finally:
        tx.close()
        link.stop()
    st = link.stats()
    assert (st.discarded_disabled, st.packets, st.enabled) == (5, 3, True)


def test_tcp_client_reconnects_with_backoff_and_splits_by_length_field() -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
    port = srv.getsockname()[1]
    link = TcpLink("tcp0", "127.0.0.1", port, backoff_s=0.05, max_backoff_s=0.2)
    sink = Collector()
    link.start(sink)
    pk = packets(200)
    time.sleep(0.3)
    assert link.stats().connections == 0
    assert link.stats().state.startswith(("reconnecting", "connecting"))
    srv.listen(1)
    # first connection: 57 packets, then the first 10 bytes of packet 57 and a drop
    parts = (b"".join(pk[:57]) + pk[57][:10], b"".join(pk[57:]))
    try:
        for part in parts:
            conn, _ = srv.accept()
            for i in range(0, len(part), 333):  # odd chunk sizes, packets cut anywhere
                conn.sendall(part[i : i + 333])
            conn.close()
        sink.wait_for(200)
    finally:
        link.stop()
        srv.close()
    st = link.stats()
    assert st.connections >= 2
    assert sink.packets() == pk
    assert (st.rejected["truncated"], st.rejected_bytes["truncated"]) == (1, 10)
    assert st.packets == 200


def test_tcp_server_mode_receives_a_stream() -> None:
    link = TcpLink("tcp1", "127.0.0.1", 0, server=True)
    sink = Collector()
    link.start(sink)
    pk = packets(50)
    try:
        with socket.create_connection(("127.0.0.1", link.port)) as c:
            c.sendall(b"".join(pk))
        sink.wait_for(50)
    finally:
        link.stop()
    assert sink.packets() == pk
    assert link.stats().rejected["truncated"] == 0
    assert link.url == f"tcp://127.0.0.1:{link.port}?mode=server"


def test_file_link_paces_at_the_chosen_rate(tmp_path: Path) -> None:
    pk = packets(60)
    path = tmp_path / "tm.bin"
    path.write_bytes(b"".join(pk))
    rate = 200.0
    link = FileLink("file0", path, rate_pps=rate)
    sink = Collector()
    link.start(sink)
    assert link.wait(10)
    link.stop()
    assert sink.packets() == pk
    t = (sink.times() - sink.times()[0]) / 1e9
    k = np.arange(t.size)
    # packet k is never passed on before k / rate after packet 0 (2 ms for the first packet's
    # own scheduling delay); the whole file takes at most 3 times the nominal 0.3 s
    assert np.all(t >= k / rate - 0.002)
    assert t[-1] <= 3 * (t.size - 1) / rate


def test_file_link_full_speed_counts_garbage(tmp_path: Path) -> None:
    pk = packets(1000)
    path = tmp_path / "tm.bin"
    path.write_bytes(b"".join(pk[:500]) + b"\xff\xfe\xfd" + b"".join(pk[500:]))
    link = FileLink("file0", path, chunk_packets=128)
    sink = Collector()
    link.start(sink)
    assert link.wait(10)
    link.stop()
    assert sink.packets() == pk
    st = link.stats()
    assert (st.packets, st.rejected["garbage"], st.rejected_bytes["garbage"]) == (1000, 1, 3)
    assert link.state == "done"
    garbage = [r for b in sink.batches for r in b.rejected]
    # 500 packets of 26 bytes come first
    assert [(r.start, r.stop, r.reason) for r in garbage] == [(13000, 13003, "garbage")]


def test_rate_meter_window() -> None:
    m = RateMeter(window_s=2.0)
    m.add(0, 10, 1000)
    m.add(1_000_000_000, 10, 1000)
    assert m.rates(1_500_000_000) == (10.0, 1000.0)
    assert m.rates(2_500_000_000) == (5.0, 500.0)  # the first event left the window


def test_open_link_urls(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"".join(packets(2)))
    f = open_link(f"file://{path}?rate=50&prefix_bytes=0", name="f")
    assert isinstance(f, FileLink)
    assert (f.name, f.rate_pps) == ("f", 50.0)
    u = open_link("udp://127.0.0.1:0")
    assert isinstance(u, UdpLink)
    assert u.name == "udp0"
    u.stop()
    with pytest.raises(InputError, match=r"unknown link URL 'http://x:1'; use udp://HOST:PORT"):
        open_link("http://x:1")
    with pytest.raises(InputError, match="has no port"):
        open_link("udp://127.0.0.1")
    with pytest.raises(InputError, match=r"unknown option\(s\) speed"):
        open_link(f"file://{path}?speed=3")
    with pytest.raises(InputError, match="not found"):
        open_link("file:///nonexistent/x.bin")


def test_udp_max_rate_reads_at_most_the_links_rate() -> None:
    # A link with a nominal rate (max_rate, datagrams per host second) reads no faster: a
    # flood waits in the kernel's buffer instead of costing the server CPU (issue 13's
    # isolation). Token bucket: at most max_batch at once, then max_rate a second.
    link = UdpLink("udp0", "127.0.0.1", 0, max_batch=100, max_rate=1000.0)
    sink = Collector()
    link.start(sink)
    pk = packets(3000)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        started = time.monotonic()
        for p in pk:
            tx.sendto(p, ("127.0.0.1", link.port))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        read_1s = link.stats().packets
        sink.wait_for(3000, timeout=10.0)
        elapsed = time.monotonic() - started
    finally:
        tx.close()
        link.stop()
    assert 900 <= read_1s <= 100 + 1000 * 1.1, read_1s  # burst + 1 s at the rate (+10 %)
    assert sink.packets() == pk  # nothing lost: the kernel buffer held the rest
    assert elapsed >= 2.7  # 3000 datagrams at 1000/s, less the first burst of 100


def test_udp_max_rate_in_the_url_and_its_errors() -> None:
    link = open_link("udp://127.0.0.1:0?max_rate=250")
    try:
        assert isinstance(link, UdpLink)
        assert link.max_rate == 250.0
    finally:
        link.stop()
    with pytest.raises(InputError, match=r"bad link URL .*max_rate must be > 0"):
        open_link("udp://127.0.0.1:0?max_rate=0")


def test_udp_recv_buffer_bytes_in_the_url() -> None:
    # socket(7): the kernel doubles the value set with SO_RCVBUF(FORCE) for its bookkeeping,
    # and SO_RCVBUF (unprivileged) is capped at net.core.rmem_max, so only a lower bound holds.
    link = open_link("udp://127.0.0.1:0?max_rate=100&recv_buffer_bytes=262144")
    try:
        assert isinstance(link, UdpLink)
        got = link._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert 4096 <= got <= 2 * 262144
    finally:
        link.stop()
    with pytest.raises(InputError, match=r"bad link URL .*recv_buffer_bytes=x"):
        open_link("udp://127.0.0.1:0?recv_buffer_bytes=x")
