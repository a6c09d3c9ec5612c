"""``falak moon``: the sky of a lunar surface site (Sun and Earth azimuth/elevation, light time)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from falak.dynamics.moonsky import MoonSite, SkyResult

#: Most epochs one ``falak moon sky`` call computes (a year at 1-minute steps is 525,600).
MAX_EPOCHS = 2_000_000
SKY_HELP = (
    "Sun and Earth azimuth/elevation, Earth distance and one-way light time from a lunar site, "
    "over a smooth sphere of 1737.4 km (no terrain).\n\n"
    "Apparent (light-time and aberration corrected) directions from DE421 and the Moon PA/ME "
    "kernels. Azimuth from north through east, degrees; elevation above the local horizontal, "
    "degrees; Earth distance in km; light time in seconds. Valid 1900-01-02 to 2050-12-30 UTC."
)
#: Rows of the Rich table before it is thinned.
TABLE_ROWS = 48


def _fail(message: str) -> None:
    """Print a one-line error to stderr and exit with status 1 (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def parse_site(text: str) -> MoonSite:
    """Parse ``LAT,LON[,HEIGHT_M]`` (degrees, degrees, metres) into a :class:`MoonSite`."""
    from falak.dynamics.moonsky import MoonSite
    from falak.errors import InputError

    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise InputError(
            f"--site {text!r} must be LAT,LON or LAT,LON,HEIGHT_M "
            "(degrees, degrees east, metres above the 1737.4 km sphere), e.g. -89.9,0"
        )
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InputError(
            f"--site {text!r} has a value that is not a number; use e.g. -88.74,124.5,10"
        ) from None
    return MoonSite(*numbers)


def time_grid(start: datetime, stop: datetime, step_minutes: float) -> NDArray[np.datetime64]:
    """Return UTC epochs from ``start`` to ``stop`` (inclusive when on the grid), ns resolution."""
    import numpy as np

    from falak.errors import InputError
    from falak.utctime import check_order, datetime_to_ns

    if not step_minutes > 0:
        raise InputError(f"--step-minutes must be > 0, got {step_minutes:g}")
    start_ns, stop_ns = datetime_to_ns(start, "--start"), datetime_to_ns(stop, "--stop")
    check_order(start_ns, stop_ns, "--start", "--stop")
    step_ns = max(1, round(step_minutes * 60e9))
    count = (stop_ns - start_ns) // step_ns + 1
    if count > MAX_EPOCHS:
        raise InputError(
            f"{count:,} epochs requested; at most {MAX_EPOCHS:,} per call "
            "(a year at 1-minute steps is 525,600): use a larger --step-minutes or a shorter span"
        )
    grid: NDArray[np.datetime64] = (start_ns + np.arange(count, dtype=np.int64) * step_ns).astype(
        "datetime64[ns]"
    )
    return grid


def _iso_z(times: NDArray[np.datetime64]) -> list[str]:
    from falak.timecodes import format_utc

    whole_seconds = not (times.astype("datetime64[s]") != times).any()
    return format_utc(times, digits=0 if whole_seconds else 3)


def sky_json(result: SkyResult) -> dict[str, Any]:
    """Return the ``--json`` object: equal-length arrays, rounded to the model's accuracy."""
    import numpy as np

    def rounded(values: NDArray[np.float64], decimals: int) -> list[float]:
        out: list[float] = np.round(values, decimals).tolist()
        return out

    return {
        "time": _iso_z(result.time),
        # 1e-6° = 3.6 mas, the level the model agrees with skyfield's.
        "sun_azimuth_deg": rounded(result.sun_azimuth_deg, 6),
        "sun_elevation_deg": rounded(result.sun_elevation_deg, 6),
        "earth_azimuth_deg": rounded(result.earth_azimuth_deg, 6),
        "earth_elevation_deg": rounded(result.earth_elevation_deg, 6),
        "earth_distance_km": rounded(result.earth_distance_km, 3),
        "light_time_s": rounded(result.light_time_s, 9),
    }


def _print_table(site: MoonSite, result: SkyResult) -> None:
    import numpy as np
    from rich import box
    from rich.console import Console
    from rich.table import Table

    n = len(result)
    stride = max(1, -(-n // TABLE_ROWS))
    rows = np.arange(0, n, stride)
    title = (
        f"Sky at {site.lat_deg:.4f}°, {site.lon_deg:.4f}°E, {site.height_m:g} m (MOON_ME, "
        "1737.4 km sphere); angles in degrees, azimuth from north through east"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("time (UTC)", no_wrap=True)
    for header in ("Sun az", "Sun el", "Earth az", "Earth el", "Earth km", "light s"):
        table.add_column(header, justify="right", no_wrap=True)
    times = [t.replace("T", " ") for t in np.datetime_as_string(result.time[rows], unit="m")]
    for k, i in enumerate(rows):
        table.add_row(
            times[k],
            f"{result.sun_azimuth_deg[i]:.2f}",
            f"{result.sun_elevation_deg[i]:.3f}",
            f"{result.earth_azimuth_deg[i]:.2f}",
            f"{result.earth_elevation_deg[i]:.3f}",
            f"{result.earth_distance_km[i]:.0f}",
            f"{result.light_time_s[i]:.4f}",
        )
    console = Console()
    console.print(table)
    if stride > 1:
        console.print(f"showing 1 epoch in {stride} of {n:,} (use --json for all)")
    el = result.earth_elevation_deg
    console.print(
        f"Earth elevation {el.min():.3f}° … {el.max():.3f}°, "
        f"above the horizon {100.0 * np.mean(el > 0.0):.1f}% of the time"
    )
    console.print(
        f"light time {result.light_time_s.min():.4f} … {result.light_time_s.max():.4f} s; "
        f"Sun centre above the horizon {100.0 * np.mean(result.sun_elevation_deg > 0.0):.1f}%"
    )


def sky_command(
    site: Annotated[
        str,
        typer.Option(
            "--site",
            help=(
                "LAT,LON[,HEIGHT_M]: selenographic latitude (−90…90°, south negative) and east "
                "longitude in degrees (MOON_ME frame), height in metres above the 1737.4 km "
                "sphere. A negative latitude works as is: --site -89.9,0"
            ),
        ),
    ],
    start: Annotated[
        str,
        typer.Option(
            "--start", help="First epoch, ISO 8601 (e.g. 2028-01-01T00:00Z; no offset = UTC)."
        ),
    ],
    stop: Annotated[
        str,
        typer.Option("--stop", help="Last epoch, ISO 8601 (included when it falls on the grid)."),
    ],
    step_minutes: Annotated[
        float, typer.Option("--step-minutes", help="Step between epochs, minutes.")
    ] = 60.0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=(
                "Print one JSON object of equal-length arrays: time (ISO 8601 UTC, Z), "
                "sun_azimuth_deg, sun_elevation_deg, earth_azimuth_deg, earth_elevation_deg, "
                "earth_distance_km, light_time_s."
            ),
        ),
    ] = False,
) -> None:
    """Sun and Earth azimuth/elevation, Earth distance and one-way light time from a lunar site."""
    from falak.errors import FalakError
    from falak.utctime import parse_utc

    try:
        moon_site = parse_site(site)
        first, last = parse_utc(start, "--start"), parse_utc(stop, "--stop")
        from falak.dynamics.moonframes import check_time_span
        from falak.dynamics.moonsky import sky

        grid = time_grid(first, last, float(step_minutes))
        check_time_span(first)
        check_time_span(last)
        result = sky(moon_site, grid)
    except FalakError as error:
        _fail(str(error))
        return
    if as_json:
        typer.echo(json.dumps(sky_json(result), separators=(",", ":")))
    else:
        _print_table(moon_site, result)


def register(app: typer.Typer) -> None:
    """Add the ``moon`` command group to ``app``."""
    moon = typer.Typer(
        help="Moon geometry: Sun and Earth as seen from a lunar surface site (MOON_ME frame).",
        no_args_is_help=True,
    )
    moon.command("sky", help=SKY_HELP)(sky_command)
    app.add_typer(moon, name="moon")
