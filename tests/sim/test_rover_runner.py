"""The rover on the simulator runner: a drive's acknowledgements, light time, refusals.

The runner (:mod:`falak.sim.spacecraft`) flies the rover model on loopback UDP sockets the
test binds; the host clock is moved by hand, so simulated time does not depend on the
machine. A drive completes when the model says it ended (``CommandOutcome.finish``), not at a
fixed delay; a drive into a known hazard is FAILED with HAZARD and an event.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np

from falak.clock import ScaledClock
from falak.sim.rover import DRIVE_SPEED_M_S, create_model
from falak.sim.spacecraft import Spacecraft
from falak.tc.encoder import CommandEncoder
from falak.tm.decoder import Decoder

S = 1_000_000_000
EPOCH = 1_830_297_600 * S  # 2028-01-01T00:00:00Z


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def _drain(s: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(s.recv(65536))
        except BlockingIOError:
            return out


def test_a_drive_is_acknowledged_when_it_ends_and_a_hazard_is_refused(tmp_path: Path) -> None:
    model = create_model(EPOCH, seed=0, options={"contacts": "always"})
    host = [10**18]
    clock = ScaledClock(EPOCH, 1.0, host[0], host_ns=lambda: host[0])
    tm, pb = _sock(), _sock()
    sc = Spacecraft(
        model, clock, tm=tm.getsockname(), playback=pb.getsockname(), tc=("127.0.0.1", 0)
    )
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    enc = CommandEncoder(model.mdb)
    got: list[tuple[int, bytes]] = []

    def advance(seconds: float) -> None:
        for _ in range(round(seconds / 0.5)):
            host[0] += S // 2
            sc.step()
            got.extend((clock.now_ns(), p) for p in _drain(tm))

    try:
        advance(1.0)
        # a heading whose 5 m leg is clear on the map (and later one whose 20 m leg is not)
        clear = next(h for h in range(0, 360, 10) if not model._known_hazard(h, 5.0, 15.0, 0.15))
        drive = {"DISTANCE_M": 5.0, "HEADING_DEG": clear, "MAX_SLOPE_DEG": 15.0, "MAX_STEP_M": 0.15}
        sent_ns = clock.now_ns()
        up.sendto(enc.encode("DRIVE", drive, seq_count=21).binary, sc.tc_address)
        busy = {**drive, "DISTANCE_M": 1.0}
        up.sendto(enc.encode("DRIVE", busy, seq_count=23).binary, sc.tc_address)
        advance(5.0 / DRIVE_SPEED_M_S + 60.0 + 10.0)
        blocked = next(h for h in range(0, 360, 10) if model._known_hazard(h, 20.0, 5.0, 0.01))
        bad = {"DISTANCE_M": 20.0, "HEADING_DEG": blocked, "MAX_SLOPE_DEG": 5.0, "MAX_STEP_M": 0.01}
        up.sendto(enc.encode("DRIVE", bad, seq_count=22).binary, sc.tc_address)
        advance(5.0)
    finally:
        sc.close()
        for s in (tm, pb, up):
            s.close()
    data = [p for _, p in got]
    lens = [len(p) for p in data]
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    res = Decoder(model.mdb).decode(b"".join(data), offs, lens)
    ack = res.container("CMD_ACK")
    rows: list[tuple[Any, ...]] = list(
        zip(
            ack.column("ACK_SEQ_COUNT").eng.tolist(),
            ack.column("ACK_STAGE").eng.tolist(),
            ack.column("ACK_REASON").eng.tolist(),
            ack.column("OBT").raw.tolist(),
            strict=True,
        )
    )
    assert [r[1:3] for r in rows if r[0] == 21] == [
        ("RECEIVED", "OK"),
        ("ACCEPTED", "OK"),
        ("COMPLETE", "OK"),
    ]
    assert [r[1:3] for r in rows if r[0] == 22] == [("RECEIVED", "OK"), ("FAILED", "HAZARD")]
    # one drive at a time
    assert [r[1:3] for r in rows if r[0] == 23] == [
        ("RECEIVED", "OK"),
        ("FAILED", "NOT_ALLOWED_IN_STATE"),
    ]
    # the drive's COMPLETE comes when it ended: after the turn and 5 m at 200 m/h (90 s)
    obt = {r[1]: r[3] for r in rows if r[0] == 21}
    assert obt["COMPLETE"] - obt["ACCEPTED"] >= 5.0 / DRIVE_SPEED_M_S - 1.0
    events = res.container("EVENT").column("EVENT_MESSAGE").eng.tolist()
    assert "DRIVE (seq 22) failed: leg meets a step over MAX_STEP_M 0.01 at (" in events[-1]
    assert any(
        "(seq 23) failed: DRIVE: a DRIVE is in progress; send STOP first" in e for e in events
    )
    assert model.odometer_m >= 5.0 - 1e-6
    assert sent_ns > EPOCH
