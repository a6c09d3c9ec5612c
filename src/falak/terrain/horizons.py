"""Horizons: the elevation of the skyline, for every DEM cell and N azimuths.

For a cell at height h₀ (plus an eye height) and a map azimuth α, rays are marched over the
DEM and the horizon is the largest elevation angle to the terrain::

    tan e = (h(d) − h₀) / d − d / (2R)           R = 1737.4 km (LOLA sphere)

``−d/2R`` is the drop of the sphere below the cell's tangent plane, d²/2R, seen at distance d
(Mazarico et al. 2011, Icarus 211:1066; Schörghofer's Topo3D). On a smooth sphere every sample
lies below the horizontal and the horizon is the *nearest* sample's ``−atan(d₁/2R)`` with d₁
the first step (one cell): −0.00016° for 5 m cells, i.e. the smooth-sphere horizon 0°.

Sampling (multi-resolution far field): samples start one cell away (nearer terrain is the
cell itself, whose slope is not a horizon), ¼ cell apart up to 4 cells and ½ cell up to 8 (the
nearest terrain decides most horizons and bilinear terrain has kinks at cell edges), then one
cell apart up to ``near_cells`` on the full DEM (bilinear interpolation); beyond, octave k
(distances near_cells·2ᵏ⁻¹ … near_cells·2ᵏ cells) is sampled every 2ᵏ cells on the DEM
averaged over (2ᵏ + 1)² cells (kept on the full grid), so a ray costs ``near_cells/2`` samples
per doubling of distance and an averaging window always subtends ≤ 2/near_cells rad. A ray
stops at ``max_distance_m`` or at the DEM's edge (terrain beyond is unknown: cells nearer the
edge than the relief's shadow length see a truncated horizon; crop that margin). A ray that
leaves the DEM before its first step gets the smooth-sphere value. NaN holes are filled first
(:func:`~falak.terrain.dem.fill_holes`).

Kernel (numba): for one azimuth and one sample distance every cell looks at the same offset,
so the bilinear weights are shared and the loop over cells is a contiguous, vectorisable pass
over rows (bands of 16 rows stay in cache while all samples pass over them); threads share the
azimuths. This costs ~2.5× less CPU than marching each ray on its own, even with an early exit.

Map azimuths count clockwise from grid north (+y, the direction of 0°E); at a cell of east
longitude λ local north has map azimuth λ, so ``map = geographic + λ`` (south-polar
stereographic). :mod:`falak.terrain.illumination` does that conversion per cell.

Large DEMs are cut into tiles with a halo of ``max_distance_m`` (plus the widest averaging
window) and computed as Dask delayed tasks (threads here; any Dask scheduler or a
``distributed`` cluster via ``scheduler=``); tiled and untiled results are identical.

Files: :meth:`Horizons.save` writes an ``.npz`` with ``azimuths_deg`` (n,), ``elevation_deg``
(n, ny, nx) float32, ``transform`` (6 numbers, rasterio order), ``max_distance_m`` and
``observer_height_m``; :func:`load_horizons` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
from affine import Affine  # type: ignore[import-untyped]  # ships no type information
from numba import types
from numba.extending import intrinsic
from numpy.typing import NDArray

from falak.errors import InputError
from falak.terrain.dem import MOON_RADIUS_M, Dem, fill_holes

__all__ = ["Horizons", "horizons", "load_horizons", "sample_schedule"]

#: Coarsest far-field level: averages over (2**MAX_LEVEL + 1)² cells.
MAX_LEVEL = 6
#: DEMs up to this many cells are done as one tile (numba threads over azimuths).
SINGLE_TILE_CELLS = 2048 * 2048


@dataclass
class Horizons:
    """Horizon elevation (degrees) per map azimuth and cell, on a DEM's grid."""

    azimuths_deg: NDArray[np.float64]
    elevation_deg: NDArray[np.float32]
    transform: Affine
    max_distance_m: float
    observer_height_m: float = 0.0

    def __repr__(self) -> str:
        n, ny, nx = self.elevation_deg.shape
        return f"Horizons({n} azimuths × {ny}x{nx} cells, max distance {self.max_distance_m:g} m)"

    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` file described in the module text."""
        path = Path(path)
        with path.open("wb") as f:
            np.savez(
                f,
                azimuths_deg=self.azimuths_deg,
                elevation_deg=self.elevation_deg,
                transform=np.array(tuple(self.transform)[:6]),
                max_distance_m=self.max_distance_m,
                observer_height_m=self.observer_height_m,
            )
        return path

    def at(
        self, azimuth_deg: NDArray[np.float64], rows: NDArray[np.intp], cols: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Horizon at arbitrary map azimuths for cells (rows, cols), linear between azimuths."""
        n = self.azimuths_deg.size
        step = 360.0 / n
        position = (np.asarray(azimuth_deg) % 360.0 - self.azimuths_deg[0]) / step
        i0 = np.floor(position).astype(np.intp) % n
        w = position - np.floor(position)
        i1 = (i0 + 1) % n
        e0 = self.elevation_deg[i0, rows, cols]
        e1 = self.elevation_deg[i1, rows, cols]
        result: NDArray[np.float64] = (1 - w) * e0 + w * e1
        return result


def load_horizons(path: str | Path) -> Horizons:
    """Read a horizons ``.npz`` written by :meth:`Horizons.save`."""
    try:
        with np.load(path) as f:
            return Horizons(
                azimuths_deg=f["azimuths_deg"],
                elevation_deg=f["elevation_deg"],
                transform=Affine(*f["transform"]),
                max_distance_m=float(f["max_distance_m"]),
                observer_height_m=float(f["observer_height_m"]),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(
            f"{path}: not a falak horizons file ({exc}); make one with 'falak terrain horizons'"
        ) from None


def sample_schedule(near_cells: int, max_cells: float) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """Return the sample distances (cells) along a ray and the pyramid level of each."""
    fine = [1.0 + 0.25 * i for i in range(12)] + [4.0 + 0.5 * i for i in range(8)]
    distances = [d for d in fine if d <= min(max_cells, near_cells)]
    distances += [float(d) for d in range(8, near_cells + 1) if d <= max_cells]
    levels = [0] * len(distances)
    level, d = 1, float(near_cells)
    while d < max_cells:
        step = 2.0 ** min(level, MAX_LEVEL)
        end = near_cells * 2.0**level
        while d + step <= end and d + step <= max_cells:
            d += step
            distances.append(d)
            levels.append(min(level, MAX_LEVEL))
        if d + step > max_cells:
            break
        level += 1
    return np.array(distances), np.array(levels, dtype=np.int64)


def _smoothed_levels(heights: NDArray[np.float64], levels: int) -> NDArray[np.float32]:
    """Level k = the DEM box-averaged over 2ᵏ × 2ᵏ cells, kept on the full grid (float32).

    Shape (levels + 1, ny + 1, nx + 1): one extra row and column repeat the last ones.
    """
    from scipy import ndimage

    if min(heights.shape) < 2:
        raise InputError(f"a DEM needs at least 2 × 2 cells for horizons, got {heights.shape}")
    ny, nx = heights.shape
    out = np.empty((levels + 1, ny + 1, nx + 1), dtype=np.float32)
    for k in range(levels + 1):
        # odd windows (2ᵏ + 1) so the average stays centred on the cell
        level = heights if k == 0 else ndimage.uniform_filter(heights, 2**k + 1, mode="nearest")
        out[k, :ny, :nx] = level
        out[k, ny, :nx] = level[-1]
        out[k, :, nx] = out[k, :, nx - 1]
    return out


@intrinsic
def _max32(typingctx: Any, a: Any, b: Any) -> Any:
    """float32 max as LLVM's ``maxnum`` (one ``vmaxps``). numba's ``max`` lowers to a branch,
    which LLVM vectorises into a compare and a *masked store* — microcoded and ~3× slower
    on AMD Zen, where this kernel spent most of its time."""
    from llvmlite import ir  # type: ignore[import-untyped]  # ships no type information
    from numba.core import cgutils

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        f32 = ir.FloatType()
        fnty = ir.FunctionType(f32, [f32, f32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]  # numba: untyped
            builder.module, fnty, "llvm.maxnum.f32"
        )
        return builder.call(fn, args)

    return types.float32(types.float32, types.float32), codegen


_BAND_ROWS = 16
_BAND_COLS = 512  # a band (32 KiB of float32) stays in L1-L2 while every sample passes


@numba.njit(nogil=True, error_model="numpy", fastmath=True, cache=True)
def _azimuth(
    grids: Any, ground: Any, inv_d_m: Any, drop: Any, step_x: Any, level: Any, sa: float,
    ca: float, r0: int, r1: int, c0: int, c1: int, out: Any,
) -> None:  # fmt: skip
    """Horizons at one azimuth (sin ``sa``, cos ``ca``) for cells [r0, r1) × [c0, c1) → out.

    For one azimuth and one sample distance every cell looks at the same offset, so the
    bilinear weights are shared and the inner loop runs over contiguous columns (SIMD). Rows
    are done in bands that stay in cache while all samples pass over them. ``ground`` is the
    observer's height (DEM + eye height), float32 like ``grids``; ``grids`` carry one extra
    row and column (copies of the last) so that the +1 neighbour always exists.
    """
    ny, nx = ground.shape
    nsteps = inv_d_m.shape[0]
    first_drop = drop[0] if nsteps > 0 else 0.0
    best = np.empty((_BAND_ROWS, _BAND_COLS), dtype=np.float32)
    for b0 in range(r0, r1, _BAND_ROWS):
        b1 = min(r1, b0 + _BAND_ROWS)
        for q0 in range(c0, c1, _BAND_COLS):
            q1 = min(c1, q0 + _BAND_COLS)
            best[:, :] = -1e30  # finite sentinel: fastmath assumes no infinities
            for s in range(nsteps):
                dy = -step_x[s] * ca
                dx = step_x[s] * sa
                # snap to whole cells when within 1e-9 (cos 90° is 6e-17, not 0)
                if abs(dy - round(dy)) < 1e-9:
                    dy = float(round(dy))
                if abs(dx - round(dx)) < 1e-9:
                    dx = float(round(dx))
                # rows/cols whose sample point (r + dy, c + dx) lies on the grid
                lo_r = max(b0, math.ceil(-dy))
                hi_r = min(b1, math.floor(ny - 1 - dy) + 1)
                lo_c = max(q0, math.ceil(-dx))
                hi_c = min(q1, math.floor(nx - 1 - dx) + 1)
                if lo_r >= hi_r or lo_c >= hi_c:
                    continue
                i0 = math.floor(dy)
                j0 = math.floor(dx)
                fy = dy - i0
                fx = dx - j0
                w00 = np.float32((1 - fy) * (1 - fx))
                w01 = np.float32((1 - fy) * fx)
                w10 = np.float32(fy * (1 - fx))
                w11 = np.float32(fy * fx)
                g = grids[level[s]]
                idm = np.float32(inv_d_m[s])
                dr = np.float32(drop[s])
                n = hi_c - lo_c
                for r in range(lo_r, hi_r):
                    # slices starting at the first column, so the inner index runs 0…n−1:
                    # numba then needs no negative-index wraparound and LLVM vectorises (2.7×)
                    top = g[r + i0, lo_c + j0 : hi_c + j0 + 1]
                    bottom = g[r + i0 + 1, lo_c + j0 : hi_c + j0 + 1]
                    here = ground[r, lo_c:hi_c]
                    row_best = best[r - b0, lo_c - q0 : hi_c - q0]
                    for k in range(n):
                        h = w00 * top[k] + w01 * top[k + 1] + w10 * bottom[k] + w11 * bottom[k + 1]
                        t = (h - here[k]) * idm - dr
                        # (ignore: numba passes the intrinsic its typing context itself)
                        row_best[k] = _max32(row_best[k], t)  # type: ignore[call-arg]
            for r in range(b0, b1):
                for k in range(q1 - q0):
                    value = float(best[r - b0, k])
                    if value < -1e29:
                        value = -first_drop
                    out[r - r0, q0 - c0 + k] = math.degrees(math.atan(value))


# Two drivers, not one function compiled twice: numba's on-disk cache keys a function by its
# name and signature only, so a parallel and a serial compilation of the same function would
# load each other's cached code (the parallel one then ran on one thread).
@numba.njit(parallel=True, nogil=True, cache=True)
def _kernel_threads(
    grids: Any, ground: Any, inv_d_m: Any, drop: Any, step_x: Any, level: Any, sin_az: Any,
    cos_az: Any, r0: int, r1: int, c0: int, c1: int, out: Any,
) -> None:  # fmt: skip
    """All azimuths, shared among numba's threads (one big tile)."""
    for a in numba.prange(sin_az.shape[0]):
        _azimuth(
            grids, ground, inv_d_m, drop, step_x, level, sin_az[a], cos_az[a], r0, r1, c0, c1,
            out[a],
        )  # fmt: skip


@numba.njit(nogil=True, cache=True)
def _kernel_serial(
    grids: Any, ground: Any, inv_d_m: Any, drop: Any, step_x: Any, level: Any, sin_az: Any,
    cos_az: Any, r0: int, r1: int, c0: int, c1: int, out: Any,
) -> None:  # fmt: skip
    """All azimuths on the calling thread, without the GIL (Dask tiles run side by side)."""
    for a in range(sin_az.shape[0]):
        _azimuth(
            grids, ground, inv_d_m, drop, step_x, level, sin_az[a], cos_az[a], r0, r1, c0, c1,
            out[a],
        )  # fmt: skip


def _kernel(parallel: bool) -> Callable[..., None]:
    """The compiled kernel: numba threads over azimuths (one tile) or nogil (Dask tiles)."""
    return _kernel_threads if parallel else _kernel_serial


def _tile(
    heights: NDArray[np.float64],
    core: tuple[int, int, int, int],
    schedule: tuple[NDArray[np.float64], NDArray[Any]],
    azimuths_deg: NDArray[np.float64],
    res: float,
    eye: float,
    parallel: bool,
) -> NDArray[np.float32]:
    """Horizons of the core (r0, r1, c0, c1) of a (padded) height array."""
    dist, level = schedule
    top = int(level.max()) if level.size else 0
    grids = _smoothed_levels(heights, top)
    r0, r1, c0, c1 = core
    out = np.empty((azimuths_deg.size, r1 - r0, c1 - c0), dtype=np.float32)
    rad = np.radians(azimuths_deg)
    d_m = dist * res
    if d_m.size == 0:
        d_m = np.array([res])  # only for the no-sample fallback value
        dist, level = np.zeros(0), np.zeros(0, dtype=np.int64)
    inv_d_m = np.ascontiguousarray(1.0 / d_m[: dist.size])
    drop = d_m / (2.0 * MOON_RADIUS_M)
    ground = (heights + eye).astype(np.float32)
    _kernel(parallel)(
        grids, ground, inv_d_m, drop, dist, level, np.sin(rad), np.cos(rad), r0, r1, c0, c1, out
    )
    return out


def horizons(
    dem: Dem,
    n_azimuths: int = 360,
    max_distance_m: float | None = None,
    *,
    observer_height_m: float = 0.0,
    near_cells: int = 32,
    tile_size: int | None = None,
    scheduler: Any = None,
    progress: Callable[[float], None] | None = None,
) -> Horizons:
    """Compute horizon elevations for every cell of ``dem`` at ``n_azimuths`` map azimuths.

    Parameters
    ----------
    dem
        The DEM (NaN holes are filled by Laplace inpainting first).
    n_azimuths
        Azimuths 0, 360/n, … degrees, clockwise from grid north (+y).
    max_distance_m
        Farthest terrain considered; default the DEM's diagonal.
    observer_height_m
        Eye height above the cell (0 = the ground).
    near_cells
        Distance (cells) sampled on the full-resolution DEM before the far field starts.
    tile_size
        Cells per tile side for Dask; default: one tile up to 2048² cells, else 1024.
    scheduler
        Dask scheduler for tiles (default "threads"; a ``distributed.Client`` works too).
    progress
        Called with the completed share (0…1).

    Returns
    -------
    Horizons
        ``elevation_deg`` (n_azimuths, ny, nx) float32, degrees above the cell's horizontal.
    """
    if not (isinstance(n_azimuths, int) and 4 <= n_azimuths <= 3600):
        raise InputError(f"n_azimuths must be an integer 4 … 3600, got {n_azimuths!r}")
    if near_cells < 2:
        raise InputError(f"near_cells must be ≥ 2, got {near_cells}")
    ny, nx = dem.shape
    res = dem.resolution_m
    if max_distance_m is None:
        max_distance_m = math.hypot(ny, nx) * res
    if not (math.isfinite(max_distance_m) and max_distance_m >= res):
        raise InputError(
            f"max_distance_m must be at least one cell ({res:g} m), got {max_distance_m}"
        )
    filled, _ = fill_holes(dem.height_m)
    heights = filled.astype(np.float64)
    schedule = sample_schedule(near_cells, max_distance_m / res)
    azimuths: NDArray[np.float64] = np.arange(n_azimuths, dtype=np.float64) * (360.0 / n_azimuths)
    if tile_size is None and ny * nx <= SINGLE_TILE_CELLS:
        out = np.empty((n_azimuths, ny, nx), dtype=np.float32)
        chunk = max(8, n_azimuths // 36)  # enough azimuths per call for every thread
        for start in range(0, n_azimuths, chunk):
            stop = min(n_azimuths, start + chunk)
            out[start:stop] = _tile(
                heights, (0, ny, 0, nx), schedule, azimuths[start:stop], res, observer_height_m,
                parallel=True,
            )  # fmt: skip
            if progress is not None:
                progress(stop / n_azimuths)
        return Horizons(azimuths, out, dem.transform, float(max_distance_m), observer_height_m)
    return _tiled(
        heights, dem.transform, schedule, azimuths, res, observer_height_m,
        float(max_distance_m), tile_size or 1024, scheduler, progress,
    )  # fmt: skip


def _tiled(
    heights: NDArray[np.float64],
    transform: Affine,
    schedule: tuple[NDArray[np.float64], NDArray[Any]],
    azimuths: NDArray[np.float64],
    res: float,
    eye: float,
    max_distance_m: float,
    tile_size: int,
    scheduler: Any,
    progress: Callable[[float], None] | None,
) -> Horizons:
    """Tiles with a halo as Dask delayed tasks; stitched into one array."""
    from dask.base import compute
    from dask.callbacks import Callback
    from dask.delayed import delayed

    ny, nx = heights.shape
    block = 2**MAX_LEVEL
    tile = max(block, tile_size // block * block)
    # the farthest sample plus the widest averaging window stay inside the halo: tiles = whole
    halo = math.ceil((max_distance_m / res + 1 + block) / block) * block
    tasks, cores = [], []
    for r in range(0, ny, tile):
        for c in range(0, nx, tile):
            pr0, pc0 = max(0, r - halo), max(0, c - halo)
            pr1, pc1 = min(ny, r + tile + halo), min(nx, c + tile + halo)
            core = (r - pr0, min(ny, r + tile) - pr0, c - pc0, min(nx, c + tile) - pc0)
            padded = heights[pr0:pr1, pc0:pc1]
            tasks.append(
                delayed(_tile, pure=False)(padded, core, schedule, azimuths, res, eye, False)
            )
            cores.append((r, min(ny, r + tile), c, min(nx, c + tile)))

    class _Report(Callback):
        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # dask's __init__ is untyped
            self.done = 0

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if isinstance(result, np.ndarray) and progress is not None:
                self.done += 1
                progress(self.done / len(tasks))

    with _Report():
        results = compute(*tasks, scheduler=scheduler or "threads")  # type: ignore[no-untyped-call]
    out = np.empty((azimuths.size, ny, nx), dtype=np.float32)
    for (r0, r1, c0, c1), part in zip(cores, results, strict=True):
        out[:, r0:r1, c0:c1] = part
    return Horizons(azimuths, out, transform, max_distance_m, eye)
