"""Campaign ``commands:`` mappings and the stack a plan becomes (planning.campaign.commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from falak.commanding.stack import parse_stack
from falak.errors import InputError
from falak.mdb import load
from falak.mdb.model import Significance
from falak.planning.campaign.checker import check_plan
from falak.planning.campaign.commands import plan_stack, stack_name, stack_yaml
from falak.planning.campaign.generator import DISCIPLINE_COMMANDS, generate_campaign
from falak.planning.campaign.greedy import greedy_plan
from falak.planning.campaign.model import (
    Activity,
    CampaignError,
    CommandSpec,
    Plan,
    load_campaign,
    parse_campaign,
)
from falak.planning.campaign.orbit_env import build_environment
from falak.utctime import format_ns, parse_ns
from tests.planning.campaign.conftest import base_campaign, experiment, session

ROOT = Path(__file__).parents[3]
TIANGONG_MDB = ROOT / "src/falak/missions/tiangong/mdb.yaml"
EXAMPLE = ROOT / "src/falak/missions/tiangong/example_campaign.yaml"

FURNACE = {
    "configure": [{"command": "FURN_CONFIGURE", "args": {"SOAK_MIN": "{unattended_min}"}}],
    "start": [{"command": "FURN_START", "args": {"PROFILE": "ISOTHERMAL"}}],
    "stop": [{"command": "FURN_STOP", "offset_s": -60}],
}


def _load(tmp_path: Path, mapping: Any, **session_kw: Any) -> Any:
    data = base_campaign(
        experiments=[
            experiment(
                "melt",
                1,
                session("s", 60, prep_min=10, unattended_min=30, stow_min=10, **session_kw),
                commands=mapping,
            )
        ]
    )
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_campaign(p), p


def _error(tmp_path: Path, mapping: Any, **session_kw: Any) -> CampaignError:
    with pytest.raises(CampaignError) as info:
        _load(tmp_path, mapping, **session_kw)
    return info.value


def test_mapping_is_read() -> None:
    c = parse_campaign(base_campaign(experiments=[experiment("melt", 1, session("s", 60))]))
    assert c.experiments[0].commands is None  # no mapping: not commanded
    c = parse_campaign(
        base_campaign(experiments=[experiment("melt", 1, session("s", 60), commands=FURNACE)])
    )
    m = c.experiments[0].commands
    assert m is not None
    assert m.configure == (CommandSpec("FURN_CONFIGURE", {"SOAK_MIN": "{unattended_min}"}),)
    assert m.stop[0].offset_s == -60.0
    assert [p for p, _ in m.phases()] == ["configure", "start", "stop"]


def test_unknown_field_names_experiment_field_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, {"start": [{"command": "FURN_START", "argz": {}}]})
    assert err.experiment == "melt"
    assert err.rule == "commands"
    assert (
        "experiment 'melt': commands.start[1]: unknown field 'argz'; fields: command, args, "
        in (str(err))
    )
    assert err.line is not None
    line = Path(err.file or "").read_text().splitlines()[err.line - 1]
    assert "command: FURN_START" in line


def test_unknown_phase(tmp_path: Path) -> None:
    err = _error(tmp_path, {"begin": [{"command": "FURN_START"}]})
    assert "experiment 'melt': commands: unknown phase 'begin'; phases: configure, start, stop" in (
        str(err)
    )


@pytest.mark.parametrize(
    ("commands", "message"),
    [
        ({"start": [{"args": {}}]}, "commands.start[1] has no command; add 'command: NAME'"),
        ({"start": "FURN_START"}, "commands.start must be a list of {command: NAME"),
        ({"stop": [{"command": "X", "offset_s": "soon"}]}, "offset_s must be a number of seconds"),
        (
            {"stop": [{"command": "X", "on_failure": "pause"}]},
            "on_failure must be stop or continue",
        ),
        ({"stop": [{"command": "X", "args": [1]}]}, "args must be a mapping NAME: VALUE"),
        (
            {"configure": [{"command": "FURN_CONFIGURE", "args": {"SOAK_MIN": "{soak}"}}]},
            "commands.configure[1]: args.SOAK_MIN = '{soak}' names no session field; fields: "
            "prep_min, run_min, unattended_min",
        ),
        (["FURN_START"], "commands must be a mapping of phases (configure, start, stop)"),
    ],
)
def test_bad_mapping(tmp_path: Path, commands: Any, message: str) -> None:
    err = _error(tmp_path, commands)
    assert err.experiment == "melt"
    assert message in str(err)


def test_session_mapping_error_names_the_session(tmp_path: Path) -> None:
    err = _error(tmp_path, None, commands={"stop": [{"command": "X", "verfy": "complete"}]})
    assert "experiment 'melt' session 's': commands.stop[1]: unknown field 'verfy'" in str(err)


def _plan(c: Any, *acts: tuple[str, int, int]) -> Plan:
    return Plan(
        "FEASIBLE",
        [Activity("melt", "s", 0, kind, ("Ayesha",), "R1", a, b) for kind, a, b in acts],
    )


def test_release_times_from_the_plan(tmp_path: Path) -> None:
    c, _ = _load(tmp_path, FURNACE)
    # prep 08:00-08:10, run 08:10-09:10, unattended 09:10-10:00 (50 min planned), stow -10:10
    plan = _plan(c, ("prep", 480, 490), ("run", 490, 550), ("unattended", 550, 600),
                 ("stow", 600, 610))  # fmt: skip
    doc, summary = plan_stack(c, plan, spacecraft="TIANGONG")
    assert doc["stack"] == "hand-built" == stack_name(c)
    assert doc["on_failure"] == "continue"
    assert doc["steps"] == [
        {
            "command": "FURN_CONFIGURE",
            "arguments": {"SOAK_MIN": 50},  # the planned unattended minutes
            "at": "2024-01-01T08:00:00Z",
            "comment": "melt/s #0 configure (R1)",
        },
        {
            "command": "FURN_START",
            "arguments": {"PROFILE": "ISOTHERMAL"},
            "at": "2024-01-01T08:10:00Z",
            "comment": "melt/s #0 start (R1)",
        },
        {
            "command": "FURN_STOP",
            "arguments": {},
            "at": "2024-01-01T09:59:00Z",  # end of unattended, offset_s -60
            "comment": "melt/s #0 stop (R1)",
        },
    ]
    assert (summary.sessions, summary.steps) == (1, 3)
    assert format_ns(summary.first_ns, 0) == "2024-01-01T08:00:00Z"
    assert format_ns(summary.last_ns, 0) == "2024-01-01T09:59:00Z"
    text = stack_yaml(doc, header="from a test")
    assert text.startswith("# from a test\nstack: hand-built\n")
    assert yaml.safe_load(text) == doc


def test_release_outside_the_session_is_refused(tmp_path: Path) -> None:
    c, _ = _load(tmp_path, {"stop": [{"command": "FURN_STOP", "offset_s": 1200}]})
    plan = _plan(c, ("prep", 480, 490), ("run", 490, 550), ("stow", 550, 560))
    with pytest.raises(InputError) as info:
        plan_stack(c, plan)
    assert str(info.value) == (
        "melt/s #0 stop: FURN_STOP at 2024-01-01T09:30:00Z (offset_s 1200) is outside the "
        "session's rack time 2024-01-01T08:00:00Z .. 2024-01-01T09:20:00Z; change its offset_s"
    )


def test_policy_and_empty_stacks(tmp_path: Path) -> None:
    c, _ = _load(tmp_path, FURNACE)
    plan = _plan(c, ("run", 490, 550))
    with pytest.raises(InputError, match="stack policy 'pause' is not one of stop, continue"):
        plan_stack(c, plan, policy="pause")
    doc, _ = plan_stack(c, plan, policy="stop", name="night")
    assert (doc["stack"], doc["on_failure"]) == ("night", "stop")
    # without a run, prep or unattended part every phase is at the run's start or end
    assert [s["at"][11:16] for s in doc["steps"]] == ["08:10", "08:10", "09:09"]
    c, _ = _load(tmp_path, FURNACE, commands={})  # the session sends nothing
    with pytest.raises(InputError, match="the plan gives no command step"):
        plan_stack(c, plan)


@pytest.fixture(scope="module")
def generated() -> tuple[Any, Plan]:
    c = parse_campaign(generate_campaign(days=3, experiments=12, seed=5, orbit=False))
    env = build_environment(c)
    plan = greedy_plan(c, env)
    assert check_plan(c, env, plan) == []
    return c, plan


def test_generated_campaign_becomes_a_tiangong_stack(generated: tuple[Any, Plan]) -> None:
    c, plan = generated
    mapped = {e.name for e in c.experiments if e.discipline in DISCIPLINE_COMMANDS}
    assert {e.name for e in c.experiments if e.commands is not None} == mapped
    doc, summary = plan_stack(c, plan, spacecraft="TIANGONG")
    steps_by_label = {s["comment"].rsplit(" (", 1)[0]: s for s in doc["steps"]}
    sessions = 0
    for (exp, sess, rep), acts in plan.occurrences().items():
        if exp not in mapped:
            assert not any(s["comment"].startswith(f"{exp}/") for s in doc["steps"])
            continue
        sessions += 1
        by_kind = {a.kind: a for a in acts}
        start = steps_by_label[f"{exp}/{sess} #{rep} start"]
        stop = steps_by_label[f"{exp}/{sess} #{rep} stop"]
        end = by_kind.get("unattended", by_kind["run"]).end_min
        assert start["at"] == c.to_datetime(by_kind["run"].start_min).strftime("%FT%TZ")
        assert stop["at"] == c.to_datetime(end).strftime("%FT%TZ")
        configure = steps_by_label[f"{exp}/{sess} #{rep} configure"]
        first = min(a.start_min for a in acts if a.rack is not None)
        assert configure["at"] == c.to_datetime(first).strftime("%FT%TZ")
    assert sessions == summary.sessions > 5
    assert summary.steps == 3 * sessions == len(doc["steps"])
    times = [parse_ns(s["at"]) for s in doc["steps"]]
    assert times == sorted(times)
    stack = parse_stack(stack_yaml(doc), load(TIANGONG_MDB), file="gen.yaml")
    assert len(stack.steps) == summary.steps
    assert stack.spacecraft == "TIANGONG"
    assert stack.on_failure == "continue"
    assert all(s.at_ns is not None for s in stack.steps)


def test_example_campaign_mappings_are_tiangong_commands() -> None:
    c = load_campaign(EXAMPLE)
    mdb = load(TIANGONG_MDB)
    commanded = {e.name for e in c.experiments if e.commands is not None}
    assert commanded == {
        "stem-cells",
        "rice-growth",
        "capillary-flow",
        "dosimetry",
        "alloy-melt",
        "x-ray-survey",
    }
    for e in c.experiments:
        for _, specs in e.commands.phases() if e.commands else []:
            for spec in specs:
                cmd = mdb.command(spec.command)
                # no critical command: a stack with one does not start without arming
                assert cmd.significance < Significance.CRITICAL, spec.command
    assert c.experiment("stem-cells").session("fix").commands is not None  # {}: none


@pytest.mark.slow  # the model steps second by second through the day (about 10 s)
def test_generated_stack_runs_on_the_station_model() -> None:
    """Every step of a generated stack, executed in order at its time, is accepted."""
    station = pytest.importorskip("falak.sim.station")  # helper T's model (issue 13 §5)
    c = parse_campaign(generate_campaign(days=1, experiments=9, seed=2, orbit=False))
    plan = greedy_plan(c, build_environment(c))
    doc, summary = plan_stack(c, plan)
    assert summary.sessions >= 3
    model = station.create_model(parse_ns(doc["steps"][0]["at"]) - 60 * 1_000_000_000)
    refused = []
    for step in doc["steps"]:
        out = model.execute(step["command"], step["arguments"], parse_ns(step["at"]))
        if not out.ok:
            refused.append(f"{step['comment']}: {step['command']} {out.reason} {out.message}")
    assert refused == []


def test_a_command_without_fields_may_be_its_name() -> None:
    c = parse_campaign(
        base_campaign(
            experiments=[experiment("melt", 1, session("s", 60), commands={"stop": ["FURN_STOP"]})]
        )
    )
    m = c.experiments[0].commands
    assert m is not None
    assert m.stop == (CommandSpec("FURN_STOP"),)
    assert m.start == m.configure == ()
