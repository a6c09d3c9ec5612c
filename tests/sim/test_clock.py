"""falak.sim.clock: the simulator keeps the run's clock, falak.clock.ScaledClock."""

from falak.clock import ScaledClock
from falak.sim import SimClock
from falak.sim.clock import SimClock as SimClockFromModule


class FakeHost:
    """A host wall clock (``time.time_ns``) the test moves by hand."""

    def __init__(self) -> None:
        self.ns = 1_000

    def __call__(self) -> int:
        return self.ns

    def sleep(self, seconds: float) -> None:
        self.ns += round(seconds * 1e9)


def test_the_simulator_clock_is_the_run_clock() -> None:
    # one clock class for the ground and the simulators (issue 13 contract 1)
    assert SimClock is ScaledClock
    assert SimClockFromModule is ScaledClock


def test_sleep_until_reaches_sim_time_in_scaled_host_time() -> None:
    host = FakeHost()
    clock = SimClock(epoch_ns=0, speed=10.0, host_ns=host)
    clock.sleep_until(20_000_000_000, sleep=host.sleep)
    assert clock.now_ns() >= 20_000_000_000
    assert host.ns - 1_000 == 2_000_000_000  # 20 sim s at 10x = 2 host s
