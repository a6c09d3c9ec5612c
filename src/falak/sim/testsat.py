"""TESTSAT as a simulated spacecraft: housekeeping, acknowledgements, events, four commands.

The model of ``falak/missions/testsat/mdb.yaml`` for :mod:`falak.sim.spacecraft`:

- ``HK`` (APID 100) every simulated second: battery voltage and current over a 95-minute
  orbit (charging in sunlight for 60 % of it, discharging in eclipse), battery and computer
  temperatures lagging towards their environment, the heater's thermostat, the mode;
- ``SCIENCE`` (APID 102) every 10 s in SCIENCE mode: a 16-channel particle spectrum;
- ``CMD_ACK`` (APID 103) for each stage of a command (TESTSAT's ack has no reason field: the
  event says why), ``EVENT`` (APID 101) for mode changes, reboots and rejections;
- commands: NOOP; SET_MODE (SAFE -> SCIENCE and OFF are refused, NOT_ALLOWED_IN_STATE);
  SET_HEATER (the thermostat set point); REBOOT (back in SAFE mode, heater off).
- faults (the TESTSAT MDB has no simulator-control command, so these are for tests and
  other runners): BATTERY_LOW (the battery drains to about 6.2 V), HEATER_STUCK_ON,
  CLEAR_ALL.

Contact windows: always in contact by default; with options ``contact_period_s`` and
``contact_duration_s`` (and ``contact_offset_s``, ``light_time_s``, ``via``) a window of
that duration opens every period from the epoch, so tests can make gaps. The numbers are
illustrative, not a real spacecraft's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from falak.mdb import MissionDatabase, load
from falak.sim.model import AckStage, CommandOutcome, ContactWindow, OnboardEvent, TmPacket

__all__ = ["MDB_PATH", "TestsatModel", "create_model"]

MDB_PATH = Path(__file__).resolve().parents[1] / "missions" / "testsat" / "mdb.yaml"
"""The TESTSAT mission database the model flies."""

_NS = 1_000_000_000
ORBIT_S = 95 * 60.0
SUNLIT_FRACTION = 0.6
SW_VERSION = "sim-1.0"
FAULTS = ("CLEAR_ALL", "BATTERY_LOW", "HEATER_STUCK_ON")
_SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")  # TESTSAT EventSeverity labels


@cache
def _mdb() -> MissionDatabase:
    return load(MDB_PATH)


class TestsatModel:
    """The TESTSAT spacecraft model (see the module doc)."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self, epoch_ns: int, *, seed: int = 0, options: Mapping[str, Any] | None = None
    ) -> None:
        opts = dict(options or {})
        self.mdb = _mdb()
        self.name = self.mdb.root.name
        self.epoch_ns = int(epoch_ns)
        self.rng = np.random.default_rng(seed)
        self.period_s = _positive(opts.pop("contact_period_s", None), "contact_period_s")
        self.duration_s = _positive(opts.pop("contact_duration_s", None), "contact_duration_s")
        if (self.period_s is None) != (self.duration_s is None):
            msg = (
                "give both contact_period_s and contact_duration_s, or neither (always in contact)"
            )
            raise ValueError(msg)
        self.offset_s = float(opts.pop("contact_offset_s", 0.0))
        self.light_time_s = float(opts.pop("light_time_s", 0.0))
        self.via = str(opts.pop("via", "TESTSAT ground station"))
        if opts:
            known = "contact_period_s, contact_duration_s, contact_offset_s, light_time_s, via"
            msg = f"unknown TESTSAT option(s) {', '.join(sorted(opts))}; known: {known}"
            raise ValueError(msg)
        self.mode = "NOMINAL"
        self.setpoint_c = 10.0
        self.heater = False
        self.temp_batt_c = 15.0
        self.temp_obc_c = 25.0
        self.charge = 0.8  # state of charge, 0..1
        self.faults: set[str] = set()
        self._last_ns = self.epoch_ns
        self._next_hk_ns = self.epoch_ns
        self._next_sci_ns = self.epoch_ns
        self._events: list[TmPacket] = []

    # -- physics ------------------------------------------------------------------------------

    def sunlit(self, now_ns: int) -> bool:
        """Whether TESTSAT is in sunlight (the first 60 % of each orbit from the epoch)."""
        phase = ((now_ns - self.epoch_ns) / _NS % ORBIT_S) / ORBIT_S
        return phase < SUNLIT_FRACTION

    def battery_current_a(self, now_ns: int) -> float:
        """Battery current, A (negative: charging)."""
        load_a = 0.8 + (0.6 if self.heater else 0.0) + (0.5 if self.mode == "SCIENCE" else 0.0)
        if "BATTERY_LOW" in self.faults:
            return load_a + 1.5
        return load_a - (2.0 if self.sunlit(now_ns) and self.charge < 1.0 else 0.0)

    def battery_voltage_v(self) -> float:
        """Battery voltage from the state of charge (a 2-cell Li-ion pack, 6.0..8.4 V)."""
        return 6.0 + 2.4 * self.charge

    def _advance(self, now_ns: int) -> None:
        dt = max(0.0, (now_ns - self._last_ns) / _NS)
        self._last_ns = max(self._last_ns, now_ns)
        if dt == 0:
            return
        i = self.battery_current_a(now_ns)
        self.charge = min(1.0, max(0.0, self.charge - i * dt / (3600.0 * 5.0)))  # 5 Ah
        if "BATTERY_LOW" in self.faults:
            self.charge = max(self.charge, 0.08)  # drains to ~6.2 V and stays there
        env_c = 20.0 if self.sunlit(now_ns) else -5.0
        target = env_c + (18.0 if self.heater else 0.0)
        a = 1.0 - math.exp(-dt / 900.0)  # 15-minute thermal time constant
        self.temp_batt_c += (target - self.temp_batt_c) * a
        self.temp_obc_c += (env_c + 12.0 - self.temp_obc_c) * a
        if "HEATER_STUCK_ON" in self.faults:
            self.heater = True
        elif self.mode != "OFF":
            if self.temp_batt_c < self.setpoint_c - 1.0:
                self.heater = True
            elif self.temp_batt_c > self.setpoint_c + 1.0:
                self.heater = False

    def hk(self, now_ns: int) -> TmPacket:
        """The housekeeping packet now."""
        noise = self.rng.normal(0.0, 0.002)
        return TmPacket(
            "HK",
            {
                "BATT_V": self.battery_voltage_v() + noise,
                "BATT_I": self.battery_current_a(now_ns),
                "TEMP_BATT": self.temp_batt_c,
                "TEMP_OBC": self.temp_obc_c,
                "MODE": self.mode,
                "HEATER": self.heater,
                "HK_SPARE": 0,
                "SW_VERSION": SW_VERSION,
            },
        )

    def science(self) -> TmPacket:
        """A 16-channel spectrum, counts falling with energy."""
        mean = 400.0 * np.exp(-np.arange(16) / 4.0)
        counts = self.rng.poisson(mean).clip(0, 65535)
        return TmPacket(
            "SCIENCE",
            {"INTEGRATION_MS": 1000, "SAMPLE_COUNT": 16, "SPECTRUM": [int(c) for c in counts]},
        )

    # -- the protocol -------------------------------------------------------------------------

    def step(self, now_ns: int) -> list[TmPacket]:
        """Advance to ``now_ns``; return HK every second, science every 10 s in SCIENCE."""
        self._advance(now_ns)
        out, self._events = self._events, []
        if self._next_hk_ns < now_ns - _NS:  # started late, or paused: no HK for the gap
            self._next_hk_ns = now_ns
        while self._next_hk_ns <= now_ns:
            out.append(self.hk(now_ns))
            self._next_hk_ns += _NS
        if self.mode == "SCIENCE":
            if self._next_sci_ns <= now_ns:
                out.append(self.science())
                self._next_sci_ns = now_ns + 10 * _NS
        else:
            self._next_sci_ns = now_ns
        return out

    def _event(self, severity: str, message: str, event_id: int = 0) -> None:
        self._events.append(self.event_packet(OnboardEvent(severity, message, "SYSTEM", event_id)))

    def execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Execute NOOP, SET_MODE, SET_HEATER or REBOOT."""
        self._advance(now_ns)
        if command == "NOOP":
            return CommandOutcome()
        if command == "SET_MODE":
            new = str(args["NEW_MODE"])
            if new == "OFF":
                return _refuse("SET_MODE OFF: the spacecraft cannot switch itself off")
            if self.mode == "SAFE" and new == "SCIENCE":
                return _refuse("SET_MODE SCIENCE from SAFE: go to NOMINAL first")
            old, self.mode = self.mode, new
            ev = OnboardEvent("INFO", f"mode {old} -> {new}", "SYSTEM", 10)
            return CommandOutcome(complete_after_s=1.0, events=[ev], packets=[self.hk(now_ns)])
        if command == "SET_HEATER":
            self.setpoint_c = float(args["SETPOINT"])
            return CommandOutcome(complete_after_s=2.0)
        if command == "REBOOT":
            self.mode = "SAFE"
            self.heater = False
            ev = OnboardEvent("WARNING", "on-board computer rebooted; SAFE mode", "SYSTEM", 11)
            return CommandOutcome(events=[ev], packets=[self.hk(now_ns)])
        return CommandOutcome(
            ok=False, reason="EXECUTION_FAILED", message=f"{command}: not implemented on board"
        )

    def inject_fault(self, fault: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Inject BATTERY_LOW or HEATER_STUCK_ON, or clear every fault with CLEAR_ALL."""
        self._advance(now_ns)
        if fault not in FAULTS:
            return _refuse(f"unknown fault {fault!r}; TESTSAT faults: {', '.join(FAULTS)}")
        if fault == "CLEAR_ALL":
            self.faults.clear()
        else:
            self.faults.add(fault)
        ev = OnboardEvent("WARNING", f"simulator: fault {fault}", "SIMULATOR", 90)
        return CommandOutcome(events=[ev])

    def contact_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        """Always in contact, or a window of ``contact_duration_s`` every ``contact_period_s``."""
        if self.period_s is None or self.duration_s is None:
            return [ContactWindow(start_ns, stop_ns, self.via, self.light_time_s)]
        period = round(self.period_s * _NS)
        first = self.epoch_ns + round(self.offset_s * _NS)
        k = max(0, (start_ns - first) // period - 1)
        out = []
        while (a := first + k * period) < stop_ns:
            b = a + round(self.duration_s * _NS)
            if b > start_ns:
                out.append(ContactWindow(a, b, self.via, self.light_time_s))
            k += 1
        return out

    def ack_packet(
        self, command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
    ) -> TmPacket:
        """A CMD_ACK packet (TESTSAT's has no APID or reason field)."""
        return TmPacket(
            "CMD_ACK",
            {
                "ACK_OPCODE": opcode & 0xFF,
                "ACK_SEQ_COUNT": seq_count & 0x3FFF,
                "ACK_SPARE": 0,
                "ACK_STAGE": stage,
            },
        )

    def event_packet(self, event: OnboardEvent) -> TmPacket:
        """An EVENT packet; a severity TESTSAT has no label for becomes WARNING."""
        severity = event.severity if event.severity in _SEVERITIES else "WARNING"
        text = f"{event.source}: {event.message}" if event.source != "SYSTEM" else event.message
        data = text.encode("utf-8")[:255].decode("utf-8", "ignore")
        return TmPacket(
            "EVENT",
            {
                "EVENT_ID": event.event_id & 0xFFFF,
                "EVENT_SEVERITY": severity,
                "EVENT_MESSAGE": data,
            },
        )


def _refuse(message: str) -> CommandOutcome:
    return CommandOutcome(ok=False, reason="NOT_ALLOWED_IN_STATE", message=message)


def _positive(value: Any, name: str) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not v > 0:
        raise ValueError(f"{name} must be > 0 s; got {value!r}")
    return v


def create_model(
    epoch_ns: int, *, seed: int = 0, options: Mapping[str, Any] | None = None
) -> TestsatModel:
    """Return the TESTSAT model starting at ``epoch_ns`` (see the module doc for options)."""
    return TestsatModel(epoch_ns, seed=seed, options=options)
