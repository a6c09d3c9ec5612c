"""Tiangong payload physics: furnace profile and fault, SAA dose, cold stowage, power budget.

Reference values are derived in the tests from the models' stated laws (first-order lags,
Lucas–Washburn, the dose–fluence relation of REFERENCES.md) or read from the TIANGONG MDB's
limits, so the models and the alarms an operator sees cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import replace
from enum import IntEnum
from pathlib import Path

import numpy as np
import pytest

from falak.dynamics.tle import Tle, read_tle_file
from falak.mdb import MissionDatabase, load
from falak.mdb.model import EnumeratedType, FloatType, NumericAlarm
from falak.planning.campaign import Campaign, build_environment, check_plan, load_campaign
from falak.planning.campaign.greedy import greedy_plan
from falak.sim import tiangong_payloads as tp
from tests.missions.test_tiangong_mdb import _decode, _packet

ROOT = Path(__file__).resolve().parents[2]
MDB_PATH = ROOT / "src/falak/missions/tiangong/mdb.yaml"
TLE_PATH = ROOT / "src/falak/missions/tiangong/css.tle"
CAMPAIGN_PATH = ROOT / "src/falak/missions/tiangong/example_campaign.yaml"


@pytest.fixture(scope="module")
def mdb() -> MissionDatabase:
    return load(MDB_PATH)


@pytest.fixture(scope="module")
def tle() -> Tle:
    return read_tle_file(TLE_PATH)[0]


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign(CAMPAIGN_PATH)


def _critical_max(mdb: MissionDatabase, type_name: str, context: int | None = None) -> float:
    """Return the upper critical limit of a type (static, or of its context number)."""
    t = mdb.types[type_name]
    assert isinstance(t, FloatType)
    assert isinstance(t.alarm, NumericAlarm)
    ranges = t.alarm.static if context is None else t.alarm.contexts[context][1]
    assert ranges is not None
    assert ranges.critical is not None
    assert ranges.critical.max is not None
    return ranges.critical.max


@pytest.mark.parametrize(
    ("enum", "mdb_type"),
    [
        (tp.FurnaceMode, "/TIANGONG/FURNACE/FurnaceState"),
        (tp.FluidMode, "/TIANGONG/FLUID/FluidState"),
        (tp.CameraMode, "/TIANGONG/FLUID/CameraState"),
        (tp.ChamberMode, "/TIANGONG/INCUBATOR/IncubatorState"),
        (tp.ChamberMode, "/TIANGONG/PLANT/PlantState"),
        (tp.DosimeterMode, "/TIANGONG/DOSIMETER/DosiState"),
        (tp.ColdMode, "/TIANGONG/COLD/ColdState"),
        (tp.AstroMode, "/TIANGONG/ASTRO/AstroState"),
        (tp.PointingMode, "/TIANGONG/ASTRO/Pointing"),
    ],
)
def test_model_modes_are_the_mdb_enumerations(
    mdb: MissionDatabase, enum: type[IntEnum], mdb_type: str
) -> None:
    t = mdb.types[mdb_type]
    assert isinstance(t, EnumeratedType)
    assert {v.value: v.label for v in t.values} == {m.value: m.name for m in enum}


# --- furnace ---------------------------------------------------------------------------------


def test_furnace_small_step_is_a_first_order_lag() -> None:
    """Unsaturated, the error decays as exp(-t/τ): 1 - 1/e = 63.2 % of the step after τ."""
    p = tp.FurnaceParams()
    prof = tp.HeatingProfile(setpoint_c=800.0, ramp_c_per_min=1e6, soak_s=1e6)
    s = tp.FurnaceState(tp.FurnaceMode.SOAK, 790.0, 800.0, 1e6)
    # power needed at the start: C·10/τ + G·(790 - 22) = 43 + 668 W < 1800 W: not saturated
    for _ in range(int(p.control_tau_s)):
        s = tp.furnace_step(s, prof, 1.0, p)
    assert s.temperature_c == pytest.approx(790.0 + 10.0 * (1 - math.exp(-1)), abs=1e-9)
    # exact over any step: one step of τ gives the same temperature
    one = tp.furnace_step(tp.FurnaceState(tp.FurnaceMode.SOAK, 790.0, 800.0, 1e6), prof, 120.0)
    assert one.temperature_c == pytest.approx(s.temperature_c, abs=1e-9)


def test_furnace_follows_its_heating_profile_to_the_setpoint() -> None:
    """Ramp 22 -> 800 degC at 20 degC/min ends after 38.9 min; the lag behind a ramp is
    ramp·τ = 40 degC, which decays below 1 degC within τ·ln 40 = 3.7 τ after the ramp ends."""
    p = tp.FurnaceParams()
    prof = tp.HeatingProfile(setpoint_c=800.0, ramp_c_per_min=20.0, soak_s=3600.0)
    ramp_end_s = (800.0 - p.ambient_c) / 20.0 * 60.0
    s = tp.furnace_start(tp.FurnaceState())
    t = 0.0
    max_draw_w = 0.0
    while t < ramp_end_s + 5 * p.control_tau_s:
        s = tp.furnace_step(s, prof, 1.0, p)
        t += 1.0
        max_draw_w = max(max_draw_w, tp.furnace_power_w(s, p))
    assert s.mode == tp.FurnaceMode.SOAK
    assert abs(s.temperature_c - 800.0) < 1.0
    # the rack stays inside the 2.5 kW the example campaign gives alloy-melt
    assert max_draw_w <= 2500.0


def test_furnace_heating_is_limited_by_heater_power() -> None:
    """A 1400 degC step from cold: full power, dT/dt = P_max / C = 3.46 K/s at the start."""
    p = tp.FurnaceParams()
    prof = tp.HeatingProfile(setpoint_c=1400.0, ramp_c_per_min=1e6, soak_s=0.0)
    s = tp.furnace_step(tp.furnace_start(tp.FurnaceState()), prof, 1.0, p)
    # the reported power is the step's energy balance with the mean temperature: 1e-6 close
    assert s.heater_w == pytest.approx(p.heater_max_w, rel=1e-6)
    assert s.temperature_c - p.ambient_c == pytest.approx(
        p.heater_max_w / p.heat_capacity_j_per_k, rel=1e-3
    )


def test_furnace_overtemperature_fault_exceeds_the_critical_limit(mdb: MissionDatabase) -> None:
    """A stuck heater drives the sample past the MDB's HEATING/SOAK critical limit; the
    protection then opens the heater relay and the furnace reports FAULT (critical)."""
    crit_max_c = _critical_max(mdb, "/TIANGONG/FURNACE/FurnaceTemp", context=0)
    prof = tp.HeatingProfile(800.0, 20.0, 3600.0)
    s = tp.FurnaceState(tp.FurnaceMode.SOAK, 800.0, 800.0, 3000.0, 0.0, stuck_heater=True)
    peak = s.temperature_c
    for _ in range(3600):
        s = tp.furnace_step(s, prof, 1.0)
        peak = max(peak, s.temperature_c)
        if s.mode == tp.FurnaceMode.FAULT:
            break
    assert s.mode == tp.FurnaceMode.FAULT
    assert peak > crit_max_c
    assert s.heater_w == 0.0
    assert tp.furnace_step(s, prof, 600.0).temperature_c < peak  # cools once tripped


def test_stuck_heater_needs_rack_power() -> None:
    """A rack switched OFF (load shed) has no power: a stuck heater cannot heat it, and the
    furnace reports no draw, so the station's power sum and the physics agree."""
    prof = tp.HeatingProfile()
    s = tp.FurnaceState(tp.FurnaceMode.OFF, 300.0, 300.0, 0.0, 0.0, stuck_heater=True)
    s = tp.furnace_step(s, prof, 60.0)
    assert s.temperature_c < 300.0
    assert s.heater_w == 0.0
    assert tp.furnace_power_w(s) == 0.0
    # powered again (STANDBY), the stuck heater drives it up at full power
    on = tp.furnace_step(replace(s, mode=tp.FurnaceMode.STANDBY), prof, 1.0)
    assert on.heater_w == tp.FurnaceParams().heater_max_w
    assert on.temperature_c > s.temperature_c


# --- fluid cell, chambers, cold stowage ------------------------------------------------------


def test_capillary_rise_follows_lucas_washburn() -> None:
    """h = sqrt(γ r cos θ t / 2μ) = sqrt(0.0197 · 0.25e-3 · 10 / 0.0092) m = 73.2 mm at 10 s."""
    assert tp.lucas_washburn_mm(10.0) == pytest.approx(73.17, abs=0.01)
    assert tp.lucas_washburn_mm(40.0) == pytest.approx(2 * tp.lucas_washburn_mm(10.0), rel=1e-12)
    assert tp.lucas_washburn_mm(1e6) == tp.FluidParams().tube_length_mm


def test_fluid_run_fills_records_and_drains() -> None:
    s = tp.FluidState(mode=tp.FluidMode.FILLING)
    for _ in range(200):
        s = tp.fluid_step(s, 1.0)
    assert s.mode == tp.FluidMode.RUNNING
    assert s.camera == tp.CameraMode.RECORDING
    assert s.frames > 0
    assert tp.fluid_power_w(s) <= 2000.0  # capillary-flow's 2.0 kW


def test_incubator_conditions_then_runs_and_the_door_lets_co2_out() -> None:
    p, sp = tp.INCUBATOR
    s = tp.ChamberState(mode=tp.ChamberMode.CONDITIONING)
    for _ in range(24 * 60):
        s = tp.chamber_step(s, sp, 60.0, p)
    assert s.mode == tp.ChamberMode.RUNNING
    assert s.co2_pct == pytest.approx(5.0, abs=0.05)
    opened = tp.chamber_step(
        tp.ChamberState(s.mode, s.temp_c, s.co2_pct, s.rh_pct, True), sp, p.door_tau_s, p
    )
    # one door time constant: 1/e of the way to the cabin's 0.4 %
    assert opened.co2_pct == pytest.approx(0.4 + (s.co2_pct - 0.4) / math.e, abs=1e-9)


def test_cold_stowage_failure_reaches_the_critical_limit_when_predicted(
    mdb: MissionDatabase,
) -> None:
    """With the compressor off the -80 degC unit warms as a lag to the 22 degC cabin (τ = 8 h):
    it crosses the MDB's -65 degC critical limit after τ·ln(102/87) = 1.27 h."""
    crit_max_c = _critical_max(mdb, "/TIANGONG/COLD/TempMinus80")
    p = tp.COLD_UNITS[0]
    expect_s = p.warmup_tau_s * math.log((p.ambient_c - p.setpoint_c) / (p.ambient_c - crit_max_c))
    s = tp.ColdUnitState(tp.ColdMode.NOMINAL, -80.0, failed=True)
    t = 0.0
    while s.temp_c <= crit_max_c:
        s = tp.cold_step(s, 10.0, p)
        t += 10.0
    assert s.mode == tp.ColdMode.FAULT
    assert t == pytest.approx(expect_s, abs=10.0)  # one 10 s step
    assert expect_s / 3600 == pytest.approx(1.27, abs=0.01)
    ok = tp.cold_step(tp.ColdUnitState(tp.ColdMode.NOMINAL, -80.0), 600.0, p)
    assert ok.mode == tp.ColdMode.NOMINAL
    assert tp.cold_power_w(ok, p) == pytest.approx(20 + 3 * 102, abs=1.0)


# --- radiation -------------------------------------------------------------------------------


def test_dose_rate_in_the_saa_is_tens_of_times_the_gcr_rate() -> None:
    """The model's stated order of magnitude (tiangong_payloads.SAA_PEAK_UGY_PER_H, in the
    context of Berger et al. 2017, SWSC 7:A8): some hundreds of µGy/h at the SAA centre inside
    the station, tens of times the few µGy/h of GCR at the same latitude elsewhere."""
    inside = tp.dose_rate_ugy_per_h(tp.SAA_CENTRE_LAT_DEG, tp.SAA_CENTRE_LON_DEG, 400.0)
    outside = tp.dose_rate_ugy_per_h(tp.SAA_CENTRE_LAT_DEG, tp.SAA_CENTRE_LON_DEG + 180.0, 400.0)
    assert inside / outside >= 20.0
    assert 100.0 <= inside <= 1000.0
    assert 1.0 <= outside <= 20.0
    assert tp.in_saa(tp.SAA_CENTRE_LAT_DEG, tp.SAA_CENTRE_LON_DEG, 400.0)
    assert not tp.in_saa(30.0, 70.0, 400.0)  # over Pakistan


def test_dose_rate_along_the_real_orbit(tle: Tle) -> None:
    times = np.datetime64("2023-09-08T00:00:00", "ns") + (
        np.arange(0, 86400, 30) * 1_000_000_000
    ).astype("timedelta64[ns]")
    lat, lon, alt = tp.station_geodetic(tle, times)
    # CMSA: i = 41.47 deg (geodetic latitude peaks a little higher); ~377-392 km (README)
    assert 41.4 <= float(np.max(lat)) <= 41.8
    assert float(np.min(alt)) >= 370.0
    assert float(np.max(alt)) <= 400.0
    d = np.asarray(tp.dose_rate_ugy_per_h(lat, lon, alt))
    saa = np.asarray(tp.in_saa(lat, lon, alt))
    assert 0.03 < saa.mean() < 0.2  # a few SAA passes a day, ~10 min each
    assert d[saa].max() / np.median(d[~saa]) >= 20.0
    # ISS-like daily absorbed dose inside the modules is a few hundred µGy
    assert 150.0 <= d.mean() * 24 <= 600.0


def test_dosimeter_counts_give_back_the_dose_rate() -> None:
    """Poisson counts weighted by LET return the model dose rate within 3 sigma (of ~4700
    counts at the SAA centre: 1.5 % for sqrt(N)/N, more for the LET weighting)."""
    rng = np.random.default_rng(13)
    s = tp.DosimeterState(tp.DosimeterMode.MEASURING)
    want = tp.dose_rate_ugy_per_h(-27.0, -50.0, 390.0)
    rates = [
        tp.dosimeter_record(s, -27.0, -50.0, 390.0, 10.0, rng).dose_rate_ugy_per_h
        for _ in range(50)
    ]
    assert np.mean(rates) == pytest.approx(want, rel=0.02)
    rec = tp.dosimeter_record(s, -27.0, -50.0, 390.0, 10.0, rng)
    assert sum(rec.let_counts) == rec.counts
    assert rec.state.dose_ugy > 0


def test_dosimeter_reports_silicon_dose_and_its_let_spectrum_gives_water_dose() -> None:
    """The reported rate is silicon (the MDB's "Absorbed dose rate in silicon"); the same
    record's LET spectrum (LET in water) through falak.science.radiation gives the water dose,
    1.197 x the silicon one (PDG minimum-ionising stopping powers, science/radiation.py)."""
    from falak.science.radiation import SI_TO_WATER, let_spectrum_dose

    rng = np.random.default_rng(5)
    s = tp.DosimeterState(tp.DosimeterMode.MEASURING)
    rec = tp.dosimeter_record(s, -27.0, -50.0, 390.0, 10.0, rng)
    water = let_spectrum_dose(
        rec.let_counts,
        tp.LET_BIN_EDGES_KEV_PER_UM,
        area_cm2=tp.DosimeterParams().area_cm2,
        integration_s=10.0,
    ).dose_rate_water_ugy_per_h[0]
    assert water == pytest.approx(SI_TO_WATER * rec.dose_rate_ugy_per_h, rel=1e-9)


def test_dosimeter_noise_fault_exceeds_the_critical_limit(mdb: MissionDatabase) -> None:
    crit = _critical_max(mdb, "/TIANGONG/DOSIMETER/DoseRate", context=0)
    rng = np.random.default_rng(1)
    noisy = tp.DosimeterState(tp.DosimeterMode.MEASURING, noisy=True)
    rec = tp.dosimeter_record(noisy, 30.0, 70.0, 390.0, 10.0, rng)
    assert rec.dose_rate_ugy_per_h > crit


# --- astronomy ---------------------------------------------------------------------------------


def test_astro_cools_observes_and_safes_in_the_saa() -> None:
    s = tp.AstroState(tp.AstroMode.COOLING, tp.PointingMode.SLEWING, 22.0, 90.0)
    for _ in range(60):
        s = tp.astro_step(s, False, 60.0)
    assert s.mode == tp.AstroMode.OBSERVING
    assert s.hv_v == 1200.0
    assert tp.astro_power_w(s) <= 1000.0  # x-ray-survey's 1.0 kW
    s = tp.astro_step(s, True, 4.0)
    assert s.mode == tp.AstroMode.SAA_SAFE
    assert tp.astro_count_rate_per_s(s, 300.0) == 0.0


# --- power -----------------------------------------------------------------------------------


def test_power_available_follows_the_planner_eclipses(tle: Tle, campaign: Campaign) -> None:
    env = build_environment(campaign)
    minutes = np.arange(0, 1440, 0.5)
    times = np.datetime64("2023-09-08T00:00:00", "ns") + (minutes * 60e9).astype("timedelta64[ns]")
    lit = tp.sunlit_mask(tle, times)
    ecl = np.asarray(env.eclipses_min)
    dark = ((ecl[:, 0][None, :] <= minutes[:, None]) & (minutes[:, None] < ecl[:, 1][None, :])).any(
        1
    )
    # the planner's windows are the same intervals; only samples within 0.1 s of an edge differ
    assert np.mean(lit == ~dark) > 0.999
    avail = np.asarray(tp.payload_power_available_w(lit, campaign))
    assert set(np.unique(avail)) == {3000.0, 6000.0}  # example_campaign.yaml power: 6.0 / 3.0 kW
    assert 0.55 < lit.mean() < 0.75


def test_payload_draw_stays_under_the_cap_when_the_plan_runs(tle: Tle, campaign: Campaign) -> None:
    """Run the example campaign's checked plan minute by minute: each session's rack draws
    at most its model's maximum (or its planned power_kw for disciplines without a model),
    and the sum stays under the sunlit or eclipse cap the station grants at that minute."""
    env = build_environment(campaign)
    plan = greedy_plan(campaign, env)
    assert check_plan(campaign, env, plan) == []
    spans: dict[tuple[str, str, int], list[int]] = {}
    for a in plan.activities:
        if a.rack is not None:
            s = spans.setdefault(a.key, [a.start_min, a.end_min])
            s[0], s[1] = min(s[0], a.start_min), max(s[1], a.end_min)
    minutes = np.arange(campaign.horizon_min, dtype=np.float64) + 0.5
    draw_w = np.zeros(minutes.size)
    for (exp_name, sess_name, _), (t0, t1) in spans.items():
        exp = campaign.experiment(exp_name)
        budget_w = exp.session(sess_name).power_kw * 1000.0
        model = tp.DISCIPLINE_MODELS.get(exp.discipline)
        w = budget_w if model is None else tp.max_power_w(model)
        assert w <= budget_w, f"{exp_name}/{sess_name}: {model} draws {w} W > {budget_w} W"
        draw_w[(minutes >= t0) & (minutes < t1)] += w
    times = np.datetime64("2023-09-08T00:00:00", "ns") + (minutes * 60e9).astype("timedelta64[ns]")
    avail = np.asarray(tp.payload_power_available_w(tp.sunlit_mask(tle, times), campaign))
    assert draw_w.max() > 0
    assert np.all(draw_w <= avail)


# --- telemetry the models produce fits the MDB ------------------------------------------------


def test_model_telemetry_round_trips_without_alarms(mdb: MissionDatabase) -> None:
    prof = tp.HeatingProfile(800.0, 20.0, 3600.0)
    furnace = tp.FurnaceState(tp.FurnaceMode.SOAK, 800.0, 800.0, 1800.0)
    furnace = tp.furnace_step(furnace, prof, 1.0)
    fluid = tp.FluidState(
        tp.FluidMode.RUNNING, tp.CameraMode.RECORDING, 25.0, 25.0, 60.0, 60.0, 25, 1000, 30.0
    )
    fl = tp.fluid_telemetry(fluid)
    inc_p, inc_sp = tp.INCUBATOR
    plant_p, plant_sp = tp.PLANT_HABITAT
    inc = tp.ChamberState(tp.ChamberMode.RUNNING, 37.0, 5.0, 90.0)
    plant = tp.ChamberState(tp.ChamberMode.RUNNING, 24.0, 0.1, 70.0)
    rec = tp.dosimeter_record(
        tp.DosimeterState(tp.DosimeterMode.MEASURING),
        -27.0,
        -50.0,
        390.0,
        10.0,
        np.random.default_rng(5),
    )
    nominal = tp.ColdMode.NOMINAL
    cold = (
        tp.ColdUnitState(nominal, -80.0),
        tp.ColdUnitState(nominal, -20.0),
        tp.ColdUnitState(nominal, 4.0),
    )
    astro = tp.AstroState(tp.AstroMode.OBSERVING, tp.PointingMode.TRACKING, -45.0, 0.0, 1200.0)
    packets = {
        "FURNACE_HK": tp.furnace_telemetry(furnace, prof),
        "FLUID_HK": {k: v for k, v in fl.items() if k != "FLUID_MENISCUS_MM"},
        "FLUID_SCIENCE": {"FLUID_MENISCUS_MM": fl["FLUID_MENISCUS_MM"]},
        "INCUBATOR_HK": tp.chamber_telemetry("INC", inc, inc_sp, inc_p),
        "PLANT_HK": tp.chamber_telemetry("PLANT", plant, plant_sp, plant_p, 3600.0),
        "DOSIMETER_DATA": tp.dosimeter_telemetry(rec, 10),
        "COLD_HK": tp.cold_telemetry(cold),
        "ASTRO_HK": tp.astro_telemetry(astro, 83.633, 22.0145, 5.0),
        "STATION_HK": tp.station_telemetry(
            sunlit=False,
            power_available_w=3000.0,
            power_used_w=2500.0,
            service_power_w=780.0,
            lat_deg=30.0,
            lon_deg=70.0,
            alt_km=388.0,
        ),
    }
    for container, values in packets.items():
        res = _decode(mdb, [_packet(mdb, container, values)])
        assert res.failed_counts() == {}
        c = res.container(container)
        for name in values:
            mon = c.column(name).monitoring
            assert mon is None or int(mon[0]) == 0, (container, name, c.column(name).eng[0])
