"""``falak run``: foreground processor, clean shutdown on SIGTERM, one-line errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli.app import app

from ..processor.testsat import MDB_PATH, hk_packet

FALAK = [sys.executable, "-c", "from falak.cli.app import main; main()"]


def write_packets(path: Path, n: int) -> list[bytes]:
    pk = [hk_packet(i, 2e9 + i, 7400) for i in range(n)]
    path.write_bytes(b"".join(pk))
    return pk


def committed(log: Path) -> list[tuple[int, int]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[1]), int(parts[2])))
    return out


@pytest.mark.slow
def test_run_until_done_archives_every_packet(tmp_path: Path) -> None:
    pk = write_packets(tmp_path / "tm.bin", 500)
    log = tmp_path / "commits.txt"
    proc = subprocess.run(
        [*FALAK, "run", "--mdb", str(MDB_PATH), "--link", f"file://{tmp_path / 'tm.bin'}",
         "--archive", str(tmp_path / "a"), "--commit-log", str(log), "--until-done"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "stopped: 500 packets archived, 500 decoded, 0 not decoded" in proc.stdout
    ranges = committed(log)
    assert sum(b - a + 1 for a, b in ranges) == 500
    with open_archive(tmp_path / "a", create=False) as a:
        (batch,) = a.read_packets()
        assert [batch.packet_bytes(i) for i in range(len(batch))] == pk
        assert len(a.read_parameter("BATT_V")) == 500


@pytest.mark.slow
def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    write_packets(tmp_path / "tm.bin", 5000)
    log = tmp_path / "commits.txt"
    p = subprocess.Popen(
        [*FALAK, "run", "--mdb", str(MDB_PATH), "--link",
         f"file://{tmp_path / 'tm.bin'}?rate=1000", "--archive", str(tmp_path / "a"),
         "--commit-log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not committed(log) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert committed(log), "nothing committed within 60 s"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopped:" in out
    ranges = committed(log)
    n = sum(b - a + 1 for a, b in ranges)
    assert 0 < n < 5000  # stopped part way at 1000 packets/s
    with open_archive(tmp_path / "a", create=False) as a:
        assert a.packet_stats().n_packets == n
        assert [e.message for e in a.read_events()] == ["processor started", "processor stopped"]


def test_bad_link_is_one_line_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["run", "--mdb", str(MDB_PATH), "--link", "http://x:1", "--archive", str(tmp_path)],
    )
    assert res.exit_code == 1
    assert res.output == (
        "error: unknown link URL 'http://x:1'; use udp://HOST:PORT[?max_rate=DATAGRAMS_PER_S],"
        " tcp://HOST:PORT"
        "[?mode=server] or file:///PATH[?rate=PACKETS_PER_S]\n"
    )


def test_status_table_shows_links_counters_and_alarms(tmp_path: Path) -> None:
    from rich.console import Console

    from falak.cli.run import _status
    from falak.links import FileLink
    from falak.links.base import ReceivedBatch
    from falak.processor import Processor

    from ..processor.testsat import load_testsat

    path = tmp_path / "tm.bin"
    pk = write_packets(path, 3)
    with open_archive(tmp_path / "a") as archive:
        link = FileLink("file0", path)
        proc = Processor(load_testsat(), archive, links=[link])
        bad = hk_packet(9, 2e9 + 9, 9000)  # 9.0 V: CRITICAL (mdb.yaml: critical [6.0, 8.6])
        data = np.frombuffer(b"".join([*pk, bad]), np.uint8)
        n = len(pk[0])
        proc.process(
            [ReceivedBatch("file0", data, np.arange(4) * n, np.full(4, n), np.arange(4) + 1)]
        )
        console = Console(width=120, record=True)
        console.print(_status(proc))
        text = console.export_text()
    assert "file0" in text
    assert "archived 4  decoded 4  not decoded 0" in text
    assert "alarms (1 active)" in text
    assert "/TESTSAT/BATT_V │ CRITICAL │ triggered │ 9.0" in text
