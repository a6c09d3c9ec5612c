"""Lunar south-pole terrain: DEMs, synthetic terrain, hazards, horizons, illumination.

Public API (stable; the traverse planner builds on it):

* :class:`~falak.terrain.dem.Dem`, :func:`~falak.terrain.dem.read_dem`,
  :func:`~falak.terrain.dem.write_dem`, :func:`~falak.terrain.dem.read_window`,
  :func:`~falak.terrain.dem.iter_blocks` — GeoTIFF in LOLA's south-polar stereographic;
* :func:`~falak.terrain.synth.synthesize` — seeded synthetic south-pole terrain;
* :class:`~falak.terrain.hazards.Rover`, :func:`~falak.terrain.hazards.hazards` →
  :class:`~falak.terrain.hazards.HazardMaps`;
* :func:`~falak.terrain.horizons.horizons` → :class:`~falak.terrain.horizons.Horizons`;
* :func:`~falak.terrain.illumination.illumination_maps`,
  :func:`~falak.terrain.illumination.illumination_timeline`.

Heavy libraries (scipy, numba, rasterio, dask) are imported inside the functions that use them.
The functions ``hazards`` and ``horizons`` shadow their submodules' names here on purpose
(``from falak.terrain import hazards`` gives the function; the modules stay importable as
``falak.terrain.hazards``).
"""

from __future__ import annotations

from falak.terrain.dem import Dem, read_dem, read_window, write_dem
from falak.terrain.hazards import HazardMaps, Rover, hazards
from falak.terrain.horizons import Horizons, horizons, load_horizons
from falak.terrain.illumination import (
    IlluminationMaps,
    Timeline,
    illumination_maps,
    illumination_timeline,
)
from falak.terrain.synth import synthesize

__all__ = [
    "Dem",
    "HazardMaps",
    "Horizons",
    "IlluminationMaps",
    "Rover",
    "Timeline",
    "hazards",
    "horizons",
    "illumination_maps",
    "illumination_timeline",
    "load_horizons",
    "read_dem",
    "read_window",
    "synthesize",
    "write_dem",
]
