"""Commanding through the API: roles, critical arming, argument errors, and end to end over
loopback to the test spacecraft (tests/commanding/spacecraft.py) with verification."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from falak.server import create_app
from tests.server.conftest import ground, login

API = "/api/v1"


def test_viewer_may_not_command_but_may_dry_run(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.post(API + "/commands", json={"command": "NOOP"}, headers=auth["vera"])
    assert r.status_code == 403
    assert r.json()["detail"] == (
        "user vera (roles viewer) may not do this on TESTSAT: it needs the role operator there"
    )
    r = client.post(
        API + "/commands/dry-run",
        json={"command": "SET_HEATER", "arguments": {"SETPOINT": 12.5}},
        headers=auth["vera"],
    )
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["state"] == "dry_run"
    assert rec["user"] == "vera"
    assert rec["arguments"]["SETPOINT"] == 12.5


def test_out_of_range_argument_is_422_naming_it(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    # HeaterSetpoint allows -20..40 degC (testsat mdb.yaml)
    r = client.post(
        API + "/commands",
        json={"command": "SET_HEATER", "arguments": {"SETPOINT": 99}},
        headers=auth["otto"],
    )
    assert r.status_code == 422
    body = r.json()
    assert body["argument"] == "SETPOINT"
    assert "SETPOINT" in body["detail"]
    r = client.post(API + "/commands", json={"command": "NO_SUCH"}, headers=auth["otto"])
    assert r.status_code == 404
    assert "no command named 'NO_SUCH'" in r.json()["detail"]


def test_range_error_shows_the_value_as_given(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    """40.000001 is just above the -20..40 degC of HeaterSetpoint (testsat mdb.yaml): the
    message must not round it to 40, which would read as inside the range."""
    for given, shown in [(40.000001, "40.000001"), ("40.000001", "40.000001"), (41, "41")]:
        r = client.post(
            API + "/commands/dry-run",
            json={"command": "SET_HEATER", "arguments": {"SETPOINT": given}},
            headers=auth["vera"],
        )
        assert r.status_code == 422, r.text
        assert r.json() == {
            "detail": f"SET_HEATER: argument SETPOINT = {shown} is outside -20..40 degC",
            "argument": "SETPOINT",
        }


def test_critical_command_needs_arming_by_a_flight_director(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.post(API + "/commands", json={"command": "REBOOT"}, headers=auth["otto"])
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    # not armed: it stays queued, and releasing it by hand is refused
    assert client.get(f"{API}/commands/{cid}", headers=auth["otto"]).json()["state"] == "queued"
    r = client.post(f"{API}/commands/{cid}/arm", headers=auth["otto"])
    assert r.status_code == 403
    assert "needs the role flight_director" in r.json()["detail"]
    r = client.post(f"{API}/commands/{cid}/release", headers=auth["otto"])
    assert r.status_code == 422
    assert "release refused without arming" in r.json()["detail"]
    assert client.get(f"{API}/commands/{cid}", headers=auth["otto"]).json()["state"] == "rejected"


def test_set_heater_every_stage_ok(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    r = client.post(
        API + "/commands",
        json={"command": "SET_HEATER", "arguments": {"SETPOINT": 12.5}},
        headers=auth["otto"],
    )
    cid = r.json()["id"]
    rec = client.get(
        f"{API}/commands/{cid}/wait", params={"timeout_s": 10}, headers=auth["vera"]
    ).json()
    assert rec["state"] == "completed", rec
    assert {s: v["outcome"] for s, v in rec["verifiers"].items()} == {
        "received": "OK",
        "accepted": "OK",
        "complete": "OK",
    }
    hist = client.get(API + "/commands", headers=auth["vera"]).json()
    (row,) = [h for h in hist if h["id"] == cid]
    assert row["user"] == "otto"
    assert row["verifiers"]["complete"]["outcome"] == "OK"
    assert row["audit"][0] == {**row["audit"][0], "user": "otto", "action": "issue"}


def test_reboot_armed_and_confirmed_end_to_end(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    cid = client.post(API + "/commands", json={"command": "REBOOT"}, headers=auth["otto"]).json()[
        "id"
    ]
    assert client.post(f"{API}/commands/{cid}/arm", headers=auth["fiona"]).status_code == 200
    r = client.post(f"{API}/commands/{cid}/confirm", headers=auth["fiona"])
    assert r.status_code == 200, r.text
    # the answer is the state after confirming: nothing else holds REBOOT, so it has gone
    # (it answered "armed" while the scheduler released it a moment later)
    assert r.json()["state"] in ("released", "completed"), r.json()
    assert r.json()["confirmed_by"] == "fiona"
    again = client.post(f"{API}/commands/{cid}/confirm", headers=auth["fiona"])
    assert again.status_code == 409
    state = again.json()["detail"].split("it is ")[1].split(",")[0]
    assert again.json() == {"detail": f"cannot confirm command {cid}: it is {state}, not queued"}
    assert state in ("released", "completed")
    rec = client.get(
        f"{API}/commands/{cid}/wait", params={"timeout_s": 10}, headers=auth["vera"]
    ).json()
    assert rec["state"] == "completed", rec
    assert [(a["action"], a["user"]) for a in rec["audit"]] == [
        ("issue", "otto"),
        ("arm", "fiona"),
        ("confirm", "fiona"),
        ("release", "otto"),  # released for the user who issued it
        ("confirm", "fiona"),  # the refused second confirmation is audited too
    ]


def test_silent_spacecraft_times_out(tmp_path: Path) -> None:
    with ground(tmp_path, "silent", window_s=0.4) as g, TestClient(create_app(g.runtime)) as c:
        h = login(c, "otto")
        cid = c.post(API + "/commands", json={"command": "NOOP"}, headers=h).json()["id"]
        rec = c.get(f"{API}/commands/{cid}/wait", params={"timeout_s": 5}, headers=h).json()
    assert rec["state"] == "failed"
    assert {s: v["outcome"] for s, v in rec["verifiers"].items()} == {
        "received": "TIMEOUT",
        "complete": "TIMEOUT",
    }


def test_failure_code_gives_nok(tmp_path: Path) -> None:
    with ground(tmp_path, "fail") as g, TestClient(create_app(g.runtime)) as c:
        h = login(c, "otto")
        r = c.post(
            API + "/commands",
            json={"command": "SET_MODE", "arguments": {"NEW_MODE": "SCIENCE"}},
            headers=h,
        )
        cid = r.json()["id"]
        rec = c.get(f"{API}/commands/{cid}/wait", params={"timeout_s": 10}, headers=h).json()
    assert rec["state"] == "failed"
    assert rec["verifiers"]["received"]["outcome"] == "OK"
    assert rec["verifiers"]["accepted"]["outcome"] == "NOK"


def test_queue_control(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    r = client.post(API + "/queues/default/state", json={"state": "blocked"}, headers=auth["vera"])
    assert r.status_code == 403
    r = client.post(API + "/queues/default/state", json={"state": "nope"}, headers=auth["otto"])
    assert r.status_code == 422
    r = client.post(API + "/queues/nope/state", json={"state": "blocked"}, headers=auth["otto"])
    assert r.status_code == 404
    assert r.json()["detail"] == "no command queue 'nope'; queues: default"
    (q,) = client.get(API + "/queues", headers=auth["vera"]).json()
    assert q == {"name": "default", "state": "enabled", "roles": [], "users": []}
