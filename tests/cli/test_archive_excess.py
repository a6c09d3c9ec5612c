"""``falak archive ingest`` and ``replay`` count packets longer than their container (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from falak.cli.app import app

runner = CliRunner()
CTIM = Path("space_packet_parser") / "ctim"


@pytest.mark.slow
def test_ctim_ingest_and_replay_show_excess(tmp_path: Path, testdata: Path) -> None:
    """ctim/TRUTH.md: 1499 packets; the 104 APID 1 packets and one APID 20 packet leave
    whole bytes after their container (105 warnings, nothing failed)."""
    mdb = str(testdata / CTIM / "ctim_xtce_v1.xml")
    store = str(tmp_path / "archive")
    res = runner.invoke(
        app,
        [
            "archive",
            "ingest",
            "--mdb",
            mdb,
            "--packets",
            str(testdata / CTIM / "ccsds_2021_155_14_39_51"),
            "--archive",
            store,
            "--container",
            "CCSDSTelemetryPacket",
        ],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert re.search(r"packets decoded\s*│\s*1,499\b", text), res.output
    assert re.search(r"decoded, longer than container: excess_bytes\s*│\s*105\s*│", text), (
        res.output
    )
    assert "not decoded" not in text
    res = runner.invoke(
        app,
        ["archive", "replay", "--archive", store, "--mdb", mdb, "--container",
         "CCSDSTelemetryPacket"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "replayed 1,499 packets: 1,499 decoded, not decoded: none, longer than their "
        "container: excess_bytes 105;"
    ) in " ".join(res.output.split())
