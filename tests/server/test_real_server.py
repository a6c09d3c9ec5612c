"""End to end against a real uvicorn server on 127.0.0.1 (fixture ``real_server``): HTTP with
httpx, WebSockets with the websockets client, commands to the loopback test spacecraft."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from falak.server import ws as ws_module
from tests.server.conftest import USERS, RealServer, wait_for


@pytest.fixture(scope="module")
def http(real_server: RealServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=real_server.url, timeout=15) as c:
        yield c


def token(http: httpx.Client, user: str) -> str:
    r = http.post("/api/v1/auth/token", json={"username": user, "password": USERS[user][0]})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_unauthenticated_is_401_and_health_is_open(http: httpx.Client) -> None:
    assert http.get("/health").status_code == 200
    r = http.get("/api/v1/alarms")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_operator_command_passes_every_stage(http: httpx.Client) -> None:
    h = {"Authorization": "Bearer " + token(http, "otto")}
    r = http.post(
        "/api/v1/commands",
        json={"command": "SET_HEATER", "arguments": {"SETPOINT": -5}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    rec = http.get(f"/api/v1/commands/{cid}/wait", params={"timeout_s": 10}, headers=h).json()
    assert rec["state"] == "completed", rec
    hist = {c["id"]: c for c in http.get("/api/v1/commands", headers=h).json()}
    assert {s: v["outcome"] for s, v in hist[cid]["verifiers"].items()} == {
        "received": "OK",
        "accepted": "OK",
        "complete": "OK",
    }
    assert hist[cid]["user"] == "otto"


def test_parameter_stream_over_a_real_socket(real_server: RealServer, http: httpx.Client) -> None:
    t = token(http, "vera")
    ws_url = real_server.url.replace("http://", "ws://")
    with connect(f"{ws_url}/api/v1/ws/parameters?names=TEMP_BATT&token={t}") as ws:
        real_server.ground.send_hk(1)
        msgs: list[dict[str, object]] = []
        for _ in range(50):
            msgs += json.loads(ws.recv(timeout=10))
            if any(m["type"] == "parameter" for m in msgs):
                break
    (m,) = [m for m in msgs if m["type"] == "parameter"]
    assert m["topic"] == "/TESTSAT/TEMP_BATT"
    assert m["seq"] == max(int(x["seq"]) for x in msgs)  # type: ignore[call-overload]


def test_websocket_without_a_valid_token_is_401(real_server: RealServer) -> None:
    """The handshake is answered with HTTP 401 over a real socket, as docs/server.md says
    (it was 403: uvicorn's answer to a socket closed before accept)."""
    from websockets.exceptions import InvalidStatus

    from falak.server.ws import NOT_AUTHENTICATED

    ws_url = real_server.url.replace("http://", "ws://")
    for path in ("/api/v1/ws/alarms", "/api/v1/ws/commands?token=wrong"):
        with pytest.raises(InvalidStatus) as info, connect(ws_url + path):
            pass
        response = info.value.response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert json.loads(response.body) == {"detail": NOT_AUTHENTICATED}


def test_stuck_subscriber_is_dropped_and_others_keep_up(
    real_server: RealServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that stops reading fills its socket buffers; once a frame has waited
    SEND_TIMEOUT_S the server drops it (audited with the reason) while another subscriber
    receives every value in order."""
    monkeypatch.setattr(ws_module, "SEND_TIMEOUT_S", 0.3)
    t = token(http, "vera")
    ws_url = real_server.url.replace("http://", "ws://") + "/api/v1/ws/parameters"
    host, port = real_server.url.removeprefix("http://").split(":")
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))
    n = 3000
    with (
        connect(f"{ws_url}?token={t}", sock=raw, max_queue=1, close_timeout=0.2) as _stuck,
        connect(f"{ws_url}?names=BATT_V&token={t}") as normal,
    ):
        processor = real_server.ground.runtime.processor
        decoded0 = processor.stats().decoded
        for _ in range(n // 50):
            real_server.ground.send_hk(50)
            time.sleep(0.02)  # UDP: do not overrun the link's socket buffer

        def settled() -> bool:  # every datagram that arrived is decoded
            before = processor.stats().decoded
            time.sleep(0.3)
            return processor.stats().decoded == before

        assert wait_for(settled, 20.0)
        expected = processor.stats().decoded - decoded0  # UDP may drop a few under load
        assert expected >= 0.9 * n
        seqs: list[int] = []
        values = 0
        while values < expected:
            for m in json.loads(normal.recv(timeout=10)):
                seqs.append(m["seq"])
                values += len(m["data"]["time_ns"])
        assert values == expected
        assert seqs == list(range(1, len(seqs) + 1))

        def dropped() -> list[dict[str, object]]:
            h = {"Authorization": "Bearer " + t}
            r = http.get("/api/v1/events", params={"source": "server"}, headers=h)
            return [e for e in r.json() if "dropped" in str(e["message"])]

        assert wait_for(lambda: bool(dropped()), 10.0)
        assert "a frame was not taken within 0.3 s" in str(dropped()[-1]["message"])


def test_frames_are_not_compressed_unless_asked(
    real_server: RealServer, http: httpx.Client
) -> None:
    """permessage-deflate costs more CPU than it saves at telemetry rates (see
    benchmarks/RESULTS_websocket.md): the server declines it by default."""
    from falak.server import create_app, uvicorn_config

    t = token(http, "vera")
    ws_url = real_server.url.replace("http://", "ws://")
    with connect(f"{ws_url}/api/v1/ws/parameters?token={t}") as ws:  # the client offers it
        assert ws.protocol.extensions == []
    app = create_app(real_server.ground.runtime)
    assert uvicorn_config(app).ws_per_message_deflate is False
    assert uvicorn_config(app, ws_deflate=True).ws_per_message_deflate is True


def test_onboard_events_reach_the_events_route_and_stream(
    real_server: RealServer, http: httpx.Client
) -> None:
    """A TESTSAT EVENT packet (APID 101, marked as events in mdb.yaml) over UDP is on
    /ws/events and in GET /api/v1/events?source=onboard (it was decoded and dropped)."""
    t = token(http, "vera")
    ws_url = real_server.url.replace("http://", "ws://")
    with connect(f"{ws_url}/api/v1/ws/events?token={t}") as ws:
        real_server.ground.send_event(42, 1, "battery heater stuck on")
        got: list[dict[str, Any]] = []
        for _ in range(50):
            got += json.loads(ws.recv(timeout=10))
            if any(m["data"]["message"] == "battery heater stuck on" for m in got):
                break
    (m,) = [m for m in got if m["data"]["message"] == "battery heater stuck on"]
    assert (m["type"], m["topic"], m["data"]["severity"]) == ("event", "events", "warning")
    r = http.get(
        "/api/v1/events", params={"source": "onboard"}, headers={"Authorization": "Bearer " + t}
    )
    assert r.status_code == 200
    (e,) = [e for e in r.json() if e["message"] == "battery heater stuck on"]
    assert (e["source"], e["severity"], e["time_ns"]) == (
        "onboard",
        "warning",
        m["data"]["time_ns"],
    )
    assert e["attrs"]["event_id"] == 42
    assert e["attrs"]["container"] == "/TESTSAT/EVENT"
