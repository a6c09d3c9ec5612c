"""Benchmark: horizons for a 1024² DEM at 360 azimuths vs numpy brute-force ray marching.

falak: :func:`falak.terrain.horizons.horizons` (numba, threads over rows; fine near field,
block-averaged far field, exact early exit), on a synthetic south-pole DEM (5 m cells).

Peer: a straightforward numpy ray march (every cell, every azimuth, one-cell steps out to the
same maximum distance, bilinear interpolation), timed on a random subset of cells and scaled by
cells × azimuths × steps — the cost per cell·azimuth·step is flat, so the subset gives it.

Run: ``.venv/bin/python benchmarks/horizons.py [--size 1024] [--azimuths 360] [--dask]``
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from falak.terrain.horizons import horizons
from falak.terrain.synth import synthesize

MOON_RADIUS_M = 1_737_400.0


def numpy_brute_force(
    heights: np.ndarray, res: float, rows: np.ndarray, cols: np.ndarray, azimuths_deg, n_steps
) -> np.ndarray:
    """Horizon (degrees) at the given cells: numpy, one-cell steps, bilinear, curvature drop."""
    ny, nx = heights.shape
    h0 = heights[rows, cols]
    out = np.empty((len(azimuths_deg), rows.size))
    for k, az in enumerate(np.radians(azimuths_deg)):
        best = np.full(rows.size, -np.inf)
        for i in range(1, n_steps + 1):
            r = rows - i * math.cos(az)
            c = cols + i * math.sin(az)
            inside = (r >= 0) & (r <= ny - 1) & (c >= 0) & (c <= nx - 1)
            r = np.clip(r, 0, ny - 1.000001)
            c = np.clip(c, 0, nx - 1.000001)
            r0 = r.astype(np.intp)
            c0 = c.astype(np.intp)
            fr, fc = r - r0, c - c0
            top = heights[r0, c0] * (1 - fc) + heights[r0, c0 + 1] * fc
            bottom = heights[r0 + 1, c0] * (1 - fc) + heights[r0 + 1, c0 + 1] * fc
            h = top * (1 - fr) + bottom * fr
            d = i * res
            t = np.where(inside, (h - h0) / d - d / (2 * MOON_RADIUS_M), -np.inf)
            np.maximum(best, t, out=best)
        best[np.isinf(best)] = -res / (2 * MOON_RADIUS_M)  # falak's no-sample convention
        out[k] = np.degrees(np.arctan(best))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--azimuths", type=int, default=360)
    parser.add_argument("--resolution-m", type=float, default=5.0)
    parser.add_argument("--dask", action="store_true", help="also time the Dask-tiled path")
    args = parser.parse_args()
    n, res = args.size, args.resolution_m

    dem = synthesize(n, res, seed=0)
    horizons(synthesize(32, res, seed=0), 8)  # compile the numba kernel outside the timing
    max_distance_m = math.hypot(n, n) * res
    n_steps = int(max_distance_m / res)

    start = time.perf_counter()
    result = horizons(dem, args.azimuths)
    falak_s = time.perf_counter() - start

    tiled_s = None
    tiled_same = False
    if args.dask:
        start = time.perf_counter()
        tiled = horizons(dem, args.azimuths, tile_size=n // 2)
        tiled_s = time.perf_counter() - start
        tiled_same = bool(np.array_equal(tiled.elevation_deg, result.elevation_deg))

    # the subset: a 128 × 128 window of cells in the middle (vectors long enough for numpy)
    side = min(128, n)
    rr, cc = np.mgrid[0:side, 0:side] + (n - side) // 2
    rows, cols = rr.ravel(), cc.ravel()
    subset = rows.size
    heights = dem.height_m.astype(np.float64)
    sub_az = np.array([7.0, 97.0])
    start = time.perf_counter()
    numpy_brute_force(heights, res, rows, cols, sub_az, n_steps)
    brute_sub_s = time.perf_counter() - start
    ns_per = brute_sub_s / (subset * sub_az.size * n_steps) * 1e9
    brute_full_s = ns_per * 1e-9 * n * n * args.azimuths * n_steps

    # agreement on the subset at falak's own azimuths (one-cell steps vs falak's schedule)
    check_az = result.azimuths_deg[:: max(1, args.azimuths // 4)][:4]
    reference = numpy_brute_force(heights, res, rows[:500], cols[:500], check_az, n_steps)
    index = [round(a / (360.0 / args.azimuths)) for a in check_az]
    ours = result.elevation_deg[index][:, rows[:500], cols[:500]]
    relevant = reference > -1.0
    diff = np.abs(ours - reference)[relevant]

    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    print(f"DEM {n}x{n} at {res:g} m, {args.azimuths} azimuths, max distance "
          f"{max_distance_m / 1e3:.2f} km, {cores} cores, load average {load:.1f}")  # fmt: skip
    print(f"{'method':<44}{'time (s)':>12}")
    print(f"{'falak horizons (numba, one tile)':<44}{falak_s:>12.1f}")
    if tiled_s is not None:
        label = f"falak horizons (Dask tiles, threads{', identical' if tiled_same else ''})"
        print(f"{label:<44}{tiled_s:>12.1f}")
    print(f"{'numpy brute force (extrapolated)':<44}{brute_full_s:>12.1f}")
    print(f"numpy brute force: {ns_per:.2f} ns per cell·azimuth·step ({subset} cells × "
          f"{sub_az.size} azimuths × {n_steps} steps in {brute_sub_s:.1f} s)")  # fmt: skip
    print(f"ratio brute force / falak: {brute_full_s / falak_s:.1f}x")
    print(f"agreement (500 cells × 4 azimuths, horizons > −1°): median "
          f"{np.median(diff):.4f}°, 99th percentile {np.percentile(diff, 99):.3f}°, "
          f"max {diff.max():.3f}°")  # fmt: skip


if __name__ == "__main__":
    main()
