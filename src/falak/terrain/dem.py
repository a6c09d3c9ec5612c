"""Digital elevation models in LOLA's south-polar stereographic projection: GeoTIFF in and out,
and PDS3 ``.IMG`` + ``.LBL`` in, as LOLA publishes its polar products.

A :class:`Dem` is a north-up grid of heights in metres above the LOLA sphere (radius 1737.4 km,
:data:`~falak.dynamics.moonframes.MOON_RADIUS_KM`) on the projection LOLA's polar products use::

    +proj=stere +lat_0=-90 +lon_0=0 +k=1 +x_0=0 +y_0=0 +R=1737400 +units=m +no_defs

Map coordinates ``x_m, y_m`` are projected metres; ``x = ρ sin λ``, ``y = ρ cos λ`` with
``ρ = 2R tan(π/4 + φ/2)`` (Snyder 1987, eq. 21-33 with k₀ = 1), so grid "north" (+y, up the
rows) is the direction of 0°E and a point's local north (away from the pole) has the *map
azimuth* λ. Cells are square; row 0 is the top (largest y).

No data: cells equal to the file's nodata value (or NaN) become NaN in ``height_m``; they are
never silently set to zero. Computations that need a gap-free surface (slopes, horizons) fill
holes with :func:`fill_holes` (nearest valid height, then Laplace relaxation inside the hole, a
membrane "inpainting") and the hazard maps mark every hole cell impassable.

Large files: :func:`read_window` reads one window and :func:`iter_blocks` walks a file block by
block (with an optional halo), so DEMs larger than memory can be processed piecewise.

CRSs are compared by meaning, not by string: GDAL writes ``+k=1`` back as ``+lat_ts=-90``.

PDS3 (LOLA's polar GDRs, e.g. ``LDEM_875S_5M.IMG`` with its detached ``LDEM_875S_5M.LBL``)
are read through GDAL's PDS driver (bundled with rasterio's GDAL); give the ``.LBL`` or the
``.IMG`` (its label beside it is found). The label is ODL text (Neumann 2011, LOLA RDR/GDR
Software Interface Specification, LRO-L-LOLA-4-GDR-V1.0, and the polar labels' own
keywords): ``^IMAGE``, ``LINES``, ``LINE_SAMPLES``, ``SAMPLE_TYPE = LSB_INTEGER``,
``SAMPLE_BITS = 16``, ``UNIT = METER``, ``SCALING_FACTOR = 0.5``, ``OFFSET = 1737400.`` (the
reference radius: stored values are heights in half-metres above the 1737.4 km sphere), and an
``IMAGE_MAP_PROJECTION`` with ``MAP_PROJECTION_TYPE = "POLAR STEREOGRAPHIC"``,
``CENTER_LATITUDE = -90``, ``CENTER_LONGITUDE = 0``, ``A_AXIS_RADIUS = 1737.4 <km>``,
``MAP_SCALE`` (m/pixel) and ``LINE_PROJECTION_OFFSET``/``SAMPLE_PROJECTION_OFFSET`` (pixels
from the centre of the first pixel to the pole; ``15167.5`` for the 30336² 5 m product, so
``x = (sample − SAMPLE_PROJECTION_OFFSET − 1) · MAP_SCALE`` and
``y = (LINE_PROJECTION_OFFSET + 1 − line) · MAP_SCALE`` at the centre of 1-based
``(line, sample)``, as DSMAP_POLAR.CAT states). Heights are ``DN · SCALING_FACTOR + OFFSET``
with an ``OFFSET`` equal to the sphere's radius taken off (falak's heights are above that
sphere); DNs equal to the driver's null (−32768 for 16-bit) are no data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine  # type: ignore[import-untyped]  # ships no type information
from numpy.typing import ArrayLike, NDArray

from falak.dynamics.moonframes import MOON_RADIUS_KM
from falak.errors import InputError

__all__ = [
    "LOLA_SOUTH_POLE_PROJ4",
    "MOON_RADIUS_M",
    "Craters",
    "Dem",
    "Rocks",
    "fill_holes",
    "is_lola_south_polar",
    "iter_blocks",
    "latlon_to_xy",
    "read_dem",
    "read_window",
    "write_dem",
    "write_layer",
    "xy_to_latlon",
]

#: LOLA sphere radius, metres.
MOON_RADIUS_M = MOON_RADIUS_KM * 1e3
#: PROJ string of LOLA's south-polar stereographic products.
LOLA_SOUTH_POLE_PROJ4 = (
    "+proj=stere +lat_0=-90 +lon_0=0 +k=1 +x_0=0 +y_0=0 +R=1737400 +units=m +no_defs"
)
_EXPECTED = f"LOLA south-polar stereographic ({LOLA_SOUTH_POLE_PROJ4})"
#: Suffix of the sidecar file that keeps a synthetic DEM's crater and rock lists.
FEATURES_SUFFIX = ".features.npz"


@dataclass
class Craters:
    """Craters of a synthetic DEM: centre (projected m), rim diameter (m), age (Ga).

    ``depth_m`` is the rim-to-floor depth left after degradation (0 where the crater was too
    degraded to be drawn).
    """

    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    diameter_m: NDArray[np.float64]
    age_ga: NDArray[np.float64]
    depth_m: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.x_m.shape[0])


@dataclass
class Rocks:
    """Rocks of a synthetic DEM: centre (projected m) and diameter (m); height is D/2."""

    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    diameter_m: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.x_m.shape[0])


@dataclass
class Dem:
    """Heights (m above the 1737.4 km sphere) on a north-up polar stereographic grid.

    Parameters
    ----------
    height_m
        (ny, nx) float32 heights; NaN marks no data.
    transform
        Affine map from (col, row) of cell corners to projected (x, y) metres; square cells,
        no rotation (``Affine(res, 0, x_left, 0, -res, y_top)``).
    craters, rocks
        Feature lists of a synthetic DEM (``None`` for a real one).
    """

    height_m: NDArray[np.float32]
    transform: Affine
    craters: Craters | None = field(default=None, repr=False)
    rocks: Rocks | None = field(default=None, repr=False)
    source: str = "memory"

    def __post_init__(self) -> None:
        self.height_m = np.asarray(self.height_m, dtype=np.float32)
        if self.height_m.ndim != 2 or min(self.height_m.shape) < 1:
            raise InputError(f"DEM heights must be a 2-D grid, got shape {self.height_m.shape}")
        _check_transform(self.transform, self.source)

    def __repr__(self) -> str:
        ny, nx = self.shape
        return (
            f"Dem({ny}x{nx} cells at {self.resolution_m:g} m, x {self.x_m[0]:.0f}…"
            f"{self.x_m[-1]:.0f} m, y {self.y_m[-1]:.0f}…{self.y_m[0]:.0f} m, "
            f"source={self.source!r})"
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        ny, nx = self.height_m.shape
        return int(ny), int(nx)

    @property
    def resolution_m(self) -> float:
        """Cell size, metres."""
        return float(self.transform.a)

    @property
    def x_m(self) -> NDArray[np.float64]:
        """Projected x of the cell centres, per column (nx,)."""
        x: NDArray[np.float64] = self.transform.c + self.transform.a * (
            np.arange(self.shape[1]) + 0.5
        )
        return x

    @property
    def y_m(self) -> NDArray[np.float64]:
        """Projected y of the cell centres, per row (ny,), decreasing."""
        y: NDArray[np.float64] = self.transform.f + self.transform.e * (
            np.arange(self.shape[0]) + 0.5
        )
        return y

    @property
    def center_xy_m(self) -> tuple[float, float]:
        """Projected (x, y) of the grid centre."""
        ny, nx = self.shape
        x = self.transform.c + self.transform.a * nx / 2
        y = self.transform.f + self.transform.e * ny / 2
        return float(x), float(y)

    def latlon_deg(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Selenographic latitude and east longitude of every cell centre, (ny, nx) each."""
        x, y = np.meshgrid(self.x_m, self.y_m)
        return xy_to_latlon(x, y)

    def cell_of(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Return (row, col) of the cells containing projected points; raise if outside."""
        x = np.atleast_1d(np.asarray(x_m, dtype=float))
        y = np.atleast_1d(np.asarray(y_m, dtype=float))
        col = np.floor((x - self.transform.c) / self.transform.a).astype(np.intp)
        row = np.floor((y - self.transform.f) / self.transform.e).astype(np.intp)
        ny, nx = self.shape
        bad = (row < 0) | (row >= ny) | (col < 0) | (col >= nx)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise InputError(
                f"point ({x[i]:.1f}, {y[i]:.1f}) m is outside the DEM {self!r}; give projected "
                "metres inside its extent"
            )
        return row, col


def _check_transform(transform: Affine, source: str) -> None:
    if not isinstance(transform, Affine):
        raise InputError(f"{source}: transform must be an affine.Affine, got {transform!r}")
    if transform.b != 0 or transform.d != 0:
        raise InputError(
            f"{source}: rotated grid (transform {tuple(transform)[:6]}); expected a north-up "
            f"grid in {_EXPECTED}; warp it first (gdalwarp)"
        )
    if transform.a <= 0 or not math.isclose(transform.a, -transform.e, rel_tol=1e-9):
        raise InputError(
            f"{source}: cells are {transform.a:g} × {-transform.e:g} m; expected square, "
            "north-up cells (pixel width = -pixel height > 0); resample with gdalwarp -tr R R"
        )


def xy_to_latlon(x_m: ArrayLike, y_m: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Invert the south-polar stereographic projection (sphere 1737.4 km, k₀ = 1).

    Returns latitude (−90…) and east longitude (−180…180] in degrees.
    """
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    rho = np.hypot(x, y)
    lat = np.degrees(2.0 * np.arctan(rho / (2.0 * MOON_RADIUS_M)) - np.pi / 2)
    lon = np.degrees(np.arctan2(x, y))
    return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)


def latlon_to_xy(
    lat_deg: ArrayLike, lon_deg: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project latitude/east longitude (degrees) to south-polar stereographic metres."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    rho = 2.0 * MOON_RADIUS_M * np.tan(np.pi / 4 + lat / 2)
    return np.asarray(rho * np.sin(lon), dtype=float), np.asarray(rho * np.cos(lon), dtype=float)


def is_lola_south_polar(crs: Any) -> bool:
    """Return True if a rasterio CRS means LOLA's south-polar stereographic projection.

    Compared by parameters: polar stereographic at −90° latitude, central meridian 0, no false
    origin, a sphere of 1737.4 km, metres, and unit scale at the pole (``+k=1``, written back by
    GDAL as ``+lat_ts=-90``).
    """
    try:
        params = crs.to_dict()
    except Exception:
        return False

    def num(key: str, default: float) -> float:
        value = params.get(key, default)
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    radius = params.get("R", params.get("a"))
    if radius is None or not math.isclose(float(radius), MOON_RADIUS_M, abs_tol=0.5):
        return False
    if "b" in params and not math.isclose(float(params["b"]), MOON_RADIUS_M, abs_tol=0.5):
        return False
    scale_ok = math.isclose(num("k", 1.0), 1.0) and math.isclose(num("k_0", 1.0), 1.0)
    lat_ts = num("lat_ts", -90.0)
    return bool(
        params.get("proj") in ("stere", "ups")
        and math.isclose(num("lat_0", math.nan), -90.0)
        and math.isclose(num("lon_0", 0.0), 0.0)
        and num("x_0", 0.0) == 0.0
        and num("y_0", 0.0) == 0.0
        and params.get("units", "m") == "m"
        and scale_ok
        and math.isclose(lat_ts, -90.0)
    )


def _open(path: str | Path) -> Any:
    """Open a GeoTIFF and check that it is georeferenced in LOLA's polar stereographic."""
    import rasterio  # type: ignore[import-untyped]  # ships no type information
    from rasterio.errors import (  # type: ignore[import-untyped]  # ships no type information
        NotGeoreferencedWarning,
        RasterioIOError,
    )

    name = str(_pds_label(Path(path)))
    try:
        with warnings.catch_warnings():
            # A file without georeferencing makes rasterio warn; we raise a clear error instead.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(name)
    except RasterioIOError as exc:
        raise InputError(
            f"{name}: cannot read as a raster ({exc}); expected a GeoTIFF, or a PDS3 .IMG with "
            "its .LBL label"
        ) from None
    if src.crs is None or src.transform == Affine.identity():
        src.close()
        raise InputError(
            f"{name}: the DEM has no georeferencing (no CRS or geotransform); expected a GeoTIFF "
            f"in {_EXPECTED} with square cells in metres"
        )
    if not is_lola_south_polar(src.crs):
        found = src.crs.to_proj4() or src.crs.to_string()
        src.close()
        raise InputError(
            f"{name}: projection {found!r} is not the one falak expects: {_EXPECTED}; reproject "
            f"with gdalwarp -t_srs '{LOLA_SOUTH_POLE_PROJ4}'"
        )
    try:
        _check_transform(src.transform, name)
    except InputError:
        src.close()
        raise
    return src


def _pds_label(path: Path) -> Path:
    """The detached PDS3 label of an ``.IMG`` (``X.LBL`` or ``X.lbl`` beside it), else ``path``."""
    if path.suffix.lower() == ".img":
        for suffix in (".LBL", ".lbl"):
            label = path.with_suffix(suffix)
            if label.exists():
                return label
    return path


def _to_heights(data: NDArray[Any], src: Any) -> NDArray[np.float32]:
    """Heights (m above the 1737.4 km sphere) from band 1's stored values; nodata → NaN.

    The band's scale and offset are applied (PDS3: ``SCALING_FACTOR`` and ``OFFSET``); an
    offset equal to the sphere's radius (LOLA: ``OFFSET = 1737400.``, a radius) is taken off.
    """
    nodata = src.nodata
    scale = float(src.scales[0]) if src.scales else 1.0
    offset = float(src.offsets[0]) if src.offsets else 0.0
    unit = str((src.units or [""])[0] or "").upper()
    to_m = 1000.0 if unit.startswith(("KM", "KILOMET")) else 1.0
    if math.isclose(offset * to_m, MOON_RADIUS_M, abs_tol=1.0):
        offset = 0.0  # a reference radius: the values are already heights above the sphere
    heights32 = np.asarray(data, dtype=np.float32)  # int16 DNs · 0.5 are exact in float32
    if scale != 1.0 or offset != 0.0 or to_m != 1.0:
        heights32 = ((heights32 * scale + offset) * to_m).astype(np.float32)
    if nodata is not None and not math.isnan(nodata):
        heights32 = np.where(data == nodata, np.float32(np.nan), heights32)
    return np.ascontiguousarray(heights32, dtype=np.float32)


def read_window(path: str | Path, row_off: int, col_off: int, height: int, width: int) -> Dem:
    """Read one rectangular window of a DEM (GeoTIFF or PDS3; clipped to the file) alone."""
    from rasterio.windows import Window  # type: ignore[import-untyped]  # ships no type information

    with _open(path) as src:
        window = Window(col_off, row_off, width, height).intersection(
            Window(0, 0, src.width, src.height)
        )
        data = src.read(1, window=window)
        transform = src.window_transform(window)
        return Dem(_to_heights(data, src), transform, source=str(path))


def iter_blocks(
    path: str | Path, block_size: int = 1024, halo: int = 0
) -> Iterator[tuple[tuple[int, int, int, int], Dem]]:
    """Walk a DEM file in blocks: yield ``((row0, col0, rows, cols), dem_with_halo)``.

    ``(row0, col0, rows, cols)`` is the block's core in file cells; the :class:`Dem` also holds
    up to ``halo`` cells on every side (less at the file's edges), so neighbourhood operations
    (slopes, horizons) can be computed for the core and the cores stitched back together.
    """
    if block_size < 1 or halo < 0:
        raise InputError(f"block_size must be ≥ 1 and halo ≥ 0, got {block_size}, {halo}")
    with _open(path) as src:
        ny, nx = src.height, src.width
    for row0 in range(0, ny, block_size):
        for col0 in range(0, nx, block_size):
            rows = min(block_size, ny - row0)
            cols = min(block_size, nx - col0)
            r0, c0 = max(0, row0 - halo), max(0, col0 - halo)
            r1, c1 = min(ny, row0 + rows + halo), min(nx, col0 + cols + halo)
            yield (row0, col0, rows, cols), read_window(path, r0, c0, r1 - r0, c1 - c0)


def read_dem(path: str | Path) -> Dem:
    """Read a whole DEM, GeoTIFF or PDS3 ``.IMG``/``.LBL`` (band 1); nodata cells become NaN.

    A sidecar ``<file>.features.npz`` written by :func:`write_dem` for a synthetic DEM brings
    back its crater and rock lists.

    Raises
    ------
    InputError
        The file is not a raster, has no georeferencing, is in another projection, or has
        rotated / non-square cells.
    """
    with _open(path) as src:
        data = src.read(1)
        dem = Dem(_to_heights(data, src), src.transform, source=str(path))
    sidecar = Path(str(path) + FEATURES_SUFFIX)
    if sidecar.exists():
        with np.load(sidecar) as f:
            dem.craters = Craters(
                f["crater_x_m"], f["crater_y_m"], f["crater_diameter_m"], f["crater_age_ga"],
                f["crater_depth_m"],
            )  # fmt: skip
            dem.rocks = Rocks(f["rock_x_m"], f["rock_y_m"], f["rock_diameter_m"])
    return dem


def write_dem(dem: Dem, path: str | Path, *, block_size: int = 256) -> Path:
    """Write a DEM as a tiled, deflate-compressed float32 GeoTIFF (nodata = NaN).

    Crater and rock lists, if any, go to a sidecar ``<file>.features.npz``.
    """
    import rasterio
    from rasterio.crs import CRS  # type: ignore[import-untyped]  # no type information

    path = Path(path)
    ny, nx = dem.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": 1,
        "dtype": "float32",
        "crs": CRS.from_proj4(LOLA_SOUTH_POLE_PROJ4),
        "transform": dem.transform,
        "nodata": float("nan"),
        "compress": "deflate",
    }
    if nx >= block_size and ny >= block_size:
        profile.update(tiled=True, blockxsize=block_size, blockysize=block_size)
    try:
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(dem.height_m, 1)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{path}: cannot write the DEM ({exc})") from None
    sidecar = Path(str(path) + FEATURES_SUFFIX)
    if dem.craters is not None or dem.rocks is not None:
        empty = np.zeros(0)
        c, r = dem.craters, dem.rocks
        np.savez_compressed(
            sidecar,
            crater_x_m=c.x_m if c else empty,
            crater_y_m=c.y_m if c else empty,
            crater_diameter_m=c.diameter_m if c else empty,
            crater_age_ga=c.age_ga if c else empty,
            crater_depth_m=c.depth_m if c else empty,
            rock_x_m=r.x_m if r else empty,
            rock_y_m=r.y_m if r else empty,
            rock_diameter_m=r.diameter_m if r else empty,
        )
    elif sidecar.exists():
        sidecar.unlink()
    return path


def fill_holes(
    height_m: NDArray[np.floating[Any]], iterations: int = 200
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Fill NaN holes: nearest valid height, then Laplace relaxation inside the holes.

    Returns the filled grid and the mask of filled cells. The relaxation (Jacobi sweeps of the
    4-neighbour mean, hole cells only) turns the nearest-value plateaus into a smooth membrane
    spanning the hole's rim, which is what slopes and horizons across a small gap need. A grid
    with no valid cell raises :class:`InputError`.
    """
    from scipy import ndimage

    heights = np.asarray(height_m, dtype=np.float32)
    holes = ~np.isfinite(heights)
    if not holes.any():
        return heights.copy(), holes
    if holes.all():
        raise InputError("the DEM has no valid height at all (every cell is no-data)")
    index = ndimage.distance_transform_edt(holes, return_distances=False, return_indices=True)
    filled = heights[tuple(index)].astype(np.float64)
    rows, cols = np.nonzero(holes)
    ny, nx = heights.shape
    up, down = np.maximum(rows - 1, 0), np.minimum(rows + 1, ny - 1)
    left, right = np.maximum(cols - 1, 0), np.minimum(cols + 1, nx - 1)
    for _ in range(iterations):
        filled[rows, cols] = 0.25 * (
            filled[up, cols] + filled[down, cols] + filled[rows, left] + filled[rows, right]
        )
    return filled.astype(np.float32), holes


def write_layer(
    path: str | Path, data: NDArray[Any], transform: Affine, *, nodata: float | None = None
) -> Path:
    """Write one derived map (slope, cost, lit share, a mask...) as a single-band GeoTIFF.

    Same grid and projection as the DEM it came from. Booleans are written as uint8 (0/1);
    float maps keep ``inf`` (impassable cost) and NaN as they are.
    """
    import rasterio
    from rasterio.crs import CRS

    path = Path(path)
    array = np.asarray(data)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    ny, nx = array.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": 1,
        "dtype": array.dtype.name,
        "crs": CRS.from_proj4(LOLA_SOUTH_POLE_PROJ4),
        "transform": transform,
        "compress": "deflate",
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
    return path
