"""Benchmark: horizons for a 1024² DEM, falak against topocalc and a numpy port of falak's method.

falak: :func:`falak.terrain.horizons.horizons` (numba, vectorised passes per azimuth and
sample distance, threads over azimuths; fine near field, averaged far field, lunar curvature),
on a synthetic south-pole DEM (5 m cells), rays to the DEM's diagonal.

Peers, on the same DEM and the same azimuths (``--azimuths``, evenly spaced from grid north):

* **topocalc** 0.5 (USDA-ARS, CC0; pip): ``topocalc.horizon.horizon(azimuth, dem, spacing)``
  once per azimuth, as its users call it (its ``viewf`` does the same). Dozier & Frew (1990):
  an exact O(N) search along grid lines, with the DEM skewed by whole cells for azimuths off
  the grid axes. It returns the sine of the horizon angle, clamped at 0 (no below-horizontal
  horizons) and without curvature. Single-threaded C, so compare CPU time as well as wall.
* **numpy port** (home-made): falak's own algorithm — the same sample schedule, the same
  averaged far-field grids, the same float32 bilinear sums — as whole-grid numpy passes. It
  must give falak's horizons to float32 rounding; the ratio is what numba adds to numpy.

Checks (asserted): the numpy port equals falak to ``PORT_TOLERANCE_DEG``; on the four grid-axis
azimuths, where topocalc's search is exact, falak and topocalc agree (above 1°, cells away from
the edges) within ``TOPOCALC_*``; falak agrees with an independent bilinear numpy ray march
(one-cell steps, rays to the edge) on 500 random cells at four azimuths within ``MARCH_*``.
topocalc's own agreement with that march off the grid axes is printed, not asserted.

topocalc 0.5.0 is an sdist whose setup.py imports numpy and Cython, so pip's isolated build
fails; build it once without isolation: ``.venv/bin/pip install numpy cython wheel`` in a
scratch venv, then ``pip wheel --no-deps --no-build-isolation topocalc==0.5.0`` there and
``.venv/bin/pip install --no-deps topocalc-0.5.0-*.whl`` (it needs only numpy at run time).

Run: ``.venv/bin/python benchmarks/horizons.py [--size 1024] [--azimuths 24]
[--target-azimuths 360] [--dask] [--repeat 3] [--out FILE]``
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
from _harness import Bench, Side, expect
from numpy.typing import NDArray

from falak.terrain.dem import MOON_RADIUS_M, Dem
from falak.terrain.horizons import _smoothed_levels, horizons, sample_schedule
from falak.terrain.synth import synthesize

#: numpy port vs falak (degrees): both sum the same float32 terms; numba's fastmath may fuse
#: them (FMA), a few float32 ulps of a tangent.
PORT_TOLERANCE_DEG = 0.01
#: falak vs topocalc on grid-axis azimuths (degrees), horizons above 1°: falak's far field
#: averages the DEM over (2ᵏ+1)² cells and drops by the Moon's curvature (up to 0.12° at
#: 7 km); topocalc is exact on the grid and flat. Median and 99th percentile of |difference|.
TOPOCALC_MEDIAN_DEG, TOPOCALC_P99_DEG = 0.02, 1.0
#: falak vs the bilinear march (degrees), horizons above −1°: the far-field averaging again
#: (its largest differences, 1-2° on single cells of this rough terrain, are printed).
MARCH_MEDIAN_DEG, MARCH_P99_DEG = 0.01, 0.5


def numpy_port(dem: Dem, n_azimuths: int) -> NDArray[np.float32]:
    """falak's horizons algorithm as whole-grid numpy passes (home-made peer, same work)."""
    ny, nx = dem.shape
    res = dem.resolution_m
    heights = dem.height_m.astype(np.float64)  # synthetic DEM: no holes to fill
    dist, level = sample_schedule(32, math.hypot(ny, nx))
    grids = _smoothed_levels(heights, int(level.max()))
    ground = heights.astype(np.float32)
    d_m = dist * res
    inv_d = (1.0 / d_m).astype(np.float32)
    drop = (d_m / (2.0 * MOON_RADIUS_M)).astype(np.float32)
    out = np.empty((n_azimuths, ny, nx), dtype=np.float32)
    best = np.empty((ny, nx), dtype=np.float32)
    for a in range(n_azimuths):
        az = math.radians(a * 360.0 / n_azimuths)
        sa, ca = math.sin(az), math.cos(az)
        best.fill(-1e30)
        for s in range(dist.size):
            dy, dx = -dist[s] * ca, dist[s] * sa
            dy = float(round(dy)) if abs(dy - round(dy)) < 1e-9 else dy
            dx = float(round(dx)) if abs(dx - round(dx)) < 1e-9 else dx
            r0, r1 = max(0, math.ceil(-dy)), min(ny, math.floor(ny - 1 - dy) + 1)
            c0, c1 = max(0, math.ceil(-dx)), min(nx, math.floor(nx - 1 - dx) + 1)
            if r0 >= r1 or c0 >= c1:
                continue
            i0, j0 = math.floor(dy), math.floor(dx)
            fy, fx = dy - i0, dx - j0
            g = grids[level[s]]
            rows, cols = slice(r0 + i0, r1 + i0), slice(c0 + j0, c1 + j0)
            rows1, cols1 = slice(r0 + i0 + 1, r1 + i0 + 1), slice(c0 + j0 + 1, c1 + j0 + 1)
            h = np.float32((1 - fy) * (1 - fx)) * g[rows, cols]
            h += np.float32((1 - fy) * fx) * g[rows, cols1]
            h += np.float32(fy * (1 - fx)) * g[rows1, cols]
            h += np.float32(fy * fx) * g[rows1, cols1]
            h -= ground[r0:r1, c0:c1]
            h *= inv_d[s]
            h -= drop[s]
            view = best[r0:r1, c0:c1]
            np.maximum(view, h, out=view)
        best[best < -1e29] = -drop[0]
        np.degrees(np.arctan(best), out=out[a])
    return out


def topocalc_horizons(heights: NDArray[np.float64], res: float, n_azimuths: int) -> Any:
    """topocalc, one call per azimuth; horizon elevation (degrees, ≥ 0) on falak's azimuths."""
    from topocalc.horizon import horizon

    out = np.empty((n_azimuths, *heights.shape), dtype=np.float32)
    for a in range(n_azimuths):
        ours = a * 360.0 / n_azimuths  # clockwise from grid north (row 0 is north)
        theirs = 180.0 - ours  # topocalc: 0 = south (+row), positive through east (+col)
        out[a] = np.degrees(np.arcsin(horizon(theirs, heights, res)))
    return out


def bilinear_march(
    heights: NDArray[np.float64], res: float, rows: Any, cols: Any, azimuths_deg: Any
) -> NDArray[np.float64]:
    """Reference: horizon (degrees) at given cells, one-cell bilinear steps to the DEM edge."""
    ny, nx = heights.shape
    n_steps = int(math.hypot(ny, nx))
    h0 = heights[rows, cols]
    out = np.empty((len(azimuths_deg), rows.size))
    for k, az in enumerate(np.radians(azimuths_deg)):
        best = np.full(rows.size, -np.inf)
        for i in range(1, n_steps + 1):
            r = rows - i * math.cos(az)
            c = cols + i * math.sin(az)
            eps = 1e-9  # cos 90° is 6e-17: a ray along the edge row stays on the grid
            inside = (r >= -eps) & (r <= ny - 1 + eps) & (c >= -eps) & (c <= nx - 1 + eps)
            if not inside.any():
                break
            r = np.clip(r, 0, ny - 1.000001)
            c = np.clip(c, 0, nx - 1.000001)
            r0, c0 = r.astype(np.intp), c.astype(np.intp)
            fr, fc = r - r0, c - c0
            top = heights[r0, c0] * (1 - fc) + heights[r0, c0 + 1] * fc
            bottom = heights[r0 + 1, c0] * (1 - fc) + heights[r0 + 1, c0 + 1] * fc
            d = i * res
            t = (top * (1 - fr) + bottom * fr - h0) / d - d / (2 * MOON_RADIUS_M)
            np.maximum(best, np.where(inside, t, -np.inf), out=best)
        best[np.isinf(best)] = -res / (2 * MOON_RADIUS_M)  # falak's no-sample convention
        out[k] = np.degrees(np.arctan(best))
    return out


def _abs_stats(diff: NDArray[Any]) -> tuple[float, float, float]:
    a = np.abs(diff)
    return float(np.median(a)), float(np.percentile(a, 99)), float(a.max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--azimuths", type=int, default=24, help="azimuths timed on every side")
    ap.add_argument("--resolution-m", type=float, default=5.0)
    ap.add_argument(
        "--target-azimuths", type=int, default=360, help="falak alone at this many (0: skip)"
    )
    ap.add_argument("--dask", action="store_true", help="also time falak's Dask-tiled path")
    Bench.arguments(ap)
    args = ap.parse_args()
    try:
        import topocalc.horizon  # noqa: F401  # the peer; see the module text to install it
    except ImportError:
        raise SystemExit(
            "topocalc is not installed: see the text of benchmarks/horizons.py"
        ) from None
    n, res, n_az = args.size, args.resolution_m, args.azimuths
    expect(n_az % 4 == 0, f"--azimuths must be a multiple of 4 (grid axes), got {n_az}")
    bench = Bench(
        f"horizons: DEM {n}x{n} at {res:g} m (synthesize seed 0), {n_az} azimuths, rays to "
        f"the diagonal ({math.hypot(n, n) * res / 1e3:.2f} km)",
        args.out,
    )
    dem = synthesize(n, res, seed=0)
    heights = dem.height_m.astype(np.float64)
    small = synthesize(64, res, seed=0)

    def check(r: dict[str, Any]) -> None:
        ours = r["falak horizons (numba threads)"].elevation_deg
        port = r["numpy port of falak's method"]
        diff = float(np.abs(port - ours).max())
        expect(diff <= PORT_TOLERANCE_DEG, f"numpy port differs from falak by {diff:.4f}°")
        tc = r["topocalc horizon() per azimuth"]
        axes = [0, n_az // 4, n_az // 2, 3 * n_az // 4]
        inner = (slice(None), slice(16, n - 16), slice(16, n - 16))
        o, t = ours[axes][inner], tc[axes][inner]
        both = (o > 1.0) & (t > 1.0)
        med, p99, mx = _abs_stats((o - t)[both])
        expect(
            med <= TOPOCALC_MEDIAN_DEG and p99 <= TOPOCALC_P99_DEG,
            f"falak vs topocalc on the grid axes: median {med:.4f}°, p99 {p99:.3f}°",
        )
        agreement[:] = [f"grid axes, {both.sum():,} cell-azimuths above 1°: |falak − topocalc| "
                        f"median {med:.4f}°, p99 {p99:.3f}°, max {mx:.3f}° (asserted median ≤ "
                        f"{TOPOCALC_MEDIAN_DEG}°, p99 ≤ {TOPOCALC_P99_DEG}°); numpy port = falak "
                        f"to {diff:.5f}° (asserted ≤ {PORT_TOLERANCE_DEG}°)"]  # fmt: skip
        last[:] = [ours, tc]

    agreement: list[str] = []
    last: list[Any] = []
    bench.compare(
        f"{n_az} azimuths",
        [
            Side(
                "falak horizons (numba threads)",
                lambda: horizons(dem, n_az),
                warmup=lambda: horizons(small, n_az),
            ),
            Side(
                "topocalc horizon() per azimuth",
                lambda: topocalc_horizons(heights, res, n_az),
                warmup=lambda: topocalc_horizons(small.height_m.astype(np.float64), res, n_az),
            ),
            Side(
                "numpy port of falak's method",
                lambda: numpy_port(dem, n_az),
                warmup=lambda: numpy_port(small, n_az),
            ),
        ],
        repeat=args.repeat,
        check=check,
    )
    bench.say(agreement[0])

    # accuracy against an independent march, on cells away from the edges, 4 azimuths
    ours, tc = last
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(16, n - 16, 500), rng.integers(16, n - 16, 500)
    picks = [n_az // 12, n_az // 3 + 1, 7 * n_az // 12, 5 * n_az // 6 + 1]  # off the axes
    ref = bilinear_march(heights, res, rows, cols, [k * 360.0 / n_az for k in picks])
    mine = ours[picks][:, rows, cols]
    relevant = ref > -1.0
    med, p99, mx = _abs_stats((mine - ref)[relevant])
    expect(
        med <= MARCH_MEDIAN_DEG and p99 <= MARCH_P99_DEG,
        f"falak vs bilinear march: median {med:.4f}°, p99 {p99:.3f}°, max {mx:.3f}°",
    )
    theirs = tc[picks][:, rows, cols]
    above = ref > 1.0  # topocalc clamps at 0°
    t_med, t_p99, t_mx = _abs_stats((theirs - ref)[above])
    bench.say(f"vs a bilinear numpy march (500 cells × azimuths "
              f"{', '.join(f'{k * 360 / n_az:g}°' for k in picks)}): falak median {med:.4f}°, "
              f"p99 {p99:.3f}° (both asserted), max {mx:.3f}°; topocalc (horizons > 1°) median "
              f"{t_med:.3f}°, p99 {t_p99:.2f}°, max {t_mx:.2f}° (its whole-cell skew)")  # fmt: skip

    if args.target_azimuths:
        w0, c0 = time.perf_counter(), time.process_time()
        horizons(dem, args.target_azimuths)
        bench.say(f"falak alone, {args.target_azimuths} azimuths (one run, after the above): "
                  f"{time.perf_counter() - w0:.1f} s wall, {time.process_time() - c0:.1f} s "
                  f"CPU")  # fmt: skip
    if args.dask:
        one = horizons(dem, n_az)
        w0, c0 = time.perf_counter(), time.process_time()
        tiled = horizons(dem, n_az, tile_size=n // 2)
        wall_s, cpu_s = time.perf_counter() - w0, time.process_time() - c0
        same = np.array_equal(tiled.elevation_deg, one.elevation_deg)
        expect(same, "Dask-tiled horizons differ from the single tile")
        bench.say(f"falak Dask tiles {n // 2}², {n_az} azimuths: {wall_s:.1f} s wall, "
                  f"{cpu_s:.1f} s CPU, identical to one tile (asserted)")  # fmt: skip
    bench.finish()


if __name__ == "__main__":
    main()
