"""``falak moon sky``: JSON arrays, the Rich table, and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from falak.dynamics.moonsky import MoonSite, sky

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from falak.cli.app import app

    return app


def _run(app: typer.Typer, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["moon", "sky", *args])


def test_json_has_equal_length_arrays_matching_the_library(app: typer.Typer) -> None:
    result = _run(
        app,
        "--site", "-89.9,0",  # negative latitude as the option value
        "--start", "2028-01-01T00:00Z",
        "--stop", "2028-01-02T00:00Z",
        "--step-minutes", "60",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    keys = [
        "time",
        "sun_azimuth_deg",
        "sun_elevation_deg",
        "earth_azimuth_deg",
        "earth_elevation_deg",
        "earth_distance_km",
        "light_time_s",
    ]
    assert list(data) == keys
    assert {len(data[k]) for k in keys} == {25}  # 00:00 … 24:00 inclusive
    assert data["time"][0] == "2028-01-01T00:00:00Z"
    assert data["time"][-1] == "2028-01-02T00:00:00Z"
    grid = np.arange(
        np.datetime64("2028-01-01T00:00", "ns"),
        np.datetime64("2028-01-02T00:01", "ns"),
        np.timedelta64(1, "h"),
    )
    expected = sky(MoonSite(-89.9, 0.0), grid)
    # The JSON rounds angles to 1e-6° and light time to 1 ns.
    np.testing.assert_allclose(data["earth_elevation_deg"], expected.earth_elevation_deg, atol=1e-6)
    np.testing.assert_allclose(data["sun_azimuth_deg"], expected.sun_azimuth_deg, atol=1e-6)
    np.testing.assert_allclose(data["light_time_s"], expected.light_time_s, atol=1e-9)
    np.testing.assert_allclose(data["earth_distance_km"], expected.earth_distance_km, atol=1e-3)


def test_site_with_equals_sign_and_height(app: typer.Typer) -> None:
    result = _run(
        app, "--site=-88.74,124.5,10", "--start", "2028-06-01", "--stop", "2028-06-01T01:00",
        "--step-minutes", "30", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = sky(
        MoonSite(-88.74, 124.5, 10.0),
        np.array([t.rstrip("Z") for t in data["time"]], dtype="datetime64[ns]"),
    )
    np.testing.assert_allclose(data["earth_azimuth_deg"], expected.earth_azimuth_deg, atol=1e-6)


def test_table_is_thinned_and_summarised(app: typer.Typer) -> None:
    result = _run(
        app, "--site", "-90,0", "--start", "2028-01-01", "--stop", "2028-12-31T23:00",
        "--step-minutes", "60",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "showing 1 epoch in 183 of 8,784 (use --json for all)" in out
    assert "2028-01-01 00:00" in out
    # Summary numbers: REFERENCES.md, south pole 2028 hourly: −7.09° … +6.61°, 53.1% above.
    assert "Earth elevation -7.087° … 6.609°, above the horizon 53.1% of the time" in out
    assert "light time 1.1900 … 1.3559 s" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--site", "-91,0", "--start", "2028-01-01", "--stop", "2028-01-02"],
            "error: site latitude -91° is outside −90…+90° (south negative)",
        ),
        (
            ["--site", "-89,0,1,2", "--start", "2028-01-01", "--stop", "2028-01-02"],
            "error: --site '-89,0,1,2' must be LAT,LON or LAT,LON,HEIGHT_M",
        ),
        (
            ["--site", "south,0", "--start", "2028-01-01", "--stop", "2028-01-02"],
            "error: --site 'south,0' has a value that is not a number",
        ),
        (
            ["--site", "-89,0", "--start", "2028-01-02", "--stop", "2028-01-01"],
            "error: --stop 2028-01-01T00:00:00.000000000Z is before --start "
            "2028-01-02T00:00:00.000000000Z; give a stop at or after the start",
        ),
        (  # once wrapped by numpy to a day of 1816 before the kernel-span check
            ["--site", "-89,0", "--start", "2028-01-01", "--stop", "9999-12-31T23:59:59+00:00"],
            "error: --stop '9999-12-31T23:59:59+00:00' is outside the times falak can store, "
            "1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z",
        ),
        (
            ["--site", "-89,0", "--start", "2050-12-01", "--stop", "2051-02-01"],
            "error: time 2051-02-01T00:00:00+00:00 is outside the Moon kernels; "
            "allowed: 1900-01-02 to 2050-12-30 UTC",
        ),
        (
            ["--site", "-89,0", "--start", "1850-01-01", "--stop", "1850-01-02"],
            "allowed: 1900-01-02 to 2050-12-30 UTC",
        ),
        (
            ["--site", "-89,0", "--start", "yesterday", "--stop", "2028-01-02"],
            "error: --start 'yesterday' is not an ISO 8601 time",
        ),
        (
            ["--site", "-89,0", "--start", "2028-01-01", "--stop", "2028-01-02",
             "--step-minutes", "0"],
            "error: --step-minutes must be > 0",
        ),
        (
            ["--site", "-89,0", "--start", "2000-01-01", "--stop", "2040-01-01",
             "--step-minutes", "1"],
            "at most 2,000,000 per call",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_1(app: typer.Typer, args: list[str], message: str) -> None:
    result = _run(app, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_help_explains_units_and_formats(app: typer.Typer) -> None:
    result = runner.invoke(app, ["moon", "sky", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for phrase in ("LAT,LON[,HEIGHT_M]", "1737.4 km", "north through east", "ISO 8601"):
        assert phrase in text
