"""WebSocket streams in-process: parameters with seq, alarms, events, commands, links, auth
and the slow-subscriber drop."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from falak.server.ws import NOT_AUTHENTICATED
from tests.server.conftest import Ground

WS = "/api/v1/ws"


def token(auth: dict[str, dict[str, str]], user: str) -> str:
    return auth[user]["Authorization"].split()[1]


def receive(ws: Any, want: int, kind: str) -> list[dict[str, Any]]:
    """Read frames until ``want`` messages of ``kind`` came (each frame is a JSON array);
    return every message read (other kinds too, e.g. staleness on a parameter's topic)."""
    got: list[dict[str, Any]] = []
    for _ in range(200):  # bounded: frames, not time (the test client blocks on receive)
        got += json.loads(ws.receive_text())
        if sum(m["type"] == kind for m in got) >= want:
            break
    return got


def test_unauthenticated_socket_is_refused_with_401(client: TestClient) -> None:
    """As on the REST routes and in docs/server.md: 401 with the reason, before accept."""
    for url in (WS + "/alarms", WS + "/links?token=wrong"):
        with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect(url):
            pass
        assert info.value.status_code == 401
        assert info.value.headers["www-authenticate"] == "Bearer"
        assert info.value.json() == {"detail": NOT_AUTHENTICATED}
    assert NOT_AUTHENTICATED == (
        "not authenticated: add ?token=TOKEN or an 'Authorization: Bearer TOKEN' header "
        "(get a token with POST /api/v1/auth/token)"
    )


def test_parameter_stream_numbers_messages(
    client: TestClient, auth: dict[str, dict[str, str]], live: Ground
) -> None:
    url = f"{WS}/parameters?names=BATT_V&names=MODE&token={token(auth, 'vera')}"
    with client.websocket_connect(url) as ws:
        live.send_hk(1, batt_v_counts=7400)
        msgs = receive(ws, 2, "parameter")  # one message per parameter and packet
        live.send_hk(1, batt_v_counts=7400)
        msgs += receive(ws, 2, "parameter")
    seqs = [m["seq"] for m in msgs]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap: nothing was missed
    batt = [m for m in msgs if m["topic"] == "/TESTSAT/BATT_V" and m["type"] == "parameter"]
    assert batt[0]["data"]["eng"] == [7.4]  # 7400 counts at 1 mV per count
    assert batt[0]["data"]["status"] == ["NORMAL"]


def test_unknown_parameter_is_reported(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    with client.websocket_connect(f"{WS}/parameters?names=NOPE&token={token(auth, 'vera')}") as ws:
        (msg,) = json.loads(ws.receive_text())
    assert msg["type"] == "error"
    assert "no parameter named 'NOPE'" in msg["reason"]


def test_slow_subscriber_is_dropped_with_a_reason(
    client: TestClient, auth: dict[str, dict[str, str]], live: Ground
) -> None:
    # one HK packet publishes one message per parameter at once: a 1-message queue overflows
    with client.websocket_connect(f"{WS}/parameters?maxsize=1&token={token(auth, 'vera')}") as ws:
        live.send_hk(20)
        closed: list[dict[str, Any]] = []
        for _ in range(400):  # bounded by frames; 20 packets publish ~300 messages
            closed += [m for m in json.loads(ws.receive_text()) if m["type"] == "closed"]
            if closed:
                break
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert closed[0]["reason"].startswith("slow subscriber: 1 messages queued and not read")
    assert info.value.code == 1013


def test_alarm_event_command_and_link_streams(
    client: TestClient, auth: dict[str, dict[str, str]], live: Ground
) -> None:
    t = token(auth, "vera")
    with client.websocket_connect(f"{WS}/alarms?token={t}") as alarms:
        live.send_hk(1, batt_v_counts=9000)  # above the 8.4 V warning limit
        (a,) = [m for m in receive(alarms, 1, "alarm") if m["type"] == "alarm"]
    assert a["data"]["parameter"] == "/TESTSAT/BATT_V"
    assert a["data"]["state"] == "triggered"
    with client.websocket_connect(f"{WS}/events?token={t}") as events:
        client.post("/api/v1/links/tm/enable", headers=auth["otto"])
        (e,) = [m for m in receive(events, 1, "event") if m["type"] == "event"]
    assert e["data"]["message"] == "otto: enabled link tm"
    with client.websocket_connect(f"{WS}/commands?token={t}") as cmds:
        r = client.post("/api/v1/commands/dry-run", json={"command": "NOOP"}, headers=auth["otto"])
        cid = r.json()["id"]
        got: list[dict[str, Any]] = []
        for _ in range(100):
            got += json.loads(cmds.receive_text())
            if any(m["data"]["id"] == cid for m in got):
                break
    assert any(m["data"]["id"] == cid and m["data"]["state"] == "dry_run" for m in got)
    with client.websocket_connect(f"{WS}/links?token={t}") as links:
        (lk,) = [m for m in receive(links, 1, "link") if m["type"] == "link"]
    assert lk["topic"] == "tm"
    assert lk["data"]["enabled"] is True
