"""The Tiangong station as the simulator runner flies it: orbit, power, payload racks, faults.

:func:`create_model` builds a :class:`StationModel` (the :class:`falak.sim.model.SpacecraftModel`
of the TIANGONG MDB, ``falak/missions/tiangong/mdb.yaml``). It is stepped in simulated time
only (no socket, no host clock) on a fixed one-second tick aligned to the epoch; every
container is sent at the period the MDB gives it (``expected_period_s``; the dosimeter record
and the X-ray spectrum at their configured integration and exposure times), and every packet
carries its own generation time (:attr:`falak.sim.model.TmPacket.time_ns`).

Environment. The station flies SGP4 on the bundled ``css.tle``; the sub-station latitude,
longitude, altitude, sunlight (the campaign planner's eclipses, penumbra counted as eclipse)
and the radiation dose rate are computed on whole arrays, six hours of one-second samples at
a time, not per tick.

Power. The payload racks share what the station grants them: the campaign's ``sunlit_kw`` in
sunlight and ``eclipse_kw`` in eclipse (``example_campaign.yaml``: 6.0 / 3.0 kW), so the
simulator's budget is the one the plan was checked against. Each rack *reserves* an upper
bound of its draw in its present state and configuration (the heater's full power while a
furnace profile runs, the cooler's worst case while the X-ray detector is cold, ...). The
model guarantees that the payload power it reports, ``STN_PAYLOAD_POWER_USED_W``, never
exceeds ``STN_PAYLOAD_POWER_AVAIL_W`` at any sample, in eclipse too:

- a START or CONFIGURE whose new reservation would take the sum over what is available now is
  refused (FAILED, ``NOT_ALLOWED_IN_STATE``) with a message giving the numbers;
- accepted in sunlight but above the eclipse share, it gets a WARNING event;
- when the station enters eclipse with more reserved than the eclipse share, or a fault makes a
  rack draw more than it reserved (the stuck furnace heater), the station sheds payload racks
  (switches them OFF) in the order ASTRO, FLUID, FURNACE, PLANT, DOSIMETER, INCUBATOR until the
  reservations and the draws fit, each with a WARNING event, before the next sample is taken.

Cold stowage runs on the service bus (``STN_SERVICE_POWER_W``), outside the payload share.

Faults (``SIM_INJECT_FAULT``): ``FURNACE_OVERTEMP`` leaves the furnace heater stuck at full
power (while the rack is powered): the sample climbs through the MDB's 1420 °C warning and
1450 °C critical limits (or, in STANDBY, its 60/100 °C cold-furnace limits) until the
protection trips the furnace to FAULT (a CRITICAL event); the FAULT latch is reset by
FURN_STOP once the fault is cleared. ``COLD_STOWAGE_FAILURE`` (``UNIT``) stops a compressor:
the unit reports FAULT and warms towards the cabin, through its temperature limits.
``DOSIMETER_NOISE`` adds spurious low-LET counts (a dose rate above the 5000 µGy/h critical
limit while measuring). ``CLEAR_ALL`` repairs them all (a failed compressor restarts in
PULL_DOWN).

Contacts (:meth:`StationModel.contact_windows`): passes over the ground stations of the
catalogue (``falak/dynamics/stations.yaml``) and line of sight to the geostationary data
relays of the same catalogue (:mod:`falak.dynamics.datarelay`), merged into non-overlapping
windows (a window's light time is the longest of the links that make it: conservative for
verifier windows).

Options of :func:`create_model` (all optional):

``campaign``
    Campaign YAML whose ``power:`` caps, ``orbit:`` TLE and eclipse model and
    ``ground: downlink_stations`` the model uses (default: the bundled example campaign).
``tle``
    Another TLE file for the orbit (first element set).
``contacts``
    ``"all"`` (ground stations and relays, default), ``"ground"`` (ground stations only: the
    demo shows gaps and recorder dumps), ``"relay"`` (relays only).
``ground_stations``
    Station names (default the campaign's downlink stations: Islamabad, Karachi, Lahore,
    Kashi, Jiamusi, Sanya).
``relays``
    Relay names (default every ``data_relays:`` entry of the catalogue: TL-1, TL-2, TL-3).
``stations_file``
    Extra stations and relays in the ``stations.yaml`` layout (same names replace).
``sunlit_power_w``, ``eclipse_power_w``
    Override the payload power caps, W.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.tle import Tle, read_tle_file
from falak.errors import InputError
from falak.mdb import MissionDatabase, load
from falak.sim import tiangong_payloads as tp
from falak.sim.model import (
    AckStage,
    CommandOutcome,
    ContactWindow,
    OnboardEvent,
    TmPacket,
    cmd_ack_packet,
    event_tm_packet,
    merge_windows,
)

__all__ = ["OPTIONS", "SHED_ORDER", "StationModel", "create_model"]

TICK_NS = 1_000_000_000
_CHUNK_S = 6 * 3600
_NS = 1_000_000_000

OPTIONS = (
    "campaign",
    "tle",
    "contacts",
    "ground_stations",
    "relays",
    "stations_file",
    "sunlit_power_w",
    "eclipse_power_w",
)
"""The option names :func:`create_model` takes (see the module doc)."""

SHED_ORDER = ("ASTRO", "FLUID", "FURNACE", "PLANT", "DOSIMETER", "INCUBATOR")
"""Payload racks in the order the station switches them off when power runs short."""

_SEVERITY = {
    "INFO": "INFO",
    "WATCH": "INFO",
    "WARNING": "WARNING",
    "DISTRESS": "ERROR",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
    "SEVERE": "CRITICAL",
}
_SOURCES = {
    "STATION",
    "FURNACE",
    "FLUID",
    "INCUBATOR",
    "PLANT",
    "DOSIMETER",
    "COLD_STOWAGE",
    "ASTRO",
    "TC_HANDLER",
    "RECORDER",
    "SIMULATOR",
}

# on-board event ids: source * 100 + number
EV_POWER_SHED = 1
EV_POWER_ECLIPSE_WARNING = 2
EV_FURNACE_TRIP = 101
EV_FURNACE_PROFILE_DONE = 102
EV_COLD_COMPRESSOR = 601
EV_COLD_RESTART = 602
EV_RECORDER_DUMP = 901
EV_SIM_FAULT = 25500

_SPECTRUM_E_KEV = np.linspace(0.5, 10.0, 33)
_SPECTRUM_SHAPE = (lambda e: e**-1.1 * (1 - np.exp(-e / 1.5)))(
    0.5 * (_SPECTRUM_E_KEV[:-1] + _SPECTRUM_E_KEV[1:])
)
_SPECTRUM_SHAPE = _SPECTRUM_SHAPE / _SPECTRUM_SHAPE.sum()
"""Counts per channel of a Crab-like absorbed power law (photon index 2.1) seen through a
detector whose efficiency falls below ~1.5 keV (illustrative)."""


def _bundled(name: str) -> Path:
    return Path(str(resources.files("falak.missions") / "tiangong" / name))


@dataclass
class _Environment:
    """Station position, sunlight and dose on a one-second grid from ``start_ns``."""

    start_ns: int
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    alt_km: NDArray[np.float64]
    sunlit: NDArray[np.bool_]
    in_saa: NDArray[np.bool_]
    dose_ugy_per_h: NDArray[np.float64]

    def index(self, t_ns: int) -> int | None:
        i = (t_ns - self.start_ns) // _NS
        return int(i) if 0 <= i < self.lat_deg.size else None


@dataclass
class _Racks:
    """The racks' states and configurations (replaced as they step)."""

    furnace: tp.FurnaceState
    profile: tp.HeatingProfile
    fluid: tp.FluidState
    incubator: tp.ChamberState
    incubator_sp: tp.ChamberSetpoints
    plant: tp.ChamberState
    plant_sp: tp.ChamberSetpoints
    dosimeter: tp.DosimeterState
    dosi_integration_s: int
    dosi_bias_v: float
    cold: list[tp.ColdUnitState]
    cold_params: list[tp.ColdUnitParams]
    astro: tp.AstroState
    astro_params: tp.AstroParams
    ra_deg: float
    dec_deg: float
    exposure_s: int


def _angle_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Return the great-circle angle between two directions, degrees."""
    a1, d1, a2, d2 = (math.radians(x) for x in (ra1, dec1, ra2, dec2))
    c = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(a1 - a2)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


class StationModel:
    """The Tiangong payload racks in orbit (see the module doc); made by :func:`create_model`."""

    name = "TIANGONG"

    def __init__(
        self,
        epoch_ns: int,
        *,
        mdb: MissionDatabase,
        tle: Tle,
        sunlit_power_w: float,
        eclipse_power_w: float,
        eclipse_model: str,
        contact_fn: Callable[[int, int], list[ContactWindow]],
        seed: int = 0,
    ) -> None:
        self.mdb = mdb
        self.tle = tle
        self.sunlit_power_w = float(sunlit_power_w)
        self.eclipse_power_w = float(eclipse_power_w)
        self.eclipse_model = eclipse_model
        self._contact_fn = contact_fn
        self._contacts_cache: dict[tuple[int, int], list[ContactWindow]] = {}
        self.rng = np.random.default_rng(seed)
        self.now_ns = int(epoch_ns)
        self._env: _Environment | None = None
        inc_p, inc_sp = tp.INCUBATOR
        plant_p, plant_sp = tp.PLANT_HABITAT
        self.inc_params = inc_p
        self.plant_params = plant_p
        self.furnace_params = tp.FurnaceParams()
        self.fluid_params = tp.FluidParams()
        self.dosi_params = tp.DosimeterParams()
        self.racks = _Racks(
            furnace=tp.FurnaceState(),
            profile=tp.HeatingProfile(),
            fluid=tp.FluidState(),
            incubator=tp.ChamberState(),
            incubator_sp=inc_sp,
            plant=tp.ChamberState(),
            plant_sp=plant_sp,
            dosimeter=tp.DosimeterState(tp.DosimeterMode.MEASURING),
            dosi_integration_s=10,
            dosi_bias_v=80.0,
            cold=[tp.ColdUnitState(tp.ColdMode.NOMINAL, p.setpoint_c) for p in tp.COLD_UNITS],
            cold_params=list(tp.COLD_UNITS),
            astro=tp.AstroState(),
            astro_params=tp.AstroParams(),
            ra_deg=83.633,  # the Crab nebula, a calibration source
            dec_deg=22.0145,
            exposure_s=60,
        )
        self.tc_accepted = 0
        self.tc_rejected = 0
        self.recorder_fill_pct = 0.0
        self.recorder_packets = 0
        self.recorder_overwritten = 0
        self._pending: list[TmPacket] = []
        self._periods_ns = {
            c: round((mdb.container(c).expected_period_s or 1.0) * _NS)
            for c in (
                "STATION_HK",
                "FURNACE_HK",
                "FURNACE_SCIENCE",
                "FLUID_HK",
                "FLUID_SCIENCE",
                "INCUBATOR_HK",
                "PLANT_HK",
                "COLD_HK",
                "ASTRO_HK",
            )
        }
        self._next_ns = {c: self.now_ns + p for c, p in self._periods_ns.items()}
        self._next_ns["DOSIMETER_DATA"] = self.now_ns + self.racks.dosi_integration_s * _NS
        self._next_ns["ASTRO_SPECTRUM_DATA"] = self.now_ns + self.racks.exposure_s * _NS
        self._spectrum_expected = np.zeros(32)
        self._spectrum_live_s = 0.0
        self.generated: dict[str, int] = {}

    # -- environment ---------------------------------------------------------------------------
    def _environment(self, t_ns: int) -> tuple[_Environment, int]:
        env = self._env
        i = env.index(t_ns) if env is not None else None
        if env is None or i is None:
            env = self._compute_environment(t_ns)
            self._env = env
            i = 0
        return env, i

    def _compute_environment(self, start_ns: int) -> _Environment:
        offs = np.arange(_CHUNK_S + 1, dtype=np.int64) * _NS
        times = (np.int64(start_ns) + offs).astype("datetime64[ns]")
        lat, lon, alt = tp.station_geodetic(self.tle, times)
        lit = tp.sunlit_mask(self.tle, times, self.eclipse_model)
        saa = np.asarray(tp.in_saa(lat, lon, alt), dtype=bool)
        dose = np.asarray(tp.dose_rate_ugy_per_h(lat, lon, alt), dtype=np.float64)
        return _Environment(start_ns, lat, lon, alt, lit, saa, dose)

    def power_available_w(self, sunlit: bool) -> float:
        """Return the payload share the station grants in sunlight or eclipse, W."""
        return self.sunlit_power_w if sunlit else self.eclipse_power_w

    def sunlit_at(self, t_ns: int) -> bool:
        """Return whether the station is in sunlight at ``t_ns``."""
        env, i = self._environment(t_ns)
        return bool(env.sunlit[i])

    # -- power -----------------------------------------------------------------------------------
    def rack_power_w(
        self, r: _Racks | None = None, seconds_of_day: float = 0.0
    ) -> dict[str, float]:
        """Return each payload rack's draw now, W."""
        r = r or self.racks
        return {
            "FURNACE": tp.furnace_power_w(r.furnace, self.furnace_params),
            "FLUID": tp.fluid_power_w(r.fluid, self.fluid_params),
            "INCUBATOR": tp.chamber_power_w(
                r.incubator, r.incubator_sp, self.inc_params, seconds_of_day
            ),
            "PLANT": tp.chamber_power_w(r.plant, r.plant_sp, self.plant_params, seconds_of_day),
            "DOSIMETER": tp.dosimeter_power_w(r.dosimeter, self.dosi_params),
            "ASTRO": tp.astro_power_w(r.astro, r.astro_params),
        }

    def reservations_w(self, r: _Racks | None = None) -> dict[str, float]:
        """Return each payload rack's reserved power: a bound of its draw in its state, W.

        The bounds follow the models' laws: a controlled temperature moves monotonically from
        where it is towards its set point, so the thermal draw is bounded by the larger of
        the two distances to the cabin; a running furnace may take its heater's full power.
        """
        r = r or self.racks
        fp, fl = self.furnace_params, self.fluid_params
        f = r.furnace
        if f.mode == tp.FurnaceMode.OFF:
            furnace = 0.0
        elif f.mode in (tp.FurnaceMode.HEATING, tp.FurnaceMode.SOAK):
            furnace = fp.electronics_w + fp.heater_max_w
        else:
            furnace = fp.electronics_w
        s = r.fluid
        if s.mode == tp.FluidMode.OFF:
            fluid = 0.0
        else:
            dt = max(abs(s.setpoint_c - fl.ambient_c), abs(s.cell_temp_c - fl.ambient_c))
            camera = fl.camera_w if s.mode in (tp.FluidMode.FILLING, tp.FluidMode.RUNNING) else 0
            camera = max(camera, fl.camera_w if s.camera == tp.CameraMode.RECORDING else 0.0)
            fluid = fl.electronics_w + camera + min(fl.thermal_max_w, fl.thermal_w_per_k * dt)

        def chamber(st: tp.ChamberState, sp: tp.ChamberSetpoints, p: tp.ChamberParams) -> float:
            if st.mode in (tp.ChamberMode.OFF, tp.ChamberMode.FAULT):
                return 0.0
            if st.mode == tp.ChamberMode.STANDBY:
                return p.base_w / 2
            dt = max(abs(sp.temp_c - tp.CABIN_TEMP_C), abs(st.temp_c - tp.CABIN_TEMP_C))
            leds = sp.light_umol_m2_s * p.canopy_area_m2 / p.led_efficacy_umol_per_j
            return p.base_w + p.thermal_w_per_k * dt + leds

        a, ap = r.astro, r.astro_params
        if a.mode == tp.AstroMode.OFF:
            astro = 0.0
        elif a.mode == tp.AstroMode.STANDBY:
            astro = ap.electronics_w / 2
        else:
            coldest = min(ap.detector_setpoint_c, a.detector_temp_c)
            astro = (
                ap.electronics_w
                + ap.cooler_w_per_k * max(0.0, ap.ambient_c - coldest)
                + ap.platform_w
            )
        return {
            "FURNACE": furnace,
            "FLUID": fluid,
            "INCUBATOR": chamber(r.incubator, r.incubator_sp, self.inc_params),
            "PLANT": chamber(r.plant, r.plant_sp, self.plant_params),
            "DOSIMETER": tp.dosimeter_power_w(r.dosimeter, self.dosi_params),
            "ASTRO": astro,
        }

    def _switch_off(self, rack: str) -> None:
        r = self.racks
        if rack == "FURNACE":
            r.furnace = replace(r.furnace, mode=tp.FurnaceMode.OFF, heater_w=0.0)
        elif rack == "FLUID":
            r.fluid = replace(r.fluid, mode=tp.FluidMode.OFF, camera=tp.CameraMode.OFF)
        elif rack == "INCUBATOR":
            r.incubator = replace(r.incubator, mode=tp.ChamberMode.OFF)
        elif rack == "PLANT":
            r.plant = replace(r.plant, mode=tp.ChamberMode.OFF)
        elif rack == "DOSIMETER":
            r.dosimeter = replace(r.dosimeter, mode=tp.DosimeterMode.OFF)
        elif rack == "ASTRO":
            r.astro = tp.AstroState(
                tp.AstroMode.OFF, tp.PointingMode.IDLE, r.astro.detector_temp_c, 0.0, 0.0
            )

    def _shed(self, t_ns: int, sunlit: bool, sod: float) -> list[OnboardEvent]:
        avail = self.power_available_w(sunlit)
        events = []
        for rack in SHED_ORDER:
            res = self.reservations_w()
            draw = self.rack_power_w(seconds_of_day=sod)
            need = sum(max(res[k], draw[k]) for k in res)
            if need <= avail:
                break
            if max(res[rack], draw[rack]) <= 0.0:
                continue
            self._switch_off(rack)
            events.append(
                OnboardEvent(
                    "WARNING",
                    f"payload power: {need:.0f} W reserved or drawn > {avail:.0f} W available "
                    f"({'SUNLIT' if sunlit else 'ECLIPSE'}); rack {rack} switched OFF (load shed)",
                    "STATION",
                    EV_POWER_SHED,
                )
            )
        return events

    def _admit(self, command: str, rack: str, new: _Racks, now_ns: int) -> CommandOutcome | None:
        """Return a refusal if ``new`` reserves more than the station grants now, else None."""
        res = self.reservations_w(new)
        total = sum(res.values())
        sunlit = self.sunlit_at(now_ns)
        avail = self.power_available_w(sunlit)
        if total > avail + 1e-9:
            others = total - res[rack]
            return CommandOutcome(
                ok=False,
                reason="NOT_ALLOWED_IN_STATE",
                message=(
                    f"{command} refused: payload power {res[rack]:.0f} W for {rack} + "
                    f"{others:.0f} W reserved by the other racks > {avail:.0f} W available "
                    f"({'SUNLIT' if sunlit else 'ECLIPSE'})"
                ),
            )
        return None

    # -- stepping --------------------------------------------------------------------------------
    def step(self, now_ns: int) -> list[TmPacket]:
        """Advance to ``now_ns`` on the one-second tick; return the packets due by then."""
        self._advance(now_ns)
        out, self._pending = self._pending, []
        for p in out:
            self.generated[p.container] = self.generated.get(p.container, 0) + 1
        return out

    def _advance(self, now_ns: int) -> None:
        while self.now_ns + TICK_NS <= now_ns:
            self._tick(self.now_ns + TICK_NS)

    def _emit(self, container: str, values: Mapping[str, Any], t_ns: int) -> None:
        self._pending.append(TmPacket(container, values, t_ns))

    def _emit_event(self, event: OnboardEvent, t_ns: int) -> None:
        p = self.event_packet(event)
        self._pending.append(TmPacket(p.container, p.values, t_ns))

    def _tick(self, t_ns: int) -> None:
        env, i = self._environment(t_ns)
        sunlit = bool(env.sunlit[i])
        saa = bool(env.in_saa[i])
        sod = (t_ns // _NS) % 86400
        r = self.racks
        events: list[OnboardEvent] = []
        was = r.furnace.mode
        r.furnace = tp.furnace_step(r.furnace, r.profile, 1.0, self.furnace_params)
        if r.furnace.mode == tp.FurnaceMode.FAULT and was != tp.FurnaceMode.FAULT:
            events.append(
                OnboardEvent(
                    "CRITICAL",
                    f"FURNACE over-temperature protection tripped at "
                    f"{r.furnace.temperature_c:.1f} degC (limit "
                    f"{self.furnace_params.trip_c:.0f} degC): heater relay open, furnace FAULT",
                    "FURNACE",
                    EV_FURNACE_TRIP,
                )
            )
        elif was == tp.FurnaceMode.SOAK and r.furnace.mode == tp.FurnaceMode.COOLING:
            events.append(
                OnboardEvent(
                    "INFO",
                    "FURNACE soak complete: heater off, cooling",
                    "FURNACE",
                    EV_FURNACE_PROFILE_DONE,
                )
            )
        r.fluid = tp.fluid_step(r.fluid, 1.0, self.fluid_params)
        r.incubator = tp.chamber_step(r.incubator, r.incubator_sp, 1.0, self.inc_params)
        r.plant = tp.chamber_step(r.plant, r.plant_sp, 1.0, self.plant_params)
        r.cold = [tp.cold_step(s, 1.0, p) for s, p in zip(r.cold, r.cold_params, strict=True)]
        r.astro = tp.astro_step(r.astro, saa, 1.0, r.astro_params)
        if r.astro.mode == tp.AstroMode.OBSERVING:
            rate = tp.astro_count_rate_per_s(r.astro, float(env.dose_ugy_per_h[i]), r.astro_params)
            self._spectrum_expected += rate * _SPECTRUM_SHAPE
            self._spectrum_live_s += 1.0
        events += self._shed(t_ns, sunlit, sod)
        self.now_ns = t_ns
        for ev in events:
            self._emit_event(ev, t_ns)
        self._emit_due(t_ns, env, i, sunlit, sod)

    def _due(self, container: str, t_ns: int, period_ns: int | None = None) -> bool:
        nxt = self._next_ns[container]
        if t_ns < nxt:
            return False
        step = period_ns if period_ns is not None else self._periods_ns[container]
        self._next_ns[container] = nxt + step * (1 + (t_ns - nxt) // step)
        return True

    def _emit_due(self, t_ns: int, env: _Environment, i: int, sunlit: bool, sod: float) -> None:
        r = self.racks
        lat, lon, alt = float(env.lat_deg[i]), float(env.lon_deg[i]), float(env.alt_km[i])
        if self._due("FURNACE_HK", t_ns):
            self._emit(
                "FURNACE_HK", tp.furnace_telemetry(r.furnace, r.profile, self.furnace_params), t_ns
            )
        if self._due("FURNACE_SCIENCE", t_ns) and r.furnace.mode in (
            tp.FurnaceMode.HEATING,
            tp.FurnaceMode.SOAK,
        ):
            self._emit("FURNACE_SCIENCE", {"FURN_TC_C": self._thermocouples()}, t_ns)
        fl = tp.fluid_telemetry(r.fluid, self.fluid_params)
        meniscus = fl.pop("FLUID_MENISCUS_MM")
        if self._due("FLUID_HK", t_ns):
            self._emit("FLUID_HK", fl, t_ns)
        if self._due("FLUID_SCIENCE", t_ns) and r.fluid.mode == tp.FluidMode.RUNNING:
            self._emit("FLUID_SCIENCE", {"FLUID_MENISCUS_MM": meniscus}, t_ns)
        if self._due("INCUBATOR_HK", t_ns):
            self._emit(
                "INCUBATOR_HK",
                tp.chamber_telemetry("INC", r.incubator, r.incubator_sp, self.inc_params, sod),
                t_ns,
            )
        if self._due("PLANT_HK", t_ns):
            self._emit(
                "PLANT_HK",
                tp.chamber_telemetry("PLANT", r.plant, r.plant_sp, self.plant_params, sod),
                t_ns,
            )
        if self._due("DOSIMETER_DATA", t_ns, r.dosi_integration_s * _NS):
            half = r.dosi_integration_s * _NS // 2
            j = env.index(t_ns - half)
            la, lo, al = (
                (float(env.lat_deg[j]), float(env.lon_deg[j]), float(env.alt_km[j]))
                if j is not None
                else (lat, lon, alt)
            )
            rec = tp.dosimeter_record(
                r.dosimeter, la, lo, al, float(r.dosi_integration_s), self.rng, self.dosi_params
            )
            r.dosimeter = rec.state
            self._emit(
                "DOSIMETER_DATA",
                tp.dosimeter_telemetry(
                    rec, r.dosi_integration_s, r.dosi_bias_v, p=self.dosi_params
                ),
                t_ns,
            )
        if self._due("COLD_HK", t_ns):
            cold = tp.cold_telemetry(
                (r.cold[0], r.cold[1], r.cold[2]),
                (r.cold_params[0], r.cold_params[1], r.cold_params[2]),
            )
            self._emit("COLD_HK", cold, t_ns)
        dose = float(env.dose_ugy_per_h[i])
        if self._due("ASTRO_HK", t_ns):
            self._emit(
                "ASTRO_HK",
                tp.astro_telemetry(r.astro, r.ra_deg, r.dec_deg, dose, r.astro_params),
                t_ns,
            )
        if self._due("ASTRO_SPECTRUM_DATA", t_ns, r.exposure_s * _NS):
            if self._spectrum_live_s > 0:
                counts = self.rng.poisson(self._spectrum_expected)
                self._emit(
                    "ASTRO_SPECTRUM_DATA",
                    {
                        "ASTRO_EXPOSURE_S": r.exposure_s,
                        "ASTRO_SPECTRUM": [int(min(c, 65535)) for c in counts],
                    },
                    t_ns,
                )
            self._spectrum_expected = np.zeros(32)
            self._spectrum_live_s = 0.0
        if self._due("STATION_HK", t_ns):
            used = sum(self.rack_power_w(seconds_of_day=sod).values())
            service = sum(tp.cold_power_w(s, p) for s, p in zip(r.cold, r.cold_params, strict=True))
            self._emit(
                "STATION_HK",
                tp.station_telemetry(
                    sunlit=sunlit,
                    power_available_w=self.power_available_w(sunlit),
                    power_used_w=used,
                    service_power_w=service,
                    lat_deg=lat,
                    lon_deg=lon,
                    alt_km=alt,
                    tc_accepted=self.tc_accepted % 65536,
                    tc_rejected=self.tc_rejected % 65536,
                    recorder_fill_pct=self.recorder_fill_pct,
                    recorder_packets=self.recorder_packets,
                    recorder_overwritten=self.recorder_overwritten,
                ),
                t_ns,
            )

    def _thermocouples(self) -> list[float]:
        """Return the eight ampoule thermocouples, hot end first (profile-shaped fall-off)."""
        f = self.racks.furnace
        amb = self.furnace_params.ambient_c
        drop = {"ISOTHERMAL": 0.002, "GRADIENT": 0.01, "QUENCH": 0.004}.get(
            self.racks.profile.kind, 0.002
        )
        return [amb + (f.temperature_c - amb) * (1.0 - drop * k * k) for k in range(8)]

    def set_recorder_status(self, fill_pct: float, packets: int, overwritten: int) -> None:
        """Let the runner (which owns the recorder) report its state in STATION_HK."""
        self.recorder_fill_pct = max(0.0, min(100.0, float(fill_pct)))
        self.recorder_packets = int(packets)
        self.recorder_overwritten = int(overwritten)

    def count_rejected(self, n: int = 1) -> None:
        """Count telecommands the runner rejected before they reached the model (STATION_HK)."""
        self.tc_rejected += n

    # -- commands ------------------------------------------------------------------------------
    def execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Execute a decoded, range-checked command (short name, engineering arguments)."""
        self._advance(now_ns)
        handler = getattr(self, f"_cmd_{command.lower()}", None)
        if handler is None:
            out = CommandOutcome(
                ok=False,
                reason="EXECUTION_FAILED",
                message=f"{command}: no on-board handler for this command",
            )
        else:
            out = handler(command, args, now_ns)
        if out.ok:
            self.tc_accepted += 1
        else:
            self.tc_rejected += 1
        return out

    def _refuse(self, command: str, rack: str, state: str, why: str) -> CommandOutcome:
        return CommandOutcome(
            ok=False,
            reason="NOT_ALLOWED_IN_STATE",
            message=f"{command} refused: {rack} is {state}; {why}",
        )

    def _commit(
        self, command: str, rack: str, new: _Racks, now_ns: int, complete_after_s: float
    ) -> CommandOutcome:
        refusal = self._admit(command, rack, new, now_ns)
        if refusal is not None:
            return refusal
        events = []
        total = sum(self.reservations_w(new).values())
        if total > self.eclipse_power_w and self.sunlit_at(now_ns):
            events.append(
                OnboardEvent(
                    "WARNING",
                    f"payload power: {total:.0f} W reserved exceeds the eclipse share "
                    f"{self.eclipse_power_w:.0f} W; racks will be shed at eclipse entry "
                    f"(order {', '.join(SHED_ORDER)})",
                    "STATION",
                    EV_POWER_ECLIPSE_WARNING,
                )
            )
        self.racks = new
        return CommandOutcome(complete_after_s=complete_after_s, events=events)

    def _cmd_noop(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        return CommandOutcome()

    def _cmd_rec_dump(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        return CommandOutcome(
            events=[
                OnboardEvent(
                    "INFO",
                    "recorder dump requested: recorded packets go down on the playback link",
                    "RECORDER",
                    EV_RECORDER_DUMP,
                )
            ]
        )

    # furnace
    def _cmd_furn_configure(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        f = self.racks.furnace
        if f.mode in (tp.FurnaceMode.HEATING, tp.FurnaceMode.SOAK, tp.FurnaceMode.FAULT):
            return self._refuse(
                command, "FURNACE", f.mode.name, "configure the profile in OFF, STANDBY or COOLING"
            )
        prof = self.racks.profile
        prof = replace(
            prof,
            setpoint_c=float(args.get("SETPOINT_C", prof.setpoint_c)),
            ramp_c_per_min=float(args.get("RAMP_C_PER_MIN", prof.ramp_c_per_min)),
            soak_s=float(args.get("SOAK_MIN", prof.soak_s / 60.0)) * 60.0,
        )
        return self._commit(command, "FURNACE", replace(self.racks, profile=prof), now_ns, 1.0)

    def _cmd_furn_set_high_temp(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        return self._cmd_furn_configure(command, {"SETPOINT_C": args["SETPOINT_C"]}, now_ns)

    def _cmd_furn_start(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        f = self.racks.furnace
        if f.mode not in (tp.FurnaceMode.OFF, tp.FurnaceMode.STANDBY):
            why = (
                "FURN_STOP resets the over-temperature latch once the cause is cleared"
                if f.mode == tp.FurnaceMode.FAULT
                else "start from OFF or STANDBY"
            )
            return self._refuse(command, "FURNACE", f.mode.name, why)
        prof = replace(self.racks.profile, kind=str(args.get("PROFILE", self.racks.profile.kind)))
        new = replace(self.racks, furnace=tp.furnace_start(f), profile=prof)
        return self._commit(command, "FURNACE", new, now_ns, 2.0)

    def _cmd_furn_stop(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        f = self.racks.furnace
        if f.mode == tp.FurnaceMode.FAULT:
            if f.stuck_heater:
                return CommandOutcome(
                    ok=False,
                    reason="EXECUTION_FAILED",
                    message=(
                        "FURN_STOP: over-temperature latch not reset: the heater controller "
                        "still reports its output stuck on"
                    ),
                )
            new_f = replace(f, mode=tp.FurnaceMode.COOLING, heater_w=0.0)
        elif f.mode in (tp.FurnaceMode.HEATING, tp.FurnaceMode.SOAK):
            new_f = tp.furnace_stop(f)
        else:
            return CommandOutcome()  # already off, standby or cooling
        return self._commit(command, "FURNACE", replace(self.racks, furnace=new_f), now_ns, 2.0)

    # fluid cell
    def _cmd_fluid_configure(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        s = self.racks.fluid
        if s.mode == tp.FluidMode.FAULT:
            return self._refuse(command, "FLUID", "FAULT", "the cell needs crew attention")
        new_s = replace(
            s,
            setpoint_c=float(args.get("CELL_TEMP_C", s.setpoint_c)),
            fill_target_pct=float(args.get("FILL_PCT", s.fill_target_pct)),
            fps=int(args.get("CAMERA_FPS", s.fps)),
        )
        return self._commit(command, "FLUID", replace(self.racks, fluid=new_s), now_ns, 1.0)

    def _cmd_fluid_start(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        s = self.racks.fluid
        if s.mode not in (tp.FluidMode.OFF, tp.FluidMode.STANDBY):
            return self._refuse(command, "FLUID", s.mode.name, "start from OFF or STANDBY")
        new_s = replace(s, mode=tp.FluidMode.FILLING, camera=tp.CameraMode.IDLE, frames=0)
        return self._commit(command, "FLUID", replace(self.racks, fluid=new_s), now_ns, 10.0)

    def _cmd_fluid_stop(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        s = self.racks.fluid
        if s.mode not in (tp.FluidMode.FILLING, tp.FluidMode.RUNNING):
            return CommandOutcome()
        new_s = replace(s, mode=tp.FluidMode.DRAINING, camera=tp.CameraMode.IDLE)
        return self._commit(command, "FLUID", replace(self.racks, fluid=new_s), now_ns, 10.0)

    # incubator and plant habitat
    def _chamber_cmd(
        self, command: str, rack: str, action: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        r = self.racks
        st, sp = (r.incubator, r.incubator_sp) if rack == "INCUBATOR" else (r.plant, r.plant_sp)
        if action == "START":
            if st.mode not in (tp.ChamberMode.OFF, tp.ChamberMode.STANDBY):
                return self._refuse(command, rack, st.mode.name, "start from OFF or STANDBY")
            st = replace(st, mode=tp.ChamberMode.CONDITIONING)
        elif action == "STOP":
            if st.mode in (tp.ChamberMode.OFF, tp.ChamberMode.STANDBY):
                return CommandOutcome()
            st = replace(st, mode=tp.ChamberMode.STANDBY)
        else:
            if st.mode == tp.ChamberMode.FAULT:
                return self._refuse(command, rack, "FAULT", "the chamber needs crew attention")
            if rack == "INCUBATOR":
                sp = replace(
                    sp,
                    temp_c=float(args.get("TEMP_C", sp.temp_c)),
                    co2_pct=float(args.get("CO2_PCT", sp.co2_pct)),
                    rh_pct=float(args.get("RH_PCT", sp.rh_pct)),
                )
            else:
                sp = replace(
                    sp,
                    temp_c=float(args.get("TEMP_C", sp.temp_c)),
                    co2_pct=float(args.get("CO2_PPM", sp.co2_pct * 1e4)) / 1e4,
                    light_umol_m2_s=float(args.get("LIGHT_UMOL", sp.light_umol_m2_s)),
                    photoperiod_h=int(args.get("PHOTOPERIOD_H", sp.photoperiod_h)),
                )
            if st.mode == tp.ChamberMode.RUNNING:
                st = replace(st, mode=tp.ChamberMode.CONDITIONING)  # re-settle to new set points
        if rack == "INCUBATOR":
            new = replace(r, incubator=st, incubator_sp=sp)
        else:
            new = replace(r, plant=st, plant_sp=sp)
        return self._commit(command, rack, new, now_ns, 2.0)

    def _cmd_inc_start(self, c: str, a: Mapping[str, Any], t: int) -> CommandOutcome:
        return self._chamber_cmd(c, "INCUBATOR", "START", a, t)

    def _cmd_inc_configure(self, c: str, a: Mapping[str, Any], t: int) -> CommandOutcome:
        return self._chamber_cmd(c, "INCUBATOR", "CONFIGURE", a, t)

    def _cmd_inc_stop(self, c: str, a: Mapping[str, Any], t: int) -> CommandOutcome:
        return self._chamber_cmd(c, "INCUBATOR", "STOP", a, t)

    def _cmd_plant_start(self, c: str, a: Mapping[str, Any], t: int) -> CommandOutcome:
        return self._chamber_cmd(c, "PLANT", "START", a, t)

    def _cmd_plant_configure(self, c: str, a: Mapping[str, Any], t: int) -> CommandOutcome:
        return self._chamber_cmd(c, "PLANT", "CONFIGURE", a, t)

    def _cmd_plant_stop(self, c: str, a: Mapping[str, Any], t: int) -> CommandOutcome:
        return self._chamber_cmd(c, "PLANT", "STOP", a, t)

    # dosimeter
    def _cmd_dosi_start(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        d = self.racks.dosimeter
        if d.mode == tp.DosimeterMode.FAULT:
            return self._refuse(command, "DOSIMETER", "FAULT", "power-cycle it (DOSI_STOP)")
        new_d = replace(d, mode=tp.DosimeterMode.MEASURING, dose_ugy=0.0)
        self._next_ns["DOSIMETER_DATA"] = now_ns + self.racks.dosi_integration_s * _NS
        return self._commit(command, "DOSIMETER", replace(self.racks, dosimeter=new_d), now_ns, 2.0)

    def _cmd_dosi_configure(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        r = self.racks
        new = replace(
            r,
            dosi_integration_s=int(args.get("INTEGRATION_S", r.dosi_integration_s)),
            dosi_bias_v=float(args.get("BIAS_V", r.dosi_bias_v)),
        )
        return self._commit(command, "DOSIMETER", new, now_ns, 1.0)

    def _cmd_dosi_stop(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        d = self.racks.dosimeter
        new_d = replace(d, mode=tp.DosimeterMode.STANDBY)
        return self._commit(command, "DOSIMETER", replace(self.racks, dosimeter=new_d), now_ns, 1.0)

    # cold stowage
    def _cmd_cold_set(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        k = {"A_MINUS80": 0, "B_MINUS20": 1, "C_PLUS4": 2}[str(args["UNIT"])]
        unit = "ABC"[k]
        if self.racks.cold[k].failed:
            return CommandOutcome(
                ok=False,
                reason="EXECUTION_FAILED",
                message=f"COLD_SET: unit {unit} compressor has failed; set point not applied",
            )
        params = list(self.racks.cold_params)
        params[k] = replace(params[k], setpoint_c=float(args["SETPOINT_C"]))
        self.racks.cold_params = params
        return CommandOutcome(complete_after_s=2.0)

    # astronomy
    def _cmd_astro_start(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        r = self.racks
        a = r.astro
        if a.mode not in (tp.AstroMode.OFF, tp.AstroMode.STANDBY):
            return self._refuse(command, "ASTRO", a.mode.name, "ASTRO_STOP first to re-point")
        ra, dec = float(args["RA_DEG"]), float(args["DEC_DEG"])
        slew = _angle_deg(r.ra_deg, r.dec_deg, ra, dec)
        new_a = replace(
            a,
            mode=tp.AstroMode.COOLING,
            pointing=tp.PointingMode.SLEWING if slew > 0 else tp.PointingMode.TRACKING,
            slew_left_deg=slew,
        )
        new = replace(r, astro=new_a, ra_deg=ra, dec_deg=dec)
        return self._commit(command, "ASTRO", new, now_ns, 2.0)

    def _cmd_astro_configure(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        r = self.racks
        ap = replace(r.astro_params, hv_v=float(args.get("HV_V", r.astro_params.hv_v)))
        new = replace(r, astro_params=ap, exposure_s=int(args.get("EXPOSURE_S", r.exposure_s)))
        return self._commit(command, "ASTRO", new, now_ns, 1.0)

    def _cmd_astro_stop(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        a = self.racks.astro
        if a.mode in (tp.AstroMode.OFF, tp.AstroMode.STANDBY):
            return CommandOutcome()
        new_a = tp.AstroState(
            tp.AstroMode.STANDBY, tp.PointingMode.IDLE, a.detector_temp_c, 0.0, 0.0
        )
        return self._commit(command, "ASTRO", replace(self.racks, astro=new_a), now_ns, 2.0)

    def _cmd_sim_inject_fault(
        self, command: str, args: Mapping[str, Any], now_ns: int
    ) -> CommandOutcome:
        return self.inject_fault(str(args.get("FAULT", "")), args, now_ns)

    # -- faults ----------------------------------------------------------------------------------
    def inject_fault(self, fault: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Inject (or clear, with CLEAR_ALL) a fault of the MDB's SIM_INJECT_FAULT."""
        self._advance(now_ns)
        r = self.racks
        events: list[OnboardEvent] = []

        def sim(msg: str) -> None:
            events.append(OnboardEvent("INFO", f"SIMULATOR: {msg}", "SIMULATOR", EV_SIM_FAULT))

        if fault == "FURNACE_OVERTEMP":
            r.furnace = replace(r.furnace, stuck_heater=True)
            sim("FURNACE_OVERTEMP injected: heater controller output stuck on")
        elif fault == "COLD_STOWAGE_FAILURE":
            label = str(args.get("UNIT", "A_MINUS80"))
            k = {"A_MINUS80": 0, "B_MINUS20": 1, "C_PLUS4": 2}.get(label)
            if k is None:
                return CommandOutcome(
                    ok=False,
                    reason="EXECUTION_FAILED",
                    message=f"COLD_STOWAGE_FAILURE: unknown UNIT {label!r}; "
                    "expected A_MINUS80, B_MINUS20 or C_PLUS4",
                )
            r.cold[k] = replace(r.cold[k], failed=True, mode=tp.ColdMode.FAULT)
            sim(f"COLD_STOWAGE_FAILURE injected on unit {'ABC'[k]}")
            events.append(
                OnboardEvent(
                    "ERROR",
                    f"COLD unit {'ABC'[k]} ({r.cold_params[k].setpoint_c:+.0f} degC) compressor "
                    "stopped: unit warming towards cabin temperature",
                    "COLD_STOWAGE",
                    EV_COLD_COMPRESSOR,
                )
            )
        elif fault == "DOSIMETER_NOISE":
            r.dosimeter = replace(r.dosimeter, noisy=True)
            sim("DOSIMETER_NOISE injected: spurious low-LET counts")
        elif fault == "CLEAR_ALL":
            r.furnace = replace(r.furnace, stuck_heater=False)
            r.dosimeter = replace(r.dosimeter, noisy=False)
            for k, s in enumerate(r.cold):
                if s.failed:
                    r.cold[k] = tp.ColdUnitState(tp.ColdMode.PULL_DOWN, s.temp_c, False)
                    events.append(
                        OnboardEvent(
                            "INFO",
                            f"COLD unit {'ABC'[k]} compressor restarted: pulling down",
                            "COLD_STOWAGE",
                            EV_COLD_RESTART,
                        )
                    )
            sim("CLEAR_ALL: every injected fault repaired")
        else:
            return CommandOutcome(
                ok=False,
                reason="EXECUTION_FAILED",
                message=f"unknown fault {fault!r}; known: CLEAR_ALL, FURNACE_OVERTEMP, "
                "COLD_STOWAGE_FAILURE, DOSIMETER_NOISE",
            )
        return CommandOutcome(events=events)

    # -- link ------------------------------------------------------------------------------------
    def contact_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        """Return the (non-overlapping) contact windows between ``start_ns`` and ``stop_ns``."""
        key = (int(start_ns), int(stop_ns))
        if key not in self._contacts_cache:
            self._contacts_cache[key] = self._contact_fn(*key)
        return list(self._contacts_cache[key])

    def ack_packet(
        self, command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
    ) -> TmPacket:
        """Return the CMD_ACK packet of one stage of a command."""
        return cmd_ack_packet(command_apid, opcode, seq_count, stage, reason)

    def event_packet(self, event: OnboardEvent) -> TmPacket:
        """Return the EVENT packet carrying ``event`` (message cut to the 255-byte field)."""
        source = event.source if event.source in _SOURCES else "STATION"
        return event_tm_packet(
            event, severity=_SEVERITY.get(event.severity, "WARNING"), source=source
        )


def _ns(t: _dt.datetime) -> int:
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    d = t - epoch
    return (d.days * 86400 + d.seconds) * _NS + d.microseconds * 1000


def _dt_of(ns: int) -> _dt.datetime:
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=ns // 1000)


def create_model(
    epoch_ns: int, *, seed: int = 0, options: Mapping[str, Any] | None = None
) -> StationModel:
    """Build the Tiangong station model starting at simulated UTC ``epoch_ns``.

    ``options`` are described in the module doc (:data:`OPTIONS` lists their names); an
    unknown name is refused with the list of known ones.
    """
    from falak.dynamics.datarelay import load_relays, relay_windows
    from falak.dynamics.passes import find_passes, look_angles
    from falak.dynamics.stations import get_station, load_stations
    from falak.planning.campaign.model import load_campaign
    from falak.planning.campaign.orbit_env import DEFAULT_DOWNLINK_STATIONS

    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise InputError(
            f"station model: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}"
        )
    contacts = str(opts.get("contacts", "all"))
    if contacts not in ("all", "ground", "relay"):
        raise InputError(f"station model: contacts must be all, ground or relay, got {contacts!r}")
    campaign = load_campaign(opts.get("campaign") or _bundled("example_campaign.yaml"))
    tle_path = opts.get("tle") or campaign.tle_path or _bundled("css.tle")
    tle = read_tle_file(tle_path)[0]
    extra = opts.get("stations_file")
    catalogue = load_stations(extra=extra) if extra else load_stations()
    relays = load_relays()
    if extra:
        relays.update(load_relays(extra))
    names = opts.get("ground_stations")
    if names is None:
        names = campaign.downlink_stations or DEFAULT_DOWNLINK_STATIONS
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    ground = [get_station(str(n), catalogue) for n in names]
    relay_names = opts.get("relays")
    if isinstance(relay_names, str):
        relay_names = [n.strip() for n in relay_names.split(",") if n.strip()]
    if relay_names is not None:
        missing = [n for n in relay_names if n not in relays]
        if missing:
            raise InputError(
                f"station model: unknown relay(s) {', '.join(map(str, missing))}; "
                f"known: {', '.join(relays)}"
            )
        relays = {n: relays[n] for n in relay_names}

    def contact_fn(start_ns: int, stop_ns: int) -> list[ContactWindow]:
        if stop_ns <= start_ns:
            return []
        start, stop = _dt_of(start_ns), _dt_of(stop_ns)
        out: list[ContactWindow] = []
        if contacts in ("all", "ground") and ground:
            for p in find_passes(tle, ground, start, stop):
                st = next(s for s in ground if s.name == p.station)
                t = np.array([np.datetime64(_ns(x), "ns") for x in (p.rise, p.culminate, p.set)])
                _, _, rng = look_angles(tle, st, t)
                lt = float(np.nanmean(rng)) / 299_792.458
                out.append(ContactWindow(_ns(p.rise), _ns(p.set), p.station, lt))
        if contacts in ("all", "relay") and relays:
            for w in relay_windows(tle, relays, start, stop, stations=catalogue):
                out.append(
                    ContactWindow(_ns(w.start), _ns(w.stop), f"{w.relay} (relay)", w.light_time_s)
                )
        return merge_windows(out)

    mdb = load(_bundled("mdb.yaml"))
    sunlit_w = float(opts.get("sunlit_power_w", campaign.sunlit_power_kw * 1000.0))
    eclipse_w = float(opts.get("eclipse_power_w", campaign.eclipse_power_kw * 1000.0))
    return StationModel(
        epoch_ns,
        mdb=mdb,
        tle=tle,
        sunlit_power_w=sunlit_w,
        eclipse_power_w=eclipse_w,
        eclipse_model=campaign.eclipse_model,
        contact_fn=contact_fn,
        seed=seed,
    )
