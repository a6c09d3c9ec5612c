"""What the console's maps show, computed on the server: ground tracks, station visibility
circles, a surface site's hillshade, route and sunlight/Earth-visibility overlays.

Earth orbiters (``orbit: {tle: ...}``). :func:`ground_track` propagates the TLE with SGP4
(:func:`falak.dynamics.tle.propagate_teme`, TEME), rotates to the ITRS by GMST 1982
(:func:`~falak.dynamics.tle.teme_to_itrs`, UTC for UT1: ≤ 0.4 km at the equator) and gives
geodetic WGS84 latitude, longitude and height (Bowring's closed form, Bowring 1976, Survey
Review 23:323; error ≪ 1 m at LEO heights). A station sees a spacecraft at height ``h`` above
``ε`` elevation inside a small circle of Earth central angle (spherical Earth of radius R, Wertz
and Larson, *Space Mission Analysis and Design*, 3rd ed., 1999, §5.2, eqs. 5-16 to 5-18)::

    sin ρ = R / (R + h),   sin η = sin ρ cos ε,   λ = 90° − ε − η

with R = 6371.0 km, the IUGG mean Earth radius (:data:`EARTH_MEAN_RADIUS_KM`);
:func:`visibility_circle` draws it around the station on the sphere.

Surface sites (``site: {dem, options, seed}``). The terrain is the rover simulator's, from
:func:`falak.terrain.site.site_terrain` (one terrain for simulator and ground), cached per
site. The hillshade is :func:`falak.terrain.preview.hillshade`; the overlays are
:func:`falak.terrain.illumination.illumination_maps` on one epoch (the share of the Sun's
disk above each cell's horizon, and the Earth's centre above it), cached per
:data:`OVERLAY_BUCKET_S` of the run clock. Images are PNG (ISO/IEC 15948), written here with
zlib: 8-bit grey for the hillshade, 8-bit RGBA for the overlays, row 0 the DEM's top row
(largest y).
"""

from __future__ import annotations

import json
import math
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.stations import Station, itrs_to_geodetic
from falak.dynamics.tle import SGP4_ERRORS, Tle
from falak.errors import InputError
from falak.terrain.dem import Dem
from falak.terrain.horizons import Horizons

__all__ = [
    "EARTH_MEAN_RADIUS_KM",
    "MAX_TRACK_POINTS",
    "OVERLAYS",
    "OVERLAY_BUCKET_S",
    "GroundTrack",
    "MoonTrack",
    "SiteMap",
    "coverage_half_angle_deg",
    "finite_or_none",
    "ground_track",
    "moon_track",
    "png_bytes",
    "route_collection",
    "site_map",
    "visibility_circle",
]

EARTH_MEAN_RADIUS_KM = 6371.0
"""IUGG mean Earth radius (R₁ = (2a + b)/3 of WGS84, 6371.0088 km, rounded): the sphere of the
visibility circles."""
MAX_TRACK_POINTS = 20_000
"""The most points one ground track answer holds (a day at 5 s)."""
OVERLAY_BUCKET_S = 600
"""Overlays are computed for the start of each 10-minute bucket of the run clock (the Sun
moves 0.08° in azimuth in that time at the pole) and cached per bucket."""
OVERLAYS = {
    "lit": "sunlit share of the Sun's disk above each cell's horizon",
    "earth": "Earth's centre above each cell's horizon (direct-to-Earth link possible)",
}
"""The site overlays: name → what each cell's colour means."""


# -- Earth: ground tracks and station circles -----------------------------------------------


@dataclass(frozen=True)
class GroundTrack:
    """Sub-satellite points on evenly spaced epochs; NaN where SGP4 failed (``error``)."""

    time_ns: NDArray[np.int64]
    lat_deg: NDArray[np.float64]
    """Geodetic latitude, WGS84, degrees."""
    lon_deg: NDArray[np.float64]
    """East longitude, −180…180°."""
    height_km: NDArray[np.float64]
    """Height above the WGS84 ellipsoid, km."""
    error: NDArray[np.uint8]
    """SGP4 error code per epoch (0 ok; :data:`falak.dynamics.tle.SGP4_ERRORS`)."""

    def error_counts(self) -> dict[str, int]:
        """Failed epochs by reason (empty when all propagated)."""
        codes, counts = np.unique(self.error[self.error != 0], return_counts=True)
        return {
            SGP4_ERRORS.get(int(c), f"SGP4 error {int(c)}"): int(n)
            for c, n in zip(codes, counts, strict=True)
        }


def ground_track(tle: Tle, start_ns: int, end_ns: int, step_s: float) -> GroundTrack:
    """Propagate ``tle`` from ``start_ns`` to ``end_ns`` (both included) every ``step_s``.

    At most :data:`MAX_TRACK_POINTS` epochs; a longer span or a finer step is refused with the
    step that would fit.
    """
    from falak.dynamics.tle import jd_split, propagate_teme, teme_to_itrs

    if not math.isfinite(step_s) or step_s <= 0:
        raise InputError(f"step_s must be a positive number of seconds, got {step_s}")
    if end_ns <= start_ns:
        raise InputError("end must be after start (ISO 8601 UTC times, e.g. ...T12:00:00Z)")
    step_ns = round(step_s * 1e9)
    n = (end_ns - start_ns) // step_ns + 1
    if n > MAX_TRACK_POINTS:
        fit = math.ceil((end_ns - start_ns) / 1e9 / (MAX_TRACK_POINTS - 1))
        raise InputError(
            f"{n} points from start to end every {step_s:g} s: at most {MAX_TRACK_POINTS}; "
            f"use step_s={fit} or a shorter span"
        )
    t = start_ns + step_ns * np.arange(n, dtype=np.int64)
    jd, fr = jd_split(t.astype("datetime64[ns]"))
    r, _, err = propagate_teme(tle, jd, fr)
    itrs, _ = teme_to_itrs(r[0], jd, fr)
    lat, lon, h = itrs_to_geodetic(itrs)
    return GroundTrack(t, lat, lon, h, err[0])


def coverage_half_angle_deg(
    height_km: float, min_elevation_deg: float, radius_km: float = EARTH_MEAN_RADIUS_KM
) -> float:
    """Earth central angle λ (degrees) from a station to the edge of what it sees above
    ``min_elevation_deg`` of a spacecraft ``height_km`` up (SMAD §5.2, see the module doc)."""
    if not height_km > 0:
        raise InputError(f"the spacecraft's height must be above 0 km, got {height_km}")
    eps = math.radians(min_elevation_deg)
    eta = math.asin(radius_km / (radius_km + height_km) * math.cos(eps))
    return math.degrees(math.pi / 2 - eps - eta)


def visibility_circle(
    station: Station, half_angle_deg: float, n_points: int = 121
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Latitudes and longitudes (degrees, −180…180) of the small circle ``half_angle_deg``
    of central angle around the station, on the sphere, closed (first point = last).

    The direct geodesic problem on the sphere (destination from a start, a bearing and an
    angular distance); the station's geodetic latitude is used as the spherical one (≤ 0.19°
    apart, well inside the circle's line width on a world map)."""
    lat1 = math.radians(station.lat_deg)
    lon1 = math.radians(station.lon_deg)
    d = math.radians(half_angle_deg)
    bearing = np.linspace(0.0, 2.0 * math.pi, n_points)
    sin_lat = math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * np.cos(bearing)
    lat = np.arcsin(np.clip(sin_lat, -1.0, 1.0))
    lon = lon1 + np.arctan2(
        np.sin(bearing) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * sin_lat
    )
    lon_deg = (np.degrees(lon) + 180.0) % 360.0 - 180.0
    return np.degrees(lat), lon_deg


# -- the Moon: lunar orbiters (``orbit: {oem: FILE}``) -------------------------------------


@dataclass(frozen=True)
class MoonTrack:
    """Sub-orbiter points over the Moon on evenly spaced epochs; NaN outside the OEM's span."""

    time_ns: NDArray[np.int64]
    lat_deg: NDArray[np.float64]
    """Selenocentric latitude in MOON_ME (MOON_ME_DE421), degrees."""
    lon_deg: NDArray[np.float64]
    """East longitude in MOON_ME, −180…180°."""
    height_km: NDArray[np.float64]
    """Height above the 1737.4 km sphere (LOLA), km."""


def moon_track(traj: Any, start_ns: int, end_ns: int, step_s: float) -> MoonTrack:
    """The orbiter's sub-point over the Moon from ``start_ns`` to ``end_ns`` every ``step_s``.

    ``traj``: a :class:`falak.dynamics.lunar_orbit.Trajectory` (Moon-centred ICRF, e.g. from
    :func:`falak.dynamics.orbiter.trajectory_from_oem`), interpolated with
    :func:`~falak.dynamics.orbiter.interpolate_state` (cubic Hermite) and rotated to MOON_ME
    with :func:`falak.dynamics.moonframes.icrf_to_moon_me` (DE421 librations); latitude and
    longitude are the spherical (selenocentric) ones. Epochs outside the trajectory are NaN.
    """
    from falak.dynamics.lunar_orbit import utc_times
    from falak.dynamics.moonframes import MOON_RADIUS_KM, icrf_to_moon_me
    from falak.dynamics.orbiter import interpolate_state

    if not math.isfinite(step_s) or step_s <= 0:
        raise InputError(f"step_s must be a positive number of seconds, got {step_s}")
    if end_ns < start_ns:
        raise InputError("end must be after start (ISO 8601 UTC times, e.g. ...T12:00:00Z)")
    step_ns = round(step_s * 1e9)
    n = (end_ns - start_ns) // step_ns + 1
    if n > MAX_TRACK_POINTS:
        fit = math.ceil((end_ns - start_ns) / 1e9 / (MAX_TRACK_POINTS - 1))
        raise InputError(
            f"{n} points from start to end every {step_s:g} s: at most {MAX_TRACK_POINTS}; "
            f"use step_s={fit} or a shorter span"
        )
    t = start_ns + step_ns * np.arange(n, dtype=np.int64)
    epoch_ns = int(np.datetime64(traj.epoch.replace(tzinfo=None), "ns").astype(np.int64))
    t_s = (t - epoch_ns).astype(np.float64) * 1e-9
    inside = (t_s >= traj.t_s[0]) & (t_s <= traj.t_s[-1])
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    height = np.full(n, np.nan)
    if inside.any():
        ts = t_s[inside]
        r, _ = interpolate_state(traj, ts)
        rot = icrf_to_moon_me(utc_times(traj.epoch, ts)).reshape(-1, 3, 3)
        me = np.einsum("nij,nj->ni", rot, r)
        norm = np.linalg.norm(me, axis=1)
        lat[inside] = np.degrees(np.arcsin(np.clip(me[:, 2] / norm, -1.0, 1.0)))
        lon[inside] = np.degrees(np.arctan2(me[:, 1], me[:, 0]))
        height[inside] = norm - MOON_RADIUS_KM
    return MoonTrack(t, lat, lon, height)


# -- surface sites --------------------------------------------------------------------------


def png_bytes(image: NDArray[Any]) -> bytes:
    """Encode an 8-bit image as PNG: (h, w) grey or (h, w, 4) RGBA, row 0 at the top."""
    img = np.ascontiguousarray(image, dtype=np.uint8)
    if img.ndim == 2:
        colour, channels = 0, 1
    elif img.ndim == 3 and img.shape[2] == 4:
        colour, channels = 6, 4
    else:
        raise InputError(f"PNG image must be (h, w) or (h, w, 4), got shape {img.shape}")
    h, w = img.shape[:2]
    rows = img.reshape(h, w * channels)
    raw = np.hstack([np.zeros((h, 1), np.uint8), rows]).tobytes()  # filter 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


@dataclass
class SiteMap:
    """One surface site's terrain and the images made from it (thread-safe caches)."""

    dem: Dem
    horizons: Horizons
    max_overlays: int = 16
    _hillshade: bytes | None = field(default=None, repr=False)
    _overlays: OrderedDict[tuple[str, int], bytes] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def bounds_m(self) -> dict[str, float]:
        """The DEM's outer edges in projected metres."""
        t = self.dem.transform
        ny, nx = self.dem.shape
        return {
            "x_min": float(t.c),
            "x_max": float(t.c + t.a * nx),
            "y_min": float(t.f + t.e * ny),
            "y_max": float(t.f),
        }

    def hillshade_png(self) -> bytes:
        """The hillshade (lit from map azimuth 315°, 30° up) as 8-bit grey PNG, one pixel per
        cell; no-data cells black."""
        from falak.terrain.preview import hillshade

        with self._lock:
            if self._hillshade is None:
                shade = hillshade(self.dem.height_m, self.dem.resolution_m)
                grey = np.round(30.0 + 215.0 * shade)
                grey[~np.isfinite(self.dem.height_m)] = 0
                self._hillshade = png_bytes(grey.astype(np.uint8))
            return self._hillshade

    @staticmethod
    def bucket_ns(t_ns: int) -> int:
        """The start of ``t_ns``'s overlay bucket (:data:`OVERLAY_BUCKET_S`)."""
        step = OVERLAY_BUCKET_S * 1_000_000_000
        return (t_ns // step) * step

    def overlay_png(self, name: str, t_ns: int) -> bytes:
        """The overlay ``name`` (:data:`OVERLAYS`) at the start of ``t_ns``'s bucket, RGBA PNG.

        ``lit``: pale yellow where the Sun is up (alpha grows with the visible share of the
        disk), dark blue in shadow. ``earth``: cyan where the Earth's centre is above the horizon,
        dim magenta where it is not.
        """
        if name not in OVERLAYS:
            raise InputError(f"no overlay named {name!r}; overlays: {', '.join(OVERLAYS)}")
        key = (name, self.bucket_ns(t_ns))
        with self._lock:
            hit = self._overlays.get(key)
            if hit is not None:
                self._overlays.move_to_end(key)
                return hit
        from falak.terrain.illumination import illumination_maps

        bucket = key[1]
        maps = illumination_maps(
            self.dem, self.horizons, np.array([bucket], dtype="datetime64[ns]")
        )
        ny, nx = self.dem.shape
        lit_rgba = np.zeros((ny, nx, 4), np.uint8)
        lit = np.clip(maps.lit_percent / 100.0, 0.0, 1.0)
        sunny = lit > 0
        lit_rgba[sunny] = (255, 225, 110, 0)
        lit_rgba[..., 3][sunny] = np.round(50 + 70 * lit[sunny]).astype(np.uint8)
        lit_rgba[~sunny] = (0, 10, 40, 110)
        earth_rgba = np.zeros((ny, nx, 4), np.uint8)
        seen = maps.earth_percent > 0
        earth_rgba[seen] = (40, 220, 255, 90)
        earth_rgba[~seen] = (200, 40, 160, 50)
        made = {"lit": png_bytes(lit_rgba), "earth": png_bytes(earth_rgba)}  # one sky, both maps
        with self._lock:
            for kind, png in made.items():
                self._overlays[(kind, bucket)] = png
            while len(self._overlays) > self.max_overlays:
                self._overlays.popitem(last=False)
        return made[name]


_SITES: dict[tuple[str, str, int], SiteMap] = {}
_SITES_LOCK = threading.Lock()


def site_map(dem: str | Path, options: Mapping[str, Any], seed: int) -> SiteMap:
    """The site's :class:`SiteMap`, built once per (dem, options, seed) and kept.

    ``dem``: ``"synthetic"`` or a GeoTIFF path (the server config's ``site.dem``);
    ``options``/``seed``: the rover simulator's, so the map shows the simulator's terrain."""
    from falak.terrain.site import site_terrain

    opts = dict(options)
    if str(dem) != "synthetic":
        opts["dem"] = str(dem)
    key = (str(dem), json.dumps(opts, sort_keys=True, default=str), int(seed))
    with _SITES_LOCK:
        hit = _SITES.get(key)
        if hit is None:
            terrain, horizons = site_terrain(opts, int(seed))
            hit = _SITES[key] = SiteMap(terrain, horizons)
        return hit


def _line_features(doc: Any, file: Path) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    if doc.get("type") == "FeatureCollection":
        return [f for d in doc.get("features") or [] for f in _line_features(d, file)]
    if doc.get("type") != "Feature":
        return []
    geom = doc.get("geometry") or {}
    if geom.get("type") not in ("LineString", "MultiLineString"):
        return []
    props = dict(doc.get("properties") or {})
    keep = ("length_m", "depart", "arrive", "duration_s", "max_slope_deg", "waypoints")
    kept = {k: props[k] for k in keep if k in props}
    kept["file"] = file.name
    return [{"type": "Feature", "geometry": geom, "properties": kept}]


def route_collection(plans: Iterable[Path]) -> dict[str, Any]:
    """The routes among a spacecraft's plan files, as one GeoJSON FeatureCollection.

    A plan is a route when it is a GeoJSON Feature (or FeatureCollection) with a LineString,
    as ``falak traverse plan`` writes (projected metres, ``crs_proj4``); other plans (uplink
    windows, campaign plans) are skipped. Properties kept: ``length_m``, ``depart``,
    ``arrive``, ``duration_s``, ``max_slope_deg``, ``waypoints`` and the ``file`` name (the
    bulky drive timeline stays in the file). A plan that is not JSON is refused, naming it.
    """
    features: list[dict[str, Any]] = []
    for path in plans:
        if path.suffix.lower() not in (".json", ".geojson"):
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(
                f"plan {path} cannot be read as JSON ({exc}); give the GeoJSON that "
                "'falak traverse plan --out ROUTE.geojson' writes"
            ) from None
        features.extend(_line_features(doc, path))
    return {"type": "FeatureCollection", "features": features}


def finite_or_none(values: Sequence[float] | NDArray[np.float64], digits: int) -> list[Any]:
    """Round for JSON; NaN (a failed epoch) becomes null."""
    arr = np.round(np.asarray(values, dtype=np.float64), digits)
    return [None if not math.isfinite(v) else v for v in arr.tolist()]
