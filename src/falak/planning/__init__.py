"""Planning: the station campaign planner and the rover traverse planner.

:mod:`falak.planning.campaign` plans Tiangong payload campaigns (model, CP-SAT solver,
checker, replanning); :mod:`falak.planning.traverse` plans rover drives (routes on hazard maps,
schedules in sunlight and Earth contact). The campaign planner's main names are re-exported
here.
"""

from falak.planning.campaign import (
    Campaign,
    CampaignError,
    Environment,
    Plan,
    SolveOptions,
    Violation,
    build_environment,
    check_plan,
    load_campaign,
    parse_campaign,
    solve,
)

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
