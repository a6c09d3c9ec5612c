"""Fixtures: a live TESTSAT ground system (processor, UDP links, test spacecraft, users)
behind the API, in-process (TestClient) and as a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from falak.archive import open_archive
from falak.commanding import CriticalPolicy
from falak.links import UdpLink
from falak.links.tc import UdpUplink
from falak.mdb import load
from falak.processor import Processor
from falak.server import Limits, Runtime, UserStore, create_app, uvicorn_config
from tests.commanding.spacecraft import Spacecraft
from tests.commanding.test_end_to_end import short_windows
from tests.processor.testsat import (
    MDB_PATH,
    TAI_1958_TO_UNIX_S,
    TAI_MINUS_UTC_S,
    event_packet,
    hk_packet,
)

#: user name → (password, role); one user per role
USERS = {
    "vera": ("vera-pw", "viewer"),
    "otto": ("otto-pw", "operator"),
    "fiona": ("fiona-pw", "flight_director"),
    "ada": ("ada-pw", "admin"),
}


@dataclass
class Ground:
    runtime: Runtime
    spacecraft: Spacecraft
    tm_port: int

    def send_hk(self, n: int = 1, batt_v_counts: int = 7400, mode: int = 2) -> None:
        """Send ``n`` TESTSAT HK packets stamped now (BATT_V = counts mV)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(n):
                obt = time.time() + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S
                s.sendto(hk_packet(i, obt, batt_v_counts, mode), ("127.0.0.1", self.tm_port))

    def send_event(self, event_id: int, severity: int, message: str) -> None:
        """Send one TESTSAT on-board EVENT packet stamped now (severity 1 = WARNING)."""
        obt = time.time() + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(event_packet(0, obt, event_id, severity, message), ("127.0.0.1", self.tm_port))


@contextmanager
def ground(
    tmp_path: Path,
    behaviour: str = "ok",
    window_s: float | None = None,
    limits: Limits | None = None,
    answer_s: float = 120.0,
) -> Iterator[Ground]:
    """A server runtime with the loopback TESTSAT. The spacecraft answers commands for
    ``answer_s`` seconds after the start and then stops (a guard against a hung test); a
    fixture shared by many tests (one per module) must pass a longer ``answer_s``."""
    mdb = load(MDB_PATH)
    if window_s is not None:
        short_windows(mdb, window_s)
    archive = open_archive(tmp_path / "archive")
    tm = UdpLink("tm", "127.0.0.1", 0)
    proc = Processor(mdb, archive, links=[tm], batch_max_age_s=0.01, parameter_flush_s=0.05)
    users = UserStore()
    for name, (pw, role) in USERS.items():
        users.add(name, [role], password=pw)
    with Spacecraft(mdb, tm.port, behaviour, max_seconds=answer_s) as sc:
        uplink = UdpUplink("uplink", "127.0.0.1", sc.port)
        rt = Runtime(
            mdb,
            archive,
            processor=proc,
            uplink=uplink,
            users=users,
            critical=CriticalPolicy(confirm_window_s=5.0),
            limits=limits,
        )
        rt.start()
        try:
            yield Ground(rt, sc, tm.port)
        finally:
            rt.stop()
            archive.close()


def wait_for(check: object, timeout_s: float = 5.0) -> bool:
    """Poll ``check()`` until true (bounded)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ground]:
    with ground(tmp_path_factory.mktemp("server")) as g:
        yield g


@pytest.fixture(scope="module")
def client(live: Ground) -> Iterator[TestClient]:
    with TestClient(create_app(live.runtime)) as c:
        yield c


def login(client: object, user: str) -> dict[str, str]:
    """Authorization header of ``user`` (a name from USERS)."""
    r = client.post(  # type: ignore[attr-defined]
        "/api/v1/auth/token", json={"username": user, "password": USERS[user][0]}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def auth(client: TestClient) -> dict[str, dict[str, str]]:
    """Authorization headers by user name."""
    return {u: login(client, u) for u in USERS}


@dataclass
class RealServer:
    url: str
    ground: Ground
    app: FastAPI


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """A real uvicorn server on 127.0.0.1 and a free port, in a thread."""
    import uvicorn

    with ground(tmp_path_factory.mktemp("real")) as g:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = create_app(g.runtime)
        server = uvicorn.Server(uvicorn_config(app))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
        try:
            yield RealServer(f"http://127.0.0.1:{port}", g, app)
        finally:
            server.should_exit = True
            thread.join(10.0)
            sock.close()
