"""``falak mdb check|show|convert``: exit codes, one-line errors, the tree, conversions."""

from __future__ import annotations

import importlib.util
import re
from importlib import resources
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from falak.mdb.native import load_yaml

runner = CliRunner()
TESTSAT = Path(str(resources.files("falak.missions.testsat") / "mdb.yaml"))


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    try:
        from falak.cli.app import app
    except ModuleNotFoundError as error:
        # While sibling command groups are still being written in parallel, app.py may import a
        # module that does not exist yet; test this group through its own register() then.
        if not (error.name or "").startswith("falak.cli.") or error.name == "falak.cli.mdb":
            raise
        from falak.cli import mdb

        app = typer.Typer()
        app.callback()(lambda: None)
        mdb.register(app)
    return app


def test_check_ok_prints_counts(app: typer.Typer) -> None:
    result = runner.invoke(app, ["mdb", "check", str(TESTSAT)])
    assert result.exit_code == 0, result.output
    # counts: src/falak/missions/testsat/mdb.yaml (22 types = 11 named + 9 built-in + 2 payload)
    assert result.stdout == (
        f"{TESTSAT}: OK, TESTSAT: 2 space systems, 22 types, 27 parameters, 5 containers, "
        "5 commands\n"
    )


def test_check_errors_one_per_line_exit_1(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: X\n"
        "parameters:\n"
        "  BATT_V: uint13x\n"
        "containers:\n"
        "  C: {base: NOPE, entries: [BATT_V]}\n"
    )
    result = runner.invoke(app, ["mdb", "check", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"{bad}:3: unknown type 'uint13x' for parameter BATT_V (fix: write one of "
        "uint1..uint64, int2..int64, float16, float32, float64 (add 'le' for little-endian, "
        "e.g. uint32le) or define it under types:)",
        f"{bad}:5: unknown container 'NOPE' (base of C) (fix: define it under containers: or "
        "correct the name)",
        "2 errors",
    ]


def test_check_missing_file_and_yaml_syntax(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["mdb", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'nope.yaml'}: file not found (fix: give the path of a .yaml or XTCE "
        ".xml file)"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: X\nparameters: [a\n")
    result = runner.invoke(app, ["mdb", "check", str(broken)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{broken}:")
    assert "YAML syntax" in result.stderr
    assert "Traceback" not in result.output


def test_check_xtce(yamcs_xtce: Path, app: typer.Typer, testdata: Path) -> None:
    if importlib.util.find_spec("falak.mdb.xtce") is None:
        pytest.skip("falak.mdb.xtce is not there yet")
    path = yamcs_xtce / "ccsds-green-book.xml"
    result = runner.invoke(app, ["mdb", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: OK, ")
    # BogusSAT-1 carries deliberate oddities (legal XTCE): it loads, each is a warning line
    bogus = testdata / "yamcs-xtce" / "BogusSAT-1.xml"
    result = runner.invoke(app, ["mdb", "check", str(bogus)])
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{bogus}:") and ": warning: " in line for line in lines)
    assert any("spline order 2" in line for line in lines)
    assert result.stdout.rstrip().endswith("(3 warnings)")


def test_show_tree(app: typer.Typer) -> None:
    result = runner.invoke(app, ["mdb", "show", str(TESTSAT)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "TESTSAT  2 space systems, 22 types, 27 parameters" in out
    assert "HK  when APID == 100  (every 1 s)" in out
    assert "PAYLOAD/SCIENCE  when APID == 102" in out
    assert "BATT_V  Voltage  uint16  16 bits  polynomial calibration, V" in out
    assert "OBT  CucTime  CUC 4+2  48 bits" in out
    assert "EVENT_MESSAGE  EventText  string (8-bit length tag)  variable" in out
    assert "CCSDS_TC(APID: uint11, OPCODE: uint8)  (abstract)" in out
    assert "REBOOT  OPCODE=255  (critical)" in out
    assert "verify received within 0..5 s: packet CMD_ACK and ACK_OPCODE == 1" in out


def test_show_one_container_without_parameters(app: typer.Typer) -> None:
    result = runner.invoke(
        app,
        ["mdb", "show", str(TESTSAT), "--container", "SCIENCE", "--no-parameters"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "extends CCSDS_TM" in result.stdout
    assert "PAYLOAD/SCIENCE  when APID == 102" in result.stdout
    assert "SAMPLE_COUNT  uint8" not in result.stdout
    result = runner.invoke(app, ["mdb", "show", str(TESTSAT), "--container", "NOPE"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{TESTSAT}: no container named 'NOPE' (fix: list them with `falak mdb show`)"
    )


def test_convert_yaml_round_trip(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "copy.yml"
    result = runner.invoke(app, ["mdb", "convert", str(TESTSAT), str(out)])
    assert result.exit_code == 0, result.output
    assert load_yaml(out) == load_yaml(TESTSAT)
    result = runner.invoke(app, ["mdb", "convert", str(TESTSAT), str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert "give a .yaml, .yml or .xml file name" in result.stderr


def test_convert_testsat_to_xtce_and_back(app: typer.Typer, tmp_path: Path) -> None:
    if importlib.util.find_spec("falak.mdb.xtce") is None:
        pytest.skip("falak.mdb.xtce is not there yet")
    xml = tmp_path / "testsat.xml"
    result = runner.invoke(app, ["mdb", "convert", str(TESTSAT), str(xml)])
    assert result.exit_code == 0, result.output
    back = tmp_path / "back.yaml"
    result = runner.invoke(app, ["mdb", "convert", str(xml), str(back)])
    assert result.exit_code == 0, result.output
    assert load_yaml(back) == load_yaml(TESTSAT)


def test_convert_xtce_to_yaml_and_back(app: typer.Typer, yamcs_xtce: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("falak.mdb.xtce") is None:
        pytest.skip("falak.mdb.xtce is not there yet")
    from falak.mdb.xtce import load_xtce

    original = yamcs_xtce / "ccsds-green-book.xml"
    yml = tmp_path / "green.yaml"
    result = runner.invoke(app, ["mdb", "convert", str(original), str(yml)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {yml}: 1 space system, ")
    xml = tmp_path / "green.xml"
    result = runner.invoke(app, ["mdb", "convert", str(yml), str(xml)])
    assert result.exit_code == 0, result.output
    assert load_xtce(xml) == load_xtce(original) == load_yaml(yml)


# ---------------------------------------------------------------------------------------------
# The examples in docs/mdb-yaml.md run as written

DOC = Path(__file__).resolve().parents[2] / "docs" / "mdb-yaml.md"


def _blocks(lang: str) -> list[str]:
    text = DOC.read_text()
    # an info string may follow the language (```yaml title="bad.yaml")
    return [b.split("\n```", 1)[0] for b in re.split(rf"```{lang}(?: [^\n]*)?\n", text)[1:]]


def test_doc_console_examples(app: typer.Typer, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    repo = DOC.parents[1]
    bad_yaml = next(b for b in _blocks("yaml") if b.startswith("name: X\n"))
    (tmp_path / "bad.yaml").write_text(bad_yaml + "\n")
    for block in _blocks("console"):
        command, *expected = block.splitlines()
        assert command.startswith("$ falak ")
        args = command.split()[2:]
        cwd = tmp_path if "bad.yaml" in args else repo
        monkeypatch.chdir(cwd)
        result = runner.invoke(app, args)
        assert result.output.splitlines() == expected
        assert result.exit_code == (1 if "bad.yaml" in args else 0)


def test_doc_worked_example_loads_and_round_trips() -> None:
    from falak.mdb.native import dump_yaml, loads_yaml

    example = next(b for b in _blocks("yaml") if "name: DEMOSAT" in b)
    mdb = loads_yaml(example, file="docs/mdb-yaml.md")
    # 8 header + 6 housekeeping/event + 2 payload parameters, counted in the example
    assert repr(mdb) == "<MissionDatabase '/DEMOSAT': 16 parameters, 4 containers, 2 commands>"
    assert loads_yaml(dump_yaml(mdb)) == mdb


def test_doc_python_example(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(DOC.parents[1])
    block = _blocks("python")[0]  # the "From Python" example (the others run in tests/docs)
    exec(compile(block, str(DOC), "exec"), {})  # the example as a reader would run it
    assert capsys.readouterr().out == "/TESTSAT/Voltage\n"
