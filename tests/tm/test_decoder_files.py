"""The decoder against real packet files and the values other decoders and TRUTH.md give."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

from falak.ccsds.spacepacket import split_packets
from falak.mdb.model import (
    ArrayType,
    Dimension,
    DynamicValue,
    Parameter,
    ParameterEntry,
    ParameterRef,
)
from falak.tm.decoder import Decoder

from .mdbs import Builder, apid_is, from_ccsdspy_csv

JPSS = "space_packet_parser/jpss"


def _decode_file(mdb, path: Path, **split_kw):
    data = path.read_bytes()
    split = split_packets(data, **split_kw)
    return Decoder(mdb).decode(data, split.offsets, split.lengths), split


def test_jpss_equals_ccsdspy_for_every_field_and_packet(testdata: Path) -> None:
    """JPSS geolocation packets: falak decodes exactly what ccsdspy 2.0 decodes from the same
    CSV definition (TRUTH.md: 7200 packets x 27 fields, floats bit for bit)."""
    ccsdspy = pytest.importorskip("ccsdspy")
    defn = testdata / JPSS / "ccsdspy_jpss1_geolocation.csv"
    packets = testdata / JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
    result, _split = _decode_file(from_ccsdspy_csv(defn, apid=11), packets)
    assert result.n_packets == 7200
    assert result.failed_counts() == {}
    cols = result.container("Packet")
    with warnings.catch_warnings():
        # ccsdspy logs through the logging module and warns about nothing here; keep it quiet
        warnings.simplefilter("ignore")
        expected = ccsdspy.FixedLength.from_file(str(defn)).load(
            str(packets), include_primary_header=True
        )
    names = {
        "CCSDS_APID": "PKT_APID",
        "CCSDS_VERSION_NUMBER": "VERSION",
        "CCSDS_PACKET_TYPE": "TYPE",
        "CCSDS_SECONDARY_FLAG": "SEC_HDR_FLG",
        "CCSDS_SEQUENCE_FLAG": "SEQ_FLGS",
        "CCSDS_SEQUENCE_COUNT": "SRC_SEQ_CTR",
        "CCSDS_PACKET_LENGTH": "PKT_LEN",
    }
    assert len(expected) == 27
    for name, values in expected.items():
        got = cols.column(names.get(name, name)).raw
        if values.dtype.kind == "f":
            np.testing.assert_array_equal(
                got.view(np.uint32), values.astype(np.float32).view(np.uint32)
            )
        else:
            np.testing.assert_array_equal(got.astype(np.int64), values.astype(np.int64))


def test_jpss_truth_first_and_last_packet(testdata: Path) -> None:
    """Values stated in space_packet_parser/jpss/TRUTH.md for packets 0 and 7199."""
    defn = testdata / JPSS / "ccsdspy_jpss1_geolocation.csv"
    packets = testdata / JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
    result, _ = _decode_file(from_ccsdspy_csv(defn, apid=11), packets)
    c = result.container("Packet")
    first = {k: c.column(k).raw[0] for k in ("SRC_SEQ_CTR", "DOY", "MSEC", "USEC", "ADAESCID")}
    assert first == {"SRC_SEQ_CTR": 2606, "DOY": 23109, "MSEC": 7, "USEC": 137, "ADAESCID": 159}
    assert c.column("ADGPSPOSX").raw[0] == np.float32(6389695.5)
    assert c.column("ADGPSVELY").raw[0] == np.float32(-785.8864135742188)
    assert c.column("ADCFAQ4").raw[0] == np.float32(0.5529747009277344)
    assert c.column("SRC_SEQ_CTR").raw[-1] == 9805
    assert c.column("MSEC").raw[-1] == 7199005
    assert c.column("ADGPSPOSZ").raw[-1] == np.float32(-5515203.0)
    assert c.column("ADCFAQ3").raw[-1] == np.float32(0.334092378616333)
    assert np.all(c.column("PKT_LEN").raw == 64)


BYTE_ORDERS = [
    "1",
    "12",
    "21",
    "123",
    "321",
    "1234",
    "2143",
    "3412",
    "4321",
    "123456",
    "1234567",
    "12345678",
    "78563412",
    "87654321",
]


@pytest.mark.parametrize("order", BYTE_ORDERS)
def test_ccsdspy_byte_order_files(testdata: Path, order: str) -> None:
    """ccsdspy/byte_order: 10 packets of 80 integers in unusual byte orders equal the CSVs.

    ccsdspy/TRUTH.md: digit d of ORDER (1 = most significant) maps to XTCE byte significance
    n - d; these synthetic packets carry CCSDS version 1, hence the lenient splitter mode.
    """
    n = len(order)
    sig = tuple(n - int(d) for d in order)
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    fields = tuple(
        ParameterEntry(b.uint(f"V{i}", 8 * n, byte_order=None if n == 1 else sig))
        for i in range(80)
    )
    b.container("Packet", fields, base=hdr, restriction=apid_is(226))
    folder = testdata / "ccsdspy" / "byte_order"
    result, _split = _decode_file(
        b.build(), folder / f"byteorder_{order}.bin", lenient_version=True
    )
    with (folder / f"byteorder_{order}.csv").open() as fh:
        expected = np.array([[int(v) for v in row] for row in csv.reader(fh)], dtype=np.uint64)
    c = result.container("Packet")
    got = np.stack([c.column(f"V{i}").raw.astype(np.uint64) for i in range(80)], axis=1)
    np.testing.assert_array_equal(got, expected)


SIZES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def _var_mdb(footer: bool) -> Builder:
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    b.uint("ELEM", 16)
    # the array fills the packet: count = (PKT_LEN + 1 - footer bytes) / 2 uint16 values
    pkt_len = ParameterRef("/T/PKT_LEN", calibrated=False)
    count = DynamicValue(pkt_len, 0.5, 0.5 - (1.0 if footer else 0.0))
    b.types["DATA_T"] = ArrayType("DATA_T", "/T/ELEM_T", (Dimension(dynamic_size=count),))
    b.params["DATA"] = Parameter("DATA", "/T/DATA", "/T/DATA_T")
    entries = [ParameterEntry("/T/DATA")]
    if footer:
        entries.append(ParameterEntry(b.uint("FOOTER", 16)))
    b.container("Packet", tuple(entries), base=hdr, restriction=apid_is(226))
    return b


@pytest.mark.parametrize("footer", [False, True])
def test_ccsdspy_var_length_arrays(testdata: Path, footer: bool) -> None:
    """ccsdspy/var_length: packet k holds SIZES[k] uint16 values counting up from SIZES[k]
    (ccsdspy/TRUTH.md), optionally followed by a footer equal to 1."""
    b, name = _var_mdb(footer), "Packet"
    fname = "var_length_packets_with_footer.bin" if footer else "var_length_packets.bin"
    result, _ = _decode_file(
        b.build(), testdata / "ccsdspy" / "var_length" / fname, lenient_version=True
    )
    c = result.container(name)
    assert len(c) == 10
    for k, size in enumerate(SIZES):
        np.testing.assert_array_equal(c.column("DATA").raw[k], np.arange(size, 2 * size))
    if footer:
        assert np.all(c.column("FOOTER").raw == 1)


def test_ccsdspy_double_varfield_arrays_sized_by_earlier_counts(testdata: Path) -> None:
    """Two arrays each sized by the uint8 count before it, then a footer (ccsdspy/TRUTH.md)."""
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    n1, n2 = b.uint("N1", 8), b.uint("N2", 8)
    b.uint("ELEM", 16)
    for arr, count in (("A1", n1), ("A2", n2)):
        dim = Dimension(dynamic_size=DynamicValue(ParameterRef(count, calibrated=False)))
        b.types[f"{arr}_T"] = ArrayType(f"{arr}_T", "/T/ELEM_T", (dim,))
        b.params[arr] = Parameter(arr, f"/T/{arr}", f"/T/{arr}_T")
    entries = (
        ParameterEntry(n1),
        ParameterEntry("/T/A1"),
        ParameterEntry(n2),
        ParameterEntry("/T/A2"),
        ParameterEntry(b.uint("FOOTER", 16)),
    )
    b.container("Packet", entries, base=hdr, restriction=apid_is(226))
    path = (
        testdata / "ccsdspy" / "var_length" / "var_length_packets_double_varfield_with_footer.bin"
    )
    result, _ = _decode_file(b.build(), path, lenient_version=True)
    c = result.container("Packet")
    n2_expected = [5, 7, 2, 8, 3, 41, 42, 1, 3, 4]
    assert c.column("N1").raw.tolist() == SIZES
    assert c.column("N2").raw.tolist() == n2_expected
    assert c.column("PKT_LEN").raw.tolist() == [17, 23, 17, 33, 31, 111, 121, 43, 55, 69]
    for k in range(10):
        np.testing.assert_array_equal(c.column("A1").raw[k], np.arange(SIZES[k], 2 * SIZES[k]))
        np.testing.assert_array_equal(c.column("A2").raw[k], np.arange(n2_expected[k]))
    assert np.all(c.column("FOOTER").raw == 1)
