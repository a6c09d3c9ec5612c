"""A surface site's terrain from the options the rover simulator takes: DEM and horizons.

The rover simulator (``falak sim rover --option dem_size=...``), the ground's planners and
the server's site map must see one and the same terrain. :func:`site_terrain` builds it from
the same options and seed: a GeoTIFF (``dem``) or falak's synthetic south pole
(:func:`falak.terrain.synth.synthesize`: ``dem_size`` cells of ``dem_resolution_m`` centred
at ``site_lat_deg``, ``site_lon_deg``, from ``seed``), and its horizons (``horizons``, a file
from ``falak terrain horizons``, or computed over ``n_azimuths`` azimuths).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from falak.terrain.dem import Dem
from falak.terrain.horizons import Horizons

__all__ = ["SITE_OPTIONS", "site_terrain"]

SITE_OPTIONS = (
    "dem",
    "horizons",
    "dem_size",
    "dem_resolution_m",
    "site_lat_deg",
    "site_lon_deg",
    "n_azimuths",
)
"""The options that choose a site's terrain (a subset of the rover simulator's)."""


def site_terrain(options: Mapping[str, Any], seed: int = 0) -> tuple[Dem, Horizons]:
    """Return the site's DEM and its horizons from the rover simulator's options.

    Options other than :data:`SITE_OPTIONS` are ignored (they are the rover's, not the
    site's). Defaults: a synthetic DEM of 256² cells of 2 m at 89.9° S, 0° E; 72 azimuths.
    """
    from falak.terrain.horizons import horizons, load_horizons

    if "dem" in options and str(options["dem"]) != "synthetic":
        from falak.terrain.dem import read_dem

        dem = read_dem(str(options["dem"]))
    else:
        from falak.terrain.synth import synthesize

        dem = synthesize(
            int(options.get("dem_size", 256)),
            float(options.get("dem_resolution_m", 2.0)),
            (float(options.get("site_lat_deg", -89.9)), float(options.get("site_lon_deg", 0.0))),
            seed=seed,
        )
    if "horizons" in options:
        hz = load_horizons(str(options["horizons"]))
    else:
        hz = horizons(dem, int(options.get("n_azimuths", 72)))
    return dem, hz
