"""``falak traverse plan``: route and schedule from the command line, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.terrain import Rover, hazards, synthesize, write_dem

runner = CliRunner()


@pytest.fixture(scope="module")
def dem_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    dem = synthesize(100, 0.5, seed=2)  # 50 m square at 0.5 m: ~1.5 % hazard cells
    path = tmp_path_factory.mktemp("traverse") / "dem.tif"
    write_dem(dem, path)
    return path, dem, hazards(dem, Rover(max_slope_deg=20.0))


def _pt(dem, r: int, c: int) -> str:  # type: ignore[no-untyped-def]
    return f"{dem.x_m[c]:.3f},{dem.y_m[r]:.3f}"


def test_help_explains_units() -> None:
    result = runner.invoke(app, ["traverse", "plan", "--help"])
    assert result.exit_code == 0
    assert "projected" in result.output
    assert "--teleoperated" in result.output


def test_route_only_writes_geojson(dem_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, dem, maps = dem_file
    out = tmp_path / "route.geojson"
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), f"--start={_pt(dem, 2, 2)}",
         f"--goal={_pt(dem, 97, 97)}", f"--via={_pt(dem, 20, 80)}", f"--via={_pt(dem, 80, 20)}",
         "--unordered", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "route:" in result.output
    feature = json.loads(out.read_text())
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    coords = np.array(feature["geometry"]["coordinates"])
    props = feature["properties"]
    assert [w["role"] for w in props["waypoints"]] == ["start", "via", "via", "goal"]
    assert props["length_m"] > np.hypot(*(coords[-1] - coords[0]))  # it visits the waypoints
    assert props["max_slope_deg"] <= 20.0
    rows, cols = dem.cell_of(coords[:, 0], coords[:, 1])
    assert not np.any(maps.impassable[rows, cols])
    assert props["depart"] is None  # no --depart: no schedule


def test_errors_name_the_problem(dem_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, dem, maps = dem_file
    out = str(tmp_path / "r.geojson")
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), "--start=0,0", f"--goal={_pt(dem, 50, 50)}",
         "--out", out],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "is outside the DEM" in result.output
    r, c = np.argwhere(maps.impassable)[0]
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), f"--start={_pt(dem, 2, 2)}",
         f"--goal={_pt(dem, int(r), int(c))}", "--out", out],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "is inside a hazard" in result.output
    result = runner.invoke(
        app, ["traverse", "plan", "--dem", str(path), "--start=1;2", "--goal=0,0", "--out", out]
    )
    assert result.exit_code == 1
    assert "must be X,Y in projected metres" in result.output
    # falak.utctime's range, named by the option (numpy would have wrapped it to 1816)
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), f"--start={_pt(dem, 2, 2)}",
         f"--goal={_pt(dem, 97, 97)}", "--depart", "9999-12-31T23:59:59Z", "--out", out],
    )  # fmt: skip
    assert result.exit_code == 1
    assert " ".join(result.output.split()) == (
        "error: --depart '9999-12-31T23:59:59Z' is outside the times falak can store, "
        "1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z (int64 nanoseconds "
        "since 1970, numpy datetime64[ns]); give a time within it"
    )


@pytest.mark.slow
def test_scheduled_traverse_with_png(dem_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, dem, _ = dem_file
    out = tmp_path / "route.geojson"
    png = tmp_path / "route.png"
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), f"--start={_pt(dem, 2, 2)}",
         f"--goal={_pt(dem, 97, 97)}", "--depart", "2028-01-10T00:00:00Z", "--hours", "48",
         "--autonomous", "--out", str(out), "--png", str(png)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "depart 2028-01-10" in result.output
    props = json.loads(out.read_text())["properties"]
    assert props["depart"].startswith("2028-01-10")
    assert props["duration_s"] >= props["length_m"] / 0.1 - 1e-6  # never faster than 0.1 m/s
    kinds = {row["kind"] for row in props["timeline"]}
    assert kinds <= {"drive", "wait"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_dem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The terrain of ``make demo``: 200 × 200 cells at 0.5 m around the pole, seed 2."""
    path = tmp_path_factory.mktemp("demo") / "dem.tif"
    result = runner.invoke(
        app,
        ["terrain", "synth", "--out", str(path), "--size", "200", "--resolution-m", "0.5",
         "--center", "-90,0", "--seed", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


DEMO_PLAN = ["--start", "-40,-40", "--goal", "40,40", "--depart", "2028-01-10T00:00Z",
             "--hours", "48"]  # fmt: skip


def test_demo_summary_reports_the_light_along_the_route(demo_dem, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The printed sunlit share matches the illumination map sampled along the route.

    Before the fix the summary said ``sunlit 0%, Earth in view 0%``: it took the darkest cell
    of the whole 20-minute drive.
    """
    from falak.terrain import horizons, illumination_maps, read_dem

    out = tmp_path / "route.geojson"
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(demo_dem), *DEMO_PLAN, "--autonomous", "--out",
         str(out), "--png", str(tmp_path / "route.png")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    feature = json.loads(out.read_text())
    props = feature["properties"]
    # Independent value: the illumination map at departure, sampled at the route's vertices and
    # weighted by the length of route each vertex stands for.
    dem = read_dem(demo_dem)
    xy = np.array(feature["geometry"]["coordinates"])
    rows, cols = dem.cell_of(xy[:, 0], xy[:, 1])
    maps = illumination_maps(dem, horizons(dem, 180), [np.datetime64("2028-01-10T00:00")])
    lit = maps.lit_percent[rows, cols] / 100.0
    step = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    weight = np.concatenate([step / 2, [0.0]]) + np.concatenate([[0.0], step / 2])
    expected = float(np.sum(lit * weight) / np.sum(weight))
    assert 0.55 < expected < 0.7  # 58 % of the route's cells are lit at departure
    # 0.02: the drive lasts 20 min, during which the Sun moves ~0.2° and shadows shift
    assert props["sunlit_fraction"] == pytest.approx(expected, abs=0.02)
    assert f"sunlit {props['sunlit_fraction']:.0%}" in result.output
    assert f"Earth in view {props['earth_visible_fraction']:.0%}" in result.output
    assert props["earth_visible_fraction"] > 0.9


def test_demo_teleoperated_names_the_hidden_earth(demo_dem, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Earth hidden from the start for all 48 h: the error names it, not the battery."""
    from falak.terrain import horizons, illumination_maps, read_dem

    dem = read_dem(demo_dem)
    times = np.datetime64("2028-01-10T00:00") + np.arange(97) * np.timedelta64(30, "m")
    maps = illumination_maps(dem, horizons(dem, 180), times)
    r, c = dem.cell_of(-40.0, -40.0)
    assert maps.earth_percent[r[0], c[0]] == 0.0  # independent: never in view from the start

    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(demo_dem), *DEMO_PLAN, "--out",
         str(tmp_path / "r.geojson")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert (
        "error: no Earth window: the Earth is never in view at the start (-39.8, -40.2) (0 m "
        "along the route) from 2028-01-10T00:00:00Z to 2028-01-12T00:00:00Z (the end of the "
        "timeline), and a teleoperated rover drives only in contact (plan it --autonomous, "
        "move the start, or extend the window)"
    ) in result.output
    assert "battery" not in result.output


def test_rock_margin_keeps_the_route_clear_of_every_listed_rock(  # type: ignore[no-untyped-def]
    dem_file, tmp_path
) -> None:
    # --rock-margin-m: no route cell within half the wheel base + a rock's radius + the margin
    # of a rock taller than the clearance (terrain.hazards.rock_clearance, the simulator's stop
    # rule); the model reason says so.
    from falak.terrain.hazards import rock_clearance

    path, dem, maps = dem_file
    out = tmp_path / "route.geojson"
    result = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), f"--start={_pt(dem, 2, 2)}",
         f"--goal={_pt(dem, 97, 97)}", "--rock-margin-m", "0.2", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    coords = np.array(json.loads(out.read_text())["geometry"]["coordinates"])
    rows, cols = dem.cell_of(coords[:, 0], coords[:, 1])
    clear = rock_clearance(dem, maps.rover, margin_m=0.2)
    assert clear.any()  # the site has such rocks
    assert not np.any(clear[rows, cols])
    bad = runner.invoke(
        app,
        ["traverse", "plan", "--dem", str(path), f"--start={_pt(dem, 2, 2)}",
         f"--goal={_pt(dem, 97, 97)}", "--rock-margin-m", "-1", "--out", str(out)],
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "rock-margin-m" in bad.output
