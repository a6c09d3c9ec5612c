"""Dotted parameter names (``SCI.SPIN_PHASE``) keep their engineering values (issue 12).

A dot is legal in an XTCE name; decoded columns of aggregate members are also keyed with dots
(``/SS/HK.STATE``), so the decoder must not take the first dot for a member separator.

Truth table for ``data/dotted_names_xtce11.xml`` (container ``SCI.Science``, APID 100), the
values worked out by hand from that file's types:

===  ====  ==========  =================  =================  ===========  ========
pkt  MODE  SPIN_PHASE  deg = raw*360/2^16 TEMP raw (degC =    COUNTS raw   FLAGS
                                          -10 + raw/2)       (eng = 4*raw)
===  ====  ==========  =================  =================  ===========  ========
0    0     0           0.0                0 (-10.0)          0 (0)        0000
     SAFE
1    1     16384       90.0               70 (25.0)          1000 (4000)  a55a
     SCIENCE
2    2     65535       359.9945068359375  -20 (-20.0)        65535        ff00
     CALIBRATION                                             (262140)
===  ====  ==========  =================  =================  ===========  ========
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.mdb import load
from falak.tm.decoder import Decoder, decode_stream
from falak.tm.encoder import ContainerEncoder

runner = CliRunner()
DATA = Path(__file__).parent / "data"
DOTTED = DATA / "dotted_names_xtce11.xml"
AGGREGATES = DATA / "dotted_aggregates_xtce12.xml"

#: (MODE, SPIN_PHASE, TEMP, COUNTS, FLAGS) raw values of the three packets (truth table above)
RAW = [
    (0, 0, 0, 0, b"\x00\x00"),
    (1, 16384, 70, 1000, b"\xa5\x5a"),
    (2, 65535, -20, 65535, b"\xff\x00"),
]
#: the packets, 14 bytes each: primary header (APID 100, sequence flags 3, count i, length 7),
#: then MODE u8, SPIN_PHASE u16, TEMP s8, COUNTS u16, FLAGS 16 bits
PACKETS = bytes.fromhex(
    "0064c000000700000000000000000064c00100070140004603e8a55a0064c002000702ffffecffffff00"
)
ENG = {
    "SCI.MODE": ["SAFE", "SCIENCE", "CALIBRATION"],
    "SCI.SPIN_PHASE": ["0.0", "90.0", "359.9945068359375"],
    "SCI.TEMP": ["-10.0", "25.0", "-20.0"],
    "SCI.COUNTS": ["0.0", "4000.0", "262140.0"],
    "SCI.FLAGS": ["0000", "a55a", "ff00"],
}


def test_the_encoder_builds_the_truth_table_packets() -> None:
    enc = ContainerEncoder(load(DOTTED))
    data = b""
    for i, (mode, phase, temp, counts, flags) in enumerate(RAW):
        data += enc.encode(
            "SCI.Science",
            {
                "CCSDS.VERSION": 0,
                "CCSDS.TYPE": 0,
                "CCSDS.SEC_HDR_FLG": 0,
                "CCSDS.SEQ_FLGS": 3,
                "CCSDS.SEQ_CTR": i,
                "CCSDS.LENGTH": 7,
                "SCI.MODE": mode,
                "SCI.SPIN_PHASE": phase,
                "SCI.TEMP": temp,
                "SCI.COUNTS": counts,
                "SCI.FLAGS": flags,
            },
        )
    assert data == PACKETS


def test_dotted_names_decode_like_underscored_names(tmp_path: Path) -> None:
    """The same file with the dots replaced by underscores decoded right before the fix."""
    dotted = load(DOTTED)
    underscored_file = tmp_path / "underscored.xml"
    text = DOTTED.read_text().replace("SCI.", "SCI_").replace("CCSDS.", "CCSDS_")
    underscored_file.write_text(text)
    underscored = load(underscored_file)
    got, _ = decode_stream(dotted, PACKETS)
    want, _ = decode_stream(underscored, PACKETS)
    (g,) = got.containers
    (w,) = want.containers
    assert g.container == "/DOTSAT/SCI.Science"
    for name in ENG:
        col = g.column(name)
        ref = w.column(name.replace(".", "_"))
        np.testing.assert_array_equal(col.raw, ref.raw)
        np.testing.assert_array_equal(col.eng, ref.eng)
    assert list(g.column("SCI.MODE").eng) == ENG["SCI.MODE"]
    # 16384 * 0.0054931640625 (the file's coefficient, 360/2^16) = 90 exactly
    np.testing.assert_array_equal(g.column("SCI.SPIN_PHASE").eng, [0.0, 90.0, 359.9945068359375])
    np.testing.assert_array_equal(g.column("SCI.TEMP").eng, [-10.0, 25.0, -20.0])
    np.testing.assert_array_equal(g.column("SCI.COUNTS").eng, [0, 4000, 262140])


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_tm_decode_writes_engineering_values_of_dotted_names(tmp_path: Path) -> None:
    packets = tmp_path / "dotsat.bin"
    packets.write_bytes(PACKETS)
    out = tmp_path / "dotsat.csv"
    res = runner.invoke(
        app, ["tm", "decode", "--mdb", str(DOTTED), "--packets", str(packets), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    head, body = _read_csv(out)
    assert head == [
        "packet",
        "CCSDS.VERSION",
        "CCSDS.TYPE",
        "CCSDS.SEC_HDR_FLG",
        "CCSDS.APID",
        "CCSDS.SEQ_FLGS",
        "CCSDS.SEQ_CTR",
        "CCSDS.LENGTH",
        *ENG,
    ]
    for name, want in ENG.items():
        assert [r[head.index(name)] for r in body] == want, name
    # --raw still writes the codes and counts
    res = runner.invoke(
        app,
        [
            "tm",
            "decode",
            "--mdb",
            str(DOTTED),
            "--packets",
            str(packets),
            "--out",
            str(out),
            "--raw",
        ],
    )
    assert res.exit_code == 0, res.output
    head, body = _read_csv(out)
    assert [r[head.index("SCI.MODE")] for r in body] == ["0", "1", "2"]
    assert [r[head.index("SCI.SPIN_PHASE")] for r in body] == ["0", "16384", "65535"]


def test_archive_ingest_export_keeps_engineering_values_of_dotted_names(tmp_path: Path) -> None:
    packets = tmp_path / "dotsat.bin"
    packets.write_bytes(PACKETS)
    store = tmp_path / "archive"
    res = runner.invoke(
        app,
        [
            "archive",
            "ingest",
            "--mdb",
            str(DOTTED),
            "--packets",
            str(packets),
            "--archive",
            str(store),
        ],
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "export.csv"
    res = runner.invoke(
        app,
        [
            "archive",
            "export",
            "--archive",
            str(store),
            "--parameters",
            ",".join(ENG),
            "--out",
            str(out),
            "--with-raw",
        ],
    )
    assert res.exit_code == 0, res.output
    head, body = _read_csv(out)
    assert len(body) == 3
    for name, want in ENG.items():
        assert [r[head.index(name)] for r in body] == want, name
    assert [r[head.index("SCI.TEMP.raw")] for r in body] == ["0", "70", "-20"]
    assert [r[head.index("SCI.MODE.raw")] for r in body] == ["0", "1", "2"]


# -- aggregate members beside dotted names -------------------------------------------------

#: data/dotted_aggregates_xtce12.xml: SCI.HDR {APID u8, MODE enum}, HK {STATE enum, VOLT
#: u8 * 0.125 V}, then SCI.VOLT (u8 * 0.125 V) when SCI.HDR/MODE is SCIENCE.
#: (bytes, container, SCI.HDR.MODE, HK.VOLT V, SCI.VOLT V or None)
AGG_TRUTH = [
    ("0701005040", "/AGGSAT/Science", "SCIENCE", 10.0, 8.0),
    ("07000108", "/AGGSAT/Science", "SAFE", 1.0, None),
    ("0800011020", "/AGGSAT/Other", "SAFE", 2.0, 4.0),
    ("0800001020", None, "SAFE", 2.0, None),  # APID 8 but HK.STATE SAFE: no container
]


@pytest.mark.parametrize("fast_path", [True, False])
def test_aggregate_member_references_still_resolve_and_decode(fast_path: bool) -> None:
    mdb = load(AGGREGATES)
    science = mdb.container("Science")
    assert science.restriction is not None
    # Yamcs style SCI.HDR.APID: member APID of the dotted parameter SCI.HDR
    assert science.restriction.ref.parameter == "/AGGSAT/SCI.HDR"  # type: ignore[union-attr]
    assert science.restriction.ref.member == ("APID",)  # type: ignore[union-attr]
    assert mdb.split_member_key("/AGGSAT/SCI.HDR.APID") == ("/AGGSAT/SCI.HDR", ("APID",))
    assert mdb.split_member_key("/AGGSAT/SCI.VOLT") == ("/AGGSAT/SCI.VOLT", ())
    assert mdb.split_member_key("/AGGSAT/HK.STATE") == ("/AGGSAT/HK", ("STATE",))
    data = b"".join(bytes.fromhex(h) for h, *_ in AGG_TRUTH)
    lengths = [len(bytes.fromhex(h)) for h, *_ in AGG_TRUTH]
    offsets = np.cumsum([0, *lengths[:-1]])
    res = Decoder(mdb, "Header", fast_path=fast_path).decode(data, offsets, lengths)
    assert {k: v.tolist() for k, v in res.failed.items() if v.size} == {"no_container": [3]}
    by_container = {c.container: c for c in res.containers}
    for i, (_, container, mode, hk_volt, sci_volt) in enumerate(AGG_TRUTH):
        if container is None:
            continue
        c = by_container[container]
        row = int(np.flatnonzero(c.packet_index == i)[0])
        assert c.column("SCI.HDR.MODE").eng[row] == mode
        assert c.column("HK.VOLT").eng[row] == hk_volt
        volt = c.column("SCI.VOLT")
        present = True if volt.present is None else bool(volt.present[row])
        assert (volt.eng[row] if present else None) == sci_volt, i


def test_a_parameter_named_like_an_aggregate_member_is_refused(tmp_path: Path) -> None:
    """/AGGSAT/SCI.HDR.APID would be the column key of both (split_member_key's rule)."""
    text = AGGREGATES.read_text().replace(
        '<xtce:Parameter name="HK" parameterTypeRef="HK_Type"/>',
        '<xtce:Parameter name="HK" parameterTypeRef="HK_Type"/>\n'
        '      <xtce:Parameter name="SCI.HDR.APID" parameterTypeRef="U8"/>',
    )
    path = tmp_path / "clash.xml"
    path.write_text(text)
    res = runner.invoke(app, ["mdb", "check", str(path)])
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert lines[0] == (
        f"{path}:46: parameter /AGGSAT/SCI.HDR.APID has the name of member 'APID' of aggregate "
        "parameter /AGGSAT/SCI.HDR, so their decoded values would mix (at /SpaceSystem[@name="
        "'AGGSAT']/TelemetryMetaData/ParameterSet/Parameter[@name='SCI.HDR.APID']) (fix: rename "
        "the parameter or the member)"
    )
    # the restrictions' SCI.HDR.APID now names that parameter (an exact name wins), which the
    # header does not decode
    assert lines[-1] == "3 errors"
