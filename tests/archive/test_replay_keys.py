"""A replay deletes exactly the samples of the packets it decodes again (issue 13).

A time range selects packets by *reception* time. Deleting the old samples by their own
(packet) time instead left the samples of packets received in the range but stamped outside
it (decoded again: doubled), and dropped those stamped in the range but received outside it
(still covered: never written again). Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from falak.archive import Archive, ParameterColumn, ParameterWrite, open_archive
from falak.errors import InputError
from falak.processor import catch_up, replay
from falak.processor.packettime import PacketTime
from tests.processor.testsat import hk_packet, load_testsat

from .conftest import Backend

N = 40
OBT0_S = 2_000_000_000.0  # on-board seconds since the MDB's TAI epoch


def _packets() -> list[bytes]:
    """HK packets whose on-board times run backwards: packet i at OBT0 + N-1-i s."""
    return [hk_packet(i, OBT0_S + (N - 1 - i), batt_v_counts=7000 + i) for i in range(N)]


def _append(arc: Archive, pkts: list[bytes], recv_ns: np.ndarray) -> np.ndarray:
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return arc.append_packets(b"".join(pkts), offsets, lengths, recv_time_ns=recv_ns, link="t")


def _packet_times(tmp: Backend) -> np.ndarray:
    """The packet time the testsat MDB gives each packet (decoded once in a scratch archive)."""
    with open_archive(tmp.location, spacecraft="SCRATCH") as arc:
        _append(arc, _packets(), np.arange(1, N + 1, dtype=np.int64))
        catch_up(arc, load_testsat())
        s = arc.read_parameter("BATT_V")
    by_packet = np.empty(N, dtype=np.int64)
    by_packet[np.rint(s.raw).astype(int) - 7000] = s.time  # raw counts 7000 + i identify i
    return by_packet


def _counts(arc: Archive) -> list[int]:
    """How many BATT_V samples each packet (0..N-1) has in the parameter archive."""
    s = arc.read_parameter("BATT_V")
    return np.bincount(np.rint(s.raw).astype(int) - 7000, minlength=N).tolist()


def test_time_range_replay_twice_keeps_one_sample_per_packet(backend: Backend) -> None:
    pt = _packet_times(backend)  # decreasing: packet i is stamped at pt[i]
    recv = np.sort(pt)  # packet i is received when packet N-1-i was generated
    with open_archive(backend.location, spacecraft="SC") as arc:
        _append(arc, _packets(), recv)
        catch_up(arc, load_testsat())
        assert _counts(arc) == [1] * N
        # packets received in [recv[10], recv[20]) are 10..19; stamped there are 20..29
        for _ in range(2):
            res = replay(arc, load_testsat(), start_ns=int(recv[10]), stop_ns=int(recv[20]))
            assert res.packets == 10
            assert res.samples_deleted == 10
            assert _counts(arc) == [1] * N
        assert arc.packets_without_parameters() == []
        s = arc.read_parameter("BATT_V")
        assert s.time.tolist() == sorted(pt.tolist())  # each at its packet time, once


def test_samples_without_packet_ids_still_go_by_time(archive: Archive) -> None:
    """Rows written without packet ids (write_parameters, older archives): by sample time."""
    t = 1_000 + np.arange(10, dtype=np.int64)
    v = np.arange(10.0)
    archive.write_parameters("/U/g", t, {"/U/v": ParameterColumn(v, v)})
    ids = _append(archive, _packets()[:4], 1_000 + np.arange(4, dtype=np.int64) * 100)
    # samples of packets 1..4 stamped 5_000.., received 1_000, 1_100, 1_200, 1_300
    archive.commit_parameters(
        [ParameterWrite("/U/p", 5_000 + ids, {"/U/w": ParameterColumn(ids * 1.0, ids * 1.0)}, ids)],
        ids,
    )
    # [1_003, 1_150): samples 3..9 of /U/v by time, and the samples of packets 2 (at 1_100)
    assert archive.delete_parameters(1_003, 1_150) == 7 + 1
    assert archive.read_parameter("/U/v").raw.tolist() == [0.0, 1.0, 2.0]
    assert archive.read_parameter("/U/w").raw.tolist() == [1.0, 3.0, 4.0]


def test_archive_without_packet_columns_is_upgraded(tmp_path: Path) -> None:
    """A parameter archive from before segments recorded packet ids gains the columns on
    open; its old segments are deleted by sample time, as they were then."""
    location = tmp_path / "old"
    with open_archive(location) as arc:
        ids = _append(arc, _packets()[:3], np.array([10, 20, 30], dtype=np.int64))
        t = np.array([100, 200, 300], dtype=np.int64)
        w = ParameterWrite("/O/g", t, {"/O/v": ParameterColumn(ids * 1.0, ids * 1.0)}, ids)
        arc.commit_parameters([w], ids)
    with sqlite3.connect(location / "parameters.sqlite") as conn:  # as falak 0.x left it
        conn.execute("DROP INDEX segments_packets")
        for col in ("packets", "p_first", "p_last"):
            conn.execute(f"ALTER TABLE segments DROP COLUMN {col}")
    with open_archive(location) as arc:
        assert arc.read_parameter("v").raw.tolist() == [1.0, 2.0, 3.0]
        assert arc.delete_parameters(150, 250) == 1  # by sample time: the one at 200
        assert arc.read_parameter("v").raw.tolist() == [1.0, 3.0]
    with sqlite3.connect(location / "parameters.sqlite") as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(segments)")]
    assert cols[-3:] == ["packets", "p_first", "p_last"]


def test_replay_refuses_a_recorded_recipe_the_mdb_cannot_build(backend: Backend) -> None:
    with open_archive(backend.location, spacecraft="SC") as arc:
        ids = _append(arc, _packets()[:3], np.arange(1, 4, dtype=np.int64))
        catch_up(arc, load_testsat())
        arc.set_packet_time([(int(ids[0]), int(ids[-1]))], "NO_SUCH_TIME")
        with pytest.raises(InputError, match="the packet-time recipe 'NO_SUCH_TIME' archived at"):
            replay(arc, load_testsat())
        assert _counts(arc)[:3] == [1, 1, 1]  # nothing deleted
        assert arc.packets_without_parameters() == []
        replay(arc, load_testsat(), packet_time=PacketTime.parse("reception", load_testsat()))
        assert arc.read_parameter("BATT_V").time.tolist() == [1, 2, 3]
        assert arc.packet_time_recipes() == [(1, 3, "reception")]
