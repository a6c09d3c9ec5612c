"""Verifier stages evaluated on parameter values (pure, no threads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from falak.errors import InputError, MdbError
from falak.mdb import MissionDatabase
from falak.mdb.model import AllOf, Comparison
from falak.tc.verification import Outcome, Value, Verification, evaluate, parse_condition
from tests.processor.testsat import MDB_PATH, load_testsat

S = 1_000_000_000  # ns per second
T0 = 1_800_000_000 * S  # a release time


@pytest.fixture(scope="module")
def mdb() -> MissionDatabase:
    return load_testsat()


SEQ = 7  # the sequence count the verified command was released with
CMD = {"seq_count": SEQ}


def ack(opcode: int, stage: str, t: int, seq: int = SEQ) -> dict[str, Value]:
    codes = {"RECEIVED": 1, "ACCEPTED": 2, "COMPLETE": 3, "FAILED": 15}
    return {
        "/TESTSAT/ACK_OPCODE": Value(opcode, opcode, t),
        "/TESTSAT/ACK_SEQ_COUNT": Value(seq, seq, t),
        "/TESTSAT/ACK_STAGE": Value(codes[stage], stage, t),
    }


def test_stages_ok_in_order(mdb: MissionDatabase) -> None:
    v = Verification(mdb, mdb.command("SET_HEATER").verifiers, T0, CMD)
    for i, stage in enumerate(["RECEIVED", "ACCEPTED", "COMPLETE"]):
        t = T0 + (i + 1) * S // 10
        out = v.observe(t, ack(3, stage, t), "/TESTSAT/CMD_ACK")
        assert [(r.stage, r.outcome) for r in out] == [(stage.lower(), Outcome.OK)]
    assert v.final_state == "completed"


def test_other_opcode_and_other_container_do_not_count(mdb: MissionDatabase) -> None:
    v = Verification(mdb, mdb.command("SET_HEATER").verifiers, T0, CMD)
    assert v.observe(T0 + S, ack(2, "RECEIVED", T0 + S), "/TESTSAT/CMD_ACK") == []
    assert v.observe(T0 + S, ack(3, "RECEIVED", T0 + S), "/TESTSAT/HK") == []
    assert v.observe(T0 - S, ack(3, "RECEIVED", T0 - S), "/TESTSAT/CMD_ACK") == []  # before


def test_fail_condition_gives_nok_and_cancels_the_rest(mdb: MissionDatabase) -> None:
    v = Verification(mdb, mdb.command("SET_MODE").verifiers, T0, CMD)
    v.observe(T0 + S, ack(2, "RECEIVED", T0 + S), "/TESTSAT/CMD_ACK")
    out = v.observe(T0 + 2 * S, ack(2, "FAILED", T0 + 2 * S), "/TESTSAT/CMD_ACK")
    # accepted and complete both have ACK_STAGE == FAILED as fail condition
    assert {(r.stage, r.outcome) for r in out} == {
        ("accepted", Outcome.NOK),
        ("complete", Outcome.NOK),
    }
    assert v.final_state == "failed"


def test_timeout_when_the_window_closes(mdb: MissionDatabase) -> None:
    v = Verification(
        mdb, mdb.command("NOOP").verifiers, T0, CMD
    )  # received 0..5 s, complete 0..10 s
    assert v.tick(T0 + 5 * S) == []  # the window end itself is inside
    out = v.tick(T0 + 5 * S + 1)
    assert [(r.stage, r.outcome) for r in out] == [
        ("received", Outcome.TIMEOUT),
        ("complete", Outcome.CANCELLED),
    ]
    assert out[0].message == "nothing within 0..5 s"
    assert v.final_state == "failed"


def test_container_and_state_condition(mdb: MissionDatabase) -> None:
    # REBOOT complete: an HK packet with MODE == SAFE within 60 s
    (complete,) = [x for x in mdb.command("REBOOT").verifiers if x.stage == "complete"]
    v = Verification(mdb, (complete,), T0)
    mode = "/TESTSAT/MODE"
    assert v.observe(T0 + S, {mode: Value(2, "NOMINAL")}, "/TESTSAT/HK") == []
    out = v.observe(T0 + 2 * S, {mode: Value(1, "SAFE")}, "/TESTSAT/HK")
    assert [r.outcome for r in out] == [Outcome.OK]


def test_evaluate_unknown_is_not_true(mdb: MissionDatabase) -> None:
    cond = parse_condition("MODE == SAFE and BATT_V > 7.2", mdb)
    assert isinstance(cond, AllOf)
    assert evaluate(cond, {}, mdb) is None
    vals = {"/TESTSAT/MODE": Value(1, "SAFE"), "/TESTSAT/BATT_V": Value(7300, 7.3)}
    assert evaluate(cond, vals, mdb) is True
    vals["/TESTSAT/BATT_V"] = Value(7000, 7.0)
    assert evaluate(cond, vals, mdb) is False
    raw = parse_condition("raw(MODE) == 1", mdb)
    assert isinstance(raw, Comparison)
    assert not raw.ref.calibrated
    assert evaluate(raw, {"/TESTSAT/MODE": Value(1, "SAFE")}, mdb) is True
    heater = parse_condition("HEATER == ON", mdb)  # boolean: one_string ON
    assert evaluate(heater, {"/TESTSAT/HEATER": Value(1, True)}, mdb) is True


def test_parse_condition_errors(mdb: MissionDatabase) -> None:
    with pytest.raises(InputError, match="cannot read condition 'MODE SAFE'"):
        parse_condition("MODE SAFE", mdb)


def test_acks_of_another_command_in_flight_do_not_count(mdb: MissionDatabase) -> None:
    """Two SET_MODE commands in flight: each is verified by the acks that carry its own
    sequence count (ACK_SEQ_COUNT == $seq_count in the TESTSAT MDB), so one command's
    failure does not fail the other."""
    mine = Verification(mdb, mdb.command("SET_MODE").verifiers, T0, CMD)
    other = Verification(mdb, mdb.command("SET_MODE").verifiers, T0, {"seq_count": SEQ + 1})
    t = T0 + S
    assert mine.observe(t, ack(2, "FAILED", t, seq=SEQ + 1), "/TESTSAT/CMD_ACK") == []
    failed = other.observe(t, ack(2, "FAILED", t, SEQ + 1), "/TESTSAT/CMD_ACK")
    assert {r.stage: r.outcome for r in failed} == {
        "accepted": Outcome.NOK,
        "complete": Outcome.NOK,
        "received": Outcome.CANCELLED,  # still pending when the command failed
    }
    for stage in ("RECEIVED", "ACCEPTED", "COMPLETE"):
        mine.observe(t, ack(2, stage, t), "/TESTSAT/CMD_ACK")
    assert mine.final_state == "completed"
    assert other.final_state == "failed"


def test_command_references_without_a_context_are_unknown(mdb: MissionDatabase) -> None:
    cond = mdb.command("NOOP").verifiers[0].condition
    assert cond is not None
    values = ack(1, "RECEIVED", T0)
    assert evaluate(cond, values, mdb) is None  # no sequence count known: never true
    assert evaluate(cond, values, mdb, {"seq_count": SEQ}) is True
    assert evaluate(cond, values, mdb, {"seq_count": SEQ + 1}) is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("$seq", "which the command does not have"),
        ("$args.NOPE", "which the command does not have"),
    ],
)
def test_bad_command_references_are_reported(value: str, message: str, tmp_path: Path) -> None:
    from falak.mdb import load

    text = MDB_PATH.read_text().replace(
        "[ACK_OPCODE == 2, ACK_SEQ_COUNT == $seq_count, ACK_STAGE == RECEIVED]",
        f"[ACK_OPCODE == 2, ACK_SEQ_COUNT == {value}, ACK_STAGE == RECEIVED]",
    )
    bad = tmp_path / "mdb.yaml"
    bad.write_text(text)
    with pytest.raises(MdbError) as info:
        load(bad)
    assert message in str(info.value)
    assert "$seq_count" in str(info.value)  # the fix lists what is allowed
    assert "$args.NEW_MODE" in str(info.value)


def test_command_references_outside_verifiers_are_refused(tmp_path: Path) -> None:
    from falak.mdb import load

    text = MDB_PATH.read_text().replace(
        "restriction: APID == 100", "restriction: APID == $seq_count", 1
    )
    assert "$seq_count" in text
    bad = tmp_path / "mdb.yaml"
    bad.write_text(text)
    with pytest.raises(MdbError, match="only command verifiers can use those"):
        load(bad)
