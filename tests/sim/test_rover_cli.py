"""``falak sim rover`` as its own process: telemetry, a drive, bad commands, the status file.

Runs the simulator for a few host seconds at ``--speed 60`` (always in contact, so the test
does not depend on where the Earth is), sends a short DRIVE, a command with an unknown opcode
and one with a bad CRC, decodes what comes back with falak's decoder, then stops it with
SIGTERM and reads the status file it wrote at exit.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import falak
from falak.ccsds.crc import crc16_ccitt
from falak.mdb import load
from falak.tc.encoder import CommandEncoder
from falak.tm.decoder import Decoder
from tests.cli.test_sim_cli import _collect, _udp

FALAK = Path(sys.executable).parent / "falak"
MDB = Path(falak.__file__).parent / "missions" / "rover" / "mdb.yaml"


def test_rover_process_drives_and_rejects_bad_commands(tmp_path: Path) -> None:
    mdb = load(MDB)
    enc = CommandEncoder(mdb)
    tm, pb = _udp(), _udp()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        tc_port = int(s.getsockname()[1])
    status = tmp_path / "status.json"
    proc = subprocess.Popen(
        [
            str(FALAK),
            "sim",
            "rover",
            "--tm",
            f"udp://127.0.0.1:{tm.getsockname()[1]}",
            "--playback",
            f"udp://127.0.0.1:{pb.getsockname()[1]}",
            "--tc",
            f"udp://127.0.0.1:{tc_port}",
            "--epoch",
            "2028-01-01T00:00:00Z",
            "--speed",
            "60",
            "--status",
            str(status),
            "--option",
            "contacts=always",
            "--duration",
            "180",  # a bound in case the test dies; SIGTERM stops it first
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = _collect(tm, time.monotonic() + 0.2)
        deadline = time.monotonic() + 90  # the DEM, its horizons and hazards come first
        while not first and time.monotonic() < deadline and proc.poll() is None:
            first = _collect(tm, time.monotonic() + 0.2)
        assert first, proc.stderr.read() if proc.poll() is not None else "no telemetry"
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        drive = {"DISTANCE_M": 0.5, "HEADING_DEG": 0.0, "MAX_SLOPE_DEG": 20.0, "MAX_STEP_M": 0.15}
        up.sendto(enc.encode("DRIVE", drive, seq_count=30).binary, ("127.0.0.1", tc_port))
        unknown = bytearray(enc.encode("NOOP", seq_count=31).binary)
        unknown[6] = 0x7E
        unknown[-2:] = crc16_ccitt(bytes(unknown[:-2])).to_bytes(2, "big")
        up.sendto(bytes(unknown), ("127.0.0.1", tc_port))
        crc = bytearray(enc.encode("NOOP", seq_count=32).binary)
        crc[-1] ^= 0x5A
        up.sendto(bytes(crc), ("127.0.0.1", tc_port))
        up.close()
        got = _collect(tm, time.monotonic() + 4.0)  # 4 host s = 4 simulated minutes
        assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        tm.close()
        pb.close()
    lens = [len(p) for p in got]
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    res = Decoder(mdb).decode(b"".join(got), offs, lens)
    assert res.failed_counts() == {}
    ack = res.container("CMD_ACK")
    acks = list(
        zip(
            ack.column("ACK_SEQ_COUNT").eng.tolist(),
            ack.column("ACK_STAGE").eng.tolist(),
            ack.column("ACK_REASON").eng.tolist(),
            strict=True,
        )
    )
    # 0.5 m (9 s) north, unless the map says a rock or slope is in the way: then HAZARD
    drive_acks = [a[1:] for a in acks if a[0] == 30]
    assert drive_acks[:2] == [("RECEIVED", "OK"), ("ACCEPTED", "OK")] or drive_acks == [
        ("RECEIVED", "OK"),
        ("FAILED", "HAZARD"),
    ]
    assert drive_acks[-1] in (("COMPLETE", "OK"), ("FAILED", "HAZARD"))
    assert sorted(a for a in acks if a[0] != 30) == [
        (31, "FAILED", "UNKNOWN_OPCODE"),
        (32, "FAILED", "BAD_CRC"),
    ]
    events = res.container("EVENT").column("EVENT_MESSAGE").eng.tolist()
    assert any("rejected, UNKNOWN_OPCODE: no ROVER command has OPCODE = 126" in e for e in events)
    assert any("rejected, BAD_CRC: the packet's CRC is 0x" in e for e in events)
    for container in ("ROVER_HK", "POWER", "THERMAL", "MOBILITY", "SIM_TRUTH"):
        assert len(res.container(container)) > 0, container
    assert proc.returncode == 0, err
    assert "ROVER simulator stopped:" in out
    st = json.loads(status.read_text())
    assert st["spacecraft"] == "ROVER"
    assert st["commands"]["received"] == 3
    assert st["commands"]["rejected"] == {"BAD_CRC": 1, "UNKNOWN_OPCODE": 1}
    assert st["in_contact"] is True
    assert st["errors"] == {}
    assert st["clipped_values"] == 0
