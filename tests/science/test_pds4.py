"""PDS4 products read back by pds4-tools (the PDS Small Bodies Node's reader) as written.

Label content checked against the PDS4 Standards Reference / Data Dictionary 1.16.0.0: the
``Product_Observational`` classes (Identification_Area, Observation_Area with
Time_Coordinates, File_Area_Observational), ``Table_Delimited`` after a ``Header`` and
``Array_2D`` with ``Element_Array`` and ``Axis_Array``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pds4_tools
import pytest
from lxml import etree

from falak.errors import InputError
from falak.science.pds4 import (
    INFORMATION_MODEL_VERSION,
    PDS_NAMESPACE,
    Column,
    write_array,
    write_table,
)

START = dt.datetime(2023, 9, 8, 8, 0, tzinfo=dt.UTC)
STOP = dt.datetime(2023, 9, 8, 9, 0, tzinfo=dt.UTC)
META = {
    "start": START,
    "stop": STOP,
    "mission": "Falak ROVER",
    "instrument": "Dosimeter",
    "target": "Moon",
    "host": "ROVER",
}
NS = {"p": PDS_NAMESPACE}


def _table(tmp_path: Path, n: int = 5) -> tuple[Path, Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    cols = {
        "time_utc": np.datetime64("2023-09-08T08:00:00", "ns")
        + np.arange(n) * np.timedelta64(60_500_000_123, "ns"),
        "dose_rate_si": rng.normal(13.2, 1.0, n),
        "counts": rng.poisson(180, n).astype(np.int64),
        "spe": np.arange(n) % 2 == 0,
    }
    data, label = write_table(
        tmp_path / "sub" / "dose",
        {
            "time_utc": (cols["time_utc"], None, "Record mid-time, UTC"),
            "dose_rate_si": Column(cols["dose_rate_si"], "uGy/h", "Absorbed dose rate, Si"),
            "counts": (cols["counts"], None, "Particle counts"),
            "spe": (cols["spe"], None, "Inside a solar particle event"),
        },
        title="Rover dose rate",
        lid="urn:falak:rover:radiation:dose_rate",
        **META,
    )
    return data, label, cols


def test_table_round_trips_through_pds4_tools(tmp_path: Path) -> None:
    data, label, cols = _table(tmp_path)
    assert (data.name, label.name) == ("dose.csv", "dose.xml")
    struct = pds4_tools.read(str(label), quiet=True, lazy_load=True)
    table = struct["rover_dose_rate"]
    assert table.data["dose_rate_si"].tolist() == cols["dose_rate_si"].tolist()  # exact doubles
    assert table.data["counts"].tolist() == cols["counts"].tolist()
    assert table.data["spe"].tolist() == cols["spe"].tolist()
    times = np.array([t.rstrip("Z") for t in table.data["time_utc"]], dtype="datetime64[ns]")
    assert (times == cols["time_utc"]).all()  # nanoseconds kept


def test_table_label_describes_fields_units_and_types(tmp_path: Path) -> None:
    _, label, _ = _table(tmp_path, n=7)
    table = pds4_tools.read(str(label), quiet=True, lazy_load=True)["rover_dose_rate"]
    fields = table.meta_data["Record_Delimited"]["Field_Delimited"]
    got = [(f["name"], f["data_type"], f.get("unit")) for f in fields]
    assert got == [
        ("time_utc", "ASCII_Date_Time_YMD_UTC", None),
        ("dose_rate_si", "ASCII_Real", "uGy/h"),
        ("counts", "ASCII_Integer", None),
        ("spe", "ASCII_Boolean", None),
    ]
    assert table.meta_data["records"] == 7
    assert table.meta_data["field_delimiter"] == "Comma"
    doc = etree.parse(str(label))
    assert doc.findtext(".//p:information_model_version", namespaces=NS) == "1.16.0.0"
    assert INFORMATION_MODEL_VERSION == "1.16.0.0"
    assert doc.findtext(".//p:logical_identifier", namespaces=NS) == (
        "urn:falak:rover:radiation:dose_rate"
    )
    assert doc.findtext(".//p:start_date_time", namespaces=NS) == "2023-09-08T08:00:00.000000Z"
    assert doc.findtext(".//p:stop_date_time", namespaces=NS) == "2023-09-08T09:00:00.000000Z"
    assert doc.findtext(".//p:Target_Identification/p:name", namespaces=NS) == "Moon"
    assert doc.findtext(".//p:Target_Identification/p:type", namespaces=NS) == "Satellite"
    kinds = doc.xpath("//p:Observing_System_Component/p:type/text()", namespaces=NS)
    assert kinds == ["Host", "Instrument"]
    assert doc.findtext(".//p:File/p:records", namespaces=NS) == "8"  # header + 7 records


def test_array_round_trips_with_its_axes_and_unit(tmp_path: Path) -> None:
    grid = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    data, label = write_array(
        tmp_path / "map",
        grid,
        unit="uGy/h",
        axes=("latitude", "longitude"),
        title="Station dose map",
        lid="urn:falak:tiangong:radiation:dose_map",
        **{**META, "target": "Earth", "host": "TIANGONG"},
    )
    assert data.stat().st_size == grid.nbytes
    arr = pds4_tools.read(str(label), quiet=True, lazy_load=True)["station_dose_map"]
    assert arr.data.dtype == np.float32
    assert np.array_equal(arr.data, grid)
    assert arr.meta_data["Element_Array"]["data_type"] == "IEEE754LSBSingle"
    assert arr.meta_data["Element_Array"]["unit"] == "uGy/h"
    axes = [(a["axis_name"], a["elements"]) for a in arr.meta_data["Axis_Array"]]
    assert axes == [("latitude", 3), ("longitude", 4)]


def test_bad_input_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not a PDS4 URN; give lower-case 'urn:AGENCY"):
        write_table(tmp_path / "x", {"a": ([1.0], None, "a")}, title="t", lid="URN:X", **META)
    with pytest.raises(InputError, match=r"1-D and of one length; got shapes"):
        write_table(
            tmp_path / "x",
            {"a": ([1.0], None, "a"), "b": ([1.0, 2.0], None, "b")},
            title="t",
            lid="urn:falak:x",
            **META,
        )
    with pytest.raises(InputError, match=r"has no time zone"):
        write_table(
            tmp_path / "x",
            {"a": ([1.0], None, "a")},
            title="t",
            lid="urn:falak:x",
            **{**META, "start": dt.datetime(2023, 1, 1)},
        )
    with pytest.raises(InputError, match=r"axes \('x',\) must name each of the 2 axes"):
        write_array(
            tmp_path / "y",
            np.zeros((2, 2)),
            unit=None,
            axes=("x",),
            title="t",
            lid="urn:falak:y",
            **META,
        )
