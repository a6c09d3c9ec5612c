"""``falak archive files``: list the received files of a spacecraft and write them out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli.app import app

runner = CliRunner()
T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z


def test_files_are_listed_and_written_out_with_their_index(tmp_path: Path) -> None:
    img = bytes(range(256)) * 8
    with open_archive(tmp_path / "a", spacecraft="ORBITER") as a:
        a.store_file(T0, "img/0001.pgm", img, source="ORBITER", checksum="modular:0badf00d")
        a.store_file(T0 + 10**9, "mag/02.csv", b"t,", source="ORBITER", complete=False,
                     missing=[(2, 40)])  # fmt: skip
        a.store_file(T0 + 2 * 10**9, "../../escape.bin", b"x", source="ORBITER")
    res = runner.invoke(
        app, ["archive", "files", "--archive", str(tmp_path / "a"), "--spacecraft", "ORBITER",
              "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["name"], r["size"], r["complete"], r["missing"]) for r in rows] == [
        ("img/0001.pgm", 2048, True, []),
        ("mag/02.csv", 2, False, [[2, 40]]),
        ("../../escape.bin", 1, True, []),
    ]
    assert rows[0]["time"] == "2025-11-24T16:00:00.000000000Z"
    assert rows[0]["sha256"] == hashlib.sha256(img).hexdigest()
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["archive", "files", "--archive", str(tmp_path / "a"), "--spacecraft", "ORBITER",
              "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "files received (3)" in res.output
    assert (out / "img/0001.pgm").read_bytes() == img
    assert (out / "mag/02.csv.partial").read_bytes() == b"t,"
    assert (out / "file-3").read_bytes() == b"x"  # a name leaving --out is not followed
    assert not (tmp_path / "escape.bin").exists()
    index = json.loads((out / "index.json").read_text())
    assert [r["path"] for r in index] == ["img/0001.pgm", "mag/02.csv.partial", "file-3"]


def test_no_archive_is_a_one_line_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["archive", "files", "--archive", str(tmp_path / "none")])
    assert res.exit_code == 1
    assert res.output.startswith("error: ")
    assert res.output.count("\n") == 1
