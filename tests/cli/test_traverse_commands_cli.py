"""``falak traverse commands`` and ``replan``: plan → drive stack → track → replan, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.commanding.stack import parse_stack
from falak.mdb import load
from falak.terrain import synthesize, write_dem
from falak.utctime import format_ns, parse_ns

runner = CliRunner()
ROVER_MDB = Path(__file__).parents[2] / "src" / "falak" / "missions" / "rover" / "mdb.yaml"

#: The rover's drive commands as issue 14 fixes them (APID 500), and nothing else: the
#: conversion is tested on its own, whatever else the rover MDB holds.
MINI_MDB = """\
name: MINIROVER
description: the drive commands of issue 14, for testing falak traverse commands alone
types:
  Metres: {kind: float, encoding: float32, unit: m}
  Degrees: {kind: float, encoding: float32, unit: deg, valid_range: [0, 360]}
commands:
  CCSDS_TC:
    abstract: true
    crc: CRC-16-CCITT
    arguments:
      APID: {type: uint11, default: 500}
      OPCODE: uint8
    entries:
      - {fixed: 3, value: "00", name: version}
      - {fixed: 1, value: "01", name: type_tc}
      - {fixed: 1, value: "00", name: sec_hdr_flag}
      - APID
      - {fixed: 2, value: "03", name: seq_flags_unsegmented}
      - {fixed: 14, value: "0000", name: seq_count}
      - {fixed: 16, value: "0000", name: packet_length}
      - OPCODE
  TURN:
    base: CCSDS_TC
    assign: {OPCODE: 2}
    arguments: {HEADING_DEG: Degrees}
    entries: [HEADING_DEG]
  DRIVE:
    base: CCSDS_TC
    assign: {OPCODE: 1}
    arguments: {DISTANCE_M: Metres, HEADING_DEG: Degrees, MAX_SLOPE_DEG: Degrees,
                MAX_STEP_M: Metres}
    entries: [DISTANCE_M, HEADING_DEG, MAX_SLOPE_DEG, MAX_STEP_M]
  GOTO:
    base: CCSDS_TC
    assign: {OPCODE: 3}
    arguments: {X_M: Metres, Y_M: Metres, MAX_SLOPE_DEG: Degrees, MAX_STEP_M: Metres}
    entries: [X_M, Y_M, MAX_SLOPE_DEG, MAX_STEP_M]
"""


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("drive")
    dem = synthesize(100, 0.5, seed=2)  # 50 m square at 0.5 m
    write_dem(dem, d / "dem.tif")
    (d / "mini.yaml").write_text(MINI_MDB)
    start = f"{dem.x_m[2]:.3f},{dem.y_m[2]:.3f}"
    goal = f"{dem.x_m[97]:.3f},{dem.y_m[97]:.3f}"
    # 2028-01-04: the Earth is in view over the whole site (teleoperated, the default);
    # 0.0556 m/s: the ROVER MDB's 200 m/h
    plan = ["--dem", str(d / "dem.tif"), "--goal", goal, "--depart", "2028-01-04T00:00Z",
            "--hours", "24", "--speed-m-s", "0.0556"]  # fmt: skip
    result = runner.invoke(
        app, ["traverse", "plan", "--start", start, *plan, "--out", str(d / "route.geojson")]
    )
    assert result.exit_code == 0, result.output
    return {"dir": d, "dem": dem, "plan": plan, "start": start}


def test_help_explains_formats_and_units() -> None:
    result = runner.invoke(app, ["traverse", "commands", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    words = ["ROUTE.geojson", "falak traverse plan --depart", "degrees clockwise from grid",
             "north", "light time", "Earth windows", "absolute UTC", "STACK.yaml:LINE"]  # fmt: skip
    for w in words:
        assert w in text, w


def test_route_to_checked_stack(planned) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    out = d / "drive.yaml"
    result = runner.invoke(
        app,
        ["traverse", "commands", str(d / "route.geojson"), "--out", str(out), "--mdb",
         str(d / "mini.yaml"), "--light-time-s", "1.28"],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # named after the schedule's departure: 00:30 on this route (it waits before driving)
    assert "stack traverse-20280104t0030 for MINIROVER, checked against" in result.output
    assert "planned arrival" in result.output  # the summary table
    text = out.read_text()
    assert text.startswith("# Drive stack of route.geojson (falak traverse commands).")
    stack = parse_stack(text, load(d / "mini.yaml"), file=str(out))
    feature = json.loads((d / "route.geojson").read_text())
    props = feature["properties"]
    windows = [(parse_ns(w["start"]), parse_ns(w["end"])) for w in props["earth_windows"]]
    assert all(any(a <= s.at_ns <= b for a, b in windows) for s in stack.steps if s.at_ns)
    drives = [s for s in stack.steps if s.command.endswith("DRIVE")]
    total = sum(s.arguments["DISTANCE_M"] for s in drives)
    assert total == pytest.approx(feature["properties"]["length_m"], rel=0.05)


def test_errors_say_what_to_do(planned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    mini = str(d / "mini.yaml")
    route = str(d / "route.geojson")
    out = str(tmp_path / "s.yaml")
    result = runner.invoke(app, ["traverse", "commands", route, "--out", out, "--mdb", mini,
                                 "--policy", "later"])  # fmt: skip
    assert result.exit_code == 1
    assert "error: stack policy 'later' is not one of stop, continue" in result.output
    bare = tmp_path / "bare.geojson"
    plan = ["traverse", "plan", "--dem", str(d / "dem.tif"), "--start", planned["start"],
            "--goal", planned["plan"][3], "--out", str(bare)]  # fmt: skip
    runner.invoke(app, plan)
    result = runner.invoke(app, ["traverse", "commands", str(bare), "--out", out, "--mdb", mini])
    assert result.exit_code == 1
    assert "has a route but no schedule; plan it with a departure time" in result.output
    # A stack the MDB refuses: no TURN in this one
    (tmp_path / "noturn.yaml").write_text(MINI_MDB.replace("  TURN:", "  SPIN:"))
    result = runner.invoke(
        app, ["traverse", "commands", route, "--out", out, "--mdb", str(tmp_path / "noturn.yaml")]
    )
    assert result.exit_code == 1
    assert f"error: the stack in {out} does not check against" in result.output
    assert "step 1: no command named 'TURN'" in result.output
    assert "(turn, leg 1/" in result.output  # the step's comment


@pytest.mark.skipif(not ROVER_MDB.exists(), reason="the rover MDB has not landed yet")
def test_default_mdb_is_the_rovers(planned) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    result = runner.invoke(
        app, ["traverse", "commands", str(d / "route.geojson"), "--out", str(d / "r.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert f"checked against {ROVER_MDB}" in result.output.replace("\n", "")


def _odometry_csv(path: Path, coords: list[list[float]], dx_m: float, n: int = 40) -> None:
    """Pose estimates on the route's first ``n`` cells, shifted by dx_m in x, every 10 s."""
    t0 = parse_ns("2028-01-04T00:00:00Z")
    rows = ["time,ROV_EST_X_M,ROV_EST_Y_M,ROV_EST_HEADING_DEG"]
    for i, (x, y) in enumerate(coords[:n]):
        rows.append(f"{format_ns(t0 + i * 10 * 10**9, 0)},{x + dx_m:.3f},{y:.3f},135.0")
    path.write_text("\n".join(rows) + "\n")


def test_track_reports_against_the_plan(planned) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    coords = json.loads((d / "route.geojson").read_text())["geometry"]["coordinates"]
    _odometry_csv(d / "odo.csv", coords, 0.0)
    result = runner.invoke(
        app, ["traverse", "track", str(d / "route.geojson"), "--from-telemetry", str(d / "odo.csv")]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.startswith("at 2028-01-04T00:06:30Z the rover is ")
    assert "cross-track +0.00 m (+ left; max 0.00 m, RMS 0.00 m over 40 estimates" in text


def test_replan_from_telemetry_uses_the_plan_code_path(planned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    coords = json.loads((d / "route.geojson").read_text())["geometry"]["coordinates"]
    _odometry_csv(tmp_path / "odo.csv", coords, 0.2)
    est = f"{coords[39][0] + 0.2:.3f},{coords[39][1]:.3f}"
    rest = [a for a in planned["plan"] if a != "2028-01-04T00:00Z" and a != "--depart"]
    result = runner.invoke(
        app,
        ["traverse", "replan", "--from-telemetry", str(tmp_path / "odo.csv"), "--route",
         str(d / "route.geojson"), *rest, "--out", str(tmp_path / "re.geojson")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"replanning from the estimate {est} at 2028-01-04T00:06:30Z" in result.output
    assert "the rover is" in result.output  # the report against --route
    # The same plan as falak traverse plan from that point and time
    result = runner.invoke(
        app,
        ["traverse", "plan", "--start", est, *rest, "--depart", "2028-01-04T00:06:30Z", "--out",
         str(tmp_path / "plan.geojson")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "re.geojson").read_text())
    assert again == json.loads((tmp_path / "plan.geojson").read_text())
    # the schedule from there departs an hour later (it waits before driving on)
    assert again["properties"]["depart"] == "2028-01-04T01:06:30Z"
    # --start instead of telemetry: everything else passes through as well
    result = runner.invoke(
        app, ["traverse", "replan", "--start", est, *rest, "--out", str(tmp_path / "s.geojson")]
    )
    assert result.exit_code == 0, result.output


def test_replan_needs_one_start(planned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    result = runner.invoke(app, ["traverse", "replan", "--dem", str(d / "dem.tif"), "--goal",
                                 "0,0", "--out", str(tmp_path / "x.geojson")])  # fmt: skip
    assert result.exit_code == 1
    assert "error: give --from-telemetry ODOMETRY.csv or --start X,Y (one of them)" in (
        result.output
    )
    (tmp_path / "empty.csv").write_text("time,ROV_EST_X_M,ROV_EST_Y_M\n2028-01-04T00:00Z,,\n")
    result = runner.invoke(
        app, ["traverse", "track", str(d / "route.geojson"), "--from-telemetry",
              str(tmp_path / "empty.csv")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "has no pose estimate (1 rows without one)" in result.output


def test_replan_keeps_the_plans_goal_and_the_vias_ahead(planned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = planned["dir"]
    dem = planned["dem"]
    rest = ["--dem", str(d / "dem.tif"), "--hours", "24", "--speed-m-s", "0.0556"]
    behind = f"{dem.x_m[20]:.3f},{dem.y_m[80]:.3f}"  # passed by the estimates below
    ahead = f"{dem.x_m[60]:.3f},{dem.y_m[30]:.3f}"
    result = runner.invoke(
        app,
        ["traverse", "plan", "--start", planned["start"], "--goal", planned["plan"][3],
         "--via", behind, "--via", ahead, "--depart", "2028-01-04T00:00Z", *rest, "--autonomous",
         "--out", str(tmp_path / "v.geojson")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    feature = json.loads((tmp_path / "v.geojson").read_text())
    via_1 = feature["properties"]["waypoints"][1]
    coords = feature["geometry"]["coordinates"]
    n = next(
        i for i, c in enumerate(coords) if c == [round(via_1["x_m"], 3), round(via_1["y_m"], 3)]
    )
    _odometry_csv(tmp_path / "odo.csv", coords, 0.0, n + 3)  # just past the first via point
    result = runner.invoke(
        app,
        ["traverse", "replan", "--from-telemetry", str(tmp_path / "odo.csv"), "--route",
         str(tmp_path / "v.geojson"), *rest, "--autonomous", "--out", str(tmp_path / "r.geojson")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "kept from v.geojson: its goal and 1 via point(s) not reached yet" in result.output
    again = json.loads((tmp_path / "r.geojson").read_text())["properties"]["waypoints"]
    assert [w["role"] for w in again] == ["start", "via", "goal"]
    assert f"{again[1]['x_m']:.3f},{again[1]['y_m']:.3f}" == ahead
    assert f"{again[2]['x_m']:.3f},{again[2]['y_m']:.3f}" == planned["plan"][3]
