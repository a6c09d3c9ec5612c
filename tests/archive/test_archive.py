"""The archive suite: every test runs against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from falak.archive import (
    AlarmRecord,
    Archive,
    ParameterColumn,
    from_time_ns,
    to_time_ns,
)
from falak.archive.sql import SEGMENT_SAMPLES
from falak.ccsds.spacepacket import encode_packet
from falak.errors import InputError
from falak.tm.tabular import write_csv, write_parquet

from .conftest import Backend

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in ns


def _packets(n: int, *, apids: tuple[int, ...] = (100, 101, 102), size: int = 40) -> list[bytes]:
    rng = np.random.default_rng(n)
    return [
        encode_packet(
            apids[i % len(apids)],
            rng.integers(0, 256, size - 6 + (i % 5), dtype=np.uint8).tobytes(),
            seq_count=i % 16384,
        )
        for i in range(n)
    ]


def _buffer(pkts: list[bytes], gap: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.zeros(len(pkts), dtype=np.int64)
    offsets[1:] = np.cumsum(lengths + gap)[:-1]
    return (b"\xee" * gap).join(pkts), offsets, lengths


# ---------------------------------------------------------------------------------------------
# raw packets


def test_packets_round_trip(archive: Archive) -> None:
    pkts = _packets(50)
    data, offsets, lengths = _buffer(pkts, gap=3)  # bytes between packets are not archived
    times = T0 + np.arange(50, dtype=np.int64) * 1_000_000
    ids1 = archive.append_packets(
        data, offsets[:20], lengths[:20], recv_time_ns=times[:20], link="udp"
    )
    ids2 = archive.append_packets(
        np.frombuffer(data, np.uint8),
        offsets[20:],
        lengths[20:],
        recv_time_ns=times[20:],
        link="tcp",
    )
    ids = np.concatenate([ids1, ids2])
    assert ids.dtype == np.int64
    assert (np.diff(ids) > 0).all()
    batches = list(archive.read_packets(batch_size=16))
    assert [len(b) for b in batches] == [16, 16, 16, 2]
    got = [b.packet_bytes(i) for b in batches for i in range(len(b))]
    assert got == pkts
    assert np.concatenate([b.ids for b in batches]).tolist() == ids.tolist()
    assert np.concatenate([b.recv_time_ns for b in batches]).tolist() == times.tolist()
    links = np.concatenate([b.links for b in batches]).tolist()
    assert links == ["udp"] * 20 + ["tcp"] * 30
    b = batches[0]
    # the batch's buffer is what Decoder.decode takes: packets back to back
    assert b.offsets[0] == 0
    assert (b.offsets[1:] == np.cumsum(b.lengths)[:-1]).all()
    assert b.data.size == int(b.lengths.sum())
    # APID and sequence count come from the primary header (CCSDS 133.0-B-2 §4.1.3)
    assert b.apids[:4].tolist() == [100, 101, 102, 100]
    assert b.seq_counts[:4].tolist() == [0, 1, 2, 3]
    assert (b.status == "").all()


def test_packets_time_and_apid_filter(archive: Archive) -> None:
    pkts = _packets(30)
    data, offsets, lengths = _buffer(pkts)
    times = T0 + np.arange(30, dtype=np.int64) * 10
    archive.append_packets(data, offsets, lengths, recv_time_ns=times, link="file")
    got = list(archive.read_packets(T0 + 50, T0 + 150))  # half-open: 5..14
    assert np.concatenate([b.recv_time_ns for b in got]).tolist() == times[5:15].tolist()
    got = list(archive.read_packets(apids=[101]))
    assert [b.packet_bytes(i) for b in got for i in range(len(b))] == pkts[1::3]
    got = list(archive.read_packets(T0 + 50, apids={100, 102}))
    assert (
        sorted(np.concatenate([b.apids for b in got]).tolist()) == [100] * 8 + [102] * 9
    )  # i = 5..29
    assert list(archive.read_packets(apids=[7])) == []
    assert list(archive.read_packets(apids=[])) == []


def test_scalar_time_and_empty_append(archive: Archive) -> None:
    pkts = _packets(3)
    data, offsets, lengths = _buffer(pkts)
    ids = archive.append_packets(data, offsets, lengths, recv_time_ns=np.int64(T0), link="udp")
    assert ids.size == 3
    empty = np.zeros(0, dtype=np.int64)
    assert archive.append_packets(b"", empty, empty, recv_time_ns=empty, link="udp").size == 0
    (batch,) = archive.read_packets()
    assert batch.recv_time_ns.tolist() == [T0] * 3


def test_packets_out_of_bounds_refused(archive: Archive) -> None:
    with pytest.raises(InputError, match=r"packets must lie inside the data \(0\.\.10 bytes\)"):
        archive.append_packets(
            bytes(10), np.array([0]), np.array([11]), recv_time_ns=np.array([T0]), link="udp"
        )


def test_rejected_status_and_stats(archive: Archive) -> None:
    pkts = _packets(9)
    data, offsets, lengths = _buffer(pkts)
    ids = archive.append_packets(
        data, offsets, lengths, recv_time_ns=T0 + np.arange(9, dtype=np.int64), link="udp"
    )
    garbage = b"\x01\x02\x03garbage!" + pkts[0][:5]
    r1 = archive.append_rejected(garbage, 0, 11, recv_time_ns=T0 + 20, link="udp", reason="garbage")
    r2 = archive.append_rejected(
        np.frombuffer(garbage, np.uint8),
        11,
        16,
        recv_time_ns=T0 + 21,
        link="udp",
        reason="truncated",
    )
    r3 = archive.append_rejected(garbage, 3, 5, recv_time_ns=T0 + 22, link="tcp", reason="garbage")
    assert r1 < r2 < r3
    archive.set_packet_status(ids[[0, 4]], ["no_container", "too_short"])
    archive.set_packet_status(ids[[5]], "no_container")
    stats = archive.packet_stats()
    assert stats.n_packets == 9
    assert stats.by_apid == {100: 3, 101: 3, 102: 3}
    assert (stats.first_recv_ns, stats.last_recv_ns) == (T0, T0 + 8)
    assert stats.rejected == {"garbage": (2, 13), "truncated": (1, 5)}
    assert stats.failed == {"no_container": 2, "too_short": 1}
    (batch,) = archive.read_packets()
    assert batch.status.tolist()[:6] == ["no_container", "", "", "", "too_short", "no_container"]
    rejected = archive.read_rejected()
    assert [r[4] for r in rejected] == [garbage[:11], garbage[11:], garbage[3:5]]
    archive.set_packet_status(ids[[0]], [""])  # decoded after an MDB fix: good again
    assert archive.packet_stats().failed == {"no_container": 1, "too_short": 1}
    with pytest.raises(InputError, match="one reason per id: 2 ids, 1 reasons"):
        archive.set_packet_status(ids[:2], ["x"])


def test_empty_stats(archive: Archive) -> None:
    s = archive.packet_stats()
    assert (s.n_packets, s.by_apid, s.first_recv_ns, s.rejected, s.failed) == (0, {}, None, {}, {})


# ---------------------------------------------------------------------------------------------
# parameters


def _obj(items: list[object]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal dtype, shape and every bit (object elements: equal value and type)."""
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    if a.dtype.kind != "O":
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
        return
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        assert type(x) is type(y)
        if isinstance(x, np.ndarray):
            _assert_same(x, y)
        else:
            assert x == y


def test_every_dtype_round_trips(archive: Archive) -> None:
    n = 6
    t = T0 + np.arange(n, dtype=np.int64) * 1000
    nan32 = np.array([np.nan, -0.0, 1e-45, np.inf, 3.4028235e38, -1.5], dtype=np.float32)
    # a NaN with a payload: bit-exact storage must keep it
    nan32.view(np.uint32)[0] = 0x7FC00001
    columns = {
        "/S/u8": ParameterColumn(np.arange(n, dtype=np.uint8), np.arange(n, dtype=np.uint8)),
        "/S/i64": ParameterColumn(
            np.array([-(2**63), 2**63 - 1, 0, 1, -1, 7], dtype=np.int64),
            np.array([-(2**63), 2**63 - 1, 0, 1, -1, 7], dtype=np.int64),
        ),
        "/S/f32": ParameterColumn(nan32.view(np.uint32), nan32),
        "/S/f64": ParameterColumn(np.arange(n, dtype=np.uint16), np.arange(n) * 0.1 + math.pi),
        "/S/t": ParameterColumn(
            np.arange(n, dtype=np.uint32),
            np.array(
                [
                    "2026-01-01T00:00:00.123456789",
                    "NaT",
                    "1970-01-01",
                    "2100-12-31",
                    "2026-11-25T12:00",
                    "2000-01-01",
                ],
                dtype="datetime64[ns]",
            ),
        ),
        "/S/flag": ParameterColumn(
            np.array([0, 1, 1, 0, 1, 0], dtype=np.uint8),
            np.array([False, True, True, False, True, False]),
        ),
        "/S/mode": ParameterColumn(
            np.array([0, 1, 2, 1, 0, 2], dtype=np.uint8),
            _obj(["SAFE", "NOMINAL", "SCIENCE", "NOMINAL", "SAFE", "Ωμ°"]),
        ),
        "/S/blob": ParameterColumn(
            _obj([b"", b"\x00\xff", b"abc", b"\x01" * 300, b"z", b"\x80"]),
            _obj([b"", b"\x00\xff", b"abc", b"\x01" * 300, b"z", b"\x80"]),
        ),
        "/S/var": ParameterColumn(
            _obj([np.arange(k, dtype=np.int16) for k in range(n)]),
            _obj([[{"x": 1, "y": 2.5}], [], None, [{"x": -3, "y": float("inf")}], "s", (1, b"b")]),
        ),
        "/S/mat": ParameterColumn(
            np.arange(n * 6, dtype=np.int32).reshape(n, 2, 3),
            np.arange(n * 6, dtype=np.float64).reshape(n, 2, 3) / 7,
        ),
        "/S/monitored": ParameterColumn(
            np.arange(n, dtype=np.int8),
            np.arange(n, dtype=np.float32),
            status=np.array([0, 1, 2, 3, 4, 5], dtype=np.uint8),
        ),
    }
    archive.write_parameters("/S/container", t, columns)
    assert archive.parameter_names() == sorted(columns)
    for name, col in columns.items():
        s = archive.read_parameter(name)
        assert s.time_ns.tolist() == t.tolist()
        _assert_same(s.raw, col.raw)
        _assert_same(s.eng, col.eng)
        expected_status = col.status if col.status is not None else np.zeros(n, np.uint8)
        _assert_same(s.status, expected_status)
    assert math.isnan(archive.read_parameter("/S/f32").eng[0])


def test_present_mask_and_short_names(archive: Archive) -> None:
    t = T0 + np.arange(5, dtype=np.int64)
    present = np.array([True, False, True, False, True])
    vals = np.array([1.0, -999.0, 3.0, -999.0, 5.0])
    archive.write_parameters(
        "/S/c", t, {"/S/opt": ParameterColumn(vals, vals * 2, present=present)}
    )
    s = archive.read_parameter("opt")  # short name, unique
    assert s.name == "/S/opt"
    assert s.time_ns.tolist() == t[present].tolist()
    assert s.raw.tolist() == [1.0, 3.0, 5.0]
    assert s.eng.tolist() == [2.0, 6.0, 10.0]
    archive.write_parameters("/R/c", t, {"/R/opt": ParameterColumn(vals, vals)})
    with pytest.raises(InputError, match=r"'opt' is ambiguous .*: /R/opt, /S/opt"):
        archive.read_parameter("opt")
    # a name never archived (nothing decoded yet, or a typo): an empty series
    nope = archive.read_parameter("nope")
    assert len(nope) == 0
    assert nope.eng.dtype == np.float64


def test_range_reads_across_segments(archive: Archive) -> None:
    # a write larger than a segment is split; many small writes are merged
    n = SEGMENT_SAMPLES + 1000
    t = T0 + np.arange(n, dtype=np.int64) * 10
    v = np.arange(n, dtype=np.float64)
    archive.write_parameters("/G/big", t, {"/G/x": ParameterColumn(v.astype(np.int64), v)})
    for k in range(70):  # 70 writes of 3 samples each, after the big one
        tk = t[-1] + 10 + np.arange(3 * k, 3 * k + 3, dtype=np.int64) * 10
        archive.write_parameters(
            "/G/big",
            tk,
            {
                "/G/x": ParameterColumn(
                    np.arange(n + 3 * k, n + 3 * k + 3), np.arange(n + 3 * k, n + 3 * k + 3) * 1.0
                )
            },
        )
    total = n + 210
    full = archive.read_parameter("/G/x")
    assert full.eng.tolist() == list(map(float, range(total)))
    assert (np.diff(full.time_ns) == 10).all()
    # range straddling the split point and the merged small segments: half-open [start, stop)
    lo, hi = SEGMENT_SAMPLES - 5, n + 50
    s = archive.read_parameter("/G/x", int(T0 + lo * 10), int(T0 + hi * 10))
    assert s.raw.tolist() == list(range(lo, hi))
    s = archive.read_parameter("/G/x", int(T0 + lo * 10 + 1), int(T0 + lo * 10 + 10))
    assert len(s) == 0
    assert s.raw.dtype == np.int64
    assert s.eng.dtype == np.float64
    assert len(archive.read_parameter("/G/x", T0 - 100, T0)) == 0


def test_small_writes_are_merged(archive: Archive) -> None:
    # a live stream writes a sample or two per call; segments must not pile up
    for k in range(300):
        t = np.array([T0 + k], dtype=np.int64)
        archive.write_parameters(
            "/L/c", t, {"/L/v": ParameterColumn(np.array([k]), np.array([k * 0.5]))}
        )
    segments, samples = archive.segment_stats()["/L/c"]
    assert samples == 300
    # 300 = 4·64 + 5·8 + 4·1: one segment per digit of 300 in base 8 (LSM merging, fan-out 8)
    assert segments == 4 + 5 + 4
    s = archive.read_parameter("/L/v", T0 + 100, T0 + 200)
    assert s.raw.tolist() == list(range(100, 200))


def test_two_writers_get_increasing_ids(backend: Backend) -> None:
    import threading

    pkts = _packets(4)
    data, offsets, lengths = _buffer(pkts)
    with backend.open() as a1, backend.open() as a2:
        got: list[np.ndarray] = []

        def write(arc: Archive) -> None:
            for _ in range(15):
                got.append(
                    arc.append_packets(
                        data, offsets, lengths, recv_time_ns=np.full(4, T0), link="x"
                    )
                )

        threads = [threading.Thread(target=write, args=(a,)) for a in (a1, a2, a1)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ids = np.concatenate(got)
        assert sorted(ids.tolist()) == list(range(1, 181))  # none lost, none repeated
        assert all((np.diff(g) == 1).all() for g in got)  # each batch is contiguous
        assert a2.packet_stats().n_packets == 180


def test_unsorted_and_overlapping_writes(archive: Archive) -> None:
    t = T0 + np.array([5, 1, 3], dtype=np.int64)
    archive.write_parameters(
        "/G/a", t, {"/G/p": ParameterColumn(np.array([50, 10, 30]), np.array([50, 10, 30]))}
    )
    archive.write_parameters(
        "/G/a",
        T0 + np.array([2, 4], dtype=np.int64),
        {"/G/p": ParameterColumn(np.array([20, 40]), np.array([20, 40]))},
    )
    s = archive.read_parameter("/G/p")
    assert s.time_ns.tolist() == (T0 + np.arange(1, 6)).tolist()
    assert s.raw.tolist() == [10, 20, 30, 40, 50]


def test_multi_group_parameter(archive: Archive) -> None:
    # a header parameter decoded in two containers: read gathers both, ordered by time
    ta = T0 + np.array([0, 2, 4], dtype=np.int64)
    tb = T0 + np.array([1, 3], dtype=np.int64)
    archive.write_parameters(
        "/M/hk",
        ta,
        {
            "/M/apid": ParameterColumn(
                np.array([1, 1, 1], np.uint16), np.array([1, 1, 1], np.uint16)
            ),
            "/M/temp": ParameterColumn(np.array([1, 2, 3], np.uint16), np.array([1.5, 2.5, 3.5])),
        },
    )
    archive.write_parameters(
        "/M/sci",
        tb,
        {
            "/M/apid": ParameterColumn(np.array([2, 2], np.uint16), np.array([2, 2], np.uint16)),
        },
    )
    s = archive.read_parameter("/M/apid")
    assert s.raw.tolist() == [1, 2, 1, 2, 1]
    assert s.raw.dtype == np.uint16
    groups = archive.parameter_groups()
    assert groups == {"/M/hk": ["/M/apid", "/M/temp"], "/M/sci": ["/M/apid"]}


def test_delete_then_rewrite(archive: Archive) -> None:
    t = T0 + np.arange(100, dtype=np.int64)
    v = np.arange(100, dtype=np.int32)
    for k in range(0, 100, 10):  # 10 segments of 10 samples
        archive.write_parameters(
            "/D/c", t[k : k + 10], {"/D/v": ParameterColumn(v[k : k + 10], v[k : k + 10])}
        )
    assert archive.delete_parameters(T0 + 15, T0 + 42) == 27  # inside and straddling segments
    s = archive.read_parameter("/D/v")
    assert s.raw.tolist() == [*range(15), *range(42, 100)]
    # replay rebuilds the range
    archive.write_parameters("/D/c", t[15:42], {"/D/v": ParameterColumn(v[15:42], v[15:42])})
    assert archive.read_parameter("/D/v").raw.tolist() == list(range(100))
    assert archive.delete_parameters() == 100
    s = archive.read_parameter("/D/v")  # the name stays known, with its dtype
    assert len(s) == 0
    assert s.raw.dtype == np.int32
    assert archive.parameter_names() == ["/D/v"]


def test_write_parameters_length_mismatch(archive: Archive) -> None:
    with pytest.raises(
        InputError, match=r"parameter /X/p: eng has 2 samples but there are 3 times"
    ):
        archive.write_parameters(
            "/X/c", np.arange(3), {"/X/p": ParameterColumn(np.arange(3), np.arange(2))}
        )


# ---------------------------------------------------------------------------------------------
# export


def _export_fixture(archive: Archive) -> None:
    t1 = T0 + np.array([0, 10, 20, 30], dtype=np.int64)
    t2 = T0 + np.array([10, 25, 30], dtype=np.int64)
    archive.write_parameters(
        "/E/hk",
        t1,
        {
            "/E/temp": ParameterColumn(
                np.array([100, 110, 120, 130], np.uint16), np.array([10.0, 11.0, 12.0, 13.0])
            ),
            "/E/mode": ParameterColumn(
                np.array([0, 1, 1, 0], np.uint8), _obj(["SAFE", "NOMINAL", "NOMINAL", "SAFE"])
            ),
        },
    )
    archive.write_parameters(
        "/E/sci",
        t2,
        {
            "/E/sci/temp": ParameterColumn(
                np.array([7, 8, 9], np.int16), np.array([0.5, 0.25, 0.125], np.float32)
            ),
        },
    )


def test_export_aligned(archive: Archive) -> None:
    _export_fixture(archive)
    table = archive.export(["/E/temp", "mode", "/E/sci/temp"])
    # "temp" is ambiguous between the two chosen parameters: qualified names
    assert table.names == ["time", "/E/temp", "mode", "/E/sci/temp"]
    assert len(table) == 5  # distinct times 0, 10, 20, 25, 30
    assert table.values[0].dtype == np.dtype("datetime64[ns]")
    assert (table.values[0].astype(np.int64) - T0).tolist() == [0, 10, 20, 25, 30]
    assert table.present[1].tolist() == [True, True, True, False, True]
    assert table.present[3].tolist() == [False, True, False, True, True]
    assert table.values[3][table.present[3]].tolist() == [0.5, 0.25, 0.125]
    raw = archive.export(["mode", "/E/sci/temp"], T0 + 10, T0 + 30, raw=True)
    assert raw.names == ["time", "mode", "temp"]
    assert raw.values[1][raw.present[1]].tolist() == [1, 1]
    assert raw.values[2][raw.present[2]].tolist() == [7, 8]


def test_export_csv_and_parquet(archive: Archive, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    _export_fixture(archive)
    table = archive.export(["/E/temp", "mode", "/E/sci/temp"])
    write_csv(table, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", "/E/temp", "mode", "/E/sci/temp"]
    # T0 = 2025-11-24T16:00:00Z; tabular writes microseconds with Z
    assert rows[1] == ["2025-11-24T16:00:00.000000Z", "10.0", "SAFE", ""]
    assert rows[4] == ["2025-11-24T16:00:00.000000Z", "", "", "0.25"]
    write_parquet(table, tmp_path / "out.parquet")
    pt = pq.read_table(tmp_path / "out.parquet")
    assert pt.column_names == table.names
    assert pt.column("/E/sci/temp").to_pylist() == [None, 0.5, None, 0.25, 0.125]
    assert pt.column("mode").to_pylist() == ["SAFE", "NOMINAL", "NOMINAL", None, "SAFE"]
    assert pt.column("time").to_numpy().astype(np.int64).tolist() == [
        T0,
        T0 + 10,
        T0 + 20,
        T0 + 25,
        T0 + 30,
    ]


# ---------------------------------------------------------------------------------------------
# events, alarms, commands


def test_events(archive: Archive) -> None:
    i1 = archive.append_event(T0 + 5, "processor", "warning", "link lost", link="udp", n=3)
    i2 = archive.append_event(T0 + 1, "user", "info", "pass start", blob=b"\x00\x01")
    events = archive.read_events()
    assert [e.id for e in events] == [i2, i1]  # by time
    assert events[1].attrs == {"link": "udp", "n": 3}
    assert events[0].attrs == {"blob": b"\x00\x01"}
    assert [e.message for e in archive.read_events(T0 + 2)] == ["link lost"]


def test_alarms(archive: Archive) -> None:
    recs = [
        AlarmRecord(T0, "/S/temp", "WARNING", "41.5", "triggered"),
        AlarmRecord(T0 + 5, "/S/temp", "WARNING", "41.5", "acknowledged", "ayesha", "heater on"),
        AlarmRecord(T0 + 7, "/S/volt", "CRITICAL", "3.1", "triggered"),
        AlarmRecord(T0 + 9, "/S/temp", "NORMAL", "30.0", "cleared"),
    ]
    for r in recs:
        archive.append_alarm(r)
    assert archive.read_alarms() == recs
    assert archive.read_alarms(parameter="/S/temp") == [recs[0], recs[1], recs[3]]
    assert archive.read_alarms(T0 + 1, T0 + 9) == recs[1:3]
    with pytest.raises(InputError, match="alarm state 'raised' is unknown; use one of triggered"):
        archive.append_alarm(AlarmRecord(T0, "/S/x", "WARNING", "1", "raised"))
    with pytest.raises(InputError, match="alarm level 'HOT' is unknown; use one of NORMAL"):
        archive.append_alarm(AlarmRecord(T0, "/S/x", "HOT", "1", "triggered"))


def test_commands(archive: Archive) -> None:
    c1 = archive.append_command(
        {"time_ns": T0, "name": "/S/HEATER_ON", "args": {"zone": 2}, "binary": b"\x18\x01"}
    )
    c2 = archive.append_command({"time_ns": T0 + 3, "name": "/S/PING", "args": {}})
    archive.update_command(c1, status="released", verifiers={"complete": "ok"})
    cmds = archive.read_commands()
    assert [c["id"] for c in cmds] == [c1, c2]
    assert cmds[0] == {
        "id": c1,
        "time_ns": T0,
        "name": "/S/HEATER_ON",
        "args": {"zone": 2},
        "binary": b"\x18\x01",
        "status": "released",
        "verifiers": {"complete": "ok"},
    }
    assert [c["id"] for c in archive.read_commands(T0 + 1)] == [c2]
    with pytest.raises(InputError, match="no command with id 999"):
        archive.update_command(999, status="x")


# ---------------------------------------------------------------------------------------------
# persistence, errors


def test_reopen_after_close(backend: Backend) -> None:
    pkts = _packets(5)
    data, offsets, lengths = _buffer(pkts)
    with backend.open() as arc:
        ids = arc.append_packets(data, offsets, lengths, recv_time_ns=np.full(5, T0), link="udp")
        arc.write_parameters(
            "/P/c", np.array([T0]), {"/P/v": ParameterColumn(np.array([7]), np.array([7.5]))}
        )
        arc.append_event(T0, "test", "info", "hello")
    arc.close()  # idempotent
    with pytest.raises(InputError, match="is closed; open it again"):
        arc.packet_stats()
    with backend.open(create=False) as arc2:
        (batch,) = arc2.read_packets()
        assert batch.ids.tolist() == ids.tolist()
        assert [batch.packet_bytes(i) for i in range(5)] == pkts
        assert arc2.read_parameter("/P/v").eng.tolist() == [7.5]
        assert [e.message for e in arc2.read_events()] == ["hello"]
        more = arc2.append_packets(data, offsets, lengths, recv_time_ns=np.full(5, T0), link="x")
        assert more.min() > ids.max()


def test_missing_archive_not_created(backend: Backend) -> None:
    with pytest.raises(InputError, match="no falak archive"):
        backend.open(create=False)
    with backend.open() as arc:  # still creatable afterwards
        assert arc.packet_stats().n_packets == 0


def test_unreachable_postgres() -> None:
    from falak.archive import ArchiveError, open_archive

    # port 1 on localhost: nothing listens there, the connection is refused at once
    with pytest.raises(ArchiveError, match=r"cannot connect to the PostgreSQL archive .*:1/x: "):
        open_archive("postgresql://falak:secret@127.0.0.1:1/x", connect_timeout_s=2)
    with pytest.raises(ArchiveError) as info:
        open_archive("postgresql://falak:secret@127.0.0.1:1/x", connect_timeout_s=2)
    assert "secret" not in str(info.value)  # the password is not echoed


def test_time_helpers() -> None:
    import datetime as dt

    when = dt.datetime(2025, 11, 24, 16, 0, tzinfo=dt.UTC)
    assert to_time_ns(when) == T0
    assert to_time_ns(np.datetime64("2025-11-24T16:00:00", "s")) == T0
    arr = to_time_ns(np.array(["2025-11-24T16:00:00"], dtype="datetime64[ns]"))
    assert arr.dtype == np.int64
    assert arr.tolist() == [T0]
    assert from_time_ns(T0, as_datetime=True) == when
    assert from_time_ns(np.array([T0])).dtype == np.dtype("datetime64[ns]")
    with pytest.raises(InputError, match=r"naive datetime .* is ambiguous"):
        to_time_ns(dt.datetime(2025, 1, 1))


def test_public_names() -> None:
    import falak.archive

    # the API the processor, replay and `falak archive` code against (pinned on purpose)
    assert sorted(falak.archive.__all__) == [
        "ALARM_STATES", "AlarmRecord", "Archive", "ArchiveError", "Event", "PacketBatch",
        "PacketStats", "ParameterColumn", "ParameterSeries", "ParameterWrite", "SourceProgress",
        "SqliteArchive", "StoredFile", "decode_array",
        "encode_array", "from_time_ns", "list_spacecraft", "open_archive", "to_time_ns",
    ]  # fmt: skip
