"""Command stacks: parsing and checking against the TESTSAT MDB (messages asserted)."""

from __future__ import annotations

import pytest

from falak.commanding.stack import Stack, StackError, parse_stack
from falak.mdb import MissionDatabase, load
from tests.processor.testsat import MDB_PATH

GOOD = """\
stack: checkout
description: heater checkout
steps:
  - command: NOOP
    offset_s: 0
  - command: SET_HEATER
    arguments: {SETPOINT: 12.5}
    offset_s: 1.5
    verify: accepted
    timeout_s: 4
    on_failure: continue
    comment: warm the battery
"""


@pytest.fixture(scope="module")
def mdb() -> MissionDatabase:
    return load(MDB_PATH)


def problems(text: str, mdb: MissionDatabase) -> list[str]:
    with pytest.raises(StackError) as info:
        parse_stack(text, mdb, file="s.yaml")
    return info.value.problems


def test_good_stack_parses_with_defaults(mdb: MissionDatabase) -> None:
    st = parse_stack(GOOD, mdb, file="s.yaml")
    assert st.name == "checkout"
    assert st.spacecraft == "TESTSAT"  # the server's only spacecraft by default
    assert st.on_failure == "stop"
    assert [s.command for s in st.steps] == ["/TESTSAT/NOOP", "/TESTSAT/SET_HEATER"]
    heater = st.steps[1]
    assert (heater.offset_s, heater.verify, heater.timeout_s) == (1.5, "accepted", 4.0)
    assert heater.arguments == {"SETPOINT": 12.5}
    assert heater.comment == "warm the battery"
    assert heater.line == 6
    assert st.policy(0) == "stop"
    assert st.policy(1) == "continue"
    assert Stack.from_json(st.to_json()) == st


def test_absolute_times(mdb: MissionDatabase) -> None:
    st = parse_stack(
        "stack: abs\nsteps:\n  - {command: NOOP, at: 2030-01-01T00:00:00Z}\n"
        "  - {command: NOOP, at: '2030-01-01T00:00:05.5Z'}\n",
        mdb,
    )
    assert [s.at_ns for s in st.steps] == [1893456000_000_000_000, 1893456005_500_000_000]


def test_unknown_command_and_argument_name_file_and_line(mdb: MissionDatabase) -> None:
    text = (
        "stack: bad\nsteps:\n  - command: NOPE\n  - command: SET_HEATER\n"
        "    arguments: {SETPONT: 1}\n  - command: SET_HEATER\n    arguments: {SETPOINT: 99}\n"
    )
    assert problems(text, mdb) == [
        "s.yaml:3: step 1: no command named 'NOPE'; commands: NOOP, REBOOT, SET_HEATER, SET_MODE",
        "s.yaml:5: step 2: SET_HEATER: unknown argument SETPONT; arguments: APID, SETPOINT",
        # HeaterSetpoint allows -20..40 degC (testsat mdb.yaml)
        "s.yaml:7: step 3: SET_HEATER: argument SETPOINT = 99 is outside -20..40 degC",
    ]


def test_bad_times(mdb: MissionDatabase) -> None:
    text = (
        "stack: t\nsteps:\n  - {command: NOOP, offset_s: -1}\n"
        "  - {command: NOOP, offset_s: soon}\n  - {command: NOOP, offset_s: 5}\n"
        "  - {command: NOOP, offset_s: 2}\n"
    )
    assert problems(text, mdb) == [
        "s.yaml:3: step 1: offset_s -1 is negative; give seconds >= 0",
        "s.yaml:4: step 2: offset_s 'soon' is not a number of seconds",
        "s.yaml:6: step 4 is at 2 s, before the step before it (5 s); put the steps in time order",
    ]
    text = "stack: t\nsteps:\n  - {command: NOOP, at: tomorrow}\n"
    (msg,) = problems(text, mdb)
    assert msg.startswith("s.yaml:3: step 1: at 'tomorrow' is not")
    text = (
        "stack: t\nsteps:\n  - {command: NOOP, at: 2030-01-01}\n  - {command: NOOP, offset_s: 1}\n"
    )
    assert problems(text, mdb) == [
        "s.yaml:3: steps mix offset_s and at; give every step an offset_s, or every step an at"
    ]


def test_structure_errors(mdb: MissionDatabase) -> None:
    assert problems("steps: []\n", mdb) == [
        "s.yaml:1: the stack has no name; add 'stack: NAME'",
        "s.yaml:1: the stack has no steps; add 'steps:' with one '- command: NAME' per step",
    ]
    text = (
        "stack: x\nspacecraft: ROVER\non_failure: maybe\nsteps:\n"
        "  - {command: NOOP, verify: done, wait: 3}\n"
    )
    assert problems(text, mdb) == [
        "s.yaml:2: spacecraft 'ROVER' is not hosted here; spacecraft: TESTSAT",
        "s.yaml:3: the stack: on_failure 'maybe' is not one of stop, continue",
        "s.yaml:5: step 1: unknown key 'wait'; keys: command, arguments, offset_s, at, comment, "
        "verify, timeout_s, on_failure, queue",
        "s.yaml:5: step 1: NOOP has no verifier stage 'done'; stages: received, complete "
        "(or 'none' to not wait)",
    ]
    assert problems("stack: [\n", mdb)[0].startswith("s.yaml:2: not valid YAML")
