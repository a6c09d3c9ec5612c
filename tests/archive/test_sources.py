"""Resumable ingest in the archive: an input's committed offset moves with its packets.

Every test runs on SQLite and on a real PostgreSQL server (``conftest.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from falak.archive import Archive, ArchiveError
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
