"""Crash safety: SIGKILL an ingesting ``falak run`` at random moments; nothing it reported as
committed is lost, the archive opens cleanly, and replay rebuilds the parameters exactly.

"Acknowledged" is defined as in ``falak run --commit-log FILE``: after each durable raw-archive
commit the processor's ``on_commit`` appends ``LINK FIRST_ID LAST_ID``; the test checks that
every reported id is in the archive after the kills. The ingesting process is a forked child
running a file link at 10,000 packets/s (``tests/cli/test_run_cli.py`` runs the real
``falak run`` and stops it with SIGTERM).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from falak.archive import open_archive
from falak.ccsds.spacepacket import split_packets
from falak.links import FileLink
from falak.processor import Processor, replay
from falak.tm.decoder import Decoder

from .testsat import hk_packet, load_testsat

KILLS = 20
N_PACKETS = 20_000
RATE_PPS = 10_000


def ingest_forever(store: Path, tm: Path, log: Path) -> None:
    """The ingesting process: what ``falak run --link file://TM?rate=... --commit-log LOG``
    does, in a forked child (the parent has imported and compiled everything, so each
    restart takes milliseconds instead of seconds of imports)."""
    archive = open_archive(store)  # after a kill: reopens the archive left by the crash
    fh = log.open("a", buffering=1)

    def on_commit(name: str, ids: np.ndarray) -> None:  # type: ignore[type-arg]
        breaks = np.flatnonzero(np.diff(ids) != 1)
        starts = np.concatenate([[0], breaks + 1])
        stops = np.concatenate([breaks, [ids.size - 1]])
        fh.write("".join(f"{name} {ids[a]} {ids[b]}\n" for a, b in zip(starts, stops, strict=True)))

    link = FileLink("file0", tm, rate_pps=RATE_PPS)
    proc = Processor(
        load_testsat(),
        archive,
        links=[link],
        batch_max_age_s=0.005,
        on_commit=on_commit,
        parameter_flush_s=0.0,  # parameters written at every batch: kills hit those writes too
    )
    proc.start()
    link.wait(60)
    proc.stop()
    archive.close()


def reported(log: Path) -> list[tuple[int, int]]:
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:  # a line cut by the kill has fewer fields... or is complete
            out.append((int(parts[1]), int(parts[2])))
    return out


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_committed(tmp_path: Path) -> None:
    rng = random.Random(20261125)  # fixed seed: the kill moments are reproducible
    counts = 6800 + np.arange(N_PACKETS) % 1500
    tm = tmp_path / "tm.bin"
    tm.write_bytes(b"".join(hk_packet(i, 2e9 + i, int(counts[i])) for i in range(N_PACKETS)))
    store = tmp_path / "archive"
    log = tmp_path / "commits.txt"
    log.touch()
    # warm up in the parent: imports, numba compilation, the MDB cache
    split_packets(np.frombuffer(tm.read_bytes()[:1000], np.uint8))
    Decoder(load_testsat())
    killed_after_commit = 0
    for _ in range(KILLS):
        before = len(reported(log))
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                ingest_forever(store, tm, log)
            finally:
                os._exit(0)
        # wait for this run's first commit (at most 30 s), then kill it at a random moment
        # in the next 0..300 ms, in the middle of ingesting
        deadline = time.monotonic() + 30
        while len(reported(log)) == before and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.3))
        killed_after_commit += len(reported(log)) > before
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status)
        assert os.WTERMSIG(status) == signal.SIGKILL
    assert killed_after_commit >= KILLS // 2  # most kills hit a running ingest
    ranges = reported(log)
    with open_archive(store, create=False) as archive:  # opens cleanly after 20 kills
        ids = np.concatenate([b.ids for b in archive.read_packets()])
        present = set(ids.tolist())
        missing = [(a, b) for a, b in ranges if not all(i in present for i in range(a, b + 1))]
        assert missing == []
        assert sum(b - a + 1 for a, b in ranges) <= ids.size
        # what the killed runs wrote live
        live_times: list[int] = []
        live_values: list[float] = []
        if "/TESTSAT/BATT_V" in archive.parameter_names():
            live = archive.read_parameter("BATT_V")
            live_times, live_values = live.time_ns.tolist(), live.eng.tolist()
        # replay twice: both rebuild the same values, equal to decoding the raw packets
        replay(archive, load_testsat())
        first = archive.read_parameter("BATT_V")
        replay(archive, load_testsat())
        second = archive.read_parameter("BATT_V")
        decoded = []
        dec = Decoder(load_testsat())
        for batch in archive.read_packets():
            res = dec.decode(batch.data, batch.offsets, batch.lengths)
            decoded.extend(res.container("HK").column("BATT_V").eng.tolist())
    assert len(first) == ids.size == len(decoded)
    assert first.time_ns.tolist() == second.time_ns.tolist()
    assert first.eng.tolist() == second.eng.tolist()
    assert sorted(first.eng.tolist()) == sorted(decoded)
    # what the killed runs had already written live is part of the rebuilt values
    assert len(live_values) > 0
    pairs = Counter(zip(first.time_ns.tolist(), first.eng.tolist(), strict=True))
    pairs.subtract(Counter(zip(live_times, live_values, strict=True)))
    assert min(pairs.values()) >= 0
