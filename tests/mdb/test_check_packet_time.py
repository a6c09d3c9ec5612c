"""``falak mdb check`` refuses a packet-time recipe or a time epoch that would fail later.

Before, ``mdb check`` said OK for both: a bad ``falak:packet_time`` stopped ``falak run`` and
``archive ingest`` at start, and an ISO epoch past 2262 wrapped silently through numpy's
``datetime64[ns]`` (issue 12: "whatever the decoder or ``falak run`` would fail on, ``mdb
check`` reports first").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.errors import MdbErrors
from falak.mdb.native import loads_yaml

runner = CliRunner()

MDB = """\
name: T
ancillary: {{"falak:packet_time": "{RECIPE}"}}
types:
  Day: {{kind: integer, encoding: uint16}}
  Ms: {{kind: integer, encoding: uint32}}
  Time:
    kind: absolute_time
    encoding: uint32
    epoch: "{EPOCH}"
parameters:
  DAY: Day
  MS: Ms
  OBT: Time
containers:
  P: {{entries: [DAY, MS, OBT]}}
"""


def _text(recipe: str = "cds:DAY,MS", epoch: str = "TAI") -> str:
    return MDB.format(RECIPE=recipe, EPOCH=epoch)


def test_sound_recipes_load() -> None:
    for recipe in ("auto", "reception", "OBT", "cds:DAY,MS", "cds:DAY,MS@2000-01-01"):
        assert loads_yaml(_text(recipe)).packet_time == recipe


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        (
            "cds:DAY",
            "t.yaml:1: falak:packet_time of t.yaml 'cds:DAY': cds: needs 2 or 3 fields, "
            "day,ms[,us] (e.g. cds:DOY,MSEC,USEC)",
        ),
        (
            "cds:DAY,NOPE",
            "t.yaml:1: falak:packet_time of t.yaml 'cds:DAY,NOPE': no parameter named 'NOPE'; "
            "fix: list them with `falak mdb show`",
        ),
        (
            "DAY",
            "t.yaml:1: falak:packet_time of t.yaml 'DAY': parameter /T/DAY is of kind "
            "IntegerType, not an absolute time",
        ),
        ("cds:DAY,MS@9999-01-01", "epoch time '9999-01-01' is outside the range"),
    ],
)
def test_bad_recipe_is_an_mdb_error_with_line(recipe: str, message: str) -> None:
    with pytest.raises(MdbErrors) as info:
        loads_yaml(_text(recipe), "t.yaml")
    text = str(info.value)
    assert message in text
    assert text.count("fix:") == 1


def test_far_future_epoch_is_refused_not_wrapped() -> None:
    # np.datetime64("9999-01-01", "ns") wraps to 1815; the decoder would date every packet so
    with pytest.raises(MdbErrors) as info:
        loads_yaml(_text(epoch="9999-01-01T00:00:00Z"), "t.yaml")
    assert (
        "type /T/Time: time epoch '9999-01-01T00:00:00Z': time '9999-01-01T00:00:00' is "
        "outside the range a nanosecond time can hold"
    ) in str(info.value)


def test_mdb_check_prints_it(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(_text("cds:DAY"), encoding="utf-8")
    result = runner.invoke(app, ["mdb", "check", str(path)])
    assert result.exit_code == 1
    assert (
        "cds: needs 2 or 3 fields, day,ms[,us] (e.g. cds:DOY,MSEC,USEC) (fix: write one of: "
        in (" ".join(result.output.split()))
    )
