"""Planning: the Tiangong payload campaign planner (model, CP-SAT solver, checker, replanning)."""

from falak.planning.campaign import Campaign, CampaignError, Plan, load_campaign, parse_campaign
from falak.planning.checker import Violation, check_plan
from falak.planning.orbit_env import Environment, build_environment
from falak.planning.solver import SolveOptions, solve

__all__ = [
    "Campaign",
    "CampaignError",
    "Environment",
    "Plan",
    "SolveOptions",
    "Violation",
    "build_environment",
    "check_plan",
    "load_campaign",
    "parse_campaign",
    "solve",
]
