"""Benchmark: pass prediction, falak.find_passes vs a loop of skyfield EarthSatellite.find_events.

100 LEO satellites × the 7 catalogue stations × 7 days. The satellites are the CSS example TLE
varied in inclination, node, phase, eccentricity and mean motion (seeded, realistic LEO:
360-790 km, i = 40-99°). Both sides use the same element sets and each station's own minimum
elevation; skyfield gets its builtin timescale and falak the same UT1−UTC.

Both sides get the same small warm-up, then are timed interleaved (``_harness``: wall and
process CPU time); the events must agree (same counts per pair, rise/set within
:data:`MAX_DT_S`, maximum elevations as described at :data:`PEAK_RANGE_DEG`) or the script
fails.

Run: ``.venv/bin/python benchmarks/passes.py [--satellites N] [--days D] [--repeat 3]
[--out FILE]`` (writes a file only with ``--out``; RESULTS_passes.md is kept by hand).
"""

from __future__ import annotations

import argparse
import importlib.resources
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from _harness import Bench, Side, expect
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


#: Accepted differences: rise/set times (s; skyfield stops refining when its bracket is under
#: 0.5 s), falak's peak minus skyfield's altitude at skyfield's culmination (deg; skyfield stops
#: within ~0.5 s of the peak, low by up to ~0.06° on near-zenith passes; the small negative end
#: is UT1 drift), skyfield's altitude at falak's culmination vs falak's (deg; UT1 drift).
MAX_DT_S = 1.0
PEAK_RANGE_DEG = (-1e-3, 0.1)
SAME_INSTANT_DEG = 1e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=100)
    parser.add_argument("--days", type=float, default=7.0)
    Bench.arguments(parser)
    args = parser.parse_args()

    tles = make_satellites(args.satellites)
    stations = list(load_stations().values())
    start = datetime(2023, 9, 8, tzinfo=UTC)
    stop = start + timedelta(days=args.days)
    ts = load.timescale(builtin=True)  # builtin: needs no (expired) finals file
    dut1 = float(ts.from_datetime(start).dut1)
    pairs = len(tles) * len(stations)
    bench = Bench(
        f"passes: {len(tles)} satellites × {len(stations)} stations × {args.days:g} days "
        f"({pairs} pairs), each station's own minimum elevation",
        args.out,
    )
    sats = [EarthSatellite(t.line1, t.line2, t.name, ts) for t in tles]
    topos = [wgs84.latlon(s.lat_deg, s.lon_deg, elevation_m=s.height_m) for s in stations]

    def run_falak(n_sat: int = len(tles), n_st: int = len(stations), until=stop):  # type: ignore[no-untyped-def]
        return find_passes(tles[:n_sat], stations[:n_st], start, until, ut1_minus_utc_s=dut1)

    def run_skyfield(n_sat: int = len(tles), n_st: int = len(stations), until=stop):  # type: ignore[no-untyped-def]
        # the usual loop over satellite × station
        return {
            (i, j): skyfield_passes(sat, topo, ts, start, until, st.min_elevation_deg)
            for i, sat in enumerate(sats[:n_sat])
            for j, (st, topo) in enumerate(zip(stations[:n_st], topos[:n_st], strict=True))
        }

    summary: dict[str, object] = {}
    short = start + timedelta(hours=3)

    def check(r: dict[str, object]) -> None:
        ours, ref = r["falak find_passes (one call)"], r["skyfield find_events loop"]
        summary.update(compare_events(ours, ref, tles, stations, sats, topos, ts, start))

    bench.compare(
        f"{pairs} pairs",
        [
            # warm-up: the same code on 2 satellites × 1 station × 3 hours, both sides
            Side("falak find_passes (one call)", run_falak, lambda: run_falak(2, 1, short)),
            Side("skyfield find_events loop", run_skyfield, lambda: run_skyfield(2, 1, short)),
        ],
        repeat=args.repeat,
        check=check,
    )
    bench.say(
        f"rises {summary['n_rise']} (skyfield {summary['n_rise_ref']}), sets {summary['n_set']} "
        f"(skyfield {summary['n_set_ref']}); pairs with different event counts: "
        f"{summary['mismatched']} (asserted 0); max |Δt| rise/set {summary['max_dt']:.3f} s "
        f"(asserted ≤ {MAX_DT_S:g} s)"
    )
    bench.say(
        f"{summary['n_culm']} culminations: falak max elevation − skyfield altitude at its "
        f"culmination in [{summary['lower']:.6f}, {summary['max_del']:.5f}]° (asserted within "
        f"{PEAK_RANGE_DEG}); skyfield altitude at falak's culmination differs by "
        f"≤ {summary['same_t']:.6f}° (asserted ≤ {SAME_INSTANT_DEG:g}°)"
    )
    bench.finish()


def compare_events(ours, ref, tles, stations, sats, topos, ts, start) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Compare falak's passes with skyfield's events; raise if they differ beyond the limits."""
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
    expect(mismatched == 0, f"{mismatched} satellite/station pairs have different events")
    expect(max_dt <= MAX_DT_S, f"rise/set times differ by up to {max_dt:.3f} s")
    expect(
        n_culm == 0 or (PEAK_RANGE_DEG[0] <= lower and max_del <= PEAK_RANGE_DEG[1]),
        f"maximum elevations differ: [{lower:.6f}, {max_del:.5f}]°",
    )
    expect(same_t <= SAME_INSTANT_DEG, f"altitudes at falak's culminations differ by {same_t}°")
    return {
        "n_rise": n_rise, "n_set": n_set, "n_rise_ref": n_rise_ref, "n_set_ref": n_set_ref,
        "mismatched": mismatched, "max_dt": max_dt, "lower": lower, "max_del": max_del,
        "same_t": same_t, "n_culm": n_culm,
    }  # fmt: skip


if __name__ == "__main__":
    main()
