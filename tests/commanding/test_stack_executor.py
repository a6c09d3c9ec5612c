"""The stack executor against the command manager and the loopback TESTSAT
(tests/commanding/spacecraft.py): order, pause/resume/abort, stop vs continue on a failed
verification, critical steps, the history's stack/step fields, restore after a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from falak.commanding.stack import StackExecutor
from falak.errors import CommandRejected, InputError
from tests.commanding.test_end_to_end import ground

THREE = """\
stack: three
steps:
  - {command: NOOP, offset_s: 0}
  - {command: SET_HEATER, arguments: {SETPOINT: 5}, offset_s: 0.3}
  - {command: NOOP, offset_s: 0.6, verify: received}
"""


def wait_state(ex: StackExecutor, name: str, states: set[str], timeout_s: float = 20) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        rec = ex.get(name)
        if rec["state"] in states:
            return rec
        time.sleep(0.02)
    raise AssertionError(f"stack {name} still {ex.get(name)['state']}")


def test_steps_run_in_order_and_the_history_names_stack_and_step(tmp_path: Path) -> None:
    with ground(tmp_path, "ok") as (mgr, sc):
        ex = StackExecutor(mgr)
        assert ex.load(THREE, user="otto")["state"] == "loaded"
        ex.start("three", user="otto", roles=["operator"])
        rec = wait_state(ex, "three", {"completed", "failed"})
        ex.stop()
        history = [r for r in mgr.history.records() if r.get("stack") == "three"]
    assert rec["state"] == "completed", rec
    assert [s["state"] for s in rec["steps"]] == ["completed"] * 3
    assert rec["steps"][2]["stage"] == "received"
    assert [(h["command"], h["stack_step"], h["user"], h["origin"]) for h in history] == [
        ("/TESTSAT/NOOP", 1, "otto", "stack"),
        ("/TESTSAT/SET_HEATER", 2, "otto", "stack"),
        ("/TESTSAT/NOOP", 3, "otto", "stack"),
    ]
    rel = [s["release_ns"] for s in rec["steps"]]
    # offsets 0, 0.3, 0.6 s: never released before their time (1 ms for clock granularity)
    assert rel[1] - rec["start_ns"] >= 0.299e9
    assert rel[2] - rec["start_ns"] >= 0.599e9
    assert len(sc.received) == 3


def test_stop_on_failure_vs_continue(tmp_path: Path) -> None:
    with ground(tmp_path, "fail", window_s=1.0) as (mgr, _sc):
        ex = StackExecutor(mgr)
        ex.load("stack: s\nsteps:\n  - {command: NOOP}\n  - {command: NOOP}\n", user="otto")
        ex.start("s", user="otto")
        stopped = wait_state(ex, "s", {"completed", "failed"})
        ex.load(
            "stack: c\non_failure: continue\nsteps:\n  - {command: NOOP}\n  - {command: NOOP}\n",
            user="otto",
        )
        ex.start("c", user="otto")
        went_on = wait_state(ex, "c", {"completed", "failed"})
        ex.stop()
    assert stopped["state"] == "failed"
    assert [s["state"] for s in stopped["steps"]] == ["failed", "cancelled"]
    assert stopped["reason"] == "step 1 (/TESTSAT/NOOP) failed: complete NOK"
    assert went_on["state"] == "completed"
    assert went_on["failed_steps"] == 2
    assert [s["state"] for s in went_on["steps"]] == ["failed", "failed"]


def test_pause_holds_resume_releases_late_steps_at_once_abort_cancels(tmp_path: Path) -> None:
    text = (
        "stack: p\nsteps:\n  - {command: NOOP, offset_s: 0, verify: none}\n"
        "  - {command: NOOP, offset_s: 0.4, verify: none}\n"
        "  - {command: NOOP, offset_s: 30, verify: none}\n"
    )
    with ground(tmp_path, "ok") as (mgr, _sc):
        ex = StackExecutor(mgr)
        ex.load(text, user="otto")
        ex.start("p", user="otto")
        wait_for_step = time.monotonic() + 5
        while ex.get("p")["steps"][0]["state"] != "completed" and time.monotonic() < wait_for_step:
            time.sleep(0.01)
        ex.pause("p", user="otto")
        time.sleep(0.8)  # step 2's time passes while paused
        held = ex.get("p")
        ex.resume("p", user="vera")
        time.sleep(0.3)
        resumed = ex.get("p")
        aborted = ex.abort("p", user="otto")
        ex.stop()
        users = [r["user"] for r in mgr.history.records() if r.get("stack") == "p"]
    assert held["state"] == "paused"
    assert [s["state"] for s in held["steps"]] == ["completed", "pending", "pending"]
    assert [s["state"] for s in resumed["steps"]] == ["completed", "completed", "pending"]
    assert aborted["state"] == "aborted"
    assert aborted["reason"] == "aborted by otto"
    assert [s["state"] for s in aborted["steps"]] == ["completed", "completed", "cancelled"]
    assert users == ["otto", "vera"]  # steps after a resume are issued as who resumed
    with pytest.raises(InputError, match="stack p is aborted, not paused; cannot resume it"):
        ex.resume("p", user="otto")


def test_critical_step_needs_an_explicit_arming_start(tmp_path: Path) -> None:
    text = "stack: r\nsteps:\n  - {command: REBOOT, verify: accepted}\n"
    with ground(tmp_path, "ok") as (mgr, _sc):
        ex = StackExecutor(mgr)
        ex.load(text, user="fiona")
        with pytest.raises(CommandRejected) as info:
            ex.start("r", user="fiona", roles=["flight_director"])
        assert str(info.value) == (
            "stack r: steps 1 are critical commands; start with arm_critical "
            "(--arm-critical) to arm and confirm them as you"
        )
        with pytest.raises(CommandRejected, match="user otto may not arm them; arming roles"):
            ex.start("r", user="otto", roles=["operator"], arm_critical=True)
        ex.start("r", user="fiona", roles=["flight_director", "operator"], arm_critical=True)
        rec = wait_state(ex, "r", {"completed", "failed"})
        ex.stop()
        cmd = mgr.get(rec["steps"][0]["command_id"])
    assert rec["state"] == "completed", rec
    assert (cmd["armed_by"], cmd["confirmed_by"]) == ("fiona", "fiona")


def test_restore_brings_a_running_stack_back_paused(tmp_path: Path) -> None:
    stored: dict[str, dict[str, Any]] = {}
    text = (
        "stack: long\nsteps:\n  - {command: NOOP, verify: none}\n"
        "  - {command: NOOP, offset_s: 60}\n"
    )
    with ground(tmp_path, "ok") as (mgr, _sc):
        ex = StackExecutor(mgr, store=lambda rec: stored.__setitem__(rec["name"], rec))
        ex.load(text, user="otto")
        ex.start("long", user="otto")
        time.sleep(0.3)
        ex.stop()  # the server goes down with the stack running
        assert stored["long"]["state"] == "running"
        again = StackExecutor(mgr)
        again.restore(stored.values())
        rec = again.get("long")
    assert rec["state"] == "paused"
    assert rec["reason"] == "the server restarted while the stack was running"
    assert [s["state"] for s in rec["steps"]] == ["completed", "pending"]


def test_a_cancelled_stage_names_the_earlier_stage_that_failed() -> None:
    from falak.commanding.stack import _failed_stage

    rec = {
        "verifiers": {
            "received": {"outcome": "OK"},
            "execution": {"outcome": "NOK"},
            "complete": {"outcome": "CANCELLED"},
        }
    }
    assert _failed_stage(rec, "complete", "CANCELLED") == "execution NOK; complete CANCELLED"
    assert _failed_stage(rec, "execution", "NOK") == "execution NOK"
    timed_out = {
        "verifiers": {"accepted": {"outcome": "TIMEOUT"}, "complete": {"outcome": "CANCELLED"}}
    }
    assert (
        _failed_stage(timed_out, "complete", "CANCELLED") == "accepted TIMEOUT; complete CANCELLED"
    )
