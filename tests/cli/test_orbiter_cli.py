"""``falak orbiter``: propagate to OEM, contacts, imaging, eclipses; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from falak.cli.app import app

runner = CliRunner()
# 12 h orbit, 200 km perilune (REFERENCES.md, ICUBE-Q class): a from Kepler with GM 4902.8.
ELEMENTS = "6142.4,0.6846,90,0,270,0"
EPOCH = "2028-03-01T00:00:00Z"


def test_propagate_writes_an_oem(tmp_path: Path) -> None:
    out = tmp_path / "orbit.oem"
    result = runner.invoke(
        app,
        [
            "orbiter",
            "propagate",
            "--elements",
            ELEMENTS,
            "--epoch",
            EPOCH,
            "--days",
            "0.5",
            "--step",
            "600",
            "--degree",
            "0",
            "--no-third-bodies",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_states"] == 73
    assert summary["epoch"] == "2028-03-01T00:00:00.000000Z"
    # Point mass: the samples at t = 0 (perilune) and 6 h (≈ apolune, period 12 h) give
    # a(1−e) − 1737.4 = 199.913 km and a(1+e) − 1737.4 = 8610.09 km (derived from ELEMENTS).
    assert summary["min_altitude_km"] == pytest.approx(199.913, abs=1e-3)
    assert summary["max_altitude_km"] == pytest.approx(8610.09, abs=0.1)
    text = out.read_text()
    assert "CENTER_NAME = MOON" in text
    assert "REF_FRAME = ICRF" in text
    # The OEM feeds the other commands.
    result = runner.invoke(app, ["orbiter", "eclipses", "--oem", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert all(set(r) >= {"start", "stop", "body", "umbra_start", "min_sun_fraction"} for r in rows)
    # Options of a propagation do not apply to an OEM: rejected, with the names, not ignored.
    result = runner.invoke(
        app, ["orbiter", "eclipses", "--oem", str(out), "--days", "3", "--degree", "0"]
    )
    assert result.exit_code == 1
    assert "--days, --degree" in result.output
    assert "do not apply to --oem" in result.output


def test_contacts_json() -> None:
    result = runner.invoke(
        app,
        [
            "orbiter",
            "contacts",
            "--station",
            "Islamabad",
            "--elements",
            ELEMENTS,
            "--epoch",
            EPOCH,
            "--days",
            "1",
            "--degree",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows
    for r in rows:
        assert r["station"] == "Islamabad"
        assert r["max_elevation_deg"] >= 10.0  # the catalogue's min elevation for Islamabad
        assert set(r) == {
            "start",
            "stop",
            "duration_s",
            "station",
            "max_elevation_deg",
            "mean_range_km",
        }


def test_imaging_json() -> None:
    result = runner.invoke(
        app,
        [
            "orbiter",
            "imaging",
            "--target",
            "-80,0",
            "--elements",
            "1837.4,0.0,90,0,0,0",
            "--frame",
            "MOON_PA",
            "--epoch",
            EPOCH,
            "--days",
            "1",
            "--max-off-nadir",
            "30",
            "--min-sun-elevation",
            "-90",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows
    for r in rows:
        assert r["min_off_nadir_deg"] <= 30.0
        assert set(r) == {
            "start",
            "stop",
            "duration_s",
            "min_off_nadir_deg",
            "sun_elevation_deg",
            "min_range_km",
        }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--elements", "1800,0.1,90,0,0,0", "--epoch", EPOCH],
            "error: perilune radius 1620.0 km (altitude -117.4 km) is below the lunar surface",
        ),
        (
            ["--elements", "1900,0.0,90,0,0,0", "--epoch", "2060-01-01T00:00:00Z"],
            "error: time 2060-01-01T00:00:00+00:00 is outside the Moon kernels",
        ),
        (
            ["--elements", "1900,0.0,90", "--epoch", EPOCH],
            "error: --elements '1900,0.0,90' must be six numbers a_km,e,i_deg,raan_deg,argp_deg",
        ),
        (
            ["--elements", "1900,0.0,90,0,0,0", "--epoch", "tomorrow"],
            "error: --epoch 'tomorrow' is not an ISO 8601 time",
        ),
        (
            ["--elements", "1900,0.0,90,0,0,0", "--epoch", "2028-03-01T12:59:60Z"],
            "error: --epoch '2028-03-01T12:59:60Z' has second 60, but no leap second ended the "
            "UTC minute 2028-03-01T12:59",
        ),
        (["--epoch", EPOCH], "error: give the orbit as --elements"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["orbiter", "propagate", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_help_documents_json_and_frames() -> None:
    result = runner.invoke(app, ["orbiter", "contacts", "--help"])
    assert result.exit_code == 0
    assert "max_elevation_deg" in result.stdout
    assert "Moon-centred" in result.stdout
