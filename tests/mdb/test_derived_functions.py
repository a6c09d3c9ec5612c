"""Derived parameters name only functions falak allows; loading never imports a module (issue 12).

Before, ``derived: {function: "os:system", ...}`` passed ``mdb check`` and the decoder imported
whatever module the database named (``os``, ``subprocess``, or a missing one, which raised
mid-batch). Now the name must be one of falak's own functions, an allowed numpy ufunc, a function
registered with :func:`falak.tm.derived.register_derived_function`, or an installed package's
entry point; anything else is an error with file and line, at load and in ``mdb check``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.cli.app import app
from falak.errors import MdbError, MdbErrors
from falak.mdb import functions
from falak.mdb.model import (
    Derivation,
    IntegerEncoding,
    IntegerType,
    MissionDatabase,
    Parameter,
    ParameterEntry,
    SequenceContainer,
    SpaceSystem,
)
from falak.mdb.native import loads_yaml
from falak.tm import derived
from falak.tm.decoder import Decoder
from falak.tm.derived import register_derived_function, unregister_derived_function

runner = CliRunner()

YAML = """\
name: DER
parameters:
  BX: int16
  BY: int16
  BZ: int16
  B: {{type: float64, derived: {{function: "{FUNCTION}", inputs: [BX, BY, BZ]}}}}
containers:
  P: {{entries: [BX, BY, BZ]}}
"""

#: one packet: BX = 3, BY = 4, BZ = 12 (int16 big-endian), so |B| = 13 (a 3-4-12-13 quadruple)
PACKET = bytes.fromhex("00030004000c")


def decode(text: str) -> dict[str, list[float]]:
    mdb = loads_yaml(text)
    (res,) = Decoder(mdb).decode(PACKET, [0], [len(PACKET)]).containers
    return {c.name: c.eng.tolist() for c in res.columns.values()}


def trap_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """A module that leaves a file behind when imported."""
    marker = tmp_path / f"{name}.imported"
    (tmp_path / f"{name}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "def fn(*arrays):\n    return arrays[0] * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


@pytest.fixture
def no_entry_points() -> Iterator[None]:
    functions.entry_point_names.cache_clear()
    yield
    functions.entry_point_names.cache_clear()


def test_falak_and_numpy_functions_decode() -> None:
    assert decode(YAML.format(FUNCTION="falak:magnitude"))["B"] == [13.0]
    assert decode(YAML.format(FUNCTION="falak:sum"))["B"] == [19.0]
    np.testing.assert_allclose(decode(YAML.format(FUNCTION="falak:mean"))["B"], [19 / 3])
    two = YAML.format(FUNCTION="numpy:hypot").replace("[BX, BY, BZ]", "[BX, BY]")
    assert decode(two)["B"] == [5.0]


def test_the_allowed_names_are_the_implemented_ones() -> None:
    assert set(functions.FALAK_FUNCTIONS) == set(derived._FALAK)
    assert all(isinstance(getattr(np, n), np.ufunc) for n in functions.NUMPY_UFUNCS)
    for name in functions.builtin_function_names():
        assert callable(derived.derived_function(name)), name


@pytest.mark.parametrize("function", ["os:system", "subprocess:run", "nosuchmodule:f"])
def test_mdb_check_refuses_other_modules_with_file_and_line(
    tmp_path: Path, function: str, no_entry_points: None
) -> None:
    path = tmp_path / "der.yaml"
    path.write_text(YAML.format(FUNCTION=function))
    res = runner.invoke(app, ["mdb", "check", str(path)])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f"{path}:6: parameter /DER/B: derivation function {function!r} is not one falak may "
        "call (a mission database never makes falak import a module) (fix: use one of falak's "
        "(falak:magnitude, falak:mean, falak:sum), a numpy ufunc such as numpy:multiply, or "
        "register your own with falak.tm.derived.register_derived_function or an entry point "
        "'falak.derived_functions' (docs/mdb-yaml.md, Derived parameters))",
        "1 error",
    ]


def test_loading_never_imports_the_named_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_entry_points: None
) -> None:
    marker = trap_module(tmp_path, monkeypatch, "falak_trap_a")
    with pytest.raises(MdbErrors, match="'falak_trap_a:fn' is not one falak may call"):
        loads_yaml(YAML.format(FUNCTION="falak_trap_a:fn"), "der.yaml")
    assert "falak_trap_a" not in sys.modules
    assert not marker.exists()


def test_xtce_derivation_is_refused_with_its_line(tmp_path: Path, no_entry_points: None) -> None:
    path = tmp_path / "der.xml"
    path.write_text(
        '<SpaceSystem xmlns="http://www.omg.org/space/xtce" name="DER">\n'
        "  <TelemetryMetaData>\n"
        "    <ParameterTypeSet>\n"
        '      <IntegerParameterType name="U8" signed="false">\n'
        '        <IntegerDataEncoding sizeInBits="8"/>\n'
        "      </IntegerParameterType>\n"
        "    </ParameterTypeSet>\n"
        "    <ParameterSet>\n"
        '      <Parameter name="X" parameterTypeRef="U8"/>\n'
        '      <Parameter name="D" parameterTypeRef="U8">\n'
        "        <AncillaryDataSet>\n"
        '          <AncillaryData name="falak:derivation">os:system /DER/X</AncillaryData>\n'
        "        </AncillaryDataSet>\n"
        "      </Parameter>\n"
        "    </ParameterSet>\n"
        "  </TelemetryMetaData>\n"
        "</SpaceSystem>\n"
    )
    res = runner.invoke(app, ["mdb", "check", str(path)])
    assert res.exit_code == 1
    line = res.stderr.splitlines()[0]
    assert line.startswith(
        f"{path}:10: parameter /DER/D: derivation function 'os:system' is not one falak may "
        "call (a mission database never makes falak import a module) (at "
    )


def test_a_registered_function_loads_and_decodes() -> None:
    register_derived_function("power:triple_x", lambda bx, by, bz: 3 * bx)
    try:
        assert decode(YAML.format(FUNCTION="power:triple_x"))["B"] == [9]
    finally:
        unregister_derived_function("power:triple_x")
    with pytest.raises(MdbErrors, match="'power:triple_x' is not one falak may call"):
        loads_yaml(YAML.format(FUNCTION="power:triple_x"))


def test_the_schema_takes_the_same_names() -> None:
    schema = json.loads((Path(functions.__file__).parent / "schema.json").read_text())
    assert _find(schema, "function") == {"type": "string", "pattern": functions.NAME_RE.pattern}


def _find(node: object, key: str) -> object:
    if isinstance(node, dict):
        if key in node:
            return node[key]
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def test_register_refuses_bad_names_and_falak_names() -> None:
    with pytest.raises(MdbError) as bad:
        register_derived_function("no colon", abs)
    assert str(bad.value) == (
        "derived function name 'no colon' is not 'namespace:function'; fix: name it like "
        "power:battery_w (letters, digits, _ and ., one colon, no spaces)"
    )
    with pytest.raises(MdbError) as own:
        register_derived_function("numpy:multiply", abs)
    assert str(own.value) == (
        "derived function 'numpy:multiply' is one of falak's own; fix: register yours under "
        "a namespace of your own, e.g. mission:multiply"
    )


def test_an_entry_point_is_imported_only_when_first_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_entry_points: None
) -> None:
    marker = trap_module(tmp_path, monkeypatch, "falak_trap_ep")
    ep = metadata.EntryPoint("mission:double", "falak_trap_ep:fn", functions.ENTRY_POINT_GROUP)

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return [ep] if group == functions.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    try:
        mdb = loads_yaml(YAML.format(FUNCTION="mission:double"))
        assert not marker.exists()  # loading names it, nothing imported
        (res,) = Decoder(mdb).decode(PACKET, [0], [len(PACKET)]).containers
        assert marker.exists()
        assert res.column("B").eng.tolist() == [6]
    finally:
        unregister_derived_function("mission:double")
        sys.modules.pop("falak_trap_ep", None)


def test_the_decoder_refuses_an_unknown_function_of_an_unvalidated_model() -> None:
    """A model built in Python skips validation; the decoder still imports nothing."""
    root = SpaceSystem("S", "/S")
    root.types["u8"] = IntegerType("u8", IntegerEncoding(8), signed=False)
    root.parameters["X"] = Parameter("X", "/S/X", "/S/u8")
    root.parameters["D"] = Parameter(
        "D", "/S/D", "/S/u8", data_source="derived", derivation=Derivation("os:getcwd", ("/S/X",))
    )
    root.containers["P"] = SequenceContainer("P", "/S/P", (ParameterEntry("/S/X"),))
    with pytest.raises(MdbError) as err:
        Decoder(MissionDatabase(root)).decode(b"\x01", [0], [1])
    assert str(err.value).startswith(
        "derived parameter function 'os:getcwd' is not one falak may call; fix: use one of "
        "falak's (falak:magnitude, falak:mean, falak:sum), a numpy ufunc"
    )
