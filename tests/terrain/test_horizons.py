"""Horizons: curvature drop, brute-force ray marching, the Ingersoll bowl crater, tiling, files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from falak.errors import InputError
from falak.terrain.dem import MOON_RADIUS_M
from falak.terrain.horizons import horizons, load_horizons, sample_schedule


def brute_force(heights, res, azimuths_deg, step_cells=0.25, eye=0.0):
    """Independent numpy ray marching: fine steps, scipy bilinear, same sphere (R = 1737.4 km).

    Rays stop at the grid edge; tan e = (h(d) − h0)/d − d/2R. Only the fallback for rays with
    no sample at all follows falak's documented convention.
    """
    ny, nx = heights.shape
    rows, cols = np.mgrid[0:ny, 0:nx].astype(float)
    h0 = heights + eye
    n_steps = int(np.hypot(ny, nx) / step_cells) + 1
    out = np.empty((len(azimuths_deg), ny, nx))
    for k, az in enumerate(np.radians(azimuths_deg)):
        best = np.full((ny, nx), -np.inf)
        for i in range(round(1 / step_cells), n_steps + 1):
            d = i * step_cells  # from one cell away, like falak (nearer is the cell itself)
            r = rows - d * np.cos(az)
            c = cols + d * np.sin(az)
            eps = 1e-9  # cos 90° is 6e-17, not 0: a ray along a row edge stays on the grid
            inside = (r >= -eps) & (r <= ny - 1 + eps) & (c >= -eps) & (c <= nx - 1 + eps)
            if not inside.any():
                break
            h = ndimage.map_coordinates(heights, [r, c], order=1, mode="nearest")
            t = (h - h0) / (d * res) - d * res / (2 * MOON_RADIUS_M)
            best = np.where(inside, np.maximum(best, t), best)
        # falak's documented convention for a ray that leaves the DEM at once: smooth sphere
        best = np.where(np.isinf(best), -res / (2 * MOON_RADIUS_M), best)
        out[k] = np.degrees(np.arctan(best))
    return out


def test_flat_sphere_horizon_is_the_nearest_samples_curvature_drop(make_dem):
    """On a smooth sphere every point lies below the horizontal: the sample at distance d is at
    elevation −atan(d/2R) (drop d²/2R over d), largest for the nearest sample, d = 1 cell.
    So every cell's horizon is −atan(res/2R) in every direction — far samples are lower.
    """
    res = 50.0
    hz = horizons(make_dem(np.zeros((40, 40)), res), 24)
    expected = -np.degrees(np.arctan(res / (2 * MOON_RADIUS_M)))
    np.testing.assert_allclose(hz.elevation_deg, expected, rtol=1e-5)
    # With the near field removed (first sample far away) the drop is that of the first sample.
    dist, _ = sample_schedule(2, 40)
    assert dist[0] == 1.0


def test_wall_at_distance_includes_the_drop(make_dem):
    """A 100 m wall 10 km away from a 0 m cell: e = atan((100 − d²/2R)/d) (d²/2R = 28.8 m)."""
    heights = np.zeros((3, 101))
    heights[:, 100] = 100.0
    hz = horizons(make_dem(heights, 100.0), 4, near_cells=128)
    d = 10_000.0
    expected = np.degrees(np.arctan((100.0 - d * d / (2 * MOON_RADIUS_M)) / d))
    assert hz.elevation_deg[1, 1, 0] == pytest.approx(expected, abs=1e-4)  # azimuth 90° = +x


def _cone_and_ridge(n=61, res=10.0):
    y, x = (np.mgrid[0:n, 0:n] - n // 2) * res
    # hyperboloid cone: 80 m high, 250 m base radius, tip rounded over 30 m
    r = np.sqrt(x**2 + y**2 + 30.0**2)
    cone = np.clip(80.0 * (1 - (r - 30.0) / 250.0), 0, None)
    # a ridge 40 m high, 60 m wide, oblique, fading out (σ 120 m) before the DEM's edges, where
    # rays are cut (terrain beyond a DEM is unknown to both methods)
    u = (x * np.cos(0.5) + y * np.sin(0.5)) - 60.0
    v = -x * np.sin(0.5) + y * np.cos(0.5)
    ridge = 40.0 * np.exp(-(u**2) / (2 * 60.0**2) - v**2 / (2 * 120.0**2))
    return cone, ridge


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["cone", "ridge"])
def test_matches_brute_force_ray_marching(make_dem, shape):
    """Full-resolution rays (near field over the whole DEM) agree with a numpy ray march in
    ¼-cell steps to 0.1° wherever the horizon is above −1° (the horizons that decide sunlight
    near the pole, where the Sun stays within ±1.6°), and to 1° everywhere: falak steps one cell
    beyond 8 cells, and looking downhill the farthest kink of bilinear terrain (the cone's
    foot) is caught to half a step. Against the same march in 1-cell steps the only
    difference is the ≤ 4-cell fine sampling."""
    cone, ridge = _cone_and_ridge()
    heights = cone if shape == "cone" else ridge
    azimuths = np.arange(16) * 22.5
    hz = horizons(make_dem(heights, 10.0), 16, near_cells=128)
    reference = brute_force(heights, 10.0, azimuths)
    relevant = reference > -1.0
    assert relevant.mean() > 0.3
    np.testing.assert_allclose(hz.elevation_deg[relevant], reference[relevant], atol=0.1)
    np.testing.assert_allclose(hz.elevation_deg, reference, atol=1.0)


def test_far_field_stays_close_to_brute_force(make_dem):
    """The block-averaged far field (default: beyond 32 cells) on cone + ridge, horizons above
    −1°: mean error < 0.01°, 99 % within 0.1°, all within 0.3° (block means flatten the
    crests they average over; blocks subtend ≤ 2/32 rad)."""
    cone, ridge = _cone_and_ridge()
    heights = cone + ridge
    azimuths = np.arange(8) * 45.0
    hz = horizons(make_dem(heights, 10.0), 8)
    reference = brute_force(heights, 10.0, azimuths)
    error = np.abs(hz.elevation_deg - reference)[reference > -1.0]
    assert error.mean() < 0.01
    assert np.percentile(error, 99) < 0.1
    assert error.max() < 0.3


def _ingersoll_shadow(x, y, a, d, sun_el_deg, sun_az_deg):
    """Shadow in a spherical bowl, exact (Ingersoll, Svitek & Murray 1992, Icarus 100:40).

    The bowl is the cap of a sphere of radius ρ = (a² + d²)/2d (rim radius a, depth d), centre
    b = ρ − d above the rim plane. A point P (from the centre) sees the Sun along unit s when
    the chord from P towards s, which meets the sphere again at Q = P − 2(P·s)s, ends above the
    rim plane: Q_z > −b. Since Q_z = P·n with n = ẑ − 2 sin(e) s (a unit vector: ẑ reflected),
    the shadow is the cap {P·n ≤ −b}: a copy of the bowl tilted by 2e (Ingersoll's result;
    Schörghofer's Topo3D test case). Returns a boolean mask (True = in shadow) for r < a.
    """
    rho = (a * a + d * d) / (2 * d)
    b = rho - d
    e, az = np.radians(sun_el_deg), np.radians(sun_az_deg)
    s = np.array([np.cos(e) * np.sin(az), np.cos(e) * np.cos(az), np.sin(e)])
    n = np.array([0.0, 0.0, 1.0]) - 2 * np.sin(e) * s
    pz = -np.sqrt(np.clip(rho * rho - x * x - y * y, 0, None))
    return x * n[0] + y * n[1] + pz * n[2] <= -b


@pytest.mark.parametrize("sun_el_deg", [5.0, 15.0, 30.0])
def test_bowl_crater_shadow_matches_ingersoll(make_dem, sun_el_deg):
    """d/D = 1:5 bowl, 81 × 81 cells at 5 m, 180 azimuths (REFERENCES.md, Topo3D test case).

    The shadow fraction of the crater (projected area) from horizons must equal the analytic
    fraction (dense 1201² quadrature of the exact criterion) within the share of cells the
    shadow edge crosses (1–3.5 % here); cell by cell, ≥ 97 % agree.
    """
    n, res = 81, 5.0
    a = 0.5 * 70 * res  # 175 m rim radius (350 m diameter) inside the 405 m grid
    depth = 0.2 * 2 * a
    rho = (a * a + depth * depth) / (2 * depth)
    y, x = (np.mgrid[0:n, 0:n] - n // 2) * res
    y = -y  # rows go down; +y is up
    r2 = x * x + y * y
    heights = np.where(r2 < a * a, (rho - depth) - np.sqrt(np.clip(rho**2 - r2, 0, None)), 0.0)
    # near field over the whole grid, as Topo3D does (the default far field, block means
    # beyond 32 cells, blunts the far rim's sharp crest: −0.02 in shadow fraction at 30°)
    hz = horizons(make_dem(heights, res), 180, near_cells=128)
    sun_az = 30.0
    k = round(sun_az / 2.0)
    shadow_dem = hz.elevation_deg[k] > sun_el_deg
    inside = r2 < a * a
    exact_cells = _ingersoll_shadow(x, y, a, depth, sun_el_deg, sun_az)
    fine = np.linspace(-a, a, 1201)
    fx, fy = np.meshgrid(fine, fine)
    fin = fx**2 + fy**2 < a * a
    exact_fraction = _ingersoll_shadow(fx, fy, a, depth, sun_el_deg, sun_az)[fin].mean()
    # Tolerance: the share of cells the analytic shadow edge crosses (their corners disagree),
    # as the DEM cannot place the edge better than a cell; the bilinear DEM also cuts the sharp
    # rim crest, so its shadow is the smaller one (a bias of about one edge cell).
    corners = [
        _ingersoll_shadow(x + dx, y + dy, a, depth, sun_el_deg, sun_az)
        for dx in (-res / 2, res / 2)
        for dy in (-res / 2, res / 2)
    ]
    straddle = (~(np.all(corners, axis=0) | ~np.any(corners, axis=0)))[inside].mean()
    assert 0.01 < straddle < 0.04
    assert shadow_dem[inside].mean() == pytest.approx(exact_fraction, abs=straddle + 0.005)
    agree = (shadow_dem[inside] == exact_cells[inside]).mean()
    assert agree >= 0.97
    assert not shadow_dem[~inside & (r2 > (a + 3 * res) ** 2)].any()


def test_tiled_equals_untiled_and_file_round_trip(make_dem, tmp_path):
    cone, ridge = _cone_and_ridge(n=150, res=10.0)
    dem = make_dem(cone + ridge, 10.0)
    whole = horizons(dem, 12, 700.0)
    seen = []
    tiled = horizons(dem, 12, 700.0, tile_size=64, progress=seen.append)
    np.testing.assert_array_equal(tiled.elevation_deg, whole.elevation_deg)
    assert seen[-1] == pytest.approx(1.0)
    path = whole.save(tmp_path / "h.npz")
    back = load_horizons(path)
    np.testing.assert_array_equal(back.elevation_deg, whole.elevation_deg)
    assert back.transform == dem.transform
    assert repr(back) == "Horizons(12 azimuths × 150x150 cells, max distance 700 m)"


def test_nan_holes_are_filled_and_bad_arguments(make_dem, tmp_path):
    heights = np.zeros((20, 20))
    heights[5:8, 5:8] = np.nan
    hz = horizons(make_dem(heights, 5.0), 8)
    assert np.isfinite(hz.elevation_deg).all()
    with pytest.raises(InputError, match="n_azimuths"):
        horizons(make_dem(heights, 5.0), 2)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    with pytest.raises(InputError, match="not a falak horizons file"):
        load_horizons(bad)
