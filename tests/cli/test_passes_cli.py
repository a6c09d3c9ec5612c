"""``falak passes`` through Typer's CliRunner."""

from __future__ import annotations

import importlib.resources
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.dynamics.passes import find_passes
from falak.dynamics.stations import load_stations
from falak.dynamics.tle import read_tle_file

CSS_TLE = str(importlib.resources.files("falak") / "missions" / "tiangong" / "css.tle")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["passes", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_keys_types_and_values() -> None:
    code, out, _ = _run(
        "--tle", CSS_TLE, "--station", "Islamabad", "--station", "Lahore",
        "--start", "2023-09-08T00:00:00Z", "--days", "1", "--json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list)
    assert len(rows) >= 8  # ~6 a day over each station (REFERENCES.md)
    for row in rows:
        assert set(row) == {
            "satellite", "norad", "station", "rise", "culminate", "set", "max_elevation_deg",
        }  # fmt: skip
        assert row["satellite"] == "CSS (TIANHE)"
        assert row["norad"] == 48274
        assert row["station"] in ("Islamabad", "Lahore")
        for key in ("rise", "culminate", "set"):
            assert ISO_MS.match(row[key]), row[key]
        assert row["rise"] < row["culminate"] < row["set"]
        assert isinstance(row["max_elevation_deg"], float)
        assert 10.0 <= row["max_elevation_deg"] <= 90.0
    # Same numbers as the library call (the CLI only formats them).
    start = datetime(2023, 9, 8, tzinfo=UTC)
    st = load_stations()
    ref = find_passes(
        read_tle_file(CSS_TLE), [st["Islamabad"], st["Lahore"]], start, start + timedelta(days=1)
    )
    assert [r["rise"][:19] for r in rows] == [p.rise.strftime("%Y-%m-%dT%H:%M:%S") for p in ref]


def test_site_min_elevation_and_satellite_filter() -> None:
    args = ["--tle", CSS_TLE, "--site", "33.68,73.05,540", "--start", "2023-09-08", "--json"]
    code, out, _ = _run(*args, "--satellite", "48274", "--min-elevation", "30")
    assert code == 0
    rows = json.loads(out)
    assert rows
    assert all(r["max_elevation_deg"] >= 30.0 for r in rows)
    assert rows[0]["station"] == "site(33.68,73.05,540m)"
    code, out, _ = _run(*args, "--satellite", "css (tianhe)")
    assert code == 0
    assert len(json.loads(out)) > len(rows)


def test_table_output() -> None:
    code, out, _ = _run(
        "--tle", CSS_TLE, "--station", "neuquen", "--start", "2023-09-08T00:00:00+00:00",
        "--days", "0.5",
    )  # fmt: skip
    assert code == 0
    assert "passes from 2023-09-08T00:00:00.000Z for 0.5 d (times UTC)" in out
    assert "CSS (TIANHE)" in out
    assert "Neuquén" in out
    assert "max el (deg)" in out


def test_stations_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("stations:\n  Quetta: {lat_deg: 30.18, lon_deg: 66.99, height_m: 1680}\n")
    code, out, _ = _run(
        "--tle", CSS_TLE, "--station", "Quetta", "--stations-file", str(f),
        "--start", "2023-09-08", "--json",
    )  # fmt: skip
    assert code == 0
    assert {r["station"] for r in json.loads(out)} == {"Quetta"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--station", "Quetta"],
            "error: unknown station 'Quetta'; known stations: Islamabad, Jiamusi, Karachi, "
            "Kashi, Lahore, Neuquén, Sanya",
        ),
        (
            ["--site", "95,73,0"],
            "error: site '95,73,0': latitude 95° is outside -90..90° (geodetic, north positive)",
        ),
        (
            ["--station", "Lahore", "--start", "2023-13-01"],
            "error: --start '2023-13-01' is not an ISO 8601 time; use e.g. 2028-01-01T00:00:00Z "
            "(UTC; also 2028-01-01, 2028-01-01T06:30, decimals of a second to the nanosecond, "
            "or an offset such as +00:00; a time without offset is UTC)",
        ),
        (
            ["--station", "Lahore", "--start", "2016-12-31T23:59:60Z"],
            "error: --start '2016-12-31T23:59:60Z' lies in the leap second at the end of "
            "2016-12-31 (IERS Bulletin C)",
        ),
        (["--station", "Lahore", "--days", "0"], "error: --days 0 is outside 0 < N ≤ 366"),
        ([], "error: give at least one --station NAME or --site LAT,LON,HEIGHT_M"),
        (
            ["--station", "Lahore", "--satellite", "ISS"],
            "error: --satellite 'ISS' is not in the file; give a name or NORAD number from: "
            "CSS (TIANHE) (48274)",
        ),
    ],
)
def test_bad_input_is_one_line_exit_1(args: list[str], message: str) -> None:
    if "--start" not in args:
        args = [*args, "--start", "2023-09-08"]
    code, out, err = _run("--tle", CSS_TLE, *args)
    assert code == 1
    assert err.startswith(message)
    assert err.count("\n") == 1  # one line
    assert "Traceback" not in err
    assert out == ""


def test_malformed_tle_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tle"
    lines = Path(CSS_TLE).read_text().splitlines()
    bad.write_text(f"{lines[0]}\n{lines[1][:68]}0\n{lines[2]}\n")
    code, _, err = _run("--tle", str(bad), "--station", "Lahore", "--start", "2023-09-08")
    assert code == 1
    assert err == (
        f"error: {bad}:2: TLE line 1 checksum is wrong: expected 7, found 0 (sum of the digits "
        "in columns 1-68, '-' counts 1, modulo 10)\n"
    )
    missing = tmp_path / "none.tle"
    code, _, err = _run("--tle", str(missing), "--station", "Lahore", "--start", "2023-09-08")
    assert code == 1
    assert "is not a readable file" in err


def test_omm_file_is_accepted(tmp_path: Path) -> None:
    from tests.dynamics.test_tle import CSS_OMM_KVN

    f = tmp_path / "css.kvn"
    f.write_text(CSS_OMM_KVN)
    code, out, _ = _run("--tle", str(f), "--station", "Lahore", "--start", "2023-09-08", "--json")
    assert code == 0
    assert json.loads(out)[0]["norad"] == 48274
