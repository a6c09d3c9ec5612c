"""Catch-up at start: raw packets left without parameters are decoded once (issue 12).

In-process, on SQLite and PostgreSQL: a processor whose buffered parameters were never
written (what a SIGKILL does; ``test_crash_restart.py`` kills real processes), then a new
processor on the same archive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falak.archive import Archive, open_archive
from falak.links.base import ReceivedBatch
from falak.processor import Processor, catch_up

from ..archive.conftest import Backend
from .testsat import hk_packet, load_testsat

N = 500


def _batch(first: int, n: int) -> ReceivedBatch:
    pkts = [hk_packet(i, 2e9 + i, 7000 + i) for i in range(first, first + n)]
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    data = np.frombuffer(b"".join(pkts), np.uint8)
    recv = 1_764_000_000_000_000_000 + np.arange(first, first + n, dtype=np.int64)
    return ReceivedBatch("file0", data, offsets, lengths, recv)


def _crashed_run(archive: Archive) -> None:
    """Archive N raw packets, commit the parameters of the first 200 only, then "die"."""
    proc = Processor(load_testsat(), archive, parameter_flush_s=3600.0)
    proc.process([_batch(0, 200)])
    proc.flush()
    proc.process([_batch(200, N - 200)])  # parameters still buffered: lost with the process


def test_start_catches_up_and_reports_it(backend: Backend) -> None:
    with backend.open() as archive:
        _crashed_run(archive)
    with backend.open() as archive:
        assert archive.packets_without_parameters() == [(201, N)]
        assert len(archive.read_parameter("BATT_V")) == 200
        proc = Processor(load_testsat(), archive)
        proc.start()
        assert proc.wait_caught_up(60)
        st = proc.stats()
        proc.stop()
        assert (st.catch_up_behind, st.catch_up_done, st.catching_up) == (N - 200, N - 200, False)
        assert archive.packets_without_parameters() == []
        series = archive.read_parameter("BATT_V")
        # one sample per packet, none twice: BATT_V is 1 mV per count (testsat.py)
        assert sorted(series.eng.round(3).tolist()) == [round(7.0 + i / 1000, 3) for i in range(N)]
        messages = [(e.severity, e.message) for e in archive.read_events()]
        assert (
            "warning",
            f"parameters behind raw by {N - 200} packets (ids 201..{N}): catching up",
        ) in messages
        caught = [m for s, m in messages if m.startswith("caught up")]
        assert len(caught) == 1
        assert caught[0].startswith(f"caught up {N - 200} packets that had no parameters in ")
        assert caught[0].endswith(f" s: {N - 200} decoded, 0 not decoded")
        # a second start has nothing to do and says nothing about it
        proc = Processor(load_testsat(), archive)
        proc.start()
        proc.stop()
        assert proc.stats().catch_up_behind == 0
        assert len([e for e in archive.read_events() if "catching up" in e.message]) == 1


def test_catch_up_twice_writes_each_packet_once(archive: Archive) -> None:
    """Two catch-ups of the same packets (two processes, or one killed after its commit)."""
    _crashed_run(archive)
    ranges = archive.packets_without_parameters()
    first = catch_up(archive, load_testsat(), ranges=ranges)
    assert (first.behind, first.packets, first.packets_skipped, first.complete) == (
        N - 200,
        N - 200,
        0,
        True,
    )
    again = catch_up(archive, load_testsat(), ranges=ranges)
    assert (again.packets, again.packets_skipped) == (N - 200, N - 200)
    assert len(archive.read_parameter("BATT_V")) == N


def test_stop_interrupts_the_catch_up_and_the_next_start_goes_on(archive: Archive) -> None:
    import threading

    _crashed_run(archive)
    stop = threading.Event()
    stop.set()  # stopped at once: the first batch is committed, then it ends
    res = catch_up(archive, load_testsat(), batch_size=100, stop=stop)
    assert (res.behind, res.packets, res.complete) == (N - 200, 100, False)
    assert archive.packets_without_parameters() == [(301, N)]
    res = catch_up(archive, load_testsat())
    assert (res.behind, res.packets, res.complete) == (N - 300, N - 300, True)
    assert len(archive.read_parameter("BATT_V")) == N


def test_packets_the_decoder_raised_on_are_not_caught_up_at_every_start(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They were processed (marked ``decoder_error``): a replay, not each start, redoes them."""
    proc = Processor(load_testsat(), archive)

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("strides is incompatible with shape of requested array")

    monkeypatch.setattr(proc.chain.decoder, "decode", broken)
    proc.process([_batch(0, 20)])
    proc.flush()
    assert archive.packet_stats().failed == {"decoder_error": 20}
    assert archive.packets_without_parameters() == []


def test_live_packets_record_their_packet_time_recipe(tmp_path: Path) -> None:
    # A replay stamps each packet with the recipe the archive recorded for it (issue 12's
    # follow-up); live links recorded none, so a replay silently used whatever the MDB said
    # at replay time.
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(load_testsat(), archive)
        ids = proc.process([_batch(0, 10)])
        proc.flush()
        assert archive.packet_time_recipes() == [(int(ids[0]), int(ids[-1]), "auto")]
