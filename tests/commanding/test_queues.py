"""Queues, privileges, transmission constraints, time tags and critical arming."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from falak.archive import open_archive
from falak.bus import Bus
from falak.commanding import CommandManager, CommandQueue, CriticalPolicy, QueueState
from falak.errors import CommandRejected, InputError
from falak.links.tc import TcUplink
from falak.mdb import MissionDatabase
from falak.processor.processor import ParameterValues
from tests.processor.testsat import load_testsat


class RecordingUplink(TcUplink):
    """An uplink that keeps what it transmits, with the time it left."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.sent: list[tuple[int, bytes]] = []
        super().__init__("rec", delay_s=delay_s)

    @property
    def url(self) -> str:
        return "memory://rec"

    def _transmit(self, data: bytes) -> None:
        self.sent.append((time.time_ns(), data))


@pytest.fixture
def mdb() -> MissionDatabase:
    return load_testsat()


@pytest.fixture
def bus() -> Iterator[Bus]:
    b = Bus()
    yield b
    b.close()


@pytest.fixture
def uplink() -> Iterator[RecordingUplink]:
    u = RecordingUplink()
    yield u
    u.close()


def make(mdb: MissionDatabase, bus: Bus, uplink: RecordingUplink, **kw: object) -> CommandManager:
    queues = [
        CommandQueue("default"),
        CommandQueue("ops", roles=frozenset({"operator"})),
        CommandQueue("held", state=QueueState.BLOCKED),
        CommandQueue("off", state=QueueState.DISABLED),
    ]
    return CommandManager(mdb, bus=bus, uplink=uplink, queues=queues, **kw)  # type: ignore[arg-type]


def publish(bus: Bus, mdb: MissionDatabase, name: str, raw: object, eng: object) -> None:
    """Publish one sample the way the processor does (ParameterValues on the parameter)."""
    p = mdb.parameter(name)
    now = np.array([time.time_ns()], dtype=np.int64)
    pv = ParameterValues(
        p.qualified_name,
        p.name,
        "/TESTSAT/HK",
        now,
        now,
        np.array([raw]),
        np.array([eng], dtype=object),
        None,
        None,
    )
    bus.publish(p.qualified_name, pv)


def wait_sent(uplink: RecordingUplink, n: int, timeout_s: float = 3.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if len(uplink.sent) >= n:
            return True
        time.sleep(0.01)
    return False


def test_blocked_queue_holds_until_enabled(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        rec = mgr.issue("NOOP", user="alice", queue="held")
        assert not wait_sent(uplink, 1, 0.3)
        assert mgr.get(rec["id"])["state"] == "queued"
        mgr.set_queue_state("held", "enabled", user="supervisor")
        assert wait_sent(uplink, 1)
        assert mgr.get(rec["id"])["state"] == "released"


def test_operator_releases_one_command_from_a_blocked_queue(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        a = mgr.issue("NOOP", user="alice", queue="held")
        mgr.issue("NOOP", user="alice", queue="held")
        mgr.release(a["id"], user="alice")
        assert wait_sent(uplink, 1)
        assert not wait_sent(uplink, 2, 0.2)


def test_disabled_queue_rejects(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        with pytest.raises(CommandRejected, match="queue off is disabled"):
            mgr.issue("NOOP", user="alice", queue="off")
        held = mgr.issue("NOOP", user="alice", queue="held")
        mgr.set_queue_state("held", QueueState.DISABLED, user="supervisor")
        assert mgr.wait(held["id"], 2)["state"] == "rejected"
    assert not uplink.sent


def test_privileges(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        with pytest.raises(CommandRejected) as info:
            mgr.issue("NOOP", user="guest", roles=["viewer"], queue="ops")
        assert str(info.value) == (
            "NOOP: user guest (roles viewer) may not use queue ops; allowed: roles operator"
        )
        rec = mgr.issue("NOOP", user="alice", roles=["operator"], queue="ops")
        assert wait_sent(uplink, 1)
        rejected = [r for r in mgr.history.records() if r["state"] == "rejected"]
        assert rejected[0]["user"] == "guest"
        assert rejected[0]["audit"][0]["action"] == "reject"
        assert mgr.get(rec["id"])["user"] == "alice"


def test_constraint_that_becomes_true_releases(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        mgr.add_constraint("MODE == SAFE", timeout_s=3.0, commands=["REBOOT", "NOOP"])
        publish(bus, mdb, "MODE", 2, "NOMINAL")
        rec = mgr.issue("NOOP", user="alice")
        assert not wait_sent(uplink, 1, 0.3)
        publish(bus, mdb, "MODE", 1, "SAFE")
        assert wait_sent(uplink, 1)
        assert mgr.get(rec["id"])["state"] == "released"


def test_constraint_that_stays_false_rejects(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        mgr.add_constraint("MODE == SAFE", timeout_s=0.3)
        publish(bus, mdb, "MODE", 2, "NOMINAL")
        rec = mgr.issue("NOOP", user="alice")
        final = mgr.wait(rec["id"], 3)
    assert final["state"] == "rejected"
    assert final["reason"] == ("NOOP: transmission constraint not met within 0.3 s: MODE == SAFE")
    assert not uplink.sent


def test_time_tagged_release(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        at = datetime.now(UTC) + timedelta(seconds=0.5)
        mgr.issue("NOOP", user="alice", release_at=at)
        assert wait_sent(uplink, 1)
    sent_ns = uplink.sent[0][0]
    # ±50 ms: the scheduler wakes on the tag; the rest is thread scheduling
    assert abs(sent_ns - at.timestamp() * 1e9) <= 50e6


def test_naive_release_time_is_refused(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr, pytest.raises(Exception, match="has no time zone"):
        mgr.issue("NOOP", user="alice", release_at=datetime(2030, 1, 1))


def test_release_time_is_exact_int_ns_and_in_range(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2030, 1, 1, 0, 0, 0, 123457, tzinfo=UTC)
    # 2030-01-01 is 21,915 days after 1970-01-01; float ns (timestamp() * 1e9) miss by ~100 ns
    exact_ns = 21_915 * 86_400 * 10**9 + 123_457_000
    assert round(at.timestamp() * 1e9) != exact_ns
    with make(mdb, bus, uplink) as mgr:
        rec = mgr.issue("NOOP", user="alice", release_at=at, dry_run=True)
        assert rec["release_at_ns"] == exact_ns
        with pytest.raises(InputError) as exc:
            mgr.issue("NOOP", user="alice", release_at=datetime(9999, 1, 1, tzinfo=UTC))
    assert str(exc.value) == (
        "release time '9999-01-01T00:00:00+00:00' is outside the times falak can store, "
        "1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z (int64 nanoseconds "
        "since 1970, numpy datetime64[ns]); give a time within it"
    )


# --- critical commands ------------------------------------------------------------------


def test_critical_release_without_arming_is_rejected(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        rec = mgr.issue("REBOOT", user="alice")
        with pytest.raises(CommandRejected, match="release refused without arming"):
            mgr.release(rec["id"], user="alice")
        final = mgr.get(rec["id"])
    assert final["state"] == "rejected"
    assert [(a["user"], a["action"]) for a in final["audit"]] == [
        ("alice", "issue"),
        ("alice", "release"),
    ]
    assert not uplink.sent


def test_critical_arming_by_unauthorised_role(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        rec = mgr.issue("REBOOT", user="alice", roles=["operator"])
        with pytest.raises(CommandRejected) as info:
            mgr.arm(rec["id"], user="alice", roles=["operator"])
        assert str(info.value) == (
            "REBOOT: user alice (roles operator) may not arm critical commands; "
            "arming roles: flight_director"
        )
        final = mgr.get(rec["id"])
    assert final["audit"][-1]["action"] == "arm_refused"
    assert final["audit"][-1]["user"] == "alice"
    assert not uplink.sent


def test_critical_confirm_late_is_rejected(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    # confirmation window 0.2 s; the scheduler may reject first, confirm() raises either way
    with make(mdb, bus, uplink, critical=CriticalPolicy(confirm_window_s=0.2)) as mgr:
        rec = mgr.issue("REBOOT", user="alice")
        mgr.arm(rec["id"], user="fd", roles=["flight_director"])
        time.sleep(0.35)
        with pytest.raises(CommandRejected):
            mgr.confirm(rec["id"], user="fd", roles=["flight_director"])
        final = mgr.get(rec["id"])
    assert final["state"] == "rejected"
    assert "confirm" in final["reason"]
    assert "0.2 s" in final["reason"]
    assert [a["action"] for a in final["audit"]][:2] == ["issue", "arm"]
    assert not uplink.sent


def test_critical_arm_and_confirm_in_time_is_sent(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        rec = mgr.issue("REBOOT", user="alice")
        mgr.arm(rec["id"], user="fd", roles=["flight_director"])
        mgr.confirm(rec["id"], user="fd2", roles=["flight_director"])
        assert wait_sent(uplink, 1)
        final = mgr.get(rec["id"])
    assert final["state"] == "released"
    assert final["armed_by"] == "fd"
    assert final["confirmed_by"] == "fd2"
    assert [(a["user"], a["action"]) for a in final["audit"]] == [
        ("alice", "issue"),
        ("fd", "arm"),
        ("fd2", "confirm"),
        ("alice", "release"),
    ]


def test_sequence_counts_increase_per_apid(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        for _ in range(3):
            mgr.issue("NOOP", user="alice")
        assert wait_sent(uplink, 3)
    counts = [((d[2] << 8) | d[3]) & 0x3FFF for _, d in uplink.sent]  # CCSDS 133.0-B-2 §4.1.3
    assert counts == [0, 1, 2]


def test_dry_run_returns_bytes_without_sending(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with make(mdb, bus, uplink) as mgr:
        rec = mgr.issue("SET_MODE", {"NEW_MODE": "SAFE"}, user="alice", dry_run=True)
    assert rec["state"] == "dry_run"
    assert bytes.fromhex(rec["binary"])[7] == 1  # SAFE
    assert not uplink.sent


def test_bad_argument_is_recorded_and_audited(tmp_path, mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    with open_archive(tmp_path / "a") as archive:
        mgr = CommandManager(mdb, bus=bus, uplink=uplink, archive=archive)
        with mgr, pytest.raises(CommandRejected) as info:
            mgr.issue("SET_HEATER", {"SETPOINT": 120}, user="alice")
        assert info.value.argument == "SETPOINT"
        (row,) = archive.read_commands()
        events = [e for e in archive.read_events() if e.source == "commanding"]
    assert row["state"] == "rejected"
    assert row["reason"] == "SET_HEATER: argument SETPOINT = 120 is outside -20..40 degC"
    assert events[0].attrs["user"] == "alice"
    assert events[0].attrs["action"] == "reject"


def test_critical_not_armed_in_its_window_is_rejected(mdb, bus, uplink) -> None:  # type: ignore[no-untyped-def]
    policy = CriticalPolicy(arm_window_s=0.2)
    with make(mdb, bus, uplink, critical=policy) as mgr:
        rec = mgr.issue("REBOOT", user="alice", queue="held")
        time.sleep(0.35)  # blocked: the arming window has not opened yet
        assert mgr.get(rec["id"])["state"] == "queued"
        mgr.set_queue_state("held", "enabled", user="supervisor")
        final = mgr.wait(rec["id"], 3)
    assert final["state"] == "rejected"
    assert final["reason"] == "REBOOT is critical and was not armed within 0.2 s"
    assert final["audit"][-1]["user"] == "system"
    assert not uplink.sent
