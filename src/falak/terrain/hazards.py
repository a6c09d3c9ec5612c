"""Slope, roughness, step and rock hazards, and a traversability cost map, for a rover.

For every cell, a plane is fitted by least squares to the heights in a square *footprint* of
``w × w`` cells centred on it, ``w`` the odd number of cells covering the rover's wheel base
(at least 3, so on a DEM coarser than the rover the slope is over 3 cells, which smooths it;
use a DEM with cells ≤ wheel base / 3 for rover-scale slopes):

* ``slope_deg``: the tilt of that plane;
* ``roughness_m``: RMS of the heights about the plane;
* ``step_m``: highest minus lowest height *about the plane* in the footprint (a step the
  chassis must clear; the plane's own tilt is not counted twice);
* ``rock``: a rock taller than the clearance inside the footprint. Rocks come from the DEM's
  rock list (synthetic DEMs: height = D/2, half-buried); a DEM without one gets rocks
  *detected* as local maxima standing more than the clearance above their footprint plane;
* ``impassable``: slope > ``max_slope_deg``, step > ``clearance_m``, a rock, or no data (NaN
  cells of the DEM are filled for the plane fits by :func:`~falak.terrain.dem.fill_holes` and
  then marked impassable: unknown ground is never driven on);
* ``cost``: ``1 + 2 (slope/max_slope)² + roughness/clearance`` (dimensionless, a multiplier of
  distance driven), ``inf`` where impassable.

Default rover (:class:`Rover`): a ~35 kg class (Chang'e-8's Pakistani rover, SUPARCO as
reported): wheel base 0.5 m, ground clearance 0.15 m, maximum slope 20°. These are falak's
assumed values for that class, not published specifications; change them to the real rover's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError
from falak.terrain.dem import Dem, fill_holes

__all__ = ["HazardMaps", "Rover", "footprint_cells", "hazards"]

_SLOPE_WEIGHT = 2.0


@dataclass(frozen=True)
class Rover:
    """Rover parameters for hazards: wheel base (m), ground clearance (m), maximum slope (°)."""

    wheel_base_m: float = 0.5
    clearance_m: float = 0.15
    max_slope_deg: float = 20.0

    def __post_init__(self) -> None:
        for name in ("wheel_base_m", "clearance_m", "max_slope_deg"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(f"rover {name} must be a positive number, got {value!r}")
        if self.max_slope_deg >= 90:
            raise InputError(f"rover max_slope_deg must be below 90°, got {self.max_slope_deg}")


@dataclass
class HazardMaps:
    """Hazard and cost maps on the DEM grid (all (ny, nx)); see the module text."""

    slope_deg: NDArray[np.float32]
    roughness_m: NDArray[np.float32]
    step_m: NDArray[np.float32]
    rock: NDArray[np.bool_]
    impassable: NDArray[np.bool_]
    cost: NDArray[np.float32]
    no_data: NDArray[np.bool_] = field(repr=False, default_factory=lambda: np.zeros((0, 0), bool))
    rover: Rover = field(default_factory=Rover)
    footprint: int = 3

    def summary(self) -> dict[str, float]:
        """Shares of the area (0…1) per hazard, for reports."""
        n = self.slope_deg.size
        return {
            "too_steep": float(np.count_nonzero(self.slope_deg > self.rover.max_slope_deg)) / n,
            "step": float(np.count_nonzero(self.step_m > self.rover.clearance_m)) / n,
            "rock": float(np.count_nonzero(self.rock)) / n,
            "no_data": float(np.count_nonzero(self.no_data)) / n,
            "impassable": float(np.count_nonzero(self.impassable)) / n,
        }


def footprint_cells(rover: Rover, resolution_m: float) -> int:
    """Odd footprint width in cells covering the wheel base, at least 3."""
    return max(3, 2 * math.ceil(rover.wheel_base_m / (2 * resolution_m) - 0.5) + 1)


def hazards(dem: Dem, rover: Rover | None = None) -> HazardMaps:
    """Compute slope, roughness, step, rock, impassable and cost maps for ``rover`` on ``dem``."""
    from scipy import ndimage

    rover = rover or Rover()
    res = dem.resolution_m
    w = footprint_cells(rover, res)
    k = w // 2
    filled, no_data = fill_holes(dem.height_m)
    h = filled.astype(np.float64)
    ny, nx = h.shape
    padded = np.pad(h, k, mode="edge")
    offsets = np.arange(-k, k + 1, dtype=float) * res
    sum_sq = float(np.sum(offsets**2)) * w  # Σx² over the window (= Σy²)
    kx = np.broadcast_to(offsets[None, :], (w, w))
    ky = np.broadcast_to(-offsets[:, None], (w, w))  # +y is up the rows
    mean = ndimage.uniform_filter(padded, w, mode="nearest")[k : k + ny, k : k + nx]
    gx = ndimage.correlate(padded, kx, mode="nearest")[k : k + ny, k : k + nx] / sum_sq
    gy = ndimage.correlate(padded, ky, mode="nearest")[k : k + ny, k : k + nx] / sum_sq
    slope_deg = np.degrees(np.arctan(np.hypot(gx, gy)))

    ss = np.zeros_like(h)
    high = np.full_like(h, -np.inf)
    low = np.full_like(h, np.inf)
    for i in range(w):
        for j in range(w):
            residual = padded[i : i + ny, j : j + nx] - (mean + gx * kx[i, j] + gy * ky[i, j])
            ss += residual**2
            np.maximum(high, residual, out=high)
            np.minimum(low, residual, out=low)
    roughness_m = np.sqrt(ss / (w * w))
    step_m = high - low

    rock = _rock_map(dem, rover, h, mean)
    impassable = (slope_deg > rover.max_slope_deg) | (step_m > rover.clearance_m) | rock | no_data
    cost = 1.0 + _SLOPE_WEIGHT * (slope_deg / rover.max_slope_deg) ** 2
    cost = cost + roughness_m / rover.clearance_m
    cost = np.where(impassable, np.inf, cost)
    return HazardMaps(
        slope_deg=slope_deg.astype(np.float32),
        roughness_m=roughness_m.astype(np.float32),
        step_m=step_m.astype(np.float32),
        rock=rock,
        impassable=impassable,
        cost=cost.astype(np.float32),
        no_data=no_data,
        rover=rover,
        footprint=w,
    )


def _rock_map(
    dem: Dem, rover: Rover, h: NDArray[np.float64], mean: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Cells whose rover footprint holds a rock taller than the clearance."""
    from scipy import ndimage

    ny, nx = h.shape
    res = dem.resolution_m
    centres = np.zeros((ny, nx), dtype=bool)
    if dem.rocks is not None:
        tall = dem.rocks.diameter_m / 2 > rover.clearance_m
        col = np.floor((dem.rocks.x_m[tall] - dem.transform.c) / res).astype(np.intp)
        row = np.floor((dem.rocks.y_m[tall] - dem.transform.f) / dem.transform.e).astype(np.intp)
        inside = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
        centres[row[inside], col[inside]] = True
    else:
        # Detected: a local maximum (3 × 3) standing above its neighbourhood mean by > clearance.
        peak = h == ndimage.maximum_filter(h, size=3, mode="nearest")
        centres = peak & (h - mean > rover.clearance_m)
    reach = round(rover.wheel_base_m / 2 / res)
    if reach >= 1:
        centres = ndimage.maximum_filter(centres, size=2 * reach + 1, mode="constant")
    return centres
