"""Campaign model and YAML loader: good files load, bad files name experiment, rule and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from falak.planning.campaign.model import CampaignError, load_campaign, parse_campaign
from tests.planning.campaign.conftest import base_campaign, experiment, session

EXAMPLE = Path(__file__).parents[3] / "src/falak/missions/tiangong/example_campaign.yaml"


def test_example_campaign_loads() -> None:
    c = load_campaign(EXAMPLE)
    assert c.days == 7
    assert c.step_min == 5
    assert [p.name for p in c.crew] == ["Jing", "Lin", "Ayesha"]
    # one experiment per discipline of the mission (ARCHITECTURE.md)
    assert len({e.discipline for e in c.experiments}) == 9
    assert c.crew_day.work_per_day_min == 390  # 6.5 h (REFERENCES.md "Station operations")
    assert c.tle_path is not None
    assert c.tle_path.endswith("css.tle")


def test_example_matches_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import json

    schema_path = Path(__file__).parents[3] / "src/falak/planning/campaign/schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    # PyYAML turns unquoted ISO times into datetimes; the campaign format means strings
    data = json.loads(json.dumps(data, default=lambda t: t.isoformat()))
    jsonschema.validate(data, schema)


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def test_unknown_rack_names_experiment_rule_and_line(tmp_path: Path) -> None:
    data = base_campaign(experiments=[experiment("melt", 1, session("s", 60, racks=["R9"]))])
    p = _write(tmp_path, data)
    with pytest.raises(CampaignError) as info:
        load_campaign(p)
    err = info.value
    assert err.experiment == "melt"
    assert err.rule == "rack"
    assert err.line is not None
    line = p.read_text(encoding="utf-8").splitlines()[err.line - 1]
    assert "name: s" in line or "racks" in line or "- name" in line
    assert str(err).startswith(f"{p}:{err.line}: ")
    assert "unknown rack 'R9'; racks are: R1" in str(err)


def test_cyclic_precedence_is_reported(tmp_path: Path) -> None:
    data = base_campaign(
        experiments=[
            experiment(
                "loop",
                1,
                session("a", 30, after=[{"session": "b"}]),
                session("b", 30, after=[{"session": "a"}]),
            )
        ]
    )
    with pytest.raises(CampaignError) as info:
        load_campaign(_write(tmp_path, data))
    assert info.value.rule == "precedence"
    assert info.value.experiment == "loop"
    assert "cyclic precedence: loop/" in str(info.value)
    assert info.value.line is not None


def test_session_longer_than_any_work_period(tmp_path: Path) -> None:
    data = base_campaign(experiments=[experiment("long", 1, session("s", 250))])
    with pytest.raises(CampaignError) as info:
        load_campaign(_write(tmp_path, data))
    assert info.value.rule == "crew day"
    assert "experiment 'long' session 's'" in str(info.value)
    assert "longer than any work period of the crew day (longest 240 min)" in str(info.value)


def test_off_grid_duration_and_unknown_discipline() -> None:
    with pytest.raises(CampaignError, match="not a multiple of the 5-minute plan step"):
        parse_campaign(base_campaign(experiments=[experiment("x", 1, session("s", 33))]))
    bad = experiment("x", 1, session("s", 30))
    bad["discipline"] = "alchemy"
    with pytest.raises(CampaignError, match="discipline 'alchemy' is not one of"):
        parse_campaign(base_campaign(experiments=[bad]))


def test_unknown_precedence_target() -> None:
    data = base_campaign(
        experiments=[experiment("x", 1, session("s", 30, after=[{"session": "y/zz"}]))]
    )
    with pytest.raises(CampaignError, match="'after' names unknown session y/zz"):
        parse_campaign(data)
