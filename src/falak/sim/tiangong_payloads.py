"""Physics of the Tiangong payload racks that falak's station simulator flies.

Pure models, no I/O: each rack is a frozen parameter dataclass, a frozen state dataclass and a
``step`` function ``(state, inputs, dt_s) -> state`` that works for any step length (the
exact solution of each first-order law over the step, so a simulator running at ``--speed 60``
can take 60 s steps). The racks' state machines step one rack at a time; the environment
(station position, sunlight, dose rate, power available) is computed on whole arrays of
epochs at once. Modes are ``IntEnum``\\ s whose
values and names are the raw values and labels of the enumerations in
``falak/missions/tiangong/mdb.yaml`` (``tests/sim/test_tiangong_payloads.py`` checks that), and
each model's ``*_telemetry`` function names its values by the MDB's parameter names.

The racks (disciplines of the example campaign, ``missions/tiangong/example_campaign.yaml``):

- materials furnace (materials science): first-order lag to a ramped heating profile, limited
  by the heater's power; an injected over-temperature fault leaves the heater stuck at full
  power until the protection trips at :attr:`FurnaceParams.trip_c`;
- fluid-physics cell (fluid mechanics): temperature-controlled cell, ullage pressure, camera,
  capillary rise by the Lucas–Washburn law (Washburn 1921, Phys. Rev. 17:273; no gravity term
  in microgravity);
- incubator and plant habitat (biological and medical sciences; ecology): one chamber model,
  temperature, CO₂ and humidity lags to their set points, the door opening to the cabin;
- dosimeter (space radiation): dose rate from the station's position, galactic cosmic rays
  rising with geomagnetic latitude plus the South Atlantic Anomaly (see
  :func:`dose_rate_ugy_per_h`), counts and LET spectrum consistent with that dose;
- cold stowage at −80/−20/+4 °C (station service bus, not the payload share): compressor
  pull-down, a failure lets the unit warm towards cabin temperature;
- X-ray survey instrument (astronomy): thermo-electric detector cooling, slewing, high voltage
  off in the SAA.

Station power (:func:`sunlit_mask`, :func:`payload_power_available_w`) comes from the real
orbit: SGP4 on the bundled TLE and the planner's shadow model
(:func:`falak.planning.campaign.orbit_env.eclipse_intervals`), with the campaign model's
sunlit/eclipse payload caps, so the simulator's power budget is the one the plan was checked
against. Every number not attributed to a source below is an illustrative assumption chosen
to be plausible, not a Tiangong flight value.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.dynamics.tle import Tle
from falak.planning.campaign.model import Campaign

__all__ = [
    "CABIN_CO2_PCT",
    "CABIN_RH_PCT",
    "CABIN_TEMP_C",
    "COLD_UNITS",
    "GCR_EQUATOR_UGY_PER_H",
    "GCR_POLAR_EXCESS_UGY_PER_H",
    "GEOMAGNETIC_POLE_LAT_DEG",
    "GEOMAGNETIC_POLE_LON_DEG",
    "INCUBATOR",
    "LET_BIN_EDGES_KEV_PER_UM",
    "PLANT_HABITAT",
    "SAA_CENTRE_LAT_DEG",
    "SAA_CENTRE_LON_DEG",
    "SAA_PEAK_UGY_PER_H",
    "SAA_SCALE_HEIGHT_KM",
    "SAA_SIGMA_LAT_DEG",
    "SAA_SIGMA_LON_DEG",
    "SAA_THRESHOLD_UGY_PER_H",
    "AstroMode",
    "AstroParams",
    "AstroState",
    "CameraMode",
    "ChamberMode",
    "ChamberParams",
    "ChamberSetpoints",
    "ChamberState",
    "ColdMode",
    "ColdUnitParams",
    "ColdUnitState",
    "DosimeterMode",
    "DosimeterParams",
    "DosimeterRecord",
    "DosimeterState",
    "FluidMode",
    "FluidParams",
    "FluidState",
    "FurnaceMode",
    "FurnaceParams",
    "FurnaceState",
    "HeatingProfile",
    "PointingMode",
    "astro_count_rate_per_s",
    "astro_power_w",
    "astro_step",
    "astro_telemetry",
    "chamber_lights_on",
    "chamber_power_w",
    "chamber_step",
    "chamber_telemetry",
    "cold_power_w",
    "cold_step",
    "cold_telemetry",
    "dose_rate_ugy_per_h",
    "dosimeter_power_w",
    "dosimeter_record",
    "dosimeter_telemetry",
    "fluid_power_w",
    "fluid_pressure_kpa",
    "fluid_step",
    "fluid_telemetry",
    "furnace_power_w",
    "furnace_start",
    "furnace_step",
    "furnace_stop",
    "furnace_telemetry",
    "gcr_dose_rate_ugy_per_h",
    "in_saa",
    "lucas_washburn_mm",
    "max_power_w",
    "payload_power_available_w",
    "saa_dose_rate_ugy_per_h",
    "station_geodetic",
    "station_telemetry",
    "sunlit_mask",
]

FloatArray = NDArray[np.float64]

CABIN_TEMP_C = 22.0
"""Cabin air temperature (ISS practice keeps 18–27 °C)."""
CABIN_CO2_PCT = 0.4
"""Cabin CO₂ by volume, about 3 mmHg (ISS cabins run 2–4 mmHg)."""
CABIN_RH_PCT = 50.0
"""Cabin relative humidity."""


def _f(x: ArrayLike) -> Any:
    """Return ``x`` as a float or a float array (scalars stay Python floats)."""
    a = np.asarray(x, dtype=np.float64)
    return float(a) if a.ndim == 0 else a


def _lag(x: ArrayLike, target: ArrayLike, dt_s: float, tau_s: float) -> Any:
    """Return the exact first-order lag of ``x`` towards ``target`` after ``dt_s``."""
    k = math.exp(-dt_s / tau_s)
    if isinstance(x, float | int) and isinstance(target, float | int):
        return float(target + (x - target) * k)  # the simulator's per-tick path: no numpy
    return _f(np.asarray(target) + (np.asarray(x) - np.asarray(target)) * k)


# ---------------------------------------------------------------------------------------------
# Materials furnace


class FurnaceMode(IntEnum):
    """Furnace state (MDB ``FURNACE/FurnaceState``)."""

    OFF = 0
    STANDBY = 1
    HEATING = 2
    SOAK = 3
    COOLING = 4
    FAULT = 5


@dataclass(frozen=True)
class FurnaceParams:
    """Thermal model of the furnace: one lumped heat capacity with a conductance to the rack.

    The steady state at 1400 °C needs G·(1400 − 22) ≈ 1200 W, below the 1800 W heater, and the
    rack's whole draw stays under the 2.5 kW the campaign allots to ``alloy-melt``.
    """

    heat_capacity_j_per_k: float = 520.0
    conductance_w_per_k: float = 0.87
    heater_max_w: float = 1800.0
    electronics_w: float = 150.0
    ambient_c: float = CABIN_TEMP_C
    control_tau_s: float = 120.0
    """Closed-loop time constant of the temperature controller when it has power to spare."""
    trip_c: float = 1450.0
    """Hardware over-temperature protection: above it the heater relay opens (FAULT)."""
    soak_band_c: float = 2.0
    """SOAK starts when the ramp has ended and the sample is this close to the set point."""
    standby_below_c: float = 60.0
    """COOLING ends (STANDBY) below this temperature."""

    @property
    def thermal_tau_s(self) -> float:
        """Return the passive time constant C/G (heater off), seconds."""
        return self.heat_capacity_j_per_k / self.conductance_w_per_k


@dataclass(frozen=True)
class HeatingProfile:
    """A heating profile: ramp to ``setpoint_c`` at ``ramp_c_per_min``, soak ``soak_s``."""

    setpoint_c: float = 800.0
    ramp_c_per_min: float = 20.0
    soak_s: float = 3600.0
    kind: str = "ISOTHERMAL"
    """MDB ``FURNACE/ProfileKind`` label: ISOTHERMAL, GRADIENT or QUENCH (reported only)."""


@dataclass(frozen=True)
class FurnaceState:
    """Furnace state; ``stuck_heater`` is the injected over-temperature fault."""

    mode: FurnaceMode = FurnaceMode.STANDBY
    temperature_c: float = CABIN_TEMP_C
    target_c: float = CABIN_TEMP_C
    soak_left_s: float = 0.0
    heater_w: float = 0.0
    stuck_heater: bool = False


def furnace_start(state: FurnaceState) -> FurnaceState:
    """Start the heating profile from the current temperature (STANDBY or OFF → HEATING)."""
    return replace(state, mode=FurnaceMode.HEATING, target_c=state.temperature_c)


def furnace_stop(state: FurnaceState) -> FurnaceState:
    """Switch the heater off and cool down (→ COOLING, or stay in FAULT)."""
    if state.mode == FurnaceMode.FAULT:
        return state
    return replace(state, mode=FurnaceMode.COOLING, heater_w=0.0)


def furnace_step(
    state: FurnaceState, profile: HeatingProfile, dt_s: float, p: FurnaceParams | None = None
) -> FurnaceState:
    """Advance the furnace by ``dt_s`` seconds.

    With the heater controlled (HEATING, SOAK) the sample follows the profile's set point as a
    first-order lag of :attr:`FurnaceParams.control_tau_s`, but never faster than the full
    heater power allows nor slower than passive cooling: the exact solutions for heater power
    0 and ``heater_max_w`` bound it, so any step length is stable. The profile's set point
    ramps at ``ramp_c_per_min`` up to ``setpoint_c``.
    """
    p = p or FurnaceParams()
    t0 = state.temperature_c
    c, g, ta = p.heat_capacity_j_per_k, p.conductance_w_per_k, p.ambient_c
    passive = _lag(t0, ta, dt_s, p.thermal_tau_s)
    full = _lag(t0, ta + p.heater_max_w / g, dt_s, p.thermal_tau_s)
    mode = state.mode
    target = state.target_c
    soak_left = state.soak_left_s
    # a stuck heater heats only while the rack has power and the protection has not tripped
    stuck = state.stuck_heater and mode not in (FurnaceMode.FAULT, FurnaceMode.OFF)
    if stuck:
        t1 = full
    elif mode in (FurnaceMode.HEATING, FurnaceMode.SOAK):
        if mode == FurnaceMode.HEATING:
            target = min(profile.setpoint_c, target + profile.ramp_c_per_min * dt_s / 60.0)
        lag = _lag(t0, target, dt_s, p.control_tau_s)
        t1 = min(max(lag, passive), full)
    else:
        t1 = passive
    heater = 0.0
    if t1 > passive:
        mean = 0.5 * (t0 + t1)
        heater = min(p.heater_max_w, max(0.0, c * (t1 - t0) / dt_s + g * (mean - ta)))
    if stuck:
        heater = p.heater_max_w
    # mode transitions
    if t1 > p.trip_c:
        mode, heater = FurnaceMode.FAULT, 0.0
    elif mode == FurnaceMode.HEATING:
        if target >= profile.setpoint_c and abs(t1 - profile.setpoint_c) <= p.soak_band_c:
            mode, soak_left = FurnaceMode.SOAK, profile.soak_s
    elif mode == FurnaceMode.SOAK:
        soak_left = max(0.0, soak_left - dt_s)
        if soak_left <= 0.0:
            mode, heater = FurnaceMode.COOLING, 0.0
    elif mode == FurnaceMode.COOLING and t1 < p.standby_below_c:
        mode = FurnaceMode.STANDBY
    if mode in (FurnaceMode.COOLING, FurnaceMode.STANDBY, FurnaceMode.OFF):
        target = t1
    return FurnaceState(mode, t1, target, soak_left, heater, state.stuck_heater)


def furnace_power_w(state: FurnaceState, p: FurnaceParams | None = None) -> float:
    """Return the furnace rack's electrical draw (heater and electronics), W."""
    p = p or FurnaceParams()
    return 0.0 if state.mode == FurnaceMode.OFF else p.electronics_w + state.heater_w


def furnace_telemetry(
    state: FurnaceState, profile: HeatingProfile, p: FurnaceParams | None = None
) -> dict[str, Any]:
    """Return FURNACE_HK engineering values by MDB parameter name."""
    return {
        "FURN_STATE": state.mode.name,
        "FURN_PROFILE": profile.kind,
        "FURN_TEMP_C": state.temperature_c,
        "FURN_SETPOINT_C": profile.setpoint_c,
        "FURN_TARGET_C": state.target_c,
        "FURN_HEATER_W": state.heater_w,
        "FURN_POWER_W": furnace_power_w(state, p),
        "FURN_RAMP_C_MIN": profile.ramp_c_per_min,
        "FURN_SOAK_MIN": round(profile.soak_s / 60.0),
        "FURN_SOAK_LEFT_S": round(state.soak_left_s),
    }


# ---------------------------------------------------------------------------------------------
# Fluid-physics cell


class FluidMode(IntEnum):
    """Fluid cell state (MDB ``FLUID/FluidState``)."""

    OFF = 0
    STANDBY = 1
    FILLING = 2
    RUNNING = 3
    DRAINING = 4
    FAULT = 5


class CameraMode(IntEnum):
    """Camera state (MDB ``FLUID/CameraState``)."""

    OFF = 0
    IDLE = 1
    RECORDING = 2
    ERROR = 3


@dataclass(frozen=True)
class FluidParams:
    """Fluid cell: thermal lag, fill pump, ullage pressure and a silicone-oil capillary.

    Capillary: 5 cSt silicone oil, surface tension 0.0197 N/m, viscosity 4.6 mPa·s, wetting
    (contact angle 0), tube radius 0.25 mm, 300 mm long (manufacturer-style values).
    """

    thermal_tau_s: float = 300.0
    fill_rate_pct_per_s: float = 0.5
    surface_tension_n_per_m: float = 0.0197
    viscosity_pa_s: float = 4.6e-3
    contact_angle_deg: float = 0.0
    tube_radius_m: float = 0.25e-3
    tube_length_mm: float = 300.0
    ullage_kpa_at_25c: float = 100.0
    electronics_w: float = 150.0
    camera_w: float = 60.0
    thermal_w_per_k: float = 20.0
    thermal_max_w: float = 900.0
    ambient_c: float = CABIN_TEMP_C


@dataclass(frozen=True)
class FluidState:
    """Fluid cell state; ``run_s`` counts time since the capillary valve opened."""

    mode: FluidMode = FluidMode.STANDBY
    camera: CameraMode = CameraMode.IDLE
    cell_temp_c: float = CABIN_TEMP_C
    setpoint_c: float = 25.0
    fill_pct: float = 0.0
    fill_target_pct: float = 60.0
    fps: int = 25
    frames: int = 0
    run_s: float = 0.0


def lucas_washburn_mm(t_s: ArrayLike, p: FluidParams | None = None) -> Any:
    """Return the capillary penetration length after ``t_s`` seconds, mm (no gravity).

    h² = γ r cos θ t / (2 μ) (Washburn 1921, Phys. Rev. 17:273), capped at the tube length.
    """
    p = p or FluidParams()
    t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
    cos_t = math.cos(math.radians(p.contact_angle_deg))
    h_m = np.sqrt(p.surface_tension_n_per_m * p.tube_radius_m * cos_t * t / (2 * p.viscosity_pa_s))
    return _f(np.minimum(h_m * 1000.0, p.tube_length_mm))


def fluid_step(state: FluidState, dt_s: float, p: FluidParams | None = None) -> FluidState:
    """Advance the fluid cell by ``dt_s`` seconds (FILLING → RUNNING, DRAINING → STANDBY)."""
    p = p or FluidParams()
    on = state.mode not in (FluidMode.OFF, FluidMode.FAULT)
    temp = _lag(state.cell_temp_c, state.setpoint_c if on else p.ambient_c, dt_s, p.thermal_tau_s)
    mode, fill, run_s, camera = state.mode, state.fill_pct, state.run_s, state.camera
    if mode == FluidMode.FILLING:
        fill = min(state.fill_target_pct, fill + p.fill_rate_pct_per_s * dt_s)
        if fill >= state.fill_target_pct:
            mode, run_s, camera = FluidMode.RUNNING, 0.0, CameraMode.RECORDING
    elif mode == FluidMode.RUNNING:
        run_s += dt_s
    elif mode == FluidMode.DRAINING:
        fill = max(0.0, fill - p.fill_rate_pct_per_s * dt_s)
        camera = CameraMode.IDLE
        if fill <= 0.0:
            mode = FluidMode.STANDBY
    frames = state.frames + (round(state.fps * dt_s) if camera == CameraMode.RECORDING else 0)
    return FluidState(
        mode, camera, temp, state.setpoint_c, fill, state.fill_target_pct, state.fps, frames, run_s
    )


def fluid_pressure_kpa(state: FluidState, p: FluidParams | None = None) -> float:
    """Return the ullage pressure: regulated gas at the cell temperature, bellows-compressed."""
    p = p or FluidParams()
    return float(
        p.ullage_kpa_at_25c
        * (state.cell_temp_c + 273.15)
        / 298.15
        * (1 + 0.05 * state.fill_pct / 100)
    )


def fluid_power_w(state: FluidState, p: FluidParams | None = None) -> float:
    """Return the fluid rack's draw: electronics, camera while recording, thermal control, W."""
    p = p or FluidParams()
    if state.mode == FluidMode.OFF:
        return 0.0
    thermal = min(p.thermal_max_w, p.thermal_w_per_k * abs(state.cell_temp_c - p.ambient_c))
    camera = p.camera_w if state.camera == CameraMode.RECORDING else 0.0
    return p.electronics_w + camera + thermal


def fluid_telemetry(state: FluidState, p: FluidParams | None = None) -> dict[str, Any]:
    """Return FLUID_HK and FLUID_SCIENCE engineering values by MDB parameter name."""
    return {
        "FLUID_STATE": state.mode.name,
        "FLUID_CAMERA": state.camera.name,
        "FLUID_CELL_TEMP_C": state.cell_temp_c,
        "FLUID_SETPOINT_C": state.setpoint_c,
        "FLUID_PRESSURE_KPA": fluid_pressure_kpa(state, p),
        "FLUID_SPARE": 0,
        "FLUID_FILL_PCT": state.fill_pct,
        "FLUID_FPS": state.fps,
        "FLUID_FRAMES": state.frames,
        "FLUID_POWER_W": fluid_power_w(state, p),
        "FLUID_MENISCUS_MM": lucas_washburn_mm(state.run_s, p)
        if state.mode == FluidMode.RUNNING
        else 0.0,
    }


# ---------------------------------------------------------------------------------------------
# Incubator and plant habitat: one chamber model


class ChamberMode(IntEnum):
    """Incubator / plant habitat state (MDB ``IncubatorState``, ``PlantState``)."""

    OFF = 0
    STANDBY = 1
    CONDITIONING = 2
    RUNNING = 3
    FAULT = 4


@dataclass(frozen=True)
class ChamberSetpoints:
    """Set points of a conditioned chamber (CO₂ in % by volume; 0.1 % = 1000 ppm)."""

    temp_c: float
    co2_pct: float
    rh_pct: float
    light_umol_m2_s: float = 0.0
    photoperiod_h: int = 0


@dataclass(frozen=True)
class ChamberParams:
    """Time constants, tolerances and power of a conditioned chamber."""

    temp_tau_s: float = 900.0
    co2_tau_s: float = 600.0
    rh_tau_s: float = 1200.0
    door_tau_s: float = 120.0
    """Exchange with the cabin while the door is open."""
    temp_band_c: float = 0.5
    co2_band_pct: float = 0.3
    rh_band_pct: float = 5.0
    base_w: float = 60.0
    thermal_w_per_k: float = 4.0
    canopy_area_m2: float = 0.0
    led_efficacy_umol_per_j: float = 2.5
    """Photon efficacy of white/red LED arrays (2–3 µmol/J is typical of current LEDs)."""


INCUBATOR = (ChamberParams(), ChamberSetpoints(temp_c=37.0, co2_pct=5.0, rh_pct=90.0))
"""Cell-culture incubator: parameters and nominal set points (37 °C, 5 % CO₂, 90 %RH)."""
PLANT_HABITAT = (
    ChamberParams(
        temp_tau_s=600.0,
        co2_band_pct=0.02,
        rh_band_pct=5.0,
        base_w=80.0,
        thermal_w_per_k=6.0,
        canopy_area_m2=0.2,
    ),
    ChamberSetpoints(
        temp_c=24.0, co2_pct=0.1, rh_pct=70.0, light_umol_m2_s=500.0, photoperiod_h=16
    ),
)
"""Plant habitat: parameters and nominal set points (24 °C, 1000 ppm CO₂, 70 %RH, 16 h light)."""


@dataclass(frozen=True)
class ChamberState:
    """Conditioned chamber state."""

    mode: ChamberMode = ChamberMode.STANDBY
    temp_c: float = CABIN_TEMP_C
    co2_pct: float = CABIN_CO2_PCT
    rh_pct: float = CABIN_RH_PCT
    door_open: bool = False


def chamber_lights_on(sp: ChamberSetpoints, seconds_of_day_utc: float) -> bool:
    """Return whether the lights are on: the first ``photoperiod_h`` hours of each UTC day."""
    return sp.light_umol_m2_s > 0 and (seconds_of_day_utc % 86400.0) < sp.photoperiod_h * 3600.0


def chamber_step(
    state: ChamberState, sp: ChamberSetpoints, dt_s: float, p: ChamberParams
) -> ChamberState:
    """Advance a chamber: lags to the set points while conditioning or running, to the cabin
    while off, in standby or with the door open; CONDITIONING → RUNNING inside all bands."""
    controlled = state.mode in (ChamberMode.CONDITIONING, ChamberMode.RUNNING)
    if state.door_open:
        temp = _lag(state.temp_c, CABIN_TEMP_C, dt_s, p.door_tau_s)
        co2 = _lag(state.co2_pct, CABIN_CO2_PCT, dt_s, p.door_tau_s)
        rh = _lag(state.rh_pct, CABIN_RH_PCT, dt_s, p.door_tau_s)
    elif controlled:
        temp = _lag(state.temp_c, sp.temp_c, dt_s, p.temp_tau_s)
        co2 = _lag(state.co2_pct, sp.co2_pct, dt_s, p.co2_tau_s)
        rh = _lag(state.rh_pct, sp.rh_pct, dt_s, p.rh_tau_s)
    else:
        temp = _lag(state.temp_c, CABIN_TEMP_C, dt_s, p.temp_tau_s)
        co2 = _lag(state.co2_pct, CABIN_CO2_PCT, dt_s, 4 * p.co2_tau_s)
        rh = _lag(state.rh_pct, CABIN_RH_PCT, dt_s, 4 * p.rh_tau_s)
    mode = state.mode
    inside = (
        abs(temp - sp.temp_c) <= p.temp_band_c
        and abs(co2 - sp.co2_pct) <= p.co2_band_pct
        and abs(rh - sp.rh_pct) <= p.rh_band_pct
    )
    if mode == ChamberMode.CONDITIONING and inside:
        mode = ChamberMode.RUNNING
    return ChamberState(mode, temp, co2, rh, state.door_open)


def chamber_power_w(
    state: ChamberState, sp: ChamberSetpoints, p: ChamberParams, seconds_of_day_utc: float = 0.0
) -> float:
    """Return a chamber's draw: electronics, thermal control and LEDs while lit, W."""
    if state.mode in (ChamberMode.OFF, ChamberMode.FAULT):
        return 0.0
    if state.mode == ChamberMode.STANDBY:
        return p.base_w / 2
    leds = 0.0
    if chamber_lights_on(sp, seconds_of_day_utc):
        leds = sp.light_umol_m2_s * p.canopy_area_m2 / p.led_efficacy_umol_per_j
    return p.base_w + p.thermal_w_per_k * abs(state.temp_c - CABIN_TEMP_C) + leds


# ---------------------------------------------------------------------------------------------
# Radiation: dose rate along the orbit, and the dosimeter

SAA_CENTRE_LAT_DEG = -27.0
SAA_CENTRE_LON_DEG = -50.0
"""Centre of the SAA at ~400 km. The inner-belt proton maximum sits over south-east Brazil
(about 25–30°S, 45–55°W at ISS altitudes in the 2010s–2020s, drifting west ~0.3°/yr); the
Fermi GBM SAA polygon (``gdt-fermi``, ``gdt.missions.fermi.gbm.saa``) spans roughly 30°S–2°N,
90°W–30°E at 530 km. The Gaussian widths below give the ~2000 × 5000 km footprint."""
SAA_SIGMA_LAT_DEG = 9.0
SAA_SIGMA_LON_DEG = 22.0
SAA_PEAK_UGY_PER_H = 300.0
"""Absorbed dose rate at the SAA centre at 400 km behind station shielding (illustrative).

Context: T. Berger et al. 2017, "DOSIS & DOSIS 3D: radiation measurements with the DOSTEL
instruments onboard the Columbus Laboratory of the ISS in the years 2009–2016", J. Space
Weather Space Clim. 7, A8, doi:10.1051/swsc/2017005 (reference checked against the DLR elib
record 111501), reports the two DOSTELs' dose rates from GCR and from the SAA over the solar
cycle. Its figures could not be re-read here, so the values of this module (a peak of some
hundreds of µGy/h in the SAA, a few µGy/h of GCR at low latitudes rising towards the highest
geomagnetic latitudes, a daily dose of a few hundred µGy) are an order of magnitude consistent
with that literature, not numbers quoted from it; check them against the paper before
quoting them."""
SAA_SCALE_HEIGHT_KM = 80.0
"""e-folding altitude of the trapped-proton dose near 400 km (illustrative)."""
GCR_EQUATOR_UGY_PER_H = 2.0
GCR_POLAR_EXCESS_UGY_PER_H = 30.0
GEOMAGNETIC_POLE_LAT_DEG = 80.65
GEOMAGNETIC_POLE_LON_DEG = -72.68
"""North geomagnetic (dipole) pole, IGRF-13 epoch 2020 (Alken et al. 2021, EPS 73:49)."""
SAA_THRESHOLD_UGY_PER_H = 20.0
"""The on-board SAA flag (``STN_IN_SAA``) is set where the trapped-proton part exceeds this."""

LET_BIN_EDGES_KEV_PER_UM = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
"""Edges of the dosimeter's eight LET bins (in water), keV/µm."""


def _geomagnetic_lat_rad(lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
    """Return the centred-dipole geomagnetic latitude, radians."""
    la = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lo = np.radians(np.asarray(lon_deg, dtype=np.float64))
    pla, plo = math.radians(GEOMAGNETIC_POLE_LAT_DEG), math.radians(GEOMAGNETIC_POLE_LON_DEG)
    s = np.sin(la) * math.sin(pla) + np.cos(la) * math.cos(pla) * np.cos(lo - plo)
    out: FloatArray = np.arcsin(np.clip(s, -1.0, 1.0))
    return out


def gcr_dose_rate_ugy_per_h(lat_deg: ArrayLike, lon_deg: ArrayLike) -> Any:
    """Return the galactic-cosmic-ray dose rate inside the station, µGy/h.

    Rises with geomagnetic latitude λm as the cut-off rigidity falls:
    2 + 30·sin⁴λm (illustrative, the order of magnitude only; see :data:`SAA_PEAK_UGY_PER_H`).
    """
    lm = _geomagnetic_lat_rad(lat_deg, lon_deg)
    return _f(GCR_EQUATOR_UGY_PER_H + GCR_POLAR_EXCESS_UGY_PER_H * np.sin(lm) ** 4)


def saa_dose_rate_ugy_per_h(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_km: ArrayLike) -> Any:
    """Return the trapped-proton (SAA) dose rate inside the station, µGy/h.

    A Gaussian in latitude and longitude around (:data:`SAA_CENTRE_LAT_DEG`,
    :data:`SAA_CENTRE_LON_DEG`) with peak :data:`SAA_PEAK_UGY_PER_H` at 400 km, scaled by
    exp((h − 400 km) / :data:`SAA_SCALE_HEIGHT_KM`).
    """
    dlat = np.asarray(lat_deg, dtype=np.float64) - SAA_CENTRE_LAT_DEG
    dlon = (np.asarray(lon_deg, dtype=np.float64) - SAA_CENTRE_LON_DEG + 180.0) % 360.0 - 180.0
    h = np.asarray(alt_km, dtype=np.float64)
    shape = np.exp(-0.5 * ((dlat / SAA_SIGMA_LAT_DEG) ** 2 + (dlon / SAA_SIGMA_LON_DEG) ** 2))
    return _f(SAA_PEAK_UGY_PER_H * shape * np.exp((h - 400.0) / SAA_SCALE_HEIGHT_KM))


def dose_rate_ugy_per_h(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_km: ArrayLike) -> Any:
    """Return the absorbed dose rate inside the station at a geodetic position, µGy/h."""
    return _f(
        np.asarray(gcr_dose_rate_ugy_per_h(lat_deg, lon_deg))
        + np.asarray(saa_dose_rate_ugy_per_h(lat_deg, lon_deg, alt_km))
    )


def in_saa(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_km: ArrayLike) -> Any:
    """Return whether the position is inside the SAA (trapped part above the threshold)."""
    v = np.asarray(saa_dose_rate_ugy_per_h(lat_deg, lon_deg, alt_km)) > SAA_THRESHOLD_UGY_PER_H
    return bool(v) if v.ndim == 0 else v


class DosimeterMode(IntEnum):
    """Dosimeter state (MDB ``DOSIMETER/DosiState``)."""

    OFF = 0
    STANDBY = 1
    MEASURING = 2
    FAULT = 3


@dataclass(frozen=True)
class DosimeterParams:
    """Silicon telescope: sensitive area, mean LETs of the two radiation sources, noise."""

    area_cm2: float = 6.9
    """DOSTEL-like telescope acceptance area (illustrative)."""
    gcr_let_fractions: tuple[float, ...] = (0.40, 0.35, 0.17, 0.05, 0.02, 0.007, 0.002, 0.001)
    saa_let_fractions: tuple[float, ...] = (0.10, 0.35, 0.40, 0.12, 0.025, 0.004, 0.001, 0.0)
    noise_count_rate_per_s: float = 48_000.0
    """Injected DOSIMETER_NOISE: spurious counts in the lowest LET bin (enough to cross the
    MDB's critical limit in silicon)."""
    measuring_w: float = 12.0
    standby_w: float = 5.0


@dataclass(frozen=True)
class DosimeterState:
    """Dosimeter state; ``noisy`` is the injected fault."""

    mode: DosimeterMode = DosimeterMode.STANDBY
    dose_ugy: float = 0.0
    noisy: bool = False


@dataclass(frozen=True)
class DosimeterRecord:
    """One integration: counts per LET bin and the dose rate they give."""

    counts: int
    let_counts: tuple[int, ...]
    count_rate_per_s: float
    dose_rate_ugy_per_h: float
    state: DosimeterState


def _let_centres() -> FloatArray:
    e = np.asarray(LET_BIN_EDGES_KEV_PER_UM)
    out: FloatArray = np.sqrt(e[:-1] * e[1:])
    return out


def dosimeter_record(
    state: DosimeterState,
    lat_deg: float,
    lon_deg: float,
    alt_km: float,
    integration_s: float,
    rng: np.random.Generator,
    p: DosimeterParams | None = None,
) -> DosimeterRecord:
    """Measure for ``integration_s`` seconds at a position: Poisson counts per LET bin.

    The model's dose rates and the rate reported are absorbed dose in silicon (the telescope's
    detectors, MDB ``DOSI_DOSE_RATE_UGY_H``); the LET bins are LET in water, as silicon
    telescopes like DOSTEL report them. A fluence rate Φ (cm⁻² s⁻¹) of particles of water-LET
    L (keV/µm) gives a water dose rate 1.602e−9 · Φ · L Gy/s (REFERENCES.md, "dose from one LET
    bin"), and the silicon dose is that divided by :data:`falak.science.radiation.SI_TO_WATER`
    (1.197). Expected counts follow from the silicon rate that way; the rate reported is
    computed back from the counts, as the instrument does.
    """
    from falak.science.radiation import GY_PER_PARTICLE_CM2_KEV_PER_UM as GY
    from falak.science.radiation import SI_TO_WATER

    p = p or DosimeterParams()
    if state.mode != DosimeterMode.MEASURING:
        return DosimeterRecord(0, (0,) * 8, 0.0, 0.0, state)
    centres = _let_centres()
    expected = np.zeros(8)
    for rate, fr in (
        (gcr_dose_rate_ugy_per_h(lat_deg, lon_deg), p.gcr_let_fractions),
        (saa_dose_rate_ugy_per_h(lat_deg, lon_deg, alt_km), p.saa_let_fractions),
    ):
        frac = np.asarray(fr, dtype=np.float64)
        frac = frac / frac.sum()
        water_gy_s = float(rate) * SI_TO_WATER * 1e-6 / 3600.0
        # split the (water) dose over the bins, then dose per bin -> particles per bin
        expected += water_gy_s * frac / (GY * centres) * p.area_cm2 * integration_s
    if state.noisy:
        expected[0] += p.noise_count_rate_per_s * integration_s
    counts = rng.poisson(expected)
    dose_gy = float(np.sum(counts * centres) * GY / p.area_cm2) / SI_TO_WATER
    rate_ugy_h = dose_gy / integration_s * 3600.0 * 1e6
    new = replace(state, dose_ugy=state.dose_ugy + dose_gy * 1e6)
    n = int(counts.sum())
    return DosimeterRecord(n, tuple(int(c) for c in counts), n / integration_s, rate_ugy_h, new)


def dosimeter_power_w(state: DosimeterState, p: DosimeterParams | None = None) -> float:
    """Return the dosimeter's draw, W."""
    p = p or DosimeterParams()
    if state.mode == DosimeterMode.MEASURING:
        return p.measuring_w
    return p.standby_w if state.mode == DosimeterMode.STANDBY else 0.0


# ---------------------------------------------------------------------------------------------
# Cold stowage


class ColdMode(IntEnum):
    """Cold stowage unit state (MDB ``COLD/ColdState``)."""

    OFF = 0
    PULL_DOWN = 1
    NOMINAL = 2
    DEFROST = 3
    FAULT = 4


@dataclass(frozen=True)
class ColdUnitParams:
    """One cold stowage unit: set point, compressor pull-down and insulation time constants."""

    setpoint_c: float
    pulldown_tau_s: float = 1800.0
    warmup_tau_s: float = 8 * 3600.0
    """Warm-up towards the cabin with the compressor off (insulation and thermal mass)."""
    nominal_band_c: float = 2.0
    fan_w: float = 20.0
    compressor_w_per_k: float = 3.0
    ambient_c: float = CABIN_TEMP_C


COLD_UNITS = (ColdUnitParams(-80.0), ColdUnitParams(-20.0), ColdUnitParams(4.0))
"""Units A, B and C (MDB ``COLD_A_*``, ``COLD_B_*``, ``COLD_C_*``)."""


@dataclass(frozen=True)
class ColdUnitState:
    """Cold stowage unit state; ``failed`` is the injected compressor failure."""

    mode: ColdMode = ColdMode.NOMINAL
    temp_c: float = -80.0
    failed: bool = False


def cold_step(state: ColdUnitState, dt_s: float, p: ColdUnitParams) -> ColdUnitState:
    """Advance a unit: pull down to the set point, or warm up when off or failed."""
    if state.failed or state.mode in (ColdMode.OFF, ColdMode.FAULT):
        temp = _lag(state.temp_c, p.ambient_c, dt_s, p.warmup_tau_s)
        mode = ColdMode.FAULT if state.failed else state.mode
        return ColdUnitState(mode, temp, state.failed)
    temp = _lag(state.temp_c, p.setpoint_c, dt_s, p.pulldown_tau_s)
    near = abs(temp - p.setpoint_c) <= p.nominal_band_c
    mode = ColdMode.NOMINAL if near else ColdMode.PULL_DOWN
    return ColdUnitState(mode, temp, state.failed)


def cold_power_w(state: ColdUnitState, p: ColdUnitParams) -> float:
    """Return a unit's draw (fans, and the compressor unless off or failed), W."""
    if state.mode == ColdMode.OFF:
        return 0.0
    if state.failed or state.mode == ColdMode.FAULT:
        return p.fan_w
    return p.fan_w + p.compressor_w_per_k * max(0.0, p.ambient_c - min(state.temp_c, p.ambient_c))


# ---------------------------------------------------------------------------------------------
# X-ray survey instrument


class AstroMode(IntEnum):
    """Astronomy instrument state (MDB ``ASTRO/AstroState``)."""

    OFF = 0
    STANDBY = 1
    COOLING = 2
    OBSERVING = 3
    SAA_SAFE = 4
    FAULT = 5


class PointingMode(IntEnum):
    """Pointing platform state (MDB ``ASTRO/Pointing``)."""

    IDLE = 0
    SLEWING = 1
    TRACKING = 2
    LOST = 3


@dataclass(frozen=True)
class AstroParams:
    """Detector cooling, slewing, count rates and power of the X-ray instrument."""

    detector_setpoint_c: float = -45.0
    cooling_tau_s: float = 600.0
    ready_band_c: float = 3.0
    slew_rate_deg_s: float = 1.0
    source_rate_per_s: float = 150.0
    background_rate_per_s: float = 20.0
    background_per_ugy_h: float = 0.5
    """Particle background per µGy/h of dose rate (the SAA makes observing useless)."""
    electronics_w: float = 250.0
    cooler_w_per_k: float = 5.0
    platform_w: float = 40.0
    hv_v: float = 1200.0
    ambient_c: float = CABIN_TEMP_C


@dataclass(frozen=True)
class AstroState:
    """Instrument state; ``slew_left_deg`` is the angle still to slew."""

    mode: AstroMode = AstroMode.STANDBY
    pointing: PointingMode = PointingMode.IDLE
    detector_temp_c: float = CABIN_TEMP_C
    slew_left_deg: float = 0.0
    hv_v: float = 0.0


def astro_step(
    state: AstroState, in_saa_now: bool, dt_s: float, p: AstroParams | None = None
) -> AstroState:
    """Advance the instrument: cool, slew, observe; high voltage off inside the SAA."""
    p = p or AstroParams()
    cooling = state.mode in (AstroMode.COOLING, AstroMode.OBSERVING, AstroMode.SAA_SAFE)
    temp = _lag(
        state.detector_temp_c,
        p.detector_setpoint_c if cooling else p.ambient_c,
        dt_s,
        p.cooling_tau_s,
    )
    slew = max(0.0, state.slew_left_deg - p.slew_rate_deg_s * dt_s)
    pointing = state.pointing
    if pointing == PointingMode.SLEWING and slew <= 0.0:
        pointing = PointingMode.TRACKING
    mode, hv = state.mode, state.hv_v
    if cooling:
        ready = abs(temp - p.detector_setpoint_c) <= p.ready_band_c
        if in_saa_now:
            mode, hv = AstroMode.SAA_SAFE, 0.0
        elif ready and pointing == PointingMode.TRACKING:
            mode, hv = AstroMode.OBSERVING, p.hv_v
        else:
            mode, hv = AstroMode.COOLING, 0.0
    return AstroState(mode, pointing, temp, slew, hv)


def astro_count_rate_per_s(
    state: AstroState, dose_rate: float, p: AstroParams | None = None
) -> float:
    """Return the detector's event rate (source and particle background), counts/s."""
    p = p or AstroParams()
    if state.hv_v <= 0.0:
        return 0.0
    return p.source_rate_per_s + p.background_rate_per_s + p.background_per_ugy_h * dose_rate


def astro_power_w(state: AstroState, p: AstroParams | None = None) -> float:
    """Return the instrument's draw: electronics, cooler and pointing platform, W."""
    p = p or AstroParams()
    if state.mode == AstroMode.OFF:
        return 0.0
    if state.mode == AstroMode.STANDBY:
        return p.electronics_w / 2
    cooler = p.cooler_w_per_k * max(0.0, p.ambient_c - state.detector_temp_c)
    platform = (
        p.platform_w if state.pointing in (PointingMode.SLEWING, PointingMode.TRACKING) else 0.0
    )
    return p.electronics_w + cooler + platform


# ---------------------------------------------------------------------------------------------
# Telemetry: engineering values by MDB parameter name, one packet each


def chamber_telemetry(
    prefix: str,
    state: ChamberState,
    sp: ChamberSetpoints,
    p: ChamberParams,
    seconds_of_day_utc: float = 0.0,
) -> dict[str, Any]:
    """Return INCUBATOR_HK (``prefix`` ``INC``) or PLANT_HK (``PLANT``) values."""
    power = chamber_power_w(state, sp, p, seconds_of_day_utc)
    if prefix == "INC":
        return {
            "INC_STATE": state.mode.name,
            "INC_TEMP_C": state.temp_c,
            "INC_TEMP_SET_C": sp.temp_c,
            "INC_CO2_PCT": state.co2_pct,
            "INC_CO2_SET_PCT": sp.co2_pct,
            "INC_RH_PCT": state.rh_pct,
            "INC_RH_SET_PCT": sp.rh_pct,
            "INC_DOOR": state.door_open,
            "INC_SPARE": 0,
            "INC_POWER_W": power,
        }
    if prefix == "PLANT":
        lit = chamber_lights_on(sp, seconds_of_day_utc)
        return {
            "PLANT_STATE": state.mode.name,
            "PLANT_TEMP_C": state.temp_c,
            "PLANT_CO2_PPM": state.co2_pct * 1e4,
            "PLANT_RH_PCT": state.rh_pct,
            "PLANT_LIGHT_UMOL": sp.light_umol_m2_s if lit else 0.0,
            "PLANT_PHOTOPERIOD_H": sp.photoperiod_h,
            "PLANT_POWER_W": power,
        }
    raise KeyError(f"chamber telemetry prefix must be INC or PLANT, got {prefix!r}")


def dosimeter_telemetry(
    rec: DosimeterRecord,
    integration_s: int,
    bias_v: float = 80.0,
    detector_temp_c: float = 21.5,
    p: DosimeterParams | None = None,
) -> dict[str, Any]:
    """Return DOSIMETER_DATA values for one record."""
    return {
        "DOSI_STATE": rec.state.mode.name,
        "DOSI_INTEGRATION_S": integration_s,
        "DOSI_COUNTS": rec.counts,
        "DOSI_COUNT_RATE": rec.count_rate_per_s,
        "DOSI_DOSE_RATE_UGY_H": rec.dose_rate_ugy_per_h,
        "DOSI_DOSE_UGY": rec.state.dose_ugy,
        "DOSI_LET_BINS": [min(c, 65535) for c in rec.let_counts],
        "DOSI_DET_TEMP_C": detector_temp_c,
        "DOSI_BIAS_V": bias_v if rec.state.mode == DosimeterMode.MEASURING else 0.0,
        "DOSI_POWER_W": dosimeter_power_w(rec.state, p),
    }


def cold_telemetry(
    states: tuple[ColdUnitState, ColdUnitState, ColdUnitState],
    params: tuple[ColdUnitParams, ColdUnitParams, ColdUnitParams] = COLD_UNITS,
) -> dict[str, Any]:
    """Return COLD_HK values for units A (−80 °C), B (−20 °C) and C (+4 °C)."""
    out: dict[str, Any] = {}
    for unit, s, p in zip("ABC", states, params, strict=True):
        out[f"COLD_{unit}_STATE"] = s.mode.name
        out[f"COLD_{unit}_TEMP_C"] = s.temp_c
        out[f"COLD_{unit}_SETPOINT_C"] = p.setpoint_c
        out[f"COLD_{unit}_POWER_W"] = cold_power_w(s, p)
    return out


def astro_telemetry(
    state: AstroState,
    ra_deg: float,
    dec_deg: float,
    dose_rate: float,
    p: AstroParams | None = None,
) -> dict[str, Any]:
    """Return ASTRO_HK values (``dose_rate`` in µGy/h sets the particle background)."""
    return {
        "ASTRO_STATE": state.mode.name,
        "ASTRO_POINTING": state.pointing.name,
        "ASTRO_DET_TEMP_C": state.detector_temp_c,
        "ASTRO_SPARE": 0,
        "ASTRO_COUNT_RATE": astro_count_rate_per_s(state, dose_rate, p),
        "ASTRO_RA_DEG": ra_deg,
        "ASTRO_DEC_DEG": dec_deg,
        "ASTRO_HV_V": state.hv_v,
        "ASTRO_POWER_W": astro_power_w(state, p),
    }


def station_telemetry(
    *,
    sunlit: bool,
    power_available_w: float,
    power_used_w: float,
    service_power_w: float,
    lat_deg: float,
    lon_deg: float,
    alt_km: float,
    tc_accepted: int = 0,
    tc_rejected: int = 0,
    recorder_fill_pct: float = 0.0,
    recorder_packets: int = 0,
    recorder_overwritten: int = 0,
    attitude_mode: str = "LVLH",
) -> dict[str, Any]:
    """Return STATION_HK values; the margin is computed here, as the station does on board."""
    return {
        "STN_PAYLOAD_POWER_AVAIL_W": power_available_w,
        "STN_PAYLOAD_POWER_USED_W": power_used_w,
        "STN_PAYLOAD_POWER_MARGIN_W": power_available_w - power_used_w,
        "STN_SERVICE_POWER_W": service_power_w,
        "STN_SUNLIGHT": "SUNLIT" if sunlit else "ECLIPSE",
        "STN_ATTITUDE_MODE": attitude_mode,
        "STN_IN_SAA": bool(in_saa(lat_deg, lon_deg, alt_km)),
        "STN_SPARE": 0,
        "STN_LAT_DEG": lat_deg,
        "STN_LON_DEG": lon_deg,
        "STN_ALT_KM": alt_km,
        "STN_TC_ACCEPTED": tc_accepted,
        "STN_TC_REJECTED": tc_rejected,
        "REC_FILL_PCT": recorder_fill_pct,
        "REC_PACKETS": recorder_packets,
        "REC_OVERWRITTEN": recorder_overwritten,
    }


# ---------------------------------------------------------------------------------------------
# Maximum draws, and which model runs which campaign discipline

DISCIPLINE_MODELS: dict[str, str] = {
    "materials science": "furnace",
    "fluid mechanics": "fluid",
    "biological and medical sciences": "incubator",
    "ecology": "plant",
    "space radiation": "dosimeter",
    "astronomy": "astro",
}
"""Campaign discipline → payload model; other disciplines draw their session's ``power_kw``."""


def max_power_w(model: str) -> float:
    """Return the most a payload model can draw while running, W (for the power budget)."""
    if model == "furnace":
        fp = FurnaceParams()
        return fp.electronics_w + fp.heater_max_w
    if model == "fluid":
        fl = FluidParams()
        return fl.electronics_w + fl.camera_w + fl.thermal_max_w
    if model in ("incubator", "plant"):
        cp, sp = INCUBATOR if model == "incubator" else PLANT_HABITAT
        leds = sp.light_umol_m2_s * cp.canopy_area_m2 / cp.led_efficacy_umol_per_j
        worst_dt_k = 40.0 - CABIN_TEMP_C + 1.0 if model == "incubator" else 30.0 - CABIN_TEMP_C + 1
        return cp.base_w + cp.thermal_w_per_k * worst_dt_k + leds
    if model == "dosimeter":
        return DosimeterParams().measuring_w
    if model == "astro":
        ap = AstroParams()
        return (
            ap.electronics_w + ap.cooler_w_per_k * (ap.ambient_c + 80.0) + ap.platform_w
        )  # the detector can read as low as -80 degC
    raise KeyError(
        f"unknown payload model {model!r}; known: {', '.join(DISCIPLINE_MODELS.values())}"
    )


# ---------------------------------------------------------------------------------------------
# The station: position, sunlight and the payload power it grants


def station_geodetic(
    tle: Tle, times: NDArray[np.datetime64]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return the sub-station geodetic latitude, longitude (deg) and altitude (km, WGS84).

    SGP4 (TEME) rotated to the ITRS by :func:`falak.dynamics.tle.teme_to_itrs`, then Bowring's
    closed form (Bowring 1976, Survey Review 23:323; error ≪ 1 m at LEO heights).
    """
    from falak.dynamics.stations import itrs_to_geodetic
    from falak.dynamics.tle import jd_split, propagate_teme, teme_to_itrs

    jd, fr = jd_split(times)
    r, _, _ = propagate_teme(tle, jd, fr)
    x_itrs, _ = teme_to_itrs(r[0], jd, fr)
    return itrs_to_geodetic(x_itrs)


def sunlit_mask(
    tle: Tle, times: NDArray[np.datetime64], model: str = "conical"
) -> NDArray[np.bool_]:
    """Return whether the station is in sunlight at each time (sorted ``datetime64``, UTC).

    Uses the campaign planner's eclipses (:func:`falak.planning.campaign.orbit_env.
    eclipse_intervals`, penumbra counted as eclipse), so the simulator and the plan checker
    agree on when the batteries carry the station.
    """
    from falak.planning.campaign.orbit_env import eclipse_intervals
    from falak.timecodes import datetime64_to_datetimes

    t = np.asarray(times).astype("datetime64[ns]")
    if t.size == 0:
        return np.zeros(0, dtype=bool)
    bounds = datetime64_to_datetimes(np.array([t.min(), t.max()]))
    start, last = (b if b is not None else _dt.datetime.min.replace(tzinfo=_dt.UTC) for b in bounds)
    stop = last + _dt.timedelta(seconds=1)
    lit = np.ones(t.shape, dtype=bool)
    for a, b in eclipse_intervals(tle, start, stop, model):
        ta = np.datetime64(a.astimezone(_dt.UTC).replace(tzinfo=None), "ns")
        tb = np.datetime64(b.astimezone(_dt.UTC).replace(tzinfo=None), "ns")
        lit &= ~((t >= ta) & (t < tb))
    return lit


def payload_power_available_w(sunlit: ArrayLike, campaign: Campaign) -> Any:
    """Return the payload power the station grants, W: the campaign's sunlit or eclipse cap.

    These are the caps :func:`falak.planning.campaign.check_plan` holds a plan to
    (``power: sunlit_kw / eclipse_kw`` in the campaign file).
    """
    lit = np.asarray(sunlit, dtype=bool)
    out = np.where(lit, campaign.sunlit_power_kw, campaign.eclipse_power_kw) * 1000.0
    return _f(out)
