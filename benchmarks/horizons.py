"""Benchmark: horizons for a 1024² DEM at 360 azimuths vs numpy brute-force ray marching.

falak: :func:`falak.terrain.horizons.horizons` (numba, vectorised passes per azimuth and
distance, threads over azimuths; fine near field, averaged far field), on a synthetic
south-pole DEM (5 m cells).

Peer: a numpy brute force over the whole grid — every cell, one-cell steps out to the same
maximum distance (until the shift leaves the grid), the grid compared with itself shifted to
the nearest cell along the azimuth (four array passes per cell·azimuth·step, no
interpolation). It is timed for two azimuths and scaled by the steps of all azimuths: its cost
per cell·azimuth·step is flat. A bilinear numpy march on
500 cells checks that falak's horizons agree.

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
            eps = 1e-9  # cos 90° is 6e-17: a ray along the edge row stays on the grid
            inside = (r >= -eps) & (r <= ny - 1 + eps) & (c >= -eps) & (c <= nx - 1 + eps)
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


def shift_steps(shape: tuple[int, int], azimuth_deg: float, n_steps: int) -> int:
    """Steps the shift brute force takes along an azimuth before the shift leaves the grid."""
    ny, nx = shape
    az = math.radians(azimuth_deg)
    for i in range(1, n_steps + 1):
        if abs(round(i * math.cos(az))) >= ny or abs(round(i * math.sin(az))) >= nx:
            return i - 1
    return n_steps


def numpy_shift_brute_force(
    heights: np.ndarray, res: float, azimuth_deg: float, n_steps: int
) -> np.ndarray:
    """The fast numpy peer: whole-grid shifts to the nearest cell per step (no interpolation).

    For each step i the grid is compared with itself shifted by the nearest whole-cell offset
    along the azimuth: four array passes per cell·step, no gathers.
    """
    ny, nx = heights.shape
    best = np.full((ny, nx), -np.inf)
    az = math.radians(azimuth_deg)
    for i in range(1, n_steps + 1):
        dr, dc = -round(i * math.cos(az)), round(i * math.sin(az))
        if abs(dr) >= ny or abs(dc) >= nx:
            break
        d = math.hypot(dr, dc) * res
        target = heights[max(0, dr) : ny + min(0, dr), max(0, dc) : nx + min(0, dc)]
        rows = slice(max(0, -dr), ny + min(0, -dr))
        cols = slice(max(0, -dc), nx + min(0, -dc))
        view = best[rows, cols]
        np.maximum(view, (target - heights[rows, cols]) * (1.0 / d) - d / (2 * MOON_RADIUS_M),
                   out=view)  # fmt: skip
    return np.degrees(np.arctan(best))


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

    start, cpu_start = time.perf_counter(), time.process_time()
    result = horizons(dem, args.azimuths)
    falak_s = time.perf_counter() - start
    falak_cpu_s = time.process_time() - cpu_start

    tiled_s = None
    tiled_same = False
    if args.dask:
        start = time.perf_counter()
        tiled = horizons(dem, args.azimuths, tile_size=n // 2)
        tiled_s = time.perf_counter() - start
        tiled_same = bool(np.array_equal(tiled.elevation_deg, result.elevation_deg))

    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, n, 500), rng.integers(0, n, 500)
    heights = dem.height_m.astype(np.float64)
    sub_az = np.array([7.0, 97.0])
    # Timing peer: whole-grid numpy shifts, two azimuths over every cell (diagonal azimuths
    # would stop earlier at the edge; 7° and 97° run almost all n_steps steps).
    start, cpu_start = time.perf_counter(), time.process_time()
    peer_steps = 0
    for az in sub_az:
        numpy_shift_brute_force(heights, res, float(az), n_steps)
        peer_steps += shift_steps((n, n), float(az), n_steps)
    brute_sub_s = time.perf_counter() - start
    brute_sub_cpu_s = time.process_time() - cpu_start
    ns_per = brute_sub_s / (n * n * peer_steps) * 1e9
    all_steps = sum(shift_steps((n, n), float(a), n_steps) for a in result.azimuths_deg)
    brute_full_s = ns_per * 1e-9 * n * n * all_steps

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
    print(f"numpy brute force: {ns_per:.2f} ns per cell·azimuth·step ({n}² cells × "
          f"{sub_az.size} azimuths, {peer_steps} steps, {brute_sub_s:.1f} s)")  # fmt: skip
    print(f"ratio brute force / falak: {brute_full_s / falak_s:.1f}x")
    # CPU seconds do not count the time other processes hold the cores: on a shared, loaded
    # machine they say what an idle one would do (wall ≈ CPU / cores for falak's threads).
    cpu_ns_per = brute_sub_cpu_s / (n * n * peer_steps) * 1e9
    brute_full_cpu_s = cpu_ns_per * 1e-9 * n * n * all_steps
    print(f"CPU time: falak {falak_cpu_s:.1f} s (≈ {falak_cpu_s / cores:.1f} s wall on {cores} "
          f"idle cores), numpy brute force {brute_full_cpu_s:.1f} s (one core, extrapolated; "
          f"{cpu_ns_per:.2f} ns per "
          f"cell·azimuth·step); CPU ratio {brute_full_cpu_s / falak_cpu_s:.1f}x")  # fmt: skip
    print(f"agreement (500 cells × 4 azimuths, horizons > −1°): median "
          f"{np.median(diff):.4f}°, 99th percentile {np.percentile(diff, 99):.3f}°, "
          f"max {diff.max():.3f}°")  # fmt: skip


if __name__ == "__main__":
    main()
