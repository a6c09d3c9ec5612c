"""Eclipses and contact windows of the Tiangong orbit, against skyfield and published figures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from falak.dynamics.tle import read_tle_file
from falak.planning.campaign.orbit_env import eclipse_intervals, merge_windows, shadow_function

TLE = Path(__file__).parents[3] / "src/falak/missions/tiangong/css.tle"
START = dt.datetime(2023, 9, 8, tzinfo=dt.UTC)


def _skyfield_edges(seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """Shadow entry and exit times (s after START) from skyfield's is_sunlit, sampled at 1 s."""
    from skyfield.api import EarthSatellite

    from falak.dynamics.moonframes import ephemeris, timescale

    ts = timescale()
    lines = TLE.read_text(encoding="utf-8").splitlines()
    sat = EarthSatellite(lines[1], lines[2], ts=ts)
    secs = np.arange(0, seconds, 1.0)
    dark = ~sat.at(ts.utc(2023, 9, 8, 0, 0, secs)).is_sunlit(ephemeris())
    step = np.diff(dark.astype(np.int8))
    return secs[np.flatnonzero(step == 1)] + 0.5, secs[np.flatnonzero(step == -1)] + 0.5


@pytest.fixture(scope="module")
def sky() -> tuple[np.ndarray, np.ndarray]:
    return _skyfield_edges(3 * 3600)


def _offsets(ev: list[tuple[dt.datetime, dt.datetime]]) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([(x - START).total_seconds() for x, _ in ev])
    b = np.array([(y - START).total_seconds() for _, y in ev])
    return a, b


def test_cylindrical_shadow_matches_skyfield_is_sunlit(
    sky: tuple[np.ndarray, np.ndarray],
) -> None:
    # skyfield's is_sunlit hides the Sun's centre behind a spherical Earth: for a LEO the
    # line of sight to the Sun is parallel to the shadow axis within R_E/1 AU, so it equals the
    # cylindrical model; 1 s sampling of skyfield -> edges agree within 1 s
    ev = eclipse_intervals(
        read_tle_file(TLE)[0], START, START + dt.timedelta(hours=3), "cylindrical"
    )
    a, b = _offsets(ev)
    a, b = a[a > 0], b[b < 3 * 3600 - 1]
    np.testing.assert_allclose(a, sky[0][: len(a)], atol=1.0)
    np.testing.assert_allclose(b, sky[1][-len(b) :], atol=1.0)


def test_conical_penumbra_widens_each_edge(sky: tuple[np.ndarray, np.ndarray]) -> None:
    # penumbra counts as eclipse: entry earlier and exit later than the Sun's centre by the
    # time the station needs to sweep the Sun's 0.27° radius (a few s to ~15 s at grazing)
    ev = eclipse_intervals(read_tle_file(TLE)[0], START, START + dt.timedelta(hours=3), "conical")
    a, b = _offsets(ev)
    a, b = a[a > 0], b[b < 3 * 3600 - 1]
    early = sky[0][: len(a)] - a
    late = b - sky[1][-len(b) :]
    assert np.all((early > 2.0) & (early < 20.0))
    assert np.all((late > 2.0) & (late < 20.0))


def test_eclipse_share_of_orbit() -> None:
    # Tiangong: 92.2-min period (REFERENCES.md); a 390 km orbit at beta angles below ~60° is
    # in shadow 30-40% of each orbit (two-body geometry: asin(R_E/r)/180° = 0.39 at beta 0)
    ev = eclipse_intervals(read_tle_file(TLE)[0], START, START + dt.timedelta(days=1))
    dur_min = np.array([(b - a).total_seconds() / 60 for a, b in ev[1:-1]])
    gaps = [(ev[i + 1][0] - ev[i][0]).total_seconds() / 60 for i in range(1, len(ev) - 1)]
    assert 15 <= len(ev) <= 17  # ~15.6 orbits a day
    np.testing.assert_allclose(gaps, 92.2, atol=0.3)
    assert np.all((dur_min > 0.30 * 92.2) & (dur_min < 0.40 * 92.2))


def test_shadow_function_signs() -> None:
    sun = np.array([[1.496e8, 0.0, 0.0]] * 3)
    r = np.array([[-6800.0, 0.0, 0.0], [6800.0, 0.0, 0.0], [-6800.0, 7000.0, 0.0]])
    for model in ("cylindrical", "conical"):
        f = shadow_function(r, sun, model)
        assert f[0] < 0  # behind the Earth on the axis
        assert f[1] > 0  # facing the Sun
        assert f[2] > 0  # behind but beyond one Earth radius off-axis


def test_merge_windows() -> None:
    assert merge_windows([(5.0, 7.0), (0.0, 2.0), (1.0, 3.0), (7.0, 8.0)]) == (
        (0.0, 3.0),
        (5.0, 8.0),
    )
