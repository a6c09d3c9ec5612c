"""Orbiter geometry: eclipses, Earth-station contacts, imaging, OEM ↔ trajectory."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from falak.dynamics.lunar_orbit import Trajectory, elements_to_state, propagate, utc_times
from falak.dynamics.moonframes import MOON_RADIUS_KM, icrf_to_moon_me, icrf_to_moon_pa, timescale
from falak.dynamics.oem import parse_oem
from falak.dynamics.orbiter import (
    contacts,
    eclipses,
    imaging_opportunities,
    interpolate_state,
    sun_fraction,
    trajectory_from_oem,
    trajectory_to_oem,
)
from falak.dynamics.stations import Station
from falak.errors import InputError

EPOCH = datetime(2028, 3, 1, tzinfo=UTC)
ALT_KM = 100.0


@pytest.fixture(scope="module")
def noon_midnight() -> Trajectory:
    """Circular 100 km lunar-polar orbit whose plane contains the Sun direction at the epoch."""
    from falak.dynamics.moonframes import ephemeris

    t = timescale().from_datetime(EPOCH)
    eph = ephemeris()
    sun = (eph["sun"] - eph["moon"]).at(t).position.km
    pole = icrf_to_moon_pa(t)[0][2]  # Moon's PA z axis in ICRF
    x = sun / np.linalg.norm(sun)
    normal = np.cross(x, pole)
    normal /= np.linalg.norm(normal)
    y = np.cross(normal, x)
    r = MOON_RADIUS_KM + ALT_KM
    speed = math.sqrt(4902.8001224453 / r)
    # Start over the terminator-free noon point, moving towards the pole.
    return propagate(EPOCH, r * x, speed * y, 86400.0, 30.0)


def test_eclipse_fraction_noon_midnight_orbit(noon_midnight: Trajectory) -> None:
    tr = noon_midnight
    windows = [w for w in eclipses(tr) if w.fields["body"] == "moon"]
    assert len(windows) >= 11  # 1 day / ~118 min period
    r_km = np.linalg.norm(tr.r_km, axis=1).mean()
    # Cylindrical shadow of a sphere, orbit plane through the Sun (β = 0): the fraction of the
    # orbit in shadow is asin(R/r)/π (e.g. Wertz, Space Mission Engineering, §9.3).
    expected = math.asin(MOON_RADIUS_KM / r_km) / math.pi
    full = [w for w in windows if w.start > tr.epoch and w.stop < windows[-1].stop]
    period_s = (full[-1].start - full[0].start).total_seconds() / (len(full) - 1)
    for w in full:
        pen = w.duration_s / period_s
        umbra = w.fields["umbra_start"], w.fields["umbra_stop"]
        assert umbra[0] is not None
        umb = (
            datetime.fromisoformat(umbra[1]) - datetime.fromisoformat(umbra[0])
        ).total_seconds() / period_s
        # The conical umbra is shorter and the penumbra longer than the cylinder, by about
        # the Sun's angular radius (0.27°) over the shadow edge: ≤ 0.5 % of the orbit here;
        # 1 % absolute also covers degree-8 radius changes of a few km.
        assert umb < expected < pen
        assert pen == pytest.approx(expected, abs=0.01)
        assert umb == pytest.approx(expected, abs=0.01)
    # No Earth shadow on 2028-03-01 (no lunar eclipse then; NASA five-millennium catalogue).
    assert not [w for w in eclipses(tr) if w.fields["body"] == "earth"]


def test_sun_fraction_at_midnight_and_noon(noon_midnight: Trajectory) -> None:
    half = np.array([0.0, 0.5 * (noon_midnight.t_s[1] - noon_midnight.t_s[0])])
    f = sun_fraction(noon_midnight, half)
    assert np.all(f["total"] == 1.0)  # start at the sub-solar point: fully lit
    # Half an orbit later (≈59 min) the orbiter is behind the Moon: fully dark.
    k = np.argmax(np.linalg.norm(noon_midnight.r_km - noon_midnight.r_km[0], axis=1))
    assert sun_fraction(noon_midnight, noon_midnight.t_s[k : k + 1])["total"][0] == 0.0


def test_contacts_only_while_moon_is_up(noon_midnight: Trajectory) -> None:
    from skyfield.api import wgs84

    from falak.dynamics.moonframes import ephemeris

    station = Station("Islamabad", 33.6844, 73.0479, 540.0, 10.0)
    windows = contacts(noon_midnight, station)
    assert windows
    eph = ephemeris()
    topos = eph["earth"] + wgs84.latlon(station.lat_deg, station.lon_deg, station.height_m)
    ts = timescale()
    # Sample the whole day: where the Moon (skyfield, independent) is more than 0.5° below the
    # mask, no window may be open. 0.5°: the orbiter is ≤ 0.3° from the Moon's centre as seen
    # from Earth, plus apparent-vs-geometric differences (< 0.01°).
    grid = np.arange(0.0, noon_midnight.t_s[-1], 120.0)
    t = ts.from_datetimes([noon_midnight.epoch + timedelta(seconds=s) for s in grid])
    moon_el = topos.at(t).observe(eph["moon"]).apparent().altaz()[0].degrees
    open_ = np.zeros(grid.shape, dtype=bool)
    for w in windows:
        a = (w.start - noon_midnight.epoch).total_seconds()
        b = (w.stop - noon_midnight.epoch).total_seconds()
        open_ |= (grid >= a) & (grid <= b)
    assert not np.any(open_ & (moon_el < station.min_elevation_deg - 0.5))
    # While the Moon is well up, windows are open except when the Moon hides the orbiter.
    well_up = moon_el > station.min_elevation_deg + 0.5
    assert np.any(open_ & well_up)
    assert np.any(~open_ & well_up)  # occultations behind the Moon happen
    for w in windows:
        assert 10.0 <= w.fields["max_elevation_deg"] <= 90.0
        assert 356000 < w.fields["mean_range_km"] < 407000  # Earth–Moon distance range


def test_imaging_within_off_nadir_limit() -> None:
    t = timescale().from_datetime(EPOCH)
    rot0 = icrf_to_moon_pa(t)[0]
    # Lunar-polar (w.r.t. the PA equator) circular orbit at 100 km.
    r0, v0 = elements_to_state(MOON_RADIUS_KM + ALT_KM, 0.0, 90.0, 40.0, 0.0, 0.0)
    tr = propagate(EPOCH, rot0.T @ r0, rot0.T @ v0, 86400.0, 10.0)
    lat, lon, limit, min_sun = -85.0, 40.0, 20.0, 0.0
    windows = imaging_opportunities(
        tr, lat, lon, max_off_nadir_deg=limit, min_sun_elevation_deg=min_sun
    )
    assert windows
    from falak.dynamics.moonsky import MoonSite, sky

    target = MOON_RADIUS_KM * np.array(
        [
            math.cos(math.radians(lat)) * math.cos(math.radians(lon)),
            math.cos(math.radians(lat)) * math.sin(math.radians(lon)),
            math.sin(math.radians(lat)),
        ]
    )
    for w in windows:
        a = (w.start - tr.epoch).total_seconds()
        b = (w.stop - tr.epoch).total_seconds()
        probe = np.linspace(a + 0.05, b - 0.05, 25)
        r, _ = interpolate_state(tr, probe)
        ts_probe = utc_times(tr.epoch, probe)
        tgt = np.einsum("nji,j->ni", icrf_to_moon_me(ts_probe), target)
        los = tgt - r
        nadir = -r / np.linalg.norm(r, axis=1)[:, None]
        cosang = np.einsum("ij,ij->i", los, nadir) / np.linalg.norm(los, axis=1)
        off = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
        assert np.all(off <= limit + 1e-6)
        # Sun elevation from falak.dynamics.moonsky (apparent; geometric differs < 0.01°).
        sun_el = sky(MoonSite(lat, lon, 0.0), ts_probe).sun_elevation_deg
        assert np.all(sun_el >= min_sun - 0.02)
        assert w.fields["min_off_nadir_deg"] <= limit


def test_imaging_rejects_bad_limits(noon_midnight: Trajectory) -> None:
    with pytest.raises(InputError, match=r"max off-nadir angle must be in \(0, 90\)"):
        imaging_opportunities(noon_midnight, 0.0, 0.0, max_off_nadir_deg=95.0)
    with pytest.raises(InputError, match=r"target latitude 91\.0 is outside"):
        imaging_opportunities(noon_midnight, 91.0, 0.0)


def test_trajectory_oem_round_trip(noon_midnight: Trajectory) -> None:
    text = trajectory_to_oem(noon_midnight, object_id="2028-999A")
    back = trajectory_from_oem(parse_oem(text))
    np.testing.assert_array_equal(back.times, noon_midnight.times)
    # OEM keeps 1 mm and 1 µm/s.
    np.testing.assert_allclose(back.r_km, noon_midnight.r_km, atol=5e-7, rtol=0)
    np.testing.assert_allclose(back.v_km_s, noon_midnight.v_km_s, atol=5e-10, rtol=0)
    earth_centred = text.replace("CENTER_NAME = MOON", "CENTER_NAME = EARTH")
    with pytest.raises(InputError, match="need CENTER_NAME = MOON with REF_FRAME = ICRF"):
        trajectory_from_oem(parse_oem(earth_centred))


def test_hermite_interpolation_is_accurate() -> None:
    r0, v0 = elements_to_state(MOON_RADIUS_KM + ALT_KM, 0.01, 60.0, 0.0, 0.0, 0.0)
    coarse = propagate(EPOCH, r0, v0, 7200.0, 60.0)
    fine = propagate(EPOCH, r0, v0, 7200.0, 10.0)
    r, v = interpolate_state(coarse, fine.t_s)
    # Cubic Hermite over 60 s of a 2 h orbit: error ~ r (ωh)⁴/384 ≈ 5 cm; allow 10 cm.
    assert np.max(np.linalg.norm(r - fine.r_km, axis=1)) < 1e-4
    assert np.max(np.linalg.norm(v - fine.v_km_s, axis=1)) < 1e-5


def test_earth_shadow_during_the_2028_12_31_lunar_eclipse() -> None:
    from skyfield import eclipselib

    from falak.dynamics.moonframes import ephemeris

    ts = timescale()
    # Independent reference: skyfield's lunar-eclipse finder (DE421) gives the total eclipse
    # of 2028-12-31 and its time of greatest eclipse.
    t, kind, _ = eclipselib.lunar_eclipses(ts.utc(2028, 12, 30), ts.utc(2029, 1, 2), ephemeris())
    assert [eclipselib.LUNAR_ECLIPSES[k] for k in kind] == ["Total"]
    greatest = t[0].utc_datetime()
    start = greatest - timedelta(hours=3)
    r0, v0 = elements_to_state(MOON_RADIUS_KM + ALT_KM, 0.01, 85.0, 10.0, 250.0, 0.0)
    tr = propagate(start, r0, v0, 6 * 3600.0, 60.0)
    earth = [w for w in eclipses(tr) if w.fields["body"] == "earth"]
    assert len(earth) == 1
    w = earth[0]
    umbra_start = datetime.fromisoformat(w.fields["umbra_start"])
    umbra_stop = datetime.fromisoformat(w.fields["umbra_stop"])
    assert w.start < umbra_start < greatest < umbra_stop < w.stop
    at = np.array([(greatest - start).total_seconds()])
    assert sun_fraction(tr, at)["earth"][0] == 0.0


def test_tdb_oem_is_converted_to_utc(noon_midnight: Trajectory) -> None:
    text = trajectory_to_oem(noon_midnight).replace("TIME_SYSTEM = UTC", "TIME_SYSTEM = TDB")
    back = trajectory_from_oem(parse_oem(text))
    # TDB − UTC in 2028 = 32.184 s + 37 leap seconds (IERS Bulletin C; none announced since
    # 2017) ± 1.7 ms periodic: the same labels in TDB are 69.184 s earlier in UTC.
    shift_s = (noon_midnight.times - back.times).astype("timedelta64[ns]").astype(float) * 1e-9
    np.testing.assert_allclose(shift_s, 69.184, atol=2e-3)


def test_contact_edges_against_skyfield(noon_midnight: Trajectory) -> None:
    """Each contact edge is where skyfield's elevation crosses the minimum, or the line of
    sight grazes the Moon's 1737.4 km sphere, computed without falak's tables."""
    from skyfield.api import wgs84

    from falak.dynamics.moonframes import ephemeris

    station = Station("Neuquén", -38.95, -68.06, 270.0, 10.0)
    windows = contacts(noon_midnight, station)
    assert len(windows) >= 4
    edges = [w.start for w in windows] + [w.stop for w in windows]
    end = noon_midnight.epoch + timedelta(seconds=float(noon_midnight.t_s[-1]))
    edges = [e for e in edges if noon_midnight.epoch < e < end]
    offsets = np.array([(e - noon_midnight.epoch).total_seconds() for e in edges])
    r, _ = interpolate_state(noon_midnight, offsets)
    t = utc_times(noon_midnight.epoch, offsets)
    eph = ephemeris()
    topos = wgs84.latlon(station.lat_deg, station.lon_deg, station.height_m)
    site = (eph["earth"] + topos).at(t).position.km.T  # barycentric ICRF
    moon = eph["moon"].at(t).position.km.T
    los = moon + r - site
    # skyfield's GCRS → local (north, west, zenith) rotation for the WGS84 site.
    rot = np.moveaxis(topos.rotation_at(t), -1, 0)
    local = np.einsum("nij,nj->ni", rot, los)
    el = np.degrees(np.arcsin(local[:, 2] / np.linalg.norm(local, axis=1)))
    # Closest approach of the site→orbiter segment to the Moon's centre.
    s = site - moon
    d = r - s
    u = np.clip(-np.einsum("ij,ij->i", s, d) / np.einsum("ij,ij->i", d, d), 0, 1)
    limb_km = np.linalg.norm(s + u[:, None] * d, axis=1) - MOON_RADIUS_KM
    # Edges are refined to 10 ms: the elevation moves ≤ 0.25°/min (4e-5° in 10 ms) and the
    # limb margin ≤ 2 km/s (20 m); tolerances 1e-3° and 0.1 km leave room for the frames.
    on_elevation = np.abs(el - station.min_elevation_deg) < 1e-3
    on_limb = np.abs(limb_km) < 0.1
    assert np.all(on_elevation | on_limb), (el, limb_km)


def test_oem_with_a_gap_is_refused(noon_midnight: Trajectory) -> None:
    lines = trajectory_to_oem(noon_midnight).splitlines()
    first_data = next(i for i, line in enumerate(lines) if line.startswith("2028-"))
    del lines[first_data + 10 : first_data + 40]  # 30 states × 30 s = a 930 s gap
    with pytest.raises(InputError, match=r"OEM states 10 and 11 are 930 s apart"):
        trajectory_from_oem(parse_oem("\n".join(lines)))
