"""Radiation dosimetry on arrays: dose rates, ICRP 60 dose equivalent, SPEs, SAA passes.

Array in, array out; times are int64 ns since 1970 UTC, dose rates µGy/h.

- **Counts → absorbed dose rate** (:func:`counts_to_dose_rate`): a dosimeter that reports
  counts of a known dose each (the rover's LND-like dosimeter) gives the rate and its Poisson
  1σ (rate/√counts).
- **LET spectrum → dose** (:func:`dose_from_let_gy`, :func:`let_spectrum_dose`): particles of
  LET L (keV/µm, in water) at fluence Φ (cm⁻²) deposit D = 1.602176634e−9 · Φ · L / ρ Gy
  (1 keV/µm = 1.602e−12 J/cm; per gram at ρ = 1 g/cm³ that is 1.602e−9 J/kg per particle/cm²;
  REFERENCES.md "dose from one LET bin": 10⁶ cm⁻² at 10 keV/µm → 1.602e−2 Gy).
- **Dose equivalent** H = Σ Q(L)·D with the ICRP 60 quality factor (ICRP Publication 60,
  1991, Table 4): Q = 1 for L < 10 keV/µm, 0.32·L − 2.2 for 10 ≤ L ≤ 100, 300/√L above 100
  (L in water).
- **Silicon → water**: D_water = :data:`SI_TO_WATER` · D_Si, the ratio of the mass electronic
  stopping powers of water and silicon for minimum-ionising particles, 1.992 / 1.664 MeV cm²/g
  = 1.197 (Particle Data Group, Review of Particle Physics, "Atomic and nuclear properties of
  materials": ⟨−dE/dx⟩min of liquid water and of silicon). The GCR that dominate both
  detectors are near minimum ionising; the ratio rises slowly at low energy (a spectrum-
  dependent 1.2–1.3 is what published GCR comparisons use), so water doses here carry
  that few-percent systematic.
- **Dose equivalent of the rover** (no LET spectrum): :data:`LND_SV_PER_GY_SI` = 1369 µSv/day
  ÷ (13.2 µGy/h · 24 h) = 4.32 Sv per Gy in silicon, the ratio of the Chang'e-4 LND's dose
  equivalent to its silicon dose (Zhang et al. 2020, Science Advances 6:eaaz1334, via
  REFERENCES.md), applied to a quiet-time record.
- **Solar particle events** (:func:`detect_spes`): the rule is stated there.
- **Station**: orbit-averaged dose rate per revolution (:func:`orbit_averages`, orbits cut at
  ascending equator crossings), South Atlantic Anomaly passes (:func:`saa_passes`) and a
  latitude/longitude map (:func:`dose_map`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError

__all__ = [
    "GY_PER_PARTICLE_CM2_KEV_PER_UM",
    "LND_DOSE_RATE_SIGMA_UGY_PER_H",
    "LND_DOSE_RATE_SI_UGY_PER_H",
    "LND_SV_PER_GY_SI",
    "SI_TO_WATER",
    "LetDose",
    "OrbitAverages",
    "SaaPass",
    "SolarParticleEvent",
    "counts_to_dose_rate",
    "cumulative_dose_ugy",
    "detect_spes",
    "dose_from_let_gy",
    "dose_map",
    "let_spectrum_dose",
    "orbit_averages",
    "quality_factor_icrp60",
    "saa_passes",
    "water_from_silicon",
]

FloatArray = NDArray[np.float64]
_NS = 1_000_000_000

GY_PER_PARTICLE_CM2_KEV_PER_UM = 1.602176634e-9
"""D (Gy) = this · Φ (cm⁻²) · L (keV/µm) / ρ (g/cm³): 1 keV = 1.602176634e−16 J (SI 2019)."""
SI_TO_WATER = 1.992 / 1.664
"""Absorbed dose in water per dose in silicon (PDG minimum-ionising stopping powers; module doc)."""
LND_DOSE_RATE_SI_UGY_PER_H = 13.2
LND_DOSE_RATE_SIGMA_UGY_PER_H = 1.0
"""Chang'e-4 LND lunar surface absorbed dose rate in silicon, 13.2 ± 1 µGy/h (Zhang et al. 2020)."""
LND_SV_PER_GY_SI = 1369.0 / (LND_DOSE_RATE_SI_UGY_PER_H * 24.0)
"""LND dose equivalent per silicon dose, Sv/Gy: 1369 µSv/day over 13.2 µGy/h (Zhang et al. 2020)."""


def _f(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def quality_factor_icrp60(let_kev_per_um: ArrayLike) -> FloatArray:
    """Return the ICRP 60 quality factor Q(L) for LET in water (keV/µm), elementwise.

    ICRP Publication 60 (1991), Table 4: 1 below 10 keV/µm, 0.32·L − 2.2 from 10 to 100,
    300/√L above 100 (continuous: 1.0 at 10, 29.8 ≈ 30 at 100).
    """
    L = _f(let_kev_per_um)
    if np.any(L < 0):
        raise InputError("LET must be >= 0 keV/µm")
    with np.errstate(divide="ignore"):
        q = np.where(L < 10.0, 1.0, np.where(L <= 100.0, 0.32 * L - 2.2, 300.0 / np.sqrt(L)))
    return np.asarray(q, dtype=np.float64)


def dose_from_let_gy(
    fluence_per_cm2: ArrayLike, let_kev_per_um: ArrayLike, density_g_per_cm3: float = 1.0
) -> FloatArray:
    """Return the absorbed dose (Gy) of a fluence of particles of one LET, elementwise.

    D = 1.602176634e−9 · Φ · L / ρ with Φ in cm⁻², L in keV/µm in the medium, ρ in g/cm³
    (water: 1). Example (REFERENCES.md): 10⁶ cm⁻² at 10 keV/µm in water → 1.602e−2 Gy.
    """
    if density_g_per_cm3 <= 0:
        raise InputError(f"density must be > 0 g/cm³, not {density_g_per_cm3}")
    return np.asarray(
        GY_PER_PARTICLE_CM2_KEV_PER_UM
        * _f(fluence_per_cm2)
        * _f(let_kev_per_um)
        / density_g_per_cm3,
        dtype=np.float64,
    )


@dataclass(frozen=True)
class LetDose:
    """Dose from LET spectra, one value per record (arrays of shape (n,))."""

    dose_rate_water_ugy_per_h: FloatArray
    dose_equivalent_rate_usv_per_h: FloatArray
    mean_quality_factor: FloatArray
    """H/D of each record (NaN where D = 0)."""


def let_bin_centres(edges_kev_per_um: Sequence[float]) -> FloatArray:
    """Return the geometric centres of LET bins from their edges (keV/µm)."""
    e = _f(edges_kev_per_um)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0) or e[0] <= 0:
        raise InputError(f"LET bin edges must be > 0 and increasing, got {e.tolist()}")
    return np.asarray(np.sqrt(e[:-1] * e[1:]), dtype=np.float64)


def let_spectrum_dose(
    counts: ArrayLike,
    edges_kev_per_um: Sequence[float],
    *,
    area_cm2: float,
    integration_s: ArrayLike,
) -> LetDose:
    """Dose rate in water and ICRP 60 dose-equivalent rate from LET spectra (counts per bin).

    Parameters
    ----------
    counts
        (n, bins) or (bins,) particle counts per LET bin (LET in water).
    edges_kev_per_um
        The bins' edges (bins + 1 values); each bin's particles are taken at its geometric
        centre.
    area_cm2
        The detector's fluence conversion: fluence = counts / area.
    integration_s
        Integration time of each record, s (scalar or (n,)).
    """
    c = np.atleast_2d(_f(counts))
    L = let_bin_centres(edges_kev_per_um)
    if c.shape[1] != L.size:
        raise InputError(f"counts have {c.shape[1]} bins; the edges give {L.size}")
    dt = np.broadcast_to(_f(integration_s), (c.shape[0],))
    if area_cm2 <= 0 or np.any(dt <= 0):
        raise InputError("area_cm2 and integration_s must be > 0")
    per_bin_gy = dose_from_let_gy(c / area_cm2, L[None, :])
    d_gy = per_bin_gy.sum(axis=1)
    h_sv = (per_bin_gy * quality_factor_icrp60(L)[None, :]).sum(axis=1)
    to_rate = 1e6 * 3600.0 / dt
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(d_gy > 0, h_sv / d_gy, np.nan)
    return LetDose(d_gy * to_rate, h_sv * to_rate, np.asarray(q, dtype=np.float64))


def counts_to_dose_rate(
    counts: ArrayLike, integration_s: ArrayLike, dose_per_count_ugy: float
) -> tuple[FloatArray, FloatArray]:
    """Return (dose rate, its Poisson 1σ), µGy/h, from counts of ``dose_per_count_ugy`` each.

    σ = rate/√counts (√max(counts, 1), so a zero-count record still has an error bar).
    """
    n = _f(counts)
    dt = _f(integration_s)
    rate = n * dose_per_count_ugy / dt * 3600.0
    sigma = np.sqrt(np.maximum(n, 1.0)) * dose_per_count_ugy / dt * 3600.0
    return np.asarray(rate, dtype=np.float64), np.asarray(sigma, dtype=np.float64)


def water_from_silicon(dose_si: ArrayLike) -> FloatArray:
    """Return the absorbed dose (or rate) in water for one in silicon (× :data:`SI_TO_WATER`)."""
    return np.asarray(_f(dose_si) * SI_TO_WATER, dtype=np.float64)


def cumulative_dose_ugy(
    time_ns: ArrayLike,
    dose_rate_ugy_per_h: ArrayLike,
    integration_s: ArrayLike | None = None,
    *,
    max_gap_s: float | None = None,
) -> FloatArray:
    """Return the dose accumulated up to and including each record, µGy.

    With ``integration_s`` each record contributes rate × its integration time (a
    dosimeter's records tile time). Without, the rate is integrated by the trapezoid rule
    between samples, except across gaps longer than ``max_gap_s`` (default 3 × the median
    spacing): an outage adds nothing rather than an invented dose.
    """
    t = np.asarray(time_ns, dtype=np.int64)
    r = _f(dose_rate_ugy_per_h)
    if t.shape != r.shape or t.ndim != 1:
        raise InputError(f"time and rate must be 1-D of one length, got {t.shape}, {r.shape}")
    if integration_s is not None:
        dt = np.broadcast_to(_f(integration_s), r.shape)
        return np.asarray(np.cumsum(r * dt / 3600.0), dtype=np.float64)
    if t.size < 2:
        return np.zeros(t.shape)
    dt_s = np.diff(t) / 1e9
    gap = max_gap_s if max_gap_s is not None else 3.0 * float(np.median(dt_s))
    step = np.where(dt_s <= gap, 0.5 * (r[1:] + r[:-1]) * dt_s / 3600.0, 0.0)
    return np.concatenate([[0.0], np.cumsum(step)])


@dataclass(frozen=True)
class SolarParticleEvent:
    """One detected solar particle event (times int64 ns UTC; rates µGy/h)."""

    onset_ns: int
    peak_ns: int
    end_ns: int
    """Last sample of the event (the series' last sample if it has not ended)."""
    peak_dose_rate_ugy_per_h: float
    baseline_ugy_per_h: float
    excess_dose_ugy: float
    """Dose above the baseline from onset to end (trapezoid)."""
    ended: bool


def _trailing_median(x: FloatArray, window: int) -> FloatArray:
    """Median of the ``window`` samples strictly before each sample.

    The first samples, with fewer before them, use the median of the first ``window``.
    """
    from scipy.ndimage import median_filter

    if x.size == 0:
        return x.copy()
    w = min(window, x.size)
    w = w if w % 2 == 1 else w - 1  # odd: origin (w - 1) // 2 makes the window trailing
    w = max(w, 1)
    padded = np.concatenate([np.full(w, np.median(x[:w])), x])
    med = median_filter(padded, size=w, mode="nearest", origin=(w - 1) // 2)
    # med[j] is the median of padded[j - w + 1 .. j]; sample i is padded[w + i]
    out: FloatArray = np.asarray(med[w - 1 : w - 1 + x.size], dtype=np.float64)
    return out


def detect_spes(
    time_ns: ArrayLike,
    dose_rate_ugy_per_h: ArrayLike,
    sigma_ugy_per_h: ArrayLike | None = None,
    *,
    window_s: float = 24 * 3600.0,
    k_onset: float = 5.0,
    k_end: float = 3.0,
    n_samples: int = 3,
) -> list[SolarParticleEvent]:
    """Find solar particle events in a dose-rate series (a stated, robust rule).

    Rule: the baseline at each sample is the median of the samples in the ``window_s``
    before it; its spread σ is 1.4826 × their median absolute deviation (the MAD's normal
    equivalent), or the counting 1σ given in ``sigma_ugy_per_h`` where that is larger. An
    event's **onset** is the first of ``n_samples`` consecutive samples above
    baseline + ``k_onset``·σ; from then on the baseline and σ are frozen at their onset
    values (the event must not raise its own baseline). Its **peak** is the largest rate
    before its end; its **end** is the last sample before ``n_samples`` consecutive samples
    back below baseline + ``k_end``·σ (or the series' end: ``ended`` False). The next event
    is searched after the end. A single outlier (< ``n_samples`` samples) is not an event.
    """
    t = np.asarray(time_ns, dtype=np.int64)
    r = _f(dose_rate_ugy_per_h)
    if t.shape != r.shape or t.ndim != 1:
        raise InputError(f"time and rate must be 1-D of one length, got {t.shape}, {r.shape}")
    if t.size < n_samples + 2:
        return []
    step_s = float(np.median(np.diff(t))) / 1e9
    window = max(n_samples + 2, round(window_s / max(step_s, 1e-9)))
    base = _trailing_median(r, window)
    mad = 1.4826 * _trailing_median(np.abs(r - base), window)
    sig = np.maximum(mad, 1e-12)
    if sigma_ugy_per_h is not None:
        sig = np.maximum(sig, np.broadcast_to(_f(sigma_ugy_per_h), r.shape))
    above = r > base + k_onset * sig
    events: list[SolarParticleEvent] = []
    i = 0
    n = r.size
    kernel = np.ones(n_samples, dtype=int)
    while i < n:
        runs = np.convolve(above[i:].astype(int), kernel, mode="valid")
        hits = np.flatnonzero(runs == n_samples)
        if hits.size == 0:
            break
        onset = i + int(hits[0])
        b, s = float(base[onset]), float(sig[onset])
        below = r[onset:] < b + k_end * s
        runs_b = np.convolve(below.astype(int), kernel, mode="valid")
        back = np.flatnonzero(runs_b == n_samples)
        ended = back.size > 0
        end = onset + int(back[0]) - 1 if ended else n - 1
        end = max(end, onset)
        seg = slice(onset, end + 1)
        peak = onset + int(np.argmax(r[seg]))
        excess = np.clip(r[seg] - b, 0.0, None)
        ts = t[seg]
        dose = float(np.sum(0.5 * (excess[1:] + excess[:-1]) * np.diff(ts) / 1e9 / 3600.0))
        events.append(
            SolarParticleEvent(
                int(t[onset]), int(t[peak]), int(t[end]), float(r[peak]), b, dose, ended
            )
        )
        i = end + 1
    return events


@dataclass(frozen=True)
class OrbitAverages:
    """Per-revolution averages (arrays of shape (orbits,); times ns UTC)."""

    start_ns: NDArray[np.int64]
    stop_ns: NDArray[np.int64]
    mean_dose_rate_ugy_per_h: FloatArray
    dose_ugy: FloatArray


def orbit_averages(
    time_ns: ArrayLike, dose_rate_ugy_per_h: ArrayLike, lat_deg: ArrayLike
) -> OrbitAverages:
    """Average the dose rate over each complete revolution (ascending equator to the next).

    Time-weighted (trapezoid) means; revolutions are cut where the latitude crosses 0°
    northwards; the partial revolutions at both ends are left out.
    """
    t = np.asarray(time_ns, dtype=np.int64)
    r = _f(dose_rate_ugy_per_h)
    lat = _f(lat_deg)
    if not (t.shape == r.shape == lat.shape) or t.ndim != 1:
        raise InputError("time, rate and latitude must be 1-D arrays of one length")
    cuts = np.flatnonzero((lat[:-1] < 0.0) & (lat[1:] >= 0.0)) + 1
    cum = cumulative_dose_ugy(t, r)
    starts, stops, means, doses = [], [], [], []
    for a, b in itertools.pairwise(cuts):
        dose = float(cum[b] - cum[a])
        hours = (t[b] - t[a]) / 1e9 / 3600.0
        starts.append(t[a])
        stops.append(t[b])
        doses.append(dose)
        means.append(dose / hours if hours > 0 else math.nan)
    return OrbitAverages(
        np.asarray(starts, dtype=np.int64),
        np.asarray(stops, dtype=np.int64),
        np.asarray(means, dtype=np.float64),
        np.asarray(doses, dtype=np.float64),
    )


@dataclass(frozen=True)
class SaaPass:
    """One pass through the South Atlantic Anomaly (times ns UTC)."""

    start_ns: int
    stop_ns: int
    peak_dose_rate_ugy_per_h: float
    peak_lat_deg: float
    peak_lon_deg: float
    dose_ugy: float


def saa_passes(
    time_ns: ArrayLike,
    dose_rate_ugy_per_h: ArrayLike,
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    in_saa: ArrayLike | None = None,
    *,
    threshold_ugy_per_h: float | None = None,
) -> list[SaaPass]:
    """Return the SAA passes: runs of consecutive samples inside the anomaly.

    Inside is the on-board flag ``in_saa`` (the station's STN_IN_SAA) when given, else a dose
    rate above ``threshold_ugy_per_h`` within 60°S–10°N and 100°W–40°E (the anomaly's
    region at LEO altitudes; high-latitude GCR maxima are outside it).
    """
    t = np.asarray(time_ns, dtype=np.int64)
    r, lat, lon = _f(dose_rate_ugy_per_h), _f(lat_deg), _f(lon_deg)
    if in_saa is not None:
        inside = np.asarray(in_saa, dtype=bool)
    else:
        if threshold_ugy_per_h is None:
            raise InputError("give in_saa flags or a threshold_ugy_per_h")
        lon_w = (lon + 180.0) % 360.0 - 180.0
        region = (lat > -60) & (lat < 10) & (lon_w > -100) & (lon_w < 40)
        inside = region & (r > threshold_ugy_per_h)
    if inside.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    cum = cumulative_dose_ugy(t, r)
    out = []
    for a, b in zip(starts, stops, strict=True):
        k = a + int(np.argmax(r[a:b]))
        out.append(
            SaaPass(
                int(t[a]), int(t[b - 1]), float(r[k]), float(lat[k]), float(lon[k]),
                float(cum[b - 1] - cum[a]),
            )
        )  # fmt: skip
    return out


def dose_map(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    dose_rate_ugy_per_h: ArrayLike,
    *,
    cell_deg: float = 5.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean dose rate on a latitude/longitude grid: ``(grid, lat_edges, lon_edges)``.

    ``grid`` is (lat cells, lon cells), south to north and 180°W to 180°E, NaN where no
    sample fell.
    """
    if cell_deg <= 0:
        raise InputError(f"cell_deg must be > 0, not {cell_deg}")
    lat, r = _f(lat_deg), _f(dose_rate_ugy_per_h)
    lon = (_f(lon_deg) + 180.0) % 360.0 - 180.0
    lat_edges = np.arange(-90.0, 90.0 + cell_deg / 2, cell_deg)
    lon_edges = np.arange(-180.0, 180.0 + cell_deg / 2, cell_deg)
    total, _, _ = np.histogram2d(lat, lon, bins=(lat_edges, lon_edges), weights=r)
    count, _, _ = np.histogram2d(lat, lon, bins=(lat_edges, lon_edges))
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(count > 0, total / count, np.nan)
    return np.asarray(grid, dtype=np.float64), lat_edges, lon_edges
