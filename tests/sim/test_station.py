"""The Tiangong station model: packets at the MDB's periods, commands, power cap, faults, contacts.

Packets are checked the way the ground sees them: encoded with the TIANGONG MDB and decoded by
falak's decoder, whose limit checks are the MDB's (tests may use the ground side; the model
may not). Reference values come from the MDB (periods, limits) and from the model laws of
``falak/sim/tiangong_payloads.py``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from falak.errors import InputError
from falak.mdb import MissionDatabase
from falak.mdb.model import AlarmLevel
from falak.sim import tiangong_payloads as tp
from falak.sim.model import OnboardEvent, TmPacket
from falak.sim.station import OPTIONS, SHED_ORDER, StationModel, create_model
from falak.tm.decoder import ContainerResult
from tests.missions.test_tiangong_mdb import _decode, _packet

S = 1_000_000_000
EPOCH_NS = int(np.datetime64("2023-09-08T00:00:00", "ns").astype(np.int64))


@pytest.fixture(scope="module")
def model() -> StationModel:
    return create_model(EPOCH_NS)


@pytest.fixture(scope="module")
def mdb(model: StationModel) -> MissionDatabase:
    return model.mdb


def _decoded(
    mdb: MissionDatabase, packets: Iterable[TmPacket], container: str, most: int | None = None
) -> ContainerResult:
    """Encode a container's packets with the MDB and decode them (at most ``most``, evenly
    spread: encoding takes ~2 ms a packet)."""
    mine = [p for p in packets if p.container == container]
    if most is not None and len(mine) > most:
        mine = mine[:: math.ceil(len(mine) / most)]
    res = _decode(mdb, [_packet(mdb, p.container, p.values) for p in mine])
    assert res.failed_counts() == {}, container
    return res.container(container)


def _col(c: ContainerResult, name: str) -> tuple[list[Any], list[AlarmLevel]]:
    """Return a decoded column's engineering values and alarm levels."""
    col = c.column(name)
    assert col.monitoring is not None, name
    return list(col.eng), [AlarmLevel(int(x)) for x in col.monitoring]


def _levels(
    mdb: MissionDatabase, packets: Iterable[TmPacket], container: str, name: str
) -> tuple[list[Any], list[AlarmLevel]]:
    """Return the decoded engineering values and alarm levels of one parameter."""
    return _col(_decoded(mdb, packets, container), name)


def _run(m: StationModel, until_s: float, out: list[TmPacket] | None = None) -> list[TmPacket]:
    out = [] if out is None else out
    out += m.step(EPOCH_NS + int(until_s * S))
    return out


def _ok(m: StationModel, cmd: str, at_s: float, **args: Any) -> None:
    res = m.execute(cmd, args, EPOCH_NS + int(at_s * S))
    assert res.ok, (cmd, res.message)


def test_options_are_checked() -> None:
    with pytest.raises(InputError) as exc:
        create_model(EPOCH_NS, options={"contact": "ground"})
    assert str(exc.value) == (
        "station model: unknown option(s) contact; known: " + ", ".join(OPTIONS)
    )
    with pytest.raises(InputError) as exc:
        create_model(EPOCH_NS, options={"contacts": "radio"})
    assert "contacts must be all, ground or relay, got 'radio'" in str(exc.value)
    with pytest.raises(InputError) as exc:
        create_model(EPOCH_NS, options={"relays": ["TL-9"]})
    assert "unknown relay(s) TL-9; known: TL-1, TL-2, TL-3" in str(exc.value)


def test_packets_come_at_the_mdb_periods_with_their_own_times(
    model: StationModel, mdb: MissionDatabase
) -> None:
    m = create_model(EPOCH_NS)
    pk = m.step(EPOCH_NS + 600 * S)
    n = Counter(p.container for p in pk)
    for c in ("STATION_HK", "FURNACE_HK", "FLUID_HK", "INCUBATOR_HK", "PLANT_HK", "COLD_HK"):
        period = mdb.container(c).expected_period_s
        assert period is not None
        assert n[c] == 600 // period, c
    assert n["DOSIMETER_DATA"] == 60  # measuring from the start, 10 s integrations
    # science only while running (nothing runs yet)
    assert n["FURNACE_SCIENCE"] == n["FLUID_SCIENCE"] == n["ASTRO_SPECTRUM_DATA"] == 0
    times = [p.time_ns for p in pk]
    assert all(t is not None and (t - EPOCH_NS) % S == 0 for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    assert m.generated == dict(n)


def test_same_seed_same_telemetry() -> None:
    a = create_model(EPOCH_NS, seed=3).step(EPOCH_NS + 120 * S)
    b = create_model(EPOCH_NS, seed=3).step(EPOCH_NS + 120 * S)
    c = create_model(EPOCH_NS, seed=4).step(EPOCH_NS + 120 * S)
    assert a == b
    assert a != c  # dosimeter counts are Poisson draws


def test_station_hk_follows_the_orbit_and_the_sun(
    model: StationModel, mdb: MissionDatabase
) -> None:
    m = create_model(EPOCH_NS)
    pk = [p for p in _run(m, 2 * 5535) if p.container == "STATION_HK"]  # two orbits
    lit = np.array([p.values["STN_SUNLIGHT"] == "SUNLIT" for p in pk])
    assert 0.5 < lit.mean() < 0.8  # example campaign: ~62 % sunlit
    avail = np.array([p.values["STN_PAYLOAD_POWER_AVAIL_W"] for p in pk])
    assert set(avail[lit]) == {6000.0}
    assert set(avail[~lit]) == {3000.0}
    lat = np.array([p.values["STN_LAT_DEG"] for p in pk])
    assert 41.0 < lat.max() < 41.8  # inclination 41.47 deg (CMSA)
    assert np.array([p.values["STN_IN_SAA"] for p in pk]).any()
    # nothing in a quiet station's housekeeping is out of limits (one sample a minute)
    c = _decoded(mdb, pk, "STATION_HK", most=200)
    for name in ("STN_PAYLOAD_POWER_MARGIN_W", "STN_ALT_KM", "STN_ATTITUDE_MODE"):
        assert set(_col(c, name)[1]) == {AlarmLevel.NORMAL}, name


def _session_sequence(m: StationModel) -> list[TmPacket]:
    """Run every rack through START, CONFIGURE and STOP over a day, eclipses included."""
    out: list[TmPacket] = []
    _ok(m, "FURN_CONFIGURE", 0, SETPOINT_C=800.0, RAMP_C_PER_MIN=20.0, SOAK_MIN=60)
    _ok(m, "FURN_START", 10, PROFILE="ISOTHERMAL")
    _ok(m, "INC_START", 20)
    _ok(m, "DOSI_CONFIGURE", 30, INTEGRATION_S=20, BIAS_V=80.0)
    _run(m, 600, out)
    _ok(m, "FLUID_CONFIGURE", 600, CELL_TEMP_C=25.0, FILL_PCT=60.0, CAMERA_FPS=25)
    _ok(m, "FLUID_START", 610)
    _ok(m, "ASTRO_START", 620, RA_DEG=266.4, DEC_DEG=-28.9)
    _ok(m, "PLANT_START", 630)
    _run(m, 3 * 3600, out)
    _ok(m, "FLUID_STOP", 3 * 3600)
    _ok(m, "ASTRO_CONFIGURE", 3 * 3600 + 10, HV_V=1200.0, EXPOSURE_S=120)
    _ok(m, "PLANT_CONFIGURE", 3 * 3600 + 20, TEMP_C=25.0, CO2_PPM=1000.0, LIGHT_UMOL=800.0)
    _ok(m, "COLD_SET", 3 * 3600 + 30, UNIT="C_PLUS4", SETPOINT_C=4.0)
    _run(m, 8 * 3600, out)
    _ok(m, "FURN_STOP", 8 * 3600)
    _ok(m, "ASTRO_STOP", 8 * 3600 + 10)
    _ok(m, "DOSI_STOP", 8 * 3600 + 20)
    _ok(m, "NOOP", 8 * 3600 + 30)
    _ok(m, "REC_DUMP", 8 * 3600 + 40)
    _run(m, 10 * 3600, out)
    return out


@pytest.fixture(scope="module")
def day() -> tuple[StationModel, list[TmPacket]]:
    m = create_model(EPOCH_NS, seed=1)
    return m, _session_sequence(m)


def test_payload_power_stays_under_the_cap_at_every_sample(
    day: tuple[StationModel, list[TmPacket]],
) -> None:
    """Issue 13: the payload power the simulator reports stays under the cap, in eclipse too;
    USED is the sum of the racks' own reported draws and MARGIN = AVAIL - USED."""
    _, pk = day
    hk = [p for p in pk if p.container == "STATION_HK"]
    assert any(p.values["STN_SUNLIGHT"] == "ECLIPSE" for p in hk)
    rack_power = {
        "FURNACE_HK": "FURN_POWER_W",
        "FLUID_HK": "FLUID_POWER_W",
        "INCUBATOR_HK": "INC_POWER_W",
        "PLANT_HK": "PLANT_POWER_W",
        "DOSIMETER_DATA": "DOSI_POWER_W",
        "ASTRO_HK": "ASTRO_POWER_W",
    }
    last: dict[str, float] = {}
    peak = {"SUNLIT": 0.0, "ECLIPSE": 0.0}
    by_time: dict[int | None, list[TmPacket]] = {}
    for p in pk:
        by_time.setdefault(p.time_ns, []).append(p)
    for t in sorted(by_time, key=lambda x: x or 0):
        for p in by_time[t]:
            if p.container in rack_power:
                last[p.container] = p.values[rack_power[p.container]]
        for p in by_time[t]:
            if p.container != "STATION_HK":
                continue
            v = p.values
            used, avail = v["STN_PAYLOAD_POWER_USED_W"], v["STN_PAYLOAD_POWER_AVAIL_W"]
            assert used <= avail, (t, v)
            assert v["STN_PAYLOAD_POWER_MARGIN_W"] == pytest.approx(avail - used, abs=1e-9)
            peak[v["STN_SUNLIGHT"]] = max(peak[v["STN_SUNLIGHT"]], used)
            if (t - EPOCH_NS) % (20 * S) == 0 and len(last) == len(rack_power):
                # every rack reported in this same second: the sum is exact
                assert used == pytest.approx(sum(last.values()), abs=1e-6), t
    assert peak["ECLIPSE"] > 1000.0  # the furnace and the X-ray cooler run through eclipses
    assert peak["SUNLIT"] > 1000.0


def test_a_normal_day_raises_no_alarm(
    day: tuple[StationModel, list[TmPacket]], mdb: MissionDatabase
) -> None:
    """The MDB's limits leave nominal running alone: no parameter of any packet of the day
    leaves NORMAL (the margin warning below 200 W included)."""
    _, pk = day
    containers = {p.container for p in pk}
    assert {"FURNACE_SCIENCE", "FLUID_SCIENCE", "ASTRO_SPECTRUM_DATA"} <= containers
    for container in sorted(containers):
        # at most 500 of each container, evenly spread (one FURNACE_HK every ~70 s)
        c = _decoded(mdb, pk, container, most=500)
        for name in pk_names(pk, container):
            col = c.column(name)
            if col.monitoring is None:
                continue
            bad = [
                (col.eng[i], AlarmLevel(int(x)))
                for i, x in enumerate(col.monitoring)
                if int(x) != AlarmLevel.NORMAL
            ]
            assert bad == [], (container, name, bad[:3])


def pk_names(pk: list[TmPacket], container: str) -> list[str]:
    return list(next(p for p in pk if p.container == container).values)


def test_racks_go_through_their_states(day: tuple[StationModel, list[TmPacket]]) -> None:
    _, pk = day

    def states(container: str, name: str) -> list[str]:
        seen: list[str] = []
        for p in pk:
            if p.container == container and (not seen or seen[-1] != p.values[name]):
                seen.append(p.values[name])
        return seen

    # cooling from 800 degC below 60 degC takes τ·ln(778/38) = 30 min (τ = C/G = 598 s)
    assert states("FURNACE_HK", "FURN_STATE") == [
        "STANDBY",
        "HEATING",
        "SOAK",
        "COOLING",
        "STANDBY",
    ]
    assert states("FLUID_HK", "FLUID_STATE") == [
        "STANDBY",
        "FILLING",
        "RUNNING",
        "DRAINING",
        "STANDBY",
    ]
    assert states("INCUBATOR_HK", "INC_STATE") == ["STANDBY", "CONDITIONING", "RUNNING"]
    assert states("ASTRO_HK", "ASTRO_STATE")[:3] == ["STANDBY", "COOLING", "OBSERVING"]
    assert "SAA_SAFE" in states("ASTRO_HK", "ASTRO_STATE")  # HV off in the SAA
    assert states("DOSIMETER_DATA", "DOSI_STATE") == ["MEASURING", "STANDBY"]
    # the dosimeter sees the SAA: its peak is tens of times its median
    dose = [p.values["DOSI_DOSE_RATE_UGY_H"] for p in pk if p.container == "DOSIMETER_DATA"]
    dose = [d for d in dose if d > 0]
    assert max(dose) > 20 * float(np.median(dose))
    # the furnace reached its set point and soaked for the configured hour
    soak = [p for p in pk if p.container == "FURNACE_HK" and p.values["FURN_STATE"] == "SOAK"]
    assert len(soak) == pytest.approx(3600, abs=2)
    assert all(abs(p.values["FURN_TEMP_C"] - 800.0) <= 2.0 for p in soak)


def test_state_refusals_say_why(model: StationModel) -> None:
    m = create_model(EPOCH_NS)
    _ok(m, "FURN_START", 1)
    res = m.execute("FURN_START", {"PROFILE": "ISOTHERMAL"}, EPOCH_NS + 5 * S)
    assert not res.ok
    assert res.reason == "NOT_ALLOWED_IN_STATE"
    assert res.message == "FURN_START refused: FURNACE is HEATING; start from OFF or STANDBY"
    res = m.execute("FURN_CONFIGURE", {"SETPOINT_C": 500.0}, EPOCH_NS + 6 * S)
    assert res.message == (
        "FURN_CONFIGURE refused: FURNACE is HEATING; configure the profile in OFF, STANDBY or "
        "COOLING"
    )
    assert m.tc_accepted == 1
    assert m.tc_rejected == 2
    assert m.execute("FURN_START", {}, EPOCH_NS + 7 * S).complete_after_s == 0.0
    assert m.execute("NOOP", {}, EPOCH_NS + 8 * S).ok


def _first_eclipse_s(m: StationModel) -> float:
    t = 0
    while m.sunlit_at(EPOCH_NS + t * S):
        t += 10
    return t


def test_a_start_over_the_cap_is_refused_with_the_numbers() -> None:
    m = create_model(EPOCH_NS, options={"eclipse_power_w": 2000.0})
    t = _first_eclipse_s(m) + 30
    _ok(m, "INC_START", t)
    res = m.execute("FURN_START", {}, EPOCH_NS + (t + 1) * S)
    assert not res.ok
    assert res.reason == "NOT_ALLOWED_IN_STATE"
    # 150 W electronics + 1800 W heater; the others: 60 + 4·15 W incubator, 150 + 3·20 W fluid
    # cell, 40 + 30 W chambers idle, 12 W dosimeter, 125 W X-ray electronics in STANDBY
    assert res.message.startswith("FURN_START refused: payload power 1950 W for FURNACE + ")
    assert res.message.endswith("W reserved by the other racks > 2000 W available (ECLIPSE)")


def test_eclipse_entry_sheds_racks_so_the_cap_holds(mdb: MissionDatabase) -> None:
    """Started in sunlight above a 2.2 kW eclipse share, racks are shed at eclipse entry in
    the documented order until the reservations fit: the X-ray instrument (800 W) and the idle
    fluid cell (210 W), not the furnace (1950 W + 82 W of idle chambers and dosimeter)."""
    m = create_model(EPOCH_NS, options={"eclipse_power_w": 2200.0})
    assert m.sunlit_at(EPOCH_NS + 10 * S)
    res = m.execute("FURN_START", {}, EPOCH_NS + 10 * S)
    assert res.ok
    assert [e.severity for e in res.events] == ["WARNING"]
    assert "exceeds the eclipse share 2200 W" in res.events[0].message
    _ok(m, "ASTRO_START", 11, RA_DEG=83.633, DEC_DEG=22.0145)
    pk = _run(m, _first_eclipse_s(m) + 60)
    hk = [p.values for p in pk if p.container == "STATION_HK"]
    assert all(v["STN_PAYLOAD_POWER_USED_W"] <= v["STN_PAYLOAD_POWER_AVAIL_W"] for v in hk)
    shed = [
        p.values for p in pk if p.container == "EVENT" and "load shed" in p.values["EVENT_MESSAGE"]
    ]
    assert [v["EVENT_MESSAGE"].split("rack ")[1].split()[0] for v in shed] == ["ASTRO", "FLUID"]
    assert shed[0]["EVENT_SEVERITY"] == "WARNING"
    assert list(SHED_ORDER[:2]) == ["ASTRO", "FLUID"]
    assert m.racks.furnace.mode != tp.FurnaceMode.OFF  # the furnace kept running


def test_furnace_overtemperature_trips_the_alarms(mdb: MissionDatabase) -> None:
    """FURNACE_OVERTEMP while soaking at 800 degC: the sample climbs past the MDB's 1420 degC
    warning and 1450 degC critical limits, the protection trips (FAULT, critical, a CRITICAL
    event), FURN_STOP cannot reset the latch until the fault is cleared."""
    m = create_model(EPOCH_NS)
    _ok(m, "FURN_START", 1)
    pk = _run(m, 3600)
    assert m.racks.furnace.mode == tp.FurnaceMode.SOAK
    out = m.inject_fault("FURNACE_OVERTEMP", {}, EPOCH_NS + 3600 * S)
    assert out.ok
    assert out.events[0].source == "SIMULATOR"
    pk = _run(m, 3600 + 1200)
    temps, lv = _levels(mdb, pk, "FURNACE_HK", "FURN_TEMP_C")
    first = {lvl: next(i for i, x in enumerate(lv) if x == lvl) for lvl in set(lv)}
    assert AlarmLevel.WARNING in first
    assert AlarmLevel.CRITICAL in first
    assert first[AlarmLevel.WARNING] < first[AlarmLevel.CRITICAL]
    assert temps[first[AlarmLevel.WARNING]] > 1420.0
    _, st_lv = _levels(mdb, pk, "FURNACE_HK", "FURN_STATE")
    assert st_lv[-1] == AlarmLevel.CRITICAL
    ev = [p.values for p in pk if p.container == "EVENT" and p.values["EVENT_SOURCE"] == "FURNACE"]
    assert ev[0]["EVENT_SEVERITY"] == "CRITICAL"
    assert ev[0]["EVENT_MESSAGE"].startswith("FURNACE over-temperature protection tripped at 145")
    res = m.execute("FURN_STOP", {}, EPOCH_NS + 4900 * S)
    assert (res.ok, res.reason) == (False, "EXECUTION_FAILED")
    assert "latch not reset" in res.message
    assert m.inject_fault("CLEAR_ALL", {}, EPOCH_NS + 4910 * S).ok
    _ok(m, "FURN_STOP", 4920)
    assert m.racks.furnace.mode == tp.FurnaceMode.COOLING


def test_furnace_overtemperature_in_standby_alarms_within_a_minute(mdb: MissionDatabase) -> None:
    """A stuck heater in a cold STANDBY furnace: 3.46 K/s (1800 W / 520 J/K) passes the
    100 degC critical limit of a cold furnace in ~25 s."""
    m = create_model(EPOCH_NS)
    m.inject_fault("FURNACE_OVERTEMP", {}, EPOCH_NS)
    pk = _run(m, 60)
    _, lv = _levels(mdb, pk, "FURNACE_HK", "FURN_TEMP_C")
    assert lv[:10] == [AlarmLevel.NORMAL] * 10
    assert AlarmLevel.CRITICAL in lv[20:35]


def test_cold_stowage_failure_warms_through_the_limits(mdb: MissionDatabase) -> None:
    """Unit A's compressor stops: FAULT at once (critical), the cabinet crosses -75 degC
    (warning) after 8 h·ln(102/97) = 0.40 h and -65 degC (critical) after 1.27 h."""
    m = create_model(EPOCH_NS)
    out = m.inject_fault("COLD_STOWAGE_FAILURE", {"UNIT": "A_MINUS80"}, EPOCH_NS + 60 * S)
    assert [e.source for e in out.events] == ["SIMULATOR", "COLD_STOWAGE"]
    assert out.events[1].severity == "ERROR"
    pk = _run(m, 60 + 2 * 3600)
    _temps, lv = _levels(mdb, pk, "COLD_HK", "COLD_A_TEMP_C")
    times = [(p.time_ns - EPOCH_NS) / S - 60 for p in pk if p.container == "COLD_HK"]
    warn = next(t for t, x in zip(times, lv, strict=True) if x == AlarmLevel.WARNING)
    crit = next(t for t, x in zip(times, lv, strict=True) if x == AlarmLevel.CRITICAL)
    assert warn / 3600 == pytest.approx(8 * np.log(102 / 97), abs=10 / 3600)  # one COLD_HK period
    assert crit / 3600 == pytest.approx(8 * np.log(102 / 87), abs=10 / 3600)
    _, st = _levels(mdb, pk, "COLD_HK", "COLD_A_STATE")
    assert set(st[:6]) == {AlarmLevel.NORMAL}  # 10 s to 60 s: before the failure
    assert set(st[6:]) == {AlarmLevel.CRITICAL}
    _, b = _levels(mdb, pk, "COLD_HK", "COLD_B_TEMP_C")
    assert set(b) == {AlarmLevel.NORMAL}  # the other units are not affected
    res = m.execute("COLD_SET", {"UNIT": "A_MINUS80", "SETPOINT_C": -80.0}, EPOCH_NS + 7300 * S)
    assert res.message == "COLD_SET: unit A compressor has failed; set point not applied"
    m.inject_fault("CLEAR_ALL", {}, EPOCH_NS + 7300 * S)
    pk = _run(m, 7400)
    after = [p for p in pk if p.container == "COLD_HK" and (p.time_ns or 0) > EPOCH_NS + 7300 * S]
    assert {p.values["COLD_A_STATE"] for p in after} == {"PULL_DOWN"}


def test_dosimeter_noise_trips_the_dose_rate_alarm(mdb: MissionDatabase) -> None:
    m = create_model(EPOCH_NS)
    pk = _run(m, 100)
    m.inject_fault("DOSIMETER_NOISE", {}, EPOCH_NS + 100 * S)
    pk += _run(m, 200)
    _, lv = _levels(mdb, pk, "DOSIMETER_DATA", "DOSI_DOSE_RATE_UGY_H")
    assert set(lv[:10]) == {AlarmLevel.NORMAL}
    assert set(lv[11:]) == {AlarmLevel.CRITICAL}


def test_unknown_fault_is_refused() -> None:
    m = create_model(EPOCH_NS)
    res = m.inject_fault("SOLAR_FLARE", {}, EPOCH_NS)
    assert not res.ok
    assert res.message == (
        "unknown fault 'SOLAR_FLARE'; known: CLEAR_ALL, FURNACE_OVERTEMP, COLD_STOWAGE_FAILURE, "
        "DOSIMETER_NOISE"
    )


def test_contacts_ground_only_have_gaps_and_relays_fill_them() -> None:
    day_ns = 86400 * S
    ground = create_model(EPOCH_NS, options={"contacts": "ground"})
    g = ground.contact_windows(EPOCH_NS, EPOCH_NS + day_ns)
    both = create_model(EPOCH_NS).contact_windows(EPOCH_NS, EPOCH_NS + day_ns)
    for wins in (g, both):
        assert all(a.stop_ns <= b.start_ns for a, b in itertools.pairwise(wins))
        assert all(w.start_ns < w.stop_ns for w in wins)

    def cover(wins: list[Any]) -> float:
        return sum(w.stop_ns - w.start_ns for w in wins) / day_ns

    # six Pakistani and Chinese stations: minutes per pass, a small part of the day
    assert 0.02 < cover(g) < 0.25
    assert all(w.light_time_s < 0.01 for w in g)  # ≤ ~2,500 km: a few ms
    assert {v for w in g for v in w.via.split(" + ")} <= {
        "Islamabad",
        "Karachi",
        "Lahore",
        "Kashi",
        "Jiamusi",
        "Sanya",
    }
    assert cover(both) > 0.8
    relayed = [w for w in both if "(relay)" in w.via]
    assert relayed
    assert all(0.23 < w.light_time_s < 0.29 for w in relayed)


def test_ack_and_event_packets_encode_with_the_mdb(
    model: StationModel, mdb: MissionDatabase
) -> None:
    ack = model.ack_packet(400, 0x10, 20000, "COMPLETE", "OK")
    assert ack.values["ACK_SEQ_COUNT"] == 20000 & 0x3FFF
    ev = model.event_packet(OnboardEvent("DISTRESS", "x" * 300, "SYSTEM", 7))
    assert ev.values["EVENT_SEVERITY"] == "ERROR"
    assert ev.values["EVENT_SOURCE"] == "STATION"
    assert len(ev.values["EVENT_MESSAGE"]) == 255
    for p in (ack, ev):
        res = _decode(mdb, [_packet(mdb, p.container, p.values)])
        assert res.failed_counts() == {}
    assert list(_decoded(mdb, [ack], "CMD_ACK").column("ACK_STAGE").eng) == ["COMPLETE"]


def test_the_example_campaign_stack_flies_under_the_power_cap() -> None:
    """Issue 13: the station executes the campaign stack (``falak campaign commands`` of the
    example campaign's greedy plan): every step is accepted at its release time, and the
    payload power reported at every STATION_HK sample of the week stays under the cap."""
    from falak.planning.campaign import build_environment, check_plan, load_campaign
    from falak.planning.campaign.commands import plan_stack
    from falak.planning.campaign.greedy import greedy_plan
    from falak.utctime import parse_ns

    campaign = load_campaign(
        Path(__file__).resolve().parents[2] / "src/falak/missions/tiangong/example_campaign.yaml"
    )
    env = build_environment(campaign)
    plan = greedy_plan(campaign, env)
    assert check_plan(campaign, env, plan) == []
    doc, summary = plan_stack(campaign, plan)
    assert summary.sessions >= 5
    m = create_model(EPOCH_NS)
    hk: list[dict[str, Any]] = []
    done: list[str] = []
    for step in doc["steps"]:
        at_ns = parse_ns(step["at"])
        hk += [p.values for p in m.step(at_ns) if p.container == "STATION_HK"]
        res = m.execute(step["command"], step["arguments"], at_ns)
        assert res.ok, (step["comment"], res.message)
        done.append(step["command"])
    hk += [p.values for p in m.step(summary.last_ns + 3600 * S) if p.container == "STATION_HK"]
    assert {"FURN_START", "FLUID_START", "INC_START", "ASTRO_START", "DOSI_START"} <= set(done)
    assert len(hk) > 60_000  # four and a half days of 4 s samples
    assert {v["STN_SUNLIGHT"] for v in hk} == {"SUNLIT", "ECLIPSE"}
    assert all(v["STN_PAYLOAD_POWER_USED_W"] <= v["STN_PAYLOAD_POWER_AVAIL_W"] for v in hk)
