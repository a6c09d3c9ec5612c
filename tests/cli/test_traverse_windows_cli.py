"""``falak traverse windows``: the rover's uplink windows from the simulator's site options,
written as a falak-uplink-windows/1 file, and its error messages (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.planning.traverse.windows import earth_windows, read_windows
from falak.terrain.site import site_terrain
from falak.utctime import parse_ns

runner = CliRunner()

#: a 64² synthetic site (fast); at (1, 3031) m the Earth sets behind the terrain on
#: 2023-09-14 at 04:33 UTC (computed by earth_windows; the window closes inside the span)
SMALL = ["--option", "dem_size=64", "--x", "1", "--y", "3031"]


def test_help_explains_units_and_format() -> None:
    result = runner.invoke(app, ["traverse", "windows", "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in ("projected m", "ISO 8601 UTC", "hours", "falak-uplink-windows/1", "--option"):
        assert words in text, words


def test_it_writes_the_windows_earth_windows_computes(tmp_path: Path) -> None:
    out = tmp_path / "windows.json"
    args = ["traverse", "windows", *SMALL, "--start", "2023-09-14T00:00Z", "--hours", "12"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    windows = read_windows(out)
    dem, hz = site_terrain({"dem_size": 64}, 0)
    start = parse_ns("2023-09-14T00:00:00Z")
    expected = earth_windows(dem, hz, 1.0, 3031.0, start, start + 12 * 3600 * 10**9)
    assert [(w.start_ns, w.end_ns) for w in windows] == [(w.start_ns, w.end_ns) for w in expected]
    assert [str(w) for w in windows] == ["2023-09-14T00:00:00Z–2023-09-14T04:33:00Z"]
    doc = json.loads(out.read_text())
    assert (doc["format"], doc["spacecraft"], doc["contacts"]) == (
        "falak-uplink-windows/1",
        "ROVER",
        "earth",
    )
    assert doc["what"] == (
        "Earth above the terrain horizon at x=1, y=3031 m "
        "(site synth(size=64x64, resolution_m=2, seed=0))"
    )
    assert result.output.splitlines() == [
        f"{doc['what']}: 1 windows, open 4.5 of 12 h",
        "  2023-09-14T00:00:00Z–2023-09-14T04:33:00Z  (4.55 h)",
        f"wrote {out}",
    ]


def test_the_position_and_contacts_can_come_from_the_simulator_s_options(tmp_path: Path) -> None:
    out = tmp_path / "relay.json"
    result = runner.invoke(
        app,
        ["traverse", "windows", "--option", "dem_size=64", "--option", "start_x_m=1",
         "--option", "start_y_m=3031", "--option", "contacts=relay", "--start",
         "2023-09-14T00:00Z", "--hours", "3", "--spacecraft", "ROVER2", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    windows = read_windows(out)
    assert (windows.spacecraft, windows.contacts) == ("ROVER2", "relay")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--option", "dem_size=64", "--option", "speed=3", "--x", "1", "--y", "3031"],
            "error: unknown --option speed; the rover's: dem, horizons, dem_size,",
        ),
        (
            ["--option", "dem_size=64"],
            "error: give the rover's position: --x X_M --y Y_M (or --option start_x_m=X "
            "start_y_m=Y)",
        ),
        ([*SMALL, "--contacts", "dsn"], "error: --contacts 'dsn' must be one of earth, relay,"),
        (
            ["--option", "dem_size=64", "--x", "0", "--y", "0"],
            "error: point (0.0, 0.0) m is outside the DEM",
        ),
    ],
)
def test_mistakes_are_one_line_with_the_fix(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(
        app,
        ["traverse", "windows", *args, "--start", "2023-09-14T00:00Z", "--hours", "1",
         "--out", str(tmp_path / "w.json")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert " ".join(result.output.split()).startswith(message), result.output
    assert not (tmp_path / "w.json").exists()
