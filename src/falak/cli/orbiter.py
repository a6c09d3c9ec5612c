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


def _orbiter_mdb() -> Path:
    from falak.missions import __file__ as missions_init

    return Path(missions_init).parent / "orbiter" / "mdb.yaml"


def _read_json(path: Path, what: str) -> Any:
    from falak.errors import InputError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {what} {path}: {exc}") from None


ContactsOpt = Annotated[
    Path | None,
    typer.Option(
        "--contacts",
        help="Contacts from falak orbiter contacts --json (several stations' windows are merged).",
    ),
]
LightTimeOpt = Annotated[
    float, typer.Option("--light-time-s", help="One-way light time Earth-orbiter, s.")
]
PolicyOpt = Annotated[
    str,
    typer.Option(
        "--policy", help="What a failed step does: continue (default) with the next, or stop."
    ),
]


@group.command(
    "commands",
    help=(
        "Turn imaging opportunities (falak orbiter imaging --json) into a stack of IMAGE_TAKE "
        "commands.\n\nThe camera looks at nadir, so a frame is a time: --images frames per "
        "opportunity centred on its middle, --spacing-s apart, each released one light time "
        "before it is to be taken (absolute UTC at:), EXPOSURE_MS from the Sun's elevation "
        "(docs/orbiter.md) unless --exposure-ms. Opportunities farther from nadir than the "
        "half field of view (2.86 deg) are left out; with --contacts, frames the orbiter would "
        "not hear (out of contact) too. Each step waits for the MDB's complete stage. The "
        "stack is checked against the ORBITER MDB (problems as STACK.yaml:LINE: message, "
        "exit 1)."
    ),
)
def commands_command(
    imaging: Annotated[
        Path,
        typer.Argument(help="IMAGING.json from falak orbiter imaging --json.", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", help="Stack YAML file to write.")],
    contacts_path: ContactsOpt = None,
    images: Annotated[int, typer.Option("--images", help="Frames per opportunity.")] = 1,
    spacing_s: Annotated[
        float, typer.Option("--spacing-s", help="Time between frames, s (at least 8.56).")
    ] = 10.0,
    exposure_ms: Annotated[
        int | None, typer.Option("--exposure-ms", help="Fixed exposure, ms (1..500).")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target-name", help="The target's name for the stack.")
    ] = None,
    light_time_s: LightTimeOpt = 1.28,
    policy: PolicyOpt = "continue",
    name: Annotated[str | None, typer.Option("--name", help="The stack's name.")] = None,
    mdb: Annotated[Path | None, typer.Option("--mdb", help="ORBITER MDB to check against.")] = None,
) -> None:
    """Turn imaging opportunities into a stack of IMAGE_TAKE commands."""
    from falak.cli.stack import write_checked_stack
    from falak.errors import FalakError
    from falak.mdb import load as load_mdb
    from falak.planning.orbiter.commands import image_stack, plan_images, read_opportunities
    from falak.planning.orbiter.downlink import contacts_from_json
    from falak.planning.stackdoc import stack_yaml

    mdb_path = mdb or _orbiter_mdb()
    try:
        opps = read_opportunities(_read_json(imaging, "imaging plan"), file=str(imaging))
        contacts = (
            contacts_from_json(_read_json(contacts_path, "contacts"), file=str(contacts_path))
            if contacts_path is not None
            else None
        )
        plan = plan_images(
            opps, images=images, spacing_s=spacing_s, exposure_ms=exposure_ms, contacts=contacts
        )
        db = load_mdb(mdb_path)
        doc = image_stack(
            plan, name=name, spacecraft=db.root.name, policy=policy,
            light_time_s=light_time_s, target=target,
        )  # fmt: skip
        text = stack_yaml(
            doc,
            header=f"Imaging stack of {imaging.name} (falak orbiter commands).\nLoad it with: "
            f"falak stack load {out.name}. Times are UTC; EXPOSURE_MS in ms.",
        )
        write_checked_stack(text, doc["steps"], out, db, mdb_path)
    except (FalakError, OSError) as exc:
        raise _err_exit(exc) from None
    typer.echo(
        f"wrote {out}: {len(plan.frames)} IMAGE_TAKE from {len(opps)} opportunities, "
        f"first released {doc['steps'][0]['at']}, policy {policy}"
        + ("" if plan.contacts_checked else "; contacts NOT checked (give --contacts)")
    )
    for why in plan.skipped:
        typer.echo(f"  left out: {why}")


@group.command(
    "downlink",
    help=(
        "Plan which files of the file store go down in which contact, and which are lost."
        "\n\nThe store is a ring of --recorder-mib (the oldest file overwritten, sent or "
        "not); files go down one after the other by CFDP at --rate-bps (20 bytes per "
        "1024-byte segment and 78 per file of overhead, then two light times + 1 s for the "
        "class 2 Finished) while a station sees the orbiter. Oldest first when everything "
        "fits, else an exact CP-SAT choice: most bytes saved of priority 1, then 2, ... "
        "(docs/orbiter.md, 'Operations'). Writes the plan JSON (per contact its dumps; the "
        "lost files with the reason; those left on board), and with --stack a FILE_DUMP "
        "stack checked against the ORBITER MDB, with --png a chart."
    ),
)
def downlink_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Plan JSON to write.")],
    files_path: Annotated[
        Path | None,
        typer.Option(
            "--files",
            help='FILES.json: {"files": [{"name", "size_bytes", "created" (ISO UTC), '
            '"priority" (1 highest), "file_id", "kind", "sent"}]} (e.g. from FILE_LIST).',
        ),
    ] = None,
    from_imaging: Annotated[
        Path | None,
        typer.Option(
            "--from-imaging",
            help="IMAGING.json (falak orbiter imaging --json): the frames falak orbiter "
            "commands would take (its defaults), 262,159-byte images, plus hourly "
            "magnetometer files (--mag-rate-hz) from --start; file ids as the simulator "
            "counts them from 1.",
        ),
    ] = None,
    contacts_path: ContactsOpt = None,
    station: Annotated[
        list[str] | None,
        typer.Option(
            "--station",
            help="Without --contacts: compute contacts of these catalogue stations "
            "(default Karachi and Islamabad, the simulator's) from --elements/--epoch or --oem.",
        ),
    ] = None,
    elements: ElementsOpt = None,
    epoch: EpochOpt = None,
    frame: FrameOpt = "ICRF",
    oem: OemOpt = None,
    days: DaysOpt = 1.0,
    degree: DegreeOpt = 8,
    third_bodies: ThirdOpt = True,
    rate_bps: Annotated[
        float, typer.Option("--rate-bps", help="Downlink rate, bit/s (the simulator's 128 kbit/s).")
    ] = 128_000.0,
    recorder_mib: Annotated[
        float, typer.Option("--recorder-mib", help="File store size, MiB (the simulator's 256).")
    ] = 256.0,
    light_time_s: LightTimeOpt = 1.28,
    margin_s: Annotated[
        float,
        typer.Option("--margin-s", help="After a contact's start or a file's storage, s."),
    ] = 2.0,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="With --from-imaging: when the magnetometer's first file opens (default the "
            "first contact's or opportunity's start, whichever is first).",
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="The plan's end (default the last contact's end).")
    ] = None,
    mag_rate_hz: Annotated[
        float, typer.Option("--mag-rate-hz", help="With --from-imaging: magnetometer rate.")
    ] = 1.0,
    image_priority: Annotated[int, typer.Option("--image-priority")] = 1,
    mag_priority: Annotated[int, typer.Option("--mag-priority")] = 2,
    stack: Annotated[
        Path | None, typer.Option("--stack", help="Also write the FILE_DUMP stack here.")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Also draw the plan here.")] = None,
    policy: PolicyOpt = "continue",
) -> None:
    """Plan which files go down in which contact, and which are lost."""
    from falak.errors import FalakError, InputError
    from falak.planning.orbiter import commands as oc
    from falak.planning.orbiter import downlink as od
    from falak.utctime import parse_ns

    try:
        if (files_path is None) == (from_imaging is None):
            raise InputError("give the recorder's files as --files FILES.json or --from-imaging")
        if contacts_path is not None:
            contacts = od.contacts_from_json(
                _read_json(contacts_path, "contacts"), file=str(contacts_path)
            )
        else:
            from falak.dynamics.orbiter import contacts as find_contacts
            from falak.dynamics.stations import get_station, load_stations
            from falak.utctime import datetime_to_ns

            catalogue = load_stations()
            chosen = [get_station(n, catalogue) for n in station or ["Karachi", "Islamabad"]]
            traj = _trajectory(elements, epoch, frame, oem, days, 60.0, degree, third_bodies, ctx)
            contacts = od.merge_contacts(
                [
                    od.Contact(
                        datetime_to_ns(w.start), datetime_to_ns(w.stop), str(w.fields["station"])
                    )
                    for w in find_contacts(traj, chosen)
                ]
            )
        if files_path is not None:
            files = od.files_from_json(_read_json(files_path, "files"), file=str(files_path))
        else:
            assert from_imaging is not None
            opps = oc.read_opportunities(
                _read_json(from_imaging, "imaging plan"), file=str(from_imaging)
            )
            frames = oc.plan_images(opps, contacts=contacts).frames
            t0 = (
                parse_ns(start, "--start")
                if start
                else min([*(c.start_ns for c in contacts), *(o["start_ns"] for o in opps)])
            )
            t1 = parse_ns(end, "--end") if end else max(c.end_ns for c in contacts)
            files = od.recorder_files(
                [f.t_ns for f in frames], t0, t1, exposure_ms=[f.exposure_ms for f in frames],
                mag_rate_hz=mag_rate_hz, image_priority=image_priority, mag_priority=mag_priority,
            )  # fmt: skip
        if not contacts:
            raise InputError("there is no contact in the plan's span: nothing can go down")
        plan = od.plan_downlink(
            files,
            contacts,
            link=od.Link(rate_bps=rate_bps, light_time_s=light_time_s, margin_s=margin_s),
            capacity_bytes=round(recorder_mib * 1024 * 1024),
            end_ns=parse_ns(end, "--end") if end else None,
        )
        out.write_text(json.dumps(od.plan_json(plan), indent=2, ensure_ascii=False) + "\n")
        if stack is not None:
            from falak.cli.stack import write_checked_stack
            from falak.mdb import load as load_mdb
            from falak.planning.stackdoc import stack_yaml

            db = load_mdb(_orbiter_mdb())
            doc = od.dump_stack(plan, spacecraft=db.root.name, policy=policy)
            text = stack_yaml(
                doc,
                header=f"Downlink stack of {out.name} (falak orbiter downlink).\nLoad it "
                f"with: falak stack load {stack.name}. Times are UTC.",
            )
            write_checked_stack(text, doc["steps"], stack, db, _orbiter_mdb())
        if png is not None:
            od.plan_png(plan, png)
    except (FalakError, OSError) as exc:
        raise _err_exit(exc) from None
    lost_b = sum(x.file.size_bytes for x in plan.lost)
    typer.echo(
        f"wrote {out}: {len(plan.dumps)} files down in {len(plan.contacts)} contacts, "
        f"{len(plan.lost)} lost ({lost_b} bytes), {len(plan.pending)} left on board "
        f"({plan.method}{'' if plan.optimal else ', NOT proven optimal'})"
        + (f"; stack {stack}" if stack else "")
        + (f"; chart {png}" if png else "")
    )
    for x in plan.lost:
        typer.echo(f"  lost {x.file.name}: {x.reason}")


def register(app: typer.Typer) -> None:
    """Add the ``orbiter`` command group to ``app``."""
    app.add_typer(group, name="orbiter")
