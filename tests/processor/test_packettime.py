"""Packet-time recipes: how generation time is built from decoded fields (issue 12).

Reference values: ``tests/data/space_packet_parser/jpss/TRUTH.md`` (packet 0: DOY 23109, MSEC
7, USEC 137; packet 7199: DOY 23109, MSEC 7199005, USEC 260; DOY counts days since
1958-01-01, so day 23109 is 2021-04-09).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falak.ccsds.spacepacket import split_packets
from falak.errors import InputError, MdbErrors
from falak.mdb import MissionDatabase, load
from falak.processor.packettime import PacketTime
from falak.tm.decoder import ContainerResult, Decoder

from .testsat import hk_packet, load_testsat


def jpss_xtce(testdata: Path) -> Path:
    return testdata / "space_packet_parser" / "jpss" / "jpss1_geolocation_xtce_v1.xml"


def jpss(testdata: Path, mdb: Path | None = None) -> tuple[MissionDatabase, ContainerResult]:
    db = load(mdb or jpss_xtce(testdata))
    folder = testdata / "space_packet_parser" / "jpss"
    data = np.fromfile(folder / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1", np.uint8)
    split = split_packets(data)
    (res,) = Decoder(db).decode(data, split.offsets, split.lengths).containers
    return db, res


def with_packet_time(testdata: Path, tmp_path: Path, recipe: str) -> Path:
    """The JPSS XTCE with a root ``falak:packet_time`` ancillary item."""
    text = jpss_xtce(testdata).read_text()
    head, sep, rest = text.partition(">\n")  # after the XML declaration
    opening, sep2, body = rest.partition('SpaceSystem.xsd">')
    anc = (
        '<xtce:AncillaryDataSet><xtce:AncillaryData name="falak:packet_time">'
        f"{recipe}</xtce:AncillaryData></xtce:AncillaryDataSet>"
    )
    out = tmp_path / "jpss_with_time.xml"
    out.write_text(head + sep + opening + sep2 + anc + body)
    return out


def test_cds_fields_give_the_truth_table_times(testdata: Path) -> None:
    db, res = jpss(testdata)
    recv = np.arange(7200, dtype=np.int64)
    t, n_recv = PacketTime.parse("cds:DOY,MSEC,USEC", db).times(res, recv)
    assert n_recv == 0
    iso = np.datetime_as_string(t.astype("datetime64[ns]"), unit="ns")
    assert iso[0] == "2021-04-09T00:00:00.007137000"
    assert iso[-1] == "2021-04-09T01:59:59.005260000"
    # without microseconds, and from another epoch (1958-01-01 + 23109 days = 2021-04-09)
    t, _ = PacketTime.parse("cds:DOY,MSEC@2000-01-01", db).times(res, recv)
    assert str(t[0].astype("datetime64[ns]")) == "2063-04-09T00:00:00.007000000"


def test_auto_and_reception_fall_back_and_count(testdata: Path) -> None:
    db, res = jpss(testdata)
    recv = 1_000 + np.arange(7200, dtype=np.int64)
    for text in ("auto", "reception", None):
        t, n_recv = PacketTime.parse(text, db).times(res, recv)
        assert n_recv == 7200
        assert t.tolist() == recv.tolist()


def test_the_mdb_says_how_its_packet_time_is_built(testdata: Path, tmp_path: Path) -> None:
    db, res = jpss(testdata, with_packet_time(testdata, tmp_path, "cds:DOY,MSEC,USEC"))
    assert db.packet_time == "cds:DOY,MSEC,USEC"
    recipe = PacketTime.parse(None, db)
    assert recipe.kind == "cds"
    t, n_recv = recipe.times(res, np.zeros(7200, np.int64))
    assert n_recv == 0
    assert str(t[0].astype("datetime64[ns]")) == "2021-04-09T00:00:00.007137000"


def test_an_absolute_time_parameter_by_name() -> None:
    """TESTSAT's OBT is a CUC absolute time (src/falak/missions/testsat/mdb.yaml)."""
    db = load_testsat()
    pkts = [hk_packet(i, 2e9 + i) for i in range(3)]
    data = np.frombuffer(b"".join(pkts), np.uint8)
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    (res,) = Decoder(db).decode(data, offsets, lengths).containers
    recv = np.zeros(3, np.int64)
    by_name, n_name = PacketTime.parse("OBT", db).times(res, recv)
    auto, n_auto = PacketTime.parse("auto", db).times(res, recv)
    assert (n_name, n_auto) == (0, 0)
    assert by_name.tolist() == auto.tolist()
    assert np.diff(by_name).tolist() == [1_000_000_000, 1_000_000_000]  # OBT 1 s apart


def test_bad_recipes_name_the_fix(testdata: Path) -> None:
    db = load(jpss_xtce(testdata))
    cases = {
        "cds:DOY": "--packet-time 'cds:DOY': cds: needs 2 or 3 fields, day,ms[,us] "
        "(e.g. cds:DOY,MSEC,USEC)",
        "DOY": "--packet-time 'DOY': parameter /JPSS_Geolocation_Packets/DOY is of kind FloatType, "
        "not an absolute time; name an absolute-time parameter, or build the time from "
        "day/ms/µs fields with cds:DAY,MS,US",
        "cds:DOY,MSEC@x": "--packet-time 'cds:DOY,MSEC@x': epoch 'x' is not a date; write "
        "e.g. @1958-01-01",
    }
    for text, message in cases.items():
        with pytest.raises(InputError) as err:
            PacketTime.parse(text, db)
        assert str(err.value) == message
    with pytest.raises(InputError, match=r"^--packet-time 'cds:DOY,NOPE': no parameter named"):
        PacketTime.parse("cds:DOY,NOPE", db)


def test_a_yaml_mdb_says_it_with_ancillary(tmp_path: Path) -> None:
    from .testsat import MDB_PATH

    text = MDB_PATH.read_text().replace(
        "\ntypes:\n", '\nancillary: {"falak:packet_time": "cds:OBT,BATT_V"}\ntypes:\n', 1
    )
    (tmp_path / "mdb.yaml").write_text(text)
    db = load(tmp_path / "mdb.yaml")
    assert db.packet_time == "cds:OBT,BATT_V"
    with pytest.raises(InputError) as err:  # a bad recipe in the MDB is named as such
        PacketTime.parse("cds:OBT", db)
    assert str(err.value).startswith("--packet-time 'cds:OBT': cds: needs 2 or 3 fields")
    recipe = PacketTime.parse(None, db)
    assert (recipe.kind, recipe.parameters) == ("cds", ("/TESTSAT/OBT", "/TESTSAT/BATT_V"))
    text = text.replace('"cds:OBT,BATT_V"', "BATT_V")
    (tmp_path / "mdb.yaml").write_text(text)
    with pytest.raises(MdbErrors) as errs:  # loading (and so mdb check) refuses it, with a line
        load(tmp_path / "mdb.yaml")
    assert str(errs.value).startswith(
        f"{tmp_path / 'mdb.yaml'}:11: falak:packet_time of {tmp_path / 'mdb.yaml'} 'BATT_V': "
        "parameter /TESTSAT/BATT_V is of kind FloatType, not an absolute time"
    )


def test_falak_run_takes_packet_time_too(tmp_path: Path, testdata: Path) -> None:
    from typer.testing import CliRunner

    from falak.archive import open_archive
    from falak.cli.app import app

    folder = testdata / "space_packet_parser" / "jpss"
    res = CliRunner().invoke(
        app,
        ["run", "--mdb", str(jpss_xtce(testdata)), "--link",
         f"file://{folder / 'J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1'}",
         "--archive", str(tmp_path / "a"), "--until-done", "--no-status",
         "--packet-time", "cds:DOY,MSEC,USEC"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    with open_archive(tmp_path / "a", create=False) as a:
        t = a.read_parameter("SRC_SEQ_CTR").time
    assert len(t) == 7200
    assert str(t[0]) == "2021-04-09T00:00:00.007137000"  # TRUTH.md packet 0
