"""The lunar south-pole rover as the simulator runner flies it: mobility, power, link, science.

:func:`create_model` builds a :class:`RoverModel` (the :class:`falak.sim.model.SpacecraftModel`
of the ROVER MDB, ``falak/missions/rover/mdb.yaml``), stepped in simulated time only. The
world (true terrain, hazards, Sun and Earth over it) is :class:`falak.sim.rover_site.Site`;
the instruments are in :mod:`falak.sim.rover_instruments`.

**Terrain.** The DEM is the true terrain: falak's synthetic south-pole DEM
(:func:`falak.terrain.synth.synthesize`, 256² cells of 2 m at 89.9°S by default) or any
GeoTIFF (option ``dem``), with horizons computed from it (or read, option ``horizons``).

**Mobility.** Speeds are a Yutu-2-like rover's: 200 m/h (0.0556 m/s; Yutu-2 drives "at most
~200 m/h", CNSA) and 3 °/s turning in place. A DRIVE turns to its heading, then drives its
distance of *wheel odometry*. The wheels slip: the true distance made good is ``(1 − s)`` of
the wheel distance, with the slip ``s`` the steady-state slip of a wheel on the terrain's
along-track slope from the Janosi–Hanamoto shear–displacement relation integrated over the
contact patch (Wong, *Theory of Ground Vehicles*; the relation terramechanics slip models of
lunar rovers use, e.g. Li & Wang 2014, The Scientific World Journal 396382, whose Table 2 gives
the lunar-soil values used here: cohesion 0.52 kPa, friction angle 42°, shear deformation
modulus K = 0.0178 m): the traction coefficient ``μ(s) = (cA/W + tan φ)(1 − K/(sL)(1 −
e^(−sL/K)))`` must equal ``tan θ + f_r`` on a slope θ (rolling resistance ``f_r`` = 0.05),
for a 35 kg rover on six wheels of 0.10 × 0.06 m contact. That gives about 2.5 % slip on the
flat, 12 % at 10° and 27 % at 20° uphill (0 downhill, skid is left out); a cross slope makes
the rover sideslip downhill by half the slip of its roll angle (illustrative). Odometry
counts wheel turns and the IMU heading (with a slow random-walk bias), so the estimated pose
(ROVER_HK) drifts from the true one (SIM_TRUTH) by the slip it does not see.

**Hazard check.** Before moving, a DRIVE or GOTO is checked along its straight leg from the
*estimated* pose against the on-board map (the DEM's slope over the footprint, its steps where
it resolves them, the rock list): a leg that enters a cell steeper than MAX_SLOPE_DEG or meets
a step higher than MAX_STEP_M is refused, FAILED with reason HAZARD and an event naming the
place. While moving, the check looks ``LOOKAHEAD_M`` ahead (not past the leg's end) on the
*true* terrain at the true pose, and before every move it checks the cell it would enter:
the rover stops before the hazard (mobility HAZARD_STOP, an event, FAILED with HAZARD). So the
rover never enters a cell over its leg's slope limit, whatever the slip (the test drives it
at random to show it). The map check uses the ground's hazard map (rocks where
:func:`~falak.terrain.hazards.hazards` marks them, the cells a planner avoids); the true
terrain check uses every rock's size (a rock higher than MAX_STEP_M within half the wheel
base plus its radius of the rover's centre), so a route planned close to a large rock can be
stopped on the way: the rover's own hazard avoidance, as on a real traverse.

**Power and thermal.** Four vertical solar panels (one per side, ``PANEL_PEAK_W`` each at
normal incidence) see the visible share of the solar disk over the terrain horizon at the
rover's cell (falak's illumination kernel, the same numbers as ``falak terrain illumination``)
and the Sun's azimuth against the rover's heading. The battery (``BATTERY_WH``, 8-cell
Li-ion) charges with what the loads leave. Temperatures relax towards equilibria that depend
on sunlight and dissipation (first order, hours); in shadow the battery heater holds the
battery at 0–5 °C (it is not charged below −10 °C) and drains it. The rover refuses to drive
below 20 % charge or with motors colder than −40 °C, and goes to SURVIVAL (instruments off,
no driving) below 15 % until it is back above 30 %.

**Link.** Contact windows are the times the Earth's centre is above the terrain horizon at
the rover's cell (option ``contacts``: ``earth``, the default), or the relay (a Queqiao-2-like
orbit, :func:`falak.dynamics.relay.queqiao2_like`) is above it and sees the Earth past the
Moon (``relay``), or either (``earth+relay``), or ``always`` (tests); their edges are on the
60 s table. They are computed at the rover's position when the runner asks (a day ahead),
so a drive into the Earth's shadow shows at the next ask. The one-way light time is the real
rover–Earth distance (DE421) over c, ≈ 1.28 s (relay hop added through the relay).

Options of :func:`create_model` (:data:`OPTIONS`): ``dem``, ``horizons``, ``dem_size``,
``dem_resolution_m``, ``site_lat_deg``, ``site_lon_deg``, ``n_azimuths``, ``start_x_m``,
``start_y_m``, ``start_heading_deg``, ``contacts``, ``battery_soc_pct``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from falak.mdb import MissionDatabase, load
from falak.sim.model import (
    AckStage,
    CommandOutcome,
    ContactWindow,
    OnboardEvent,
    TmPacket,
    cmd_ack_packet,
    event_tm_packet,
)
from falak.sim.rover_instruments import (
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    STEREO_BASELINE_M,
    CompositionMap,
    Dosimeter,
    SpectrumTruth,
    measure_soil,
    render_navcam,
    simulate_spectrum,
)
from falak.sim.rover_site import Site
from falak.terrain.hazards import Rover

__all__ = [
    "DRIVE_SPEED_M_S",
    "LEG_MAX_M",
    "MDB_PATH",
    "NAVCAM_TRUTH_MAX",
    "OPTIONS",
    "TURN_RATE_DEG_S",
    "NavcamTruth",
    "RoverModel",
    "create_model",
    "slip_of_slope",
]

MDB_PATH = Path(__file__).resolve().parents[1] / "missions" / "rover" / "mdb.yaml"
"""The ROVER mission database the model flies."""

OPTIONS = (
    "dem",
    "horizons",
    "dem_size",
    "dem_resolution_m",
    "site_lat_deg",
    "site_lon_deg",
    "n_azimuths",
    "start_x_m",
    "start_y_m",
    "start_heading_deg",
    "contacts",
    "battery_soc_pct",
)
CONTACTS = ("earth", "relay", "earth+relay", "always")

_NS = 1_000_000_000
DRIVE_SPEED_M_S = 200.0 / 3600.0  # Yutu-2: at most ~200 m/h (CNSA; REFERENCES.md)
TURN_RATE_DEG_S = 3.0
LEG_MAX_M = 20.0
LOOKAHEAD_M = 0.5
#: Stereo pairs whose truth the model keeps (:attr:`RoverModel.navcam_truth`).
NAVCAM_TRUTH_MAX = 64
_CHUNK_M = 0.05  # a move is checked and integrated in pieces of at most this
_SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
_SOURCES = (
    "ROVER", "MOBILITY", "HAZARD", "POWER", "THERMAL", "NAVCAM", "SPECTROMETER", "DOSIMETER",
    "TC_HANDLER", "RECORDER", "SIMULATOR",
)  # fmt: skip
_PERIODS_S = {"hk": 4.0, "pwr": 4.0, "th": 10.0, "truth": 10.0, "dosi": 60.0}  # the MDB's
FAULTS = (
    "CLEAR_ALL",
    "WHEEL_STUCK",
    "BATTERY_DEGRADED",
    "HEATER_FAILED",
    "SOLAR_PARTICLE_EVENT",
    "IMU_DRIFT",
)

# -- terramechanics (module doc): Li & Wang 2014 Table 2 lunar soil, Janosi-Hanamoto ---------
SOIL_COHESION_PA = 520.0
SOIL_FRICTION_DEG = 42.0
SHEAR_MODULUS_K_M = 0.0178
ROVER_MASS_KG = 35.0  # Pakistan's Chang'e-8 rover class (SUPARCO, as reported)
MOON_GRAVITY_M_S2 = 1.62
WHEELS = 6
CONTACT_WIDTH_M = 0.10
CONTACT_LENGTH_M = 0.06
ROLLING_RESISTANCE = 0.05
SIDESLIP_GAIN = 0.5

# -- power and thermal (illustrative numbers for a ~35 kg rover) -----------------------------
PANEL_PEAK_W = 60.0
BATTERY_WH = 400.0
CELLS = 8
AVIONICS_W = 12.0
SURVIVAL_AVIONICS_W = 5.0
RADIO_W = 6.0
HEATER_W = 15.0
DRIVE_W = 10.0
CLIMB_W_PER_TAN = 60.0
TURN_W = 8.0
NAVCAM_W = 4.0
SPECTROMETER_W = 3.0
DOSIMETER_W = 1.5
DRIVE_MIN_SOC = 0.20
SURVIVAL_SOC = 0.15
SURVIVAL_EXIT_SOC = 0.30
MOTOR_MIN_C = -40.0
HEATER_ON_C = 0.0  # battery thermostat
HEATER_OFF_C = 5.0
CHARGE_MIN_C = -10.0  # a Li-ion battery is not charged colder than this (illustrative)


def _traction(slip: np.ndarray) -> np.ndarray:
    """Janosi-Hanamoto traction coefficient T/W of one wheel at slip ``s`` (module doc)."""
    w = ROVER_MASS_KG * MOON_GRAVITY_M_S2 / WHEELS
    mu_max = (SOIL_COHESION_PA * CONTACT_WIDTH_M * CONTACT_LENGTH_M) / w + math.tan(
        math.radians(SOIL_FRICTION_DEG)
    )
    x = np.maximum(slip, 1e-9) * CONTACT_LENGTH_M / SHEAR_MODULUS_K_M
    out: np.ndarray = mu_max * (1.0 - (1.0 - np.exp(-x)) / x)
    return out


_SLIP_GRID = np.linspace(0.0, 1.0, 2001)
_TRACTION_GRID = _traction(_SLIP_GRID)


def slip_of_slope(slope_deg: float, *, rolling_resistance: float = ROLLING_RESISTANCE) -> float:
    """Steady-state slip (0..1) climbing ``slope_deg`` (negative: downhill, no skid: 0)."""
    need = math.tan(math.radians(slope_deg)) + rolling_resistance
    if need <= 0:
        return 0.0
    if need >= _TRACTION_GRID[-1]:
        return 1.0
    return float(np.interp(need, _TRACTION_GRID, _SLIP_GRID))


@cache
def _mdb() -> MissionDatabase:
    return load(MDB_PATH)


@dataclass(frozen=True)
class NavcamTruth:
    """What a navigation camera took: its pixels as downlinked (8-bit grey, row-major) and
    where it truly was (camera x, y in projected m, heading) and where the rover thought."""

    image_id: int
    camera: str
    time_ns: int
    width: int
    height: int
    pixels: bytes
    true_pose: tuple[float, float, float]
    est_pose: tuple[float, float, float]


@dataclass
class Motion:
    """A DRIVE, TURN or GOTO in progress."""

    command: str
    heading_deg: float
    distance_m: float
    max_slope_deg: float
    max_step_m: float
    driven_m: float = 0.0
    turning: bool = True
    stuck_s: float = 0.0
    result: CommandOutcome | None = None


def _wrap180(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


class RoverModel:
    """The rover model (see the module doc)."""

    def __init__(self, epoch_ns: int, site: Site, *, seed: int, opts: dict[str, Any]) -> None:
        self.mdb = _mdb()
        self.name = self.mdb.root.name
        self.epoch_ns = int(epoch_ns)
        self.site = site
        self.rng = np.random.default_rng(seed)
        self.contacts = str(opts.get("contacts", "earth"))
        if self.contacts not in CONTACTS:
            raise ValueError(f"rover contacts must be one of {', '.join(CONTACTS)}")
        x0, y0 = self._start(opts)
        self.x, self.y = x0, y0
        self.heading = float(opts.get("start_heading_deg", 0.0)) % 360.0
        self.est_x, self.est_y, self.est_heading = x0, y0, self.heading
        self.imu_bias_deg_s = 0.0
        self.odometer_m = 0.0
        self.mode = "NOMINAL"
        self.mob_state = "IDLE"
        self.last_stop = "NONE"
        self.motion: Motion | None = None
        self.slip = 0.0
        self.ahead_slope = 0.0
        self.ahead_step = 0.0
        self.capacity_wh = BATTERY_WH
        self.soc = float(opts.get("battery_soc_pct", 80.0)) / 100.0
        self.solar_w = 0.0
        self.load_w = 0.0
        self.sun_fraction = 0.0
        self.web_c = 10.0
        self.batt_c = 5.0
        self.motor_c = -20.0
        self.heater = False
        self.faults: set[str] = set()
        self.dosi_on = False
        self.dose_ugy = 0.0
        self.dosimeter = Dosimeter(np.random.default_rng(seed + 1), self.epoch_ns)
        self.composition = CompositionMap.build(site, seed)
        self.spec_until_ns: int | None = None
        self.spec_result: CommandOutcome | None = None
        self.spec_integration_s = 0
        #: every spectrum's truth (composition at the true position, gain, offset, geometry)
        self.spec_truth: list[SpectrumTruth] = []
        self._spec_rng = np.random.default_rng(seed + 2)
        self.navcam_busy_until_ns = 0
        self.image_id = 0
        #: the images' truth, by (IMG_ID, camera): the last NAVCAM_TRUTH_MAX pairs taken
        self.navcam_truth: dict[tuple[int, str], NavcamTruth] = {}
        self.tc_accepted = 0
        self.tc_rejected = 0
        self.rec = (0.0, 0, 0)
        self._t = self.epoch_ns
        self._out: list[TmPacket] = []
        self._next = dict.fromkeys(("hk", "mob", "pwr", "th", "truth", "dosi"), self.epoch_ns)
        self._dosi_start_ns = self.epoch_ns

    def _start(self, opts: Mapping[str, Any]) -> tuple[float, float]:
        site = self.site
        if "start_x_m" in opts or "start_y_m" in opts:
            x, y = float(opts["start_x_m"]), float(opts["start_y_m"])
            if site.hazard_at(x, y, 20.0, 0.15):
                raise ValueError(
                    f"start ({x:.1f}, {y:.1f}) m is not a safe place for the rover on {site.dem!r}"
                )
            return x, y
        # the gentlest rock-free cell near the centre
        cx, cy = site.dem.center_xy_m
        ny, nx = site.dem.shape
        r0, c0 = ny // 2, nx // 2
        best = None
        for radius in range(0, min(ny, nx) // 2 - 3):
            for r in range(r0 - radius, r0 + radius + 1):
                for c in range(c0 - radius, c0 + radius + 1):
                    if max(abs(r - r0), abs(c - c0)) != radius:
                        continue
                    x = float(site.dem.x_m[c])
                    y = float(site.dem.y_m[r])
                    if site.slope_deg[r, c] < 5.0 and not site.hazard_at(x, y, 5.0, 0.05):
                        best = (x, y)
                        break
                if best:
                    break
            if best:
                return best
        return cx, cy

    # -- physics ------------------------------------------------------------------------------

    def _advance(self, now_ns: int) -> None:
        """Integrate from the last time to ``now_ns`` (sub-steps of at most 1 s moving)."""
        while self._t < now_ns:
            limit = 1.0 if self.motion is not None else 30.0
            dt_ns = min(now_ns - self._t, round(limit * _NS))
            self._t += dt_ns
            self._tick(dt_ns / _NS, self._t)

    def _tick(self, dt: float, t: int) -> None:
        self.dosimeter.update(t)
        if self.motion is not None:
            self._move(dt, t)
        # solar input
        self.sun_fraction = self.site.sun_fraction(t, self.x, self.y)
        az, el = self.site.sun_direction(t, self.x, self.y)
        faces = sum(
            max(0.0, math.cos(math.radians(az - self.heading - 90.0 * k))) for k in range(4)
        )
        self.solar_w = PANEL_PEAK_W * self.sun_fraction * faces * math.cos(math.radians(el))
        # loads
        survival = self.mode == "SURVIVAL"
        load = SURVIVAL_AVIONICS_W if survival else AVIONICS_W + RADIO_W
        if self.heater:
            load += HEATER_W
        m = self.motion
        if m is not None:
            if m.turning:
                load += TURN_W
            else:
                pitch, _ = self.site.tilt_deg(self.x, self.y, self.heading)
                load += DRIVE_W + CLIMB_W_PER_TAN * max(0.0, math.tan(math.radians(pitch)))
        if t < self.navcam_busy_until_ns:
            load += NAVCAM_W
        if self.spec_until_ns is not None:
            load += SPECTROMETER_W
        if self.dosi_on:
            load += DOSIMETER_W
        self.load_w = load
        charge_wh = (self.solar_w * (0.95 if self.solar_w > load else 1.0) - load) * dt / 3600.0
        if self.batt_c < CHARGE_MIN_C and charge_wh > 0:  # Li-ion: no charging when cold
            charge_wh = 0.0
        self.soc = min(1.0, max(0.0, self.soc + charge_wh / self.capacity_wh))
        # thermal: first-order relaxation towards equilibria (module doc)
        internal = load - (self.heater * HEATER_W)
        web_eq = -70.0 + 60.0 * self.sun_fraction + 2.0 * internal + 2.5 * HEATER_W * self.heater
        self.web_c += (web_eq - self.web_c) * (1 - math.exp(-dt / (3 * 3600.0)))
        batt_eq = self.web_c + (15.0 if self.heater else 0.0)
        self.batt_c += (batt_eq - self.batt_c) * (1 - math.exp(-dt / 3600.0))
        motor_w = 0.0 if m is None else (TURN_W if m.turning else DRIVE_W)
        motor_eq = -120.0 + 130.0 * self.sun_fraction + 4.0 * motor_w
        self.motor_c += (motor_eq - self.motor_c) * (1 - math.exp(-dt / (2 * 3600.0)))
        if "HEATER_FAILED" in self.faults:
            self.heater = False
        elif self.batt_c < HEATER_ON_C:
            self.heater = True
        elif self.batt_c > HEATER_OFF_C:
            self.heater = False
        # modes
        if self.mode != "SURVIVAL" and self.soc < SURVIVAL_SOC:
            self._enter_survival(t)
        elif self.mode == "SURVIVAL" and self.soc > SURVIVAL_EXIT_SOC:
            self.mode = "NOMINAL"
            self._event("INFO", "battery above 30 %: NOMINAL mode", "POWER", 302)
        # spectrometer and dosimeter
        if self.spec_until_ns is not None and t >= self.spec_until_ns:
            self._spec_result(t)
        if self.dosi_on:
            self.dose_ugy += self.dosimeter.truth_rate(t) * dt / 3600.0

    def _enter_survival(self, t: int) -> None:
        self.mode = "SURVIVAL"
        if self.motion is not None:
            self._end_motion("POWER", "battery low: SURVIVAL mode", "EXECUTION_FAILED")
        self.dosi_on = False
        if self.spec_until_ns is not None:
            self.spec_until_ns = None
            self.spec_result = CommandOutcome(
                ok=False, reason="EXECUTION_FAILED", message="SPEC_MEASURE: cut short by SURVIVAL"
            )
        self._event("CRITICAL", f"battery {self.soc:.0%}: SURVIVAL mode", "POWER", 301)

    def _move(self, dt: float, t: int) -> None:
        m = self.motion
        assert m is not None
        if m.turning:
            err = _wrap180(m.heading_deg - self.est_heading)
            step = min(abs(err), TURN_RATE_DEG_S * dt)
            turn = math.copysign(step, err)
            self.heading = (self.heading + turn) % 360.0
            self.est_heading = (self.est_heading + turn + self.imu_bias_deg_s * dt) % 360.0
            self._drift_imu(dt)
            self.mob_state = "TURNING"
            if abs(err) - step < 1e-6:
                if m.command == "TURN" or m.distance_m <= 0:
                    self._end_motion("COMPLETED", "", "OK")
                    return
                m.turning = False
            return
        self.mob_state = "DRIVING"
        wheel = min(DRIVE_SPEED_M_S * dt, m.distance_m - m.driven_m)
        self._drift_imu(dt)
        while wheel > 1e-9 and self.motion is m:
            dw = min(wheel, _CHUNK_M)
            wheel -= dw
            if not self._drive_chunk(m, dw, dt * dw / max(DRIVE_SPEED_M_S * dt, 1e-12)):
                return
        if self.motion is m and m.driven_m >= m.distance_m - 1e-9:
            self._end_motion("COMPLETED", "", "OK")

    def _drift_imu(self, dt: float) -> None:
        self.imu_bias_deg_s += self.rng.normal(0.0, 2e-6) * math.sqrt(dt)
        if "IMU_DRIFT" in self.faults:
            self.est_heading = (self.est_heading + 0.5 / 60.0 * dt) % 360.0

    def _drive_chunk(self, m: Motion, dw: float, dt: float) -> bool:
        """Drive ``dw`` metres of wheel odometry; False when the motion ended (hazard, stuck)."""
        site = self.site
        pitch, roll = site.tilt_deg(self.x, self.y, self.heading)
        s = slip_of_slope(pitch)
        s = min(1.0, max(0.0, s * (1.0 + 0.1 * self.rng.normal())))
        if "WHEEL_STUCK" in self.faults:
            s = 1.0
            m.stuck_s += dt
            if m.stuck_s > 20.0:
                self.mob_state = "STUCK"
                self._end_motion(
                    "STUCK", "wheels turn but the rover does not move", "EXECUTION_FAILED"
                )
                return False
        side = SIDESLIP_GAIN * slip_of_slope(abs(roll), rolling_resistance=0.0)
        h = math.radians(self.heading)
        fwd = dw * (1.0 - s)
        right = dw * side * (1.0 if roll > 0 else -1.0)  # downhill: roll > 0 is right side down
        nx = self.x + fwd * math.sin(h) + right * math.cos(h)
        ny = self.y + fwd * math.cos(h) - right * math.sin(h)
        here = site.cell(self.x, self.y)
        # the hazard check on the true terrain: the place it would enter and the view ahead
        reason, where = self._hazard_ahead(nx, ny, h, m, here)
        if reason:
            self.mob_state = "HAZARD_STOP"
            slope = site.slope_at(*where) if reason != "OFF_MAP" else float("nan")
            if reason == "SLOPE":
                why = f"slope {slope:.1f} deg > MAX_SLOPE_DEG {m.max_slope_deg:g}"
            elif reason == "STEP":
                step = max(site.rock_step_m(*where), float(site.step_m[site.cell(*where)]))
                why = f"step {step:.2f} m > MAX_STEP_M {m.max_step_m:g}"
            else:
                why = "the edge of the on-board map"
            msg = (
                f"hazard stop at ({self.x:.2f}, {self.y:.2f}) m: {why} at "
                f"({where[0]:.2f}, {where[1]:.2f}) m ahead"
            )
            self._end_motion(f"HAZARD_{reason}", msg, "HAZARD")
            return False
        self.x, self.y = nx, ny
        self.slip = s
        m.driven_m += dw
        self.odometer_m += dw
        eh = math.radians(self.est_heading)
        self.est_x += dw * math.sin(eh)
        self.est_y += dw * math.cos(eh)
        return True

    def _hazard_ahead(
        self, nx: float, ny: float, h: float, m: Motion, here: tuple[int, int] | None
    ) -> tuple[str, tuple[float, float]]:
        site = self.site
        worst_slope, worst_step = 0.0, 0.0
        ahead = min(LOOKAHEAD_M, m.distance_m - m.driven_m)  # not past the leg's end
        points = [(nx, ny)] + [
            (nx + d * math.sin(h), ny + d * math.cos(h)) for d in np.arange(0.1, ahead + 1e-9, 0.1)
        ]
        found: tuple[str, tuple[float, float]] = ("", (nx, ny))
        for px, py in points:
            rc = site.cell(px, py)
            if rc is not None:
                worst_slope = max(worst_slope, float(site.slope_deg[rc]))
                worst_step = max(worst_step, float(site.step_m[rc]), site.rock_step_m(px, py))
            reason = site.hazard_at(px, py, m.max_slope_deg, m.max_step_m)
            if reason == "SLOPE" and rc == here:
                reason = ""  # already standing in it (a leg with a higher limit left it here)
            if reason and not found[0]:
                found = (reason, (px, py))
        self.ahead_slope, self.ahead_step = worst_slope, worst_step
        return found

    def _end_motion(self, stop: str, message: str, reason: str) -> None:
        m = self.motion
        if m is None:
            return
        self.last_stop = stop
        if reason == "OK":
            m.result = CommandOutcome()
            self.mob_state = "IDLE"
        else:
            source = "HAZARD" if reason == "HAZARD" else "MOBILITY"
            ev = OnboardEvent("WARNING", f"{m.command}: {message}", source, 200)
            m.result = CommandOutcome(ok=False, reason=reason, message=message, events=[ev])
            if self.mob_state not in ("HAZARD_STOP", "STUCK"):
                self.mob_state = "IDLE"
        self.motion = None
        self.slip = 0.0

    # -- packets ------------------------------------------------------------------------------

    def _event(self, severity: str, message: str, source: str, event_id: int) -> None:
        self._out.append(self.event_packet(OnboardEvent(severity, message, source, event_id)))

    def _imu_tilt(self) -> tuple[float, float]:
        pitch, roll = self.site.tilt_deg(self.x, self.y, self.heading)
        return pitch + self.rng.normal(0, 0.05), roll + self.rng.normal(0, 0.05)

    def _hk(self, t: int) -> TmPacket:
        pitch, roll = self._imu_tilt()
        return TmPacket(
            "ROVER_HK",
            {
                "ROV_MODE": self.mode,
                "ROV_MOB_STATE": self.mob_state,
                "ROV_EST_X_M": self.est_x,
                "ROV_EST_Y_M": self.est_y,
                "ROV_EST_HEADING_DEG": self.est_heading % 360.0,
                "ROV_PITCH_DEG": pitch,
                "ROV_ROLL_DEG": roll,
                "ROV_ODOMETER_M": self.odometer_m,
                "ROV_LAST_STOP": self.last_stop,
                "ROV_TC_ACCEPTED": self.tc_accepted & 0xFFFF,
                "ROV_TC_REJECTED": self.tc_rejected & 0xFFFF,
                "REC_FILL_PCT": self.rec[0],
                "REC_PACKETS": self.rec[1],
                "REC_OVERWRITTEN": self.rec[2],
            },
            t,
        )

    def _mobility(self, t: int) -> TmPacket:
        m = self.motion
        pitch, _ = self._imu_tilt()
        moving = m is not None and not m.turning
        return TmPacket(
            "MOBILITY",
            {
                "MOB_STATE": self.mob_state,
                "MOB_TARGET_HEADING_DEG": (m.heading_deg if m else self.est_heading) % 360.0,
                "MOB_SPEED_MS": DRIVE_SPEED_M_S if moving else 0.0,
                "MOB_LEG_ODO_M": m.driven_m if m else 0.0,
                "MOB_LEG_REMAINING_M": max(0.0, m.distance_m - m.driven_m) if m else 0.0,
                "MOB_SLIP_EST_PCT": 100.0 * slip_of_slope(pitch) if moving else 0.0,
                "MOB_AHEAD_SLOPE_DEG": self.ahead_slope,
                "MOB_AHEAD_STEP_M": self.ahead_step,
                "MOB_MAX_SLOPE_DEG": m.max_slope_deg if m else 0.0,
                "MOB_MAX_STEP_M": m.max_step_m if m else 0.0,
                "MOB_MOTOR_I_A": (
                    0.0 if m is None else (TURN_W if m.turning else DRIVE_W) / self.bus_v
                ),
            },
            t,
        )

    @property
    def bus_v(self) -> float:
        """Battery (bus) voltage from the state of charge, 3.2..4.15 V per cell."""
        return CELLS * (3.2 + 0.95 * self.soc)

    def _power(self, t: int) -> TmPacket:
        return TmPacket(
            "POWER",
            {
                "PWR_SOLAR_W": self.solar_w,
                "PWR_LOAD_W": self.load_w,
                "PWR_BATT_SOC_PCT": 100.0 * self.soc,
                "PWR_BUS_V": self.bus_v,
                "PWR_BATT_I_A": (self.solar_w - self.load_w) / self.bus_v,
                "PWR_SUN_SENSOR_PCT": 100.0 * self.sun_fraction,
            },
            t,
        )

    def _thermal(self, t: int) -> TmPacket:
        return TmPacket(
            "THERMAL",
            {
                "TH_WEB_C": self.web_c,
                "TH_BATT_C": self.batt_c,
                "TH_MOTOR_C": self.motor_c,
                "TH_HEATER": self.heater,
                "TH_SPARE": 0,
                "TH_HEATER_W": HEATER_W if self.heater else 0.0,
            },
            t,
        )

    def truth(self, t: int) -> dict[str, Any]:
        """The true state (SIM_TRUTH's values)."""
        rc = self.site.cell(self.x, self.y)
        earth = relay = False
        if rc is not None:
            day, (_, e, r) = self.site.cell_series(t, rc)
            i = min(int((t - day.start_ns) // day.step_ns), len(e) - 1)
            earth = bool(e[i])
            relay = bool(r[i]) if r is not None else False
        return {
            "TRUTH_X_M": self.x,
            "TRUTH_Y_M": self.y,
            "TRUTH_HEIGHT_M": self.site.height_at(self.x, self.y),
            "TRUTH_HEADING_DEG": self.heading % 360.0,
            "TRUTH_SLOPE_DEG": self.site.slope_at(self.x, self.y),
            "TRUTH_SLIP_PCT": 100.0 * self.slip,
            "TRUTH_SUN_FRACTION_PCT": 100.0 * self.sun_fraction,
            "TRUTH_EARTH_VISIBLE": earth,
            "TRUTH_RELAY_VISIBLE": relay,
            "TRUTH_SPE_ACTIVE": self.dosimeter.spe_active,
            "TRUTH_SPARE": 0,
            "TRUTH_DOSE_RATE_UGY_H": self.dosimeter.truth_rate(t),
        }

    def _dosi(self, t: int) -> TmPacket:
        counts, rate = self.dosimeter.record(t - 60 * _NS, t)
        return TmPacket(
            "DOSIMETER_DATA",
            {
                "DOSI_STATE": "MEASURING",
                "DOSI_INTEGRATION_S": 60,
                "DOSI_COUNTS": counts,
                "DOSI_DOSE_RATE_UGY_H": rate,
                "DOSI_DOSE_UGY": self.dose_ugy,
            },
            t,
        )

    def _spec_result(self, t: int) -> None:
        truth = self.composition.truth_wt_pct(self.x, self.y)
        wt, sigma, total = measure_soil(truth, self.spec_integration_s, self.rng)
        spectrum = simulate_spectrum(
            self.composition.spectrum_truth_wt_pct(self.x, self.y),
            float(self.spec_integration_s),
            self._spec_rng,
        )
        self.spec_truth.append(spectrum)
        self._out.append(
            TmPacket(
                "SPECTRUM_RESULT",
                {
                    "SPEC_INTEGRATION_S": self.spec_integration_s,
                    "SPEC_EST_X_M": self.est_x,
                    "SPEC_EST_Y_M": self.est_y,
                    "SPEC_TOTAL_COUNTS": total,
                    "SPEC_OXIDES_WT": [float(v) for v in wt],
                    "SPEC_SIGMA_WT": [float(v) for v in sigma],
                    "SPEC_COUNTS": [int(v) for v in spectrum.counts],
                },
                t,
            )
        )
        self.spec_until_ns = None
        self.spec_result = CommandOutcome()

    # -- the protocol -------------------------------------------------------------------------

    def _period_s(self, key: str) -> float:
        if key == "mob":
            return 1.0 if self.motion is not None else 10.0
        return _PERIODS_S[key]

    def step(self, now_ns: int) -> list[TmPacket]:
        """Advance to ``now_ns``; return the packets due (each with its own time)."""
        self._catch_up(now_ns)
        out, self._out = self._out, []
        return out

    def _catch_up(self, now_ns: int) -> None:
        """Advance to ``now_ns``, making the packets due on the way (each at its own state)."""
        for key, due in self._next.items():  # started late or paused: no packets for the gap
            if due < now_ns - 3600 * _NS:
                self._next[key] = now_ns
        while True:
            key = min(self._next, key=self._next.__getitem__)
            due = self._next[key]
            if due > now_ns:
                break
            self._advance(due)
            if key == "hk":
                self._out.append(self._hk(due))
            elif key == "mob":
                self._out.append(self._mobility(due))
            elif key == "pwr":
                self._out.append(self._power(due))
            elif key == "th":
                self._out.append(self._thermal(due))
            elif key == "truth":
                self._out.append(TmPacket("SIM_TRUTH", self.truth(due), due))
            elif key == "dosi" and self.dosi_on:
                self._out.append(self._dosi(due))
            self._next[key] = due + round(self._period_s(key) * _NS)
            if key == "mob" and self.motion is not None:  # a drive started: 1 s from now
                self._next["mob"] = min(self._next["mob"], due + _NS)
        self._advance(now_ns)

    def execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Execute a rover command (MDB ``commands``); refusals say why."""
        self._catch_up(now_ns)
        outcome = self._execute(command, args, now_ns)
        if outcome.ok:
            self.tc_accepted += 1
        return outcome

    def _execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        if command == "NOOP":
            return CommandOutcome()
        if command in ("DRIVE", "GOTO", "TURN"):
            return self._start_motion(command, args, now_ns)
        if command == "STOP":
            if self.motion is not None:
                self._end_motion("STOP_COMMAND", "stopped by STOP", "EXECUTION_FAILED")
                self.mob_state = "IDLE"
            return CommandOutcome(complete_after_s=1.0)
        if self.mode == "SURVIVAL":
            return _refuse(f"{command}: SURVIVAL mode (battery {self.soc:.0%}); instruments off")
        if command == "NAVCAM_CAPTURE":
            return self._capture(int(args.get("EXPOSURE_MS", 20)), now_ns)
        if command == "SPEC_MEASURE":
            if self.motion is not None:
                return _refuse("SPEC_MEASURE: the rover is moving; measure at rest")
            if self.spec_until_ns is not None:
                return _refuse("SPEC_MEASURE: a measurement is in progress")
            self.spec_integration_s = int(args.get("INTEGRATION_S", 600))
            self.spec_until_ns = now_ns + self.spec_integration_s * _NS
            self.spec_result = None
            return CommandOutcome(
                complete_after_s=float(self.spec_integration_s), finish=lambda t: self.spec_result
            )
        if command == "DOSI_START":
            self.dosi_on = True
            self.dose_ugy = 0.0
            self._next["dosi"] = now_ns + 60 * _NS
            return CommandOutcome(complete_after_s=1.0)
        if command == "DOSI_STOP":
            self.dosi_on = False
            return CommandOutcome(complete_after_s=1.0)
        return CommandOutcome(
            ok=False, reason="EXECUTION_FAILED", message=f"{command}: not implemented on board"
        )

    def _start_motion(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        if self.mode != "NOMINAL":
            return _refuse(f"{command}: {self.mode} mode; no driving")
        if self.motion is not None:
            return _refuse(f"{command}: a {self.motion.command} is in progress; send STOP first")
        if self.spec_until_ns is not None:
            return _refuse(f"{command}: the spectrometer is measuring; wait for it")
        if command != "TURN" and self.soc < DRIVE_MIN_SOC:
            return _refuse(f"{command}: battery {self.soc:.0%} < {DRIVE_MIN_SOC:.0%}")
        if self.motor_c < MOTOR_MIN_C:
            return _refuse(
                f"{command}: drive motors at {self.motor_c:.0f} degC, below "
                f"{MOTOR_MIN_C:.0f} degC; wait for sunlight"
            )
        max_slope = float(args.get("MAX_SLOPE_DEG", 15.0))
        max_step = float(args.get("MAX_STEP_M", 0.10))
        if command == "GOTO":
            dx = float(args["X_M"]) - self.est_x
            dy = float(args["Y_M"]) - self.est_y
            distance = math.hypot(dx, dy)
            if distance > LEG_MAX_M:
                return CommandOutcome(
                    ok=False,
                    reason="ARGUMENT_OUT_OF_RANGE",
                    message=(
                        f"GOTO: waypoint {distance:.1f} m away; a leg is at most {LEG_MAX_M:g} m"
                    ),
                )
            heading = math.degrees(math.atan2(dx, dy)) % 360.0 if distance > 0 else self.est_heading
        elif command == "TURN":
            heading, distance = float(args["HEADING_DEG"]) % 360.0, 0.0
        else:
            heading = float(args["HEADING_DEG"]) % 360.0
            distance = float(args["DISTANCE_M"])
        if distance > 0:
            known = self._known_hazard(heading, distance, max_slope, max_step)
            if known:  # the runner's FAILED event says why
                return CommandOutcome(ok=False, reason="HAZARD", message=known)
        m = Motion(command, heading, distance, max_slope, max_step)
        self.motion = m
        self.mob_state = "TURNING"
        self._next["mob"] = min(self._next["mob"], now_ns + _NS)
        return CommandOutcome(finish=lambda t: m.result)

    def _known_hazard(
        self, heading: float, distance: float, max_slope: float, max_step: float
    ) -> str:
        """Why the leg from the estimated pose crosses a known hazard ("" if it does not)."""
        site = self.site
        h = math.radians(heading)
        here = site.cell(self.est_x, self.est_y)
        for d in [*np.arange(0.1, distance, 0.1), distance]:
            px = self.est_x + d * math.sin(h)
            py = self.est_y + d * math.cos(h)
            reason = site.map_hazard_at(px, py, max_slope, max_step)
            if reason == "SLOPE" and site.cell(px, py) == here:
                continue
            if reason == "SLOPE":
                return (
                    f"leg crosses slope {site.slope_at(px, py):.1f} deg > MAX_SLOPE_DEG "
                    f"{max_slope:g} at ({px:.1f}, {py:.1f}) m, {d:.1f} m along it"
                )
            if reason == "STEP":
                return f"leg meets a step over MAX_STEP_M {max_step:g} at ({px:.1f}, {py:.1f}) m"
            if reason == "OFF_MAP":
                return f"leg leaves the on-board map at ({px:.1f}, {py:.1f}) m"
        return ""

    def _capture(self, exposure_ms: int, now_ns: int) -> CommandOutcome:
        if now_ns < self.navcam_busy_until_ns:
            return _refuse("NAVCAM_CAPTURE: the cameras are reading out the last pair")
        self.image_id += 1
        t = now_ns + exposure_ms * 1_000_000
        az, el = self.site.sun_direction(now_ns, self.x, self.y)
        packets: list[TmPacket] = []
        h = math.radians(self.heading)
        for cam, offset in (("LEFT", -STEREO_BASELINE_M / 2), ("RIGHT", STEREO_BASELINE_M / 2)):
            cx = self.x + offset * math.cos(h)
            cy = self.y - offset * math.sin(h)
            img = render_navcam(self.site, cx, cy, self.heading, az, el, exposure_ms, self.rng)
            data = img.tobytes()
            key = (self.image_id & 0xFFFF, cam)
            self.navcam_truth.pop(key, None)
            self.navcam_truth[key] = NavcamTruth(
                key[0], cam, t, IMAGE_WIDTH, IMAGE_HEIGHT, data, (cx, cy, self.heading),
                (self.est_x, self.est_y, self.est_heading % 360.0),
            )  # fmt: skip
            while len(self.navcam_truth) > 2 * NAVCAM_TRUTH_MAX:
                self.navcam_truth.pop(next(iter(self.navcam_truth)))
            n = math.ceil(len(data) / 2048)
            for k in range(n):
                packets.append(
                    TmPacket(
                        "NAVCAM_IMAGE",
                        {
                            "IMG_ID": self.image_id & 0xFFFF,
                            "IMG_CAMERA": cam,
                            "IMG_SEGMENT": k,
                            "IMG_SEGMENTS": n,
                            "IMG_WIDTH": IMAGE_WIDTH,
                            "IMG_HEIGHT": IMAGE_HEIGHT,
                            "IMG_EXPOSURE_MS": exposure_ms,
                            "IMG_EST_X_M": self.est_x,
                            "IMG_EST_Y_M": self.est_y,
                            "IMG_EST_HEADING_DEG": self.est_heading % 360.0,
                            "IMG_DATA": data[k * 2048 : (k + 1) * 2048],
                        },
                        t,
                    )
                )
        self.navcam_busy_until_ns = now_ns + 5 * _NS
        return CommandOutcome(complete_after_s=5.0, packets=packets)

    def inject_fault(self, fault: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Inject a fault of the MDB's SimFault list, or clear them all with CLEAR_ALL."""
        self._catch_up(now_ns)
        if fault not in FAULTS:
            return _refuse(f"unknown fault {fault!r}; ROVER faults: {', '.join(FAULTS)}")
        if fault == "CLEAR_ALL":
            if "BATTERY_DEGRADED" in self.faults:
                self.capacity_wh = BATTERY_WH
            self.faults.clear()
            self.dosimeter.clear()
        elif fault == "SOLAR_PARTICLE_EVENT":
            self.dosimeter.start_spe(now_ns)
        else:
            if fault == "BATTERY_DEGRADED" and fault not in self.faults:
                self.capacity_wh = BATTERY_WH / 2
            self.faults.add(fault)
        ev = OnboardEvent("WARNING", f"simulator: fault {fault}", "SIMULATOR", 90)
        return CommandOutcome(events=[ev])

    def contact_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        """Windows of the configured link at the rover's position now (module doc)."""
        if self.contacts == "always":
            lt = self.site.light_time_s(start_ns, self.x, self.y, False)
            return [ContactWindow(start_ns, stop_ns, "DTE", lt)]
        out: list[ContactWindow] = []
        vias = {"earth": ["earth"], "relay": ["relay"], "earth+relay": ["earth", "relay"]}
        for via in vias[self.contacts]:
            times, up = self.site.link_series(start_ns, stop_ns, self.x, self.y, via)
            if not up.size:
                continue
            edges = np.flatnonzero(np.diff(up.astype(np.int8))) + 1
            starts = ([0] if up[0] else []) + [int(i) for i in edges if up[i]]
            for i in starts:
                j = next((int(k) for k in edges if k > i), len(up))
                a = max(int(times[i]), start_ns)
                b = min(int(times[j]) if j < len(times) else stop_ns, stop_ns)
                if b > a:
                    lt = self.site.light_time_s(a, self.x, self.y, via == "relay")
                    name = "DTE" if via == "earth" else "Queqiao-2-like relay"
                    out.append(ContactWindow(a, b, name, lt))
        return sorted(out, key=lambda w: w.start_ns)

    def ack_packet(
        self, command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
    ) -> TmPacket:
        """A CMD_ACK packet (as TIANGONG's)."""
        return cmd_ack_packet(command_apid, opcode, seq_count, stage, reason)

    def event_packet(self, event: OnboardEvent) -> TmPacket:
        """An EVENT packet; unknown severities become WARNING, unknown sources ROVER."""
        severity = event.severity if event.severity in _SEVERITIES else "WARNING"
        source = event.source if event.source in _SOURCES else "ROVER"
        return event_tm_packet(event, severity=severity, source=source)

    def set_recorder_status(self, fill_pct: float, packets: int, overwritten: int) -> None:
        """Take the runner's recorder state for housekeeping."""
        self.rec = (float(fill_pct), int(packets), int(overwritten))

    def count_rejected(self, n: int = 1) -> None:
        """Count telecommands the runner's decoder rejected (housekeeping)."""
        self.tc_rejected += n


def _refuse(message: str) -> CommandOutcome:
    return CommandOutcome(ok=False, reason="NOT_ALLOWED_IN_STATE", message=message)


def build_site(opts: Mapping[str, Any], seed: int) -> Site:
    """The site from the options: a GeoTIFF (``dem``) or a synthetic DEM, and its horizons."""
    from falak.terrain.site import site_terrain

    dem, hz = site_terrain(opts, seed)
    relay = None
    if str(opts.get("contacts", "earth")) in ("relay", "earth+relay"):
        import datetime as dt

        from falak.dynamics.relay import queqiao2_like

        relay = queqiao2_like(dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
    return Site(dem, hz, Rover(), relay=relay)


def create_model(
    epoch_ns: int, *, seed: int = 0, options: Mapping[str, Any] | None = None
) -> RoverModel:
    """Return the rover model starting at ``epoch_ns`` (options: the module doc)."""
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        msg = f"rover model: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}"
        raise ValueError(msg)
    return RoverModel(epoch_ns, build_site(opts, seed), seed=seed, opts=opts)
