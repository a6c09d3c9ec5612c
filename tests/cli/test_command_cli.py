"""``falak command encode`` and ``falak command send`` over loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from falak.cli.app import app
from falak.mdb import load
from falak.tc import CommandEncoder
from tests.commanding.spacecraft import Spacecraft
from tests.processor.testsat import MDB_PATH

runner = CliRunner()
MDB = str(MDB_PATH)


def test_encode_prints_hex_and_fields() -> None:
    res = runner.invoke(app, ["command", "encode", "--mdb", MDB, "SET_HEATER", "SETPOINT=12.5"])
    assert res.exit_code == 0, res.output
    expected = CommandEncoder(load(MDB_PATH)).encode("SET_HEATER", {"SETPOINT": 12.5}).hex
    lines = res.output.splitlines()
    assert lines[0] == "/TESTSAT/SET_HEATER: 11 bytes"
    assert lines[1] == expected
    # (12.5 + 40) / 0.01 = 5250 = 0x1482 (TESTSAT HeaterSetpoint calibrator)
    (row,) = [ln for ln in lines if "SETPOINT" in ln]
    assert "0x1482 (5250)" in row
    assert "12.5" in row


def test_encode_hex_only_and_errors() -> None:
    res = runner.invoke(app, ["command", "encode", "--mdb", MDB, "NOOP", "--hex"])
    assert res.exit_code == 0
    assert res.output.strip() == CommandEncoder(load(MDB_PATH)).encode("NOOP").hex
    res = runner.invoke(app, ["command", "encode", "--mdb", MDB, "SET_HEATER", "SETPOINT=120"])
    assert res.exit_code == 1
    assert "SET_HEATER: argument SETPOINT = 120 is outside -20..40 degC" in res.output
    res = runner.invoke(app, ["command", "encode", "--mdb", MDB, "SET_MODE", "SAFE"])
    assert res.exit_code != 0
    assert "is not NAME=VALUE" in res.output


def test_send_once_over_udp() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5.0)
    try:
        url = f"udp://127.0.0.1:{rx.getsockname()[1]}"
        res = runner.invoke(
            app, ["command", "send", "--mdb", MDB, "--link", url, "SET_MODE", "NEW_MODE=SAFE"]
        )
        assert res.exit_code == 0, res.output
        got = rx.recv(100)
    finally:
        rx.close()
    rec = json.loads(res.output)
    assert rec["state"] == "released"
    assert rec["binary"] == got.hex()
    assert rec["user"] == "cli"
    assert {v["outcome"] for v in rec["verifiers"].values()} == {"UNWATCHED"}


def test_send_critical_is_refused() -> None:
    res = runner.invoke(
        app, ["command", "send", "--mdb", MDB, "--link", "udp://127.0.0.1:9", "REBOOT"]
    )
    assert res.exit_code == 2
    assert json.loads(res.output)["state"] == "rejected"


def test_send_and_watch_verifiers(tmp_path: Path) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    tm_port = probe.getsockname()[1]
    probe.close()  # the CLI's TM link binds this port next
    with Spacecraft(load(MDB_PATH), tm_port, "ok") as sc:
        res = runner.invoke(
            app,
            [
                "command",
                "send",
                "--mdb",
                MDB,
                "--link",
                f"udp://127.0.0.1:{sc.port}",
                "--tm",
                f"udp://127.0.0.1:{tm_port}",
                "--archive",
                str(tmp_path / "archive"),
                "--wait-s",
                "10",
                "NOOP",
            ],
        )
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["state"] == "completed"
    assert {s: v["outcome"] for s, v in rec["verifiers"].items()} == {
        "received": "OK",
        "complete": "OK",
    }
