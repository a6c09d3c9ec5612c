"""``GET /uplink``: the uplink's window policy and state on the run clock, from the config's
``uplink_windows: {file, policy}``; commands to a spacecraft outside its windows wait with the
reason (issue 14; contract C1 of the wave)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from falak.errors import InputError
from falak.planning.traverse.windows import write_windows
from falak.server import Runtime, create_app, load_config
from falak.utctime import parse_ns

MISSIONS = Path(__file__).parents[2] / "src" / "falak" / "missions"
API = "/api/v1"

#: the run clock starts at the epoch when the file is read (no reference_host_ns): the first
#: window opens 30 min later, so the uplink is closed during the test
CONFIG = """\
archive: ./archive
clock: {{epoch: "2023-09-08T00:00:00Z", speed: 1}}
users:
  - {{name: vera, roles: [viewer], password: v}}
  - {{name: otto, roles: [operator], password: o}}
spacecraft:
  - name: ROVER
    mdb: {rover}
    uplink: udp://127.0.0.1:9
    light_time_s: 1.28
    uplink_windows: {{file: windows.json, policy: {policy}}}
  - name: TESTSAT
    mdb: {testsat}
"""
WINDOWS = [
    ("2023-09-08T00:30:00Z", "2023-09-08T01:30:00Z"),
    ("2023-09-08T03:00:00Z", "2023-09-08T04:00:00Z"),
]


def _config(tmp_path: Path, policy: str = "wait", spacecraft: str = "ROVER") -> Path:
    pairs = [(parse_ns(a), parse_ns(b)) for a, b in WINDOWS]
    write_windows(
        tmp_path / "windows.json",
        pairs,
        spacecraft=spacecraft,
        what="Earth above the terrain horizon at x=1, y=3031 m (test)",
        contacts="earth",
    )
    p = tmp_path / "server.yaml"
    p.write_text(
        CONFIG.format(
            rover=MISSIONS / "rover" / "mdb.yaml",
            testsat=MISSIONS / "testsat" / "mdb.yaml",
            policy=policy,
        )
    )
    return p


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("uplink")
    rt = Runtime.from_config(load_config(_config(tmp)))
    rt.start()
    try:
        with TestClient(create_app(rt)) as c:
            yield c
    finally:
        rt.stop()


def _headers(c: TestClient, user: str, password: str) -> dict[str, str]:
    r = c.post(API + "/auth/token", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


CLOSED = {
    "policy": "wait",
    "open": False,
    "window": None,
    "next": {"start": "2023-09-08T00:30:00Z", "end": "2023-09-08T01:30:00Z"},
}


def test_a_viewer_reads_the_closed_uplink_and_its_next_window(client: TestClient) -> None:
    h = _headers(client, "vera", "v")
    for path in (API + "/uplink", API + "/spacecraft/ROVER/uplink"):  # ROVER is the default
        r = client.get(path, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert Path(body.pop("file")).name == "windows.json"
        assert body == CLOSED


def test_a_spacecraft_without_windows_is_always_open(client: TestClient) -> None:
    r = client.get(API + "/spacecraft/TESTSAT/uplink", headers=_headers(client, "vera", "v"))
    assert r.json() == {"policy": None, "open": True, "window": None, "next": None, "file": None}


def test_without_a_token_the_route_is_401(client: TestClient) -> None:
    for path in (API + "/uplink", API + "/spacecraft/ROVER/uplink"):
        assert client.get(path).status_code == 401


def test_a_command_outside_the_window_waits_with_the_reason(client: TestClient) -> None:
    h = _headers(client, "otto", "o")
    r = client.post(API + "/spacecraft/ROVER/commands", json={"command": "NOOP"}, headers=h)
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    end = time.monotonic() + 5.0
    while time.monotonic() < end:
        rec = client.get(f"{API}/spacecraft/ROVER/commands/{cid}", headers=h).json()
        if rec.get("reason"):
            break
        time.sleep(0.02)
    assert rec["state"] == "queued"
    assert rec["reason"] == (
        "waiting for the uplink window 2023-09-08T00:30:00Z–2023-09-08T01:30:00Z "
        "(Earth below ROVER's horizon)"
    )


def test_the_policy_reaches_the_command_manager(tmp_path: Path) -> None:
    rt = Runtime.from_config(load_config(_config(tmp_path, policy="refuse")))
    try:
        rover = rt.get("ROVER")
        assert rover.commands.uplink_policy == "refuse"
        assert rover.commands.uplink_windows is rover.uplink_windows
        assert [str(w) for w in rover.uplink_windows or ()] == [f"{a}–{b}" for a, b in WINDOWS]
        assert rt.get("TESTSAT").commands.uplink_windows is None
    finally:
        rt.stop()


def test_windows_of_another_spacecraft_are_refused_with_the_fix(tmp_path: Path) -> None:
    p = _config(tmp_path, spacecraft="TIANGONG")
    with pytest.raises(InputError) as info:
        Runtime.from_config(load_config(p))
    assert str(info.value) == (
        f"{p}: {tmp_path / 'windows.json'}: uplink windows of TIANGONG, configured for ROVER; "
        "write ROVER's with falak traverse windows --spacecraft ROVER"
    )
