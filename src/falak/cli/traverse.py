"""``falak traverse``: plan a rover traverse on a DEM (route, then schedule in light and contact).

Coordinates are the DEM's projected metres in LOLA's south-polar stereographic projection
(``+proj=stere +lat_0=-90 +lon_0=0 +k=1 +R=1737400``); times are ISO 8601 UTC.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from falak.cli.terrain import HazardModelOption

TRAVERSE_HELP = (
    "Rover traverses: the least-cost route on a DEM's hazard map through waypoints, and a "
    "schedule along it with sunlight, battery and Earth contact. Points are X,Y in the DEM's "
    "projected metres (LOLA south-polar stereographic); times ISO 8601 UTC."
)


def _fail(message: str) -> None:
    """Print a one-line error to stderr and exit with status 1 (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _xy(text: str, option: str) -> tuple[float, float]:
    from falak.errors import InputError

    try:
        x, y = (float(p) for p in text.split(","))
    except ValueError:
        raise InputError(
            f"{option} {text!r} must be X,Y in projected metres, e.g. 1200.5,-3400"
        ) from None
    return x, y


def plan_command(
    dem_path: Annotated[Path, typer.Option("--dem", help="DEM GeoTIFF (heights in m).")],
    start: Annotated[str, typer.Option("--start", help="Start X,Y (projected m).")],
    goal: Annotated[str, typer.Option("--goal", help="Goal X,Y (projected m).")],
    out: Annotated[Path, typer.Option("--out", help="GeoJSON Feature to write.")],
    via: Annotated[
        list[str] | None,
        typer.Option("--via", help="Science waypoint X,Y (projected m); repeat for more."),
    ] = None,
    unordered: Annotated[
        bool,
        typer.Option("--unordered", help="Visit the --via points in the cheapest order (≤ 12)."),
    ] = False,
    depart: Annotated[
        str | None,
        typer.Option(
            "--depart",
            help="Earliest departure, ISO 8601 UTC. Without it only the route is planned.",
        ),
    ] = None,
    hours: Annotated[
        float, typer.Option("--hours", help="Planning window after --depart, hours.")
    ] = 72.0,
    step_min: Annotated[
        float, typer.Option("--step-min", help="Time step of the schedule, minutes (10-60).")
    ] = 30.0,
    max_slope_deg: Annotated[
        float, typer.Option("--max-slope-deg", help="Steepest slope the rover may drive, °.")
    ] = 20.0,
    hazard_model: HazardModelOption = "auto",
    rock_margin_m: Annotated[
        float | None,
        typer.Option(
            "--rock-margin-m",
            min=0.0,
            help="Keep the route clear of every listed rock taller than the rover's clearance: "
            "no cell within half the wheel base + the rock's radius + this margin (m, room "
            "for odometry drift) of one, on either hazard model — where a rover's own hazard "
            "check (falak sim rover's) would stop. Needs the DEM's rock list (falak terrain "
            "synth writes it). Default: only the hazard model's own rock cells.",
            show_default=False,
        ),
    ] = None,
    speed_m_s: Annotated[
        float, typer.Option("--speed-m-s", help="Driving speed, m/s (VIPER nominal 0.1).")
    ] = 0.1,
    horizons_path: Annotated[
        Path | None,
        typer.Option(
            "--horizons",
            help="Horizons .npz from 'falak terrain horizons' (else computed, 180 azimuths).",
        ),
    ] = None,
    teleoperated: Annotated[
        bool,
        typer.Option(
            "--teleoperated/--autonomous",
            help="Teleoperated rovers drive only with the Earth in view.",
        ),
    ] = True,
    battery_wh: Annotated[
        float, typer.Option("--battery-wh", help="Battery capacity, Wh.")
    ] = 150.0,
    drive_w: Annotated[float, typer.Option("--drive-w", help="Power while driving, W.")] = 60.0,
    idle_w: Annotated[
        float, typer.Option("--idle-w", help="Power while parked (survival), W.")
    ] = 15.0,
    solar_w: Annotated[
        float, typer.Option("--solar-w", help="Solar panel output in full Sun, W.")
    ] = 90.0,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png",
            help="PNG map: hillshade, hazards, the route coloured by the Sun's lit fraction as "
            "the rover passes, waits.",
        ),
    ] = None,
) -> None:
    """Plan a traverse: least-cost route through waypoints, then (with --depart) a schedule.

    Writes ROUTE.geojson (a Feature with a LineString in projected metres; properties length_m,
    duration_s, max_slope_deg, sunlit_fraction, earth_visible_fraction, depart, arrive,
    waypoints, waits and the drive/wait timeline) and prints a summary. "sunlit" is the
    time-weighted mean lit fraction of the Sun where the rover is, from the earliest departure
    to arrival; "Earth in view" the share of that time with the Earth above the horizon there.
    Exits 1 with the binding constraint if no plan exists (the one whose removal would let the
    rover through: battery, Earth visibility, safe haven or the planning window).
    """
    from falak.errors import FalakError
    from falak.planning.traverse import (
        Battery,
        plan_route,
        route_png,
        route_timeline,
        schedule_traverse,
        to_geojson,
    )
    from falak.terrain.dem import read_dem
    from falak.terrain.hazards import Rover, hazards, keep_clear_of_rocks
    from falak.utctime import parse_utc

    schedule = None
    try:
        dem = read_dem(dem_path)
        maps = hazards(dem, Rover(max_slope_deg=max_slope_deg), model=hazard_model)
        if rock_margin_m is not None:
            maps = keep_clear_of_rocks(maps, dem, margin_m=rock_margin_m)
        points = [_xy(p, "--via") for p in via or []]
        route = plan_route(
            dem, maps, _xy(start, "--start"), _xy(goal, "--goal"), points, unordered=unordered
        )
        if depart is not None:
            from falak.terrain.horizons import horizons, load_horizons

            when = parse_utc(depart, "--depart")
            hz = load_horizons(horizons_path) if horizons_path else horizons(dem, 180)
            times, sun, earth = route_timeline(dem, hz, route, when, hours, step_min)
            battery = Battery(
                capacity_wh=battery_wh,
                drive_power_w=drive_w,
                idle_power_w=idle_w,
                solar_power_w=solar_w,
            )
            schedule = schedule_traverse(
                route, times, sun, earth, speed_m_s=speed_m_s, battery=battery,
                teleoperated=teleoperated,
            )  # fmt: skip
        feature = to_geojson(route, schedule)
        if schedule is not None:  # what falak traverse commands needs: rover, Earth windows
            from falak.planning.traverse.commands import command_properties

            extra = command_properties(
                schedule, route, times, earth, rover=maps.rover, speed_m_s=speed_m_s,
                teleoperated=teleoperated,
            )  # fmt: skip
            feature["properties"].update(extra)
        out.write_text(json.dumps(feature, indent=1))
        if png is not None:
            route_png(png, dem, maps, route, None, schedule)
    except FalakError as exc:
        _fail(str(exc))
    typer.echo(f"hazard model: {maps.model} ({maps.model_reason})")
    typer.echo(
        f"route: {route.length_m:.0f} m, cost {route.cost:.0f}, max slope "
        f"{route.max_slope_deg:.1f}° (limit {max_slope_deg:g}°), {len(route.rows)} cells"
    )
    if route.order:
        typer.echo("via order: " + ", ".join(str(i + 1) for i in route.order))
    if schedule is not None:
        waits = schedule.waits()
        typer.echo(
            f"depart {schedule.depart:%Y-%m-%dT%H:%MZ}, arrive {schedule.arrive:%Y-%m-%dT%H:%MZ}"
            f" ({schedule.duration_s / 3600:.1f} h), {len(waits)} waits totalling "
            f"{sum(w.duration_s for w in waits) / 3600:.1f} h; sunlit "
            f"{schedule.sunlit_fraction:.0%}, Earth in view {schedule.earth_visible_fraction:.0%},"
            f" lowest battery {schedule.min_battery_wh:.0f} Wh"
        )
    typer.echo(f"wrote {out}" + (f" and {png}" if png else ""))


def _rover_mdb() -> Path:
    from falak.missions import __file__ as missions_init

    return Path(missions_init).parent / "rover" / "mdb.yaml"


def commands_command(
    route_path: Annotated[
        Path,
        typer.Argument(
            help="ROUTE.geojson from falak traverse plan --depart (a route with its schedule).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Stack YAML file to write.")],
    mdb: Annotated[
        Path | None,
        typer.Option("--mdb", help="Rover mission database to check the stack against."),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="What a failed step (a hazard stop, a timeout) does: stop (default) the "
            "stack, or continue with the next step.",
        ),
    ] = "stop",
    light_time_s: Annotated[
        float, typer.Option("--light-time-s", help="One-way light time Earth-rover, s.")
    ] = 1.28,
    legs: Annotated[
        str,
        typer.Option("--legs", help="drive: TURN + DRIVE on a heading; goto: GOTO X,Y."),
    ] = "drive",
    turn_rate_deg_s: Annotated[
        float,
        typer.Option("--turn-rate-deg-s", help="Turn-in-place rate for TURN durations, °/s."),
    ] = 3.0,
    max_leg_m: Annotated[
        float,
        typer.Option("--max-leg-m", help="Longest DRIVE/GOTO, m; longer legs are cut."),
    ] = 20.0,
    tolerance_m: Annotated[
        float | None,
        typer.Option(
            "--tolerance-m",
            help="Largest distance of a straight leg from the route's cells, m (default: "
            "half a DEM cell).",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="The stack's name (default traverse-YYYYMMDDtHHMM)."),
    ] = None,
) -> None:
    """Turn a planned traverse into the rover's drive stack (falak stack load STACK.yaml).

    Each drive of the plan's timeline, cut at the waypoints, becomes straight legs (within
    --tolerance-m of the route's cells), each a TURN to its heading (degrees clockwise from
    grid north, +y of the projection) and a DRIVE of its length (m) on it, or one GOTO to its
    end (X_M, Y_M in projected m); DRIVE and GOTO carry the plan's hazard limits
    (MAX_SLOPE_DEG, MAX_STEP_M) for the rover's on-board check. Release times are absolute
    UTC from the schedule; a step is released no earlier than the step before it is expected
    done on Earth (its duration at the plan's speed plus two light times), and only where
    that whole round trip fits inside one of the plan's Earth windows at the rover's
    position; otherwise it is held to the next window. Each step's timeout_s is 2 light
    times + 2 x its expected duration + 30 s. The stack YAML (docs/commanding.md; each step
    a command, its arguments, at: ISO 8601 UTC, timeout_s and a comment naming the leg, its
    length, heading and expected duration) is checked against the rover MDB; a problem is
    printed as STACK.yaml:LINE: message (exit 1).
    """
    from rich.console import Console
    from rich.table import Table

    from falak.cli.stack import write_checked_stack
    from falak.errors import FalakError
    from falak.mdb import load as load_mdb
    from falak.planning.stackdoc import stack_yaml
    from falak.planning.traverse.commands import drive_stack
    from falak.utctime import format_ns

    mdb_path = mdb or _rover_mdb()
    try:
        try:
            feature = json.loads(route_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            _fail(f"cannot read route {route_path}: {exc}")
        db = load_mdb(mdb_path)
        doc, summary = drive_stack(
            feature, light_time_s=light_time_s, policy=policy, legs=legs,
            turn_rate_deg_s=turn_rate_deg_s, tolerance_m=tolerance_m, max_leg_m=max_leg_m,
            name=name, spacecraft=db.root.name, file=str(route_path),
        )  # fmt: skip
        text = stack_yaml(
            doc,
            header=f"Drive stack of {route_path.name} (falak traverse commands).\nLoad it "
            f"with: falak stack load {out.name}. Times are UTC; distances m,\nheadings ° "
            "clockwise from grid north (map azimuths).",
        )
        write_checked_stack(text, doc["steps"], out, db, mdb_path)
    except (FalakError, OSError) as exc:
        _fail(str(exc))
    table = Table("drive stack", "")
    for key, value in (
        ("legs", f"{summary.legs} in {summary.steps} steps, {summary.distance_m:.1f} m"),
        ("first release", format_ns(summary.first_ns, 0)),
        ("last release", format_ns(summary.last_ns, 0)),
        ("done on Earth", format_ns(summary.done_ns, 0) + " (expected)"),
        ("planned arrival", format_ns(summary.planned_arrive_ns, 0)),
        ("Earth windows", f"{summary.windows} used, {summary.held} steps held for one"),
        ("light time", f"{light_time_s:g} s one way"),
        ("on failure", policy),
    ):
        table.add_row(key, value)
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    console.print(f"stack {doc['stack']} for {db.root.name}, checked against {mdb_path} -> {out}")


Telemetry = Annotated[
    Path | None,
    typer.Option(
        "--from-telemetry",
        help="Archive export CSV of the rover's pose estimate: a time column (ISO 8601 UTC) and "
        "ROV_EST_X_M, ROV_EST_Y_M (projected m), ROV_EST_HEADING_DEG (° clockwise from grid "
        "north); falak archive export --parameters ROV_EST_X_M,ROV_EST_Y_M,ROV_EST_HEADING_DEG.",
    ),
]


def _odometry(path: Path) -> Any:
    from falak.planning.traverse.tracking import read_odometry_csv

    odo = read_odometry_csv(path)
    if odo.time_ns.size == 0:
        _fail(f"{path} has no pose estimate ({odo.skipped} rows without one)")
    return odo


def _report(route_path: Path, odo: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """Print where the rover is against the plan in ``route_path``; return both."""
    from falak.planning.traverse.commands import PlannedTraverse
    from falak.planning.traverse.tracking import track
    from falak.utctime import format_ns

    try:
        feature = json.loads(route_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"cannot read route {route_path}: {exc}")
    plan = PlannedTraverse.from_geojson(feature, file=str(route_path))
    s = track(plan, odo.time_ns, odo.x_m, odo.y_m, odo.heading_deg).summary()
    lag = "behind" if s["behind_m"] >= 0 else "ahead of"
    typer.echo(
        f"at {format_ns(int(odo.time_ns[-1]), 0)} the rover is {s['along_m']:.1f} m along the "
        f"{s['route_length_m']:.1f} m route, {abs(s['behind_m']):.1f} m {lag} the plan "
        f"({s['planned_along_m']:.1f} m); cross-track {s['cross_m']:+.2f} m (+ left; max "
        f"{s['max_abs_cross_m']:.2f} m, RMS {s['rms_cross_m']:.2f} m over {odo.time_ns.size} "
        f"estimates, {odo.skipped} rows skipped)"
        + (
            f"; heading {s['heading_error_deg']:+.1f}° off the route's"
            if "heading_error_deg" in s and s["heading_error_deg"] == s["heading_error_deg"]
            else ""
        )
    )
    return feature, s


def _remaining(feature: dict[str, Any], along_m: float, args: list[str]) -> list[str]:
    """The plan's goal and the via points not reached yet, as plan options ``args`` lacks."""
    points = feature["properties"].get("waypoints") or []
    extra: list[str] = []
    if not any(a == "--goal" or a.startswith("--goal=") for a in args):
        extra += [f"--goal={w['x_m']:.3f},{w['y_m']:.3f}" for w in points if w["role"] == "goal"]
    if not any(a == "--via" or a.startswith("--via=") for a in args):
        for w in points:
            if w["role"] == "via" and float(w["distance_m"]) > along_m:
                extra.append(f"--via={w['x_m']:.3f},{w['y_m']:.3f}")
    return extra


def track_command(
    route_path: Annotated[
        Path, typer.Argument(help="ROUTE.geojson from falak traverse plan --depart.")
    ],
    from_telemetry: Telemetry = None,
) -> None:
    """Report where the rover is against its plan: along-track, cross-track, lag, heading.

    Along-track is the distance (m) along the planned route of the point nearest each pose
    estimate; cross-track the signed distance from the route (m, + to the left of the
    direction of travel); the lag is against where the schedule has the rover at that time.
    """
    from falak.errors import FalakError

    if from_telemetry is None:
        _fail("give --from-telemetry ODOMETRY.csv (an archive export of the pose estimate)")
    assert from_telemetry is not None
    try:
        _report(route_path, _odometry(from_telemetry))
    except FalakError as exc:
        _fail(str(exc))


def replan_command(
    ctx: typer.Context,
    from_telemetry: Telemetry = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="Start X,Y (projected m), instead of --from-telemetry."),
    ] = None,
    route_path: Annotated[
        Path | None,
        typer.Option(
            "--route", help="The plan being driven (ROUTE.geojson): report against it first."
        ),
    ] = None,
) -> None:
    """Plan again from where the rover is: its last pose estimate, or --start.

    Every other option is falak traverse plan's and is passed on to it as given (--dem,
    --goal, --out, --via, --depart, --hours, the rover and battery options...): the plan is
    made exactly as falak traverse plan makes it, from the estimated position. With
    --from-telemetry and no --depart, the new plan departs at the last estimate's time. With
    --route, the rover is first reported against the plan it is driving (falak traverse
    track), and that plan's goal and the via points the rover has not passed yet are kept
    unless --goal or --via are given.
    """
    from falak.errors import FalakError
    from falak.utctime import format_ns

    args = list(ctx.args)
    if (from_telemetry is None) == (start is None):
        _fail("give --from-telemetry ODOMETRY.csv or --start X,Y (one of them)")
    if start is None:
        assert from_telemetry is not None
        try:
            odo = _odometry(from_telemetry)
            if route_path is not None:
                feature, where = _report(route_path, odo)
                kept = _remaining(feature, where["along_m"], args)
                vias = sum(a.startswith("--via=") for a in kept)
                parts = ["its goal"] if any(a.startswith("--goal=") for a in kept) else []
                parts += [f"{vias} via point(s) not reached yet"] if vias else []
                if parts:
                    typer.echo(f"kept from {route_path.name}: {' and '.join(parts)}")
                args += kept
        except FalakError as exc:
            _fail(str(exc))
        start = f"{odo.x_m[-1]:.3f},{odo.y_m[-1]:.3f}"
        if not any(a == "--depart" or a.startswith("--depart=") for a in args):
            args += ["--depart", format_ns(int(odo.time_ns[-1]), 0)]
        typer.echo(f"replanning from the estimate {start} at {format_ns(int(odo.time_ns[-1]), 0)}")
    assert ctx.parent is not None
    group = ctx.parent.command
    plan = group.get_command(ctx.parent, "plan")  # type: ignore[attr-defined]
    with plan.make_context("plan", ["--start", start, *args], parent=ctx.parent) as sub:
        plan.invoke(sub)


def windows_command(
    out: Annotated[Path, typer.Option("--out", help="Uplink-windows JSON file to write.")],
    start: Annotated[
        str,
        typer.Option("--start", help="Start of the span, ISO 8601 UTC (e.g. 2023-09-13T00:00Z)."),
    ],
    hours: Annotated[float, typer.Option("--hours", min=0.0, help="Length of the span, hours.")],
    x_m: Annotated[
        float | None,
        typer.Option("--x", help="Rover X, projected m (default: option start_x_m)."),
    ] = None,
    y_m: Annotated[
        float | None,
        typer.Option("--y", help="Rover Y, projected m (default: option start_y_m)."),
    ] = None,
    dem_path: Annotated[
        Path | None,
        typer.Option("--dem", help="DEM GeoTIFF (heights in m); default the synthetic site."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="A rover simulator option KEY=VALUE, as falak sim rover takes them (VALUE "
            "read as JSON when it parses); the site's: dem, horizons, dem_size, "
            "dem_resolution_m, site_lat_deg, site_lon_deg, n_azimuths; also start_x_m, "
            "start_y_m, contacts. Repeat for several.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the synthetic site (falak sim rover --seed).")
    ] = 0,
    contacts: Annotated[
        str | None,
        typer.Option(
            "--contacts",
            help="earth: direct to Earth; relay: the Queqiao-2-like relay seeing the Earth; "
            "earth+relay: either (default: option contacts, else earth).",
            show_default=False,
        ),
    ] = None,
    spacecraft: Annotated[
        str, typer.Option("--spacecraft", help="Whose windows (the file's spacecraft).")
    ] = "ROVER",
    step_s: Annotated[
        float, typer.Option("--step-s", min=1.0, help="Table step, s (the simulator's: 60).")
    ] = 60.0,
) -> None:
    """Write the rover's uplink windows: when the Earth (or relay) is above its terrain horizon.

    The site is the rover simulator's, built from the same options and seed (falak sim rover
    --option K=V --seed N; --dem FILE is --option dem=FILE), and so is the sky (DE421, apparent;
    the Earth's centre against the terrain horizon of the rover's DEM cell on a table every
    --step-s seconds): the windows are the simulator's contact windows at (--x, --y). Writes
    JSON {"format": "falak-uplink-windows/1", "spacecraft", "what", "contacts", "windows":
    [{"start": ISO, "end": ISO}, ...]} (UTC, sorted, an empty list means never) for the
    server's uplink_windows: {file, policy: wait|refuse} and prints the windows.
    """
    import time

    from falak.cli.sim import _parse_options
    from falak.errors import FalakError
    from falak.planning.traverse.windows import CONTACTS, earth_windows, write_windows
    from falak.sim.rover import OPTIONS
    from falak.terrain.site import site_terrain
    from falak.utctime import parse_ns

    opts = _parse_options(option)
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        _fail(f"unknown --option {', '.join(unknown)}; the rover's: {', '.join(OPTIONS)}")
    if dem_path is not None:
        opts["dem"] = str(dem_path)
    link = contacts or str(opts.get("contacts", "earth"))
    if link not in CONTACTS:
        _fail(f"--contacts {link!r} must be one of {', '.join(CONTACTS)}")
    x = x_m if x_m is not None else opts.get("start_x_m")
    y = y_m if y_m is not None else opts.get("start_y_m")
    if x is None or y is None:
        _fail("give the rover's position: --x X_M --y Y_M (or --option start_x_m=X start_y_m=Y)")
    assert x is not None
    assert y is not None
    try:
        start_ns = parse_ns(start, "--start")
        end_ns = start_ns + round(hours * 3600e9)
        begun = time.monotonic()
        dem, hz = site_terrain(opts, seed)
        with _progress_after(begun) as report:
            found = earth_windows(
                dem, hz, float(x), float(y), start_ns, end_ns, contacts=link, step_s=step_s,
                spacecraft=spacecraft, progress=report,
            )  # fmt: skip
        written = write_windows(out, found, spacecraft=spacecraft, what=found.what)
    except (FalakError, OSError, ValueError) as exc:
        _fail(str(exc))
    open_s = sum(w.duration_s for w in written)
    typer.echo(f"{written.what}: {len(written)} windows, open {open_s / 3600:.1f} of {hours:g} h")
    for w in written:
        typer.echo(f"  {w}  ({w.duration_s / 3600:.2f} h)")
    typer.echo(f"wrote {out}")


@contextlib.contextmanager
def _progress_after(begun: float, after_s: float = 2.0) -> Iterator[Callable[[float], None]]:
    """A progress callback that shows a rich bar once the work has taken ``after_s``."""
    import time

    from falak.cli.terrain import _progress

    bar: Any = None
    task: Any = None
    try:

        def report(done: float) -> None:
            nonlocal bar, task
            if bar is None and time.monotonic() - begun > after_s:
                bar = _progress()
                if not bar.console.is_terminal:  # piped or captured: no bar, no blank line
                    bar = False
                else:
                    bar.start()
                    task = bar.add_task("windows", total=1.0)
            if bar:
                bar.update(task, completed=done)

        yield report
    finally:
        if bar:
            bar.stop()


def register(app: typer.Typer) -> None:
    """Add the ``traverse`` command group to the ``falak`` app."""
    group = typer.Typer(help=TRAVERSE_HELP, no_args_is_help=True)
    group.command(name="plan")(plan_command)
    group.command(name="commands")(commands_command)
    group.command(name="track")(track_command)
    group.command(name="windows")(windows_command)
    group.command(
        name="replan",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(replan_command)
    app.add_typer(group, name="traverse")
