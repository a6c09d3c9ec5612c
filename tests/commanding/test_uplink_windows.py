"""Commands released outside the spacecraft's uplink windows wait for the next one or are
refused with the reason, per the uplink's policy (issue 14; contract C1 of the wave)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from falak.bus import Bus
from falak.clock import ScaledClock
from falak.commanding import CommandManager
from falak.commanding.stack import StackExecutor
from falak.errors import InputError
from falak.planning.traverse.windows import UplinkWindows
from tests.commanding.test_manager_clock import EPOCH_NS, FakeHost, manager, wait_for
from tests.processor.testsat import load_testsat

H_NS = 3600 * 10**9
#: one window, 01:00-02:00 on the demo's epoch day (2023-09-08)
WINDOWS = UplinkWindows(
    [(EPOCH_NS + H_NS, EPOCH_NS + 2 * H_NS)], spacecraft="ROVER", contacts="earth"
)
WAIT_REASON = (
    "waiting for the uplink window 2023-09-08T01:00:00Z–2023-09-08T02:00:00Z "
    "(Earth below ROVER's horizon)"
)


@pytest.fixture
def bus() -> Iterator[Bus]:
    b = Bus()
    yield b
    b.close()


def test_wait_holds_the_command_with_the_reason_and_sends_it_at_the_window_start(
    bus: Bus,
) -> None:
    # an hour of run time per host second: the window opens 1 host s after the start
    clock = ScaledClock(EPOCH_NS, 3600.0)
    mgr, uplink = manager(load_testsat(), bus, clock, uplink_windows=WINDOWS)
    with mgr:
        cid = mgr.issue("NOOP", user="alice")["id"]
        held = wait_for(lambda: (r := mgr.get(cid)).get("uplink_wait") and r)
        assert held["state"] == "queued"
        assert held["reason"] == WAIT_REASON
        assert held["uplink_wait"]["start_ns"] == EPOCH_NS + H_NS
        assert [a["message"] for a in held["audit"] if a["action"] == "uplink_wait"] == [
            f"NOOP {WAIT_REASON}"
        ]
        assert not uplink.sent
        wait_for(lambda: uplink.sent, timeout_s=10.0)
        final = mgr.get(cid)
    uplink.close()
    sent_ns = uplink.sent[0][0]
    # at the window's start: not before; after it by the scheduler's wake-up only (5 min of
    # run time = 83 host ms at this speed, a generous bound on a busy machine)
    assert EPOCH_NS + H_NS <= sent_ns < EPOCH_NS + H_NS + 300 * 10**9
    assert final["state"] == "released"
    assert final["reason"] is None  # the wait is over; uplink_wait keeps the record of it
    waited_s = (final["release_ns"] - final["uplink_wait"]["since_ns"]) / 1e9
    assert final["uplink_waited_s"] == pytest.approx(waited_s, abs=60.0)


def test_wait_sends_exactly_at_the_window_start_on_a_still_clock(bus: Bus) -> None:
    host = FakeHost()
    clock = ScaledClock(EPOCH_NS, 3600.0, reference_host_ns=0, host_ns=host)
    mgr, uplink = manager(load_testsat(), bus, clock, uplink_windows=WINDOWS)
    with mgr:
        cid = mgr.issue("NOOP", user="alice")["id"]
        wait_for(lambda: mgr.get(cid).get("uplink_wait"))
        host.ns = 999_000_000  # 59 min 56.4 s of run time: still closed
        time.sleep(0.3)
        assert mgr.get(cid)["state"] == "queued"
        host.ns = 1_000_000_000  # 01:00:00 exactly
        wait_for(lambda: uplink.sent)
    uplink.close()
    assert uplink.sent[0][0] == EPOCH_NS + H_NS


def test_inside_a_window_a_command_goes_at_once(bus: Bus) -> None:
    host = FakeHost()
    clock = ScaledClock(EPOCH_NS + H_NS + 60 * 10**9, 1.0, reference_host_ns=0, host_ns=host)
    mgr, uplink = manager(
        load_testsat(), bus, clock, uplink_windows=WINDOWS, uplink_policy="refuse"
    )
    with mgr:
        cid = mgr.issue("NOOP", user="alice")["id"]
        wait_for(lambda: uplink.sent)
        rec = mgr.get(cid)
    uplink.close()
    assert "uplink_wait" not in rec
    assert rec["state"] == "released"


def test_refuse_rejects_naming_the_next_window(bus: Bus) -> None:
    clock = ScaledClock(EPOCH_NS, 3600.0)
    mgr, uplink = manager(
        load_testsat(), bus, clock, uplink_windows=WINDOWS, uplink_policy="refuse"
    )
    with mgr:
        final = mgr.wait(mgr.issue("NOOP", user="alice")["id"], timeout_s=5.0)
    uplink.close()
    assert final["state"] == "rejected"
    assert final["reason"] == (
        "NOOP: uplink closed (Earth below ROVER's horizon); next uplink window "
        "2023-09-08T01:00:00Z–2023-09-08T02:00:00Z"
    )
    assert [a["message"] for a in final["audit"] if a["action"] == "reject"] == [final["reason"]]
    assert not uplink.sent


@pytest.mark.parametrize("policy", ["wait", "refuse"])
def test_no_window_ahead_is_refused_under_either_policy(bus: Bus, policy: str) -> None:
    clock = ScaledClock(EPOCH_NS + 3 * H_NS, 3600.0)  # after the only window
    mgr, uplink = manager(load_testsat(), bus, clock, uplink_windows=WINDOWS, uplink_policy=policy)
    with mgr:
        final = mgr.wait(mgr.issue("NOOP", user="alice")["id"], timeout_s=5.0)
    uplink.close()
    assert final["state"] == "rejected"
    assert final["reason"] == "NOOP: uplink closed (Earth below ROVER's horizon); no window ahead"


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(InputError, match=r"^uplink policy 'later' must be one of wait, refuse$"):
        CommandManager(load_testsat(), uplink_windows=WINDOWS, uplink_policy="later")


STACK = """\
stack: drive
steps:
  - {command: NOOP, offset_s: 0, verify: none, timeout_s: 60}
  - {command: NOOP, offset_s: 1, verify: none, timeout_s: 60}
"""


def test_a_stack_step_waits_for_the_window_beyond_its_timeout(bus: Bus) -> None:
    """The step's 60 s timeout runs from the release: an hour's wait for the window is not
    the step's failure, it only takes longer."""
    host = FakeHost()
    clock = ScaledClock(EPOCH_NS, 3600.0, reference_host_ns=0, host_ns=host)
    mgr, uplink = manager(load_testsat(), bus, clock, uplink_windows=WINDOWS)
    with mgr:
        ex = StackExecutor(mgr, poll_s=0.01)
        ex.load(STACK, user="otto")
        ex.start("drive", user="otto")
        wait_for(lambda: ex.get("drive")["steps"][0].get("command_id"))
        host.ns = 500_000_000  # 30 min of run time: far past the step's 60 s, still closed
        time.sleep(0.3)
        assert ex.get("drive")["steps"][0]["state"] == "released"  # issued, still held
        host.ns = 1_000_000_000  # the window opens
        run = wait_for(lambda: (r := ex.get("drive"))["state"] == "completed" and r)
        ex.stop()
    uplink.close()
    assert [s["state"] for s in run["steps"]] == ["completed", "completed"]
    assert [t for t, _ in uplink.sent] == [EPOCH_NS + H_NS] * 2


def test_a_refused_stack_step_fails_with_the_reason(bus: Bus) -> None:
    clock = ScaledClock(EPOCH_NS, 3600.0)
    mgr, uplink = manager(
        load_testsat(), bus, clock, uplink_windows=WINDOWS, uplink_policy="refuse"
    )
    with mgr:
        ex = StackExecutor(mgr, poll_s=0.01)
        ex.load(STACK, user="otto")
        ex.start("drive", user="otto")
        run = wait_for(lambda: (r := ex.get("drive"))["state"] not in ("running",) and r)
        ex.stop()
    uplink.close()
    step = run["steps"][0]
    assert step["state"] == "failed"
    assert step["reason"] == (
        "command rejected: NOOP: uplink closed (Earth below ROVER's horizon); next uplink "
        "window 2023-09-08T01:00:00Z–2023-09-08T02:00:00Z"
    )
    assert run["steps"][1]["state"] == "cancelled"  # on_failure: stop (the default)
    assert len(uplink.sent) == 0
