"""The Tiangong payload campaign planner: model, CP-SAT solver, checker, replanning, Gantt.

Modules, from the bottom up: :mod:`~falak.planning.campaign.model` (the campaign and its YAML,
``schema.json``), :mod:`~falak.planning.campaign.orbit_env` (eclipses, contacts and passes from
the TLE), :mod:`~falak.planning.campaign.checker` (independent of the solver),
:mod:`~falak.planning.campaign.cpmodel` (the CP-SAT model), :mod:`~falak.planning.campaign.explain`
(why a campaign is infeasible), :mod:`~falak.planning.campaign.greedy`,
:mod:`~falak.planning.campaign.solver`, :mod:`~falak.planning.campaign.replan`, and beside them
:mod:`~falak.planning.campaign.generator` and :mod:`~falak.planning.campaign.gantt`.
"""

from falak.planning.campaign.checker import Violation, check_plan
from falak.planning.campaign.model import (
    Campaign,
    CampaignError,
    Plan,
    load_campaign,
    parse_campaign,
)
from falak.planning.campaign.orbit_env import Environment, build_environment
from falak.planning.campaign.replan import ReplanResult, replan
from falak.planning.campaign.solver import SolveOptions, solve

__all__ = [
    "Campaign",
    "CampaignError",
    "Environment",
    "Plan",
    "ReplanResult",
    "SolveOptions",
    "Violation",
    "build_environment",
    "check_plan",
    "load_campaign",
    "parse_campaign",
    "replan",
    "solve",
]
