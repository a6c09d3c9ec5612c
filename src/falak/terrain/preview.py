"""PNG previews of terrain maps (matplotlib, Agg backend): hillshade, slope, hazards, shares.

Images are for a quick look, not for analysis: axes in projected kilometres, a colour bar with
the unit. The GeoTIFFs next to them hold the numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.terrain.dem import Dem, fill_holes

__all__ = ["hazard_preview", "hillshade", "map_preview"]


def hillshade(
    height_m: NDArray[Any],
    resolution_m: float,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 30.0,
) -> NDArray[np.float64]:
    """Lambertian hillshade (0…1) lit from a map azimuth (clockwise from grid north, +y)."""
    filled, _ = fill_holes(height_m)
    dy, dx = np.gradient(filled.astype(float), resolution_m)
    # rows go down (−y): the height gradient along +y is −dy.
    nx_, ny_ = -dx, dy
    az, alt = np.radians(azimuth_deg), np.radians(altitude_deg)
    light = np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])
    norm = np.sqrt(nx_**2 + ny_**2 + 1.0)
    shade: NDArray[np.float64] = np.clip(
        (nx_ * light[0] + ny_ * light[1] + light[2]) / norm, 0.0, 1.0
    )
    return shade


def _figure(dem: Dem, title: str) -> tuple[Any, Any, list[float]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    t = dem.transform
    ny, nx = dem.shape
    extent = [t.c / 1e3, (t.c + t.a * nx) / 1e3, (t.f + t.e * ny) / 1e3, t.f / 1e3]
    ax.set_xlabel("x (km, polar stereographic)")
    ax.set_ylabel("y (km)")
    ax.set_title(title)
    return fig, ax, extent


def map_preview(
    dem: Dem,
    values: NDArray[Any],
    path: str | Path,
    title: str,
    unit: str,
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """Write a PNG of one map over the DEM's hillshade."""
    import matplotlib.pyplot as plt

    fig, ax, extent = _figure(dem, title)
    ax.imshow(hillshade(dem.height_m, dem.resolution_m), cmap="gray", extent=extent)
    shown = np.ma.masked_invalid(np.asarray(values, dtype=float))
    image = ax.imshow(shown, cmap=cmap, alpha=0.75, extent=extent, vmin=vmin, vmax=vmax)
    fig.colorbar(image, ax=ax, label=unit)
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def hazard_preview(dem: Dem, maps: Any, path: str | Path) -> Path:
    """Write a PNG of the hazard classes (steep, step, rock, no data) over the hillshade."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    classes = np.zeros(dem.shape)
    masks = list(maps.hazard_classes().items())  # the classes this hazard model judges
    for i, (_, mask) in enumerate(masks, start=1):
        classes[mask] = i
    fig, ax, extent = _figure(dem, f"Rover hazards ({maps.model} model)")
    ax.imshow(hillshade(dem.height_m, dem.resolution_m), cmap="gray", extent=extent)
    palette = {"slopes": "#ffa500", "steps": "#d62728", "rocks": "#9467bd", "rock": "#9467bd"}
    colours = ListedColormap([palette.get(name.split()[0], "#000000") for name, _ in masks])
    shown = np.ma.masked_equal(classes, 0)
    n = len(masks)
    image = ax.imshow(shown, cmap=colours, vmin=0.5, vmax=n + 0.5, alpha=0.8, extent=extent)
    bar = fig.colorbar(image, ax=ax, ticks=list(range(1, n + 1)))
    bar.ax.set_yticklabels([name.split(" (")[0] for name, _ in masks])
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return Path(path)
