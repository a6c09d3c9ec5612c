"""Benchmark: falak's compiled DOP853 lunar propagator against scipy's solve_ivp(DOP853).

Both integrate the same compiled force model (GRGM1200A in MOON_PA, Earth and Sun from a DE421
table) with the same tolerances, so the ratio measures the integrator loop: numba end to end
for falak, a Python loop calling the compiled right-hand side for scipy.

Run: .venv/bin/python benchmarks/lunar_orbit.py
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
from scipy.integrate import solve_ivp

from falak.dynamics.lunar_orbit import ForceModel, elements_to_state, propagate, right_hand_side

EPOCH = datetime(2028, 3, 1, tzinfo=UTC)
DAYS = 7.0
RTOL, ATOL = 1e-11, 1e-9


def best_of(n: int, fn):  # type: ignore[no-untyped-def]
    """Return (best wall time, last result) of n runs."""
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    r0, v0 = elements_to_state(1837.4, 0.01, 85.0, 10.0, 250.0, 0.0)
    print(
        f"7-day propagation of a 100 km lunar orbit, rtol {RTOL:g}, atol {ATOL:g} km, 60 s output"
    )
    print(
        f"{'force model':<28}{'falak s':>10}{'scipy s':>10}{'ratio':>8}{'steps':>9}"
        f"{'max diff m':>12}"
    )
    for degree in (8, 50):
        force = ForceModel(degree=degree)
        propagate(EPOCH, r0, v0, 3600.0, 60.0, force)  # compile and load the field once
        t_falak, tr = best_of(3, lambda f=force: propagate(EPOCH, r0, v0, DAYS * 86400, 60.0, f))
        fun = right_hand_side(EPOCH, float(tr.tdb_s[-1]), force)

        def run_scipy(fun=fun, tr=tr):  # type: ignore[no-untyped-def]
            return solve_ivp(
                fun,
                (0.0, float(tr.tdb_s[-1])),
                np.concatenate([r0, v0]),
                method="DOP853",
                rtol=RTOL,
                atol=ATOL,
                t_eval=tr.tdb_s,
            )

        t_scipy, sol = best_of(1, run_scipy)
        diff_m = 1000 * np.max(np.linalg.norm(sol.y[:3].T - tr.r_km, axis=1))
        label = f"degree {degree} + Earth + Sun"
        print(
            f"{label:<28}{t_falak:>10.3f}{t_scipy:>10.3f}{t_scipy / t_falak:>8.1f}"
            f"{tr.meta['n_steps']:>9}{diff_m:>12.3f}"
        )


if __name__ == "__main__":
    main()
