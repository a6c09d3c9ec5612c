"""End to end over loopback: CommandManager → UDP uplink → test spacecraft → UDP TM link →
falak Processor → bus → verifiers → command history in the archive."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from falak.archive import open_archive
from falak.commanding import CommandManager, CriticalPolicy
from falak.links import UdpLink
from falak.links.tc import UdpUplink
from falak.mdb import MissionDatabase, load
from falak.processor import Processor
from tests.commanding.spacecraft import Spacecraft
from tests.processor.testsat import MDB_PATH

#: One-way Earth-Moon light time at the mean distance: 384 400 km / 299 792.458 km/s.
LUNAR_LIGHT_TIME_S = 1.28


def short_windows(mdb: MissionDatabase, stop_s: float) -> MissionDatabase:
    """Shrink every verifier window to ``0..stop_s`` so timeouts come quickly in tests."""
    for ss in mdb.root.walk():
        for name, cmd in ss.commands.items():
            vs = tuple(dataclasses.replace(v, window_stop_s=stop_s) for v in cmd.verifiers)
            ss.commands[name] = dataclasses.replace(cmd, verifiers=vs)
    mdb.index()
    return mdb


@contextmanager
def ground(
    tmp_path: Path, behaviour: str, *, delay_s: float = 0.0, window_s: float | None = None
) -> Iterator[tuple[CommandManager, Spacecraft]]:
    mdb = load(MDB_PATH)
    if window_s is not None:
        short_windows(mdb, window_s)
    with open_archive(tmp_path / "archive") as archive:
        tm = UdpLink("tm", "127.0.0.1", 0)
        proc = Processor(mdb, archive, links=[tm], batch_max_age_s=0.01)
        with Spacecraft(mdb, tm.port, behaviour) as sc:
            uplink = UdpUplink("uplink", "127.0.0.1", sc.port, delay_s=delay_s)
            mgr = CommandManager(
                mdb,
                bus=proc.bus,
                archive=archive,
                uplink=uplink,
                critical=CriticalPolicy(confirm_window_s=5.0),
            )
            proc.start()
            mgr.start()
            try:
                yield mgr, sc
            finally:
                mgr.stop()
                uplink.close()
                proc.stop()


def test_set_heater_every_stage_ok(tmp_path: Path) -> None:
    with ground(tmp_path, "ok") as (mgr, sc):
        rec = mgr.issue("SET_HEATER", {"SETPOINT": 12.5}, user="alice", roles=["operator"])
        final = mgr.wait(rec["id"], timeout_s=10)
        archived = mgr.history.archive.read_commands()  # type: ignore[union-attr]
    assert final["state"] == "completed", final
    assert {s: v["outcome"] for s, v in final["verifiers"].items()} == {
        "received": "OK",
        "accepted": "OK",
        "complete": "OK",
    }
    assert len(sc.received) == 1
    assert sc.received[0][1].hex() == final["binary"]
    assert final["user"] == "alice"
    assert final["arguments"]["SETPOINT"] == 12.5
    assert final["seq_count"] == 0
    (row,) = [r for r in archived if r["id"] == final["id"]]
    assert row["state"] == "completed"
    assert row["verifiers"]["complete"]["outcome"] == "OK"
    assert [a["action"] for a in row["audit"]] == ["issue", "release"]


def test_silent_spacecraft_times_out(tmp_path: Path) -> None:
    with ground(tmp_path, "silent", window_s=0.4) as (mgr, sc):
        rec = mgr.issue("NOOP", user="alice")
        final = mgr.wait(rec["id"], timeout_s=5)
    assert len(sc.received) == 1
    assert final["state"] == "failed"
    outcomes = {s: v["outcome"] for s, v in final["verifiers"].items()}
    assert outcomes == {"received": "TIMEOUT", "complete": "TIMEOUT"}
    assert final["verifiers"]["received"]["message"] == "nothing within 0..0.4 s"


def test_failure_code_gives_nok(tmp_path: Path) -> None:
    with ground(tmp_path, "fail") as (mgr, sc):
        rec = mgr.issue("SET_MODE", {"NEW_MODE": "SCIENCE"}, user="bob")
        final = mgr.wait(rec["id"], timeout_s=10)
    assert len(sc.received) == 1
    assert final["state"] == "failed"
    outcomes = {s: v["outcome"] for s, v in final["verifiers"].items()}
    assert outcomes["received"] == "OK"
    assert outcomes["accepted"] == "NOK"  # ACK_STAGE == FAILED is its fail condition
    assert outcomes["complete"] in ("NOK", "CANCELLED")
    assert "accepted NOK" in final["reason"]


def test_two_commands_in_flight_are_verified_by_their_own_acks(tmp_path: Path) -> None:
    """The spacecraft fails the first SET_MODE (even sequence count) and completes the second,
    sent right after it: each command's verifiers take only the acks that echo its sequence
    count (``ACK_SEQ_COUNT == $seq_count``), so the first failure does not fail the second."""
    with ground(tmp_path, "fail-even") as (mgr, sc):
        first = mgr.issue("SET_MODE", {"NEW_MODE": "SCIENCE"}, user="bob")
        second = mgr.issue("SET_MODE", {"NEW_MODE": "SAFE"}, user="bob")
        a = mgr.wait(first["id"], timeout_s=10)
        b = mgr.wait(second["id"], timeout_s=10)
    assert len(sc.received) == 2
    assert (a["seq_count"], b["seq_count"]) == (0, 1)
    assert a["state"] == "failed"
    assert a["verifiers"]["accepted"]["outcome"] == "NOK"
    assert b["state"] == "completed", b
    assert {s: v["outcome"] for s, v in b["verifiers"].items()} == {
        "received": "OK",
        "accepted": "OK",
        "complete": "OK",
    }


def test_lunar_light_time_on_the_uplink(tmp_path: Path) -> None:
    with ground(tmp_path, "ok", delay_s=LUNAR_LIGHT_TIME_S) as (mgr, sc):
        rec = mgr.issue("NOOP", user="alice")
        final = mgr.wait(rec["id"], timeout_s=10)
    assert final["state"] == "completed", final
    arrival_ns = sc.received[0][0]
    assert arrival_ns - final["release_ns"] >= LUNAR_LIGHT_TIME_S * 1e9
    assert final["verifiers"]["received"]["delay_s"] >= LUNAR_LIGHT_TIME_S
    assert final["uplink_delay_s"] == LUNAR_LIGHT_TIME_S


def test_critical_reboot_armed_and_confirmed(tmp_path: Path) -> None:
    with ground(tmp_path, "ok") as (mgr, sc):
        rec = mgr.issue("REBOOT", user="alice", roles=["operator"])
        time.sleep(0.1)
        assert not sc.received  # waits for arming
        mgr.arm(rec["id"], user="fd", roles=["flight_director"])
        mgr.confirm(rec["id"], user="fd", roles=["flight_director"])
        final = mgr.wait(rec["id"], timeout_s=10)
    assert final["state"] == "completed", final
    assert final["verifiers"]["complete"]["outcome"] == "OK"  # HK with MODE == SAFE
    assert [a["action"] for a in final["audit"]] == ["issue", "arm", "confirm", "release"]
    assert final["audit"][1]["user"] == "fd"
    assert len(sc.received) == 1
