"""XTCE import: the third-party files in ../shared/testdata and the error messages."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falak.errors import MdbError, MdbErrors
from falak.mdb import load
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    AlarmLevel,
    AlarmRanges,
    AllOf,
    AnyOf,
    Argument,
    ArgumentEntry,
    ArrayType,
    BinaryEncoding,
    BinaryType,
    BooleanType,
    Comparison,
    ContainerEntry,
    ContextCalibrator,
    Dimension,
    DynamicValue,
    EnumeratedType,
    EnumerationAlarm,
    EnumValue,
    FixedValueEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    Location,
    MissionDatabase,
    ParameterEntry,
    ParameterRef,
    PolynomialCalibrator,
    Range,
    Repeat,
    Significance,
    SplineCalibrator,
    StringEncoding,
    TimeEpoch,
    Verifier,
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


# ---------------------------------------------------------------------------------------------
# yamcs: Green Book, BogusSAT, small files

YAMCS = "yamcs-xtce"
BUS = "/BogusSAT/SC001/BusElectronics"
PAYLOAD1 = "/BogusSAT/SC001/Payload1"


def _cmp(param: str, value: str, op: str = "==", **kw: object) -> Comparison:
    return Comparison(ParameterRef(param, **kw), op, value)  # type: ignore[arg-type]


def test_green_book_structure(yamcs_xtce: Path) -> None:
    mdb = load_xtce(yamcs_xtce / "ccsds-green-book.xml")
    sv = "/SpaceVehicle"
    # yamcs-xtce/TRUTH.md: HealthSafety1 is selected when Type = 1 and ID = 24
    hs = mdb.containers[f"{sv}/HealthSafety1"]
    assert hs.base == f"{sv}/Header"
    assert hs.restriction == AllOf((_cmp(f"{sv}/Type", "1"), _cmp(f"{sv}/ID", "24")))
    assert [e.parameter for e in hs.entries if isinstance(e, ParameterEntry)] == [
        f"{sv}/PBATMTEMP",
        f"{sv}/PSWHLTIMFLG",
    ]
    # the header: ID, SecH, Type, Length, then the secondary header when SecH = 1
    header = mdb.containers[f"{sv}/Header"]
    assert header.abstract
    assert [getattr(e, "parameter", None) for e in header.entries[:4]] == [
        f"{sv}/{n}" for n in ("ID", "SecH", "Type", "Length")
    ]
    assert header.entries[4] == ContainerEntry(
        f"{sv}/SecondaryHeader", include_if=_cmp(f"{sv}/SecH", "1")
    )


def test_green_book_times_and_calibration(yamcs_xtce: Path) -> None:
    mdb = load_xtce(yamcs_xtce / "ccsds-green-book.xml")
    sv = "/SpaceVehicle"
    seconds = mdb.parameter_type(f"{sv}/Seconds")
    assert isinstance(seconds, AbsoluteTimeType)
    assert seconds.encoding == IntegerEncoding(32)
    assert seconds.epoch == TimeEpoch("TAI")
    ms = mdb.parameter_type(f"{sv}/MilliSeconds")
    assert isinstance(ms, AbsoluteTimeType)
    assert ms.scale == 0.001
    assert ms.offset_from == ParameterRef(f"{sv}/Seconds")
    assert ms.epoch is None
    temp = mdb.parameter_type(f"{sv}/PBATMTEMP")
    assert isinstance(temp, FloatType)
    assert temp.encoding == IntegerEncoding(16, "twosComplement")
    # the XML's Term list, exponents 0..4
    assert temp.calibrator == PolynomialCalibrator(
        (-7459.23273708, 8.23643519148, -3.02185061876e-3, 2.33422429056e-7, 5.67189556173e-11)
    )
    # CommandMetaData may hold parameters too; a type without encoding keeps encoding=None
    ret = mdb.parameter_type(f"{sv}/CommandReturn")
    assert isinstance(ret, IntegerType)
    assert ret.encoding is None
    assert mdb.parameters[f"{sv}/MissionTime"].data_source == "derived"


def test_green_book_command(yamcs_xtce: Path) -> None:
    mdb = load_xtce(yamcs_xtce / "ccsds-green-book.xml")
    sv = "/SpaceVehicle"
    cmd = mdb.commands[f"{sv}/PWHTMR"]
    assert cmd.significance == Significance.CRITICAL
    assert cmd.arguments == (Argument("TimerStartStop", f"{sv}/TimerStartStopType"),)
    assert cmd.entries == (
        FixedValueEntry(8, b"\x1e"),
        ParameterEntry(f"{sv}/CheckSum"),
        ArgumentEntry("TimerStartStop"),
    )
    assert cmd.container_name == f"{sv}/PWHTMRPacket"
    assert cmd.container_base == f"{sv}/Header"
    assert cmd.container_restriction == AllOf(
        (_cmp(f"{sv}/ID", "255"), _cmp(f"{sv}/Type", "0"), _cmp(f"{sv}/SecH", "0"))
    )
    # CheckWindow timeToStopChecking="PT10M"
    assert cmd.verifiers == (
        Verifier("complete", 0.0, 600.0, container=f"{sv}/HealthSafety1"),
        Verifier("failed", 0.0, 600.0, condition=_cmp(f"{sv}/CommandReturn", "0")),
    )


def test_suda_polymorphic_containers(testdata: Path) -> None:
    mdb = load_xtce(testdata / "space_packet_parser/suda/suda_combined_science_definition.xml")
    # suda/TRUTH.md: the event header (IDX__SCIFETCHTYPE = 1) and the waveform packets
    # (type > 1) decode to different field sets under APID 1425
    fetch = mdb.containers["/IDEX/IDX_SCIFETCH"]
    assert fetch.restriction == AllOf((_cmp("/IDEX/PKT_APID", "1425", calibrated=False),))
    kids = {c.name: c for c in mdb.children("/IDEX/IDX_SCIFETCH")}
    assert set(kids) == {"SciFetchTypeZero", "SciFetchTypeNonZero"}
    assert kids["SciFetchTypeZero"].restriction == AllOf(
        (_cmp("/IDEX/IDX__SCIFETCHTYPE", "1", calibrated=False),)
    )
    assert kids["SciFetchTypeNonZero"].restriction == AllOf(
        (_cmp("/IDEX/IDX__SCIFETCHTYPE", "1", ">", calibrated=False),)
    )
    raw = mdb.parameter_type("/IDEX/IDX__SCIFETCHRAW")
    assert isinstance(raw, BinaryType)
    # BinaryDataEncoding sized by PKT_LEN with LinearAdjustment slope 8, intercept -328
    assert raw.encoding == BinaryEncoding(
        dynamic_size=DynamicValue(ParameterRef("/IDEX/PKT_LEN"), 8.0, -328.0)
    )
    p = mdb.parameters["/IDEX/IDX__SCIFETCHRAW"]
    assert p.aliases == (("externalElement", "IDX"), ("itemName", "SCIFETCHRAW"))
    assert mdb.containers["/IDEX/IDX_SCI0"].ancillary == (("topLevelPacket", "true"),)


def test_bogussat2_schema_assertions(testdata: Path) -> None:
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-2.xml")
    # yamcs-xtce/TRUTH.md section 4 (BogusSat2Test.java)
    assert mdb.commands["/BogusSAT/CCSDSTelecommand"].abstract
    cfg = mdb.types["/BogusSAT/SC001/Onboard_Processor_Config/Config_Log_Levels_Type"]
    assert isinstance(cfg, AggregateType)
    assert cfg.long_description == "Test Long Description"
    assert cfg.ancillary == (("TEST_ANC_DATA", "1"),)
    err = mdb.types["/BogusSAT/LOG_MSGS/ERRORCODE_Type"]
    assert isinstance(err, EnumeratedType)
    (v123,) = [v for v in err.values if v.value == 123]
    assert v123.description == "Detailed description of error case A"
    # an enumeration WITHOUT a data encoding is legal XTCE and loads with encoding=None
    tm_checksum = mdb.types["/BogusSAT/TM_CHECKSUMType"]
    assert isinstance(tm_checksum, EnumeratedType)
    assert tm_checksum.encoding is None


def test_bogussat2_packet_structure(testdata: Path) -> None:
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-2.xml")
    # TRUTH.md case 2: include conditions and a fixed location at bit 88
    sp2 = mdb.containers["/BogusSAT/SC001/CCSDS_SpacePacket2"]
    assert sp2.restriction == AllOf(
        (
            Comparison(
                ParameterRef("/BogusSAT/CCSDS_Packet_ID", ("SecHdrFlag",)), "==", "NotPresent"
            ),
            Comparison(ParameterRef("/BogusSAT/CCSDS_Packet_ID", ("APID",)), "==", "2"),
        )
    )
    e = {getattr(x, "parameter", ""): x for x in sp2.entries}
    assert e[f"{BUS}/Solar_Array_Voltage_1"].include_if == _cmp(
        f"{BUS}/Solar_Array_Voltage_1_State", "ON"
    )
    assert e[f"{BUS}/Solar_Array_Voltage_2"].include_if == _cmp(
        f"{BUS}/Solar_Array_Voltage_2_State", "1", calibrated=False
    )
    assert e[f"{BUS}/Battery_Voltage"].location == Location(88, "containerStart")
    # TRUTH.md case 3: arrays with entry-level sizes, an 8-bit gap and a repeat of 2
    sp6 = mdb.containers["/BogusSAT/SC001/CCSDS_SpacePacket6"]
    arr1, arr2 = (x for x in sp6.entries if "ARRAY" in getattr(x, "parameter", ""))
    assert isinstance(arr1, ParameterEntry)
    assert arr1.dimensions == (Dimension(size=9),)
    assert arr2 == ParameterEntry(
        f"{PAYLOAD1}/PAYLOAD_ANTENNA_POINTING_ARRAY2",
        location=Location(8, "previousEntry"),
        repeat=Repeat(2),
        dimensions=(Dimension(size=9),),
    )
    arr_t = mdb.parameter_type(f"{PAYLOAD1}/PAYLOAD_ANTENNA_POINTING_ARRAY1")
    assert isinstance(arr_t, ArrayType)
    assert arr_t.dimensions == ()  # XTCE 1.1 numberOfDimensions: sized at the entry


def test_bogussat2_integer_encodings_and_byte_orders(testdata: Path) -> None:
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-2.xml")
    enc = {
        n: mdb.parameter_type(f"{PAYLOAD1}/Basic_int32_{n}").encoding  # type: ignore[union-attr]
        for n in ("signmag", "twoscomp", "onescomp")
    }
    assert enc == {
        "signmag": IntegerEncoding(32, "signMagnitude"),
        "twoscomp": IntegerEncoding(32, "twosComplement"),
        "onescomp": IntegerEncoding(32, "onesComplement"),
    }
    # byteOrder="leastSignificantByteFirst": byte 0 (least significant) is sent first
    le_int = mdb.types["/BogusSAT/LittleEndianInteger1"]
    assert le_int.encoding == IntegerEncoding(16, "unsigned", (0, 1))  # type: ignore[union-attr]
    le_float = mdb.types["/BogusSAT/LittleEndianFloat1"]
    assert le_float.encoding == FloatEncoding(64, "IEEE754", tuple(range(8)))  # type: ignore[union-attr]


def test_bogussat2_relative_paths_and_commands(testdata: Path) -> None:
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-2.xml")
    # ECSS_SpacePacket1 uses BusElectronics/../BusElectronics/x, ../SomeParameter and ./x
    sp = mdb.containers["/BogusSAT/SC001/ECSS_SpacePacket1"]
    params = [e.parameter for e in sp.entries if isinstance(e, ParameterEntry)]
    assert params == [
        f"{BUS}/Battery_Voltage",
        f"{BUS}/Battery_Current",
        f"{BUS}/Battery_Charge_Mode",
        "/BogusSAT/SomeParameter",
        f"{BUS}/Solar_Array_Voltage_1",
        f"{BUS}/Solar_Array_Voltage_2",
    ]
    on = mdb.commands[f"{BUS}/Reaction_Wheel_1_On"]
    assert on.base == f"{BUS}/Reaction_Wheel_Control"
    assert on.argument_assignments == (("RW_UNIT_ID", "1"), ("RW_PWR_STATE", "ON"))
    assert on.container_base == f"{BUS}/Reaction_Wheel_Control_Container"
    ctl = mdb.commands[f"{BUS}/Reaction_Wheel_Control"]
    assert ctl.base == "/BogusSAT/CCSDSDirectTelecommand"  # from ../../CCSDSDirectTelecommand


def test_bogussat1_loads_without_validation(testdata: Path) -> None:
    path = testdata / YAMCS / "BogusSAT-1.xml"
    mdb = load_xtce(path, validate=False)
    assert mdb.root.qualified_name == "/BogusSAT"
    assert set(mdb.root.subsystems["SC001"].subsystems) == {
        "BusElectronics",
        "Payload1",
        "Payload2",
    }
    cmd1 = mdb.commands[f"{BUS}/Cmd1"]
    # two ArgumentList elements in the file; both are kept
    assert [a.name for a in cmd1.arguments] == ["STRING_FV", "BINARY_FV"]
    assert cmd1.argument_assignments == (("CmdId", "1"),)
    spline = mdb.types[f"{BUS}/Spline_Quad_Interpolate_Type"]
    assert isinstance(spline, FloatType)
    assert isinstance(spline.calibrator, SplineCalibrator)
    assert spline.calibrator.order == 2


def test_bogussat1_validation_reports_what_the_decoder_cannot_do(testdata: Path) -> None:
    # BogusSAT-1 carries deliberate edge cases (a quadratic spline, a spline with a vertical
    # step, a polynomial without terms): legal XTCE, so it loads, with a warning and a fix each
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-1.xml")
    messages = [e.message for e in mdb.warnings]
    assert any("spline order 2" in m for m in messages)
    assert any("polynomial calibrator without coefficients" in m for m in messages)
    assert all(e.file and e.line for e in mdb.warnings)


@pytest.mark.parametrize(
    ("name", "params", "containers", "commands"),
    [
        ("strings-tm.xml", 8, 6, 1),
        ("array-tm.xml", 5, 4, 0),
        ("VariableBinary.xml", 3, 1, 2),
        ("booleans.xml", 2, 2, 2),
        ("container-entry.xml", 2, 2, 0),
        ("enum-arg.xml", 0, 0, 1),
        ("array-arg.xml", 0, 0, 1),
    ],
)
def test_small_yamcs_files_load(
    yamcs_xtce: Path, name: str, params: int, containers: int, commands: int
) -> None:
    # counts are those of Parameter, SequenceContainer and MetaCommand elements in each file
    mdb = load_xtce(yamcs_xtce / name, validate=False)
    assert (len(mdb.parameters), len(mdb.containers), len(mdb.commands)) == (
        params,
        containers,
        commands,
    )


def test_strings_encodings(yamcs_xtce: Path) -> None:
    mdb = load_xtce(yamcs_xtce / "strings-tm.xml", validate=False)
    enc = {
        n: mdb.types[f"/StringsTm/{n}"].encoding
        for n in ("string1", "string3", "string5", "string6")
    }  # type: ignore[union-attr]
    size_ref = DynamicValue(ParameterRef("/StringsTm/uint16_param2"), slope=8.0)
    assert enc == {
        "string1": StringEncoding(fixed_size_bits=48, terminator=b"\x00"),
        # Yamcs's _yamcs_ignore placeholder means "no size parameter"
        "string3": StringEncoding(terminator=b"\x00", max_size_bits=48),
        "string5": StringEncoding(leading_size_bits=16, max_size_bits=48),
        "string6": StringEncoding(dynamic_size=size_ref, max_size_bits=48),
    }


def test_arrays_fold_start_and_end_index_into_a_count(yamcs_xtce: Path) -> None:
    mdb = load_xtce(yamcs_xtce / "array-tm.xml")
    t = mdb.types["/ArrayTmTest/aggrarraytype"]
    assert isinstance(t, ArrayType)
    assert t.element_type == "/ArrayTmTest/aggrtype"
    # StartingIndex 0, EndingIndex n - 1: the count is n
    assert t.dimensions == (Dimension(dynamic_size=DynamicValue(ParameterRef("/ArrayTmTest/n"))),)
    arg = load_xtce(yamcs_xtce / "array-arg.xml").argument_types["/ArrayArgTest/array1_type"]
    assert isinstance(arg, ArrayType)
    assert arg.dimensions == (
        Dimension(dynamic_size=DynamicValue(ParameterRef("length", argument=True))),
    )


def test_booleans(yamcs_xtce: Path) -> None:
    mdb = load_xtce(yamcs_xtce / "booleans.xml")
    b2 = mdb.types["/Booleans/bool2"]
    assert isinstance(b2, BooleanType)
    assert (b2.zero_string, b2.one_string) == ("nooo", "yes!")
    assert b2.encoding == StringEncoding(fixed_size_bits=32, terminator=b"\x00")
    assert mdb.commands["/Booleans/command2"].container_name == "/Booleans/bool2"


# ---------------------------------------------------------------------------------------------
# Name resolution


NAMES_XML = f"""<xtce:SpaceSystem {XTCE12} name="Root">
  <xtce:TelemetryMetaData>
    <xtce:ParameterTypeSet>
      <xtce:IntegerParameterType name="u8"><xtce:IntegerDataEncoding sizeInBits="8"/>
      </xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="u16le">
        <xtce:IntegerDataEncoding sizeInBits="16" byteOrder="leastSignificantByteFirst"/>
      </xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="u32odd">
        <xtce:IntegerDataEncoding sizeInBits="32">
          <xtce:ByteOrderList>
            <xtce:Byte byteSignificance="2"/><xtce:Byte byteSignificance="3"/>
            <xtce:Byte byteSignificance="0"/><xtce:Byte byteSignificance="1"/>
          </xtce:ByteOrderList>
        </xtce:IntegerDataEncoding>
      </xtce:IntegerParameterType>
      <xtce:AggregateParameterType name="Hdr">
        <xtce:MemberList><xtce:Member name="apid" typeRef="u8"/></xtce:MemberList>
      </xtce:AggregateParameterType>
    </xtce:ParameterTypeSet>
    <xtce:ParameterSet>
      <xtce:Parameter name="hdr" parameterTypeRef="Hdr"/>
      <xtce:Parameter name="x" parameterTypeRef="u16le"/>
    </xtce:ParameterSet>
    <xtce:ContainerSet>
      <xtce:SequenceContainer name="base">
        <xtce:EntryList><xtce:ParameterRefEntry parameterRef="hdr"/></xtce:EntryList>
      </xtce:SequenceContainer>
    </xtce:ContainerSet>
  </xtce:TelemetryMetaData>
  <xtce:SpaceSystem name="A">
    <xtce:TelemetryMetaData>
      <xtce:ParameterSet>
        <xtce:Parameter name="x" parameterTypeRef="u32odd"/>
        <xtce:Parameter name="y" parameterTypeRef="/Root/u8"/>
      </xtce:ParameterSet>
      <xtce:ContainerSet>
        <xtce:SequenceContainer name="c">
          <xtce:EntryList>
            <xtce:ParameterRefEntry parameterRef="x"/>
            <xtce:ParameterRefEntry parameterRef="../x"/>
            <xtce:ParameterRefEntry parameterRef="./B/z"/>
            <xtce:ParameterRefEntry parameterRef="/Root/A/y"/>
          </xtce:EntryList>
          <xtce:BaseContainer containerRef="/Root/base">
            <xtce:RestrictionCriteria>
              <xtce:BooleanExpression>
                <xtce:ORedConditions>
                  <xtce:Condition>
                    <xtce:ParameterInstanceRef parameterRef="hdr/apid"/>
                    <xtce:ComparisonOperator>&lt;=</xtce:ComparisonOperator>
                    <xtce:Value>7</xtce:Value>
                  </xtce:Condition>
                  <xtce:ANDedConditions>
                    <xtce:Condition>
                      <xtce:ParameterInstanceRef parameterRef="hdr.apid"/>
                      <xtce:ComparisonOperator>!=</xtce:ComparisonOperator>
                      <xtce:Value>9</xtce:Value>
                    </xtce:Condition>
                    <xtce:Condition>
                      <xtce:ParameterInstanceRef parameterRef="/Root/hdr/apid"
                                                 useCalibratedValue="false"/>
                      <xtce:ComparisonOperator>&gt;</xtce:ComparisonOperator>
                      <xtce:Value>1</xtce:Value>
                    </xtce:Condition>
                  </xtce:ANDedConditions>
                </xtce:ORedConditions>
              </xtce:BooleanExpression>
            </xtce:RestrictionCriteria>
          </xtce:BaseContainer>
        </xtce:SequenceContainer>
      </xtce:ContainerSet>
    </xtce:TelemetryMetaData>
    <xtce:SpaceSystem name="B">
      <xtce:TelemetryMetaData>
        <xtce:ParameterSet><xtce:Parameter name="z" parameterTypeRef="u8"/></xtce:ParameterSet>
      </xtce:TelemetryMetaData>
    </xtce:SpaceSystem>
  </xtce:SpaceSystem>
</xtce:SpaceSystem>
"""


def test_name_resolution_rules(tmp_path: Path) -> None:
    mdb = load_xtce(_write(tmp_path, NAMES_XML))
    c = mdb.containers["/Root/A/c"]
    # bare name: the current space system first; ../ goes up; ./B/z down; absolute as is
    assert [e.parameter for e in c.entries if isinstance(e, ParameterEntry)] == [
        "/Root/A/x",
        "/Root/x",
        "/Root/A/B/z",
        "/Root/A/y",
    ]
    # "u8" in /Root/A/B is found by searching upward through the ancestors
    assert mdb.parameters["/Root/A/B/z"].type == "/Root/u8"
    assert mdb.types["/Root/Hdr"].members[0].type == "/Root/u8"  # type: ignore[union-attr]
    # aggregate members written hdr/apid (XTCE) or hdr.apid (Yamcs)
    apid = ParameterRef("/Root/hdr", ("apid",))
    assert c.restriction == AnyOf(
        (
            Comparison(apid, "<=", "7"),
            AllOf(
                (
                    Comparison(apid, "!=", "9"),
                    Comparison(ParameterRef("/Root/hdr", ("apid",), calibrated=False), ">", "1"),
                )
            ),
        )
    )
    # byte orders: transmission order of byte significances; big-endian is None
    assert mdb.parameter_type("/Root/x").encoding == IntegerEncoding(16, byte_order=(0, 1))  # type: ignore[union-attr]
    assert mdb.parameter_type("/Root/A/x").encoding == IntegerEncoding(  # type: ignore[union-attr]
        32, byte_order=(2, 3, 0, 1)
    )
    assert mdb.parameter_type("/Root/A/y").encoding == IntegerEncoding(8)  # type: ignore[union-attr]
    assert mdb.parameters["/Root/A/y"].source is not None


def test_duplicate_names_are_reported(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        f"""<xtce:SpaceSystem {XTCE12} name="S">
  <xtce:TelemetryMetaData>
    <xtce:ParameterTypeSet>
      <xtce:IntegerParameterType name="t"/>
      <xtce:IntegerParameterType name="t"/>
    </xtce:ParameterTypeSet>
  </xtce:TelemetryMetaData>
</xtce:SpaceSystem>
""",
    )
    with pytest.raises(MdbErrors) as info:
        load_xtce(p)
    (err,) = info.value.errors
    assert (err.line, err.message, err.fix) == (
        5,
        "parameter type '/S/t' is defined twice (first at line 4)",
        "rename one of them",
    )


def test_skipped_elements_are_listed_on_request(testdata: Path) -> None:
    notes: list[MdbError] = []
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-2.xml", skipped=notes)
    math = [n for n in notes if n.message.startswith("MathOperationCalibrator")]
    # Float_MathOpCal_1/2/3_Type in BogusSAT-2.xml carry the three MathOperationCalibrators
    assert len(math) == 3
    assert math[0].message == (
        "MathOperationCalibrator is not supported and was skipped: values of this type stay "
        "uncalibrated (raw)"
    )
    assert math[0].line == 1686  # the <xtce:MathOperationCalibrator> line
    assert math[0].xpath is not None
    assert "FloatParameterType[@name='Float_MathOpCal_1_Type']" in math[0].xpath
    t = mdb.types[f"{BUS}/Float_MathOpCal_1_Type"]
    assert isinstance(t, FloatType)
    assert t.calibrator is None
    assert any(n.message.startswith("AlgorithmSet") for n in notes)


def test_bogussat2_alarms_calibrators_and_enum_ranges(testdata: Path) -> None:
    mdb = load_xtce(testdata / YAMCS / "BogusSAT-2.xml")
    volts = mdb.types[f"{BUS}/Battery_Voltage_Type"]
    assert isinstance(volts, FloatType)
    # <ValidRange minInclusive="0.0" maxInclusive="15.0"/>
    assert volts.valid_range == Range(0.0, 15.0)
    assert volts.unit == "Volts"
    assert volts.alarm is not None
    # StaticAlarmRanges: WarningRange minExclusive 12.35 maxExclusive 13.80, CriticalRange
    # minExclusive 12.10 maxExclusive 14.34
    assert volts.alarm.static == AlarmRanges(
        warning=Range(12.35, 13.80, False, False), critical=Range(12.10, 14.34, False, False)
    )
    charge = ParameterRef(f"{BUS}/Battery_Charge_Mode")
    assert [c for c, _ in volts.alarm.contexts] == [
        Comparison(charge, "==", "CHARGE"),
        Comparison(charge, "==", "DISCHARGE"),
    ]
    assert volts.alarm.contexts[0][1] == AlarmRanges(
        warning=Range(12.60, 14.00), critical=Range(12.35, 14.34)
    )
    antenna = mdb.types[f"{PAYLOAD1}/Payload_1_Antenna_State_Type"]
    assert isinstance(antenna, EnumeratedType)
    assert antenna.alarm == EnumerationAlarm(
        levels=(("FAILED", AlarmLevel.CRITICAL),),
        contexts=(
            (
                Comparison(ParameterRef(f"{PAYLOAD1}/Payload_1_State"), "==", "ON"),
                (
                    ("SIGNAL_LOST", AlarmLevel.WARNING),
                    ("OFF", AlarmLevel.CRITICAL),
                    ("FAILED", AlarmLevel.CRITICAL),
                ),
            ),
        ),
    )
    phase = mdb.types[f"{PAYLOAD1}/Payload_1_Phase_Type"]
    assert isinstance(phase, EnumeratedType)
    # <Enumeration label="FAILED" value="6" maxValue="16"/>
    assert phase.values[-1] == EnumValue(6, "FAILED", max_value=16)
    # EarthSensorSplineCalType: SplineCalibrator order="1" (0,0) (10,5) (20,10) as default,
    # then a ContextCalibratorList of two splines chosen by EarthSensorMode LOW / HIGH
    earth = mdb.types[f"{BUS}/EarthSensorSplineCalType"]
    assert isinstance(earth, FloatType)
    cal = earth.calibrator
    assert isinstance(cal, ContextCalibrator)
    assert cal.default == SplineCalibrator(((0.0, 0.0), (10.0, 5.0), (20.0, 10.0)), 1)
    mode = ParameterRef(f"{BUS}/EarthSensorMode")
    assert cal.contexts == (
        (
            Comparison(mode, "==", "LOW"),
            SplineCalibrator(((0.0, 5.0), (10.0, 10.0), (20.0, 15.0)), 1),
        ),
        (
            Comparison(mode, "==", "HIGH"),
            SplineCalibrator(((0.0, 10.0), (10.0, 15.0), (20.0, 20.0)), 0),
        ),
    )


_ATTR = re.compile(r'(\w+)="([^"]*)"')


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_garbage_in_gives_mdb_errors_never_a_crash(
    yamcs_xtce: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    text = (yamcs_xtce / "ccsds-green-book.xml").read_text(encoding="utf-8")
    spots = list(_ATTR.finditer(text))
    spot = spots[data.draw(st.integers(0, len(spots) - 1), label="attribute")]
    junk = data.draw(
        st.one_of(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
            st.sampled_from(["-1", "0", "x", "1e999", "true", "99999999999999999999", "/", ".."]),
        ),
        label="value",
    )
    mutated = text[: spot.start(2)] + junk + text[spot.end(2) :]
    if data.draw(st.booleans(), label="truncate"):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)), label="length")]
    path = tmp_path_factory.mktemp("garbage") / "db.xml"
    path.write_text(mutated, encoding="utf-8")
    with contextlib.suppress(MdbError):  # a refusal is fine; any other exception is a bug
        load_xtce(path, validate=False)


def test_namespace_free_xtce_and_missing_file(tmp_path: Path) -> None:
    # some tools write XTCE without a namespace; the element names decide
    p = _write(
        tmp_path,
        """<SpaceSystem name="Bare"><TelemetryMetaData><ParameterTypeSet>
        <IntegerParameterType name="u8"><IntegerDataEncoding sizeInBits="8"/></IntegerParameterType>
        </ParameterTypeSet><ParameterSet><Parameter name="p" parameterTypeRef="u8"/></ParameterSet>
        </TelemetryMetaData></SpaceSystem>""",
    )
    assert load_xtce(p).parameters["/Bare/p"].type == "/Bare/u8"
    missing = tmp_path / "nope.xml"
    with pytest.raises(MdbError) as info:
        load_xtce(missing)
    assert str(info.value).startswith(f"{missing}: cannot read file: ")
    assert str(info.value).endswith("; fix: check the path")
