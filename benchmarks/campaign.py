"""Benchmark: the CP-SAT campaign planner against a greedy list scheduler, same campaign, same run.

A generated 30-day Tiangong campaign (falak.planning.generator, seed 2026, 3 crew, real orbit
from the example CSS TLE: eclipses, contacts, passes over Pakistan) with >= 200 session
occurrences. Measured:

- time to the first solution and to the first solution at least as good as the greedy plan;
- the objective (priority-weighted science) after the time limit, the proven bound and the gap;
- the greedy baseline: occurrences by priority, each at the earliest start where a rack, the
  crew, power, downlink, transfer and windows fit (slot arrays); its plan is then verified by
  the independent checker, and occurrences the checker faults are dropped.

Every plan is checked by falak.planning.checker. CP-SAT's parallel search is not repeatable,
so numbers vary run to run. 2 workers (the machine has 2 cores).

Run: .venv/bin/python benchmarks/campaign.py [--days 30] [--experiments 80] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from falak.planning.campaign import parse_campaign
from falak.planning.checker import check_plan
from falak.planning.generator import generate_campaign
from falak.planning.greedy import greedy_plan
from falak.planning.orbit_env import build_environment
from falak.planning.solver import SolveOptions, solve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--experiments", type=int, default=80)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_campaign.md"))
    args = ap.parse_args()

    c = parse_campaign(
        generate_campaign(
            days=args.days, experiments=args.experiments, seed=args.seed, handover=False
        )
    )
    n_occ = len(c.occurrences())
    t0 = time.perf_counter()
    env = build_environment(c)
    t_env = time.perf_counter() - t0

    t0 = time.perf_counter()
    g = greedy_plan(c, env)
    t_greedy = time.perf_counter() - t0
    assert not check_plan(c, env, g)

    trace: list[tuple[float, float]] = []
    plan = solve(
        c,
        env,
        SolveOptions(time_limit_s=args.time_limit, workers=2),
        on_solution=lambda t, v: trace.append((t, v)),
    )
    viol = check_plan(c, env, plan)
    first_s = trace[0][0] if trace else float("nan")
    first_nonzero = next((t for t, v in trace if v > 0), float("nan"))
    beat_greedy = next((t for t, v in trace if v >= g.objective), float("nan"))
    max_science = sum(e.priority for e, _, _ in c.occurrences())
    crew_need_min = sum(
        (s.prep_min + s.run_min + s.stow_min + (s.sample.transfer_min if s.sample else 0)) * s.crew
        for _, s, _ in c.occurrences()
    )
    crew_have_min = len(c.crew) * c.crew_day.work_per_day_min * c.days

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
            f"{len(plan.occurrences())} occurrences",
        ),
        ("CP-SAT / greedy objective", f"{plan.objective / max(g.objective, 1):.3f}"),
        ("checker on CP-SAT plan", "valid" if not viol else f"{len(viol)} violations"),
    ]
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    md = [
        "## Campaign planner (CP-SAT vs greedy list scheduling)",
        "",
        f"`.venv/bin/python benchmarks/campaign.py --days {args.days} --experiments "
        f"{args.experiments} --seed {args.seed} --time-limit {args.time_limit:g}` on "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        "2 CP-SAT workers.",
        "",
        "| quantity | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "Targets: first valid plan < 10 s (met: the first solution is the greedy plan, given "
        "as a complete hint, and includes building the model), gap <= 2% after 60 s (NOT met). "
        "The campaign asks for more crew time than there is, so the choice of what to drop is a "
        "knapsack over fragmented work periods (4 h and 2.5 h a day, one payload specialist); "
        "CP-SAT's proven bound stays near the LP bound of the crew-time knapsack while the best "
        "plans it finds are a few per cent above greedy. Whether the gap is a weak bound or "
        "room left in the plan is not known: no exact optimum is available at this size "
        "(REFERENCES.md: no public crew-scheduling benchmark exists). Small hand-built "
        "campaigns are solved to their known optimum in tests/planning/test_solver.py. "
        "CP-SAT's parallel search is not repeatable; numbers vary between runs.",
        "",
    ]
    args.out.write_text("\n".join(md), encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
