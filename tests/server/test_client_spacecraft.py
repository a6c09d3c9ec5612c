"""falak.client and ``falak stack --spacecraft`` against a real uvicorn server hosting two
spacecraft (TESTSAT, the default, and TIANGONG; :mod:`tests.server.multi`)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from falak.cli.app import app as cli
from falak.client import ApiError, Client
from falak.server import create_app, uvicorn_config
from tests.server.conftest import wait_for
from tests.server.multi import MULTI_USERS, TwoSpacecraft, two_spacecraft


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TwoSpacecraft]]:
    with two_spacecraft(tmp_path_factory.mktemp("multi-real")) as m:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn_config(create_app(m.runtime)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}", m
        finally:
            server.should_exit = True
            thread.join(10.0)
            sock.close()


def test_a_client_per_spacecraft(served: tuple[str, TwoSpacecraft]) -> None:
    url, m = served
    with Client.login(url, "tina", MULTI_USERS["tina"][0], spacecraft="TIANGONG") as station:
        assert repr(station) == f"<falak Client {url} on TIANGONG as tina>"
        listed = station.spacecraft_list()
        assert [(s["name"], s["default"]) for s in listed] == [
            ("TESTSAT", True),
            ("TIANGONG", False),
        ]
        assert {lk["name"] for lk in station.links()} == {"udp0", "udp1"}
        with station.subscribe(["STN_ALT_KM"], timeout_s=10) as stream:
            m.send_station_hk(1, alt_counts=39_300)
            sample = next(stream)
        assert sample.parameter == "/TIANGONG/STN_ALT_KM"
        assert sample.eng == pytest.approx(393.0)  # 0.01 km per count (mdb.yaml AltitudeKm)
        cmd = station.issue("NOOP")
        assert cmd.command == "/TIANGONG/NOOP"
        assert m.uplinks["TIANGONG"].recv(65536)
        # the same token, bound to TESTSAT, where tina is a viewer only
        with station.for_spacecraft("TESTSAT") as sat:
            assert sat.token == station.token
            assert sat.user == "tina"
            with pytest.raises(ApiError) as info:
                sat.issue("NOOP")
            assert info.value.status == 403
            assert info.value.detail == (
                "user tina (roles viewer) may not do this on TESTSAT: it needs the role "
                "operator there"
            )
            assert sat.issue("NOOP", dry_run=True).command == "/TESTSAT/NOOP"
        with station.for_spacecraft(None) as default:  # the server's default: TESTSAT
            assert {c.command for c in default.command_history()} == {"/TESTSAT/NOOP"}
        with station.for_spacecraft("ROVER") as rover, pytest.raises(ApiError) as info:
            rover.alarms()
        assert (info.value.status, info.value.detail) == (
            404,
            "no spacecraft named 'ROVER'; spacecraft: TESTSAT, TIANGONG",
        )


def test_falak_stack_with_spacecraft(served: tuple[str, TwoSpacecraft], tmp_path: Path) -> None:
    url, m = served
    stack = tmp_path / "station.yaml"
    stack.write_text("stack: station-ping\nsteps:\n  - {command: NOOP, offset_s: 600}\n")
    env = {"FALAK_URL": url, "FALAK_USER": "tina", "FALAK_PASSWORD": MULTI_USERS["tina"][0]}
    runner = CliRunner()
    r = runner.invoke(cli, ["stack", "load", str(stack), "--spacecraft", "TIANGONG"], env=env)
    assert r.exit_code == 0, r.output
    assert "stack station-ping (TIANGONG): loaded" in r.output
    assert [s["name"] for s in m.runtime.get("TIANGONG").stacks.records()] == ["station-ping"]
    assert m.runtime.get("TESTSAT").stacks.records() == []
    r = runner.invoke(cli, ["stack", "abort", "station-ping"], env=env | {"COLUMNS": "200"})
    assert r.exit_code == 1  # without --spacecraft: the default, TESTSAT, where tina views
    assert "may not do this on TESTSAT" in r.output
    env["FALAK_SPACECRAFT"] = "TIANGONG"
    r = runner.invoke(cli, ["stack", "abort", "station-ping"], env=env)
    assert r.exit_code == 0, r.output
    assert "stack station-ping (TIANGONG): aborted" in r.output
