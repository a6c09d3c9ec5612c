"""Flood a UDP telemetry port with TESTSAT HK packets, one per datagram, as fast as one
Python process can (about 100-200k packets/s on this machine), for some seconds:
``python -m tests.server.flood PORT SECONDS``. Prints the packets sent."""

from __future__ import annotations

import socket
import sys
import time

from tests.processor.testsat import hk_packet


def main() -> None:
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    packets = [hk_packet(i, 2.1e9 + i) for i in range(100)]
    addr = ("127.0.0.1", port)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for p in packets:
                s.sendto(p, addr)
            sent += len(packets)
    print(sent)


if __name__ == "__main__":
    main()
