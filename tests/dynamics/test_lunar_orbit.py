"""Lunar orbit propagation: conservation, J2 nodal regression, Kepler period, scipy agreement."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from falak.dynamics.gravity import GravityField, load_grgm1200a
from falak.dynamics.lunar_orbit import (
    GM_MOON_KM3_S2,
    ForceModel,
    elements_to_state,
    propagate,
    right_hand_side,
    state_to_elements,
)
from falak.errors import InputError

EPOCH = datetime(2028, 1, 1, tzinfo=UTC)
DAY_S = 86400.0


def test_elements_round_trip() -> None:
    r, v = elements_to_state(2500.0, 0.2, 63.4, 30.0, 270.0, 45.0)
    el = state_to_elements(r, v)
    got = [float(el[k][0]) for k in ("a_km", "e", "i_deg", "raan_deg", "argp_deg", "ta_deg")]
    # Pure geometry: agreement to float64 rounding of a few operations.
    np.testing.assert_allclose(got, [2500.0, 0.2, 63.4, 30.0, 270.0, 45.0], rtol=1e-12)


def test_point_mass_conserves_energy_and_angular_momentum_30_days() -> None:
    r0, v0 = elements_to_state(1837.4, 0.001, 45.0, 30.0, 0.0, 0.0)
    force = ForceModel(degree=0, third_bodies=())
    # rtol 1e-12: DOP853's energy error grows linearly with the ~370 revolutions; at the
    # default 1e-11 it reaches ~7e-11, too close to the bound to be a useful check.
    tr = propagate(EPOCH, r0, v0, 30 * DAY_S, 600.0, force, rtol=1e-12)
    radius = np.linalg.norm(tr.r_km, axis=1)
    energy = 0.5 * np.einsum("ij,ij->i", tr.v_km_s, tr.v_km_s) - GM_MOON_KM3_S2 / radius
    h = np.cross(tr.r_km, tr.v_km_s)
    # Issue acceptance bound: 1e-10 relative over 30 days.
    assert np.max(np.abs(energy / energy[0] - 1.0)) < 1e-10
    assert np.max(np.linalg.norm(h - h[0], axis=1)) < 1e-10 * np.linalg.norm(h[0])


def test_j2_nodal_regression_matches_analytic_rate() -> None:
    full = load_grgm1200a(2)
    c = np.zeros((3, 3))
    c[0, 0] = 1.0
    c[2, 0] = full.c[2, 0]
    j2_field = GravityField(full.gm_km3_s2, full.radius_km, c, np.zeros((3, 3)), "J2 only")
    # J2 = −C̄20·√5 ≈ 2.0322e−4 and R = 1738.0 km from the file header (REFERENCES.md).
    assert j2_field.j2 == pytest.approx(2.0322e-4, rel=1e-4)
    a_km, e, inc = 1900.0, 0.01, 60.0
    r0, v0 = elements_to_state(a_km, e, inc, 30.0, 40.0, 0.0)
    # Start the orbit in the Moon's equator frame at the epoch (MOON_PA axes, held inertial).
    from falak.dynamics.moonframes import icrf_to_moon_pa, timescale

    rot0 = icrf_to_moon_pa(timescale().from_datetime(EPOCH))[0]
    r0, v0 = rot0.T @ r0, rot0.T @ v0
    force = ForceModel(gravity=j2_field, third_bodies=())
    tr = propagate(EPOCH, r0, v0, 10 * DAY_S, 300.0, force)
    el = state_to_elements(tr.r_km @ rot0.T, tr.v_km_s @ rot0.T)
    raan = np.unwrap(np.radians(el["raan_deg"]))
    rate = np.polyfit(tr.t_s, raan, 1)[0]
    # Secular rate, e.g. Vallado, Fundamentals of Astrodynamics, eq. 9-41.
    n = math.sqrt(full.gm_km3_s2 / a_km**3)
    p = a_km * (1 - e * e)
    expected = -1.5 * n * j2_field.j2 * (full.radius_km / p) ** 2 * math.cos(math.radians(inc))
    # 1 %: the bound; short-period J2 terms and the PA pole's drift are far below it.
    assert rate == pytest.approx(expected, rel=0.01)


def test_twelve_hour_orbit_apolune_altitude() -> None:
    # REFERENCES.md: 12 h orbit, 200 km perilune → apolune ≈ 8,600 km (Kepler, GM 4902.8).
    radius = 1737.4
    period_s = 12 * 3600.0
    a_km = (GM_MOON_KM3_S2 * (period_s / (2 * math.pi)) ** 2) ** (1 / 3)
    rp = radius + 200.0
    e = 1 - rp / a_km
    apolune_alt = 2 * a_km - rp - radius
    assert apolune_alt == pytest.approx(8600.0, rel=0.01)
    r0, v0 = elements_to_state(a_km, e, 80.0, 0.0, 270.0, 0.0)
    tr = propagate(EPOCH, r0, v0, period_s, 60.0, ForceModel(degree=0, third_bodies=()))
    alt = np.linalg.norm(tr.r_km, axis=1) - radius
    # 60 s sampling near apolune (slow there): the sampled maximum is within 1 m of the true one.
    assert alt.max() == pytest.approx(apolune_alt, abs=1e-3)
    # After one Kepler period the orbiter is back where it started (integrator error ≪ 1 m).
    assert np.linalg.norm(tr.r_km[-1] - r0) < 1e-3


def test_bad_orbits_are_input_errors() -> None:
    with pytest.raises(
        InputError,
        match=r"perilune radius 1620.0 km \(altitude -117.4 km\) is below the lunar surface",
    ):
        elements_to_state(1800.0, 0.1, 90, 0, 0, 0)
    with pytest.raises(InputError, match=r"eccentricity must be in \[0, 1\)"):
        elements_to_state(2000, 1.2, 90, 0, 0, 0)
    r0, v0 = elements_to_state(1900.0, 0.0, 90, 0, 0, 0)
    with pytest.raises(InputError, match="outside the Moon kernels"):
        propagate(datetime(2060, 1, 1, tzinfo=UTC), r0, v0, 3600.0)
    with pytest.raises(InputError, match=r"86400001 output states requested .* use a longer step"):
        propagate(EPOCH, r0, v0, 86400.0, 0.001)
    with pytest.raises(InputError, match="no time zone"):
        propagate(datetime(2028, 1, 1), r0, v0, 3600.0)


def test_orbit_that_hits_the_moon_is_reported() -> None:
    # Start 2.6 km above the 1737.4 km sphere, moving 0.5 km/s downwards: it hits within ~6 s.
    r0 = np.array([1740.0, 0.0, 0.0])
    v0 = np.array([-0.5, 1.0, 0.0])
    with pytest.raises(InputError, match="hits the Moon"):
        propagate(EPOCH, r0, v0, 3600.0, 60.0)


@pytest.mark.slow
def test_agrees_with_scipy_dop853_after_7_days() -> None:
    from scipy.integrate import solve_ivp

    r0, v0 = elements_to_state(1837.4 + 200.0, 0.05, 85.0, 10.0, 250.0, 0.0)
    tr = propagate(EPOCH, r0, v0, 7 * DAY_S, 3600.0)
    fun = right_hand_side(EPOCH, float(tr.tdb_s[-1]))
    sol = solve_ivp(
        fun,
        (0.0, float(tr.tdb_s[-1])),
        np.concatenate([r0, v0]),
        method="DOP853",
        rtol=1e-12,
        atol=1e-9,
        t_eval=tr.tdb_s,
    )
    assert sol.success
    # Issue acceptance bound: 10 m after 7 days against scipy's DOP853 (rtol 1e-12, atol 1e-9).
    diff_km = np.linalg.norm(sol.y[:3].T - tr.r_km, axis=1)
    assert diff_km.max() < 0.010


def test_right_hand_side_matches_direct_evaluation() -> None:
    """The tabulated frame and third bodies agree with skyfield/DE421 evaluated directly."""
    from falak.dynamics.gravity import acceleration_pa
    from falak.dynamics.lunar_orbit import GM_EARTH_KM3_S2, GM_SUN_KM3_S2, utc_times
    from falak.dynamics.moonframes import ephemeris, icrf_to_moon_pa, timescale

    fun = right_hand_side(EPOCH, 2 * DAY_S)
    y = np.array([1200.0, -900.0, 1100.0, 0.3, 1.2, -0.8])
    t_s = 1234.567  # TDB seconds after the epoch, between table nodes
    t0 = utc_times(EPOCH, 0.0)
    t = timescale().tdb_jd(t0.whole, t0.tdb_fraction + t_s / 86400.0)
    rot = icrf_to_moon_pa(t)[0]
    expected = rot.T @ acceleration_pa(load_grgm1200a(8), rot @ y[:3])
    eph = ephemeris()
    for name, gm in (("earth", GM_EARTH_KM3_S2), ("sun", GM_SUN_KM3_S2)):
        d = (eph[name] - eph["moon"]).at(t).position.km
        expected += gm * ((d - y[:3]) / np.linalg.norm(d - y[:3]) ** 3 - d / np.linalg.norm(d) ** 3)
    got = fun(t_s, y)
    np.testing.assert_array_equal(got[:3], y[3:])
    # 600 s tables with 4-point Lagrange: rotation error ~1e-13 rad, Earth position ~1e-7 km;
    # both ≪ 1e-12 of the 1.3e-3 km/s² total.
    assert np.linalg.norm(got[3:] - expected) < 1e-12 * np.linalg.norm(expected)
    # Third bodies matter at this level: without them the difference is far larger.
    alone = rot.T @ acceleration_pa(load_grgm1200a(8), rot @ y[:3])
    assert np.linalg.norm(got[3:] - alone) > 1e-9 * np.linalg.norm(expected)
