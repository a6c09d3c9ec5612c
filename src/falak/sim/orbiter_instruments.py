"""The orbiter simulator's instruments: nadir frame camera, fluxgate magnetometer, file formats.

Each keeps its truth (what it would see without noise) so that science products can be
checked against it.

**Crustal field** (:class:`CrustalField`): the simulator's truth is the field of
``N_DIPOLES`` buried point dipoles, fixed in MOON_ME and drawn from a seed: centres uniform
over the sphere at depths of 5 to 50 km below the 1737.4 km sphere, directions uniform,
moments log-uniform between 1e13 and 2e14 A m². Each contributes the static dipole field
``B = μ0/4π (3 r̂ (m·r̂) − m) / r³`` (Jackson, *Classical Electrodynamics*, 3rd ed., eq. 5.56),
which with r in km and B in nT is ``1e-7 (3 r̂ (m·r̂) − m) / r_km³``. The numbers are
illustrative, of the order of the weak, patchy crustal fields mapped from lunar orbit (seed
0: median 1.5 nT and 99th percentile 60 nT at 30 km altitude; median 0.4 nT, at most 3.5 nT at
the 200 km perilune; < 0.001 nT at the 8,600 km apolune). No external (solar-wind, Earth's
magnetotail) field is added.

**Magnetometer** (:class:`Magnetometer`): three fluxgate axes in the sensor frame (nominally the
body frame). A reading is ``S · (M · B_body) + offset + noise``: ``M`` a small misalignment
rotation (:data:`MAG_MISALIGNMENT_DEG` about x, y, z), ``S`` the scale factors
:data:`MAG_SCALE`, offsets :data:`MAG_OFFSETS_NT` and white noise of
:data:`MAG_NOISE_NT` (1σ per axis per sample, whatever the rate), quantised to 1 pT. These
are the instrument's ground calibration (README.md of the mission) and
:meth:`Magnetometer.calibrate` removes them.

**Camera** (:func:`render_image`): a pinhole frame camera looking along the body +Z axis
(nadir), :data:`IMAGE_SIZE` × :data:`IMAGE_SIZE` pixels of :data:`IFOV_RAD` each (field of view
:data:`FOV_DEG`, 5.72°): 39.1 m per pixel and a 20 km frame at the 200 km perilune, 1.7 km
per pixel at the 8,600 km apolune. Each pixel's ray is intersected with the 1737.4 km sphere
(terrain heights move a ground point by ``h · tan(off-nadir)``, < 0.1 pixel; not modelled) and
the ground point is shaded by Lambert's law with the real Sun direction (DE421):
``signal = albedo · max(0, n · s) · lit``, n the terrain normal, s the unit vector to the Sun.
The terrain is

- within the polar DEM (falak's synthetic south pole, :func:`falak.terrain.synth.synthesize`
  with Shackleton, 512² cells of 120 m centred on the pole, i.e. poleward of ≈ 89.0°S): its
  heights give the normals and its horizons (36 azimuths) cast shadows, ``lit`` being the share
  of the solar disk above the terrain horizon; albedo :data:`POLAR_ALBEDO`;
- elsewhere a simple global model: albedo 0.15 (highlands) or 0.07 inside the major maria
  (discs at their IAU-gazetteer centres and diameters, rounded), ±10 % smooth variation, and
  a rolling relief of 24 plane waves of 5 to 200 km wavelength (slopes of a few degrees) for
  the normals; no cast shadows (``lit`` = 1 wherever n · s > 0).

The detector: ``DN = signal · exposure_ms · DN_PER_MS`` (a 10 ms exposure of 0.15-albedo
ground under a zenith Sun gives 200 DN), photon noise of :data:`ELECTRONS_PER_DN` electrons
per DN, 1 DN read noise, no bias, 8 bits (saturating at 255). Motion smear (2.2 km/s at
perilune: 22 m, half a pixel, in 10 ms), optics blur, Hapke photometry and the opposition
effect are left out: good for planning and for looking, not for photometry.

**Files.** An image is a binary PGM (``P5``, maxval 255); a magnetometer file is
``MAG_HEADER`` (magic ``FKMAG001``, then big-endian uint32 rate in mHz and uint32 sample
count) followed by one 20-byte record per sample: int64 UTC ns since 1970, then int32 × 3 raw
readings in pT (sensor X, Y, Z).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.moonframes import MOON_RADIUS_KM

__all__ = [
    "DN_PER_MS",
    "FOV_DEG",
    "IFOV_RAD",
    "IMAGE_SIZE",
    "MAG_NOISE_NT",
    "MAG_OFFSETS_NT",
    "MAG_SCALE",
    "CrustalField",
    "Magnetometer",
    "dipole_field_nt",
    "mag_file_bytes",
    "pgm_bytes",
    "read_mag_file",
    "read_pgm",
    "render_image",
]

F64 = NDArray[np.float64]

# -- camera ---------------------------------------------------------------------------------
IMAGE_SIZE = 512
IFOV_RAD = 0.1 / IMAGE_SIZE  # 195.3 µrad
FOV_DEG = math.degrees(2.0 * math.atan(IMAGE_SIZE / 2 * IFOV_RAD))
DN_PER_MS = 200.0 / (10.0 * 0.15)  # 10 ms, albedo 0.15, zenith Sun -> 200 DN
ELECTRONS_PER_DN = 20.0
READ_NOISE_DN = 1.0
POLAR_ALBEDO = 0.12
HIGHLAND_ALBEDO = 0.15
MARE_ALBEDO = 0.07
#: Solar angular radius seen from the Moon (695,700 km at 1 au), degrees.
SUN_RADIUS_DEG = math.degrees(695_700.0 / 149_597_870.7)
#: Major maria as discs: (name, centre latitude, east longitude, diameter km), IAU Gazetteer of
#: Planetary Nomenclature, rounded. Oceanus Procellarum and Mare Frigoris are not discs; the
#: disc is a stand-in.
MARIA = (
    ("Oceanus Procellarum", 18.4, -57.4, 2568.0),
    ("Mare Imbrium", 32.8, -15.6, 1146.0),
    ("Mare Serenitatis", 27.3, 18.4, 674.0),
    ("Mare Tranquillitatis", 8.5, 31.4, 873.0),
    ("Mare Crisium", 17.0, 59.1, 556.0),
    ("Mare Fecunditatis", -7.8, 51.3, 909.0),
    ("Mare Nubium", -21.3, -16.6, 715.0),
    ("Mare Humorum", -24.4, -38.6, 389.0),
    ("Mare Nectaris", -15.2, 35.5, 333.0),
    ("Mare Moscoviense", 27.3, 147.9, 277.0),
)
POLAR_DEM_CELLS = 512
POLAR_DEM_RESOLUTION_M = 120.0

# -- magnetometer ---------------------------------------------------------------------------
N_DIPOLES = 300
MAG_OFFSETS_NT = (3.2, -1.7, 0.9)
MAG_SCALE = (1.005, 0.997, 1.002)
MAG_MISALIGNMENT_DEG = (0.30, -0.20, 0.50)
MAG_NOISE_NT = 0.1
MAG_HEADER = struct.Struct(">8sII")
MAG_RECORD = struct.Struct(">q3i")
MAG_MAGIC = b"FKMAG001"


def dipole_field_nt(moment_am2: F64, centre_km: F64, at_km: F64) -> F64:
    """Field (nT) at points ``at_km`` (N, 3) of dipoles ``moment_am2`` (M, 3) at ``centre_km``.

    ``B = 1e-7 (3 r̂ (m·r̂) − m) / r³`` with r in km (Jackson 3rd ed. eq. 5.56: μ0/4π =
    1e-7 T m/A, a km³ is 1e9 m³ and a tesla 1e9 nT). Frames as given; returns (N, 3), the sum
    over the dipoles.
    """
    at = np.atleast_2d(np.asarray(at_km, dtype=float))
    m = np.atleast_2d(np.asarray(moment_am2, dtype=float))
    c = np.atleast_2d(np.asarray(centre_km, dtype=float))
    d = at[:, None, :] - c[None, :, :]  # (N, M, 3)
    r = np.linalg.norm(d, axis=2)
    rhat = d / r[..., None]
    mdot = np.einsum("nmk,mk->nm", rhat, m)
    b = 1e-7 * (3.0 * rhat * mdot[..., None] - m[None, :, :]) / (r**3)[..., None]
    out: F64 = b.sum(axis=1)
    return out


@dataclass(frozen=True)
class CrustalField:
    """Buried dipoles fixed in MOON_ME (the module doc): the simulator's magnetic truth."""

    centres_km: F64
    moments_am2: F64

    @classmethod
    def build(cls, seed: int, n: int = N_DIPOLES) -> CrustalField:
        """Draw ``n`` dipoles from ``seed`` (the same seed gives the same field)."""
        rng = np.random.default_rng([seed, 0x6D6167])  # its own stream: "mag"
        u = rng.normal(size=(n, 3))
        u /= np.linalg.norm(u, axis=1)[:, None]
        depth = rng.uniform(5.0, 50.0, n)
        centres = u * (MOON_RADIUS_KM - depth)[:, None]
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1)[:, None]
        moment = 10.0 ** rng.uniform(13.0, 14.3, n)
        return cls(centres, d * moment[:, None])

    def field_nt(self, at_me_km: F64) -> F64:
        """The crustal field (nT, MOON_ME) at points ``at_me_km`` (N, 3) MOON_ME km."""
        return dipole_field_nt(self.moments_am2, self.centres_km, at_me_km)


def _rotation_xyz(angles_deg: tuple[float, float, float]) -> F64:
    ax, ay, az = (math.radians(a) for a in angles_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    out: F64 = rz @ ry @ rx
    return out


class Magnetometer:
    """A three-axis fluxgate with offsets, scale factors, misalignment and noise (module doc)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.offsets_nt = np.array(MAG_OFFSETS_NT, dtype=float)
        self.scale = np.array(MAG_SCALE, dtype=float)
        self.misalignment = _rotation_xyz(MAG_MISALIGNMENT_DEG)
        self.noise_nt = MAG_NOISE_NT
        self.extra_offset_nt = np.zeros(3)  # a fault (MAG_OFFSET_JUMP), unknown to the ground

    def measure(self, b_body_nt: F64) -> F64:
        """Raw readings (nT, sensor frame, 1 pT steps) of true body-frame fields (N, 3)."""
        b = np.atleast_2d(b_body_nt) @ self.misalignment.T
        raw = b * self.scale + self.offsets_nt + self.extra_offset_nt
        raw = raw + self.rng.normal(0.0, self.noise_nt, raw.shape)
        out: F64 = np.round(raw * 1000.0) / 1000.0
        return out

    def calibrate(self, raw_nt: F64) -> F64:
        """Body-frame field (nT) from raw readings with the ground calibration (known terms)."""
        b = (np.atleast_2d(raw_nt) - self.offsets_nt) / self.scale
        out: F64 = b @ self.misalignment  # Mᵀ applied to each row
        return out


# -- files ----------------------------------------------------------------------------------


def pgm_bytes(image: NDArray[np.uint8]) -> bytes:
    """Return an 8-bit grey image as a binary PGM file (Netpbm ``P5``, maxval 255)."""
    h, w = image.shape
    return f"P5\n{w} {h}\n255\n".encode("ascii") + np.ascontiguousarray(image).tobytes()


def read_pgm(data: bytes) -> NDArray[np.uint8]:
    """Read a binary PGM written by :func:`pgm_bytes`."""
    parts = data.split(b"\n", 3)
    if len(parts) != 4 or parts[0] != b"P5" or parts[2] != b"255":
        raise ValueError("not an 8-bit binary PGM (P5, maxval 255) as pgm_bytes writes")
    w, h = (int(v) for v in parts[1].split())
    return np.frombuffer(parts[3], dtype=np.uint8, count=w * h).reshape(h, w)


def mag_file_bytes(rate_hz: float, times_ns: NDArray[np.int64], raw_nt: F64) -> bytes:
    """Return a magnetometer file (module doc): header, then one record per sample."""
    pt = np.round(np.asarray(raw_nt, dtype=float) * 1000.0).astype(">i4")
    rec = np.empty(len(times_ns), dtype=[("t", ">i8"), ("b", ">i4", (3,))])
    rec["t"] = times_ns
    rec["b"] = pt
    head = MAG_HEADER.pack(MAG_MAGIC, round(rate_hz * 1000), len(times_ns))
    return head + rec.tobytes()


def read_mag_file(data: bytes) -> tuple[float, NDArray[np.int64], F64]:
    """Read a magnetometer file: (rate Hz, UTC ns since 1970, raw readings nT (N, 3))."""
    magic, rate_mhz, n = MAG_HEADER.unpack_from(data)
    if magic != MAG_MAGIC:
        raise ValueError(f"not a falak magnetometer file (magic {magic!r}, expected {MAG_MAGIC!r})")
    rec = np.frombuffer(
        data, dtype=[("t", ">i8"), ("b", ">i4", (3,))], count=n, offset=MAG_HEADER.size
    )
    return rate_mhz / 1000.0, rec["t"].astype(np.int64), rec["b"].astype(float) / 1000.0


# -- camera ---------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def polar_terrain(seed: int) -> tuple[Any, Any, F64, F64]:
    """The polar DEM, its horizons and height gradients d h/dx, d h/dy (built once per seed)."""
    from falak.terrain.horizons import horizons
    from falak.terrain.synth import synthesize

    dem = synthesize(
        POLAR_DEM_CELLS, POLAR_DEM_RESOLUTION_M, (-90.0, 0.0), seed=seed, shackleton=True
    )
    hz = horizons(dem, 36)
    gy, gx = np.gradient(np.asarray(dem.height_m, dtype=float), POLAR_DEM_RESOLUTION_M)
    return dem, hz, gx, -gy  # rows go south (-y): d h/dy = -d h/d row


@lru_cache(maxsize=4)
def _relief_waves(seed: int) -> tuple[F64, F64, F64, F64, F64]:
    rng = np.random.default_rng([seed, 0x72656C])  # "rel"
    n = 24
    k = rng.normal(size=(n, 3))
    k /= np.linalg.norm(k, axis=1)[:, None]
    wavelength = 10.0 ** rng.uniform(math.log10(5.0), math.log10(200.0), n)
    amp = 0.003 * wavelength
    phase = rng.uniform(0, 2 * math.pi, n)
    ka = rng.normal(size=(8, 3))
    ka /= np.linalg.norm(ka, axis=1)[:, None]
    return k, wavelength, amp, phase, ka


def global_albedo(up: F64, seed: int) -> F64:
    """Albedo of the global model at unit MOON_ME directions ``up`` (N, 3) (module doc)."""
    out = np.full(len(up), HIGHLAND_ALBEDO)
    for _, lat, lon, diam in MARIA:
        la, lo = math.radians(lat), math.radians(lon)
        c = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
        ang = np.arccos(np.clip(up @ c, -1, 1)) * MOON_RADIUS_KM  # km along the surface
        edge = np.clip((diam / 2 + 30.0 - ang) / 60.0, 0.0, 1.0)  # 60 km soft edge
        out = out + (MARE_ALBEDO - out) * edge
    _, _, _, _, ka = _relief_waves(seed)
    var = np.sin(up @ ka.T * 7.0).mean(axis=1)
    result: F64 = out * (1.0 + 0.1 * var)
    return result


def global_normal(p_km: F64, up: F64, seed: int) -> F64:
    """Terrain normals of the global relief at MOON_ME points ``p_km`` (N, 3)."""
    k, wl, amp, phase, _ = _relief_waves(seed)
    arg = 2 * math.pi * (p_km @ k.T) / wl + phase
    grad = (np.cos(arg) * (2 * math.pi * amp / wl)) @ k  # (N, 3), km per km
    grad -= np.einsum("ij,ij->i", grad, up)[:, None] * up
    n = up - grad
    out: F64 = n / np.linalg.norm(n, axis=1)[:, None]
    return out


def render_image(
    position_me_km: F64,
    camera_to_me: F64,
    sun_me_unit: F64,
    exposure_ms: float,
    rng: np.random.Generator,
    *,
    seed: int = 0,
    polar: bool = True,
    size: int = IMAGE_SIZE,
) -> tuple[NDArray[np.uint8], dict[str, Any]]:
    """Render one nadir frame (module doc); return the 8-bit image and its truth.

    ``camera_to_me`` has the camera axes (x: image columns, y: image rows, z: boresight) as
    columns in MOON_ME. The truth holds ``expected_dn`` (noise-free, unclipped), the ground
    point of every pixel (``lat_deg``, ``lon_deg``; NaN where the ray misses the Moon), the
    Sun's elevation over the sphere there (``sun_elevation_deg``), the boresight ground point
    and the inputs.
    """
    ifov = IFOV_RAD * IMAGE_SIZE / size
    c = (np.arange(size) - (size - 1) / 2) * ifov
    xx, yy = np.meshgrid(c, c)
    d_cam = np.stack([xx.ravel(), yy.ravel(), np.ones(size * size)], axis=1)
    d_cam /= np.linalg.norm(d_cam, axis=1)[:, None]
    d = d_cam @ camera_to_me.T
    p0 = np.asarray(position_me_km, dtype=float)
    b = d @ p0
    disc = b * b - (p0 @ p0 - MOON_RADIUS_KM**2)
    hit = (disc >= 0) & (b < 0)
    t = np.where(hit, -b - np.sqrt(np.where(hit, disc, 0.0)), np.nan)
    p = p0 + t[:, None] * d
    up = p / MOON_RADIUS_KM
    lat = np.degrees(np.arcsin(np.clip(up[:, 2], -1, 1)))
    lon = np.degrees(np.arctan2(up[:, 1], up[:, 0]))
    s = np.asarray(sun_me_unit, dtype=float)
    sun_el = np.degrees(np.arcsin(np.clip(up @ s, -1, 1)))
    signal = np.zeros(size * size)
    ok = hit.copy()
    in_dem = np.zeros(size * size, dtype=bool)
    if polar and np.any(ok & (lat < -88.5)):
        from falak.terrain.dem import latlon_to_xy

        dem, hz, gx, gy = polar_terrain(seed)
        x, y = latlon_to_xy(np.where(ok, lat, -90.0), np.where(ok, lon, 0.0))
        tr = dem.transform
        cols = np.floor((x - tr.c) / tr.a).astype(np.intp)
        rows = np.floor((y - tr.f) / tr.e).astype(np.intp)
        ny, nx = dem.shape
        in_dem = ok & (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
        if np.any(in_dem):
            i = np.flatnonzero(in_dem)
            r, cc = rows[i], cols[i]
            phi, lam = np.radians(lat[i]), np.radians(lon[i])
            east = np.stack([-np.sin(lam), np.cos(lam), np.zeros_like(lam)], axis=1)
            north = np.stack(
                [-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)], axis=1
            )
            ex = np.sin(lam)[:, None] * north + np.cos(lam)[:, None] * east
            ey = np.cos(lam)[:, None] * north - np.sin(lam)[:, None] * east
            u = up[i]
            n = u - gx[r, cc][:, None] * ex - gy[r, cc][:, None] * ey
            n /= np.linalg.norm(n, axis=1)[:, None]
            az = np.degrees(np.arctan2(ex @ s, ey @ s)) % 360.0
            from falak.dynamics.moonsky import disk_fraction_above_horizon

            horizon = hz.at(az, r, cc)
            lit = disk_fraction_above_horizon(sun_el[i] - horizon, np.full(len(i), SUN_RADIUS_DEG))
            signal[i] = POLAR_ALBEDO * np.maximum(0.0, n @ s) * lit
    rest = ok & ~in_dem
    if np.any(rest):
        j = np.flatnonzero(rest)
        n = global_normal(p[j], up[j], seed)
        signal[j] = global_albedo(up[j], seed) * np.maximum(0.0, n @ s)
    expected = signal * exposure_ms * DN_PER_MS
    electrons = rng.poisson(np.maximum(expected, 0.0) * ELECTRONS_PER_DN).astype(float)
    dn = electrons / ELECTRONS_PER_DN + rng.normal(0.0, READ_NOISE_DN, expected.shape)
    image = np.clip(np.round(dn), 0, 255).astype(np.uint8).reshape(size, size)
    centre = size * size // 2 + size // 2
    bore = camera_to_me[:, 2]
    bb = bore @ p0
    bdisc = bb * bb - (p0 @ p0 - MOON_RADIUS_KM**2)
    if bdisc >= 0 and bb < 0:
        gp = p0 + (-bb - math.sqrt(bdisc)) * bore
        rng_km = float(np.linalg.norm(gp - p0))
        g_up = gp / MOON_RADIUS_KM
        centre_lat = math.degrees(math.asin(max(-1.0, min(1.0, g_up[2]))))
        centre_lon = math.degrees(math.atan2(g_up[1], g_up[0]))
        incidence = math.degrees(math.acos(max(-1.0, min(1.0, float(g_up @ s)))))
    else:
        rng_km, centre_lat, centre_lon, incidence = math.nan, math.nan, math.nan, math.nan
    truth = {
        "expected_dn": expected.reshape(size, size).astype(np.float32),
        "lat_deg": lat.reshape(size, size).astype(np.float32),
        "lon_deg": lon.reshape(size, size).astype(np.float32),
        "sun_elevation_deg": sun_el.reshape(size, size).astype(np.float32),
        "in_polar_dem": in_dem.reshape(size, size),
        "position_me_km": p0.copy(),
        "camera_to_me": np.asarray(camera_to_me, dtype=float).copy(),
        "sun_me_unit": s.copy(),
        "exposure_ms": float(exposure_ms),
        "centre_lat_deg": centre_lat,
        "centre_lon_deg": centre_lon,
        "centre_range_km": rng_km,
        "pixel_scale_m": rng_km * ifov * 1000.0,
        "sun_incidence_deg": incidence,
        "centre_pixel_dn": int(image.ravel()[centre]),
    }
    return image, truth
