"""``GET /console/commands``: the commanding page's forms (TESTSAT, missions/testsat/mdb.yaml)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _forms(client: TestClient, headers: dict[str, str], path: str = "/api/v1") -> dict[str, Any]:
    r = client.get(f"{path}/console/commands", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_forms_list_sendable_commands_with_inherited_arguments_and_types(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    body = _forms(client, auth["vera"])
    by_name = {c["name"]: c for c in body["commands"]}
    assert "CCSDS_TC" not in by_name  # abstract: not sendable
    heater = by_name["SET_HEATER"]
    # APID comes from the base CCSDS_TC (default 200); OPCODE is assigned (3), so not a field
    assert [a["name"] for a in heater["arguments"]] == ["APID", "SETPOINT"]
    apid, setpoint = heater["arguments"]
    assert apid["kind"] == "integer"
    assert apid["default"] == "200"
    assert (apid["encoded_min"], apid["encoded_max"]) == (0, 2047)  # uint11
    # HeaterSetpoint: float, valid_range [-20, 40] degC
    assert setpoint["kind"] == "float"
    assert setpoint["unit"] == "degC"
    assert setpoint["range"] == {
        "min": -20.0,
        "max": 40.0,
        "min_inclusive": True,
        "max_inclusive": True,
    }
    assert heater["verifiers"] == ["received", "accepted", "complete"]
    assert heater["needs_arming"] is False
    mode = by_name["SET_MODE"]["arguments"][1]
    assert mode["kind"] == "enumeration"
    assert "SAFE" in mode["labels"]
    reboot = by_name["REBOOT"]
    assert reboot["significance"] == "critical"
    assert reboot["needs_arming"] is True
    assert reboot["significance_reason"] == "Interrupts all on-board activity for about 30 s"


def test_may_arm_follows_the_callers_roles(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    assert _forms(client, auth["vera"])["may_arm"] is False
    assert _forms(client, auth["otto"])["may_arm"] is False
    fiona = _forms(client, auth["fiona"], "/api/v1/spacecraft/TESTSAT")
    assert fiona["may_arm"] is True
    assert fiona["arm_roles"] == ["flight_director"]
    assert fiona["confirm_window_s"] == 5.0  # the conftest's CriticalPolicy


def test_forms_need_a_token(client: TestClient) -> None:
    r = client.get("/api/v1/console/commands")
    assert r.status_code == 401
