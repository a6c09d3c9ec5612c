"""SQLite-only behaviour: WAL readers beside a writer process, location errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from falak.archive import ArchiveError, SqliteArchive, open_archive
from falak.archive.sqlite import MAIN_FILE
from falak.errors import InputError

WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from falak.archive import open_archive
    from falak.ccsds.spacepacket import encode_packet

    pkt = encode_packet(42, bytes(1486))  # 1,492-byte packets
    data = pkt * 20
    offsets = np.arange(20, dtype=np.int64) * len(pkt)
    lengths = np.full(20, len(pkt), dtype=np.int64)
    with open_archive(sys.argv[1]) as arc:
        print("ready", flush=True)
        for k in range(int(sys.argv[2])):
            arc.append_packets(data, offsets, lengths, recv_time_ns=np.full(20, k), link="udp")
            time.sleep(0.002)
    """
)


@pytest.mark.slow  # starts a Python process (3-5 s with numba imports on a loaded machine)
def test_reader_beside_a_writer_process(tmp_path: Path) -> None:
    loc = tmp_path / "arc"
    open_archive(loc).close()
    batches = 30
    seen = []
    with (
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(loc), str(batches)],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc,
        open_archive(loc, create=False) as reader,
    ):
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        while proc.poll() is None:
            seen.append(reader.packet_stats().n_packets)  # WAL: never blocked by the writer
            time.sleep(0.01)
        assert proc.wait() == 0
        final = reader.packet_stats()
        assert final.n_packets == 20 * batches
        assert final.by_apid == {42: 20 * batches}
        ids = np.concatenate([b.ids for b in reader.read_packets()])
        assert ids.tolist() == list(range(1, 20 * batches + 1))
    # counts only grow, in whole batches (a reader never sees half a transaction)
    assert seen == sorted(seen)
    assert all(n % 20 == 0 for n in seen)


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from falak.archive import open_archive, ParameterColumn
    from falak.ccsds.spacepacket import encode_packet

    pkts = [encode_packet(7, bytes([i % 256]) * 1486, seq_count=i) for i in range(50)]
    data = b"".join(pkts)
    offsets = np.arange(50, dtype=np.int64) * 1492
    lengths = np.full(50, 1492, dtype=np.int64)
    with open_archive(sys.argv[1]) as arc:
        k = 0
        while True:
            ids = arc.append_packets(data, offsets, lengths, recv_time_ns=np.full(50, k), link="u")
            t = np.arange(k * 50, k * 50 + 50, dtype=np.int64)
            arc.write_parameters("/K/c", t, {"/K/v": ParameterColumn(t, t * 0.5)})
            print(int(ids[-1]), flush=True)  # acknowledged: durable from here on
            k += 1
    """
)


@pytest.mark.slow  # starts a Python process per case
@pytest.mark.parametrize("kill_after_s", [0.3, 0.9])
def test_sigkill_loses_nothing_acknowledged(tmp_path: Path, kill_after_s: float) -> None:
    import signal

    from falak.ccsds.spacepacket import encode_packet

    loc = tmp_path / "arc"
    open_archive(loc).close()
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(loc)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the writer is up and has committed once
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
        acked = [int(first), *(int(line) for line in proc.stdout.read().split())]
        proc.wait()
    with open_archive(loc, create=False) as arc:
        ids = np.concatenate([b.ids for b in arc.read_packets()])
        # every acknowledged batch is there, whole; at most one more (committed, not printed)
        assert ids.size % 50 == 0
        assert ids.tolist() == list(range(1, ids.size + 1))
        assert ids.size in (acked[-1], acked[-1] + 50)
        batch = next(arc.read_packets(batch_size=50))
        assert [batch.packet_bytes(i) for i in range(50)] == [
            encode_packet(7, bytes([i % 256]) * 1486, seq_count=i) for i in range(50)
        ]
        # the parameter archive is consistent too (derived data: it may lag by a batch)
        v = arc.read_parameter("/K/v")
        assert v.time_ns.tolist() == list(range(v.time_ns.size))
        assert ids.size - 50 <= v.time_ns.size <= ids.size


def test_wal_mode_is_on(tmp_path: Path) -> None:
    with SqliteArchive(tmp_path / "a") as arc:
        assert isinstance(arc, SqliteArchive)
        for store in (arc.main, arc.params):
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert arc.main.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert arc.params.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_location_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    with pytest.raises(InputError, match=r"no falak archive at .*nothing \(no archive.sqlite"):
        open_archive(missing, create=False)
    assert not missing.exists()
    afile = tmp_path / "file.txt"
    afile.write_text("hello")
    with pytest.raises(InputError, match=r"file.txt is a file; an embedded falak archive is a dir"):
        open_archive(str(afile))
    with pytest.raises(InputError, match=r"unknown scheme 'mysql'; give a directory path"):
        open_archive("mysql://host/db")
    with pytest.raises(InputError, match="names no directory"):
        open_archive("sqlite:///")
    with pytest.raises(InputError, match="synchronous='SOMETIMES' is not a SQLite level"):
        open_archive(tmp_path / "x", synchronous="SOMETIMES")


def test_sqlite_url_form(tmp_path: Path) -> None:
    with open_archive(f"sqlite://{tmp_path}/u") as arc:
        assert arc.location == str(tmp_path / "u")
    assert (tmp_path / "u" / MAIN_FILE).is_file()
    with open_archive(tmp_path / "u", create=False) as arc:
        assert repr(arc) == f"SqliteArchive('{tmp_path}/u')"


def test_corrupt_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MAIN_FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match=r"does not hold a readable falak archive \(SQLite: "):
        open_archive(bad)
    other = tmp_path / "other"
    other.mkdir()
    import sqlite3

    con = sqlite3.connect(other / MAIN_FILE)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('format', 'someone-else'), ('version', '9')")
    con.commit()
    con.close()
    with pytest.raises(ArchiveError, match=r"not a falak archive of format version 1 \(found "):
        open_archive(other)
