"""falak.clock: the run's clock, scaled by ``speed``, that every process of a run shares."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from falak.clock import (
    SYSTEM_CLOCK,
    Clock,
    ScaledClock,
    SystemClock,
    as_clock,
    host_seconds_until,
)

#: 2023-09-08T00:00:00Z in ns since 1970 (the demo's epoch): 19608 days * 86400 s
EPOCH_NS = 19_608 * 86_400 * 10**9


class FakeHost:
    """A host wall clock (``time.time_ns``) the test moves by hand."""

    def __init__(self, ns: int = 1_000) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns

    def sleep(self, seconds: float) -> None:
        self.ns += round(seconds * 1e9)


def test_speed_scales_elapsed_host_time() -> None:
    host = FakeHost()
    clock = ScaledClock(epoch_ns=5_000_000_000, speed=60.0, host_ns=host)
    assert clock.reference_host_ns == 1_000  # default reference: the host's now
    assert clock.now_ns() == 5_000_000_000
    host.ns += 1_000_000_000  # one host second = 60 simulated seconds
    assert clock.now_ns() == 5_000_000_000 + 60_000_000_000
    assert clock.host_seconds(6.0) == pytest.approx(0.1)
    assert clock.host_seconds_until(5_000_000_000 + 66_000_000_000) == pytest.approx(0.1)
    assert host_seconds_until(clock, 5_000_000_000 + 66_000_000_000) == pytest.approx(0.1)
    assert host_seconds_until(clock, 0) == 0.0  # passed: no wait


def test_never_goes_back_when_the_host_clock_steps_back() -> None:
    host = FakeHost()
    clock = ScaledClock(epoch_ns=0, host_ns=host)
    host.ns += 10
    first = clock.now_ns()
    host.ns -= 5
    assert clock.now_ns() == first


def test_sleep_until_reaches_sim_time() -> None:
    host = FakeHost()
    clock = ScaledClock(epoch_ns=0, speed=10.0, host_ns=host)
    clock.sleep_until(20_000_000_000, sleep=host.sleep)
    assert clock.now_ns() >= 20_000_000_000
    assert host.ns - 1_000 == 2_000_000_000  # 20 sim s at 10x = 2 host s


def test_bad_speed_message() -> None:
    with pytest.raises(
        ValueError, match=r"^clock speed must be > 0 \(1 = real time, 60 = 60x faster\); got 0$"
    ):
        ScaledClock(epoch_ns=0, speed=0)


def test_as_dict_from_dict_and_repr() -> None:
    clock = ScaledClock(EPOCH_NS, 60, reference_host_ns=1_765_100_000_000_000_000)
    numbers = clock.as_dict()
    assert numbers == {
        "epoch_ns": EPOCH_NS,
        "speed": 60.0,
        "reference_host_ns": 1_765_100_000_000_000_000,
    }
    assert ScaledClock.from_dict(numbers).as_dict() == numbers
    assert repr(clock) == (
        f"ScaledClock(epoch_ns={EPOCH_NS}, speed=60, reference_host_ns=1765100000000000000)"
    )
    with pytest.raises(
        ValueError,
        match=r"^a shared clock needs epoch_ns, speed and reference_host_ns; missing speed$",
    ):
        ScaledClock.from_dict({"epoch_ns": 0, "reference_host_ns": 0})


def test_as_clock_defaults_and_old_ns_functions() -> None:
    assert as_clock(None) is SYSTEM_CLOCK
    scaled = ScaledClock(0, 2.0)
    assert as_clock(scaled) is scaled
    assert isinstance(SYSTEM_CLOCK, SystemClock)
    assert isinstance(scaled, Clock)
    old = as_clock(lambda: 42)  # the form Processor(clock=) took before
    assert (old.now_ns(), old.speed, old.host_seconds(3.0)) == (42, 1.0, 3.0)
    with pytest.raises(TypeError, match=r"^clock must be a falak.clock.Clock or a function"):
        as_clock(12)  # type: ignore[arg-type]


CHILD = """
import json, sys, time
from falak.clock import ScaledClock
clock = ScaledClock.from_dict(json.loads(sys.argv[1]))
before, now, after = time.time_ns(), clock.now_ns(), time.time_ns()
print(json.dumps({"before": before, "now_ns": now, "after": after}), flush=True)
sys.stdin.readline()
"""


def test_a_second_process_keeps_the_same_clock() -> None:
    """The server and each simulator build the clock from the same three numbers."""
    speed = 60.0
    clock = ScaledClock(EPOCH_NS, speed)
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(clock.as_dict())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        line = child.stdout.readline()
        mine = clock.now_ns()
        child.communicate("\n", timeout=10)
    assert child.returncode == 0
    theirs = json.loads(line)
    # the child's reading lies between what this process's clock gives at the host instants
    # just before and just after it (exact: no tolerance needed)
    at_before = ScaledClock.from_dict(clock.as_dict(), host_ns=lambda: theirs["before"])
    at_after = ScaledClock.from_dict(clock.as_dict(), host_ns=lambda: theirs["after"])
    assert at_before.now_ns() <= theirs["now_ns"] <= at_after.now_ns()
    # and read a moment later here (a pipe hop: well under 200 host ms on a loaded 2-core
    # machine) it is later by no more than that moment times the speed
    lag_ns = mine - theirs["now_ns"]
    assert 0 <= lag_ns <= speed * 0.2e9


def test_system_clock_is_real_time() -> None:
    before = time.time_ns()
    now = SYSTEM_CLOCK.now_ns()
    assert before <= now <= time.time_ns()
    assert (SYSTEM_CLOCK.speed, SYSTEM_CLOCK.host_seconds(5.0), repr(SYSTEM_CLOCK)) == (
        1.0,
        5.0,
        "SystemClock()",
    )
