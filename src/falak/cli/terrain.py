"""``falak terrain``: synthetic DEMs, rover hazards, horizons, sunlight and Earth-visibility maps.

Coordinates are the DEM's projected metres in LOLA's south-polar stereographic projection
(``+proj=stere +lat_0=-90 +lon_0=0 +k=1 +R=1737400``); heights are metres above the 1737.4 km
sphere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

HazardModelOption = Annotated[
    str,
    typer.Option(
        "--hazard-model",
        help="auto (tactical if cells ≤ wheel base, else strategic), tactical or strategic.",
    ),
]
"""The ``--hazard-model`` option of ``falak terrain hazards`` and ``falak traverse plan``."""

TERRAIN_HELP = (
    "Lunar south-pole terrain: synthetic DEMs, rover hazard and cost maps, horizons, and maps "
    "of sunlight and Earth visibility. DEMs are GeoTIFFs (or LOLA's PDS3 .IMG + .LBL) in LOLA's "
    "south-polar stereographic projection (sphere 1737.4 km, metres); heights in metres above "
    "that sphere."
)


def _fail(message: str) -> None:
    """Print a one-line error to stderr and exit with status 1 (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _parse_center(text: str) -> tuple[float, float]:
    from falak.errors import InputError

    parts = [p.strip() for p in text.split(",")]
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise InputError(
            f"--center {text!r} must be LAT,LON in degrees (south negative, east longitude), "
            "e.g. -89.9,0"
        ) from None
    return lat, lon


def synth_command(
    out: Annotated[Path, typer.Option("--out", help="GeoTIFF to write (float32 heights, m).")],
    size: Annotated[int, typer.Option("--size", help="Cells per side (N × N grid).")] = 512,
    resolution_m: Annotated[float, typer.Option("--resolution-m", help="Cell size, metres.")] = 5.0,
    center: Annotated[
        str,
        typer.Option("--center", help="Grid centre LAT,LON in degrees (south negative, east)."),
    ] = "-89.9,0",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same DEM).")] = 0,
    shackleton: Annotated[
        bool,
        typer.Option(
            "--shackleton", help="Add Shackleton (21 km, 4.2 km deep) at 89.66°S 129.20°E."
        ),
    ] = False,
) -> None:
    """Generate a synthetic south-pole DEM: Neukum craters, rocks, fractal roughness, relief.

    Writes DEM.tif and DEM.tif.features.npz (the crater and rock lists, used by hazards).
    """
    from falak.errors import FalakError
    from falak.terrain.dem import write_dem
    from falak.terrain.synth import synthesize

    try:
        dem = synthesize(
            size, resolution_m, _parse_center(center), seed=seed, shackleton=shackleton
        )
        write_dem(dem, out)
    except FalakError as exc:
        _fail(str(exc))
    height = dem.height_m
    typer.echo(
        f"wrote {out}: {dem.shape[0]}x{dem.shape[1]} cells at {resolution_m:g} m, heights "
        f"{float(height.min()):.1f} … {float(height.max()):.1f} m, {len(dem.craters or [])} "
        f"craters, {len(dem.rocks or [])} rocks"
    )


def hazards_command(
    dem_path: Annotated[Path, typer.Option("--dem", help="DEM GeoTIFF or PDS3 .IMG/.LBL.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for GeoTIFFs and PNGs.")],
    wheel_base_m: Annotated[
        float, typer.Option("--wheel-base-m", help="Rover wheel base, m (footprint width).")
    ] = 0.5,
    clearance_m: Annotated[
        float, typer.Option("--clearance-m", help="Ground clearance, m (largest step/rock).")
    ] = 0.15,
    max_slope_deg: Annotated[
        float, typer.Option("--max-slope-deg", help="Steepest drivable slope, degrees.")
    ] = 20.0,
    hazard_model: HazardModelOption = "auto",
) -> None:
    """Rover hazard maps: slope (°), roughness (m), step (m), rocks, impassable, cost.

    Tactical model (cells no wider than the wheel base): steps and rocks are hazards.
    Strategic model (coarser, orbital DEMs): they are not resolved; slope over the baseline,
    roughness and rock abundance (rock_blocked.tif, share of each cell blocked by rocks) make
    the cost. The summary line says which model was used and why.

    Writes slope_deg.tif, roughness_m.tif, step_m.tif, rock.tif and impassable.tif (0/1),
    cost.tif (1 = flat and smooth, inf = impassable) and PNG previews (hillshade.png,
    slope.png, hazards.png, cost.png). No-data cells are impassable.
    """
    import numpy as np

    from falak.errors import FalakError
    from falak.terrain.dem import read_dem, write_layer
    from falak.terrain.hazards import Rover, hazards
    from falak.terrain.preview import hazard_preview, hillshade, map_preview

    try:
        dem = read_dem(dem_path)
        rover = Rover(wheel_base_m, clearance_m, max_slope_deg)
        maps = hazards(dem, rover, model=hazard_model)
    except FalakError as exc:
        _fail(str(exc))
    out_dir.mkdir(parents=True, exist_ok=True)
    t = dem.transform
    layers = ["slope_deg", "roughness_m", "step_m", "rock", "impassable", "cost"]
    if maps.model == "strategic":
        layers.append("rock_blocked")
    for name in layers:
        write_layer(out_dir / f"{name}.tif", getattr(maps, name), t)
    map_preview(dem, hillshade(dem.height_m, dem.resolution_m), out_dir / "hillshade.png",
                "Hillshade", "shade (0–1)", cmap="gray")  # fmt: skip
    map_preview(dem, maps.slope_deg, out_dir / "slope.png", "Slope over the rover footprint",
                "slope (°)", cmap="magma", vmin=0, vmax=max(30.0, max_slope_deg))  # fmt: skip
    cost = np.where(np.isfinite(maps.cost), maps.cost, np.nan)
    map_preview(dem, cost, out_dir / "cost.png", "Traversal cost (white holes: impassable)",
                "cost (× distance)", cmap="viridis")  # fmt: skip
    hazard_preview(dem, maps, out_dir / "hazards.png")
    shares = maps.summary()
    typer.echo(f"hazard model: {maps.model} ({maps.model_reason})")
    typer.echo(
        f"wrote {out_dir}: footprint {maps.footprint} cells; impassable "
        f"{100 * shares['impassable']:.1f} % (too steep {100 * shares['too_steep']:.1f} %, "
        f"step {100 * shares['step']:.1f} %, rock {100 * shares['rock']:.1f} %, no data "
        f"{100 * shares['no_data']:.1f} %)"
    )


def _progress() -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), transient=True,
    )  # fmt: skip


def horizons_command(
    dem_path: Annotated[Path, typer.Option("--dem", help="DEM GeoTIFF or PDS3 .IMG/.LBL.")],
    out: Annotated[Path, typer.Option("--out", help="Horizons file to write (.npz).")],
    azimuths: Annotated[
        int, typer.Option("--azimuths", help="Number of azimuths, evenly spaced from 0°.")
    ] = 360,
    max_distance_m: Annotated[
        float | None,
        typer.Option("--max-distance-m", help="Farthest terrain considered, m (default: DEM)."),
    ] = None,
    observer_height_m: Annotated[
        float, typer.Option("--observer-height-m", help="Eye height above the ground, m.")
    ] = 0.0,
) -> None:
    """Horizon elevation (degrees, with the sphere's curvature) for every cell and azimuth.

    Azimuths are map azimuths: clockwise from grid north (+y, towards 0°E longitude); the
    illumination step converts to local north per cell. Output: an .npz holding
    ``azimuths_deg`` (n), ``elevation_deg`` (n, ny, nx, float32) and the grid.
    """
    from falak.errors import FalakError
    from falak.terrain.dem import read_dem
    from falak.terrain.horizons import horizons

    try:
        dem = read_dem(dem_path)
        with _progress() as progress:
            task = progress.add_task("horizons", total=1.0)

            def report(done: float) -> None:
                progress.update(task, completed=done)

            result = horizons(
                dem, azimuths, max_distance_m, observer_height_m=observer_height_m,
                progress=report,
            )  # fmt: skip
        result.save(out)
    except FalakError as exc:
        _fail(str(exc))
    typer.echo(
        f"wrote {out}: {azimuths} azimuths × {dem.shape[0]}x{dem.shape[1]} cells, horizon "
        f"{float(result.elevation_deg.min()):.2f} … {float(result.elevation_deg.max()):.2f}°"
    )


def illumination_command(
    dem_path: Annotated[Path, typer.Option("--dem", help="DEM GeoTIFF or PDS3 .IMG/.LBL.")],
    horizons_path: Annotated[
        Path, typer.Option("--horizons", help="Horizons .npz from 'falak terrain horizons'.")
    ],
    start: Annotated[str, typer.Option("--start", help="First epoch, ISO 8601 UTC.")],
    stop: Annotated[str, typer.Option("--stop", help="Last epoch, ISO 8601 UTC (included).")],
    step_hours: Annotated[float, typer.Option("--step-hours", help="Time step, hours.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for GeoTIFFs and PNGs.")],
    relay: Annotated[
        bool,
        typer.Option("--relay", help="Also map a Queqiao-2-like relay's visibility (epoch=start)."),
    ] = False,
) -> None:
    """Sunlight and Earth visibility over a period, per cell, from horizons and DE421 geometry.

    Writes lit_percent.tif (time-averaged visible share of the solar disk, %),
    earth_percent.tif (% of epochs with the Earth's centre above the local horizon),
    longest_dark_h.tif (longest run with no sunlight, hours), psr.tif (1 = never lit in the
    period) and PNGs of each; with --relay, relay_percent.tif too.
    """
    import numpy as np

    from falak.errors import FalakError, InputError
    from falak.terrain.dem import read_dem, write_layer
    from falak.terrain.horizons import load_horizons
    from falak.terrain.illumination import illumination_maps
    from falak.terrain.preview import map_preview
    from falak.utctime import parse_utc

    try:
        begin, end = parse_utc(start, "--start"), parse_utc(stop, "--stop")
        if not (step_hours > 0 and end >= begin):
            raise InputError(
                f"need --stop ≥ --start and --step-hours > 0, got {start} … {stop} step "
                f"{step_hours} h"
            )
        step = np.timedelta64(round(step_hours * 3600e9), "ns")
        first = np.datetime64(begin.replace(tzinfo=None), "ns")
        last = np.datetime64(end.replace(tzinfo=None), "ns")
        times = np.arange(first, last + np.timedelta64(1, "ns"), step)
        if times.size > 200_000:
            raise InputError(f"{times.size} epochs is too many; raise --step-hours")
        dem = read_dem(dem_path)
        horizon = load_horizons(horizons_path)
        relay_elements = None
        if relay:
            from falak.dynamics.relay import queqiao2_like

            relay_elements = queqiao2_like(begin)
        with _progress() as progress:
            task = progress.add_task("illumination", total=1.0)

            def report(done: float) -> None:
                progress.update(task, completed=done)

            maps = illumination_maps(dem, horizon, times, relay=relay_elements, progress=report)
    except FalakError as exc:
        _fail(str(exc))
    out_dir.mkdir(parents=True, exist_ok=True)
    t = dem.transform
    layers: list[tuple[str, Any, str, str]] = [
        ("lit_percent", maps.lit_percent, "Sunlit (time-averaged solar disk)", "%"),
        ("earth_percent", maps.earth_percent, "Earth in view (direct-to-Earth)", "%"),
        ("longest_dark_h", maps.longest_dark_h, "Longest continuous darkness", "hours"),
        ("psr", maps.psr, "Never lit in this period", "1 = shadowed"),
    ]
    if maps.relay_percent is not None:
        layers.append(("relay_percent", maps.relay_percent, "Relay in view", "%"))
    for name, values, title, unit in layers:
        write_layer(out_dir / f"{name}.tif", values, t)
        map_preview(dem, values, out_dir / f"{name}.png", title, unit,
                    cmap="gray" if name == "psr" else "inferno")  # fmt: skip
    typer.echo(
        f"wrote {out_dir}: {times.size} epochs; mean sunlit {float(maps.lit_percent.mean()):.1f} "
        f"%, Earth in view {float(maps.earth_percent.mean()):.1f} %, never lit "
        f"{100 * float(maps.psr.mean()):.2f} % of cells"
    )


def register(app: typer.Typer) -> None:
    """Add the ``terrain`` command group to the ``falak`` app."""
    terrain = typer.Typer(help=TERRAIN_HELP, no_args_is_help=True)
    terrain.command(name="synth")(synth_command)
    terrain.command(name="hazards")(hazards_command)
    terrain.command(name="horizons")(horizons_command)
    terrain.command(name="illumination")(illumination_command)
    app.add_typer(terrain, name="terrain")
