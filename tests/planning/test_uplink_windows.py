"""Uplink windows: the falak-uplink-windows/1 file (round trip, bad files refused with the file
and the fix), window look-up, and :func:`earth_windows` on the rover simulator's sky model —
its windows are the simulator's own contact windows (issue 14; contract C1 of the wave)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from falak.errors import InputError
from falak.planning.traverse.windows import (
    FORMAT,
    UplinkWindows,
    Window,
    earth_windows,
    read_windows,
    write_windows,
)
from falak.terrain.dem import Dem
from falak.terrain.horizons import Horizons
from falak.terrain.site import site_terrain
from falak.utctime import parse_ns

S = 10**9
T0 = parse_ns("2023-09-13T00:00:00Z")
#: a safe cell near the default synthetic site's centre whose Earth window closes in the span
CENTRE = (1.0, 3031.0)


def test_write_then_read_gives_the_same_windows(tmp_path: Path) -> None:
    p = tmp_path / "w.json"
    pairs = [(T0, T0 + 3600 * S), (T0 + 7200 * S + 1, T0 + 9000 * S)]  # one edge off the second
    written = write_windows(p, pairs, spacecraft="ROVER", what="Earth above ...", contacts="earth")
    back = read_windows(p)
    assert back == written
    assert back.file == str(p)
    assert [w.start_ns for w in back] == [T0, T0 + 7200 * S + 1]  # exact, to the ns
    doc = json.loads(p.read_text())
    assert doc == {
        "format": FORMAT,
        "spacecraft": "ROVER",
        "what": "Earth above ...",
        "contacts": "earth",
        "windows": [
            {"start": "2023-09-13T00:00:00Z", "end": "2023-09-13T01:00:00Z"},
            {"start": "2023-09-13T02:00:00.000000001Z", "end": "2023-09-13T02:30:00Z"},
        ],
    }


def test_an_empty_list_means_never(tmp_path: Path) -> None:
    p = tmp_path / "never.json"
    write_windows(p, [], spacecraft="ROVER", what="Earth never above the horizon")
    never = read_windows(p)
    assert len(never) == 0
    assert never.at(T0) is None
    assert never.next_after(T0) is None
    assert repr(never) == f"UplinkWindows(ROVER: 0 windows, file={str(p)!r})"


def test_at_and_next_after_take_start_in_and_end_out() -> None:
    w = UplinkWindows([(100, 200), (200, 300), (400, 500)], spacecraft="ROVER")
    assert w.at(99) is None
    assert w.at(100) == Window(100, 200)
    assert w.at(200) == Window(200, 300)  # touching windows: the later one from its start
    assert w.at(300) is None
    assert w.next_after(99) == Window(100, 200)
    assert w.next_after(100) == Window(200, 300)  # the next one *after*: strictly later start
    assert w.next_after(350) == Window(400, 500)
    assert w.next_after(400) is None
    assert w.closed_reason() == "outside ROVER's uplink windows"  # contacts unknown
    relay = UplinkWindows([], spacecraft="ROVER", contacts="relay")
    assert relay.closed_reason() == "relay out of ROVER's view or of the Earth's"
    earth = UplinkWindows([], contacts="earth")
    assert earth.closed_reason("ROVER") == "Earth below ROVER's horizon"


def _refusal(tmp_path: Path, text: str) -> str:
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(InputError) as info:
        read_windows(p)
    message = str(info.value)
    assert message.startswith(f"{p}")  # every refusal names the file
    return message[len(str(p)) :]


GOOD = {"start": "2023-09-13T00:00:00Z", "end": "2023-09-13T01:00:00Z"}
EXAMPLE = '{"start": "2023-09-08T08:00:00Z", "end": "2023-09-09T02:13:00Z"}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"format": "falak-uplink-windows/1",\n "windows": [}',
            ":2:14: not JSON (Expecting value); an uplink-windows file is "
            '{"format": "falak-uplink-windows/1", "spacecraft": ..., "what": ..., "windows": '
            f"[{EXAMPLE}]}}",
        ),
        (
            json.dumps({"windows": []}),
            ': format is None, expected "falak-uplink-windows/1"; write the file with \'falak '
            "traverse windows' or add the format key",
        ),
        (
            json.dumps({"format": FORMAT, "windows": {"start": 1}}),
            f": 'windows' must be a list of {EXAMPLE} (an empty list means never), found dict",
        ),
        (
            json.dumps({"format": FORMAT, "windows": [{"start": GOOD["start"]}]}),
            f": window 1 is {{'start': '2023-09-13T00:00:00Z'}}; expected {EXAMPLE}",
        ),
        (
            json.dumps({"format": FORMAT, "windows": [GOOD, {"start": GOOD["end"], "end": "x"}]}),
            ": window 2 end 'x' is not an ISO 8601 time; use e.g. 2028-01-01T00:00:00Z",
        ),
        (
            json.dumps({"format": FORMAT, "windows": [{**GOOD, "end": "2023-09-13T02:00:00"}]}),
            ": window 1 end '2023-09-13T02:00:00' has no time zone; add Z (UTC) or an offset",
        ),
        (
            json.dumps(
                {"format": FORMAT, "windows": [{"start": GOOD["end"], "end": GOOD["start"]}]}
            ),
            ": window 1 (2023-09-13T01:00:00Z–2023-09-13T00:00:00Z) ends before it starts; give "
            "end after start",
        ),
        (
            json.dumps(
                {
                    "format": FORMAT,
                    "windows": [GOOD, {"start": "2023-09-13T00:30:00Z", "end": GOOD["end"]}],
                }
            ),
            ": window 2 (2023-09-13T00:30:00Z–2023-09-13T01:00:00Z) starts before window 1 "
            "(2023-09-13T00:00:00Z–2023-09-13T01:00:00Z) ends; sort the windows by start and "
            "merge overlapping ones",
        ),
    ],
)
def test_bad_files_are_refused_with_the_file_and_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    assert message in _refusal(tmp_path, text)


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_windows(tmp_path / "none.json")
    assert str(info.value) == (
        f"{tmp_path / 'none.json'}: cannot read uplink windows (No such file or directory); "
        "write the file with 'falak traverse windows --out FILE'"
    )


# -- the windows against the rover simulator's own ----------------------------------------


@pytest.fixture(scope="module")
def site() -> tuple[Dem, Horizons]:
    """The rover simulator's default site: 256² synthetic cells of 2 m at 89.9° S, seed 0."""
    return site_terrain({}, 0)


def _sim_windows(contacts: str, x_m: float, y_m: float, start_ns: int, end_ns: int) -> list:  # type: ignore[type-arg]
    from falak.sim.rover import create_model

    options = {"start_x_m": x_m, "start_y_m": y_m, "contacts": contacts}
    model = create_model(start_ns, seed=0, options=options)
    return model.contact_windows(start_ns, end_ns)


@pytest.mark.parametrize(("contacts", "days"), [("earth", 3), ("relay", 1), ("earth+relay", 1)])
def test_the_windows_are_the_rover_simulator_s_contact_windows(
    site: tuple[Dem, Horizons], contacts: str, days: int
) -> None:
    dem, hz = site
    end = T0 + days * 86_400 * S
    ours = earth_windows(dem, hz, *CENTRE, T0, end, contacts=contacts)
    sim = _sim_windows(contacts, *CENTRE, T0, end)
    # the simulator lists earth and relay windows apart (they may overlap); ours are merged
    merged: list[list[int]] = []
    for w in sorted(sim, key=lambda w: w.start_ns):
        if merged and w.start_ns <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], w.stop_ns)
        else:
            merged.append([w.start_ns, w.stop_ns])
    assert len(ours) == len(merged) >= 1
    # within the simulator's table step (60 s): both see the sky on the same epochs
    ours_edges = np.array([(w.start_ns, w.end_ns) for w in ours])
    assert np.abs(ours_edges - np.array(merged)).max() <= 60 * S
    if contacts == "earth":  # a window closes in the span: the test sees an edge, not a constant
        assert ours[0].end_ns < end


def test_a_crater_floor_sees_less_of_the_earth_than_a_summit(site: tuple[Dem, Horizons]) -> None:
    dem, hz = site
    height = np.where(np.isfinite(dem.height_m), dem.height_m, np.nan)
    floor = np.unravel_index(np.nanargmin(height), height.shape)
    summit = np.unravel_index(np.nanargmax(height), height.shape)
    # what makes them a crater and a ridge: the floor's horizon rises above 10°, the summit's
    # stays below the sphere's horizontal
    assert hz.elevation_deg[:, floor[0], floor[1]].max() > 10.0
    assert hz.elevation_deg[:, summit[0], summit[1]].max() < 0.0
    end = T0 + 3 * 86_400 * S  # the Earth 2-6° above the horizontal (libration)

    def windows(rc: tuple[np.intp, ...]) -> UplinkWindows:
        x, y = float(dem.x_m[rc[1]]), float(dem.y_m[rc[0]])
        return earth_windows(dem, hz, x, y, T0, end)

    deep, high = windows(floor), windows(summit)
    assert len(deep) < len(high)
    assert sum(w.duration_s for w in deep) < sum(w.duration_s for w in high)


def test_a_point_off_the_dem_is_refused(site: tuple[Dem, Horizons]) -> None:
    dem, hz = site
    with pytest.raises(InputError, match=r"^point \(0\.0, 0\.0\) m is outside the DEM"):
        earth_windows(dem, hz, 0.0, 0.0, T0, T0 + 3600 * S)
