"""``falak tm decode``: the CLI contract other tools rely on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.mdb import load
from falak.tm.decoder import decode_stream

runner = CliRunner()
JPSS = Path("space_packet_parser") / "jpss"


def _jpss(testdata: Path) -> tuple[Path, Path]:
    return (
        testdata / JPSS / "jpss1_geolocation_xtce_v1.xml",
        testdata / JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1",
    )


def test_decode_jpss_to_csv_reads_back_exactly(testdata: Path, tmp_path: Path) -> None:
    mdb, packets = _jpss(testdata)
    out = tmp_path / "jpss.csv"
    result = runner.invoke(
        app, ["tm", "decode", "--mdb", str(mdb), "--packets", str(packets), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "packets found" in result.output
    assert "7,200" in result.output
    with out.open() as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert header[0] == "packet"
    assert len(header) == 28  # 'packet' + the 27 parameters, MDB short names
    assert {"VERSION", "PKT_APID", "DOY", "ADGPSPOSX", "ADCFAQ4"} <= set(header)
    assert len(body) == 7200
    assert [r[0] for r in body[:3]] == ["0", "1", "2"]
    decoded, _ = decode_stream(load(mdb), packets.read_bytes())
    cols = decoded.containers[0]
    for name in ("ADGPSPOSX", "ADGPSVELY", "ADCFAQ1", "MSEC", "SRC_SEQ_CTR"):
        i = header.index(name)
        want = cols.column(name).eng
        got = np.array([r[i] for r in body], dtype=np.float64).astype(want.dtype)
        # floats are written so that they read back to the same value (TRUTH.md: packet 0
        # ADGPSVELX = 2383.52880859375 as float32)
        np.testing.assert_array_equal(got, want)
    assert body[0][header.index("ADGPSVELX")] == "2383.52880859375"


def test_decode_to_parquet(testdata: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    mdb, packets = _jpss(testdata)
    out = tmp_path / "jpss.parquet"
    result = runner.invoke(
        app,
        ["tm", "decode", "--mdb", str(mdb), "--packets", str(packets), "--out", str(out), "--raw"],
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 7200
    assert table.column_names[0] == "packet"
    assert table.column("ADGPSPOSX").to_numpy()[0] == np.float32(6389695.5)
    assert str(table.schema.field("ADGPSPOSX").type) == "float"
    assert table.column("DOY").to_numpy()[-1] == 23109


def test_decode_suda_with_prefix_binary_as_hex(testdata: Path, tmp_path: Path) -> None:
    folder = testdata / "space_packet_parser" / "suda"
    out = tmp_path / "suda.csv"
    result = runner.invoke(
        app,
        [
            "tm",
            "decode",
            "--mdb",
            str(folder / "suda_combined_science_definition.xml"),
            "--packets",
            str(folder / "sciData_2022_130_17_41_53.spl"),
            "--prefix-bytes",
            "4",
            "--out",
            str(out),
            "--raw",
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 13
    assert [int(r["IDX__SCIFETCHTYPE"]) for r in rows] == [1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 16, 32, 64]
    blob = bytes.fromhex(rows[1]["IDX__SCIFETCHRAW"])
    assert len(blob) > 0
    assert rows[0]["IDX__SCIFETCHRAW"] == ""  # the event header packet has no waveform


def test_decode_ctim_needs_its_root_container(testdata: Path, tmp_path: Path) -> None:
    folder = testdata / "space_packet_parser" / "ctim"
    args = [
        "tm",
        "decode",
        "--mdb",
        str(folder / "ctim_xtce_v1.xml"),
        "--packets",
        str(folder / "ccsds_2021_155_14_39_51"),
        "--out",
        str(tmp_path / "c.csv"),
    ]
    result = runner.invoke(app, [*args, "--container", "CCSDSTelemetryPacket", "--raw"])
    assert result.exit_code == 0, result.output
    with (tmp_path / "c.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1499
    assert rows[159]["PKT_APID"] == "34"
    assert rows[159]["SHCOARSE"] == "481168702"


def test_array_parameters_are_json_lists(testdata: Path, tmp_path: Path) -> None:
    """ccsdspy var_length packets decoded through a YAML-free MDB built with the API: arrays
    appear as JSON lists in CSV."""
    from falak.tm.tabular import results_table, write_csv
    from tests.tm.test_decoder_files import _var_mdb

    mdb = _var_mdb(footer=False).build()
    data = (testdata / "ccsdspy" / "var_length" / "var_length_packets.bin").read_bytes()
    res, _ = decode_stream(mdb, data, lenient_version=True)
    write_csv(results_table(res.containers), tmp_path / "v.csv")
    with (tmp_path / "v.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert json.loads(rows[1]["DATA"]) == [3, 4, 5]


def test_errors_are_one_line_with_exit_1(testdata: Path, tmp_path: Path) -> None:
    mdb, packets = _jpss(testdata)
    missing = runner.invoke(
        app,
        [
            "tm",
            "decode",
            "--mdb",
            str(tmp_path / "nope.xml"),
            "--packets",
            str(packets),
            "--out",
            str(tmp_path / "o.csv"),
        ],
    )
    assert missing.exit_code == 1
    assert "nope.xml: file not found" in missing.output
    assert "Traceback" not in missing.output
    bad_out = runner.invoke(
        app,
        [
            "tm",
            "decode",
            "--mdb",
            str(mdb),
            "--packets",
            str(packets),
            "--out",
            str(tmp_path / "o.txt"),
        ],
    )
    assert bad_out.exit_code == 2
    assert "must end in .csv or .parquet" in bad_out.output


def test_garbage_is_counted_in_the_summary(testdata: Path, tmp_path: Path) -> None:
    mdb, packets = _jpss(testdata)
    data = packets.read_bytes()
    dirty = tmp_path / "dirty.bin"
    dirty.write_bytes(data[: 71 * 10] + b"\xff" * 13 + data[71 * 10 : 71 * 20] + data[:30])
    out = tmp_path / "o.csv"
    result = runner.invoke(
        app, ["tm", "decode", "--mdb", str(mdb), "--packets", str(dirty), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "rejected bytes: garbage" in result.output
    assert "rejected bytes: truncated" in result.output
    with out.open() as fh:
        assert sum(1 for _ in fh) == 21  # header + the 20 whole packets


def test_decode_freezes_the_loaded_mdb_out_of_the_cyclic_gc(testdata: Path, tmp_path: Path) -> None:
    # falak.cli.freeze_loaded_objects: the MDB and decoder are frozen before the batch decode
    # (halves its CPU time on a large MDB, benchmarks/RESULTS_ingest.md)
    import gc

    gc.unfreeze()
    mdb, packets = _jpss(testdata)
    out = tmp_path / "j.csv"
    args = ["tm", "decode", "--mdb", str(mdb), "--packets", str(packets), "--out", str(out)]
    try:
        result = runner.invoke(app, [*args, "--raw"])
        assert result.exit_code == 0, result.output
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
