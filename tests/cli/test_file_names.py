"""File names that are not UTF-8 (POSIX allows any bytes) print as ``\\xNN`` and never crash.

Issue 12: ``tm decode``, ``archive ingest`` and ``mdb check`` ended with ``UnicodeEncodeError``
on a name with byte 0xff, which Python holds as the lone surrogate U+DCFF.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli import display_path, safe_output_streams
from falak.cli.app import app
from tests.conftest import DATA

runner = CliRunner()
JPSS = DATA / "space_packet_parser" / "jpss"
MDB = JPSS / "jpss1_geolocation_xtce_v1.xml"
FALAK = [sys.executable, "-c", "from falak.cli.app import main; main()"]


def odd(folder: Path, name: bytes) -> Path:
    """``folder / name`` for a name of raw bytes (decoded the way Python decodes argv)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    packets = odd(tmp_path, b"x\xff.bin")  # the first 20 JPSS packets of 71 bytes
    packets.write_bytes((JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()[:1420])
    mdb = odd(tmp_path, b"m\xff.xml")
    mdb.write_bytes(MDB.read_bytes())
    return {"packets": packets, "mdb": mdb, "dir": tmp_path}


def test_display_path() -> None:
    assert display_path(os.fsdecode(b"/tmp/x\xff.bin")) == "/tmp/x\\xff.bin"
    assert display_path(Path("/tmp/Neuquén ☾.bin")) == "/tmp/Neuquén ☾.bin"  # UTF-8: as is


def test_tm_decode_and_mdb_check(files: dict[str, Path]) -> None:
    d = files["dir"]
    out = odd(d, b"o\xff.parquet")  # pyarrow cannot encode such a name either
    res = runner.invoke(
        app,
        ["tm", "decode", "--mdb", str(files["mdb"]), "--packets", str(files["packets"]),
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "x\\xff.bin: 1,420 bytes" in res.output
    assert res.output.rstrip().endswith(f"wrote {d}/o\\xff.parquet")
    with out.open("rb") as fh:
        assert pq.read_table(fh).num_rows == 20
    res = runner.invoke(app, ["mdb", "check", str(files["mdb"])])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{d}/m\\xff.xml: OK, JPSS_Geolocation_Packets: ")
    res = runner.invoke(app, ["mdb", "check", str(odd(d, b"none\xff.xml"))])
    assert res.exit_code == 1
    assert res.output.startswith(f"{d}/none\\xff.xml: file not found")


def test_archive_ingest(files: dict[str, Path]) -> None:
    store = files["dir"] / "archive"
    res = runner.invoke(
        app,
        ["archive", "ingest", "--mdb", str(MDB), "--packets", str(files["packets"]),
         "--archive", str(store)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "x\\xff.bin" in res.output
    with open_archive(store, create=False) as a:
        assert a.packet_stats().n_packets == 20


def test_real_process_with_c_utf8(files: dict[str, Path]) -> None:
    # a real terminal's stream (surrogateescape under C.UTF-8) gets the same escaped name
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    out = files["dir"] / "o.csv"
    proc = subprocess.run(
        [*FALAK, "tm", "decode", "--mdb", str(files["mdb"]), "--packets", str(files["packets"]),
         "--out", str(out)],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert b"x\\xff.bin: 1,420 bytes" in proc.stdout
    proc.stdout.decode("utf-8")  # valid UTF-8 throughout
    proc = subprocess.run(
        [*FALAK, "mdb", "check", str(files["mdb"])],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(os.fsencode(files["dir"]) + b"/m\\xff.xml: OK")


def test_output_streams_escape_what_they_cannot_encode() -> None:
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    saved = sys.stdout
    sys.stdout = stream
    try:
        safe_output_streams()
        print(os.fsdecode(b"x\xff") + " ☾", end="")
        stream.flush()
    finally:
        sys.stdout = saved
    assert raw.getvalue() == b"x\\xff \\u263e"
