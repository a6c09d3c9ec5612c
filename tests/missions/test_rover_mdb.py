"""The ROVER MDB: it checks, every command encodes, every packet round-trips inside its limits.

Nominal values are what an operator sees on a quiet drive day (battery 80 %, in sunlight, the
rover driving a 10 m leg up a 6 deg slope); fault values are those the rover simulator's
states and faults produce (falak/sim/rover.py), not flight data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from falak.mdb import MissionDatabase, load
from falak.mdb.model import AlarmLevel, BooleanType, EnumeratedType
from falak.sim.spacecraft import PacketBuilder
from falak.tc import CommandEncoder
from falak.tm.decoder import Decoder

MDB_PATH = Path(__file__).resolve().parents[2] / "src/falak/missions/rover/mdb.yaml"
NOW_NS = 1_830_297_600 * 1_000_000_000  # 2028-01-01T00:00:00Z

NOMINAL: dict[str, dict[str, Any]] = {
    "ROVER_HK": {
        "ROV_MODE": "NOMINAL",
        "ROV_MOB_STATE": "DRIVING",
        "ROV_EST_X_M": -12345.67,
        "ROV_EST_Y_M": 23456.78,
        "ROV_EST_HEADING_DEG": 271.5,
        "ROV_PITCH_DEG": 6.2,
        "ROV_ROLL_DEG": -1.5,
        "ROV_ODOMETER_M": 1613.0,  # Yutu-2's odometry by 2024-09-19 (REFERENCES.md)
        "ROV_LAST_STOP": "COMPLETED",
        "ROV_TC_ACCEPTED": 118,
        "ROV_TC_REJECTED": 2,
        "REC_FILL_PCT": 12.5,
        "REC_PACKETS": 5400,
        "REC_OVERWRITTEN": 0,
    },
    "EVENT": {
        "EVENT_ID": 201,
        "EVENT_SEVERITY": "WARNING",
        "EVENT_SOURCE": "HAZARD",
        "EVENT_MESSAGE": "hazard stop: slope 16.2 deg ahead > MAX_SLOPE_DEG 15.0",
    },
    "CMD_ACK": {
        "ACK_APID": 500,
        "ACK_SPARE": 0,
        "ACK_OPCODE": 0x10,
        "ACK_SEQ_COUNT": 16383,
        "ACK_SPARE2": 0,
        "ACK_STAGE": "FAILED",
        "ACK_REASON": "HAZARD",
    },
    "MOBILITY": {
        "MOB_STATE": "DRIVING",
        "MOB_TARGET_HEADING_DEG": 271.5,
        "MOB_SPEED_MS": 0.0556,
        "MOB_LEG_ODO_M": 4.2,
        "MOB_LEG_REMAINING_M": 5.8,
        "MOB_SLIP_EST_PCT": 6.5,
        "MOB_AHEAD_SLOPE_DEG": 7.1,
        "MOB_AHEAD_STEP_M": 0.04,
        "MOB_MAX_SLOPE_DEG": 15.0,
        "MOB_MAX_STEP_M": 0.1,
        "MOB_MOTOR_I_A": 1.2,
    },
    "POWER": {
        "PWR_SOLAR_W": 95.5,
        "PWR_LOAD_W": 42.0,
        "PWR_BATT_SOC_PCT": 80.0,
        "PWR_BUS_V": 31.2,
        "PWR_BATT_I_A": 1.7,
        "PWR_SUN_SENSOR_PCT": 100.0,
    },
    "THERMAL": {
        "TH_WEB_C": 18.0,
        "TH_BATT_C": 12.0,
        "TH_MOTOR_C": -15.0,
        "TH_HEATER": False,
        "TH_SPARE": 0,
        "TH_HEATER_W": 0.0,
    },
    "NAVCAM_IMAGE": {
        "IMG_ID": 7,
        "IMG_CAMERA": "LEFT",
        "IMG_SEGMENT": 3,
        "IMG_SEGMENTS": 24,
        "IMG_WIDTH": 256,
        "IMG_HEIGHT": 192,
        "IMG_EXPOSURE_MS": 20,
        "IMG_EST_X_M": -12345.67,
        "IMG_EST_Y_M": 23456.78,
        "IMG_EST_HEADING_DEG": 271.5,
        "IMG_DATA": bytes(range(256)) * 8,
    },
    "SPECTRUM_RESULT": {
        "SPEC_INTEGRATION_S": 600,
        "SPEC_EST_X_M": -12345.67,
        "SPEC_EST_Y_M": 23456.78,
        "SPEC_TOTAL_COUNTS": 1_500_000,
        # Apollo 16 average soil (Lunar Sourcebook Table 7.15, REFERENCES.md): Al2O3 27.3,
        # FeO 5.1, TiO2 0.54 wt%; the other oxides illustrative
        "SPEC_OXIDES_WT": [45.0, 0.54, 27.3, 5.1, 5.7, 15.7, 0.46, 0.17],
        "SPEC_SIGMA_WT": [0.3, 0.05, 0.2, 0.08, 0.1, 0.15, 0.03, 0.02],
        # a spectrum's counts per channel (uint32: a long integration's Fe Ka exceeds 65535)
        "SPEC_COUNTS": [float(n * 997 % 150_000) for n in range(512)],
    },
    "DOSIMETER_DATA": {
        "DOSI_STATE": "MEASURING",
        "DOSI_INTEGRATION_S": 60,
        "DOSI_COUNTS": 1234,
        "DOSI_DOSE_RATE_UGY_H": 13.2,  # Chang'e-4 LND (Zhang et al. 2020)
        "DOSI_DOSE_UGY": 316.8,
    },
    "SIM_TRUTH": {
        "TRUTH_X_M": -12346.1,
        "TRUTH_Y_M": 23455.9,
        "TRUTH_HEIGHT_M": 1834.25,
        "TRUTH_HEADING_DEG": 270.9,
        "TRUTH_SLOPE_DEG": 6.3,
        "TRUTH_SLIP_PCT": 7.1,
        "TRUTH_SUN_FRACTION_PCT": 100.0,
        "TRUTH_EARTH_VISIBLE": True,
        "TRUTH_RELAY_VISIBLE": False,
        "TRUTH_SPE_ACTIVE": False,
        "TRUTH_SPARE": 0,
        "TRUTH_DOSE_RATE_UGY_H": 13.4,
    },
}


@pytest.fixture(scope="module")
def mdb() -> MissionDatabase:
    return load(MDB_PATH)


def _decode(mdb: MissionDatabase, packets: list[bytes]) -> Any:
    buf = b"".join(packets)
    lengths = np.array([len(p) for p in packets])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return Decoder(mdb).decode(buf, offsets, lengths)


def _packet(mdb: MissionDatabase, container: str, values: dict[str, Any]) -> bytes:
    from falak.sim.model import TmPacket

    return PacketBuilder(mdb).build(TmPacket(container, values), NOW_NS)


def test_mdb_checks_ok(mdb: MissionDatabase) -> None:
    from typer.testing import CliRunner

    from falak.cli.app import app

    result = CliRunner().invoke(app, ["mdb", "check", str(MDB_PATH)])
    assert result.exit_code == 0, result.output
    assert ": OK, ROVER: 8 space systems" in result.output
    assert mdb.root.name == "ROVER"


def test_every_concrete_container_has_nominal_values(mdb: MissionDatabase) -> None:
    concrete = {c.name for c in mdb.containers.values() if not c.abstract}
    assert concrete == set(NOMINAL)
    for name, values in NOMINAL.items():
        own = [getattr(e, "parameter", None) for e in mdb.container(name).entries]
        assert [mdb.parameter(v).qualified_name for v in values] == own, name


@pytest.mark.parametrize("container", sorted(NOMINAL))
def test_nominal_packet_round_trips_inside_limits(mdb: MissionDatabase, container: str) -> None:
    res = _decode(mdb, [_packet(mdb, container, NOMINAL[container])])
    assert res.failed_counts() == {}
    c = res.container(container)
    assert len(c) == 1
    for name, want in NOMINAL[container].items():
        col = c.column(name)
        got = col.eng[0]
        t = mdb.types[mdb.parameter(name).type or ""]
        if isinstance(want, float) or (isinstance(want, list) and isinstance(want[0], float)):
            # one count of the calibration: at most 0.01 (m, deg, W, %)
            assert np.allclose(np.asarray(got, dtype=float), want, atol=0.01, rtol=0), name
        elif isinstance(t, BooleanType):
            assert bool(got) is want, name
        elif isinstance(t, EnumeratedType) or isinstance(want, int | str):
            assert got == want, name
        else:
            assert bytes(got) == want, name
        if col.monitoring is not None:
            assert int(col.monitoring[0]) == AlarmLevel.NORMAL, f"{name} = {got} not nominal"


FAULTS = [
    ("POWER", {"PWR_BATT_SOC_PCT": 25.0}, "PWR_BATT_SOC_PCT", AlarmLevel.WARNING),
    ("POWER", {"PWR_BATT_SOC_PCT": 10.0}, "PWR_BATT_SOC_PCT", AlarmLevel.CRITICAL),
    ("ROVER_HK", {"ROV_MODE": "SURVIVAL"}, "ROV_MODE", AlarmLevel.CRITICAL),
    ("ROVER_HK", {"ROV_PITCH_DEG": 21.0}, "ROV_PITCH_DEG", AlarmLevel.CRITICAL),
    ("MOBILITY", {"MOB_SLIP_EST_PCT": 70.0}, "MOB_SLIP_EST_PCT", AlarmLevel.CRITICAL),
    ("MOBILITY", {"MOB_STATE": "STUCK"}, "MOB_STATE", AlarmLevel.WARNING),
    ("THERMAL", {"TH_BATT_C": -20.0}, "TH_BATT_C", AlarmLevel.CRITICAL),
    # a solar particle event: hundreds of times the 13.2 uGy/h GCR rate
    (
        "DOSIMETER_DATA",
        {"DOSI_DOSE_RATE_UGY_H": 2000.0},
        "DOSI_DOSE_RATE_UGY_H",
        AlarmLevel.CRITICAL,
    ),
    (
        "DOSIMETER_DATA",
        {"DOSI_DOSE_RATE_UGY_H": 2000.0, "DOSI_STATE": "OFF"},
        "DOSI_DOSE_RATE_UGY_H",
        AlarmLevel.NORMAL,
    ),
]


@pytest.mark.parametrize(("container", "changes", "name", "level"), FAULTS)
def test_fault_values_raise_expected_alarm(
    mdb: MissionDatabase, container: str, changes: dict[str, Any], name: str, level: AlarmLevel
) -> None:
    pkt = _packet(mdb, container, {**NOMINAL[container], **changes})
    col = _decode(mdb, [pkt]).container(container).column(name)
    assert col.monitoring is not None
    assert AlarmLevel(int(col.monitoring[0])) == level


# the command names and arguments helper R3's `falak traverse commands` writes (fixed)
COMMANDS: dict[str, dict[str, Any]] = {
    "NOOP": {},
    "DRIVE": {"DISTANCE_M": 12.5, "HEADING_DEG": 271.5, "MAX_SLOPE_DEG": 15.0, "MAX_STEP_M": 0.1},
    "TURN": {"HEADING_DEG": 90.0},
    "GOTO": {"X_M": -12340.0, "Y_M": 23450.0, "MAX_SLOPE_DEG": 12.0, "MAX_STEP_M": 0.08},
    "STOP": {},
    "NAVCAM_CAPTURE": {"EXPOSURE_MS": 20},
    "SPEC_MEASURE": {"INTEGRATION_S": 600},
    "DOSI_START": {},
    "DOSI_STOP": {},
    "SIM_INJECT_FAULT": {"FAULT": "WHEEL_STUCK"},
}


def test_every_command_encodes_with_its_apid_and_sequence_count(mdb: MissionDatabase) -> None:
    enc = CommandEncoder(mdb)
    names = sorted(c.name for c in mdb.commands.values() if not c.abstract)
    assert names == sorted(COMMANDS)
    opcodes = set()
    for i, name in enumerate(names):
        b = enc.encode(name, COMMANDS[name], seq_count=100 + i).binary
        apid = int.from_bytes(b[0:2], "big") & 0x7FF  # CCSDS 133.0-B-2 §4.1.3
        assert apid == (2040 if name.startswith("SIM_") else 500), name
        assert int.from_bytes(b[2:4], "big") & 0x3FFF == 100 + i, name
        assert int.from_bytes(b[4:6], "big") == len(b) - 7, name
        opcodes.add((apid, b[6]))
    assert len(opcodes) == len(names), "two commands share an opcode"


def test_every_verifier_matches_the_sequence_count_and_a_drive_window_covers_a_leg(
    mdb: MissionDatabase,
) -> None:
    for name in COMMANDS:
        cmd = mdb.command(name)
        stages = [v.stage for v in cmd.verifiers]
        assert stages[0] == "received", name
        assert stages[-1] == "complete", name
        for v in cmd.verifiers:
            assert "$seq_count" in repr(v.condition), (name, v.stage)
    # the longest leg (20 m) at 200 m/h (Yutu-2's ~200 m/h at most, REFERENCES.md) plus a
    # 180 deg turn at 3 deg/s (the MDB's stated rate) fits the window with 30 s to spare
    longest_s = 20.0 / (200.0 / 3600.0) + 180.0 / 3.0
    for name in ("DRIVE", "GOTO"):
        stop_s = mdb.command(name).verifiers[-1].window_stop_s
        assert stop_s >= longest_s + 30.0, (name, stop_s)


def test_hazard_is_an_ack_reason(mdb: MissionDatabase) -> None:
    t = mdb.types[mdb.parameter("ACK_REASON").type or ""]
    assert isinstance(t, EnumeratedType)
    labels = [v.label for v in t.values]
    assert labels[:7] == [
        "OK",
        "UNKNOWN_OPCODE",
        "BAD_CRC",
        "BAD_LENGTH",
        "ARGUMENT_OUT_OF_RANGE",
        "NOT_ALLOWED_IN_STATE",
        "EXECUTION_FAILED",
    ]  # the same as TIANGONG's
    assert "HAZARD" in labels
