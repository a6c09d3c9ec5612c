"""``falak demo`` with the rover: its choices (fast) and the acceptance of issue 14 (slow).

"An integration test: ``falak demo`` with the rover; a traverse planned on the demo site is
turned into a stack and executed; telemetry shows the rover following it; the rover never
enters a cell over its slope limit on the true terrain; a drive's completion verification
arrives no earlier than two light times after release; a command sent while the Earth is
below the horizon waits or is refused as configured."

The demo runs headless as a user would run it, ``falak demo --spacecraft ROVER`` at 20x, one
run at a time (the machine is shared):

1. at the default epoch, the Earth up over the site for days: the traverse, planned for a
   teleoperated rover, departs at once and is checked through the API
   (:class:`falak.client.Client`): the stack's command history, the pose estimate
   (``ROVER_HK``) and the simulator's truth (``SIM_TRUTH``) against the planned route and the
   true terrain's slopes (:func:`falak.terrain.site.site_terrain` and
   :func:`falak.terrain.hazards.hazards`, as the simulator builds them);
2. from an epoch 15 to 45 minutes (``gap_minutes``) before the Earth rises over the rover's
   horizon (chosen here from a month of uplink windows computed with
   :func:`falak.planning.traverse.windows.earth_windows` on the simulator's site), so the run
   starts outside every uplink window: a command sent then waits for the window
   (``--uplink-policy wait``), and in a third run is refused (``refuse``). (That traverse
   departs hours later, once the Earth is up over every cell of its route: not waited for.)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from falak.cli.demo import (
    ROVER_MAX_SLOPE_DEG,
    ROVER_SITE,
    ROVER_TRAVERSE_M,
    ROVER_WINDOW_HOURS,
    SPACECRAFT,
    demo_spacecraft,
    prepare_run,
    rover_goal,
)
from falak.client import ApiError, Client, CommandRecord
from falak.sim.rover import DRIVE_SPEED_M_S
from falak.utctime import format_ns

#: Slower than the demo's default 60x: the rover MDB's received and accepted windows are 5 s
#: (plus the round trip), so at 60x a loaded machine's 40 ms of host latency on the way of an
#: acknowledgement would time a stage out; at 20x the same slack is 120 ms.
SPEED = 20
#: Host seconds the demo may take to plan, start the server and the simulator, load the stack.
START_S = 120
#: Simulated minutes from the run's epoch to the Earth's rise over the rover's horizon, for the
#: runs that start in the gap before it: the run's start must not reach the rise, and the rest
#: of the gap is waited for. Simulated time runs from just before the server starts
#: (``reference_host_ns``, falak.cli.demo), so the gap is sized from the first run's own start
#: (server and simulator, host s, measured on the same machine a minute before, same
#: spacecraft): 2.5 times its simulated minutes plus 5, within GAP_MIN..GAP_MAX. A quiet
#: machine (a 10 s start: 3.3 simulated minutes at 20x) waits 15 minutes (45 host s)
#: instead of the 25 minutes (75 host s) of a fixed gap; a loaded one waits longer instead of
#: failing.
GAP_MIN = 15
GAP_MAX = 45


def gap_minutes(start_s: float) -> int:
    """The gap (simulated minutes) for runs whose start took about ``start_s`` host seconds."""
    return max(GAP_MIN, min(GAP_MAX, math.ceil(2.5 * start_s * SPEED / 60 + 5)))


_NS = 1_000_000_000


@cache
def _start_xy_m() -> tuple[float, float]:
    """Where the rover simulator starts on the demo's site (its own choice, seed 0)."""
    from falak.sim.rover import create_model
    from falak.utctime import parse_ns

    m = create_model(parse_ns("2023-09-01T00:00:00Z"), seed=0, options=ROVER_SITE)
    return m.x, m.y


@cache
def gap_epoch(gap_min: int) -> tuple[str, Any]:
    """An epoch ``gap_min`` before the first Earth rise of September 2023 at the rover's start.

    Returns the epoch (ISO) and that window (:class:`~falak.planning.traverse.windows.Window`).
    """
    from falak.planning.traverse.windows import earth_windows
    from falak.terrain.site import site_terrain
    from falak.utctime import parse_ns

    dem, hz = site_terrain(ROVER_SITE, 0)
    x, y = _start_xy_m()
    t0 = parse_ns("2023-09-01T00:00:00Z")
    found = earth_windows(dem, hz, x, y, t0, t0 + 30 * 86_400 * _NS, spacecraft="ROVER")
    rise = next(w for w in found if w.start_ns > t0)  # a rise inside the month, not its start
    return format_ns(rise.start_ns - gap_min * 60 * _NS, 0), rise


def test_spacecraft_are_chosen_by_name_in_demo_order() -> None:
    assert [s.name for s in demo_spacecraft("rover, TIANGONG")] == ["TIANGONG", "ROVER"]
    assert demo_spacecraft("ROVER") == (SPACECRAFT[1],)
    with pytest.raises(
        ValueError, match=r"^unknown spacecraft MIR; choose from TIANGONG, ROVER, ORBITER$"
    ):
        demo_spacecraft("ROVER,MIR")
    with pytest.raises(ValueError, match=r"^no spacecraft; choose from TIANGONG, ROVER, ORBITER$"):
        demo_spacecraft(" , ")


def test_a_rover_only_run_has_no_campaign_and_its_policy(tmp_path: Path) -> None:
    from falak.errors import InputError

    run = prepare_run(
        tmp_path / "run", tmp_path / "archive", port=0, epoch="2023-09-08T08:10:00Z",
        speed=20, seed=4, spacecraft=demo_spacecraft("ROVER"), uplink_policy="refuse",
    )  # fmt: skip
    (entry,) = yaml.safe_load(run.config_file.read_text())["spacecraft"]
    assert entry["name"] == "ROVER"
    assert entry["site"] == {"dem": "synthetic", "options": ROVER_SITE, "seed": 4}
    assert "orbit" not in entry  # no TLE: a surface spacecraft
    assert run.as_json()["uplink_policy"] == "refuse"
    with pytest.raises(InputError, match=r"^--uplink-policy 'later' must be one of wait, refuse$"):
        prepare_run(
            tmp_path / "run", tmp_path / "archive", port=0, epoch="2023-09-08T08:10:00Z",
            speed=20, seed=4, uplink_policy="later",
        )  # fmt: skip


def test_the_demo_goal_is_a_clear_straight_drive_from_the_rovers_start() -> None:
    import math

    from falak.sim.rover import create_model
    from falak.utctime import parse_ns

    m = create_model(parse_ns("2023-09-01T00:00:00Z"), seed=0, options=ROVER_SITE)
    x0, y0 = m.x, m.y
    gx, gy = rover_goal(m.site, (x0, y0))
    res = m.site.dem.resolution_m
    # a cell centre (the planner's nodes) about ROVER_TRAVERSE_M away: within a cell diagonal
    assert m.site.cell(gx, gy) is not None
    assert abs(math.hypot(gx - x0, gy - y0) - ROVER_TRAVERSE_M) <= res * math.sqrt(2)
    for k in range(201):  # the straight line: no hazard on the map or on the true terrain
        x, y = x0 + (gx - x0) * k / 200, y0 + (gy - y0) * k / 200
        assert not m.site.hazard_at(x, y, ROVER_MAX_SLOPE_DEG, 0.10), (x, y)
        assert not m.site.map_hazard_at(x, y, ROVER_MAX_SLOPE_DEG, 0.10), (x, y)


class Demo:
    """A ``falak demo --spacecraft ROVER`` child of the test, its run directory and clients."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.workdir = workdir
        self.archive = workdir / "archive"
        self.run_dir = workdir / "run"
        self.log = workdir / "demo.log"
        falak = Path(sys.executable).parent / "falak"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    *(falak, "demo", "--spacecraft", "ROVER", "--speed", str(SPEED)),
                    *("--archive", str(self.archive), *args),
                ],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )
        self._clients: list[Client] = []
        #: Host seconds from the run's clock reference (just before the server starts) to
        #: the run's state ``running`` (server answering, simulator heard): the start's cost.
        self.start_s = math.nan
        #: The gap before the Earth rise this run was started in (minutes), if one.
        self.gap_min = 0

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def run_json(self) -> dict[str, Any]:
        return dict(json.loads((self.run_dir / "run.json").read_text()))

    def wait_running(self) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"falak demo exited early:\n{self.output()}"
            with contextlib.suppress(OSError, ValueError):
                run = self.run_json()
                if run["state"] == "running":
                    self.start_s = (time.time_ns() - run["clock"]["reference_host_ns"]) / _NS
                    return
            time.sleep(0.2)
        pytest.fail(f"falak demo did not start in {START_S} s:\n{self.output()}")

    def client(self, role: str) -> Client:
        run = self.run_json()
        user = next(u for u in run["users"] if u["role"] == role)
        c = Client.login(run["url"], user["name"], user["password"], spacecraft="ROVER")
        self._clients.append(c)
        return c

    def stop(self) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"falak demo did not stop on SIGTERM:\n{self.output()}")
        assert code == 0, self.output()


@contextlib.contextmanager
def _demo(workdir: Path, *args: str) -> Iterator[Demo]:
    d = Demo(workdir, *args)
    try:
        d.wait_running()
        yield d
    finally:
        d.stop()


def _until(what: str, ok: Callable[[], Any], timeout_s: float, demo: Demo) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiError):
            v = ok()
            if v:
                return v
        time.sleep(0.25)
    pytest.fail(f"{what}: not within {timeout_s} s\n{demo.output()[-3000:]}")


@pytest.fixture(scope="module")
def driving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo at its default epoch, the Earth up: the traverse departs at once."""
    with _demo(tmp_path_factory.mktemp("rover-drive")) as d:
        yield d


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory, driving: Demo) -> Iterator[Demo]:
    """The demo with the wait policy, from an epoch in the gap before an Earth rise."""
    driving.stop()  # one demo at a time
    gap_min = gap_minutes(driving.start_s)
    epoch, _ = gap_epoch(gap_min)
    with _demo(tmp_path_factory.mktemp("rover-wait"), "--epoch", epoch) as d:
        d.gap_min = gap_min
        yield d


@pytest.fixture(scope="module")
def noop_while_below(waiting: Demo) -> int:
    """A NOOP sent by the operator as soon as the demo runs, the Earth still down: its id."""
    fc = waiting.client("operator")
    return fc.issue("NOOP").id


@cache
def _stack_done(demo: Demo) -> dict[str, Any]:
    from falak.utctime import parse_ns

    fc = demo.client("viewer")
    name = demo.run_json()["spacecraft"][0]["stack"]
    feature, _ = _route(demo)
    # the planned drive, late by the demo's start, plus the round trips and turns of its steps
    planned_s = (
        parse_ns(feature["properties"]["arrive"]) - demo.run_json()["clock"]["epoch_ns"]
    ) / _NS
    return dict(
        _until(
            "the traverse stack to end",
            lambda: (s := fc.stack(name))["state"] not in ("loaded", "running") and s,
            (planned_s + 15 * 60) / SPEED + 60,
            demo,
        )
    )


@pytest.mark.slow
def test_the_run_has_the_rover_config_and_plans(driving: Demo) -> None:
    run = driving.run_json()
    (sc,) = run["spacecraft"]
    run_dir = driving.run_dir
    assert sc["name"] == "ROVER"
    assert sc["plans"] == [
        str(run_dir / "rover-route.geojson"),
        str(run_dir / "rover-windows.json"),
    ]
    assert sc["stack_file"] == str(run_dir / "rover-stack.yaml")
    cfg = yaml.safe_load(Path(run["config"]).read_text())
    (entry,) = cfg["spacecraft"]
    # the real light time at the epoch (DE421, ~1.28 s mean; ~1.33 s near apogee)
    assert 1.2 < entry["light_time_s"] < 1.4
    assert entry["uplink_windows"] == {
        "file": str(run_dir / "rover-windows.json"),
        "policy": "wait",
    }
    assert entry["site"] == {"dem": "synthetic", "options": ROVER_SITE, "seed": 0}
    assert entry["plans"] == sc["plans"]


def _records(demo: Demo, st: dict[str, Any]) -> list[tuple[dict[str, Any], CommandRecord]]:
    fc = demo.client("viewer")
    return [(step, fc.command(step["command_id"])) for step in st["steps"]]


@pytest.mark.slow
def test_the_traverse_stack_executes_with_its_verifications(driving: Demo) -> None:
    st = _stack_done(driving)
    fc = driving.client("viewer")
    why = [
        (s["command"], s["state"], s.get("command_id") and fc.command(s["command_id"]).data)
        for s in st["steps"]
    ]
    assert st["state"] == "completed", why
    steps = _records(driving, st)
    # qualified names: the ROVER MDB's MOBILITY system
    assert {s["command"] for s, _ in steps} == {"/ROVER/MOBILITY/TURN", "/ROVER/MOBILITY/DRIVE"}
    for step, rec in steps:
        assert rec.state == "completed", (step, rec)
        assert {s: rec.stage(s) for s in rec.verifiers} == {
            "received": "OK",
            "accepted": "OK",
            "complete": "OK",
        }, rec


@pytest.mark.slow
def test_a_drives_completion_arrives_two_light_times_and_the_drive_after_release(
    driving: Demo,
) -> None:
    st = _stack_done(driving)
    drives = [(s, r) for s, r in _records(driving, st) if s["command"] == "/ROVER/MOBILITY/DRIVE"]
    assert drives
    for step, rec in drives:
        lt = float(rec.data["light_time_s"])  # the config's: the real one rounded up to 1 ms
        release = int(rec.data["release_ns"])
        received = int(rec.verifiers["received"]["time_ns"])
        complete = int(rec.verifiers["complete"]["time_ns"])
        # the command reaches the rover one light time after release, its acknowledgements
        # one more later; 10 ms: the config's light time is the epoch's, rounded up to 1 ms,
        # and the Earth-Moon distance changes the light time by under 1 ms an hour
        assert received >= release + (2 * lt - 0.01) * _NS, (step, rec)
        # and the rover cannot drive DISTANCE_M of wheel odometry faster than its wheel speed
        drive_s = float(step["arguments"]["DISTANCE_M"]) / DRIVE_SPEED_M_S
        assert complete >= release + (2 * lt - 0.01 + drive_s) * _NS, (step, rec)


def _series(fc: Client, x: str, y: str, start_ns: int, stop_ns: int) -> np.ndarray:
    """(t_ns, x, y) rows of two parameters of one packet, aligned by time."""
    t0 = datetime.fromtimestamp(start_ns / 1e9, UTC)
    t1 = datetime.fromtimestamp(stop_ns / 1e9, UTC)
    sx, sy = fc.history(x, t0, t1), fc.history(y, t0, t1)
    assert not sx.truncated
    assert not sy.truncated
    common, ix, iy = np.intersect1d(sx.time_ns, sy.time_ns, return_indices=True)
    return np.column_stack([common, sx.eng[ix].astype(float), sy.eng[iy].astype(float)])


def _route(demo: Demo) -> tuple[dict[str, Any], np.ndarray]:
    feature = json.loads((demo.run_dir / "rover-route.geojson").read_text())
    return feature, np.asarray(feature["geometry"]["coordinates"], dtype=float)


@pytest.mark.slow
def test_telemetry_shows_the_rover_following_the_route(driving: Demo) -> None:
    from falak.planning.traverse.commands import PlannedTraverse
    from falak.planning.traverse.tracking import track

    st = _stack_done(driving)
    steps = _records(driving, st)
    start = int(steps[0][1].data["release_ns"])
    stop = max(int(r.data["completed_ns"]) for _, r in steps)
    feature, line = _route(driving)
    planned = PlannedTraverse.from_geojson(feature)
    fc = driving.client("viewer")
    est = _series(fc, "ROV_EST_X_M", "ROV_EST_Y_M", start, stop + 30 * _NS)
    truth = _series(fc, "TRUTH_X_M", "TRUTH_Y_M", start, stop + 30 * _NS)
    assert len(est) > 100
    assert len(truth) > 30
    for name, rows, cross_m, end_m in (
        # odometry follows the commanded legs, which stay within half a 2 m cell of the
        # route's cell centres (falak traverse commands --tolerance-m), plus the IMU drift
        ("estimate", est, 1.1, 0.3),
        # the truth also slips: sideways on cross slopes, short of the leg's end uphill
        # (a few % of 30 m at the route's slopes, falak.sim.rover.slip_of_slope)
        ("truth", truth, 1.5, 2.0),
    ):
        report = track(planned, rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2])
        assert np.abs(report.cross_m).max() <= cross_m, (name, report.summary())
        end = np.hypot(rows[-1, 1] - line[-1, 0], rows[-1, 2] - line[-1, 1])
        assert end <= end_m, (name, rows[-1], line[-1])
        # it went the whole way, in order: along-track grows to the route's length
        assert report.along_m[-1] >= planned.length_m - end_m - 0.5, (name, report.summary())


@pytest.mark.slow
def test_the_rover_never_enters_a_cell_over_its_slope_limit(driving: Demo) -> None:
    from falak.terrain.hazards import Rover, hazards
    from falak.terrain.site import site_terrain

    st = _stack_done(driving)
    steps = _records(driving, st)
    limits = {
        float(s["arguments"]["MAX_SLOPE_DEG"])
        for s, _ in steps
        if "MAX_SLOPE_DEG" in s["arguments"]
    }
    assert limits == {ROVER_MAX_SLOPE_DEG}
    start = int(steps[0][1].data["release_ns"])
    stop = max(int(r.data["completed_ns"]) for _, r in steps)
    # the true terrain as the simulator builds it: slope over the rover's footprint
    # (falak.sim.rover_site.Site: hazards(dem, Rover()).slope_deg)
    dem, _ = site_terrain(ROVER_SITE, 0)
    slope = hazards(dem, Rover()).slope_deg
    fc = driving.client("viewer")
    truth = _series(fc, "TRUTH_X_M", "TRUTH_Y_M", start - 10 * _NS, stop + 30 * _NS)
    # between two SIM_TRUTH samples (10 s, 0.56 m of driving) the rover goes straight, or
    # turns in place: the segment between them, every 5 cm, covers the cells it crossed
    pts = [truth[0, 1:]]
    for a, b in zip(truth[:-1, 1:], truth[1:, 1:], strict=True):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / 0.05)))
        pts += [a + (b - a) * k / n for k in range(1, n + 1)]
    xy = np.asarray(pts)
    t = dem.transform
    cols = np.floor((xy[:, 0] - t.c) / t.a).astype(int)
    rows = np.floor((xy[:, 1] - t.f) / t.e).astype(int)
    crossed = slope[rows, cols]
    assert np.nanmax(crossed) <= ROVER_MAX_SLOPE_DEG, (
        np.nanmax(crossed),
        xy[np.nanargmax(crossed)],
    )
    # and the ground's terrain is the simulator's: its reported slope under the rover is the
    # ground's slope of that cell (to the 0.01 deg of TRUTH_SLOPE_DEG; the position's 1 cm
    # counts may put a sample on a cell edge: either cell then)
    reported = _series(fc, "TRUTH_SLOPE_DEG", "TRUTH_X_M", start, stop)
    truth_at = {int(r[0]): r[1:] for r in truth}
    for t_ns, s_deg, _ in reported:
        x, y = truth_at[int(t_ns)]
        near = {
            float(slope[int(np.floor((y + dy - t.f) / t.e)), int(np.floor((x + dx - t.c) / t.a))])
            for dx in (-0.01, 0.0, 0.01)
            for dy in (-0.01, 0.0, 0.01)
        }
        assert min(abs(s_deg - v) for v in near) <= 0.011, (x, y, s_deg, near)


@pytest.mark.slow
def test_the_uplink_windows_are_the_sites(waiting: Demo, noop_while_below: int) -> None:
    from falak.planning.traverse.windows import Window, read_windows
    from falak.utctime import parse_ns

    run_dir = waiting.run_dir
    # the windows the server holds commands to are those computed here on the same site,
    # up to the end of the file's span (falak.cli.demo.ROVER_WINDOW_HOURS after the epoch)
    epoch, rise = gap_epoch(waiting.gap_min)
    windows = read_windows(run_dir / "rover-windows.json")
    end_ns = parse_ns(epoch) + round(ROVER_WINDOW_HOURS * 3600) * _NS
    assert windows.windows[0] == Window(rise.start_ns, min(rise.end_ns, end_ns))
    assert windows.at(rise.start_ns - 1) is None  # the run starts in the gap before it


def _file_window(demo: Demo) -> Any:
    """The uplink window of the run's windows file that the Earth rise opens."""
    from falak.planning.traverse.windows import read_windows

    _, rise = gap_epoch(demo.gap_min)
    w = read_windows(demo.run_dir / "rover-windows.json").at(rise.start_ns)
    assert w is not None
    return w


@pytest.mark.slow
def test_a_command_sent_below_the_horizon_waits_for_the_window(
    waiting: Demo, noop_while_below: int
) -> None:
    rise = _file_window(waiting)
    fc = waiting.client("viewer")
    rec = fc.command(noop_while_below)
    assert rec.data["time_ns"] < rise.start_ns, "the demo took the whole gap to start"
    assert rec.state == "queued", rec
    # falak.commanding.manager: the reason names the window and why the link is down
    assert rec.data["reason"] == (
        f"waiting for the uplink window {rise.start}–{rise.end} (Earth below ROVER's horizon)"
    )
    assert rec.data["uplink_wait"]["start_ns"] == rise.start_ns
    done = _until(
        "the NOOP to be sent and verified",
        lambda: (r := fc.command(noop_while_below)).state not in ("queued", "released") and r,
        waiting.gap_min * 60 / SPEED + 60,
        waiting,
    )
    assert done.state == "completed", done
    assert done.data["release_ns"] >= rise.start_ns  # sent at the window's start, not before
    assert done.data["reason"] is None
    audit = [a["action"] for a in done.data["audit"]]
    assert "uplink_wait" in audit, done.data["audit"]


@pytest.mark.slow
def test_a_command_sent_below_the_horizon_is_refused_with_policy_refuse(
    tmp_path: Path, waiting: Demo
) -> None:
    waiting.stop()  # one demo at a time on a shared machine
    epoch, _ = gap_epoch(waiting.gap_min)
    with _demo(tmp_path, "--epoch", epoch, "--uplink-policy", "refuse", "--duration", "60") as d:
        d.gap_min = waiting.gap_min
        rise = _file_window(d)
        cfg = yaml.safe_load(Path(d.run_json()["config"]).read_text())
        assert cfg["spacecraft"][0]["uplink_windows"]["policy"] == "refuse"
        fc = d.client("operator")
        rec = fc.wait(fc.issue("NOOP").id, timeout_s=30)
        assert rec.state == "rejected", rec
        # falak.commanding.manager: the reason says why and names the next window
        assert rec.data["reason"] == (
            "NOOP: uplink closed (Earth below ROVER's horizon); "
            f"next uplink window {rise.start}–{rise.end}"
        )
        assert rec.data.get("release_ns") is None  # never sent
