"""``falak mdb check`` reports what the decoder would trip on (issue 12).

Each bad database here passed ``mdb check`` before, and then decoding raised (a negative
location: ``ValueError: strides is incompatible ...``; a huge one: ``OverflowError``), hung (an
array of 10^12 elements), or silently gave wrong results (a malformed restriction: every packet
``no_container``; NaN limits: no alarm ever). Now loading refuses them and ``mdb check`` prints
each as ``file:line: message (fix: ...)``, in YAML and in XTCE where the construct exists in both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.mdb.native import loads_yaml
from falak.tm.decoder import Decoder

runner = CliRunner()

YAML = """\
name: BAD
parameters:
  APID: uint16
  X: {X}
types:
  F: {{kind: float, encoding: uint8, {F}}}
containers:
  P: {{entries: [APID]}}
  Q: {{base: P, restriction: {RESTRICTION}, entries: [{ENTRY}]}}
"""


def yaml_text(
    *, x: str = "uint8", f: str = "unit: V", restriction: str = "APID == 100", entry: str = "X"
) -> str:
    return YAML.format(X=x, F=f, RESTRICTION=restriction, ENTRY=entry)


XTCE = """\
<?xml version="1.0" encoding="UTF-8"?>
<SpaceSystem xmlns="http://www.omg.org/space/xtce" name="BAD">
  <TelemetryMetaData>
    <ParameterTypeSet>
      <IntegerParameterType name="U16" signed="{SIGNED}">
        <IntegerDataEncoding sizeInBits="16" encoding="unsigned"/>
      </IntegerParameterType>
      <FloatParameterType name="F">
        <IntegerDataEncoding sizeInBits="8" encoding="unsigned">{CALIBRATOR}</IntegerDataEncoding>
        {FLOAT_EXTRA}
      </FloatParameterType>
      {TYPES}
    </ParameterTypeSet>
    <ParameterSet>
      <Parameter name="APID" parameterTypeRef="U16"/>
      <Parameter name="X" parameterTypeRef="{X_TYPE}"/>
    </ParameterSet>
    <ContainerSet>
      <SequenceContainer name="P">
        <EntryList><ParameterRefEntry parameterRef="APID"/></EntryList>
      </SequenceContainer>
      <SequenceContainer name="Q">
        <EntryList>
          <ParameterRefEntry parameterRef="X">{LOCATION}</ParameterRefEntry>
        </EntryList>
        <BaseContainer containerRef="P">
          <RestrictionCriteria>
            <Comparison parameterRef="APID" value="{VALUE}"/>
          </RestrictionCriteria>
        </BaseContainer>
      </SequenceContainer>
    </ContainerSet>
  </TelemetryMetaData>
</SpaceSystem>
"""
XPATH_Q = "/SpaceSystem[@name='BAD']/TelemetryMetaData/ContainerSet/SequenceContainer[@name='Q']"
XPATH_F = (
    "/SpaceSystem[@name='BAD']/TelemetryMetaData/ParameterTypeSet/FloatParameterType[@name='F']"
)


def xtce_text(
    *,
    signed: str = "false",
    calibrator: str = "",
    float_extra: str = "",
    types: str = "",
    x_type: str = "F",
    location: str = "",
    value: str = "100",
) -> str:
    return XTCE.format(
        SIGNED=signed,
        CALIBRATOR=calibrator,
        FLOAT_EXTRA=float_extra,
        TYPES=types,
        X_TYPE=x_type,
        LOCATION=location,
        VALUE=value,
    )


def location(reference: str, bits: int) -> str:
    return (
        f'<LocationInContainerInBits referenceLocation="{reference}">'
        f"<FixedValue>{bits}</FixedValue></LocationInContainerInBits>"
    )


def check(tmp_path: Path, name: str, text: str) -> list[str]:
    """The error lines of ``falak mdb check`` on ``text`` saved as ``name`` (exit status 1)."""
    path = tmp_path / name
    path.write_text(text)
    res = runner.invoke(app, ["mdb", "check", str(path)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.splitlines()
    n = len(lines) - 1
    assert lines[-1] == (f"{n} errors" if n > 1 else "1 error")
    prefix = f"{path}:"
    assert all(line.startswith(prefix) for line in lines[:-1]), lines
    return [line.removeprefix(prefix) for line in lines[:-1]]


def test_the_good_templates_check_ok(tmp_path: Path) -> None:
    for name, text in (("good.yaml", yaml_text()), ("good.xml", xtce_text())):
        path = tmp_path / name
        path.write_text(text)
        res = runner.invoke(app, ["mdb", "check", str(path)])
        assert res.exit_code == 0, res.output


# -- locations ----------------------------------------------------------------------------


def test_negative_location_from_the_container_start(tmp_path: Path) -> None:
    lines = check(tmp_path, "neg.yaml", yaml_text(entry="{parameter: X, absolute_bits: -64}"))
    assert lines == [
        "9: container /BAD/Q entry 1 starts 64 bits before the container's start "
        "(fix: give an offset >= 0 from the container's start)"
    ]
    lines = check(tmp_path, "neg.xml", xtce_text(location=location("containerStart", -64)))
    assert lines == [
        "24: container /BAD/Q entry 1 starts 64 bits before the container's start "
        "(fix: give an offset >= 0 from the container's start)"
    ]


def test_negative_offset_before_the_packet_start(tmp_path: Path) -> None:
    fix = (
        "(fix: make the offset smaller, or give it from the container's start (absolute_bits "
        'in YAML, referenceLocation="containerStart" in XTCE))'
    )
    lines = check(tmp_path, "prev.yaml", yaml_text(entry="{parameter: X, offset_bits: -64}"))
    assert lines == [
        "9: container /BAD/Q entry 1 can start 48 bits before the packet's start (its offset "
        f"is -64 bits from the end of the previous entry) {fix}"
    ]
    lines = check(tmp_path, "prev.xml", xtce_text(location=location("previousEntry", -640)))
    assert lines == [
        "24: container /BAD/Q entry 1 can start 624 bits before the packet's start (its offset "
        f"is -640 bits from the end of the previous entry) {fix}"
    ]


def test_a_negative_offset_inside_the_packet_is_legal() -> None:
    """Re-reading the last byte of APID (16 bits) as X: legal, and decoded."""
    mdb = loads_yaml(yaml_text(entry="{parameter: X, offset_bits: -8}"))
    res = Decoder(mdb, "P").decode(bytes([0, 100]), [0], [2])
    (q,) = res.containers
    assert q.container == "/BAD/Q"
    np.testing.assert_array_equal(q.column("X").raw, [100])


@pytest.mark.parametrize(
    ("name", "text", "line", "bits"),
    [
        (
            "huge.yaml",
            yaml_text(entry="{parameter: X, packet_offset_bits: 1180591620717411303424}"),
            9,
            2**70,
        ),
        ("huge.xml", xtce_text(location=location("containerStart", 2**70)), 24, 2**70),
        ("huge2.xml", xtce_text(location=location("previousEntry", 2**62)), 24, 2**62),
    ],
)
def test_huge_location(tmp_path: Path, name: str, text: str, line: int, bits: int) -> None:
    lines = check(tmp_path, name, text)
    assert lines == [
        f"{line}: container /BAD/Q entry 1: location of {bits:,} bits is larger than 524,336 "
        f"bits, the largest CCSDS packet (fix: give at most 524,336 bits (CCSDS 133.0-B-2))"
    ]


def test_huge_repeat_count_and_offset(tmp_path: Path) -> None:
    lines = check(tmp_path, "rep.yaml", yaml_text(entry="{parameter: X, repeat: 1000000000000}"))
    assert lines == [
        "9: container /BAD/Q entry 1 repeats 1,000,000,000,000 times, more than fit in 524,336 "
        "bits, the largest CCSDS packet (fix: give the number of repetitions (or read it from "
        "a parameter))"
    ]
    repeat = "<RepeatEntry><Count><FixedValue>1000000000000</FixedValue></Count></RepeatEntry>"
    assert check(tmp_path, "rep.xml", xtce_text(location=repeat)) == [
        "24: container /BAD/Q entry 1 repeats 1,000,000,000,000 times, more than fit in "
        "524,336 bits, the largest CCSDS packet (fix: give the number of repetitions (or read "
        "it from a parameter))"
    ]
    text = yaml_text(entry="{parameter: X, repeat: {count: 2, offset_bits: 100000000000000000000}}")
    assert check(tmp_path, "repoff.yaml", text) == [
        "9: container /BAD/Q entry 1: repeat offset of 100,000,000,000,000,000,000 bits is "
        "larger than 524,336 bits, the largest CCSDS packet (fix: give at most 524,336 bits "
        "(CCSDS 133.0-B-2))"
    ]


# -- restriction expressions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("restriction", "message"),
    [
        (
            "'APID =='",
            "cannot read condition 'APID ==' (restriction of Q): nothing follows == (fix: give "
            "the value to compare with, e.g. 'APID == 100')",
        ),
        (
            "APID <> 100",
            "cannot read condition 'APID <> 100' (restriction of Q): <> is not an operator (fix: "
            "use one of == != < <= > >= ('not equal' is !=))",
        ),
        (
            "APID == 100 junk",
            "container /BAD/Q restriction compares '/BAD/APID' with '100 junk', which is not a "
            "number (fix: write a number (100, 2.5, 0x64); remove anything after it)",
        ),
        (
            "raw(APID) == 0x6G",
            "container /BAD/Q restriction compares 'raw(/BAD/APID)' with '0x6G', which is not a "
            "number (fix: write a number (100, 2.5, 0x64); remove anything after it)",
        ),
    ],
)
def test_malformed_yaml_restrictions(tmp_path: Path, restriction: str, message: str) -> None:
    assert check(tmp_path, "r.yaml", yaml_text(restriction=restriction)) == [f"9: {message}"]


def test_malformed_xtce_comparison_values(tmp_path: Path) -> None:
    for value, fix in (
        ("100 junk", "write a number (100, 2.5, 0x64); remove anything after it"),
        ("", "give the number to compare with, e.g. APID == 100"),
        (
            "&gt; 100",
            "use one of == != < <= > >= between the name and a number ('not equal' is !=)",
        ),
    ):
        shown = value.replace("&gt;", ">")
        assert check(tmp_path, "c.xml", xtce_text(value=value)) == [
            f"22: container /BAD/Q restriction compares '/BAD/APID' with {shown!r}, which is "
            f"not a number (at {XPATH_Q}) (fix: {fix})"
        ]


def test_comparisons_the_decoder_would_raise_on(tmp_path: Path) -> None:
    """A binary compared with non-hex text raised ValueError in bytes.fromhex mid-batch."""
    text = yaml_text(
        x="{type: B}\n  T: uint8\n  S: {type: E}",
        restriction="[X == zz, S == 2, raw(S) == MAYBE]",
    ).replace(
        "types:\n",
        "types:\n  B: {kind: binary, encoding: {fixed_bits: 8}}\n"
        "  E: {kind: enumerated, encoding: uint8, enum: {0: OFF, 1: ON}}\n",
    )
    text = text.replace("P: {entries: [APID]}", "P: {entries: [APID, X, S]}")
    text = text.replace("entries: [X]}", "entries: [T]}")
    assert check(tmp_path, "cmp.yaml", text) == [
        "13: container /BAD/Q restriction compares '/BAD/X' with 'zz', which is not hex bytes "
        "(fix: write the bytes in hex, e.g. 0A1B)",
        "13: container /BAD/Q restriction compares '/BAD/S' with '2', which is not one of its "
        "labels (fix: use one of OFF, ON (or compare the raw value))",
        "13: container /BAD/Q restriction compares 'raw(/BAD/S)' with 'MAYBE', which is not a "
        "number (fix: write a number (100, 2.5, 0x64); remove anything after it)",
    ]


# -- NaN in limits, calibrators and valid ranges ------------------------------------------

NAN_FIX = "(fix: give a number, or leave the bound open (null in YAML, no attribute in XTCE))"


def test_nan_in_yaml_alarms_calibrators_and_valid_ranges(tmp_path: Path) -> None:
    assert check(tmp_path, "a.yaml", yaml_text(x="F", f="alarm: {warning: [.nan, 5]}")) == [
        "6: type /BAD/F alarm warning range [nan, 5] has a NaN bound (no value is ever inside "
        f"or outside it) {NAN_FIX}"
    ]
    assert check(tmp_path, "v.yaml", yaml_text(x="F", f="valid_range: [0, .nan]")) == [
        "6: type /BAD/F valid range [0, nan] has a NaN bound (no value is ever inside or "
        f"outside it) {NAN_FIX}"
    ]
    assert check(tmp_path, "p.yaml", yaml_text(x="F", f="calibrator: {polynomial: [.nan, 1]}")) == [
        "6: type /BAD/F: polynomial calibrator with a coefficient that is not a finite number "
        "(nan, 1) (fix: give finite numbers [c0, c1, ...] with eng = c0 + c1*raw + ...)"
    ]
    text = yaml_text(x="F", f="calibrator: {spline: [[0, 0], [.nan, 1], [10, 2]]}")
    assert check(tmp_path, "s.yaml", text) == [
        "6: type /BAD/F: spline calibrator with a point that is not finite (fix: give [raw, "
        "eng] points of finite numbers)"
    ]


def test_nan_in_xtce_alarms_calibrators_and_valid_ranges(tmp_path: Path) -> None:
    poly = (
        "<DefaultCalibrator><PolynomialCalibrator>"
        '<Term coefficient="NaN" exponent="1"/></PolynomialCalibrator></DefaultCalibrator>'
    )
    assert check(tmp_path, "p.xml", xtce_text(calibrator=poly)) == [
        f"8: type /BAD/F: polynomial calibrator with a coefficient that is not a finite number "
        f"(0, nan) (at {XPATH_F}) (fix: give finite numbers [c0, c1, ...] with eng = c0 + "
        "c1*raw + ...)"
    ]
    alarm = (
        "<DefaultAlarm><StaticAlarmRanges>"
        '<WarningRange minInclusive="NaN" maxInclusive="5"/></StaticAlarmRanges></DefaultAlarm>'
    )
    assert check(tmp_path, "a.xml", xtce_text(float_extra=alarm)) == [
        f"8: type /BAD/F alarm warning range [nan, 5] has a NaN bound (no value is ever inside "
        f"or outside it) (at {XPATH_F}) {NAN_FIX}"
    ]
    valid = '<ValidRange minInclusive="0" maxInclusive="NaN"/>'
    assert check(tmp_path, "v.xml", xtce_text(float_extra=valid)) == [
        f"8: type /BAD/F valid range [0, nan] has a NaN bound (no value is ever inside or "
        f"outside it) (at {XPATH_F}) {NAN_FIX}"
    ]


# -- signed, fixed_bits, dimensions -------------------------------------------------------


def test_signed_maybe(tmp_path: Path) -> None:
    text = yaml_text(x="I").replace(
        "types:\n", "types:\n  I: {kind: integer, encoding: uint8, signed: maybe}\n"
    )
    assert check(tmp_path, "s.yaml", text) == [
        "6: signed must be true or false, found 'maybe' (fix: write true or false)"
    ]
    xpath = (
        "/SpaceSystem[@name='BAD']/TelemetryMetaData/ParameterTypeSet/"
        "IntegerParameterType[@name='U16']"
    )
    assert check(tmp_path, "s.xml", xtce_text(signed="maybe")) == [
        f"5: IntegerParameterType 'U16' has a malformed value ('maybe' is not a boolean: write "
        f"true or false) (at {xpath}) (fix: write integers, numbers, booleans (true/false) and "
        "hex strings as XTCE defines them)"
    ]


def test_absurd_fixed_bits(tmp_path: Path) -> None:
    text = yaml_text(x="B").replace(
        "types:\n", "types:\n  B: {kind: binary, encoding: {fixed_bits: 1099511627776}}\n"
    )
    assert check(tmp_path, "b.yaml", text) == [
        "6: type /BAD/B: binary encoding of 1,099,511,627,776 bits is larger than 524,336 bits, "
        "the largest CCSDS packet (fix: give at most 524,336 bits (CCSDS 133.0-B-2))",
        "10: container /BAD/Q entry 1 ends at least 1,099,511,627,792 bits after the packet's "
        "start, beyond 524,336 bits, the largest CCSDS packet (fix: check the entry's "
        "location, size, dimensions and repeat count)",
    ]
    binary = (
        '<BinaryParameterType name="B"><BinaryDataEncoding><SizeInBits>'
        "<FixedValue>1099511627776</FixedValue></SizeInBits></BinaryDataEncoding>"
        "</BinaryParameterType>"
    )
    lines = check(tmp_path, "b.xml", xtce_text(types=binary, x_type="B"))
    assert lines[0].startswith(
        "12: type /BAD/B: binary encoding of 1,099,511,627,776 bits is larger than 524,336 bits"
    )


def test_absurd_array_dimensions(tmp_path: Path) -> None:
    """An array of 10^12 elements made the decoder run out of memory or hang."""
    text = yaml_text(x="A").replace(
        "types:\n",
        "types:\n  A: {kind: array, element_type: uint8, dimensions: [100000, 100000, 100000]}\n",
    )
    assert check(tmp_path, "a.yaml", text)[0] == (
        "6: type /BAD/A has 1,000,000,000,000,000 elements, more than fit in 524,336 bits, the "
        "largest CCSDS packet (fix: give the number of elements of each dimension (or read it "
        "from a parameter))"
    )
    array = (
        '<ArrayParameterType name="A" arrayTypeRef="U16"><DimensionList><Dimension>'
        "<StartingIndex><FixedValue>0</FixedValue></StartingIndex>"
        "<EndingIndex><FixedValue>999999999999</FixedValue></EndingIndex>"
        "</Dimension></DimensionList></ArrayParameterType>"
    )
    lines = check(tmp_path, "a.xml", xtce_text(types=array, x_type="A"))
    assert lines[0].startswith("12: type /BAD/A has 1,000,000,000,000 elements, more than fit")


def test_conditional_entries_of_an_inlined_container_may_be_absent() -> None:
    """Two inlined containers, each with a 400,000-bit field present only in some packets:
    both at once would overflow a packet, but neither is required, so this is legal."""
    text = yaml_text(entry="{container: BIG}, {container: BIG}").replace(
        "types:\n", "types:\n  B: {kind: binary, encoding: {fixed_bits: 400000}}\n"
    )
    text = text.replace("  X: uint8", "  X: uint8\n  Y: B")
    text += "  BIG: {entries: [{parameter: Y, include_if: X == 1}]}\n"
    mdb = loads_yaml(text)
    assert mdb.warnings == []


def test_entry_errors_name_the_entry_line(tmp_path: Path) -> None:
    text = yaml_text().replace(
        "  Q: {base: P, restriction: APID == 100, entries: [X]}\n",
        "  Q:\n"
        "    base: P\n"
        "    restriction: APID == 100\n"
        "    entries:\n"
        "      - X\n"
        "      - {parameter: X, absolute_bits: -8}\n",
    )
    assert check(tmp_path, "lines.yaml", text) == [
        "14: container /BAD/Q entry 2 starts 8 bits before the container's start (fix: give an "
        "offset >= 0 from the container's start)"
    ]
