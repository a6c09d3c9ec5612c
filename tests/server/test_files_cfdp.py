"""Files by CFDP through a real server runtime (issue 15): a spacecraft entity on loopback UDP
sends an image down to the server's telemetry link and receives the ground's answers on its
uplink; the file lands in the archive and is listed, downloaded and its transfer shown by
the API; an operator sends a file up, a viewer may not."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from falak.cfdp import Entity, unwrap, wrap
from falak.errors import DecodeError
from falak.server import Runtime, create_app, load_config
from tests.server.test_config import TESTSAT_MDB


class Spacecraft:
    """CFDP entity 2 on loopback: sends PDUs to the server's link, reads its uplink."""

    def __init__(self, tm_port: int, uplink: socket.socket) -> None:
        self.tm = ("127.0.0.1", tm_port)
        self.uplink = uplink
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.seq = 0
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.entity = Entity(
            2, self._send, nak_interval_s=0.5, ack_interval_s=0.5,
            on_received=lambda f: self.received.append((f.name, f.data)),
        )  # fmt: skip
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _send(self, pdu: bytes) -> None:
        self.seq += 1
        self.out.sendto(wrap(pdu, 610, self.seq), self.tm)
        time.sleep(0.0005)  # pace: a link, not a burst into the socket buffer

    def _run(self) -> None:
        self.uplink.settimeout(0.01)
        while not self.stop.is_set():
            try:
                data = self.uplink.recv(65_536)
            except TimeoutError:
                data = b""
            with self.lock:
                if data:
                    with contextlib.suppress(DecodeError):  # a telecommand, not a PDU
                        self.entity.receive(unwrap(data, 611))
                self.entity.tick()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, Spacecraft]]:
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))
    cfg = tmp_path / "server.yaml"
    cfg.write_text(
        f"""archive: ./archive
users:
  - {{name: otto, roles: [operator], password: otto-pw}}
  - {{name: vera, roles: [viewer], password: vera-pw}}
spacecraft:
  - name: TESTSAT
    mdb: {TESTSAT_MDB}
    links: [udp://127.0.0.1:0]
    uplink: udp://127.0.0.1:{up.getsockname()[1]}
    cfdp:
      entity_id: 1
      remote_entity_id: 2
      timers: {{nak_interval_s: 0.5, ack_interval_s: 0.5}}
"""
    )
    rt = Runtime.from_config(load_config(cfg))
    rt.start()
    sc = Spacecraft(rt.get("TESTSAT").processor.links["udp0"].port, up)  # type: ignore[attr-defined]
    sc.thread.start()
    try:
        with TestClient(create_app(rt)) as client:
            yield rt, client, sc
    finally:
        sc.stop.set()
        sc.thread.join()
        sc.out.close()
        rt.stop()
        up.close()


def _token(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": user, "password": f"{user}-pw"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _wait(check: object, timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_an_image_comes_down_and_a_table_goes_up(
    server: tuple[Runtime, TestClient, Spacecraft],
) -> None:
    rt, client, sc = server
    vera, otto = _token(client, "vera"), _token(client, "otto")
    image = random.Random(5).randbytes(150_000)
    with sc.lock:
        sc.entity.put(1, image, "img/nac_0001.pgm", cls=2, segment_size=1000)
    assert _wait(lambda: client.get("/api/v1/archive/files", headers=vera).json())
    (f,) = client.get("/api/v1/archive/files", headers=vera).json()
    assert (f["name"], f["size"], f["complete"]) == ("img/nac_0001.pgm", 150_000, True)
    assert f["source"] == "TESTSAT (CFDP entity 2)"
    got = client.get(f"/api/v1/archive/files/{f['id']}", headers=vera)
    assert got.content == image
    assert _wait(lambda: sc.entity.transactions()[0].state == "finished")  # Finished came up

    table = b"EXPOSURE_MS,GAIN\n12,2\n"
    r = client.post("/api/v1/archive/files?name=tables/camera.tbl", content=table, headers=vera)
    assert r.status_code == 403
    r = client.post("/api/v1/archive/files?name=tables/camera.tbl", content=table, headers=otto)
    assert r.status_code == 202, r.text
    assert r.json() == {"source_id": 1, "seq": 1, "name": "tables/camera.tbl", "size": 22}
    assert _wait(lambda: sc.received == [("tables/camera.tbl", table)])
    # The ground's send finishes only when the spacecraft's Finished PDU comes back (class 2),
    # after the spacecraft holds the file: wait for it rather than race it.
    assert _wait(
        lambda: all(
            t["state"] == "finished"
            for t in client.get("/api/v1/archive/transfers", headers=vera).json()
        )
    )
    transfers = client.get("/api/v1/archive/transfers", headers=vera).json()
    assert sorted((t["role"], t["name"], t["state"]) for t in transfers) == [
        ("receive", "img/nac_0001.pgm", "finished"),
        ("send", "tables/camera.tbl", "finished"),
    ]
    r = client.post("/api/v1/archive/files?name=../etc/x", content=b"x", headers=otto)
    assert r.status_code == 400
    assert "must be a relative path without '..'" in r.json()["detail"]
    events = [e.message for e in rt.get("TESTSAT").archive.read_events() if e.source == "server"]
    assert "cfdp: file img/nac_0001.pgm received: 150000 bytes, checksum good" not in events
    assert "file img/nac_0001.pgm received: 150000 bytes, checksum good" in events
    assert "file tables/camera.tbl (22 bytes) sent by otto, class 2" in events
