"""The command manager keeps the run's clock: at ``--speed 60`` a verifier window of 5
simulated seconds closes after 5/60 host seconds; windows are widened by the round-trip
light time; stack steps go out when the clock reaches their time (issue 13)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from falak.bus import Bus
from falak.clock import Clock, ScaledClock
from falak.commanding import CommandManager
from falak.commanding.stack import StackExecutor
from falak.errors import InputError
from falak.links.tc import TcUplink
from falak.mdb import MissionDatabase, load
from falak.processor.processor import ParameterValues
from tests.commanding.test_end_to_end import short_windows
from tests.commanding.test_queues import publish
from tests.processor.testsat import MDB_PATH, load_testsat

#: 2023-09-08T00:00:00Z in ns since 1970 (the demo's epoch): 19608 days * 86400 s
EPOCH_NS = 19_608 * 86_400 * 10**9


class FakeHost:
    """A host wall clock (``time.time_ns``) the test moves by hand."""

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


class ClockUplink(TcUplink):
    """An uplink that keeps what it transmits, with the clock time it left."""

    def __init__(self, clock: Clock) -> None:
        self.sent: list[tuple[int, bytes]] = []
        super().__init__("rec", clock=clock)

    @property
    def url(self) -> str:
        return "memory://rec"

    def _transmit(self, data: bytes) -> None:
        self.sent.append((self.clock.now_ns(), data))


@pytest.fixture
def bus() -> Iterator[Bus]:
    b = Bus()
    yield b
    b.close()


def manager(
    mdb: MissionDatabase, bus: Bus, clock: Clock, **kw: Any
) -> tuple[CommandManager, ClockUplink]:
    uplink = ClockUplink(clock)
    return CommandManager(mdb, bus=bus, uplink=uplink, clock=clock, **kw), uplink


def wait_for(check: Any, timeout_s: float = 5.0) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if value := check():
            return value
        time.sleep(0.01)
    raise AssertionError("timed out")


def publish_ack(bus: Bus, mdb: MissionDatabase, recv_ns: int, seq: int, stage: str) -> None:
    """Publish one CMD_ACK packet's values the way the processor does."""
    values = {"ACK_OPCODE": (1, 1), "ACK_SEQ_COUNT": (seq, seq), "ACK_STAGE": (1, stage)}
    t = np.array([recv_ns], dtype=np.int64)
    for name, (raw, eng) in values.items():
        p = mdb.parameter(name)
        pv = ParameterValues(
            p.qualified_name,
            p.name,
            "/TESTSAT/CMD_ACK",
            t,
            t,
            np.array([raw]),
            np.array([eng], dtype=object),
            None,
            None,
        )
        bus.publish(p.qualified_name, pv)


def test_a_5_s_window_at_speed_60_times_out_after_5_60_host_seconds(bus: Bus) -> None:
    # a fresh MDB (load_testsat's is shared): NOOP received and complete within 0..5 s
    mdb = short_windows(load(MDB_PATH), 5.0)
    clock = ScaledClock(EPOCH_NS, 60.0)  # the real host clock, 60x
    mgr, uplink = manager(mdb, bus, clock)
    with mgr:
        t0 = time.monotonic()
        rec = mgr.issue("NOOP", user="alice")
        final = mgr.wait(rec["id"], timeout_s=4.0)
        host_s = time.monotonic() - t0
    uplink.close()
    assert final["state"] == "failed", final
    received = final["verifiers"]["received"]
    assert received["outcome"] == "TIMEOUT"
    assert received["message"] == "nothing within 0..5 s"
    # closed in simulated time, no earlier than 5 s after release
    assert received["time_ns"] - final["release_ns"] >= 5_000_000_000
    assert EPOCH_NS <= final["release_ns"] < EPOCH_NS + 86_400 * 10**9
    # and in host time after about 5/60 s: never sooner; later by the manager's settling
    # margin (2 * 20 ms + 50 ms host) and thread wake-ups -- far below the 5 s that a
    # window in host seconds would take
    assert 5 / 60 <= host_s < 2.0


def test_light_time_widens_verifier_windows_by_the_round_trip(bus: Bus) -> None:
    mdb = load_testsat()  # NOOP received: window 0..5 s
    host = FakeHost()
    clock = ScaledClock(EPOCH_NS, 60.0, reference_host_ns=0, host_ns=host)  # stands still
    outcomes = {}
    for light_time_s in (0.0, 2.0):
        mgr, uplink = manager(mdb, bus, clock, light_time_s=light_time_s)
        with mgr:
            cid = mgr.issue("NOOP", user="alice")["id"]
            rel = wait_for(lambda: mgr.get(cid).get("release_ns"))  # noqa: B023
            # an ack 8 s after release: outside 0..5 s, inside 0..5+2*2 s
            publish_ack(bus, mdb, rel + 8_000_000_000, mgr.get(cid)["seq_count"], "RECEIVED")
            rec = wait_for(
                lambda: (
                    (r := mgr.get(cid))["verifiers"]["received"]["outcome"] != "PENDING"  # noqa: B023
                    and r
                )
            )
        uplink.close()
        outcomes[light_time_s] = rec["verifiers"]["received"]["outcome"]
        assert rec["light_time_s"] == light_time_s
        assert rec["verifiers"]["received"]["window_s"] == [0.0, 5.0 + 2 * light_time_s]
    assert outcomes == {0.0: "TIMEOUT", 2.0: "OK"}
    stages = CommandManager(mdb, light_time_s=1.28).verifiers("NOOP")
    # Earth-Moon one way 1.28 s (384 400 km / 299 792.458 km/s): windows end 2.56 s later
    assert [s.stage for s in stages] == ["received", "complete"]
    assert [s.window_stop_s for s in stages] == pytest.approx([7.56, 12.56], abs=1e-9)
    assert [dataclasses.replace(s, window_stop_s=0) for s in stages] == [
        dataclasses.replace(s, window_stop_s=0) for s in mdb.command("NOOP").verifiers
    ]


def test_the_host_allowance_widens_windows_by_its_host_seconds_at_the_clocks_speed() -> None:
    # host_allowance_s is host time: at 60x, 0.5 host s is 30 s of the mission's clock
    mdb = load_testsat()  # NOOP: received 0..5 s, complete 0..10 s
    clock = ScaledClock(EPOCH_NS, 60.0, reference_host_ns=0, host_ns=FakeHost())
    stages = CommandManager(mdb, clock=clock, light_time_s=1.0, host_allowance_s=0.5).verifiers(
        "NOOP"
    )
    assert [s.window_stop_s for s in stages] == pytest.approx([5 + 2 + 30, 10 + 2 + 30])
    real = CommandManager(mdb, host_allowance_s=0.5).verifiers("NOOP")  # real time: 0.5 s
    assert [s.window_stop_s for s in real] == pytest.approx([5.5, 10.5])
    with pytest.raises(InputError, match=r"^host allowance must be within 0..60 s, got -1"):
        CommandManager(mdb, host_allowance_s=-1.0)


def test_negative_light_time_is_refused() -> None:
    with pytest.raises(
        InputError, match=r"^light time must be within 0..3600 s \(one way\), got -1"
    ):
        CommandManager(load_testsat(), light_time_s=-1.0)


LATE = """\
stack: late
steps:
  - {command: NOOP, offset_s: 600, verify: received}
"""


def test_a_stack_step_goes_out_when_the_clock_reaches_its_time(bus: Bus) -> None:
    mdb = load_testsat()
    host = FakeHost()
    clock = ScaledClock(EPOCH_NS, 60.0, reference_host_ns=0, host_ns=host)
    mgr, uplink = manager(mdb, bus, clock)
    with mgr:
        ex = StackExecutor(mgr)  # the manager's clock by default
        assert ex.clock is clock
        ex.load(LATE, user="otto")
        assert ex.start("late", user="otto")["start_ns"] == EPOCH_NS
        time.sleep(0.3)  # real time passes; the run clock does not
        assert ex.get("late")["steps"][0]["state"] == "pending"
        host.ns = 9_990_000_000  # 599.4 s simulated: still early
        time.sleep(0.3)
        assert ex.get("late")["steps"][0]["state"] == "pending"
        assert uplink.sent == []
        host.ns = 10_000_000_000  # 10 host s = 600 s simulated: its time
        step = wait_for(lambda: (s := ex.get("late")["steps"][0])["state"] != "pending" and s)
        wait_for(lambda: uplink.sent)
        ex.stop()
    uplink.close()
    assert step["state"] == "released"
    assert step["release_ns"] >= EPOCH_NS + 600_000_000_000
    assert uplink.sent[0][0] >= EPOCH_NS + 600_000_000_000


def fake_clock() -> tuple[FakeHost, ScaledClock]:
    host = FakeHost()
    return host, ScaledClock(EPOCH_NS, 60.0, reference_host_ns=0, host_ns=host)


def test_a_time_tag_is_simulated_utc(bus: Bus) -> None:
    host, clock = fake_clock()
    mgr, uplink = manager(load_testsat(), bus, clock)
    with mgr:
        at = datetime(2023, 9, 8, 0, 0, 30, tzinfo=UTC)  # 30 s after the epoch
        cid = mgr.issue("NOOP", user="alice", release_at=at)["id"]
        time.sleep(0.3)  # real time passes; the run clock does not
        host.ns = 490_000_000  # 29.4 s simulated
        time.sleep(0.2)
        assert mgr.get(cid)["state"] == "queued"
        host.ns = 500_000_000  # 0.5 host s = 30 s simulated
        wait_for(lambda: uplink.sent)
    uplink.close()
    assert uplink.sent[0][0] >= EPOCH_NS + 30_000_000_000


def test_a_constraint_timeout_is_simulated_seconds(bus: Bus) -> None:
    mdb = load_testsat()
    host, clock = fake_clock()
    mgr, uplink = manager(mdb, bus, clock)
    with mgr:
        mgr.add_constraint("MODE == SAFE", timeout_s=60)
        publish(bus, mdb, "MODE", 2, "NOMINAL")
        wait_for(lambda: "/TESTSAT/MODE" in mgr.latest)
        cid = mgr.issue("NOOP", user="alice")["id"]
        time.sleep(0.3)
        host.ns = 900_000_000  # 54 s simulated: still waiting
        time.sleep(0.3)
        assert mgr.get(cid)["state"] == "queued"
        host.ns = 1_100_000_000  # 66 s simulated: past the 60 s timeout
        final = mgr.wait(cid, 5)
    uplink.close()
    assert final["state"] == "rejected"
    assert final["reason"] == "NOOP: transmission constraint not met within 60 s: MODE == SAFE"
    assert not uplink.sent


def test_arming_windows_are_an_operators_host_seconds(bus: Bus) -> None:
    """At speed 60 a 30 s confirmation window in simulated time would be half a host
    second, too short for a person: arm/confirm windows stay in host seconds."""
    host, clock = fake_clock()
    mgr, uplink = manager(load_testsat(), bus, clock)  # confirm_window_s: 30 (default)
    with mgr:
        cid = mgr.issue("REBOOT", user="alice")["id"]
        mgr.arm(cid, user="fd", roles=["flight_director"])
        host.ns = 10_000_000_000  # 600 s simulated pass, a moment of host time
        mgr.confirm(cid, user="fd2", roles=["flight_director"])
        wait_for(lambda: uplink.sent)
        final = mgr.get(cid)
    uplink.close()
    assert final["state"] == "released"
    assert final["release_ns"] == EPOCH_NS + 600_000_000_000
