"""A tiny TESTSAT for loopback tests: receives telecommands over UDP, answers with CMD_ACK.

It decodes nothing but the opcode (byte 6) and sequence count of the CCSDS header
(CCSDS 133.0-B-2 §4.1.3) and answers per ``behaviour``: ``"ok"`` sends RECEIVED, ACCEPTED,
COMPLETE acks (plus an HK packet in SAFE mode for REBOOT), ``"fail"`` sends RECEIVED then
FAILED, ``"silent"`` sends nothing. Every loop is bounded by a stop event and a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

from falak.mdb import MissionDatabase
from falak.tm.encoder import ContainerEncoder
from tests.processor.testsat import hk_packet

ACK_STAGES = {"RECEIVED": 1, "ACCEPTED": 2, "COMPLETE": 3, "FAILED": 15}  # TESTSAT AckStage


def ack_packet(mdb: MissionDatabase, opcode: int, seq: int, stage: str, count: int) -> bytes:
    """A CMD_ACK packet (APID 103) built with falak's container encoder."""
    values = {
        "CCSDS_VERSION": 0,
        "CCSDS_TYPE": 0,
        "CCSDS_SEC_HDR_FLAG": 1,
        "CCSDS_SEQ_FLAGS": 3,
        "CCSDS_SEQ_COUNT": count % 16384,
        "CCSDS_LENGTH": 0,
        "OBT": 2_000_000_000.0 + count,
        "ACK_OPCODE": opcode,
        "ACK_SEQ_COUNT": seq,
        "ACK_SPARE": 0,
        "ACK_STAGE": ACK_STAGES[stage],
    }
    pkt = bytearray(ContainerEncoder(mdb).encode("CMD_ACK", values))
    pkt[4:6] = (len(pkt) - 7).to_bytes(2, "big")
    return bytes(pkt)


@dataclass
class Spacecraft:
    """Receive on 127.0.0.1 (any free port), answer to ``tm_port``."""

    mdb: MissionDatabase
    tm_port: int
    behaviour: str = "ok"
    received: list[tuple[int, bytes]] = field(default_factory=list)
    max_seconds: float = 30.0

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._stop = threading.Event()
        self._count = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Spacecraft:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()
        self.out.close()

    def _send(self, data: bytes) -> None:
        self.out.sendto(data, ("127.0.0.1", self.tm_port))

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.time_ns(), data))
            opcode = data[6]
            seq = ((data[2] << 8) | data[3]) & 0x3FFF
            stages = {"ok": ["RECEIVED", "ACCEPTED", "COMPLETE"], "fail": ["RECEIVED", "FAILED"]}
            behaviour = self.behaviour
            if behaviour == "fail-even":  # commands with an even sequence count fail
                behaviour = "fail" if seq % 2 == 0 else "ok"
            for stage in stages.get(behaviour, []):
                self._count += 1
                self._send(ack_packet(self.mdb, opcode, seq, stage, self._count))
                time.sleep(0.03)  # separate processing batches, like a real on-board sequence
            if self.behaviour == "ok" and opcode == 255:  # REBOOT: comes back in SAFE mode
                self._count += 1
                self._send(hk_packet(self._count, 2_000_000_000.0 + self._count, mode=1))
