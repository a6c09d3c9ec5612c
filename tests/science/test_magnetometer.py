"""Magnetometer science on arrays, against the orbiter simulator's own instrument and truth.

Sources: the simulator's fluxgate model and constants (falak.sim.orbiter_instruments:
MAG_OFFSETS_NT, MAG_SCALE, MAG_MISALIGNMENT_DEG, 0.1 nT noise) and the dipole field of
Jackson 3rd ed. eq. 5.56.
"""

from __future__ import annotations

import numpy as np

from falak.science import magnetometer as mg
from falak.sim.orbiter_instruments import (
    MAG_OFFSETS_NT,
    MAG_SCALE,
    CrustalField,
    Magnetometer,
    dipole_field_nt,
)


def _reference(n: int, rng: np.random.Generator) -> np.ndarray:
    # a 50 nT reference field seen from a rotating attitude: all directions
    u = rng.normal(size=(n, 3))
    return 50.0 * u / np.linalg.norm(u, axis=1)[:, None]


def test_calibration_recovers_the_simulators_instrument() -> None:
    rng = np.random.default_rng(1)
    mag = Magnetometer(rng)
    ref = _reference(5000, rng)
    cal = mg.calibrate_vector(mag.measure(ref), ref)
    # tolerances: 0.1 nT noise over 5000 samples -> offsets to ~0.01 nT, gains to ~1e-4
    np.testing.assert_allclose(cal.offset_nt, MAG_OFFSETS_NT, atol=0.02)
    np.testing.assert_allclose(cal.scale, MAG_SCALE, atol=3e-4)
    np.testing.assert_allclose(cal.misalignment, mag.misalignment, atol=3e-4)
    assert 0.08 < cal.rms_nt < 0.12
    np.testing.assert_allclose(cal.apply(mag.measure(ref)), ref, atol=0.6)


def test_calibration_of_a_perfect_instrument_is_identity() -> None:
    rng = np.random.default_rng(2)
    ref = _reference(2000, rng)
    raw = ref + rng.normal(0, 0.1, ref.shape)
    cal = mg.calibrate_vector(raw, ref)
    np.testing.assert_allclose(cal.gain, np.eye(3), atol=3e-4)
    np.testing.assert_allclose(cal.offset_nt, 0.0, atol=0.02)


def test_offsets_from_quiet_apolune_readings() -> None:
    mag = Magnetometer(np.random.default_rng(3))
    raw = mag.measure(np.zeros((3000, 3)))  # < 0.001 nT at apolune (sim doc)
    np.testing.assert_allclose(mg.offsets_from_quiet(raw), MAG_OFFSETS_NT, atol=0.01)


def test_body_to_me_rotation_inverts_the_attitude() -> None:
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.normal(size=(10, 3, 3)))
    q2, _ = np.linalg.qr(rng.normal(size=(10, 3, 3)))
    b_me = rng.normal(size=(10, 3))
    b_icrf = np.einsum("nji,nj->ni", q2, b_me)  # icrf_to_me = q2
    b_body = np.einsum("nij,nj->ni", q, b_icrf)  # rows of q are body axes in ICRF
    np.testing.assert_allclose(mg.body_to_me(q, q2, b_body), b_me, atol=1e-12)


def test_grid_map_means_and_counts() -> None:
    mean, count, _, _ = mg.grid_map(
        np.array([1.0, 2.0, -50.0]), np.array([1.0, 3.0, 190.0]), np.array([2.0, 4.0, 7.0])
    )
    assert count.sum() == 3
    assert np.nanmax(mean) == 7.0
    assert 3.0 in mean  # (2 + 4) / 2 in one bin


def test_inversion_recovers_known_dipoles_from_passes() -> None:
    rng = np.random.default_rng(5)
    cands = mg.candidate_grid((-10, 10), (-10, 10), 2.0, 30.0)
    true_idx = np.array([12, 60, 100])
    moments = rng.normal(size=(3, 3)) * 1e14
    lat = rng.uniform(-12, 12, 4000)
    lon = rng.uniform(-12, 12, 4000)
    r = mg.MOON_RADIUS_KM + 30.0
    la, lo = np.radians(lat), np.radians(lon)
    at = np.stack([r * np.cos(la) * np.cos(lo), r * np.cos(la) * np.sin(lo), r * np.sin(la)], 1)
    b = dipole_field_nt(moments, cands[true_idx], at) + rng.normal(0, 0.1, at.shape)
    fit = mg.invert_dipoles(at, b, cands, lam=1e-4)
    # predicted field at altitude within 0.2 nT rms (noise 0.1 nT)
    assert fit.rms_nt < 0.2
    assert set(fit.strongest(3)) == set(true_idx)
    np.testing.assert_allclose(fit.moments_am2[true_idx], moments, rtol=0.1, atol=5e12)


def test_inversion_on_the_simulator_truth_patch() -> None:
    truth = CrustalField.build(0)
    lat_t, lon_t, _ = mg.lat_lon_alt(truth.centres_km)
    strongest = int(np.argmax(np.linalg.norm(truth.moments_am2, axis=1)))
    la0, lo0 = lat_t[strongest], lon_t[strongest]
    rng = np.random.default_rng(6)
    lat = la0 + rng.uniform(-8, 8, 3000)
    lon = lo0 + rng.uniform(-8, 8, 3000)
    r = mg.MOON_RADIUS_KM + 30.0
    la, lo = np.radians(lat), np.radians(lon)
    at = np.stack([r * np.cos(la) * np.cos(lo), r * np.cos(la) * np.sin(lo), r * np.sin(la)], 1)
    b = truth.field_nt(at)
    cands = mg.candidate_grid((la0 - 10, la0 + 10), (lo0 - 10, lo0 + 10), 1.0, 25.0)
    fit = mg.invert_dipoles(at, b, cands, lam=1e-4)
    assert np.sqrt(np.mean((fit.field_nt(at) - b) ** 2)) < 0.5  # nT
    best = cands[fit.strongest(1)[0]]
    # the strongest recovered source lies within 60 km (about two 1-degree grid steps) of a
    # true dipole: neighbouring true sources of similar moment make "the" strongest ambiguous
    assert np.min(np.linalg.norm(truth.centres_km - best, axis=1)) < 60.0
