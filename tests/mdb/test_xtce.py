"""XTCE import: the third-party files in ../shared/testdata and the error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from falak.errors import MdbError, MdbErrors
from falak.mdb import load
from falak.mdb.model import (
    AllOf,
    Comparison,
    ContainerEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MissionDatabase,
    ParameterEntry,
    ParameterRef,
)
from falak.mdb.xtce import load_xtce

JPSS = "space_packet_parser/jpss"
JPSS_NS = "/JPSS_Geolocation_Packets"


def _write(tmp_path: Path, text: str, name: str = "db.xml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


XTCE12 = 'xmlns:xtce="http://www.omg.org/spec/XTCE/20180204"'


# ---------------------------------------------------------------------------------------------
# space_packet_parser: JPSS and CTIM


def test_jpss_flat_counts_and_descriptions(testdata: Path) -> None:
    mdb = load_xtce(testdata / JPSS / "jpss1_geolocation_xtce_v1.xml")
    # jpss/TRUTH.md: "flat XTCE (27 parameters)"
    assert len(mdb.parameters) == 27
    assert mdb.root.qualified_name == JPSS_NS
    usec = mdb.parameters[f"{JPSS_NS}/USEC"]
    # jpss/TRUTH.md, asserted by upstream space_packet_parser tests
    assert usec.description == "Secondary Header Fine Time (microsecond)"
    assert usec.long_description == "CCSDS Packet 2nd Header Fine Time in microseconds."
    assert usec.source is not None
    assert usec.source.line is not None
    assert usec.source.xpath == (
        f"/SpaceSystem[@name='{JPSS_NS[1:]}']/TelemetryMetaData/ParameterSet/Parameter[@name='USEC']"
    )


def test_jpss_flat_types(testdata: Path) -> None:
    mdb = load_xtce(testdata / JPSS / "jpss1_geolocation_xtce_v1.xml")
    # the XML: ADGPSPOS_Type is a float with a 32-bit IEEE754 encoding, unit m
    pos = mdb.parameter_type(f"{JPSS_NS}/ADGPSPOSX")
    assert isinstance(pos, FloatType)
    assert pos.encoding == FloatEncoding(32, "IEEE754")
    assert pos.unit == "m"
    # PKT_APID_Type: unsigned 11 bits
    apid = mdb.parameter_type(f"{JPSS_NS}/PKT_APID")
    assert isinstance(apid, IntegerType)
    assert apid.encoding == IntegerEncoding(11, "unsigned")
    assert apid.signed is False


def test_jpss_contrived_inheritance(testdata: Path) -> None:
    mdb = load_xtce(testdata / JPSS / "contrived_inheritance_structure.xml")
    assert len(mdb.parameters) == 27
    tm = mdb.containers[f"{JPSS_NS}/CCSDSTelemetryPacket"]
    assert tm.abstract
    assert tm.base == f"{JPSS_NS}/CCSDSPacket"
    # BooleanExpression/ANDedConditions of VERSION == 0 and TYPE == 0, raw values
    assert tm.restriction == AllOf(
        (
            Comparison(ParameterRef(f"{JPSS_NS}/VERSION", calibrated=False), "==", "0"),
            Comparison(ParameterRef(f"{JPSS_NS}/TYPE", calibrated=False), "==", "0"),
        )
    )
    att = mdb.containers[f"{JPSS_NS}/JPSS_ATT_EPHEM"]
    assert att.base == f"{JPSS_NS}/CCSDSTelemetryPacket"
    assert att.restriction == AllOf(
        (Comparison(ParameterRef(f"{JPSS_NS}/PKT_APID", calibrated=False), "==", "11"),)
    )
    assert att.entries[0] == ContainerEntry(f"{JPSS_NS}/SecondaryHeaderContainer")
    assert att.entries[1] == ParameterEntry(f"{JPSS_NS}/ADAESCID")
    assert len(att.entries) == 18


def test_ctim_counts(testdata: Path) -> None:
    mdb = load_xtce(testdata / "space_packet_parser/ctim/ctim_xtce_v1.xml")
    # ctim/TRUTH.md: about 9,500 parameters and 39 sequence containers, CCSDSTelemetryPacket
    # plus one APID_<n>_Packet per APID; 9493 is the count of Parameter elements in the file
    assert len(mdb.parameters) == 9493
    assert len(mdb.containers) == 39
    root = mdb.containers["/CTIM/CCSDSTelemetryPacket"]
    assert [c.qualified_name for c in mdb.root_containers()] == ["/CTIM/CCSDSTelemetryPacket"]
    assert [e.parameter for e in root.entries if isinstance(e, ParameterEntry)][:7] == [
        f"/CTIM/{n}" for n in ("VERSION", "TYPE", "SEC_HDR_FLAG", "PKT_APID", "SEQ_FLGS")
    ] + ["/CTIM/SEQ_CTR", "/CTIM/PKT_LEN"]
    children = mdb.children("/CTIM/CCSDSTelemetryPacket")
    assert len(children) == 38
    assert all(c.name.startswith("APID_") for c in children)


def test_load_dispatches_xml_to_xtce(testdata: Path) -> None:
    mdb = load(testdata / JPSS / "jpss1_geolocation_xtce_v1.xml")
    assert isinstance(mdb, MissionDatabase)
    assert len(mdb.parameters) == 27


# ---------------------------------------------------------------------------------------------
# Errors


def test_unresolved_type_reference_names_line_and_fix(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        f"""<?xml version="1.0"?>
<xtce:SpaceSystem {XTCE12} name="Sat">
  <xtce:SpaceSystem name="Sub">
    <xtce:TelemetryMetaData>
      <xtce:ParameterSet>
        <xtce:Parameter name="p1" parameterTypeRef="NoSuchType"/>
        <xtce:Parameter name="p2" parameterTypeRef="AlsoMissing"/>
      </xtce:ParameterSet>
    </xtce:TelemetryMetaData>
  </xtce:SpaceSystem>
</xtce:SpaceSystem>
""",
    )
    with pytest.raises(MdbErrors) as info:
        load_xtce(p)
    errs = info.value.errors
    assert len(errs) == 2  # all errors are collected, not just the first
    assert str(errs[0]) == (
        f"{p}:6: parameter 'p1' refers to parameter type 'NoSuchType', which is not defined "
        "in SpaceSystem /Sat/Sub or its ancestors "
        "(at /SpaceSystem[@name='Sat']/SpaceSystem[@name='Sub']/TelemetryMetaData/ParameterSet"
        "/Parameter[@name='p1']); fix: define a parameter type named NoSuchType in SpaceSystem "
        "/Sat/Sub, or qualify the name (e.g. /Sat/.../NoSuchType)"
    )
    assert errs[1].line == 7
    assert "AlsoMissing" in errs[1].message


def test_malformed_xml_reports_line(tmp_path: Path) -> None:
    p = _write(tmp_path, f'<xtce:SpaceSystem {XTCE12} name="S">\n  <xtce:TelemetryMetaData>\n')
    with pytest.raises(MdbError) as info:
        load_xtce(p)
    err = info.value
    assert err.line == 3
    assert str(err).startswith(f"{p}:3: malformed XML: ")
    assert "fix: correct the XML syntax" in str(err)


def test_unknown_root_element(tmp_path: Path) -> None:
    p = _write(tmp_path, '<?xml version="1.0"?>\n<Database name="x"/>\n')
    with pytest.raises(MdbError) as info:
        load_xtce(p)
    assert str(info.value) == (
        f"{p}:2: root element is 'Database', not an XTCE SpaceSystem (at /Database); fix: an "
        "XTCE file must have a SpaceSystem root element in namespace "
        "http://www.omg.org/spec/XTCE/20180204 (XTCE 1.2) or http://www.omg.org/space/xtce "
        "(XTCE 1.1)"
    )


def test_missing_base_container(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        f"""<xtce:SpaceSystem {XTCE12} name="S">
  <xtce:TelemetryMetaData>
    <xtce:ContainerSet>
      <xtce:SequenceContainer name="Child">
        <xtce:EntryList/>
        <xtce:BaseContainer containerRef="Header"/>
      </xtce:SequenceContainer>
    </xtce:ContainerSet>
  </xtce:TelemetryMetaData>
</xtce:SpaceSystem>
""",
    )
    with pytest.raises(MdbErrors) as info:
        load_xtce(p)
    (err,) = info.value.errors
    assert err.line == 6
    assert err.message == (
        "base of container 'Child' refers to container 'Header', which is not defined in "
        "SpaceSystem /S or its ancestors"
    )
    assert (
        err.fix == "define a container named Header in SpaceSystem /S, or qualify the name "
        "(e.g. /S/.../Header)"
    )
