"""Command encoding: TESTSAT and Yamcs XTCE test commands, checked against independent decodes.

Independent references: the CCSDS primary header is decoded by hand from CCSDS 133.0-B-2
§4.1.3 bit positions; the CRC by Python's ``binascii.crc_hqx`` with preset 0xFFFF, which is
CRC-16/CCITT-FALSE (CCSDS 133.0-B-2 §4.1.4.3 / ECSS-E-ST-70-41C annex B.1); the arguments by
falak's *telemetry* decoder running a telemetry twin of the command layout (TWIN_YAML).
"""

from __future__ import annotations

import binascii
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falak.errors import CommandRejected
from falak.mdb import MissionDatabase, load
from falak.mdb.model import PolynomialCalibrator, SplineCalibrator
from falak.mdb.native import loads_yaml
from falak.tc import CommandEncoder, inverse_calibrate, set_sequence_count
from falak.tm.decoder import Decoder

TESTSAT = Path(__file__).resolve().parents[2] / "src/falak/missions/testsat/mdb.yaml"

# The TESTSAT command layout written as telemetry, decoded by falak.tm.decoder.
TWIN_YAML = """
name: TWIN
types:
  HeaterSetpoint:
    kind: float
    encoding: uint16
    calibrator: {polynomial: [-40.0, 0.01]}
  Mode:
    kind: enumerated
    encoding: uint8
    enum: {0: OFF, 1: SAFE, 2: NOMINAL, 3: SCIENCE}
parameters:
  VERSION: uint3
  TYPE: uint1
  SEC_HDR: uint1
  APID: uint11
  SEQ_FLAGS: uint2
  SEQ_COUNT: uint14
  LENGTH: uint16
  OPCODE: uint8
  SETPOINT: HeaterSetpoint
  NEW_MODE: Mode
  CRC: uint16
containers:
  TC:
    abstract: true
    entries: [VERSION, TYPE, SEC_HDR, APID, SEQ_FLAGS, SEQ_COUNT, LENGTH, OPCODE]
  NOOP: {base: TC, restriction: OPCODE == 1, entries: [CRC]}
  SET_MODE: {base: TC, restriction: OPCODE == 2, entries: [NEW_MODE, CRC]}
  SET_HEATER: {base: TC, restriction: OPCODE == 3, entries: [SETPOINT, CRC]}
  REBOOT: {base: TC, restriction: OPCODE == 255, entries: [CRC]}
"""


# hypothesis examples share one encoder (loading the MDB per example would dominate)
_ENC_TWIN: dict[str, tuple[CommandEncoder, Decoder]] = {}
_ARRAY: dict[str, CommandEncoder] = {}


@pytest.fixture(scope="module")
def mdb() -> MissionDatabase:
    return load(TESTSAT)


@pytest.fixture(scope="module")
def encoder(mdb: MissionDatabase) -> CommandEncoder:
    return CommandEncoder(mdb)


@pytest.fixture(scope="module")
def twin() -> Decoder:
    return Decoder(loads_yaml(TWIN_YAML), "/TWIN/TC")


def _decode(twin: Decoder, data: bytes, container: str) -> dict[str, object]:
    res = twin.decode(data, [0], [len(data)])
    assert res.failed_counts() == {}
    c = res.container(container)
    return {col.name: col.eng[0] for col in c.columns.values()}


def _header(data: bytes) -> dict[str, int]:
    """CCSDS 133.0-B-2 §4.1.3 primary header fields, by hand."""
    w0, w1, w2 = (int.from_bytes(data[i : i + 2], "big") for i in (0, 2, 4))
    return {
        "version": w0 >> 13,
        "type": (w0 >> 12) & 1,
        "sec_hdr": (w0 >> 11) & 1,
        "apid": w0 & 0x7FF,
        "seq_flags": w1 >> 14,
        "seq_count": w1 & 0x3FFF,
        "length": w2,
    }


@pytest.mark.parametrize(
    ("command", "args", "opcode", "payload"),
    [
        ("NOOP", {}, 1, b""),
        ("SET_MODE", {"NEW_MODE": "SCIENCE"}, 2, b"\x03"),  # Mode enum: 3 = SCIENCE
        ("SET_HEATER", {"SETPOINT": 10.0}, 3, (5000).to_bytes(2, "big")),  # (10+40)/0.01
        ("REBOOT", {}, 255, b""),
    ],
)
def test_testsat_commands_field_by_field(
    encoder: CommandEncoder, command: str, args: dict[str, object], opcode: int, payload: bytes
) -> None:
    enc = encoder.encode(command, args, seq_count=42)
    data = enc.binary
    assert _header(data) == {
        "version": 0,
        "type": 1,  # telecommand
        "sec_hdr": 0,
        "apid": 200,  # TESTSAT: telecommands on APID 200
        "seq_flags": 3,  # unsegmented
        "seq_count": 42,
        "length": len(data) - 7,
    }
    assert data[6] == opcode
    assert data[7:-2] == payload
    assert int.from_bytes(data[-2:], "big") == binascii.crc_hqx(data[:-2], 0xFFFF)
    assert enc.apid == 200
    assert enc.seq_count == 42


def test_noop_golden_bytes(encoder: CommandEncoder) -> None:
    # Hand-assembled: 0x10C8 (type 1, APID 200), 0xC000 (unsegmented, count 0), length 2,
    # opcode 1, then CRC-16/CCITT-FALSE of those 7 bytes (binascii.crc_hqx, preset 0xFFFF).
    head = bytes.fromhex("10c8c000000201")
    assert encoder.encode("NOOP").binary == head + binascii.crc_hqx(head, 0xFFFF).to_bytes(2, "big")


def test_telemetry_twin_decodes_arguments(encoder: CommandEncoder, twin: Decoder) -> None:
    got = _decode(twin, encoder.encode("SET_HEATER", {"SETPOINT": "-12.5"}).binary, "SET_HEATER")
    assert got["SETPOINT"] == pytest.approx(-12.5, abs=0.005)  # half a 0.01 degC count
    assert got["APID"] == 200
    got = _decode(twin, encoder.encode("SET_MODE", {"NEW_MODE": "safe"}).binary, "SET_MODE")
    assert got["NEW_MODE"] == "SAFE"


@settings(max_examples=60, deadline=None)
@given(setpoint=st.floats(-20.0, 40.0), mode=st.sampled_from(["OFF", "SAFE", "NOMINAL", "SCIENCE"]))
def test_hypothesis_encode_then_decode(setpoint: float, mode: str) -> None:
    encoder, twin = _ENC_TWIN.get("testsat") or _ENC_TWIN.setdefault(
        "testsat", (CommandEncoder(load(TESTSAT)), Decoder(loads_yaml(TWIN_YAML), "/TWIN/TC"))
    )
    got = _decode(twin, encoder.encode("SET_HEATER", {"SETPOINT": setpoint}).binary, "SET_HEATER")
    assert got["SETPOINT"] == pytest.approx(setpoint, abs=0.005 + 1e-9)  # quantisation 0.01
    got = _decode(twin, encoder.encode("SET_MODE", {"NEW_MODE": mode}).binary, "SET_MODE")
    assert got["NEW_MODE"] == mode


def test_default_argument_and_sequence_count(encoder: CommandEncoder) -> None:
    enc = encoder.encode("SET_HEATER")  # SETPOINT defaults to 10.0 degC
    assert enc.arguments["SETPOINT"] == 10.0
    again = set_sequence_count(enc.binary, 16383, crc=True)
    assert _header(again)["seq_count"] == 16383
    assert int.from_bytes(again[-2:], "big") == binascii.crc_hqx(again[:-2], 0xFFFF)


@pytest.mark.parametrize(
    ("command", "args", "argument", "message"),
    [
        (
            "SET_HEATER",
            {"SETPOINT": 120},
            "SETPOINT",
            "SET_HEATER: argument SETPOINT = 120 is outside -20..40 degC",
        ),
        (
            "SET_HEATER",
            {"SETPOINT": "hot"},
            "SETPOINT",
            "SET_HEATER: argument SETPOINT = 'hot' is not a number",
        ),
        (
            "SET_MODE",
            {"NEW_MODE": "TURBO"},
            "NEW_MODE",
            "SET_MODE: argument NEW_MODE = 'TURBO' is not one of OFF, SAFE, NOMINAL, SCIENCE",
        ),
        (
            "SET_MODE",
            {},
            "NEW_MODE",
            "SET_MODE: argument NEW_MODE is missing and has no default; "
            "give NEW_MODE=one of OFF, SAFE, NOMINAL, SCIENCE",
        ),
        ("NOOP", {"POWER": 1}, "POWER", "NOOP: unknown argument POWER; arguments: APID"),
        (
            "NOOP",
            {"OPCODE": 7},
            "OPCODE",
            "NOOP: argument OPCODE is fixed to 1 by the command definition",
        ),
        (
            "NOOP",
            {"APID": 4096},
            "APID",
            "NOOP: argument APID = 4096 needs raw value 4096, outside the 11-bit unsigned range "
            "0..2047",
        ),
    ],
)
def test_argument_errors_name_the_argument(
    encoder: CommandEncoder, command: str, args: dict[str, object], argument: str, message: str
) -> None:
    with pytest.raises(CommandRejected) as info:
        encoder.encode(command, args)
    assert info.value.argument == argument
    assert str(info.value) == message


def test_abstract_command_is_refused(encoder: CommandEncoder) -> None:
    with pytest.raises(CommandRejected, match="CCSDS_TC is abstract"):
        encoder.encode("CCSDS_TC", {"OPCODE": 1})


# --- Yamcs XTCE test files (expected bytes from the XTCE definitions, by hand) -------------


def test_xtce_enum_arg(yamcs_xtce: Path) -> None:
    enc = CommandEncoder(load(yamcs_xtce / "enum-arg.xml"))
    # PHASE_Type: 8-bit unsigned, MISSION = 3
    assert enc.encode("cmd1", {"phase": "MISSION"}).binary == b"\x03"
    assert not enc.encode("cmd1", {"phase": "MISSION"}).ccsds
    with pytest.raises(CommandRejected) as info:
        enc.encode("cmd1", {"phase": "ORBIT"})
    assert info.value.argument == "phase"
    assert "SAFE, LEOP, ASCENT, MISSION, STORAGE, DEBORBIT" in str(info.value)


def test_xtce_booleans(yamcs_xtce: Path) -> None:
    enc = CommandEncoder(load(yamcs_xtce / "booleans.xml"))
    assert enc.encode("command1", {"bool1": True}).binary == b"\x01"  # uint8
    assert enc.encode("command1", {"bool1": "False"}).binary == b"\x00"
    # bool2: 32-bit string, one "yes!" / zero "nooo"
    assert enc.encode("command2", {"bool2": True}).binary == b"yes!"
    assert enc.encode("command2", {"bool2": "nooo"}).binary == b"nooo"


def test_xtce_array_arg(yamcs_xtce: Path) -> None:
    enc = CommandEncoder(load(yamcs_xtce / "array-arg.xml"))
    # length: uint16 (max 5); array1: uint8 elements, as many as `length`
    assert enc.encode("cmd1", {"length": 3, "array1": [1, 2, 3]}).binary == bytes.fromhex(
        "0003010203"
    )
    assert enc.encode("cmd1", {"array1": [9, 8]}).binary == bytes.fromhex("00020908")
    with pytest.raises(CommandRejected) as info:
        enc.encode("cmd1", {"array1": [1] * 6})
    assert info.value.argument == "length"
    assert "outside -inf..5" in str(info.value)
    with pytest.raises(CommandRejected) as info:
        enc.encode("cmd1", {"length": 2, "array1": [1, 2, 3]})
    assert info.value.argument == "array1"


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.integers(0, 255), min_size=0, max_size=5))
def test_hypothesis_array_roundtrip(yamcs_xtce: Path, values: list[int]) -> None:
    enc = _ARRAY.get("enc") or _ARRAY.setdefault(
        "enc", CommandEncoder(load(yamcs_xtce / "array-arg.xml"))
    )
    data = enc.encode("cmd1", {"array1": values}).binary
    n = int.from_bytes(data[:2], "big")
    assert n == len(values)
    assert list(data[2:]) == values


def test_too_long_string() -> None:
    mdb = loads_yaml(
        """
name: S
types:
  Label: {kind: string, encoding: {fixed_bits: 32}}
commands:
  NAME_IT:
    arguments: {LABEL: Label}
    entries: [LABEL]
"""
    )
    enc = CommandEncoder(mdb)
    assert enc.encode("NAME_IT", {"LABEL": "abcd"}).binary == b"abcd"
    with pytest.raises(CommandRejected) as info:
        enc.encode("NAME_IT", {"LABEL": "abcdef"})
    assert info.value.argument == "LABEL"
    assert str(info.value) == (
        "NAME_IT: argument LABEL = 'abcdef' is 6 bytes long; allowed 0..4 bytes"
    )


# --- inverse calibration ------------------------------------------------------------------


def test_inverse_polynomial_linear_is_exact() -> None:
    cal = PolynomialCalibrator((-40.0, 0.01))
    assert inverse_calibrate(cal, 10.0, 0, 65535) == pytest.approx(5000.0, rel=1e-15)


def test_inverse_polynomial_cubic_root_find() -> None:
    cal = PolynomialCalibrator((1.0, 2.0, 0.0, 0.001))  # monotonic for raw >= 0
    raw = inverse_calibrate(cal, 1.0 + 2.0 * 300 + 0.001 * 300**3, 0, 4095)
    assert raw == pytest.approx(300.0, abs=1e-9)  # brentq xtol 1e-12
    with pytest.raises(ValueError, match="not monotonic"):
        inverse_calibrate(PolynomialCalibrator((0.0, 0.0, 1.0)), 4.0, -10, 10)


def test_inverse_spline_matches_forward_interpolation() -> None:
    # TESTSAT Temperature table
    cal = SplineCalibrator(((0, -60.0), (1000, -20.0), (2000, 15.0), (3000, 45.0), (4095, 90.0)))
    raws = np.array([0.0, 500.0, 1234.0, 2999.0, 4095.0])
    from falak.tm.calibration import spline

    for raw, eng in zip(raws, spline(cal, raws), strict=True):
        assert inverse_calibrate(cal, float(eng), 0, 4095) == pytest.approx(raw, abs=1e-9)
    with pytest.raises(ValueError, match="outside the calibration table"):
        inverse_calibrate(cal, 100.0, 0, 4095)


def test_xtce_bogussat_inheritance_and_header_restrictions(testdata: Path) -> None:
    enc = CommandEncoder(load(testdata / "yamcs-xtce/BogusSAT-2.xml"))
    # Reaction_Wheel_1_On assigns RW_UNIT_ID=1, RW_PWR_STATE=ON (1) to its base command;
    # CCSDSDirectTelecommand restricts CCSDS_Packet_ID/SecHdrFlag == NotPresent (0)
    on = enc.encode("Reaction_Wheel_1_On")
    assert on.ccsds  # CCSDS_Packet_Length spans bits 32..48
    assert (on.binary[0] >> 3) & 1 == 0
    assert on.binary[-2:] == b"\x01\x01"
    assert int.from_bytes(on.binary[4:6], "big") == len(on.binary) - 7
    with pytest.raises(CommandRejected, match="RW_UNIT_ID is fixed"):
        enc.encode("Reaction_Wheel_1_On", {"RW_UNIT_ID": 2})
    # CCSDSPUSTelecommand: SecHdrFlag == Present (1); Payload_State_Type is 8-bit
    # sign-magnitude, OFF = -1 -> 0x81; then the fixed 0xF0 and an IEEE 754 float 1.5
    pl = enc.encode("Payload_1_Control", {"STATE": "OFF", "OUTPUT_POWER": 1.5})
    assert (pl.binary[0] >> 3) & 1 == 1
    assert pl.binary[6:] == bytes.fromhex("81f0") + bytes.fromhex("3fc00000")


@settings(max_examples=150, deadline=None)
@given(
    command=st.sampled_from(["SET_HEATER", "SET_MODE", "NOOP"]),
    name=st.sampled_from(["SETPOINT", "NEW_MODE", "APID", "OPCODE", "X"]),
    value=st.one_of(
        st.text(max_size=12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.binary(max_size=4),
        st.none(),
        st.lists(st.integers(), max_size=3),
    ),
)
def test_hypothesis_garbage_arguments_are_rejected_not_crashing(
    command: str, name: str, value: object
) -> None:
    encoder, _ = _ENC_TWIN.get("testsat") or _ENC_TWIN.setdefault(
        "testsat", (CommandEncoder(load(TESTSAT)), Decoder(loads_yaml(TWIN_YAML), "/TWIN/TC"))
    )
    rejected: CommandRejected | None = None
    try:
        enc = encoder.encode(command, {name: value})
    except CommandRejected as exc:
        rejected = exc
    if rejected is not None:
        # the argument given, or SET_MODE's required NEW_MODE when another one was given
        assert rejected.argument in (name, "NEW_MODE", None)
        assert command in str(rejected)
    else:
        assert int.from_bytes(enc.binary[-2:], "big") == binascii.crc_hqx(enc.binary[:-2], 0xFFFF)
