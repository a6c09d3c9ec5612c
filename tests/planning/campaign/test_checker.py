"""The independent checker finds each kind of broken rule in hand-edited plans."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from falak.planning.campaign.checker import check_plan
from falak.planning.campaign.model import Activity, Campaign, Plan, parse_campaign
from falak.planning.campaign.orbit_env import Environment, build_environment
from falak.planning.campaign.solver import SolveOptions, solve
from tests.planning.campaign.conftest import base_campaign, experiment, session


@pytest.fixture(scope="module")
def solved() -> tuple[Campaign, Environment, Plan]:
    data: dict[str, Any] = base_campaign(
        crew=[{"name": "A", "qualifications": ["payload-specialist"]}, {"name": "B"}],
        racks=[{"name": "R1"}, {"name": "R2"}],
        cold_storage=[{"temperature_c": 4, "volume_l": 0.5}],
        power={"sunlit_kw": 3.0, "eclipse_kw": 1.0},
        windows={"eclipses": [["2024-01-01T16:00:00Z", "2024-01-01T16:30:00Z"]]},
        experiments=[
            experiment(
                "x",
                3,
                session(
                    "s",
                    60,
                    prep_min=10,
                    stow_min=10,
                    qualification="payload-specialist",
                    power_kw=2.0,
                    sample={"temperature_c": 4, "volume_l": 0.4, "within_min": 30},
                ),
            ),
            experiment("y", 2, session("s", 30, racks=["R2"], power_kw=0.5)),
        ],
    )
    c = parse_campaign(data)
    env = build_environment(c)
    return c, env, solve(c, env, SolveOptions(time_limit_s=10, deterministic=True))


def _edit(plan: Plan, pick: str, **changes: Any) -> Plan:
    acts = [
        dataclasses.replace(a, **changes) if f"{a.experiment}:{a.kind}" == pick else a
        for a in plan.activities
    ]
    return dataclasses.replace(plan, activities=acts)


def _rules(c: Campaign, env: Environment, plan: Plan) -> set[str]:
    return {v.rule for v in check_plan(c, env, plan)}


def test_solver_plan_is_valid(solved: tuple[Campaign, Environment, Plan]) -> None:
    c, env, plan = solved
    assert plan.objective == 5
    assert check_plan(c, env, plan) == []


def test_night_work_breaks_crew_day(solved: tuple[Campaign, Environment, Plan]) -> None:
    c, env, plan = solved
    y = next(a for a in plan.activities if a.experiment == "y")
    moved = _edit(plan, "y:run", start_min=120, end_min=120 + (y.end_min - y.start_min))
    viol = check_plan(c, env, moved)
    assert [v.rule for v in viol] == ["crew day"]
    assert "is outside the work periods" in viol[0].message
    assert viol[0].occurrences == (("y", "s", 0),)


def test_broken_chain_wrong_crew_and_rack(solved: tuple[Campaign, Environment, Plan]) -> None:
    c, env, plan = solved
    run = next(a for a in plan.activities if a.experiment == "x" and a.kind == "run")
    assert "session structure" in _rules(
        c, env, _edit(plan, "x:run", start_min=run.start_min + 5, end_min=run.end_min + 5)
    )
    assert "qualification" in _rules(c, env, _edit(plan, "x:run", crew=("B",)))
    assert "rack" in _rules(c, env, _edit(plan, "y:run", rack="R1")) | _rules(
        c, env, _edit(plan, "y:run", rack="R1")
    )


def test_double_booking_power_and_cold_storage(
    solved: tuple[Campaign, Environment, Plan],
) -> None:
    c, env, plan = solved
    # a second copy of x on the other rack at the same time: crew overlap, power 4 kW > 3 kW,
    # 0.8 L in a 0.5 L store, and a repetition the session does not have
    dup = [
        dataclasses.replace(a, repetition=1, rack="R2" if a.rack else None)
        for a in plan.activities
        if a.experiment == "x"
    ]
    rules = _rules(c, env, dataclasses.replace(plan, activities=plan.activities + dup))
    assert {"crew overlap", "power", "cold storage", "repetitions"} <= rules


def test_missing_sample_transfer_and_false_objective(
    solved: tuple[Campaign, Environment, Plan],
) -> None:
    c, env, plan = solved
    acts = [a for a in plan.activities if a.kind != "sample-transfer"]
    viol = check_plan(c, env, dataclasses.replace(plan, activities=acts, objective=99.0))
    msgs = [str(v) for v in viol]
    assert "[session structure] x/s #0: expected 1 sample-transfer activity, found 0" in msgs
    assert any(m.startswith("[objective] the plan claims objective 99") for m in msgs)


def test_unknown_names() -> None:
    c = parse_campaign(base_campaign(experiments=[experiment("x", 1, session("s", 30))]))
    env = build_environment(c)
    plan = Plan("FEASIBLE", [Activity("nope", "s", 0, "run", (), None, 480, 510)])
    assert [v.rule for v in check_plan(c, env, plan)] == ["unknown"]
