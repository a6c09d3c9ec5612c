"""Solve a payload campaign with CP-SAT: maximise priority-weighted science, then punctuality.

The model is built by :func:`falak.planning.campaign.cpmodel.build_model` (see there for what it
holds).

Search: the greedy plan is a complete hint. In parallel mode with 10 s or more, a short phase
on the whole model turns it into a complete solution, then large-neighbourhood rounds over
windows of days (:func:`_improve_by_windows`) run beside a one-worker whole-model search that
proves the bound (:func:`_search_in_two_threads`). ``deterministic`` mode, replanning and short
runs use one CP-SAT search.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from falak.errors import PlanInfeasible
from falak.planning.campaign.cpmodel import Placement, _Model, _Occ, build_model, placements_of
from falak.planning.campaign.explain import explain
from falak.planning.campaign.model import Activity, Campaign, OccurrenceKey, Plan
from falak.planning.campaign.orbit_env import Environment

__all__ = ["SolveOptions", "solve"]


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings: time limit (s), deterministic (1 worker, fixed seed) or parallel."""

    time_limit_s: float = 30.0
    deterministic: bool = False
    workers: int = 2
    seed: int = 0
    log: bool = False
    warm_start: bool = True
    #: after a first CP-SAT phase, improve the plan by large-neighbourhood search over windows
    #: of days (parallel mode with a warm start only; see :func:`_improve_by_windows`)
    lns: bool = True


def _params(opts: SolveOptions) -> Any:
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(opts.time_limit_s)
    solver.parameters.random_seed = int(opts.seed)
    if opts.deterministic:
        solver.parameters.num_workers = 1
        solver.parameters.interleave_search = False
    else:
        solver.parameters.num_workers = max(1, int(opts.workers))
    # probing in presolve took ~20 s of wall time (0.4 deterministic units) on a 30-day,
    # 280-session campaign before any solution; without it the first plan comes in seconds
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.log_search_progress = bool(opts.log)
    return solver


def _search_in_two_threads(
    c: Campaign,
    mdl: _Model,
    first: Any,
    opts: SolveOptions,
    deadline: float,
    on_solution: Callable[[float, float], None] | None,
    t0: float,
) -> tuple[Any, str, float, int]:
    """Go on from a first solution with two searches at once until the deadline.

    One thread runs CP-SAT on the whole model (one worker, hinted with the first solution)
    until its proven bound has not moved for ``_BOUND_STALL_S`` (on the 30-day benchmark it
    goes from the root LP's 1075 to 1060 in about 8 s of one worker, then no further in 45 s);
    it may also find better plans. The calling thread runs the window neighbourhoods of
    :func:`_improve_by_windows`, with one worker while that thread runs and with all of them
    after. CP-SAT releases the GIL while it solves, so the two use both cores. Returns (solver
    holding the best solution, status name, proven bound in objective units, rounds).
    """
    import threading

    from ortools.sat.python import cp_model

    start_sol = list(first.response_proto.solution)
    bound_raw = float(first.best_objective_bound)
    whole = cp_model.CpModel()
    whole.proto.copy_from(mdl.model.proto)
    whole.proto.solution_hint.vars.clear()
    whole.proto.solution_hint.vars.extend(range(len(start_sol)))
    whole.proto.solution_hint.values.clear()
    whole.proto.solution_hint.values.extend(start_sol)
    bg = _params(SolveOptions(time_limit_s=max(0.1, deadline - time.perf_counter())))
    bg.parameters.num_workers = 1
    last_bound_s = [time.perf_counter()]

    def bound_moved(_: float) -> None:
        last_bound_s[0] = time.perf_counter()

    bg.best_bound_callback = bound_moved
    bg_status: list[Any] = []
    proved = threading.Event()

    def run_whole() -> None:
        bg_status.append(bg.solve(whole))
        if bg_status[0] == cp_model.OPTIMAL:
            proved.set()

    thread = threading.Thread(target=run_whole, daemon=True)
    thread.start()

    def whole_running() -> bool:
        if thread.is_alive() and time.perf_counter() - last_bound_s[0] > _BOUND_STALL_S:
            bg.stop_search()
            thread.join()
        return thread.is_alive()

    def improved(sol: list[int]) -> None:
        if on_solution is not None:
            sci = sum(o.exp.priority for o in mdl.occs.values() if sol[o.present.index])
            on_solution(time.perf_counter() - t0, float(sci))

    sol, obj, rounds = _improve_by_windows(
        c,
        mdl,
        start_sol,
        float(first.objective_value),
        opts,
        deadline,
        improved,
        stop=proved,
        busy=whole_running,
    )
    thread.join()
    status = bg_status[0] if bg_status else cp_model.UNKNOWN
    if status == cp_model.OPTIMAL:
        return bg, "OPTIMAL", float(bg.best_objective_bound), rounds
    if status == cp_model.FEASIBLE:
        bound_raw = min(bound_raw, float(bg.best_objective_bound))
        if bg.objective_value > obj:
            sol, obj = list(bg.response_proto.solution), float(bg.objective_value)
    if sol == start_sol:
        return first, "OPTIMAL" if obj >= bound_raw else "FEASIBLE", bound_raw, rounds
    final = _fixed_solver(mdl, sol)
    if final is None:  # cannot happen: every solution above is one of the whole model
        return first, "FEASIBLE", bound_raw, rounds
    return final, "OPTIMAL" if obj >= bound_raw else "FEASIBLE", bound_raw, rounds


#: the large-neighbourhood search runs only when CP-SAT has at least this much time (s)
_LNS_MIN_TIME_S = 10.0
#: share of the time limit given to the first, whole-model CP-SAT phase with all workers (it
#: turns the greedy hint into a complete solution), at least _LNS_PHASE1_MIN_S
_LNS_PHASE1_SHARE = 0.05
_LNS_PHASE1_MIN_S = 3.0
#: time limit of one neighbourhood (s), and how many absent occurrences are offered to it
_LNS_ROUND_S = 1.5
#: the whole-model search beside the neighbourhoods (it proves the bound) stops when its bound
#: has not moved for this long (s)
_BOUND_STALL_S = 20.0
_LNS_ABSENT = 30
_LNS_DAYS = 2  # window width, days


def _occ_var_indices(o: _Occ) -> list[int]:
    """Return the proto indices of the decisions of an occurrence (what a neighbourhood fixes)."""
    vs = [o.present, o.start, o.unatt, *o.racks.values(), *o.crew.values()]
    if o.transfer is not None:
        vs.append(o.transfer)
    if o.downlink is not None:
        vs.append(o.downlink)
    return [int(v.index) for v in vs]


def _set_domain(proto: Any, index: int, flat: list[int]) -> None:
    dom = proto.variables[index].domain
    dom.clear()
    dom.extend(flat)


def _improve_by_windows(
    c: Campaign,
    mdl: _Model,
    solution: list[int],
    objective: float,
    opts: SolveOptions,
    deadline: float,
    on_improve: Callable[[list[int]], None] | None = None,
    stop: Any = None,
    busy: Callable[[], bool] | None = None,
) -> tuple[list[int], float, int]:
    """Improve a solution by large-neighbourhood search over windows of days; return the best.

    Each round frees the occurrences that start inside a random window of one or two days and
    a random sample of the occurrences not in the plan (their starts limited to that window);
    every other occurrence keeps its presence, start, unattended length, rack, crew, transfer
    and downlink. The round's model is the whole model with those variables fixed (their
    domains reduced to one value), so each of its solutions is a solution of the whole
    campaign. It starts from the incumbent (a complete hint) and replaces it when its objective
    is higher (30 absent occurrences, drawn uniformly, per round: rounds mostly solve to
    optimality in under a second on the 30-day benchmark; letting the sample grow to 80, or
    drawing only occurrences that could join, weighted by science per crew-minute, made the
    rounds slower and the plans no better). CP-SAT's own neighbourhoods take several seconds
    each on that campaign (they free half the model).
    Stops at the deadline or when the event ``stop`` is set (optimality proved elsewhere);
    uses one worker while ``busy()`` is true (another search runs), else ``opts.workers``.
    Returns (solution, objective, rounds).
    """
    import random

    from ortools.sat.python import cp_model

    rng = random.Random(opts.seed)
    step = c.step_min
    per_day = 1440 // step
    width = max(1, min(_LNS_DAYS, c.days // 2))
    proto = mdl.model.proto
    n_vars = len(proto.variables)
    occ_vars = {key: _occ_var_indices(o) for key, o in mdl.occs.items()}
    start_dom = {
        key: cp_model.Domain.from_flat_intervals(list(proto.variables[o.start.index].domain))
        for key, o in mdl.occs.items()
    }
    rounds = 0
    while True:
        remaining = deadline - time.perf_counter()
        if remaining < 0.3 or (stop is not None and stop.is_set()):
            break
        rounds += 1
        d0 = rng.randrange(0, c.days - width + 1)
        window = cp_model.Domain(d0 * per_day, (d0 + width) * per_day - 1)
        absent = [k for k, o in mdl.occs.items() if not solution[o.present.index]]
        offered = set(rng.sample(absent, min(_LNS_ABSENT, len(absent))))
        sub = cp_model.CpModel()
        sub.proto.copy_from(proto)
        for key, o in mdl.occs.items():
            present = bool(solution[o.present.index])
            start = solution[o.start.index]
            if (present and window.contains(start)) or (not present and key in offered):
                dom = start_dom[key].intersection_with(window)
                if dom.is_empty():
                    _set_domain(sub.proto, o.present.index, [0, 0])
                else:
                    _set_domain(sub.proto, o.start.index, dom.flattened_intervals())
                continue
            for ix in occ_vars[key]:
                _set_domain(sub.proto, ix, [solution[ix], solution[ix]])
        sub.proto.solution_hint.vars.clear()
        sub.proto.solution_hint.vars.extend(range(n_vars))
        sub.proto.solution_hint.values.clear()
        sub.proto.solution_hint.values.extend(solution)
        limit = min(_LNS_ROUND_S, remaining - 0.1)
        workers = 1 if busy is not None and busy() else opts.workers
        solver = _params(SolveOptions(time_limit_s=limit, workers=workers, seed=opts.seed + rounds))
        status = solver.solve(sub)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value > objective:
            objective = float(solver.objective_value)
            solution = list(solver.response_proto.solution)
            if on_improve is not None:
                on_improve(solution)
    return solution, objective, rounds


def _fixed_solver(mdl: _Model, solution: list[int]) -> Any:
    """Return a CP-SAT solver that has solved the model with every variable fixed to solution.

    This re-checks the solution against the whole model; None if the model rejects it.
    """
    from ortools.sat.python import cp_model

    sub = cp_model.CpModel()
    sub.proto.copy_from(mdl.model.proto)
    for ix, v in enumerate(solution):
        _set_domain(sub.proto, ix, [v, v])
    sub.proto.solution_hint.vars.clear()
    sub.proto.solution_hint.values.clear()
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10.0
    status = solver.solve(sub)
    return solver if status == cp_model.OPTIMAL else None


def _extract(c: Campaign, mdl: _Model, solver: Any) -> list[Activity]:
    step = c.step_min
    v = solver.value
    acts: list[Activity] = []
    for (en, sn, k), o in mdl.occs.items():
        if not v(o.present):
            continue
        s = o.sess
        rack = next(r for r, y in o.racks.items() if v(y))
        crew = tuple(p for p, x in o.crew.items() if v(x))
        t = v(o.start) * step
        parts = [
            ("prep", s.prep_min, crew, rack),
            ("run", s.run_min, crew, rack),
            ("unattended", v(o.unatt) * step, (), rack),
            ("stow", s.stow_min, crew, rack),
        ]
        for kind, dur, who, rk in parts:
            if dur > 0:
                acts.append(Activity(en, sn, k, kind, who, rk, t, t + dur))
            t += dur
        if o.transfer is not None and s.sample is not None:
            ts = v(o.transfer) * step
            acts.append(
                Activity(en, sn, k, "sample-transfer", crew, None, ts, ts + s.sample.transfer_min)
            )
        if o.downlink is not None:
            ds = v(o.downlink) * step
            acts.append(Activity(en, sn, k, "downlink", (), None, ds, ds + o.downlink_len * step))
    return acts


def solve(
    c: Campaign,
    env: Environment,
    options: SolveOptions | None = None,
    *,
    fixed: Mapping[OccurrenceKey, Placement] | None = None,
    hints: Mapping[OccurrenceKey, Placement] | None = None,
    frozen_before: int | None = None,
    displacement_weight: int = 0,
    on_solution: Callable[[float, float], None] | None = None,
) -> Plan:
    """Solve a campaign; return the plan with status, objective, proven bound and gap.

    ``objective`` and ``bound`` are priority-weighted science (the sum of the priorities of
    the sessions done); lateness (minutes past due times) breaks ties. Raises
    :class:`~falak.errors.PlanInfeasible` (with the explanation) when the required sessions
    cannot all be placed.
    """
    from ortools.sat.python import cp_model

    opts = options or SolveOptions()
    t0 = time.perf_counter()
    use_lns = False
    if hints is None and fixed is None and opts.warm_start:
        from falak.planning.campaign.greedy import greedy_plan

        hints = placements_of(c, greedy_plan(c, env))
        use_lns = opts.lns and not opts.deterministic and opts.time_limit_s >= _LNS_MIN_TIME_S
    mdl = build_model(
        c,
        env,
        fixed=fixed,
        hints=hints,
        frozen_before=frozen_before,
        displacement_weight=displacement_weight,
    )
    solver = _params(opts)

    class _Cb(cp_model.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.first_s: float | None = None

        def on_solution_callback(self) -> None:
            now = time.perf_counter() - t0
            if self.first_s is None:
                self.first_s = now
            if on_solution is not None:
                on_solution(now, float(self.value(mdl.science)))

    cb = _Cb()
    deadline = time.perf_counter() + opts.time_limit_s
    if use_lns:
        solver.parameters.max_time_in_seconds = max(
            _LNS_PHASE1_MIN_S, _LNS_PHASE1_SHARE * opts.time_limit_s
        )
    status = solver.solve(mdl.model, cb)
    if use_lns and status == cp_model.UNKNOWN and deadline - time.perf_counter() > 0.1:
        # no solution in the first phase: the whole model gets the rest of the time, alone
        solver.parameters.max_time_in_seconds = deadline - time.perf_counter()
        status = solver.solve(mdl.model, cb)
        use_lns = False
    name = solver.status_name(status)
    bound_raw = float(solver.best_objective_bound)
    lns_rounds = 0
    if use_lns and status == cp_model.FEASIBLE:
        solver, name, bound_raw, lns_rounds = _search_in_two_threads(
            c, mdl, solver, opts, deadline, on_solution, t0
        )
    wall = time.perf_counter() - t0
    if status == cp_model.INFEASIBLE:
        conflicts = explain(c, env, fixed=fixed, frozen_before=frozen_before)
        raise PlanInfeasible("the campaign cannot be planned: " + "; ".join(conflicts), conflicts)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise PlanInfeasible(
            f"no plan found within {opts.time_limit_s:g} s (solver status {name}); "
            "raise --time-limit",
            [],
        )
    acts = _extract(c, mdl, solver)
    sci = float(solver.value(mdl.science))
    late_steps = int(solver.value(mdl.lateness)) if not isinstance(mdl.lateness, int) else 0
    bound = max(sci, float(math.ceil(bound_raw / mdl.big - 1e-9)))
    extra: dict[str, Any] = {"first_solution_s": cb.first_s}
    if use_lns:
        extra["lns_rounds"] = lns_rounds
    if mdl.displacement is not None:
        extra["displacement_steps"] = int(solver.value(mdl.displacement))
    return Plan(
        status=name,
        activities=acts,
        objective=sci,
        bound=bound,
        gap=0.0 if bound <= 0 else (bound - sci) / bound,
        lateness_min=late_steps * c.step_min,
        wall_s=wall,
        extra=extra,
    )
