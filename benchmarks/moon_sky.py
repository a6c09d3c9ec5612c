"""Benchmark: a year of Sun/Earth az/el at 1-minute steps from one lunar site, falak vs skyfield.

Both routes compute the same thing from the same kernels (DE421, moon_pa_de421_1900-2050.bpc,
moon_080317.tf) for one site on the 1737.4 km sphere, for 525,600 epochs:

* falak: ``falak.dynamics.moonsky.sky(site, datetime64 grid)`` (light time, aberration, MOON_ME
  rotation, ENU az/el, solar-disk fraction) in one vectorised call;
* skyfield: ``(moon + PlanetTopos).at(t).observe(body).apparent().altaz()`` for the Sun and the
  Earth, with the site built by ``PlanetaryConstants.build_latlon_degrees`` on the
  ``MOON_ME_DE421`` frame, also vectorised over all epochs (``Time`` built with ``ts.utc``).

Both are warmed up on the full year and timed interleaved (``_harness``); the two must agree
within :data:`TOLERANCE_DEG` in elevation and azimuth·cos(el) and :data:`TOLERANCE_KM` in
distance at every epoch, or the script fails.

Run: ``.venv/bin/python benchmarks/moon_sky.py [--epochs N] [--repeat R] [--out FILE]``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from _harness import Bench, Side, expect

from falak.dynamics import moonframes
from falak.dynamics.moonsky import MoonSite, sky

LAT_DEG, LON_DEG = -88.74, 124.5  # Bussey et al. 2010 best-lit point (REFERENCES.md)
#: Largest accepted differences: 1 mas in angle (falak leaves out gravitational deflection,
#: which skyfield includes, ≤ 0.5 mas here; the rest is round-off), 1 m in distance.
TOLERANCE_DEG = 1.0 / 3.6e6
TOLERANCE_KM = 1e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=525_600, help="1-minute steps from 2028")
    Bench.arguments(parser)
    args = parser.parse_args()
    bench = Bench(
        f"moon_sky: {args.epochs:,} epochs (1-minute steps from 2028-01-01), site "
        f"{LAT_DEG}°, {LON_DEG}°E, Sun and Earth",
        args.out,
    )
    grid = np.datetime64("2028-01-01T00:00", "ns") + np.arange(args.epochs) * np.timedelta64(
        60, "s"
    )
    site = MoonSite(LAT_DEG, LON_DEG)

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

    worst: dict[str, tuple[float, float, float]] = {}

    def check(r: dict[str, Any]) -> None:
        ours, theirs = r["falak moonsky.sky"], r["skyfield observe/apparent/altaz"]
        for name in ("sun", "earth"):
            az_sf, el_sf, dist_sf = theirs[name]
            az = getattr(ours, f"{name}_azimuth_deg")
            el = getattr(ours, f"{name}_elevation_deg")
            dist = getattr(ours, f"{name}_distance_km")
            d_el = float(np.abs(el - el_sf).max())
            d_az = float(
                np.abs(((az - az_sf + 180.0) % 360.0 - 180.0) * np.cos(np.radians(el))).max()
            )
            d_dist = float(np.abs(dist - dist_sf).max())
            expect(
                max(d_el, d_az) <= TOLERANCE_DEG and d_dist <= TOLERANCE_KM,
                f"{name}: falak and skyfield differ by {d_el:.2e}° el, {d_az:.2e}° az·cos el, "
                f"{d_dist:.2e} km",
            )
            worst[name] = (d_el, d_az, d_dist)

    bench.compare(
        f"{args.epochs:,} epochs, Sun + Earth",
        [
            Side("falak moonsky.sky", lambda: sky(site, grid)),
            Side("skyfield observe/apparent/altaz", skyfield_route),
        ],
        repeat=args.repeat,
        check=check,
    )
    bench.say(f"largest differences (asserted ≤ {TOLERANCE_DEG:.1e}° and ≤ {TOLERANCE_KM:g} km):")
    for name, (d_el, d_az, d_dist) in worst.items():
        bench.say(f"  {name:<6} el {d_el:.2e}°, az·cos el {d_az:.2e}°, distance {d_dist:.2e} km")
    bench.finish()


if __name__ == "__main__":
    main()
