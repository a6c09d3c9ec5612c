"""Soil analysis: an APXS-like X-ray spectrum → oxide abundances in wt% with uncertainties.

Arrays in, arrays out; no archive, no files (``falak science soil`` does those).

**Instrument model** (shared with the rover simulator, :mod:`falak.sim.rover_instruments`,
which draws its spectra from it): a silicon drift detector behind a beryllium window,
``N_CHANNELS`` channels, ``E = offset + gain · channel`` (lower channel edge; nominal
``NOMINAL_GAIN_EV_PER_CH``, the true gain and offset drift and are calibrated from the
spectrum's own lines), Gaussian response of standard deviation
``σ(E) = sqrt(σ_noise² + F · w · E)`` (Fano factor F = 0.115, w = 3.65 eV per electron-hole
pair in silicon, σ_noise chosen for 135 eV FWHM at Mn Kα 5.9 keV, the Chang'e-3 APXS
resolution, REFERENCES.md). The sample is excited by the X-rays of a ²⁴⁴Cm source's daughter
plutonium, modelled as two lines: Pu Lα (14.28 keV), which excites K to Fe, and Pu Mα
(3.35 keV, weighted ``EXCITATION`` so that Si Kα is as strong as Fe Kα in a basaltic soil, as
on an APXS), which excites Na to Si: it stands in for the alpha-particle PIXE that gives a real
APXS its light-element signal (PIXE itself, with its ionisation cross-sections and the
alphas' slowing down, is not modelled).

**Fundamental parameters, lite** (:func:`line_sensitivities`): for each K line of element i,
the primary-fluorescence intensity of a thick, flat, homogeneous sample at 45°/45° is
``I = G · ε(E_line) · w_i · Σ_x a_x σ_F(E_x) / (μ(E_x) + μ(E_line))`` (E_x, a_x the
excitation lines and their weights) with σ_F the line's
fluorescence cross-section (xraylib ``CS_FluorLine_Kissel``: photo-ionisation, jump ratio,
fluorescence yield and radiative rate in one), μ the sample's mass attenuation (xraylib
``CS_Total`` summed over the sample's elements, oxygen included), ε the detector's
efficiency (window transmission × absorption in the silicon) and G the instrument constant
(source strength, solid angle). Secondary fluorescence, particle size, surface roughness and
escape peaks are left out.

**Method** (:func:`analyse`): (1) energy calibration: centroids of Si Kα, Ca Kα and Fe Kα
found with the nominal calibration give a first gain and offset, then the whole fit is
repeated over gain and offset (scipy ``least_squares``) with the line amplitudes solved
linearly inside it; (2) peak fitting: every element's K lines (Kα1, Kα2, Kβ1,3 at xraylib
energies, relative intensities from the fundamental parameters at the current composition,
widths from the resolution model) form one template per element, all ten fitted at once with
a cubic B-spline continuum (knots 0.8 keV apart, too smooth to absorb a peak), by weighted
least squares with Poisson weights from the model, iterated; overlaps (Ti Kβ/Cr Kα, Cr Kβ/Mn
Kα, Mn Kβ/Fe Kα, K Kβ/Ca Kα) are shared out by the fit; (3) quantification: each element's
counts per second over ``k_i · F_i(composition)``, with F_i the fundamental-parameter matrix
term of the sample (iterated to convergence, since the matrix depends on the answer) and k_i
an **empirical sensitivity factor from a calibration-target spectrum of known composition**
(:func:`calibrate`), as the MER/MSL APXS teams do with their on-board targets: the factors
carry what the fundamental parameters do not know well (source strength, the window's true
thickness, detector dead layers), and the matrix term carries the difference between the
target and the soil; (4) oxides: each element as its oxide (Na2O, MgO, Al2O3, SiO2, K2O,
CaO, TiO2, Cr2O3, MnO, FeO; all iron as FeO, as the Lunar Sourcebook reports it), normalised
to 100 wt% because the instrument's distance to the soil (and so its geometry factor) is not
known; the sum before normalisation is reported (≈100 × the geometry factor relative to the
calibration).

**Uncertainties**: counting statistics of each element's fitted amplitude (the fit's
covariance, overlaps and continuum included), the calibration target's own counting error in
k_i, propagated through the normalisation (its Jacobian, so a major oxide's error also moves
the others). Not included: the fundamental parameters' own error and the model's omissions
(they cancel here because the simulator uses the same physics; on real data they add a few
percent relative).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ELEMENTS",
    "NOMINAL_GAIN_EV_PER_CH",
    "N_CHANNELS",
    "OXIDES",
    "Calibration",
    "Detector",
    "SoilError",
    "SoilResult",
    "analyse",
    "calibrate",
    "calibrate_energy",
    "expected_line_counts",
    "line_table",
    "oxides_to_element_fractions",
    "resolution_sigma_ev",
    "spectrum_lines",
]


class SoilError(ValueError):
    """Bad input to the soil analysis (the message says what to fix)."""


OXIDES = ("Na2O", "MgO", "Al2O3", "SiO2", "K2O", "CaO", "TiO2", "Cr2O3", "MnO", "FeO")
ELEMENTS = ("Na", "Mg", "Al", "Si", "K", "Ca", "Ti", "Cr", "Mn", "Fe")
_Z = (11, 12, 13, 14, 19, 20, 22, 24, 25, 26)
_CATIONS = (2, 1, 2, 1, 2, 1, 1, 2, 1, 1)  # cations per formula unit of the oxide
_ANIONS = (1, 1, 3, 2, 1, 1, 2, 3, 1, 1)  # oxygens per formula unit
_O_Z = 8

N_CHANNELS = 512
NOMINAL_GAIN_EV_PER_CH = 20.0
NOMINAL_OFFSET_EV = 0.0
FANO = 0.115
PAIR_EV = 3.65
#: excitation lines (keV, relative photon flux): Pu Lα1 and Pu Mα1 (xraylib LineEnergy(94, ...))
EXCITATION = ((14.282, 1.0), (3.351, 6.0))
FIT_RANGE_KEV = (0.85, 7.6)
_KNOT_STEP_KEV = 0.8
_CAL_LINES = (("Si", 1.74, 0.15), ("Ca", 3.6917, 0.2), ("Fe", 6.4039, 0.25))


@dataclass(frozen=True)
class Detector:
    """What the ground knows of the detector (the fundamental parameters' ε)."""

    fwhm_at_5p9kev_ev: float = 135.0
    window_be_um: float = 8.0
    si_thickness_um: float = 450.0

    @property
    def noise_sigma_ev(self) -> float:
        """Electronic noise σ that, with Fano statistics, gives the stated FWHM at 5.9 keV."""
        s = self.fwhm_at_5p9kev_ev / (2 * math.sqrt(2 * math.log(2)))
        return math.sqrt(max(s * s - FANO * PAIR_EV * 5898.75, 0.0))

    def efficiency(self, energy_kev: float) -> float:
        """Fraction of photons of ``energy_kev`` through the window and absorbed in the Si."""
        import xraylib

        be = math.exp(-xraylib.CS_Total(4, energy_kev) * 1.848 * self.window_be_um * 1e-4)
        si = 1.0 - math.exp(-xraylib.CS_Photo(14, energy_kev) * 2.33 * self.si_thickness_um * 1e-4)
        return be * si


def resolution_sigma_ev(
    energy_ev: NDArray[np.float64] | float, fwhm_at_5p9kev_ev: float = 135.0
) -> Any:
    """Gaussian σ (eV) of the detector response at ``energy_ev`` (Fano-limited + noise)."""
    noise = Detector(fwhm_at_5p9kev_ev=fwhm_at_5p9kev_ev).noise_sigma_ev
    return np.sqrt(noise * noise + FANO * PAIR_EV * np.asarray(energy_ev, dtype=np.float64))


@dataclass(frozen=True)
class Line:
    element: int  # index into ELEMENTS
    name: str  # Siegbahn name
    energy_kev: float
    sigma_f_cm2_g: tuple[float, ...]  # fluorescence cross-section at each excitation line


@functools.cache
def line_table() -> tuple[Line, ...]:
    """The K lines used (xraylib energies; fluorescence cross-sections at each excitation)."""
    import xraylib

    names = (("KL3_LINE", "Ka1"), ("KL2_LINE", "Ka2"), ("KM3_LINE", "Kb1"), ("KM2_LINE", "Kb3"))
    out = []
    for i, z in enumerate(_Z):
        for attr, name in names:
            try:
                e = xraylib.LineEnergy(z, getattr(xraylib, attr))
            except ValueError:  # no M-shell electrons to fill K from (Na, Mg)
                continue
            sig = []
            for e_x, _ in EXCITATION:
                try:
                    sig.append(float(xraylib.CS_FluorLine_Kissel(z, getattr(xraylib, attr), e_x)))
                except ValueError:  # below the K edge
                    sig.append(0.0)
            if e > 0 and max(sig) > 0:
                out.append(Line(i, name, float(e), tuple(sig)))
    return tuple(out)


@functools.cache
def _mu_table() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mass attenuation (cm²/g) of O + the ten elements at each line (L, 11), excitation (X, 11)."""
    import xraylib

    zs = (_O_Z, *_Z)
    lines = line_table()
    at_line = np.array([[xraylib.CS_Total(z, ln.energy_kev) for z in zs] for ln in lines])
    at_e0 = np.array([[xraylib.CS_Total(z, e_x) for z in zs] for e_x, _ in EXCITATION])
    return at_line, at_e0


@functools.cache
def _oxide_factors() -> NDArray[np.float64]:
    """Mass fraction of the cation in each oxide."""
    import xraylib

    o = xraylib.AtomicWeight(_O_Z)
    out = []
    for z, c, a in zip(_Z, _CATIONS, _ANIONS, strict=True):
        m = xraylib.AtomicWeight(z) * c
        out.append(m / (m + a * o))
    return np.array(out)


def oxides_to_element_fractions(oxides_wt_pct: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mass fractions (O first, then :data:`ELEMENTS`) of a sample of these oxides, normalised."""
    ox = np.clip(np.asarray(oxides_wt_pct, dtype=np.float64), 0.0, None)
    total = ox.sum()
    if total <= 0:
        raise SoilError("the composition has no oxide above zero; give wt% of OXIDES")
    ox = ox / total
    f = _oxide_factors()
    cations = ox * f
    return np.concatenate([[float(np.sum(ox * (1 - f)))], cations])


def line_sensitivities(
    oxides_wt_pct: NDArray[np.float64], detector: Detector
) -> NDArray[np.float64]:
    """Counts/s per line per unit instrument constant per unit element mass fraction (FP-lite)."""
    w = oxides_to_element_fractions(oxides_wt_pct)
    at_line, at_e0 = _mu_table()
    mu_line = at_line @ w  # (L,)
    mu_x = at_e0 @ w  # (X,)
    lines = line_table()
    eff = np.array([_efficiency(detector, ln.energy_kev) for ln in lines])
    sig = np.array([ln.sigma_f_cm2_g for ln in lines])  # (L, X)
    a_x = np.array([a for _, a in EXCITATION])
    out: NDArray[np.float64] = eff * np.sum(a_x * sig / (mu_x[None, :] + mu_line[:, None]), axis=1)
    return out


@functools.cache
def _efficiency(detector: Detector, energy_kev: float) -> float:
    return detector.efficiency(energy_kev)


def expected_line_counts(
    oxides_wt_pct: NDArray[np.float64],
    instrument_constant: float,
    live_time_s: float,
    detector: Detector,
) -> NDArray[np.float64]:
    """Expected counts in each line of :func:`line_table` for this sample (the forward model)."""
    w = oxides_to_element_fractions(oxides_wt_pct)[1:]
    idx = np.array([ln.element for ln in line_table()])
    out: NDArray[np.float64] = (
        instrument_constant * live_time_s * w[idx] * line_sensitivities(oxides_wt_pct, detector)
    )
    return out


def spectrum_lines(
    counts_per_line: NDArray[np.float64],
    gain_ev_per_ch: float,
    offset_ev: float,
    fwhm_at_5p9kev_ev: float = 135.0,
    n_channels: int = N_CHANNELS,
) -> NDArray[np.float64]:
    """Expected counts per channel of these lines (Gaussians integrated over each channel)."""
    return _templates(gain_ev_per_ch, offset_ev, fwhm_at_5p9kev_ev, n_channels) @ counts_per_line


def _templates(gain: float, offset: float, fwhm: float, n: int) -> NDArray[np.float64]:
    """(n_channels, n_lines): each line's unit-area response integrated over each channel."""
    from scipy.special import erf

    edges = offset + gain * np.arange(n + 1, dtype=np.float64)  # eV
    e = np.array([ln.energy_kev * 1000.0 for ln in line_table()])
    s = resolution_sigma_ev(e, fwhm)
    z = (edges[:, None] - e[None, :]) / (math.sqrt(2.0) * s[None, :])
    cdf = 0.5 * (1 + erf(z))
    out: NDArray[np.float64] = np.diff(cdf, axis=0)
    return out


# -- fitting -----------------------------------------------------------------------------------


@dataclass
class _Fit:
    amplitudes: NDArray[np.float64]  # (10,) counts per element family
    covariance: NDArray[np.float64]  # (10, 10)
    model: NDArray[np.float64]  # (n,) counts, whole spectrum, fitted range only (0 elsewhere)
    background: NDArray[np.float64]  # (n,)
    element_models: NDArray[np.float64]  # (10, n)
    chi2_per_dof: float


def _check_counts(counts: NDArray[Any], live_time_s: float) -> NDArray[np.float64]:
    c = np.asarray(counts)
    if c.ndim != 1 or c.shape[0] != N_CHANNELS:
        raise SoilError(
            f"a spectrum has {N_CHANNELS} channels; this one has shape {c.shape} "
            "(give the SPEC_COUNTS array of one measurement)"
        )
    if not np.all(np.isfinite(c)):
        raise SoilError("the spectrum has NaN or infinite counts; give raw integer counts")
    if np.any(c < 0):
        raise SoilError(
            f"the spectrum has negative counts (channel {int(np.argmin(c))}: {float(c.min()):g}); "
            "give raw counts, not a background-subtracted spectrum"
        )
    if not live_time_s > 0:
        raise SoilError(f"live time must be > 0 s, not {live_time_s}")
    if c.sum() < 1000:
        raise SoilError(
            f"the spectrum has only {int(c.sum())} counts; integrate longer (>= 1000 counts)"
        )
    return c.astype(np.float64)


def _background_basis(energy_kev: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.interpolate import BSpline

    lo, hi = FIT_RANGE_KEV
    nk = math.ceil((hi - lo) / _KNOT_STEP_KEV) + 1
    inner = np.linspace(lo, hi, nk)
    t = np.r_[[lo] * 3, inner, [hi] * 3]
    x = np.clip(energy_kev, lo, hi - 1e-9)
    basis: NDArray[np.float64] = BSpline.design_matrix(x, t, 3).toarray()
    return basis


def _fit(
    counts: NDArray[np.float64],
    gain: float,
    offset: float,
    line_fractions: NDArray[np.float64],
    fwhm: float,
) -> _Fit:
    n = counts.shape[0]
    centres_kev = np.asarray((offset + gain * (np.arange(n) + 0.5)) / 1000.0, dtype=np.float64)
    sel = (centres_kev >= FIT_RANGE_KEV[0]) & (centres_kev <= FIT_RANGE_KEV[1])
    idx = np.array([ln.element for ln in line_table()])
    t_lines = _templates(gain, offset, fwhm, n)[sel]  # (m, L)
    t_el = np.zeros((t_lines.shape[0], len(ELEMENTS)))
    for j in range(len(ELEMENTS)):
        t_el[:, j] = t_lines[:, idx == j] @ line_fractions[idx == j]
    bg = _background_basis(centres_kev[sel])
    a = np.hstack([t_el, bg])
    y = counts[sel]
    var = np.maximum(y, 1.0)
    for _ in range(3):  # Poisson weights from the model (weights from the data bias low)
        wts = 1.0 / np.sqrt(var)
        coef, *_ = np.linalg.lstsq(a * wts[:, None], y * wts, rcond=None)
        var = np.maximum(a @ coef, 1.0)
    wts = 1.0 / np.sqrt(var)
    aw = a * wts[:, None]
    cov_all = np.linalg.pinv(aw.T @ aw)
    model_sel = a @ coef
    chi2 = float(np.sum((y - model_sel) ** 2 / var)) / max(y.size - a.shape[1], 1)
    ne = len(ELEMENTS)
    model = np.zeros(n)
    model[sel] = model_sel
    background = np.zeros(n)
    background[sel] = bg @ coef[ne:]
    elements = np.zeros((ne, n))
    elements[:, sel] = (t_el * coef[:ne][None, :]).T
    amplitudes: NDArray[np.float64] = np.asarray(coef[:ne], dtype=np.float64)
    cov: NDArray[np.float64] = np.asarray(cov_all[:ne, :ne], dtype=np.float64)
    return _Fit(amplitudes, cov, model, background, elements, chi2)


def _line_fractions(oxides_wt_pct: NDArray[np.float64], detector: Detector) -> NDArray[np.float64]:
    s = line_sensitivities(oxides_wt_pct, detector)
    idx = np.array([ln.element for ln in line_table()])
    out = np.zeros_like(s)
    for j in range(len(ELEMENTS)):
        out[idx == j] = s[idx == j] / s[idx == j].sum()
    return out


def _element_sensitivity(
    oxides_wt_pct: NDArray[np.float64], detector: Detector
) -> NDArray[np.float64]:
    """F_i: each element's summed line sensitivity in this matrix."""
    s = line_sensitivities(oxides_wt_pct, detector)
    idx = np.array([ln.element for ln in line_table()])
    return np.array([s[idx == j].sum() for j in range(len(ELEMENTS))])


def calibrate_energy(counts: NDArray[np.float64], fwhm: float = 135.0) -> tuple[float, float]:
    """First gain (eV/channel) and offset (eV) from the Si, Ca and Fe Kα centroids."""
    n = counts.shape[0]
    ch_found, e_true = [], []
    for name, e_kev, half_kev in _CAL_LINES:
        lo = int((e_kev - half_kev) * 1000 / NOMINAL_GAIN_EV_PER_CH)
        hi = int((e_kev + half_kev) * 1000 / NOMINAL_GAIN_EV_PER_CH) + 1
        if hi >= n:
            continue
        window = counts[lo:hi]
        k = lo + int(np.argmax(window))
        sigma_ch = float(resolution_sigma_ev(e_kev * 1000, fwhm)) / NOMINAL_GAIN_EV_PER_CH
        half = max(2, round(sigma_ch))
        seg = counts[k - half : k + half + 1]
        base = min(counts[k - 3 * half], counts[min(k + 3 * half, n - 1)])
        wts = np.clip(seg - base, 0.0, None)
        if wts.sum() < 50:
            raise SoilError(f"no {name} Kα peak near {e_kev} keV: is this a soil X-ray spectrum?")
        ch_found.append(float(np.sum((np.arange(k - half, k + half + 1) + 0.5) * wts) / wts.sum()))
        e_true.append(e_kev * 1000)
    # the centroids are in channel-centre units (ch + 0.5), so the intercept is the energy of
    # channel 0's lower edge: the convention E = offset + gain * channel of _templates
    gain, offset = np.polyfit(np.array(ch_found), np.array(e_true), 1)
    return float(gain), float(offset)


def _fit_calibrated(
    counts: NDArray[np.float64], guess_wt_pct: NDArray[np.float64], detector: Detector
) -> tuple[_Fit, float, float]:
    from scipy.optimize import least_squares

    fwhm = detector.fwhm_at_5p9kev_ev
    g0, o0 = calibrate_energy(counts, fwhm)
    fr = _line_fractions(guess_wt_pct, detector)

    def resid(p: NDArray[np.float64]) -> NDArray[np.float64]:
        f = _fit(counts, float(p[0]), float(p[1]), fr, fwhm)
        n = counts.shape[0]
        centres = (p[1] + p[0] * (np.arange(n) + 0.5)) / 1000.0
        sel = (centres >= FIT_RANGE_KEV[0]) & (centres <= FIT_RANGE_KEV[1])
        r: NDArray[np.float64] = (counts - f.model)[sel] / np.sqrt(np.maximum(f.model[sel], 1.0))
        # the selected range moves with the calibration: keep the residual length fixed
        out = np.zeros(n)
        out[: r.size] = r
        return out

    sol = least_squares(resid, np.array([g0, o0]), x_scale=np.array([0.01, 5.0]), diff_step=1e-4)
    gain, offset = float(sol.x[0]), float(sol.x[1])
    return _fit(counts, gain, offset, fr, fwhm), gain, offset


# -- calibration and analysis --------------------------------------------------------------------


@dataclass
class Calibration:
    """Empirical sensitivity factors k_i (counts/s per unit mass fraction per unit F_i)."""

    k: NDArray[np.float64]  # (10,)
    k_sigma_rel: NDArray[np.float64]  # (10,)
    target_wt_pct: NDArray[np.float64]  # (10,) the calibration target's known composition
    live_time_s: float
    detector: Detector = field(default_factory=Detector)

    def to_json(self) -> str:
        """The calibration as JSON (``falak-soil-calibration/1``)."""
        return json.dumps(
            {
                "format": "falak-soil-calibration/1",
                "elements": list(ELEMENTS),
                "k": self.k.tolist(),
                "k_sigma_rel": self.k_sigma_rel.tolist(),
                "target_oxides": list(OXIDES),
                "target_wt_pct": self.target_wt_pct.tolist(),
                "live_time_s": self.live_time_s,
                "detector": {
                    "fwhm_at_5p9kev_ev": self.detector.fwhm_at_5p9kev_ev,
                    "window_be_um": self.detector.window_be_um,
                    "si_thickness_um": self.detector.si_thickness_um,
                },
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        """Read :meth:`to_json` text back."""
        d = json.loads(text)
        if d.get("format") != "falak-soil-calibration/1":
            raise SoilError("not a falak soil calibration (format falak-soil-calibration/1)")
        return cls(
            np.array(d["k"], dtype=np.float64),
            np.array(d["k_sigma_rel"], dtype=np.float64),
            np.array(d["target_wt_pct"], dtype=np.float64),
            float(d["live_time_s"]),
            Detector(**d["detector"]),
        )

    def save(self, path: Path) -> None:
        """Write the calibration to ``path`` as JSON."""
        path.write_text(self.to_json())


def calibrate(
    counts: NDArray[Any],
    live_time_s: float,
    target_wt_pct: NDArray[np.float64],
    detector: Detector | None = None,
) -> Calibration:
    """Sensitivity factors from a calibration target's spectrum of known composition (OXIDES)."""
    det = detector or Detector()
    target = np.asarray(target_wt_pct, dtype=np.float64)
    if target.shape != (len(OXIDES),):
        raise SoilError(f"the target composition has {len(OXIDES)} oxides ({', '.join(OXIDES)})")
    c = _check_counts(counts, live_time_s)
    fit, _, _ = _fit_calibrated(c, target, det)
    w = oxides_to_element_fractions(target)[1:]
    f = _element_sensitivity(target, det)
    k = fit.amplitudes / (live_time_s * w * f)
    sig = np.sqrt(np.diag(fit.covariance)) / np.abs(fit.amplitudes)
    return Calibration(k, sig, target, float(live_time_s), det)


@dataclass
class SoilResult:
    """One measurement's oxide abundances (OXIDES order), normalised to 100 wt%."""

    wt_pct: NDArray[np.float64]
    sigma_wt_pct: NDArray[np.float64]
    covariance: NDArray[np.float64]
    sum_before_normalisation_wt_pct: float
    gain_ev_per_ch: float
    offset_ev: float
    element_counts: NDArray[np.float64]
    element_counts_sigma: NDArray[np.float64]
    chi2_per_dof: float
    counts: NDArray[np.float64]
    model: NDArray[np.float64]
    background: NDArray[np.float64]
    element_models: NDArray[np.float64]

    @property
    def energy_kev(self) -> NDArray[np.float64]:
        """Channel-centre energies of the calibrated spectrum, keV."""
        n = self.counts.shape[0]
        out: NDArray[np.float64] = (
            self.offset_ev + self.gain_ev_per_ch * (np.arange(n) + 0.5)
        ) / 1000
        return out


def analyse(counts: NDArray[Any], live_time_s: float, calibration: Calibration) -> SoilResult:
    """Raw spectrum → oxide wt% normalised to 100 with 1σ (module doc: method, uncertainties)."""
    c = _check_counts(counts, live_time_s)
    det = calibration.detector
    guess = calibration.target_wt_pct.copy()
    fit, gain, offset = _fit_calibrated(c, guess, det)
    f_ox = _oxide_factors()
    for _round in range(2):  # the line ratios depend (weakly) on the matrix: refit once
        ox = guess
        for _ in range(30):  # matrix correction: F_i depends on the composition being solved
            w = fit.amplitudes / (live_time_s * calibration.k * _element_sensitivity(ox, det))
            raw = w / f_ox * 100.0
            new = raw / max(float(np.clip(raw, 0, None).sum()), 1e-12) * 100.0
            if np.max(np.abs(new - ox)) < 1e-6:
                ox = new
                break
            ox = new
        guess = ox
        if _round == 0:
            fit = _fit(c, gain, offset, _line_fractions(guess, det), det.fwhm_at_5p9kev_ev)
    scale = 100.0 / (live_time_s * calibration.k * _element_sensitivity(guess, det) * f_ox)
    raw = fit.amplitudes * scale
    cov_raw = fit.covariance * np.outer(scale, scale) + np.diag(
        (raw * calibration.k_sigma_rel) ** 2
    )
    total = float(raw.sum())
    jac = (np.eye(raw.size) * total - raw[:, None]) / total**2 * 100.0
    cov = jac @ cov_raw @ jac.T
    return SoilResult(
        wt_pct=raw / total * 100.0,
        sigma_wt_pct=np.sqrt(np.clip(np.diag(cov), 0, None)),
        covariance=cov,
        sum_before_normalisation_wt_pct=total,
        gain_ev_per_ch=gain,
        offset_ev=offset,
        element_counts=fit.amplitudes,
        element_counts_sigma=np.sqrt(np.clip(np.diag(fit.covariance), 0, None)),
        chi2_per_dof=fit.chi2_per_dof,
        counts=c,
        model=fit.model,
        background=fit.background,
        element_models=fit.element_models,
    )
