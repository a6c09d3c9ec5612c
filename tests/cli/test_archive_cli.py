"""``falak archive``: ingest real packet files, export, compare with ``falak tm decode``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli.app import app
from tests.archive import conftest as archive_conftest
from tests.archive.conftest import PgServer
from tests.conftest import DATA

runner = CliRunner()
pg_server = archive_conftest.pg_server  # the session's PostgreSQL server (a fixture)

SPP = "space_packet_parser"


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def round_trip(tmp_path: Path, mdb: Path, packets: Path, extra: list[str]) -> None:
    """Ingest, export every archived parameter, and compare with ``falak tm decode``."""
    store = tmp_path / "archive"
    res = runner.invoke(
        app,
        [
            "archive",
            "ingest",
            "--mdb",
            str(mdb),
            "--packets",
            str(packets),
            "--archive",
            str(store),
            *extra,
        ],
    )
    assert res.exit_code == 0, res.output
    decoded = tmp_path / "decoded.csv"
    res = runner.invoke(
        app,
        [
            "tm",
            "decode",
            "--mdb",
            str(mdb),
            "--packets",
            str(packets),
            "--out",
            str(decoded),
            *extra,
        ],
    )
    assert res.exit_code == 0, res.output
    with open_archive(store, create=False) as a:
        names = a.parameter_names()
    exported = tmp_path / "exported.csv"
    res = runner.invoke(
        app,
        [
            "archive",
            "export",
            "--archive",
            str(store),
            "--parameters",
            ",".join(names),
            "--out",
            str(exported),
        ],
    )
    assert res.exit_code == 0, res.output
    dec_head, dec_rows = read_csv(decoded)
    exp_head, exp_rows = read_csv(exported)
    assert exp_head[0] == "time"
    assert dec_head[0] == "packet"
    # every packet has its own reception time (no absolute-time parameter in these MDBs),
    # so export rows are the packets in file order
    assert len(exp_rows) == len(dec_rows)
    times = [r[0] for r in exp_rows]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert sorted(exp_head[1:]) == sorted(dec_head[1:])
    at = {n: i for i, n in enumerate(exp_head)}
    for j, name in enumerate(dec_head[1:], start=1):
        want = [r[j] for r in dec_rows]
        got = [r[at[name]] for r in exp_rows]
        if got != want:
            # ``tm decode`` writes a float32 column that is absent from some packets as an
            # object column (shortest float32 text, 2.178796e-39) where export writes the
            # float64 text of the same float32 (2.178796305569263e-39): same value, so
            # compare as float32 bit patterns
            assert [same_float32(g, w) for g, w in zip(got, want, strict=True)] == [True] * len(
                got
            ), name


def same_float32(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return bool(np.float32(float(a)).tobytes() == np.float32(float(b)).tobytes())
    except ValueError:
        return False


@pytest.mark.slow
def test_jpss_ingest_export_equals_tm_decode(tmp_path: Path, testdata: Path) -> None:
    """JPSS geolocation file (space_packet_parser/jpss/TRUTH.md: 7200 packets, 27 fields)."""
    d = testdata / SPP / "jpss"
    round_trip(
        tmp_path,
        d / "jpss1_geolocation_xtce_v1.xml",
        d / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1",
        [],
    )
    res = runner.invoke(app, ["archive", "stats", "--archive", str(tmp_path / "archive")])
    assert res.exit_code == 0, res.output
    assert "7,200 packets, 27 parameters" in res.output
    assert "│   11 │   7,200 │" in res.output  # TRUTH.md: every packet has APID 11


@pytest.mark.slow
def test_ctim_ingest_export_equals_tm_decode(tmp_path: Path, testdata: Path) -> None:
    """CTIM (space_packet_parser/ctim/TRUTH.md: 1499 packets, root CCSDSTelemetryPacket)."""
    d = testdata / SPP / "ctim"
    round_trip(
        tmp_path,
        d / "ctim_xtce_v1.xml",
        d / "ccsds_2021_155_14_39_51",
        ["--container", "CCSDSTelemetryPacket"],
    )


def test_export_parquet_with_raw_and_time_range(tmp_path: Path, testdata: Path) -> None:
    d = testdata / SPP / "jpss"
    store = tmp_path / "a"
    res = runner.invoke(
        app,
        [
            "archive", "ingest", "--mdb", str(d / "jpss1_geolocation_xtce_v1.xml"),
            "--packets", str(d / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"),
            "--archive", str(store),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    with open_archive(store, create=False) as a:
        t = a.read_parameter("SRC_SEQ_CTR").time_ns
    start = str(np.datetime_as_string(np.datetime64(int(t[100]), "ns"), unit="ns")) + "Z"
    stop = str(np.datetime_as_string(np.datetime64(int(t[200]), "ns"), unit="ns")) + "Z"
    out = tmp_path / "x.parquet"
    res = runner.invoke(
        app,
        [
            "archive", "export", "--archive", str(store), "--parameters", "SRC_SEQ_CTR,DOY",
            "--start", start, "--stop", stop, "--with-raw", "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pq.read_table(out)
    assert table.column_names == ["time", "SRC_SEQ_CTR", "SRC_SEQ_CTR.raw", "DOY", "DOY.raw"]
    assert table.num_rows == 100  # [t100, t200): half-open
    # TRUTH.md: SRC_SEQ_CTR runs from 2606 up by 1 per packet; DOY is 23109 for these packets
    assert table.column("SRC_SEQ_CTR.raw").to_pylist() == list(range(2706, 2806))
    assert set(table.column("DOY").to_pylist()) == {23109.0}
    assert table.column("time").to_numpy().astype(np.int64).tolist() == t[100:200].tolist()
    # replay rebuilds the parameter archive from the raw packets
    res = runner.invoke(
        app,
        ["archive", "replay", "--archive", str(store), "--mdb",
         str(d / "jpss1_geolocation_xtce_v1.xml")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "replayed 7,200 packets: 7,200 decoded, not decoded: none" in " ".join(
        res.output.split()
    )
    with open_archive(store, create=False) as a:
        assert a.read_parameter("SRC_SEQ_CTR").time_ns.tolist() == t.tolist()


def test_errors_are_one_line_exit_1(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["archive", "export", "--archive", str(tmp_path / "a"), "--parameters", "X",
              "--out", str(tmp_path / "x.txt")],
    )  # fmt: skip
    assert res.exit_code == 1
    assert res.output.strip() == f"error: --out {tmp_path / 'x.txt'} must end in .csv or .parquet"
    res = runner.invoke(app, ["archive", "stats", "--archive", str(tmp_path / "missing")])
    assert res.exit_code == 1
    assert res.output.startswith("error: ")
    assert len(res.output.strip().splitlines()) == 1
    res = runner.invoke(
        app, ["archive", "export", "--archive", str(tmp_path / "a"), "--parameters", "X",
              "--start", "yesterday", "--out", str(tmp_path / "x.csv")],
    )  # fmt: skip
    assert res.exit_code == 1
    assert "--start 'yesterday' is not an ISO 8601 time" in res.output


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """An archive of the first 200 JPSS packets (71 bytes each): (archive, MDB, packet file)."""
    d = DATA / SPP / "jpss"
    tmp = tmp_path_factory.mktemp("small")
    packets = tmp / "first200.bin"
    packets.write_bytes((d / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()[: 200 * 71])
    mdb, store = d / "jpss1_geolocation_xtce_v1.xml", tmp / "a"
    res = runner.invoke(
        app,
        ["archive", "ingest", "--mdb", str(mdb), "--packets", str(packets),
         "--archive", str(store)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return store, mdb, packets


RANGE = "1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z"


def one_line_error(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    return res.output.strip()


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"])
def test_export_far_future_is_refused_not_wrapped(
    small_archive: tuple[Path, Path, Path], tmp_path: Path, start: str
) -> None:
    # issue 12: numpy wrapped the Z form to 1816 (all exported); +00:00 was an OverflowError
    store, _, _ = small_archive
    out = tmp_path / "x.csv"
    message = one_line_error(
        ["archive", "export", "--archive", str(store), "--parameters", "SRC_SEQ_CTR",
         "--start", start, "--out", str(out)],
    )  # fmt: skip
    assert message == (
        f"error: --start {start!r} is outside the times falak can store, {RANGE} (int64 "
        "nanoseconds since 1970, numpy datetime64[ns]); give a time within it"
    )
    assert not out.exists()


def test_replay_far_future_deletes_nothing(small_archive: tuple[Path, Path, Path]) -> None:
    # issue 12: replay --start 9999-... deleted and rebuilt the whole parameter archive
    store, mdb, _ = small_archive
    with open_archive(store, create=False) as a:
        before = a.read_parameter("SRC_SEQ_CTR").time_ns.tolist()
    message = one_line_error(
        ["archive", "replay", "--archive", str(store), "--mdb", str(mdb),
         "--start", "9999-12-31T23:59:59Z"],
    )  # fmt: skip
    assert message.startswith(
        f"error: --start '9999-12-31T23:59:59Z' is outside the times falak can store, {RANGE}"
    )
    with open_archive(store, create=False) as a:
        assert a.read_parameter("SRC_SEQ_CTR").time_ns.tolist() == before
    assert len(before) == 200


def test_export_start_after_stop_and_leap_second(
    small_archive: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    store, mdb, _ = small_archive
    base = ["--archive", str(store)]
    out = ["--out", str(tmp_path / "x.csv")]
    assert one_line_error(
        ["archive", "export", *base, "--parameters", "SRC_SEQ_CTR", *out,
         "--start", "2021-04-10", "--stop", "2021-04-09T12:00+00:00"],
    ) == (
        "error: --stop 2021-04-09T12:00:00.000000000Z is before --start "
        "2021-04-10T00:00:00.000000000Z; give a stop at or after the start"
    )  # fmt: skip
    assert one_line_error(
        ["archive", "replay", *base, "--mdb", str(mdb), "--start", "2021-04-10",
         "--stop", "2021-04-09"],
    ).startswith("error: --stop 2021-04-09T00:00:00.000000000Z is before --start")  # fmt: skip
    # the leap second of IERS Bulletin C 52 is named as such, not "not an ISO 8601 time"
    assert one_line_error(
        ["archive", "export", *base, "--parameters", "SRC_SEQ_CTR", *out,
         "--stop", "2016-12-31T23:59:60Z"],
    ).startswith(
        "error: --stop '2016-12-31T23:59:60Z' lies in the leap second at the end of 2016-12-31"
    )  # fmt: skip


def test_export_unknown_parameter_is_an_error(
    small_archive: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    store, _, _ = small_archive
    out = tmp_path / "x.csv"
    message = one_line_error(
        ["archive", "export", "--archive", str(store), "--parameters", "SRC_SEQ_CTR,SEQ_CTR_X",
         "--out", str(out)],
    )  # fmt: skip
    assert message == (
        f"error: --parameters: no parameter named 'SEQ_CTR_X' in archive {store}; it holds 27 "
        "parameters: ADAESCID, ADAET1DAY, ADAET1MS, ADAET1US, ADAET2DAY, ADAET2MS, ADAET2US, "
        "ADCFAQ1, ADCFAQ2, ADCFAQ3, ..."
    )
    assert not out.exists()
    assert one_line_error(
        ["archive", "export", "--archive", str(store), "--parameters", "seq_ctr",
         "--out", str(out)],
    ) == (
        f"error: --parameters: no parameter named 'seq_ctr' in archive {store}; "
        "did you mean /JPSS_Geolocation_Packets/SRC_SEQ_CTR"
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# ingest: resumable, and a no-op for a file already ingested (issue 12, "Crash and restart")


def _testsat_file(path: Path, n: int, distinct: int = 2000) -> list[bytes]:
    """``n`` HK packets with sequence counts 0, 1, ... (bodies repeat every ``distinct``:
    encoding costs 0.3 ms a packet)."""
    from ..processor.testsat import hk_packet

    bodies = [hk_packet(i, 2e9 + i, 7000 + i % 1000) for i in range(min(n, distinct))]
    pk = []
    for i in range(n):
        b = bytearray(bodies[i % distinct])
        b[2:4] = (0xC000 | i % 16384).to_bytes(2, "big")  # sequence flags 3, count i
        pk.append(bytes(b))
    path.write_bytes(b"".join(pk))
    return pk


def _ingest(tm: Path, store: Path, *extra: str) -> str:
    return _ingest_to(tm, str(store), *extra)


def _ingest_to(tm: Path, store: str, *extra: str) -> str:
    from ..processor.testsat import MDB_PATH

    res = runner.invoke(
        app,
        ["archive", "ingest", "--mdb", str(MDB_PATH), "--packets", str(tm),
         "--archive", store, *extra],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())


def _archived(store: Path) -> list[bytes]:
    with open_archive(store, create=False) as a:
        return [b.packet_bytes(i) for b in a.read_packets() for i in range(len(b))]


def test_ingest_again_is_a_no_op_and_force_ingests_again(tmp_path: Path) -> None:
    tm = tmp_path / "tm.bin"
    pk = _testsat_file(tm, 300)
    store = tmp_path / "archive"
    assert "packets archived │ 300 │ 8,700" in _ingest(tm, store)
    out = _ingest(tm, store)
    assert out.startswith(f"tm.bin is in {store} already (8,700 bytes, sha256:")
    assert out.endswith("nothing to do; --force ingests it again")
    # the same content under another name is the same file
    copy = tmp_path / "copy.bin"
    copy.write_bytes(tm.read_bytes())
    assert ", ingested as tm.bin at 20" in _ingest(copy, store)
    assert _archived(store) == pk
    assert "packets archived │ 300 │" in _ingest(tm, store, "--force")
    assert _archived(store) == pk + pk
    with open_archive(store, create=False) as a:
        assert len(a.read_parameter("BATT_V")) == 600


def test_ingest_help_says_it_is_resumable() -> None:
    res = runner.invoke(app, ["archive", "ingest", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.output.split())
    assert "Resumable, and a no-op for a file already ingested" in text
    assert "--force" in text


@pytest.mark.parametrize("command", [["archive", "ingest"], ["archive", "replay"], ["run"]])
def test_packet_time_help_shows_its_epoch_form(command: list[str]) -> None:
    # rich markup took "[@EPOCH]" for a tag and printed "cds:DAY,MS[,US]" without it
    res = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert "cds:DAY,MS[,US][@EPOCH] for CCSDS" in " ".join(res.output.split())


def test_ingest_resume_with_other_options_is_refused(tmp_path: Path) -> None:
    from ..processor.testsat import MDB_PATH

    tm = tmp_path / "tm.bin"
    _testsat_file(tm, 10)
    store = tmp_path / "archive"
    with open_archive(store) as a:  # as a run killed after its first batch leaves it
        a.start_source(
            "sha256:" + __import__("hashlib").sha256(tm.read_bytes()).hexdigest(),
            "tm.bin", 290, '{"lenient": false, "prefix_bytes": 0}',
        )  # fmt: skip
    res = runner.invoke(
        app,
        ["archive", "ingest", "--mdb", str(MDB_PATH), "--packets", str(tm), "--archive",
         str(store), "--prefix-bytes", "4"],
    )  # fmt: skip
    assert res.exit_code == 1
    assert res.output.strip() == (
        "error: tm.bin was partly ingested with --prefix-bytes 0; run again with those "
        "options to resume, or --force to start again"
    )


@pytest.mark.slow
def test_ingest_killed_then_run_again_resumes_without_duplicates(tmp_path: Path) -> None:
    """SIGKILL a real ``falak archive ingest`` after its first commits; the rerun resumes."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from ..processor.testsat import MDB_PATH

    tm = tmp_path / "tm.bin"
    pk = _testsat_file(tm, 200_000)  # 10 batches of 20,000 packets, 5.8 MB
    store = tmp_path / "archive"
    cmd = [
        sys.executable, "-c", "from falak.cli.app import main; main()", "archive", "ingest",
        "--mdb", str(MDB_PATH), "--packets", str(tm), "--archive", str(store),
    ]  # fmt: skip
    err = tmp_path / "stderr.txt"
    with err.open("w") as fh:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh)
    committed = 0
    try:
        deadline = time.monotonic() + 120
        while committed == 0 and time.monotonic() < deadline:
            assert p.poll() is None, err.read_text()
            time.sleep(0.02)
            try:
                with sqlite3.connect(store / "archive.sqlite", timeout=30) as conn:
                    row = conn.execute("SELECT committed FROM sources").fetchone()
                committed = 0 if row is None else int(row[0])
            except sqlite3.OperationalError:  # not created yet
                pass
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    assert p.returncode == -signal.SIGKILL
    assert 0 < committed < len(pk) * 29
    with open_archive(store, create=False) as a:
        before = a.packet_stats().n_packets
    assert 0 < before < len(pk)  # killed mid-file
    out = _ingest(tm, store)
    assert "resuming tm.bin: bytes 0.." in out
    assert f"of {len(pk) * 29:,} were archived before" in out
    assert _archived(store) == pk  # every packet once, in file order
    with open_archive(store, create=False) as a:
        assert a.packets_without_parameters() == []
        assert len(a.read_parameter("BATT_V")) == len(pk)
    assert "nothing to do" in _ingest(tm, store)


# ---------------------------------------------------------------------------------------------
# ingest: packet time from day/ms/µs fields, and a warning when reception time is used


def test_jpss_ingest_with_packet_time_gets_on_board_times(tmp_path: Path, testdata: Path) -> None:
    """TRUTH.md (space_packet_parser/jpss): packet 0 has DOY 23109 (days since 1958-01-01,
    2021-04-09), MSEC 7, USEC 137; packet 7199 MSEC 7199005, USEC 260."""
    d = testdata / SPP / "jpss"
    base = [
        "archive", "ingest", "--mdb", str(d / "jpss1_geolocation_xtce_v1.xml"),
        "--packets", str(d / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"),
    ]  # fmt: skip
    # without a packet time: stamped with the ingest time, and a warning says so
    res = runner.invoke(app, [*base, "--archive", str(tmp_path / "plain")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert (
        "warning: 7,200 of 7,200 decoded packets have no absolute-time parameter in their "
        "containers: their parameters are stamped with the ingest time, 1 ns apart, so an "
        "export aligned by time follows the ingest order, not the on-board clock; give "
        "--packet-time NAME (an absolute-time parameter) or --packet-time cds:DAY,MS,US"
    ) in text
    store = tmp_path / "timed"
    res = runner.invoke(app, [*base, "--archive", str(store), "--packet-time", "cds:DOY,MSEC,USEC"])
    assert res.exit_code == 0, res.output
    assert "warning" not in res.output
    out = tmp_path / "x.csv"
    res = runner.invoke(
        app,
        ["archive", "export", "--archive", str(store), "--parameters", "SRC_SEQ_CTR,USEC",
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    head, rows = read_csv(out)
    assert head == ["time", "SRC_SEQ_CTR", "USEC"]
    assert len(rows) == 7200
    assert rows[0] == ["2021-04-09T00:00:00.007137000Z", "2606", "137.0"]
    assert rows[-1] == ["2021-04-09T01:59:59.005260000Z", "9805", "260.0"]


def test_packet_time_option_errors_are_one_line(tmp_path: Path, testdata: Path) -> None:
    d = testdata / SPP / "jpss"
    res = runner.invoke(
        app,
        ["archive", "ingest", "--mdb", str(d / "jpss1_geolocation_xtce_v1.xml"),
         "--packets", str(d / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"),
         "--archive", str(tmp_path / "a"), "--packet-time", "MSEC"],
    )  # fmt: skip
    assert res.exit_code == 1
    assert res.output.strip() == (
        "error: --packet-time 'MSEC': parameter /JPSS_Geolocation_Packets/MSEC is of kind "
        "FloatType, not an absolute time; name an absolute-time parameter, or build the time "
        "from day/ms/µs fields with cds:DAY,MS,US"
    )
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------------------------------------
# one archive, several spacecraft (--spacecraft)


@pytest.fixture
def shared_archive(tmp_path: Path) -> Path:
    """An archive with spacecraft SC_A (30 HK), SC-B (20 HK + 5 EVENT) and a root (10 HK)."""
    from ..processor.testsat import event_packet, hk_packet

    store = tmp_path / "archive"
    a, b, root = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "root.bin"
    _testsat_file(a, 30)
    hk = [hk_packet(i, 2e9 + i) for i in range(20)]
    ev = [event_packet(i, 2e9 + i, 7, 1, "hot") for i in range(5)]
    b.write_bytes(b"".join(hk + ev))
    _testsat_file(root, 10, distinct=3)
    _ingest(a, store, "--spacecraft", "SC_A")
    _ingest(b, store, "--spacecraft", "SC-B")
    _ingest(root, store)
    return store


def test_stats_lists_packets_per_spacecraft_and_apid(shared_archive: Path) -> None:
    store = shared_archive
    res = runner.invoke(app, ["archive", "stats", "--archive", str(store)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "packets by spacecraft and APID" in text
    assert "│ (root archive) │ 100 │ 10 │" in text
    assert "│ SC-B │ 100 │ 20 │ │ │ 101 │ 5 │" in text
    assert "│ SC_A │ 100 │ 30 │" in text
    assert f"archive {store}, spacecraft SC_A: 30 packets" in text
    assert f"archive {store}, spacecraft SC-B: 25 packets" in text
    assert f"archive {store} (root): 10 packets" in text
    res = runner.invoke(app, ["archive", "stats", "--archive", str(store), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["archive"] == str(store)
    assert [(s["spacecraft"], s["packets_by_apid"]) for s in doc["archives"]] == [
        (None, {"100": 10}),
        ("SC-B", {"100": 20, "101": 5}),
        ("SC_A", {"100": 30}),
    ]
    assert all(s["packets_without_parameters"] == 0 for s in doc["archives"])
    res = runner.invoke(
        app, ["archive", "stats", "--archive", str(store), "--spacecraft", "SC-B", "--json"]
    )
    assert [s["packets"] for s in json.loads(res.output)["archives"]] == [25]


def test_stats_without_root_data_lists_only_spacecraft(tmp_path: Path) -> None:
    store = tmp_path / "archive"
    tm = tmp_path / "a.bin"
    _testsat_file(tm, 4, distinct=2)
    _ingest(tm, store, "--spacecraft", "TIANGONG")
    assert not (store / "archive.sqlite").exists()
    res = runner.invoke(app, ["archive", "stats", "--archive", str(store), "--json"])
    assert res.exit_code == 0, res.output
    assert [s["spacecraft"] for s in json.loads(res.output)["archives"]] == ["TIANGONG"]
    res = runner.invoke(app, ["archive", "stats", "--archive", str(store)], env={"COLUMNS": "200"})
    assert "(root" not in res.output
    # a one-spacecraft archive (no sub-archives) prints as before
    _ingest(tm, tmp_path / "plain")
    res = runner.invoke(app, ["archive", "stats", "--archive", str(tmp_path / "plain")])
    assert res.output.startswith(f"archive {tmp_path / 'plain'}: 4 packets, ")


@pytest.mark.parametrize("command", ["stats", "export", "replay"])
def test_unknown_spacecraft_lists_those_present(shared_archive: Path, command: str) -> None:
    from ..processor.testsat import MDB_PATH

    extra = {
        "stats": [],
        "export": ["--parameters", "BATT_V", "--out", str(shared_archive.parent / "x.csv")],
        "replay": ["--mdb", str(MDB_PATH)],
    }[command]
    err = one_line_error(
        ["archive", command, "--archive", str(shared_archive), "--spacecraft", "MARS", *extra]
    )
    assert err == f"error: no spacecraft 'MARS' in archive {shared_archive}; it holds SC-B, SC_A"


def test_bad_spacecraft_name_is_refused(tmp_path: Path) -> None:
    from ..processor.testsat import MDB_PATH

    tm = tmp_path / "a.bin"
    _testsat_file(tm, 2, distinct=2)
    err = one_line_error(
        ["archive", "ingest", "--mdb", str(MDB_PATH), "--packets", str(tm),
         "--archive", str(tmp_path / "arc"), "--spacecraft", "../x"],
    )  # fmt: skip
    assert err == (
        "error: spacecraft name '../x' cannot key the archive; a spacecraft name is 1 to 54 "
        "ASCII letters, digits, '_' and '-' (e.g. TIANGONG, test-sat_2)"
    )
    assert not (tmp_path / "arc").exists()


def test_export_and_replay_one_spacecraft(shared_archive: Path) -> None:
    from ..processor.testsat import MDB_PATH

    out = shared_archive.parent / "b.csv"
    res = runner.invoke(
        app,
        ["archive", "export", "--archive", str(shared_archive), "--spacecraft", "SC-B",
         "--parameters", "BATT_V,EVENT_ID", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    header, rows = read_csv(out)
    assert header == ["time", "BATT_V", "EVENT_ID"]
    assert sum(1 for r in rows if r[1]) == 20
    assert sum(1 for r in rows if r[2]) == 5
    res = runner.invoke(
        app,
        ["archive", "replay", "--archive", str(shared_archive), "--spacecraft", "SC_A",
         "--mdb", str(MDB_PATH)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "replayed 30 packets: 30 decoded" in " ".join(res.output.split())
    for sc, n in (("SC_A", 30), ("SC-B", 20), (None, 10)):
        with open_archive(shared_archive, spacecraft=sc, create=False) as arc:
            assert len(arc.read_parameter("BATT_V")) == n


@pytest.mark.parametrize("command", ["ingest", "export", "replay", "stats"])
def test_spacecraft_option_is_explained(command: str) -> None:
    res = runner.invoke(app, ["archive", command, "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.output.split())
    assert "--spacecraft" in text
    assert "DIR/spacecraft/NAME" in text


# ---------------------------------------------------------------------------------------------
# the packet-time recipe is archived with the packets: resume and replay stamp as ingested


def _times(store: Path, name: str = "BATT_V") -> tuple[list[int], list[int]]:
    """(sample times of ``name``, reception times of the packets), both sorted."""
    with open_archive(store, create=False) as a:
        recv = sorted(int(t) for b in a.read_packets() for t in b.recv_time_ns)
        return sorted(a.read_parameter(name).time.tolist()), recv


def _replay(store: Path, *extra: str) -> str:
    from ..processor.testsat import MDB_PATH

    res = runner.invoke(
        app, ["archive", "replay", "--archive", str(store), "--mdb", str(MDB_PATH), *extra]
    )
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())


def test_replay_stamps_as_ingested_unless_told(tmp_path: Path) -> None:
    tm, store = tmp_path / "tm.bin", tmp_path / "archive"
    _testsat_file(tm, 20, distinct=5)
    _ingest(tm, store, "--packet-time", "reception")
    samples, recv = _times(store)
    assert samples == recv  # stamped with the ingest (reception) times
    with open_archive(store, create=False) as a:
        assert a.packet_time_recipes() == [(1, 20, "reception")]
    out = _replay(store)  # the MDB says auto (OBT); the archive says reception
    assert "warning" not in out
    assert _times(store) == (recv, recv)
    out = _replay(store, "--packet-time", "OBT")
    assert out.endswith(
        "warning: 20 packets were ingested with another packet-time recipe (--packet-time "
        "reception (20)); they are now stamped with --packet-time OBT as given, and the "
        "archive records it for them"
    )
    obt, _ = _times(store)
    assert obt != recv
    assert len(obt) == 20
    with open_archive(store, create=False) as a:
        assert a.packet_time_recipes() == [(1, 20, "OBT")]
    assert "warning" not in _replay(store)  # as last stamped
    assert _times(store) == (obt, recv)


def _half_ingested(tm: Path, store: Path, recipe: str) -> int:
    """Archive the first half of ``tm``'s packets as an ingest killed before it decoded them
    leaves them (raw committed with the source offset and recipe, no parameters)."""
    import hashlib

    data = tm.read_bytes()
    n = len(data) // 29  # testsat HK packets are 29 bytes
    half = n // 2
    offsets = np.arange(half, dtype=np.int64) * 29
    with open_archive(store) as a:
        key = "sha256:" + hashlib.sha256(data).hexdigest()
        a.start_source(key, tm.name, len(data), '{"lenient": false, "prefix_bytes": 0}',
                       packet_time=recipe)  # fmt: skip
        a.append_packets(
            data, offsets, np.full(half, 29, dtype=np.int64),
            recv_time_ns=1_800_000_000_000_000_000 + np.arange(half, dtype=np.int64),
            link=f"file:{tm.name}", source=(key, 0, half * 29), packet_time=recipe,
        )  # fmt: skip
    return half


def test_resume_without_packet_time_stamps_as_started(tmp_path: Path) -> None:
    tm, store = tmp_path / "tm.bin", tmp_path / "archive"
    _testsat_file(tm, 20, distinct=5)
    assert _half_ingested(tm, store, "reception") == 10
    out = _ingest(tm, store)  # no --packet-time: the MDB would say auto (on-board time)
    assert "caught up 10 packets that an interrupted run had left without parameters" in out
    assert "resuming tm.bin: bytes 0..290 of 580 were archived before" in out
    assert "resuming tm.bin with --packet-time reception, as it was started" in out
    samples, recv = _times(store)
    assert samples == recv  # all 20, the caught-up and the resumed, at reception time
    with open_archive(store, create=False) as a:
        assert a.packet_time_recipes() == [(1, 20, "reception")]


def test_resume_with_another_packet_time_warns(tmp_path: Path) -> None:
    tm, store = tmp_path / "tm.bin", tmp_path / "archive"
    _testsat_file(tm, 20, distinct=5)
    _half_ingested(tm, store, "reception")
    out = _ingest(tm, store, "--packet-time", "OBT")
    assert (
        "warning: tm.bin was started with --packet-time reception; its remaining packets "
        "are stamped with --packet-time OBT as given, those archived before keep their "
        "times (falak archive replay --packet-time restamps them; without --packet-time the "
        "resume goes on as started)"
    ) in out
    with open_archive(store, create=False) as a:
        # the given recipe stamps the caught-up packets too (they had no parameters yet)
        assert a.packet_time_recipes() == [(1, 20, "OBT")]
        key = "sha256:" + __import__("hashlib").sha256(tm.read_bytes()).hexdigest()
        progress = a.source_progress(key)
        assert progress is not None
        assert progress.packet_time == "OBT"  # what a next resume goes on with


@pytest.mark.postgres
def test_spacecraft_on_postgres(tmp_path: Path, pg_server: PgServer) -> None:
    """The same CLI on PostgreSQL: one schema falak_sc_<name> per spacecraft."""
    import psycopg

    dsn = pg_server.dsn()
    tm = tmp_path / "a.bin"
    _testsat_file(tm, 6, distinct=3)
    try:
        for sc, n in (("TIANGONG", 6), ("ROVER", 6)):
            out = _ingest_to(tm, dsn, "--spacecraft", sc)
            assert f"packets archived │ {n} │" in out
        res = runner.invoke(app, ["archive", "stats", "--archive", dsn, "--json"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)
        assert [(s["spacecraft"], s["packets_by_apid"]) for s in doc["archives"]] == [
            ("ROVER", {"100": 6}),
            ("TIANGONG", {"100": 6}),
        ]  # the database's own schema holds no archive: not listed
        err = one_line_error(["archive", "stats", "--archive", dsn, "--spacecraft", "MARS"])
        assert err == (f"error: no spacecraft 'MARS' in archive {dsn}; it holds ROVER, TIANGONG")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for sc in ("tiangong", "rover"):
                conn.execute(f"DROP SCHEMA IF EXISTS falak_sc_{sc} CASCADE")
