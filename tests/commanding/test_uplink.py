"""TC uplinks over loopback UDP and TCP, with and without delay."""

from __future__ import annotations

import socket
import time

import pytest

from falak.errors import InputError
from falak.links.tc import TcpUplink, UdpUplink, open_uplink


def test_udp_delay_and_order() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    up = open_uplink(f"udp://127.0.0.1:{rx.getsockname()[1]}?delay_s=0.3")
    try:
        assert isinstance(up, UdpUplink)
        t1 = up.send(b"one")
        up.send(b"two")
        got = [rx.recv(100) for _ in range(2)]
        arrived = time.time_ns()
        assert got == [b"one", b"two"]
        assert arrived - t1 >= 0.3e9
        assert up.flush(1.0)
        st = up.stats()
        assert (st.sent, st.bytes_sent, st.errors, st.queued) == (2, 6, 0, 0)
    finally:
        up.close()
        rx.close()


def test_tcp_stream() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(2.0)
    up = TcpUplink("tcp", "127.0.0.1", srv.getsockname()[1])
    try:
        up.send(b"\x01\x02")
        up.send(b"\x03")
        conn, _ = srv.accept()
        conn.settimeout(2.0)
        data = b""
        for _ in range(10):  # bounded: at most 10 reads
            data += conn.recv(100)
            if len(data) >= 3:
                break
        assert data == b"\x01\x02\x03"
        conn.close()
    finally:
        up.close()
        srv.close()


def test_close_counts_dropped_packets() -> None:
    up = UdpUplink("u", "127.0.0.1", 9, delay_s=60.0)  # discard port; nothing leaves
    up.send(b"x")
    up.close()
    st = up.stats()
    assert (st.sent, st.errors, st.last_error) == (0, 1, "1 packet(s) dropped at close")
    with pytest.raises(InputError, match="closed"):
        up.send(b"y")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x:1", "unknown uplink URL"),
        ("udp://127.0.0.1", "needs a host and a port"),
        ("udp://127.0.0.1:9?speed=3", "unknown option"),
        ("udp://127.0.0.1:9?delay_s=-1", "within 0..3600 s"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        open_uplink(url)
