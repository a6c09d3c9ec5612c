"""Resumable ingest in the archive: an input's committed offset moves with its packets.

Every test runs on SQLite and on a real PostgreSQL server (``conftest.py``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from falak.archive import Archive, ArchiveError, open_archive
from falak.ccsds.spacepacket import encode_packet

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in ns


def test_offset_moves_with_the_packets_in_one_transaction(archive: Archive) -> None:
    pkts = [encode_packet(100, bytes(10), seq_count=i) for i in range(4)]
    data = b"".join(pkts) + b"\x00\x01"
    offsets = np.arange(4, dtype=np.int64) * 16
    lengths = np.full(4, 16, dtype=np.int64)
    assert archive.source_progress("sha256:ab") is None
    p = archive.start_source("sha256:ab", "tm.bin", len(data), '{"prefix_bytes": 0}')
    assert (p.committed_bytes, p.size, p.done) == (0, 66, False)
    archive.append_packets(
        data, offsets[:2], lengths[:2], recv_time_ns=T0, link="f", source=("sha256:ab", 0, 32)
    )
    assert archive.source_progress("sha256:ab").committed_bytes == 32  # type: ignore[union-attr]
    # a second run that also starts from 0 is refused, and stores nothing
    with pytest.raises(ArchiveError) as err:
        archive.append_packets(
            data, offsets[:2], lengths[:2], recv_time_ns=T0, link="f", source=("sha256:ab", 0, 32)
        )
    assert str(err.value) == (
        f"input sha256:ab is at byte 32 in {archive.location}, not at byte 0: another run is "
        "ingesting the same file; let it finish (or stop it) and run again"
    )
    assert archive.packet_stats().n_packets == 2
    archive.append_packets(
        data, offsets[2:], lengths[2:], recv_time_ns=T0, link="f", source=("sha256:ab", 32, 64)
    )
    archive.append_rejected(
        data, 64, 66, recv_time_ns=T0, link="f", reason="truncated", source=("sha256:ab", 64, 66)
    )
    p = archive.source_progress("sha256:ab")
    assert p is not None
    assert (p.committed_bytes, p.done, p.name) == (66, True, "tm.bin")
    # start_source keeps the progress, unless told to restart
    assert archive.start_source("sha256:ab", "x", 66, "{}").committed_bytes == 66
    p = archive.start_source("sha256:ab", "again.bin", 66, "{}", restart=True)
    assert (p.committed_bytes, p.name) == (0, "again.bin")


def test_advance_source_checks_where_it_is(archive: Archive) -> None:
    archive.start_source("sha256:cd", "a.bin", 100, "{}")
    archive.advance_source("sha256:cd", 0, 100)
    with pytest.raises(ArchiveError, match=r"^input sha256:ef is never started in "):
        archive.advance_source("sha256:ef", 0, 10)


# ---------------------------------------------------------------------------------------------
# packet-time recipes (issue 13): archived with the packets, so resume and replay stamp alike


def _append_n(
    archive: Archive, n: int, recipe: str | None, source: tuple[str, int, int] | None = None
) -> None:
    pkts = [encode_packet(100, bytes([i]) * 4, seq_count=i) for i in range(n)]
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    archive.append_packets(
        b"".join(pkts), offsets, lengths, recv_time_ns=T0, link="f", source=source,
        packet_time=recipe,
    )  # fmt: skip


def test_packet_time_recipes_by_id_range(archive: Archive) -> None:
    assert archive.packet_time_recipes() == []
    archive.start_source("sha256:ab", "tm.bin", 100, "{}", packet_time="OBT")
    assert archive.source_progress("sha256:ab").packet_time == "OBT"  # type: ignore[union-attr]
    _append_n(archive, 3, "OBT", ("sha256:ab", 0, 30))
    _append_n(archive, 2, "OBT", ("sha256:ab", 30, 50))  # extends the range before
    _append_n(archive, 2, None)  # a live link: nothing recorded
    _append_n(archive, 2, "reception", ("sha256:ab", 50, 70))
    assert archive.packet_time_recipes() == [(1, 5, "OBT"), (8, 9, "reception")]
    # the input's recipe follows what its last packets were stamped with
    assert archive.source_progress("sha256:ab").packet_time == "reception"  # type: ignore[union-attr]
    archive.set_packet_time([(4, 8)], "cds:DOY,MSEC")
    assert archive.packet_time_recipes() == [
        (1, 3, "OBT"), (4, 8, "cds:DOY,MSEC"), (9, 9, "reception"),
    ]  # fmt: skip
    archive.set_packet_time([(1, 3), (9, 9)], "cds:DOY,MSEC")  # merged with its neighbours
    assert archive.packet_time_recipes() == [(1, 9, "cds:DOY,MSEC")]
    archive.set_packet_time([], "OBT")
    assert archive.packet_time_recipes() == [(1, 9, "cds:DOY,MSEC")]


def test_sources_from_before_recipes_are_upgraded(tmp_path: Path) -> None:
    """An archive whose sources table has no packet_time column gains it on open (NULL)."""
    with open_archive(tmp_path / "a") as arc:
        arc.start_source("sha256:ab", "tm.bin", 10, "{}", packet_time="OBT")
    with sqlite3.connect(tmp_path / "a" / "archive.sqlite") as conn:
        conn.execute("ALTER TABLE sources DROP COLUMN packet_time")
        conn.execute("DROP TABLE packet_times")
    with open_archive(tmp_path / "a") as arc:
        p = arc.source_progress("sha256:ab")
        assert p is not None
        assert p.packet_time is None  # not recorded then: the caller's or the MDB's applies
        assert arc.packet_time_recipes() == []
