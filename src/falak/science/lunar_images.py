"""Lunar orbiter frame images (issue 17): radiometric correction, projection, footprints, mosaics.

Camera model (:class:`FrameCamera`): the orbiter's nadir frame camera as docs/orbiter.md
section 7 documents it (``falak.sim.orbiter_instruments``; the numbers are copied here because
science sits below the simulator in the layers, and tests/science/test_lunar_images.py checks
they agree): ``size`` × ``size`` pixels of ``ifov_rad`` each, a pinhole looking along the
camera +Z axis, columns along camera +X and rows along camera +Y. The centre of pixel (row r,
column c) is seen along the camera-frame direction ``(u, v, 1)`` with
``u = (c − (size − 1)/2) · ifov`` and ``v = (r − (size − 1)/2) · ifov`` (a tangent plane at
unit distance). The outer edges of the frame are at ``c, r = −0.5`` and ``size − 0.5``.

Radiometry (:func:`radiometric_correction`): ``DN = dark + flat · R · exposure_ms ·
dn_per_ms``, with ``R = albedo · cos(incidence) · lit`` the radiance factor of Lambertian ground
(the simulator's ``signal``): a 10 ms exposure of 0.15-albedo ground under a zenith Sun gives
200 DN. The orbiter's camera has no bias (dark 0 DN) and a flat response (flat 1); both are
parameters for a camera that has them. Saturated pixels (255 DN) become NaN.

Geometry (:class:`ImageGeometry`): the camera's position in MOON_ME (km) and the rotation
camera → MOON_ME (its axes as columns) at mid-exposure. :func:`geometry_from_state` builds it
from a Moon-centred ICRF state and the ICRF → MOON_ME rotation for the orbiter's attitude law
(nadir pointing: camera/body +Z to the Moon's centre, +X along the velocity, +Y = Z × X; the
simulator's ``body_from_icrf``). The orbiter's pointing jitter (0.02° 1σ, about 1.8 pixels) is
not in its telemetry and not known to the ground; :func:`register_shift` measures what remains
against a reference map.

Surface: the 1737.4 km sphere (the simulator renders on it: terrain heights move a ground point
by ``h · tan(off-nadir angle)``, under 0.1 pixel for this camera).

Map projections (:class:`MapGrid`), spherical, radius 1737.4 km:

- ``south_polar``/``north_polar`` stereographic, true scale at the pole, central meridian 0°
  (x = ρ sin λ, y = ∓ρ cos λ, ρ = 2R tan(π/4 ∓ φ/2); Snyder, *Map Projections — A Working
  Manual*, USGS PP 1395, 1987, eqs. 21-5 to 21-10 with k₀ = 1). The south-polar one is
  falak's DEM projection (:func:`falak.terrain.dem.latlon_to_xy`) and LOLA's polar one.
- ``equirectangular`` about a central meridian, standard parallel 0° (x = R(λ − λ₀),
  y = Rφ; Snyder eqs. 12-1, 12-2).

:func:`choose_grid` takes the south-polar projection when a footprint reaches poleward of
:data:`POLAR_LIMIT_DEG` (80°S), the north-polar one for 80°N, equirectangular elsewhere.
:func:`project` resamples an image on a grid by inverse mapping: each map cell's ground point
is projected into the camera (bilinear interpolation between pixel centres), NaN where the
camera did not see it. :func:`mosaic` blends projected images with weights that fall to zero
at each frame's edge (feathering), so seams do not show.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.dynamics.moonframes import MOON_RADIUS_KM
from falak.errors import InputError

__all__ = [
    "POLAR_LIMIT_DEG",
    "Footprint",
    "FrameCamera",
    "ImageGeometry",
    "MapGrid",
    "choose_grid",
    "footprint",
    "geometry_from_state",
    "ground_points",
    "mosaic",
    "nadir_camera_to_icrf",
    "project",
    "radiometric_correction",
    "read_pgm",
    "register_shift",
]

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
MOON_RADIUS_M = MOON_RADIUS_KM * 1000.0
#: A footprint poleward of this latitude (degrees) is mapped in polar stereographic.
POLAR_LIMIT_DEG = 80.0
_PGM_HEADER = re.compile(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s")
PROJECTIONS = ("south_polar", "north_polar", "equirectangular")


@dataclass(frozen=True)
class FrameCamera:
    """The orbiter's nadir frame camera (module doc; docs/orbiter.md section 7).

    ``dark_dn`` is the dark level (DN, scalar or per pixel), ``flat`` the relative response
    (scalar or per pixel, 1 = nominal); ``dn_per_ms`` the DN per ms of exposure for a radiance
    factor of 1; ``saturation_dn`` the 8-bit full scale.
    """

    size: int = 512
    ifov_rad: float = 0.1 / 512
    dn_per_ms: float = 200.0 / (10.0 * 0.15)
    saturation_dn: int = 255
    dark_dn: float | F64 = 0.0
    flat: float | F64 = 1.0

    @property
    def fov_deg(self) -> float:
        """Full field of view across the frame, degrees (5.73° for the orbiter)."""
        return math.degrees(2.0 * math.atan(self.size / 2 * self.ifov_rad))

    def directions(self, rows: ArrayLike, cols: ArrayLike) -> F64:
        """Unit camera-frame directions (N, 3) of image points at (row, column) (module doc)."""
        r = np.asarray(rows, dtype=float).ravel()
        c = np.asarray(cols, dtype=float).ravel()
        half = (self.size - 1) / 2
        d = np.stack([(c - half) * self.ifov_rad, (r - half) * self.ifov_rad, np.ones_like(c)], 1)
        out: F64 = d / np.linalg.norm(d, axis=1)[:, None]
        return out

    def pixel_of(self, d_cam: F64) -> tuple[F64, F64]:
        """(row, column) of camera-frame directions (N, 3); NaN behind the camera."""
        d = np.atleast_2d(np.asarray(d_cam, dtype=float))
        z = np.where(d[:, 2] > 0, d[:, 2], np.nan)
        half = (self.size - 1) / 2
        return d[:, 1] / z / self.ifov_rad + half, d[:, 0] / z / self.ifov_rad + half


def read_pgm(data: bytes) -> NDArray[np.uint8]:
    """Read an 8-bit binary PGM (Netpbm ``P5``, maxval 255, one comment-free header).

    Raises
    ------
    InputError
        Not such a file, or fewer pixel bytes than the header promises.
    """
    m = _PGM_HEADER.match(data)
    if m is None or m.group(3) != b"255":
        raise InputError("not an 8-bit binary PGM (P5, maxval 255): the orbiter's image format")
    w, h = int(m.group(1)), int(m.group(2))
    pixels = data[m.end() :]  # after exactly one whitespace byte following maxval
    if len(pixels) < w * h:
        raise InputError(f"PGM of {w}x{h} pixels holds {len(pixels)} pixel bytes: truncated")
    return np.frombuffer(pixels, dtype=np.uint8, count=w * h).reshape(h, w)


def radiometric_correction(dn: ArrayLike, exposure_ms: float, camera: FrameCamera) -> F32:
    """Radiance factor ``R = (DN − dark) / (flat · exposure_ms · dn_per_ms)``; NaN where saturated.

    Raises
    ------
    InputError
        A non-positive or non-finite exposure, or an image that is not ``size`` × ``size``.
    """
    a = np.asarray(dn)
    if not (math.isfinite(exposure_ms) and exposure_ms > 0):
        raise InputError(f"exposure {exposure_ms} ms: give a positive exposure time")
    if a.shape != (camera.size, camera.size):
        raise InputError(f"image of shape {a.shape}; the camera has {camera.size}² pixels")
    r = (a.astype(float) - camera.dark_dn) / (np.asarray(camera.flat) * exposure_ms)
    r = r / camera.dn_per_ms
    out: F32 = np.where(a >= camera.saturation_dn, np.nan, r).astype(np.float32)
    return out


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class ImageGeometry:
    """Where the camera was and how it pointed at mid-exposure (MOON_ME, km)."""

    time_ns: int
    position_me_km: F64
    camera_to_me: F64  # columns: camera x (columns), y (rows), z (boresight) in MOON_ME


def nadir_camera_to_icrf(r_km: ArrayLike, v_km_s: ArrayLike) -> F64:
    """Camera → ICRF rotation of a nadir-pointing orbiter (+Z to the centre, +X along v)."""
    r = np.asarray(r_km, dtype=float)
    v = np.asarray(v_km_s, dtype=float)
    z = -r / np.linalg.norm(r)
    x = v - (v @ z) * z
    n = np.linalg.norm(x)
    if not n > 0:
        raise InputError("velocity along the radius: nadir attitude undefined")
    x = x / n
    out: F64 = np.stack([x, np.cross(z, x), z], axis=1)
    return out


def geometry_from_state(
    time_ns: int, r_icrf_km: ArrayLike, v_icrf_km_s: ArrayLike, icrf_to_me: ArrayLike
) -> ImageGeometry:
    """Image geometry from a Moon-centred ICRF state and the ICRF → MOON_ME rotation then."""
    m = np.asarray(icrf_to_me, dtype=float).reshape(3, 3)
    r = np.asarray(r_icrf_km, dtype=float).reshape(3)
    if np.linalg.norm(r) <= MOON_RADIUS_KM:
        raise InputError(f"spacecraft {np.linalg.norm(r):.1f} km from the Moon's centre: inside it")
    cam = m @ nadir_camera_to_icrf(r, np.asarray(v_icrf_km_s, dtype=float).reshape(3))
    return ImageGeometry(int(time_ns), m @ r, cam)


def _hit_sphere(p0: F64, d: F64) -> F64:
    """Distance along unit rays ``d`` (N, 3) from ``p0`` to the near sphere point; NaN: miss."""
    b = d @ p0
    disc = b * b - (p0 @ p0 - MOON_RADIUS_KM**2)
    ok = (disc >= 0) & (b < 0)
    out: F64 = np.where(ok, -b - np.sqrt(np.where(ok, disc, 0.0)), np.nan)
    return out


def _latlon(p: F64) -> tuple[F64, F64]:
    n = np.linalg.norm(p, axis=1)
    return np.degrees(np.arcsin(np.clip(p[:, 2] / n, -1, 1))), np.degrees(
        np.arctan2(p[:, 1], p[:, 0])
    )


def ground_points(
    geometry: ImageGeometry, camera: FrameCamera, rows: ArrayLike, cols: ArrayLike
) -> tuple[F64, F64]:
    """Latitude and east longitude (degrees, MOON_ME) where image points' rays meet the sphere.

    NaN for rays that miss the Moon.
    """
    d = camera.directions(rows, cols) @ geometry.camera_to_me.T
    p0 = geometry.position_me_km
    t = _hit_sphere(p0, d)
    return _latlon(p0 + t[:, None] * d)


@dataclass(frozen=True)
class Footprint:
    """An image's outline on the surface: lat/lon (degrees) of points along its frame edges.

    The first four points are the frame's outer corners, in image order: (row −0.5, column
    −0.5), (−0.5, size − 0.5), (size − 0.5, size − 0.5), (size − 0.5, −0.5); the rest densify
    the edges (clockwise in the image).
    """

    lat_deg: F64
    lon_deg: F64
    corners_row_col: F64 = field(repr=False)


def footprint(geometry: ImageGeometry, camera: FrameCamera, per_edge: int = 8) -> Footprint:
    """The image's footprint (:class:`Footprint`); raises InputError if a corner misses."""
    lo, hi = -0.5, camera.size - 0.5
    corners = np.array([[lo, lo], [lo, hi], [hi, hi], [hi, lo]])
    pts = [corners]
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        s = np.linspace(0, 1, per_edge + 1)[1:-1, None]
        pts.append(a + s * (b - a))
    rc = np.vstack(pts)
    lat, lon = ground_points(geometry, camera, rc[:, 0], rc[:, 1])
    if np.any(np.isnan(lat)):
        raise InputError("the frame's edge misses the Moon: no footprint on the surface")
    return Footprint(lat, lon, rc)


# --------------------------------------------------------------------------- map grids


@dataclass(frozen=True)
class MapGrid:
    """A map grid: ``shape`` (rows, columns) cells of ``resolution_m`` in a projection.

    ``x0_m``/``y0_m`` are the projected coordinates of the upper-left corner of the upper-left
    cell; rows go down (−y). ``lon0_deg`` is the central meridian (equirectangular only).
    """

    projection: str
    x0_m: float
    y0_m: float
    resolution_m: float
    shape: tuple[int, int]
    lon0_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise InputError(f"projection {self.projection!r}: give one of {PROJECTIONS}")
        if not self.resolution_m > 0:
            raise InputError(f"map resolution {self.resolution_m} m: give a positive size")

    def to_xy(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[F64, F64]:
        """Projected metres of latitude/east longitude (degrees)."""
        phi = np.radians(np.asarray(lat_deg, dtype=float))
        lam = np.radians(np.asarray(lon_deg, dtype=float))
        if self.projection == "equirectangular":
            dl = (lam - math.radians(self.lon0_deg) + np.pi) % (2 * np.pi) - np.pi
            return MOON_RADIUS_M * dl, MOON_RADIUS_M * phi
        if self.projection == "south_polar":
            rho = 2.0 * MOON_RADIUS_M * np.tan(np.pi / 4 + phi / 2)
            return rho * np.sin(lam), rho * np.cos(lam)
        rho = 2.0 * MOON_RADIUS_M * np.tan(np.pi / 4 - phi / 2)
        return rho * np.sin(lam), -rho * np.cos(lam)

    def to_latlon(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[F64, F64]:
        """Latitude/east longitude (degrees) of projected metres (inverse of :meth:`to_xy`)."""
        x = np.asarray(x_m, dtype=float)
        y = np.asarray(y_m, dtype=float)
        if self.projection == "equirectangular":
            lon = (np.degrees(x / MOON_RADIUS_M) + self.lon0_deg + 180.0) % 360.0 - 180.0
            return np.degrees(y / MOON_RADIUS_M), lon
        rho = np.hypot(x, y)
        c = 2.0 * np.arctan(rho / (2.0 * MOON_RADIUS_M))
        if self.projection == "south_polar":
            return np.degrees(c) - 90.0, np.degrees(np.arctan2(x, y))
        return 90.0 - np.degrees(c), np.degrees(np.arctan2(x, -y))

    def cell_centres(self) -> tuple[F64, F64]:
        """Projected x, y (m) of every cell centre, each of ``shape``."""
        ny, nx = self.shape
        x = self.x0_m + (np.arange(nx) + 0.5) * self.resolution_m
        y = self.y0_m - (np.arange(ny) + 0.5) * self.resolution_m
        xx, yy = np.meshgrid(x, y)
        return xx, yy

    def cell_of(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[F64, F64]:
        """Fractional (row, column) of projected points, cell centres at integers."""
        col = (np.asarray(x_m, dtype=float) - self.x0_m) / self.resolution_m - 0.5
        row = (self.y0_m - np.asarray(y_m, dtype=float)) / self.resolution_m - 0.5
        return row, col

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL/affine coefficients (a, b, c, d, e, f): x = a·col + c, y = e·row + f."""
        return (self.resolution_m, 0.0, self.x0_m, 0.0, -self.resolution_m, self.y0_m)

    @property
    def proj4(self) -> str:
        """The projection as a PROJ string on the 1737.4 km sphere."""
        r = f"+R={MOON_RADIUS_M:.0f} +units=m +no_defs"
        if self.projection == "south_polar":
            return f"+proj=stere +lat_0=-90 +lon_0=0 +k=1 +x_0=0 +y_0=0 {r}"
        if self.projection == "north_polar":
            return f"+proj=stere +lat_0=90 +lon_0=0 +k=1 +x_0=0 +y_0=0 {r}"
        return f"+proj=eqc +lat_ts=0 +lat_0=0 +lon_0={self.lon0_deg:g} +x_0=0 +y_0=0 {r}"

    @property
    def x_unit_label(self) -> str:
        """Axis label of projected x for plots."""
        return {
            "south_polar": "x (km, south-polar stereographic, towards 90°E)",
            "north_polar": "x (km, north-polar stereographic, towards 90°E)",
            "equirectangular": f"x (km, equirectangular east of {self.lon0_deg:g}°E)",
        }[self.projection]

    @property
    def y_unit_label(self) -> str:
        """Axis label of projected y for plots."""
        return {
            "south_polar": "y (km, towards 0°E)",
            "north_polar": "y (km, towards 180°E)",
            "equirectangular": "y (km, north of the equator)",
        }[self.projection]


def choose_grid(
    footprints: Sequence[Footprint],
    resolution_m: float,
    *,
    projection: str | None = None,
    margin_cells: int = 2,
    max_cells: int = 16_000_000,
) -> MapGrid:
    """A grid covering the footprints at ``resolution_m`` (projection by latitude, module doc).

    Raises
    ------
    InputError
        No footprints, a bad projection or resolution, or a grid over ``max_cells`` cells.
    """
    if not footprints:
        raise InputError("no footprints to make a map grid from")
    lat = np.concatenate([f.lat_deg for f in footprints])
    lon = np.concatenate([f.lon_deg for f in footprints])
    if projection is None:
        if lat.min() < -POLAR_LIMIT_DEG:
            projection = "south_polar"
        elif lat.max() > POLAR_LIMIT_DEG:
            projection = "north_polar"
        else:
            projection = "equirectangular"
    lon0 = 0.0
    if projection == "equirectangular":
        z = np.exp(1j * np.radians(lon)).mean()
        lon0 = round(math.degrees(math.atan2(z.imag, z.real)), 3)
    probe = MapGrid(projection, 0.0, 0.0, resolution_m, (1, 1), lon0)
    x, y = probe.to_xy(lat, lon)
    res = resolution_m
    x0 = math.floor(x.min() / res - margin_cells) * res
    x1 = math.ceil(x.max() / res + margin_cells) * res
    y0 = math.floor(y.min() / res - margin_cells) * res
    y1 = math.ceil(y.max() / res + margin_cells) * res
    shape = (round((y1 - y0) / res), round((x1 - x0) / res))
    if shape[0] * shape[1] > max_cells:
        raise InputError(
            f"a map of {shape[0]} x {shape[1]} cells of {res:g} m: over {max_cells} cells; "
            "give a coarser resolution or fewer, closer images"
        )
    return MapGrid(projection, x0, y1, res, shape, lon0)


# --------------------------------------------------------------------------- projection


def _sample(image: F64, rows: F64, cols: F64, size: int) -> F64:
    from scipy.ndimage import map_coordinates

    inside = (rows >= -0.5) & (rows <= size - 0.5) & (cols >= -0.5) & (cols <= size - 0.5)
    r = np.clip(np.nan_to_num(rows, nan=0.0), 0, size - 1)
    c = np.clip(np.nan_to_num(cols, nan=0.0), 0, size - 1)
    v = map_coordinates(image, [r, c], order=1, mode="nearest")
    out: F64 = np.where(inside, v, np.nan)
    return out


def image_coordinates(
    geometry: ImageGeometry, camera: FrameCamera, grid: MapGrid
) -> tuple[F64, F64]:
    """Fractional (row, column) in the image of every map cell's ground point; NaN if unseen.

    A cell is seen if its point on the sphere faces the camera (the camera's ray reaches it
    before any other point of the sphere) and lies in front of the camera.
    """
    xx, yy = grid.cell_centres()
    lat, lon = grid.to_latlon(xx.ravel(), yy.ravel())
    phi, lam = np.radians(lat), np.radians(lon)
    p = MOON_RADIUS_KM * np.stack(
        [np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1
    )
    d = p - geometry.position_me_km
    facing = np.einsum("ij,ij->i", d, p) < 0
    d_cam = d @ geometry.camera_to_me
    rows, cols = camera.pixel_of(d_cam)
    rows = np.where(facing, rows, np.nan)
    cols = np.where(facing, cols, np.nan)
    return rows.reshape(grid.shape), cols.reshape(grid.shape)


def project(image: ArrayLike, geometry: ImageGeometry, camera: FrameCamera, grid: MapGrid) -> F32:
    """Resample an image (e.g. radiance factor) onto ``grid``: bilinear, NaN where unseen."""
    a = np.asarray(image, dtype=float)
    if a.shape != (camera.size, camera.size):
        raise InputError(f"image of shape {a.shape}; the camera has {camera.size}² pixels")
    rows, cols = image_coordinates(geometry, camera, grid)
    out: F32 = _sample(a, rows, cols, camera.size).astype(np.float32)
    return out


def edge_weight(camera: FrameCamera) -> F64:
    """Feathering weight: distance (pixels) of each pixel centre to the nearest frame edge."""
    i = np.arange(camera.size) + 0.5
    d = np.minimum(i, camera.size - i)
    out: F64 = np.minimum.outer(d, d)
    return out


@dataclass(frozen=True)
class Mosaic:
    """A mosaic on one grid: blended values, how many images cover each cell, and overlaps.

    ``overlap_diff`` holds, for each pair of images that overlap, (i, j, cells, median
    difference, RMS difference) of image i minus image j over the cells both cover.
    """

    grid: MapGrid
    values: F32
    count: NDArray[np.int16]
    overlap_diff: list[tuple[int, int, int, float, float]]


def mosaic(
    images: Sequence[ArrayLike],
    geometries: Sequence[ImageGeometry],
    camera: FrameCamera,
    grid: MapGrid,
) -> tuple[Mosaic, list[F32]]:
    """Project every image on ``grid`` and blend them by edge-feathered weights.

    Returns the :class:`Mosaic` and each image's own projection.
    """
    if len(images) != len(geometries) or not images:
        raise InputError("give one geometry per image, and at least one image")
    w_img = edge_weight(camera)
    total = np.zeros(grid.shape)
    wsum = np.zeros(grid.shape)
    count = np.zeros(grid.shape, dtype=np.int16)
    projected: list[F32] = []
    for img, geo in zip(images, geometries, strict=True):
        a = np.asarray(img, dtype=float)
        if a.shape != (camera.size, camera.size):
            raise InputError(f"image of shape {a.shape}; the camera has {camera.size}² pixels")
        rows, cols = image_coordinates(geo, camera, grid)
        v = _sample(a, rows, cols, camera.size)
        w = _sample(w_img, rows, cols, camera.size)
        ok = np.isfinite(v) & np.isfinite(w)
        total[ok] += (w * v)[ok]
        wsum[ok] += w[ok]
        count += ok
        projected.append(v.astype(np.float32))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(wsum > 0, total / wsum, np.nan).astype(np.float32)
    pairs = []
    for i in range(len(projected)):
        for j in range(i + 1, len(projected)):
            both = np.isfinite(projected[i]) & np.isfinite(projected[j])
            n = int(both.sum())
            if n:
                d = (projected[i] - projected[j])[both].astype(float)
                pairs.append((i, j, n, float(np.median(d)), float(np.sqrt(np.mean(d * d)))))
    return Mosaic(grid, values, count, pairs), projected


def register_shift(moving: ArrayLike, reference: ArrayLike, upsample: int = 20) -> F64:
    """Sub-cell shift (rows, columns) that moves ``moving`` onto ``reference`` (phase correlation).

    Both on the same grid, over the window both mostly cover: each map's own NaN cells set to
    its mean, a Hann taper, then scikit-image's ``phase_cross_correlation`` refined to
    1/``upsample`` cell by upsampled cross-correlation (Guizar-Sicairos, Thurman & Fienup,
    Opt. Lett. 33, 156, 2008). A positive row shift means ``moving`` sits that many cells
    above where the reference has it.
    """
    from skimage.registration import phase_cross_correlation

    a = np.asarray(moving, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"register_shift needs maps of one shape; got {a.shape} and {b.shape}")
    both = np.isfinite(a) & np.isfinite(b)
    rows = np.flatnonzero(both.mean(axis=1) > 0.9)
    cols = np.flatnonzero(both.mean(axis=0) > 0.9)
    if rows.size < 16 or cols.size < 16:
        raise InputError("the maps overlap in fewer than 16 x 16 cells: nothing to register")
    win = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    # each map filled where it alone has no data (a mask common to both would pull the peak to
    # zero shift), mean removed, and a Hann taper against the window's own edges
    taper = np.outer(np.hanning(rows[-1] - rows[0] + 1), np.hanning(cols[-1] - cols[0] + 1))
    fill_a, fill_b = (
        (np.where(np.isfinite(m), m, np.nanmean(m)) - np.nanmean(m)) * taper
        for m in (a[win], b[win])
    )
    shift, _, _ = phase_cross_correlation(  # type: ignore[no-untyped-call]
        fill_b, fill_a, upsample_factor=upsample
    )
    out: F64 = np.asarray(shift, dtype=float)
    return out


def describe(grid: MapGrid) -> dict[str, Any]:
    """The grid as plain values (for a product's description and a JSON summary)."""
    return {
        "projection": grid.projection,
        "proj4": grid.proj4,
        "resolution_m": grid.resolution_m,
        "rows": grid.shape[0],
        "columns": grid.shape[1],
        "upper_left_x_m": grid.x0_m,
        "upper_left_y_m": grid.y0_m,
        "central_meridian_deg": grid.lon0_deg,
    }


# --------------------------------------------------------------------------- products


def write_geotiff(path: Any, values: ArrayLike, grid: MapGrid, description: str = "") -> Any:
    """Write a map as a one-band float32 GeoTIFF (NaN nodata) in the grid's projection."""
    import rasterio  # type: ignore[import-untyped]  # ships no type information
    from affine import Affine  # type: ignore[import-untyped]  # no type information
    from rasterio.crs import CRS  # type: ignore[import-untyped]

    a = np.asarray(values, dtype=np.float32)
    if a.shape != grid.shape:
        raise InputError(f"map of shape {a.shape} for a grid of {grid.shape}")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=a.shape[0],
        width=a.shape[1],
        count=1,
        dtype="float32",
        crs=CRS.from_proj4(grid.proj4),
        transform=Affine(*grid.transform),
        nodata=float("nan"),
        compress="deflate",
    ) as dst:
        dst.write(a, 1)
        dst.update_tags(1, quantity="radiance factor", unit="1", note=description)
    return path


def write_quicklook(
    path: Any,
    values: ArrayLike,
    grid: MapGrid,
    title: str,
    footprints: Sequence[Footprint] = (),
    label: str = "radiance factor R = albedo · cos(i) (unitless)",
) -> Any:
    """A PNG quick-look: the map in km, a colour bar with units, the footprints outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.asarray(values, dtype=float)
    ny, nx = grid.shape
    r = grid.resolution_m / 1000.0
    extent = (
        grid.x0_m / 1000,
        grid.x0_m / 1000 + nx * r,
        grid.y0_m / 1000 - ny * r,
        grid.y0_m / 1000,
    )
    fin = a[np.isfinite(a)]
    vmin, vmax = np.percentile(fin, [1, 99]) if fin.size else (0.0, 1.0)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(a, extent=extent, origin="upper", cmap="gray", vmin=vmin, vmax=vmax)
    for k, f in enumerate(footprints):
        x, y = grid.to_xy(f.lat_deg, f.lon_deg)
        order = _outline_order(f)
        ax.plot(np.append(x[order], x[order[0]]) / 1000, np.append(y[order], y[order[0]]) / 1000,
                lw=0.8, color="tab:orange", label="footprints" if k == 0 else None)  # fmt: skip
    if footprints:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(grid.x_unit_label)
    ax.set_ylabel(grid.y_unit_label)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _outline_order(f: Footprint) -> NDArray[np.intp]:
    """Indices of a footprint's points in order around the frame (corners and edge points)."""
    rc = f.corners_row_col
    centre = rc.mean(axis=0)
    ang = np.arctan2(rc[:, 0] - centre[0], rc[:, 1] - centre[1])
    out: NDArray[np.intp] = np.argsort(ang)
    return out
