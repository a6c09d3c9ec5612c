"""The crew day is in UTC even when a campaign does not start at midnight.

Helper D found (issue 13's demo) that the planner counted the crew's work periods from the
campaign start: a campaign starting at 08:00 UTC had its crew at work from 16:00 UTC. Work
periods are UTC times of day (CrewDay, REFERENCES.md "Station operations"), so a campaign
starting at 08:00 has its first work period at minutes 0..240 and its second at 450..600.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from falak.planning.campaign.checker import check_plan
from falak.planning.campaign.greedy import greedy_plan
from falak.planning.campaign.model import Campaign, parse_campaign
from falak.planning.campaign.orbit_env import build_environment
from falak.planning.campaign.solver import SolveOptions, solve
from tests.planning.campaign.conftest import base_campaign, experiment, session


def _campaign(start: str) -> Campaign:
    data: dict[str, Any] = base_campaign(
        start=start,
        experiments=[
            experiment("A", 5, session("s", 180)),
            experiment("B", 4, session("s", 120, racks=["R1"])),
        ],
    )
    return parse_campaign(data)


def _utc_hours(c: Campaign, minute: float) -> float:
    t = c.to_datetime(minute).astimezone(dt.UTC)
    return t.hour + t.minute / 60


def test_work_periods_are_utc_times_of_day() -> None:
    c = _campaign("2024-01-01T08:00:00Z")
    # default work 08:00-12:00 and 15:30-18:00 UTC; the campaign runs 08:00 -> 08:00 next day
    assert c.work_periods_min() == [(0, 240), (450, 600)]
    assert _campaign("2024-01-01T00:00:00Z").work_periods_min() == [(480, 720), (930, 1080)]
    # a start inside a period keeps the rest of it; the next day's morning is cut by the end
    assert _campaign("2024-01-01T09:10:00Z").work_periods_min() == [
        (0, 170),
        (380, 530),
        (1370, 1440),
    ]


@pytest.mark.parametrize("planner", ["solver", "greedy"])
def test_plans_put_crew_work_in_utc_work_hours(planner: str) -> None:
    c = _campaign("2024-01-01T08:00:00Z")
    env = build_environment(c)
    if planner == "solver":
        plan = solve(c, env, SolveOptions(time_limit_s=10, deterministic=True))
    else:
        plan = greedy_plan(c, env)
    assert check_plan(c, env, plan) == []
    crew_acts = [a for a in plan.activities if a.crew]
    assert crew_acts, "the plan schedules crew work"
    for a in crew_acts:
        h0, h1 = _utc_hours(c, a.start_min), _utc_hours(c, a.end_min)
        assert (8 <= h0 < 12 and h1 <= 12) or (15.5 <= h0 < 18 and h1 <= 18), (a, h0, h1)


def test_the_checker_reads_work_periods_in_utc() -> None:
    c = _campaign("2024-01-01T08:00:00Z")
    env = build_environment(c)
    plan = solve(c, env, SolveOptions(time_limit_s=10, deterministic=True))
    run = next(a for a in plan.activities if a.crew and a.kind == "run")
    # 16:00-17:00 UTC is crew work time: minute 480 after an 08:00 start
    import dataclasses

    moved_ok = dataclasses.replace(
        plan,
        activities=[
            dataclasses.replace(a, start_min=480, end_min=480 + 60) if a is run else a
            for a in plan.activities
        ],
    )
    assert "crew day" not in {v.rule for v in check_plan(c, env, moved_ok)}
    # 12:30 UTC (minute 270) is the meal: outside the work periods
    moved_bad = dataclasses.replace(
        plan,
        activities=[
            dataclasses.replace(a, start_min=270, end_min=270 + 60) if a is run else a
            for a in plan.activities
        ],
    )
    assert "crew day" in {v.rule for v in check_plan(c, env, moved_bad)}
