"""The orbiter in ``falak demo`` (issue 15, Acceptance): imaging, CFDP downlink through loss.

The demo runs headless as a user would run it, ``falak demo --spacecraft ORBITER`` at 60x, once
for the module. Its orbit is the simulator's default (``falak.sim.orbiter.DEFAULT_ELEMENTS``)
given 11.5 h before the run's epoch (``falak.cli.demo.ORBITER_PHASE_H``), so its perilune over
the south pole, where the imaging target -89.5, 0 is, comes at about 08:40 UTC on the default
epoch 2023-09-08T08:10Z; Neuquén sees the orbiter from 08:26 to 15:28 that day (``falak orbiter
contacts``; Karachi and Islamabad, the simulator's defaults, lost the Moon at 07:36), so the
run starts out of contact and the stack's commands wait for the first window.

What is asserted, and against what:

* the imaging stack (``orbiter-stack.yaml``: one frame per pass, ``falak.cli.demo.
  ORBITER_FRAMES``) ends ``completed`` with every IMAGE_TAKE's and FILE_DUMP's verifier
  stages OK (received, accepted, complete: the ORBITER MDB's verifiers);
* every file the stack dumped arrives in the archive complete and byte-identical to the file
  the simulator wrote (SHA-256 of ``GET /archive/files/{id}`` against the simulator's
  ``files_dir`` copy, written as its file store takes the file), through a link that loses
  5 % of the CFDP packets each way (``--option loss=0.05``). That the loss was in force is
  seen in the archive: a File Data PDU whose offset is below one received before it in the
  same transaction is a retransmission, which CFDP class 2 sends only for a NAK
  (CCSDS 727.0-B-5 §4.6.4), i.e. after a PDU was lost;
* magnetometer data arrives: the MAGNETOMETER packet's parameters are archived, and the
  magnetometer file ``MAG_000001.bin`` comes down by CFDP like the images;
* the downlink happens only inside contacts: every APID 610 packet was received inside one of
  the simulator's contact windows (its status file), which are those of
  ``orbiter-windows.json`` (``falak orbiter contacts`` on the same OEM) within a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from falak.cli.demo import ORBITER_FRAMES, ORBITER_HOST_ALLOWANCE_S
from falak.client import ApiError, Client

SPEED = 60.0
START_S = 120.0
_NS = 1_000_000_000
#: The stack's last FILE_DUMP ends ~08:42 simulated (four files of ~0.8 MB at 128 kbit/s with
#: 5 % loss, from 08:40:35): ~32 simulated minutes after the start, ~32 host s at 60x; allowed
#: four times that and the start.
STACK_TIMEOUT_S = 240.0
#: Host seconds between a packet's on-board time and its reception, at most (light time and
#: the server's own lag, at 60x): a packet sent in the last instant of a contact.
RECEPTION_SLACK_NS = int(0.5 * SPEED * 1e9)


@dataclass
class Orbiter:
    """What the demo run showed: its files, the stack, the archive's files and parameters."""

    workdir: Path
    run: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    stack: dict[str, Any] = field(default_factory=dict)
    records: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    downloads: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    mag_count: int = 0
    status: dict[str, Any] = field(default_factory=dict)
    pdus: list[tuple[int, bytes]] = field(default_factory=list)
    """(receive time ns, packet) of every APID 610 packet archived."""

    @property
    def run_dir(self) -> Path:
        return self.workdir / "run"


def _until(what: str, ok: Callable[[], Any], timeout_s: float, log: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiError):
            v = ok()
            if v:
                return v
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout_s} s\n{log()[-3000:]}")


@pytest.fixture(scope="module")
def orbiter(tmp_path_factory: pytest.TempPathFactory) -> Orbiter:
    workdir = tmp_path_factory.mktemp("orbiter")
    out = Orbiter(workdir)
    log_path = workdir / "demo.log"
    falak = Path(sys.executable).parent / "falak"
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(
            [
                *(falak, "demo", "--spacecraft", "ORBITER", "--speed", f"{SPEED:g}"),
                *("--archive", str(workdir / "archive")),
            ],
            cwd=workdir,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )

    def log() -> str:
        return log_path.read_text(errors="replace")

    try:
        run_file = workdir / "run" / "run.json"
        deadline = time.monotonic() + START_S
        while True:
            assert proc.poll() is None, f"falak demo exited early:\n{log()}"
            with contextlib.suppress(OSError, ValueError):
                out.run = json.loads(run_file.read_text())
                if out.run["state"] == "running":
                    break
            assert time.monotonic() < deadline, f"falak demo did not start:\n{log()}"
            time.sleep(0.2)
        user = next(u for u in out.run["users"] if u["role"] == "viewer")
        with Client.login(
            out.run["url"], user["name"], user["password"], spacecraft="ORBITER"
        ) as c:
            name = out.run["spacecraft"][0]["stack"]
            out.stack = _until(
                "the orbiter's stack to end",
                lambda: (s := c.stack(name))["state"] not in ("loaded", "running") and s,
                STACK_TIMEOUT_S,
                log,
            )
            out.records = [(s, c.command(s["command_id"])) for s in out.stack["steps"]]
            out.files = list(c._sc("GET", "/archive/files"))
            auth = {"Authorization": f"Bearer {c.token}"}
            for f in out.files:
                r = c._http.get(f"/api/v1{c._prefix}/archive/files/{f['id']}", headers=auth)
                assert r.status_code == 200, r.text
                out.downloads[int(f["id"])] = (r.content, r.headers["X-Falak-Sha256"])
            out.mag_count = len(c.history("MAG_BX_NT"))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"falak demo did not stop on SIGTERM:\n{log()}")
        out.log = log()
    assert code == 0, out.log
    out.status = json.loads((out.run_dir / "orbiter-status.json").read_text())
    from falak.archive import open_archive

    archive = open_archive(str(workdir / "archive"), spacecraft="ORBITER")
    try:
        for b in archive.read_packets(apids=[610]):
            for i in range(len(b.ids)):
                o, n = int(b.offsets[i]), int(b.lengths[i])
                out.pdus.append((int(b.recv_time_ns[i]), bytes(b.data[o : o + n])))
    finally:
        archive.close()
    return out


@pytest.mark.slow
def test_the_run_has_the_orbiter_config_and_plans(orbiter: Orbiter) -> None:
    (sc,) = orbiter.run["spacecraft"]
    d = orbiter.run_dir
    assert sc["name"] == "ORBITER"
    assert sc["plans"] == [str(d / "orbiter-imaging.json"), str(d / "orbiter-windows.json")]
    assert sc["stack_file"] == str(d / "orbiter-stack.yaml")
    (entry,) = yaml.safe_load(Path(orbiter.run["config"]).read_text())["spacecraft"]
    assert entry["orbit"] == {"oem": str(d / "orbiter.oem")}
    assert entry["cfdp"] == {
        "entity_id": 1,
        "remote_entity_id": 2,
        "apid_down": 610,
        "apid_up": 611,
        "timers": {"nak_interval_s": 10},
    }
    assert entry["uplink_windows"] == {"file": str(d / "orbiter-windows.json"), "policy": "wait"}
    assert entry["plans"] == sc["plans"]
    assert 1.2 < entry["light_time_s"] < 1.4  # the contact's mean range / c, ~1.28 s
    assert entry["host_allowance_s"] == ORBITER_HOST_ALLOWANCE_S  # the frame's render (demo.py)
    argv = orbiter.run["children"]["sim-orbiter"]["argv"]
    assert f"oem={d / 'orbiter.oem'}" in argv  # one trajectory for ground and simulator
    assert "loss=0.05" in argv
    windows = json.loads((d / "orbiter-windows.json").read_text())
    assert windows["format"] == "falak-uplink-windows/1"
    assert windows["spacecraft"] == "ORBITER"


@pytest.mark.slow
def test_the_imaging_stack_executes_with_its_verifications(orbiter: Orbiter) -> None:
    st = orbiter.stack
    why = [(s["command"], s["state"], r.data) for s, r in orbiter.records]
    assert st["state"] == "completed", why
    takes = [(s, r) for s, r in orbiter.records if s["command"].endswith("IMAGE_TAKE")]
    dumps = [(s, r) for s, r in orbiter.records if s["command"].endswith("FILE_DUMP")]
    assert len(takes) == ORBITER_FRAMES, why
    assert len(dumps) == 1 + ORBITER_FRAMES, why  # the MAG file and the images
    for step, rec in [*takes, *dumps]:
        assert rec.state == "completed", (step, rec)
        assert {s: rec.stage(s) for s in rec.verifiers} == {
            "received": "OK",
            "accepted": "OK",
            "complete": "OK",
        }, rec


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_the_files_arrive_byte_identical_to_what_the_simulator_wrote(orbiter: Orbiter) -> None:
    by_name = {f["name"]: f for f in orbiter.files}
    expected = ["MAG_000001.bin", *(f"IMG_{3 + k:06d}.pgm" for k in range(ORBITER_FRAMES))]
    assert sorted(by_name) == sorted(expected), by_name
    for name in expected:
        f = by_name[name]
        written = (orbiter.run_dir / "orbiter-files" / name).read_bytes()
        data, header_sha = orbiter.downloads[int(f["id"])]
        assert f["complete"], f
        assert f["missing"] == [], f
        assert f["size"] == len(written), f
        assert _sha(data) == _sha(written) == f["sha256"] == header_sha, name
    assert by_name["IMG_000003.pgm"]["size"] > 200_000  # an image, not a stub (512 x 512 PGM)


@pytest.mark.slow
def test_the_link_lost_packets_and_class_2_recovered_them(orbiter: Orbiter) -> None:
    from falak.cfdp import decode_pdu, unwrap
    from falak.cfdp.pdu import FileData

    offsets: dict[int, list[int]] = {}
    for _, packet in orbiter.pdus:
        pdu = decode_pdu(unwrap(packet, 610))
        if isinstance(pdu, FileData):
            offsets.setdefault(pdu.header.seq, []).append(pdu.offset)
    assert len(offsets) == 1 + ORBITER_FRAMES, offsets.keys()  # one transaction per file dumped
    retransmitted = sum(
        1 for offs in offsets.values() for a, b in itertools.pairwise(offs) if b < a
    )
    assert retransmitted > 0  # a NAK's answer: a PDU had been lost
    received = sum(len(o) for o in offsets.values())
    # each segment at least once; the 5 % lost sent again (and again)
    needed = sum(len(set(o)) for o in offsets.values())
    segments = sum(-(-int(f["size"]) // 1024) for f in orbiter.files)  # 1024-byte segments
    assert needed == segments, (needed, segments)
    assert needed <= received < 1.2 * needed, received


@pytest.mark.slow
def test_magnetometer_data_arrives_and_is_archived(orbiter: Orbiter) -> None:
    # MAGNETOMETER every 4 s (ORBITER MDB) from the first contact's start (08:26:04; the
    # packets recorded before it are dumped then) to the image's frame (08:40:13), at least
    assert orbiter.mag_count >= 14 * 60 / 4, orbiter.mag_count
    mag = next(f for f in orbiter.files if f["name"] == "MAG_000001.bin")
    assert mag["complete"]


@pytest.mark.slow
def test_the_downlink_happens_only_inside_contacts(orbiter: Orbiter) -> None:
    from falak.utctime import parse_ns

    sim = np.asarray([(a, b) for a, b, _ in orbiter.status["contacts"]], dtype=np.int64)
    doc = json.loads((orbiter.run_dir / "orbiter-windows.json").read_text())
    planned = [(parse_ns(w["start"]), parse_ns(w["end"])) for w in doc["windows"]]
    epoch_ns = int(orbiter.run["clock"]["epoch_ns"])
    for a, b in sim:
        if b <= epoch_ns:
            continue
        # the simulator's window is one the ground planned (same OEM, same stations)
        assert any(abs(a - pa) < _NS and abs(b - pb) < _NS for pa, pb in planned), (a, b)
    assert sim[0][0] > epoch_ns  # the run starts out of contact (the module doc)
    t = np.asarray([r for r, _ in orbiter.pdus], dtype=np.int64)
    assert len(t) > 0
    inside = ((t[:, None] >= sim[:, 0]) & (t[:, None] <= sim[:, 1] + RECEPTION_SLACK_NS)).any(
        axis=1
    )
    assert inside.all(), f"{(~inside).sum()} CFDP packets received outside every contact"
