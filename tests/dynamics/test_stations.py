"""Ground-station catalogue (falak.dynamics.stations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falak.dynamics.stations import Station, get_station, load_stations, parse_site
from falak.errors import InputError

REQUIRED = ["Islamabad", "Karachi", "Lahore", "Kashi", "Jiamusi", "Sanya", "Neuquén"]


def test_catalogue_has_the_required_stations() -> None:
    stations = load_stations()
    for name in REQUIRED:
        st = stations[name]
        assert isinstance(st, Station)
        assert st.name == name
        assert st.note  # every entry says where its numbers come from
    # Pakistan's sites are city-level: SUPARCO antenna coordinates are not public (REFERENCES.md)
    for name in ("Islamabad", "Karachi", "Lahore"):
        assert "city-level" in stations[name].note
    # Rough sanity of positions: hemisphere and country (Neuquén is in Argentina, ~38°S 70°W).
    assert stations["Neuquén"].lat_deg == pytest.approx(-38.2, abs=0.5)
    assert stations["Neuquén"].lon_deg == pytest.approx(-70.1, abs=0.5)
    assert stations["Islamabad"].lat_deg == pytest.approx(33.7, abs=0.1)


def test_station_itrs_matches_skyfield_wgs84() -> None:
    """Geodetic → ITRS equals skyfield's wgs84.latlon (same ellipsoid) to 1 mm."""
    from skyfield.api import wgs84

    for st in load_stations().values():
        ref = wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.height_m).itrs_xyz.km
        np.testing.assert_allclose(st.itrs_km, ref, rtol=0, atol=1e-6)
        enu = st.enu_matrix
        np.testing.assert_allclose(enu @ enu.T, np.eye(3), atol=1e-12)


def test_lookup_is_case_and_accent_insensitive() -> None:
    assert get_station("neuquen").name == "Neuquén"
    assert get_station("ISLAMABAD").name == "Islamabad"


def test_unknown_station_lists_known_names() -> None:
    with pytest.raises(InputError) as info:
        get_station("Quetta")
    msg = str(info.value)
    assert msg.startswith("unknown station 'Quetta'; known stations: Islamabad, Jiamusi, Karachi")
    assert "Neuquén" in msg
    assert "--site LAT,LON,HEIGHT_M" in msg


def test_latitude_95_is_rejected() -> None:
    with pytest.raises(InputError, match=r"latitude 95° is outside -90..90°"):
        parse_site("95,73,500")
    with pytest.raises(InputError, match=r"must be LAT,LON,HEIGHT_M"):
        parse_site("33,73")
    with pytest.raises(InputError, match=r"must be three numbers"):
        parse_site("33,east,500")
    with pytest.raises(InputError, match=r"height 540000 m is outside"):
        parse_site("33,73,540000")


def test_user_file_extends_and_replaces(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(
        "stations:\n"
        "  Quetta: {lat_deg: 30.18, lon_deg: 66.99, height_m: 1680, min_elevation_deg: 8,\n"
        "           mask: [[0, 20], [180, 5]]}\n"
        "  islamabad: {lat_deg: 33.70, lon_deg: 73.10, height_m: 600}\n"
    )
    stations = load_stations(extra=f)
    assert stations["Quetta"].mask == ((0.0, 20.0), (180.0, 5.0))
    assert "Islamabad" not in stations  # replaced by the user's spelling
    assert stations["islamabad"].height_m == 600
    assert "Karachi" in stations
    only = load_stations(f)
    assert set(only) == {"Quetta", "islamabad"}
    more = load_stations(extra=[Station("X", 0, 0)])
    assert "X" in more


def test_mask_is_linear_in_azimuth_and_wraps() -> None:
    st = Station("M", 30, 70, 0, min_elevation_deg=8, mask=((0, 20), (180, 5)))
    got = st.min_elevation_at([0, 90, 180, 270, 359.999, -90])
    # 0→180: 20→5 linearly (12.5 at 90), below 8 clipped to 8; 180→360: 5→20 (12.5 at 270).
    np.testing.assert_allclose(got, [20, 12.5, 8, 12.5, 20, 12.5], atol=1e-3)
    assert st.lowest_elevation_deg == 8


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("stations: [1, 2]", "expected a mapping 'stations:'"),
        ("stations:\n  A: {lat_deg: 1}", "station 'A' is missing lon_deg"),
        ("stations:\n  A: {lat_deg: 1, lon_deg: 2, alt: 3}", "unknown field(s) ['alt']"),
        ("stations:\n  A: {lat_deg: 1, lon_deg: 2, mask: [[90, 1], [10, 2]]}", "must increase"),
        ("stations:\n  A: {lat_deg: x, lon_deg: 2}", "latitude 'x' is not a number"),
        ("stations: [", "not valid YAML"),
    ],
)
def test_bad_yaml_messages(tmp_path: Path, yaml_text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml_text)
    with pytest.raises(InputError) as info:
        load_stations(f)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{f}: ")
