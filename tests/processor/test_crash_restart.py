"""SIGKILL a real ``falak run`` mid-stream, restart it: every committed raw packet gets its
parameters, once, and the catch-up is reported (issue 12, "Crash and restart").

``falak run`` buffers parameters for up to a second (``parameter_flush_s``), so a kill leaves
the last second of committed raw packets without parameters. The runs are real subprocesses
fed by a file link at 5,000 packets/s, on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from falak.archive import open_archive
from falak.processor import generation_times
from falak.tm.decoder import Decoder

from ..archive.conftest import Backend
from .testsat import MDB_PATH, hk_packet, load_testsat

FALAK = [sys.executable, "-c", "from falak.cli.app import main; main()"]
N_PACKETS = 20_000
RATE_PPS = 5_000


def committed(log: Path) -> list[tuple[int, int]]:
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[1]), int(parts[2])))
    return out


def run_args(tm: Path, location: str, log: Path, *extra: str) -> list[str]:
    return [
        *FALAK, "run", "--mdb", str(MDB_PATH), "--link", f"file://{tm}?rate={RATE_PPS}",
        "--archive", location, "--commit-log", str(log), "--no-status", *extra,
    ]  # fmt: skip


def kill_mid_stream(args: list[str], log: Path, out: Path, rng: random.Random) -> str:
    """Start ``falak run``, SIGKILL it 0.2..1.5 s after its first commit; return its stderr."""
    before = len(committed(log))
    with out.open("w") as fh:
        p = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while len(committed(log)) == before and time.monotonic() < deadline:
                assert p.poll() is None, out.read_text()
                time.sleep(0.01)
            assert len(committed(log)) > before, "no commit within 120 s"
            time.sleep(rng.uniform(0.2, 1.5))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait(30)
    assert p.returncode == -signal.SIGKILL
    return out.read_text()


def behind(location: str) -> int:
    with open_archive(location, create=False) as a:
        return sum(b - a + 1 for a, b in a.packets_without_parameters())


@pytest.mark.slow
def test_sigkill_then_restart_catches_up_every_committed_packet(
    tmp_path: Path, backend: Backend
) -> None:
    from typer.testing import CliRunner

    from falak.cli.app import app

    rng = random.Random(12)  # fixed seed: the kill moments are reproducible
    tm = tmp_path / "tm.bin"
    tm.write_bytes(b"".join(hk_packet(i, 2e9 + i, 6800 + i % 1500) for i in range(N_PACKETS)))
    log = tmp_path / "commits.txt"
    loc = backend.location

    # 1. killed mid-stream: committed raw packets without parameters, and stats says so (a
    # kill within the ~20 ms after a parameter flush leaves none behind: then kill again)
    for attempt in range(3):
        kill_mid_stream(run_args(tm, loc, log), log, tmp_path / f"run1.{attempt}.txt", rng)
        lag1 = behind(loc)
        if lag1:
            break
    assert lag1 > 0
    res = CliRunner().invoke(app, ["archive", "stats", "--archive", loc])
    assert res.exit_code == 0, res.output
    assert f"parameters behind raw by {lag1:,} packets (ids " in res.output

    # 2. restarted (the same file again), and killed again: it reported the catch-up first
    text = kill_mid_stream(run_args(tm, loc, log), log, tmp_path / "run2.txt", rng)
    assert f"parameters behind raw by {lag1:,} packets" in text
    lag2 = behind(loc)

    # 3. restarted with a short file until done: catches up run 2's leftovers, then exits
    short = tmp_path / "short.bin"
    short.write_bytes(b"".join(hk_packet(i, 3e9 + i) for i in range(100)))
    p = subprocess.run(
        run_args(short, loc, log, "--until-done"), capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    if lag2:
        assert f"parameters behind raw by {lag2:,} packets" in p.stderr
        assert f", caught up {lag2:,} of {lag2:,} packets" in p.stdout
    res = CliRunner().invoke(app, ["archive", "stats", "--archive", loc])
    assert "parameters up to date with the raw packets" in res.output

    with open_archive(loc, create=False) as archive:
        assert archive.packets_without_parameters() == []
        batches = list(archive.read_packets())
        ids = set(np.concatenate([b.ids for b in batches]).tolist())
        assert all(i in ids for a, b in committed(log) for i in range(a, b + 1))
        # every raw packet has its BATT_V exactly once, at its own on-board time
        dec = Decoder(load_testsat())
        want: Counter[tuple[int, float]] = Counter()
        for b in batches:
            hk = dec.decode(b.data, b.offsets, b.lengths).container("HK")
            t = generation_times(hk, b.recv_time_ns)
            want.update(zip(t.tolist(), hk.column("BATT_V").eng.tolist(), strict=True))
        got = archive.read_parameter("BATT_V")
        assert len(got) == len(ids)
        assert Counter(zip(got.time_ns.tolist(), got.eng.tolist(), strict=True)) == want
        events = [e.message for e in archive.read_events() if e.source == "processor"]
    # run 2 may have been killed before its catch-up ended; run 3's always ends
    assert any(m.startswith(f"parameters behind raw by {lag1:,} packets") for m in events)
    caught = [m for m in events if m.startswith("caught up ")]
    if lag2:
        assert caught[-1].startswith(f"caught up {lag2:,} packets that had no parameters")
    else:
        assert caught[-1].startswith(f"caught up {lag1:,} packets that had no parameters")
