"""Synthetic south-pole terrain: crater population, crater shapes, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from falak.errors import InputError
from falak.terrain.synth import (
    PIKE_DEPTH_RATIO,
    cumulative_production_per_km2,
    production_coefficients,
    synthesize,
)


def test_neukum_coefficients_read_from_craterstats():
    """a0 = −3.0768 (REFERENCES.md; Neukum et al. 2001 as corrected in craterstats)."""
    a = production_coefficients()
    assert len(a) == 12
    assert a[0] == pytest.approx(-3.0768)
    # By definition N(>1 km) at 1 Ga is 10**a0; the chronology (same file) gives 8.38e-4 /km².
    assert cumulative_production_per_km2(1000.0, 1.0) == pytest.approx(10**-3.0768, rel=1e-9)
    assert pytest.approx(8.38e-4, rel=1e-3) == 10**-3.0768


def test_same_seed_same_terrain_other_seed_other_terrain():
    a = synthesize(48, 5.0, seed=7)
    b = synthesize(48, 5.0, seed=7)
    c = synthesize(48, 5.0, seed=8)
    np.testing.assert_array_equal(a.height_m, b.height_m)
    assert not np.array_equal(a.height_m, c.height_m)


def test_crater_population_follows_the_production_function():
    """Cumulative counts N(>D) of the drawn craters match PF × area within Poisson error.

    Reference: Neukum et al. (2001) PF, coefficients from craterstats functions.txt, scaled to
    3.5 Ga with Neukum's chronology. Tolerance 4 σ of a Poisson count (σ = √expected); the
    counts at different D are nested, so one 4 σ band per D is conservative.
    """
    dem = synthesize(400, 5.0, seed=11, relief=False, roughness_m_at_10m=0.0)
    area_km2 = 400 * 400 * 25.0 / 1e6
    d = dem.craters.diameter_m
    d_max = 400 * 5.0
    for diameter in (15.0, 20.0, 30.0, 50.0, 100.0, 200.0):
        expected = (
            cumulative_production_per_km2(diameter, 3.5) - cumulative_production_per_km2(d_max, 3.5)
        ) * area_km2
        observed = np.count_nonzero(d > diameter)
        assert abs(observed - expected) < 4 * np.sqrt(expected) + 1, (diameter, observed, expected)
    # Ages lie within the surface age; most craters are old (early heavy bombardment).
    assert dem.craters.age_ga.min() >= 0
    assert dem.craters.age_ga.max() <= 3.5
    assert np.median(dem.craters.age_ga) > 2.5


def _measured_depth_ratio(dem, i):
    """Rim crest (mean of the ring 0.9–1.1 R's high points) minus floor, over D."""
    x, y, diameter = dem.craters.x_m[i], dem.craters.y_m[i], dem.craters.diameter_m[i]
    xx, yy = np.meshgrid(dem.x_m, dem.y_m)
    r = np.hypot(xx - x, yy - y) / (diameter / 2)
    floor = dem.height_m[r < 0.15].min()
    ring = dem.height_m[(r > 0.9) & (r < 1.1)]
    rim = np.percentile(ring, 90)
    return (rim - floor) / diameter


def test_fresh_craters_keep_pike_depth_ratio():
    """Fresh (undegraded) craters measured on the DEM have d/D ≈ 0.2 (Pike 1977).

    A young (0.2 Ga), sparsely cratered surface, so that craters seldom overlap.
    Tolerance 0.02: the bowl's floor and rim crest fall between cell centres (≤ 1 % of D for
    D ≥ 20 cells), roughness of 0.1 m RMS and overlapping neighbours.
    """
    dem = synthesize(
        400, 1.0, seed=5, relief=False, roughness_m_at_10m=0.1, diffusivity_m2_per_myr=0.0,
        min_crater_diameter_m=10.0, rock_density_per_m2=0.0, surface_age_ga=0.2,
    )  # fmt: skip
    c = dem.craters
    inside = (
        (c.x_m - c.diameter_m > dem.x_m[0]) & (c.x_m + c.diameter_m < dem.x_m[-1])
        & (c.y_m - c.diameter_m > dem.y_m[-1]) & (c.y_m + c.diameter_m < dem.y_m[0])
    )  # fmt: skip
    big = np.nonzero(inside & (c.diameter_m >= 20.0))[0]
    assert big.size >= 3
    ratios = [_measured_depth_ratio(dem, i) for i in big]
    assert np.median(ratios) == pytest.approx(PIKE_DEPTH_RATIO, abs=0.02)


def test_old_craters_are_degraded():
    """Diffusion (κ = 5.5 m²/Myr) leaves old 30–60 m craters much shallower than fresh ones."""
    dem = synthesize(256, 2.0, seed=5, relief=False, roughness_m_at_10m=0.0,
                     rock_density_per_m2=0.0)  # fmt: skip
    c = dem.craters
    old = (c.age_ga > 3.0) & (c.diameter_m > 30) & (c.diameter_m < 60)
    assert old.any()
    assert np.all(c.depth_m[old] < 0.25 * PIKE_DEPTH_RATIO * c.diameter_m[old])


def test_rocks_follow_the_power_law_and_are_listed():
    """N(>D) ∝ D^-2.5: the share above 2 D_min is 2^-2.5 = 0.177 (binomial 4 σ tolerance)."""
    dem = synthesize(200, 2.0, seed=1, relief=False)
    d = dem.rocks.diameter_m
    assert d.min() >= 0.3
    share = np.mean(d > 0.6)
    sigma = np.sqrt(0.177 * (1 - 0.177) / d.size)
    assert abs(share - 2**-2.5) < 4 * sigma


def test_shackleton_where_asked():
    dem = synthesize(64, 400.0, center_lat_lon=(-89.7, 130.0), seed=0, shackleton=True)
    relief = np.nanmax(dem.height_m) - np.nanmin(dem.height_m)
    assert 3500 < relief < 5500  # 4.2 km deep plus rim and surroundings
    with pytest.raises(InputError, match=r"Shackleton .* is outside this DEM"):
        synthesize(32, 5.0, center_lat_lon=(-89.0, 0.0), seed=0, shackleton=True)


def test_bad_arguments():
    with pytest.raises(InputError, match="south-pole region"):
        synthesize(32, 5.0, center_lat_lon=(10.0, 0.0))
    with pytest.raises(InputError, match="resolution"):
        synthesize(32, -1.0)
