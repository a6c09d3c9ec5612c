"""``falak sim``: a TESTSAT simulator as its own process, bad commands, faults, the status file.

The process test runs ``falak sim testsat`` for a few host seconds at ``--speed 60`` against
UDP sockets the test binds, sends a good command and one of each kind of bad one, decodes the
acknowledgements and events with falak's decoder, checks that the process still runs, then
stops it with SIGTERM and reads the status file it wrote at exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import falak
from falak.ccsds.crc import crc16_ccitt
from falak.cli import sim as sim_cli
from falak.cli.app import app
from falak.mdb import load
from falak.tc.decoder import CommandDecoder, DecodedCommand
from falak.tc.encoder import CommandEncoder
from falak.tm.decoder import Decoder

runner = CliRunner()
MISSIONS = Path(falak.__file__).parent / "missions"
FALAK = Path(sys.executable).parent / "falak"


def _udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    return s


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_crc(b: bytes | bytearray) -> bytes:
    """Fix the length field and CRC-16/CCITT-FALSE (CCSDS 133.0-B-2 §4.1.3.5, §4.1.4.3)."""
    out = bytearray(b)
    out[4:6] = (len(out) - 7).to_bytes(2, "big")
    out[-2:] = crc16_ccitt(bytes(out[:-2])).to_bytes(2, "big")
    return bytes(out)


def _bad_commands(enc: CommandEncoder) -> dict[str, bytes]:
    opcode = bytearray(enc.encode("NOOP", seq_count=11).binary)
    opcode[6] = 0x7E  # TESTSAT opcodes are 1, 2, 3 and 255
    crc = bytearray(enc.encode("NOOP", seq_count=12).binary)
    crc[-1] ^= 0x5A
    mode = enc.encode("SET_MODE", {"NEW_MODE": "SAFE"}, seq_count=13).binary
    high = bytearray(enc.encode("SET_HEATER", {"SETPOINT": 10}, seq_count=14).binary)
    high[7:9] = (65535).to_bytes(2, "big")  # -40 + 0.01 * 65535 = 615.35 degC > 40 degC
    return {
        "UNKNOWN_OPCODE": _with_crc(opcode),
        "BAD_CRC": bytes(crc),
        "BAD_LENGTH": _with_crc(mode[:-2] + b"\0" + mode[-2:]),
        "ARGUMENT_OUT_OF_RANGE": _with_crc(high),
    }


def _decode(mdb: Any, packets: list[bytes]) -> Any:
    lens = [len(p) for p in packets]
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return Decoder(mdb).decode(b"".join(packets), offs, lens)


def _collect(s: socket.socket, until: float) -> list[bytes]:
    out = []
    while time.monotonic() < until:
        with contextlib.suppress(TimeoutError):
            out.append(s.recv(65536))
    return out


def test_testsat_process_answers_good_and_bad_commands(tmp_path: Path) -> None:
    mdb = load(MISSIONS / "testsat" / "mdb.yaml")
    enc = CommandEncoder(mdb)
    tm, pb = _udp(), _udp()
    tc_port = _free_udp_port()
    status = tmp_path / "status.json"
    proc = subprocess.Popen(
        [
            str(FALAK),
            "sim",
            "testsat",
            "--tm",
            f"udp://127.0.0.1:{tm.getsockname()[1]}",
            "--playback",
            f"udp://127.0.0.1:{pb.getsockname()[1]}",
            "--tc",
            f"udp://127.0.0.1:{tc_port}",
            "--epoch",
            "2023-09-08T00:00:00Z",
            "--speed",
            "60",
            "--status",
            str(status),
            "--duration",
            "120",  # a bound in case the test dies; SIGTERM stops it long before
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # wait for the first HK: the simulator listens by then
        first = _collect(tm, time.monotonic() + 0.2)
        deadline = time.monotonic() + 60
        while not first and time.monotonic() < deadline and proc.poll() is None:
            first = _collect(tm, time.monotonic() + 0.2)
        assert first, proc.stderr.read() if proc.poll() is not None else "no telemetry"
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        good = enc.encode("SET_MODE", {"NEW_MODE": "SCIENCE"}, seq_count=10).binary
        up.sendto(good, ("127.0.0.1", tc_port))
        for packet in _bad_commands(enc).values():
            up.sendto(packet, ("127.0.0.1", tc_port))
        up.sendto(b"\x00" * 3, ("127.0.0.1", tc_port))  # garbage
        up.close()
        got = _collect(tm, time.monotonic() + 3.0)  # 3 host s = 3 simulated minutes
        assert proc.poll() is None, proc.stderr.read()  # still flying
        res = _decode(mdb, got)
        assert res.failed_counts() == {}
        ack = res.container("CMD_ACK")
        acks = list(
            zip(
                ack.column("ACK_SEQ_COUNT").eng.tolist(),
                ack.column("ACK_STAGE").eng.tolist(),
                ack.column("ACK_OPCODE").eng.tolist(),
                strict=True,
            )
        )
        assert [a for a in acks if a[0] == 10] == [
            (10, "RECEIVED", 2),
            (10, "ACCEPTED", 2),
            (10, "COMPLETE", 2),
        ]
        # each bad command is FAILED with its sequence count and opcode (the garbage has no
        # header to answer to: only its event)
        assert sorted(a for a in acks if a[0] != 10) == [
            (11, "FAILED", 0x7E),
            (12, "FAILED", 1),
            (13, "FAILED", 2),
            (14, "FAILED", 3),
        ]
        events = res.container("EVENT").column("EVENT_MESSAGE").eng.tolist()
        for reason, text in [
            ("UNKNOWN_OPCODE", "no TESTSAT command has OPCODE = 126 (0x7E)"),
            ("BAD_CRC", "the packet's CRC is 0x"),
            ("BAD_LENGTH", "SET_MODE is 10 bytes long but the packet has 11 bytes"),
            ("ARGUMENT_OUT_OF_RANGE", "SET_HEATER: argument SETPOINT = 615.35 degC (raw 65535)"),
            ("BAD_LENGTH", "a telecommand of 3 bytes is shorter than a space packet"),
        ]:
            assert any(f"rejected, {reason}: {text}" in m for m in events), (reason, events)
        assert "mode NOMINAL -> SCIENCE" in events
        modes = res.container("HK").column("MODE").eng.tolist()
        assert modes[-1] == "SCIENCE"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        tm.close()
        pb.close()
    assert proc.returncode == 0, err
    assert "TESTSAT simulator stopped:" in out
    st = json.loads(status.read_text())
    assert st["spacecraft"] == "TESTSAT"
    assert st["commands"]["received"] == 6
    assert st["commands"]["accepted"] == st["commands"]["completed"] == 1
    assert st["commands"]["rejected"] == {
        "ARGUMENT_OUT_OF_RANGE": 1,
        "BAD_CRC": 1,
        "BAD_LENGTH": 2,
        "UNKNOWN_OPCODE": 1,
    }
    assert st["in_contact"] is True
    assert st["sent_realtime"] == sum(st["generated"].values())
    assert st["clock"]["speed"] == 60.0
    assert st["pid"] == proc.pid
    assert not [p for p in tmp_path.iterdir() if p.name != "status.json"]  # no temp file


def test_station_errors_clearly_without_its_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sim_cli.MODELS, "station", ("falak.sim.no_such_model:create_model", "x"))
    res = runner.invoke(app, ["sim", "station", "--duration", "0"])
    assert res.exit_code == 1
    assert res.output == (
        "error: the station model (falak.sim.no_such_model) is not installed in this falak "
        "yet; `falak sim testsat` flies the TESTSAT model meanwhile\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tm", "tcp://127.0.0.1:1"], "error: 'tcp://127.0.0.1:1' is not a UDP address; use "),
        (["--epoch", "2023-13-01"], "error: --epoch"),
        (["--option", "contact_period_s=60"], "error: testsat model: give both"),
        (["--speed", "0"], "error: clock speed must be > 0"),
    ],
)
def test_testsat_bad_options(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["sim", "testsat", "--tc", "udp://127.0.0.1:0", *args])
    assert res.exit_code == 1, res.output
    assert res.output.startswith(message), res.output


def test_fault_is_encoded_with_the_mdb_and_sent_to_the_tc_port() -> None:
    s = _udp()
    port = s.getsockname()[1]
    res = runner.invoke(
        app,
        [
            "sim",
            "fault",
            "station",
            "COLD_STOWAGE_FAILURE",
            "--arg",
            "UNIT=B_MINUS20",
            "--tc",
            f"udp://127.0.0.1:{port}",
            "--seq-count",
            "77",
        ],
    )
    assert res.exit_code == 0, res.output
    data = s.recv(100)
    s.close()
    out = CommandDecoder(load(MISSIONS / "tiangong" / "mdb.yaml")).decode(data)
    assert isinstance(out, DecodedCommand)
    assert (out.name, out.seq_count, out.apid) == ("SIM_INJECT_FAULT", 77, 2040)
    assert out.arguments == {"FAULT": "COLD_STOWAGE_FAILURE", "UNIT": "B_MINUS20"}
    assert res.output == (
        "sent SIM_INJECT_FAULT (APID=2040, FAULT=COLD_STOWAGE_FAILURE, UNIT=B_MINUS20) seq 77 "
        f"to udp://127.0.0.1:{port}: {data.hex()}\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["testsat", "BATTERY_LOW"],
            "error: the TESTSAT MDB (mdb.yaml of missions/testsat) has no SIM_INJECT_FAULT "
            "command, so faults cannot be injected into testsat over its telecommand link; the "
            "station's MDB has one (APID 2040)\n",
        ),
        (
            ["station", "NOPE"],
            "error: SIM_INJECT_FAULT: argument FAULT = 'NOPE' is not one of CLEAR_ALL, "
            "FURNACE_OVERTEMP, COLD_STOWAGE_FAILURE, DOSIMETER_NOISE\n",
        ),
        (
            ["lander", "X"],
            "error: unknown simulator 'lander'; simulators: testsat, station, rover, orbiter\n",
        ),
        (
            ["rover", "NOPE"],
            "error: SIM_INJECT_FAULT: argument FAULT = 'NOPE' is not one of CLEAR_ALL, "
            "WHEEL_STUCK, BATTERY_DEGRADED, HEATER_FAILED, SOLAR_PARTICLE_EVENT, IMU_DRIFT\n",
        ),
    ],
)
def test_fault_errors(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["sim", "fault", *args, "--tc", "udp://127.0.0.1:9"])
    assert res.exit_code == 1
    assert res.output == message


def test_help_explains_units_and_formats() -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    res = runner.invoke(app, ["sim", "testsat", "--help"], env=env)
    text = " ".join(res.output.split())
    for phrase in (
        "Simulated seconds per host second",
        "Stop after this many HOST seconds",
        "udp://HOST:PORT",
        "ns since 1970",
        "contacts [[start_ns, stop_ns, via], ...]",
        "packets per host millisecond",
        "capacity in bytes",
    ):
        assert phrase in text, phrase
