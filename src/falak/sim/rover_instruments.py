"""The rover simulator's instruments: navigation cameras, soil spectrometer, dosimeter.

Each keeps its truth (what it would measure without noise) so that the science issue can
check its products against it.

**Navigation cameras** (:func:`render_navcam`): a pinhole camera at the rover's pose,
``MAST_HEIGHT_M`` above the true terrain, tilted down ``CAMERA_TILT_DEG``, ``FOV_DEG``
across 256 × 192 pixels (illustrative numbers of a small rover's navcam). Rendering is the
"voxel space" ray cast: for each image column a ray is marched over the DEM from 0.5 m out to
``MAX_RANGE_M`` (samples growing geometrically), each terrain sample is projected to the
image row of its elevation angle and fills the rows between it and the nearer samples' top,
so nearer terrain hides farther terrain; a pixel's ray meets the ground between the two
samples around its row (linear in their rows). Its grey level is Lambertian there:
``albedo · texture(x, y) · max(0, n · s)``, with a seeded albedo texture fixed to the map
(:func:`albedo_texture`: value noise of 0.02–0.3 m wavelengths, 10 % 1σ, finer than the DEM
cells, so both cameras and every stop see the same ground and stereo and visual odometry have
something to match), n the DEM's normal and s the real Sun direction
(DE421, :class:`~falak.sim.rover_site.Site`), and zero where the Sun is below that cell's
terrain horizon (falak's horizons: cast shadows). Sky is black; there is no ambient light
(no atmosphere; light scattered from lit terrain into shadows is left out). The right camera
is 0.27 m to the right of the left one. This is a simple render, not a photometric model
(no Hapke reflectance, no opposition surge, no blur): good for looking and for visual
odometry tests.

**Soil spectrometer** (:class:`CompositionMap`, :func:`measure_soil`): an APXS-like X-ray
spectrometer reporting eight major oxides in wt%. The site's composition is a mixture of
three published lunar soils (Lunar Sourcebook Table 7.15, Heiken, Vaniman & French 1991;
USGS astrogeology ``tab7_15.asc``): Apollo 16 average soil (feldspathic highland, the south
pole's kind of ground), Luna 20 average soil (highland with more mafic material) and Apollo 11
soil 10002 (mare basalt, standing in for basaltic ejecta), with mixing fractions that vary
smoothly over the site (seeded random fields). A measurement at a position sees the
composition there; counts per oxide are proportional to its abundance times a sensitivity
(``COUNT_RATE_PER_WT_PCT_S``, illustrative), and each oxide's reported value has the Poisson
noise of its counts (1σ = value/√counts): that is the on-board quick-look.

The spectrum itself (:func:`simulate_spectrum`, sent as ``SPEC_COUNTS``) is drawn from the
instrument model of :mod:`falak.science.soil` (xraylib line energies and fluorescence
cross-sections, fundamental-parameter matrix absorption, Gaussian response of 135 eV FWHM at
5.9 keV with Fano broadening) for the ten oxides of the same table (Cr2O3 and MnO added), plus
what the ground does not know exactly: the true window is thicker than the nominal one
(``Spectrometer.window_be_um``), gain and offset drift from measurement to measurement, the
distance to the soil changes the geometry factor (0.85–1 of the calibration's), and a
continuum (scattered source radiation through the detector's efficiency) lies under the lines;
each channel has Poisson noise. The calibration target (:data:`CALIBRATION_TARGET_WT_PCT`) is
measured the same way at geometry 1.

**Dosimeter**: the galactic-cosmic-ray absorbed dose rate in silicon on the lunar surface,
13.2 ± 1 µGy/h (Chang'e-4 Lunar Lander Neutron and Dosimetry experiment, Zhang et al. 2020,
Science Advances 6:eaaz1334), as counts of ``DOSE_PER_COUNT_UGY`` each (so a 60 s record holds
about 180 counts: 7 % Poisson noise), plus solar particle events: they start as a Poisson
process (``SPE_RATE_PER_DAY``), rise in an hour to a peak drawn log-uniformly between 100 and
10,000 µGy/h and decay with a 6 h e-folding time (illustrative of the large events of a
solar maximum, not a fitted model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from falak.science import soil as _soil
from falak.sim.rover_site import Site

__all__ = [
    "CALIBRATION_TARGET_WT_PCT",
    "ENDMEMBERS_WT_PCT",
    "GCR_DOSE_RATE_UGY_H",
    "OXIDES",
    "SPECTRUM_OXIDES",
    "CompositionMap",
    "Dosimeter",
    "Spectrometer",
    "SpectrumTruth",
    "albedo_texture",
    "measure_soil",
    "render_navcam",
    "simulate_spectrum",
]

IMAGE_WIDTH = 256
IMAGE_HEIGHT = 192
FOV_DEG = 46.0
MAST_HEIGHT_M = 1.0
CAMERA_TILT_DEG = 15.0
STEREO_BASELINE_M = 0.27
MAX_RANGE_M = 400.0
ALBEDO = 0.12  # normal albedo of highland regolith is ~0.1-0.2; the value is illustrative
#: Grey level of a 0.12-albedo surface at 20 ms per unit of cos(incidence): the Sun is within
#: ~1.6 deg of the horizon at the pole, so lit ground is seen at grazing incidence and 20 ms
#: saturates (255 DN) only where the terrain faces the Sun at cos > 0.255 (illustrative gain).
DN_PER_COSINE = 1000.0
_SAMPLES = 320
#: The regolith's albedo texture (:func:`albedo_texture`): relative amplitude, octave
#: wavelengths (m, finer than the 2 m DEM cells) and weights (summing to 1), hash seed.
#: Illustrative: fine-scale albedo contrast of lunar soil (clods, small craters, fresh ejecta)
#: of tens of percent, as in Apollo and Chang'e surface images, not a measured spectrum.
TEXTURE_SIGMA = 0.1  # relative 1-sigma of the albedo
TEXTURE_AMPLITUDE = 0.25  # the albedo is clipped to 1 +/- this
#: Standard deviation of the weighted octave sum before scaling (measured over 2e5 random
#: points: 0.2209; tests/sim/test_rover_images.py checks the scaled texture's sigma).
_OCTAVE_SUM_STD = 0.2209
TEXTURE_SCALES_M = (0.02, 0.05, 0.1, 0.3)
TEXTURE_WEIGHTS = (0.3, 0.3, 0.25, 0.15)
TEXTURE_SEED = 1717

OXIDES = ("SiO2", "TiO2", "Al2O3", "FeO", "MgO", "CaO", "Na2O", "K2O")
#: Lunar Sourcebook Table 7.15 (wt%): Apollo 16 average soil, Luna 20 average soil, Apollo 11
#: soil 10002 (its Na2O printed "47" in the USGS transcription is 0.47).
ENDMEMBERS_WT_PCT = {
    "apollo16_highland": (45.0, 0.54, 27.3, 5.1, 5.7, 15.7, 0.46, 0.17),
    "luna20_highland": (45.1, 0.55, 22.3, 7.0, 9.8, 15.1, 0.50, 0.10),
    "apollo11_mare": (42.2, 7.8, 13.6, 15.3, 7.8, 11.9, 0.47, 0.16),
}
COUNT_RATE_PER_WT_PCT_S = 25.0  # counts/s per wt% of an oxide (illustrative APXS-like)

#: The spectrum's ten oxides (falak.science.soil.OXIDES: Na2O, MgO, Al2O3, SiO2, K2O, CaO,
#: TiO2, Cr2O3, MnO, FeO).
SPECTRUM_OXIDES = _soil.OXIDES
#: Cr2O3 and MnO of the same Table 7.15 columns (wt%). The USGS transcription's Cr2O3 row has 18
#: values for 19 columns; they are read by position (Apollo 11 0.30 is certain, Apollo 16 0.33
#: and Luna 20 0.32 are not), and its MnO for the Apollo 16 average (0.30) is high for a
#: highland soil: minor oxides of doubtful provenance, used only to put lines in the spectrum.
_MINOR_WT_PCT = {
    "apollo16_highland": (0.33, 0.30),
    "luna20_highland": (0.32, 0.13),
    "apollo11_mare": (0.30, 0.20),
}


def _ten(name: str) -> NDArray[np.float64]:
    major = dict(zip(OXIDES, ENDMEMBERS_WT_PCT[name], strict=True))
    cr, mn = _MINOR_WT_PCT[name]
    major.update({"Cr2O3": cr, "MnO": mn})
    return np.array([major[o] for o in SPECTRUM_OXIDES])


#: The spectrometer's calibration target: Luna 20 average soil (Table 7.15), illustrative.
CALIBRATION_TARGET_WT_PCT = _ten("luna20_highland")

GCR_DOSE_RATE_UGY_H = 13.2  # Zhang et al. 2020 (Chang'e-4 LND), silicon
DOSE_PER_COUNT_UGY = GCR_DOSE_RATE_UGY_H / 3600.0 / 3.0  # ~3 counts/s from GCR
SPE_RATE_PER_DAY = 1.0 / 60.0
SPE_RISE_S = 3600.0
SPE_DECAY_S = 6 * 3600.0


def _lattice_noise(ix: NDArray[np.int64], iy: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    """Uniform values in [-1, 1) at integer lattice points, a hash of (ix, iy, seed).

    The SplitMix64 finaliser (Steele, Lea & Flood 2014, the mixing step of Java's
    ``SplittableRandom``) of the point's coordinates: no table, so any point of the map has its
    value without state, and the same point always gets the same value.
    """
    with np.errstate(over="ignore"):
        z = (
            ix.astype(np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            ^ iy.astype(np.int64).view(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
            ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    out: NDArray[np.float64] = (z >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0
    return out


def albedo_texture(
    x_m: NDArray[np.float64],
    y_m: NDArray[np.float64],
    footprint_m: NDArray[np.float64] | float = 0.0,
) -> NDArray[np.float64]:
    """Relative albedo (1 ± :data:`TEXTURE_SIGMA`, 1σ) of the regolith at map points (x, y).

    Value noise (bilinear with smoothstep between hashed lattice values, :func:`_lattice_noise`)
    summed over the octaves :data:`TEXTURE_SCALES_M` with weights :data:`TEXTURE_WEIGHTS`,
    scaled to :data:`TEXTURE_SIGMA` and clipped at ± :data:`TEXTURE_AMPLITUDE`: fixed to the
    map, so both cameras and every stop see the same ground. An octave finer than twice
    ``footprint_m`` (a pixel's size on the ground) fades out, and is gone at one footprint:
    the render samples one point per pixel, and texture finer than that would alias into
    noise that differs from camera to camera.
    """
    x = np.asarray(x_m, dtype=np.float64)
    y = np.asarray(y_m, dtype=np.float64)
    fp = np.asarray(footprint_m, dtype=np.float64)
    total = np.zeros(np.broadcast_shapes(x.shape, y.shape, fp.shape))
    for k, (scale, weight) in enumerate(zip(TEXTURE_SCALES_M, TEXTURE_WEIGHTS, strict=True)):
        u, v = x / scale, y / scale
        iu, iv = np.floor(u), np.floor(v)
        fu, fv = u - iu, v - iv
        su, sv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)  # smoothstep
        i0, j0 = iu.astype(np.int64), iv.astype(np.int64)
        seed = TEXTURE_SEED + 7919 * k
        n00 = _lattice_noise(i0, j0, seed)
        n10 = _lattice_noise(i0 + 1, j0, seed)
        n01 = _lattice_noise(i0, j0 + 1, seed)
        n11 = _lattice_noise(i0 + 1, j0 + 1, seed)
        value = (n00 * (1 - su) + n10 * su) * (1 - sv) + (n01 * (1 - su) + n11 * su) * sv
        fade = np.clip(scale / np.maximum(fp, 1e-12) - 1.0, 0.0, 1.0)
        total = total + weight * fade * value
    rel = np.clip(TEXTURE_SIGMA * total / _OCTAVE_SUM_STD, -TEXTURE_AMPLITUDE, TEXTURE_AMPLITUDE)
    out: NDArray[np.float64] = 1.0 + rel
    return out


def render_navcam(
    site: Site,
    x_m: float,
    y_m: float,
    heading_deg: float,
    sun_az_deg: float,
    sun_el_deg: float,
    exposure_ms: float,
    rng: np.random.Generator,
) -> NDArray[np.uint8]:
    """Render one camera's 8-bit image at (x, y) looking along ``heading_deg`` (module doc)."""
    w, h = IMAGE_WIDTH, IMAGE_HEIGHT
    f_px = (w / 2) / math.tan(math.radians(FOV_DEG / 2))
    offsets = np.arctan((np.arange(w) - w / 2 + 0.5) / f_px)  # (w,) rad, right positive
    az = math.radians(heading_deg) + offsets
    d = 0.5 * (MAX_RANGE_M / 0.5) ** (np.arange(_SAMPLES) / (_SAMPLES - 1))  # (S,) m
    px = x_m + d[:, None] * np.sin(az)[None, :]  # (S, w)
    py = y_m + d[:, None] * np.cos(az)[None, :]
    t = site.dem.transform
    ny, nx = site.dem.shape
    col = np.floor((px - t.c) / t.a).astype(np.intp)
    row = np.floor((py - t.f) / t.e).astype(np.intp)
    on_map = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
    heights = site.heights(px, py)
    eye = site.height_at(x_m, y_m) + MAST_HEIGHT_M
    axis = d[:, None] * np.cos(offsets)[None, :]  # distance along the optical axis
    angle = np.arctan2(heights - eye, axis) + math.radians(CAMERA_TILT_DEG)
    screen = h / 2 - f_px * np.tan(np.clip(angle, -1.4, 1.4))  # image row of each sample
    screen = np.where(on_map, screen, np.inf)
    top = np.minimum.accumulate(screen, axis=0)  # highest row reached by samples so far
    rows = np.arange(h, dtype=np.float64)
    first = np.empty((h, w), dtype=np.intp)
    for c in range(w):
        # the nearest sample whose top reaches a row colours it (top is non-increasing)
        first[:, c] = np.searchsorted(-top[:, c], -(rows + 0.5), side="left")
    seen = first < _SAMPLES
    k = np.minimum(first, _SAMPLES - 1)
    cols = np.broadcast_to(np.arange(w), (h, w))
    # where the pixel's ray meets the ground: between sample k-1 (below the row) and k (at or
    # above it), linear in the samples' rows; the texture is looked up there
    k0 = np.maximum(k - 1, 0)
    s0, s1 = screen[k0, cols], screen[k, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.isfinite(s0) & (s0 > s1), (s0 - (rows[:, None] + 0.5)) / (s0 - s1), 1.0)
    frac = np.clip(frac, 0.0, 1.0)
    dist = d[k0] + frac * (d[k] - d[k0])
    hx = x_m + dist * np.sin(az)[None, :]
    hy = y_m + dist * np.cos(az)[None, :]
    rc = np.clip(np.floor((hy - t.f) / t.e).astype(np.intp), 0, ny - 1)
    cc = np.clip(np.floor((hx - t.c) / t.a).astype(np.intp), 0, nx - 1)
    # shading at the hit: Lambert with the Sun, zero in the terrain's shadow
    saz, sel = math.radians(sun_az_deg), math.radians(sun_el_deg)
    s = np.array([math.sin(saz) * math.cos(sel), math.cos(saz) * math.cos(sel), math.sin(sel)])
    gx, gy = site.gx[rc, cc], site.gy[rc, cc]
    lambert = np.maximum(0.0, (-gx * s[0] - gy * s[1] + s[2]) / np.sqrt(1 + gx * gx + gy * gy))
    horizon = site.horizons.at(np.full(rc.shape, sun_az_deg), rc, cc)
    lit = sun_el_deg > horizon
    # a pixel's size on the ground along the ray (grazing view): dist / f / sin(depression)
    drop = np.maximum(eye - site.heights(hx, hy), 0.05)
    footprint = dist / f_px * np.hypot(dist, drop) / drop
    texture = albedo_texture(hx, hy, footprint)
    grey = DN_PER_COSINE * (ALBEDO / 0.12) * texture * lambert * lit * (exposure_ms / 20.0)
    image = np.where(seen, grey, 0.0)
    image += rng.normal(0.0, 1.5, image.shape)  # read noise, DN
    out: NDArray[np.uint8] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return out


@dataclass
class CompositionMap:
    """Mixing fractions of the three soils over the DEM grid (each (ny, nx), summing to 1)."""

    fractions: NDArray[np.float64]  # (3, ny, nx)
    site: Site

    @classmethod
    def build(cls, site: Site, seed: int) -> CompositionMap:
        """Smooth random mixtures: mostly Apollo 16 soil, Luna 20 in patches, a little mare."""
        from scipy import ndimage

        rng = np.random.default_rng(seed + 14_014)
        ny, nx = site.dem.shape
        sigma = max(2.0, 40.0 / site.dem.resolution_m)  # patches tens of metres across
        fields = []
        for _ in range(2):
            g = ndimage.gaussian_filter(rng.normal(size=(ny, nx)), sigma, mode="wrap")
            g = (g - g.mean()) / (g.std() or 1.0)
            fields.append(g)
        luna20 = np.clip(0.25 + 0.15 * fields[0], 0.0, 0.6)
        mare = np.clip(0.05 + 0.05 * fields[1], 0.0, 0.2)
        apollo16 = 1.0 - luna20 - mare
        return cls(np.stack([apollo16, luna20, mare]), site)

    def truth_wt_pct(self, x_m: float, y_m: float) -> NDArray[np.float64]:
        """True oxide abundances (wt%, order :data:`OXIDES`) of the soil at (x, y)."""
        rc = self.site.cell(x_m, y_m) or (0, 0)
        mix = self.fractions[:, rc[0], rc[1]]
        ends = np.array(list(ENDMEMBERS_WT_PCT.values()))  # (3, 8)
        out: NDArray[np.float64] = mix @ ends
        return out

    def spectrum_truth_wt_pct(self, x_m: float, y_m: float) -> NDArray[np.float64]:
        """True abundances of the spectrum's ten oxides (:data:`SPECTRUM_OXIDES`) at (x, y)."""
        rc = self.site.cell(x_m, y_m) or (0, 0)
        mix = self.fractions[:, rc[0], rc[1]]
        ends = np.array([_ten(name) for name in ENDMEMBERS_WT_PCT])  # (3, 10)
        out: NDArray[np.float64] = mix @ ends
        return out


@dataclass(frozen=True)
class Spectrometer:
    """The true instrument (what the ground's :class:`falak.science.soil.Detector` approximates)."""

    instrument_constant: float = 2000.0  # counts/s per unit fundamental-parameter sensitivity
    window_be_um: float = 9.0  # the ground's nominal value is 8 um
    si_thickness_um: float = 450.0
    fwhm_at_5p9kev_ev: float = 135.0
    gain_ev_per_ch: float = _soil.NOMINAL_GAIN_EV_PER_CH
    gain_drift_rel: float = 0.003  # 1-sigma, per measurement (temperature)
    offset_sigma_ev: float = 15.0
    continuum_per_s_kev: float = 6.0  # at 1 keV before the detector efficiency (illustrative)

    @property
    def detector(self) -> _soil.Detector:
        """The physics of this detector (its true window)."""
        return _soil.Detector(self.fwhm_at_5p9kev_ev, self.window_be_um, self.si_thickness_um)


@dataclass
class SpectrumTruth:
    """A simulated spectrum and what made it."""

    counts: NDArray[np.uint32]
    expected: NDArray[np.float64]
    wt_pct: NDArray[np.float64]  # the sample, SPECTRUM_OXIDES order, as given
    gain_ev_per_ch: float
    offset_ev: float
    geometry: float
    live_time_s: float


def simulate_spectrum(
    wt_pct: NDArray[np.float64],
    live_time_s: float,
    rng: np.random.Generator,
    *,
    spectrometer: Spectrometer | None = None,
    geometry: float | None = None,
) -> SpectrumTruth:
    """Draw one spectrum of a sample of ``wt_pct`` (SPECTRUM_OXIDES order) (module doc)."""
    sp = spectrometer or Spectrometer()
    det = sp.detector
    g = float(rng.uniform(0.85, 1.0)) if geometry is None else float(geometry)
    gain = sp.gain_ev_per_ch * (1.0 + sp.gain_drift_rel * float(rng.standard_normal()))
    offset = sp.offset_sigma_ev * float(rng.standard_normal())
    lines = _soil.expected_line_counts(wt_pct, sp.instrument_constant * g, live_time_s, det)
    expected = _soil.spectrum_lines(lines, gain, offset, sp.fwhm_at_5p9kev_ev)
    centres_kev = (offset + gain * (np.arange(_soil.N_CHANNELS) + 0.5)) / 1000.0
    eff = np.array([det.efficiency(max(e, 0.3)) for e in centres_kev])
    shape = 0.3 + 2.0 * np.exp(-centres_kev / 2.0)
    continuum = sp.continuum_per_s_kev * g * live_time_s * (gain / 1000.0) * eff * shape
    expected = expected + continuum
    counts = rng.poisson(expected).astype(np.uint32)
    return SpectrumTruth(counts, expected, np.asarray(wt_pct, float), gain, offset, g, live_time_s)


def measure_soil(
    truth_wt_pct: NDArray[np.float64], integration_s: float, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Return (measured wt%, 1σ wt%, total counts) of an integration on soil of ``truth``."""
    expected = np.maximum(truth_wt_pct * COUNT_RATE_PER_WT_PCT_S * integration_s, 1e-9)
    counts = rng.poisson(expected).astype(np.float64)
    per_count = truth_wt_pct / expected
    measured = counts * per_count
    sigma = np.sqrt(np.maximum(counts, 1.0)) * per_count
    return measured, sigma, int(counts.sum())


class Dosimeter:
    """GCR dose with Poisson counting noise and solar particle events (module doc)."""

    def __init__(self, rng: np.random.Generator, start_ns: int) -> None:
        self.rng = rng
        self.spe_start_ns: int | None = None
        self.spe_peak_ugy_h = 0.0
        self._next_check_ns = start_ns

    def start_spe(self, now_ns: int, peak_ugy_h: float | None = None) -> None:
        """Start a solar particle event now (peak drawn when not given)."""
        self.spe_start_ns = now_ns
        self.spe_peak_ugy_h = (
            float(peak_ugy_h) if peak_ugy_h is not None else float(10 ** self.rng.uniform(2, 4))
        )

    def clear(self) -> None:
        """End any solar particle event."""
        self.spe_start_ns = None

    def update(self, now_ns: int) -> None:
        """Draw whether an SPE starts (once a simulated hour)."""
        while self._next_check_ns <= now_ns:
            if self.spe_start_ns is None and self.rng.random() < SPE_RATE_PER_DAY / 24.0:
                self.start_spe(self._next_check_ns)
            self._next_check_ns += 3600 * 1_000_000_000
        # An event ends once it has decayed, never during its rise: at its start its rate is 0,
        # so testing the rate alone would cancel an event the moment it begins.
        if (
            self.spe_start_ns is not None
            and (now_ns - self.spe_start_ns) / 1e9 > SPE_RISE_S
            and self.spe_rate(now_ns) < 0.05
        ):
            self.spe_start_ns = None

    def spe_rate(self, now_ns: int) -> float:
        """Dose rate of the solar particle event now, µGy/h (0 when none)."""
        if self.spe_start_ns is None:
            return 0.0
        t = (now_ns - self.spe_start_ns) / 1e9
        if t < 0:
            return 0.0
        if t < SPE_RISE_S:
            return self.spe_peak_ugy_h * t / SPE_RISE_S
        return self.spe_peak_ugy_h * math.exp(-(t - SPE_RISE_S) / SPE_DECAY_S)

    @property
    def spe_active(self) -> bool:
        """Whether a solar particle event is in progress."""
        return self.spe_start_ns is not None

    def truth_rate(self, now_ns: int) -> float:
        """True dose rate in silicon now, µGy/h."""
        return GCR_DOSE_RATE_UGY_H + self.spe_rate(now_ns)

    def record(self, start_ns: int, stop_ns: int) -> tuple[int, float]:
        """Counts and measured dose rate (µGy/h) of a record over [start, stop]."""
        dt = max((stop_ns - start_ns) / 1e9, 1e-9)
        mid = (start_ns + stop_ns) // 2
        expected = self.truth_rate(mid) / 3600.0 * dt / DOSE_PER_COUNT_UGY
        counts = int(self.rng.poisson(expected))
        return counts, counts * DOSE_PER_COUNT_UGY / dt * 3600.0
