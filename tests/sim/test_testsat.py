"""falak.sim.testsat: the TESTSAT model in simulated time alone (no sockets, no host clock)."""

from __future__ import annotations

import re

import pytest

from falak.sim.model import ContactWindow, OnboardEvent
from falak.sim.spacecraft import PacketBuilder
from falak.sim.testsat import ORBIT_S, create_model

S = 1_000_000_000
EPOCH = 1_694_131_200 * S  # 2023-09-08T00:00:00Z


def test_housekeeping_every_second_and_science_in_science_mode() -> None:
    m = create_model(EPOCH)
    containers = [p.container for t in range(0, 21) for p in m.step(EPOCH + t * S)]
    assert containers == ["HK"] * 21
    assert m.execute("SET_MODE", {"NEW_MODE": "SCIENCE"}, EPOCH + 21 * S).ok
    out = [p.container for t in range(22, 42) for p in m.step(EPOCH + t * S)]
    assert out.count("HK") == 21  # 21..41 s
    assert out.count("SCIENCE") == 2  # every 10 s
    # every packet the model gives encodes with the TESTSAT MDB
    b = PacketBuilder(m.mdb)
    for t in range(42, 60):
        for p in m.step(EPOCH + t * S):
            b.build(p, EPOCH + t * S)
    assert b.clipped == 0


def test_a_long_step_does_not_flood_housekeeping() -> None:
    m = create_model(EPOCH)
    assert len(m.step(EPOCH + 3600 * S)) == 1  # started an hour late: HK from now on


def test_battery_charges_in_sunlight_and_discharges_in_eclipse() -> None:
    m = create_model(EPOCH)
    assert m.sunlit(EPOCH)
    assert not m.sunlit(EPOCH + round(0.7 * ORBIT_S) * S)
    assert m.battery_current_a(EPOCH) < 0  # charging
    assert m.battery_current_a(EPOCH + round(0.7 * ORBIT_S) * S) > 0


def test_reboot_comes_back_in_safe_mode() -> None:
    m = create_model(EPOCH)
    out = m.execute("REBOOT", {}, EPOCH)
    assert out.ok
    assert [p.values["MODE"] for p in out.packets] == ["SAFE"]
    assert out.events == [
        OnboardEvent("WARNING", "on-board computer rebooted; SAFE mode", "SYSTEM", 11)
    ]
    refused = m.execute("SET_MODE", {"NEW_MODE": "SCIENCE"}, EPOCH + S)
    assert (refused.ok, refused.reason, refused.message) == (
        False,
        "NOT_ALLOWED_IN_STATE",
        "SET_MODE SCIENCE from SAFE: go to NOMINAL first",
    )


def test_heater_thermostat_follows_the_set_point() -> None:
    m = create_model(EPOCH)
    assert m.execute("SET_HEATER", {"SETPOINT": 30.0}, EPOCH).complete_after_s == 2.0
    for t in range(1, 600):
        m.step(EPOCH + t * S)
    assert m.heater  # 15 degC battery, 30 degC set point
    assert m.execute("SET_HEATER", {"SETPOINT": -20.0}, EPOCH + 600 * S).ok
    m.step(EPOCH + 601 * S)
    assert not m.heater


def test_faults_and_clear_all() -> None:
    m = create_model(EPOCH)
    assert m.inject_fault("BATTERY_LOW", {}, EPOCH).ok
    for t in range(1, 4 * 3600, 60):
        m.step(EPOCH + t * S)
    assert m.battery_voltage_v() < 6.6  # below the 6.6 V warning limit of the MDB
    assert m.inject_fault("CLEAR_ALL", {}, EPOCH + 4 * 3600 * S).ok
    assert m.faults == set()
    bad = m.inject_fault("FURNACE_OVERTEMP", {}, EPOCH)
    assert (bad.ok, bad.message) == (
        False,
        "unknown fault 'FURNACE_OVERTEMP'; TESTSAT faults: CLEAR_ALL, BATTERY_LOW, HEATER_STUCK_ON",
    )


def test_always_in_contact_by_default() -> None:
    m = create_model(EPOCH)
    assert m.contact_windows(EPOCH, EPOCH + 100 * S) == [
        ContactWindow(EPOCH, EPOCH + 100 * S, "TESTSAT ground station", 0.0)
    ]


def test_contact_windows_from_options() -> None:
    m = create_model(
        EPOCH,
        options={
            "contact_period_s": 600,
            "contact_duration_s": 120,
            "contact_offset_s": 60,
            "light_time_s": 0.25,
            "via": "Karachi",
        },
    )
    ws = m.contact_windows(EPOCH + 200 * S, EPOCH + 1300 * S)
    assert [(w.start_ns - EPOCH) // S for w in ws] == [660, 1260]
    assert [(w.stop_ns - EPOCH) // S for w in ws] == [780, 1380]
    assert {(w.via, w.light_time_s) for w in ws} == {("Karachi", 0.25)}
    assert [(w.start_ns - EPOCH) // S for w in m.contact_windows(EPOCH, EPOCH + 700 * S)] == [
        60,
        660,
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"contact_period_s": 600},
            "give both contact_period_s and contact_duration_s, or neither (always in contact)",
        ),
        ({"contact_period_s": 0, "contact_duration_s": 1}, "contact_period_s must be > 0 s; got 0"),
        (
            {"contact_every": 3},
            "unknown TESTSAT option(s) contact_every; known: contact_period_s, "
            "contact_duration_s, contact_offset_s, light_time_s, via",
        ),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        create_model(EPOCH, options=options)


def test_acks_and_events_are_mdb_packets() -> None:
    m = create_model(EPOCH)
    b = PacketBuilder(m.mdb)
    b.build(m.ack_packet(200, 2, 16383, "FAILED", "BAD_CRC"), EPOCH)
    ev = m.event_packet(OnboardEvent("DISTRESS", "x" * 400, "TC_HANDLER"))
    assert ev.values["EVENT_SEVERITY"] == "WARNING"  # TESTSAT has no DISTRESS label
    assert len(ev.values["EVENT_MESSAGE"]) == 255  # one length byte
    b.build(ev, EPOCH)
    assert b.generated == {103: 1, 101: 1}
