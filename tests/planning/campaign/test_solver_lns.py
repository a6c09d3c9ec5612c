"""Large-neighbourhood search of the solver: every improved plan is still a valid plan."""

from __future__ import annotations

import time

import pytest

from falak.planning.campaign.checker import check_plan, science_value
from falak.planning.campaign.cpmodel import build_model, placements_of
from falak.planning.campaign.generator import generate_campaign
from falak.planning.campaign.greedy import greedy_plan
from falak.planning.campaign.model import Plan, parse_campaign
from falak.planning.campaign.orbit_env import build_environment
from falak.planning.campaign.solver import (
    SolveOptions,
    _extract,
    _fixed_solver,
    _improve_by_windows,
    _params,
    solve,
)


def test_window_neighbourhoods_keep_the_plan_valid() -> None:
    # a tight 4-day campaign (synthetic orbit): start from the greedy plan turned into a
    # complete solution, then 2 s of window neighbourhoods
    c = parse_campaign(generate_campaign(days=4, experiments=14, seed=5, orbit=False))
    env = build_environment(c)
    g = greedy_plan(c, env)
    mdl = build_model(c, env, hints=placements_of(c, g))
    first = _params(SolveOptions(time_limit_s=2, deterministic=True))
    first.parameters.stop_after_first_solution = True
    first.solve(mdl.model)
    sol0 = list(first.response_proto.solution)
    obj0 = float(first.objective_value)
    seen: list[list[int]] = []
    sol, obj, rounds = _improve_by_windows(
        c,
        mdl,
        sol0,
        obj0,
        SolveOptions(workers=1, seed=3),
        time.perf_counter() + 2.0,
        seen.append,
    )
    assert rounds >= 1
    assert obj >= obj0
    assert (sol == sol0) == (not seen)  # the incumbent changes only through an improvement
    final = _fixed_solver(mdl, sol)
    assert final is not None  # the solution satisfies the whole model
    plan = Plan("FEASIBLE", _extract(c, mdl, final))
    assert check_plan(c, env, plan, check_objective=False) == []
    assert science_value(c, plan) >= g.objective


def test_fixed_solver_rejects_a_broken_solution() -> None:
    c = parse_campaign(generate_campaign(days=2, experiments=5, seed=11, orbit=False))
    env = build_environment(c)
    mdl = build_model(c, env)
    s = _params(SolveOptions(time_limit_s=5, deterministic=True))
    s.solve(mdl.model)
    sol = list(s.response_proto.solution)
    o = next(o for o in mdl.occs.values() if sol[o.present.index])
    sol[o.present.index] = 0  # present -> absent while its crew stay assigned
    assert _fixed_solver(mdl, sol) is None


@pytest.mark.slow
def test_parallel_solve_with_neighbourhoods_passes_the_checker() -> None:
    """The plan after the two-thread search (CP-SAT + windows, 10 s) is valid."""
    c = parse_campaign(generate_campaign(days=6, experiments=18, seed=2, orbit=False))
    env = build_environment(c)
    g = greedy_plan(c, env)
    plan = solve(c, env, SolveOptions(time_limit_s=10, workers=2))
    assert plan.status in ("OPTIMAL", "FEASIBLE")
    assert g.objective <= plan.objective <= plan.bound
    assert check_plan(c, env, plan) == []
    if plan.status == "FEASIBLE":
        assert plan.extra["lns_rounds"] >= 1
