"""Real plan files for the timeline tests, made by falak's CLI on small inputs, and a server
configuration that shows them: TIANGONG (the CSS TLE, a one-session campaign plan, an
orbiter imaging list, a file that is not JSON) and ROVER (a traverse route with its schedule,
its uplink windows, light time 1.28 s)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from typer.testing import CliRunner

from falak.cli.app import app
from falak.dynamics.orbiter import Window
from falak.terrain import synthesize, write_dem
from tests.planning.campaign.conftest import base_campaign, experiment, session
from tests.server.test_config import TIANGONG_MDB

ROVER_MDB = Path(__file__).parents[2] / "src" / "falak" / "missions" / "rover" / "mdb.yaml"
CSS_TLE = Path(__file__).parents[2] / "src" / "falak" / "missions" / "tiangong" / "css.tle"
EPOCH = "2023-09-08T06:00:00Z"
"""The run clock's epoch: half a day after the CSS TLE's epoch (23250.603, 2023-09-07 14:28)."""
CAMPAIGN_START = "2023-09-08T00:00:00Z"
DEPART = "2028-01-04T00:00Z"
"""The traverse's departure: the Earth is in view over the whole synthetic site then
(tests/cli/test_traverse_commands_cli.py)."""

#: user name → (password, roles as the config file gives them)
TIMELINE_USERS = {
    "vera": ("vera-pw", "[viewer]"),
    "sam": ("sam-pw", "{TIANGONG: [viewer]}"),  # sees the station only
}

WINDOWS = {
    "format": "falak-uplink-windows/1",
    "spacecraft": "ROVER",
    "what": "Earth above the terrain horizon at the traverse's start (synthetic site)",
    "windows": [
        {"start": "2028-01-04T00:00:00Z", "end": "2028-01-04T06:00:00Z"},
        {"start": "2028-01-04T09:00:00Z", "end": "2028-01-04T20:00:00Z"},
    ],
}
"""Uplink windows in the falak-uplink-windows/1 form of CONTRACTS C1 (written here by hand:
``falak traverse windows`` was not on main when this was written)."""

IMAGING = [
    Window(
        dt.datetime(2023, 9, 8, 7, 10, tzinfo=dt.UTC),
        dt.datetime(2023, 9, 8, 7, 12, 30, tzinfo=dt.UTC),
        {"min_off_nadir_deg": 4.25, "sun_elevation_deg": 12.5, "min_range_km": 101.0},
    ).to_json()
]
"""One imaging opportunity as ``falak orbiter imaging --json`` prints it (Window.to_json)."""


@dataclass
class Plans:
    dir: Path
    campaign: Path
    route: Path
    windows: Path
    imaging: Path
    broken: Path
    config: Path


def make_plans(d: Path) -> Plans:
    """Run the CLI for the plans and write the server configuration into ``d``."""
    runner = CliRunner()
    camp = d / "campaign.yaml"
    data = base_campaign(
        start=CAMPAIGN_START,
        experiments=[experiment("melt", 1, session("s", 60, prep_min=10, stow_min=10))],
    )
    camp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = d / "plan.json"
    res = runner.invoke(app, ["campaign", "plan", str(camp), "--out", str(plan), "--deterministic"])
    assert res.exit_code == 0, res.output

    dem = synthesize(100, 0.5, seed=2)  # 50 m square at 0.5 m (as test_traverse_commands_cli)
    write_dem(dem, d / "dem.tif")
    route = d / "route.geojson"
    res = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(d / "dem.tif"),
         "--start", f"{dem.x_m[2]:.3f},{dem.y_m[2]:.3f}",
         "--goal", f"{dem.x_m[97]:.3f},{dem.y_m[97]:.3f}",
         "--depart", DEPART, "--hours", "24", "--speed-m-s", "0.0556", "--out", str(route)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output

    windows = d / "windows.json"
    windows.write_text(json.dumps(WINDOWS, indent=1), encoding="utf-8")
    imaging = d / "imaging.json"
    imaging.write_text(json.dumps(IMAGING, indent=2), encoding="utf-8")
    broken = d / "broken.json"
    broken.write_text('{"activities": [', encoding="utf-8")

    users = "\n".join(
        f"  - {{name: {name}, roles: {roles}, password: {pw}}}"
        for name, (pw, roles) in TIMELINE_USERS.items()
    )
    config = d / "server.yaml"
    config.write_text(
        f"""archive: ./archive
clock: {{epoch: "{EPOCH}", speed: 60}}
users:
{users}
spacecraft:
  - name: TIANGONG
    mdb: {TIANGONG_MDB}
    orbit: {{tle: {CSS_TLE}}}
    plans: [plan.json, imaging.json, broken.json]
  - name: ROVER
    mdb: {ROVER_MDB}
    light_time_s: 1.28
    uplink_windows: {{file: windows.json, policy: wait}}
    plans: [route.geojson, windows.json]
""",
        encoding="utf-8",
    )
    return Plans(d, plan, route, windows, imaging, broken, config)
