"""``falak campaign``: plan, check, generate, replan and gantt through the Typer app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from falak.cli.app import app
from falak.utctime import format_ns
from tests.planning.campaign.conftest import base_campaign, experiment, session

runner = CliRunner()
EXAMPLE = Path(__file__).parents[2] / "src/falak/missions/tiangong/example_campaign.yaml"


@pytest.fixture(scope="module")
def example_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("campaign") / "plan.json"
    res = runner.invoke(
        app,
        [
            "campaign",
            "plan",
            str(EXAMPLE),
            "--out",
            str(out),
            "--time-limit",
            "20",
            "--deterministic",
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_plan_contract(example_plan: Path) -> None:
    data = json.loads(example_plan.read_text(encoding="utf-8"))
    assert data["status"] in ("OPTIMAL", "FEASIBLE")
    assert data["objective"] <= data["bound"]
    acts = data["activities"]
    assert acts
    for a in acts:
        assert {"experiment", "session", "kind", "crew", "rack", "start", "end"} <= set(a)
        assert isinstance(a["crew"], list)
        assert a["start"].endswith("Z")
        assert a["start"] < a["end"]
    kinds = {a["kind"] for a in acts}
    assert {"prep", "run", "unattended", "stow", "sample-transfer", "downlink"} <= kinds
    assert all(a["crew"] == [] for a in acts if a["kind"] == "unattended")


def test_check_valid_and_invalid(example_plan: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["campaign", "check", str(EXAMPLE), str(example_plan)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("VALID:")
    data = json.loads(example_plan.read_text(encoding="utf-8"))
    run = next(a for a in data["activities"] if a["kind"] == "run")
    run["start"], run["end"] = "2023-09-08T02:00:00Z", run["end"].replace(run["end"][11:13], "03")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["campaign", "check", str(EXAMPLE), str(bad)])
    assert res.exit_code == 1
    assert "INVALID:" in res.output
    assert "[crew day]" in res.output or "[session structure]" in res.output


def test_infeasible_exits_1_with_explanation(tmp_path: Path) -> None:
    data = base_campaign(
        experiments=[
            experiment(
                "night",
                1,
                session(
                    "s", 60, required=True, window=["2024-01-01T01:00:00Z", "2024-01-01T05:00:00Z"]
                ),
            )
        ]
    )
    camp = tmp_path / "c.yaml"
    camp.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["campaign", "plan", str(camp), "--out", str(out), "--deterministic"])
    assert res.exit_code == 1
    assert "INFEASIBLE" in res.output
    assert "window night/s" in res.output
    assert "crew day" in res.output
    assert json.loads(out.read_text(encoding="utf-8"))["status"] == "INFEASIBLE"


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    data = base_campaign(experiments=[experiment("melt", 1, session("s", 60, racks=["R9"]))])
    camp = tmp_path / "c.yaml"
    camp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    res = runner.invoke(app, ["campaign", "plan", str(camp), "--out", str(tmp_path / "p.json")])
    assert res.exit_code == 2
    assert f"{camp}:" in res.output
    assert "unknown rack 'R9'" in res.output


def test_generate_replan_gantt(tmp_path: Path) -> None:
    camp = tmp_path / "gen.yaml"
    res = runner.invoke(
        app,
        [
            "campaign",
            "generate",
            "--days",
            "2",
            "--experiments",
            "5",
            "--seed",
            "1",
            "--out",
            str(camp),
        ],
    )
    assert res.exit_code == 0, res.output
    plan = tmp_path / "plan.json"
    res = runner.invoke(
        app,
        ["campaign", "plan", str(camp), "--out", str(plan), "--time-limit", "5", "--deterministic"],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(plan.read_text(encoding="utf-8"))
    crew = data["activities"][0]["crew"] or ["Jing"]
    event = tmp_path / "event.yaml"
    event.write_text(
        yaml.safe_dump(
            {"type": "crew-unavailable", "crew": crew[0], "start": "2023-09-09T00:00:00Z"}
        ),
        encoding="utf-8",
    )
    new = tmp_path / "new.json"
    res = runner.invoke(
        app,
        [
            "campaign",
            "replan",
            str(camp),
            str(plan),
            "--now",
            "2023-09-08T20:00:00Z",
            "--event",
            str(event),
            "--out",
            str(new),
            "--time-limit",
            "5",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "objective" in res.output
    html_out = tmp_path / "g.html"
    res = runner.invoke(app, ["campaign", "gantt", str(plan), "--out", str(html_out)])
    assert res.exit_code == 0, res.output
    page = html_out.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "<script" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "<title>eclipse</title>" in page
    png = tmp_path / "g.png"
    res = runner.invoke(app, ["campaign", "gantt", str(plan), "--out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_mentions_units() -> None:
    res = runner.invoke(app, ["campaign", "--help"])
    assert res.exit_code == 0
    assert "ISO 8601 UTC" in res.output
    assert "minutes" in res.output


def test_replan_session_failed_counts_from_zero_and_freezes_the_past(tmp_path: Path) -> None:
    """docs/station.md §5 through the CLI: 0-based in the event file and in the output."""
    camp = "src/falak/missions/tiangong/example_campaign.yaml"
    plan = tmp_path / "plan.json"
    res = runner.invoke(
        app, ["campaign", "plan", camp, "--out", str(plan), "--time-limit", "20", "--deterministic"]
    )
    assert res.exit_code == 0, res.output
    event = tmp_path / "event.yaml"
    args = ["campaign", "replan", camp, str(plan), "--now", "2023-09-10T09:00:00Z", "--event",
            str(event), "--out", str(tmp_path / "new.json"), "--time-limit", "10"]  # fmt: skip
    failed = {"type": "session-failed", "experiment": "rice-growth", "session": "inspect"}
    event.write_text(yaml.safe_dump({**failed, "repetition": 0}), encoding="utf-8")
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "  - rice-growth/inspect #0 failed: it moves to the history" in res.output
    assert "in progress" not in res.output  # it all ended on 2023-09-09
    assert " moved " not in res.output
    assert "  - rice-growth/inspect #2 added at 2023-09-1" in res.output
    event.write_text(yaml.safe_dump({**failed, "repetition": 3}), encoding="utf-8")
    res = runner.invoke(app, args)
    assert res.exit_code == 2  # bad input, as for a bad campaign file
    assert (
        "error: session-failed: repetition 3 is out of range: rice-growth/inspect has "
        "repetitions 0..2 (they count from 0, as in plan files)"
    ) in res.output
    help_text = runner.invoke(app, ["campaign", "replan", "--help"]).output
    assert "Repetitions count from 0" in " ".join(help_text.split())


# --- falak campaign commands -----------------------------------------------------------------

TIANGONG_MDB = EXAMPLE.parent / "mdb.yaml"


def _stack(path: Path) -> Any:
    from falak.commanding.stack import parse_stack
    from falak.mdb import load

    return parse_stack(path.read_text(encoding="utf-8"), load(TIANGONG_MDB), file=str(path))


def test_commands_example_plan_to_tiangong_stack(example_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "stack.yaml"
    res = runner.invoke(
        app, ["campaign", "commands", str(EXAMPLE), str(example_plan), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    stack = _stack(out)
    assert stack.name == "tiangong-example-week"
    assert stack.spacecraft == "TIANGONG"
    assert stack.on_failure == "continue"
    plan = json.loads(example_plan.read_text(encoding="utf-8"))
    # the example maps six experiments, stem-cells/fix sends nothing (commands: {})
    runs = {
        (a["experiment"], a["session"], a["repetition"]): a["start"]
        for a in plan["activities"]
        if a["kind"] == "run"
        and a["experiment"] not in ("wing-flutter", "cold-atoms", "protein-crystals")
        and (a["experiment"], a["session"]) != ("stem-cells", "fix")
    }
    starts = {s.comment: s for s in stack.steps if " start (" in (s.comment or "")}
    assert len(starts) == len(runs) > 5
    for (e, s, k), t in runs.items():
        step = next(v for c, v in starts.items() if c.startswith(f"{e}/{s} #{k} start"))
        assert format_ns(step.at_ns or 0, 0) == t  # released at the run's planned start
    assert "sessions" in res.output
    assert "first release (UTC)" in res.output
    assert "without a commands: mapping (no steps): protein-crystals, wing-flutter" in (res.output)
    assert f"-> {out}" in res.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Command stack of campaign 'Tiangong example week', from plan.json")
    # the plan names its campaign file: PLAN.json alone does the same, --policy stop
    again = tmp_path / "again.yaml"
    res = runner.invoke(
        app,
        ["campaign", "commands", str(example_plan), "--out", str(again), "--policy", "stop"],
    )
    assert res.exit_code == 0, res.output
    assert _stack(again).on_failure == "stop"
    assert [s.at_ns for s in _stack(again).steps] == [s.at_ns for s in stack.steps]


def _hand_built(tmp_path: Path, command: str = "FURN_START") -> tuple[Path, Path]:
    data = base_campaign(
        experiments=[
            experiment(
                "melt",
                1,
                session("s", 60, prep_min=10, stow_min=10),
                commands={"start": [{"command": command}], "stop": [{"command": "FURN_STOP"}]},
            )
        ]
    )
    camp = tmp_path / "c.yaml"
    camp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = tmp_path / "p.json"
    res = runner.invoke(app, ["campaign", "plan", str(camp), "--out", str(plan), "--deterministic"])
    assert res.exit_code == 0, res.output
    return camp, plan


def test_commands_refuses_an_invalid_plan(tmp_path: Path) -> None:
    camp, plan = _hand_built(tmp_path)
    data = json.loads(plan.read_text(encoding="utf-8"))
    for a in data["activities"]:  # move the session into the night
        a["start"] = "2024-01-01T02:" + a["start"][14:]
        a["end"] = "2024-01-01T03:" + a["end"][14:]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "stack.yaml"
    res = runner.invoke(app, ["campaign", "commands", str(camp), str(bad), "--out", str(out)])
    assert res.exit_code == 1
    assert "INVALID:" in res.output
    assert "no stack written" in res.output
    assert not out.exists()


def test_commands_refuses_an_infeasible_plan(tmp_path: Path) -> None:
    camp, _ = _hand_built(tmp_path)
    plan = tmp_path / "inf.json"
    plan.write_text(
        json.dumps({"status": "INFEASIBLE", "activities": [], "conflicts": ["window melt/s"]}),
        encoding="utf-8",
    )
    res = runner.invoke(
        app, ["campaign", "commands", str(camp), str(plan), "--out", str(tmp_path / "s.yaml")]
    )
    assert res.exit_code == 1
    assert "INFEASIBLE: the plan has no activities; these rules conflict:" in res.output
    assert "  - window melt/s" in res.output


def test_commands_checks_the_stack_against_the_mdb(tmp_path: Path) -> None:
    camp, plan = _hand_built(tmp_path, command="FURN_BEGIN")
    out = tmp_path / "stack.yaml"
    res = runner.invoke(app, ["campaign", "commands", str(camp), str(plan), "--out", str(out)])
    assert res.exit_code == 1
    assert f"error: the stack in {out} does not check against {TIANGONG_MDB}" in res.output
    assert "step 1: no command named 'FURN_BEGIN'; commands: " in res.output
    assert "(melt/s #0 start (R1))" in res.output  # the step's experiment/session/phase


def test_commands_bad_options(tmp_path: Path) -> None:
    camp, plan = _hand_built(tmp_path)
    out = str(tmp_path / "s.yaml")
    res = runner.invoke(
        app, ["campaign", "commands", str(camp), str(plan), "--out", out, "--policy", "pause"]
    )
    assert res.exit_code == 2
    assert "error: --policy 'pause' is not one of stop, continue" in res.output
    data = json.loads(plan.read_text(encoding="utf-8"))
    del data["campaign_file"]
    plan.write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["campaign", "commands", str(plan), "--out", out])
    assert res.exit_code == 2
    assert f"error: {plan} does not name its campaign file" in res.output


def test_commands_help_explains_formats_and_units() -> None:
    res = runner.invoke(app, ["campaign", "commands", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    for words in (
        "configure at the session's start (prep)",
        "start at the start of its run",
        "offset_s (seconds)",
        "absolute UTC times",
        "--policy",
        "--mdb",
    ):
        assert words in text, words
