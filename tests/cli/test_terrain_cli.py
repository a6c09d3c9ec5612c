"""``falak terrain``: synth, hazards, horizons, illumination from the command line."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from falak.cli.app import app
from falak.terrain.dem import read_dem

runner = CliRunner()


def test_help_explains_units_and_formats():
    result = runner.invoke(app, ["terrain", "--help"])
    assert result.exit_code == 0
    assert "stereographic" in result.output
    result = runner.invoke(app, ["terrain", "hazards", "--help"])
    assert "--clearance-m" in result.output


@pytest.mark.slow
def test_synth_then_hazards(tmp_path):
    dem_path = tmp_path / "dem.tif"
    result = runner.invoke(
        app,
        ["terrain", "synth", "--out", str(dem_path), "--size", "64", "--resolution-m", "2",
         "--seed", "4", "--center", "-89.8,45"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "64x64 cells at 2 m" in result.output
    dem = read_dem(dem_path)
    assert dem.rocks is not None
    out = tmp_path / "hz"
    result = runner.invoke(
        app,
        ["terrain", "hazards", "--dem", str(dem_path), "--out-dir", str(out),
         "--clearance-m", "0.2", "--max-slope-deg", "15"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "impassable" in result.output
    for name in ("slope_deg", "roughness_m", "step_m", "rock", "impassable", "cost"):
        with rasterio.open(out / f"{name}.tif") as src:
            assert src.shape == (64, 64)
            assert src.transform == dem.transform
    for name in ("hillshade", "slope", "hazards", "cost"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    with rasterio.open(out / "cost.tif") as cost, rasterio.open(out / "impassable.tif") as bad:
        assert (np.isinf(cost.read(1)) == (bad.read(1) == 1)).all()


def test_bad_dem_is_one_line_error(tmp_path):
    path = tmp_path / "nope.tif"
    path.write_text("not a tiff")
    result = runner.invoke(app, ["terrain", "hazards", "--dem", str(path), "--out-dir", "x"])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "cannot read as a raster" in result.output


def test_bad_center_is_one_line_error(tmp_path):
    result = runner.invoke(
        app, ["terrain", "synth", "--out", str(tmp_path / "a.tif"), "--center", "south"]
    )
    assert result.exit_code == 1
    assert "--center 'south' must be LAT,LON" in result.output


def test_horizons_then_illumination(tmp_path):
    dem_path = tmp_path / "dem.tif"
    assert runner.invoke(
        app,
        ["terrain", "synth", "--out", str(dem_path), "--size", "48", "--resolution-m", "20",
         "--seed", "1"],
    ).exit_code == 0  # fmt: skip
    hz_path = tmp_path / "h.npz"
    result = runner.invoke(
        app, ["terrain", "horizons", "--dem", str(dem_path), "--azimuths", "36", "--out",
              str(hz_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "36 azimuths × 48x48 cells" in result.output
    out = tmp_path / "light"
    result = runner.invoke(
        app,
        ["terrain", "illumination", "--dem", str(dem_path), "--horizons", str(hz_path),
         "--start", "2028-01-01T00:00Z", "--stop", "2028-01-15T00:00Z", "--step-hours", "12",
         "--out-dir", str(out), "--relay"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "29 epochs" in result.output
    for name in ("lit_percent", "earth_percent", "longest_dark_h", "psr", "relay_percent"):
        with rasterio.open(out / f"{name}.tif") as src:
            values = src.read(1)
        assert values.shape == (48, 48)
        assert (out / f"{name}.png").exists()
    with rasterio.open(out / "lit_percent.tif") as src:
        lit = src.read(1)
    assert ((lit >= 0) & (lit <= 100)).all()


def test_illumination_rejects_bad_period(tmp_path):
    result = runner.invoke(
        app,
        ["terrain", "illumination", "--dem", "x.tif", "--horizons", "h.npz", "--start",
         "2028-01-02", "--stop", "2028-01-01", "--step-hours", "1", "--out-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "need --stop ≥ --start" in result.output


def test_illumination_refuses_a_leap_second_that_never_was(tmp_path):
    # falak.utctime's rule, named by the option (IERS Bulletin C: none at the end of 2028-01-01)
    result = runner.invoke(
        app,
        ["terrain", "illumination", "--dem", "x.tif", "--horizons", "h.npz", "--start",
         "2028-01-01T23:59:60Z", "--stop", "2028-01-03", "--step-hours", "1",
         "--out-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert " ".join(result.output.split()) == (
        "error: --start '2028-01-01T23:59:60Z' has second 60, but no leap second ended the UTC "
        "minute 2028-01-01T23:59 (leap seconds come only at 23:59:60 on the days IERS Bulletin "
        "C announces; the last was 2016-12-31); seconds run 00..59"
    )
