"""Coverage: which raw packets have their parameters committed (issue 12, "Crash and restart").

Every test runs on SQLite and on a real PostgreSQL server (``conftest.py``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from falak.archive import Archive, ParameterColumn, ParameterWrite, open_archive
from falak.ccsds.spacepacket import encode_packet

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in ns


def _append(archive: Archive, n: int, t0: int = T0) -> np.ndarray:
    pkts = [encode_packet(100, bytes([i % 256]) * 8, seq_count=i) for i in range(n)]
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    times = t0 + np.arange(n, dtype=np.int64) * 1_000_000_000
    return archive.append_packets(b"".join(pkts), offsets, lengths, recv_time_ns=times, link="udp")


def _write(ids: np.ndarray) -> ParameterWrite:
    """One sample per packet: value = packet id, time = T0 + id s."""
    t = T0 + ids.astype(np.int64) * 1_000_000_000
    v = ids.astype(np.float64)
    return ParameterWrite("/K/hk", t, {"/K/v": ParameterColumn(v, v)}, ids)


def test_new_archive_has_nothing_covered(archive: Archive) -> None:
    assert archive.parameter_coverage() == []
    assert archive.packets_without_parameters() == []
    _append(archive, 10)
    assert archive.packets_without_parameters() == [(1, 10)]


def test_commit_covers_the_packets_and_their_rows(archive: Archive) -> None:
    ids = _append(archive, 10)
    assert archive.commit_parameters([_write(ids[:4])], ids[:4]) == 0
    # packets 5..6 decoded to nothing (failed): covered all the same
    assert archive.commit_parameters([], ids[4:6]) == 0
    assert archive.parameter_coverage() == [(1, 6)]
    assert archive.packets_without_parameters() == [(7, 10)]
    assert archive.read_parameter("v").eng.tolist() == [1.0, 2.0, 3.0, 4.0]
    archive.commit_parameters([_write(ids[8:])], ids[8:])
    assert archive.parameter_coverage() == [(1, 6), (9, 10)]
    assert archive.packets_without_parameters() == [(7, 8)]


def test_packets_committed_twice_are_archived_once(archive: Archive) -> None:
    """A catch-up killed after its commit, then run again, or two writers of one packet."""
    ids = _append(archive, 10)
    archive.commit_parameters([_write(ids[:6])], ids[:6])
    # the second writer's batch overlaps: packets 4..6 are skipped, 7..10 written
    assert archive.commit_parameters([_write(ids[3:])], ids[3:]) == 3
    series = archive.read_parameter("v")
    assert series.eng.tolist() == [float(i) for i in range(1, 11)]
    assert archive.parameter_coverage() == [(1, 10)]
    assert archive.commit_parameters([_write(ids)], ids) == 10
    assert len(archive.read_parameter("v")) == 10


def test_rows_without_packet_ids_are_always_written(archive: Archive) -> None:
    ids = _append(archive, 3)
    archive.commit_parameters([_write(ids)], ids)
    t = np.array([T0], dtype=np.int64)
    v = np.array([9.0])
    archive.commit_parameters([ParameterWrite("/K/hk", t, {"/K/v": ParameterColumn(v, v)})], ids)
    assert len(archive.read_parameter("v")) == 4


def test_delete_uncovers_the_packets_received_in_the_range(archive: Archive) -> None:
    ids = _append(archive, 10)  # packet i received at T0 + (i - 1) s
    archive.commit_parameters([_write(ids)], ids)
    # packets 5..7 were received then (their samples are at T0 + 5..7 s, not 4..6: the
    # samples deleted are those of the packets received in the range, which replay rewrites)
    assert archive.delete_parameters(T0 + 4_000_000_000, T0 + 7_000_000_000) == 3
    assert archive.read_parameter("v").eng.tolist() == [1.0, 2.0, 3.0, 4.0, 8.0, 9.0, 10.0]
    assert archive.packets_without_parameters() == [(5, 7)]
    assert archive.parameter_coverage() == [(1, 4), (8, 10)]
    archive.delete_parameters()
    assert archive.parameter_coverage() == []
    assert archive.packets_without_parameters() == [(1, 10)]


def test_read_packets_by_id_range(archive: Archive) -> None:
    _append(archive, 30)
    got = np.concatenate([b.ids for b in archive.read_packets(id_range=(5, 17), batch_size=4)])
    assert got.tolist() == list(range(5, 18))
    got = np.concatenate(
        [b.ids for b in archive.read_packets(T0 + 9_000_000_000, id_range=(5, 17))]
    )
    assert got.tolist() == list(range(10, 18))  # packet 10 was received at T0 + 9 s


def test_an_archive_from_before_coverage_counts_as_complete(tmp_path: Path) -> None:
    """Older archives had no coverage: their parameters are taken as complete (once)."""
    with open_archive(tmp_path / "a") as archive:
        ids = _append(archive, 5)
        archive.commit_parameters([_write(ids)], ids)
    # make it look like an archive written before coverage existed
    with sqlite3.connect(tmp_path / "a" / "parameters.sqlite") as conn:
        conn.execute("DROP TABLE coverage")
        conn.execute("DELETE FROM meta WHERE key = 'coverage'")
    with open_archive(tmp_path / "a") as archive:
        assert archive.parameter_coverage() == [(1, 5)]
        _append(archive, 2)
        assert archive.packets_without_parameters() == [(6, 7)]
