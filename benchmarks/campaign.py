"""Benchmark: the CP-SAT campaign planner against a greedy list scheduler, same campaign, same run.

A generated 30-day Tiangong campaign (falak.planning.generator, seed 2026, 3 crew, real orbit
from the example CSS TLE: eclipses, contacts, passes over Pakistan) with >= 200 session
occurrences. Measured:

- time to the first solution and to the first solution at least as good as the greedy plan;
- the objective (priority-weighted science) after the time limit, the proven bound and the gap;
- the greedy baseline: occurrences by priority, each at the earliest start where a rack, the
  crew, power, downlink, transfer and windows fit (slot arrays); its plan is then verified by
  the independent checker, and occurrences the checker faults are dropped.

"CP-SAT" is falak.planning.solver.solve: a short whole-model phase, then window-of-days
neighbourhoods beside a whole-model search that proves the bound; ``--no-lns`` runs CP-SAT
alone on the whole model for the time limit, for comparison. Every plan is checked by
falak.planning.checker. CP-SAT's parallel search is not repeatable, so numbers vary run to
run. 2 workers (the machine has 2 cores). The greedy baseline is home-made (falak's own
``falak.planning.greedy``), not a library scheduler. The defaults are the campaign that
RESULTS_campaign.md reports (30 days, 70 experiments, seed 2026: 282 occurrences). Writes a
file only with ``--out FILE``: the table then replaces the one between the markers in FILE
(the text around it is kept), or makes a new file.

Run: .venv/bin/python benchmarks/campaign.py [--days 30] [--experiments 70] [--time-limit 60]
[--out FILE]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
from _harness import expect, load_average
from numpy.typing import NDArray

from falak.planning.campaign.checker import check_plan
from falak.planning.campaign.generator import generate_campaign
from falak.planning.campaign.greedy import greedy_plan
from falak.planning.campaign.model import Campaign, parse_campaign
from falak.planning.campaign.orbit_env import build_environment
from falak.planning.campaign.solver import SolveOptions, solve

_BEGIN = "<!-- table: written by benchmarks/campaign.py -->"
_END = "<!-- end of table -->"


def crew_knapsack(c: Campaign, *, integral: bool) -> float:
    """Return the best science of the crew-time relaxation (HiGHS via scipy.optimize.milp).

    Only crew time is kept: each crew member's tended minutes (prep, run, stow, transfer) fit
    their work minutes over the campaign, with crew counts, qualifications, repetition order
    and precedence; no clock times, no power, no racks. Its value bounds the campaign's optimum
    from above and shows how much of CP-SAT's proven bound is this knapsack alone.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    occ = c.occurrences()
    n, m = len(occ), len(c.crew)
    idx = {(e.name, s.name, k): i for i, (e, s, k) in enumerate(occ)}
    nv = n + n * m  # present p_i, then crew x_ij at n + i * m + j
    rows: list[NDArray[np.float64]] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(coefs: dict[int, float], a: float, b: float) -> None:
        r = np.zeros(nv)
        for col, v in coefs.items():
            r[col] = v
        rows.append(r)
        lo.append(a)
        hi.append(b)

    work = float(c.crew_day.work_per_day_min * c.days)
    for j in range(m):
        add(
            {
                n + i * m + j: s.prep_min
                + s.run_min
                + s.stow_min
                + (s.sample.transfer_min if s.sample else 0)
                for i, (_, s, _) in enumerate(occ)
            },
            -np.inf,
            work,
        )
    for i, (e, s, k) in enumerate(occ):
        add({i: -s.crew, **{n + i * m + j: 1.0 for j in range(m)}}, 0.0, 0.0)
        for j, p in enumerate(c.crew):
            add({n + i * m + j: 1.0, i: -1.0}, -np.inf, 0.0)
            if s.qualification is not None and s.qualification not in p.qualifications:
                add({n + i * m + j: 1.0}, 0.0, 0.0)
        refs = [idx[(e.name, s.name, k - 1)]] if k > 0 else []
        for pr in s.after:
            other = c.experiment(pr.after_experiment).session(pr.after_session)
            refs.append(idx[(pr.after_experiment, pr.after_session, min(k, other.repetitions - 1))])
        for r in refs:
            add({i: 1.0, r: -1.0}, -np.inf, 0.0)
    cost = np.zeros(nv)
    cost[:n] = [-float(e.priority) for e, _, _ in occ]
    res = milp(
        cost,
        constraints=LinearConstraint(np.array(rows), np.array(lo), np.array(hi)),
        bounds=Bounds(0.0, 1.0),
        integrality=np.full(nv, 1 if integral else 0),
        options={"time_limit": 30.0},
    )
    return float(-res.fun)


def scaling(time_limit_s: float) -> None:
    """Print, for smaller campaigns of the same generator, CP-SAT's first bound and its result.

    The bound CP-SAT holds when its first solution comes (one worker, no hint: the root LP) is
    set against what a solve with ``time_limit_s`` proves: where the optimum is proved, this
    shows how far above the optimum the root bound lies.
    """
    from falak.planning.campaign.cpmodel import build_model
    from falak.planning.campaign.solver import _params

    print("days  experiments  occurrences  knapsack LP  first bound  solve")
    for days, n_exp in ((3, 7), (6, 14), (8, 19), (10, 23)):
        c = parse_campaign(
            generate_campaign(days=days, experiments=n_exp, seed=2026, handover=False)
        )
        env = build_environment(c)
        mdl = build_model(c, env)
        first = _params(SolveOptions(time_limit_s=60, deterministic=True))
        first.parameters.stop_after_first_solution = True
        first.solve(mdl.model)
        root = first.best_objective_bound / mdl.big
        plan = solve(c, env, SolveOptions(time_limit_s=time_limit_s, workers=2))
        print(
            f"{days:4d}  {n_exp:11d}  {len(c.occurrences()):11d}  "
            f"{crew_knapsack(c, integral=False):11.1f}  {root:11.1f}  "
            f"{plan.status} {plan.objective:g} / bound {plan.bound:g}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--experiments", type=int, default=70)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=None, help="write the table to this file too")
    ap.add_argument(
        "--no-lns",
        action="store_true",
        help="CP-SAT alone for the whole time limit (no window neighbourhoods), for comparison",
    )
    ap.add_argument(
        "--scaling",
        action="store_true",
        help="instead: smaller campaigns (3-10 days), CP-SAT's first bound against its result",
    )
    args = ap.parse_args()
    if args.scaling:
        scaling(args.time_limit)
        return

    c = parse_campaign(
        generate_campaign(
            days=args.days, experiments=args.experiments, seed=args.seed, handover=False
        )
    )
    n_occ = len(c.occurrences())
    load_before = load_average()
    t0 = time.perf_counter()
    env = build_environment(c)
    t_env = time.perf_counter() - t0

    t0 = time.perf_counter()
    g = greedy_plan(c, env)
    t_greedy = time.perf_counter() - t0
    g_viol = check_plan(c, env, g)
    expect(not g_viol, f"the greedy plan breaks {len(g_viol)} rules: {g_viol[:3]}")

    trace: list[tuple[float, float]] = []
    plan = solve(
        c,
        env,
        SolveOptions(time_limit_s=args.time_limit, workers=2, lns=not args.no_lns),
        on_solution=lambda t, v: trace.append((t, v)),
    )
    viol = check_plan(c, env, plan)
    expect(not viol, f"the CP-SAT plan breaks {len(viol)} rules: {viol[:3]}")
    first_s = trace[0][0] if trace else float("nan")
    first_nonzero = next((t for t, v in trace if v > 0), float("nan"))
    beat_greedy = next((t for t, v in trace if v >= g.objective), float("nan"))
    max_science = sum(e.priority for e, _, _ in c.occurrences())
    crew_need_min = sum(
        (s.prep_min + s.run_min + s.stow_min + (s.sample.transfer_min if s.sample else 0)) * s.crew
        for _, s, _ in c.occurrences()
    )
    crew_have_min = len(c.crew) * c.crew_day.work_per_day_min * c.days
    knap_lp = crew_knapsack(c, integral=False)
    knap_ip = crew_knapsack(c, integral=True)

    rows = [
        (
            "campaign",
            f"{args.days} days, {len(c.experiments)} experiments, {n_occ} session "
            f"occurrences, {len(c.crew)} crew, {len(c.racks)} racks",
        ),
        (
            "orbit environment",
            f"{len(env.eclipses_min)} eclipses, {len(env.contacts_min)} "
            f"contact windows, {len(env.support_passes_min)} passes over "
            f"Pakistan; {t_env:.2f} s",
        ),
        ("science if everything fit", f"{max_science}"),
        (
            "crew time asked / available",
            f"{crew_need_min} / {crew_have_min} crew-min ({crew_need_min / crew_have_min:.2f})",
        ),
        (
            "greedy list scheduling",
            f"objective {g.objective:g}, {len(g.occurrences())} "
            f"occurrences, {t_greedy:.2f} s, checker: valid",
        ),
        ("CP-SAT first solution", f"{first_s:.2f} s (first non-empty {first_nonzero:.2f} s)"),
        ("CP-SAT reaches greedy objective", f"{beat_greedy:.2f} s"),
        (
            f"CP-SAT after {args.time_limit:g} s",
            f"{plan.status} objective {plan.objective:g}, "
            f"bound {plan.bound:g}, gap "
            f"{100 * plan.gap:.2f}%, "
            f"{len(plan.occurrences())} occurrences"
            + ("" if args.no_lns else f", {plan.extra.get('lns_rounds', 0)} window rounds"),
        ),
        (
            "crew-time knapsack relaxation (HiGHS)",
            f"LP {knap_lp:.1f}, integer {knap_ip:g} (upper bounds; no clock, power or racks)",
        ),
        ("CP-SAT / greedy objective", f"{plan.objective / max(g.objective, 1):.3f}"),
        ("checker on CP-SAT plan", "valid" if not viol else f"{len(viol)} violations"),
    ]
    width = max(len(r[0]) for r in rows)
    load_line = f"load average (/proc/loadavg) {load_before} -> {load_average()}"
    print(load_line)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.out is None:
        return
    table = [
        _BEGIN,
        f"`.venv/bin/python benchmarks/campaign.py --days {args.days} --experiments "
        f"{args.experiments} --seed {args.seed} --time-limit {args.time_limit:g}"
        + (" --no-lns" if args.no_lns else "")
        + f"` on {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, 2 CP-SAT workers; {load_line}.",
        "",
        "| quantity | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        _END,
    ]
    # the table of this run replaces the one between the markers; the text around it (what
    # was tried, runs by hand) is kept
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    if _BEGIN in old and _END in old:
        head, rest = old.split(_BEGIN, 1)
        text = head + "\n".join(table) + rest.split(_END, 1)[1]
    else:
        text = (
            "## Campaign planner (CP-SAT vs greedy list scheduling)\n\n" + "\n".join(table) + "\n"
        )
    args.out.write_text(text, encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
