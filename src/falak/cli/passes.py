"""``falak passes``: predict satellite passes over ground stations from a TLE or OMM file."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from falak.dynamics.passes import Pass
    from falak.dynamics.stations import Station
    from falak.dynamics.tle import Tle

_MAX_DAYS = 366.0


def _iso_utc(t: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with milliseconds, e.g. 2023-05-01T12:34:56.789Z."""
    from falak.utctime import format_datetime

    return format_datetime(t, 3)


def _load_elements(path: Path) -> list[Tle]:
    from falak.dynamics.tle import read_omm_file, read_tle_file

    head = path.read_text(encoding="utf-8", errors="replace")[:4096] if path.is_file() else ""
    if head.lstrip()[:1] in ("<", "[", "{") or "CCSDS_OMM_VERS" in head:
        return read_omm_file(path)
    return read_tle_file(path)


def _select(tles: list[Tle], wanted: list[str]) -> list[Tle]:
    from falak.dynamics.tle import tles_by_key
    from falak.errors import InputError

    if not wanted:
        return tles
    out: list[Tle] = []
    for key in wanted:
        found = tles_by_key(tles, key)
        if not found:
            known = ", ".join(f"{t.name} ({t.norad})" for t in tles[:20])
            more = f" and {len(tles) - 20} more" if len(tles) > 20 else ""
            raise InputError(
                f"--satellite {key!r} is not in the file; give a name or NORAD number "
                f"from: {known}{more}"
            )
        out.extend(t for t in found if t not in out)
    return out


def _rows(passes: list[Pass]) -> list[dict[str, Any]]:
    return [
        {
            "satellite": p.satellite,
            "norad": p.norad,
            "station": p.station,
            "rise": _iso_utc(p.rise),
            "culminate": _iso_utc(p.culminate),
            "set": _iso_utc(p.set),
            "max_elevation_deg": round(p.max_elevation_deg, 3),
        }
        for p in passes
    ]


def passes_command(
    tle: Annotated[
        Path,
        typer.Option(
            "--tle",
            help="Element sets: a TLE file (2- or 3-line sets, checksums checked) or a CCSDS "
            "OMM file (KVN or XML, CCSDS 502.0-B-2; or CelesTrak's OMM JSON).",
        ),
    ],
    start: Annotated[
        str,
        typer.Option(
            "--start",
            help="Window start, ISO 8601, e.g. 2023-09-08T00:00:00Z (no offset means UTC).",
        ),
    ],
    days: Annotated[
        float,
        typer.Option("--days", help=f"Window length in days (0 < N ≤ {_MAX_DAYS:g})."),
    ] = 1.0,
    satellite: Annotated[
        list[str] | None,
        typer.Option(
            "--satellite",
            help="Only this satellite: name (case-insensitive) or NORAD number; may repeat. "
            "Default: every element set in the file.",
        ),
    ] = None,
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
            help="An ad-hoc site LAT,LON,HEIGHT_M: geodetic latitude -90..90° (north +), "
            "longitude (east +) in degrees, height above the WGS84 ellipsoid in metres; "
            "may repeat.",
        ),
    ] = None,
    min_elevation: Annotated[
        float | None,
        typer.Option(
            "--min-elevation",
            help="Lowest usable elevation in degrees for every station (default: each "
            "station's own, 0° for --site); antenna masks still apply.",
        ),
    ] = None,
    stations_file: Annotated[
        Path | None,
        typer.Option(
            "--stations-file",
            help="YAML file of extra stations (layout of falak/dynamics/stations.yaml: "
            "stations: NAME: {lat_deg, lon_deg, height_m, min_elevation_deg, mask}).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON list of passes: satellite, norad, station, rise, culminate, "
            "set (ISO 8601 UTC, ms) and max_elevation_deg.",
        ),
    ] = False,
) -> None:
    """Predict passes (rise, culmination, set, maximum elevation) of satellites over stations.

    SGP4 from the element sets; elevation is geometric (no refraction) above the WGS84 ellipsoid.

    A pass in progress at the window start is listed with rise = start, one still in progress at
    the end with set = window end (both marked in the table).
    """
    import json

    from rich.console import Console

    from falak.dynamics.passes import find_passes
    from falak.dynamics.stations import get_station, load_stations, parse_site
    from falak.errors import FalakError, InputError
    from falak.utctime import parse_utc

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        t0 = parse_utc(start, "--start")
        if not 0.0 < days <= _MAX_DAYS:
            raise InputError(f"--days {days:g} is outside 0 < N ≤ {_MAX_DAYS:g}")
        if not station and not site:
            raise InputError(
                "give at least one --station NAME or --site LAT,LON,HEIGHT_M "
                "(e.g. --station Islamabad)"
            )
        if min_elevation is not None and not -90.0 < min_elevation < 90.0:
            raise InputError(f"--min-elevation {min_elevation:g} is outside -90..90°")
        catalogue = load_stations(extra=stations_file)
        chosen: list[Station] = [get_station(name, catalogue) for name in station or []]
        chosen += [parse_site(text) for text in site or []]
        if not tle.is_file():
            raise InputError(f"--tle {str(tle)!r} is not a readable file")
        tles = _select(_load_elements(tle), list(satellite or []))
        passes = find_passes(tles, chosen, t0, t0 + timedelta(days=days), min_elevation)
    except FalakError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        err.print(f"error: {message}", markup=False)
        raise typer.Exit(1) from None

    if as_json:
        typer.echo(json.dumps(_rows(passes), indent=2, ensure_ascii=False))
        return
    _print_table(passes, t0, days)


def _print_table(passes: list[Pass], t0: datetime, days: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{len(passes)} passes from {_iso_utc(t0)} for {days:g} d (times UTC)",
        show_header=True,
    )
    for name, justify in (
        ("satellite", "left"),
        ("NORAD", "right"),
        ("station", "left"),
        ("rise", "left"),
        ("culminate", "left"),
        ("set", "left"),
        ("max el (deg)", "right"),
        ("duration (min)", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]  # Rich Literal
    for p in passes:
        table.add_row(
            p.satellite,
            str(p.norad),
            p.station,
            _iso_utc(p.rise) + (" (in progress)" if p.rise_clipped else ""),
            _iso_utc(p.culminate),
            _iso_utc(p.set) + (" (continues)" if p.set_clipped else ""),
            f"{p.max_elevation_deg:.2f}",
            f"{p.duration_s / 60.0:.2f}",
        )
    Console(width=160).print(table)


def register(app: typer.Typer) -> None:
    """Add ``falak passes`` to the top-level app."""
    app.command(name="passes")(passes_command)
