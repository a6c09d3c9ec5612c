"""The TIANGONG payload MDB: it checks, every command encodes, every packet round-trips.

Nominal values below are what an operator sees on a quiet day with every rack running (the
furnace soaking at 800 degC, the cultures at 37 degC / 5 % CO2, the freezers at their set
points); fault values are those the simulator's injected faults produce. They come from the
MDB's own comments and the models in ``falak/sim/tiangong_payloads.py``, not from flight data.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from falak.errors import CommandRejected
from falak.mdb import MissionDatabase, load
from falak.mdb.model import (
    AbsoluteTimeType,
    AlarmLevel,
    ArrayType,
    BooleanType,
    CucTimeCode,
    DataType,
    EnumeratedType,
    FloatType,
    IntegerEncoding,
    IntegerType,
    Significance,
)
from falak.planning.campaign.model import DISCIPLINES
from falak.tc import CommandEncoder, inverse_calibrate
from falak.tm.decoder import Decoder
from falak.tm.encoder import ContainerEncoder

MDB_PATH = Path(__file__).resolve().parents[2] / "src/falak/missions/tiangong/mdb.yaml"
OBT_S = 2_100_000_000.0  # CUC seconds since 1958 TAI: late 2024

# container -> nominal engineering values of its own entries
NOMINAL: dict[str, dict[str, Any]] = {
    "STATION_HK": {
        "STN_PAYLOAD_POWER_AVAIL_W": 6000.0,
        "STN_PAYLOAD_POWER_USED_W": 4300.0,
        "STN_PAYLOAD_POWER_MARGIN_W": 1700.0,
        "STN_SERVICE_POWER_W": 780.0,
        "STN_SUNLIGHT": "SUNLIT",
        "STN_ATTITUDE_MODE": "LVLH",
        "STN_IN_SAA": True,
        "STN_SPARE": 0,
        "STN_LAT_DEG": -25.3,
        "STN_LON_DEG": -48.7,
        "STN_ALT_KM": 386.2,
        "STN_TC_ACCEPTED": 118,
        "STN_TC_REJECTED": 2,
        "REC_FILL_PCT": 12.5,
        "REC_PACKETS": 5400,
        "REC_OVERWRITTEN": 0,
    },
    "EVENT": {
        "EVENT_ID": 4101,
        "EVENT_SEVERITY": "WARNING",
        "EVENT_SOURCE": "TC_HANDLER",
        "EVENT_MESSAGE": "FURN_CONFIGURE seq 17 rejected: SETPOINT_C raw 65535 out of range",
    },
    "CMD_ACK": {
        "ACK_APID": 400,
        "ACK_SPARE": 0,
        "ACK_OPCODE": 0x10,
        "ACK_SEQ_COUNT": 16383,
        "ACK_SPARE2": 0,
        "ACK_STAGE": "COMPLETE",
        "ACK_REASON": "OK",
    },
    "FURNACE_HK": {
        "FURN_STATE": "SOAK",
        "FURN_PROFILE": "ISOTHERMAL",
        "FURN_TEMP_C": 799.6,
        "FURN_SETPOINT_C": 800.0,
        "FURN_TARGET_C": 800.0,
        "FURN_HEATER_W": 690.0,
        "FURN_POWER_W": 840.0,
        "FURN_RAMP_C_MIN": 20.0,
        "FURN_SOAK_MIN": 60,
        "FURN_SOAK_LEFT_S": 1800,
    },
    "FURNACE_SCIENCE": {"FURN_TC_C": [800.0, 798.5, 795.0, 790.0, 780.0, 760.0, 730.0, 690.0]},
    "FLUID_HK": {
        "FLUID_STATE": "RUNNING",
        "FLUID_CAMERA": "RECORDING",
        "FLUID_CELL_TEMP_C": 25.02,
        "FLUID_SETPOINT_C": 25.0,
        "FLUID_PRESSURE_KPA": 101.3,
        "FLUID_SPARE": 0,
        "FLUID_FILL_PCT": 60.0,
        "FLUID_FPS": 25,
        "FLUID_FRAMES": 45000,
        "FLUID_POWER_W": 410.0,
    },
    "FLUID_SCIENCE": {"FLUID_MENISCUS_MM": 152.4},
    "INCUBATOR_HK": {
        "INC_STATE": "RUNNING",
        "INC_TEMP_C": 37.01,
        "INC_TEMP_SET_C": 37.0,
        "INC_CO2_PCT": 5.02,
        "INC_CO2_SET_PCT": 5.0,
        "INC_RH_PCT": 90.5,
        "INC_RH_SET_PCT": 90.0,
        "INC_DOOR": False,
        "INC_SPARE": 0,
        "INC_POWER_W": 140.0,
    },
    "PLANT_HK": {
        "PLANT_STATE": "RUNNING",
        "PLANT_TEMP_C": 24.1,
        "PLANT_CO2_PPM": 1003.0,
        "PLANT_RH_PCT": 70.2,
        "PLANT_LIGHT_UMOL": 500.0,
        "PLANT_PHOTOPERIOD_H": 16,
        "PLANT_POWER_W": 260.0,
    },
    "DOSIMETER_DATA": {
        "DOSI_STATE": "MEASURING",
        "DOSI_INTEGRATION_S": 10,
        "DOSI_COUNTS": 2150,
        "DOSI_COUNT_RATE": 215.0,
        "DOSI_DOSE_RATE_UGY_H": 310.5,  # an SAA pass: still well inside the limits
        "DOSI_DOSE_UGY": 1520.3,
        "DOSI_LET_BINS": [600, 900, 450, 150, 40, 8, 2, 0],
        "DOSI_DET_TEMP_C": 21.5,
        "DOSI_BIAS_V": 80.0,
        "DOSI_POWER_W": 12.0,
    },
    "COLD_HK": {
        "COLD_A_STATE": "NOMINAL",
        "COLD_A_TEMP_C": -80.2,
        "COLD_A_SETPOINT_C": -80.0,
        "COLD_A_POWER_W": 360.0,
        "COLD_B_STATE": "NOMINAL",
        "COLD_B_TEMP_C": -19.9,
        "COLD_B_SETPOINT_C": -20.0,
        "COLD_B_POWER_W": 230.0,
        "COLD_C_STATE": "NOMINAL",
        "COLD_C_TEMP_C": 4.1,
        "COLD_C_SETPOINT_C": 4.0,
        "COLD_C_POWER_W": 190.0,
    },
    "ASTRO_HK": {
        "ASTRO_STATE": "OBSERVING",
        "ASTRO_POINTING": "TRACKING",
        "ASTRO_DET_TEMP_C": -45.0,
        "ASTRO_SPARE": 0,
        "ASTRO_COUNT_RATE": 180.5,
        "ASTRO_RA_DEG": 83.633,  # Crab nebula
        "ASTRO_DEC_DEG": 22.0145,
        "ASTRO_HV_V": 1200.0,
        "ASTRO_POWER_W": 620.0,
    },
    "ASTRO_SPECTRUM_DATA": {"ASTRO_EXPOSURE_S": 60, "ASTRO_SPECTRUM": list(range(100, 132))},
}


@pytest.fixture(scope="module")
def mdb() -> MissionDatabase:
    return load(MDB_PATH)


def _raw(mdb: MissionDatabase, t: DataType, eng: Any) -> Any:
    """Return the raw value of engineering value ``eng`` of type ``t`` (a test's encoder)."""
    if isinstance(t, IntegerType | FloatType):
        if t.calibrator is None:
            return eng
        enc = t.encoding
        assert isinstance(enc, IntegerEncoding), t.name
        n = enc.size_bits
        lo, hi = (0, 2**n - 1) if enc.encoding == "unsigned" else (-(2 ** (n - 1)), 2 ** (n - 1))
        return round(inverse_calibrate(t.calibrator, float(eng), lo, hi))
    if isinstance(t, EnumeratedType):
        return next(v.value for v in t.values if v.label == eng)
    if isinstance(t, BooleanType):
        return 1 if eng else 0
    if isinstance(t, ArrayType):
        et = mdb.types[t.element_type]
        return [_raw(mdb, et, x) for x in eng]
    return eng


def _packet(mdb: MissionDatabase, container: str, eng: Mapping[str, Any]) -> bytes:
    values: dict[str, Any] = {
        "CCSDS_VERSION": 0,
        "CCSDS_TYPE": 0,
        "CCSDS_SEC_HDR_FLAG": 1,
        "CCSDS_SEQ_FLAGS": 3,
        "CCSDS_SEQ_COUNT": 42,
        "OBT": OBT_S,
    }
    for name, v in eng.items():
        values[name] = _raw(mdb, mdb.types[mdb.parameter(name).type or ""], v)
    body = ContainerEncoder(mdb).encode(container, {**values, "CCSDS_LENGTH": 0})
    values["CCSDS_LENGTH"] = len(body) - 7  # CCSDS 133.0-B-2 §4.1.3.5: data length minus one
    return ContainerEncoder(mdb).encode(container, values)


def _decode(mdb: MissionDatabase, packets: list[bytes]) -> Any:
    buf = b"".join(packets)
    lengths = np.array([len(p) for p in packets])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return Decoder(mdb).decode(buf, offsets, lengths)


def test_mdb_loads_and_checks_ok(mdb: MissionDatabase) -> None:
    from typer.testing import CliRunner

    from falak.cli.app import app

    result = CliRunner().invoke(app, ["mdb", "check", str(MDB_PATH)])
    assert result.exit_code == 0, result.output
    assert ": OK, TIANGONG: 9 space systems" in result.output
    assert mdb.root.name == "TIANGONG"


def test_six_disciplines_have_racks(mdb: MissionDatabase) -> None:
    """Issue 13: experiments of at least six of the station's nine disciplines."""
    text = " ".join(s.description or "" for s in mdb.root.subsystems.values())
    found = {d for d in DISCIPLINES if f"discipline {d}" in text}
    assert len(found) >= 6, found


def test_every_concrete_container_has_nominal_values(mdb: MissionDatabase) -> None:
    concrete = {c.name for c in mdb.containers.values() if not c.abstract}
    assert concrete == set(NOMINAL)
    for name, values in NOMINAL.items():
        own = [getattr(e, "parameter", None) for e in mdb.container(name).entries]
        assert [mdb.parameter(v).qualified_name for v in values] == own, name


@pytest.mark.parametrize("container", sorted(NOMINAL))
def test_nominal_packet_round_trips_inside_limits(mdb: MissionDatabase, container: str) -> None:
    pkt = _packet(mdb, container, NOMINAL[container])
    res = _decode(mdb, [pkt])
    assert res.failed_counts() == {}
    assert res.excess_counts() == {}
    c = res.container(container)
    assert len(c) == 1
    for name, want in NOMINAL[container].items():
        col = c.column(name)
        got = col.eng[0]
        t = mdb.types[mdb.parameter(name).type or ""]
        if isinstance(want, float) or (isinstance(want, list) and isinstance(want[0], float)):
            # one count of the calibration: at most 0.025 degC (furnace), 0.1 W (power)
            assert np.allclose(np.asarray(got, dtype=float), want, atol=0.1, rtol=0), name
        elif isinstance(t, BooleanType):
            assert bool(got) is want, name
        elif isinstance(want, list):
            assert list(got) == want, name
        else:
            assert got == want, name
        if col.monitoring is not None:
            assert int(col.monitoring[0]) == AlarmLevel.NORMAL, f"{name} = {got} not nominal"
    assert c.column("OBT").eng[0] is not None


# (container, changes from nominal, parameter, expected level): what operators must see
FAULTS = [
    # furnace over-temperature: 1460 degC while heating is past the 1450 degC containment limit
    ("FURNACE_HK", {"FURN_TEMP_C": 1460.0}, "FURN_TEMP_C", AlarmLevel.CRITICAL),
    ("FURNACE_HK", {"FURN_TEMP_C": 1430.0}, "FURN_TEMP_C", AlarmLevel.WARNING),
    # the same 400 degC is normal while soaking, critical when the furnace says it is cold
    (
        "FURNACE_HK",
        {"FURN_STATE": "STANDBY", "FURN_TEMP_C": 400.0},
        "FURN_TEMP_C",
        AlarmLevel.CRITICAL,
    ),
    ("FURNACE_HK", {"FURN_STATE": "FAULT"}, "FURN_STATE", AlarmLevel.CRITICAL),
    # cold stowage failure: the -80 unit drifting up
    ("COLD_HK", {"COLD_A_TEMP_C": -72.0}, "COLD_A_TEMP_C", AlarmLevel.WARNING),
    (
        "COLD_HK",
        {"COLD_A_TEMP_C": -60.0, "COLD_A_STATE": "FAULT"},
        "COLD_A_TEMP_C",
        AlarmLevel.CRITICAL,
    ),
    ("COLD_HK", {"COLD_A_STATE": "FAULT"}, "COLD_A_STATE", AlarmLevel.CRITICAL),
    # ... but not while pulling down after loading
    (
        "COLD_HK",
        {"COLD_A_TEMP_C": -60.0, "COLD_A_STATE": "PULL_DOWN"},
        "COLD_A_TEMP_C",
        AlarmLevel.NORMAL,
    ),
    ("COLD_HK", {"COLD_C_TEMP_C": 0.0}, "COLD_C_TEMP_C", AlarmLevel.CRITICAL),
    # dosimeter noise: tens of thousands of uGy/h
    (
        "DOSIMETER_DATA",
        {"DOSI_DOSE_RATE_UGY_H": 25000.0},
        "DOSI_DOSE_RATE_UGY_H",
        AlarmLevel.CRITICAL,
    ),
    (
        "DOSIMETER_DATA",
        {"DOSI_DOSE_RATE_UGY_H": 25000.0, "DOSI_STATE": "STANDBY"},
        "DOSI_DOSE_RATE_UGY_H",
        AlarmLevel.NORMAL,
    ),
    ("INCUBATOR_HK", {"INC_CO2_PCT": 3.0}, "INC_CO2_PCT", AlarmLevel.CRITICAL),
    (
        "INCUBATOR_HK",
        {"INC_CO2_PCT": 3.0, "INC_STATE": "CONDITIONING"},
        "INC_CO2_PCT",
        AlarmLevel.NORMAL,
    ),
    ("FLUID_HK", {"FLUID_PRESSURE_KPA": 70.0}, "FLUID_PRESSURE_KPA", AlarmLevel.WARNING),
    (
        "FLUID_HK",
        {"FLUID_PRESSURE_KPA": 70.0, "FLUID_STATE": "STANDBY"},
        "FLUID_PRESSURE_KPA",
        AlarmLevel.NORMAL,
    ),
    ("ASTRO_HK", {"ASTRO_DET_TEMP_C": -20.0}, "ASTRO_DET_TEMP_C", AlarmLevel.CRITICAL),
    ("ASTRO_HK", {"ASTRO_POINTING": "LOST"}, "ASTRO_POINTING", AlarmLevel.WARNING),
    (
        "ASTRO_HK",
        {"ASTRO_POINTING": "LOST", "ASTRO_STATE": "STANDBY", "ASTRO_DET_TEMP_C": 20.0},
        "ASTRO_POINTING",
        AlarmLevel.NORMAL,
    ),
    (
        "STATION_HK",
        {"STN_PAYLOAD_POWER_MARGIN_W": 150.0},
        "STN_PAYLOAD_POWER_MARGIN_W",
        AlarmLevel.WARNING,
    ),
    (
        "STATION_HK",
        {"STN_PAYLOAD_POWER_MARGIN_W": -50.0},
        "STN_PAYLOAD_POWER_MARGIN_W",
        AlarmLevel.CRITICAL,
    ),
    ("STATION_HK", {"REC_FILL_PCT": 97.0}, "REC_FILL_PCT", AlarmLevel.CRITICAL),
]


@pytest.mark.parametrize(("container", "changes", "name", "level"), FAULTS)
def test_fault_values_raise_expected_alarm(
    mdb: MissionDatabase,
    container: str,
    changes: dict[str, Any],
    name: str,
    level: AlarmLevel,
) -> None:
    pkt = _packet(mdb, container, {**NOMINAL[container], **changes})
    col = _decode(mdb, [pkt]).container(container).column(name)
    assert col.monitoring is not None
    assert AlarmLevel(int(col.monitoring[0])) == level


def _concrete_commands(mdb: MissionDatabase) -> list[str]:
    return sorted(c.name for c in mdb.commands.values() if not c.abstract)


# arguments without defaults
REQUIRED_ARGS: dict[str, dict[str, Any]] = {
    "FURN_SET_HIGH_TEMP": {"SETPOINT_C": 1200.0},
    "COLD_SET": {"UNIT": "A_MINUS80", "SETPOINT_C": -80.0},
    "ASTRO_START": {"RA_DEG": 83.633, "DEC_DEG": 22.0145},
    "SIM_INJECT_FAULT": {"FAULT": "FURNACE_OVERTEMP"},
}


def test_every_command_encodes_with_its_apid_and_sequence_count(mdb: MissionDatabase) -> None:
    enc = CommandEncoder(mdb)
    names = _concrete_commands(mdb)
    assert len(names) == 23
    opcodes: set[tuple[int, int]] = set()
    for i, name in enumerate(names):
        cmd = enc.encode(name, REQUIRED_ARGS.get(name, {}), seq_count=100 + i)
        b = cmd.binary
        apid = int.from_bytes(b[0:2], "big") & 0x7FF  # CCSDS 133.0-B-2 §4.1.3
        assert b[0] >> 4 == 0b0001, name  # version 0, type 1 (telecommand), no sec. header
        assert apid == (2040 if name.startswith("SIM_") else 400), name
        assert int.from_bytes(b[2:4], "big") & 0x3FFF == 100 + i, name
        assert int.from_bytes(b[4:6], "big") == len(b) - 7, name
        opcodes.add((apid, b[6]))
    assert len(opcodes) == len(names), "two commands share an opcode"


def test_every_verifier_matches_the_sequence_count_exactly(mdb: MissionDatabase) -> None:
    for name in _concrete_commands(mdb):
        cmd = mdb.command(name)
        assert cmd.verifiers, name
        stages = [v.stage for v in cmd.verifiers]
        assert stages[0] == "received", name
        assert stages[-1] == "complete", name
        for v in cmd.verifiers:
            assert "$seq_count" in repr(v.condition), (name, v.stage)
            assert v.stage == "received" or "FAILED" in repr(v.fail_condition), (name, v.stage)


def test_critical_commands(mdb: MissionDatabase) -> None:
    critical = {c.name for c in mdb.commands.values() if c.significance == Significance.CRITICAL}
    assert critical == {"FURN_SET_HIGH_TEMP", "COLD_SET"}
    assert "containment" in (mdb.command("FURN_SET_HIGH_TEMP").significance_reason or "")


def test_simulator_commands_are_marked_sim_only(mdb: MissionDatabase) -> None:
    cmd = mdb.command("SIM_INJECT_FAULT")
    assert cmd.qualified_name == "/TIANGONG/SIMULATOR/SIM_INJECT_FAULT"
    assert (cmd.description or "").startswith("SIMULATOR ONLY")
    fault_type = mdb.argument_types["/TIANGONG/SIMULATOR/SimFault"]
    assert isinstance(fault_type, EnumeratedType)
    assert {v.label for v in fault_type.values} == {
        "CLEAR_ALL",
        "FURNACE_OVERTEMP",
        "COLD_STOWAGE_FAILURE",
        "DOSIMETER_NOISE",
    }


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "FURN_CONFIGURE",
            {"SETPOINT_C": 1200.0},
            "FURN_CONFIGURE: argument SETPOINT_C = 1200.0 is outside 20..1000 degC",
        ),
        (
            "FURN_SET_HIGH_TEMP",
            {"SETPOINT_C": 1500.0},
            "FURN_SET_HIGH_TEMP: argument SETPOINT_C = 1500.0 is outside 1000..1400 degC",
        ),
        (
            "COLD_SET",
            {"UNIT": "A_MINUS80", "SETPOINT_C": 20.0},
            "COLD_SET: argument SETPOINT_C = 20.0 is outside -90..10 degC",
        ),
    ],
)
def test_out_of_range_arguments_are_refused_on_the_ground(
    mdb: MissionDatabase, name: str, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(CommandRejected) as exc:
        CommandEncoder(mdb).encode(name, args)
    assert message in str(exc.value)


def test_recorded_packets_come_unwrapped(mdb: MissionDatabase) -> None:
    """ISSUE13.md §5: the recorder is dumped byte for byte on the playback link, so the MDB
    has no wrapper container (the former APID 303 RECORDER_DUMP) but keeps REC_DUMP."""
    apids = {
        c.name: repr(c.restriction) for c in mdb.containers.values() if c.restriction is not None
    }
    assert not [n for n, r in apids.items() if "303" in r], apids
    assert not [p for p in mdb.parameters if "DUMP_" in p]
    assert mdb.command("REC_DUMP").qualified_name == "/TIANGONG/REC_DUMP"


def test_time_in_secondary_header_is_cuc(mdb: MissionDatabase) -> None:
    t = mdb.types[mdb.parameter("OBT").type or ""]
    assert isinstance(t, AbsoluteTimeType)
    assert isinstance(t.timecode, CucTimeCode)


def test_mdb_survives_xtce_and_yaml_round_trips(mdb: MissionDatabase, tmp_path: Path) -> None:
    """docs/mdb-yaml.md: both formats read back to an equal model, so the example can be
    handed to an XTCE tool (Yamcs) and back."""
    from falak.mdb.native import dump_yaml, loads_yaml
    from falak.mdb.xtce import load_xtce, write_xtce

    out = tmp_path / "tiangong.xml"
    write_xtce(mdb, out)
    assert load_xtce(out) == mdb
    assert loads_yaml(dump_yaml(mdb)) == mdb


def test_readme_documents_every_simulator_option() -> None:
    """missions/tiangong/README.md's option table names exactly the model's options."""
    import re

    from falak.sim.station import OPTIONS

    text = (MDB_PATH.parent / "README.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert documented == set(OPTIONS)
