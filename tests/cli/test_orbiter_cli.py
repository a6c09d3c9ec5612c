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


# -- falak orbiter commands / downlink (issue 15, "Plans that fly the orbiter") -------------

_OPPS = [
    {"start": "2028-09-18T11:59:54.6Z", "stop": "2028-09-18T12:00:05.5Z", "duration_s": 10.9,
     "min_off_nadir_deg": 0.13, "sun_elevation_deg": 1.27, "min_range_km": 200.1},
    {"start": "2028-09-19T11:59:50Z", "stop": "2028-09-19T12:00:01Z", "duration_s": 11.0,
     "min_off_nadir_deg": 0.38, "sun_elevation_deg": 1.3, "min_range_km": 200.6},
]  # fmt: skip
_CONTACTS = [
    {"start": "2028-09-18T11:52:48Z", "stop": "2028-09-18T22:15:02Z", "station": "Neuquén"},
    {"start": "2028-09-18T11:53:30Z", "stop": "2028-09-18T12:13:55Z", "station": "Karachi"},
    {"start": "2028-09-19T11:52:04Z", "stop": "2028-09-19T23:19:08Z", "station": "Neuquén"},
]


def _write(tmp_path: Path) -> tuple[Path, Path]:
    img, con = tmp_path / "img.json", tmp_path / "con.json"
    img.write_text(json.dumps(_OPPS), encoding="utf-8")
    con.write_text(json.dumps(_CONTACTS), encoding="utf-8")
    return img, con


def test_orbiter_commands_writes_a_stack_the_executor_loads(tmp_path: Path) -> None:
    from falak.commanding.stack import parse_stack
    from falak.mdb import load
    from falak.sim.orbiter import MDB_PATH

    img, con = _write(tmp_path)
    out = tmp_path / "img.yaml"
    result = runner.invoke(
        app, ["orbiter", "commands", str(img), "--contacts", str(con), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: 2 IMAGE_TAKE from 2 opportunities")
    stack = parse_stack(out.read_text(encoding="utf-8"), load(MDB_PATH), file=str(out))
    assert [s.command.split("/")[-1] for s in stack.steps] == ["IMAGE_TAKE"] * 2
    assert stack.spacecraft == "ORBITER"


def test_orbiter_downlink_plan_stack_and_png(tmp_path: Path) -> None:
    from falak.commanding.stack import parse_stack
    from falak.mdb import load
    from falak.sim.orbiter import MDB_PATH

    img, con = _write(tmp_path)
    out, stack, png = tmp_path / "plan.json", tmp_path / "dl.yaml", tmp_path / "plan.png"
    result = runner.invoke(
        app,
        ["orbiter", "downlink", "--from-imaging", str(img), "--contacts", str(con),
         "--start", "2028-09-18T11:00:00Z", "--out", str(out), "--stack", str(stack),
         "--png", str(png)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == "falak-downlink-plan/1"
    assert doc["summary"]["lost"] == 0
    # 2 images and the hourly magnetometer files of 11:00 .. 23:19 on the 19th (36 h)
    # the 11:00 magnetometer file closes at 12:00:00, then the image takes the next id but one
    assert [d["name"] for d in doc["dumps"]][:2] == ["MAG_000001.bin", "IMG_000003.pgm"]
    assert doc["link"]["turnaround_s"] == pytest.approx(3.56)
    steps = parse_stack(stack.read_text(encoding="utf-8"), load(MDB_PATH), file=str(stack)).steps
    assert len(steps) == len(doc["dumps"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_orbiter_downlink_names_the_lost_files(tmp_path: Path) -> None:
    files = tmp_path / "files.json"
    files.write_text(
        json.dumps(
            {"files": [
                {"name": f"IMG_{k:06d}.pgm", "size_bytes": 262159, "file_id": k,
                 "created": f"2028-09-18T1{k}:00:00Z", "priority": 1}
                for k in range(1, 5)
            ]}
        ),
        encoding="utf-8",
    )  # fmt: skip
    con = tmp_path / "con.json"
    con.write_text(json.dumps([_CONTACTS[2]]), encoding="utf-8")
    result = runner.invoke(
        app,
        ["orbiter", "downlink", "--files", str(files), "--contacts", str(con),
         "--recorder-mib", "0.6", "--out", str(tmp_path / "plan.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # 0.6 MiB holds two images: the third overwrites the first, the fourth the second
    assert "2 lost (524318 bytes)" in result.stdout
    assert (
        "  lost IMG_000001.pgm: capacity: overwritten at 2028-09-18T13:00:00Z by IMG_000003.pgm"
        in result.stdout
    )


def test_orbiter_downlink_needs_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["orbiter", "downlink", "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: give the recorder's files as --files FILES.json or --from-imaging"
    )
