"""Replanning keeps every untouched, still-valid occurrence in place; the result is valid."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from falak.errors import InputError
from falak.planning.campaign.checker import check_plan
from falak.planning.campaign.cpmodel import placements_of
from falak.planning.campaign.generator import generate_campaign
from falak.planning.campaign.model import Campaign, Plan, parse_campaign
from falak.planning.campaign.orbit_env import Environment, build_environment
from falak.planning.campaign.replan import replan
from falak.planning.campaign.solver import SolveOptions, solve


@pytest.fixture(scope="module")
def planned() -> tuple[Campaign, Environment, Plan]:
    c = parse_campaign(generate_campaign(days=3, experiments=8, seed=4, orbit=False))
    env = build_environment(c)
    return c, env, solve(c, env, SolveOptions(time_limit_s=5, deterministic=True))


def _busiest(plan: Plan, attr: str) -> str:
    counts: dict[str, int] = {}
    for a in plan.activities:
        for v in a.crew if attr == "crew" else [a.rack] if a.rack else []:
            counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda k: counts[k])


def _events(c: Campaign, plan: Plan) -> list[dict[str, Any]]:
    later = sorted(
        (a for a in plan.activities if a.kind == "run" and a.start_min >= 1440),
        key=lambda a: a.start_min,
    )
    return [
        {
            "type": "rack-down",
            "rack": _busiest(plan, "rack"),
            "start": "2023-09-09T00:00:00Z",
            "end": "2023-09-10T00:00:00Z",
        },
        {
            "type": "crew-unavailable",
            "crew": _busiest(plan, "crew"),
            "start": "2023-09-09T00:00:00Z",
        },
        {
            "type": "cold-storage-outage",
            "temperature_c": -80,
            "start": "2023-09-09T00:00:00Z",
            "end": "2023-09-11T00:00:00Z",
        },
        {
            "type": "session-failed",
            "experiment": later[0].experiment,
            "session": later[0].session,
            "repetition": later[0].repetition,
        },
    ]


@pytest.mark.parametrize("which", range(4))
def test_replan_keeps_untouched_and_is_valid(
    planned: tuple[Campaign, Environment, Plan], which: int
) -> None:
    c, env, plan = planned
    event = _events(c, plan)[which]
    now = c.start + dt.timedelta(days=1)
    result = replan(c, env, plan, now, event, time_limit_s=5, deterministic=True)
    assert check_plan(result.campaign, env, result.plan) == []
    old = placements_of(c, plan)
    new = placements_of(result.campaign, result.plan)
    # everything that started before now is unchanged (frozen), unless the event aborted it
    for k, p in old.items():
        if p.start * c.step_min < 24 * 60 and k in new and event["type"] != "session-failed":
            assert new[k] == p
    # an occurrence the old plan had and the event does not touch stays exactly in place
    touched = {
        tuple(x.split(" moved ")[0].rsplit(" #", 1)) for x in result.changes if " moved " in x
    }
    if event["type"] != "session-failed":
        for k, p in old.items():
            label = (f"{k[0]}/{k[1]}", str(k[2]))  # labels count from 0
            if label not in touched and k in new:
                assert new[k] == p
        assert result.kept + result.moved + result.dropped == len(old)
    assert result.changes


def test_rack_down_moves_everything_off_the_rack(
    planned: tuple[Campaign, Environment, Plan],
) -> None:
    c, env, plan = planned
    rack = _busiest(plan, "rack")
    event = {
        "type": "rack-down",
        "rack": rack,
        "start": "2023-09-09T00:00:00Z",
        "end": "2023-09-11T00:00:00Z",
    }
    result = replan(
        c, env, plan, c.start + dt.timedelta(days=1), event, time_limit_s=5, deterministic=True
    )
    assert not [a for a in result.plan.activities if a.rack == rack and a.end_min > 1440]


def test_bad_event_is_refused(planned: tuple[Campaign, Environment, Plan]) -> None:
    c, env, plan = planned
    with pytest.raises(InputError, match="type one of session-failed, rack-down"):
        replan(c, env, plan, c.start, {"type": "meteor"})
    with pytest.raises(InputError, match="rack-down: unknown rack 'R99'"):
        replan(
            c,
            env,
            plan,
            c.start,
            {
                "type": "rack-down",
                "rack": "R99",
                "start": "2023-09-09T00:00:00Z",
                "end": "2023-09-10T00:00:00Z",
            },
        )


def test_in_progress_session_hit_by_event_is_aborted() -> None:
    from tests.planning.campaign.conftest import base_campaign, experiment, session

    # one crew member; the session runs 08:00-09:00, then waits >= 60 min, then needs 10 min of
    # stow, all inside 08:00-12:00. At 09:30 the crew member falls ill for a day: the stow
    # cannot happen, the session (already under way) is aborted and kept as history.
    data = base_campaign(
        experiments=[
            experiment(
                "cells",
                5,
                session(
                    "s",
                    60,
                    unattended_min=60,
                    unattended_max_min=120,
                    stow_min=10,
                    window=["2024-01-01T08:00:00Z", "2024-01-01T12:00:00Z"],
                ),
            )
        ]
    )
    c = parse_campaign(data)
    env = build_environment(c)
    plan = solve(c, env, SolveOptions(time_limit_s=5, deterministic=True))
    assert plan.objective == 5
    now = c.start + dt.timedelta(hours=9, minutes=30)
    event = {"type": "crew-unavailable", "crew": "Ayesha", "start": "2024-01-01T09:30:00Z"}
    result = replan(c, env, plan, now, event, time_limit_s=5, deterministic=True)
    assert "cells/s #0 was in progress and is aborted by the event" in result.changes
    assert [h["kind"] for h in result.plan.extra["history"]] == ["run", "unattended", "stow"]
    assert result.plan.activities == []
    assert check_plan(result.campaign, env, result.plan) == []


EXAMPLE = "src/falak/missions/tiangong/example_campaign.yaml"


@pytest.fixture(scope="module")
def example() -> tuple[Campaign, Environment, Plan]:
    """The example campaign of docs/station.md, planned as there (deterministic)."""
    from falak.planning.campaign.model import load_campaign

    c = load_campaign(EXAMPLE)
    env = build_environment(c)
    return c, env, solve(c, env, SolveOptions(time_limit_s=20, deterministic=True))


def test_work_done_before_now_is_frozen_after_a_session_failure(
    example: tuple[Campaign, Environment, Plan],
) -> None:
    """docs/station.md §5: rice-growth/inspect #0 fails; --now is two days after it all ended.

    Before the fix the finished inspections and the harvest were called "in progress", aborted
    and moved days later, and the messages counted from 1 against a 0-based event file.
    """
    c, env, plan = example
    now = dt.datetime(2023, 9, 10, 9, 0, tzinfo=dt.UTC)
    rice = [a for a in plan.activities if a.experiment == "rice-growth"]
    assert max(a.end_min for a in rice) <= c.to_minute(now) - 24 * 60  # all done 1+ day before
    assert {a.key[1:] for a in rice} == {("inspect", 0), ("inspect", 1), ("inspect", 2),
                                         ("harvest", 0)}  # fmt: skip
    event = {"type": "session-failed", "experiment": "rice-growth", "session": "inspect",
             "repetition": 0}  # fmt: skip
    result = replan(c, env, plan, now, event, time_limit_s=10, deterministic=True)
    assert result.changes[0].startswith("rice-growth/inspect #0 failed: it moves to the history")
    assert not [x for x in result.changes if "in progress" in x or " moved " in x]
    # every done activity but the failed one's is exactly where it was, renumbered down by one
    expected = sorted(
        (a.session, a.repetition - (a.session == "inspect"), a.kind, a.start_min, a.end_min,
         a.rack, a.crew)
        for a in rice
        if a.key != ("rice-growth", "inspect", 0)
    )  # fmt: skip
    new = sorted(
        (a.session, a.repetition, a.kind, a.start_min, a.end_min, a.rack, a.crew)
        for a in result.plan.activities
        if a.experiment == "rice-growth" and a.start_min < c.to_minute(now)
    )
    assert new == expected
    # the repeat is the last repetition, after now
    assert any(x.startswith("rice-growth/inspect #2 added at 2023-09-1") for x in result.changes)
    repeat = [a for a in result.plan.activities if a.key == ("rice-growth", "inspect", 2)]
    assert repeat
    assert min(a.start_min for a in repeat) >= c.to_minute(now)
    # the harvest was done after the inspection that failed: history, reported, not repaired
    assert [str(v) for v in result.past] == [
        "[precedence] rice-growth/harvest #0 starts -150 min after rice-growth/inspect #0 ends; "
        "allowed 0-inf min"
    ]
    assert check_plan(result.campaign, env, result.plan) == result.past
    assert [h["repetition"] for h in result.plan.extra["history"]] == [0, 0, 0, 0]


def test_session_failed_repetition_out_of_range_or_unplanned(
    example: tuple[Campaign, Environment, Plan],
) -> None:
    c, env, plan = example
    ev = {"type": "session-failed", "experiment": "rice-growth", "session": "inspect"}
    for bad in (3, -1, "1", 1.0, True):
        with pytest.raises(
            InputError,
            match=rf"^session-failed: repetition {re.escape(repr(bad))} is out of range: "
            r"rice-growth/inspect has repetitions 0\.\.2 \(they count from 0, as in plan files\)$",
        ):
            replan(c, env, plan, c.start, {**ev, "repetition": bad})
    first_only = [
        a
        for a in plan.activities
        if (a.experiment, a.session) != ("rice-growth", "inspect") or a.repetition == 0
    ]
    unplanned = Plan(plan.status, first_only)
    with pytest.raises(
        InputError,
        match=r"^session-failed: rice-growth/inspect #1 is not in the plan \(planned "
        r"repetitions: 0; they count from 0\)$",
    ):
        replan(c, env, unplanned, c.start, {**ev, "repetition": 1})
