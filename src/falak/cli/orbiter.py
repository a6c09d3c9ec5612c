"""``falak orbiter``: propagate the lunar smallsat, its eclipses, Earth contacts and imaging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from falak.dynamics.lunar_orbit import Trajectory
    from falak.dynamics.orbiter import Window

group = typer.Typer(
    name="orbiter",
    help=(
        "Lunar orbiter flight dynamics: propagate an orbit (GRGM1200A gravity, Earth and Sun "
        "from DE421) to a CCSDS OEM, and find eclipses, Earth-station contacts and imaging "
        "opportunities. Orbits are Moon-centred with ICRF axes; times are UTC."
    ),
    no_args_is_help=True,
)

_MAX_DAYS = 60.0

ElementsOpt = Annotated[
    str | None,
    typer.Option(
        "--elements",
        help="Osculating Keplerian elements a_km,e,i_deg,raan_deg,argp_deg,ta_deg "
        "(semi-major axis km, eccentricity, inclination, RAAN, argument of perilune, true "
        "anomaly in degrees), Moon-centred, angles in the --frame axes; e.g. a 12 h orbit "
        "with 200 km perilune: 6142.4,0.6846,90,0,270,0.",
    ),
]
EpochOpt = Annotated[
    str | None,
    typer.Option(
        "--epoch",
        help="Epoch of --elements, ISO 8601 UTC, e.g. 2028-03-01T00:00:00Z (no offset means "
        "UTC); 1900–2050 (DE421 and the Moon PA kernel).",
    ),
]
FrameOpt = Annotated[
    str,
    typer.Option(
        "--frame",
        help="Axes of --elements: ICRF (Moon-centred ICRF, default) or MOON_PA (the lunar "
        "principal-axis frame frozen at the epoch; i = 90 is then a lunar-polar orbit).",
    ),
]
OemOpt = Annotated[
    Path | None,
    typer.Option(
        "--oem",
        help="Use this CCSDS OEM (KVN; CENTER_NAME MOON, REF_FRAME ICRF, TIME_SYSTEM UTC or "
        "TDB) instead of --elements; its whole span is searched.",
    ),
]
DaysOpt = Annotated[
    float,
    typer.Option("--days", help=f"Span to propagate from the epoch, days (0 < N ≤ {_MAX_DAYS:g})."),
]
DegreeOpt = Annotated[
    int,
    typer.Option("--degree", help="GRGM1200A degree and order (0 = point mass; 0..1200)."),
]
ThirdOpt = Annotated[
    bool,
    typer.Option("--third-bodies/--no-third-bodies", help="Include Earth and Sun gravity (DE421)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (shape in the command help).")]


def _err_exit(exc: Exception) -> typer.Exit:
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    err.print(f"error: {message}", markup=False)
    return typer.Exit(1)


def _parse_elements(text: str) -> tuple[float, float, float, float, float, float]:
    from falak.errors import InputError

    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 6 or not all(v == v and abs(v) != float("inf") for v in values):
        raise InputError(
            f"--elements {text!r} must be six numbers a_km,e,i_deg,raan_deg,argp_deg,ta_deg, "
            "e.g. 6142.4,0.6846,90,0,270,0"
        )
    a, e, i, raan, argp, ta = values
    return a, e, i, raan, argp, ta


def _given(ctx: typer.Context | None, names: tuple[str, ...]) -> list[str]:
    """Return the options among ``names`` typed on the command line (as --flag names)."""
    if ctx is None:
        return []
    out = []
    for p in ctx.command.params:
        src = ctx.get_parameter_source(p.name) if p.name else None
        if p.name in names and src is not None and src.name == "COMMANDLINE":
            out.append(p.opts[0] if p.opts else p.name)
    return out


def _trajectory(
    elements: str | None,
    epoch: str | None,
    frame: str,
    oem: Path | None,
    days: float,
    step_s: float,
    degree: int,
    third_bodies: bool,
    ctx: typer.Context | None = None,
) -> Trajectory:
    from datetime import timedelta

    from falak.dynamics.lunar_orbit import (
        ForceModel,
        elements_frame_to_icrf,
        elements_to_state,
        propagate,
    )
    from falak.dynamics.moonframes import check_time_span
    from falak.dynamics.oem import read_oem
    from falak.dynamics.orbiter import trajectory_from_oem
    from falak.errors import InputError
    from falak.utctime import parse_utc

    if oem is not None:
        if elements is not None:
            raise InputError("give either --oem FILE or --elements with --epoch, not both")
        ignored = _given(ctx, ("epoch", "frame", "days", "degree", "third_bodies"))
        if ignored:
            raise InputError(
                f"{', '.join(ignored)} describe a propagation and do not apply to --oem FILE "
                "(the ephemeris is used as written, over its whole span); drop them"
            )
        return trajectory_from_oem(read_oem(oem))
    if elements is None or epoch is None:
        raise InputError(
            "give the orbit as --elements a_km,e,i_deg,raan_deg,argp_deg,ta_deg "
            "with --epoch ISO, or as --oem FILE"
        )
    if not 0.0 < days <= _MAX_DAYS:
        raise InputError(f"--days {days:g} is outside 0 < N ≤ {_MAX_DAYS:g}")
    if not 0.0 < step_s <= 3600.0:
        raise InputError(f"--step {step_s:g} is outside 0 < S ≤ 3600 seconds")
    if not 0 <= degree <= 1200:
        raise InputError(f"--degree {degree} is outside 0..1200 (GRGM1200A)")
    t0 = parse_utc(epoch, "--epoch")
    check_time_span(t0)
    check_time_span(t0 + timedelta(days=days))
    r, v = elements_to_state(*_parse_elements(elements))
    rot = elements_frame_to_icrf(frame, t0)
    force = ForceModel(degree=degree, third_bodies=("earth", "sun") if third_bodies else ())
    return propagate(t0, rot @ r, rot @ v, days * 86400.0, step_s, force)


def _print_windows(title: str, windows: list[Window], columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in ["start (UTC)", "stop (UTC)", "duration_s", *columns]:
        table.add_column(c)
    for w in windows:
        row = w.to_json()
        table.add_row(
            row["start"][:23],
            row["stop"][:23],
            f"{row['duration_s']:.1f}",
            *[str(row[c]) for c in columns],
        )
    Console().print(table)


@group.command(
    "propagate",
    help=(
        "Propagate a lunar orbit from Keplerian elements and write it as a CCSDS "
        "OEM.\n\nForce model: GRGM1200A to --degree (MOON_PA, R = 1738.0 km), Earth and "
        "Sun point masses from DE421; integrator DOP853 (rtol 1e-11, atol 1e-9 km). "
        "Errors (perilune below the 1737.4 km sphere, epoch outside 1900–2050, malformed "
        "elements) print one line and exit with status 1."
    ),
)
def propagate_command(
    elements: ElementsOpt = None,
    epoch: EpochOpt = None,
    frame: FrameOpt = "ICRF",
    days: DaysOpt = 1.0,
    step: Annotated[
        float, typer.Option("--step", help="Output step, UTC seconds (0 < S ≤ 3600).")
    ] = 60.0,
    degree: DegreeOpt = 8,
    third_bodies: ThirdOpt = True,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the states to this CCSDS OEM file (KVN, CCSDS 502.0-B-3): CENTER_NAME "
            "MOON, REF_FRAME ICRF (Moon-centred), TIME_SYSTEM UTC, km and km/s.",
        ),
    ] = None,
    object_id: Annotated[
        str, typer.Option("--object-id", help="OBJECT_ID written to the OEM.")
    ] = "UNKNOWN",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print a JSON summary: {"epoch", "stop" (ISO UTC), "n_states", "step_s", '
            '"degree", "third_bodies", "min_altitude_km", "max_altitude_km" (above the '
            '1737.4 km sphere), "out" (path or null)}.',
        ),
    ] = False,
) -> None:
    """Propagate a lunar orbit from Keplerian elements and write it as a CCSDS OEM."""
    import numpy as np

    from falak.dynamics.orbiter import trajectory_to_oem
    from falak.errors import FalakError
    from falak.timecodes import format_utc
    from falak.utctime import format_datetime

    try:
        traj = _trajectory(elements, epoch, frame, None, days, step, degree, third_bodies)
        if out is not None:
            from falak.dynamics.oem import write_oem

            write_oem(out, trajectory_to_oem(traj, object_id=object_id))
    except FalakError as exc:
        raise _err_exit(exc) from None
    alt = np.linalg.norm(traj.r_km, axis=1) - 1737.4
    summary: dict[str, Any] = {
        "epoch": format_datetime(traj.epoch),
        "stop": format_utc(traj.times[-1:], digits=6)[0],
        "n_states": len(traj.t_s),
        "step_s": step,
        "degree": degree,
        "third_bodies": list(traj.meta.get("third_bodies", [])),
        "min_altitude_km": round(float(alt.min()), 3),
        "max_altitude_km": round(float(alt.max()), 3),
        "out": str(out) if out is not None else None,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        typer.echo(f"{key}: {value}")


@group.command(
    "contacts",
    help=(
        "Find when Earth stations can talk to the orbiter.\n\nA contact needs the orbiter "
        "above the station's horizon mask and minimum elevation (geometric, no "
        "refraction) and not hidden behind the Moon (1737.4 km sphere). Sampled every 60 "
        "s and refined to 10 ms."
    ),
)
def contacts_command(
    ctx: typer.Context,
    station: Annotated[
        list[str] | None,
        typer.Option(
            "--station",
            help="Station name from the catalogue (Islamabad, Karachi, Lahore, Kashi, Jiamusi, "
            "Sanya, Neuquén, or your --stations-file); may repeat.",
        ),
    ] = None,
    site: Annotated[
        list[str] | None,
        typer.Option(
            "--site",
            help="An ad-hoc Earth site LAT,LON,HEIGHT_M (geodetic degrees, east +, metres "
            "above WGS84); may repeat.",
        ),
    ] = None,
    min_elevation: Annotated[
        float,
        typer.Option(
            "--min-elevation", help="Lowest usable elevation for --site stations, degrees."
        ),
    ] = 10.0,
    stations_file: Annotated[
        Path | None,
        typer.Option("--stations-file", help="YAML file of extra stations (stations.yaml layout)."),
    ] = None,
    elements: ElementsOpt = None,
    epoch: EpochOpt = None,
    frame: FrameOpt = "ICRF",
    oem: OemOpt = None,
    days: DaysOpt = 1.0,
    degree: DegreeOpt = 8,
    third_bodies: ThirdOpt = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print a JSON list of contacts: {"start", "stop" (ISO UTC), "duration_s", '
            '"station", "max_elevation_deg", "mean_range_km"}.',
        ),
    ] = False,
) -> None:
    """Find when Earth stations can talk to the orbiter."""
    from falak.dynamics.orbiter import contacts
    from falak.dynamics.stations import get_station, load_stations, parse_site
    from falak.errors import FalakError, InputError

    try:
        if not station and not site:
            raise InputError("give at least one --station NAME or --site LAT,LON,HEIGHT_M")
        catalogue = load_stations(extra=stations_file)
        chosen = [get_station(name, catalogue) for name in station or []]
        chosen += [parse_site(text, min_elevation) for text in site or []]
        traj = _trajectory(elements, epoch, frame, oem, days, 60.0, degree, third_bodies, ctx)
        windows = contacts(traj, chosen)
    except FalakError as exc:
        raise _err_exit(exc) from None
    if as_json:
        typer.echo(json.dumps([w.to_json() for w in windows], indent=2, ensure_ascii=False))
        return
    _print_windows("Earth-station contacts", windows, ["station", "max_elevation_deg"])


@group.command(
    "imaging",
    help=(
        "Find when a lunar surface target can be imaged.\n\nAn opportunity needs the "
        "target within --max-off-nadir of the orbiter's nadir, above the target's "
        "horizon, and the Sun's centre at least --min-sun-elevation above the target's "
        "horizontal plane (geometric). Sampled every 5 s, refined to 10 ms."
    ),
)
def imaging_command(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="Surface target LAT,LON in degrees (MOON_ME, east longitude, on the 1737.4 km "
            "sphere), e.g. -89.5,0.",
        ),
    ],
    max_off_nadir: Annotated[
        float, typer.Option("--max-off-nadir", help="Largest off-nadir angle, degrees (0..90).")
    ] = 30.0,
    min_sun_elevation: Annotated[
        float,
        typer.Option(
            "--min-sun-elevation", help="Lowest Sun elevation at the target, degrees (-90..90)."
        ),
    ] = 10.0,
    elements: ElementsOpt = None,
    epoch: EpochOpt = None,
    frame: FrameOpt = "ICRF",
    oem: OemOpt = None,
    days: DaysOpt = 1.0,
    degree: DegreeOpt = 8,
    third_bodies: ThirdOpt = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print a JSON list of opportunities: {"start", "stop" (ISO UTC), '
            '"duration_s", "min_off_nadir_deg", "sun_elevation_deg" (at the minimum '
            'off-nadir), "min_range_km"}.',
        ),
    ] = False,
) -> None:
    """Find when a lunar surface target can be imaged."""
    from falak.dynamics.orbiter import imaging_opportunities
    from falak.errors import FalakError, InputError

    try:
        parts = target.split(",")
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            raise InputError(
                f"--target {target!r} must be LAT,LON in degrees (MOON_ME), e.g. -89.5,0"
            ) from None
        traj = _trajectory(elements, epoch, frame, oem, days, 60.0, degree, third_bodies, ctx)
        windows = imaging_opportunities(
            traj,
            lat,
            lon,
            max_off_nadir_deg=max_off_nadir,
            min_sun_elevation_deg=min_sun_elevation,
        )
    except FalakError as exc:
        raise _err_exit(exc) from None
    if as_json:
        typer.echo(json.dumps([w.to_json() for w in windows], indent=2))
        return
    _print_windows("Imaging opportunities", windows, ["min_off_nadir_deg", "sun_elevation_deg"])


@group.command(
    "eclipses",
    help=("Find the orbiter's eclipses by the Moon and the Earth (conical umbra and penumbra)."),
)
def eclipses_command(
    ctx: typer.Context,
    elements: ElementsOpt = None,
    epoch: EpochOpt = None,
    frame: FrameOpt = "ICRF",
    oem: OemOpt = None,
    days: DaysOpt = 1.0,
    degree: DegreeOpt = 8,
    third_bodies: ThirdOpt = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print a JSON list of eclipses: {"start", "stop" (penumbra entry/exit, ISO '
            'UTC), "duration_s", "body" ("moon"|"earth"), "umbra_start", "umbra_stop" (ISO '
            'UTC or null), "min_sun_fraction"}.',
        ),
    ] = False,
) -> None:
    """Find the orbiter's eclipses by the Moon and the Earth (conical umbra and penumbra)."""
    from falak.dynamics.orbiter import eclipses
    from falak.errors import FalakError

    try:
        traj = _trajectory(elements, epoch, frame, oem, days, 60.0, degree, third_bodies, ctx)
        windows = eclipses(traj)
    except FalakError as exc:
        raise _err_exit(exc) from None
    if as_json:
        typer.echo(json.dumps([w.to_json() for w in windows], indent=2))
        return
    _print_windows("Eclipses", windows, ["body", "min_sun_fraction"])


def register(app: typer.Typer) -> None:
    """Add the ``orbiter`` command group to ``app``."""
    app.add_typer(group, name="orbiter")
