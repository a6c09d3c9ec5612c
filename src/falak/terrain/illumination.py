"""Sunlight and Earth (or relay) visibility per DEM cell, from horizons and DE421 geometry.

Geometry is **per cell**: one :func:`~falak.dynamics.moonsky.sky` call at the DEM's centre
(apparent, light-time and aberration corrected, DE421 and the Moon ME frame) gives the Sun's
direction and the Earth's position in MOON_ME; every cell then uses its own local vertical and
north (from its latitude/longitude on the 1737.4 km sphere) and, for the Earth and a relay, its
own line of sight from its own position. The Sun's direction is shared by all cells: its
parallax across a 100 km DEM is 7e−7 rad (0.00004°). Using one site's azimuth/elevation for a
whole DEM instead would be wrong by up to the DEM's angular size seen from the Moon's centre
(0.033° per km) in elevation and, near the pole, by the longitude span in azimuth (all of it for
a DEM that covers the pole) — so falak does not.

Per cell and epoch, with ``H(α)`` the horizon at map azimuth α (linear between azimuths of the
:class:`~falak.terrain.horizons.Horizons`; map azimuth = local azimuth + east longitude in the
south-polar stereographic):

* ``sun_fraction``: visible share of the solar disk, ``(π/2 + asin x + x√(1−x²))/π`` with
  ``x = (e☉ − H(α☉))/ρ☉`` clipped to ±1, ρ☉ the Sun's angular radius that day (≈0.27°);
  the horizon is taken as straight across the disk;
* ``earth_visible``: the Earth's centre at or above the horizon (direct-to-Earth link);
* ``relay_visible``: the relay at or above the horizon (and outside the Moon's sphere).

Maps over a period (:func:`illumination_maps`): ``lit_percent`` = time-average of the sunlit
share of the disk (%), ``earth_percent`` / ``relay_percent`` = % of epochs in view,
``longest_dark_h`` = longest run of epochs with no sunlight at all, times the step (runs at the
ends of the period are cut there), and ``psr`` = never lit during the period (a permanently
shadowed region needs the full 18.6-year precession cycle to be sure). Epochs should be evenly
spaced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError
from falak.terrain.dem import MOON_RADIUS_M, Dem, fill_holes
from falak.terrain.horizons import Horizons

__all__ = [
    "IlluminationMaps",
    "TargetGeometry",
    "Timeline",
    "cell_arrays",
    "illumination_maps",
    "illumination_timeline",
    "target_geometry",
    "visibility_series",
]


class Timeline(NamedTuple):
    """Per-cell series: unpacks as ``(sun_fraction, earth_visible)``, each (n_times, n_cells)."""

    sun_fraction: NDArray[np.float32]
    earth_visible: NDArray[np.bool_]


@dataclass
class IlluminationMaps:
    """Sunlight and visibility statistics over a period, each (ny, nx); see the module text."""

    times: NDArray[np.datetime64]
    lit_percent: NDArray[np.float32]
    earth_percent: NDArray[np.float32]
    longest_dark_h: NDArray[np.float32]
    psr: NDArray[np.bool_]
    relay_percent: NDArray[np.float32] | None = None


@dataclass
class TargetGeometry:
    """Sun, Earth and relay in MOON_ME on a list of epochs (:func:`target_geometry`)."""

    sun_me: NDArray[np.float64]  # (N, 3) unit vectors
    sun_radius_deg: NDArray[np.float64]  # (N,)
    earth_me_m: NDArray[np.float64]  # (N, 3) Earth centre position, MOON_ME, m
    relay_me_m: NDArray[np.float64]  # (N, 3) or (0, 3)


def target_geometry(dem: Dem, times: Any, relay: Any = None) -> TargetGeometry:
    """Sun direction, Sun radius and Earth (and relay) positions in MOON_ME for the epochs."""
    from falak.dynamics.moonsky import SOLAR_RADIUS_KM, MoonSite, sky, to_datetime64
    from falak.terrain.dem import xy_to_latlon

    cx, cy = dem.center_xy_m
    lat, lon = (float(v) for v in xy_to_latlon(cx, cy))
    height = float(np.nanmean(dem.height_m)) if np.isfinite(dem.height_m).any() else 0.0
    site = MoonSite(lat, lon, height)
    times64 = to_datetime64(times)
    result = sky(site, times64)
    enu_to_me = site.enu_to_me
    sun_me = result.sun_enu @ enu_to_me.T
    earth_from_site_km = (result.earth_enu * result.earth_distance_km[:, None]) @ enu_to_me.T
    earth_me_m = (site.position_me_km[None, :] + earth_from_site_km) * 1e3
    if relay is not None:
        from falak.dynamics.relay import relay_position_me_km

        relay_me_m = relay_position_me_km(relay, times64) * 1e3
    else:
        relay_me_m = np.zeros((0, 3))
    radius_deg = np.degrees(np.arcsin(SOLAR_RADIUS_KM / result.sun_distance_km))
    return TargetGeometry(sun_me, radius_deg, earth_me_m, relay_me_m)


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _series(
    horizon: Any, az0: float, daz: float, rows: Any, cols: Any, lat_rad: Any, lon_rad: Any,
    height_m: Any, sun_me: Any, sun_radius_deg: Any, earth_me: Any, relay_me: Any,
    radius_m: float, out_sun: Any, out_earth: Any, out_relay: Any,
) -> None:  # fmt: skip
    """Fill (n_times, n_cells) series of Sun fraction and Earth/relay visibility."""
    naz = horizon.shape[0]
    n_times = sun_me.shape[0]
    has_relay = relay_me.shape[0] == n_times and n_times > 0
    for k in numba.prange(rows.shape[0]):
        r, c = rows[k], cols[k]
        phi, lam = lat_rad[r, c], lon_rad[r, c]
        sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
        ux, uy, uz = cp * cl, cp * sl, sp
        ex, ey = -sl, cl
        nx_, ny_, nz_ = -sp * cl, -sp * sl, cp
        rad = radius_m + height_m[r, c]
        px, py, pz = rad * ux, rad * uy, rad * uz
        lon_deg = math.degrees(lam)
        for t in range(n_times):
            for target in range(3):
                if target == 0:
                    vx, vy, vz = sun_me[t, 0], sun_me[t, 1], sun_me[t, 2]
                elif target == 1:
                    vx, vy, vz = earth_me[t, 0] - px, earth_me[t, 1] - py, earth_me[t, 2] - pz
                else:
                    if not has_relay:
                        break
                    vx, vy, vz = relay_me[t, 0] - px, relay_me[t, 1] - py, relay_me[t, 2] - pz
                norm = math.sqrt(vx * vx + vy * vy + vz * vz)
                e = (vx * ex + vy * ey) / norm
                n = (vx * nx_ + vy * ny_ + vz * nz_) / norm
                u = (vx * ux + vy * uy + vz * uz) / norm
                elevation = math.degrees(math.asin(min(1.0, max(-1.0, u))))
                azimuth = math.degrees(math.atan2(e, n)) + lon_deg
                position = ((azimuth - az0) / daz) % naz
                i0 = int(position)
                w = position - i0
                if i0 >= naz:
                    i0 = naz - 1
                i1 = (i0 + 1) % naz
                h = (1.0 - w) * horizon[i0, r, c] + w * horizon[i1, r, c]
                if target == 0:
                    x = (elevation - h) / sun_radius_deg[t]
                    x = min(1.0, max(-1.0, x))
                    out_sun[t, k] = (
                        math.pi / 2 + math.asin(x) + x * math.sqrt(1 - x * x)
                    ) / math.pi
                elif target == 1:
                    out_earth[t, k] = elevation >= h
                else:
                    out_relay[t, k] = elevation >= h


def _check(dem: Dem, horizons: Horizons) -> None:
    if horizons.elevation_deg.shape[1:] != dem.shape or horizons.transform != dem.transform:
        raise InputError(
            f"horizons {horizons!r} are not on the grid of {dem!r}; compute them from this DEM "
            "('falak terrain horizons')"
        )


def cell_arrays(dem: Dem) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[Any]]:
    """Per-cell (latitude rad, east longitude rad, height m with holes filled) for
    :func:`visibility_series`."""
    lat, lon = dem.latlon_deg()
    filled, _ = fill_holes(dem.height_m)
    return np.radians(lat), np.radians(lon), filled.astype(np.float64)


def visibility_series(
    dem: Dem,
    horizons: Horizons,
    geometry: TargetGeometry,
    rows: NDArray[np.intp],
    cols: NDArray[np.intp],
    cells: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[Any]],
) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_]]:
    """Sun fraction, Earth and relay visibility of cells ``(rows, cols)`` on ``geometry``'s epochs.

    The kernel of every map and timeline here (and of the rover simulator's sky): ``cells`` is
    :func:`cell_arrays` of ``dem``. Returns ``(sun_fraction, earth_visible, relay_visible)``,
    each (n_times, n_cells); ``relay_visible`` is (0, n_cells) when ``geometry`` has no relay.
    """
    n_times = geometry.sun_me.shape[0]
    sun = np.zeros((n_times, rows.size), dtype=np.float32)
    earth = np.zeros((n_times, rows.size), dtype=np.bool_)
    relay = np.zeros((n_times if geometry.relay_me_m.shape[0] else 0, rows.size), dtype=np.bool_)
    az = horizons.azimuths_deg
    daz = 360.0 / az.size
    _series(
        horizons.elevation_deg, float(az[0]), daz, rows.astype(np.int64), cols.astype(np.int64),
        cells[0], cells[1], cells[2], geometry.sun_me, geometry.sun_radius_deg,
        geometry.earth_me_m, geometry.relay_me_m, MOON_RADIUS_M, sun, earth, relay,
    )  # fmt: skip
    return sun, earth, relay


def illumination_timeline(
    dem: Dem,
    horizons: Horizons,
    cells_or_xy: Sequence[tuple[float, float]] | NDArray[Any],
    times: Any,
    *,
    as_xy: bool | None = None,
) -> Timeline:
    """Sun fraction and Earth visibility over time for a few cells (e.g. along a path).

    Parameters
    ----------
    cells_or_xy
        (n, 2): integer ``(row, col)`` pairs, or projected ``(x_m, y_m)`` points (floats).
        ``as_xy`` forces the reading; by default an integer array means cells.
    times
        UTC epochs (datetime64 or timezone-aware datetimes).

    Returns
    -------
    Timeline
        ``sun_fraction`` (n_times, n_cells) float32 in 0…1, ``earth_visible`` bool.
    """
    _check(dem, horizons)
    points = np.asarray(cells_or_xy)
    if points.ndim != 2 or points.shape[1] != 2:
        raise InputError(f"cells_or_xy must be (n, 2) rows/cols or x/y, got {points.shape}")
    xy = as_xy if as_xy is not None else not np.issubdtype(points.dtype, np.integer)
    if xy:
        rows, cols = dem.cell_of(points[:, 0], points[:, 1])
    else:
        rows, cols = points[:, 0].astype(np.intp), points[:, 1].astype(np.intp)
        ny, nx = dem.shape
        if np.any((rows < 0) | (rows >= ny) | (cols < 0) | (cols >= nx)):
            raise InputError(f"a cell (row, col) is outside the {ny}x{nx} DEM")
    geometry = target_geometry(dem, times)
    sun, earth, _ = visibility_series(dem, horizons, geometry, rows, cols, cell_arrays(dem))
    return Timeline(sun, earth)


def illumination_maps(
    dem: Dem,
    horizons: Horizons,
    times: Any,
    *,
    relay: Any = None,
    progress: Callable[[float], None] | None = None,
    rows_per_chunk: int | None = None,
) -> IlluminationMaps:
    """Maps of % sunlit, % Earth in view, longest darkness (h) and never-lit cells.

    ``relay``: optional :class:`~falak.dynamics.relay.KeplerElements` (e.g.
    :func:`~falak.dynamics.relay.queqiao2_like`) for a ``relay_percent`` map.
    """
    from falak.dynamics.moonsky import to_datetime64

    _check(dem, horizons)
    times64 = to_datetime64(times)
    if times64.size == 0:
        raise InputError("no epochs given; give at least one UTC time")
    step_h = (
        float(np.median(np.diff(times64).astype("timedelta64[ns]").astype(np.int64))) / 3.6e12
        if times64.size > 1
        else 0.0
    )
    geometry = target_geometry(dem, times64, relay)
    cells = cell_arrays(dem)
    ny, nx = dem.shape
    chunk = rows_per_chunk or max(1, 4_000_000 // max(1, nx * times64.size))
    lit = np.zeros((ny, nx), np.float32)
    earth = np.zeros((ny, nx), np.float32)
    relay_pct = np.zeros((ny, nx), np.float32) if relay is not None else None
    longest = np.zeros((ny, nx), np.float32)
    never = np.zeros((ny, nx), bool)
    for r0 in range(0, ny, chunk):
        r1 = min(ny, r0 + chunk)
        rr, cc = np.mgrid[r0:r1, 0:nx]
        sun, seen, relay_seen = visibility_series(
            dem, horizons, geometry, rr.ravel(), cc.ravel(), cells
        )
        shape = (r1 - r0, nx)
        lit[r0:r1] = (100.0 * sun.mean(axis=0)).reshape(shape)
        earth[r0:r1] = (100.0 * seen.mean(axis=0)).reshape(shape)
        if relay_pct is not None:
            relay_pct[r0:r1] = (100.0 * relay_seen.mean(axis=0)).reshape(shape)
        dark = sun <= 0.0
        run = np.zeros(dark.shape[1], np.int64)
        best = np.zeros(dark.shape[1], np.int64)
        for t in range(dark.shape[0]):
            run = (run + 1) * dark[t]
            np.maximum(best, run, out=best)
        longest[r0:r1] = (best * step_h).reshape(shape)
        never[r0:r1] = dark.all(axis=0).reshape(shape)
        if progress is not None:
            progress(r1 / ny)
    return IlluminationMaps(times64, lit, earth, longest, never, relay_pct)
