"""Moon frames against SPICE: lunarsky's ``spice_fixtures.npz`` and skyfield's own frames."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from falak.dynamics import moonframes
from falak.errors import InputError

ARCSEC = np.pi / 180.0 / 3600.0

# 11 epochs (1970–2040) of SPICE pxform('J2000', 'MOON_ME') and spkpos(Earth wrt Moon), made by
# lunarsky's earlier SPICE-toolkit version (moon_pa_de421_1900-2050.bpc, moon_080317.tf, DE430).
FIXTURES = moonframes.BPC_FILE.parents[2] / "tests" / "data" / "spice_fixtures.npz"


@pytest.fixture(scope="module")
def spice() -> dict[str, np.ndarray]:
    if not FIXTURES.is_file():
        pytest.skip(f"lunarsky's SPICE fixtures are not installed at {FIXTURES}")
    with np.load(FIXTURES) as data:
        return {key: data[key] for key in data.files}


def _times(ets: np.ndarray):  # type: ignore[no-untyped-def]
    # SPICE ET = TDB seconds past J2000 (JD 2451545.0 TDB).
    return moonframes.timescale().tdb_jd(2451545.0, ets / 86400.0)


def test_j2000_to_moon_me_matches_spice(spice: dict[str, np.ndarray]) -> None:
    rotation = moonframes.icrf_to_moon_me(_times(spice["ets"]))
    assert rotation.shape == (11, 3, 3)
    # Matrix elements are direction cosines: an element error of x rad is an angle of x rad.
    # Requirement: 0.01″ (≈ 5 cm at the lunar surface).
    np.testing.assert_allclose(rotation, spice["j2000_to_me"], rtol=0, atol=0.01 * ARCSEC)


def test_earth_in_moon_me_matches_spice(spice: dict[str, np.ndarray]) -> None:
    rotation = moonframes.icrf_to_moon_me(_times(spice["ets"]))
    # Same J2000 vector as SPICE: the rotation alone must reproduce MOON_ME to 1 m over the
    # 384,000 km lever arm (0.5 mas).
    earth_j2000 = -spice["moon_earth_j2000"][:, :3]  # fixture holds the Moon wrt the Earth
    earth_me = np.einsum("nij,nj->ni", rotation, earth_j2000)
    np.testing.assert_allclose(earth_me, spice["earth_me"], rtol=0, atol=1e-3)


def test_earth_in_moon_me_with_de421_within_ephemeris_difference(
    spice: dict[str, np.ndarray],
) -> None:
    t = _times(spice["ets"])
    eph = moonframes.ephemeris()
    earth_icrf = (eph["earth"] - eph["moon"]).at(t).position.km.T
    earth_me = np.einsum("nij,nj->ni", moonframes.icrf_to_moon_me(t), earth_icrf)
    error_m = np.linalg.norm(earth_me - spice["earth_me"], axis=1) * 1e3
    # The fixture's positions come from DE430, ours from DE421: the two lunar ephemerides differ
    # by 0.4–1.4 m in the Earth–Moon vector over 1970–2040 (same size as in J2000, measured
    # below), so this is bounded by 2 m, not by the 1 m the rotation itself meets.
    ephemeris_m = np.linalg.norm(earth_icrf + spice["moon_earth_j2000"][:, :3], axis=1) * 1e3
    np.testing.assert_allclose(error_m, ephemeris_m, rtol=0, atol=1e-3)
    assert error_m.max() < 2.0


def test_matches_skyfield_planetary_constants_frames() -> None:
    # Independent route: skyfield's own Frame.rotation_at over the same kernels.
    ts = moonframes.timescale()
    t = ts.utc(2028, 1, np.linspace(1.0, 366.0, 50))
    pc = moonframes.planetary_constants()
    for name, ours in (
        ("MOON_PA_DE421", moonframes.icrf_to_moon_pa(t)),
        ("MOON_ME_DE421", moonframes.icrf_to_moon_me(t)),
    ):
        theirs = np.moveaxis(pc.build_frame_named(name).rotation_at(t), -1, 0)
        # skyfield evaluates the PCK at a single float TDB JD (~20 µs resolution → 5e-11 rad
        # of lunar rotation); 1e-4″ bounds that.
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * ARCSEC)


def test_pa_to_me_is_the_fk_rotation() -> None:
    # moon_080317.tf: MOON_ME_DE421 = MOON_PA_DE421 rotated (67.92″, 78.56″, 0.30″) about 3, 2, 1;
    # its angle is ≈ sqrt(67.92² + 78.56² + 0.30²)″ = 103.85″ to first order.
    pa_to_me = moonframes.PA_TO_ME
    np.testing.assert_allclose(pa_to_me @ pa_to_me.T, np.eye(3), atol=1e-15)
    angle_arcsec = np.degrees(np.arccos((np.trace(pa_to_me) - 1.0) / 2.0)) * 3600.0
    assert angle_arcsec == pytest.approx(np.hypot(np.hypot(67.92, 78.56), 0.30), abs=0.01)
    # ≈ 875 m at the surface (REFERENCES.md).
    assert angle_arcsec * ARCSEC * moonframes.MOON_RADIUS_KM * 1e3 == pytest.approx(875, abs=5)


def test_scalar_time_gives_one_matrix() -> None:
    t = moonframes.timescale().utc(2028, 6, 1)
    assert moonframes.icrf_to_moon_pa(t).shape == (1, 3, 3)
    assert moonframes.icrf_to_moon_me(t).shape == (1, 3, 3)


def test_time_outside_kernel_span_is_refused() -> None:
    ts = moonframes.timescale()
    with pytest.raises(InputError, match="allowed: 1900-01-02 to 2050-12-30 UTC"):
        moonframes.icrf_to_moon_me(ts.utc(2051, 6, 1))
    with pytest.raises(InputError, match="outside the Moon kernels"):
        moonframes.check_time_span(datetime(1899, 12, 31, tzinfo=UTC))
    with pytest.raises(InputError, match="no time zone"):
        moonframes.check_time_span(datetime(2028, 1, 1))
    with pytest.raises(InputError, match="outside the Moon kernels"):
        moonframes.check_time_span(np.array(["2028-01-01", "2060-01-01"], dtype="datetime64[ns]"))
    moonframes.check_time_span(datetime(2028, 1, 1, tzinfo=UTC))  # inside: no error


def test_sub_earth_point_librates_within_published_amplitudes() -> None:
    # Gorkavyi et al. 2023 (AMT 16:1527), REFERENCES.md: libration amplitudes 6.68° in latitude,
    # 7.9° in longitude. The Sun perturbs the lunar orbit (inclination 4.99–5.30°, eccentricity
    # 0.026–0.077), so one year's extremes of the geocentric sub-Earth point lie within ~0.2° of
    # those amplitudes: |lat| reaches 6.5–6.9° and |lon| 7.5–8.2° in 2028.
    ts = moonframes.timescale()
    eph = moonframes.ephemeris()
    t = ts.utc(2028, 1, np.arange(0, 366 * 24) / 24.0)
    earth_icrf = (eph["earth"] - eph["moon"]).at(t).position.km.T
    earth_me = np.einsum("nij,nj->ni", moonframes.icrf_to_moon_me(t), earth_icrf)
    lat = np.degrees(np.arcsin(earth_me[:, 2] / np.linalg.norm(earth_me, axis=1)))
    lon = np.degrees(np.arctan2(earth_me[:, 1], earth_me[:, 0]))
    assert 6.5 < np.abs(lat).max() < 6.9
    assert 7.5 < np.abs(lon).max() < 8.2
    # Both signs are reached within the year (the libration is an oscillation about 0, 0).
    assert lat.min() < -6.5 < 6.5 < lat.max()
    assert lon.min() < -7.5 < 7.5 < lon.max()


@pytest.mark.parametrize(("center", "target"), [(0, 3), (3, 301), (3, 399), (0, 10)])
def test_compiled_chebyshev_matches_jplephem(center: int, target: int) -> None:
    # Same DE421 coefficients, two evaluators: round-off only. Positions are ≤ 1.0e9 km
    # (1 mm = 1e-12 relative); jplephem's velocities are km/day, ours km/s.
    ts = moonframes.timescale()
    t = ts.utc(1950, 1, np.linspace(1.0, 36500.0, 997))
    segment = moonframes.ephemeris().spk[center, target]
    ref_position, ref_velocity = segment.compute_and_differentiate(t.whole, t.tdb_fraction)
    position, velocity = moonframes.spk_segment(center, target).compute_and_differentiate(
        t.whole, t.tdb_fraction
    )
    np.testing.assert_allclose(position, ref_position, rtol=0, atol=1e-3)
    np.testing.assert_allclose(velocity, ref_velocity / 86_400.0, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(
        moonframes.spk_segment(center, target).compute(t.whole, t.tdb_fraction), position
    )
