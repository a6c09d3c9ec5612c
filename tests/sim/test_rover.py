"""falak.sim.rover: mobility, hazard checks, power, link and instruments, in simulated time.

Most tests fly the model on a small hand-made DEM (1 m cells near 89.9°S): a plane tilted 3°
up to the north with a 30° band from x0 + 45 m to x0 + 60 m, so where the hazards are is
known exactly; the random-drive test flies falak's synthetic south-pole terrain.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pytest
from affine import Affine  # type: ignore[import-untyped]

from falak.mdb.model import EnumeratedType
from falak.sim import rover as rv
from falak.sim.model import CommandOutcome
from falak.sim.rover_site import Site
from falak.terrain.dem import Dem, latlon_to_xy
from falak.terrain.hazards import Rover
from falak.terrain.horizons import horizons

S = 1_000_000_000
EPOCH = 1_830_297_600 * S  # 2028-01-01T00:00:00Z
N = 96
BAND = (45.0, 60.0)  # metres from the DEM's west edge: the 30 deg band


@cache
def _band_site() -> Site:
    cx, cy = (float(v) for v in latlon_to_xy(-89.9, 0.0))
    x0, y0 = cx - N / 2, cy + N / 2
    x = np.arange(N) + 0.5
    y = (np.arange(N) + 0.5)[::-1, None]  # metres north of the south edge, per row
    h = np.broadcast_to(math.tan(math.radians(3.0)) * y, (N, N)).copy()
    steep = math.tan(math.radians(30.0))
    h += steep * (np.clip(x, BAND[0], BAND[1]) - BAND[0])[None, :]
    dem = Dem(h.astype(np.float32), Affine(1.0, 0.0, x0, 0.0, -1.0, y0), source="band")
    return Site(dem, horizons(dem, 36), Rover())


def _band_model(**opts: Any) -> rv.RoverModel:
    site = _band_site()
    x0, y0 = site.dem.transform.c, site.dem.transform.f
    base = {"start_x_m": x0 + 30.5, "start_y_m": y0 - 48.5, "contacts": "always"}
    return rv.RoverModel(EPOCH, site, seed=1, opts={**base, **opts})


def _run(m: rv.RoverModel, outcome: CommandOutcome, t0: int, limit_s: float, step_s: float = 1.0):
    """Step ``m`` until ``outcome``'s activity ends; return (end outcome, end time, packets)."""
    assert outcome.finish is not None
    packets = []
    t = t0
    while t < t0 + limit_s * S:
        t += round(step_s * S)
        packets += m.step(t)
        end = outcome.finish(t)
        if end is not None:
            return end, t, packets
    raise AssertionError(f"activity did not end in {limit_s} s")


def _drive(distance_m: float, heading: float, slope: float = 15.0, step: float = 0.1) -> dict:
    return {
        "DISTANCE_M": distance_m,
        "HEADING_DEG": heading,
        "MAX_SLOPE_DEG": slope,
        "MAX_STEP_M": step,
    }


def test_slip_follows_the_janosi_hanamoto_relation_for_lunar_soil() -> None:
    # solving mu(s) = tan(theta) + f_r with Li & Wang 2014 Table 2 lunar soil (c 0.52 kPa,
    # phi 42 deg, K 0.0178 m) for a 35 kg rover on six 0.10 x 0.06 m contacts
    for deg in (0.0, 5.0, 10.0, 15.0, 20.0):
        s = rv.slip_of_slope(deg)
        need = math.tan(math.radians(deg)) + rv.ROLLING_RESISTANCE
        assert float(rv._traction(np.array([s]))[0]) == pytest.approx(need, abs=1e-3)
    slips = [rv.slip_of_slope(d) for d in range(0, 31, 5)]
    assert slips == sorted(slips)  # grows with slope
    assert slips[0] == pytest.approx(0.025, abs=0.005)  # flat: rolling resistance only
    assert rv.slip_of_slope(20.0) == pytest.approx(0.26, abs=0.02)
    assert rv.slip_of_slope(-10.0) == 0.0  # downhill: no slip (skid left out)


def test_drive_completes_with_odometry_drifting_from_the_truth() -> None:
    m = _band_model()
    x0, y0 = m.x, m.y
    out = m.execute("DRIVE", _drive(10.0, 0.0), EPOCH)  # north, up the 3 deg plane
    assert out.ok
    end, t, packets = _run(m, out, EPOCH, 480.0, step_s=0.5)
    assert end.ok
    # 10 m at 200 m/h (Yutu-2's ~200 m/h, REFERENCES.md): 180 s; no turn (heading 0)
    assert (t - EPOCH) / S == pytest.approx(10.0 / rv.DRIVE_SPEED_M_S, abs=1.0)
    assert m.odometer_m == pytest.approx(10.0, abs=1e-6)
    true_m = math.hypot(m.x - x0, m.y - y0)
    # 3 deg uphill: slip ~5 % (the relation above), so ~0.5 m short; odometry does not see it
    assert 9.2 < true_m < 9.7
    assert m.est_y - y0 == pytest.approx(10.0, abs=0.01)
    hk = [p for p in packets if p.container == "ROVER_HK"]
    truth = [p for p in packets if p.container == "SIM_TRUTH"]
    assert hk[-1].values["ROV_EST_Y_M"] - truth[-1].values["TRUTH_Y_M"] > 0.3
    assert "TRUTH_X_M" not in hk[-1].values
    mob = [p.values for p in packets if p.container == "MOBILITY"]
    driving = [v for v in mob if v["MOB_STATE"] == "DRIVING"]
    assert len(driving) >= 170  # every second while driving
    assert all(3.0 < v["MOB_SLIP_EST_PCT"] < 8.0 for v in driving[2:])


def test_a_leg_into_a_known_hazard_is_refused_with_the_reason() -> None:
    m = _band_model()
    out = m.execute("DRIVE", _drive(20.0, 90.0), EPOCH)  # east, into the 30 deg band
    assert not out.ok
    assert out.reason == "HAZARD"
    assert out.message.startswith("leg crosses slope ")
    assert "> MAX_SLOPE_DEG 15 at (" in out.message
    assert m.motion is None  # it did not move
    short = m.execute("DRIVE", _drive(10.0, 90.0), EPOCH)
    assert short.ok


def test_the_true_terrain_stops_a_drive_the_map_check_let_through() -> None:
    m = _band_model()
    m.est_x -= 10.0  # the rover believes it is 10 m further west than it is
    out = m.execute("DRIVE", _drive(20.0, 90.0), EPOCH)
    assert out.ok  # from the estimated pose the leg ends 5 m before the band
    end, t, packets = _run(m, out, EPOCH, 600.0)
    packets += m.step(t + 5 * S)
    assert not end.ok
    assert end.reason == "HAZARD"
    assert "hazard stop at (" in end.message
    assert "> MAX_SLOPE_DEG 15" in end.message
    assert m.mob_state == "HAZARD_STOP"
    assert m.last_stop == "HAZARD_SLOPE"
    site = m.site
    x_from_west = m.x - site.dem.transform.c
    assert x_from_west < BAND[0]  # stopped before the band
    assert site.slope_at(m.x, m.y) <= 15.0
    hk = [p.values for p in packets if p.container == "ROVER_HK"]
    assert hk[-1]["ROV_LAST_STOP"] == "HAZARD_SLOPE"


def test_never_enters_a_cell_over_its_slope_limit_over_many_random_drives() -> None:
    m = rv.create_model(EPOCH, seed=3, options={"contacts": "always"})
    rng = np.random.default_rng(7)
    t = EPOCH
    stops = accepted = 0
    for _ in range(40):
        limit = float(rng.uniform(5.0, 15.0))
        args = _drive(float(rng.uniform(2.0, 20.0)), float(rng.uniform(0, 360)), limit, 0.15)
        out = m.execute("DRIVE", args, t)
        if not out.ok:
            assert out.reason in ("HAZARD", "NOT_ALLOWED_IN_STATE"), out
            continue
        accepted += 1
        start = m.site.cell(m.x, m.y)
        finish = out.finish
        assert finish is not None
        while (end := finish(t)) is None:
            t += S
            m.step(t)
            rc = m.site.cell(m.x, m.y)
            assert rc == start or m.site.slope_deg[rc] <= limit, (m.x, m.y, limit)
        stops += end.reason == "HAZARD"
        m.soc = 0.8  # keep driving: this test is about the terrain
    assert accepted >= 10
    assert stops >= 1  # the on-board check was exercised


def test_stop_ends_a_drive_and_wheel_stuck_is_detected() -> None:
    m = _band_model()
    out = m.execute("DRIVE", _drive(10.0, 0.0), EPOCH)
    m.step(EPOCH + 30 * S)
    assert m.execute("STOP", {}, EPOCH + 30 * S).ok
    end = out.finish(EPOCH + 31 * S) if out.finish else None
    assert end is not None
    assert (end.reason, end.message) == ("EXECUTION_FAILED", "stopped by STOP")
    m.inject_fault("WHEEL_STUCK", {}, EPOCH + 40 * S)
    out = m.execute("DRIVE", _drive(5.0, 0.0), EPOCH + 40 * S)
    x, y = m.x, m.y
    end, t, _ = _run(m, out, EPOCH + 40 * S, 100.0)
    assert end.reason == "EXECUTION_FAILED"
    assert "does not move" in end.message
    assert m.mob_state == "STUCK"
    assert (m.x, m.y) == (x, y)
    assert 20 <= (t - EPOCH) / S - 40 <= 23


def test_goto_drives_to_the_waypoint_from_the_estimated_pose() -> None:
    m = _band_model()
    gx, gy = m.x - 6.0, m.y + 8.0  # 10 m to the north-west
    out = m.execute("GOTO", {"X_M": gx, "Y_M": gy, "MAX_SLOPE_DEG": 15.0, "MAX_STEP_M": 0.1}, EPOCH)
    assert out.ok
    end, t, _ = _run(m, out, EPOCH, 480.0)
    assert end.ok
    assert math.hypot(m.est_x - gx, m.est_y - gy) < 0.05
    assert math.hypot(m.x - gx, m.y - gy) < 1.0  # slip and IMU drift: under a metre
    # the turn first: 323.1 deg is 36.9 deg left of 0 at 3 deg/s, then 10 m at 200 m/h
    assert (t - EPOCH) / S == pytest.approx(36.87 / 3.0 + 10.0 / rv.DRIVE_SPEED_M_S, abs=2.0)
    far = m.execute(
        "GOTO", {"X_M": gx + 30, "Y_M": gy, "MAX_SLOPE_DEG": 15.0, "MAX_STEP_M": 0.1}, t
    )
    assert far.reason == "ARGUMENT_OUT_OF_RANGE"
    assert "a leg is at most 20 m" in far.message


def test_commands_refused_in_survival_and_with_cold_motors() -> None:
    m = _band_model(battery_soc_pct=14.0)
    m.step(EPOCH + S)
    assert m.mode == "SURVIVAL"
    out = m.execute("DRIVE", _drive(1.0, 0.0), EPOCH + S)
    assert out.reason == "NOT_ALLOWED_IN_STATE"
    assert out.message == "DRIVE: SURVIVAL mode; no driving"
    assert m.execute("DOSI_START", {}, EPOCH + S).reason == "NOT_ALLOWED_IN_STATE"
    m = _band_model(battery_soc_pct=15.01)
    out = m.execute("SPEC_MEASURE", {"INTEGRATION_S": 3600}, EPOCH)
    end, _, _ = _run(m, out, EPOCH, 3600.0, step_s=10.0)  # the battery drains into SURVIVAL
    assert (end.reason, end.message) == ("EXECUTION_FAILED", "SPEC_MEASURE: cut short by SURVIVAL")
    m = _band_model()
    m.motor_c = -60.0
    out = m.execute("DRIVE", _drive(1.0, 0.0), EPOCH)
    assert "below -40 degC; wait for sunlight" in out.message


def test_dosimeter_measures_the_change_4_gcr_dose_rate_with_counting_noise() -> None:
    m = _band_model()
    assert m.execute("DOSI_START", {}, EPOCH).ok
    packets = [p for k in range(1, 37) for p in m.step(EPOCH + k * 600 * S)]
    recs = [p.values for p in packets if p.container == "DOSIMETER_DATA"]
    assert len(recs) == 360  # one per 60 s
    rates = np.array([r["DOSI_DOSE_RATE_UGY_H"] for r in recs])
    # 13.2 uGy/h (Zhang et al. 2020, Chang'e-4 LND); ~180 counts a record: 7.5 % noise each,
    # so the 360-record mean is within 4 sigma = 4 * 13.2 * 0.075 / sqrt(360) = 0.2 uGy/h
    assert rates.mean() == pytest.approx(13.2, abs=0.2)
    assert rates.std() == pytest.approx(13.2 / math.sqrt(180), rel=0.2)
    assert recs[-1]["DOSI_DOSE_UGY"] == pytest.approx(13.2 * 6, rel=1e-6)
    m.inject_fault("SOLAR_PARTICLE_EVENT", {}, EPOCH + 6 * 3600 * S)
    later = [p for k in range(37, 49) for p in m.step(EPOCH + k * 600 * S)]
    rates = [p.values["DOSI_DOSE_RATE_UGY_H"] for p in later if p.container == "DOSIMETER_DATA"]
    assert max(rates) > 100.0  # an SPE: a peak of 100 to 10,000 uGy/h after an hour
    truth = [p.values for p in later if p.container == "SIM_TRUTH"]
    assert truth[-1]["TRUTH_SPE_ACTIVE"]


def test_spectrometer_measures_the_composition_map_within_its_counting_noise() -> None:
    m = _band_model()
    truth = m.composition.truth_wt_pct(m.x, m.y)
    # a mixture of Apollo 16, Luna 20 and Apollo 11 soils (Lunar Sourcebook Table 7.15):
    # Al2O3 between the mare 13.6 and the highland 27.3 wt%, mostly highland
    assert 20.0 < truth[2] < 27.3
    out = m.execute("SPEC_MEASURE", {"INTEGRATION_S": 600}, EPOCH)
    assert out.ok
    assert m.execute("DRIVE", _drive(1.0, 0.0), EPOCH).reason == "NOT_ALLOWED_IN_STATE"
    end, t, packets = _run(m, out, EPOCH, 700.0, step_s=10.0)
    assert end.ok
    assert (t - EPOCH) / S == pytest.approx(600, abs=10)
    (res,) = [p.values for p in packets if p.container == "SPECTRUM_RESULT"]
    wt = np.array(res["SPEC_OXIDES_WT"])
    sigma = np.array(res["SPEC_SIGMA_WT"])
    assert np.all(np.abs(wt - truth) < 5 * sigma)
    assert np.all(sigma < 0.05 * truth + 0.05)  # 600 s: better than 5 % on every oxide


def test_navcam_pair_is_segmented_and_shows_sunlit_terrain_under_a_black_sky() -> None:
    m = rv.create_model(EPOCH, seed=0, options={"contacts": "always"})
    sun_az, sun_el = m.site.sun_direction(EPOCH, m.x, m.y)
    assert sun_el > 0.0  # 2028-01-01: the Sun is up at 89.9 deg S
    m.heading = m.est_heading = sun_az  # look towards the Sun: the lit slopes face the camera
    out = m.execute("NAVCAM_CAPTURE", {"EXPOSURE_MS": 20}, EPOCH)
    assert out.ok
    segs = [p.values for p in out.packets]
    assert len(segs) == 48  # 2 x 256 x 192 bytes in 2048-byte segments
    images = {}
    for cam in ("LEFT", "RIGHT"):
        part = sorted((v for v in segs if v["IMG_CAMERA"] == cam), key=lambda v: v["IMG_SEGMENT"])
        assert [v["IMG_SEGMENT"] for v in part] == list(range(24))
        raw = b"".join(v["IMG_DATA"] for v in part)
        images[cam] = np.frombuffer(raw, dtype=np.uint8).reshape(192, 256)
    left = images["LEFT"].astype(float)
    assert np.median(left[:3]) < 5.0  # the top rows look above the horizon: black sky
    assert np.median(left[-60:]) > 10.0  # the ground in front is lit
    assert (left[-60:] > 250).mean() < 0.2  # not overexposed
    assert np.abs(left - images["RIGHT"]).mean() > 1.0  # two viewpoints 0.27 m apart


def test_contacts_are_the_times_the_earth_is_above_the_terrain_horizon() -> None:
    from falak.terrain.illumination import illumination_timeline

    m = rv.create_model(EPOCH, seed=0, options={})
    day = 86_400 * S
    windows = m.contact_windows(EPOCH, EPOCH + day)
    assert windows
    times = (EPOCH + np.arange(0, 86_400, 60) * S).astype("datetime64[ns]")
    seen = illumination_timeline(m.site.dem, m.site.horizons, [(m.x, m.y)], times).earth_visible[
        :, 0
    ]
    inside = np.zeros(times.size, dtype=bool)
    for w in windows:
        assert w.via == "DTE"
        assert 1.19 < w.light_time_s < 1.36  # Earth-Moon one-way light time (REFERENCES.md)
        k = (times.astype(np.int64) >= w.start_ns) & (times.astype(np.int64) < w.stop_ns)
        inside |= k
    assert np.array_equal(inside, seen)


def test_the_relay_adds_windows_when_configured() -> None:
    day = 86_400 * S
    m = rv.create_model(EPOCH, seed=0, options={"contacts": "earth+relay"})
    vias = {w.via for w in m.contact_windows(EPOCH, EPOCH + 3 * day)}
    assert vias == {"DTE", "Queqiao-2-like relay"}
    relay = [w for w in m.contact_windows(EPOCH, EPOCH + 3 * day) if w.via != "DTE"]
    # via a ~16,000 km apolune: the relay hop adds up to ~0.06 s
    assert all(1.19 < w.light_time_s < 1.45 for w in relay)


def test_unknown_options_and_contacts_are_refused() -> None:
    with pytest.raises(ValueError, match="rover model: unknown option\\(s\\) speed; known: dem,"):
        rv.create_model(EPOCH, options={"speed": 2})
    with pytest.raises(ValueError, match="rover contacts must be one of earth, relay"):
        _band_model(contacts="radio")


def test_the_battery_follows_the_sunlight_falak_predicts_at_the_rover() -> None:
    """A 20 m block 30 m from the rover shadows it for the first 12 h of the day, then not."""
    from falak.terrain.illumination import illumination_timeline

    cx, cy = (float(v) for v in latlon_to_xy(-89.9, 0.0))
    dem0 = Dem(np.zeros((N, N), np.float32), Affine(1.0, 0.0, cx - N / 2, 0.0, -1.0, cy + N / 2))
    probe = Site(dem0, horizons(dem0, 8), Rover())
    az0, _ = probe.sun_direction(EPOCH, cx, cy)
    az12, _ = probe.sun_direction(EPOCH + 12 * 3600 * S, cx, cy)
    turn = math.copysign(1.0, _wrap(az12 - az0))
    centre = math.radians(az12 - turn * 20.0)  # the block's trailing edge is at az(12 h)
    x = cx - N / 2 + np.arange(N) + 0.5
    y = cy + N / 2 - np.arange(N) - 0.5
    bx, by = cx + 30 * math.sin(centre), cy + 30 * math.cos(centre)
    inside = np.hypot(x[None, :] - bx, y[:, None] - by) < 10.26  # asin(10.26/30) = 20 deg
    dem = Dem((20.0 * inside).astype(np.float32), dem0.transform, source="block")
    site = Site(dem, horizons(dem, 360), Rover())
    m = rv.RoverModel(
        EPOCH,
        site,
        seed=0,
        opts={
            "start_x_m": cx + 0.5,
            "start_y_m": cy - 0.5,
            "contacts": "always",
            "battery_soc_pct": 100.0,
        },
    )
    packets = []
    away = (math.degrees(centre) + 180.0) % 360.0
    for k in range(1, 24 * 60 + 1):
        if k == 21 * 60:  # in the afternoon, drive 20 m away from the block: a path
            leg = _drive(20.0, away, 15.0, 0.15)
            drive = m.execute("DRIVE", leg, EPOCH + k * 60 * S)
            assert drive.ok, drive.message
        packets += m.step(EPOCH + k * 60 * S)
    assert drive.finish is not None
    assert drive.finish(EPOCH + 24 * 3600 * S) == CommandOutcome()
    power = [p for p in packets if p.container == "POWER"]
    thermal = [p.values for p in packets if p.container == "THERMAL"]
    # the night matters: the battery heater comes on, the motors get too cold to drive
    assert any(v["TH_HEATER"] for v in thermal)
    assert min(v["TH_MOTOR_C"] for v in thermal) < rv.MOTOR_MIN_C
    assert min(v["TH_BATT_C"] for v in thermal) > rv.CHARGE_MIN_C  # the heater holds it
    t = np.array([p.time_ns for p in power], dtype=np.int64)
    solar = np.array([p.values["PWR_SOLAR_W"] for p in power])
    soc = np.array([p.values["PWR_BATT_SOC_PCT"] for p in power])
    # falak's prediction along the path: at each POWER packet, the cell the rover truly was in
    truth = [p for p in packets if p.container == "SIM_TRUTH"]
    at = np.array([p.time_ns for p in truth], dtype=np.int64)
    where = np.array([(p.values["TRUTH_X_M"], p.values["TRUTH_Y_M"]) for p in truth])
    k = np.clip(np.searchsorted(at, t, "right") - 1, 0, len(at) - 1)
    cells = np.stack(dem.cell_of(where[k, 0], where[k, 1]), axis=1)
    unique, which = np.unique(cells, axis=0, return_inverse=True)
    assert len(unique) > 5  # the rover moved over several cells
    lit = illumination_timeline(dem, site.horizons, unique, t.astype("datetime64[ns]"))
    predicted = lit.sun_fraction[np.arange(t.size), which.ravel()].astype(float)
    assert 0.3 < (predicted > 0.5).mean() < 0.7  # the day has both: the test means something
    # four vertical 60 W panels: 60 .. 60 sqrt(2) W per unit of the visible solar disk
    # (pointwise where the prediction is steady: the disk crosses the block's edge in ~2 min,
    # which the model's 60 s tables interpolate; the total energy counts those minutes too)
    steady = np.convolve(predicted > 0.999, np.ones(61), "same") == 61  # 4 min each side
    ratio = solar[steady] / predicted[steady]
    assert np.all((ratio > 59.9) & (ratio < 60.0 * math.sqrt(2) + 0.1))
    shade = np.convolve(predicted == 0.0, np.ones(61), "same") == 61
    assert np.all(solar[shade] == 0.0)
    energy_ratio = solar.sum() / predicted.sum()
    assert 59.9 < energy_ratio < 60.0 * math.sqrt(2) + 0.1
    # the charge rate: the battery drains in the predicted shadow and charges in the predicted
    # sunlight (until full)
    rate = np.diff(soc) / (np.diff(t) / S)  # % per s
    dark = (predicted[1:] == 0.0) & (predicted[:-1] == 0.0) & (soc[1:] > 1.0)
    sunny = (predicted[1:] > 0.99) & (predicted[:-1] > 0.99) & (soc[1:] < 99.0)
    assert dark.sum() > 100
    assert sunny.sum() > 100
    assert np.all(rate[dark] < 0.0)
    assert np.all(rate[sunny] > 0.0)
    # lit fraction: charging share of the not-yet-full time = predicted lit share
    notfull = (soc[1:] < 99.0) & (soc[1:] > 1.0)
    charging = (rate > 0)[notfull].mean()
    assert charging == pytest.approx(
        ((predicted[1:] + predicted[:-1]) / 2 > 0.5)[notfull].mean(), abs=0.01
    )


def _wrap(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


def test_the_readme_lists_every_option_and_fault() -> None:
    text = (rv.MDB_PATH.parent / "README.md").read_text(encoding="utf-8")
    for name in rv.OPTIONS:
        assert f"`{name}`" in text, name
    for fault in rv.FAULTS:
        assert f"`{fault}`" in text, fault
    fault_type = rv._mdb().types["/ROVER/SIMULATOR/SimFault"]
    assert isinstance(fault_type, EnumeratedType)
    labels = [v.label for v in fault_type.values]
    assert tuple(labels) == rv.FAULTS


def test_faults_degrade_the_battery_drift_the_imu_and_fail_the_heater() -> None:
    m = _band_model()
    assert m.inject_fault("BATTERY_DEGRADED", {}, EPOCH).ok
    assert m.capacity_wh == rv.BATTERY_WH / 2
    assert m.inject_fault("IMU_DRIFT", {}, EPOCH).ok
    out = m.execute("TURN", {"HEADING_DEG": 90.0}, EPOCH)
    end, t, _ = _run(m, out, EPOCH, 90.0, step_s=0.5)
    assert end.ok
    # the rover turns until its (drifting) estimate says 90 deg: the truth is short of it by
    # 0.5 deg/min over the ~30 s turn
    assert m.est_heading == pytest.approx(90.0, abs=0.01)
    assert 90.0 - m.heading == pytest.approx(0.5 / 60.0 * (t - EPOCH) / S, abs=0.05)
    m.batt_c = -3.0
    assert m.inject_fault("HEATER_FAILED", {}, t).ok
    m.step(t + 60 * S)
    assert m.heater is False  # below the 0 degC thermostat, but failed
    assert m.inject_fault("CLEAR_ALL", {}, t + 60 * S).ok
    m.step(t + 120 * S)
    assert m.heater is True
    assert m.capacity_wh == rv.BATTERY_WH
    bad = m.inject_fault("NOPE", {}, t)
    assert not bad.ok
    assert bad.message.startswith("unknown fault 'NOPE'; ROVER faults: CLEAR_ALL, WHEEL_STUCK")


def test_the_rock_check_matches_a_brute_force_search_over_every_rock() -> None:
    m = rv.create_model(EPOCH, seed=0, options={"contacts": "always"})
    site = m.site
    assert site.rock_d.size > 1000  # the synthetic DEM's rock list (heights D/2)
    rng = np.random.default_rng(5)
    t = site.dem.transform
    ny, nx = site.dem.shape
    for _ in range(2000):
        x = t.c + rng.uniform(0, nx * t.a)
        y = t.f - rng.uniform(0, ny * t.a)
        d = np.hypot(site.rock_x - x, site.rock_y - y)
        under = d < site.rover.wheel_base_m / 2 + site.rock_d / 2
        want = float(site.rock_d[under].max()) / 2 if under.any() else 0.0
        assert site.rock_step_m(x, y) == want


def test_a_solar_particle_event_drawn_at_an_update_survives_its_rise() -> None:
    """An SPE that starts at the instant of an update is not cancelled by that update (its
    rate is 0 at its start); it rises to its peak and ends only once decayed below 0.05 µGy/h."""
    from falak.sim.rover_instruments import SPE_DECAY_S, SPE_RISE_S, Dosimeter

    hour = 3600 * 1_000_000_000
    d = Dosimeter(np.random.default_rng(1), 0)
    d._next_check_ns = 10 * hour  # no random draw before the event below
    d.start_spe(0, peak_ugy_h=1000.0)
    d.update(0)
    assert d.spe_active
    d.update(int(SPE_RISE_S * 1e9))
    assert d.spe_active
    assert d.spe_rate(int(SPE_RISE_S * 1e9)) == pytest.approx(1000.0)
    # 1000 * exp(-t/τ) < 0.05 once t > τ ln(20000)
    t_end = SPE_RISE_S + SPE_DECAY_S * np.log(1000.0 / 0.05)
    d._next_check_ns = 10**20  # keep random events out of the decay check
    d.update(int((t_end - 60) * 1e9))
    assert d.spe_active
    d.update(int((t_end + 60) * 1e9))
    assert not d.spe_active
