"""Benchmark: a year of Sun/Earth az/el at 1-minute steps from one lunar site, falak vs skyfield.

Both routes compute the same thing from the same kernels (DE421, moon_pa_de421_1900-2050.bpc,
moon_080317.tf) for one site on the 1737.4 km sphere, for 525,600 epochs:

* falak: ``falak.dynamics.moonsky.sky(site, datetime64 grid)`` (light time, aberration, MOON_ME
  rotation, ENU az/el, solar-disk fraction) in one vectorised call;
* skyfield: ``(moon + PlanetTopos).at(t).observe(body).apparent().altaz()`` for the Sun and the
  Earth, with the site built by ``PlanetaryConstants.build_latlon_degrees`` on the
  ``MOON_ME_DE421`` frame, also vectorised over all epochs (``Time`` built with ``ts.utc``).

Run: ``.venv/bin/python benchmarks/moon_sky.py [--epochs N] [--repeat R]``. Prints a table with
the wall times, the ratio and the largest differences (degrees) between the two routes.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from falak.dynamics import moonframes
from falak.dynamics.moonsky import MoonSite, sky

LAT_DEG, LON_DEG = -88.74, 124.5  # Bussey et al. 2010 best-lit point (REFERENCES.md)


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """Return the best wall time of ``repeat`` runs and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=525_600, help="1-minute steps from 2028")
    parser.add_argument("--repeat", type=int, default=3, help="runs per route; best is kept")
    args = parser.parse_args()

    grid = np.datetime64("2028-01-01T00:00", "ns") + np.arange(args.epochs) * np.timedelta64(
        60, "s"
    )
    site = MoonSite(LAT_DEG, LON_DEG)
    sky(site, grid[:10])  # load numba's cached code and the kernels outside the timing

    falak_s, ours = best_of(args.repeat, lambda: sky(site, grid))

    ts = moonframes.timescale()
    eph = moonframes.ephemeris()
    pc = moonframes.planetary_constants()
    frame = pc.build_frame_named("MOON_ME_DE421")
    observer = eph["moon"] + pc.build_latlon_degrees(frame, LAT_DEG, LON_DEG)
    earth, sun = eph["earth"], eph["sun"]

    def skyfield_route() -> dict[str, Any]:
        ns = grid.astype(np.int64)
        days, rest = np.divmod(ns, 86_400 * 10**9)
        t = ts.utc(1970, 1, 1 + days, 0, 0, rest * 1e-9)
        at = observer.at(t)
        out = {}
        for name, body in (("sun", sun), ("earth", earth)):
            alt, az, distance = at.observe(body).apparent().altaz()
            out[name] = (az.degrees, alt.degrees, distance.km)
        return out

    skyfield_s, theirs = best_of(args.repeat, skyfield_route)

    print(
        f"moon_sky: {args.epochs:,} epochs (1-minute steps from 2028-01-01), site {LAT_DEG}°, "
        f"{LON_DEG}°E; {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, best of {args.repeat}"
    )
    print()
    print(f"{'route':<42} {'wall s':>8} {'epochs/s':>12}")
    print(
        f"{'falak moonsky.sky (Sun + Earth, numba)':<42} {falak_s:8.3f} "
        f"{args.epochs / falak_s:12,.0f}"
    )
    print(
        f"{'skyfield observe/apparent/altaz (Sun+Earth)':<42} {skyfield_s:8.3f} "
        f"{args.epochs / skyfield_s:12,.0f}"
    )
    print(f"ratio skyfield / falak: {skyfield_s / falak_s:.1f}x")
    print()
    print(f"{'body':<6} {'max |Δel| deg':>14} {'max |Δaz·cos el| deg':>21} {'max |Δdist| km':>15}")
    for name in ("sun", "earth"):
        az_sf, el_sf, dist_sf = theirs[name]
        az = getattr(ours, f"{name}_azimuth_deg")
        el = getattr(ours, f"{name}_elevation_deg")
        dist = getattr(ours, f"{name}_distance_km")
        d_el = np.abs(el - el_sf).max()
        d_az = np.abs(((az - az_sf + 180.0) % 360.0 - 180.0) * np.cos(np.radians(el))).max()
        d_dist = np.abs(dist - dist_sf).max()
        print(f"{name:<6} {d_el:14.2e} {d_az:21.2e} {d_dist:15.2e}")


if __name__ == "__main__":
    main()
