"""``falak campaign``: plan, check, generate, replan and gantt through the Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from falak.cli.app import app
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
