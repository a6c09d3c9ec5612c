"""The API in-process (FastAPI TestClient) over a live TESTSAT processor."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.server.conftest import Ground, wait_for

API = "/api/v1"


def test_health_needs_no_token(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "processor_running": True}


def test_every_other_route_needs_a_token(client: TestClient) -> None:
    for path in (
        "/mdb",
        "/mdb/parameters",
        "/parameters/latest",
        "/alarms",
        "/links",
        "/commands",
        "/events",
        "/packets",
        "/queues",
    ):
        r = client.get(API + path)
        assert r.status_code == 401, path
        assert "POST /api/v1/auth/token" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.get(API + "/mdb", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json()["detail"].startswith("token unknown or expired")


def test_login_wrong_password(client: TestClient) -> None:
    r = client.post(API + "/auth/token", json={"username": "otto", "password": "nope"})
    assert r.status_code == 401
    assert r.json() == {"detail": "wrong user name or password"}
    r = client.post(API + "/auth/token", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401


def test_me_shows_effective_roles(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    r = client.get(API + "/auth/me", headers=auth["fiona"])
    roles = ["flight_director", "operator", "viewer"]
    assert r.json() == {"user": "fiona", "roles": roles, "spacecraft": {"TESTSAT": roles}}


def test_mdb_browsing(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    h = auth["vera"]
    assert client.get(API + "/mdb", headers=h).json()["name"] == "/TESTSAT"
    p = client.get(API + "/mdb/parameters/BATT_V", headers=h).json()
    assert p["qualified_name"] == "/TESTSAT/BATT_V"
    names = [c["name"] for c in client.get(API + "/mdb/commands", headers=h).json()]
    assert {"NOOP", "SET_HEATER", "REBOOT"} <= set(names)
    r = client.get(API + "/mdb/parameters/NO_SUCH", headers=h)
    assert r.status_code == 404
    assert "no parameter named 'NO_SUCH'" in r.json()["detail"]


def test_live_values_history_alarms_and_export(
    client: TestClient, auth: dict[str, dict[str, str]], live: Ground
) -> None:
    h, op = auth["vera"], auth["otto"]
    # 9.0 V is above TESTSAT's 8.4 V warning limit (mdb.yaml BATT_V alarm)
    live.send_hk(3, batt_v_counts=9000)
    assert wait_for(lambda: client.get(API + "/alarms", headers=h).json())
    latest = client.get(API + "/parameters/BATT_V/latest", headers=h).json()
    assert latest["parameter"] == "/TESTSAT/BATT_V"
    assert latest["eng"] == 9.0  # 1 mV per count (mdb.yaml calibration)
    assert latest["status"] != "NORMAL"
    assert wait_for(
        lambda: len(client.get(API + "/parameters/BATT_V/history", headers=h).json()["eng"]) >= 3
    )
    (alarm,) = [
        a
        for a in client.get(API + "/alarms", headers=h).json()
        if a["parameter"] == "/TESTSAT/BATT_V"
    ]
    assert alarm["state"] == "triggered"
    # a viewer may not acknowledge
    r = client.post(API + "/alarms/BATT_V/acknowledge", json={"comment": "x"}, headers=h)
    assert r.status_code == 403
    assert "needs the role operator" in r.json()["detail"]
    r = client.post(API + "/alarms/BATT_V/acknowledge", json={"comment": "seen"}, headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["ack_user"] == "otto"
    r = client.post(
        API + "/alarms/BATT_V/shelve", json={"comment": "c", "duration_s": -1}, headers=op
    )
    assert r.status_code == 422
    r = client.post(API + "/alarms/BATT_V/clear", json={"comment": "done"}, headers=op)
    assert r.status_code == 204
    r = client.post(API + "/alarms/BATT_V/clear", json={}, headers=op)
    assert r.status_code == 404
    assert "no active alarm" in r.json()["detail"]
    hist = client.get(API + "/alarms/history", params={"parameter": "BATT_V"}, headers=h).json()
    acts = [(x["state"], x["user"]) for x in hist]
    assert ("acknowledged", "otto") in acts
    assert ("cleared", "otto") in acts
    audit = client.get(API + "/events", params={"source": "server"}, headers=h).json()
    assert any(
        e["attrs"].get("action") == "alarm_clear" and e["attrs"]["user"] == "otto" for e in audit
    )
    text = client.get(API + "/archive/export", params={"names": ["BATT_V", "MODE"]}, headers=h).text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["time", "BATT_V", "MODE"]
    assert rows[-1][1] == "9.0"
    pk = client.get(
        API + "/packets", params={"apid": 100, "limit": 2, "include_bytes": True}, headers=h
    ).json()
    assert len(pk) == 2
    assert pk[0]["apid"] == 100
    assert pk[0]["hex"].startswith("08")


def test_bad_time_and_unknown_names_are_4xx(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    h = auth["vera"]
    r = client.get(
        API + "/parameters/BATT_V/history", params={"start": "2026-01-01T00:00:00"}, headers=h
    )
    assert r.status_code == 400
    assert "has no time zone" in r.json()["detail"]
    r = client.get(API + "/parameters/BATT_V/history", params={"start": "yesterday"}, headers=h)
    assert r.status_code == 422
    r = client.get(API + "/links/nope", headers=h)
    assert r.status_code == 404
    assert r.json()["detail"] == "no link named 'nope'; links: tm"


def test_links_enable_disable(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    r = client.post(API + "/links/tm/disable", headers=auth["vera"])
    assert r.status_code == 403
    r = client.post(API + "/links/tm/disable", headers=auth["otto"])
    assert r.json()["enabled"] is False
    r = client.post(API + "/links/tm/enable", headers=auth["otto"])
    assert r.json()["enabled"] is True
    (lk,) = client.get(API + "/links", headers=auth["vera"]).json()
    assert lk["url"].startswith("udp://127.0.0.1:")


def test_openapi_is_served(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/api/v1/commands" in doc["paths"]
    assert "/api/v1/auth/token" in doc["paths"]
