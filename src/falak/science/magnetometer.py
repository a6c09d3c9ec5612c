"""Magnetometry on arrays: in-flight calibration, frame rotation, maps at altitude, dipoles.

Array in, array out; fields in nT, positions in km (MOON_ME unless named otherwise).

- **Calibration** (:func:`calibrate_vector`): the fluxgate model of the orbiter simulator,
  ``raw = G · B + o`` with ``G = S · M`` (scale factors times a small misalignment rotation),
  is fitted by linear least squares of the raw readings against a reference field ``B_ref``
  in the sensor frame (12 unknowns: the 3×3 ``G`` and the offset ``o``). This is the vector
  form of the in-flight calibration (Merayo et al. 2000, "Scalar calibration of vector
  magnetometers", Meas. Sci. Technol. 11:120, which fits the same 9+3 parameters against a
  scalar reference). Assumptions: the reference is good to well below the wanted accuracy
  (crustal field < 3 nT above 100 km, REFERENCES.md "Magnetic field from orbit", or a known
  model), and the reference vectors span all three axes (a nadir-pointing orbiter rotates once
  per orbit). Where the field is negligible (apolune) :func:`offsets_from_quiet` gives the
  offsets alone as the median of the readings. ``G`` is split into scale factors (its row
  norms) and a misalignment (the rows divided by them).
- **Rotation** (:func:`body_to_me`): the simulator's attitude rows are body +X, +Y, +Z in ICRF
  (``falak.sim.orbiter.body_from_icrf``); with ``icrf_to_me`` from the orbit
  (``falak.dynamics.moonframes``) ``B_me = icrf_to_me · Rᵀ · B_body``.
- **Maps** (:func:`grid_map`): mean and count in lat/lon bins of the MOON_ME positions.
- **Inversion** (:func:`invert_dipoles`): equivalent-source dipoles (Mayhew 1979, J. Geophys.
  50:1; Purucker et al. 1996, Geophys. Res. Lett. 23:507): the field is linear in the moments
  of dipoles at fixed candidate positions, ``B = 1e-7 (3 r̂ (m·r̂) − m) / r_km³`` (Jackson 3rd
  ed. eq. 5.56), so the moments solve the Tikhonov-regularised least squares
  ``min |K m − B|² + λ² |m|²`` with λ stated by the caller (default :data:`TIKHONOV_LAMBDA`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

__all__ = [
    "TIKHONOV_LAMBDA",
    "Calibration",
    "DipoleFit",
    "body_to_me",
    "calibrate_vector",
    "candidate_grid",
    "dipole_kernel",
    "grid_map",
    "invert_dipoles",
    "lat_lon_alt",
    "offsets_from_quiet",
]

MU0_4PI_KM = 1e-7  # nT km³ per A m² (μ0/4π with r in km and B in nT)
TIKHONOV_LAMBDA = 1e-3  # relative to the largest singular value of the kernel
MOON_RADIUS_KM = 1737.4


@dataclass(frozen=True)
class Calibration:
    """``raw = gain · B + offset_nt``; :meth:`apply` inverts it."""

    gain: F64  # (3, 3) scale × misalignment
    offset_nt: F64  # (3,)
    rms_nt: float  # residual of the fit

    @property
    def scale(self) -> F64:
        """Scale factors: the row norms of the gain (a rotation has unit rows)."""
        out: F64 = np.linalg.norm(self.gain, axis=1)
        return out

    @property
    def misalignment(self) -> F64:
        """The gain with its scale factors divided out (≈ a rotation)."""
        out: F64 = self.gain / self.scale[:, None]
        return out

    def apply(self, raw_nt: F64) -> F64:
        """Calibrated field (nT, (N, 3)) from raw readings (N, 3)."""
        d = (np.atleast_2d(raw_nt) - self.offset_nt).T
        out: F64 = np.asarray(np.linalg.solve(self.gain, d).T, dtype=np.float64)
        return out


def calibrate_vector(raw_nt: F64, reference_nt: F64) -> Calibration:
    """Fit ``raw = G · ref + o`` by linear least squares (module doc). Arrays (N, 3), N ≥ 4."""
    raw = np.atleast_2d(np.asarray(raw_nt, dtype=float))
    ref = np.atleast_2d(np.asarray(reference_nt, dtype=float))
    if raw.shape != ref.shape or raw.shape[0] < 4:
        raise ValueError(
            f"calibrate_vector needs two (N, 3) arrays of equal shape with N >= 4, got "
            f"{raw.shape} and {ref.shape}"
        )
    design = np.hstack([ref, np.ones((len(ref), 1))])
    if np.linalg.matrix_rank(design) < 4:
        raise ValueError(
            "the reference vectors do not span three axes: use passes over a full orbit "
            "(the nadir attitude rotates once per orbit)"
        )
    coef, *_ = np.linalg.lstsq(design, raw, rcond=None)
    gain = coef[:3].T
    offset = coef[3]
    resid = raw - design @ coef
    return Calibration(gain, offset, float(np.sqrt(np.mean(resid**2))))


def offsets_from_quiet(raw_nt: F64) -> F64:
    """Offsets (nT) as the per-axis median of readings where the field is negligible."""
    out: F64 = np.median(np.atleast_2d(raw_nt), axis=0)
    return out


def body_to_me(body_rows_icrf: F64, icrf_to_me: F64, b_body_nt: F64) -> F64:
    """Rotate body-frame fields (N, 3) to MOON_ME with attitudes (N, 3, 3) and frames (N, 3, 3)."""
    b_icrf = np.einsum("nji,nj->ni", body_rows_icrf, np.atleast_2d(b_body_nt))
    out: F64 = np.einsum("nij,nj->ni", icrf_to_me, b_icrf)
    return out


def lat_lon_alt(pos_me_km: F64) -> tuple[F64, F64, F64]:
    """Planetocentric latitude, east longitude (deg) and altitude over the sphere (km)."""
    p = np.atleast_2d(pos_me_km)
    r = np.linalg.norm(p, axis=1)
    lat = np.degrees(np.arcsin(p[:, 2] / r))
    lon = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
    return lat, lon, r - MOON_RADIUS_KM


def grid_map(
    lat_deg: F64, lon_deg: F64, values: F64, *, bin_deg: float = 5.0
) -> tuple[F64, NDArray[np.int64], F64, F64]:
    """Mean and count of ``values`` in lat/lon bins; returns (mean, count, lat edges, lon edges).

    Empty bins have a NaN mean. Longitudes are taken in [-180, 180).
    """
    lat_edges = np.arange(-90.0, 90.0 + bin_deg / 2, bin_deg)
    lon_edges = np.arange(-180.0, 180.0 + bin_deg / 2, bin_deg)
    lon = (np.asarray(lon_deg) + 180.0) % 360.0 - 180.0
    count, _, _ = np.histogram2d(lat_deg, lon, bins=(lat_edges, lon_edges))
    total, _, _ = np.histogram2d(lat_deg, lon, bins=(lat_edges, lon_edges), weights=values)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count.astype(np.int64), lat_edges, lon_edges


def dipole_kernel(centres_km: F64, at_km: F64) -> F64:
    """Kernel K (3N, 3M): field components at ``at_km`` (N, 3) per unit moment (A m²)."""
    at = np.atleast_2d(at_km)
    c = np.atleast_2d(centres_km)
    d = at[:, None, :] - c[None, :, :]
    r = np.linalg.norm(d, axis=2)
    rhat = d / r[..., None]
    eye = np.eye(3)
    k = MU0_4PI_KM * (3.0 * rhat[..., :, None] * rhat[..., None, :] - eye) / (r**3)[..., None, None]
    # k[n, m, i, j]: component i at n per moment component j of dipole m
    out: F64 = k.transpose(0, 2, 1, 3).reshape(3 * len(at), 3 * len(c))
    return out


@dataclass(frozen=True)
class DipoleFit:
    """Recovered equivalent-source moments at the candidate positions."""

    centres_km: F64
    moments_am2: F64  # (M, 3)
    lam: float
    rms_nt: float

    def field_nt(self, at_km: F64) -> F64:
        """The fitted model's field (nT) at points (N, 3)."""
        out: F64 = (dipole_kernel(self.centres_km, at_km) @ self.moments_am2.ravel()).reshape(-1, 3)
        return out

    def strongest(self, n: int) -> NDArray[np.int64]:
        """Indices of the ``n`` largest moments."""
        out: NDArray[np.int64] = np.argsort(-np.linalg.norm(self.moments_am2, axis=1))[:n]
        return out


def candidate_grid(
    lat_range: tuple[float, float], lon_range: tuple[float, float], step_deg: float, depth_km: float
) -> F64:
    """Candidate source positions (MOON_ME km) on a lat/lon grid at a depth."""
    lats = np.radians(np.arange(lat_range[0], lat_range[1] + 1e-9, step_deg))
    lons = np.radians(np.arange(lon_range[0], lon_range[1] + 1e-9, step_deg))
    la, lo = np.meshgrid(lats, lons, indexing="ij")
    r = MOON_RADIUS_KM - depth_km
    out: F64 = np.stack(
        [r * np.cos(la) * np.cos(lo), r * np.cos(la) * np.sin(lo), r * np.sin(la)], axis=-1
    ).reshape(-1, 3)
    return out


def invert_dipoles(
    at_km: F64, b_nt: F64, centres_km: F64, *, lam: float = TIKHONOV_LAMBDA
) -> DipoleFit:
    """Tikhonov least squares for the moments at ``centres_km`` (module doc).

    ``lam`` is relative: the damping is ``lam`` times the largest singular value of K.
    """
    k = dipole_kernel(centres_km, at_km)
    b = np.atleast_2d(b_nt).ravel()
    u, s, vt = np.linalg.svd(k, full_matrices=False)
    damp = lam * s[0]
    filt = s / (s**2 + damp**2)
    m = vt.T @ (filt * (u.T @ b))
    resid = k @ m - b
    return DipoleFit(
        np.atleast_2d(centres_km), m.reshape(-1, 3), lam, float(np.sqrt(np.mean(resid**2)))
    )
