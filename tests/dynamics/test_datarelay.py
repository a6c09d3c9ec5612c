"""Geostationary data relays: line-of-sight geometry, light time and the catalogue section."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from falak.dynamics.datarelay import (
    GEO_RADIUS_KM,
    SPEED_OF_LIGHT_KM_S,
    DataRelay,
    load_relays,
    los_clearance_km,
    relay_itrs_km,
    relay_windows,
)
from falak.dynamics.stations import WGS84_A_KM, load_stations
from falak.dynamics.tle import read_tle_file
from falak.errors import InputError

TLE_PATH = Path(__file__).resolve().parents[2] / "src/falak/missions/tiangong/css.tle"


def test_geo_radius_is_one_sidereal_day() -> None:
    """Kepler's third law with GM = 398600.4418 km³/s² and T = 86164.0905 s."""
    t = 2 * math.pi * math.sqrt(GEO_RADIUS_KM**3 / 398600.4418)
    assert t == pytest.approx(86164.0905, abs=0.5)


def test_line_of_sight_limit_is_the_tangent_geometry() -> None:
    """In the equatorial plane the segment r₁ → r₂ grazes the sphere R + h when the angle
    between them is acos((R+h)/r₁) + acos((R+h)/r₂) (two tangent lines): 98.27° for a
    satellite at 6778 km and a grazing height of 100 km (17.10° + 81.17°)."""
    relay = DataRelay("T", 0.0, "Kashi")
    pos = relay_itrs_km(relay)
    rg = WGS84_A_KM + 100.0
    limit = math.degrees(math.acos(rg / 6778.0) + math.acos(rg / GEO_RADIUS_KM))
    assert limit == pytest.approx(98.27, abs=0.01)
    ang = np.radians([limit - 0.01, limit + 0.01, 0.0, 180.0])
    sat = 6778.0 * np.stack([np.cos(ang), np.sin(ang), np.zeros(4)], axis=-1)
    c = los_clearance_km(sat, pos, 100.0)
    assert c[0] > 0 > c[1]
    assert c[2] == pytest.approx(6778.0 - rg, abs=1e-6)  # below the relay: its own height
    assert c[3] < 0


def test_catalogue_relays_and_their_light_time() -> None:
    relays = load_relays()
    assert set(relays) == {"TL-1", "TL-2", "TL-3"}
    assert {r.ground_station for r in relays.values()} <= set(load_stations())
    tle = read_tle_file(TLE_PATH)[0]
    t0 = datetime(2023, 9, 8, tzinfo=UTC)
    wins = relay_windows(tle, relays, t0, t0 + timedelta(days=1))
    assert wins == sorted(wins, key=lambda w: (w.start, w.relay))
    # up leg 35,800-41,500 km, down leg ~36,000-38,500 km: 0.24-0.27 s (the ~0.25 s hop)
    for w in wins:
        assert 0.23 < w.light_time_s < 0.29, w
    # the three relays cover most of the orbit, but not all of it (the Americas)
    covered = np.zeros(86400, dtype=bool)
    for w in wins:
        a, b = (int((x - t0).total_seconds()) for x in (w.start, w.stop))
        covered[a:b] = True
    assert 0.8 < covered.mean() < 1.0


def test_relay_the_terminal_cannot_see_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "relays.yaml"
    f.write_text("data_relays:\n  FAR:\n    lon_deg: -60\n    ground_station: Kashi\n")
    tle = read_tle_file(TLE_PATH)[0]
    t0 = datetime(2023, 9, 8, tzinfo=UTC)
    with pytest.raises(InputError) as exc:
        relay_windows(tle, load_relays(f), t0, t0 + timedelta(hours=1))
    assert "data relay 'FAR' at -60°E is" in str(exc.value)
    assert "above the horizon of its ground station 'Kashi'" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_relays:\n  X: {lon_deg: 10}\n", "data relay 'X' needs ground_station"),
        ("data_relays:\n  X: {ground_station: Kashi}\n", "data relay 'X' needs at least lon_deg"),
        (
            "data_relays:\n  X: {lon_deg: 10, ground_station: Kashi, slot: 3}\n",
            "data relay 'X' has unknown field(s) ['slot']",
        ),
        ("data_relays:\n  X: {lon_deg: east, ground_station: Kashi}\n", "is not a number"),
    ],
)
def test_bad_relay_entries_are_explained(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        load_relays(f)
    assert message in str(exc.value)


def test_one_way_light_time_below_the_relay() -> None:
    """A satellite under TL-1 at 400 km: (42164.17 − 6778.137) km up, then the down leg."""
    relays = load_relays()
    assert SPEED_OF_LIGHT_KM_S == 299_792.458
    up_s = (GEO_RADIUS_KM - (WGS84_A_KM + 400.0)) / SPEED_OF_LIGHT_KM_S
    assert up_s == pytest.approx(0.118, abs=0.001)
    assert relays["TL-1"].lon_deg == 77.0
