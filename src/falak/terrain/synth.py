"""Synthetic lunar south-pole terrain: falak's embedded default DEM.

:func:`synthesize` builds a reproducible (seeded) DEM in LOLA's south-polar stereographic
projection from five ingredients, summed:

1. **Large-scale relief**: a few massifs (broad Gaussian domes) and a ridge (an elongated
   Gaussian), sized from the DEM extent, slopes of a few degrees; optionally **Shackleton**
   (rim diameter 21 km, rim-to-floor depth 4.2 km) at its real centre, 89.66°S 129.20°E
   (Zuber et al. 2012, Nature 486:378).
2. **Craters** drawn from the Neukum et al. (2001) lunar production function, whose polynomial
   coefficients are read from craterstats' ``config/functions.txt`` (valid 10 m – 300 km),
   scaled to the surface age with Neukum's chronology ``N(1 km) = 5.44e−14 (e^{6.93 T} − 1) +
   8.38e−4 T`` per km² (same file). Each crater gets a formation age drawn from the impact flux
   over the surface's life (the derivative of that chronology).
3. **Crater shape**: fresh simple craters with rim-to-floor depth 0.2 D (Pike 1977) and rim
   height 0.036 D above the surroundings (Pike 1977): a paraboloid bowl inside the rim, ejecta
   falling off as (r/R)⁻³ (McGetchin et al. 1973) out to 3 R. **Degradation** is topographic
   diffusion for the crater's age: each crater is smoothed with a Gaussian of σ = √(2κt),
   κ = 5.5 m²/Myr (Fassett & Thomson 2014, JGR Planets 119:2255), so old small craters fade
   away as on the real Moon. Craters whose estimated remaining depth is < 5 cm are not drawn
   (they stay in the list, with ``depth_m`` 0).
4. **Rocks** with a power-law cumulative size distribution ``N(>D) = n₁ D⁻ᵖ`` per m² (D in m;
   default n₁ = 10⁻³, p = 2.5, in the range of Surveyor counts, Shoemaker & Morris 1969),
   uniformly placed. Rocks at least one cell wide are drawn as half-buried spheres (height
   D/2); all are kept in :attr:`Dem.rocks` for the hazard map.
5. **Fractal roughness**: a fractional-Brownian surface by spectral synthesis (amplitude ∝
   k^−(H+1)), Hurst exponent H = 0.85 (LOLA: 0.8–0.95 at 17 m–2.7 km, Rosenburg et al. 2011),
   scaled so that heights 10 m apart differ by ``roughness_m_at_10m`` RMS.

Heights are metres above the 1737.4 km sphere; coordinates are projected metres. The small
scale distortion of the projection (k = 1 + ρ²/4R², < 2e−5 within 15 km of the pole) is ignored.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from affine import Affine  # type: ignore[import-untyped]  # ships no type information
from numpy.typing import NDArray

from falak.errors import InputError
from falak.terrain.dem import Craters, Dem, Rocks, latlon_to_xy

__all__ = [
    "NEUKUM_2001",
    "PIKE_DEPTH_RATIO",
    "PIKE_RIM_RATIO",
    "SHACKLETON_CENTER_LAT_LON",
    "cumulative_production_per_km2",
    "fresh_crater_profile",
    "production_coefficients",
    "synthesize",
]

NEUKUM_2001 = "Moon, Neukum et al. (2001)"
#: Rim-to-floor depth / rim diameter of fresh simple lunar craters (Pike 1977).
PIKE_DEPTH_RATIO = 0.2
#: Rim height above the surroundings / rim diameter (Pike 1977, h = 0.036 D^1.014).
PIKE_RIM_RATIO = 0.036
#: Shackleton crater centre (Zuber et al. 2012, Nature 486:378), rim diameter and depth.
SHACKLETON_CENTER_LAT_LON = (-89.66, 129.20)
SHACKLETON_DIAMETER_M = 21_000.0
SHACKLETON_DEPTH_M = 4_200.0
#: Topographic diffusivity of the lunar surface (Fassett & Thomson 2014), m²/Myr.
DIFFUSIVITY_M2_PER_MYR = 5.5
#: Neukum chronology: N(>1 km) per km² = a (exp(b T) − 1) + c T (craterstats functions.txt).
_CHRONO_A, _CHRONO_B, _CHRONO_C = 5.44e-14, 6.93, 8.38e-4
_PF_RANGE_KM = (0.01, 300.0)
_EJECTA_OUTER = 3.0
#: Most rocks listed by default (the minimum rock size grows on large DEMs to keep to it).
MAX_ROCKS = 2_000_000  # ejecta blanket drawn out to 3 rim radii


@lru_cache(maxsize=4)
def production_coefficients(name: str = NEUKUM_2001) -> tuple[float, ...]:
    """Read a production function's polynomial coefficients from craterstats' functions.txt.

    Returns ``a₀ … a₁₁`` of ``log10 N(>D) = Σ aⱼ (log10 D)ʲ`` (N per km² at 1 Ga, D in km).
    Read as text (no craterstats import: its ``scipy.integrate.simps`` import fails on SciPy
    ≥ 1.14).
    """
    spec = importlib.util.find_spec("craterstats")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise InputError("craterstats is not installed; pip install craterstats")
    functions = Path(next(iter(spec.submodule_search_locations))) / "config" / "functions.txt"
    text = functions.read_text("utf-8")
    for block in re.findall(r"production=\{(.*?)\}", text, flags=re.S):
        if re.search(r"name='" + re.escape(name) + "'", block):
            match = re.search(r"coefficients=\*?\[([^\]]*)\]", block)
            if match:
                return tuple(float(v) for v in match.group(1).split(","))
    raise InputError(f"production function {name!r} not found in craterstats functions.txt")


def _chronology_n1(age_ga: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Neukum (1983/2001) chronology: cumulative N(>1 km) per km² for a surface of age T (Ga)."""
    t = np.asarray(age_ga, dtype=float)
    n1: NDArray[np.float64] = _CHRONO_A * (np.exp(_CHRONO_B * t) - 1.0) + _CHRONO_C * t
    return n1


def cumulative_production_per_km2(
    diameter_m: NDArray[np.float64] | float, age_ga: float = 1.0, name: str = NEUKUM_2001
) -> NDArray[np.float64]:
    """Cumulative crater density N(>D) per km² on a surface of ``age_ga`` (Neukum PF × chronology).

    The production function is given at 1 Ga; other ages scale it by N₁(T)/N₁(1 Ga).
    """
    coefficients = production_coefficients(name)
    x = np.log10(np.asarray(diameter_m, dtype=float) / 1e3)
    log_n = np.zeros_like(x)
    for power, a in enumerate(coefficients):
        log_n = log_n + a * x**power
    density: NDArray[np.float64] = 10.0**log_n * (_chronology_n1(age_ga) / _chronology_n1(1.0))
    return density


def fresh_crater_profile(
    r_over_radius: NDArray[np.float64], diameter_m: float, depth_m: float | None = None
) -> NDArray[np.float64]:
    """Height (m) of a fresh simple crater vs r/R, relative to the pre-impact surface.

    Paraboloid bowl from the floor (rim − depth) to the rim crest (``PIKE_RIM_RATIO`` D) at
    r = R, then ejecta falling off as (r/R)⁻³ to zero at 3 R. ``depth_m`` (rim-to-floor)
    defaults to 0.2 D.
    """
    depth = PIKE_DEPTH_RATIO * diameter_m if depth_m is None else depth_m
    rim = PIKE_RIM_RATIO * diameter_m
    s = np.asarray(r_over_radius, dtype=float)
    inside = rim - depth + depth * s**2
    cut = _EJECTA_OUTER**-3
    outside = rim * (np.maximum(s, 1.0) ** -3 - cut) / (1.0 - cut)
    profile: NDArray[np.float64] = np.where(
        s <= 1.0, inside, np.where(s < _EJECTA_OUTER, outside, 0.0)
    )
    return profile


def _draw_power_of_cdf(
    rng: np.random.Generator,
    count: int,
    grid: NDArray[np.float64],
    cumulative: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Draw values distributed as the cumulative N(>x) given on an increasing grid."""
    u = rng.random(count)
    share = cumulative / cumulative[0]  # 1 → 0 along the grid
    # Interpolate log x against the share (decreasing); np.interp needs it increasing.
    return np.exp(np.interp(u, share[::-1], np.log(grid[::-1])))


def _fractal(
    rng: np.random.Generator, ny: int, nx: int, resolution_m: float, hurst: float, rms_10m: float
) -> NDArray[np.float64]:
    """Fractional-Brownian surface by spectral synthesis, scaled to ``rms_10m`` at 10 m lag."""
    if rms_10m == 0:
        return np.zeros((ny, nx))
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = np.inf
    amplitude = k ** (-(hurst + 1.0))
    noise = rng.standard_normal((ny, nx // 2 + 1)) + 1j * rng.standard_normal((ny, nx // 2 + 1))
    field: NDArray[np.float64] = np.fft.irfft2(noise * amplitude, s=(ny, nx))
    lag = max(1, round(10.0 / resolution_m))
    lag = min(lag, max(1, nx // 4))
    diff = field[:, lag:] - field[:, :-lag]
    rms = float(np.sqrt(np.mean(diff**2)))
    expected = rms_10m * (lag * resolution_m / 10.0) ** hurst
    scaled: NDArray[np.float64] = field * (expected / rms)
    return scaled


def _relief(
    rng: np.random.Generator, x: NDArray[np.float64], y: NDArray[np.float64], extent_m: float
) -> NDArray[np.float64]:
    """Two massifs and a ridge scaled to the DEM extent (slopes of a few degrees)."""
    xc, yc = float(x.mean()), float(y.mean())
    z = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    for _ in range(2):
        sigma = rng.uniform(0.15, 0.3) * extent_m
        height = rng.uniform(0.05, 0.15) * sigma
        cx, cy = xc + rng.uniform(-0.5, 0.5) * extent_m, yc + rng.uniform(-0.5, 0.5) * extent_m
        z = z + height * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    angle = rng.uniform(0, np.pi)
    across, along = 0.08 * extent_m, 0.6 * extent_m
    u = (x - xc) * np.cos(angle) + (y - yc) * np.sin(angle)
    v = -(x - xc) * np.sin(angle) + (y - yc) * np.cos(angle)
    ridge_height = rng.uniform(0.1, 0.25) * across
    ridge: NDArray[np.float64] = ridge_height * np.exp(
        -(u**2) / (2 * along**2) - v**2 / (2 * across**2)
    )
    return z + ridge


def _stamp(
    target: NDArray[np.float64],
    transform: Affine,
    x_m: float,
    y_m: float,
    reach_m: float,
    shape_fn: object,
) -> None:
    """Add ``shape_fn(r_m)`` to ``target`` in the window within ``reach_m`` of (x, y)."""
    res = transform.a
    ny, nx = target.shape
    c0 = max(0, math.floor((x_m - reach_m - transform.c) / res))
    c1 = min(nx, math.ceil((x_m + reach_m - transform.c) / res) + 1)
    r0 = max(0, math.floor((transform.f - (y_m + reach_m)) / res))
    r1 = min(ny, math.ceil((transform.f - (y_m - reach_m)) / res) + 1)
    if c0 >= c1 or r0 >= r1:
        return
    xs = transform.c + res * (np.arange(c0, c1) + 0.5)
    ys = transform.f - res * (np.arange(r0, r1) + 0.5)
    r = np.hypot(xs[None, :] - x_m, ys[:, None] - y_m)
    target[r0:r1, c0:c1] += shape_fn(r)  # type: ignore[operator]  # a callable on arrays


def synthesize(
    size: int | Sequence[int],
    resolution_m: float,
    center_lat_lon: tuple[float, float] = (-89.9, 0.0),
    seed: int = 0,
    shackleton: bool = False,
    *,
    surface_age_ga: float = 3.5,
    min_crater_diameter_m: float | None = None,
    hurst: float = 0.85,
    roughness_m_at_10m: float = 0.3,
    rock_density_per_m2: float = 1e-3,
    rock_exponent: float = 2.5,
    min_rock_diameter_m: float | None = None,
    diffusivity_m2_per_myr: float = DIFFUSIVITY_M2_PER_MYR,
    relief: bool = True,
) -> Dem:
    """Generate a synthetic south-pole DEM (see the module text for the model and sources).

    Parameters
    ----------
    size
        Cells per side (N gives N × N) or ``(ny, nx)``.
    resolution_m
        Cell size, metres.
    center_lat_lon
        Selenographic latitude/east longitude of the grid centre, degrees.
    seed
        Seed of the random generator; the same arguments give the same DEM bit for bit.
    shackleton
        Add Shackleton crater (21 km, 4.2 km deep) at its real centre; the DEM must reach it.
    surface_age_ga
        Age of the surface (Ga), which sets crater density and the ages craters are drawn from.
    min_crater_diameter_m
        Smallest crater drawn; default 3 cells, never below the production function's 10 m.
    hurst, roughness_m_at_10m
        Hurst exponent and RMS height difference at 10 m of the fractal roughness.
    rock_density_per_m2, rock_exponent, min_rock_diameter_m
        Rocks: ``N(>D) = rock_density_per_m2 · D^−rock_exponent`` per m², D ≥ the minimum (m).
        The minimum defaults to 0.3 m (a 0.15 m high rock, the default rover's clearance),
        raised on large DEMs so that at most 2 million rocks are listed.
    diffusivity_m2_per_myr
        Topographic diffusivity for crater degradation (0 keeps every crater fresh).
    relief
        Add massifs and a ridge.
    """
    ny, nx = (int(size), int(size)) if isinstance(size, int | np.integer) else map(int, size)
    if ny < 8 or nx < 8 or ny * nx > 64_000_000:
        raise InputError(f"size must be 8 … 8000 cells per side, got {ny} × {nx}")
    if not (math.isfinite(resolution_m) and resolution_m > 0):
        raise InputError(f"resolution must be a positive number of metres, got {resolution_m}")
    lat0, lon0 = center_lat_lon
    if not -90.0 <= lat0 <= -60.0:
        raise InputError(
            f"centre latitude {lat0}° is outside −90…−60°; the south-polar stereographic "
            "projection is for the south-pole region"
        )
    if not 0.0 < surface_age_ga <= 4.5:
        raise InputError(f"surface age must be within 0…4.5 Ga, got {surface_age_ga}")
    rng = np.random.default_rng(seed)
    cx, cy = (float(v) for v in latlon_to_xy(lat0, lon0))
    transform = Affine(
        resolution_m,
        0.0,
        cx - nx * resolution_m / 2,
        0.0,
        -resolution_m,
        cy + ny * resolution_m / 2,
    )
    x = transform.c + resolution_m * (np.arange(nx) + 0.5)
    y = transform.f - resolution_m * (np.arange(ny) + 0.5)
    area_km2 = nx * ny * resolution_m**2 / 1e6
    extent_m = max(nx, ny) * resolution_m
    height = np.zeros((ny, nx))

    # 1. Large-scale relief.
    if relief:
        height += _relief(rng, x[None, :], y[:, None], extent_m)

    # 2.–3. Craters: sizes from the production function, ages from the flux history.
    d_min = max(min_crater_diameter_m or 3 * resolution_m, _PF_RANGE_KM[0] * 1e3)
    d_max = min(extent_m, _PF_RANGE_KM[1] * 1e3)
    craters = Craters(*(np.zeros(0) for _ in range(5)))
    if d_min < d_max:
        grid = np.geomspace(d_min, d_max, 400)
        cumulative = cumulative_production_per_km2(grid, surface_age_ga) * area_km2
        count = int(rng.poisson(cumulative[0] - cumulative[-1]))
        diameters = _draw_power_of_cdf(rng, count, grid, cumulative - cumulative[-1])
        t_grid = np.linspace(0.0, surface_age_ga, 2001)
        n1 = _chronology_n1(t_grid)
        ages = np.interp(rng.random(count) * n1[-1], n1, t_grid)
        cx_m = transform.c + rng.random(count) * nx * resolution_m
        cy_m = transform.f - rng.random(count) * ny * resolution_m
        sigma_m = np.sqrt(2.0 * diffusivity_m2_per_myr * ages * 1e3)
        radius = diameters / 2
        depth = PIKE_DEPTH_RATIO * diameters * radius**2 / (radius**2 + 4 * sigma_m**2)
        depth = np.where(depth >= 0.05, depth, 0.0)
        craters = Craters(cx_m, cy_m, diameters, ages, depth)
        _draw_craters(height, transform, craters, sigma_m)

    if shackleton:
        sx, sy = (float(v) for v in latlon_to_xy(*SHACKLETON_CENTER_LAT_LON))
        reach = SHACKLETON_DIAMETER_M / 2 * _EJECTA_OUTER
        rim = 1.2 * SHACKLETON_DIAMETER_M / 2  # its rim must reach into the DEM
        if not (x[0] - rim < sx < x[-1] + rim and y[-1] - rim < sy < y[0] + rim):
            raise InputError(
                f"Shackleton (centre {SHACKLETON_CENTER_LAT_LON[0]}°, "
                f"{SHACKLETON_CENTER_LAT_LON[1]}°E) is outside this DEM; enlarge it or move "
                "its centre towards the pole (e.g. --center -89.7,130)"
            )

        def shackleton_shape(r: NDArray[np.float64]) -> NDArray[np.float64]:
            return fresh_crater_profile(
                r / (SHACKLETON_DIAMETER_M / 2), SHACKLETON_DIAMETER_M, SHACKLETON_DEPTH_M
            )

        _stamp(height, transform, sx, sy, reach, shackleton_shape)

    # 4. Rocks.
    if min_rock_diameter_m is None:
        area_m2 = area_km2 * 1e6
        cap = (rock_density_per_m2 * area_m2 / MAX_ROCKS) ** (1 / rock_exponent)
        min_rock_diameter_m = max(0.3, cap)
    rock_count = int(rng.poisson(rock_density_per_m2 * min_rock_diameter_m**-rock_exponent
                                 * area_km2 * 1e6))  # fmt: skip
    rock_d = min_rock_diameter_m * rng.random(rock_count) ** (-1.0 / rock_exponent)
    rocks = Rocks(
        transform.c + rng.random(rock_count) * nx * resolution_m,
        transform.f - rng.random(rock_count) * ny * resolution_m,
        rock_d,
    )
    for i in np.nonzero(rock_d >= resolution_m)[0]:
        radius_m = rock_d[i] / 2

        def boulder(r: NDArray[np.float64], a: float = radius_m) -> NDArray[np.float64]:
            return np.sqrt(np.clip(a * a - r * r, 0.0, None))

        _stamp(height, transform, rocks.x_m[i], rocks.y_m[i], radius_m, boulder)

    # 5. Fractal roughness.
    height += _fractal(rng, ny, nx, resolution_m, hurst, roughness_m_at_10m)
    return Dem(
        height.astype(np.float32),
        transform,
        craters=craters,
        rocks=rocks,
        source=f"synth(size={ny}x{nx}, resolution_m={resolution_m:g}, seed={seed})",
    )


def _draw_craters(
    height: NDArray[np.float64], transform: Affine, craters: Craters, sigma_m: NDArray[np.float64]
) -> None:
    """Add every visible crater; craters of similar age are diffused together (linearity)."""
    from scipy import ndimage

    res = transform.a
    drawn = np.nonzero(craters.depth_m > 0)[0]
    if drawn.size == 0:
        return
    # Diffusion is linear: stamp fresh craters in bins of similar σ, then blur each bin once.
    sigma_cells = sigma_m[drawn] / res
    bins = np.where(
        sigma_cells < 0.3, -1, np.floor(np.log(np.maximum(sigma_cells, 0.3) / 0.3) / np.log(1.25))
    ).astype(int)
    for b in np.unique(bins):
        layer = np.zeros_like(height)
        for i in drawn[bins == b]:
            diameter = float(craters.diameter_m[i])

            def shape(r: NDArray[np.float64], d: float = diameter) -> NDArray[np.float64]:
                return fresh_crater_profile(r / (d / 2), d)

            _stamp(layer, transform, craters.x_m[i], craters.y_m[i], diameter * 1.5, shape)
        if b >= 0:
            layer = ndimage.gaussian_filter(layer, 0.3 * 1.25 ** (b + 0.5), mode="constant")
        height += layer
