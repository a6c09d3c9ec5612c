"""``falak science images``: the orbiter's frame images → map-projected, labelled products.

Reads received image files (8-bit PGM, ``IMG_nnnnnn.pgm``) from the archive's files table (the
CFDP downlink of ``falak demo``) or from the command line, finds each image's exposure and time
(mid-exposure) in the archived ``CAMERA_IMAGE`` records, or from ``--time``/``--exposure-ms``,
takes the orbit from an OEM, and runs :mod:`falak.science.lunar_images`: radiometric
correction, nadir geometry, footprints, map projection and a mosaic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

_NAME = re.compile(r"IMG_(\d+)\.pgm$", re.IGNORECASE)
_NS = 1_000_000_000


@dataclass
class _Frame:
    name: str
    data: bytes
    time_ns: int  # mid-exposure, UTC ns since 1970
    exposure_ms: float


def images_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Image files (8-bit binary PGM, P5). Without them, the images received in "
            "--archive's files table (names IMG_nnnnnn.pgm) in --start/--stop are used.",
            show_default=False,
        ),
    ] = None,
    oem: Annotated[
        Path,
        typer.Option(
            "--oem",
            help="The orbit: a CCSDS OEM, Moon-centred ICRF (km, km/s), UTC or TDB, ≤ 60 s "
            "spacing (falak orbiter propagate writes one).",
        ),
    ] = Path("orbiter.oem"),
    out: Annotated[Path, typer.Option("--out", help="Directory for the products.")] = Path(
        "images"
    ),
    archive: Annotated[
        str | None,
        typer.Option(
            "--archive",
            help="Archive (a directory or postgresql://...): its files and CAMERA_IMAGE "
            "records (IMG_FILE_ID, IMG_EXPOSURE_MS, packet time = end of exposure).",
        ),
    ] = None,
    spacecraft: Annotated[
        str, typer.Option("--spacecraft", help="The spacecraft's part of the archive.")
    ] = "ORBITER",
    start: Annotated[
        str | None, typer.Option("--start", help="From this UTC time (ISO 8601): file received.")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--stop", help="Before this UTC time (ISO 8601).")
    ] = None,
    time: Annotated[
        list[str] | None,
        typer.Option(
            "--time",
            help="Mid-exposure UTC time (ISO 8601) of each image file given, in order "
            "(instead of the archive's records).",
        ),
    ] = None,
    exposure_ms: Annotated[
        list[float] | None,
        typer.Option("--exposure-ms", help="Exposure (ms, 1-500) of each image file given."),
    ] = None,
    resolution_m: Annotated[
        float | None,
        typer.Option(
            "--resolution",
            help="Map cell size, metres (default: the finest pixel scale at the boresight, "
            "rounded to 1 m; 39 m at the 200 km perilune).",
        ),
    ] = None,
    projection: Annotated[
        str,
        typer.Option(
            "--projection",
            help="auto (south/north-polar stereographic poleward of 80°, equirectangular "
            "elsewhere), south_polar, north_polar or equirectangular.",
        ),
    ] = "auto",
    root: Annotated[
        bool, typer.Option("--root", help="Read the archive's root, not its per-spacecraft part.")
    ] = False,
) -> None:
    """Orbiter images: radiometric correction, map projection, footprints, mosaic.

    Radiance factor R = (DN - dark) / (flat · exposure_ms · 133.3 DN/ms) (the camera of
    docs/orbiter.md section 7: no dark level, flat response; 255 DN saturated → NaN), mapped on
    the 1737.4 km sphere with the OEM's orbit and the nadir attitude. Writes to --out, per
    image STEM (the file name without .pgm): STEM-map.dat + .xml (PDS4 Array_2D, float32
    radiance factor, unitless, rows north/+y first; NaN outside the image), STEM-map.tif
    (GeoTIFF, the same map, PROJ string on the Moon's sphere, metres), STEM-map.png
    (quick-look, km axes, colour bar); footprints.csv + .xml (PDS4 table: image, point, lat
    and east lon in degrees MOON_ME; points 0-3 the frame's corners); with two or more images,
    mosaic.dat/.xml/.tif/.png (edge-feathered blend) and the overlap statistics printed.
    """
    from falak.errors import FalakError, InputError

    try:
        proj = None if projection == "auto" else projection
        if proj not in (None, "south_polar", "north_polar", "equirectangular"):
            raise InputError(
                f"--projection {projection!r}: give auto, south_polar, north_polar or "
                "equirectangular"
            )
        if resolution_m is not None and not resolution_m > 0:
            raise InputError(f"--resolution {resolution_m}: give a positive cell size in metres")
        frames = _frames(files or [], archive, spacecraft, start, stop, time, exposure_ms, root)
        if not frames:
            raise InputError(
                "no images: give PGM files, or an --archive holding IMG_nnnnnn.pgm files in "
                "--start/--stop"
            )
        lines = _process(frames, oem, out, resolution_m, proj, spacecraft.upper())
    except (FalakError, OSError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


def _frames(
    files: list[Path],
    archive: str | None,
    spacecraft: str,
    start: str | None,
    stop: str | None,
    times: list[str] | None,
    exposures: list[float] | None,
    root: bool,
) -> list[_Frame]:
    from falak.errors import InputError
    from falak.utctime import parse_ns

    start_ns = parse_ns(start, "--start") if start else None
    stop_ns = parse_ns(stop, "--stop") if stop else None
    if times or exposures:
        if archive is not None:
            raise InputError("give --time/--exposure-ms or --archive, not both")
        if len(times or []) != len(files) or len(exposures or []) != len(files):
            raise InputError(
                f"{len(files)} image files need as many --time and --exposure-ms values; got "
                f"{len(times or [])} and {len(exposures or [])}"
            )
        out = []
        for f, t, e in zip(files, times or [], exposures or [], strict=True):
            if not 1 <= e <= 500:
                raise InputError(f"--exposure-ms {e:g}: the camera exposes 1-500 ms")
            out.append(_Frame(f.stem, f.read_bytes(), parse_ns(t, "--time"), float(e)))
        return out
    if archive is None:
        if files:
            raise InputError(
                "image files need their time and exposure: --time and --exposure-ms per file, "
                "or --archive with their CAMERA_IMAGE records"
            )
        return []
    from falak.archive import open_archive

    with open_archive(archive, create=False, spacecraft=None if root else spacecraft) as store:
        fid = store.read_parameter("IMG_FILE_ID")
        exp = store.read_parameter("IMG_EXPOSURE_MS")
        if len(fid) == 0:
            raise InputError(
                f"the archive has no CAMERA_IMAGE records (IMG_FILE_ID) of {spacecraft}: check "
                "--archive, --spacecraft, or give --time/--exposure-ms"
            )
        records = {
            int(i): (int(t), float(e))
            for i, t, e in zip(fid.eng, fid.time_ns, exp.eng, strict=False)
        }
        if files:
            items = [(f.name, f.read_bytes()) for f in files]
        else:
            items = []
            for meta in store.list_files(start_ns, stop_ns):
                if _NAME.search(meta.name) and meta.complete:
                    items.append((meta.name, store.read_file(meta.id)[1]))
    out = []
    for name, data in items:
        m = _NAME.search(name)
        if m is None or int(m.group(1)) not in records:
            raise InputError(
                f"{name}: no CAMERA_IMAGE record for it in the archive (names IMG_nnnnnn.pgm, "
                "nnnnnn the IMG_FILE_ID)"
            )
        end_ns, e = records[int(m.group(1))]
        out.append(_Frame(Path(name).stem, data, end_ns - round(e * 1e6) // 2, e))
    return out


def _process(
    frames: list[_Frame],
    oem_path: Path,
    out: Path,
    resolution_m: float | None,
    projection: str | None,
    sc: str,
) -> list[str]:
    import numpy as np
    from rich.progress import Progress

    from falak.dynamics.lunar_orbit import utc_times
    from falak.dynamics.moonframes import MOON_RADIUS_KM, icrf_to_moon_me
    from falak.dynamics.oem import read_oem
    from falak.dynamics.orbiter import interpolate_state, trajectory_from_oem
    from falak.errors import InputError
    from falak.science import lunar_images as li
    from falak.science.pds4 import write_table

    traj = trajectory_from_oem(read_oem(oem_path))
    epoch_ns = int(traj.times[0].astype("datetime64[ns]").astype(np.int64))
    cam = li.FrameCamera()
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    corrected, geoms, prints, names = [], [], [], []
    meta = {"mission": "Falak ORBITER", "instrument": "nadir frame camera", "target": "Moon"}
    with Progress(transient=True) as progress:
        task = progress.add_task("map-projecting images", total=len(frames) + 1)
        for fr in frames:
            dn = li.read_pgm(fr.data)
            t_s = (fr.time_ns - epoch_ns) / _NS
            if not traj.t_s[0] <= t_s <= traj.t_s[-1]:
                raise InputError(f"{fr.name}: its time is outside the OEM's span ({oem_path})")
            r, v = interpolate_state(traj, np.array([t_s]))
            m = icrf_to_moon_me(utc_times(traj.epoch, np.array([t_s])))[0]
            geo = li.geometry_from_state(fr.time_ns, r[0], v[0], m)
            rf = li.radiometric_correction(dn, fr.exposure_ms, cam)
            fp = li.footprint(geo, cam)
            rng_km = float(np.linalg.norm(geo.position_me_km)) - MOON_RADIUS_KM
            res = resolution_m or max(1.0, round(rng_km * 1000 * cam.ifov_rad))
            grid = li.choose_grid([fp], res, projection=projection)
            rows, cols = li.image_coordinates(geo, cam, grid)
            values = li.project(rf, geo, cam, grid)
            stem = out / f"{fr.name}-map"
            _products(stem, values, grid, fr.time_ns, fr.time_ns, sc, meta, fr.name, [fp])
            sat = int(np.sum(dn >= cam.saturation_dn))
            lines.append(
                f"{fr.name}: {fr.exposure_ms:g} ms, centre {fp.lat_deg[:4].mean():.3f}°, "
                f"{np.degrees(np.angle(np.exp(1j * np.radians(fp.lon_deg[:4])).mean())):.3f}°E, "
                f"{grid.projection} {grid.shape[0]}x{grid.shape[1]} cells of {res:g} m, "
                f"{sat} saturated pixels -> {stem.name}.dat/.xml/.tif/.png"
            )
            del rows, cols
            corrected.append(rf)
            geoms.append(geo)
            prints.append(fp)
            names.append(fr.name)
            progress.advance(task)
        pts_name, pts_no, pts_lat, pts_lon = [], [], [], []
        for name, fp in zip(names, prints, strict=True):
            pts_name += [name] * len(fp.lat_deg)
            pts_no += list(range(len(fp.lat_deg)))
            pts_lat += list(fp.lat_deg)
            pts_lon += list(fp.lon_deg)
        t0, t1 = min(g.time_ns for g in geoms), max(g.time_ns for g in geoms)
        write_table(
            out / "footprints",
            {
                "image": (np.array(pts_name), None, "image file name without .pgm"),
                "point": (np.array(pts_no), None, "0-3: frame corners in image order; then edge"),
                "latitude": (
                    np.array(pts_lat),
                    "deg",
                    "latitude, MOON_ME, on the 1737.4 km sphere",
                ),
                "longitude": (np.array(pts_lon), "deg", "east longitude, MOON_ME"),
            },
            title=f"{sc} camera image footprints",
            lid=f"urn:falak:{sc.lower()}:images:footprints",
            start=t0,
            stop=t1,
            host=sc,
            **meta,
        )
        lines.append(
            f"footprints: {len(pts_lat)} points of {len(names)} images -> footprints.csv/.xml"
        )
        if len(frames) > 1:
            res = resolution_m or min(
                max(1.0, round((float(np.linalg.norm(g.position_me_km)) - MOON_RADIUS_KM)
                               * 1000 * cam.ifov_rad)) for g in geoms
            )  # fmt: skip
            try:
                grid = li.choose_grid(prints, res, projection=projection)
            except InputError as exc:
                lines.append(f"mosaic: not made ({exc})")
            else:
                mos, _ = li.mosaic(corrected, geoms, cam, grid)
                _products(out / "mosaic", mos.values, grid, t0, t1, sc, meta, "mosaic", prints)
                lines.append(
                    f"mosaic: {len(frames)} images, {grid.projection} {grid.shape[0]}x"
                    f"{grid.shape[1]} cells of {res:g} m -> mosaic.dat/.xml/.tif/.png"
                )
                for i, j, n, med, rms in mos.overlap_diff:
                    lines.append(
                        f"  overlap {names[i]} - {names[j]}: {n} cells, median difference "
                        f"{med:+.5f}, RMS {rms:.5f} (radiance factor)"
                    )
        progress.advance(task)
    return lines


def _products(
    stem: Path,
    values: Any,
    grid: Any,
    t0: int,
    t1: int,
    sc: str,
    meta: dict[str, str],
    name: str,
    prints: list[Any],
) -> None:
    from falak.science import lunar_images as li
    from falak.science.pds4 import write_array

    g = li.describe(grid)
    desc = (
        f"Radiance factor (unitless) map-projected in {grid.projection} ({g['proj4']}); "
        f"upper-left corner x {grid.x0_m:.1f} m, y {grid.y0_m:.1f} m; cells {grid.resolution_m:g}"
        " m; rows from +y down, columns +x; NaN outside the image."
    )
    write_array(
        stem,
        values,
        unit=None,
        axes=("line", "sample"),
        title=f"{sc} {name} radiance factor, map-projected",
        lid=f"urn:falak:{sc.lower()}:images:{name.lower()}",
        start=t0,
        stop=t1,
        host=sc,
        description=desc,
        **meta,
    )
    li.write_geotiff(stem.with_suffix(".tif"), values, grid, desc)
    li.write_quicklook(
        stem.with_suffix(".png"),
        values,
        grid,
        f"{sc} {name}: radiance factor, {grid.projection.replace('_', '-')} "
        f"({grid.resolution_m:g} m cells)",
        prints,
    )
