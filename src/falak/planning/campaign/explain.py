"""Explain an infeasible campaign: which rules and experiments conflict, in words.

Every rule group of the CP-SAT model (:mod:`falak.planning.campaign.cpmodel`) carries an enforcement
literal. Here they become *assumptions*; when CP-SAT proves the model infeasible,
``SufficientAssumptionsForInfeasibility`` returns a subset of them that is already infeasible
(an unsatisfiable core). That core is then shrunk by deletion: drop one rule, re-solve; if still
infeasible the rule was not needed. What is left is a minimal set of rules that cannot all hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from falak.planning.campaign.cpmodel import Placement, build_model
from falak.planning.campaign.model import Campaign, OccurrenceKey
from falak.planning.campaign.orbit_env import Environment

__all__ = ["explain", "unsat_core"]


def unsat_core(
    c: Campaign,
    env: Environment,
    *,
    fixed: Mapping[OccurrenceKey, object] | None = None,
    frozen_before: int | None = None,
    time_limit_s: float = 20.0,
    minimise: bool = True,
) -> list[str]:
    """Return the names of a (minimal, if ``minimise``) set of conflicting rule groups.

    An empty list means the campaign is feasible (or nothing was proven in time).
    """
    from ortools.sat.python import cp_model

    fx = {k: v for k, v in (fixed or {}).items() if isinstance(v, Placement)}
    mdl = build_model(c, env, explain=True, fixed=fx, frozen_before=frozen_before)
    m: Any = mdl.model
    by_index = {g.lit.Index(): g for g in mdl.groups.values()}
    m.clear_objective()

    def infeasible_with(names: list[str]) -> tuple[bool, list[str]]:
        m.clear_assumptions()
        m.add_assumptions([mdl.groups[n].lit for n in names])
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = time_limit_s
        status = solver.solve(m)
        if status != cp_model.INFEASIBLE:
            return False, []
        core = [by_index[i].name for i in solver.sufficient_assumptions_for_infeasibility()]
        return True, core

    infeasible, core = infeasible_with(list(mdl.groups))
    if not infeasible:
        return []
    if not core:
        core = list(mdl.groups)
    if minimise:
        i = 0
        while i < len(core):
            trial = core[:i] + core[i + 1 :]
            still, _ = infeasible_with(trial)
            if still:
                core = trial
            else:
                i += 1
    return core


def explain(
    c: Campaign,
    env: Environment,
    *,
    fixed: Mapping[OccurrenceKey, object] | None = None,
    frozen_before: int | None = None,
) -> list[str]:
    """Return the conflicting rules of an infeasible campaign as sentences."""
    core = unsat_core(c, env, fixed=fixed, frozen_before=frozen_before)
    if not core:
        return [
            "no conflict among the switchable rules: the structure of the sessions themselves "
            "(durations, rack choice, crew counts) cannot fit the campaign"
        ]
    groups = build_model(c, env, explain=True).groups
    return [f"{n}: {groups[n].text}" if n in groups else n for n in core]
