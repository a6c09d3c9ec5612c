"""Benchmark: pass prediction, falak.find_passes vs a loop of skyfield EarthSatellite.find_events.

100 LEO satellites × the 7 catalogue stations × 7 days. The satellites are the CSS example TLE
varied in inclination, node, phase, eccentricity and mean motion (seeded, realistic LEO:
360-790 km, i = 40-99°). Both sides use the same element sets and each station's own minimum
elevation; skyfield gets its builtin timescale and falak the same UT1−UTC.

Run: .venv/bin/python benchmarks/passes.py [--satellites N] [--days D] [--out FILE]
Prints a table and the speed ratio, checks the events are the same, and writes
benchmarks/RESULTS_passes.md.
"""

from __future__ import annotations

import argparse
import importlib.resources
import platform
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from skyfield.api import EarthSatellite, load, wgs84

from falak.dynamics.passes import find_passes
from falak.dynamics.stations import load_stations
from falak.dynamics.tle import Tle, read_tle_file, tle_from_elements

CSS_TLE = Path(str(importlib.resources.files("falak") / "missions" / "tiangong" / "css.tle"))


def make_satellites(n: int, seed: int = 48274) -> list[Tle]:
    """The CSS TLE plus n−1 seeded LEO variants around it."""
    css = read_tle_file(CSS_TLE)[0]
    rng = np.random.default_rng(seed)
    incl_classes = np.array([41.47, 51.64, 53.0, 63.4, 82.0, 97.5, 98.6])
    out = [css]
    for k in range(1, n):
        out.append(
            tle_from_elements(
                f"LEO-{k:03d}",
                91000 + k,
                css.epoch,
                inclination_deg=float(rng.choice(incl_classes) + rng.normal(0, 0.3)),
                raan_deg=float(rng.uniform(0, 360)),
                eccentricity=float(rng.uniform(1e-4, 8e-3)),
                arg_perigee_deg=float(rng.uniform(0, 360)),
                mean_anomaly_deg=float(rng.uniform(0, 360)),
                mean_motion_rev_per_day=float(rng.uniform(14.3, 15.7)),
                bstar=float(rng.uniform(1e-5, 3e-4)),
            )
        )
    return out


def skyfield_passes(sat, topo, ts, start, stop, min_el):  # type: ignore[no-untyped-def]
    """Run find_events; return (rises, sets, maxima) as float seconds from start, plus peak el."""
    t, events = sat.find_events(topo, ts.from_datetime(start), ts.from_datetime(stop), min_el)
    secs = (t.tt - ts.from_datetime(start).tt) * 86400.0
    return secs[events == 0], secs[events == 2], t[events == 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=100)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=3, help="timings: best of N, both sides")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_passes.md"))
    args = parser.parse_args()

    tles = make_satellites(args.satellites)
    stations = list(load_stations().values())
    start = datetime(2023, 9, 8, tzinfo=UTC)
    stop = start + timedelta(days=args.days)
    ts = load.timescale(builtin=True)  # builtin: needs no (expired) finals file
    dut1 = float(ts.from_datetime(start).dut1)

    # falak: one call for everything.
    find_passes(tles[:2], stations[:1], start, start + timedelta(hours=3))  # warm-up imports
    sats = [EarthSatellite(t.line1, t.line2, t.name, ts) for t in tles]
    topos = [wgs84.latlon(s.lat_deg, s.lon_deg, elevation_m=s.height_m) for s in stations]
    # Best of N for both sides, alternating. The machine is shared (2 cores, other jobs), so
    # the ratio uses process CPU time (all threads counted); wall-clock is shown beside it.
    t_falak = t_sky = w_falak = w_sky = float("inf")
    for _ in range(args.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        ours = find_passes(tles, stations, start, stop, ut1_minus_utc_s=dut1)
        t_falak = min(t_falak, time.process_time() - c0)
        w_falak = min(w_falak, time.perf_counter() - w0)

        # skyfield: the usual loop over satellite × station.
        w0, c0 = time.perf_counter(), time.process_time()
        ref = {}
        for i, sat in enumerate(sats):
            for j, (st, topo) in enumerate(zip(stations, topos, strict=True)):
                ref[i, j] = skyfield_passes(sat, topo, ts, start, stop, st.min_elevation_deg)
        t_sky = min(t_sky, time.process_time() - c0)
        w_sky = min(w_sky, time.perf_counter() - w0)

    # Compare events: counts of rises/sets/culminations and the largest time difference.
    idx = {t.norad: i for i, t in enumerate(tles)}
    jdx = {s.name: j for j, s in enumerate(stations)}
    mine: dict[tuple[int, int], list] = {}
    for p in ours:
        mine.setdefault((idx[p.norad], jdx[p.station]), []).append(p)
    n_rise_ref = n_set_ref = n_rise = n_set = 0
    max_dt = max_del = same_t = 0.0
    lower = np.inf
    mismatched = n_culm = 0
    for key, (r_rise, r_set, r_culm) in ref.items():
        ps = mine.get(key, [])
        # Highest elevation: skyfield's altitude at each of its culminations vs ours for the
        # pass containing it (skyfield's culmination is within ~0.5 s of the peak, so ours is
        # higher by up to el''·(0.5 s)²/2), and skyfield's altitude at our culmination instant.
        if len(r_culm):
            alt = (sats[key[0]] - topos[key[1]]).at(r_culm).altaz()[0].degrees
            t_c = (r_culm.tt - ts.from_datetime(start).tt) * 86400.0
            lo = np.array([(p.rise - start).total_seconds() for p in ps])
            k = np.searchsorted(lo, t_c, side="right") - 1
            for kk, a, tc in zip(k, alt, t_c, strict=True):
                if kk < 0 or (ps[kk].set - start).total_seconds() < tc:
                    mismatched += 1
                    continue
                max_del = max(max_del, ps[kk].max_elevation_deg - a)
                lower = min(lower, ps[kk].max_elevation_deg - a)
            ours_t = ts.from_datetimes([p.culminate for p in ps])
            ours_alt = (sats[key[0]] - topos[key[1]]).at(ours_t).altaz()[0].degrees
            same_t = max(same_t, float(np.abs(ours_alt - [p.max_elevation_deg for p in ps]).max()))
            n_culm += len(r_culm)
        rise = np.array([(p.rise - start).total_seconds() for p in ps if not p.rise_clipped])
        sets = np.array([(p.set - start).total_seconds() for p in ps if not p.set_clipped])
        n_rise_ref += len(r_rise)
        n_set_ref += len(r_set)
        n_rise += len(rise)
        n_set += len(sets)
        if len(rise) != len(r_rise) or len(sets) != len(r_set):
            mismatched += 1
            continue
        if len(rise):
            max_dt = max(max_dt, float(np.abs(rise - r_rise).max()))
        if len(sets):
            max_dt = max(max_dt, float(np.abs(sets - r_set).max()))

    ratio = t_sky / t_falak
    pairs = len(tles) * len(stations)
    rows = [
        ("falak find_passes (one call)", t_falak, w_falak, n_rise, n_set),
        ("skyfield find_events loop", t_sky, w_sky, n_rise_ref, n_set_ref),
    ]
    print(f"{len(tles)} satellites × {len(stations)} stations × {args.days:g} days ({pairs} pairs)")
    print(f"{'method':34s} {'CPU (s)':>9s} {'wall (s)':>9s} {'rises':>7s} {'sets':>7s}")
    for name, secs, wall, nr, ns in rows:
        print(f"{name:34s} {secs:9.2f} {wall:9.2f} {nr:7d} {ns:7d}")
    print(f"speed ratio skyfield/falak: {ratio:.1f}× CPU time ({w_sky / w_falak:.1f}× wall)")
    print(f"pairs with different event counts: {mismatched}; max |Δt| rise/set: {max_dt:.3f} s")
    print(
        f"{n_culm} culminations: falak max elevation − skyfield altitude at its culmination "
        f"in [{lower:.6f}, {max_del:.5f}]°; skyfield altitude at falak's culmination differs "
        f"by ≤ {same_t:.6f}°"
    )

    text = f"""## Pass prediction (`benchmarks/passes.py`)

{len(tles)} LEO satellites (the CSS TLE and seeded variants, 360-790 km, i = 40-99°) × the
{len(stations)} catalogue stations × {args.days:g} days, each station's own minimum elevation
(10° Pakistan, 5° others). Same element sets and UT1 on both sides; times are the best of
{args.repeat} alternating runs. The machine is shared (2 cores, other jobs running), so the
ratio is taken on process CPU time (all threads); wall-clock is shown for reference.

| method | CPU (s) | wall (s) | rises | sets |
|---|---:|---:|---:|---:|
| falak `find_passes` (one vectorised call) | {t_falak:.2f} | {w_falak:.2f} | {n_rise} \
| {n_set} |
| skyfield `EarthSatellite.find_events` loop ({pairs} calls) | {t_sky:.2f} | {w_sky:.2f} \
| {n_rise_ref} | {n_set_ref} |

**Speed ratio: {ratio:.1f}× faster than skyfield** in CPU time ({w_sky / w_falak:.1f}× in
wall-clock time; same run). Satellite/station pairs with a
different number of events: {mismatched}; largest rise/set time difference: {max_dt:.3f} s;
over skyfield's {n_culm} culminations, falak's maximum elevation minus skyfield's altitude at
skyfield's culmination instant lies in [{lower:.6f}, {max_del:.5f}]° (falak finds the peak
itself, skyfield stops within ~0.5 s of it; the small negative end comes from the UT1
difference below), and skyfield's altitude at falak's culmination instant equals falak's
maximum elevation to {same_t:.6f}° (falak holds UT1−UTC at its value at the start of the
window; skyfield's drifts by milliseconds over the week, a few metres of Earth rotation).
So skyfield's own maximum elevations are low by up to {max_del:.3f}° on near-zenith passes,
where the elevation peaks sharply; falak's are the peak.
(skyfield refines events until its bracket is under half a second; falak to 0.1 ms, and
`tests/dynamics/test_passes.py` checks that falak's rise/set straddle the limit within ±1 ms).

Machine: {platform.machine()}, Python {platform.python_version()}, {_cpu()}.
"""
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
