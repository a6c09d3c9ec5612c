"""``falak traverse``: plan a rover traverse on a DEM (route, then schedule in light and contact).

Coordinates are the DEM's projected metres in LOLA's south-polar stereographic projection
(``+proj=stere +lat_0=-90 +lon_0=0 +k=1 +R=1737400``); times are ISO 8601 UTC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

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
    hazard_model: Annotated[
        str,
        typer.Option(
            "--hazard-model",
            help="auto (tactical if cells ≤ wheel base, else strategic), tactical or strategic.",
        ),
    ] = "auto",
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
    from falak.terrain.hazards import Rover, hazards
    from falak.utctime import parse_utc

    schedule = None
    try:
        dem = read_dem(dem_path)
        maps = hazards(dem, Rover(max_slope_deg=max_slope_deg), model=hazard_model)
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
        out.write_text(json.dumps(to_geojson(route, schedule), indent=1))
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


def register(app: typer.Typer) -> None:
    """Add the ``traverse`` command group to the ``falak`` app."""
    group = typer.Typer(help=TRAVERSE_HELP, no_args_is_help=True)
    group.command(name="plan")(plan_command)
    app.add_typer(group, name="traverse")
