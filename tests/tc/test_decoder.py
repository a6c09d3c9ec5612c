"""falak.tc.decoder: the on-board decoding of telecommands, the inverse of falak.tc.encoder.

Packets come from falak's own encoder on the TESTSAT and TIANGONG MDBs (the missions the
simulators fly); bad packets are those packets damaged the four ways flight software rejects.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import falak
from falak.ccsds.crc import crc16_ccitt
from falak.mdb import MissionDatabase, load
from falak.mdb.model import (
    BooleanType,
    EnumeratedType,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MetaCommand,
)
from falak.tc.decoder import (
    ARGUMENT_OUT_OF_RANGE,
    BAD_CRC,
    BAD_LENGTH,
    REJECTION_REASONS,
    UNKNOWN_OPCODE,
    CommandDecoder,
    CommandRejection,
    DecodedCommand,
    decode_integer,
)
from falak.tc.encoder import CommandEncoder
from falak.tm.calibration import calibrate
from falak.tm.encoder import encode_integer

MISSIONS = Path(falak.__file__).parent / "missions"


@cache
def _mdb(name: str) -> MissionDatabase:
    return load(MISSIONS / name / "mdb.yaml")


@cache
def _codec(name: str) -> tuple[CommandEncoder, CommandDecoder]:
    mdb = _mdb(name)
    return CommandEncoder(mdb), CommandDecoder(mdb)


def _commands(name: str) -> list[str]:
    return sorted(q for q, c in _mdb(name).commands.items() if not c.abstract)


ALL_COMMANDS = [("testsat", q) for q in _commands("testsat")] + [
    ("tiangong", q) for q in _commands("tiangong")
]


def _with_crc(packet: bytes | bytearray) -> bytes:
    """Recompute the CRC-16/CCITT-FALSE (CCSDS 133.0-B-2 §4.1.4.3) and the length field."""
    b = bytearray(packet)
    b[4:6] = (len(b) - 7).to_bytes(2, "big")
    b[-2:] = crc16_ccitt(bytes(b[:-2])).to_bytes(2, "big")
    return bytes(b)


def _value_strategy(enc: CommandEncoder, t: Any) -> st.SearchStrategy[Any]:
    if isinstance(t, EnumeratedType):
        return st.sampled_from([ev.label for ev in t.values])
    if isinstance(t, BooleanType):
        return st.booleans()
    if isinstance(t, IntegerType | FloatType):
        r = t.valid_range
        e = t.encoding
        if r is None or r.min is None or r.max is None:
            assert isinstance(e, IntegerEncoding), t.name  # the missions' unbounded arguments
            lo = 0 if e.encoding == "unsigned" else -(1 << (e.size_bits - 1))
            return st.integers(lo, lo + (1 << e.size_bits) - 1)
        if isinstance(t, IntegerType):
            return st.integers(int(r.min), int(r.max))
        return st.floats(r.min, r.max, allow_nan=False)
    raise AssertionError(f"no strategy for {type(t).__name__} {t.name}")  # pragma: no cover


def _args(mission: str, cmd: MetaCommand) -> st.SearchStrategy[dict[str, Any]]:
    enc, _ = _codec(mission)
    return st.fixed_dictionaries(
        {a.name: _value_strategy(enc, enc.argument_type(a)) for a in enc.arguments(cmd)}
    )


def _tolerance(t: Any, raw: Any) -> float:
    """Half a raw count of the calibration: how far the encoder's rounding moves a value."""
    if isinstance(t, FloatType | IntegerType) and t.calibrator is not None:
        ys = calibrate(t.calibrator, np.array([raw - 1, raw, raw + 1], dtype=float))
        return 0.5 * float(np.max(np.abs(np.diff(ys)))) + 1e-9
    return 0.0


@pytest.mark.parametrize(("mission", "qualified"), ALL_COMMANDS)
@settings(max_examples=25)
@given(data=st.data())
def test_every_command_round_trips(mission: str, qualified: str, data: st.DataObject) -> None:
    enc, dec = _codec(mission)
    cmd = _mdb(mission).commands[qualified]
    args = data.draw(_args(mission, cmd))
    seq = data.draw(st.integers(0, 0x3FFF))
    packet = enc.encode(cmd, args, seq_count=seq)
    out = dec.decode(packet.binary)
    assert isinstance(out, DecodedCommand), out
    assert out.command == qualified
    assert out.seq_count == seq
    assert out.apid == packet.apid
    assert out.raw.keys() == packet.raw.keys()
    for k, raw in packet.raw.items():  # float32 fields hold the float32 nearest the value
        assert out.raw[k] == (float(np.float32(raw)) if isinstance(raw, float) else raw)
    for a in enc.arguments(cmd):
        t = enc.argument_type(a)
        given_value = packet.arguments[a.name]
        got = out.arguments[a.name]
        if isinstance(getattr(t, "encoding", None), FloatEncoding):  # float32 in the MDBs
            assert got == float(np.float32(given_value))  # the float32 nearest the value
        elif isinstance(given_value, float):
            assert got == pytest.approx(given_value, abs=_tolerance(t, packet.raw[a.name]))
        else:
            assert got == given_value


@pytest.mark.parametrize("mission", ["testsat", "tiangong"])
@settings(max_examples=300)
@given(data=st.data())
def test_damaged_packets_are_rejections_never_exceptions(mission: str, data: st.DataObject) -> None:
    enc, dec = _codec(mission)
    qualified = data.draw(st.sampled_from(_commands(mission)))
    cmd = _mdb(mission).commands[qualified]
    packet = bytearray(enc.encode(cmd, data.draw(_args(mission, cmd))).binary)
    where = data.draw(
        st.lists(st.integers(0, len(packet) - 1), min_size=1, max_size=4, unique=True)
    )
    for i in where:
        packet[i] ^= data.draw(st.integers(1, 255))
    out = dec.decode(bytes(packet))
    if len(where) == 1 or max(where) - min(where) < 2:
        # a CRC-16 detects every error burst of up to 16 bits (Peterson & Brown 1961, "Cyclic
        # codes for error detection", Proc. IRE 49:228): one or two adjacent damaged bytes
        assert isinstance(out, CommandRejection)
    if isinstance(out, CommandRejection):
        assert out.reason in REJECTION_REASONS
        assert out.message


@pytest.mark.parametrize("mission", ["testsat", "tiangong"])
@settings(max_examples=300)
@given(packet=st.binary(max_size=40))
def test_garbage_is_a_rejection(mission: str, packet: bytes) -> None:
    _, dec = _codec(mission)
    out = dec.decode(packet)
    if isinstance(out, CommandRejection):
        assert out.reason in REJECTION_REASONS
        assert out.message


@pytest.mark.parametrize("mission", ["testsat", "tiangong"])
@settings(max_examples=300)
@given(data=st.data())
def test_garbage_with_a_good_crc_and_length_is_a_rejection(
    mission: str, data: st.DataObject
) -> None:
    """Random bodies that pass the CRC and length checks reach the command matching."""
    _, dec = _codec(mission)
    packet = _with_crc(data.draw(st.binary(min_size=9, max_size=30)))
    out = dec.decode(packet)
    if isinstance(out, CommandRejection):
        assert out.reason in REJECTION_REASONS
        assert out.message


# -- each rejection, with its message -----------------------------------------------------------


def test_unknown_opcode() -> None:
    enc, dec = _codec("testsat")
    b = bytearray(enc.encode("NOOP", seq_count=9).binary)
    b[6] = 7  # TESTSAT opcodes: 1 NOOP, 2 SET_MODE, 3 SET_HEATER, 255 REBOOT
    out = dec.decode(_with_crc(b))
    assert out == CommandRejection(
        UNKNOWN_OPCODE,
        "no TESTSAT command has OPCODE = 7 (0x7) (APID 200, sequence count 9)",
        apid=200,
        seq_count=9,
        opcode=7,
    )


def test_bad_crc() -> None:
    enc, dec = _codec("testsat")
    b = bytearray(enc.encode("NOOP", seq_count=9).binary)
    b[6] = 7
    out = dec.decode(bytes(b))
    assert isinstance(out, CommandRejection)
    assert (out.reason, out.apid, out.seq_count, out.opcode) == (BAD_CRC, 200, 9, 7)
    want = crc16_ccitt(bytes(b[:-2]))
    got = int.from_bytes(b[-2:], "big")
    assert out.message == (
        f"the packet's CRC is 0x{got:04X}, its bytes give 0x{want:04X} (APID 200, sequence count 9)"
    )


def test_length_field_disagrees_with_the_packet() -> None:
    enc, dec = _codec("testsat")
    b = enc.encode("SET_MODE", {"NEW_MODE": "SAFE"}, seq_count=3).binary
    out = dec.decode(b + b"\0")
    assert out == CommandRejection(
        BAD_LENGTH,
        "the packet length field says 10 bytes but 11 arrived (APID 200, sequence count 3)",
        apid=200,
        seq_count=3,
    )


@pytest.mark.parametrize(
    ("cut", "length"),
    [(1, 9), (-1, 11)],  # one argument byte missing, one byte too many
)
def test_wrong_length_for_the_command(cut: int, length: int) -> None:
    enc, dec = _codec("testsat")
    b = enc.encode("SET_MODE", {"NEW_MODE": "SAFE"}, seq_count=3).binary
    body = b[:-3] + b[-2:] if cut == 1 else b[:-2] + b"\0" + b[-2:]
    out = dec.decode(_with_crc(body))
    assert out == CommandRejection(
        BAD_LENGTH,
        f"SET_MODE is 10 bytes long but the packet has {length} bytes (APID 200, sequence count 3)",
        apid=200,
        seq_count=3,
        opcode=2,
        command="/TESTSAT/SET_MODE",
    )


def test_too_short_for_a_header() -> None:
    _, dec = _codec("testsat")
    assert dec.decode(b"\x18\xc8") == CommandRejection(
        BAD_LENGTH,
        "a telecommand of 2 bytes is shorter than a space packet (6-byte primary header and "
        "at least 1 data byte)",
    )


def test_calibrated_argument_out_of_range() -> None:
    enc, dec = _codec("testsat")
    b = bytearray(enc.encode("SET_HEATER", {"SETPOINT": 10}, seq_count=4).binary)
    b[7:9] = (65535).to_bytes(2, "big")  # HeaterSetpoint: -40 + 0.01 * 65535 = 615.35 degC
    out = dec.decode(_with_crc(b))
    assert isinstance(out, CommandRejection)
    assert (out.reason, out.command, out.opcode) == (
        ARGUMENT_OUT_OF_RANGE,
        "/TESTSAT/SET_HEATER",
        3,
    )
    assert out.message == (
        "SET_HEATER: argument SETPOINT = 615.35 degC (raw 65535) is outside -20..40 degC "
        "(APID 200, sequence count 4)"
    )


def test_enumeration_code_without_label() -> None:
    enc, dec = _codec("testsat")
    b = bytearray(enc.encode("SET_MODE", {"NEW_MODE": "SAFE"}, seq_count=4).binary)
    b[7] = 9
    out = dec.decode(_with_crc(b))
    assert isinstance(out, CommandRejection)
    assert out.reason == ARGUMENT_OUT_OF_RANGE
    assert out.message == (
        "SET_MODE: argument NEW_MODE = 9 is no label of Mode (0 OFF, 1 SAFE, 2 NOMINAL, "
        "3 SCIENCE) (APID 200, sequence count 4)"
    )


def test_range_edges_survive_the_encoders_rounding() -> None:
    """A value the ground encoder accepted is never refused on board for its rounding."""
    enc, dec = _codec("tiangong")
    # RampRate: 0.01 degC/min per count, valid 0.5..50; 0.504 rounds to raw 50 = 0.5 exactly
    out = dec.decode(enc.encode("FURN_CONFIGURE", {"RAMP_C_PER_MIN": 0.504}).binary)
    assert isinstance(out, DecodedCommand)
    assert out.arguments["RAMP_C_PER_MIN"] == pytest.approx(0.5, abs=1e-9)


def test_assigned_apid_identifies_the_simulator_command() -> None:
    enc, dec = _codec("tiangong")
    good = enc.encode("SIM_INJECT_FAULT", {"FAULT": "FURNACE_OVERTEMP"}, seq_count=1).binary
    out = dec.decode(good)
    assert isinstance(out, DecodedCommand)
    assert (out.name, out.apid, out.opcode) == ("SIM_INJECT_FAULT", 2040, 0xF0)
    assert out.arguments == {"FAULT": "FURNACE_OVERTEMP", "UNIT": "A_MINUS80"}
    # the same opcode on the payload APID 400 is no command
    b = bytearray(good)
    b[0] = (b[0] & 0xF8) | (400 >> 8)
    b[1] = 400 & 0xFF
    out2 = dec.decode(_with_crc(b))
    assert isinstance(out2, CommandRejection)
    assert out2.reason == UNKNOWN_OPCODE
    assert (
        out2.message == "no TIANGONG command has OPCODE = 240 (0xF0) (APID 400, sequence count 1)"
    )


@pytest.mark.parametrize(
    ("sign", "lo", "hi"),
    [
        ("unsigned", 0, 0xFFFF),
        ("twosComplement", -0x8000, 0x7FFF),
        ("signMagnitude", -0x7FFF, 0x7FFF),  # a negative zero takes one code
        ("onesComplement", -0x7FFF, 0x7FFF),
    ],
)
@pytest.mark.parametrize("order", [None, (0, 1)])
@given(data=st.data())
def test_decode_integer_inverts_encode_integer(
    sign: str, lo: int, hi: int, order: tuple[int, ...] | None, data: st.DataObject
) -> None:
    enc = IntegerEncoding(16, sign, order)  # type: ignore[arg-type]
    v = data.draw(st.integers(lo, hi))
    assert decode_integer(encode_integer(v, enc), enc) == v
