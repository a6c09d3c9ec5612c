"""Decoding real packets with the real XTCE files in ../shared/testdata, against TRUTH.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falak.mdb import load
from falak.tm.decoder import Decoder, decode_stream
from falak.tm.tabular import results_table

SPP = "space_packet_parser"


def test_contrived_inheritance_first_packets(testdata: Path) -> None:
    """jpss/TRUTH.md: through the contrived inheritance chain the packets decode with
    PKT_APID 11 and VERSION 0, and to the same values as the flat XTCE."""
    packets = (testdata / SPP / "jpss" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()
    flat, _ = decode_stream(
        load(testdata / SPP / "jpss" / "jpss1_geolocation_xtce_v1.xml"), packets
    )
    contrived, _ = decode_stream(
        load(testdata / SPP / "jpss" / "contrived_inheritance_structure.xml"), packets
    )
    a = results_table(flat.containers, raw=True)
    b = results_table(contrived.containers, raw=True)
    assert b.values[b.names.index("PKT_APID")][:3].tolist() == [11, 11, 11]
    assert b.values[b.names.index("VERSION")][:3].tolist() == [0, 0, 0]
    assert len(a) == len(b) == 7200
    for name in a.names:
        np.testing.assert_array_equal(a.values[a.names.index(name)], b.values[b.names.index(name)])


def test_jpss_xtce_types_follow_the_sizes(testdata: Path) -> None:
    """jpss/TRUTH.md: numeric types of the tabular output (uint8 ... float32)."""
    packets = (testdata / SPP / "jpss" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()
    res, _ = decode_stream(load(testdata / SPP / "jpss" / "jpss1_geolocation_xtce_v1.xml"), packets)
    t = results_table(res.containers, raw=True)
    dtypes = {n: str(v.dtype) for n, v in zip(t.names, t.values, strict=True)}
    for n in ("VERSION", "TYPE", "SEC_HDR_FLG", "SEQ_FLGS", "ADAESCID"):
        assert dtypes[n] == "uint8", n
    for n in ("PKT_APID", "SRC_SEQ_CTR", "PKT_LEN", "DOY", "USEC", "ADAET1DAY", "ADAET2US"):
        assert dtypes[n] == "uint16", n
    for n in ("MSEC", "ADAET1MS", "ADAET2MS"):
        assert dtypes[n] == "uint32", n
    for n in ("ADGPSPOSX", "ADGPSVELZ", "ADCFAQ1", "ADCFAQ4"):
        assert dtypes[n] == "float32", n
    assert len(t.names) == 28  # 'packet' + 27 parameters


def test_ctim_packet_159_and_apid_counts(testdata: Path) -> None:
    """ctim/TRUTH.md: 1499 packets from root CCSDSTelemetryPacket; per-APID counts; packet
    159 has APID 34, SHCOARSE 481168702, SHFINE 66, SEQ_CTR 4, PKT_LEN 151; APID 1 packets
    leave 11 bits (912 - 901) and one APID 20 packet leaves bits over."""
    mdb = load(testdata / SPP / "ctim" / "ctim_xtce_v1.xml")
    data = (testdata / SPP / "ctim" / "ccsds_2021_155_14_39_51").read_bytes()
    res, _ = decode_stream(mdb, data, root="CCSDSTelemetryPacket")
    assert res.n_packets == 1499
    assert res.failed_counts() == {}
    counts = {int(c.container.rsplit("_", 2)[1]): len(c) for c in res.containers}
    assert counts == {1: 104, 20: 6, 32: 104, 33: 1, 34: 1, 39: 1, 41: 1147, 42: 72, 47: 63}
    t = results_table(res.containers, raw=True)
    row = {n: t.values[i][159] for i, n in enumerate(t.names)}
    assert row["PKT_APID"] == 34
    assert row["SHCOARSE"] == 481168702
    assert row["SHFINE"] == 66
    assert row["SEQ_CTR"] == 4
    assert row["PKT_LEN"] == 151
    assert row["SEC_HDR_FLAG"] == 1
    trailing = {c.container.rsplit("/", 1)[1]: c.trailing_bits for c in res.containers}
    assert set(trailing["APID_1_Packet"].tolist()) == {11}
    assert int((trailing["APID_20_Packet"] > 0).sum()) == 1
    others = [v for k, v in trailing.items() if k not in ("APID_1_Packet", "APID_20_Packet")]
    assert all((v == 0).all() for v in others)


SUDA_TRUTH = {  # suda/TRUTH.md: samples, mean, exact integer sum
    2: (8193, 511.8518247284267, 4193602),
    4: (8193, 510.84450140363725, 4185349),
    8: (8193, 510.99353106310264, 4186570),
    16: (512, 2514.470703125, 1287409),
    32: (512, 1989.7421875, 1018748),
    64: (512, 2078.119140625, 1063997),
}


def test_suda_polymorphic_waveforms(testdata: Path) -> None:
    """suda/TRUTH.md: 4-byte prefix; 13 packets, 107 parameters in the event header and 28
    in each waveform packet; waveform sample counts, means and sums."""
    mdb = load(testdata / SPP / "suda" / "suda_combined_science_definition.xml")
    data = (testdata / SPP / "suda" / "sciData_2022_130_17_41_53.spl").read_bytes()
    res, split = decode_stream(mdb, data, prefix_bytes=4)
    assert split.n_packets == 13
    assert sum(split.rejected_counts().values()) == 0
    assert sorted(len(c.columns) for c in res.containers) == [28, 107]
    t = results_table(res.containers, raw=True)
    fetch = t.values[t.names.index("IDX__SCIFETCHTYPE")]
    assert fetch.tolist() == [1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 16, 32, 64]
    assert (
        t.values[t.names.index("SHCOARSE")].tolist()
        == [389900330] * 3 + [389900331] * 5 + [389900332] * 5
    )
    raw = t.values[t.names.index("IDX__SCIFETCHRAW")]
    for kind, (count, mean, total) in SUDA_TRUTH.items():
        words = np.frombuffer(b"".join(raw[fetch == kind]), dtype=">u4").astype(np.int64)
        if kind < 16:  # 2 unused bits, three 10-bit samples
            s = np.stack([(words >> 20) & 0x3FF, (words >> 10) & 0x3FF, words & 0x3FF], 1)
        else:  # 8 unused bits, two 12-bit samples
            s = np.stack([(words >> 12) & 0xFFF, words & 0xFFF], 1)
        s = s.ravel()[:count]
        assert s.size == count
        assert int(s.sum()) == total
        assert s.sum() / s.size == mean


YAMCS = "yamcs-xtce"


def _one(mdb_path: Path, hexbytes: str, root: str | None = None):
    data = bytes.fromhex(hexbytes)
    return Decoder(load(mdb_path), root).decode(data, [0], [len(data)])


def test_bogussat2_include_conditions_and_fixed_location(testdata: Path) -> None:
    """yamcs-xtce/TRUTH.md BogusSat2Test test2: SAV1 absent (state OFF), SAV2 present
    (raw 16 -> -100 + 0.1*16 = -98.4), Battery_Voltage at bit 88, Battery_Current 15.0."""
    res = _one(
        testdata / YAMCS / "BogusSAT-2.xml",
        "00 02 C0 56 00 05 00 01 01 01 00 41 70 00 00 41 70 00 00",
        "/BogusSAT/CCSDSPacket",
    )
    c = res.container("CCSDS_SpacePacket2")
    names = {col.name for col in c.columns.values()}
    assert "Solar_Array_Voltage_1" not in names
    assert c.column("Solar_Array_Voltage_2").raw[0] == 16
    assert c.column("Solar_Array_Voltage_2").eng[0] == pytest.approx(-98.4)
    assert c.column("Battery_Current").eng[0] == pytest.approx(15.0, abs=1e-5)
    assert c.column("Battery_Voltage").eng[0] == pytest.approx(15.0, abs=1e-5)


def test_bogussat2_arrays_repeats_integer_encodings(testdata: Path) -> None:
    """BogusSat2Test test6: ARRAY1 of 9 float64 (element 0 = -2.0, element 8 =
    -2.0000000000000004); the last repeat of ARRAY2 ends with 16.0; the three signed
    32-bit encodings of -6; Basic_uint32 = 0xC0000001."""
    hexbytes = (
        "00 06 C0 56 00 05 01 01 00 00 00 05 41 80 00 00 C0 00 00 00 00 00 00 00 01 02 01 02"
        + " C0 00 00 00 00 00 00 00" * 8
        + " C0 00 00 00 00 00 00 01 00"
        + " C0 00 00 00" * 17
        + " 41 80 00 00 C0 00 00 01 80 00 00 06 FF FF FF FA FF FF FF F9"
    )
    res = _one(testdata / YAMCS / "BogusSAT-2.xml", hexbytes, "/BogusSAT/CCSDSPacket")
    c = res.container("CCSDS_SpacePacket6")
    a1 = c.column("PAYLOAD_ANTENNA_POINTING_ARRAY1").eng[0]
    assert len(a1) == 9
    assert a1[0] == pytest.approx(-2.0, abs=1e-5)
    assert a1[8] == -2.0000000000000004
    a2 = c.column("PAYLOAD_ANTENNA_POINTING_ARRAY2").eng[0]
    assert len(a2) == 9
    assert a2[8] == pytest.approx(16.0, abs=1e-5)
    for name in ("Basic_int32_signmag", "Basic_int32_twoscomp", "Basic_int32_onescomp"):
        assert c.column(name).raw[0] == -6, name
    assert c.column("Basic_uint32").raw[0] == 3221225473
    assert c.trailing_bits.tolist() == [0]


def test_bogussat2_pus_header_without_concrete_container(testdata: Path) -> None:
    """BogusSat2Test test1: APID 0x023 with a PUS header that no concrete container
    matches; the PUS header still decodes (SeqCount 3) and the packet is counted."""
    res = _one(
        testdata / YAMCS / "BogusSAT-2.xml",
        "08 23 C0 56 00 05 35 10 20 03 05 00 00",
        "/BogusSAT/CCSDSPacket",
    )
    assert res.failed_counts() == {"no_container": 1}
    (partial,) = res.partial
    assert partial.column("PUS_Data_Field_Header.SeqCount").raw[0] == 3
    assert partial.column("PUS_Data_Field_Header.Service").raw[0] == 0x10
    assert partial.column("CCSDS_Packet_ID.APID").raw[0] == 0x23
    assert partial.column("CCSDS_Packet_Sequence.Count").raw[0] == 0x56


def test_green_book_include_condition_false(yamcs_xtce: Path) -> None:
    """CcsdsGreenBookTmTest case 1 (yamcs-xtce/TRUTH.md): 6 values, SecH raw 0, the
    secondary header skipped; derived: PBATMTEMP is the polynomial's constant term and
    PSWHLTIMFLG is TIMER_OFF."""
    res = _one(yamcs_xtce / "ccsds-green-book.xml", "18 01 00 00 00 00 00 00")
    c = res.container("HealthSafety1")
    assert len(c.columns) == 6
    assert c.column("SecH").raw[0] == 0
    assert c.column("ID").raw[0] == 24
    assert c.column("PBATMTEMP").eng[0] == pytest.approx(-7459.23273708, abs=1e-8)
    assert c.column("PSWHLTIMFLG").eng[0] == "TIMER_OFF"


def test_green_book_absolute_times(yamcs_xtce: Path) -> None:
    """Case 2: with the secondary header, 8 values; Seconds (TAI epoch, 378691200 s = 4383
    days) is 1970-01-01T00:00:00.000Z and MilliSeconds (scale 0.001, offset from Seconds)
    1970-01-01T00:00:00.050Z, as Yamcs asserts."""
    res = _one(yamcs_xtce / "ccsds-green-book.xml", "18 81 00 0C 16 92 5E 80 00 32 00 00 00 00")
    c = res.container("HealthSafety1")
    assert len(c.columns) == 8
    assert c.column("Seconds").raw[0] == 378691200
    assert c.column("Seconds").eng[0] == np.datetime64("1970-01-01T00:00:00.000", "ns")
    assert c.column("MilliSeconds").eng[0] == np.datetime64("1970-01-01T00:00:00.050", "ns")
    t = results_table(res.containers)
    from falak.tm.tabular import format_column

    i = t.names.index("MilliSeconds")
    assert format_column(t.values[i], t.present[i]) == ["1970-01-01T00:00:00.050000Z"]
