"""Semantic checks of falak.mdb.validate on databases built directly from the model."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from falak.mdb.model import (
    AggregateType,
    AlarmLevel,
    AlarmRanges,
    AllOf,
    Argument,
    ArgumentEntry,
    ArrayType,
    Comparison,
    ContainerEntry,
    DataType,
    Derivation,
    Dimension,
    DynamicValue,
    EnumeratedType,
    EnumerationAlarm,
    EnumValue,
    FloatType,
    IntegerEncoding,
    IntegerType,
    Member,
    MetaCommand,
    MissionDatabase,
    NumericAlarm,
    Parameter,
    ParameterEntry,
    ParameterRef,
    PolynomialCalibrator,
    Range,
    SequenceContainer,
    SourceLocation,
    SpaceSystem,
    SplineCalibrator,
    StringEncoding,
    StringType,
    Verifier,
)
from falak.mdb.native import load_yaml
from falak.mdb.validate import validate

U8 = IntegerType("u8", encoding=IntegerEncoding(8), signed=False)
SRC = SourceLocation("db.xml", 7, "/SpaceSystem[@name='S']")


def db(
    types: dict[str, DataType] | None = None,
    parameters: list[Parameter] | None = None,
    containers: list[SequenceContainer] | None = None,
    commands: list[MetaCommand] | None = None,
    argument_types: dict[str, DataType] | None = None,
) -> MissionDatabase:
    """A one-system database /S with a u8 type and parameters P, Q of that type."""
    ps = (
        parameters
        if parameters is not None
        else [
            Parameter("P", "/S/P", "/S/u8"),
            Parameter("Q", "/S/Q", "/S/u8"),
        ]
    )
    root = SpaceSystem(
        "S",
        "/S",
        types={"u8": U8, **(types or {})},
        argument_types=dict(argument_types or {}),
        parameters={p.name: p for p in ps},
        containers={c.name: c for c in containers or []},
        commands={c.name: c for c in commands or []},
    )
    return MissionDatabase(root, source_file="db.xml")


def messages(m: MissionDatabase) -> list[str]:
    return [e.message for e in validate(m)]


def test_testsat_is_clean() -> None:
    path = Path(str(resources.files("falak.missions.testsat") / "mdb.yaml"))
    assert validate(load_yaml(path)) == []


def test_sound_database_has_no_errors() -> None:
    hdr = SequenceContainer("H", "/S/H", (ParameterEntry("/S/P"),), abstract=True)
    body = SequenceContainer(
        "B",
        "/S/B",
        (ParameterEntry("/S/Q"),),
        base="/S/H",
        restriction=Comparison(ParameterRef("/S/P"), "==", "3"),
    )
    assert validate(db(containers=[hdr, body])) == []


def test_missing_type_names_source_and_fix() -> None:
    p = Parameter("P", "/S/P", "/S/nope", source=SRC)
    (err,) = validate(db(parameters=[p]))
    assert str(err) == (
        "db.xml:7: parameter /S/P has type '/S/nope', which does not exist "
        "(at /SpaceSystem[@name='S']); fix: define that type or correct the name"
    )


def test_known_missing_names_are_not_repeated() -> None:
    p = Parameter("P", "/S/P", "/S/nope", source=SRC)
    assert validate(db(parameters=[p]), known_missing={"/S/nope"}) == []


def test_container_inheritance_cycle_is_named_once() -> None:
    a = SequenceContainer("A", "/S/A", base="/S/B")
    b = SequenceContainer("B", "/S/B", base="/S/A")
    assert messages(db(containers=[a, b])) == ["container inheritance cycle: /S/A -> /S/B -> /S/A"]


def test_container_nesting_cycle() -> None:
    a = SequenceContainer("A", "/S/A", (ContainerEntry("/S/B"),))
    b = SequenceContainer("B", "/S/B", (ParameterEntry("/S/P"), ContainerEntry("/S/A")))
    assert messages(db(containers=[a, b])) == ["container nesting cycle: /S/A -> /S/B -> /S/A"]


def test_self_including_container() -> None:
    a = SequenceContainer("A", "/S/A", (ContainerEntry("/S/A"),))
    assert messages(db(containers=[a])) == ["container nesting cycle: /S/A -> /S/A"]


def test_command_inheritance_cycle() -> None:
    a = MetaCommand("A", "/S/A", base="/S/B")
    b = MetaCommand("B", "/S/B", base="/S/A")
    assert messages(db(commands=[a, b])) == ["command inheritance cycle: /S/A -> /S/B -> /S/A"]


def test_aggregate_containing_itself() -> None:
    rec = AggregateType("R", (Member("x", "/S/u8"), Member("self", "/S/R")))
    assert messages(db(types={"R": rec})) == ["type cycle: /S/R -> /S/R"]


def test_restriction_outside_base_chain() -> None:
    hdr = SequenceContainer("H", "/S/H", (ParameterEntry("/S/P"),))
    body = SequenceContainer(
        "B",
        "/S/B",
        (ParameterEntry("/S/Q"),),
        base="/S/H",
        restriction=Comparison(ParameterRef("/S/Q"), "==", "1"),
    )
    assert messages(db(containers=[hdr, body])) == [
        "container /S/B: restriction on '/S/Q', which the base chain (/S/H) does not decode"
    ]


def test_restriction_may_use_parameters_of_included_header() -> None:
    inner = SequenceContainer("I", "/S/I", (ParameterEntry("/S/P"),))
    hdr = SequenceContainer("H", "/S/H", (ContainerEntry("/S/I"),))
    body = SequenceContainer(
        "B", "/S/B", base="/S/H", restriction=Comparison(ParameterRef("/S/P"), "==", "1")
    )
    assert messages(db(containers=[inner, hdr, body])) == []


def test_enumeration_labels_unique_and_alarm_labels_exist() -> None:
    e = EnumeratedType(
        "E",
        IntegerEncoding(2),
        (EnumValue(0, "A"), EnumValue(1, "A"), EnumValue(2, "B", max_value=1)),
        alarm=EnumerationAlarm((("C", AlarmLevel.WARNING),)),
    )
    assert messages(db(types={"E": e})) == [
        "type /S/E: label 'A' is used for 0 and 1",
        "type /S/E: label 'B' has max 1 below 2",
        "type /S/E: alarm for label 'C', which the type lacks",
    ]


def test_alarm_ranges_must_nest() -> None:
    f = FloatType(
        "F",
        IntegerEncoding(8),
        alarm=NumericAlarm(
            AlarmRanges(
                watch=Range(0, 10),
                warning=Range(None, 9),
                critical=Range(5, 2),
            )
        ),
    )
    assert messages(db(types={"F": f})) == [
        "type /S/F alarm critical range [5, 2] has min above max",
        "type /S/F alarm: the watch range [0, 10] is not inside the warning range [-inf, 9]",
        "type /S/F alarm: the watch range [0, 10] is not inside the critical range [5, 2]",
        "type /S/F alarm: the warning range [-inf, 9] is not inside the critical range [5, 2]",
    ]


def test_bad_spline_and_empty_polynomial() -> None:
    s = FloatType("F", IntegerEncoding(8), calibrator=SplineCalibrator(((0, 0), (3, 1), (2, 3))))
    step = FloatType("H", IntegerEncoding(8), calibrator=SplineCalibrator(((0, 0), (2, 1), (2, 3))))
    p = FloatType("G", IntegerEncoding(8), calibrator=PolynomialCalibrator(()))
    errs = validate(db(types={"F": s, "G": p, "H": step}))
    assert [(e.severity, e.message) for e in errs] == [
        ("error", "type /S/F: spline points are not in ascending raw order (3 then 2)"),
        ("warning", "type /S/G: polynomial calibrator without coefficients (decoded as 0)"),
        ("warning", "type /S/H: spline has a vertical step at raw 2"),
    ]
    assert errs[0].fix == "sort the [raw, eng] points by raw value"


def test_dynamic_size_must_come_earlier_and_be_integer() -> None:
    s = StringType("T", StringEncoding(dynamic_size=DynamicValue(ParameterRef("/S/N"))))
    a = ArrayType("A", "/S/u8", (Dimension(dynamic_size=DynamicValue(ParameterRef("/S/F"))),))
    f = FloatType("f32", IntegerEncoding(8), calibrator=PolynomialCalibrator((0.0, 0.5)))
    ps = [
        Parameter("N", "/S/N", "/S/u8"),
        Parameter("TXT", "/S/TXT", "/S/T"),
        Parameter("F", "/S/F", "/S/f32"),
        Parameter("ARR", "/S/ARR", "/S/A"),
    ]
    c = SequenceContainer(
        "C",
        "/S/C",
        tuple(ParameterEntry(q) for q in ("/S/TXT", "/S/N", "/S/F", "/S/ARR")),
    )
    assert messages(db(types={"T": s, "A": a, "f32": f}, parameters=ps, containers=[c])) == [
        "container /S/C: the size of '/S/TXT' is read from '/S/N', which is not decoded before it",
        "container /S/C: the size of '/S/ARR' is read from '/S/F', which is not an integer",
    ]


def test_derived_inputs_and_function_form() -> None:
    ps = [
        Parameter("P", "/S/P", "/S/u8"),
        Parameter(
            "D",
            "/S/D",
            "/S/u8",
            data_source="derived",
            derivation=Derivation("numpy.multiply", ("/S/P", "/S/X")),
        ),
    ]
    assert messages(db(parameters=ps)) == [
        "parameter /S/D: derivation function 'numpy.multiply' is not one falak may call (a "
        "mission database never makes falak import a module)",
        "parameter /S/D: derivation input '/S/X' does not exist",
    ]


def test_references_in_entries_conditions_and_commands() -> None:
    c = SequenceContainer(
        "C",
        "/S/C",
        (
            ParameterEntry("/S/X", include_if=Comparison(ParameterRef("/S/Y"), "==", "1")),
            ContainerEntry("/S/NOPE"),
            ArgumentEntry("A"),
        ),
    )
    base = MetaCommand("B", "/S/B", arguments=(Argument("A", "/S/u8"),))
    cmd = MetaCommand(
        "K",
        "/S/K",
        base="/S/B",
        arguments=(Argument("Z", "/S/missing"),),
        argument_assignments=(("A", "1"), ("W", "2")),
        entries=(ArgumentEntry("A"), ArgumentEntry("V")),
        verifiers=(
            Verifier("done", window_start_s=5, window_stop_s=1, container="/S/ACK"),
            Verifier("complete", condition=Comparison(ParameterRef("/S/P"), "==", "1")),
        ),
    )
    assert messages(db(containers=[c], commands=[base, cmd], argument_types={"u8": U8})) == [
        "container /S/C entry 1: parameter '/S/X' does not exist",
        "container /S/C entry 1 include condition refers to parameter '/S/Y', which does not exist",
        "container /S/C entry 2: container '/S/NOPE' does not exist",
        "container /S/C entry 3: argument entry 'A' in a telemetry container",
        "command /S/K: argument 'Z' has type '/S/missing', which does not exist",
        "command /S/K: assignment to 'W', which is not an argument of its base commands",
        "command /S/K entry 2: argument 'V' is not an argument of the command or its bases",
        "command /S/K verifier 'done': unknown stage",
        "command /S/K verifier 'done': window ends (1 s) before it starts (5 s)",
        "command /S/K verifier 'done': container '/S/ACK' does not exist",
    ]


def test_enumerated_comparison_uses_labels() -> None:
    e = EnumeratedType("E", IntegerEncoding(2), (EnumValue(0, "OFF"), EnumValue(1, "ON")))
    ps = [Parameter("M", "/S/M", "/S/E"), Parameter("P", "/S/P", "/S/u8")]
    hdr = SequenceContainer("H", "/S/H", (ParameterEntry("/S/M"),))
    ok = SequenceContainer(
        "A",
        "/S/A",
        base="/S/H",
        restriction=AllOf(
            (
                Comparison(ParameterRef("/S/M"), "==", "ON"),
                Comparison(ParameterRef("/S/M", calibrated=False), "==", "1"),
            )
        ),
    )
    bad = SequenceContainer(
        "B", "/S/B", base="/S/H", restriction=Comparison(ParameterRef("/S/M"), "==", "1")
    )
    errs = validate(db(types={"E": e}, parameters=ps, containers=[hdr, ok, bad]))
    assert [e.message for e in errs] == [
        "container /S/B restriction compares '/S/M' with '1', which is not one of its labels"
    ]
    assert errs[0].fix == "use one of OFF, ON (or compare the raw value)"


def test_encodings_checked() -> None:
    types: dict[str, DataType] = {
        "a": IntegerType("a", IntegerEncoding(65)),
        "b": IntegerType("b", IntegerEncoding(16, byte_order=(0, 0))),
        "c": StringType("c", StringEncoding()),
        "d": FloatType("d", IntegerEncoding(1, "twosComplement")),
    }
    assert messages(db(types=types)) == [
        "type /S/a: integer encoding of 65 bits",
        "type /S/b: byte order [0, 0] does not fit 16 bits",
        "type /S/c: the string encoding must be sized in exactly one way",
        "type /S/d: a signed integer needs at least 2 bits",
    ]


def test_member_paths_in_references() -> None:
    rec = AggregateType("R", (Member("x", "/S/u8"),))
    ps = [Parameter("P", "/S/P", "/S/R"), Parameter("Q", "/S/Q", "/S/u8")]
    hdr = SequenceContainer("H", "/S/H", (ParameterEntry("/S/P"), ParameterEntry("/S/Q")))
    good = SequenceContainer(
        "G", "/S/G", base="/S/H", restriction=Comparison(ParameterRef("/S/P", ("x",)), "==", "1")
    )
    bad = SequenceContainer(
        "B", "/S/B", base="/S/H", restriction=Comparison(ParameterRef("/S/P", ("y",)), "==", "1")
    )
    deep = SequenceContainer(
        "D", "/S/D", base="/S/H", restriction=Comparison(ParameterRef("/S/Q", ("x",)), "==", "1")
    )
    assert messages(db(types={"R": rec}, parameters=ps, containers=[hdr, good, bad, deep])) == [
        "container /S/B restriction refers to member 'y' of '/S/P', which does not exist",
        "container /S/D restriction refers to member 'x' of '/S/Q', which is not an aggregate "
        "there",
    ]


def test_argument_sized_by_a_later_argument() -> None:
    arr = ArrayType(
        "A", "/S/u8", (Dimension(dynamic_size=DynamicValue(ParameterRef("n", argument=True))),)
    )
    good = MetaCommand(
        "G",
        "/S/G",
        arguments=(Argument("n", "/S/u8"), Argument("data", "/S/A")),
        entries=(ArgumentEntry("n"), ArgumentEntry("data")),
    )
    bad = MetaCommand(
        "B",
        "/S/B",
        arguments=(Argument("n", "/S/u8"), Argument("data", "/S/A")),
        entries=(ArgumentEntry("data"), ArgumentEntry("n")),
    )
    assert messages(db(commands=[good, bad], argument_types={"u8": U8, "A": arr})) == [
        "command /S/B: the size of argument 'data' is read from argument 'n', which is not "
        "encoded before it"
    ]


def test_legal_but_doubtful_xtce_loads_with_warnings(testdata: Path) -> None:
    """BogusSAT-1 (Yamcs XmlLoaderTest) holds a spline of order 2, a spline with a vertical
    step and a polynomial without terms: legal XTCE, so it loads; each is a warning naming
    the line, and decoding uses linear interpolation / the value 0."""
    from falak.mdb import load

    mdb = load(testdata / "yamcs-xtce" / "BogusSAT-1.xml")
    text = [str(w) for w in mdb.warnings]
    assert len(text) == 3
    assert all(w.severity == "warning" for w in mdb.warnings)
    assert "BogusSAT-1.xml:372: warning: type" in text[0]
    assert "spline order 2 is decoded as linear" in text[0]
    assert "vertical step at raw 1" in text[1]
    assert "polynomial calibrator without coefficients (decoded as 0)" in text[2]
