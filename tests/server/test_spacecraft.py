"""Two spacecraft in one server (TESTSAT, the default, and TIANGONG): each one's telemetry
in its own archive and routes, telecommands to its own uplink, roles per spacecraft, the
spacecraft list, WebSockets under /spacecraft/{sc}, and the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from falak.archive import list_spacecraft, open_archive
from falak.server import create_app
from tests.server.conftest import wait_for
from tests.server.multi import MULTI_USERS, TwoSpacecraft, two_spacecraft

API = "/api/v1"
SC = API + "/spacecraft"


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoSpacecraft]:
    with two_spacecraft(tmp_path_factory.mktemp("multi")) as m:
        yield m


@pytest.fixture(scope="module")
def mc(multi: TwoSpacecraft) -> Iterator[TestClient]:
    with TestClient(create_app(multi.runtime)) as c:
        yield c


@pytest.fixture(scope="module")
def h(mc: TestClient) -> dict[str, dict[str, str]]:
    """Authorization headers by user name."""
    out = {}
    for user, (pw, _) in MULTI_USERS.items():
        r = mc.post(API + "/auth/token", json={"username": user, "password": pw})
        assert r.status_code == 200, r.text
        out[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return out


def _latest(mc: TestClient, h: dict[str, str], path: str) -> Any:
    r = mc.get(path, headers=h)
    return r.json() if r.status_code == 200 else None


def test_the_spacecraft_list_shows_links_and_uplinks(
    mc: TestClient, h: dict[str, dict[str, str]], multi: TwoSpacecraft
) -> None:
    crafts = mc.get(SC, headers=h["olga"]).json()
    assert [(c["name"], c["mdb"], c["default"]) for c in crafts] == [
        ("TESTSAT", "/TESTSAT", True),
        ("TIANGONG", "/TIANGONG", False),
    ]
    station = crafts[1]
    assert [lk["name"] for lk in station["links"]] == ["udp0", "udp1"]
    assert station["links"][0]["url"] == f"udp://127.0.0.1:{multi.tm_port('TIANGONG')}"
    assert station["links"][0]["state"] == "listening"
    port = multi.uplinks["TIANGONG"].getsockname()[1]
    assert station["uplink"]["url"] == f"udp://127.0.0.1:{port}"
    assert station["light_time_s"] == 0.005
    assert station["processor_running"] is True
    assert mc.get(SC + "/TIANGONG", headers=h["olga"]).json() == station
    # sam may see TESTSAT only
    assert [c["name"] for c in mc.get(SC, headers=h["sam"]).json()] == ["TESTSAT"]
    me = mc.get(API + "/auth/me", headers=h["tina"]).json()
    assert me["spacecraft"] == {"TESTSAT": ["viewer"], "TIANGONG": ["operator", "viewer"]}


def test_unknown_spacecraft_is_404_naming_the_known(
    mc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    for path in ("/ROVER", "/ROVER/mdb", "/ROVER/alarms", "/ROVER/commands"):
        r = mc.get(SC + path, headers=h["ada"])
        assert r.status_code == 404, path
        assert r.json() == {"detail": "no spacecraft named 'ROVER'; spacecraft: TESTSAT, TIANGONG"}


def test_telemetry_lands_in_each_spacecraft_s_archive_and_routes(
    mc: TestClient, h: dict[str, dict[str, str]], multi: TwoSpacecraft
) -> None:
    v = h["olga"]
    multi.send_testsat_hk(3, batt_v_counts=7300)
    multi.send_station_hk(2, alt_counts=39_100)
    alt = SC + "/TIANGONG/parameters/STN_ALT_KM/latest"
    assert wait_for(lambda: _latest(mc, v, alt) is not None)
    assert wait_for(lambda: _latest(mc, v, API + "/parameters/BATT_V/latest") is not None)
    assert _latest(mc, v, alt)["eng"] == pytest.approx(391.0)  # 0.01 km per count
    # the old routes are TESTSAT's; the named ones each spacecraft's own
    assert _latest(mc, v, API + "/parameters/BATT_V/latest")["eng"] == 7.3  # 1 mV per count
    assert _latest(mc, v, SC + "/TESTSAT/parameters/BATT_V/latest")["eng"] == 7.3
    r = mc.get(SC + "/TIANGONG/parameters/BATT_V/latest", headers=v)
    assert r.status_code == 404
    assert "no parameter named 'BATT_V'" in r.json()["detail"]
    assert mc.get(SC + "/TIANGONG/mdb", headers=v).json()["name"] == "/TIANGONG"
    stats = {
        sc: mc.get(SC + f"/{sc}/packets/stats", headers=v).json()["by_apid"]
        for sc in ("TESTSAT", "TIANGONG")
    }
    assert stats["TESTSAT"].get("300") is None
    assert stats["TESTSAT"]["100"] >= 3
    assert stats["TIANGONG"] == {"300": 2}
    pk = mc.get(SC + "/TIANGONG/packets", params={"apid": 300}, headers=v).json()
    assert [p["apid"] for p in pk] == [300, 300]
    # on disk: one sub-archive per spacecraft (falak.archive.open_archive(spacecraft=...))
    url = multi.runtime.archive_url
    assert url is not None
    assert list_spacecraft(url) == ["TESTSAT", "TIANGONG"]
    arc = open_archive(url, spacecraft="TIANGONG", create=False)
    try:
        assert arc.packet_stats().by_apid == {300: 2}
    finally:
        arc.close()


def test_commands_go_to_their_spacecraft_s_uplink(
    mc: TestClient, h: dict[str, dict[str, str]], multi: TwoSpacecraft
) -> None:
    r = mc.post(SC + "/TIANGONG/commands", json={"command": "NOOP"}, headers=h["tina"])
    assert r.status_code == 200, r.text
    assert r.json()["command"] == "/TIANGONG/NOOP"
    tc = multi.uplinks["TIANGONG"].recv(65536)
    assert int.from_bytes(tc[0:2], "big") & 0x7FF == 400  # TIANGONG's TC APID (mdb.yaml)
    r = mc.post(API + "/commands", json={"command": "NOOP"}, headers=h["olga"])
    assert r.status_code == 200, r.text
    assert r.json()["command"] == "/TESTSAT/NOOP"
    tc = multi.uplinks["TESTSAT"].recv(65536)
    assert int.from_bytes(tc[0:2], "big") & 0x7FF == 200  # TESTSAT's TC APID (mdb.yaml)
    # each spacecraft's history holds its own commands only
    names = {
        sc: {c["command"] for c in mc.get(SC + f"/{sc}/commands", headers=h["olga"]).json()}
        for sc in ("TESTSAT", "TIANGONG")
    }
    assert names == {"TESTSAT": {"/TESTSAT/NOOP"}, "TIANGONG": {"/TIANGONG/NOOP"}}


def test_roles_are_per_spacecraft(mc: TestClient, h: dict[str, dict[str, str]]) -> None:
    # tina operates TIANGONG and only views TESTSAT
    for path in (API + "/commands", SC + "/TESTSAT/commands"):
        r = mc.post(path, json={"command": "NOOP"}, headers=h["tina"])
        assert r.status_code == 403, path
        assert r.json()["detail"] == (
            "user tina (roles viewer) may not do this on TESTSAT: it needs the role operator there"
        )
    r = mc.post(SC + "/TESTSAT/stacks", json={"text": "x"}, headers=h["tina"])
    assert r.status_code == 403
    r = mc.post(SC + "/TESTSAT/alarms/BATT_V/acknowledge", json={}, headers=h["tina"])
    assert r.status_code == 403
    assert "needs the role operator there" in r.json()["detail"]
    r = mc.post(SC + "/TESTSAT/links/udp0/disable", headers=h["tina"])
    assert r.status_code == 403
    # ... but she may dry-run there (any viewer may)
    r = mc.post(SC + "/TESTSAT/commands/dry-run", json={"command": "NOOP"}, headers=h["tina"])
    assert r.status_code == 200
    # sam has no role at all on TIANGONG: not even reading
    r = mc.get(SC + "/TIANGONG/mdb", headers=h["sam"])
    assert r.status_code == 403
    assert r.json()["detail"] == (
        "user sam (no roles) may not do this on TIANGONG: it needs the role viewer there"
    )
    assert mc.get(SC + "/TESTSAT/mdb", headers=h["sam"]).status_code == 200


def test_audit_events_name_the_spacecraft(
    mc: TestClient, h: dict[str, dict[str, str]], multi: TwoSpacecraft
) -> None:
    r = mc.post(SC + "/TIANGONG/links/udp1/disable", headers=h["tina"])
    assert r.json()["enabled"] is False
    mc.post(SC + "/TIANGONG/links/udp1/enable", headers=h["tina"])
    evs = mc.get(SC + "/TIANGONG/events", params={"source": "server"}, headers=h["olga"]).json()
    acts = [(e["attrs"]["action"], e["attrs"]["spacecraft"], e["attrs"]["user"]) for e in evs]
    assert acts[-2:] == [("link_disable", "TIANGONG", "tina"), ("link_enable", "TIANGONG", "tina")]
    evs = mc.get(API + "/events", params={"source": "server"}, headers=h["olga"]).json()
    assert not [e for e in evs if e["attrs"].get("action") == "link_disable"]


def test_websockets_per_spacecraft(
    mc: TestClient, h: dict[str, dict[str, str]], multi: TwoSpacecraft
) -> None:
    tok = h["sam"]["Authorization"].split()[1]
    url = f"{SC}/TIANGONG/ws/parameters?names=STN_ALT_KM&token={tok}"
    with pytest.raises(WebSocketDenialResponse) as info, mc.websocket_connect(url):
        pass
    assert info.value.status_code == 403
    assert info.value.json()["detail"].startswith("user sam (no roles) may not do this on")
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        mc.websocket_connect(f"{SC}/ROVER/ws/alarms?token={tok}"),
    ):
        pass
    assert info.value.status_code == 404
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        mc.websocket_connect(f"{SC}/TIANGONG/ws/alarms"),
    ):
        pass
    assert info.value.status_code == 401
    tok = h["tina"]["Authorization"].split()[1]
    with mc.websocket_connect(f"{SC}/TIANGONG/ws/parameters?names=STN_ALT_KM&token={tok}") as ws:
        multi.send_testsat_hk(1)  # not on this stream
        multi.send_station_hk(1, alt_counts=39_200)
        (msg,) = json.loads(ws.receive_text())
    assert (msg["seq"], msg["topic"]) == (1, "/TIANGONG/STN_ALT_KM")
    assert msg["data"]["eng"] == [pytest.approx(392.0)]
    with mc.websocket_connect(f"{SC}/TIANGONG/ws/links?token={tok}") as ws:
        names = {m["topic"] for m in json.loads(ws.receive_text())}
    assert names == {"udp0", "udp1"}


def test_openapi_lists_the_spacecraft_routes(mc: TestClient) -> None:
    paths = mc.get("/openapi.json").json()["paths"]
    assert "/api/v1/spacecraft" in paths
    for route in ("/mdb", "/parameters/{name}/latest", "/commands", "/stacks", "/alarms"):
        assert API + route in paths, route
        assert SC + "/{sc}" + route in paths, route
    (sc,) = [p for p in paths[SC + "/{sc}/commands"]["post"]["parameters"] if p["name"] == "sc"]
    assert sc["in"] == "path"
    assert sc["required"] is True
    assert "auth" not in " ".join(p for p in paths if p.startswith(SC + "/{sc}"))


def test_every_route_needs_a_token(mc: TestClient) -> None:
    """Every route in the OpenAPI document but /health and the login answers 401 without a
    token, the per-spacecraft copies too; so do the WebSocket streams of each spacecraft."""
    paths = mc.get("/openapi.json").json()["paths"]
    checked = 0
    for path, ops in paths.items():
        if path in ("/health", API + "/auth/token"):
            continue
        url = path.replace("{sc}", "TIANGONG").replace("{command_id}", "1")
        url = url.replace("{name}", "X").replace("{parameter}", "X")
        for method in ops:
            r = mc.request(method, url)
            assert r.status_code == 401, (method, url)
            assert "POST /api/v1/auth/token" in r.json()["detail"]
            checked += 1
    assert checked > 70  # the named copies are included
    for prefix in (API, SC + "/TESTSAT", SC + "/TIANGONG"):
        for stream in ("parameters", "alarms", "events", "commands", "links"):
            with (
                pytest.raises(WebSocketDenialResponse) as info,
                mc.websocket_connect(f"{prefix}/ws/{stream}"),
            ):
                pass
            assert info.value.status_code == 401
