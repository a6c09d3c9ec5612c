"""``falak science mapping``: the rover's navcam stereo pairs to local DEMs, ortho-images and
a mosaic (issue 17, :mod:`falak.science.stereo`), as GeoTIFF with PDS4 labels and PNGs.

The pairs come from the archive (the ``NAVCAM_IMAGE`` packets rebuilt as ``falak rover
images`` does, :mod:`falak.tm.images`) or from a folder ``falak rover images`` wrote
(``index.json``, format ``falak-images/1``, and its PGMs). Each image carries the rover's
*estimated* pose; the base DEM is the site's (the simulator's ``--option K=V`` and ``--seed``,
:func:`falak.terrain.site.site_terrain`, or ``--option dem=FILE``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["mapping_command"]

_ROVER_MDB = Path(__file__).resolve().parents[1] / "missions" / "rover" / "mdb.yaml"


class _Pair:
    def __init__(self, image_id: int, time_ns: int, left: Any, right: Any, pose: dict[str, float]):
        self.image_id, self.time_ns, self.left, self.right = image_id, time_ns, left, right
        self.pose = pose


def _pairs_of(images: list[tuple[int, str, int, Any, dict[str, float], bool]]) -> list[_Pair]:
    """LEFT and RIGHT of one image number taken together (complete images only)."""
    from falak.errors import InputError

    lefts: dict[int, tuple[int, Any, dict[str, float]]] = {}
    out = []
    for image_id, camera, time_ns, pixels, pose, complete in images:
        if not complete:
            continue
        if camera == "LEFT":
            lefts[image_id] = (time_ns, pixels, pose)
        elif camera == "RIGHT" and image_id in lefts:
            t, left, p = lefts.pop(image_id)
            if not {"x_m", "y_m", "heading_deg"} <= set(p):
                raise InputError(f"navcam image {image_id} has no estimated pose")
            out.append(_Pair(image_id, t, left, pixels, p))
    return sorted(out, key=lambda p: p.time_ns)


def _from_archive(archive: str, spacecraft: str | None, start_ns: Any, stop_ns: Any) -> list[Any]:
    from falak.archive import open_archive
    from falak.cli.rover import _apid_of
    from falak.mdb import load
    from falak.tm.decoder import Decoder
    from falak.tm.images import NAVCAM, assemble, columns_of

    mdb = load(_ROVER_MDB)
    apid = _apid_of(mdb, NAVCAM.container)
    decoder = Decoder(mdb)
    columns: dict[str, list[Any]] = {}
    with open_archive(archive, create=False, spacecraft=spacecraft) as store:
        for batch in store.read_packets(
            start_ns, stop_ns, apids=None if apid is None else [apid], batch_size=20_000
        ):
            result = decoder.decode(batch.data, batch.offsets, batch.lengths)
            try:
                container = result.container(NAVCAM.container)
            except KeyError:
                continue
            for name, values in columns_of(container).items():
                columns.setdefault(name, []).extend(list(values))
    images = assemble(columns) if columns else []
    return [(im.image_id, im.camera, im.time_ns, im.array(), im.pose, im.complete) for im in images]


def _read_pgm(path: Path) -> Any:
    import numpy as np

    from falak.errors import InputError

    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    if len(parts) < 5 or parts[0] != b"P5" or parts[3] != b"255":
        raise InputError(f"{path}: not an 8-bit binary PGM (P5, maxval 255)")
    w, h = int(parts[1]), int(parts[2])
    pixels = data[len(data) - w * h :]
    return np.frombuffer(pixels, dtype=np.uint8).reshape(h, w)


def _from_files(folder: Path, start_ns: Any, stop_ns: Any) -> list[Any]:
    from falak.errors import InputError
    from falak.tm.images import INDEX_FORMAT
    from falak.utctime import parse_ns

    index_path = folder / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        msg = f"{index_path}: cannot read ({exc}); give a `falak rover images` folder"
        raise InputError(msg) from None
    if index.get("format") != INDEX_FORMAT:
        raise InputError(f"{index_path}: format {index.get('format')!r}, expected {INDEX_FORMAT}")
    out = []
    for e in index["images"]:
        t = parse_ns(e["time"], "image time")
        if (start_ns is not None and t < start_ns) or (stop_ns is not None and t >= stop_ns):
            continue
        pixels = _read_pgm(folder / e["file"])
        out.append((int(e["image_id"]), e["camera"], t, pixels, e["pose"], bool(e["complete"])))
    return out


def mapping_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for the products.")],
    archive: Annotated[
        str | None,
        typer.Option(
            "--archive",
            help="Archive with the rover's NAVCAM_IMAGE packets: a directory (embedded SQLite) "
            "or postgresql://user@host/db.",
        ),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="Instead of --archive: a folder written by `falak rover images` (index.json, "
            "format falak-images/1, and 8-bit PGMs).",
        ),
    ] = None,
    spacecraft: Annotated[
        str | None,
        typer.Option("--spacecraft", help="The rover's part of the archive (ROVER)."),
    ] = "ROVER",
    start: Annotated[
        str | None, typer.Option("--start", help="Images from this UTC time (ISO 8601).")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--stop", help="Images before this UTC time (ISO 8601).")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="The site's terrain as the rover simulator takes it, K=V (dem=FILE.tif, "
            "dem_size, dem_resolution_m, site_lat_deg, site_lon_deg); repeat.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The simulator's seed (synthetic DEM).")] = 0,
    resolution_m: Annotated[
        float, typer.Option("--resolution", help="Cell size of the local DEMs and mosaic, m.")
    ] = 0.1,
    max_range_m: Annotated[
        float, typer.Option("--max-range", help="Stereo points used up to this range, m.")
    ] = 8.0,
    png: Annotated[
        bool, typer.Option("--png/--no-png", help="Write the PNG quick-looks (a few s each).")
    ] = True,
) -> None:
    """Navcam stereo pairs to local DEMs, ortho-images and a mosaic on the site DEM's grid.

    Per stereo pair NNNNN (OpenCV semi-global matching on the already-rectified pair, points
    placed with the rover's estimated pose): navcam-NNNNN-dem.tif (heights, m above the
    1737.4 km sphere, float32) and navcam-NNNNN-ortho.tif (left-camera DN, float32), each a
    GeoTIFF in LOLA's south-polar stereographic projection (the site DEM's:
    +proj=stere +lat_0=-90 +R=1737400, projected metres, --resolution m cells) with its PDS4
    label (.xml, Array_2D_Image at the TIFF's pixel bytes, missing constant -3.4028235e38)
    and a PNG quick-look. Then mosaic-dem.tif/.xml/.png (median per cell of all stops), and
    track.csv/.xml (PDS4 Table_Delimited: time UTC, estimated x, y (m), heading (deg), the
    shift (m) that lays each stop's DEM on the base DEM and its median residual (m)).
    Expected height error at 5 m range: median 0.05 m, 95th percentile 0.17 m
    (docs/science.md, Surface mapping).
    """
    from rich.progress import Progress

    from falak.errors import FalakError, InputError
    from falak.utctime import parse_ns

    try:
        if (archive is None) == (images is None):
            raise InputError("give --archive or --images (one of them)")
        if resolution_m <= 0 or max_range_m <= 0:
            raise InputError("--resolution and --max-range must be positive (m)")
        start_ns = parse_ns(start, "--start") if start else None
        stop_ns = parse_ns(stop, "--stop") if stop else None
        opts: dict[str, Any] = {"n_azimuths": 8}  # horizons are not used here
        for kv in option or []:
            k, sep, v = kv.partition("=")
            if not sep:
                raise InputError(f"--option {kv!r}: give K=V")
            opts[k.strip()] = v.strip()
        if images is not None:
            raw = _from_files(images, start_ns, stop_ns)
        else:
            assert archive is not None
            raw = _from_archive(archive, spacecraft, start_ns, stop_ns)
        pairs = _pairs_of(raw)
        if not pairs:
            raise InputError(
                "no complete LEFT+RIGHT navcam pair in that range; check the source and "
                "--start/--stop"
            )
        from falak.terrain.site import site_terrain

        base, _ = site_terrain(opts, seed)
        out.mkdir(parents=True, exist_ok=True)
        with Progress(transient=True) as progress:
            task = progress.add_task("mapping stereo pairs", total=len(pairs) + 1)
            lines = _run(pairs, base, out, resolution_m, max_range_m, progress, task, png=png)
    except (FalakError, OSError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


def _run(
    pairs: list[_Pair],
    base: Any,
    out: Path,
    resolution_m: float,
    max_range_m: float,
    progress: Any,
    task: Any,
    *,
    png: bool = True,
) -> list[str]:
    import numpy as np

    from falak.science import stereo as st
    from falak.science.geotiff import write_geotiff
    from falak.science.pds4 import write_table

    meta: dict[str, Any] = {
        "mission": "Falak ROVER",
        "instrument": "Navigation cameras",
        "target": "Moon",
        "host": "ROVER",
    }
    dems, track, shifts = [], [], []
    for p in pairs:
        pose = (p.pose["x_m"], p.pose["y_m"], p.pose["heading_deg"])
        stop = st.local_dem(p.left, p.right, pose, base, resolution_m=resolution_m,
                            max_range_m=max_range_m)  # fmt: skip
        n = int(np.isfinite(stop.dem.height_m).sum())
        name = f"navcam-{p.image_id:05d}"
        t = {"start": p.time_ns, "stop": p.time_ns, **meta}
        write_geotiff(out / f"{name}-dem", stop.dem.height_m, stop.dem.transform, unit="m",
                      title=f"ROVER navcam stereo DEM {p.image_id}",
                      lid=f"urn:falak:rover:mapping:dem_{p.image_id:05d}",
                      description="Heights above the 1737.4 km sphere from the stereo pair.",
                      **t)  # fmt: skip
        write_geotiff(out / f"{name}-ortho", stop.ortho, stop.dem.transform, unit=None,
                      title=f"ROVER navcam ortho-image {p.image_id}",
                      lid=f"urn:falak:rover:mapping:ortho_{p.image_id:05d}",
                      description="Left-camera DN (median per cell) on the DEM's grid.",
                      **t)  # fmt: skip
        if n and png:
            st.quicklook_png(out / f"{name}-dem.png", stop.dem.height_m, stop.dem.transform,
                             title=f"ROVER stereo DEM, pair {p.image_id}",
                             label="height above the 1737.4 km sphere (m)")  # fmt: skip
            st.quicklook_png(out / f"{name}-ortho.png", stop.ortho, stop.dem.transform,
                             title=f"ROVER ortho-image, pair {p.image_id}",
                             label="left-camera DN", relief=False, cmap="gray")  # fmt: skip
        reg = (math.nan,) * 4
        if n >= 10:
            reg = st.register(stop.dem, base, search_m=3.0, step_m=0.25)
            dems.append(stop.dem)
        shifts.append(reg)
        track.append((p.time_ns, *pose, n))
        progress.advance(task)
    if not dems:
        raise _no_points()
    mos = st.mosaic(dems, resolution_m)
    t_all = {"start": pairs[0].time_ns, "stop": pairs[-1].time_ns, **meta}
    write_geotiff(out / "mosaic-dem", mos.height_m, mos.transform, unit="m",
                  title="ROVER navcam stereo mosaic", lid="urn:falak:rover:mapping:mosaic_dem",
                  description="Median per cell of the stops' stereo DEMs.", **t_all)  # fmt: skip
    arr = np.array(track, dtype=np.float64)
    if png:
        st.quicklook_png(out / "mosaic-dem.png", mos.height_m, mos.transform,
                         title="ROVER stereo mosaic and the estimated track",
                         label="height above the 1737.4 km sphere (m)",
                         track=arr[:, 1:3], track_labels=("estimated track",))  # fmt: skip
    reg_all = st.register(mos, base, search_m=3.0, step_m=0.25)
    sh = np.array(shifts, dtype=np.float64)
    write_table(
        out / "track",
        {
            "time_utc": (np.array([p.time_ns for p in pairs]).astype("datetime64[ns]"), None,
                         "Image time, UTC"),
            "x": (arr[:, 1], "m", "Estimated rover x, south-polar stereographic"),
            "y": (arr[:, 2], "m", "Estimated rover y, south-polar stereographic"),
            "heading": (arr[:, 3], "deg", "Estimated heading, clockwise from grid north"),
            "dem_cells": (arr[:, 4].astype(np.int64), None, "Cells with a stereo height"),
            "base_dx": (sh[:, 0], "m", "x shift laying the stop's DEM on the base DEM"),
            "base_dy": (sh[:, 1], "m", "y shift laying the stop's DEM on the base DEM"),
            "base_dz": (sh[:, 2], "m", "Height offset to the base DEM"),
            "base_residual": (sh[:, 3], "m", "Median absolute height residual after it"),
        },
        title="ROVER navcam stops", lid="urn:falak:rover:mapping:track", **t_all,
    )  # fmt: skip
    progress.advance(task)
    return [
        f"wrote {len(pairs)} stereo DEMs and ortho-images, mosaic-dem.tif and track.csv to {out}",
        f"mosaic {mos.shape[1]}x{mos.shape[0]} cells of {resolution_m:g} m; it lies on the base "
        f"DEM shifted by dx {reg_all[0]:+.2f} m, dy {reg_all[1]:+.2f} m, dz {reg_all[2]:+.2f} m "
        f"(median residual {reg_all[3]:.3f} m; base DEM cells {base.resolution_m:g} m)",
    ]


def _no_points() -> Exception:
    from falak.errors import InputError

    return InputError("no stereo pair gave 10 cells with heights; nothing to mosaic")
