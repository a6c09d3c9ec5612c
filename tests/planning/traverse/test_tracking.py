"""Tracking odometry against the plan: a synthetic track with a known offset gives the offset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from falak.errors import InputError
from falak.planning.traverse.commands import PlannedTraverse
from falak.planning.traverse.tracking import parse_odometry_csv, read_odometry_csv, track
from falak.utctime import format_ns, parse_ns

T0 = parse_ns("2028-01-04T00:00:00Z")


def _l_route() -> dict[str, Any]:
    """An L-shaped route: 50 m east along +x, then 50 m north along +y, at 0.5 m cells.

    One drive at 0.05 m/s: 2000 s, from 00:00:00 to 00:33:20.
    """
    east = [[0.5 * i, 0.0] for i in range(101)]
    north = [[50.0, 0.5 * i] for i in range(1, 101)]
    coords = east + north
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {
            "depart": "2028-01-04T00:00:00Z",
            "arrive": "2028-01-04T00:33:20Z",
            "waypoints": [
                {"role": "start", "x_m": 0.0, "y_m": 0.0, "distance_m": 0.0},
                {"role": "goal", "x_m": 50.0, "y_m": 50.0, "distance_m": 100.0},
            ],
            "timeline": [
                {
                    "kind": "drive",
                    "start": "2028-01-04T00:00:00Z",
                    "end": "2028-01-04T00:33:20Z",
                    "from_xy_m": [0.0, 0.0],
                    "to_xy_m": [50.0, 50.0],
                    "distance_m": 100.0,
                }
            ],
            "rover": {"speed_m_s": 0.05, "max_slope_deg": 20.0, "max_step_m": 0.15},
            "earth_windows": [{"start": "2028-01-04T00:00:00Z", "end": "2028-01-05T00:00:00Z"}],
        },
    }


def test_known_offset_comes_back() -> None:
    plan = PlannedTraverse.from_geojson(_l_route())
    # The rover 0.3 m left of the route all along (north of the east leg, west of the north
    # leg), 10 % slower than planned; headings 2° right of the route's.
    s = np.linspace(1.0, 90.0, 200)  # m along, away from the corner
    s = s[np.abs(s - 50.0) > 1.0]
    x = np.where(s < 50, s, 50.0 - 0.3)
    y = np.where(s < 50, 0.3, s - 50.0)
    heading = np.where(s < 50, 92.0, 2.0)
    t = T0 + np.round(s / 0.045 * 1e9).astype(np.int64)
    tr = track(plan, t, x, y, heading)
    assert tr.cross_m == pytest.approx(0.3, abs=1e-9)  # left: positive
    assert tr.along_m == pytest.approx(s, abs=1e-9)
    assert tr.heading_error_deg == pytest.approx(2.0, abs=1e-9)
    # planned 0.05 m/s from T0, driven 0.045 m/s: at s it is s (0.05/0.045 - 1) m behind
    assert tr.behind_m == pytest.approx(s * (0.05 / 0.045 - 1.0), abs=1e-6)
    right = track(plan, t, x, np.where(s < 50, -0.3, y))  # south of the east leg: right
    assert right.cross_m[s < 50] == pytest.approx(-0.3, abs=1e-9)
    summary = tr.summary()
    assert summary["max_abs_cross_m"] == pytest.approx(0.3)
    assert summary["route_length_m"] == pytest.approx(100.0)
    assert summary["along_m"] == pytest.approx(s[-1])


def test_before_the_start_and_past_the_goal() -> None:
    plan = PlannedTraverse.from_geojson(_l_route())
    tr = track(plan, [T0, T0 + 10**13], [-2.0, 50.0], [0.0, 53.0])
    assert tr.along_m.tolist() == [0.0, 100.0]  # clamped to the route's ends
    assert tr.cross_m[0] == pytest.approx(2.0)
    assert tr.planned_along_m.tolist() == [0.0, 100.0]


def test_odometry_from_an_archive_export_csv(tmp_path: Path) -> None:
    rows = ["time,ROV_EST_X_M,ROV_EST_Y_M,ROV_EST_HEADING_DEG"]
    for i in range(5):
        rows.append(f"{format_ns(T0 + i * 4 * 10**9)},{i * 0.2},0.3,90.0")
    rows.insert(3, f"{format_ns(T0 + 5 * 10**9)},,,")  # another packet's row: no pose
    rows.append("garbage,1,2,3")
    path = tmp_path / "odo.csv"
    path.write_text("\n".join(rows) + "\n")
    odo = read_odometry_csv(path)
    assert odo.skipped == 2
    assert odo.x_m.tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert odo.heading_deg is not None
    assert odo.time_ns[1] - odo.time_ns[0] == 4 * 10**9
    tr = track(PlannedTraverse.from_geojson(_l_route()), odo.time_ns, odo.x_m, odo.y_m)
    assert tr.cross_m == pytest.approx(0.3)


def test_csv_without_the_pose_says_how_to_export_it(tmp_path: Path) -> None:
    path = tmp_path / "hk.csv"
    path.write_text("time,BATT_V\n2028-01-04T00:00:00Z,28.1\n")
    with pytest.raises(InputError) as exc:
        read_odometry_csv(path)
    assert str(exc.value) == (
        f"{path}: no column ROV_EST_X_M, ROV_EST_Y_M (it has: time, BATT_V); export them with: "
        "falak archive export --archive DIR --parameters ROV_EST_X_M,ROV_EST_Y_M,"
        "ROV_EST_HEADING_DEG --out hk.csv"
    )


def test_odometry_from_export_text_as_the_server_gives_it() -> None:
    # falak.client.Client.export_csv text: ns times (format_ns), no heading column asked for
    text = "time,ROV_EST_X_M,ROV_EST_Y_M\n" + "".join(
        f"{format_ns(T0 + i * 4 * 10**9 + 123)},{i * 0.5},-0.25\n" for i in range(3)
    )
    odo = parse_odometry_csv(text, source="server")
    assert odo.heading_deg is None
    assert odo.time_ns.tolist() == [T0 + 123, T0 + 4 * 10**9 + 123, T0 + 8 * 10**9 + 123]
    tr = track(PlannedTraverse.from_geojson(_l_route()), odo.time_ns, odo.x_m, odo.y_m)
    assert tr.cross_m == pytest.approx(-0.25)  # south of the eastward leg: right
    assert tr.heading_error_deg is None
