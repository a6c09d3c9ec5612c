"""Synthetic Tiangong payload campaigns for tests and benchmarks, sized from published facts.

Published facts used (REFERENCES.md "Station operations"): 3 crew nominally, 6 during a ~5-day
handover; racks in Tianhe (2), Wentian (5, incl. the 0.01-2 g variable-gravity rack and cold
storage at −80/−20/+4 °C) and Mengtian (8); crew day of 6.5 h work, 1 h meal, 2.5 h exercise,
sleep from 21:30 GMT; 5-minute plan steps. The rack names follow CMSA's published rack list;
their assignment to disciplines, the power budget (6 kW for payloads in sunlight, 3 kW in
eclipse), cold-storage volumes and the session parameters are ASSUMPTIONS chosen to make a
realistic, tight problem, not published values.

Experiments of the six disciplines the station simulator has a rack model for get a
``commands:`` mapping onto the TIANGONG MDB (``missions/tiangong/mdb.yaml``, one payload model
per discipline, :data:`DISCIPLINE_COMMANDS`), so that a generated campaign's plan becomes a
stack the simulator executes (``falak campaign commands``). The simulator has one unit of
each: two sessions of one discipline at once command the same unit.
"""

from __future__ import annotations

import copy
import datetime as _dt
import importlib.resources
from typing import Any

import numpy as np

from falak.planning.campaign.model import DISCIPLINES

__all__ = ["DISCIPLINE_COMMANDS", "RACKS", "generate_campaign"]

#: (name, module, capabilities)
RACKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("TH-1", "Tianhe", ("general",)),
    ("TH-2", "Tianhe", ("general",)),
    ("WT-LIFE-ECOLOGY", "Wentian", ("life", "ecology")),
    ("WT-BIOTECH", "Wentian", ("life",)),
    ("WT-VARIABLE-G", "Wentian", ("variable gravity", "life", "physics")),
    ("WT-GLOVEBOX", "Wentian", ("life", "glovebox")),
    ("WT-COLD-STORAGE", "Wentian", ("cold storage",)),
    ("MT-FLUID", "Mengtian", ("fluid",)),
    ("MT-TWO-PHASE", "Mengtian", ("fluid",)),
    ("MT-COMBUSTION", "Mengtian", ("physics",)),
    ("MT-FURNACE", "Mengtian", ("materials",)),
    ("MT-CONTAINERLESS", "Mengtian", ("materials",)),
    ("MT-TIME-FREQUENCY", "Mengtian", ("physics",)),
    ("MT-HIGH-MICROGRAVITY", "Mengtian", ("microgravity", "physics")),
    ("MT-MODULAR", "Mengtian", ("general", "astronomy", "radiation")),
)

_DISCIPLINE_RACKS: dict[str, tuple[str, ...]] = {
    "biological and medical sciences": ("WT-BIOTECH", "WT-GLOVEBOX", "WT-LIFE-ECOLOGY"),
    "aerospace": ("TH-1", "TH-2", "MT-MODULAR"),
    "applied physics": ("MT-COMBUSTION", "MT-TIME-FREQUENCY", "WT-VARIABLE-G"),
    "fluid mechanics": ("MT-FLUID", "MT-TWO-PHASE"),
    "space radiation": ("MT-MODULAR", "TH-2"),
    "ecology": ("WT-LIFE-ECOLOGY", "WT-VARIABLE-G"),
    "materials science": ("MT-FURNACE", "MT-CONTAINERLESS"),
    "microgravity studies": ("MT-HIGH-MICROGRAVITY", "WT-VARIABLE-G"),
    "astronomy": ("MT-MODULAR", "TH-1"),
}

_NAMES = ("Jing", "Lin", "Wei", "Ayesha", "Hao", "Ming")

#: The ``commands:`` mapping of a generated experiment, by discipline (TIANGONG MDB commands,
#: arguments inside their MDB ranges; ``{unattended_min}`` comes from the plan).
DISCIPLINE_COMMANDS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "biological and medical sciences": {
        "configure": [
            {"command": "INC_CONFIGURE", "args": {"TEMP_C": 37.0, "CO2_PCT": 5.0, "RH_PCT": 90.0}}
        ],
        "start": [{"command": "INC_START"}],
        "stop": [{"command": "INC_STOP"}],
    },
    "ecology": {
        "configure": [
            {
                "command": "PLANT_CONFIGURE",
                "args": {
                    "TEMP_C": 24.0,
                    "CO2_PPM": 1000.0,
                    "LIGHT_UMOL": 500.0,
                    "PHOTOPERIOD_H": 16,
                },
            }
        ],
        "start": [{"command": "PLANT_START"}],
        "stop": [{"command": "PLANT_STOP"}],
    },
    "fluid mechanics": {
        "configure": [
            {
                "command": "FLUID_CONFIGURE",
                "args": {"CELL_TEMP_C": 25.0, "FILL_PCT": 60.0, "CAMERA_FPS": 25},
            }
        ],
        "start": [{"command": "FLUID_START"}],
        "stop": [{"command": "FLUID_STOP"}],
    },
    "materials science": {
        "configure": [
            {
                "command": "FURN_CONFIGURE",
                "args": {
                    "SETPOINT_C": 850.0,
                    "RAMP_C_PER_MIN": 20.0,
                    "SOAK_MIN": "{unattended_min}",
                },
            }
        ],
        "start": [{"command": "FURN_START", "args": {"PROFILE": "ISOTHERMAL"}}],
        "stop": [{"command": "FURN_STOP"}],
    },
    "space radiation": {
        "configure": [{"command": "DOSI_CONFIGURE", "args": {"INTEGRATION_S": 10, "BIAS_V": 80.0}}],
        "start": [{"command": "DOSI_START"}],
        "stop": [{"command": "DOSI_STOP"}],
    },
    "astronomy": {  # the Crab Nebula, ICRS (SIMBAD: 05h34m31.94s +22d00m52.2s)
        "configure": [{"command": "ASTRO_CONFIGURE", "args": {"HV_V": 1200.0, "EXPOSURE_S": 60}}],
        "start": [{"command": "ASTRO_START", "args": {"RA_DEG": 83.6331, "DEC_DEG": 22.0145}}],
        "stop": [{"command": "ASTRO_STOP"}],
    },
}


def _tle_path() -> str:
    return str(importlib.resources.files("falak.missions") / "tiangong" / "css.tle")


def generate_campaign(
    days: int = 7,
    experiments: int = 20,
    seed: int = 0,
    *,
    start: _dt.datetime | None = None,
    orbit: bool = True,
    crew: int = 3,
    handover: bool = True,
) -> dict[str, Any]:
    """Return a random but realistic campaign as YAML-ready data (see ``schema.json``).

    ``orbit`` True uses the example CSS TLE for eclipses and contacts; False gives synthetic
    windows (a 92.2-min orbit with 36-min eclipses, 8-min contacts every orbit, and passes over
    Pakistan twice a day) so that tests need no ephemeris. ``handover`` adds, for campaigns of
    20 days or more, a second crew of three aboard for 5 days in the middle (6 crew then).
    """
    rng = np.random.default_rng(seed)
    t0 = start or _dt.datetime(2023, 9, 8, tzinfo=_dt.UTC)

    def iso(minute: float) -> str:
        return (t0 + _dt.timedelta(minutes=float(minute))).strftime("%Y-%m-%dT%H:%M:%SZ")

    horizon = days * 1440
    members: list[dict[str, Any]] = []
    for i in range(crew):
        m: dict[str, Any] = {"name": _NAMES[i % len(_NAMES)], "qualifications": ["crew"]}
        if i == crew - 1:
            m["role"] = "payload specialist"
            m["qualifications"] = ["crew", "payload-specialist"]
        members.append(m)
    if handover and days >= 20:  # handover: 6 aboard for 5 days mid-campaign
        h0 = (days // 2 - 2) * 1440
        for m in members:
            m["aboard"] = [iso(0), iso(h0 + 5 * 1440)]
        for i in range(3):
            members.append(
                {
                    "name": f"{_NAMES[(crew + i) % len(_NAMES)]}-2",
                    "qualifications": ["crew"] + (["payload-specialist"] if i == 2 else []),
                    "aboard": [iso(h0), iso(horizon)],
                }
            )
    exps: list[dict[str, Any]] = []
    for i in range(experiments):
        disc = DISCIPLINES[i % len(DISCIPLINES)]
        racks = list(_DISCIPLINE_RACKS[disc])
        n_sess = int(rng.integers(1, 4))
        sessions: list[dict[str, Any]] = []
        for j in range(n_sess):
            prep = int(rng.integers(1, 7)) * 5
            run = int(rng.integers(6, 37)) * 5
            run = min(run, 240 - prep)
            s: dict[str, Any] = {
                "name": f"S{j + 1}",
                "racks": sorted(set(rng.choice(racks, size=int(rng.integers(1, 3))).tolist())),
                "prep_min": prep,
                "run_min": run,
                "stow_min": int(rng.integers(1, 7)) * 5,
                "crew": 2 if rng.random() < 0.15 else 1,
                "power_kw": round(float(rng.uniform(0.2, 2.5)), 2),
                "repetitions": int(rng.integers(1, 4)),
            }
            if rng.random() < 0.5:
                u = int(rng.integers(12, 121)) * 5
                s["unattended_min"] = u
                s["unattended_max_min"] = u + 720
            if rng.random() < 0.3:
                s["qualification"] = "payload-specialist"
            if rng.random() < 0.6:
                s["data_mb"] = round(float(rng.uniform(100, 4000)), 0)
            if disc in ("biological and medical sciences", "ecology") and rng.random() < 0.6:
                s["sample"] = {
                    "temperature_c": int(rng.choice([-80, -20, 4])),
                    "volume_l": round(float(rng.uniform(0.05, 0.5)), 2),
                    "transfer_min": 10,
                    "within_min": 60,
                }
            if rng.random() < 0.1:
                s["ground_support"] = True
            if rng.random() < 0.2:
                a = float(rng.uniform(0, horizon * 0.5))
                s["window"] = [iso(a // 5 * 5), iso(min(horizon, (a + horizon * 0.5) // 5 * 5))]
            if rng.random() < 0.3:
                s["due"] = iso(float(rng.uniform(0.3, 1.0)) * horizon // 5 * 5)
            if j > 0:
                after: dict[str, Any] = {"session": f"S{j}", "min_lag_min": 0}
                if rng.random() < 0.3:
                    after["max_lag_min"] = 3 * 1440
                s["after"] = [after]
            sessions.append(s)
        exp: dict[str, Any] = {
            "name": f"E{i + 1:03d}-{disc.split()[0][:4].upper()}",
            "discipline": disc,
            "priority": int(rng.integers(1, 11)),
            "sessions": sessions,
        }
        if disc in DISCIPLINE_COMMANDS:
            exp["commands"] = copy.deepcopy(DISCIPLINE_COMMANDS[disc])
        exps.append(exp)
    data: dict[str, Any] = {
        "campaign": f"synthetic {days}-day campaign, {experiments} experiments, seed {seed}",
        "start": iso(0),
        "days": days,
        "step_min": 5,
        "crew": members,
        "racks": [{"name": n, "module": mo, "capabilities": list(cap)} for n, mo, cap in RACKS],
        "cold_storage": [
            {"temperature_c": -80, "volume_l": 8.0},
            {"temperature_c": -20, "volume_l": 15.0},
            {"temperature_c": 4, "volume_l": 20.0},
        ],
        "power": {"sunlit_kw": 6.0, "eclipse_kw": 3.0},
        "ground": {"downlink_rate_mbps": 120.0, "downlink_within_min": 1440},
        "experiments": exps,
    }
    if days >= 5:
        data["return_vehicle"] = {"departure": iso(horizon - 1440)}
    if orbit:
        data["orbit"] = {"tle": _tle_path(), "eclipse_model": "conical"}
    else:
        period = 92.2
        n = int(horizon / period) + 1
        k = np.arange(n) * period
        data["windows"] = {
            "eclipses": [
                [iso(a + 50.0), iso(min(horizon, a + 86.0))] for a in k if a + 50 < horizon
            ],
            "contacts": [[iso(a + 10.0), iso(a + 18.0)] for a in k if a + 18 < horizon],
            "support_passes": [
                [iso(d * 1440 + h * 60), iso(d * 1440 + h * 60 + 7)]
                for d in range(days)
                for h in (9, 16)
            ],
        }
    return data
