"""Tests for falak.sim.clock on a fake host clock."""

import pytest

from falak.sim.clock import SimClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.ns = 1_000

    def __call__(self) -> int:
        return self.ns

    def sleep(self, seconds: float) -> None:
        self.ns += round(seconds * 1e9)


def test_speed_scales_elapsed_time() -> None:
    host = FakeMonotonic()
    clock = SimClock(epoch_ns=5_000_000_000, speed=60.0, monotonic_ns=host)
    assert clock.now_ns() == 5_000_000_000
    host.ns += 1_000_000_000  # one host second = 60 simulated seconds
    assert clock.now_ns() == 5_000_000_000 + 60_000_000_000


def test_monotonic_even_if_host_clock_steps_back() -> None:
    host = FakeMonotonic()
    clock = SimClock(epoch_ns=0, monotonic_ns=host)
    host.ns += 10
    first = clock.now_ns()
    host.ns -= 5
    assert clock.now_ns() == first


def test_sleep_until_reaches_sim_time() -> None:
    host = FakeMonotonic()
    clock = SimClock(epoch_ns=0, speed=10.0, monotonic_ns=host)
    clock.sleep_until(20_000_000_000, sleep=host.sleep)
    assert clock.now_ns() >= 20_000_000_000
    assert host.ns - 1_000 == 2_000_000_000  # 20 sim s at 10x = 2 host s


def test_bad_speed_message() -> None:
    with pytest.raises(ValueError, match=r"sim clock speed must be > 0 .*got 0"):
        SimClock(epoch_ns=0, speed=0)
