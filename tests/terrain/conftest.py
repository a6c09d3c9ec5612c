"""Small DEM builders shared by the terrain tests."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from falak.terrain.dem import Dem, latlon_to_xy


def grid_dem(height_m: np.ndarray, resolution_m: float, center=(-89.9, 0.0)) -> Dem:
    """A DEM centred at ``center`` (lat, lon) with the given heights."""
    ny, nx = height_m.shape
    cx, cy = (float(v) for v in latlon_to_xy(*center))
    transform = Affine(
        resolution_m, 0, cx - nx * resolution_m / 2, 0, -resolution_m, cy + ny * resolution_m / 2
    )
    return Dem(np.asarray(height_m, dtype=np.float32), transform)


@pytest.fixture
def make_dem():
    return grid_dem
